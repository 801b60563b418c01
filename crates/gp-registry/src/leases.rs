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
