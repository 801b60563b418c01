//! A component's Terraform state as a journalled resource: its identity,
//! removing a build's workspace, and unlocking it.

use super::*;

impl TerraformDriver {
    /// After a destroy: deletes the component's (now empty) workspace and
    /// its working directory, so a torn-down build leaves no state behind.
    pub(crate) fn remove_workspace(
        &self,
        ctx: &ComponentCtx<'_>,
        inv: &Invocation,
    ) -> Result<(), DriverError> {
        if let Some(w) = &inv.workspace {
            let plain = Invocation {
                workspace: None,
                ..inv.clone()
            };
            let (f, log) = self.run(
                ctx,
                &plain,
                "terraform-workspace-select",
                &["workspace", "select", "-no-color", "default"],
            )?;
            if !f.success() {
                return Err(self.failure(ctx, inv, "workspace select default", &f, &log));
            }
            // Without Terraform's lock: the workspace is empty and this run
            // holds goldenpath's lease on the deployment. Terraform locks a
            // workspace it deletes (as `state-replace-provider`) and, against
            // a slow lock table, can leave that lock behind once the state
            // is gone, failing the step after it.
            let (f, log) = self.run(
                ctx,
                &plain,
                "terraform-workspace-delete",
                &[
                    "workspace",
                    "delete",
                    "-force",
                    "-lock=false",
                    "-no-color",
                    w,
                ],
            )?;
            if !f.success() {
                return Err(self.failure(ctx, inv, "workspace delete", &f, &log));
            }
        }
        if inv.work.is_dir() {
            let _ = std::fs::remove_dir_all(&inv.work);
        }
        // Empty parents: the workspaces folder, the deployment's work folder.
        if inv.backend == serde_json::json!("local") {
            let path = inv.state_dir.join("tfstate").join(&inv.key);
            let _ = std::fs::remove_dir(format!("{}.d", path.display()));
            if let Some(deployment) = path.parent() {
                let _ = std::fs::remove_dir(deployment);
            }
        }
        if let Some(parent) = inv.work.parent() {
            let _ = std::fs::remove_dir(parent);
        }
        Ok(())
    }

    pub(crate) fn state_resource(inv: &Invocation) -> ResourceRef {
        let id = match &inv.workspace {
            Some(w) => format!("{} workspace {w}", inv.key),
            None => inv.key.clone(),
        };
        ResourceRef::new("state", id)
    }

    /// An adopted state as journalled. With `stateKey: deployment` the spec
    /// says the component owns the build's contract key exactly (the
    /// platform's `envs/{env}/builds/{B}/terraform.tfstate`): state found
    /// there is the build's, claimed, and its teardown destroys it. State
    /// found in a workspace nobody journalled is kept.
    pub(crate) fn adopted_resource(ctx: &ComponentCtx<'_>, inv: &Invocation) -> ResourceRef {
        let r = Self::state_resource(inv);
        if ctx.contract.build_id().is_some()
            && ctx.component.plane.value == gp_core::Plane::Disposable
            && inv.workspace.is_none()
        {
            r.claimed()
        } else {
            r
        }
    }

    /// The invocation that owns a journalled state, derived from the spec
    /// and the contract (a journal row never says which binary, root or
    /// backend to use). A row naming another state is refused.
    pub(crate) fn invocation_for(
        &self,
        ctx: &ComponentCtx<'_>,
        r: &ResourceRef,
    ) -> Result<(TerraformSettings, Invocation), DriverError> {
        if r.kind != "state" {
            return Err(DriverError::refused(format!(
                "the journal names a `{}` under `{}`, a kind the terraform driver never creates; nothing was run",
                r.kind,
                ctx.name()
            )));
        }
        if ctx.platform.component(ctx.name()).is_none() {
            return Err(DriverError::permanent(format!(
                "`{}` is no longer in the spec, so its Terraform root and binary are unknown",
                ctx.name()
            ))
            .with_hint("put the component back into the spec to tear it down, then remove it"));
        }
        let s: TerraformSettings = settings_at_apply(ctx)?;
        let inv = self.invocation(ctx, &s)?;
        let own = Self::state_resource(&inv);
        if own.id != r.id {
            return Err(DriverError::refused(format!(
                "the journal names state `{}` under `{}`, but this deployment's state is `{}`; nothing was run",
                r.id,
                ctx.name(),
                own.id
            )));
        }
        Ok((s, inv))
    }

    /// `terraform force-unlock` of a component's state in a deployment.
    pub fn force_unlock(&self, ctx: &ComponentCtx<'_>, lock_id: &str) -> Result<(), DriverError> {
        let s: TerraformSettings = settings_at_apply(ctx)?;
        let inv = self.invocation(ctx, &s)?;
        self.init(ctx, &inv)?;
        let (f, log) = self.run(
            ctx,
            &inv,
            "terraform-force-unlock",
            &["force-unlock", "-force", lock_id],
        )?;
        if !f.success() {
            let all = strip_ansi(&format!("{}\n{}", f.stdout, f.stderr));
            if all.contains("LocalState not locked") {
                return Err(DriverError::permanent(format!(
                    "{}'s state uses the local backend, whose lock is the holding process's own file lock: it cannot be released from outside, and it disappears when that process exits",
                    ctx.name()
                ))
                .with_hint("wait for the holder, or stop it; force-unlock is for remote backends (s3 with a lock table)"));
            }
            return Err(self.failure(ctx, &inv, "force-unlock", &f, &log));
        }
        Ok(())
    }
}
