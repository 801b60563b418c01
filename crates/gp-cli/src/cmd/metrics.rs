//! `goldenpath metrics`: an environment's delivery metrics (the four keys)
//! over a window, from its deployment events (see
//! `gp_registry::delivery_metrics`).

use clap::Args;

use crate::context::Context;
use crate::exit::CliError;

/// Arguments of `goldenpath metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// The window's start: a date or time (UTC); 30 days ago by default.
    #[arg(long)]
    pub since: Option<String>,
    /// The window's end; now by default.
    #[arg(long)]
    pub until: Option<String>,
}

/// A commit's time (µs) from the git repository holding the spec, when the
/// commit is there; a sha that is not hex is never passed to git.
pub fn commit_time(dir: &std::path::Path, sha: &str) -> Option<i64> {
    if !(7..=64).contains(&sha.len()) || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["show", "-s", "--format=%ct", "--end-of-options", sha])
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let secs: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some(secs * 1_000_000)
}

/// The window `--since`/`--until` name (µs).
pub fn window(since: Option<&str>, until: Option<&str>) -> Result<(i64, i64), CliError> {
    let parse = |flag: &str, v: &str| {
        gp_registry::parse_utc(v).ok_or_else(|| {
            CliError::invalid(format!("--{flag} `{v}` is not a date or time"))
                .hint("use e.g. 2026-01-01 or 2026-01-01T12:00:00Z")
        })
    };
    let until = match until {
        Some(u) => parse("until", u)?,
        None => gp_registry::now_us(),
    };
    let since = match since {
        Some(s) => parse("since", s)?,
        None => until - 30 * 86_400_000_000,
    };
    if since >= until {
        return Err(CliError::invalid("--since must come before --until"));
    }
    Ok((since, until))
}

fn secs(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(s) if s >= 3600.0 => format!("{:.1} h", s / 3600.0),
        Some(s) if s >= 60.0 => format!("{:.1} min", s / 60.0),
        Some(s) => format!("{s:.0} s"),
    }
}

/// The text report.
pub fn text(m: &gp_registry::DeliveryMetrics) -> String {
    format!(
        "delivery metrics of {} from {} to {}\ndeployment frequency  {:.2} successful deploys a day ({} in the window)\nlead time for changes {} (median over {} deploys whose commit's time is known)\nchange failure rate   {} ({} failed of {} finished; {} aborted and {} unknown left out, {} partial)\ntime to restore       {} (median over {} restores)",
        m.env,
        gp_registry::format_utc(m.since_us),
        gp_registry::format_utc(m.until_us),
        m.deployment_frequency_per_day,
        m.succeeded,
        secs(m.lead_time_p50_seconds),
        m.lead_time_samples,
        m.change_failure_rate
            .map(|r| format!("{:.1}%", r * 100.0))
            .unwrap_or_else(|| "-".into()),
        m.failed,
        m.failed + m.succeeded,
        m.aborted,
        m.unknown,
        m.partial,
        secs(m.time_to_restore_p50_seconds),
        m.time_to_restore_samples,
    )
}

/// Runs `metrics`.
pub fn run(ctx: &Context, a: MetricsArgs) -> anyhow::Result<()> {
    let (since, until) = window(a.since.as_deref(), a.until.as_deref())?;
    ctx.check_recorded_env(&a.env)?;
    let events = ctx.registry()?.env_deploy_events(&a.env, until)?;
    let dir = ctx.platform()?.base_dir().to_path_buf();
    let m =
        gp_registry::delivery_metrics(&a.env, &events, since, until, &|sha| commit_time(&dir, sha));
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::MetricsOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            metrics: m,
        })?;
    } else {
        ctx.printer.data(&text(&m))?;
    }
    Ok(())
}
