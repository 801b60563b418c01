//! Leases: one deploy per deployment at a time. A lease expires unless
//! renewed; a forced unlock is recorded with who and why.

use serde::Serialize;

use std::collections::{BTreeMap, BTreeSet};

use crate::chain::LEASE_EVENTS;
use crate::db::{Named, Row};
use crate::governance::Override;
use crate::{
    Heads, Registry, RegistryError, TAMPERED, Tampered, Tx, new_id, now_us, time::format_utc,
};

/// A lease we hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// Lease id.
    pub lease_id: String,
    /// Holder identity.
    pub holder: String,
    /// Expiry.
    pub expires_us: i64,
}

/// The derived state of a deployment's lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaseState {
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// The latest lease id.
    pub lease_id: String,
    /// Its holder.
    pub holder: String,
    /// When it was acquired.
    pub acquired_us: i64,
    /// When it expires (or expired).
    pub expires_us: i64,
    /// `held`, `expired`, `released`, `force_unlocked`, or `tampered` when
    /// its events do not check out.
    pub state: String,
    /// Who ended it and why, for a forced unlock.
    pub ended_by: Option<String>,
    /// The reason given.
    pub reason: Option<String>,
}

/// One lease event as stored.
struct LeaseEvent<'a> {
    env: &'a str,
    deployment: &'a str,
    lease_id: &'a str,
    kind: &'a str,
    holder: &'a str,
    expires_us: Option<i64>,
    actor: Option<&'a str>,
    reason: Option<&'a str>,
    at_us: i64,
}

impl LeaseEvent<'_> {
    fn append(&self, tx: &mut Tx<'_>) -> Result<(), RegistryError> {
        tx.append(
            &LEASE_EVENTS,
            vec![
                new_id().into(),
                self.env.into(),
                self.deployment.into(),
                self.lease_id.into(),
                self.kind.into(),
                self.holder.into(),
                self.expires_us.into(),
                self.actor.into(),
                self.reason.into(),
                self.at_us.into(),
            ],
        )?;
        Ok(())
    }
}

/// Records a new lease for `holder`.
fn new_lease(
    tx: &mut Tx<'_>,
    env: &str,
    deployment: &str,
    holder: &str,
    ttl_s: i64,
    now: i64,
) -> Result<Lease, RegistryError> {
    let lease = Lease {
        env: env.into(),
        deployment: deployment.into(),
        lease_id: new_id(),
        holder: holder.into(),
        expires_us: now + ttl_s * 1_000_000,
    };
    LeaseEvent {
        env,
        deployment,
        lease_id: &lease.lease_id,
        kind: "acquire",
        holder,
        expires_us: Some(lease.expires_us),
        actor: None,
        reason: None,
        at_us: now,
    }
    .append(tx)?;
    Ok(lease)
}

/// The refusal naming who holds a lease.
fn held_by(env: &str, deployment: &str, current: LeaseState) -> RegistryError {
    RegistryError::LeaseHeld {
        env: env.into(),
        deployment: deployment.into(),
        holder: current.holder,
        lease_id: current.lease_id,
        expires: format_utc(current.expires_us),
    }
}

impl Registry {
    /// Takes the lease on a deployment for `ttl_s` seconds. Refused, naming
    /// the holder, while someone else holds it; an expired lease is recorded
    /// as expired and taken over.
    pub fn lease_acquire(
        &self,
        env: &str,
        deployment: &str,
        holder: &str,
        ttl_s: i64,
    ) -> Result<Lease, RegistryError> {
        let lock = format!("lease/{env}/{deployment}");
        self.tx(Some(&lock), |tx| {
            let now = now_us();
            if let Some(current) = lease_state(tx, env, deployment, now)? {
                if current.state == "held" {
                    return Err(held_by(env, deployment, current));
                }
                if current.state == "expired" {
                    LeaseEvent {
                        env,
                        deployment,
                        lease_id: &current.lease_id,
                        kind: "expire",
                        holder: &current.holder,
                        expires_us: None,
                        actor: None,
                        reason: None,
                        at_us: now,
                    }
                    .append(tx)?;
                }
            }
            new_lease(tx, env, deployment, holder, ttl_s, now)
        })
    }

    /// Takes over a lease whose holder is known to be gone (a process on
    /// this machine that no longer runs): the old lease is recorded as
    /// expired with that reason, then a new one is acquired. Refused if the
    /// lease changed hands meanwhile.
    pub fn lease_take_over_abandoned(
        &self,
        env: &str,
        deployment: &str,
        abandoned_holder: &str,
        holder: &str,
        ttl_s: i64,
    ) -> Result<Lease, RegistryError> {
        let lock = format!("lease/{env}/{deployment}");
        self.tx(Some(&lock), |tx| {
            let now = now_us();
            if let Some(current) = lease_state(tx, env, deployment, now)?
                && (current.state == "held" || current.state == "expired")
            {
                if current.holder != abandoned_holder {
                    return Err(held_by(env, deployment, current));
                }
                LeaseEvent {
                    env,
                    deployment,
                    lease_id: &current.lease_id,
                    kind: "expire",
                    holder: &current.holder,
                    expires_us: None,
                    actor: Some(holder),
                    reason: Some("the holder process is no longer running on this machine"),
                    at_us: now,
                }
                .append(tx)?;
            }
            new_lease(tx, env, deployment, holder, ttl_s, now)
        })
    }

    /// Extends our lease. Fails if it was lost (expired and taken, or
    /// force-unlocked).
    pub fn lease_renew(&self, lease: &Lease, ttl_s: i64) -> Result<Lease, RegistryError> {
        let lock = format!("lease/{}/{}", lease.env, lease.deployment);
        self.tx(Some(&lock), |tx| {
            let now = now_us();
            let current = lease_state(tx, &lease.env, &lease.deployment, now)?;
            match current {
                Some(c)
                    if c.lease_id == lease.lease_id
                        && (c.state == "held" || c.state == "expired") =>
                {
                    let mut renewed = lease.clone();
                    renewed.expires_us = now + ttl_s * 1_000_000;
                    LeaseEvent {
                        env: &lease.env,
                        deployment: &lease.deployment,
                        lease_id: &lease.lease_id,
                        kind: "renew",
                        holder: &lease.holder,
                        expires_us: Some(renewed.expires_us),
                        actor: None,
                        reason: None,
                        at_us: now,
                    }
                    .append(tx)?;
                    Ok(renewed)
                }
                Some(c) => Err(RegistryError::LeaseLost {
                    env: lease.env.clone(),
                    deployment: lease.deployment.clone(),
                    why: if c.lease_id == lease.lease_id {
                        format!("it was {}", c.state.replace('_', "-"))
                    } else {
                        format!("{} holds it now", c.holder)
                    },
                }),
                None => Err(RegistryError::LeaseLost {
                    env: lease.env.clone(),
                    deployment: lease.deployment.clone(),
                    why: "no lease is recorded".into(),
                }),
            }
        })
    }

    /// Releases our lease (a lease already lost is left alone).
    pub fn lease_release(&self, lease: &Lease) -> Result<(), RegistryError> {
        let lock = format!("lease/{}/{}", lease.env, lease.deployment);
        self.tx(Some(&lock), |tx| {
            let now = now_us();
            if let Some(c) = lease_state(tx, &lease.env, &lease.deployment, now)?
                && c.lease_id == lease.lease_id
                && (c.state == "held" || c.state == "expired")
            {
                LeaseEvent {
                    env: &lease.env,
                    deployment: &lease.deployment,
                    lease_id: &lease.lease_id,
                    kind: "release",
                    holder: &lease.holder,
                    expires_us: None,
                    actor: None,
                    reason: None,
                    at_us: now,
                }
                .append(tx)?;
            }
            Ok(())
        })
    }

    /// Forcibly ends whatever lease a deployment has, recording who and why
    /// (as a lease event and an override). Returns the lease that was ended.
    pub fn lease_force_unlock(
        &self,
        env: &str,
        deployment: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Option<LeaseState>, RegistryError> {
        if reason.trim().is_empty() {
            return Err(RegistryError::Invalid(
                "a forced unlock needs a reason".into(),
            ));
        }
        let lock = format!("lease/{env}/{deployment}");
        self.tx(Some(&lock), |tx| {
            let now = now_us();
            let Some(current) = lease_state(tx, env, deployment, now)? else {
                return Ok(None);
            };
            if current.state != "held" && current.state != "expired" {
                return Ok(None);
            }
            LeaseEvent {
                env,
                deployment,
                lease_id: &current.lease_id,
                kind: "force_unlock",
                holder: &current.holder,
                expires_us: None,
                actor: Some(actor),
                reason: Some(reason),
                at_us: now,
            }
            .append(tx)?;
            Override {
                id: new_id(),
                env: env.into(),
                deployment: Some(deployment.into()),
                kind: "lease-force-unlock".into(),
                subject: format!("lease {} held by {}", current.lease_id, current.holder),
                actor: actor.into(),
                reason: reason.into(),
                at_us: now,
            }
            .append(tx)?;
            Ok(Some(current))
        })
    }

    /// The current lease state of every deployment (of `env`) that ever had
    /// one. A tampered stream is an error.
    pub fn leases(&self, env: Option<&str>) -> Result<Vec<LeaseState>, RegistryError> {
        let (leases, tampered) = self.leases_checked(env)?;
        match tampered.into_iter().next() {
            Some(t) => Err(t.into_error()),
            None => Ok(leases),
        }
    }

    /// [`Self::leases`] for a view: a deployment whose lease events do not
    /// check out shows the state `tampered`, derived from nothing.
    pub fn leases_checked(
        &self,
        env: Option<&str>,
    ) -> Result<(Vec<LeaseState>, Vec<Tampered>), RegistryError> {
        let now = now_us();
        let mut replay = Replay::default();
        let prefix = env.map(|e| format!("{e}\u{1f}"));
        let (filter, params, scope) = match (env, &prefix) {
            (Some(e), Some(p)) => ("env = ?", vec![e.into()], Heads::Prefix(p)),
            _ => ("", Vec::new(), Heads::All),
        };
        let tampered = self.streams(&LEASE_EVENTS, filter, &params, scope, &mut |r, ok| {
            replay.row(r, ok);
            Ok(())
        })?;
        for t in &tampered {
            if let Some((e, d)) = t.stream.split_once('/') {
                replay.untrusted.insert((e.to_string(), d.to_string()));
            }
        }
        Ok((replay.finish(now), tampered))
    }

    /// The lease state of one deployment. A tampered stream is an error.
    pub fn lease(&self, env: &str, deployment: &str) -> Result<Option<LeaseState>, RegistryError> {
        let stream = format!("{env}\u{1f}{deployment}");
        let mut replay = Replay::default();
        self.streams_trusted(
            &LEASE_EVENTS,
            "env = ? AND deployment = ?",
            &[env.into(), deployment.into()],
            Heads::Stream(&stream),
            &mut |r| {
                replay.row(r, true);
                Ok(())
            },
        )?;
        Ok(replay.finish(now_us()).into_iter().next())
    }
}

/// Replays lease events, read in chain order, into each deployment's
/// current lease.
#[derive(Default)]
struct Replay {
    states: BTreeMap<(String, String), Option<LeaseState>>,
    untrusted: BTreeSet<(String, String)>,
}

impl Replay {
    fn row(&mut self, r: &dyn Row, ok: bool) {
        let r = Named(r);
        let key = (r.string("env"), r.string("deployment"));
        if !ok {
            self.untrusted.insert(key);
            return;
        }
        let (lease_id, kind, at) = (
            r.string("lease_id"),
            r.string("kind"),
            r.int("at_us").unwrap_or(0),
        );
        let state = self.states.entry(key.clone()).or_default();
        match kind.as_str() {
            "acquire" => {
                *state = Some(LeaseState {
                    env: key.0,
                    deployment: key.1,
                    lease_id,
                    holder: r.string("holder"),
                    acquired_us: at,
                    expires_us: r.int("expires_us").unwrap_or(at),
                    state: "held".into(),
                    ended_by: None,
                    reason: None,
                });
            }
            other => {
                if let Some(s) = state.as_mut().filter(|s| s.lease_id == lease_id) {
                    match other {
                        "renew" => s.expires_us = r.int("expires_us").unwrap_or(s.expires_us),
                        "release" => s.state = "released".into(),
                        "expire" => s.state = "expired".into(),
                        "force_unlock" => {
                            s.state = "force_unlocked".into();
                            s.ended_by = r.text("actor");
                            s.reason = r.text("reason");
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn finish(mut self, now: i64) -> Vec<LeaseState> {
        for key in std::mem::take(&mut self.untrusted) {
            self.states.insert(
                key.clone(),
                Some(LeaseState {
                    env: key.0,
                    deployment: key.1,
                    lease_id: String::new(),
                    holder: String::new(),
                    acquired_us: 0,
                    expires_us: 0,
                    state: TAMPERED.into(),
                    ended_by: None,
                    reason: None,
                }),
            );
        }
        self.states
            .into_values()
            .flatten()
            .map(|mut s| {
                if s.state == "held" && s.expires_us <= now {
                    s.state = "expired".into();
                }
                s
            })
            .collect()
    }
}

/// A deployment's current lease, inside a write transaction, from its
/// checked stream: a tampered stream is an error.
fn lease_state(
    tx: &mut Tx<'_>,
    env: &str,
    deployment: &str,
    now: i64,
) -> Result<Option<LeaseState>, RegistryError> {
    let stream = format!("{env}\u{1f}{deployment}");
    let mut replay = Replay::default();
    tx.streams_trusted(
        &LEASE_EVENTS,
        "env = ? AND deployment = ?",
        &[env.into(), deployment.into()],
        Heads::Stream(&stream),
        &mut |r| {
            replay.row(r, true);
            Ok(())
        },
    )?;
    Ok(replay.finish(now).into_iter().next())
}

#[cfg(test)]
mod tests {
    use crate::{Location, Registry, RegistryError, now_us};

    fn sqlite() -> (Registry, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&Location::Sqlite(dir.path().join("registry.db"))).unwrap();
        (reg, dir)
    }

    fn state(reg: &Registry, dep: &str) -> String {
        reg.lease("dev", dep).unwrap().unwrap().state
    }

    fn held_by(r: Result<crate::Lease, RegistryError>) -> String {
        match r {
            Err(RegistryError::LeaseHeld { holder, .. }) => holder,
            other => panic!("not refused: {other:?}"),
        }
    }

    fn lost(r: Result<crate::Lease, RegistryError>) -> String {
        match r {
            Err(RegistryError::LeaseLost { why, .. }) => why,
            other => panic!("not lost: {other:?}"),
        }
    }

    #[test]
    fn a_held_lease_is_refused_and_an_expired_one_is_taken_with_its_expiry_recorded() {
        let (reg, _d) = sqlite();
        let a = reg.lease_acquire("dev", "b1", "ci@a", 600).unwrap();
        assert_eq!(held_by(reg.lease_acquire("dev", "b1", "ci@b", 600)), "ci@a");
        assert_eq!(state(&reg, "b1"), "held");
        // Another deployment is its own lease.
        reg.lease_acquire("dev", "b2", "ci@b", 600).unwrap();
        // Expired (a ttl of 0 ends now): taken, and the old one's expiry
        // is a row of its own.
        let old = reg.lease_acquire("dev", "b3", "ci@a", 0).unwrap();
        assert_eq!(state(&reg, "b3"), "expired");
        let new = reg.lease_acquire("dev", "b3", "ci@b", 600).unwrap();
        assert_ne!(new.lease_id, old.lease_id);
        let expiries = reg
            .with_db(|db| {
                crate::db::DbExt::scalar(
                    db,
                    "SELECT COUNT(*) FROM lease_events WHERE kind = 'expire' AND lease_id = ?",
                    &[old.lease_id.clone().into()],
                )
            })
            .unwrap();
        assert_eq!(expiries, Some(1), "the old lease's expiry is recorded");
        // A held lease taken over is never recorded as expired by a refusal.
        assert_eq!(
            reg.with_db(|db| crate::db::DbExt::scalar(
                db,
                "SELECT COUNT(*) FROM lease_events WHERE kind = 'expire' AND deployment = 'b1'",
                &[],
            ))
            .unwrap(),
            Some(0)
        );
        assert_eq!(state(&reg, "b3"), "held");
        assert_eq!(reg.lease("dev", "b3").unwrap().unwrap().holder, "ci@b");
        // A released lease is free again.
        reg.lease_release(&a).unwrap();
        assert_eq!(state(&reg, "b1"), "released");
        reg.lease_acquire("dev", "b1", "ci@b", 600).unwrap();
    }

    #[test]
    fn an_abandoned_lease_is_taken_over_only_from_the_holder_named() {
        let (reg, _d) = sqlite();
        let a = reg.lease_acquire("dev", "b1", "host-a:42", 600).unwrap();
        // A live holder on another host is never taken over.
        assert_eq!(
            held_by(reg.lease_take_over_abandoned("dev", "b1", "host-b:7", "host-b:8", 600)),
            "host-a:42"
        );
        assert_eq!(
            reg.lease("dev", "b1").unwrap().unwrap().lease_id,
            a.lease_id
        );
        let b = reg
            .lease_take_over_abandoned("dev", "b1", "host-a:42", "host-a:43", 600)
            .unwrap();
        let now = reg.lease("dev", "b1").unwrap().unwrap();
        assert_eq!(
            (now.lease_id, now.holder),
            (b.lease_id.clone(), "host-a:43".to_string())
        );
        // Released: nothing is held, whoever is named as gone.
        reg.lease_release(&b).unwrap();
        reg.lease_take_over_abandoned("dev", "b1", "host-z:1", "host-a:45", 600)
            .unwrap();
        assert_eq!(reg.lease("dev", "b1").unwrap().unwrap().holder, "host-a:45");
        // Nothing held: taken as a plain acquire.
        reg.lease_take_over_abandoned("dev", "b9", "x", "host-a:44", 600)
            .unwrap();
        assert_eq!(state(&reg, "b9"), "held");
    }

    #[test]
    fn a_renewal_extends_by_the_ttl_and_a_lost_lease_cannot_be_renewed_or_released() {
        let (reg, _d) = sqlite();
        let a = reg.lease_acquire("dev", "b1", "ci@a", 5).unwrap();
        let before = now_us();
        let renewed = reg.lease_renew(&a, 100).unwrap();
        let after = now_us();
        assert!(
            renewed.expires_us >= before + 100_000_000 && renewed.expires_us <= after + 100_000_000,
            "{renewed:?}"
        );
        // What the registry replays is the renewal.
        assert_eq!(
            reg.lease("dev", "b1").unwrap().unwrap().expires_us,
            renewed.expires_us
        );
        // Lost to a forced unlock: the renewal says so.
        reg.lease_force_unlock("dev", "b1", "lead", "runner deleted")
            .unwrap()
            .unwrap();
        assert_eq!(state(&reg, "b1"), "force_unlocked");
        assert_eq!(lost(reg.lease_renew(&a, 100)), "it was force-unlocked");
        // Released after the forced unlock: the unlock stands.
        reg.lease_release(&a).unwrap();
        assert_eq!(state(&reg, "b1"), "force_unlocked");
        // Lost to another holder: named.
        let b = reg.lease_acquire("dev", "b1", "ci@b", 600).unwrap();
        assert_eq!(lost(reg.lease_renew(&a, 100)), "ci@b holds it now");
        // Releasing the lost lease leaves the holder's alone.
        reg.lease_release(&a).unwrap();
        assert_eq!(state(&reg, "b1"), "held");
        assert_eq!(
            reg.lease("dev", "b1").unwrap().unwrap().lease_id,
            b.lease_id
        );
        // Never recorded.
        let ghost = crate::Lease {
            deployment: "b7".into(),
            ..a
        };
        assert_eq!(lost(reg.lease_renew(&ghost, 1)), "no lease is recorded");
    }

    #[test]
    fn a_forced_unlock_ends_only_a_held_or_expired_lease_and_needs_a_reason() {
        let (reg, _d) = sqlite();
        assert!(matches!(
            reg.lease_force_unlock("dev", "b1", "lead", " "),
            Err(RegistryError::Invalid(_))
        ));
        assert_eq!(
            reg.lease_force_unlock("dev", "b1", "lead", "why").unwrap(),
            None
        );
        let a = reg.lease_acquire("dev", "b1", "ci@a", 600).unwrap();
        let ended = reg
            .lease_force_unlock("dev", "b1", "lead", "why")
            .unwrap()
            .unwrap();
        assert_eq!(ended.lease_id, a.lease_id);
        let s = reg.lease("dev", "b1").unwrap().unwrap();
        assert_eq!(
            (s.state.as_str(), s.ended_by.as_deref(), s.reason.as_deref()),
            ("force_unlocked", Some("lead"), Some("why"))
        );
        // Already ended: nothing more to end.
        assert_eq!(
            reg.lease_force_unlock("dev", "b1", "lead", "why").unwrap(),
            None
        );
        let b = reg.lease_acquire("dev", "b2", "ci@a", 600).unwrap();
        reg.lease_release(&b).unwrap();
        assert_eq!(
            reg.lease_force_unlock("dev", "b2", "lead", "why").unwrap(),
            None
        );
        // Expired: still ended.
        reg.lease_acquire("dev", "b3", "ci@a", 0).unwrap();
        assert!(
            reg.lease_force_unlock("dev", "b3", "lead", "why")
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn leases_of_one_environment_leave_the_others_out() {
        let (reg, _d) = sqlite();
        reg.lease_acquire("dev", "b1", "ci@a", 600).unwrap();
        reg.lease_acquire("prod", "persistent", "ci@a", 600)
            .unwrap();
        // An environment whose name starts another's.
        reg.lease_acquire("dev2", "b1", "ci@a", 600).unwrap();
        let dev: Vec<(String, String)> = reg
            .leases(Some("dev"))
            .unwrap()
            .into_iter()
            .map(|l| (l.env, l.deployment))
            .collect();
        assert_eq!(dev, vec![("dev".to_string(), "b1".to_string())]);
        assert_eq!(reg.leases(None).unwrap().len(), 3);
    }
}
