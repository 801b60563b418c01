//! Self-service requests: the engine owns their lifecycle — discover,
//! validate, plan, approve, apply, withdraw — and records each step as a
//! typed request event ([`events`]). The CLI and `goldenpath serve` call
//! these and only print what they return; the rows they show come from one
//! read model ([`view`]).
//!
//! Every kind takes the same path: the file is read through the one reader
//! of `gp_core::request` (invalid input, exit 2), its claims are checked
//! against what others own ([`ownership`], exit 2), the platform's rules
//! (refused, recorded, exit 3), its approvals ([`approval`], exit 3);
//! then, under the environment's foundational lease, what it asks for is
//! made — a database on the foundational instance through its driver
//! ([`database`]), a bucket, secret or repository through the cloud
//! ([`cloud`]) — and what it delivers to the cluster goes through the
//! driver that delivers ([`deliver`]: the policy gate, the journal, one
//! commit and push). What would be delivered is rendered and passed
//! through the policies before anything is made.

use gp_core::request::{Desired, Request, RequestKind};
use gp_core::{Contract, Deployment, Diagnostic};
use serde::Serialize;

use crate::{Engine, EngineError};

pub mod approval;
mod cloud;
mod database;
pub mod deliver;
pub mod discover;
pub mod events;
pub mod new;
pub mod ownership;
pub mod view;

pub use approval::{Approval, ApprovalState, same_person};
pub use events::{RequestEventDetail, TypedEvent};
pub use ownership::AppliedRequest;
pub use view::{RequestRow, RequestState};

/// A driver error as the engine reports it.
pub(crate) fn driver_error(e: gp_driver::DriverError) -> EngineError {
    crate::provision::driver_error(e)
}

/// What `request validate` finds of one request (beyond its schema, which
/// it passed).
#[derive(Clone, Debug)]
pub struct RequestCheck {
    /// The platform's rules it breaks (each a refusal).
    pub refusals: Vec<Diagnostic>,
    /// What it does not follow of the conventions (accepted).
    pub advice: Vec<Diagnostic>,
    /// Whether it needs an approval, and why.
    pub needs_approval: Option<&'static str>,
}

/// What applying a request would do.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestPlan {
    /// The request.
    pub request: String,
    /// Its kind.
    pub kind: RequestKind,
    /// Its environment (`global` for a repository that names none).
    pub env: String,
    /// The resource: database, bucket, secret path, repository.
    pub resource: String,
    /// What apply makes, the platform's defaults filled in (and named).
    pub desired: Desired,
    /// The instance a database goes on.
    pub instance: Option<String>,
    /// Whether the resource exists already (`None`: not read).
    pub exists: Option<bool>,
    /// Who owns a database of that name on the instance, if one exists.
    pub existing_owner: Option<String>,
    /// What apply would change, in order; empty when it is as asked.
    pub changes: Vec<String>,
    /// Why what is there could not be read.
    pub read_error: Option<String>,
    /// The files apply delivers to the cluster's repository, by path.
    pub deliveries: std::collections::BTreeMap<String, String>,
    /// Everything that refuses it: broken rules, what others own, a
    /// policy `deny`.
    pub refused: Vec<String>,
    /// Where its approvals stand.
    pub approval: ApprovalState,
    /// Why it needs an approval (`None`: it does not).
    pub approval_reason: Option<&'static str>,
    /// The content an approval binds to.
    pub hash: String,
    /// The rules it breaks, positioned.
    #[serde(skip)]
    pub refusals: Vec<Diagnostic>,
}

/// What applying a request did.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestApplied {
    /// The request.
    pub request: String,
    /// Its kind.
    pub kind: RequestKind,
    /// Its environment.
    pub env: String,
    /// The resource.
    pub resource: String,
    /// The instance a database is on.
    pub instance: Option<String>,
    /// A database's role.
    pub role: Option<String>,
    /// Where a database's credentials are.
    pub secret_path: Option<String>,
    /// A cloud resource's ARN.
    pub arn: Option<String>,
    /// Whether apply created it (else it was there and adopted).
    pub created: bool,
    /// The changes made; none when it was as asked.
    pub changes: Vec<String>,
    /// Resources added and changed.
    pub counts: gp_driver::Counts,
    /// The files delivered to the cluster's repository.
    pub delivered: Vec<String>,
}

/// What withdrawing a request did.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestWithdrawn {
    /// The request.
    pub request: String,
    /// Its environment.
    pub env: String,
    /// The files removed from the cluster's repository.
    pub removed: Vec<String>,
    /// The resource, kept (its data is never deleted by a withdrawal).
    pub kept: Option<String>,
}

impl Engine<'_> {
    /// The contract a request's names come from: its environment's
    /// foundational plane (a repository for every environment: the first
    /// one's, whose prefix is the platform's).
    pub(crate) fn request_contract(&self, r: &Request) -> Result<Contract<'_>, EngineError> {
        let env = match self.platform.environment(r.env()) {
            Some(_) => r.env().to_string(),
            None if r.env() == gp_core::request::GLOBAL => self
                .platform
                .environment_names()
                .next()
                .unwrap_or_default()
                .to_string(),
            None => r.env().to_string(),
        };
        Ok(Contract::new(
            self.platform,
            &env,
            Deployment::Foundational,
        )?)
    }

    /// What the request makes, in its environment's contract.
    pub fn request_desired(&self, r: &Request) -> Result<Desired, EngineError> {
        Ok(r.desired(&self.request_contract(r)?))
    }

    /// `request validate` of one request that passed its schema: what
    /// others own (exit 2 through `?`), the rules it breaks, its advice and
    /// whether it needs an approval.
    pub fn request_check(&self, r: &Request) -> Result<RequestCheck, EngineError> {
        let mut refusals = self.request_claims(r)?;
        refusals.extend(r.guard(self.platform));
        Ok(RequestCheck {
            refusals,
            advice: r.advice(self.platform),
            needs_approval: r.needs_approval().then(|| r.approval_reason()),
        })
    }

    /// What applying would do: the rules it breaks, what is there now and
    /// each change, what it delivers and whether a policy denies it, the
    /// approvals it needs and has. Recorded as `planned` or `refused`.
    pub fn request_plan(
        &self,
        r: &Request,
        cloud: Option<&dyn gp_driver::cloud::CloudResources>,
    ) -> Result<RequestPlan, EngineError> {
        let plan = self.request_plan_unrecorded(r, cloud)?;
        self.record(
            r,
            if plan.refused.is_empty() {
                RequestEventDetail::Planned {
                    hash: r.hash.clone(),
                    resource: plan.resource.clone(),
                    steps: plan.changes.clone(),
                }
            } else {
                RequestEventDetail::Refused {
                    hash: r.hash.clone(),
                    reasons: plan.refused.clone(),
                    approver: None,
                    error: None,
                }
            },
        )?;
        Ok(plan)
    }

    /// [`Self::request_plan`] without recording it: what `drift` asks of an
    /// applied request.
    pub(crate) fn request_plan_unrecorded(
        &self,
        r: &Request,
        cloud: Option<&dyn gp_driver::cloud::CloudResources>,
    ) -> Result<RequestPlan, EngineError> {
        let mut refusals = self.request_claims(r)?;
        refusals.extend(r.guard(self.platform));
        let desired = self.request_desired(r)?;
        let mut refused: Vec<String> = refusals.iter().map(|d| d.message.clone()).collect();
        let deliveries = self.render_deliveries(r, &desired.deliveries())?;
        if refused.is_empty()
            && let Err(e) = self.gate_deliveries(r, &deliveries)
        {
            refused.push(e.to_string());
        }
        let mut plan = RequestPlan {
            request: r.id().value.clone(),
            kind: r.kind(),
            env: r.env().to_string(),
            resource: desired.name().to_string(),
            desired,
            instance: None,
            exists: None,
            existing_owner: None,
            changes: Vec::new(),
            read_error: None,
            deliveries,
            refused: Vec::new(),
            approval: self.request_approval(r)?,
            approval_reason: r.needs_approval().then(|| r.approval_reason()),
            hash: r.hash.clone(),
            refusals,
        };
        if refused.is_empty() {
            match r.kind() {
                RequestKind::Database => self.plan_database(r, &mut plan, &mut refused)?,
                _ => self.plan_cloud(r, cloud, &mut plan, &mut refused),
            }
        }
        plan.refused = refused;
        Ok(plan)
    }

    /// A refusal, recorded: nothing was changed.
    pub(crate) fn refuse(
        &self,
        r: &Request,
        reasons: Vec<String>,
        hint: Option<String>,
    ) -> EngineError {
        if let Err(e) = self.record(
            r,
            RequestEventDetail::Refused {
                hash: r.hash.clone(),
                reasons: reasons.clone(),
                approver: None,
                error: None,
            },
        ) {
            return e;
        }
        EngineError::refused(
            format!(
                "request {}: {}; nothing was changed",
                r.id().value,
                reasons.join("; ")
            ),
            hint,
        )
    }

    /// Applies a request (see the module): refused and recorded, with
    /// nothing changed, when it breaks a rule, lacks an approval its
    /// content needs, claims what someone else owns, or a policy denies
    /// what it delivers; otherwise made and delivered under the
    /// environment's foundational lease, each change recorded.
    pub fn request_apply(
        &self,
        r: &Request,
        cloud: Option<&dyn gp_driver::cloud::CloudResources>,
    ) -> Result<RequestApplied, EngineError> {
        let id = r.id().value.clone();
        let mut refusals = self.request_claims(r)?;
        refusals.extend(r.guard(self.platform));
        if !refusals.is_empty() {
            return Err(self.refuse(
                r,
                refusals.iter().map(|d| d.message.clone()).collect(),
                Some("fix the request, then run goldenpath request validate".into()),
            ));
        }
        let approval = self.request_approval(r)?;
        if !approval.complete() {
            let missing = if approval.missing.is_empty() {
                String::new()
            } else {
                format!(" (missing: {})", approval.missing.join(", "))
            };
            return Err(self.refuse(
                r,
                vec![format!(
                    "it needs an approval ({}) and none is recorded for its current content{missing}",
                    r.approval_reason()
                )],
                Some(format!(
                    "an approver (not the requester) runs: goldenpath request approve {id}"
                )),
            ));
        }
        if r.needs_approval()
            && r.requester().is_none()
            && approval
                .approvals
                .iter()
                .any(|a| same_person(&a.by, &self.actor))
        {
            return Err(self.refuse(
                r,
                vec![format!(
                    "{} approved it, and the file names no requester: whoever applies it is who asked, and an approval comes from someone else",
                    self.actor
                )],
                Some("someone other than its approvers applies it".into()),
            ));
        }
        let desired = self.request_desired(r)?;
        // What it delivers is rendered, checked and passed through the
        // policies before anything is made.
        let deliveries = desired.deliveries();
        let files = self.render_deliveries(r, &deliveries)?;
        if let Err(e) = self.gate_deliveries(r, &files) {
            return Err(self.refuse(r, vec![e.to_string()], None));
        }
        // Under the environment's foundational lease: two applies (or an
        // apply and a foundational deploy) take turns.
        let lease = match self.platform.environment(r.env()) {
            Some(_) => Some(self.take_lease(r.env(), &Deployment::Foundational.key())?),
            None => None,
        };
        let run_id = lease
            .as_ref()
            .map_or_else(gp_registry::new_id, |(run, _)| run.clone());
        let result = (|| {
            let mut applied = match r.kind() {
                RequestKind::Database => self.apply_database(r, &desired, &run_id)?,
                _ => self.apply_cloud(r, &desired, cloud)?,
            };
            match self.deliver(r, &run_id, &deliveries) {
                Ok(c) => {
                    applied.counts.added += c.added;
                    applied.counts.changed += c.changed;
                }
                Err(e) => {
                    self.record(
                        r,
                        RequestEventDetail::Failed {
                            hash: r.hash.clone(),
                            error: format!("{} made; its delivery failed: {e}", applied.resource),
                        },
                    )?;
                    return Err(e);
                }
            }
            applied.delivered = files.keys().cloned().collect();
            self.record(
                r,
                RequestEventDetail::Applied {
                    hash: r.hash.clone(),
                    resource: applied.resource.clone(),
                    instance: applied.instance.clone(),
                    role: applied.role.clone(),
                    secret_path: applied.secret_path.clone(),
                    arn: applied.arn.clone(),
                    created: Some(applied.created),
                    changes: applied.changes.clone(),
                    added: applied.counts.added,
                    changed: applied.counts.changed,
                    owner: r.owner().to_string(),
                    requester: r
                        .requester()
                        .map_or_else(|| self.actor.clone(), str::to_string),
                    delivered: applied.delivered.clone(),
                },
            )?;
            Ok(applied)
        })();
        if let Some((_, held)) = lease
            && let Err(e) = self.registry.lease_release(&held)
        {
            tracing::warn!("cannot release the lease: {e}");
        }
        result
    }

    /// Withdraws a request: what it delivered to the cluster is removed
    /// (journalled, committed, pushed) and the withdrawal recorded. The
    /// resource it made is kept: its data is never deleted by a
    /// withdrawal. Works from the registry when the file is gone.
    pub fn request_withdraw(
        &self,
        id: &str,
        reason: Option<&str>,
    ) -> Result<RequestWithdrawn, EngineError> {
        let applied = self
            .applied_requests(None)?
            .into_iter()
            .find(|a| a.request == id);
        let from_file = self.request_find(id, false).ok();
        let (kind, env, kept) = match (&applied, &from_file) {
            (Some(a), _) => (a.kind.clone(), a.env.clone(), Some(a.resource.clone())),
            (None, Some(r)) => (r.kind().as_str().to_string(), r.env().to_string(), None),
            (None, None) => {
                return Err(EngineError::usage(
                    format!("no request {} is applied or filed", id.escape_debug()),
                    Some("goldenpath request list".into()),
                ));
            }
        };
        let lease = match self.platform.environment(&env) {
            Some(_) => Some(self.take_lease(&env, &Deployment::Foundational.key())?),
            None => None,
        };
        let run_id = lease
            .as_ref()
            .map_or_else(gp_registry::new_id, |(run, _)| run.clone());
        let result = self
            .withdraw_deliveries(id, &env, &run_id)
            .and_then(|removed| {
                self.record_for(
                    id,
                    &kind,
                    &env,
                    RequestEventDetail::Withdrawn {
                        removed: removed.clone(),
                        reason: reason.map(str::to_string),
                    },
                )?;
                Ok(removed)
            });
        if let Some((_, held)) = lease
            && let Err(e) = self.registry.lease_release(&held)
        {
            tracing::warn!("cannot release the lease: {e}");
        }
        Ok(RequestWithdrawn {
            request: id.to_string(),
            env,
            removed: result?,
            kept,
        })
    }
}
