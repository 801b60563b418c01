//! Bucket, secret and repository requests at the engine, over a cloud that
//! keeps what it is asked in memory (AWS itself is exercised on moto's
//! server by the binary's tests): plan shows what the cloud would change;
//! apply refuses what the request may not take before the cloud is asked
//! to change anything, records each step before and after it is made, and
//! records a cloud's failure — a refusal as exit 3, anything else exit 1.

use std::sync::Mutex;

use gp_core::request::{Desired, Request};
use gp_driver::DriverError;
use gp_driver::cloud::{CloudApplied, CloudPlan, CloudResources};
use gp_engine::EngineError;

use crate::{HEADER, World};

/// A cloud whose resource is as `plan` says, and that fails apply with
/// `fail` when set.
struct Memory {
    plan: Result<CloudPlan, DriverError>,
    fail: Option<DriverError>,
    applied: Mutex<Vec<String>>,
}

impl Memory {
    fn new(plan: CloudPlan) -> Memory {
        Memory {
            plan: Ok(plan),
            fail: None,
            applied: Mutex::new(Vec::new()),
        }
    }
}

impl CloudResources for Memory {
    // In memory: no cloud, no IAM.
    fn permissions(
        &self,
        _: &gp_core::Contract<'_>,
        _: gp_core::iam::Access,
    ) -> Vec<gp_core::iam::Grant> {
        Vec::new()
    }

    fn plan(&self, _desired: &Desired) -> Result<CloudPlan, DriverError> {
        self.plan.clone()
    }

    fn apply(
        &self,
        desired: &Desired,
        request: &str,
        step: &mut dyn FnMut(&str, bool),
    ) -> Result<CloudApplied, DriverError> {
        self.applied
            .lock()
            .unwrap()
            .push(format!("{request} {}", desired.name()));
        if let Some(e) = &self.fail {
            return Err(e.clone());
        }
        let plan = self.plan.clone()?;
        for c in &plan.changes {
            step(c, false);
            step(c, true);
        }
        Ok(CloudApplied {
            arn: format!("arn:aws:s3:::{}", desired.name()),
            created: !plan.exists,
            changes: plan.changes,
        })
    }
}

const BUCKET: &str = "kind: S3BucketRequest
metadata: { id: S3-0001, owner: team-orders, requester: alice }
spec:
  environment: dev
  application: orders
  bucketName: gp-dev-orders-logs
  purpose: { type: logs, description: access logs }
  tags: { costCenter: cc-042 }
";

fn bucket() -> Request {
    Request::from_source(std::path::Path::new("requests/S3-0001.yaml"), BUCKET).unwrap()
}

fn world() -> World {
    World::new(&format!("{HEADER}components: []\n"))
}

fn absent(changes: &[&str]) -> CloudPlan {
    CloudPlan {
        exists: false,
        changes: changes.iter().map(|c| c.to_string()).collect(),
        ..CloudPlan::default()
    }
}

fn events(w: &World) -> Vec<String> {
    w.registry
        .request_events(Some("S3-0001"))
        .unwrap()
        .into_iter()
        .map(|e| {
            let step = e
                .detail
                .as_ref()
                .and_then(|d| {
                    d.get("change")
                        .map(|c| format!(" {}", c.as_str().unwrap_or_default()))
                })
                .unwrap_or_default();
            let done = e
                .detail
                .as_ref()
                .and_then(|d| d.get("done"))
                .map(|d| format!(" {d}"))
                .unwrap_or_default();
            format!("{}{step}{done}", e.event)
        })
        .collect()
}

#[test]
fn a_plan_shows_what_the_cloud_would_change_or_why_it_could_not_read() {
    let w = world();
    let e = w.engine();
    let cloud = Memory::new(absent(&["create the bucket", "turn on versioning"]));
    let p = e.request_plan(&bucket(), Some(&cloud)).unwrap();
    assert_eq!(p.exists, Some(false));
    assert_eq!(p.changes, ["create the bucket", "turn on versioning"]);
    assert_eq!(p.read_error, None);
    assert!(p.refused.is_empty(), "{:?}", p.refused);
    // No cloud in this binary: said, not guessed.
    let p = e.request_plan(&bucket(), None).unwrap();
    assert!(p.read_error.unwrap().contains("without the `aws` feature"));
    // The cloud cannot be read: said.
    let broken = Memory {
        plan: Err(DriverError::retryable("throttled")),
        ..Memory::new(CloudPlan::default())
    };
    let p = e.request_plan(&bucket(), Some(&broken)).unwrap();
    assert!(p.read_error.unwrap().contains("throttled"));
    // What it may not take is refused in the plan.
    let taken = Memory::new(CloudPlan {
        exists: true,
        tagged_request: Some("S3-0009".into()),
        ..CloudPlan::default()
    });
    let p = e.request_plan(&bucket(), Some(&taken)).unwrap();
    assert!(
        p.refused.iter().any(|r| r.contains("S3-0009")),
        "{:?}",
        p.refused
    );
    assert!(
        cloud.applied.lock().unwrap().is_empty(),
        "a plan changes nothing"
    );
}

#[test]
fn apply_records_each_step_before_and_after_and_says_what_it_made() {
    let w = world();
    let cloud = Memory::new(absent(&["create the bucket", "turn on versioning"]));
    let done = w.engine().request_apply(&bucket(), Some(&cloud)).unwrap();
    assert!(done.created);
    assert_eq!(done.counts.added, 1);
    assert_eq!(done.counts.changed, 0);
    assert_eq!(done.arn.as_deref(), Some("arn:aws:s3:::gp-dev-orders-logs"));
    assert_eq!(
        *cloud.applied.lock().unwrap(),
        ["S3-0001 gp-dev-orders-logs"]
    );
    let ev = events(&w);
    assert_eq!(
        ev[ev.len() - 6..],
        [
            "apply_started",
            "step create the bucket false",
            "step create the bucket true",
            "step turn on versioning false",
            "step turn on versioning true",
            "applied",
        ]
    );
    // Adopted with changes: changed, not added.
    let w = world();
    let adopt = Memory::new(CloudPlan {
        exists: true,
        changes: vec!["turn on versioning".into()],
        ..CloudPlan::default()
    });
    let r = Request::from_source(
        std::path::Path::new("requests/S3-0001.yaml"),
        &format!("{BUCKET}  adopt: true\n"),
    )
    .unwrap();
    // Adopting needs the platform's approval.
    w.engine().request_approve(&r, "pat", None).unwrap();
    let done = w.engine().request_apply(&r, Some(&adopt)).unwrap();
    assert!(!done.created);
    assert_eq!((done.counts.added, done.counts.changed), (0, 1));
}

#[test]
fn what_a_request_may_not_take_is_refused_before_the_cloud_changes_anything() {
    let w = world();
    let cloud = Memory::new(CloudPlan {
        exists: true,
        tagged_request: Some("S3-0009".into()),
        ..CloudPlan::default()
    });
    let err = w
        .engine()
        .request_apply(&bucket(), Some(&cloud))
        .unwrap_err();
    assert!(matches!(err, EngineError::Refused { .. }), "{err}");
    assert!(
        err.to_string().contains("tagged for request S3-0009"),
        "{err}"
    );
    assert!(cloud.applied.lock().unwrap().is_empty());
    assert_eq!(events(&w).last().map(String::as_str), Some("refused"));
}

#[test]
fn a_clouds_refusal_is_exit_3_and_its_failure_exit_1_each_recorded() {
    for (fail, refused, event) in [
        (
            DriverError::refused("tagged for S3-0009 after all"),
            true,
            "refused",
        ),
        (DriverError::permanent("access denied"), false, "failed"),
    ] {
        let w = world();
        let cloud = Memory {
            fail: Some(fail),
            ..Memory::new(absent(&["create the bucket"]))
        };
        let err = w
            .engine()
            .request_apply(&bucket(), Some(&cloud))
            .unwrap_err();
        assert_eq!(matches!(err, EngineError::Refused { .. }), refused, "{err}");
        assert!(err.to_string().starts_with("request S3-0001: "), "{err}");
        assert_eq!(events(&w).last().map(String::as_str), Some(event));
    }
}
