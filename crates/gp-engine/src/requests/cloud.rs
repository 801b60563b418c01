//! Bucket, secret and repository requests, planned and applied through the
//! cloud (`CloudResources`: AWS in the CLI). Each change is recorded
//! before (`step`, `done: false`) and after (`done: true`) it is made; a
//! resource tagged for another request is refused before any change.

use gp_core::request::{Desired, Request};
use gp_driver::cloud::CloudResources;

use super::events::RequestEventDetail;
use super::{RequestApplied, RequestPlan};
use crate::{Engine, EngineError};

impl Engine<'_> {
    fn cloud<'c>(
        r: &Request,
        cloud: Option<&'c dyn CloudResources>,
    ) -> Result<&'c dyn CloudResources, EngineError> {
        cloud.ok_or_else(|| {
            EngineError::usage(
                format!(
                    "{} requests are applied in a cloud, and this binary reaches none (built without the `aws` feature)",
                    r.kind().noun()
                ),
                None,
            )
        })
    }

    pub(crate) fn plan_cloud(
        &self,
        r: &Request,
        cloud: Option<&dyn CloudResources>,
        plan: &mut RequestPlan,
        refused: &mut Vec<String>,
    ) {
        let cloud = match Self::cloud(r, cloud) {
            Ok(c) => c,
            Err(e) => {
                plan.read_error = Some(e.to_string());
                return;
            }
        };
        match cloud.plan(&plan.desired) {
            Ok(p) => {
                if let Some(other) = p.tagged_request.as_ref().filter(|o| **o != r.id().value) {
                    refused.push(format!(
                        "{} {} exists and is tagged for request {other}",
                        r.kind().noun(),
                        plan.resource
                    ));
                }
                plan.exists = Some(p.exists);
                plan.changes = p.changes;
            }
            Err(e) => plan.read_error = Some(e.to_string()),
        }
    }

    pub(crate) fn apply_cloud(
        &self,
        r: &Request,
        desired: &Desired,
        cloud: Option<&dyn CloudResources>,
    ) -> Result<RequestApplied, EngineError> {
        let cloud = Self::cloud(r, cloud)?;
        let id = r.id().value.clone();
        let name = desired.name().to_string();
        let plan = cloud.plan(desired).map_err(|e| self.cloud_failed(r, &e))?;
        if let Some(other) = plan.tagged_request.as_ref().filter(|o| **o != id) {
            return Err(self.refuse(
                r,
                vec![format!(
                    "{} {name} exists and is tagged for request {other}; a request may only adopt what no one else owns",
                    r.kind().noun()
                )],
                None,
            ));
        }
        self.record(
            r,
            RequestEventDetail::ApplyStarted {
                hash: r.hash.clone(),
                resource: name.clone(),
                changes: plan.changes.clone(),
                adopt: plan.exists,
            },
        )?;
        let mut record_error = None;
        let result = cloud.apply(desired, &id, &mut |change, done| {
            if record_error.is_none()
                && let Err(e) = self.record(
                    r,
                    RequestEventDetail::Step {
                        change: change.to_string(),
                        done,
                    },
                )
            {
                record_error = Some(e);
            }
        });
        if let Some(e) = record_error {
            return Err(e);
        }
        let done = result.map_err(|e| self.cloud_failed(r, &e))?;
        let counts = gp_driver::Counts {
            added: i64::from(done.created),
            changed: i64::from(!done.created && !done.changes.is_empty()),
            destroyed: 0,
        };
        Ok(RequestApplied {
            request: id,
            kind: r.kind(),
            env: r.env().to_string(),
            resource: name,
            instance: None,
            role: None,
            secret_path: None,
            arn: Some(done.arn),
            created: done.created,
            changes: done.changes,
            counts,
            delivered: Vec::new(),
        })
    }

    /// A cloud failure, recorded; a refusal (someone else's resource) is
    /// exit 3, the rest exit 1.
    fn cloud_failed(&self, r: &Request, e: &gp_driver::DriverError) -> EngineError {
        let refused = e.kind == gp_driver::ErrorKind::Refused;
        let detail = if refused {
            RequestEventDetail::Refused {
                hash: r.hash.clone(),
                reasons: Vec::new(),
                approver: None,
                error: Some(e.to_string()),
            }
        } else {
            RequestEventDetail::Failed {
                hash: r.hash.clone(),
                error: e.to_string(),
            }
        };
        if let Err(rec) = self.record(r, detail) {
            return rec;
        }
        let message = format!("request {}: {e}", r.id().value);
        if refused {
            EngineError::refused(message, e.hint.clone())
        } else {
            EngineError::failed(message, e.hint.clone())
        }
    }
}
