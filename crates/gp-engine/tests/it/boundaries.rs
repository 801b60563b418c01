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
