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

use gp_core::Plane;
use gp_core::yaml::{NodeKind, RawNode, Spanned};
use gp_driver::process::{self, Finished, RunOptions};
use gp_driver::{
    Action, Applied, ComponentCtx, ComponentOutputs, Counts, Driver, DriverError, Existence,
    Intent, Observation, Presence, ResourceRef, ValidateCtx, Validated, settings_at_apply,
    typed_settings,
};
use serde::Deserialize;

/// Where the state lives.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum BackendSettings {
    /// A file under `{state}/tfstate/`.
    Local,
    /// An S3 bucket (with an optional DynamoDB lock table).
    S3(S3Backend),
}

/// S3 backend settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Backend {
    /// Bucket.
    pub bucket: String,
    /// Region.
    pub region: String,
    /// DynamoDB lock table.
    #[serde(default)]
    pub dynamodb_table: Option<String>,
}

/// Per-plan limits.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limits {
    /// At most this many creates (replacements count).
    #[serde(default)]
    pub max_create: Option<u32>,
    /// At most this many in-place updates.
    #[serde(default)]
    pub max_change: Option<u32>,
    /// At most this many deletions (replacements count).
    #[serde(default)]
    pub max_destroy: Option<u32>,
}

/// Settings of a `terraform` component.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TerraformSettings {
    /// The root module, relative to the spec.
    pub root: Spanned<String>,
    /// `terraform`, `tofu`, or a path.
    #[serde(default)]
    pub binary: Option<String>,
    /// `local` (default) or `{s3: {...}}`.
    #[serde(default)]
    pub backend: Option<BackendSettings>,
    /// Extra variables; values may reference outputs.
    #[serde(default)]
    pub variables: Option<RawNode>,
    /// Address patterns (`*` matches anything) that may never be deleted or
    /// replaced.
    #[serde(default)]
    pub protect: Vec<Spanned<String>>,
    /// Per-plan limits.
    #[serde(default)]
    pub limits: Limits,
    /// Kill a terraform command after this long (default 30m).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// How long to wait for a state lock (default 0s: fail at once).
    #[serde(default)]
    pub lock_timeout: Option<String>,
}

/// The driver.
#[derive(Default)]
pub struct TerraformDriver {
    process_ns: AtomicU64,
}

/// What a plan would do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanSummary {
    /// Addresses created.
    pub creates: Vec<String>,
    /// Updated in place.
    pub updates: Vec<String>,
    /// Deleted.
    pub deletes: Vec<String>,
    /// Replaced (deleted and created).
    pub replaces: Vec<String>,
    /// Root outputs whose value changes (an apply records them).
    pub outputs: Vec<String>,
}

impl PlanSummary {
    /// Reads `terraform show -json PLAN`.
    pub fn from_json(v: &serde_json::Value) -> PlanSummary {
        let mut s = PlanSummary::default();
        for rc in v
            .get("resource_changes")
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten()
        {
            let address = rc
                .get("address")
                .and_then(|a| a.as_str())
                .unwrap_or_default()
                .to_string();
            let actions: Vec<&str> = rc
                .pointer("/change/actions")
                .and_then(|a| a.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            match actions.as_slice() {
                ["create"] => s.creates.push(address),
                ["update"] => s.updates.push(address),
                ["delete"] => s.deletes.push(address),
                ["delete", "create"] | ["create", "delete"] => s.replaces.push(address),
                _ => {}
            }
        }
        if let Some(outputs) = v.get("output_changes").and_then(|o| o.as_object()) {
            for (name, change) in outputs {
                let noop = change
                    .pointer("/actions")
                    .and_then(|a| a.as_array())
                    .is_some_and(|a| a.iter().all(|x| x.as_str() == Some("no-op")));
                if !noop {
                    s.outputs.push(name.clone());
                }
            }
        }
        s
    }

    /// Counts as the registry records them (a replacement is one add and
    /// one destroy, as Terraform's own summary counts it).
    pub fn counts(&self) -> Counts {
        Counts {
            added: (self.creates.len() + self.replaces.len()) as i64,
            changed: self.updates.len() as i64,
            destroyed: (self.deletes.len() + self.replaces.len()) as i64,
        }
    }

    /// Whether it changes anything.
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty()
            && self.updates.is_empty()
            && self.deletes.is_empty()
            && self.replaces.is_empty()
            && self.outputs.is_empty()
    }
}

/// Removes ANSI colour sequences (some commands take no `-no-color`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// A guard a plan breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// `protect` or `maxCreate`/`maxChange`/`maxDestroy`.
    pub guard: String,
    /// What exactly.
    pub message: String,
}

/// Evaluates guards on a plan.
pub fn guards(plan: &PlanSummary, protect: &[String], limits: &Limits) -> Vec<Violation> {
    let mut out = Vec::new();
    for address in plan.deletes.iter().chain(&plan.replaces) {
        if let Some(p) = protect.iter().find(|p| glob(p, address)) {
            let what = if plan.replaces.contains(address) {
                "replace"
            } else {
                "delete"
            };
            out.push(Violation {
                guard: "protect".into(),
                message: format!("the plan would {what} {address}, which is protected (`{p}`)"),
            });
        }
    }
    let c = plan.counts();
    for (guard, limit, n, what) in [
        ("maxCreate", limits.max_create, c.added, "create"),
        ("maxChange", limits.max_change, c.changed, "change"),
        ("maxDestroy", limits.max_destroy, c.destroyed, "destroy"),
    ] {
        if let Some(limit) = limit
            && n > i64::from(limit)
        {
            out.push(Violation {
                guard: guard.into(),
                message: format!("the plan would {what} {n} resource(s); {guard} is {limit}"),
            });
        }
    }
    out
}

/// What a lock holder told Terraform.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockInfo {
    /// Lock id (for force-unlock).
    pub id: String,
    /// Who holds it.
    pub who: String,
    /// What they are doing.
    pub operation: String,
    /// Since when.
    pub created: String,
}

/// Parses the `Lock Info:` block of Terraform's lock error.
pub fn parse_lock_info(text: &str) -> Option<LockInfo> {
    if !text.contains("state lock") {
        return None;
    }
    let mut info = LockInfo::default();
    for line in text.lines() {
        let line = line.trim_start_matches(['│', ' ', '\t']).trim();
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim().to_string();
            match k.trim() {
                "ID" => info.id = v,
                "Who" => info.who = v,
                "Operation" => info.operation = v,
                "Created" => info.created = v,
                _ => {}
            }
        }
    }
    (!info.id.is_empty()).then_some(info)
}

/// Errors from `-json` output, as `file:line:col: summary: detail`.
fn json_diagnostics(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("@level").and_then(|l| l.as_str()) == Some("error"))
        .map(|v| {
            let d = v.get("diagnostic").cloned().unwrap_or_default();
            let summary = d
                .get("summary")
                .and_then(|s| s.as_str())
                .unwrap_or_else(|| {
                    v.get("@message")
                        .and_then(|m| m.as_str())
                        .unwrap_or_default()
                });
            let detail = d.get("detail").and_then(|s| s.as_str()).unwrap_or_default();
            let at = d.get("range").map(|r| {
                format!(
                    "{}:{}:{}: ",
                    r.get("filename")
                        .and_then(|f| f.as_str())
                        .unwrap_or_default(),
                    r.pointer("/start/line")
                        .and_then(|x| x.as_u64())
                        .unwrap_or(0),
                    r.pointer("/start/column")
                        .and_then(|x| x.as_u64())
                        .unwrap_or(0)
                )
            });
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            };
            format!("{}{summary}{detail}", at.unwrap_or_default())
        })
        .collect()
}

/// Errors from human output (`init`), as `file:line: summary`.
fn text_diagnostics(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim_start_matches(['│', ' ', '╷', '╵']).trim_end())
        .collect();
    for (i, l) in lines.iter().enumerate() {
        if let Some(summary) = l.strip_prefix("Error: ") {
            let at = lines[i..]
                .iter()
                .take(6)
                .find_map(|x| {
                    let rest = x.trim().strip_prefix("on ")?;
                    let (file, line) = rest.split_once(" line ")?;
                    let line = line.split(|c: char| !c.is_ascii_digit()).next()?;
                    Some(format!("{file}:{line}: "))
                })
                .unwrap_or_default();
            out.push(format!("{at}{summary}"));
        }
    }
    out
}

/// Variables and outputs a root declares, read from its `.tf` and
/// `.tf.json` files.
pub fn declared(root: &Path) -> Option<(BTreeSet<String>, BTreeSet<String>)> {
    let mut vars = BTreeSet::new();
    let mut outputs = BTreeSet::new();
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if name.ends_with(".tf.json") {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                for (key, set) in [("variable", &mut vars), ("output", &mut outputs)] {
                    if let Some(obj) = v.get(key).and_then(|o| o.as_object()) {
                        set.extend(obj.keys().cloned());
                    }
                }
            }
        } else if name.ends_with(".tf") {
            for line in text.lines() {
                let t = line.trim_start();
                for (key, set) in [("variable", &mut vars), ("output", &mut outputs)] {
                    if let Some(rest) = t.strip_prefix(key)
                        && rest.starts_with([' ', '\t', '"'])
                        && let Some(q) = rest.trim_start().strip_prefix('"')
                        && let Some(end) = q.find('"')
                    {
                        set.insert(q[..end].to_string());
                    }
                }
            }
        }
    }
    Some((vars, outputs))
}

fn declares_backend(root: &Path) -> bool {
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x == "tf" || x == "json")
        })
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .any(|t| t.contains("backend \"") || t.contains("\"backend\""))
}

/// What a Terraform child inherits beside the base environment: its own
/// settings (`TF_*`) and the AWS credential chain and endpoints (`AWS_*`)
/// its S3 backend and providers read. Never goldenpath's keys.
pub const TERRAFORM_INHERIT: &[&str] = &["TF_*", "AWS_*"];

/// How to run terraform for one component in one deployment, derived from
/// the spec and the contract every time (never read back from the journal).
#[derive(Clone, Debug)]
struct Invocation {
    root: PathBuf,
    binary: PathBuf,
    work: PathBuf,
    state_dir: PathBuf,
    key: String,
    workspace: Option<String>,
    backend: serde_json::Value,
    lock_timeout: String,
    timeout_s: u64,
}

impl TerraformDriver {
    /// A driver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Time spent in terraform processes since the driver was made (for the
    /// overhead benchmark).
    pub fn process_time(&self) -> Duration {
        Duration::from_nanos(self.process_ns.load(Ordering::Relaxed))
    }

    fn invocation(
        &self,
        ctx: &ComponentCtx<'_>,
        s: &TerraformSettings,
    ) -> Result<Invocation, DriverError> {
        let base = ctx.platform.base_dir();
        let root = absolute(&base.join(&s.root.value));
        if !root.is_dir() {
            return Err(DriverError::configuration(format!(
                "the root module {} does not exist",
                root.display()
            )));
        }
        if !declares_backend(&root) {
            return Err(DriverError::configuration(format!(
                "the root module {} declares no backend, so every deployment would share one state",
                root.display()
            ))
            .with_hint("add `terraform { backend \"local\" {} }` (or a partial s3 backend); goldenpath passes the state key"));
        }
        let binary = find_binary(s.binary.as_deref())?;
        let foundational = ctx.component.plane.value == Plane::Foundational;
        Ok(Invocation {
            root,
            binary,
            work: absolute(&ctx.work_dir()),
            state_dir: absolute(ctx.state_dir),
            key: ctx.contract.component_state_key(ctx.component),
            workspace: (!foundational).then(|| ctx.name().to_string()),
            backend: match &s.backend {
                Some(BackendSettings::S3(b)) => {
                    serde_json::json!({"s3": {"bucket": b.bucket, "region": b.region, "dynamodbTable": b.dynamodb_table}})
                }
                _ => serde_json::json!("local"),
            },
            lock_timeout: s.lock_timeout.clone().unwrap_or_else(|| "0s".into()),
            timeout_s: s
                .timeout
                .as_ref()
                .and_then(|t| process::parse_timeout(&t.value))
                .unwrap_or(Duration::from_secs(1800))
                .as_secs(),
        })
    }

    fn command(&self, inv: &Invocation, args: &[&str]) -> Command {
        let mut cmd = Command::new(&inv.binary);
        cmd.arg(format!("-chdir={}", inv.root.display())).args(args);
        let tf = inv.state_dir.join("terraform");
        let _ = std::fs::create_dir_all(tf.join("plugins"));
        let rc = tf.join("terraformrc");
        if !rc.exists() {
            let _ = std::fs::write(&rc, "");
        }
        cmd.env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("TF_DATA_DIR", inv.work.join(".terraform"))
            .env("TF_CLI_CONFIG_FILE", &rc)
            .env("TF_PLUGIN_CACHE_DIR", tf.join("plugins"))
            .env_remove("TF_WORKSPACE");
        if let Some(w) = &inv.workspace {
            cmd.env("TF_WORKSPACE", w);
        }
        cmd
    }

    fn run(
        &self,
        ctx: &ComponentCtx<'_>,
        inv: &Invocation,
        step: &str,
        args: &[&str],
    ) -> Result<(Finished, PathBuf), DriverError> {
        std::fs::create_dir_all(&inv.work).map_err(|e| {
            DriverError::permanent(format!("cannot create {}: {e}", inv.work.display()))
        })?;
        let log = ctx.log_file(step);
        let children = ctx.children_dir();
        let finished = process::run(
            self.command(inv, args),
            RunOptions {
                timeout: Duration::from_secs(inv.timeout_s),
                log_file: Some(log.clone()),
                recorder: Some(ctx.recorder),
                prefix: format!("{} {step}", ctx.name()),
                inherit: TERRAFORM_INHERIT,
                track: Some(&children),
            },
        )?;
        self.process_ns
            .fetch_add(finished.elapsed.as_nanos() as u64, Ordering::Relaxed);
        Ok((finished, log))
    }

    fn failure(
        &self,
        ctx: &ComponentCtx<'_>,
        inv: &Invocation,
        step: &str,
        f: &Finished,
        log: &Path,
    ) -> DriverError {
        let all = strip_ansi(&format!("{}\n{}", f.stdout, f.stderr));
        if let Some(lock) = parse_lock_info(&all).or_else(|| {
            json_diagnostics(&f.stdout)
                .iter()
                .find(|d| d.contains("state lock"))
                .and_then(|d| parse_lock_info(d))
        }) {
            let deploy = match ctx.contract.build_id() {
                Some(b) => format!(" --build-id {b}"),
                None => String::new(),
            };
            return DriverError::retryable(format!(
                "the Terraform state of {} ({}) is locked by {} since {} ({}, lock {})",
                ctx.name(),
                inv.key,
                if lock.who.is_empty() { "someone" } else { &lock.who },
                if lock.created.is_empty() { "an unknown time" } else { &lock.created },
                if lock.operation.is_empty() { "unknown operation" } else { &lock.operation },
                lock.id
            ))
            .with_hint(format!(
                "wait for it to finish; if that process is gone: goldenpath terraform unlock --env {}{deploy} {} --lock-id {} --reason \"...\"",
                ctx.contract.env(),
                ctx.name(),
                lock.id
            ));
        }
        let mut diags = json_diagnostics(&f.stdout);
        if diags.is_empty() {
            diags = text_diagnostics(&all);
        }
        let detail = if diags.is_empty() {
            strip_ansi(&f.tail(5))
        } else {
            strip_ansi(&diags.join("\n"))
        };
        DriverError::permanent(format!(
            "terraform {step} of {} exited with {}: {detail}",
            ctx.name(),
            f.exit_code()
        ))
        .with_hint(format!("see {}", log.display()))
    }

    fn init(&self, ctx: &ComponentCtx<'_>, inv: &Invocation) -> Result<(), DriverError> {
        let mut args: Vec<String> = vec!["init".into(), "-input=false".into(), "-no-color".into()];
        match &inv.backend {
            serde_json::Value::Object(o) if o.contains_key("s3") => {
                let s3 = &o["s3"];
                args.push(format!("-backend-config=key={}", inv.key));
                for (k, field) in [
                    ("bucket", "bucket"),
                    ("region", "region"),
                    ("dynamodb_table", "dynamodbTable"),
                ] {
                    if let Some(v) = s3.get(field).and_then(|v| v.as_str()) {
                        args.push(format!("-backend-config={k}={v}"));
                    }
                }
            }
            _ => {
                let path = inv.state_dir.join("tfstate").join(&inv.key);
                args.push(format!("-backend-config=path={}", path.display()));
                args.push(format!(
                    "-backend-config=workspace_dir={}.d",
                    path.display()
                ));
            }
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        // Init in the default workspace: with TF_WORKSPACE naming one that
        // does not exist yet, init fails once the backend holds any other
        // workspace. Then select (creating) the component's workspace.
        let plain = Invocation {
            workspace: None,
            ..inv.clone()
        };
        let phase = ctx.recorder.phase_start("terraform-init");
        let (mut f, mut log) = self.run(ctx, &plain, "terraform-init", &refs)?;
        if f.success()
            && let Some(w) = &inv.workspace
        {
            (f, log) = self.run(
                ctx,
                &plain,
                "terraform-workspace",
                &["workspace", "select", "-or-create=true", "-no-color", w],
            )?;
        }
        ctx.recorder
            .phase_end(phase, f.exit_code(), None, Some(&log));
        if !f.success() {
            return Err(self.failure(ctx, inv, "init", &f, &log));
        }
        Ok(())
    }

    /// `plan -out` then `show -json`; `destroy` plans a destroy.
    fn plan(
        &self,
        ctx: &ComponentCtx<'_>,
        inv: &Invocation,
        destroy: bool,
        record: bool,
    ) -> Result<(PlanSummary, PathBuf), DriverError> {
        let plan_file = inv.work.join(if destroy {
            "destroy.tfplan"
        } else {
            "apply.tfplan"
        });
        let vars = inv.work.join("goldenpath.auto.tfvars.json");
        let mut args = vec![
            "plan".to_string(),
            "-input=false".into(),
            "-no-color".into(),
            "-json".into(),
            format!("-lock-timeout={}", inv.lock_timeout),
            format!("-out={}", plan_file.display()),
        ];
        if vars.exists() {
            args.push(format!("-var-file={}", vars.display()));
        }
        if destroy {
            args.push("-destroy".into());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let phase = record.then(|| {
            ctx.recorder.phase_start(if destroy {
                "terraform-plan-destroy"
            } else {
                "terraform-plan"
            })
        });
        let (f, log) = self.run(
            ctx,
            inv,
            if destroy {
                "terraform-plan-destroy"
            } else {
                "terraform-plan"
            },
            &refs,
        )?;
        if !f.success() {
            if let Some(p) = phase {
                ctx.recorder.phase_end(p, f.exit_code(), None, Some(&log));
            }
            return Err(self.failure(ctx, inv, "plan", &f, &log));
        }
        let (shown, _) = self.run(
            ctx,
            inv,
            "terraform-show",
            &[
                "show",
                "-json",
                "-no-color",
                &plan_file.display().to_string(),
            ],
        )?;
        if !shown.success() {
            return Err(DriverError::permanent(format!(
                "terraform show of the plan failed: {}",
                shown.tail(3)
            )));
        }
        let json: serde_json::Value = serde_json::from_str(&shown.stdout).map_err(|e| {
            DriverError::permanent(format!("terraform show -json printed something else: {e}"))
        })?;
        let summary = PlanSummary::from_json(&json);
        if let Some(p) = phase {
            ctx.recorder
                .phase_end(p, f.exit_code(), Some(summary.counts()), Some(&log));
        }
        Ok((summary, plan_file))
    }

    fn check_guards(
        &self,
        ctx: &ComponentCtx<'_>,
        s: &TerraformSettings,
        plan: &PlanSummary,
    ) -> Result<(), DriverError> {
        let protect: Vec<String> = s.protect.iter().map(|p| p.value.clone()).collect();
        let mut refused = Vec::new();
        for v in guards(plan, &protect, &s.limits) {
            match ctx.recorder.guard_override(&v.guard) {
                Some(reason) => ctx.recorder.log(&format!(
                    "{}: guard {} overridden ({reason}): {}",
                    ctx.name(),
                    v.guard,
                    v.message
                )),
                None => refused.push(v),
            }
        }
        if refused.is_empty() {
            return Ok(());
        }
        let phase = ctx.recorder.phase_start("terraform-guard");
        ctx.recorder.phase_end(phase, 3, Some(plan.counts()), None);
        let guards: Vec<&str> = refused.iter().map(|v| v.guard.as_str()).collect();
        Err(DriverError::refused(format!(
            "{}: {}; nothing was applied",
            ctx.name(),
            refused.iter().map(|v| v.message.as_str()).collect::<Vec<_>>().join("; ")
        ))
        .with_hint(format!(
            "if this is intended: --override-guard {}:{} --reason \"...\" (recorded with your name)",
            ctx.name(),
            guards[0]
        )))
    }

    /// For the local backend, whether the component's state file exists
    /// (`None` for other backends, which only Terraform can ask).
    fn local_state_exists(inv: &Invocation) -> Option<bool> {
        if inv.backend != serde_json::json!("local") {
            return None;
        }
        let path = inv.state_dir.join("tfstate").join(&inv.key);
        let file = match &inv.workspace {
            Some(w) => PathBuf::from(format!("{}.d", path.display()))
                .join(w)
                .join("terraform.tfstate"),
            None => path,
        };
        Some(file.exists())
    }

    /// After a destroy: deletes the component's (now empty) workspace and
    /// its working directory, so a torn-down build leaves no state behind.
    fn remove_workspace(
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
            let (f, log) = self.run(
                ctx,
                &plain,
                "terraform-workspace-delete",
                &["workspace", "delete", "-force", "-no-color", w],
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

    fn state_resources(
        &self,
        ctx: &ComponentCtx<'_>,
        inv: &Invocation,
    ) -> Result<Vec<String>, DriverError> {
        let (f, log) = self.run(ctx, inv, "terraform-state", &["state", "list"])?;
        if !f.success() {
            // No state yet reads as empty with a message on some versions.
            if f.stderr.contains("No state file was found") {
                return Ok(Vec::new());
            }
            return Err(self.failure(ctx, inv, "state list", &f, &log));
        }
        Ok(f.stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    fn outputs(
        &self,
        ctx: &ComponentCtx<'_>,
        inv: &Invocation,
    ) -> Result<ComponentOutputs, DriverError> {
        let (f, log) = self.run(
            ctx,
            inv,
            "terraform-output",
            &["output", "-json", "-no-color"],
        )?;
        if !f.success() {
            return Err(self.failure(ctx, inv, "output", &f, &log));
        }
        let json: serde_json::Value = serde_json::from_str(f.stdout.trim()).unwrap_or_default();
        let mut out = ComponentOutputs::default();
        for (k, v) in json.as_object().into_iter().flatten() {
            // Sensitive outputs never leave Terraform: not in the journal,
            // not in status.
            if v.get("sensitive").and_then(|s| s.as_bool()) == Some(true) {
                continue;
            }
            if let Some(value) = v.get("value") {
                out.values.insert(k.clone(), value.clone());
            }
        }
        Ok(out)
    }

    fn write_vars(
        &self,
        ctx: &ComponentCtx<'_>,
        s: &TerraformSettings,
        inv: &Invocation,
    ) -> Result<(), DriverError> {
        let (declared_vars, _) = declared(&inv.root).unwrap_or_default();
        let c = ctx.contract;
        let mut vars = serde_json::Map::new();
        let contract: [(&str, serde_json::Value); 9] = [
            (
                "build_id",
                serde_json::json!(c.build_id().map(|b| b.to_string()).unwrap_or_default()),
            ),
            // `lifecycle` is a reserved name in Terraform.
            (
                "deployment_lifecycle",
                serde_json::json!(c.lifecycle().to_string()),
            ),
            ("env", serde_json::json!(c.env())),
            ("name_prefix", serde_json::json!(c.name_prefix())),
            ("cluster_name", serde_json::json!(c.cluster_name())),
            ("irsa_role_suffix", serde_json::json!(c.irsa_role_suffix())),
            ("host_suffix", serde_json::json!(c.host_suffix())),
            ("dns_owner_id", serde_json::json!(c.dns_owner_id())),
            ("tags", serde_json::to_value(c.tags()).unwrap_or_default()),
        ];
        for (k, v) in contract {
            if declared_vars.contains(k) {
                vars.insert(k.into(), v);
            }
        }
        for (component, outputs) in ctx.inputs {
            for (k, v) in &outputs.values {
                let name = format!("{}_{k}", component.replace('-', "_"));
                if declared_vars.contains(&name) {
                    vars.insert(name, v.clone());
                }
            }
        }
        if let Some(RawNode(node)) = &s.variables
            && let NodeKind::Map(entries) = &node.kind
            && !declared_vars.is_empty()
        {
            let mut undeclared = Vec::new();
            for (k, v) in entries {
                let name = k.as_str().unwrap_or_default();
                if declared_vars.contains(name) {
                    vars.insert(name.into(), v.to_json());
                } else {
                    undeclared.push(ctx.diagnostic(
                        k.start,
                        format!(
                            "`{name}` is not a variable of {} (it declares: {})",
                            inv.root.display(),
                            declared_vars.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
            }
            if !undeclared.is_empty() {
                return Err(DriverError::configuration(format!(
                    "{}: variables the root does not declare",
                    ctx.name()
                ))
                .with_diagnostics(undeclared));
            }
        }
        std::fs::create_dir_all(&inv.work).map_err(|e| {
            DriverError::permanent(format!("cannot create {}: {e}", inv.work.display()))
        })?;
        let path = inv.work.join("goldenpath.auto.tfvars.json");
        let tmp = inv.work.join(".goldenpath.auto.tfvars.json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(&serde_json::Value::Object(vars)).unwrap_or_default(),
        )
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| DriverError::permanent(format!("cannot write {}: {e}", path.display())))
    }

    fn state_resource(inv: &Invocation) -> ResourceRef {
        let id = match &inv.workspace {
            Some(w) => format!("{} workspace {w}", inv.key),
            None => inv.key.clone(),
        };
        ResourceRef::new("state", id)
    }

    /// The invocation that owns a journalled state, derived from the spec
    /// and the contract (a journal row never says which binary, root or
    /// backend to use). A row naming another state is refused.
    fn invocation_for(
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

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

fn find_binary(configured: Option<&str>) -> Result<PathBuf, DriverError> {
    let names: Vec<&str> = match configured {
        Some(b) if b.contains('/') => return Ok(PathBuf::from(b)),
        Some(b) => vec![b],
        None => vec!["terraform", "tofu"],
    };
    for name in &names {
        for dir in std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(
        DriverError::configuration(format!("{} not found on PATH", names.join(" or ")))
            .with_hint("install Terraform or OpenTofu, or set `binary:` to its path"),
    )
}

impl Driver for TerraformDriver {
    fn name(&self) -> &'static str {
        "terraform"
    }

    fn validate(&self, ctx: &ValidateCtx<'_>) -> Result<Validated, Vec<gp_core::Diagnostic>> {
        let s: TerraformSettings = typed_settings(ctx.platform, ctx.settings, true)?;
        let mut problems = Vec::new();
        if let Some(t) = &s.timeout {
            match process::parse_timeout(&t.value) {
                None => problems.push(
                    ctx.platform
                        .diagnostic(t.start, format!("invalid timeout `{}`", t.value)),
                ),
                Some(d) if d > process::MAX_TIMEOUT => problems.push(ctx.platform.diagnostic(
                    t.start,
                    format!(
                        "timeout `{}` is longer than the {}h a step may run",
                        t.value,
                        process::MAX_TIMEOUT.as_secs() / 3600
                    ),
                )),
                Some(_) => {}
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
        let inv = self.invocation(ctx, &s)?;
        self.init(ctx, &inv)?;
        if self.state_resources(ctx, &inv)?.is_empty() {
            return Ok(Observation::absent());
        }
        self.write_vars(ctx, &s, &inv)?;
        let (plan, _) = self.plan(ctx, &inv, false, false)?;
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
                vec![format!(
                    "terraform plan: +{} ~{} -{}",
                    counts.added, counts.changed, counts.destroyed
                )]
            },
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
            return Ok(Applied {
                outputs: self.outputs(ctx, &inv)?,
                counts: Counts::default(),
            });
        }
        let action = match ctx.intent {
            Intent::Create => Action::Create,
            Intent::Adopt => Action::Adopt,
            Intent::Update => Action::Update,
        };
        let id = ctx.recorder.before(action, &Self::state_resource(&inv))?;
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
        self.init(ctx, &inv)?;
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
