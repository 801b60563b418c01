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
//! A command that exits with 75 (`EX_TEMPFAIL` of sysexits.h) failed for a
//! reason that may pass — a service still starting, a lock held — and is
//! retried with backoff; any other non-zero status fails the component.
//!
//! Outputs of needed components reach a command as data, never as shell
//! text: reference them in `env:` (they arrive as environment variables) or
//! in an argument-list command, where each reference fills one argument. A
//! `${component.output}` inside a shell-line command is refused at
//! validation.
//!
//! A command's environment is explicit: the base set of
//! [`gp_core::child_env`], the contract below, `env:` — nothing else of
//! goldenpath's (never its keys).
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

/// The exit status that asks for a retry (`EX_TEMPFAIL`).
pub const TEMPFAIL: i32 = 75;

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
    /// Variables of goldenpath's own environment the commands inherit
    /// beside the base set (PATH, HOME, locale, ...): names, or prefixes
    /// written `AWS_*`. `GOLDENPATH_*` is never passed on.
    #[serde(default)]
    pub inherit_env: Vec<Spanned<String>>,
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

    fn options<'a>(
        ctx: &'a ComponentCtx<'a>,
        s: &ExecSettings,
        log: PathBuf,
        children: &'a std::path::Path,
        inherit: &'a [&'a str],
    ) -> RunOptions<'a> {
        RunOptions {
            timeout: Self::timeout(s),
            log_file: Some(log),
            recorder: Some(ctx.recorder),
            stdout_is_data: false,
            prefix: ctx.name().into(),
            inherit,
            track: Some(children),
            memory_limit: None,
        }
    }

    /// The journal names the resource; what runs to remove or check it
    /// always comes from the spec (a journal row never carries a command).
    fn resource(ctx: &ComponentCtx<'_>) -> ResourceRef {
        ResourceRef::new("exec", ctx.name())
    }

    /// The settings teardown and the orphan check use: the spec's, or an
    /// error when the component is no longer in it.
    fn settings_for_teardown(ctx: &ComponentCtx<'_>) -> Result<ExecSettings, DriverError> {
        if ctx.platform.component(ctx.name()).is_none() {
            return Err(DriverError::permanent(format!(
                "`{}` is no longer in the spec, so its destroy and check commands are unknown",
                ctx.name()
            ))
            .with_hint("put the component back into the spec to tear it down, then remove it"));
        }
        settings_at_apply(ctx)
    }

    fn check(
        &self,
        ctx: &ComponentCtx<'_>,
        s: &ExecSettings,
        line: &CommandLine,
    ) -> Result<bool, DriverError> {
        let children = ctx.children_dir();
        let out = process::run(
            self.command(ctx, s, line),
            Self::options(ctx, s, ctx.log_file("check"), &children, &inherit(s)),
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
        if let Some(t) = &s.timeout {
            problems.extend(process::check_timeout(ctx.platform, t));
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
        for (what, line) in [
            ("apply", Some(&s.apply)),
            ("destroy", s.destroy.as_ref()),
            ("check", s.check.as_ref()),
        ] {
            if let Some(CommandLine::Shell(text)) = line
                && text.contains("${")
                && gp_core::yaml::mentions_reference(text)
            {
                let at = ctx
                    .settings
                    .get(what)
                    .map(|n| n.start)
                    .unwrap_or(ctx.settings.start);
                problems.push(
                    ctx.platform
                        .diagnostic(
                            at,
                            format!(
                                "`{what}` splices an output reference into a shell line; outputs are data, not shell text"
                            ),
                        )
                        .with_hint(
                            "pass it in `env:` (e.g. `env: {ENDPOINT: \"${cluster.endpoint}\"}` and use \"$ENDPOINT\"), or write the command as a list",
                        ),
                );
            }
        }
        for n in &s.inherit_env {
            let name = n.value.strip_suffix('*').unwrap_or(&n.value);
            let shaped = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if !shaped || name.starts_with(gp_core::child_env::PRIVATE_PREFIX) {
                problems.push(ctx.platform.diagnostic(
                    n.start,
                    format!(
                        "`{}` cannot be inherited: name a variable (`KUBECONFIG`) or a prefix (`AWS_*`) outside goldenpath's own `GOLDENPATH_*`",
                        n.value.escape_debug()
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
            owned: Vec::new(),
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
        let resource = Self::resource(ctx);
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
        let children = ctx.children_dir();
        let names = inherit(&s);
        let result = process::run(cmd, Self::options(ctx, &s, log.clone(), &children, &names));
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
            let e = if finished.code == Some(TEMPFAIL) {
                DriverError::retryable(msg)
            } else {
                DriverError::permanent(msg)
            };
            return Err(e.with_hint(format!("see {}", log.display())));
        }
        let mut values = Outputs::new();
        if let Some(text) = read_outputs(&outputs_file) {
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
        if resource.kind != "exec" {
            return Err(refuse_kind(ctx, resource));
        }
        let settings = Self::settings_for_teardown(ctx)?;
        let Some(line) = settings.destroy.clone() else {
            return Ok(());
        };
        let log = ctx.log_file("destroy");
        let phase = ctx
            .recorder
            .phase_start(&format!("exec-destroy:{}", ctx.name()));
        let children = ctx.children_dir();
        let finished = process::run(
            self.command(ctx, &settings, &line),
            Self::options(ctx, &settings, log.clone(), &children, &inherit(&settings)),
        )?;
        ctx.recorder
            .phase_end(phase, finished.exit_code(), None, Some(&log));
        if finished.success() {
            return Ok(());
        }
        let msg = format!(
            "`destroy` of {} exited with {}: {}",
            ctx.name(),
            finished.exit_code(),
            finished.tail(5)
        );
        let e = if finished.code == Some(TEMPFAIL) {
            DriverError::retryable(msg)
        } else {
            DriverError::permanent(msg)
        };
        Err(e.with_hint(format!("see {}", log.display())))
    }

    fn exists(
        &self,
        ctx: &ComponentCtx<'_>,
        resource: &ResourceRef,
    ) -> Result<Existence, DriverError> {
        if resource.kind != "exec" {
            return Err(refuse_kind(ctx, resource));
        }
        let settings = Self::settings_for_teardown(ctx)?;
        let Some(line) = settings.check.clone() else {
            return Ok(Existence::Unknown);
        };
        Ok(if self.check(ctx, &settings, &line)? {
            Existence::Exists
        } else {
            Existence::Gone
        })
    }

    fn resource_kinds(&self) -> &'static [&'static str] {
        &["exec"]
    }
}

fn inherit(s: &ExecSettings) -> Vec<&str> {
    s.inherit_env.iter().map(|n| n.value.as_str()).collect()
}

/// The most an `apply` may write to `$GOLDENPATH_OUTPUTS`.
const MAX_OUTPUTS_FILE: u64 = 1 << 20;
/// The longest single output value.
const MAX_OUTPUT_VALUE: usize = 64 << 10;

/// Reads the outputs file, bounded: a runaway command cannot make goldenpath
/// hold more than a megabyte of it, nor record a huge value.
fn read_outputs(path: &std::path::Path) -> Option<String> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    f.take(MAX_OUTPUTS_FILE).read_to_string(&mut text).ok()?;
    Some(
        text.lines()
            .filter(|l| l.len() <= MAX_OUTPUT_VALUE)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn refuse_kind(ctx: &ComponentCtx<'_>, r: &ResourceRef) -> DriverError {
    DriverError::refused(format!(
        "the journal names {r} under `{}`, a kind of resource the exec driver never creates; nothing was run",
        ctx.name()
    ))
}

impl From<Presence> for Existence {
    fn from(p: Presence) -> Self {
        match p {
            Presence::Absent => Existence::Gone,
            _ => Existence::Exists,
        }
    }
}
