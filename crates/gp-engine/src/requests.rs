//! Self-service request workflows: what a request may ask for, where it
//! goes, whether it needs and has an approval, and applying it — each step
//! recorded as a request event. The CLI and `goldenpath serve` call these
//! and only print what they return.

use gp_core::request::{Approvable, LoadedRequest};
use gp_core::{Deployment, Diagnostic, InvalidInput, Plane};
use gp_driver::{Applied, Outputs};
use gp_registry::{RequestEvent, new_id, now_us};
use serde::Serialize;

use crate::{Engine, EngineError};

/// What applying a request would do.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestPlan {
    /// The foundational instance it goes to.
    pub instance: String,
    /// Where its credentials go.
    pub secret_path: String,
    /// The owner of a database of that name on the instance, if one exists.
    pub existing_owner: Option<String>,
    /// What apply would change, step by step (what apply then does, and
    /// nothing else); a refusal the instance would give, as one line.
    pub steps: Vec<String>,
    /// The platform's rules it breaks (each a refusal).
    #[serde(skip)]
    pub refusals: Vec<Diagnostic>,
    /// Whether it needs an approval, and why.
    pub needs_approval: Option<&'static str>,
    /// The approval recorded for exactly its current content.
    pub approval: Option<Approval>,
}

/// A recorded approval.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// Who approved.
    pub by: String,
    /// When (µs).
    pub at_us: i64,
}

/// What applying a request did.
#[derive(Clone, Debug)]
pub struct RequestApplied {
    /// The instance.
    pub instance: String,
    /// What the database now publishes (dbname, username, host, port,
    /// secret_path).
    pub outputs: Outputs,
    /// Resources added and changed.
    pub applied: Applied,
}

/// Whether two identities name the same person (`alice` and
/// `alice@runner-1` do).
pub fn same_person(a: &str, b: &str) -> bool {
    let local = |s: &str| {
        s.trim()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_lowercase()
    };
    !a.trim().is_empty() && local(a) == local(b)
}

impl Engine<'_> {
    /// Records an event of a request.
    pub fn record_request(
        &self,
        r: &dyn Approvable,
        event: &str,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        self.registry.record_request(&RequestEvent {
            id: new_id(),
            request_id: r.request_id().to_string(),
            kind: r.request_kind().into(),
            env: r.request_env().to_string(),
            event: event.into(),
            actor: self.actor.clone(),
            detail: Some(detail),
            at_us: now_us(),
        })?;
        Ok(())
    }

    /// Names the request may not take: the instance's admin role, the
    /// roles and databases components of the spec own, and names another
    /// request applied. Positioned, invalid input (exit 2), checked before
    /// anything else so that nothing is ever touched for such a request.
    pub fn request_ownership(&self, r: &LoadedRequest) -> Result<(), EngineError> {
        let declared = self.validate()?;
        let owned: Vec<(String, &'static str, String)> = declared
            .iter()
            .flat_map(|(component, v)| {
                v.owned
                    .iter()
                    .map(move |(name, kind)| (name.clone(), *kind, component.clone()))
            })
            .collect();
        let mut taken = Vec::new();
        for e in self.registry.request_events(None)? {
            if e.event != "applied" || e.env != r.request.environment.value {
                continue;
            }
            let field = |k: &str| {
                e.detail
                    .as_ref()
                    .and_then(|d| d.get(k))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            if let Some(d) = field("database") {
                taken.push((d, "database", e.request_id.clone()));
            }
            if let Some(role) = field("role") {
                taken.push((role, "role", e.request_id.clone()));
            }
        }
        let problems = r.ownership_problems(&owned, &taken);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(InvalidInput(problems).into())
        }
    }

    /// The approval of this exact content, if it is complete: the latest
    /// one, or with approvers configured, one from each group the
    /// request's route needs.
    pub fn request_approval(&self, r: &dyn Approvable) -> Result<Option<Approval>, EngineError> {
        let configured = self
            .platform
            .spec
            .requests
            .as_ref()
            .is_some_and(|q| !q.approvers.is_empty());
        let approvals: Vec<gp_registry::RequestEvent> = self
            .registry
            .request_events(Some(r.request_id()))?
            .into_iter()
            .filter(|e| {
                e.event == "approved"
                    && e.detail
                        .as_ref()
                        .and_then(|d| d.get("hash"))
                        .and_then(|h| h.as_str())
                        == Some(r.request_hash())
            })
            .collect();
        let by = |e: &gp_registry::RequestEvent| {
            e.detail
                .as_ref()
                .and_then(|d| d.get("by"))
                .and_then(|b| b.as_str())
                .unwrap_or(&e.actor)
                .to_string()
        };
        if configured {
            let mut who = Vec::new();
            for g in r.request_route().groups() {
                let found = approvals.iter().rev().find(|e| {
                    e.detail
                        .as_ref()
                        .and_then(|d| d.get("groups"))
                        .and_then(|v| v.as_array())
                        .is_some_and(|a| a.iter().any(|x| x == g))
                });
                match found {
                    Some(e) => who.push((format!("{} ({g})", by(e)), e.at_us)),
                    None => return Ok(None),
                }
            }
            return Ok(who.last().map(|(_, at)| Approval {
                by: who
                    .iter()
                    .map(|(b, _)| b.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                at_us: *at,
            }));
        }
        Ok(approvals.last().map(|e| Approval {
            by: by(e),
            at_us: e.at_us,
        }))
    }

    /// The foundational postgres instance the request goes to.
    pub fn request_instance(&self, r: &LoadedRequest) -> Result<String, EngineError> {
        let candidates: Vec<&str> = self
            .platform
            .spec
            .components
            .iter()
            .filter(|c| c.plane.value == Plane::Foundational && !self.owned_names(c).is_empty())
            .map(|c| c.name.value.as_str())
            .collect();
        if let Some(named) = &r.request.instance {
            if candidates.contains(&named.value.as_str()) {
                return Ok(named.value.clone());
            }
            return Err(EngineError::usage(
                format!(
                    "{}: instance `{}` is not a foundational database instance (there are: {})",
                    r.path.display(),
                    named.value,
                    candidates.join(", ")
                ),
                None,
            ));
        }
        match candidates.as_slice() {
            [one] => Ok(one.to_string()),
            [] => Err(EngineError::usage(
                "the platform has no foundational database instance to put databases on",
                None,
            )),
            many => Err(EngineError::usage(
                format!(
                    "{}: the platform has several instances ({}); name one with `instance:`",
                    r.path.display(),
                    many.join(", ")
                ),
                None,
            )),
        }
    }

    /// What a component's driver declared it owns (an instance owns its
    /// admin role and databases).
    fn owned_names(&self, c: &gp_core::ComponentSpec) -> Vec<(String, &'static str)> {
        self.validate()
            .ok()
            .and_then(|v| v.get(&c.name.value))
            .map(|v| v.owned.clone())
            .unwrap_or_default()
    }

    /// What applying would do: the instance, the rules it breaks, the
    /// approval it needs and has, and whether its database exists.
    pub fn request_plan(&self, r: &LoadedRequest) -> Result<RequestPlan, EngineError> {
        self.request_ownership(r)?;
        let instance = self.request_instance(r)?;
        let env = &r.request.environment.value;
        let contract = gp_core::Contract::new(self.platform, env, Deployment::Foundational)?;
        let secret_path = contract.database_secret_path(&r.request.database_name.value)?;
        let live = self.inventory(env, &instance).unwrap_or_default();
        let existing_owner = live
            .iter()
            .find(|d| {
                d.get("database").and_then(|x| x.as_str()) == Some(&r.request.database_name.value)
            })
            .and_then(|d| d.get("owner").and_then(|o| o.as_str()).map(str::to_string));
        let payload = serde_json::json!({
            "request": r.request.id.value,
            "database": r.request.database_name.value,
            "role": r.request.username.value,
        });
        let steps = match self.provision_plan(env, &instance, &payload) {
            Ok(s) => s,
            Err(e) => vec![format!("cannot plan: {e}")],
        };
        Ok(RequestPlan {
            instance,
            secret_path,
            existing_owner,
            steps,
            refusals: r.guard(self.platform),
            needs_approval: r.needs_approval().then(|| r.approval_reason()),
            approval: self.request_approval(r)?,
        })
    }

    /// Applies a request: refused (and recorded) when it breaks a rule,
    /// lacks the approval it needs, or names a database someone else owns;
    /// otherwise the database goes onto the instance under the foundational
    /// lease, and the result is recorded.
    pub fn request_apply(&self, r: &LoadedRequest) -> Result<RequestApplied, EngineError> {
        let plan = self.request_plan(r)?;
        let req = &r.request;
        let refuse = |reasons: Vec<String>, hint: Option<String>| -> EngineError {
            if let Err(e) = self.record_request(
                r,
                "refused",
                serde_json::json!({"reasons": reasons, "hash": r.hash}),
            ) {
                return e;
            }
            EngineError::refused(
                format!(
                    "request {}: {}; nothing was changed",
                    req.id.value,
                    reasons.join("; ")
                ),
                hint,
            )
        };
        if !plan.refusals.is_empty() {
            return Err(refuse(
                plan.refusals.iter().map(|d| d.message.clone()).collect(),
                Some("fix the request, then run goldenpath request validate".into()),
            ));
        }
        if let Some(why) = plan.needs_approval
            && plan.approval.is_none()
        {
            return Err(refuse(
                vec![format!(
                    "it needs an approval ({why}) and none is recorded for its current content"
                )],
                Some(format!(
                    "an approver (not the requester) runs: goldenpath request approve {}",
                    req.id.value
                )),
            ));
        }
        if let Some(owner) = &plan.existing_owner
            && owner != &req.username.value
        {
            return Err(refuse(
                vec![format!(
                    "database {} already exists on {} and is owned by {owner}, not {}",
                    req.database_name.value, plan.instance, req.username.value
                )],
                Some("choose another databaseName, or have the owner hand it over".into()),
            ));
        }
        let payload = serde_json::json!({
            "request": req.id.value,
            "database": req.database_name.value,
            "role": req.username.value,
        });
        let label = format!("request {}", req.id.value);
        match self.provision(&req.environment.value, &plan.instance, &payload, &label) {
            Err(e) => {
                self.record_request(
                    r,
                    "failed",
                    serde_json::json!({"error": e.to_string(), "hash": r.hash}),
                )?;
                Err(e)
            }
            Ok(applied) => {
                let outputs = applied
                    .outputs
                    .resources
                    .get(&req.database_name.value)
                    .cloned()
                    .unwrap_or_default();
                let secret = outputs
                    .get("secret_path")
                    .and_then(|s| s.as_str())
                    .unwrap_or_default()
                    .to_string();
                self.record_request(
                    r,
                    "applied",
                    serde_json::json!({
                        "instance": plan.instance, "database": req.database_name.value,
                        "role": req.username.value, "secretPath": secret, "hash": r.hash,
                        "added": applied.counts.added, "changed": applied.counts.changed,
                        "owner": req.owner.value, "requester": req.requester.value,
                    }),
                )?;
                Ok(RequestApplied {
                    instance: plan.instance,
                    outputs,
                    applied,
                })
            }
        }
    }

    /// Records an approval of the request's current content by
    /// `approver` — never the requester (refused, recorded, exit 3).
    pub fn request_approve(
        &self,
        r: &LoadedRequest,
        approver: &str,
        reason: Option<&str>,
    ) -> Result<(), EngineError> {
        self.request_ownership(r)?;
        self.approve_any(r, approver, reason)
    }

    /// Records an approval of any request's current content by `approver`
    /// — never the requester, and with approvers configured only someone
    /// of a group its route needs (refused, recorded, exit 3).
    pub fn approve_any(
        &self,
        r: &dyn Approvable,
        approver: &str,
        reason: Option<&str>,
    ) -> Result<(), EngineError> {
        if r.request_requester()
            .is_some_and(|q| same_person(q, approver))
        {
            let why = format!(
                "{approver} asked for request {} and cannot approve it: an approval comes from someone else",
                r.request_id()
            );
            self.record_request(
                r,
                "refused",
                serde_json::json!({"reasons": [why.clone()], "hash": r.request_hash(), "approver": approver}),
            )?;
            return Err(EngineError::refused(
                why,
                Some("ask an approver to run `goldenpath request approve`".into()),
            ));
        }
        // With approvers configured, the approval counts for the groups of
        // the request's route the approver belongs to.
        let approvers = self
            .platform
            .spec
            .requests
            .as_ref()
            .map(|q| q.approvers.clone())
            .unwrap_or_default();
        let route = r.request_route();
        let groups: Vec<&str> = route
            .groups()
            .iter()
            .copied()
            .filter(|g| {
                approvers
                    .get(*g)
                    .is_some_and(|people| people.iter().any(|p| same_person(p, approver)))
            })
            .collect();
        if !approvers.is_empty() && route != gp_core::request::Route::SelfServe && groups.is_empty()
        {
            let why = format!(
                "{approver} is not an approver for request {} (it routes to {}: {})",
                r.request_id(),
                route.as_str(),
                route
                    .groups()
                    .iter()
                    .map(|g| format!(
                        "{g}: {}",
                        approvers
                            .get(*g)
                            .map(|p| p.join(", "))
                            .unwrap_or_else(|| "nobody configured".into())
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            self.record_request(
                r,
                "refused",
                serde_json::json!({"reasons": [why.clone()], "hash": r.request_hash(), "approver": approver}),
            )?;
            return Err(EngineError::refused(
                why,
                Some("ask someone of that group (requests.approvers in the spec)".into()),
            ));
        }
        self.record_request(
            r,
            "approved",
            serde_json::json!({"by": approver, "hash": r.request_hash(), "reason": reason, "groups": groups, "route": route.as_str()}),
        )
    }
}
