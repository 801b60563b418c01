//! How goldenpath runs Terraform for one component in one deployment: the
//! contract's state key and workspace, variables, init, plan, apply,
//! destroy and locks.

use super::*;

mod state;

/// What a Terraform child inherits beside the base environment: its own
/// settings (`TF_*`) and the AWS credential chain and endpoints (`AWS_*`)
/// its S3 backend and providers read. Never goldenpath's keys.
pub const TERRAFORM_INHERIT: &[&str] = &["TF_*", "AWS_*"];

/// How to run terraform for one component in one deployment, derived from
/// the spec and the contract every time (never read back from the journal).
#[derive(Clone, Debug)]
pub(crate) struct Invocation {
    pub(crate) root: PathBuf,
    pub(crate) binary: PathBuf,
    pub(crate) work: PathBuf,
    pub(crate) state_dir: PathBuf,
    pub(crate) key: String,
    pub(crate) workspace: Option<String>,
    pub(crate) backend: serde_json::Value,
    pub(crate) lock_timeout: String,
    pub(crate) timeout_s: u64,
    /// A plan's or a read's own directory (a temporary one): Terraform's
    /// working files, configuration, plugins and logs go there, so a run
    /// that only looks leaves the state directory as it was.
    pub(crate) scratch: Option<PathBuf>,
}

impl TerraformDriver {
    /// A driver.
    pub fn new() -> Self {
        Self::default()
    }

    /// With saved plans (`terraform show -json`, by component) that
    /// `Driver::permissions` reads instead of the roots' declared types.
    pub fn with_plans(
        mut self,
        plans: std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Self {
        self.plans = plans;
        self
    }

    /// Time spent in terraform processes since the driver was made (for the
    /// overhead benchmark).
    pub fn process_time(&self) -> Duration {
        Duration::from_nanos(self.process_ns.load(Ordering::Relaxed))
    }

    pub(crate) fn invocation(
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
        Ok(Invocation {
            root,
            binary,
            work: absolute(&ctx.work_dir()),
            state_dir: absolute(ctx.state_dir),
            key: ctx.contract.component_state_key(ctx.component),
            workspace: match s.state_key.as_ref().map(|k| k.value) {
                Some(StateKeyMode::Deployment) => None,
                _ => ctx.contract.terraform_workspace(ctx.component),
            },
            backend: match &s.backend {
                Some(BackendSettings::S3(b)) => {
                    let pairs = b
                        .config(
                            ctx.contract.env(),
                            &ctx.platform.spec.project,
                            &ctx.platform.spec.prefix,
                        )
                        .map_err(|e| DriverError::configuration(format!("backend.s3: {e}")))?;
                    let map: serde_json::Map<String, serde_json::Value> = pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
                        .collect();
                    serde_json::json!({ "s3": map })
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
            scratch: None,
        })
    }

    pub(crate) fn command(&self, inv: &Invocation, args: &[&str]) -> Command {
        let mut cmd = Command::new(&inv.binary);
        cmd.arg(format!("-chdir={}", inv.root.display())).args(args);
        let tf = inv
            .scratch
            .clone()
            .unwrap_or_else(|| inv.state_dir.join("terraform"));
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

    pub(crate) fn run(
        &self,
        ctx: &ComponentCtx<'_>,
        inv: &Invocation,
        step: &str,
        args: &[&str],
    ) -> Result<(Finished, PathBuf), DriverError> {
        std::fs::create_dir_all(&inv.work).map_err(|e| {
            DriverError::permanent(format!("cannot create {}: {e}", inv.work.display()))
        })?;
        let (log, children) = match &inv.scratch {
            Some(dir) => (
                dir.join("logs").join(format!("{}-{step}.log", ctx.name())),
                dir.join("run"),
            ),
            None => (ctx.log_file(step), ctx.children_dir()),
        };
        let options = |log: &Path, step: &str| RunOptions {
            timeout: Duration::from_secs(inv.timeout_s),
            log_file: Some(log.to_path_buf()),
            recorder: Some(ctx.recorder),
            // What goldenpath reads back (plans as JSON, outputs with
            // their sensitive values) stays out of logs and `-v`.
            stdout_is_data: matches!(
                step,
                "terraform-show" | "terraform-output" | "terraform-state"
            ),
            prefix: format!("{} {step}", ctx.name()),
            inherit: TERRAFORM_INHERIT,
            track: Some(&children),
            memory_limit: None,
        };
        let started = std::time::SystemTime::now();
        let mut finished = process::run(self.command(inv, args), options(&log, step))?;
        self.process_ns
            .fetch_add(finished.elapsed.as_nanos() as u64, Ordering::Relaxed);
        if let Some(lock) = self.lost_own_lock(inv, args, &finished, started) {
            // Its own lock, whose answer was lost: released, and the
            // command run once more (a phase of its own records it).
            let unlock_log = log.with_file_name(format!("{}-{step}-own-lock.log", ctx.name()));
            let phase = ctx.recorder.phase_start("terraform-release-own-lock");
            let unlocked = process::run(
                self.command(inv, &["force-unlock", "-force", &lock.id]),
                options(&unlock_log, "terraform-force-unlock"),
            )?;
            ctx.recorder
                .phase_end(phase, unlocked.exit_code(), None, Some(&unlock_log));
            ctx.recorder.log(&format!(
                "{} {step}: Terraform's own lock {} ({}) was written but its answer lost; released it{}",
                ctx.name(),
                lock.id,
                lock.operation,
                if unlocked.success() { ", running again" } else { " — failed" }
            ));
            if unlocked.success() {
                finished = process::run(self.command(inv, args), options(&log, step))?;
                self.process_ns
                    .fetch_add(finished.elapsed.as_nanos() as u64, Ordering::Relaxed);
            }
        }
        Ok((finished, log))
    }

    /// When a command failed on a state lock that is its own (see
    /// [`own_lost_lock`]): that lock. Not for `init` and workspace
    /// commands (a new workspace's lock is released in that workspace,
    /// which its state does not exist in yet) nor for `force-unlock`.
    fn lost_own_lock(
        &self,
        inv: &Invocation,
        args: &[&str],
        finished: &Finished,
        started: std::time::SystemTime,
    ) -> Option<LockInfo> {
        if matches!(
            args.first(),
            None | Some(&"init") | Some(&"workspace") | Some(&"force-unlock")
        ) {
            return None;
        }
        Self::own_lock(inv, finished, started)
    }

    /// The lock a failed command reports as held when it is the command's
    /// own (see [`own_lost_lock`]); only for an S3 backend.
    fn own_lock(
        inv: &Invocation,
        finished: &Finished,
        started: std::time::SystemTime,
    ) -> Option<LockInfo> {
        if finished.success()
            || !matches!(&inv.backend, serde_json::Value::Object(o) if o.contains_key("s3"))
        {
            return None;
        }
        let all = strip_ansi(&format!("{}\n{}", finished.stdout, finished.stderr));
        if release_failure(&all).is_some()
            || !(all.contains("Error acquiring the state lock")
                || all.contains("failed to lock s3 state"))
        {
            return None;
        }
        let lock = parse_lock_info(&all).or_else(|| {
            json_diagnostics(&finished.stdout)
                .iter()
                .find(|d| d.contains("state lock"))
                .and_then(|d| parse_lock_info(d))
        })?;
        let host = this_host()?;
        own_lost_lock(&lock, &host, started, std::time::SystemTime::now()).then_some(lock)
    }

    pub(crate) fn failure(
        &self,
        ctx: &ComponentCtx<'_>,
        inv: &Invocation,
        step: &str,
        f: &Finished,
        log: &Path,
    ) -> DriverError {
        let all = strip_ansi(&format!("{}\n{}", f.stdout, f.stderr));
        let mut denied = crate::iam::denied_backend_action(&all)
            .map(|a| format!("; the credentials lack `{a}` (see `goldenpath iam policy`)"))
            .unwrap_or_default();
        if all.contains("doesn't exist")
            && let Some(note) = inv
                .workspace
                .as_deref()
                .and_then(|w| crate::iam::workspace_listing_note(&inv.backend, w))
        {
            denied = format!("{denied} ({note})");
        }
        // Its own lock it could not release: not someone else's lock.
        if let Some(why) = release_failure(&all) {
            let deploy = ctx.contract.deployment().flags();
            let id = parse_lock_info(&all).map(|l| l.id).unwrap_or_default();
            return DriverError::permanent(format!(
                "terraform {step} of {} could not release its state lock ({}): {why}{denied}",
                ctx.name(),
                inv.key
            ))
            .with_hint(format!(
                "once the cause is fixed: goldenpath terraform unlock --env {}{deploy} {} --lock-id {id} --reason \"...\"",
                ctx.contract.env(),
                ctx.name(),
            ));
        }
        if let Some(lock) = parse_lock_info(&all).or_else(|| {
            json_diagnostics(&f.stdout)
                .iter()
                .find(|d| d.contains("state lock"))
                .and_then(|d| parse_lock_info(d))
        }) {
            let deploy = ctx.contract.deployment().flags();
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
            "terraform {step} of {} exited with {}: {detail}{denied}",
            ctx.name(),
            f.exit_code()
        ))
        .with_hint(format!("see {}", log.display()))
    }

    /// An applied component's workspace is only selected, never created
    /// again: Terraform reads a workspace listing it may not make (S3
    /// without `s3:ListBucket`) as none, and would put an empty state in
    /// place of the one there.
    pub(crate) fn init(&self, ctx: &ComponentCtx<'_>, inv: &Invocation) -> Result<(), DriverError> {
        let applied = ctx.last.is_some();
        if self.init_with(ctx, inv, !applied)? {
            return Ok(());
        }
        let note = inv
            .workspace
            .as_deref()
            .and_then(|w| crate::iam::workspace_listing_note(&inv.backend, w))
            .map(|n| format!(": {n}"))
            .unwrap_or_default();
        Err(DriverError::permanent(format!(
            "{} was applied, but Terraform finds no workspace `{}` for it; goldenpath does not make an empty one in its place{note}",
            ctx.name(),
            inv.workspace.as_deref().unwrap_or("default"),
        ))
        .with_hint(
            "if its state is really gone, tear the deployment down (goldenpath teardown) and deploy it again",
        ))
    }

    /// `init`, then the component's workspace: created when `create`, else
    /// only selected (returns `false` when it does not exist, so asking
    /// whether a torn-down build's state exists never recreates it).
    pub(crate) fn init_with(
        &self,
        ctx: &ComponentCtx<'_>,
        inv: &Invocation,
        create: bool,
    ) -> Result<bool, DriverError> {
        let args = init_args(inv);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        // Init in the default workspace: with TF_WORKSPACE naming one that
        // does not exist yet, init fails once the backend holds any other
        // workspace. Then select (creating) the component's workspace.
        let plain = Invocation {
            workspace: None,
            ..inv.clone()
        };
        // Both steps are the init phase and write its one log.
        let phase = ctx.recorder.phase_start("terraform-init");
        let (mut f, log) = self.run(ctx, &plain, "terraform-init", &refs)?;
        if f.success()
            && let Some(w) = &inv.workspace
        {
            let select: &[&str] = if create {
                &["workspace", "select", "-or-create=true", "-no-color", w]
            } else {
                &["workspace", "select", "-no-color", w]
            };
            let started = std::time::SystemTime::now();
            (f, _) = self.run(ctx, &plain, "terraform-init", select)?;
            if !create && !f.success() && f.stderr.contains("doesn't exist") {
                ctx.recorder.phase_end(phase, 0, None, Some(&log));
                return Ok(false);
            }
            if let Some(lock) = Self::own_lock(inv, &f, started) {
                if self.release_new_workspace_lock(ctx, inv, w, &lock)? {
                    (f, _) = self.run(ctx, &plain, "terraform-init", select)?;
                } else {
                    ctx.recorder
                        .phase_end(phase, f.exit_code(), None, Some(&log));
                    return Err(new_workspace_lock_lost(ctx, inv, w, &lock));
                }
            }
        }
        ctx.recorder
            .phase_end(phase, f.exit_code(), None, Some(&log));
        if !f.success() {
            return Err(self.failure(ctx, inv, "init", &f, &log));
        }
        Ok(true)
    }

    /// Releases the lock Terraform took to make workspace `w` and lost the
    /// answer to. No command can release it in the usual configuration
    /// (each needs the workspace's state, made under that lock), so: the
    /// workspace is made in a side configuration without the lock (the
    /// lock this run holds keeps every other run out meanwhile), then the
    /// lock released with `force-unlock` in the workspace. Recorded as the
    /// phase `terraform-release-own-lock`; `false` when a step failed.
    fn release_new_workspace_lock(
        &self,
        ctx: &ComponentCtx<'_>,
        inv: &Invocation,
        w: &str,
        lock: &LockInfo,
    ) -> Result<bool, DriverError> {
        let mut backend = inv.backend.clone();
        if let Some(s3) = backend.get_mut("s3").and_then(|b| b.as_object_mut()) {
            s3.remove("dynamodb_table");
            s3.remove("use_lockfile");
        }
        let side = Invocation {
            backend,
            work: inv.work.join("own-lock"),
            workspace: None,
            ..inv.clone()
        };
        let phase = ctx.recorder.phase_start("terraform-release-own-lock");
        let side_init = init_args(&side);
        let side_refs: Vec<&str> = side_init.iter().map(String::as_str).collect();
        let steps: [(&Invocation, Vec<&str>); 3] = [
            (&side, side_refs),
            (
                &side,
                vec!["workspace", "select", "-or-create=true", "-no-color", w],
            ),
            (inv, vec!["force-unlock", "-force", &lock.id]),
        ];
        let mut last = None;
        for (on, args) in &steps {
            let (f, log) = self.run(ctx, on, "terraform-release-own-lock", args)?;
            let ok = f.success();
            last = Some((f.exit_code(), log));
            if !ok {
                break;
            }
        }
        let _ = std::fs::remove_dir_all(&side.work);
        let (code, log) = last.unwrap_or((1, PathBuf::new()));
        ctx.recorder.phase_end(phase, code, None, Some(&log));
        ctx.recorder.log(&format!(
            "{}: Terraform's own lock {} on the new workspace `{w}` was written but its answer lost; {}",
            ctx.name(),
            lock.id,
            if code == 0 { "released it" } else { "could not release it" }
        ));
        Ok(code == 0)
    }

    /// A drift check's look outside: `plan -refresh-only
    /// -detailed-exitcode` (what the infrastructure holds against the
    /// state, the configuration left aside), then `show -json` of that
    /// plan. Whether Terraform found a difference (its exit status 2), and
    /// what it found (the plan's `resource_drift`).
    pub(crate) fn refresh_only(
        &self,
        ctx: &ComponentCtx<'_>,
        inv: &Invocation,
    ) -> Result<(PlanSummary, bool), DriverError> {
        let plan_file = inv.work.join("refresh-only.tfplan");
        let args = plan_args(inv, &plan_file, &["-refresh-only", "-detailed-exitcode"]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let phase = ctx.recorder.phase_start("terraform-plan-refresh-only");
        let (f, log) = self.run(ctx, inv, "terraform-plan-refresh-only", &refs)?;
        ctx.recorder
            .phase_end(phase, f.exit_code(), None, Some(&log));
        let differs = match f.exit_code() {
            0 => false,
            2 => true,
            _ => return Err(self.failure(ctx, inv, "plan -refresh-only", &f, &log)),
        };
        Ok((
            PlanSummary::from_json(&self.show(ctx, inv, &plan_file)?),
            differs,
        ))
    }

    /// `show -json` of a saved plan.
    fn show(
        &self,
        ctx: &ComponentCtx<'_>,
        inv: &Invocation,
        plan_file: &Path,
    ) -> Result<serde_json::Value, DriverError> {
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
        serde_json::from_str(&shown.stdout).map_err(|e| {
            DriverError::permanent(format!("terraform show -json printed something else: {e}"))
        })
    }

    /// `plan -out` then `show -json`; `destroy` plans a destroy.
    pub(crate) fn plan(
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
        let args = plan_args(inv, &plan_file, if destroy { &["-destroy"] } else { &[] });
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
        let json = self.show(ctx, inv, &plan_file)?;
        let summary = PlanSummary::from_json(&json);
        if let Some(p) = phase {
            ctx.recorder
                .phase_end(p, f.exit_code(), Some(summary.counts()), Some(&log));
        }
        // A plan about to be applied is checked by the platform's policies
        // (and `goldenpath plan` asks the same gate).
        if !destroy && (record || ctx.recorder.mode() == gp_driver::RunMode::Plan) {
            let name = format!("{}/apply.tfplan", ctx.name());
            ctx.recorder.check_policy(gp_driver::PolicySubject::Plan {
                name: &name,
                json: &json,
            })?;
        }
        Ok((summary, plan_file))
    }

    pub(crate) fn check_guards(
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
    pub(crate) fn local_state_exists(inv: &Invocation) -> Option<bool> {
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

    pub(crate) fn state_resources(
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

    pub(crate) fn outputs(
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

    pub(crate) fn write_vars(
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
        let path = inv.work.join(VARS_FILE);
        let tmp = inv.work.join(format!(".{VARS_FILE}.tmp"));
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(&serde_json::Value::Object(vars)).unwrap_or_default(),
        )
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| DriverError::permanent(format!("cannot write {}: {e}", path.display())))
    }
}

pub(crate) fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

pub(crate) fn find_binary(configured: Option<&str>) -> Result<PathBuf, DriverError> {
    let names: Vec<&str> = match configured {
        Some(b) => vec![b],
        None => vec!["terraform", "tofu"],
    };
    names
        .iter()
        .find_map(|n| gp_driver::find_program(n))
        .ok_or_else(|| {
            DriverError::configuration(match configured {
                Some(b) if b.contains('/') => format!("{b} is not an executable file"),
                _ => format!("{} not found on PATH", names.join(" or ")),
            })
            .with_hint("install Terraform or OpenTofu, or set `binary:` to its path")
        })
}

/// `terraform plan`'s arguments: `extra` first, then the run's own (no
/// input, no colour, JSON, the lock timeout, the plan file, the variables
/// written for the run when there are any).
fn plan_args(inv: &Invocation, plan_file: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["plan".to_string()];
    args.extend(extra.iter().map(|a| a.to_string()));
    args.extend([
        "-input=false".into(),
        "-no-color".into(),
        "-json".into(),
        format!("-lock-timeout={}", inv.lock_timeout),
        format!("-out={}", plan_file.display()),
    ]);
    let vars = inv.work.join(VARS_FILE);
    if vars.exists() {
        args.push(format!("-var-file={}", vars.display()));
    }
    args
}

/// `terraform init`'s arguments: the contract's key and the backend's
/// settings (S3), or the local state under the state directory.
fn init_args(inv: &Invocation) -> Vec<String> {
    let mut args: Vec<String> = vec!["init".into(), "-input=false".into(), "-no-color".into()];
    match &inv.backend {
        serde_json::Value::Object(o) if o.contains_key("s3") => {
            args.push(format!("-backend-config=key={}", inv.key));
            if let Some(pairs) = o["s3"].as_object() {
                for (k, v) in pairs {
                    if let Some(v) = v.as_str() {
                        args.push(format!("-backend-config={k}={v}"));
                    }
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
    args
}

/// A new workspace's lock that Terraform took and lost the answer to:
/// Terraform cannot release it (its `force-unlock` needs the workspace's
/// state, which it makes under that very lock), so the error says which
/// item to delete.
fn new_workspace_lock_lost(
    ctx: &ComponentCtx<'_>,
    inv: &Invocation,
    workspace: &str,
    lock: &LockInfo,
) -> DriverError {
    let e = DriverError::permanent(format!(
        "making the workspace `{workspace}` of {}, Terraform wrote its own state lock (lock {}) but lost the answer, and reports it as held; Terraform cannot release a lock of a workspace that does not exist yet",
        ctx.name(),
        lock.id
    ));
    match lock_removal(&inv.backend, &lock.path) {
        Some(command) => e.with_hint(format!("remove that lock, then run again: {command}")),
        None => e.with_hint(
            "remove that lock from the backend's lock table (or its .tflock object), then run again",
        ),
    }
}

/// The command that removes the lock of `path` (`bucket/key`, from the
/// lock item) in an S3 backend's lock table or lock file; `None` when a
/// value holds anything a shell would read (the path comes from the lock
/// item, and the command is for pasting).
fn lock_removal(backend: &serde_json::Value, path: &str) -> Option<String> {
    let s3 = backend.get("s3")?;
    let get = |k: &str| s3.get(k).and_then(|v| v.as_str());
    let plain = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._:=-+@".contains(c))
    };
    if !plain(path) {
        return None;
    }
    match (get("dynamodb_table"), get("bucket")) {
        (Some(table), _) if plain(table) => Some(format!(
            "aws dynamodb delete-item --table-name {table} --key '{{\"LockID\":{{\"S\":\"{path}\"}}}}'"
        )),
        (None, Some(bucket)) if plain(bucket) => Some(format!(
            "aws s3api delete-object --bucket {bucket} --key '{}.tflock'",
            path.strip_prefix(&format!("{bucket}/")).unwrap_or(path)
        )),
        _ => None,
    }
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    #[test]
    fn a_lock_is_named_for_removal_only_in_plain_words() {
        let table = serde_json::json!({"s3": {"bucket": "b", "dynamodb_table": "t"}});
        assert_eq!(
            lock_removal(&table, "b/env:/w/k").unwrap(),
            "aws dynamodb delete-item --table-name t --key '{\"LockID\":{\"S\":\"b/env:/w/k\"}}'"
        );
        let file = serde_json::json!({"s3": {"bucket": "b", "use_lockfile": "true"}});
        assert_eq!(
            lock_removal(&file, "b/env:/w/k").unwrap(),
            "aws s3api delete-object --bucket b --key 'env:/w/k.tflock'"
        );
        // Anything a shell reads, in the path from the lock item or in the
        // backend's names: no command.
        for path in ["b/k'; rm -rf ~; '", "b/$(id)", "b/k\n", ""] {
            assert_eq!(lock_removal(&table, path), None, "{path:?}");
        }
        let odd = serde_json::json!({"s3": {"bucket": "b", "dynamodb_table": "t;x"}});
        assert_eq!(lock_removal(&odd, "b/k"), None);
        assert_eq!(lock_removal(&serde_json::json!("local"), "b/k"), None);
        assert_eq!(lock_removal(&serde_json::json!({"s3": {}}), "b/k"), None);
    }
}
