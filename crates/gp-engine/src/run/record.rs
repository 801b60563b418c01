//! Deployment events and guard overrides, recorded in the registry.

use super::*;

impl Engine<'_> {
    /// Records each guard override as a registry override (kind `guard`),
    /// with who and why, before anything runs.
    pub(crate) fn record_guard_overrides(
        &self,
        env: &str,
        deployment: &str,
        overrides: &[crate::GuardOverride],
    ) -> Result<(), EngineError> {
        for o in overrides {
            let subject = match &o.guard {
                Some(g) => format!("{}:{g}", o.component),
                None => o.component.clone(),
            };
            self.registry.record_override(&gp_registry::Override {
                id: new_id(),
                kind: "guard".into(),
                env: env.into(),
                deployment: Some(deployment.into()),
                subject,
                actor: self.actor.clone(),
                reason: o.reason.clone(),
                at_us: now_us(),
            })?;
        }
        Ok(())
    }

    pub(crate) fn record_event(
        &self,
        env: &str,
        deployment: &str,
        run_id: &str,
        event: gp_registry::EventKind,
        detail: Option<serde_json::Value>,
    ) -> Result<(), EngineError> {
        self.registry.record_deployment(&DeploymentEvent {
            id: new_id(),
            env: env.into(),
            deployment: deployment.into(),
            run_id: Some(run_id.into()),
            event: event.as_str().into(),
            actor: self.actor.clone(),
            commit_sha: self.commit.clone(),
            run_url: self.run_url.clone(),
            detail,
            at_us: now_us(),
        })?;
        Ok(())
    }
}
