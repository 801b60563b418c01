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
                refused.extend(Self::may_take(r, &plan.resource, &p));
                plan.exists = Some(p.exists);
                plan.changes = p.changes;
            }
            Err(e) => plan.read_error = Some(e.to_string()),
        }
    }

    /// Why the request may not take what the cloud has: another request's,
    /// goldenpath's own (made for the platform or a build), something
    /// nobody owns that it does not ask to adopt, a change that weakens it
    /// that it does not ask for by name.
    fn may_take(r: &Request, name: &str, p: &gp_driver::cloud::CloudPlan) -> Vec<String> {
        let noun = r.kind().noun();
        let mine = p.tagged_request.as_deref() == Some(r.id().value.as_str());
        let mut out = Vec::new();
        if p.exists && !mine {
            if let Some(other) = &p.tagged_request {
                out.push(format!(
                    "{noun} {name} exists and is tagged for request {other}; a request may only adopt what no one else owns"
                ));
            } else if !p.goldenpath_tags.is_empty() {
                let tags: Vec<String> = p
                    .goldenpath_tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                out.push(format!(
                    "{noun} {name} was made by goldenpath for the platform ({}); a request can never take it over",
                    tags.join(", ")
                ));
            } else if !r.adopts() {
                out.push(format!(
                    "{noun} {name} exists and nobody owns it: adopting it is explicit — set adopt: true in the request (the platform approves it), then plan lists every setting apply would change"
                ));
            }
        }
        for (setting, words) in &p.weakens {
            if !r.allows_weakening(setting) {
                out.push(format!(
                    "it would weaken {noun} {name}: {words}; a request asks for that by name (allowWeakening: [{setting}]) and with the platform's approval"
                ));
            }
        }
        out
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
        let refusals = Self::may_take(r, &name, &plan);
        if !refusals.is_empty() {
            return Err(self.refuse(r, refusals, None));
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use gp_core::request::Request;
    use gp_driver::cloud::CloudPlan;

    use crate::Engine;

    const BUCKET: &str = "kind: S3BucketRequest
metadata:
  id: S3-0001
  owner: team-orders
  requester: alice
spec:
  environment: dev
  application: orders
  bucketName: goldenpath-dev-orders-logs
  purpose: { type: logs, description: access logs }
  tags: { costCenter: cc-042 }
";

    fn request(extra: &str) -> Request {
        Request::from_source(
            Path::new("requests/S3-0001.yaml"),
            &format!("{BUCKET}{extra}"),
        )
        .unwrap()
    }

    fn found(tagged: Option<&str>, goldenpath: &[(&str, &str)]) -> CloudPlan {
        CloudPlan {
            exists: true,
            tagged_request: tagged.map(str::to_string),
            goldenpath_tags: goldenpath
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            changes: vec![],
            weakens: vec![],
        }
    }

    fn why(r: &Request, p: &CloudPlan) -> Vec<String> {
        Engine::may_take(r, "b", p)
    }

    #[test]
    fn what_does_not_exist_is_free_to_make() {
        let p = CloudPlan {
            exists: false,
            ..found(None, &[])
        };
        assert!(why(&request(""), &p).is_empty());
        // Even with stale tags read (nothing is there to take).
        let p = CloudPlan {
            exists: false,
            ..found(Some("S3-0009"), &[("ManagedBy", "goldenpath")])
        };
        assert!(why(&request(""), &p).is_empty());
    }

    #[test]
    fn its_own_resource_is_taken_again_without_adopting() {
        assert!(why(&request(""), &found(Some("S3-0001"), &[])).is_empty());
        // Its own, with goldenpath's tags beside the request's.
        let p = found(Some("S3-0001"), &[("ManagedBy", "goldenpath")]);
        assert!(why(&request(""), &p).is_empty());
    }

    #[test]
    fn another_requests_resource_is_never_taken_even_when_adopting() {
        for extra in ["", "  adopt: true\n"] {
            let w = why(&request(extra), &found(Some("S3-0002"), &[]));
            assert_eq!(w.len(), 1, "{w:?}");
            assert!(w[0].contains("tagged for request S3-0002"), "{w:?}");
        }
    }

    #[test]
    fn goldenpaths_own_resource_is_never_taken_even_when_adopting() {
        for extra in ["", "  adopt: true\n"] {
            let p = found(
                None,
                &[("ManagedBy", "goldenpath"), ("goldenpath:build", "b1")],
            );
            let w = why(&request(extra), &p);
            assert_eq!(w.len(), 1, "{w:?}");
            assert!(
                w[0].contains("made by goldenpath for the platform (ManagedBy=goldenpath, goldenpath:build=b1)"),
                "{w:?}"
            );
        }
    }

    #[test]
    fn what_nobody_owns_is_taken_only_when_the_request_adopts_it() {
        let w = why(&request(""), &found(None, &[]));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("nobody owns it"), "{w:?}");
        assert!(why(&request("  adopt: true\n"), &found(None, &[])).is_empty());
    }

    #[test]
    fn a_weakening_change_only_when_named_and_each_unnamed_one_refused() {
        let mut p = found(Some("S3-0001"), &[]);
        p.weakens = vec![
            ("versioning".into(), "suspends versioning".into()),
            ("encryption".into(), "drops KMS".into()),
        ];
        let w = why(&request(""), &p);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("suspends versioning") && w[0].contains("allowWeakening: [versioning]")
        );
        assert!(w[1].contains("drops KMS"));
        let w = why(&request("  allowWeakening: [versioning]\n"), &p);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("drops KMS"), "{w:?}");
        let w = why(&request("  allowWeakening: [versioning, encryption]\n"), &p);
        assert!(w.is_empty(), "{w:?}");
    }
}
