//! Governance records: overrides of guards (who and why) and self-service
//! request events.

use serde::Serialize;

use crate::chain::{OVERRIDES, REQUEST_EVENTS};
use crate::db::{Named, Row};
use crate::{Heads, Registry, RegistryError, Tampered, Tx};

/// A recorded override of a guard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Override {
    /// Event id.
    pub id: String,
    /// Environment.
    pub env: String,
    /// Deployment key, if about one.
    pub deployment: Option<String>,
    /// `build-id-reuse`, `break-glass`, `guard`, `lease-force-unlock`,
    /// `terraform-force-unlock`, ...
    pub kind: String,
    /// What was overridden.
    pub subject: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at_us: i64,
}

/// A self-service request event.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestEvent {
    /// Event id.
    pub id: String,
    /// Request id, e.g. `RDS-0002`.
    pub request_id: String,
    /// Request kind, e.g. `rds`.
    pub kind: String,
    /// Environment.
    pub env: String,
    /// `validated`, `approved`, `applied`, `refused`, `failed`.
    pub event: String,
    /// Who.
    pub actor: String,
    /// Non-secret detail.
    pub detail: Option<serde_json::Value>,
    /// When.
    pub at_us: i64,
}

impl Override {
    /// Appends it inside a transaction.
    pub(crate) fn append(&self, tx: &mut Tx<'_>) -> Result<bool, RegistryError> {
        tx.append_once(
            &OVERRIDES,
            vec![
                (&self.id).into(),
                (&self.env).into(),
                self.deployment.clone().into(),
                (&self.kind).into(),
                (&self.subject).into(),
                (&self.actor).into(),
                (&self.reason).into(),
                self.at_us.into(),
            ],
        )
    }
}

fn override_row(r: &dyn Row) -> Override {
    let r = Named(r);
    Override {
        id: r.string("id"),
        env: r.string("env"),
        deployment: r.text("deployment"),
        kind: r.string("kind"),
        subject: r.string("subject"),
        actor: r.string("actor"),
        reason: r.string("reason"),
        at_us: r.int("at_us").unwrap_or(0),
    }
}

fn request_row(r: &dyn Row) -> RequestEvent {
    let r = Named(r);
    RequestEvent {
        id: r.string("id"),
        request_id: r.string("request_id"),
        kind: r.string("kind"),
        env: r.string("env"),
        event: r.string("event"),
        actor: r.string("actor"),
        detail: r.json("detail"),
        at_us: r.int("at_us").unwrap_or(0),
    }
}

impl Registry {
    /// Records an override.
    pub fn record_override(&self, o: &Override) -> Result<(), RegistryError> {
        if o.reason.trim().is_empty() || o.actor.trim().is_empty() {
            return Err(RegistryError::Invalid(
                "an override needs an actor and a reason".into(),
            ));
        }
        self.tx(None, |tx| o.append(tx))?;
        Ok(())
    }

    /// Overrides of an environment (and deployment), oldest first, the
    /// environment's stream checked: a tampered stream is an error.
    pub fn overrides(
        &self,
        env: &str,
        deployment: Option<&str>,
    ) -> Result<Vec<Override>, RegistryError> {
        let mut out = Vec::new();
        self.streams_trusted(
            &OVERRIDES,
            "env = ?",
            &[env.into()],
            Heads::Stream(env),
            &mut |r| {
                let o = override_row(r);
                if deployment.is_none_or(|d| o.deployment.as_deref() == Some(d)) {
                    out.push(o);
                }
                Ok(())
            },
        )?;
        out.sort_by(|a, b| (a.at_us, &a.id).cmp(&(b.at_us, &b.id)));
        Ok(out)
    }

    /// Records a request event.
    pub fn record_request(&self, ev: &RequestEvent) -> Result<(), RegistryError> {
        let detail = ev.detail.as_ref().map(|d| d.to_string());
        self.append_one(
            &REQUEST_EVENTS,
            vec![
                (&ev.id).into(),
                (&ev.request_id).into(),
                (&ev.kind).into(),
                (&ev.env).into(),
                (&ev.event).into(),
                (&ev.actor).into(),
                detail.clone().into(),
                ev.at_us.into(),
            ],
        )?;
        Ok(())
    }

    /// Request events (of one request), oldest first, each request's
    /// stream checked: a tampered stream is an error. What decides about a
    /// request (its approval, its apply) reads this.
    pub fn request_events(
        &self,
        request_id: Option<&str>,
    ) -> Result<Vec<RequestEvent>, RegistryError> {
        let (events, tampered) = self.request_events_checked(request_id)?;
        match tampered.into_iter().next() {
            Some(t) => Err(t.into_error()),
            None => Ok(events),
        }
    }

    /// [`Self::request_events`] for a view: only events that check out,
    /// and what does not (by request id in `stream`) beside them.
    pub fn request_events_checked(
        &self,
        request_id: Option<&str>,
    ) -> Result<(Vec<RequestEvent>, Vec<Tampered>), RegistryError> {
        let mut out = Vec::new();
        let mut keep = |r: &dyn Row, ok: bool| {
            if ok {
                out.push(request_row(r));
            }
            Ok(())
        };
        let tampered = match request_id {
            Some(id) => self.streams(
                &REQUEST_EVENTS,
                "request_id = ?",
                &[id.into()],
                Heads::Stream(id),
                &mut keep,
            )?,
            None => self.streams(&REQUEST_EVENTS, "", &[], Heads::All, &mut keep)?,
        };
        out.sort_by(|a, b| (a.at_us, &a.id).cmp(&(b.at_us, &b.id)));
        Ok((out, tampered))
    }
}
