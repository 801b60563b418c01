//! Nothing acts on a deployment whose rows do not check out: a row written
//! behind goldenpath's back (no MAC, as the INSERT-only runner role or an
//! editor of the file could write it) stops a deploy and a teardown of
//! that deployment before either writes or destroys anything.

use gp_engine::*;
use gp_registry::RegistryError;
use rusqlite::types::Value;

use crate::{HEADER, World};

const SPEC: &str = "components:
  - name: svc
    plane: disposable
    tier: 1
    driver: file
    settings: { files: [a] }
";

const B: &str = "23-01-26-01";

fn deploy(w: &World) -> Result<DeployOutcome, EngineError> {
    w.engine().deploy(&DeployRequest {
        today: Some((23, 1, 26)),
        ..DeployRequest::new(
            "dev",
            DeploymentSelector::Build(gp_core::BuildIdArg::Id(B.parse().unwrap())),
        )
    })
}

/// Copies the newest row of `table` in `B`'s streams as a new row with a
/// fresh id, the next position and no valid MAC.
fn forge(w: &World, table: &str) {
    let c = rusqlite::Connection::open(w.state_dir().join("registry.db")).unwrap();
    let columns: Vec<String> = c
        .prepare(&format!("SELECT * FROM {table} LIMIT 0"))
        .unwrap()
        .column_names()
        .map(str::to_string)
        .collect();
    let at = |n: &str| columns.iter().position(|c| c == n).unwrap();
    let mut values: Vec<Value> = c
        .query_row(
            &format!("SELECT * FROM {table} ORDER BY chain_seq DESC LIMIT 1"),
            [],
            |r| (0..columns.len()).map(|i| r.get(i)).collect(),
        )
        .unwrap();
    let Value::Text(stream) = values[at("chain_stream")].clone() else {
        panic!("no stream")
    };
    let next: i64 = c
        .query_row(
            &format!("SELECT MAX(chain_seq) + 1 FROM {table} WHERE chain_stream = ?1"),
            [&stream],
            |r| r.get(0),
        )
        .unwrap();
    values[at("id")] = Value::Text(format!("forged-{table}"));
    values[at("chain_seq")] = Value::Integer(next);
    if table == "journal" {
        values[at("seq")] = Value::Integer(next);
    }
    let marks = vec!["?"; columns.len()].join(", ");
    c.execute(
        &format!(
            "INSERT INTO {table} ({}) VALUES ({marks})",
            columns.join(", ")
        ),
        rusqlite::params_from_iter(values),
    )
    .unwrap();
}

/// Every row of the tables a deploy or teardown writes.
fn rows(w: &World) -> i64 {
    let c = rusqlite::Connection::open(w.state_dir().join("registry.db")).unwrap();
    [
        "journal",
        "deployment_events",
        "lease_events",
        "reservations",
        "phase_events",
    ]
    .iter()
    .map(|t| {
        c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
    })
    .sum()
}

#[test]
fn a_forged_row_in_a_deployments_streams_stops_its_deploy_its_teardown_and_its_drift_check() {
    for table in ["journal", "deployment_events", "lease_events"] {
        let w = World::new(&format!("{HEADER}{SPEC}"));
        assert!(deploy(&w).unwrap().succeeded());
        assert!(w.exists(&format!("{B}/svc-a")));
        // Unforged, a second deploy runs.
        assert!(deploy(&w).unwrap().succeeded());
        forge(&w, table);
        let before = rows(&w);
        let refused = |r: Result<(), EngineError>| match r {
            Err(EngineError::Registry(RegistryError::Tampered { id, .. })) => {
                assert_eq!(id, format!("forged-{table}"));
            }
            other => panic!("{table}: {other:?}"),
        };
        refused(deploy(&w).map(|_| ()));
        refused(
            w.engine()
                .teardown(&TeardownRequest {
                    env: "dev".into(),
                    target: TeardownTarget::Build(B.parse().unwrap()),
                    confirm: true,
                    break_glass: vec![],
                    reason: None,
                    overrides: vec![],
                    cascade: false,
                })
                .map(|_| ()),
        );
        // Drift compares nothing and records nothing.
        refused(
            w.engine()
                .drift(
                    "dev",
                    gp_core::Deployment::Ephemeral(B.parse().unwrap()),
                    &[],
                )
                .map(|_| ()),
        );
        assert!(
            w.exists(&format!("{B}/svc-a")),
            "{table}: nothing destroyed"
        );
        assert_eq!(rows(&w), before, "{table}: nothing written");
    }
}

/// A holder text of a process that ran on this machine and is gone.
fn dead_holder() -> String {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    format!("tester pid {pid} on {} run dead", host.trim())
}

#[test]
fn builds_list_a_run_whose_holder_died_here_as_interrupted_and_a_live_one_as_deploying() {
    let w = World::new(&format!("{HEADER}{SPEC}"));
    assert!(deploy(&w).unwrap().succeeded());
    let status = |w: &World| {
        let (builds, tampered) = w.engine().builds_checked("dev").unwrap();
        assert!(tampered.is_empty(), "{tampered:?}");
        assert_eq!(builds.len(), 1, "{builds:?}");
        builds[0].status.clone()
    };
    assert_eq!(status(&w), "live");
    // A deploy starts again, and its process dies holding the lease.
    w.registry
        .record_deployment(&gp_registry::DeploymentEvent {
            id: "started-again".into(),
            env: "dev".into(),
            deployment: B.into(),
            run_id: Some("dead".into()),
            event: "deploy_started".into(),
            actor: "tester".into(),
            commit_sha: None,
            run_url: None,
            detail: None,
            at_us: gp_registry::now_us(),
        })
        .unwrap();
    let lease = w
        .registry
        .lease_acquire("dev", B, &dead_holder(), 600)
        .unwrap();
    assert_eq!(status(&w), "interrupted");
    // The same lease held by a process that runs: still deploying.
    w.registry.lease_release(&lease).unwrap();
    let me = format!(
        "tester pid {} on {} run live",
        std::process::id(),
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
    );
    w.registry.lease_acquire("dev", B, &me, 600).unwrap();
    assert_eq!(status(&w), "deploying");
}
