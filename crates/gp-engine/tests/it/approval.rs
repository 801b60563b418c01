//! Approvals at the engine: only a group of the request's route approves
//! when approvers are configured (anyone but who asked, when none are);
//! who asked never approves; one person's approval counts once; each
//! refusal is recorded.

use gp_core::request::{Request, Route};
use gp_engine::EngineError;

use crate::{HEADER, World};

const APPROVERS: &str = "requests:
  approvers:
    platform: [pat]
    security: [sam, sue]
";

const SECRET: &str = "kind: SecretRequest
metadata: { id: SEC-0001, name: stripe-key, service: payments, environment: ENV, domain: commerce }
spec:
  provider: aws-secrets-manager
  secretType: api-key
  risk: { tier: high }
  rotation: { rotationClass: standard }
  lifecycle: { status: active, recoveryWindowInDays: 7 }
  access: { namespace: payments, k8sSecretName: stripe, readPrincipals: [arn:aws:iam::123456789012:role/payments-api] }
  ttlDays: 90
";

fn world(approvers: &str) -> World {
    World::new(&format!(
        "{HEADER}  prod: {{}}\n{approvers}components: []\n"
    ))
}

fn secret(env: &str) -> Request {
    Request::from_source(
        std::path::Path::new("requests/SEC-0001.yaml"),
        &SECRET.replace("ENV", env),
    )
    .unwrap()
}

fn refused(r: Result<gp_engine::requests::ApprovalState, EngineError>, words: &str) {
    match r {
        Err(e) => assert!(e.to_string().contains(words), "{e}"),
        Ok(s) => panic!("approved: {s:?}"),
    }
}

fn refusals(w: &World) -> usize {
    w.registry
        .request_events(Some("SEC-0001"))
        .unwrap()
        .iter()
        .filter(|e| e.event == "refused")
        .count()
}

#[test]
fn only_a_group_of_the_route_approves_and_each_person_once() {
    let w = world(APPROVERS);
    let e = w.engine();
    let r = secret("dev");
    assert_eq!(r.route(), Route::Security);
    refused(e.request_approve(&r, "pat", None), "pat is not an approver");
    refused(e.request_approve(&r, "mallory", None), "not an approver");
    assert_eq!(refusals(&w), 2, "each refusal recorded");
    assert!(!e.request_approval(&r).unwrap().complete());
    let s = e.request_approve(&r, "sam", Some("reviewed")).unwrap();
    assert!(s.complete(), "{s:?}");
    refused(e.request_approve(&r, "sam", None), "approved this content");
    assert_eq!(refusals(&w), 3);
}

#[test]
fn a_route_of_two_groups_needs_an_approver_of_each() {
    let w = world(APPROVERS);
    let e = w.engine();
    let r = secret("prod");
    assert_eq!(r.route(), Route::PlatformAndSecurity);
    let s = e.request_approve(&r, "sam", None).unwrap();
    assert!(!s.complete());
    assert_eq!(s.missing, ["platform"]);
    let s = e.request_approve(&r, "pat", None).unwrap();
    assert!(s.complete(), "{s:?}");
}

#[test]
fn without_approvers_anyone_but_who_asked_approves_for_every_group() {
    let w = world("");
    let e = w.engine();
    let r = secret("prod");
    let s = e.request_approve(&r, "mallory", None).unwrap();
    assert!(s.complete(), "one approval counts for every group: {s:?}");
}

#[test]
fn who_asked_never_approves_and_a_self_serve_request_needs_no_group() {
    let w = world(APPROVERS);
    let e = w.engine();
    let db = Request::from_source(
        std::path::Path::new("requests/RDS-0001.yaml"),
        "id: RDS-0001\nenvironment: dev\ndatabaseName: orders\nusername: orders_app\nowner: t\nrequester: bob\ndomain: d\n",
    )
    .unwrap();
    assert_eq!(db.route(), Route::SelfServe);
    refused(
        e.request_approve(&db, "Bob", None),
        "asked for request RDS-0001",
    );
    // Anyone else approves a self-serve request, in a group or not.
    assert!(e.request_approve(&db, "carol", None).is_ok());
}
