//! The `terraform` driver: runs the `terraform` (or `tofu`) CLI on a root
//! module with the contract's state key and variables.
//!
//! ```yaml
//! - name: cluster
//!   plane: disposable
//!   tier: 0
//!   driver: terraform
//!   settings:
//!     root: infra/cluster               # relative to the spec; declares `backend "local" {}` (or s3)
//!     binary: terraform                 # or tofu (default: terraform, else tofu, on PATH)
//!     backend: { s3: { bucket: b, region: eu-west-2, dynamodbTable: locks } }   # default: local
//!     variables: { vpc_id: "${vpc.vpc_id}" }
//!     protect: ["aws_db_instance.*"]    # may never be deleted or replaced
//!     limits: { maxDestroy: 0 }         # per deploy plan (a teardown is not limited)
//! ```
//!
//! - **State**: `-backend-config` gives the contract's key (the local
//!   backend keeps it under `{state}/tfstate/`); each disposable component
//!   has its own workspace under its deployment's key, and each deployment
//!   its own `TF_DATA_DIR`, so parallel builds never share `.terraform/`.
//! - **Variables** (`build_id`, `deployment_lifecycle` — Terraform reserves
//!   `lifecycle` —, `env`, `name_prefix`,
//!   `cluster_name`, `irsa_role_suffix`, `host_suffix`, `dns_owner_id`,
//!   `tags`, outputs of needed components as `{component}_{output}`, and the
//!   settings' `variables`) go into `goldenpath.auto.tfvars.json`, only those
//!   the root declares.
//! - **Plan, guard, apply**: `plan -out`, `show -json`, counts and guards on
//!   the JSON, then `apply` of the saved plan. A guard refuses (exit 3)
//!   unless overridden with a recorded reason.
//! - **Phases** init/plan/apply (or destroy) with exit codes, counts from the
//!   plan JSON and a log file each.
//! - **Locks**: a held state lock is reported with its id, holder and age;
//!   [`TerraformDriver::force_unlock`] runs `force-unlock`.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gp_core::yaml::{NodeKind, RawNode, Spanned};
use gp_driver::process::{self, Finished, RunOptions};
use gp_driver::{
    Action, Applied, ComponentCtx, ComponentOutputs, Counts, Driver, DriverError, Existence,
    Intent, Observation, Presence, ResourceRef, ValidateCtx, Validated, settings_at_apply,
    typed_settings,
};
use serde::Deserialize;

mod diagnostics;
mod iam;
mod invocation;
mod plan;
mod settings;

/// The variables file goldenpath writes into each component's working
/// directory.
pub(crate) const VARS_FILE: &str = "goldenpath.auto.tfvars.json";
pub use diagnostics::*;
pub use invocation::*;
pub use plan::*;
pub use settings::*;

/// The driver.
#[derive(Default)]
pub struct TerraformDriver {
    process_ns: AtomicU64,
    /// Saved plans (`terraform show -json`) by component, for
    /// `goldenpath iam policy --plan`.
    plans: std::collections::BTreeMap<String, serde_json::Value>,
}

impl Driver for TerraformDriver {
    fn name(&self) -> &'static str {
        "terraform"
    }

    fn artifacts(&self, ctx: &gp_driver::ArtifactCtx<'_>) -> Vec<gp_core::propagation::Artifact> {
        // The variables each terraform component of the deployment was
        // last given (the contract's build id among them).
        let work = gp_driver::deployment_work_dir(ctx.state_dir, ctx.contract);
        ctx.platform
            .spec
            .components
            .iter()
            .filter(|c| c.driver.value == self.name())
            .filter_map(|c| {
                let path = work.join(&c.name.value).join(VARS_FILE);
                let text = std::fs::read_to_string(&path).ok()?;
                // The root takes the build id as `build_id`, or (a root that
                // declares no such variable) in its `tags`.
                let vars: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                let field =
                    if vars.get("build_id").is_none() && vars.pointer("/tags/BuildId").is_some() {
                        gp_core::propagation::BuildIdField {
                            pointer: "/tags/BuildId",
                            field: "BuildId",
                        }
                    } else {
                        gp_core::propagation::BuildIdField {
                            pointer: "/build_id",
                            field: "build_id",
                        }
                    };
                Some(gp_core::propagation::Artifact {
                    path,
                    text,
                    build_id_field: Some(field),
                })
            })
            .collect()
    }

    /// The S3 backend's calls on the component's state and lock, and what
    /// the root's resources need: from its saved plan when one is given,
    /// else from the types its files declare.
    fn permissions(
        &self,
        ctx: &ValidateCtx<'_>,
        contract: &gp_core::Contract<'_>,
        access: gp_core::iam::Access,
    ) -> Result<Vec<gp_core::iam::Grant>, Vec<gp_core::Diagnostic>> {
        let s: TerraformSettings = typed_settings(ctx.platform, ctx.settings, true)?;
        let mut out = Vec::new();
        if let Some(BackendSettings::S3(b)) = &s.backend {
            let spec = &ctx.platform.spec;
            let pairs = b
                .config(contract.env(), &spec.project.value, &spec.prefix.value)
                .map_err(|e| {
                    vec![
                        ctx.platform
                            .diagnostic(s.root.start, format!("backend.s3: {e}")),
                    ]
                })?;
            let key = contract.component_state_key(ctx.component);
            let mut keys = vec![key.clone()];
            let workspace = match s.state_key.as_ref().map(|k| k.value) {
                Some(StateKeyMode::Deployment) => None,
                _ => contract.terraform_workspace(ctx.component),
            };
            if let Some(w) = &workspace {
                // Terraform keeps a workspace's state under `env:/`.
                keys.push(format!("env:/{w}/{key}"));
            }
            out.extend(iam::backend_grants(
                &pairs,
                &keys,
                workspace.is_some(),
                access,
            ));
        }
        let table = iam::types(&ctx.platform.spec.iam.terraform_types);
        match self.plans.get(&ctx.component.name.value) {
            Some(plan) => out.extend(iam::plan_grants(plan, &table, access).map_err(|e| {
                vec![ctx.platform.diagnostic(
                    ctx.component.name.start,
                    format!("the saved plan of {}: {e}", ctx.component.name.value),
                )]
            })?),
            None => {
                let root = ctx.platform.base_dir().join(&s.root.value);
                // What is not here cannot be read: never a policy short of it.
                if !root.is_dir() {
                    return Err(vec![ctx.platform.diagnostic(
                        s.root.start,
                        format!("the Terraform root `{}` does not exist", s.root.value),
                    )]);
                }
                out.extend(iam::declared_grants(&root, &s.root.value, &table, access)?);
            }
        }
        Ok(out)
    }

    fn preflight(&self, ctx: &ValidateCtx<'_>) -> Vec<gp_core::Diagnostic> {
        let Ok(s) = typed_settings::<TerraformSettings>(ctx.platform, ctx.settings, true) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let root = ctx.platform.base_dir().join(&s.root.value);
        let has_tf = std::fs::read_dir(&root).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "tf"))
        });
        if !root.is_dir() {
            out.push(
                ctx.platform
                    .diagnostic(
                        s.root.start,
                        format!(
                            "the Terraform root `{}` does not exist ({})",
                            s.root.value,
                            std::path::absolute(&root).unwrap_or(root.clone()).display()
                        ),
                    )
                    .with_hint("`root` is relative to the spec's directory"),
            );
        } else if !has_tf {
            out.push(ctx.platform.diagnostic(
                s.root.start,
                format!("the Terraform root `{}` has no .tf files", s.root.value),
            ));
        }
        if let Err(e) = invocation::find_binary(s.binary.as_deref()) {
            out.push(
                ctx.platform
                    .diagnostic(ctx.component.driver.start, e.message)
                    .with_hint_opt(e.hint),
            );
        }
        out
    }

    fn validate(&self, ctx: &ValidateCtx<'_>) -> Result<Validated, Vec<gp_core::Diagnostic>> {
        let s: TerraformSettings = typed_settings(ctx.platform, ctx.settings, true)?;
        let mut problems = Vec::new();
        if let Some(t) = &s.timeout {
            problems.extend(process::check_timeout(ctx.platform, t));
        }
        if let Some(BackendSettings::S3(b)) = &s.backend
            && let Err(e) = b.config("env", "project", "prefix")
        {
            let at = ctx
                .settings
                .get("backend")
                .map_or(ctx.settings.start, |n| n.start);
            problems.push(ctx.platform.diagnostic(at, format!("backend.s3: {e}")));
        }
        if let Some(k) = &s.state_key
            && k.value == StateKeyMode::Deployment
        {
            let others: Vec<&str> = ctx
                .platform
                .spec
                .components
                .iter()
                .filter(|c| {
                    c.name.value != ctx.component.name.value && c.driver.value == "terraform"
                })
                .filter(|c| {
                    c.settings_node().get("stateKey").and_then(|n| n.as_str()) == Some("deployment")
                })
                .map(|c| c.name.value.as_str())
                .collect();
            if ctx.component.plane.value != gp_core::Plane::Disposable {
                problems.push(ctx.platform.diagnostic(
                    k.start,
                    "stateKey: deployment is for a disposable component (a foundational one has its own key)",
                ));
            } else if let Some(other) = others.first() {
                problems.push(ctx.platform.diagnostic(
                    k.start,
                    format!("`{other}` already owns the deployment's state key (stateKey: deployment); one component per spec may"),
                ));
            }
        }
        if let Some(RawNode(v)) = &s.variables
            && !matches!(v.kind, NodeKind::Map(_))
        {
            problems.push(
                ctx.platform
                    .diagnostic(v.start, "`variables` must be a mapping of name: value"),
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        // The root's declared outputs, when it is here to read (the spec's
        // own files; no system is contacted).
        let root = ctx.platform.base_dir().join(&s.root.value);
        Ok(Validated {
            outputs: declared(&root).map(|(_, o)| o.into_iter().collect()),
            resources: Vec::new(),
            resource_outputs: None,
            owned: Vec::new(),
        })
    }

    fn observe(&self, ctx: &ComponentCtx<'_>) -> Result<Observation, DriverError> {
        let s: TerraformSettings = settings_at_apply(ctx)?;
        let mut inv = self.invocation(ctx, &s)?;
        // A plan only looks: Terraform works in a directory of its own,
        // no workspace is created, and state nobody wrote is absent without
        // asking (on the S3 backend, `workspace select` finds it or not).
        let _scratch = if ctx.recorder.mode() != gp_driver::RunMode::Write {
            if !local_state_exists(&inv) {
                return Ok(Observation::absent());
            }
            let dir = tempfile::Builder::new()
                .prefix("goldenpath-plan-")
                .tempdir()
                .map_err(|e| {
                    DriverError::permanent(format!("cannot make a scratch directory: {e}"))
                })?;
            inv.work = dir.path().join("work");
            inv.scratch = Some(dir.path().to_path_buf());
            if !self.init_with(ctx, &inv, false)? {
                let mut absent = Observation::absent();
                absent.drift.extend(
                    inv.workspace
                        .as_deref()
                        .and_then(|w| iam::workspace_listing_note(&inv.backend, w)),
                );
                return Ok(absent);
            }
            Some(dir)
        } else {
            self.init(ctx, &inv)?;
            None
        };
        if self.state_resources(ctx, &inv)?.is_empty() {
            return Ok(Observation::absent());
        }
        self.write_vars(ctx, &s, &inv)?;
        // A drift check also asks Terraform's own question of drift: what
        // changed outside Terraform, by a refresh-only plan (its exit status
        // says whether anything did). What it finds replaces the same
        // section of the plan below, which still compares the state with
        // the configuration (a state written by another apply).
        let outside = if ctx.recorder.checks_drift() {
            Some(self.refresh_only(ctx, &inv)?)
        } else {
            None
        };
        let (mut plan, _) = self.plan(ctx, &inv, false, false)?;
        let mut outside_note = None;
        if let Some((refreshed, differs)) = outside {
            plan.outside = refreshed.outside;
            if differs && plan.outside.is_empty() {
                outside_note = Some(
                    "terraform plan -refresh-only: the state differs from what the infrastructure holds"
                        .to_string(),
                );
            }
        }
        let outputs = self.outputs(ctx, &inv)?;
        let counts = plan.counts();
        Ok(Observation {
            presence: Presence::Present,
            drift: if plan.is_empty() {
                Vec::new()
            } else if counts == Counts::default() {
                vec![format!(
                    "terraform plan: outputs change ({})",
                    plan.outputs.join(", ")
                )]
            } else {
                // Each resource change, as `terraform plan` lists them.
                let mut lines = vec![format!(
                    "terraform plan: +{} ~{} -{}",
                    counts.added, counts.changed, counts.destroyed
                )];
                for (action, addresses) in [
                    ("create", &plan.creates),
                    ("update", &plan.updates),
                    ("replace", &plan.replaces),
                    ("destroy", &plan.deletes),
                ] {
                    // Each address with the attributes that change (names
                    // only: a value may be sensitive).
                    lines.extend(addresses.iter().map(|a| {
                        match plan.attributes.get(a).filter(|x| !x.is_empty()) {
                            Some(attrs) => format!("{action} {a} ({})", attrs.join(", ")),
                            None => format!("{action} {a}"),
                        }
                    }));
                }
                lines
            }
            .into_iter()
            // What the refresh found changed outside Terraform.
            .chain(
                plan.outside.iter().map(|(a, what)| {
                    format!("changed outside Terraform: {a} ({})", what.join(", "))
                }),
            )
            .chain(outside_note)
            .collect(),
            outputs: Some(outputs),
            counts: Some(counts),
        })
    }

    fn apply(&self, ctx: &ComponentCtx<'_>) -> Result<Applied, DriverError> {
        let s: TerraformSettings = settings_at_apply(ctx)?;
        let inv = self.invocation(ctx, &s)?;
        self.init(ctx, &inv)?;
        self.write_vars(ctx, &s, &inv)?;
        let (plan, plan_file) = self.plan(ctx, &inv, false, true)?;
        self.check_guards(ctx, &s, &plan)?;
        if plan.is_empty() {
            let outputs = self.outputs(ctx, &inv)?;
            // Taking over state nobody journalled is recorded even when
            // there is nothing to change: teardown keeps what was adopted,
            // except a build's own state (claimed).
            if ctx.intent == Intent::Adopt {
                let id = ctx
                    .recorder
                    .before(Action::Adopt, &Self::adopted_resource(ctx, &inv))?;
                ctx.recorder.after(&id, Some(&outputs.values))?;
            }
            return Ok(Applied {
                outputs,
                counts: Counts::default(),
            });
        }
        let action = match ctx.intent {
            Intent::Create => Action::Create,
            Intent::Adopt => Action::Adopt,
            Intent::Update => Action::Update,
        };
        let resource = match action {
            Action::Adopt => Self::adopted_resource(ctx, &inv),
            _ => Self::state_resource(&inv),
        };
        let id = ctx.recorder.before(action, &resource)?;
        let phase = ctx.recorder.phase_start("terraform-apply");
        let plan_arg = plan_file.display().to_string();
        let lock = format!("-lock-timeout={}", inv.lock_timeout);
        let (f, log) = match self.run(
            ctx,
            &inv,
            "terraform-apply",
            &[
                "apply",
                "-input=false",
                "-no-color",
                "-json",
                &lock,
                &plan_arg,
            ],
        ) {
            Ok(x) => x,
            Err(e) => {
                ctx.recorder.phase_end(phase, -1, None, None);
                ctx.recorder.failed(&id, &e.message);
                return Err(e);
            }
        };
        ctx.recorder
            .phase_end(phase, f.exit_code(), Some(plan.counts()), Some(&log));
        if !f.success() {
            let e = self.failure(ctx, &inv, "apply", &f, &log);
            ctx.recorder.failed(&id, &e.message);
            return Err(e);
        }
        let outputs = self.outputs(ctx, &inv)?;
        ctx.recorder.after(&id, Some(&outputs.values))?;
        Ok(Applied {
            outputs,
            counts: plan.counts(),
        })
    }

    fn destroy(&self, ctx: &ComponentCtx<'_>, r: &ResourceRef) -> Result<(), DriverError> {
        let (s, inv) = self.invocation_for(ctx, r)?;
        let s = Some(s);
        if let Some(false) = Self::local_state_exists(&inv) {
            return Ok(());
        }
        self.init(ctx, &inv)?;
        if self.state_resources(ctx, &inv)?.is_empty() {
            return self.remove_workspace(ctx, &inv);
        }
        if let Some(s) = &s {
            self.write_vars(ctx, s, &inv)?;
        }
        let (plan, plan_file) = self.plan(ctx, &inv, true, true)?;
        // A teardown means to remove everything: the per-plan limits guard
        // deploys, `protect` guards both.
        if let Some(s) = &s {
            let protect_only = TerraformSettings {
                limits: Limits::default(),
                ..s.clone()
            };
            self.check_guards(ctx, &protect_only, &plan)?;
        }
        let phase = ctx.recorder.phase_start("terraform-destroy");
        let plan_arg = plan_file.display().to_string();
        let (f, log) = self.run(
            ctx,
            &inv,
            "terraform-destroy",
            &["apply", "-input=false", "-no-color", "-json", &plan_arg],
        )?;
        ctx.recorder
            .phase_end(phase, f.exit_code(), Some(plan.counts()), Some(&log));
        if !f.success() {
            return Err(self.failure(ctx, &inv, "destroy", &f, &log));
        }
        let left = self.state_resources(ctx, &inv)?;
        if !left.is_empty() {
            return Err(DriverError::permanent(format!(
                "after destroy, the state {} still lists {}",
                inv.key,
                left.join(", ")
            )));
        }
        self.remove_workspace(ctx, &inv)
    }

    fn unlock(&self, ctx: &ComponentCtx<'_>, lock_id: &str) -> Result<(), DriverError> {
        self.force_unlock(ctx, lock_id)
    }

    fn noun(&self, _resource: bool) -> &'static str {
        "Terraform root"
    }

    fn resource_kinds(&self) -> &'static [&'static str] {
        &["state"]
    }

    fn exists(&self, ctx: &ComponentCtx<'_>, r: &ResourceRef) -> Result<Existence, DriverError> {
        let (_, inv) = self.invocation_for(ctx, r)?;
        if let Some(false) = Self::local_state_exists(&inv) {
            return Ok(Existence::Gone);
        }
        if !inv.root.is_dir() {
            return Ok(Existence::Unknown);
        }
        // A workspace that is gone stays gone: asking never recreates it.
        if !self.init_with(ctx, &inv, false)? {
            return Ok(Existence::Gone);
        }
        Ok(if self.state_resources(ctx, &inv)?.is_empty() {
            Existence::Gone
        } else {
            Existence::Exists
        })
    }
}

/// Counts as a registry phase records them, from a plan JSON (public for
/// tests that compare with Terraform's own output).
pub fn counts_from_plan_json(v: &serde_json::Value) -> Counts {
    PlanSummary::from_json(v).counts()
}

/// Whether a local backend holds any state for the invocation's key (the
/// default workspace's file, or the directory of its other workspaces); a
/// remote backend always may.
fn local_state_exists(inv: &Invocation) -> bool {
    if inv.backend.get("s3").is_some() {
        return true;
    }
    let path = inv.state_dir.join("tfstate").join(&inv.key);
    path.exists()
        || path
            .with_file_name(format!(
                "{}.d",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
            ))
            .exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("aws_db_instance.*", "aws_db_instance.main"));
        assert!(glob(
            "module.*.aws_db_instance.main",
            "module.db.aws_db_instance.main"
        ));
        assert!(glob("terraform_data.db", "terraform_data.db"));
        assert!(!glob("terraform_data.db", "terraform_data.dbx"));
        assert!(!glob("aws_*", "terraform_data.x"));
    }

    #[test]
    fn plan_json_counts_and_guards() {
        let v = serde_json::json!({"resource_changes": [
            {"address": "a.x", "change": {"actions": ["create"]}},
            {"address": "a.y", "change": {"actions": ["update"]}},
            {"address": "db.main", "change": {"actions": ["delete"]}},
            {"address": "a.z", "change": {"actions": ["delete", "create"]}},
            {"address": "a.n", "change": {"actions": ["no-op"]}}
        ]});
        let p = PlanSummary::from_json(&v);
        assert_eq!(
            p.counts(),
            Counts {
                added: 2,
                changed: 1,
                destroyed: 2
            }
        );
        let v = guards(
            &p,
            &["db.*".into()],
            &Limits {
                max_destroy: Some(1),
                ..Limits::default()
            },
        );
        assert_eq!(v.len(), 2);
        assert!(v[0].message.contains("would delete db.main"));
        assert_eq!(v[1].guard, "maxDestroy");
    }

    #[test]
    fn lock_info() {
        let text = "Error acquiring the state lock\n\nError message: resource temporarily unavailable\nLock Info:\n  ID:        0c6ae5e0-9f2d\n  Path:      /x\n  Operation: OperationTypeApply\n  Who:       root@runner\n  Version:   1.11.4\n  Created:   2026-11-26 05:10:00 +0000 UTC\n  Info:\n";
        let l = parse_lock_info(text).unwrap();
        assert_eq!(
            (l.id.as_str(), l.who.as_str(), l.operation.as_str()),
            ("0c6ae5e0-9f2d", "root@runner", "OperationTypeApply")
        );
    }

    #[test]
    fn text_diagnostics_find_file_and_line() {
        let t = "╷\n│ Error: Invalid block definition\n│ \n│   on main.tf line 3, in resource \"x\" \"y\":\n│    3: resource \"x\" {\n╵\n";
        assert_eq!(
            text_diagnostics(t),
            vec!["main.tf:3: Invalid block definition".to_string()]
        );
    }
}
