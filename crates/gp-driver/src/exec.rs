//! The `exec` driver: runs a command with the contract in its environment,
//! for steps no other driver covers.
//!
//! ```yaml
//! - name: smoke-test
//!   driver: exec
//!   settings:
//!     apply: ./scripts/provision.sh            # run with `sh -c`, or a list: [prog, arg, ...]
//!     destroy: ./scripts/deprovision.sh        # run on teardown (must be idempotent)
//!     check: test -f "$GOLDENPATH_STATE_DIR/marker"   # exit 0 = exists
//!     outputs: [endpoint]                      # written as KEY=VALUE lines to $GOLDENPATH_OUTPUTS
//!     env: { ENDPOINT_OF_CLUSTER: "${cluster.endpoint}" }
//!     timeout: 10m
//!     workdir: scripts                         # relative to the spec
//! ```
//!
//! Every command sees the contract as `GOLDENPATH_*` variables: `ENV`,
//! `BUILD_ID` (empty for the persistent deployment), `LIFECYCLE`,
//! `DEPLOYMENT`, `NAME_PREFIX`, `CLUSTER_NAME`, `IRSA_ROLE_SUFFIX`,
//! `STATE_KEY`, `HOST_SUFFIX`, `DNS_OWNER_ID`, `TAGS` (JSON), `COMPONENT`,
//! `STATE_DIR`, and for `apply` the `OUTPUTS` file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use gp_core::yaml::Spanned;
use serde::Deserialize;

use crate::process::{self, RunOptions};
use crate::{
    Action, Applied, ComponentCtx, ComponentOutputs, Counts, Driver, DriverError, Existence,
    Intent, Observation, Outputs, Presence, ResourceRef, ValidateCtx, Validated, settings_at_apply,
    typed_settings,
};

/// A command: a shell line (`sh -c`) or an argument list.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
#[serde(untagged)]
pub enum CommandLine {
    /// Run with `sh -c`.
    Shell(String),
    /// Program and arguments.
    Argv(Vec<String>),
}

/// Settings of an `exec` component.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecSettings {
    /// Creates or converges the resource.
    pub apply: CommandLine,
    /// Removes it on teardown; must succeed when it is already gone.
    #[serde(default)]
    pub destroy: Option<CommandLine>,
    /// Exits 0 when the resource exists; used by plan, status and the
    /// orphan check.
    #[serde(default)]
    pub check: Option<CommandLine>,
    /// Output names `apply` writes as `KEY=VALUE` lines to `$GOLDENPATH_OUTPUTS`.
    #[serde(default)]
    pub outputs: Vec<Spanned<String>>,
    /// Extra environment; values may reference outputs of needed components.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Kill the command after this long (default 10m).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// Working directory, relative to the spec (default: the spec's folder).
    #[serde(default)]
    pub workdir: Option<String>,
}

impl ExecSettings {
    /// Settings that run nothing, for teardown of a component no longer in
    /// the spec (its commands come from the journal).
    fn inert() -> Self {
        Self {
            apply: CommandLine::Shell("true".into()),
            destroy: None,
            check: None,
            outputs: Vec::new(),
            env: BTreeMap::new(),
            timeout: None,
            workdir: None,
        }
    }
}

/// The driver.
#[derive(Debug, Default)]
pub struct ExecDriver;

impl ExecDriver {
    fn command(&self, ctx: &ComponentCtx<'_>, s: &ExecSettings, line: &CommandLine) -> Command {
        let mut cmd = match line {
            CommandLine::Shell(text) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(text);
                c
            }
            CommandLine::Argv(argv) => {
                let mut c = Command::new(argv.first().map(String::as_str).unwrap_or("true"));
                c.args(argv.iter().skip(1));
                c
            }
        };
        let base = ctx.platform.base_dir();
        let base = if base.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            base
        };
        cmd.current_dir(match &s.workdir {
            Some(w) => base.join(w),
            None => base.to_path_buf(),
        });
        for (k, v) in contract_env(ctx) {
            cmd.env(k, v);
        }
        for (k, v) in &s.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn timeout(s: &ExecSettings) -> Duration {
        s.timeout
            .as_ref()
            .and_then(|t| process::parse_timeout(&t.value))
            .unwrap_or(Duration::from_secs(600))
    }

    fn resource(ctx: &ComponentCtx<'_>, s: &ExecSettings) -> ResourceRef {
        // Keep the destroy and check commands with the journal, so teardown
        // works even after the spec has changed.
        ResourceRef::new("exec", ctx.name()).with_data(serde_json::json!({
            "destroy": s.destroy,
            "check": s.check,
        }))
    }

    fn check(
        &self,
        ctx: &ComponentCtx<'_>,
        s: &ExecSettings,
        line: &CommandLine,
    ) -> Result<bool, DriverError> {
        let out = process::run(
            self.command(ctx, s, line),
            RunOptions {
                timeout: Self::timeout(s),
                log_file: Some(ctx.log_file("check")),
                recorder: Some(ctx.recorder),
                prefix: ctx.name().into(),
            },
        )?;
        Ok(out.success())
    }
}

/// The contract as `GOLDENPATH_*` variables.
pub fn contract_env(ctx: &ComponentCtx<'_>) -> Vec<(String, String)> {
    let c = ctx.contract;
    let tags = serde_json::to_string(&c.tags()).unwrap_or_default();
    vec![
        ("GOLDENPATH_ENV".into(), c.env().into()),
        (
            "GOLDENPATH_BUILD_ID".into(),
            c.build_id().map(|b| b.to_string()).unwrap_or_default(),
        ),
        ("GOLDENPATH_LIFECYCLE".into(), c.lifecycle().to_string()),
        ("GOLDENPATH_DEPLOYMENT".into(), c.deployment().key()),
        ("GOLDENPATH_NAME_PREFIX".into(), c.name_prefix()),
        ("GOLDENPATH_CLUSTER_NAME".into(), c.cluster_name()),
        ("GOLDENPATH_IRSA_ROLE_SUFFIX".into(), c.irsa_role_suffix()),
        (
            "GOLDENPATH_STATE_KEY".into(),
            c.component_state_key(ctx.component),
        ),
        ("GOLDENPATH_HOST_SUFFIX".into(), c.host_suffix()),
        ("GOLDENPATH_DNS_OWNER_ID".into(), c.dns_owner_id()),
        ("GOLDENPATH_TAGS".into(), tags),
        ("GOLDENPATH_COMPONENT".into(), ctx.name().into()),
        (
            "GOLDENPATH_STATE_DIR".into(),
            absolute(ctx.state_dir).display().to_string(),
        ),
    ]
}

fn absolute(p: &std::path::Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

impl Driver for ExecDriver {
    fn name(&self) -> &'static str {
        "exec"
    }

    fn validate(&self, ctx: &ValidateCtx<'_>) -> Result<Validated, Vec<gp_core::Diagnostic>> {
        let s: ExecSettings = typed_settings(ctx.platform, ctx.settings, true)?;
        let mut problems = Vec::new();
        if let Some(t) = &s.timeout
            && process::parse_timeout(&t.value).is_none()
        {
            problems.push(ctx.platform.diagnostic(
                t.start,
                format!(
                    "invalid timeout `{}`: expected e.g. 90s, 10m or 1h",
                    t.value
                ),
            ));
        }
        for o in &s.outputs {
            let ok = !o.value.is_empty()
                && o.value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !o.value.as_bytes()[0].is_ascii_digit();
            if !ok {
                problems.push(ctx.platform.diagnostic(
                    o.start,
                    format!(
                        "invalid output name `{}`: use letters, digits and `_`",
                        o.value
                    ),
                ));
            }
        }
        if let CommandLine::Argv(a) = &s.apply
            && a.is_empty()
        {
            problems.push(
                ctx.platform
                    .diagnostic(ctx.settings.start, "`apply` is an empty command"),
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Validated {
            outputs: Some(s.outputs.iter().map(|o| o.value.clone()).collect()),
            resources: Vec::new(),
            resource_outputs: None,
        })
    }

    fn observe(&self, ctx: &ComponentCtx<'_>) -> Result<Observation, DriverError> {
        let s: ExecSettings = settings_at_apply(ctx)?;
        match &s.check {
            Some(check) => {
                if self.check(ctx, &s, check)? {
                    Ok(Observation::present(ctx.last.cloned()))
                } else {
                    Ok(Observation::absent())
                }
            }
            // Without a check, what was applied is all there is to know.
            None => Ok(match ctx.last {
                Some(last) => Observation::present(Some(last.clone())),
                None => Observation::absent(),
            }),
        }
    }

    fn apply(&self, ctx: &ComponentCtx<'_>) -> Result<Applied, DriverError> {
        let s: ExecSettings = settings_at_apply(ctx)?;
        let resource = Self::resource(ctx, &s);
        let action = match ctx.intent {
            Intent::Create => Action::Create,
            Intent::Adopt => Action::Adopt,
            Intent::Update => Action::Update,
        };
        let id = ctx.recorder.before(action, &resource)?;
        let work = ctx.work_dir();
        std::fs::create_dir_all(&work).map_err(|e| {
            DriverError::permanent(format!("cannot create {}: {e}", work.display()))
        })?;
        let outputs_file = absolute(&work.join("outputs.env"));
        let _ = std::fs::remove_file(&outputs_file);
        let mut cmd = self.command(ctx, &s, &s.apply);
        cmd.env("GOLDENPATH_OUTPUTS", &outputs_file);
        let phase = ctx.recorder.phase_start(&format!("exec:{}", ctx.name()));
        let log = ctx.log_file("apply");
        let result = process::run(
            cmd,
            RunOptions {
                timeout: Self::timeout(&s),
                log_file: Some(log.clone()),
                recorder: Some(ctx.recorder),
                prefix: ctx.name().into(),
            },
        );
        let finished = match result {
            Ok(f) => f,
            Err(e) => {
                ctx.recorder.phase_end(phase, -1, None, Some(&log));
                ctx.recorder.failed(&id, &e.message);
                return Err(e);
            }
        };
        ctx.recorder
            .phase_end(phase, finished.exit_code(), None, Some(&log));
        if !finished.success() {
            let msg = format!(
                "`apply` of {} exited with {}: {}",
                ctx.name(),
                finished.exit_code(),
                finished.tail(5)
            );
            ctx.recorder.failed(&id, &msg);
            return Err(DriverError::permanent(msg).with_hint(format!("see {}", log.display())));
        }
        let mut values = Outputs::new();
        if let Ok(text) = std::fs::read_to_string(&outputs_file) {
            for line in text.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    values.insert(
                        k.trim().to_string(),
                        serde_json::Value::String(v.to_string()),
                    );
                }
            }
        }
        let missing: Vec<&str> = s
            .outputs
            .iter()
            .map(|o| o.value.as_str())
            .filter(|o| !values.contains_key(*o))
            .collect();
        if !missing.is_empty() {
            let msg = format!(
                "`apply` of {} did not write the declared outputs {} to $GOLDENPATH_OUTPUTS",
                ctx.name(),
                missing.join(", ")
            );
            ctx.recorder.failed(&id, &msg);
            return Err(DriverError::configuration(msg));
        }
        values.retain(|k, _| s.outputs.iter().any(|o| &o.value == k));
        ctx.recorder.after(&id, Some(&values))?;
        Ok(Applied {
            outputs: ComponentOutputs {
                values,
                resources: BTreeMap::new(),
            },
            counts: Counts {
                added: i64::from(action == Action::Create),
                changed: i64::from(action != Action::Create),
                destroyed: 0,
            },
        })
    }

    fn destroy(&self, ctx: &ComponentCtx<'_>, resource: &ResourceRef) -> Result<(), DriverError> {
        // The journalled command wins: it is what created this resource's
        // counterpart. Fall back to the current settings.
        let journalled: Option<CommandLine> = resource
            .data
            .get("destroy")
            .and_then(|d| serde_json::from_value(d.clone()).ok());
        let current: Option<ExecSettings> = gp_core::yaml::from_node(ctx.settings).ok();
        let Some(line) = journalled.or_else(|| current.as_ref().and_then(|s| s.destroy.clone()))
        else {
            return Ok(());
        };
        let settings = current.unwrap_or_else(ExecSettings::inert);
        let log = ctx.log_file("destroy");
        let phase = ctx
            .recorder
            .phase_start(&format!("exec-destroy:{}", ctx.name()));
        let finished = process::run(
            self.command(ctx, &settings, &line),
            RunOptions {
                timeout: Self::timeout(&settings),
                log_file: Some(log.clone()),
                recorder: Some(ctx.recorder),
                prefix: ctx.name().into(),
            },
        )?;
        ctx.recorder
            .phase_end(phase, finished.exit_code(), None, Some(&log));
        if finished.success() {
            Ok(())
        } else {
            Err(DriverError::permanent(format!(
                "`destroy` of {} exited with {}: {}",
                ctx.name(),
                finished.exit_code(),
                finished.tail(5)
            ))
            .with_hint(format!("see {}", log.display())))
        }
    }

    fn exists(
        &self,
        ctx: &ComponentCtx<'_>,
        resource: &ResourceRef,
    ) -> Result<Existence, DriverError> {
        let journalled: Option<CommandLine> = resource
            .data
            .get("check")
            .and_then(|d| serde_json::from_value(d.clone()).ok());
        let current: Option<ExecSettings> = gp_core::yaml::from_node(ctx.settings).ok();
        let Some(line) = journalled.or_else(|| current.as_ref().and_then(|s| s.check.clone()))
        else {
            return Ok(Existence::Unknown);
        };
        let settings = current.unwrap_or_else(ExecSettings::inert);
        Ok(if self.check(ctx, &settings, &line)? {
            Existence::Exists
        } else {
            Existence::Gone
        })
    }
}

impl From<Presence> for Existence {
    fn from(p: Presence) -> Self {
        match p {
            Presence::Absent => Existence::Gone,
            _ => Existence::Exists,
        }
    }
}
