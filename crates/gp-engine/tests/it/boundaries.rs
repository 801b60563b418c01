//! The plane boundaries, at the engine: a build's teardown never destroys
//! a foundational component, even one its own journal names; a named
//! foundational teardown destroys only what it names, and a protected one
//! only with its break-glass. Observed on disk through the file driver.

use gp_engine::*;
use gp_registry::{JournalEntry, Stage};

use crate::{HEADER, World};

const PLANES: &str = "components:
  - name: db
    plane: foundational
    tier: 2
    protected: true
    driver: file
    settings: { databases: [app] }
  - name: cache
    plane: foundational
    tier: 1
    driver: file
    settings: { files: [c] }
  - name: svc
    plane: disposable
    tier: 1
    driver: file
    settings: { files: [a] }
";

const B: &str = "23-01-26-01";

fn deploy(w: &World, selector: DeploymentSelector) {
    let o = w
        .engine()
        .deploy(&DeployRequest {
            today: Some((23, 1, 26)),
            ..DeployRequest::new("dev", selector)
        })
        .unwrap();
    assert!(o.succeeded(), "{o:?}");
}

fn teardown(
    w: &World,
    target: TeardownTarget,
    break_glass: &[&str],
) -> Result<TeardownOutcome, EngineError> {
    w.engine().teardown(&TeardownRequest {
        env: "dev".into(),
        target,
        confirm: true,
        break_glass: break_glass.iter().map(|s| s.to_string()).collect(),
        reason: Some("test".into()),
        overrides: vec![],
        cascade: false,
    })
}

fn world() -> World {
    let w = World::new(&format!("{HEADER}{PLANES}"));
    deploy(&w, DeploymentSelector::Foundational(vec![]));
    deploy(
        &w,
        DeploymentSelector::Build(gp_core::BuildIdArg::Id(B.parse().unwrap())),
    );
    assert!(w.exists("foundational/db-app") && w.exists("foundational/cache-c"));
    assert!(w.exists(&format!("{B}/svc-a")));
    w
}

#[test]
fn a_builds_teardown_never_destroys_a_foundational_component_its_journal_names() {
    let w = world();
    // The build's journal names the database's file as its own creation:
    // a chained row, as a confused driver (or a restored backup) would
    // leave it — the journal check passes, the plane rule must hold.
    let path = w.files().join("foundational/db-app");
    let resource = serde_json::json!({"kind": "file", "id": "app", "data": {"path": path}});
    for stage in [Stage::Before, Stage::After] {
        w.registry
            .journal_append(&JournalEntry {
                id: gp_registry::new_id(),
                env: "dev".into(),
                deployment: B.into(),
                run_id: Some("r".into()),
                action_id: "forged-by-a-driver".into(),
                stage,
                component: "db".into(),
                driver: "file".into(),
                action: "create".into(),
                resource: "file app".into(),
                outputs: Some(serde_json::json!({"resource": resource})),
                detail: None,
            })
            .unwrap();
    }
    let t = teardown(&w, TeardownTarget::Build(B.parse().unwrap()), &[]).unwrap();
    assert!(
        !w.exists(&format!("{B}/svc-a")),
        "the build's own file goes"
    );
    assert!(
        w.exists("foundational/db-app"),
        "the foundational one stays"
    );
    assert!(
        t.destroyed.iter().all(|d| d.component != "db"),
        "{:?}",
        t.destroyed
    );
}

#[test]
fn a_named_foundational_teardown_touches_only_what_it_names() {
    let w = world();
    teardown(&w, TeardownTarget::Build(B.parse().unwrap()), &[]).unwrap();
    // cache, named: gone; db, protected and not named: untouched.
    let t = teardown(&w, TeardownTarget::Foundational(vec!["cache".into()]), &[]).unwrap();
    assert!(!w.exists("foundational/cache-c"));
    assert!(w.exists("foundational/db-app"));
    assert!(
        t.destroyed.iter().all(|d| d.component == "cache"),
        "{:?}",
        t.destroyed
    );
    // Every foundational component, without the protected one's
    // break-glass: refused, nothing touched.
    let err = teardown(&w, TeardownTarget::Foundational(vec![]), &[]).unwrap_err();
    assert!(matches!(err, EngineError::Refused { .. }), "{err}");
    assert!(w.exists("foundational/db-app"));
    // With it: gone.
    teardown(&w, TeardownTarget::Foundational(vec![]), &["db"]).unwrap();
    assert!(!w.exists("foundational/db-app"));
}

const NEEDS: &str = "components:
  - name: db
    plane: foundational
    tier: 2
    driver: file
    settings: { databases: [app] }
  - name: cache
    plane: foundational
    tier: 1
    driver: file
    settings: { files: [c] }
  - name: svc
    plane: disposable
    tier: 1
    driver: file
    needs: [db]
    settings: { files: [s] }
  - name: api
    plane: disposable
    tier: 1
    modes: [persistent]
    driver: file
    needs: [cache]
    settings: { files: [a] }
";

fn record_request(w: &World, id: &str, kind: &str, detail: serde_json::Value) {
    w.registry
        .record_request(&gp_registry::RequestEvent {
            id: gp_registry::new_id(),
            request_id: id.into(),
            kind: kind.into(),
            env: "dev".into(),
            event: "applied".into(),
            actor: "tester".into(),
            detail: Some(detail),
            at_us: gp_registry::now_us(),
        })
        .unwrap();
}

fn names(d: &[gp_engine::impact::Dependent]) -> Vec<String> {
    d.iter().map(|x| x.to_string()).collect()
}

#[test]
fn dependents_are_the_live_deployments_and_requests_that_need_a_component() {
    let w = World::new(&format!("{HEADER}{NEEDS}"));
    let set = |v: &[&str]| {
        v.iter()
            .map(|s| s.to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    deploy(&w, DeploymentSelector::Foundational(vec![]));
    // Nothing deployed on it yet.
    assert!(
        w.engine()
            .dependents("dev", &set(&["db", "cache"]))
            .unwrap()
            .is_empty()
    );
    let b1: gp_core::BuildId = "23-01-26-01".parse().unwrap();
    let b2: gp_core::BuildId = "23-01-26-02".parse().unwrap();
    for b in [b1, b2] {
        deploy(&w, DeploymentSelector::Build(gp_core::BuildIdArg::Id(b)));
    }
    teardown(&w, TeardownTarget::Build(b2), &[]).unwrap();
    // Reserved and never deployed: nothing runs on it.
    w.registry
        .reserve(&gp_registry::ReserveRequest::new(
            "dev",
            gp_core::BuildIdArg::Id("23-01-26-03".parse().unwrap()),
            "tester",
        ))
        .unwrap();
    w.engine().keep("dev", b1, true, "demo").unwrap();
    // A live build that needs db; the torn-down one and the reserved one
    // are none; the persistent deployment is not deployed yet.
    assert_eq!(
        names(&w.engine().dependents("dev", &set(&["db"])).unwrap()),
        ["build 23-01-26-01, kept (needs db)"]
    );
    // What needs another component is not a dependent of this one.
    let other = names(&w.engine().dependents("dev", &set(&["cache"])).unwrap());
    assert!(other.is_empty(), "{other:?}");
    deploy(&w, DeploymentSelector::Persistent);
    assert_eq!(
        names(&w.engine().dependents("dev", &set(&["cache"])).unwrap()),
        ["the persistent deployment (needs cache)"]
    );
    assert_eq!(
        names(
            &w.engine()
                .dependents("dev", &set(&["db", "cache"]))
                .unwrap()
        ),
        [
            "build 23-01-26-01, kept (needs db)",
            "the persistent deployment (needs db, cache)"
        ]
    );
    // An applied database request on db; a bucket request is no dependent,
    // nor is a database on another instance.
    record_request(
        &w,
        "RDS-0001",
        "rds",
        serde_json::json!({"hash": "h", "resource": "orders", "instance": "db"}),
    );
    record_request(
        &w,
        "RDS-0002",
        "rds",
        serde_json::json!({"hash": "h", "resource": "ledger", "instance": "other"}),
    );
    record_request(
        &w,
        "S3-0001",
        "s3",
        serde_json::json!({"hash": "h", "resource": "bucket", "instance": "db"}),
    );
    let d = names(&w.engine().dependents("dev", &set(&["db"])).unwrap());
    assert!(
        d.contains(&"request RDS-0001's database orders on db".to_string()),
        "{d:?}"
    );
    assert_eq!(d.len(), 3, "{d:?}");
    // Torn down, the persistent deployment is none any more.
    w.engine()
        .teardown(&TeardownRequest {
            env: "dev".into(),
            target: TeardownTarget::Persistent,
            confirm: true,
            break_glass: vec![],
            reason: None,
            overrides: vec![],
            cascade: false,
        })
        .unwrap();
    assert!(
        w.engine()
            .dependents("dev", &set(&["cache"]))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_foundational_teardown_refuses_while_something_depends_on_it_and_cascade_tears_that_down_first()
{
    let w = World::new(&format!("{HEADER}{NEEDS}"));
    deploy(&w, DeploymentSelector::Foundational(vec![]));
    let b: gp_core::BuildId = "23-01-26-01".parse().unwrap();
    deploy(&w, DeploymentSelector::Build(gp_core::BuildIdArg::Id(b)));
    let foundational = |cascade: bool| {
        w.engine().teardown(&TeardownRequest {
            env: "dev".into(),
            target: TeardownTarget::Foundational(vec!["db".into()]),
            confirm: true,
            break_glass: vec![],
            reason: Some("test".into()),
            overrides: vec![],
            cascade,
        })
    };
    // Refused, naming the dependent; nothing destroyed.
    let err = foundational(false).unwrap_err();
    assert!(matches!(err, EngineError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("build 23-01-26-01"), "{err}");
    assert!(w.exists("foundational/db-app") && w.exists(&format!("{b}/svc-s")));
    // --cascade: the build first, through its own recorded teardown.
    let t = foundational(true).unwrap();
    assert_eq!(
        t.cascaded.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        ["build 23-01-26-01 (needs db)"]
    );
    assert!(!w.exists(&format!("{b}/svc-s")), "the dependent went first");
    assert!(!w.exists("foundational/db-app"));
    assert!(w.exists("foundational/cache-c"), "what was not named stays");
    let (builds, _) = w.engine().builds_checked("dev").unwrap();
    assert_eq!(builds[0].status, "torn-down");
}
