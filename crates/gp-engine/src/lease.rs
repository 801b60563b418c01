//! Holding a deployment's lease for the length of a run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gp_registry::{Lease, Registry, RegistryError};

/// `"{actor} pid {pid} on {host} run {run}"`: enough to recognise a holder
/// that died on this machine.
pub(crate) fn holder(actor: &str, run_id: &str) -> String {
    format!(
        "{actor} pid {} on {} run {run_id}",
        std::process::id(),
        hostname()
    )
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Whether a holder string names a process on this host that no longer
/// runs (a deploy killed with SIGKILL): its lease may be taken over.
pub(crate) fn is_abandoned(holder: &str) -> bool {
    let mut words = holder.split_whitespace();
    let mut pid = None;
    let mut host = None;
    while let Some(w) = words.next() {
        match w {
            "pid" => pid = words.next().and_then(|p| p.parse::<u32>().ok()),
            "on" => host = words.next(),
            _ => {}
        }
    }
    match (pid, host) {
        (Some(pid), Some(host)) => {
            host == hostname() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => false,
    }
}

/// Takes the lease, taking over one whose holder died on this machine.
pub(crate) fn acquire(
    registry: &Registry,
    state_dir: &std::path::Path,
    env: &str,
    deployment: &str,
    holder: &str,
    ttl_s: i64,
) -> Result<Lease, RegistryError> {
    let lease = match registry.lease_acquire(env, deployment, holder, ttl_s) {
        Err(RegistryError::LeaseHeld { holder: other, .. }) if is_abandoned(&other) => {
            registry.lease_take_over_abandoned(env, deployment, &other, holder, ttl_s)
        }
        other => other,
    }?;
    // Whatever a killed holder's drivers left running (a child in its own
    // process group, still about to create something) dies now, before this
    // run looks at the deployment.
    let killed =
        gp_driver::process::kill_tracked(&gp_driver::children_dir(state_dir, env, deployment));
    if killed > 0 {
        tracing::warn!(
            "stopped {killed} process group(s) left running by an earlier run of {deployment} in {env}"
        );
    }
    Ok(lease)
}

/// Renews the lease every third of its lifetime until `stop` is set; on a
/// lost lease sets `lost` and `cancel`.
pub(crate) fn heartbeat(
    registry: &Registry,
    lease: Lease,
    ttl_s: i64,
    stop: &AtomicBool,
    lost: &AtomicBool,
    cancel: &AtomicBool,
) -> Lease {
    let mut lease = lease;
    let every = Duration::from_secs(u64::try_from((ttl_s / 3).max(1)).unwrap_or(1));
    while !stop.load(Ordering::SeqCst) {
        std::thread::park_timeout(every);
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match registry.lease_renew(&lease, ttl_s) {
            Ok(l) => lease = l,
            Err(e) => {
                tracing::error!("{e}");
                lost.store(true, Ordering::SeqCst);
                cancel.store(true, Ordering::SeqCst);
                break;
            }
        }
    }
    lease
}
