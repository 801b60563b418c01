//! Approvals: who may approve a request, and whether the approvals its
//! route needs are recorded for its current content.
//!
//! An approval binds the SHA-256 of the request's content, so an edit
//! needs new approvals. With `requests.approvers` configured, an approval
//! counts for the groups of the request's route its approver belongs to,
//! and the request is approved when every group has one; without, any one
//! approval does. Nobody who asked for the request approves it, nobody
//! approves outside the groups of its route, and the same person
//! approving the same content twice is one approval (the second is
//! refused, and recorded as a refusal).

use gp_core::request::{Request, Route};
use serde::Serialize;

use super::events::{RequestEventDetail, TypedEvent};
use crate::{Engine, EngineError};

/// Whether two identities name the same person (`alice` and
/// `alice@runner-1` do; so do `Alice` and `alice`).
pub fn same_person(a: &str, b: &str) -> bool {
    let local = |s: &str| {
        s.trim()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_lowercase()
    };
    !a.trim().is_empty() && local(a) == local(b)
}

/// One recorded approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// Who approved.
    pub by: String,
    /// The groups it counts for (none when no approvers are configured).
    pub groups: Vec<String>,
    /// When (µs).
    pub at_us: i64,
}

/// Where a request's approvals stand, for its current content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalState {
    /// Who must approve.
    pub route: Route,
    /// The approvals of its current content, one per person, oldest first.
    pub approvals: Vec<Approval>,
    /// The groups still to approve it.
    pub missing: Vec<String>,
    /// Whether there are approvals of another content (it was edited
    /// since).
    pub changed_since: bool,
}

impl ApprovalState {
    /// Every approval its route needs is recorded.
    pub fn complete(&self) -> bool {
        self.route == Route::SelfServe || (self.missing.is_empty() && !self.approvals.is_empty())
    }

    /// The approvers, for a message: `bob (platform), carol (security)`.
    pub fn by(&self) -> String {
        self.approvals
            .iter()
            .map(|a| {
                if a.groups.is_empty() {
                    a.by.clone()
                } else {
                    format!("{} ({})", a.by, a.groups.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// From a request's events (oldest first).
    pub(crate) fn from_events(
        route: Route,
        hash: &str,
        configured: bool,
        events: &[TypedEvent],
    ) -> ApprovalState {
        let mut approvals: Vec<Approval> = Vec::new();
        let mut changed_since = false;
        for e in events {
            let Some(RequestEventDetail::Approved {
                by,
                hash: h,
                groups,
                ..
            }) = &e.detail
            else {
                continue;
            };
            if h != hash {
                changed_since = true;
                continue;
            }
            if approvals.iter().any(|a| same_person(&a.by, by)) {
                continue;
            }
            approvals.push(Approval {
                by: by.clone(),
                groups: if configured {
                    groups.clone()
                } else {
                    Vec::new()
                },
                at_us: e.at_us,
            });
        }
        let missing = route
            .groups()
            .iter()
            .filter(|g| {
                if configured {
                    !approvals.iter().any(|a| a.groups.iter().any(|x| x == *g))
                } else {
                    approvals.is_empty()
                }
            })
            .map(|g| g.to_string())
            .collect();
        ApprovalState {
            route,
            approvals,
            missing,
            changed_since: changed_since && route != Route::SelfServe,
        }
    }
}

impl Engine<'_> {
    /// Whether `requests.approvers` names any group.
    fn approvers_configured(&self) -> bool {
        self.platform
            .spec
            .requests
            .as_ref()
            .is_some_and(|q| !q.approvers.is_empty())
    }

    /// Where a request's approvals stand for its current content.
    pub fn request_approval(&self, r: &Request) -> Result<ApprovalState, EngineError> {
        let events = self.request_history(Some(&r.id().value))?;
        Ok(ApprovalState::from_events(
            r.route(),
            &r.hash,
            self.approvers_configured(),
            &events,
        ))
    }

    /// Records an approval of the request's current content by
    /// `approver`, refusing (recorded, exit 3) someone who asked for it,
    /// someone of no group its route needs (with approvers configured), and
    /// a second approval of the same content by the same person. Returns
    /// the state after it.
    pub fn request_approve(
        &self,
        r: &Request,
        approver: &str,
        reason: Option<&str>,
    ) -> Result<ApprovalState, EngineError> {
        let id = &r.id().value;
        let refuse = |why: String, hint: &str| -> EngineError {
            if let Err(e) = self.record(
                r,
                RequestEventDetail::Refused {
                    hash: r.hash.clone(),
                    reasons: vec![why.clone()],
                    approver: Some(approver.to_string()),
                    error: None,
                },
            ) {
                return e;
            }
            EngineError::refused(why, Some(hint.to_string()))
        };
        let claims = self.request_claims(r)?;
        if let Some(c) = claims.first() {
            return Err(refuse(
                format!("request {id} claims what someone else owns: {}", c.message),
                "fix the request; nothing is approved that could never be applied",
            ));
        }
        if let Some(asker) = self
            .request_askers(r)?
            .into_iter()
            .find(|a| same_person(&a.who, approver))
        {
            return Err(refuse(
                format!(
                    "{approver} {} request {id} and cannot approve it: an approval comes from someone else",
                    asker.role
                ),
                "ask an approver to run `goldenpath request approve`",
            ));
        }
        let approvers = self
            .platform
            .spec
            .requests
            .as_ref()
            .map(|q| q.approvers.clone())
            .unwrap_or_default();
        let route = r.route();
        let groups: Vec<String> = route
            .groups()
            .iter()
            .filter(|g| {
                approvers
                    .get(**g)
                    .is_some_and(|people| people.iter().any(|p| same_person(p, approver)))
            })
            .map(|g| g.to_string())
            .collect();
        if !approvers.is_empty() && route != Route::SelfServe && groups.is_empty() {
            let who = route
                .groups()
                .iter()
                .map(|g| {
                    format!(
                        "{g}: {}",
                        approvers
                            .get(*g)
                            .map(|p| p.join(", "))
                            .unwrap_or_else(|| "nobody configured".into())
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(refuse(
                format!(
                    "{approver} is not an approver for request {id} (it routes to {}: {who})",
                    route.as_str()
                ),
                "ask someone of that group (requests.approvers in the spec)",
            ));
        }
        let before = self.request_approval(r)?;
        if let Some(a) = before
            .approvals
            .iter()
            .find(|a| same_person(&a.by, approver))
        {
            return Err(refuse(
                format!(
                    "{approver} approved this content of request {id} already ({}); one person's approval counts once",
                    gp_registry::format_utc(a.at_us)
                ),
                "another approver of its route approves it",
            ));
        }
        self.record(
            r,
            RequestEventDetail::Approved {
                by: approver.to_string(),
                hash: r.hash.clone(),
                groups,
                route: route.as_str().into(),
                reason: reason.map(str::to_string),
            },
        )?;
        self.request_approval(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approved(by: &str, hash: &str, groups: &[&str], at: i64) -> TypedEvent {
        TypedEvent {
            request: "RDS-0001".into(),
            kind: "rds".into(),
            env: "prod".into(),
            actor: by.into(),
            at_us: at,
            event: "approved".into(),
            detail: Some(RequestEventDetail::Approved {
                by: by.into(),
                hash: hash.into(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                route: String::new(),
                reason: None,
            }),
        }
    }

    #[test]
    fn a_route_of_two_groups_needs_both() {
        let route = Route::PlatformAndSecurity;
        let none = ApprovalState::from_events(route, "h", true, &[]);
        assert_eq!(none.missing, ["platform", "security"]);
        assert!(!none.complete());
        let one = ApprovalState::from_events(
            route,
            "h",
            true,
            &[approved("paula", "h", &["platform"], 1)],
        );
        assert_eq!(one.missing, ["security"]);
        assert!(!one.complete());
        let both = ApprovalState::from_events(
            route,
            "h",
            true,
            &[
                approved("paula", "h", &["platform"], 1),
                approved("sam", "h", &["security"], 2),
            ],
        );
        assert!(both.missing.is_empty());
        assert!(both.complete());
        assert_eq!(both.by(), "paula (platform), sam (security)");
    }

    #[test]
    fn the_same_person_twice_is_one_approval() {
        let twice = ApprovalState::from_events(
            Route::PlatformAndSecurity,
            "h",
            true,
            &[
                approved("paula", "h", &["platform"], 1),
                approved("Paula@runner", "h", &["platform"], 2),
            ],
        );
        assert_eq!(twice.approvals.len(), 1);
        assert_eq!(twice.missing, ["security"]);
    }

    #[test]
    fn an_edit_voids_approvals_and_says_so() {
        let edited = ApprovalState::from_events(
            Route::Platform,
            "new",
            true,
            &[approved("paula", "old", &["platform"], 1)],
        );
        assert!(edited.approvals.is_empty());
        assert!(edited.changed_since);
        assert!(!edited.complete());
        // A self-serve request is complete without any.
        let free = ApprovalState::from_events(Route::SelfServe, "h", true, &[]);
        assert!(free.complete());
        assert!(!free.changed_since);
    }

    #[test]
    fn without_approvers_one_approval_of_anyone_counts_for_every_group() {
        let s = ApprovalState::from_events(
            Route::PlatformAndSecurity,
            "h",
            false,
            &[approved("bob", "h", &[], 1)],
        );
        assert!(s.complete());
        let s = ApprovalState::from_events(Route::PlatformAndSecurity, "h", false, &[]);
        assert_eq!(s.missing, ["platform", "security"]);
    }

    #[test]
    fn identities() {
        assert!(same_person("alice", "alice@runner-1"));
        assert!(same_person("Alice", "alice"));
        assert!(!same_person("alice", "alicia"));
        assert!(!same_person("", ""));
        assert!(!same_person(" ", "x"));
    }
}
