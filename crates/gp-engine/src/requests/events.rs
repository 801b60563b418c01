//! A request's events, typed: what each one records, written and read
//! here only. A row goldenpath cannot read as one of these (a forged or
//! future event) is never taken for any of them.

use gp_core::request::Request;
use gp_registry::{RequestEvent, new_id, now_us};
use serde::{Deserialize, Serialize};

use crate::{Engine, EngineError};

/// What a request event records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(
    tag = "event",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum RequestEventDetail {
    /// `request plan` looked at it.
    Planned {
        /// The content it planned.
        hash: String,
        /// The resource.
        #[serde(default)]
        resource: String,
        /// What apply would change.
        #[serde(default)]
        steps: Vec<String>,
    },
    /// Refused: it breaks a rule, lacks an approval, claims what someone
    /// else owns; or an approval was refused (`approver` set).
    Refused {
        /// The content refused.
        #[serde(default)]
        hash: String,
        /// Why.
        #[serde(default)]
        reasons: Vec<String>,
        /// Who tried to approve, when an approval was refused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approver: Option<String>,
        /// The error a system gave, when it refused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// An approval of exactly `hash`.
    Approved {
        /// Who approved.
        by: String,
        /// The content approved.
        hash: String,
        /// The groups of its route the approval counts for.
        #[serde(default)]
        groups: Vec<String>,
        /// Its route when approved.
        #[serde(default)]
        route: String,
        /// A note.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Apply began.
    ApplyStarted {
        /// The content applied.
        hash: String,
        /// The resource.
        #[serde(default)]
        resource: String,
        /// What it will change.
        #[serde(default)]
        changes: Vec<String>,
        /// Whether it adopts what exists.
        #[serde(default)]
        adopt: bool,
    },
    /// One change of an apply, before (`done: false`) and after.
    Step {
        /// The change.
        change: String,
        /// Whether it is made.
        done: bool,
    },
    /// Applied.
    Applied {
        /// The content applied.
        hash: String,
        /// The resource: the database, bucket, secret path or repository.
        #[serde(alias = "database")]
        resource: String,
        /// The instance a database is on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
        /// A database's login role.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
        /// Where a database's credentials are.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret_path: Option<String>,
        /// A cloud resource's ARN.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        arn: Option<String>,
        /// Whether apply created it (else it adopted it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        created: Option<bool>,
        /// The changes made.
        #[serde(default)]
        changes: Vec<String>,
        /// Resources added.
        #[serde(default)]
        added: i64,
        /// Resources changed.
        #[serde(default)]
        changed: i64,
        /// The owning team.
        #[serde(default)]
        owner: String,
        /// Who asked.
        #[serde(default)]
        requester: String,
        /// The files delivered to the GitOps repository.
        #[serde(default)]
        delivered: Vec<String>,
    },
    /// Apply failed.
    Failed {
        /// The content.
        #[serde(default)]
        hash: String,
        /// The error.
        error: String,
    },
    /// Torn down with the foundational component it was on (a cascade):
    /// its deliveries withdrawn, its resource gone.
    TornDown {
        /// The foundational teardown that took it.
        by: String,
        /// The files removed.
        #[serde(default)]
        removed: Vec<String>,
    },
    /// Withdrawn: its deliveries removed from the cluster's repository;
    /// the resource itself is kept.
    Withdrawn {
        /// The files removed.
        #[serde(default)]
        removed: Vec<String>,
        /// Why.
        #[serde(default)]
        reason: Option<String>,
    },
}

impl RequestEventDetail {
    /// The registry's event word.
    pub fn event(&self) -> &'static str {
        match self {
            RequestEventDetail::Planned { .. } => "planned",
            RequestEventDetail::Refused { .. } => "refused",
            RequestEventDetail::Approved { .. } => "approved",
            RequestEventDetail::ApplyStarted { .. } => "apply_started",
            RequestEventDetail::Step { .. } => "step",
            RequestEventDetail::Applied { .. } => "applied",
            RequestEventDetail::Failed { .. } => "failed",
            RequestEventDetail::Withdrawn { .. } => "withdrawn",
            RequestEventDetail::TornDown { .. } => "torn_down",
        }
    }

    /// The content hash it names, if any.
    pub fn hash(&self) -> Option<&str> {
        match self {
            RequestEventDetail::Planned { hash, .. }
            | RequestEventDetail::Refused { hash, .. }
            | RequestEventDetail::Approved { hash, .. }
            | RequestEventDetail::ApplyStarted { hash, .. }
            | RequestEventDetail::Applied { hash, .. }
            | RequestEventDetail::Failed { hash, .. } => Some(hash),
            RequestEventDetail::Step { .. }
            | RequestEventDetail::Withdrawn { .. }
            | RequestEventDetail::TornDown { .. } => None,
        }
    }

    /// The row's detail column: the fields without the event word.
    fn detail(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("event");
        }
        v
    }

    /// Reads a row; `None` for an event word or detail goldenpath does not
    /// write.
    pub fn of(row: &RequestEvent) -> Option<RequestEventDetail> {
        let mut v = match &row.detail {
            Some(serde_json::Value::Object(o)) => serde_json::Value::Object(o.clone()),
            None | Some(serde_json::Value::Null) => serde_json::json!({}),
            Some(_) => return None,
        };
        v.as_object_mut()?
            .insert("event".into(), serde_json::json!(row.event));
        serde_json::from_value(v).ok()
    }
}

/// A request event, typed, with its row's facts.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypedEvent {
    /// The request.
    pub request: String,
    /// Its kind.
    pub kind: String,
    /// Its environment.
    pub env: String,
    /// Who.
    pub actor: String,
    /// When (µs).
    pub at_us: i64,
    /// What, `None` for a row goldenpath does not write.
    pub detail: Option<RequestEventDetail>,
    /// The event word as stored.
    pub event: String,
}

impl TypedEvent {
    fn of(row: &RequestEvent) -> TypedEvent {
        TypedEvent {
            request: row.request_id.clone(),
            kind: row.kind.clone(),
            env: row.env.clone(),
            actor: row.actor.clone(),
            at_us: row.at_us,
            detail: RequestEventDetail::of(row),
            event: row.event.clone(),
        }
    }
}

impl Engine<'_> {
    /// Records an event of a request.
    pub(crate) fn record(
        &self,
        r: &Request,
        detail: RequestEventDetail,
    ) -> Result<(), EngineError> {
        self.record_for(r.id().value.as_str(), r.kind().as_str(), r.env(), detail)
    }

    /// Records an event of a request known by its id, kind and environment
    /// (a withdrawal of a request whose file is gone).
    pub(crate) fn record_for(
        &self,
        request: &str,
        kind: &str,
        env: &str,
        detail: RequestEventDetail,
    ) -> Result<(), EngineError> {
        self.registry.record_request(&RequestEvent {
            id: new_id(),
            request_id: request.to_string(),
            kind: kind.to_string(),
            env: env.to_string(),
            event: detail.event().into(),
            actor: self.actor.clone(),
            detail: Some(detail.detail()),
            at_us: now_us(),
        })?;
        Ok(())
    }

    /// Every request event that checks out against the registry's chain,
    /// oldest first, typed, and what does not (by request id in `stream`):
    /// for the read model, which shows those requests as tampered.
    pub fn request_history_checked(
        &self,
    ) -> Result<(Vec<TypedEvent>, Vec<gp_registry::Tampered>), EngineError> {
        let (events, tampered) = self.registry.request_events_checked(None)?;
        Ok((events.iter().map(TypedEvent::of).collect(), tampered))
    }

    /// Every request event (of one request), oldest first, typed. A
    /// tampered stream is an error: what decides reads this.
    pub fn request_history(&self, request: Option<&str>) -> Result<Vec<TypedEvent>, EngineError> {
        Ok(self
            .registry
            .request_events(request)?
            .iter()
            .map(TypedEvent::of)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(event: &str, detail: serde_json::Value) -> RequestEvent {
        RequestEvent {
            id: "e".into(),
            request_id: "RDS-0001".into(),
            kind: "rds".into(),
            env: "dev".into(),
            event: event.into(),
            actor: "a".into(),
            detail: Some(detail),
            at_us: 1,
        }
    }

    #[test]
    fn every_event_reads_back_as_written() {
        let all = [
            RequestEventDetail::Planned {
                hash: "h".into(),
                resource: "orders".into(),
                steps: vec!["create database orders".into()],
            },
            RequestEventDetail::Refused {
                hash: "h".into(),
                reasons: vec!["no".into()],
                approver: Some("bob".into()),
                error: None,
            },
            RequestEventDetail::Approved {
                by: "bob".into(),
                hash: "h".into(),
                groups: vec!["platform".into()],
                route: "platform".into(),
                reason: None,
            },
            RequestEventDetail::ApplyStarted {
                hash: "h".into(),
                resource: "b".into(),
                changes: vec![],
                adopt: true,
            },
            RequestEventDetail::Step {
                change: "c".into(),
                done: true,
            },
            RequestEventDetail::Applied {
                hash: "h".into(),
                resource: "orders".into(),
                instance: Some("rds".into()),
                role: Some("orders_app".into()),
                secret_path: Some("p/dev/orders/postgres".into()),
                arn: None,
                created: Some(true),
                changes: vec![],
                added: 3,
                changed: 0,
                owner: "t".into(),
                requester: "alice".into(),
                delivered: vec!["requests/dev/RDS-0001/x.yaml".into()],
            },
            RequestEventDetail::Failed {
                hash: "h".into(),
                error: "e".into(),
            },
            RequestEventDetail::Withdrawn {
                removed: vec![],
                reason: Some("done".into()),
            },
        ];
        for d in all {
            let r = row(d.event(), d.detail());
            assert_eq!(RequestEventDetail::of(&r), Some(d.clone()), "{}", d.event());
        }
    }

    #[test]
    fn rows_of_earlier_versions_read_and_strange_rows_do_not() {
        // An applied database of before: `database`, `secretPath`.
        let old = row(
            "applied",
            serde_json::json!({"instance": "rds", "database": "orders", "role": "orders_app", "secretPath": "p", "hash": "h", "added": 2, "changed": 0, "owner": "t", "requester": "alice"}),
        );
        let Some(RequestEventDetail::Applied { resource, role, .. }) = RequestEventDetail::of(&old)
        else {
            panic!("old applied row not read");
        };
        assert_eq!(
            (resource.as_str(), role.as_deref()),
            ("orders", Some("orders_app"))
        );
        // An approval without its approver, an unknown event, a detail
        // that is no object: none of them is anything.
        assert_eq!(
            RequestEventDetail::of(&row("approved", serde_json::json!({"hash": "h"}))),
            None
        );
        assert_eq!(
            RequestEventDetail::of(&row("approved_by_all", serde_json::json!({}))),
            None
        );
        assert_eq!(
            RequestEventDetail::of(&row("applied", serde_json::json!([1]))),
            None
        );
    }
}
