//! The one read model of requests: each request (from its file, the
//! registry, or both) with the state that is true of it, its approvals of
//! the current content, and its last change. `request list`, the API and
//! the dashboard all show these rows.

use std::collections::BTreeMap;

use gp_core::request::Request;
use serde::Serialize;

use super::approval::{Approval, ApprovalState, same_person};
use super::events::{RequestEventDetail, TypedEvent};
use crate::{Engine, EngineError};

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RequestState {
    /// Its file does not read (`request validate` says why).
    Invalid,
    /// It breaks a rule of the platform.
    BreaksARule,
    /// An approval its route needs is missing for its current content.
    Awaiting,
    /// It was approved, then edited: the approvals were of another content.
    ChangedSinceApproval,
    /// Every approval its route needs is recorded; not applied yet.
    Approved,
    /// Nothing recorded beyond a plan; it needs no approval.
    NotApplied,
    /// Its last apply was refused.
    Refused,
    /// Its last apply failed.
    Failed,
    /// An apply started and did not finish (running, or interrupted).
    Applying,
    /// Applied with its current content.
    Applied,
    /// Applied with another content; the file was edited since.
    ChangedSinceApply,
    /// Its deliveries were withdrawn (the resource kept).
    Withdrawn,
    /// Torn down with the foundational component it was on.
    TornDown,
    /// Its events in the registry do not check out against the chain:
    /// nothing is derived from them (`registry verify` names the rows).
    Tampered,
}

/// The last change of a request (a plan, a step of an apply and a refused
/// approval are none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastChange {
    /// The event.
    pub event: String,
    /// Who.
    pub by: String,
    /// When (µs).
    pub at_us: i64,
}

/// One request as every reader shows it.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestRow {
    /// Its id.
    pub request: String,
    /// `rds`, `s3`, `secret`, `ecr`.
    pub kind: String,
    /// Its environment.
    pub env: String,
    /// The database, bucket, secret or repository it asks for.
    pub resource: String,
    /// Its file, relative to the spec (`None`: known from the registry only).
    pub file: Option<String>,
    /// Where it stands.
    pub status: RequestState,
    /// The same, in words: `awaiting platform, security`, `applied`, ...
    pub state: String,
    /// The approvals of its current content, one per person.
    pub approvals: Vec<Approval>,
    /// The groups still to approve its current content.
    pub missing: Vec<String>,
    /// Whether an approval is missing (the dashboard offers its form).
    pub awaiting_approval: bool,
    /// Its last change.
    pub last: Option<LastChange>,
    /// Everything recorded about it, oldest first.
    pub events: Vec<TypedEvent>,
}

/// What a file tells of its request.
struct FileFacts {
    kind: String,
    env: String,
    resource: String,
    file: Option<String>,
    breaks_rules: bool,
    approval: Option<ApprovalState>,
    hash: Option<String>,
}

/// The state and its words, from the file's facts and the events.
fn state_of(facts: &FileFacts, events: &[TypedEvent]) -> (RequestState, String) {
    // The latest lifecycle event (approvals, plans and steps are not).
    let lifecycle = events.iter().rev().find_map(|e| match &e.detail {
        Some(
            d @ (RequestEventDetail::Applied { .. }
            | RequestEventDetail::ApplyStarted { .. }
            | RequestEventDetail::Failed { .. }
            | RequestEventDetail::Withdrawn { .. }
            | RequestEventDetail::TornDown { .. }),
        ) => Some(d),
        Some(d @ RequestEventDetail::Refused { approver: None, .. }) => Some(d),
        _ => None,
    });
    let current = |h: &str| facts.hash.as_deref().is_none_or(|x| x == h);
    let words = |s: RequestState| -> String {
        match s {
            RequestState::BreaksARule => "breaks a rule (request validate)".into(),
            RequestState::NotApplied => "not applied".into(),
            RequestState::ChangedSinceApproval => "changed since approval".into(),
            RequestState::ChangedSinceApply => "changed since apply".into(),
            RequestState::Applying => "applying (or interrupted)".into(),
            other => serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        }
    };
    if facts.file.is_some() && facts.hash.is_none() {
        return (RequestState::Invalid, "invalid (request validate)".into());
    }
    match lifecycle {
        Some(RequestEventDetail::Withdrawn { .. }) => {
            return (RequestState::Withdrawn, words(RequestState::Withdrawn));
        }
        Some(RequestEventDetail::TornDown { by, .. }) => {
            return (RequestState::TornDown, format!("torn down with {by}"));
        }
        Some(RequestEventDetail::Applied { hash, .. }) if current(hash) => {
            return (RequestState::Applied, words(RequestState::Applied));
        }
        Some(RequestEventDetail::ApplyStarted { hash, .. }) if current(hash) => {
            return (RequestState::Applying, words(RequestState::Applying));
        }
        _ => {}
    }
    if facts.breaks_rules {
        return (RequestState::BreaksARule, words(RequestState::BreaksARule));
    }
    if let Some(a) = &facts.approval
        && a.route != gp_core::request::Route::SelfServe
    {
        if a.complete() {
            return (RequestState::Approved, words(RequestState::Approved));
        }
        if a.approvals.is_empty() && a.changed_since {
            return (
                RequestState::ChangedSinceApproval,
                words(RequestState::ChangedSinceApproval),
            );
        }
        return (
            RequestState::Awaiting,
            format!("awaiting {}", a.missing.join(", ")),
        );
    }
    let state = match lifecycle {
        Some(RequestEventDetail::Applied { .. } | RequestEventDetail::ApplyStarted { .. }) => {
            RequestState::ChangedSinceApply
        }
        Some(RequestEventDetail::Failed { hash, .. }) if current(hash) => RequestState::Failed,
        Some(RequestEventDetail::Refused { hash, .. }) if current(hash) => RequestState::Refused,
        _ => RequestState::NotApplied,
    };
    (state, words(state))
}

impl Engine<'_> {
    /// Every request, from its files and the registry, with its state (of
    /// one environment).
    pub fn request_rows(&self, env: Option<&str>) -> Result<Vec<RequestRow>, EngineError> {
        let loaded = self.requests_loaded()?;
        // A request whose events do not check out is shown as tampered,
        // its state derived from none of them.
        let (history, tampered) = self.request_history_checked()?;
        let configured = self
            .platform
            .spec
            .requests
            .as_ref()
            .is_some_and(|q| !q.approvers.is_empty());
        let mut by_id: BTreeMap<String, Vec<TypedEvent>> = BTreeMap::new();
        for e in history {
            by_id.entry(e.request.clone()).or_default().push(e);
        }
        let mut facts: BTreeMap<String, FileFacts> = BTreeMap::new();
        for r in &loaded.requests {
            let events = by_id
                .get(&r.id().value)
                .map(Vec::as_slice)
                .unwrap_or_default();
            facts.insert(r.id().value.clone(), self.facts(r, configured, events));
        }
        for (path, _) in &loaded.invalid {
            let shown = super::discover::shown(self.platform, path);
            facts.entry(shown.clone()).or_insert(FileFacts {
                kind: String::new(),
                env: String::new(),
                resource: String::new(),
                file: Some(shown),
                breaks_rules: false,
                approval: None,
                hash: None,
            });
        }
        for (id, events) in &by_id {
            if facts.contains_key(id) {
                continue;
            }
            let Some(first) = events.first() else {
                continue;
            };
            let resource = events
                .iter()
                .rev()
                .find_map(|e| match &e.detail {
                    Some(
                        RequestEventDetail::Applied { resource, .. }
                        | RequestEventDetail::ApplyStarted { resource, .. }
                        | RequestEventDetail::Planned { resource, .. },
                    ) => Some(resource.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            facts.insert(
                id.clone(),
                FileFacts {
                    kind: first.kind.clone(),
                    env: first.env.clone(),
                    resource,
                    file: None,
                    breaks_rules: false,
                    approval: None,
                    hash: None,
                },
            );
        }
        for t in &tampered {
            facts.entry(t.stream.clone()).or_insert(FileFacts {
                kind: String::new(),
                env: String::new(),
                resource: String::new(),
                file: None,
                breaks_rules: false,
                approval: None,
                hash: None,
            });
        }
        let mut rows = Vec::new();
        for (id, mut f) in facts {
            let broken = tampered.iter().find(|t| t.stream == id);
            // An environment known from nothing trusted: shown whatever is
            // asked for, never hidden.
            if env.is_some_and(|e| e != f.env) && !(broken.is_some() && f.env.is_empty()) {
                continue;
            }
            if let Some(t) = broken {
                f.approval = None;
                rows.push(RequestRow {
                    request: id,
                    kind: f.kind,
                    env: f.env,
                    resource: f.resource,
                    file: f.file,
                    awaiting_approval: false,
                    status: RequestState::Tampered,
                    state: format!("tampered: {}", t.describe()),
                    approvals: Vec::new(),
                    missing: Vec::new(),
                    last: None,
                    events: Vec::new(),
                });
                continue;
            }
            let events = by_id.remove(&id).unwrap_or_default();
            let (status, state) = state_of(&f, &events);
            let last = events
                .iter()
                .rev()
                .find(|e| {
                    !matches!(
                        e.detail,
                        Some(RequestEventDetail::Step { .. })
                            | Some(RequestEventDetail::Planned { .. })
                            | Some(RequestEventDetail::Refused {
                                approver: Some(_),
                                ..
                            })
                    )
                })
                .map(|e| LastChange {
                    event: e.event.clone(),
                    by: e.actor.clone(),
                    at_us: e.at_us,
                });
            let (approvals, missing) = f
                .approval
                .as_ref()
                .map(|a| (a.approvals.clone(), a.missing.clone()))
                .unwrap_or_default();
            rows.push(RequestRow {
                request: id,
                kind: f.kind,
                env: f.env,
                resource: f.resource,
                file: f.file,
                awaiting_approval: matches!(
                    status,
                    RequestState::Awaiting | RequestState::ChangedSinceApproval
                ),
                status,
                state,
                approvals,
                missing,
                last,
                events,
            });
        }
        Ok(rows)
    }

    fn facts(&self, r: &Request, configured: bool, events: &[TypedEvent]) -> FileFacts {
        FileFacts {
            kind: r.kind().as_str().into(),
            env: r.env().into(),
            resource: self
                .request_desired(r)
                .map(|d| d.name().to_string())
                .unwrap_or_else(|_| r.resource_name().to_string()),
            file: Some(r.path.display().to_string()),
            breaks_rules: !r.guard(self.platform).is_empty(),
            approval: Some(ApprovalState::from_events(
                r.route(),
                &r.hash,
                configured,
                events,
            )),
            hash: Some(r.hash.clone()),
        }
    }
}

/// Whether `who` approved a request's current content.
pub fn approved_by(state: &ApprovalState, who: &str) -> bool {
    state.approvals.iter().any(|a| same_person(&a.by, who))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gp_core::request::Route;

    fn ev(detail: RequestEventDetail) -> TypedEvent {
        TypedEvent {
            request: "S3-0001".into(),
            kind: "s3".into(),
            env: "dev".into(),
            actor: "a".into(),
            at_us: 1,
            event: detail.event().into(),
            detail: Some(detail),
        }
    }

    fn facts(hash: &str, route: Route, approvals: &[TypedEvent]) -> FileFacts {
        FileFacts {
            kind: "s3".into(),
            env: "dev".into(),
            resource: "b".into(),
            file: Some("requests/S3-0001.yaml".into()),
            breaks_rules: false,
            approval: Some(ApprovalState::from_events(route, hash, true, approvals)),
            hash: Some(hash.into()),
        }
    }

    fn applied(hash: &str) -> TypedEvent {
        ev(RequestEventDetail::Applied {
            hash: hash.into(),
            resource: "b".into(),
            instance: None,
            role: None,
            secret_path: None,
            arn: None,
            created: Some(true),
            changes: vec![],
            added: 1,
            changed: 0,
            owner: String::new(),
            requester: String::new(),
            delivered: vec![],
        })
    }

    fn approval(by: &str, hash: &str, group: &str) -> TypedEvent {
        ev(RequestEventDetail::Approved {
            by: by.into(),
            hash: hash.into(),
            groups: vec![group.into()],
            route: String::new(),
            reason: None,
        })
    }

    #[test]
    fn each_state_says_what_is_true() {
        let route = Route::PlatformAndSecurity;
        let s = |f: &FileFacts, e: &[TypedEvent]| state_of(f, e);
        assert_eq!(
            s(&facts("h", route, &[]), &[]).1,
            "awaiting platform, security"
        );
        let one = [approval("paula", "h", "platform")];
        assert_eq!(s(&facts("h", route, &one), &one).1, "awaiting security");
        let both = [
            approval("paula", "h", "platform"),
            approval("sam", "h", "security"),
        ];
        assert_eq!(
            s(&facts("h", route, &both), &both).0,
            RequestState::Approved
        );
        let old = [approval("paula", "old", "platform")];
        assert_eq!(
            s(&facts("h", route, &old), &old).0,
            RequestState::ChangedSinceApproval
        );
        let done = [both[0].clone(), both[1].clone(), applied("h")];
        assert_eq!(s(&facts("h", route, &done), &done).0, RequestState::Applied);
        // Applied, then edited: a request that needs approvals waits for
        // them again; one that does not is changed since apply.
        let edited = [applied("old")];
        assert_eq!(
            s(&facts("h", Route::SelfServe, &edited), &edited).0,
            RequestState::ChangedSinceApply
        );
        assert_eq!(
            s(&facts("h", Route::SelfServe, &[]), &[]).0,
            RequestState::NotApplied
        );
        let withdrawn = [
            applied("h"),
            ev(RequestEventDetail::Withdrawn {
                removed: vec![],
                reason: None,
            }),
        ];
        assert_eq!(
            s(&facts("h", Route::SelfServe, &withdrawn), &withdrawn).0,
            RequestState::Withdrawn
        );
        // A refused approval changes nothing.
        let refused = [ev(RequestEventDetail::Refused {
            hash: "h".into(),
            reasons: vec![],
            approver: Some("alice".into()),
            error: None,
        })];
        assert_eq!(
            s(&facts("h", route, &refused), &refused).1,
            "awaiting platform, security"
        );
        let mut broken = facts("h", route, &[]);
        broken.breaks_rules = true;
        assert_eq!(s(&broken, &[]).0, RequestState::BreaksARule);
    }
}
