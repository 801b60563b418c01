//! Builds that expire on time: the expiry set at reservation (the
//! environment's `ttl`, or `deploy --ttl` within `maxTtl`), extensions and
//! keeps recorded with who and why, and the reaper — notices at the
//! configured lead times, then a teardown of each expired build that is
//! neither kept nor held by a live process.

use std::sync::Mutex;

use gp_registry::{DeploymentEvent, EventKind, Expiry, Reservation, new_id, now_us};
use serde::Serialize;

use crate::{Engine, EngineError, TeardownRequest, TeardownTarget};

/// Seconds as microseconds, saturating: a huge duration (from a spec, a
/// flag or a registry row) never overflows.
fn us(secs: u64) -> i64 {
    i64::try_from(secs)
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000_000)
}

/// A duration as `--ttl` and `--by` take it: one number and one unit, the
/// largest that divides it (`2d`, `90m`, `45s`).
pub fn duration_arg(secs: u64) -> String {
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs >= n && secs.is_multiple_of(n) {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{}s", secs.max(1))
}

/// `3h12m`, `45s`, `2d4h`: a duration in seconds, two units at most.
pub fn human(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let text = if d > 0 {
        if h > 0 {
            format!("{d}d{h}h")
        } else {
            format!("{d}d")
        }
    } else if h > 0 {
        if m > 0 {
            format!("{h}h{m}m")
        } else {
            format!("{h}h")
        }
    } else if m > 0 {
        if sec > 0 {
            format!("{m}m{sec}s")
        } else {
            format!("{m}m")
        }
    } else {
        format!("{sec}s")
    };
    if secs < 0 { format!("-{text}") } else { text }
}

/// What `builds list` and `status` say about an expiry.
pub fn time_left(expiry: Option<i64>, kept: Option<&str>, now_us: i64) -> String {
    match (kept, expiry) {
        (Some(_), _) => "kept".into(),
        (None, None) => "-".into(),
        (None, Some(at)) if at > now_us => {
            format!("in {}", human(at.saturating_sub(now_us) / 1_000_000))
        }
        (None, Some(at)) => format!(
            "expired {} ago",
            human(now_us.saturating_sub(at) / 1_000_000)
        ),
    }
}

/// What the reaper did (or, with `--dry-run`, would do) about one build.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReapItem {
    /// The build.
    pub build_id: String,
    /// `reaped`, `noticed`, `kept`, `held`, `waiting`, `failed`.
    pub action: String,
    /// Why, or what happened.
    pub detail: String,
    /// Its expiry (µs since the epoch).
    pub expires_us: Option<i64>,
}

/// `goldenpath reap`.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReapOutcome {
    /// Version of this shape.
    pub schema_version: u32,
    /// The environment.
    pub env: String,
    /// Nothing was done.
    pub dry_run: bool,
    /// Each live build with an expiry, oldest first.
    pub builds: Vec<ReapItem>,
}

impl ReapOutcome {
    /// Every teardown it started succeeded.
    pub fn clean(&self) -> bool {
        self.builds.iter().all(|b| b.action != "failed")
    }
}

/// A reap.
#[derive(Clone, Debug)]
pub struct ReapRequest {
    /// Environment.
    pub env: String,
    /// Say what would happen; record and remove nothing.
    pub dry_run: bool,
    /// Teardowns at once.
    pub parallel: usize,
}

impl Engine<'_> {
    fn expiry_event(
        &self,
        env: &str,
        build: &str,
        kind: EventKind,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        self.registry.record_deployment(&DeploymentEvent {
            id: new_id(),
            env: env.into(),
            deployment: build.into(),
            run_id: None,
            event: kind.as_str().into(),
            actor: self.actor.clone(),
            commit_sha: self.commit.clone(),
            run_url: self.run_url.clone(),
            detail: Some(detail),
            at_us: now_us(),
        })?;
        Ok(())
    }

    pub(crate) fn record_expiry_set(
        &self,
        env: &str,
        res: &Reservation,
        ttl_s: u64,
    ) -> Result<(), EngineError> {
        let expires = res.at_us.saturating_add(us(ttl_s));
        self.expiry_event(
            env,
            &res.build_id.to_string(),
            EventKind::ExpirySet,
            serde_json::json!({"expiresUs": expires, "ttlS": ttl_s}),
        )
    }

    /// A live build, or why not.
    fn live_build(&self, env: &str, build: gp_core::BuildId) -> Result<Expiry, EngineError> {
        let b = build.to_string();
        let Some(summary) = self
            .registry
            .builds(env)?
            .into_iter()
            .find(|s| s.build_id == b && !s.imported)
        else {
            return Err(EngineError::usage(
                format!("build {b} was never deployed in {env}"),
                Some(format!(
                    "list the builds with: goldenpath builds list --env {env}"
                )),
            ));
        };
        if summary.status == "torn-down" {
            return Err(EngineError::usage(
                format!("build {b} is torn down; it has no expiry to change"),
                None,
            ));
        }
        Ok(self.registry.expiry(env, &b)?)
    }

    /// Moves a build's expiry `by_s` later (from now when it has passed),
    /// within the environment's `maxTtl` from now. Returns the new expiry.
    pub fn extend(
        &self,
        env: &str,
        build: gp_core::BuildId,
        by_s: u64,
        reason: &str,
    ) -> Result<i64, EngineError> {
        let expiry = self.live_build(env, build)?;
        let now = now_us();
        let from = expiry.expires_us.unwrap_or(now).max(now);
        let new = from.saturating_add(us(by_s));
        let max = self
            .platform
            .environment(env)
            .map(|e| e.ephemeral.max_ttl_s())
            .unwrap_or(7 * 86_400);
        let limit = now.saturating_add(us(max));
        if new > limit {
            return Err(EngineError::Refused {
                message: format!(
                    "extending build {build} by {} would make it live {} from now; {env} allows at most {}",
                    human(i64::try_from(by_s).unwrap_or(i64::MAX)),
                    human(new.saturating_sub(now) / 1_000_000),
                    human(i64::try_from(max).unwrap_or(i64::MAX))
                ),
                hint: Some(
                    "extend by less, keep it (goldenpath builds keep), or raise ephemeral.maxTtl"
                        .into(),
                ),
            });
        }
        self.expiry_event(
            env,
            &build.to_string(),
            EventKind::ExpiryExtended,
            serde_json::json!({"expiresUs": new, "byS": by_s, "reason": reason}),
        )?;
        Ok(new)
    }

    /// Keeps a build past its expiry (`keep: true`), or lets it expire again.
    pub fn keep(
        &self,
        env: &str,
        build: gp_core::BuildId,
        keep: bool,
        reason: &str,
    ) -> Result<(), EngineError> {
        self.live_build(env, build)?;
        self.expiry_event(
            env,
            &build.to_string(),
            if keep {
                EventKind::BuildKept
            } else {
                EventKind::BuildReleased
            },
            serde_json::json!({"reason": reason}),
        )
    }

    /// Gives the notices that are due and tears down every expired build
    /// that is neither kept nor held by a live process: never the
    /// persistent deployment, never a foundational component.
    pub fn reap(&self, req: &ReapRequest) -> Result<ReapOutcome, EngineError> {
        let env = req.env.as_str();
        if self.platform.environment(env).is_none() {
            return Err(EngineError::usage(
                format!("environment `{env}` is not declared"),
                None,
            ));
        }
        let now = now_us();
        let leads: Vec<u64> = {
            let mut v: Vec<u64> = self
                .platform
                .spec
                .reaper
                .notices
                .iter()
                .filter_map(|l| gp_core::spec::parse_duration(&l.value))
                .collect();
            v.sort_unstable_by(|a, b| b.cmp(a));
            v.dedup();
            v
        };
        let leases = self.registry.leases(Some(env))?;
        let mut builds: Vec<_> = self
            .registry
            .builds(env)?
            .into_iter()
            .filter(|b| !b.imported && b.status != "torn-down" && b.expires_us.is_some())
            .collect();
        builds.reverse();
        let mut items = Vec::new();
        let mut due: Vec<(usize, gp_core::BuildId)> = Vec::new();
        for b in builds {
            let Ok(id) = b.build_id.parse::<gp_core::BuildId>() else {
                continue;
            };
            let expires = b.expires_us.unwrap_or_default();
            let item = |action: &str, detail: String| ReapItem {
                build_id: b.build_id.clone(),
                action: action.into(),
                detail,
                expires_us: b.expires_us,
            };
            if let Some(reason) = &b.kept {
                items.push(item("kept", format!("kept: {reason}")));
                continue;
            }
            if expires > now {
                let left_s = expires.saturating_sub(now) / 1_000_000;
                let noticed = self.registry.expiry(env, &b.build_id)?.noticed;
                let crossed: Vec<u64> = leads
                    .iter()
                    .copied()
                    .filter(|l| us(*l) >= expires.saturating_sub(now) && !noticed.contains(l))
                    .collect();
                if crossed.is_empty() {
                    items.push(item("waiting", format!("expires in {}", human(left_s))));
                    continue;
                }
                // A notice command that fails (a chat that is down) is
                // reported, and stops nothing.
                let mut failures = Vec::new();
                for lead in &crossed {
                    if !req.dry_run
                        && let Err(e) = self.notice(env, &b.build_id, *lead, left_s, expires)
                    {
                        failures.push(e.to_string());
                    }
                }
                let words: Vec<String> = crossed.iter().map(|l| human(*l as i64)).collect();
                let mut detail = format!(
                    "expires in {}; notice for {} {}",
                    human(left_s),
                    words.join(", "),
                    if req.dry_run { "due" } else { "given" }
                );
                if !failures.is_empty() {
                    detail.push_str(&format!(" ({})", failures.join("; ")));
                }
                items.push(item(
                    if req.dry_run {
                        "would-notice"
                    } else {
                        "noticed"
                    },
                    detail,
                ));
                continue;
            }
            let held = leases.iter().find(|l| {
                l.deployment == b.build_id
                    && l.state == "held"
                    && !crate::lease::is_abandoned(&l.holder)
            });
            if let Some(l) = held {
                items.push(item(
                    "held",
                    format!("expired, but {} holds its lease; left alone", l.holder),
                ));
                continue;
            }
            due.push((items.len(), id));
            items.push(item(
                if req.dry_run { "would-reap" } else { "reaped" },
                format!(
                    "expired {} ago",
                    human(now.saturating_sub(expires) / 1_000_000)
                ),
            ));
        }
        if !req.dry_run && !due.is_empty() {
            let results: Mutex<Vec<(usize, Result<crate::TeardownOutcome, EngineError>)>> =
                Mutex::new(Vec::new());
            let queue = Mutex::new(due.clone());
            let workers = req.parallel.clamp(1, 16).min(due.len());
            std::thread::scope(|scope| {
                for _ in 0..workers {
                    scope.spawn(|| {
                        loop {
                            let next = queue.lock().ok().and_then(|mut q| q.pop());
                            let Some((i, id)) = next else { break };
                            let r = self.teardown(&TeardownRequest {
                                env: env.into(),
                                target: TeardownTarget::Build(id),
                                confirm: false,
                                break_glass: Vec::new(),
                                reason: None,
                                overrides: Vec::new(),
                                cascade: false,
                            });
                            if let Ok(mut v) = results.lock() {
                                v.push((i, r));
                            }
                        }
                    });
                }
            });
            for (i, r) in results.into_inner().unwrap_or_default() {
                match r {
                    Ok(o) if o.clean() => {
                        items[i].detail = format!(
                            "{}; torn down, {} resources removed",
                            items[i].detail,
                            o.destroyed.len()
                        );
                    }
                    Ok(o) => {
                        items[i].action = "failed".into();
                        // What was left, each with why (a denied check
                        // names the permission).
                        let left: Vec<String> =
                            o.failed
                                .iter()
                                .map(|f| {
                                    format!(
                                        "{} {}: {}",
                                        f.component,
                                        f.resource,
                                        f.error.as_deref().unwrap_or("failed")
                                    )
                                })
                                .chain(o.orphans.iter().map(|l| {
                                    format!("{} {}: {}", l.component, l.resource, l.state)
                                }))
                                .collect();
                        items[i].detail = format!(
                            "{}; teardown left {} failed and {} orphans{}{}",
                            items[i].detail,
                            o.failed.len(),
                            o.orphans.len(),
                            if left.is_empty() { "" } else { ": " },
                            left.join("; ")
                        );
                    }
                    Err(e) => {
                        items[i].action = "failed".into();
                        items[i].detail = format!("{}; teardown failed: {e}", items[i].detail);
                    }
                }
            }
        }
        Ok(ReapOutcome {
            schema_version: 1,
            env: env.into(),
            dry_run: req.dry_run,
            builds: items,
        })
    }

    /// Records a notice and runs the notice command, if one is set.
    fn notice(
        &self,
        env: &str,
        build: &str,
        lead_s: u64,
        left_s: i64,
        expires_us: i64,
    ) -> Result<(), EngineError> {
        self.expiry_event(
            env,
            build,
            EventKind::ExpiryNotice,
            serde_json::json!({"leadS": lead_s, "timeLeftS": left_s}),
        )?;
        let command = &self.platform.spec.reaper.command;
        let Some((program, args)) = command.split_first() else {
            return Ok(());
        };
        let base = std::env::current_dir()
            .map(|d| d.join(self.platform.base_dir()))
            .unwrap_or_else(|_| self.platform.base_dir().to_path_buf());
        let base = base.as_path();
        let program = if program.contains('/') {
            base.join(program).display().to_string()
        } else {
            program.clone()
        };
        let mut cmd = std::process::Command::new(program);
        cmd.args(args)
            .current_dir(base)
            .env("GOLDENPATH_NOTICE_ENV", env)
            .env("GOLDENPATH_NOTICE_BUILD", build)
            .env("GOLDENPATH_NOTICE_LEAD_S", lead_s.to_string())
            .env("GOLDENPATH_NOTICE_TIME_LEFT_S", left_s.to_string())
            .env(
                "GOLDENPATH_NOTICE_EXPIRES_AT",
                gp_registry::format_utc(expires_us),
            );
        // `GOLDENPATH_*` never reaches a child but for the notice's own.
        let finished = gp_driver::process::run(
            cmd,
            gp_driver::process::RunOptions {
                timeout: std::time::Duration::from_secs(120),
                prefix: "notice".into(),
                ..Default::default()
            },
        );
        match finished {
            Ok(f) if f.success() => Ok(()),
            Ok(f) => Err(EngineError::Failed {
                message: format!(
                    "the notice command for build {build} failed (exit {}): {}",
                    f.exit_code(),
                    f.tail(3)
                ),
                hint: None,
            }),
            Err(e) => Err(EngineError::Failed {
                message: format!("the notice command for build {build} failed: {}", e.message),
                hint: e.hint,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_duration_argument_is_one_number_and_its_largest_unit() {
        use super::duration_arg;
        assert_eq!(duration_arg(2 * 86_400), "2d");
        assert_eq!(duration_arg(90 * 60), "90m");
        assert_eq!(duration_arg(3600), "1h");
        assert_eq!(duration_arg(45), "45s");
        assert_eq!(duration_arg(0), "1s");
        for s in [45, 3600, 5400, 172_800, 7] {
            assert_eq!(gp_core::spec::parse_duration(&duration_arg(s)), Some(s));
        }
    }
}
