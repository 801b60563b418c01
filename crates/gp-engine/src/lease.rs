//! Holding a deployment's lease for the length of a run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gp_registry::{Lease, Registry, RegistryError};

/// Who holds a lease: the actor, and the process and run on a host,
/// enough to recognise a holder that died on this machine. Stored in the
/// registry as `"{actor} pid {pid} on {host} run {run}"` (the text `lease
/// list` shows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Holder {
    pub actor: String,
    pub pid: u32,
    pub host: String,
    pub run: String,
}

impl Holder {
    /// This process, for `run_id`.
    pub(crate) fn this_process(actor: &str, run_id: &str) -> Self {
        Self {
            actor: actor.to_string(),
            pid: std::process::id(),
            host: hostname(),
            run: run_id.to_string(),
        }
    }

    /// Reads a holder back; `None` for text in another form (an old or a
    /// foreign row), which is never taken over.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        // From the right: the actor may hold spaces, the rest never does.
        let (rest, run) = text.rsplit_once(" run ")?;
        let (rest, host) = rest.rsplit_once(" on ")?;
        let (actor, pid) = rest.rsplit_once(" pid ")?;
        Some(Self {
            actor: actor.to_string(),
            pid: pid.parse().ok()?,
            host: host.to_string(),
            run: run.to_string(),
        })
    }

    /// A process on this host that no longer runs (a deploy killed with
    /// SIGKILL): its lease may be taken over.
    pub(crate) fn is_dead_here(&self) -> bool {
        self.host == hostname() && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} pid {} on {} run {}",
            self.actor, self.pid, self.host, self.run
        )
    }
}

/// The holder text of this process for `run_id`.
pub(crate) fn holder(actor: &str, run_id: &str) -> String {
    Holder::this_process(actor, run_id).to_string()
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Whether a holder recorded in the registry died on this machine.
pub(crate) fn is_abandoned(holder: &str) -> bool {
    Holder::parse(holder).is_some_and(|h| h.is_dead_here())
}

/// Whether a lease is held by someone still running: held, not expired,
/// and not by a process that died on this machine. The one answer
/// `status`, `builds list` and the dashboard give to "is it still
/// deploying?".
pub fn is_live(lease: &gp_registry::LeaseState) -> bool {
    lease.state == "held" && !is_abandoned(&lease.holder)
}

/// Takes the lease, taking over one whose holder died on this machine.
impl crate::Engine<'_> {
    /// A new run id and the deployment's lease for it, taken over from a
    /// holder that died on this machine.
    pub(crate) fn take_lease(
        &self,
        env: &str,
        key: &str,
    ) -> Result<(String, Lease), RegistryError> {
        // Nothing acts on a deployment whose rows do not check out: its
        // reservation, events, journal and lease are read through the
        // chain before anything is written for it.
        self.trusted(env, key)?;
        let run_id = gp_registry::new_id();
        let holder = holder(&self.actor, &run_id);
        let lease = acquire(
            self.registry,
            &self.state_dir,
            env,
            key,
            &holder,
            self.lease_ttl_s,
        )?;
        Ok((run_id, lease))
    }
}

impl crate::Engine<'_> {
    /// An environment's builds ([`gp_registry::Registry::builds_checked`]),
    /// a deploy or teardown whose lease is not alive ([`is_live`]) shown
    /// as interrupted.
    pub fn builds_checked(
        &self,
        env: &str,
    ) -> Result<(Vec<gp_registry::BuildSummary>, Vec<gp_registry::Tampered>), RegistryError> {
        self.registry.builds_checked_with(env, &is_live)
    }

    /// Reads every stream a run on `env`'s `key` decides from — the
    /// environment's reservations (for a build), the deployment's events,
    /// journal and lease — checked against the chain: the first row that
    /// does not check out is the error.
    pub(crate) fn trusted(&self, env: &str, key: &str) -> Result<(), RegistryError> {
        if let Ok(b) = key.parse::<gp_core::BuildId>() {
            self.registry.reservation(env, b)?;
        }
        self.registry.deployment_events(env, key)?;
        self.registry.journal_shared(env, key)?;
        self.registry.lease(env, key)?;
        Ok(())
    }
}

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

/// How often a lease of `ttl_s` seconds is renewed: every third of its
/// lifetime, at least every second.
fn renew_every(ttl_s: i64) -> Duration {
    Duration::from_secs(u64::try_from((ttl_s / 3).max(1)).unwrap_or(1))
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
    let every = renew_every(ttl_s);
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::{Holder, acquire, heartbeat, hostname, is_live, renew_every};
    use gp_registry::{Location, Registry, RegistryError};

    fn registry() -> (Registry, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&Location::Sqlite(dir.path().join("registry.db"))).unwrap();
        (reg, dir)
    }

    fn holder(pid: u32, host: &str) -> String {
        Holder {
            actor: "ci".into(),
            pid,
            host: host.into(),
            run: "r1".into(),
        }
        .to_string()
    }

    /// A pid that ran on this host and has exited.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    fn take(reg: &Registry, dir: &tempfile::TempDir) -> Result<gp_registry::Lease, RegistryError> {
        acquire(
            reg,
            dir.path(),
            "dev",
            "persistent",
            &holder(std::process::id(), &hostname()),
            600,
        )
    }

    #[test]
    fn a_lease_of_a_holder_dead_on_this_host_is_taken_over() {
        let (reg, dir) = registry();
        reg.lease_acquire("dev", "persistent", &holder(dead_pid(), &hostname()), 600)
            .unwrap();
        let lease = take(&reg, &dir).unwrap();
        assert_eq!(
            reg.lease("dev", "persistent").unwrap().unwrap().lease_id,
            lease.lease_id
        );
    }

    #[test]
    fn a_lease_of_a_holder_alive_on_this_host_is_refused() {
        let (reg, dir) = registry();
        let alive = std::process::id();
        reg.lease_acquire("dev", "persistent", &holder(alive, &hostname()), 600)
            .unwrap();
        assert!(matches!(
            take(&reg, &dir),
            Err(RegistryError::LeaseHeld { .. })
        ));
    }

    #[test]
    fn a_lease_of_a_holder_on_another_host_is_refused_whatever_its_pid() {
        let (reg, dir) = registry();
        // A pid that does not run here says nothing about another host.
        reg.lease_acquire(
            "dev",
            "persistent",
            &holder(dead_pid(), "another-runner"),
            600,
        )
        .unwrap();
        assert!(matches!(
            take(&reg, &dir),
            Err(RegistryError::LeaseHeld { .. })
        ));
        // Nor does a holder text in another form.
        let (reg, dir) = registry();
        reg.lease_acquire("dev", "persistent", "someone by hand", 600)
            .unwrap();
        assert!(matches!(
            take(&reg, &dir),
            Err(RegistryError::LeaseHeld { .. })
        ));
    }

    #[test]
    fn a_lease_whose_heartbeat_expired_is_taken_whoever_held_it() {
        let (reg, dir) = registry();
        reg.lease_acquire(
            "dev",
            "persistent",
            &holder(std::process::id(), "another-runner"),
            0,
        )
        .unwrap();
        let lease = take(&reg, &dir).unwrap();
        let state = reg.lease("dev", "persistent").unwrap().unwrap();
        assert_eq!(
            (state.lease_id, state.state.as_str()),
            (lease.lease_id, "held")
        );
    }

    #[test]
    fn a_holder_reads_back_even_with_spaces_in_the_actor() {
        let h = Holder {
            actor: "Jane Doe on call".into(),
            pid: 42,
            host: "runner-1".into(),
            run: "abc".into(),
        };
        assert_eq!(Holder::parse(&h.to_string()), Some(h));
        assert_eq!(Holder::parse("someone else"), None);
        assert_eq!(Holder::parse("x pid nan on h run r"), None);
    }

    #[test]
    fn this_process_holds_as_its_actor_pid_host_and_run() {
        let text = super::holder("ci bot", "run-7");
        let h = Holder::parse(&text).unwrap();
        assert_eq!(
            h,
            Holder {
                actor: "ci bot".into(),
                pid: std::process::id(),
                host: hostname(),
                run: "run-7".into(),
            }
        );
        assert!(!h.is_dead_here());
        let proc_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(hostname(), proc_name.trim());
        assert!(!hostname().is_empty());
    }

    #[test]
    fn a_lease_is_live_while_held_by_a_process_that_runs() {
        let (reg, _dir) = registry();
        let alive = holder(std::process::id(), &hostname());
        let l = reg.lease_acquire("dev", "persistent", &alive, 600).unwrap();
        assert!(is_live(&reg.lease("dev", "persistent").unwrap().unwrap()));
        reg.lease_release(&l).unwrap();
        assert!(!is_live(&reg.lease("dev", "persistent").unwrap().unwrap()));
        // Held, but by a process that died here: not live.
        let dead = holder(dead_pid(), &hostname());
        reg.lease_acquire("dev", "b", &dead, 600).unwrap();
        assert!(!is_live(&reg.lease("dev", "b").unwrap().unwrap()));
        // Held on another host: live (nothing here says otherwise).
        reg.lease_acquire("dev", "c", &holder(dead_pid(), "elsewhere"), 600)
            .unwrap();
        assert!(is_live(&reg.lease("dev", "c").unwrap().unwrap()));
    }

    #[test]
    fn a_lease_is_renewed_every_third_of_its_lifetime_and_at_least_every_second() {
        assert_eq!(renew_every(600), Duration::from_secs(200));
        assert_eq!(renew_every(7), Duration::from_secs(2));
        assert_eq!(renew_every(2), Duration::from_secs(1));
        assert_eq!(renew_every(0), Duration::from_secs(1));
        assert_eq!(renew_every(-5), Duration::from_secs(1));
    }

    #[test]
    fn the_heartbeat_renews_until_stopped_and_cancels_the_run_when_the_lease_is_lost() {
        let (reg, _dir) = registry();
        let me = holder(std::process::id(), &hostname());
        let lease = reg.lease_acquire("dev", "persistent", &me, 3).unwrap();
        let (stop, lost, cancel) = (
            AtomicBool::new(false),
            AtomicBool::new(false),
            AtomicBool::new(false),
        );
        let renewed = std::thread::scope(|s| {
            let t = s.spawn(|| heartbeat(&reg, lease.clone(), 3, &stop, &lost, &cancel));
            // Renewed once a second: after a little more than two, at
            // least once.
            std::thread::sleep(Duration::from_millis(2_300));
            stop.store(true, Ordering::SeqCst);
            t.thread().unpark();
            t.join().unwrap()
        });
        assert!(renewed.expires_us > lease.expires_us, "renewed");
        assert!(!lost.load(Ordering::SeqCst) && !cancel.load(Ordering::SeqCst));
        // Someone else holds it now (released, then taken): lost.
        reg.lease_release(&renewed).unwrap();
        reg.lease_acquire("dev", "persistent", "someone else", 600)
            .unwrap();
        stop.store(false, Ordering::SeqCst);
        heartbeat(&reg, renewed, 3, &stop, &lost, &cancel);
        assert!(lost.load(Ordering::SeqCst) && cancel.load(Ordering::SeqCst));
    }
}
