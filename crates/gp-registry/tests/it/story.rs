//! One conformance story, the same on both backends.

use gp_core::{BuildId, BuildIdArg};
use gp_registry::*;

fn id(s: &str) -> BuildId {
    s.parse().unwrap()
}

fn event(env: &str, dep: &str, event: &str) -> DeploymentEvent {
    DeploymentEvent {
        id: new_id(),
        env: env.into(),
        deployment: dep.into(),
        run_id: None,
        event: event.into(),
        actor: "tester".into(),
        commit_sha: None,
        run_url: None,
        detail: None,
        at_us: now_us(),
    }
}

fn story(reg: &Registry) {
    // --- reservations ---
    let today = Some((23, 1, 26));
    let mut req = ReserveRequest::new("dev", BuildIdArg::Auto, "alice");
    req.today = today;
    let a = reg.reserve(&req).unwrap();
    let b = reg.reserve(&req).unwrap();
    assert_eq!(
        (a.build_id, b.build_id),
        (id("23-01-26-01"), id("23-01-26-02"))
    );
    assert!(a.new && b.new);
    // Another environment has its own sequence.
    let mut other = ReserveRequest::new("test", BuildIdArg::Auto, "alice");
    other.today = today;
    assert_eq!(reg.reserve(&other).unwrap().build_id, id("23-01-26-01"));
    // A live id is returned as is: deploying it again converges it.
    let again = reg
        .reserve(&ReserveRequest::new(
            "dev",
            BuildIdArg::Id(a.build_id),
            "bob",
        ))
        .unwrap();
    assert!(!again.new);
    assert_eq!(again.actor, "alice");
    // An explicit id ahead of auto is taken, and auto continues after it.
    let explicit = reg
        .reserve(&ReserveRequest::new(
            "dev",
            BuildIdArg::Id(id("23-01-26-05")),
            "carol",
        ))
        .unwrap();
    assert!(explicit.new);
    assert_eq!(reg.reserve(&req).unwrap().build_id, id("23-01-26-06"));

    // Torn down: the id is retired.
    reg.record_deployment(&event("dev", "23-01-26-01", "deploy_started"))
        .unwrap();
    reg.record_deployment(&event("dev", "23-01-26-01", "deploy_succeeded"))
        .unwrap();
    reg.record_deployment(&event("dev", "23-01-26-01", "teardown_started"))
        .unwrap();
    reg.record_deployment(&event("dev", "23-01-26-01", "torn_down"))
        .unwrap();
    let err = reg
        .reserve(&ReserveRequest::new(
            "dev",
            BuildIdArg::Id(a.build_id),
            "bob",
        ))
        .unwrap_err();
    assert!(matches!(err, RegistryError::BuildIdRetired { .. }), "{err}");
    assert!(err.to_string().contains("was torn down on"), "{err}");
    // With an override (actor and reason) it is reserved again, and the
    // override is recorded.
    let mut reuse = ReserveRequest::new("dev", BuildIdArg::Id(a.build_id), "bob");
    reuse.override_reason = Some("re-running the release candidate");
    let r = reg.reserve(&reuse).unwrap();
    assert!(r.new);
    assert_eq!(r.generation, 2);
    let overrides = reg.overrides("dev", Some("23-01-26-01")).unwrap();
    assert_eq!(overrides.len(), 1);
    assert_eq!(overrides[0].kind, "build-id-reuse");
    assert_eq!(overrides[0].actor, "bob");
    assert_eq!(overrides[0].reason, "re-running the release candidate");
    // An empty reason is not a reason.
    reuse.override_reason = Some("  ");
    assert!(matches!(
        reg.reserve(&reuse),
        Err(RegistryError::Invalid(_))
    ));

    // builds list: newest first, status from events; the re-used id shows
    // its new generation as merely reserved.
    let builds = reg.builds("dev").unwrap();
    let ids: Vec<&str> = builds.iter().map(|b| b.build_id.as_str()).collect();
    assert_eq!(ids[0], "23-01-26-01");
    assert_eq!(builds[0].generation, 2);
    assert_eq!(builds[0].status, "reserved");
    assert_eq!(ids.len(), 4, "{ids:?}");

    // --- phases ---
    let mut p = Phase {
        run: new_id(),
        env: "dev".into(),
        deployment: "23-01-26-02".into(),
        build_id: "23-01-26-02".into(),
        phase: "apply:cluster".into(),
        component: Some("cluster".into()),
        started_us: now_us(),
        ..Phase::default()
    };
    reg.phase_start(&p).unwrap();
    reg.phase_start(&p).unwrap(); // a retried write adds nothing
    assert_eq!(reg.open_phases("dev", "23-01-26-02").unwrap().len(), 1);
    p.ended_us = Some(p.started_us + 2_500_000);
    p.exit_code = Some(0);
    p.added = Some(3);
    p.changed = Some(0);
    p.destroyed = Some(0);
    p.log_path = Some("logs/apply-cluster.log".into());
    reg.phase_end(&p).unwrap();
    reg.phase_end(&p).unwrap();
    assert!(reg.open_phases("dev", "23-01-26-02").unwrap().is_empty());
    let phases = reg.phases("dev", Some("23-01-26-02")).unwrap();
    assert_eq!(phases.len(), 1);
    assert_eq!(phases[0].duration_ms(), Some(2500));
    assert_eq!(phases[0].added, Some(3));
    assert_eq!(reg.count_phase_events().unwrap(), 2);

    // --- journal ---
    let entry = |stage: Stage, action_id: &str| JournalEntry {
        id: new_id(),
        env: "dev".into(),
        deployment: "23-01-26-02".into(),
        run_id: Some("run-1".into()),
        action_id: action_id.into(),
        stage,
        component: "cluster".into(),
        driver: "exec".into(),
        action: "create".into(),
        resource: "cluster".into(),
        outputs: Some(serde_json::json!({"endpoint": "https://x"})),
        detail: None,
    };
    let before = entry(Stage::Before, "act-1");
    assert_eq!(reg.journal_append(&before).unwrap(), 1);
    assert_eq!(
        reg.journal_append(&before).unwrap(),
        1,
        "a retry keeps its number"
    );
    assert_eq!(
        reg.journal_append(&entry(Stage::After, "act-1")).unwrap(),
        2
    );
    let journal = reg.journal("dev", "23-01-26-02").unwrap();
    assert_eq!(journal.len(), 2);
    assert_eq!(
        journal[1].entry.outputs,
        Some(serde_json::json!({"endpoint": "https://x"}))
    );
    assert_eq!(journal[1].entry.stage, Stage::After);

    // --- leases ---
    let lease = reg
        .lease_acquire("dev", "23-01-26-02", "ci@runner-1 pid 10", 600)
        .unwrap();
    let err = reg
        .lease_acquire("dev", "23-01-26-02", "ci@runner-2 pid 20", 600)
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::LeaseHeld { holder, .. } if holder == "ci@runner-1 pid 10"),
        "{err}"
    );
    assert!(err.to_string().contains("ci@runner-1 pid 10"), "{err}");
    // Another deployment is independent.
    let other_lease = reg
        .lease_acquire("dev", "23-01-26-03", "ci@runner-2 pid 20", 600)
        .unwrap();
    let lease = reg.lease_renew(&lease, 600).unwrap();
    reg.lease_release(&lease).unwrap();
    assert_eq!(
        reg.lease("dev", "23-01-26-02").unwrap().unwrap().state,
        "released"
    );
    // Renewing a released lease fails.
    assert!(matches!(
        reg.lease_renew(&lease, 600),
        Err(RegistryError::LeaseLost { .. })
    ));
    reg.lease_release(&other_lease).unwrap();

    // Expiry: a lease past its time is taken over and recorded as expired.
    let short = reg
        .lease_acquire("dev", "persistent", "crashed-runner", 0)
        .unwrap();
    assert_eq!(
        reg.lease("dev", "persistent").unwrap().unwrap().state,
        "expired"
    );
    let taken = reg
        .lease_acquire("dev", "persistent", "new-runner", 600)
        .unwrap();
    assert!(matches!(
        reg.lease_renew(&short, 600),
        Err(RegistryError::LeaseLost { .. })
    ));
    // Forced unlock: recorded with actor and reason, as an override too.
    let ended = reg
        .lease_force_unlock("dev", "persistent", "oncall", "runner VM was deleted")
        .unwrap()
        .unwrap();
    assert_eq!(ended.lease_id, taken.lease_id);
    let state = reg.lease("dev", "persistent").unwrap().unwrap();
    assert_eq!(state.state, "force_unlocked");
    assert_eq!(state.ended_by.as_deref(), Some("oncall"));
    assert_eq!(state.reason.as_deref(), Some("runner VM was deleted"));
    assert!(
        reg.overrides("dev", Some("persistent"))
            .unwrap()
            .iter()
            .any(|o| o.kind == "lease-force-unlock" && o.actor == "oncall")
    );
    assert!(matches!(
        reg.lease_force_unlock("dev", "persistent", "oncall", ""),
        Err(RegistryError::Invalid(_))
    ));
    assert!(matches!(
        reg.lease_renew(&taken, 600),
        Err(RegistryError::LeaseLost { .. })
    ));

    // --- requests ---
    reg.record_request(&RequestEvent {
        id: new_id(),
        request_id: "RDS-0002".into(),
        kind: "rds".into(),
        env: "prod".into(),
        event: "approved".into(),
        actor: "lead".into(),
        detail: None,
        at_us: now_us(),
    })
    .unwrap();
    assert_eq!(
        reg.request_events(Some("RDS-0002")).unwrap()[0].event,
        "approved"
    );

    // --- the ledger is consistent ---
    assert_eq!(reg.verify().unwrap(), vec![]);
    let report = report(reg, Some("dev"), None, false).unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].p50_seconds, Some(2.5));
}

#[test]
fn story_on_sqlite() {
    let (reg, _dir, _) = crate::sqlite();
    story(&reg);
}

#[test]
fn story_on_postgres() {
    let (reg, _pg, _) = crate::postgres();
    assert_eq!(reg.backend(), Backend::Postgres);
    story(&reg);
}

#[test]
fn update_and_delete_fail_in_sqlite_itself() {
    let (reg, dir, _) = crate::sqlite();
    story(&reg);
    let conn = rusqlite::Connection::open(dir.path().join("registry.db")).unwrap();
    for sql in [
        "UPDATE phase_events SET exit_code = 1",
        "DELETE FROM phase_events",
        "UPDATE reservations SET actor = 'mallory'",
        "DELETE FROM journal",
        "DELETE FROM lease_events",
        "UPDATE overrides SET reason = ''",
        "DELETE FROM deployment_events",
        "DELETE FROM request_events",
        "DELETE FROM schema_migrations",
    ] {
        let err = conn.execute(sql, []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(reg.count_phase_events().unwrap(), 2);
}

#[test]
fn update_delete_and_truncate_fail_in_postgres_itself() {
    let (reg, pg, _) = crate::postgres();
    story(&reg);
    let mut client = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    for sql in [
        "UPDATE phase_events SET exit_code = 1",
        "DELETE FROM phase_events",
        "UPDATE reservations SET actor = 'mallory'",
        "DELETE FROM journal",
        "TRUNCATE journal",
        "DELETE FROM lease_events",
        "UPDATE overrides SET reason = ''",
        "TRUNCATE deployment_events",
        "DELETE FROM schema_migrations",
    ] {
        let err = client.batch_execute(sql).unwrap_err();
        let msg = err
            .as_db_error()
            .map(|e| e.message().to_string())
            .unwrap_or_default();
        assert!(msg.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(reg.count_phase_events().unwrap(), 2);
}

#[test]
fn verify_reports_breaches() {
    let (reg, dir, _) = crate::sqlite();
    story(&reg);
    // Forge what a buggy or malicious writer might leave: an end without a
    // start, a journal gap, an `after` without `before`, an unknown lease.
    let conn = rusqlite::Connection::open(dir.path().join("registry.db")).unwrap();
    conn.execute_batch(
        "INSERT INTO phase_events (id, phase_run, kind, env, deployment, build_id, phase, started_us, ended_us, duration_ms, exit_code, source, at_us)
           VALUES ('x:end', 'x', 'end', 'dev', 'persistent', '', 'forged', 1, 2, 0, 0, 'test', 3);
         INSERT INTO journal (id, env, deployment, seq, action_id, stage, component, driver, action, resource, at_us)
           VALUES ('j9', 'dev', '23-01-26-02', 9, 'act-9', 'after', 'c', 'exec', 'create', 'c', 1);
         INSERT INTO lease_events (id, env, deployment, lease_id, kind, holder, at_us)
           VALUES ('l1', 'dev', 'persistent', 'ghost', 'release', 'nobody', 99999999999999999);",
    )
    .unwrap();
    let breaches = reg.verify().unwrap();
    let checks: Vec<&str> = breaches.iter().map(|b| b.check.as_str()).collect();
    assert!(checks.contains(&"phase-without-start"), "{breaches:?}");
    assert!(checks.contains(&"journal-gap"), "{breaches:?}");
    assert!(checks.contains(&"journal-orphan"), "{breaches:?}");
    assert!(checks.contains(&"lease-unknown"), "{breaches:?}");
}

#[test]
fn locations_parse_and_never_show_passwords() {
    assert_eq!(
        Location::parse("x/registry.db").unwrap(),
        Location::Sqlite("x/registry.db".into())
    );
    assert_eq!(
        Location::parse("sqlite:///tmp/r.db").unwrap(),
        Location::Sqlite("/tmp/r.db".into())
    );
    let pg = Location::parse("postgres://gp:s3cr3t@db:5432/registry").unwrap();
    assert_eq!(pg.describe(), "postgres postgres://gp:***@db:5432/registry");
    let err = Location::parse("mysql://u:s3cr3t@h/db").unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
}

/// A batch of journal entries (a driver's thousand DNS changes) goes in as
/// one write, chained like single appends, on both backends; a retried
/// batch adds nothing.
#[test]
fn a_journal_batch_is_chained_like_single_appends() {
    fn check(reg: &Registry) {
        let entries: Vec<JournalEntry> = (0..300)
            .map(|i| JournalEntry {
                id: new_id(),
                env: "dev".into(),
                deployment: if i % 2 == 0 {
                    "23-01-26-01"
                } else {
                    "23-01-26-02"
                }
                .into(),
                run_id: Some("run-1".into()),
                action_id: format!("act-{i}"),
                stage: Stage::Before,
                component: "web".into(),
                driver: "dns".into(),
                action: "create".into(),
                resource: format!("record h{i}.example.test A"),
                outputs: None,
                detail: None,
            })
            .collect();
        reg.journal_append(&entries[0]).unwrap();
        reg.journal_append_many(&entries).unwrap();
        reg.journal_append_many(&entries[..10]).unwrap();
        let a = reg.journal("dev", "23-01-26-01").unwrap();
        let b = reg.journal("dev", "23-01-26-02").unwrap();
        assert_eq!((a.len(), b.len()), (150, 150));
        let seqs: Vec<i64> = a.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (1..=150).collect::<Vec<_>>());
        assert_eq!(reg.verify().unwrap(), vec![], "the chain checks out");
    }
    let (reg, _dir, _) = crate::sqlite();
    check(&reg);
    let (reg, _pg, _) = crate::postgres();
    check(&reg);
}
