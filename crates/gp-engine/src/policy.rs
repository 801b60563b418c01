//! Policies during a deploy: the gate a run's drivers pass what they are
//! about to deliver through (rendered files before the commit, a plan
//! before the apply). A `deny` refuses the component, nothing delivered;
//! a `warn` is shown; both are recorded in the registry, as are the
//! overrides (`--override-policy RULE --reason`).

use gp_driver::{DriverError, PolicySubject};
use gp_policy::{Doc, Finding, Severity, Subject};
use gp_registry::{DeploymentEvent, new_id, now_us};

use crate::recorder::RunRecorder;
use crate::{Engine, EngineError, Event};

/// A rule let through for one run, with why.
#[derive(Clone, Debug)]
pub struct PolicyOverride {
    /// The rule's id.
    pub rule: String,
    /// Why (recorded with the actor).
    pub reason: String,
}

/// What a run checks against.
pub(crate) struct PolicyGate {
    set: gp_policy::PolicySet,
    runner: gp_policy::Runner,
    context: gp_policy::Context,
    overrides: Vec<PolicyOverride>,
}

impl Engine<'_> {
    /// Every policy override names a rule the spec's set has (checked
    /// before anything is reserved or recorded).
    pub(crate) fn check_policy_overrides(
        &self,
        overrides: &[PolicyOverride],
    ) -> Result<(), EngineError> {
        if overrides.is_empty() || self.policy.is_none() {
            return Ok(());
        }
        let set = gp_policy::PolicySet::load(self.platform)?;
        unknown_rules(&set, overrides)?;
        Ok(())
    }

    /// The run's gate: the spec's policies (`None` when the engine runs
    /// none, or the spec turns them off). Every override must name a rule
    /// the set has; each is recorded before anything runs.
    pub(crate) fn policy_gate(
        &self,
        contract: &gp_core::Contract<'_>,
        overrides: &[PolicyOverride],
    ) -> Result<Option<PolicyGate>, EngineError> {
        let Some(runner) = &self.policy else {
            return Ok(None);
        };
        if !self.platform.spec.policy.enabled {
            return Ok(None);
        }
        let set = gp_policy::PolicySet::load(self.platform)?;
        unknown_rules(&set, overrides)?;
        for o in overrides {
            self.registry.record_override(&gp_registry::Override {
                id: new_id(),
                kind: "policy".into(),
                env: contract.env().into(),
                deployment: Some(contract.deployment().key()),
                subject: o.rule.clone(),
                actor: self.actor.clone(),
                reason: o.reason.clone(),
                at_us: now_us(),
            })?;
        }
        Ok(Some(PolicyGate {
            set,
            runner: runner.clone(),
            context: gp_policy::Context::of(self.platform, contract),
            overrides: overrides.to_vec(),
        }))
    }
}

/// Every override names a rule the set has.
fn unknown_rules(
    set: &gp_policy::PolicySet,
    overrides: &[PolicyOverride],
) -> Result<(), EngineError> {
    for o in overrides {
        if !set.rules.iter().any(|r| r.id == o.rule) {
            let known: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
            return Err(EngineError::usage(
                format!("--override-policy names no rule `{}`", o.rule),
                Some(format!("the rules are: {}", known.join(", "))),
            ));
        }
    }
    Ok(())
}

/// Marks the denials an override lets through: each override only the rule
/// it names, and an override of the `protect` guard only the protected
/// addresses rule (one override for one cause). A warning is never marked.
fn let_through(findings: &mut [Finding], overrides: &[PolicyOverride], protect_overridden: bool) {
    for f in findings {
        if f.severity == Severity::Deny
            && (overrides.iter().any(|o| o.rule == f.rule)
                || (f.rule == "plan-protected-address" && protect_overridden))
        {
            f.overridden = true;
        }
    }
}

/// The objects of rendered files (every YAML document of each).
fn rendered_docs(
    files: &std::collections::BTreeMap<String, String>,
    component: &str,
) -> Result<Vec<Doc>, DriverError> {
    let mut docs = Vec::new();
    for (path, text) in files {
        if !(path.ends_with(".yaml") || path.ends_with(".yml")) {
            continue;
        }
        for (line, chunk) in gp_policy::split_documents(text) {
            let node = gp_core::yaml::parse(&chunk).map_err(|e| {
                DriverError::permanent(format!(
                    "{path}:{}: the rendered file does not parse: {}",
                    e.pos.line as usize + line - 1,
                    e.message
                ))
            })?;
            if let Some(node) = node {
                docs.push(Doc {
                    subject: Subject::Manifests,
                    file: path.clone(),
                    line,
                    component: component.to_string(),
                    input: node.to_json(),
                });
            }
        }
    }
    Ok(docs)
}

impl RunRecorder<'_> {
    pub(crate) fn policy_check(&self, subject: PolicySubject<'_>) -> Result<(), DriverError> {
        let Some(gate) = self.policy else {
            return Ok(());
        };
        let docs = match subject {
            PolicySubject::Rendered(files) => rendered_docs(files, self.component)?,
            PolicySubject::Plan { name, json } => vec![Doc {
                subject: Subject::Plan,
                file: name.to_string(),
                line: 1,
                component: self.component.to_string(),
                input: gp_policy::redact_plan(json),
            }],
        };
        let mut findings = gate
            .runner
            .check(&gate.set, &gate.context, docs)
            .map_err(|e| match e {
                gp_policy::PolicyError::Invalid(i) => DriverError::configuration(i.to_string()),
                gp_policy::PolicyError::Limit(m) => DriverError::permanent(m).with_hint(
                    "a policy loops or builds something without bound; policy.timeout and policy.memoryMib set the limits",
                ),
                gp_policy::PolicyError::Failed(m) => DriverError::permanent(m),
            })?;
        if findings.is_empty() {
            return Ok(());
        }
        // The protected-address policy is the `protect` guard's own rule:
        // overriding the guard (`--override-guard C:protect`) lets both
        // through, one override for one cause.
        let protect_overridden = gp_driver::Recorder::guard_override(self, "protect").is_some();
        let_through(&mut findings, &gate.overrides, protect_overridden);
        for f in &findings {
            self.events.emit(&Event::PolicyFinding {
                component: f.component.clone(),
                rule: f.rule.clone(),
                severity: match f.severity {
                    Severity::Deny => "deny".into(),
                    Severity::Warn => "warn".into(),
                },
                message: f.message.clone(),
                file: f.file.clone(),
                line: f.line,
                overridden: f.overridden,
            });
        }
        let denied: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.severity == Severity::Deny && !f.overridden)
            .collect();
        if self.writes() {
            let kind = if denied.is_empty() {
                gp_registry::EventKind::PolicyWarned
            } else {
                gp_registry::EventKind::PolicyDenied
            };
            let recorded = self.registry.record_deployment(&DeploymentEvent {
                id: new_id(),
                env: self.env.into(),
                deployment: self.deployment.clone(),
                run_id: Some(self.run_id.into()),
                event: kind.as_str().into(),
                actor: self.actor.into(),
                commit_sha: self.commit.map(str::to_string),
                run_url: self.run_url.map(str::to_string),
                detail: Some(serde_json::json!({
                    "component": self.component,
                    "findings": findings,
                })),
                at_us: now_us(),
            });
            if let Err(e) = recorded {
                return Err(DriverError::permanent(format!(
                    "cannot record the policy findings: {e}"
                )));
            }
        }
        if denied.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = denied
            .iter()
            .map(|f| format!("{} ({}:{}): {}", f.rule, f.file, f.line, f.message))
            .collect();
        Err(DriverError::refused(format!(
            "policy denied: {}",
            list.join("; ")
        ))
        .with_hint("nothing was delivered; fix it, or let one rule through: --override-policy RULE --reason TEXT"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, severity: Severity) -> Finding {
        Finding {
            rule: rule.into(),
            severity,
            message: "m".into(),
            component: "web".into(),
            file: "f.yaml".into(),
            line: 1,
            overridden: false,
        }
    }

    fn marked(findings: &[Finding]) -> Vec<(&str, bool)> {
        findings
            .iter()
            .map(|f| (f.rule.as_str(), f.overridden))
            .collect()
    }

    fn over(rule: &str) -> PolicyOverride {
        PolicyOverride {
            rule: rule.into(),
            reason: "r".into(),
        }
    }

    #[test]
    fn an_override_lets_through_the_rule_it_names_and_no_other() {
        let mut f = vec![
            finding("image-pinned", Severity::Deny),
            finding("no-privileged", Severity::Deny),
            finding("plan-protected-address", Severity::Deny),
        ];
        let_through(&mut f, &[over("image-pinned")], false);
        assert_eq!(
            marked(&f),
            [
                ("image-pinned", true),
                ("no-privileged", false),
                ("plan-protected-address", false)
            ]
        );
    }

    #[test]
    fn without_an_override_nothing_passes() {
        let mut f = vec![finding("image-pinned", Severity::Deny)];
        let_through(&mut f, &[], false);
        assert_eq!(marked(&f), [("image-pinned", false)]);
    }

    #[test]
    fn a_warning_is_never_marked() {
        let mut f = vec![finding("image-pinned", Severity::Warn)];
        let_through(&mut f, &[over("image-pinned")], true);
        assert_eq!(marked(&f), [("image-pinned", false)]);
    }

    #[test]
    fn the_protect_guard_override_lets_through_protected_addresses_only() {
        let mut f = vec![
            finding("plan-protected-address", Severity::Deny),
            finding("image-pinned", Severity::Deny),
        ];
        let_through(&mut f, &[], true);
        assert_eq!(
            marked(&f),
            [("plan-protected-address", true), ("image-pinned", false)]
        );
    }
}
