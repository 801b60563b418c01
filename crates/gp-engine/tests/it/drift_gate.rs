//! Putting the foundational plane's drift back, at the engine: once a
//! drift check found a foundational component changed since its last
//! apply, a deploy touching it is refused without `remediate_drift`, and
//! with it until someone other than the deployer approved that check.

use gp_engine::*;
use gp_registry::{DeploymentEvent, new_id, now_us};

use crate::{HEADER, World};

const PLANES: &str = "components:
  - name: cache
    plane: foundational
    tier: 1
    driver: file
    settings: { files: [c] }
  - name: queue
    plane: foundational
    tier: 1
    driver: file
    settings: { files: [q] }
";

fn deploy(w: &World, targets: &[&str], remediate: bool) -> Result<DeployOutcome, EngineError> {
    w.engine().deploy(&DeployRequest {
        remediate_drift: remediate,
        ..DeployRequest::new(
            "dev",
            DeploymentSelector::Foundational(targets.iter().map(|t| t.to_string()).collect()),
        )
    })
}

fn refused(r: Result<DeployOutcome, EngineError>) -> String {
    match r {
        Err(EngineError::Refused { message, .. }) => message,
        other => panic!("not refused: {other:?}"),
    }
}

/// What `drift` records when it finds `component` changed.
fn drift_found(w: &World, component: &str) {
    w.registry
        .record_deployment(&DeploymentEvent {
            id: new_id(),
            env: "dev".into(),
            deployment: "foundational".into(),
            run_id: None,
            event: "drift_checked".into(),
            actor: "scheduler".into(),
            commit_sha: None,
            run_url: None,
            detail: Some(serde_json::json!({"components": [
                {"component": component, "status": "drifted", "differences": ["c was edited"]}
            ]})),
            at_us: now_us(),
        })
        .unwrap();
}

#[test]
fn drift_in_the_foundational_plane_goes_back_only_when_asked_and_approved_by_another() {
    let w = World::new(&format!("{HEADER}{PLANES}"));
    assert!(deploy(&w, &[], false).unwrap().succeeded());
    // No check found anything: deploys as ever.
    assert!(deploy(&w, &[], false).unwrap().succeeded());
    drift_found(&w, "cache");
    // Touching it: refused, naming it and what differs.
    let why = refused(deploy(&w, &[], false));
    assert!(why.contains("cache: c was edited"), "{why}");
    assert!(refused(deploy(&w, &["cache"], false)).contains("cache"));
    // Not touching it: the other component deploys.
    assert!(deploy(&w, &["queue"], false).unwrap().succeeded());
    // Asked, not approved.
    assert!(refused(deploy(&w, &["cache"], true)).contains("needs an approval"));
    // Nothing to approve where nothing drifted.
    assert!(matches!(
        w.engine().approve_drift("dev", &["queue".into()], "x"),
        Err(EngineError::Usage { .. })
    ));
    assert!(matches!(
        w.engine().approve_drift("dev", &["cache".into()], " "),
        Err(EngineError::Usage { .. })
    ));
    // The deployer's own approval does not count.
    w.engine()
        .approve_drift("dev", &["cache".into()], "mine")
        .unwrap();
    assert!(refused(deploy(&w, &["cache"], true)).contains("other than tester"));
    // Another's does.
    let mut lead = w.engine();
    lead.actor = "lead".into();
    lead.approve_drift("dev", &["cache".into()], "set by hand")
        .unwrap();
    assert!(deploy(&w, &["cache"], true).unwrap().succeeded());
    // Put back: the check's finding is older than the apply.
    assert!(deploy(&w, &[], false).unwrap().succeeded());
    // A new finding needs a new approval: the old one was of the old check.
    drift_found(&w, "cache");
    assert!(refused(deploy(&w, &["cache"], true)).contains("needs an approval"));
}

#[test]
fn only_a_platform_approver_approves_when_approvers_are_configured() {
    let w = World::new(&format!(
        "{HEADER}requests:\n  approvers: {{ platform: [lead] }}\n{PLANES}"
    ));
    assert!(deploy(&w, &[], false).unwrap().succeeded());
    drift_found(&w, "cache");
    let mut dora = w.engine();
    dora.actor = "dora".into();
    assert!(matches!(
        dora.approve_drift("dev", &["cache".into()], "x"),
        Err(EngineError::Refused { .. })
    ));
    let mut lead = w.engine();
    lead.actor = "lead@example.io".into();
    lead.approve_drift("dev", &["cache".into()], "ok").unwrap();
    assert!(deploy(&w, &["cache"], true).unwrap().succeeded());
}
