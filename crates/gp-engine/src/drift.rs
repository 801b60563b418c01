//! `drift`: what changed outside goldenpath. Each component this
//! deployment applied is observed by its driver — the same read-only
//! observation `plan` makes — and what the live system holds is compared
//! with what was applied: a role's attributes and grants, a record that
//! points elsewhere or is gone, rendered files edited in the GitOps
//! repository, a Terraform root whose refreshed state differs, a secret
//! missing a key. A change of the spec since the last apply is not drift
//! (`plan` shows it); known noise is left out by the spec's
//! `drift.ignore` and counted.

use gp_core::{Deployment, DriftIgnore};
use gp_registry::{DeploymentEvent, EventKind, new_id, now_us};
use serde::Serialize;

use crate::plan::{PlanAction, PlanItem};
use crate::state::DeploymentState;
use crate::{Engine, EngineError};

/// How one component stands against what was applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DriftStatus {
    /// The live system is what was applied (apart from ignored noise).
    InSync,
    /// Something changed outside goldenpath.
    Drifted,
    /// This deployment never applied it (or tore it down): nothing to
    /// compare.
    NotDeployed,
    /// Not looked at: filtered out by tier or mode, or waiting for what it
    /// needs.
    Unchecked,
    /// The check itself failed (its system could not be read).
    Failed,
}

/// One component's drift.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentDrift {
    /// The component.
    pub component: String,
    /// Its status.
    pub status: DriftStatus,
    /// What differs, as its driver says (never a secret's value).
    pub differences: Vec<String>,
    /// Differences left out by `drift.ignore`.
    pub ignored: Vec<String>,
    /// Why it was not checked, or why the check failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What `goldenpath drift` found.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    /// Version of this JSON shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// When it was checked (µs since the epoch).
    pub checked_us: i64,
    /// Every component of the deployment, in graph order.
    pub components: Vec<ComponentDrift>,
    /// Components that drifted.
    pub drifted: usize,
    /// Differences left out as known noise, over all components.
    pub ignored: usize,
    /// Components whose check failed.
    pub failed: usize,
}

/// One plan item's drift: `applied` says whether this deployment applied
/// the component; `ignore` is the spec's known noise.
pub fn classify(item: &PlanItem, applied: bool, ignore: &[DriftIgnore]) -> ComponentDrift {
    let mut out = ComponentDrift {
        component: item.component.clone(),
        status: DriftStatus::InSync,
        differences: Vec::new(),
        ignored: Vec::new(),
        reason: None,
    };
    let observed_failed = match item.action {
        PlanAction::Refused => true,
        PlanAction::Blocked => item
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("cannot observe it")),
        _ => false,
    };
    if observed_failed {
        out.status = DriftStatus::Failed;
        out.reason.clone_from(&item.reason);
        return out;
    }
    if !applied {
        out.status = DriftStatus::NotDeployed;
        return out;
    }
    if matches!(
        item.action,
        PlanAction::Skip | PlanAction::Pending | PlanAction::Blocked | PlanAction::NotDeployed
    ) {
        out.status = DriftStatus::Unchecked;
        out.reason.clone_from(&item.reason);
        return out;
    }
    for d in &item.drift {
        if ignore.iter().any(|r| r.covers(&item.component, d)) {
            out.ignored.push(d.clone());
        } else {
            out.differences.push(d.clone());
        }
    }
    if !out.differences.is_empty() {
        out.status = DriftStatus::Drifted;
    }
    out
}

impl Engine<'_> {
    /// Compares each component of a deployment with what was applied, and
    /// records the check (who, when, what drifted) as a `drift_checked`
    /// event of the deployment. Nothing else is written.
    pub fn drift(
        &self,
        env: &str,
        deployment: Deployment,
        targets: &[String],
    ) -> Result<DriftReport, EngineError> {
        self.drift_with(env, deployment, targets, None)
    }

    /// [`Self::drift`]; a check of the whole foundational plane also checks
    /// what the environment's applied requests made (`request {ID}` rows:
    /// see [`Self::drift_requests`]), bucket, secret and repository
    /// requests through `cloud`.
    pub fn drift_with(
        &self,
        env: &str,
        deployment: Deployment,
        targets: &[String],
        cloud: Option<&dyn gp_driver::cloud::CloudResources>,
    ) -> Result<DriftReport, EngineError> {
        // Every row the check reads or decides from checks out first — the
        // deployment's reservation, events, journal and lease — or nothing
        // is compared and nothing is recorded.
        // (The journal is read, checked, by the plan's own state.)
        let key = deployment.key();
        if let Ok(b) = key.parse::<gp_core::BuildId>() {
            self.registry.reservation(env, b)?;
        }
        self.registry.deployment_events(env, &key)?;
        self.registry.lease(env, &key)?;
        let plan = self.plan_as(env, deployment, targets, true)?;
        let ignore = &self.platform.spec.drift.ignore;
        let mut components: Vec<ComponentDrift> = plan
            .items
            .iter()
            // Dependencies are the foundational plane's: `--foundational`
            // checks them.
            .filter(|i| i.role == "target")
            .map(|i| classify(i, i.applied, ignore))
            .collect();
        if deployment == Deployment::Foundational && targets.is_empty() {
            components.extend(self.drift_requests(env, cloud)?);
        }
        let report = DriftReport {
            schema_version: 1,
            env: env.into(),
            deployment: plan.deployment.clone(),
            checked_us: now_us(),
            drifted: components
                .iter()
                .filter(|c| c.status == DriftStatus::Drifted)
                .count(),
            ignored: components.iter().map(|c| c.ignored.len()).sum(),
            failed: components
                .iter()
                .filter(|c| c.status == DriftStatus::Failed)
                .count(),
            components,
        };
        let detail = serde_json::json!({
            "drifted": report.drifted,
            "ignored": report.ignored,
            "failed": report.failed,
            "components": report
                .components
                .iter()
                .filter(|c| matches!(c.status, DriftStatus::Drifted | DriftStatus::Failed))
                .map(|c| serde_json::json!({
                    "component": c.component,
                    "status": c.status,
                    "differences": c.differences,
                }))
                .collect::<Vec<_>>(),
        });
        self.registry.record_deployment(&DeploymentEvent {
            id: new_id(),
            env: env.into(),
            deployment: report.deployment.clone(),
            run_id: None,
            event: EventKind::DriftChecked.as_str().into(),
            actor: self.actor.clone(),
            commit_sha: self.commit.clone(),
            run_url: self.run_url.clone(),
            detail: Some(detail),
            at_us: report.checked_us,
        })?;
        Ok(report)
    }
}

impl Engine<'_> {
    /// What each applied request of `env` (and each that names no
    /// environment, such as a repository) made, against what its file
    /// asks (the same comparison `request plan` makes, not recorded as a
    /// plan): a `request {ID}` row, `drifted` with each change apply would
    /// make (or each reason `request plan` now refuses it: what it made
    /// was taken or retagged), `in-sync`, `unchecked` when its file changed since it was
    /// applied (then `request plan` shows what apply would do: a change of
    /// the request is not drift), `failed` when the resource cannot be
    /// read. A withdrawn or torn-down request is not checked. Putting it
    /// back is `request apply ID`, which needs the approval of its content
    /// as the first apply did.
    pub fn drift_requests(
        &self,
        env: &str,
        cloud: Option<&dyn gp_driver::cloud::CloudResources>,
    ) -> Result<Vec<ComponentDrift>, EngineError> {
        use crate::requests::events::RequestEventDetail;
        // Each request's content as last applied, while it stands.
        let mut applied: std::collections::BTreeMap<String, String> = Default::default();
        for e in self.request_history(None)? {
            // A request that names no environment (a repository) serves
            // them all: every environment's check looks at it.
            if e.env != env && e.env != gp_core::request::GLOBAL {
                continue;
            }
            match &e.detail {
                Some(RequestEventDetail::Applied { hash, .. }) => {
                    applied.insert(e.request.clone(), hash.clone());
                }
                Some(
                    RequestEventDetail::Withdrawn { .. } | RequestEventDetail::TornDown { .. },
                ) => {
                    applied.remove(&e.request);
                }
                _ => {}
            }
        }
        if applied.is_empty() {
            return Ok(Vec::new());
        }
        let loaded = self.requests_loaded()?;
        let ignore = &self.platform.spec.drift.ignore;
        let mut out = Vec::new();
        for (id, hash) in &applied {
            let component = format!("request {id}");
            let mut row = ComponentDrift {
                component: component.clone(),
                status: DriftStatus::InSync,
                differences: Vec::new(),
                ignored: Vec::new(),
                reason: None,
            };
            let Some(r) = loaded.requests.iter().find(|r| &r.id().value == id) else {
                row.status = DriftStatus::Unchecked;
                row.reason = Some("its file is gone: nothing says what it asks".into());
                out.push(row);
                continue;
            };
            if &r.hash != hash {
                row.status = DriftStatus::Unchecked;
                row.reason = Some(format!(
                    "its file changed since it was applied (goldenpath request plan {id} shows what apply would do)"
                ));
                out.push(row);
                continue;
            }
            match self.request_plan_unrecorded(r, cloud) {
                Ok(p) if p.read_error.is_some() => {
                    row.status = DriftStatus::Failed;
                    row.reason = p.read_error;
                }
                // What it made is now someone else's (another request's
                // tag on it, goldenpath's own) or breaks a rule: the same
                // content applied before, so something changed outside.
                Ok(p) if !p.refused.is_empty() => {
                    row.status = DriftStatus::Drifted;
                    row.differences = p
                        .refused
                        .iter()
                        .map(|r| format!("request plan refuses it now: {r}"))
                        .collect();
                }
                Ok(p) => {
                    for d in p.changes {
                        if ignore.iter().any(|i| i.covers(&component, &d)) {
                            row.ignored.push(d);
                        } else {
                            row.differences.push(d);
                        }
                    }
                    if !row.differences.is_empty() {
                        row.status = DriftStatus::Drifted;
                    }
                }
                Err(e) => {
                    row.status = DriftStatus::Failed;
                    row.reason = Some(e.to_string());
                }
            }
            out.push(row);
        }
        Ok(out)
    }
}

/// The foundational components a deploy would put back with drift
/// found since their last apply, with what the latest check found.
fn drifted_foundational(
    registry: &gp_registry::Registry,
    env: &str,
    targets: &[String],
) -> Result<Vec<(String, crate::status::DriftFound)>, EngineError> {
    let key = Deployment::Foundational.key();
    let found = crate::status::latest_drift(&registry.deployment_events(env, &key)?);
    let state = DeploymentState::load(registry, env, &key)?;
    Ok(found
        .into_iter()
        .filter(|(name, _)| targets.is_empty() || targets.contains(name))
        .filter(|(name, d)| {
            state
                .components
                .get(name)
                .is_some_and(|r| r.at_us < d.found_us)
        })
        .collect())
}

/// Whether `who` may approve putting drift back: a member of the
/// spec's `platform` approvers when approvers are configured.
fn may_approve(platform: &gp_core::Platform, who: &str) -> bool {
    let groups = platform
        .spec
        .requests
        .as_ref()
        .map(|r| &r.approvers)
        .filter(|a| !a.is_empty());
    match groups {
        None => true,
        Some(g) => g
            .get("platform")
            .is_some_and(|members| members.iter().any(|m| crate::requests::same_person(m, who))),
    }
}

impl Engine<'_> {
    /// Refuses a foundational deploy that would put back drift without
    /// `--remediate-drift` and, for each drifted component, an approval of
    /// the check that found it by someone other than who deploys.
    /// Returns the components a deploy let through will put back.
    pub(crate) fn drift_gate(
        &self,
        env: &str,
        targets: &[String],
        remediate: bool,
    ) -> Result<Vec<String>, EngineError> {
        let drifted = drifted_foundational(self.registry, env, targets)?;
        if drifted.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = drifted.iter().map(|(n, _)| n.as_str()).collect();
        let approve = format!(
            "goldenpath drift --env {env} --foundational --approve {} --reason \"...\" (someone else), then goldenpath deploy --env {env} --foundational --remediate-drift",
            names.join(" ")
        );
        if !remediate {
            return Err(EngineError::Refused {
                message: format!(
                    "drift was found in the foundational plane since its last apply ({}): putting it back needs --remediate-drift and an approval",
                    drifted
                        .iter()
                        .map(|(n, d)| format!("{n}: {}", d.differences.join("; ")))
                        .collect::<Vec<_>>()
                        .join(" | ")
                ),
                hint: Some(approve),
            });
        }
        let events = self
            .registry
            .deployment_events(env, &Deployment::Foundational.key())?;
        let unapproved: Vec<&str> = drifted
            .iter()
            .filter(|(name, d)| {
                !events.iter().any(|e| {
                    e.event == EventKind::DriftRemediationApproved.as_str()
                        && e.at_us >= d.found_us
                        && !crate::requests::same_person(&e.actor, &self.actor)
                        && may_approve(self.platform, &e.actor)
                        && e.detail
                            .as_ref()
                            .and_then(|x| x.get("components"))
                            .and_then(|c| c.as_array())
                            .is_some_and(|c| c.iter().any(|v| v.as_str() == Some(name)))
                })
            })
            .map(|(n, _)| n.as_str())
            .collect();
        if unapproved.is_empty() {
            return Ok(drifted.into_iter().map(|(n, _)| n).collect());
        }
        Err(EngineError::Refused {
            message: format!(
                "putting back the drift of {} needs an approval of its latest check by someone other than {}",
                unapproved.join(", "),
                self.actor
            ),
            hint: Some(approve),
        })
    }

    /// Records that a deploy let through to put drift back succeeded.
    pub(crate) fn record_remediated(
        &self,
        env: &str,
        components: &[String],
    ) -> Result<(), EngineError> {
        self.registry.record_deployment(&DeploymentEvent {
            id: new_id(),
            env: env.into(),
            deployment: Deployment::Foundational.key(),
            run_id: None,
            event: EventKind::DriftRemediated.as_str().into(),
            actor: self.actor.clone(),
            commit_sha: self.commit.clone(),
            run_url: self.run_url.clone(),
            detail: Some(serde_json::json!({ "components": components })),
            at_us: now_us(),
        })?;
        Ok(())
    }

    /// Records an approval of putting back the drift the latest check found
    /// in `components` of the foundational plane. Refused for the actor who
    /// is not an approver, and for a component with no drift to put back.
    pub fn approve_drift(
        &self,
        env: &str,
        components: &[String],
        reason: &str,
    ) -> Result<(), EngineError> {
        let key = Deployment::Foundational.key();
        self.trusted(env, &key)?;
        if reason.trim().is_empty() {
            return Err(EngineError::usage(
                "an approval needs a reason",
                Some("--reason \"...\"".into()),
            ));
        }
        if !may_approve(self.platform, &self.actor) {
            return Err(EngineError::Refused {
                message: format!("{} is not one of the platform's approvers", self.actor),
                hint: Some("the spec's requests.approvers.platform names who may approve".into()),
            });
        }
        let drifted = drifted_foundational(self.registry, env, &[])?;
        for c in components {
            if !drifted.iter().any(|(n, _)| n == c) {
                return Err(EngineError::usage(
                    format!(
                        "no drift of {c} in the foundational plane of {env} waits to be put back"
                    ),
                    Some(format!("goldenpath drift --env {env} --foundational")),
                ));
            }
        }
        let check_us = drifted
            .iter()
            .filter(|(n, _)| components.contains(n))
            .map(|(_, d)| d.found_us)
            .max()
            .unwrap_or(0);
        self.registry.record_deployment(&DeploymentEvent {
            id: new_id(),
            env: env.into(),
            deployment: key,
            run_id: None,
            event: EventKind::DriftRemediationApproved.as_str().into(),
            actor: self.actor.clone(),
            commit_sha: self.commit.clone(),
            run_url: self.run_url.clone(),
            detail: Some(serde_json::json!({
                "components": components,
                "checkUs": check_us,
                "reason": reason,
            })),
            at_us: now_us(),
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use gp_core::{DriftIgnore, Plane, Tier};

    use super::*;

    fn item(action: PlanAction, reason: Option<&str>, drift: &[&str]) -> PlanItem {
        PlanItem {
            component: "rds".into(),
            plane: Plane::Foundational,
            tier: Tier::MAX,
            role: "target",
            action,
            reason: reason.map(str::to_string),
            next: None,
            details: Vec::new(),
            drift: drift.iter().map(|d| d.to_string()).collect(),
            applied: true,
        }
    }

    fn ignore(m: &str) -> DriftIgnore {
        DriftIgnore {
            component: None,
            matches: gp_core::yaml::Spanned::unpositioned(m.to_string()),
            reason: None,
        }
    }

    #[test]
    fn each_status_at_its_condition() {
        let none: &[DriftIgnore] = &[];
        // Applied, nothing differs.
        let c = classify(&item(PlanAction::Unchanged, None, &[]), true, none);
        assert_eq!(c.status, DriftStatus::InSync);
        // A spec change alone is an update, not drift.
        let c = classify(&item(PlanAction::Update, None, &[]), true, none);
        assert_eq!(c.status, DriftStatus::InSync);
        // Applied, and the live system differs.
        let c = classify(
            &item(PlanAction::Update, None, &["role x: CONNECTION LIMIT 3"]),
            true,
            none,
        );
        assert_eq!((c.status, c.differences.len()), (DriftStatus::Drifted, 1));
        // Never applied: nothing to compare, whatever plan says.
        for a in [PlanAction::Create, PlanAction::Skip, PlanAction::Update] {
            let c = classify(&item(a, None, &["x"]), false, none);
            assert_eq!(c.status, DriftStatus::NotDeployed, "{a:?}");
        }
        // Applied but not looked at.
        for a in [
            PlanAction::Skip,
            PlanAction::Pending,
            PlanAction::NotDeployed,
            PlanAction::Blocked,
        ] {
            let c = classify(&item(a, Some("waits"), &[]), true, none);
            assert_eq!(
                (c.status, c.reason.as_deref()),
                (DriftStatus::Unchecked, Some("waits"))
            );
        }
        // The system could not be read, or a policy refuses: the check
        // failed, applied or not.
        for applied in [true, false] {
            let c = classify(
                &item(
                    PlanAction::Blocked,
                    Some("cannot observe it: no route"),
                    &[],
                ),
                applied,
                none,
            );
            assert_eq!(c.status, DriftStatus::Failed);
            let c = classify(&item(PlanAction::Refused, Some("deny"), &[]), applied, none);
            assert_eq!(c.status, DriftStatus::Failed);
        }
    }

    #[test]
    fn what_an_observation_of_an_applied_component_says_of_drift() {
        use crate::plan::{live_drift, record_drift};
        use gp_driver::{Observation, Presence};
        let obs = |presence, drift: &[&str]| Observation {
            presence,
            drift: drift.iter().map(|d| d.to_string()).collect(),
            outputs: None,
            counts: None,
        };
        assert_eq!(
            live_drift(&obs(Presence::Absent, &[])),
            ["it was applied but no longer exists"]
        );
        assert_eq!(
            live_drift(&obs(Presence::Partial, &[])),
            ["only part of it exists"]
        );
        assert_eq!(live_drift(&obs(Presence::Partial, &["x"])), ["x"]);
        assert_eq!(live_drift(&obs(Presence::Present, &["x", "y"])), ["x", "y"]);
        assert!(live_drift(&obs(Presence::Present, &[])).is_empty());
        assert_eq!(
            record_drift(&obs(Presence::Absent, &[])),
            ["its DNS records are gone"]
        );
        assert_eq!(
            record_drift(&obs(Presence::Present, &["a.test A points elsewhere"])),
            ["DNS: a.test A points elsewhere"]
        );
    }

    #[test]
    fn who_may_approve_putting_drift_back() {
        let spec = |requests: &str| {
            gp_core::Platform::from_source(
                std::path::Path::new("goldenpath.yaml"),
                &format!(
                    "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: p\nprefix: p\ndomain: example.io\nowner: t\nenvironments:\n  dev: {{}}\n{requests}components: []\n"
                ),
            )
            .unwrap()
        };
        // Approvers configured: a platform approver only (by name or e-mail).
        let p = spec("requests:\n  approvers: { platform: [alice], data: [dora] }\n");
        assert!(super::may_approve(&p, "alice"));
        assert!(super::may_approve(&p, "Alice@example.io"));
        assert!(!super::may_approve(&p, "dora"));
        assert!(!super::may_approve(&p, "mallory"));
        assert!(!super::may_approve(&p, ""));
        // None configured: anyone (never the deployer: the gate's own rule).
        assert!(super::may_approve(&spec(""), "mallory"));
    }

    #[test]
    fn ignored_noise_is_counted_and_never_drift() {
        let rules = [ignore("*CONNECTION LIMIT*")];
        let c = classify(
            &item(PlanAction::Update, None, &["role x: CONNECTION LIMIT 3"]),
            true,
            &rules,
        );
        assert_eq!(c.status, DriftStatus::InSync);
        assert_eq!(c.ignored, ["role x: CONNECTION LIMIT 3"]);
        let c = classify(
            &item(
                PlanAction::Update,
                None,
                &[
                    "role x: CONNECTION LIMIT 3",
                    "DNS: a.test A points elsewhere",
                ],
            ),
            true,
            &rules,
        );
        assert_eq!(c.status, DriftStatus::Drifted);
        assert_eq!(c.differences, ["DNS: a.test A points elsewhere"]);
        assert_eq!(c.ignored.len(), 1);
    }
}
