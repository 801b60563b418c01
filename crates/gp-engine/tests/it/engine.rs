use std::sync::Arc;
use std::sync::atomic::Ordering;

use gp_core::{BuildIdArg, Deployment, Platform};
use gp_engine::run::ComponentResult;
use gp_engine::*;
use gp_registry::Stage;

use crate::{HEADER, World};

fn build(id: &str) -> DeploymentSelector {
    DeploymentSelector::Build(BuildIdArg::Id(id.parse().unwrap()))
}

fn deploy(w: &World, selector: DeploymentSelector) -> DeployOutcome {
    w.engine()
        .deploy(&DeployRequest {
            env: "dev".into(),
            selector,
            resume: false,
            override_reason: None,
            today: Some((23, 1, 26)),
            overrides: vec![],
            policy_overrides: vec![],
            ttl_s: None,
            remediate_drift: false,
        })
        .unwrap()
}

fn result<'a>(o: &'a DeployOutcome, c: &str) -> &'a ComponentResult {
    &o.components
        .iter()
        .find(|x| x.component == c)
        .unwrap()
        .result
}

const PLANES: &str = "components:
  - name: db
    plane: foundational
    tier: 2
    protected: true
    driver: file
    settings: { databases: [app, other] }
  - name: svc
    plane: disposable
    tier: 1
    driver: file
    needs: [db/app]
    settings: { files: [a, b], content: \"${db/app.path}\" }
";

#[test]
fn builds_never_create_or_touch_the_foundational_plane() {
    let w = World::new(&format!("{HEADER}{PLANES}"));
    // Before the foundational plane exists: svc, the build's only
    // component, waits; nothing would be deployed, so the deploy is refused
    // before the build id is reserved, and nothing of db appears.
    let err = w
        .engine()
        .deploy(&DeployRequest {
            today: Some((23, 1, 26)),
            ..DeployRequest::new("dev", build("23-01-26-01"))
        })
        .unwrap_err();
    match &err {
        EngineError::Failed { message, hint } => {
            assert_eq!(
                message,
                "nothing to deploy in dev build 23-01-26-01 yet: svc needs db/app, a foundational component not deployed in dev"
            );
            assert!(
                hint.as_deref()
                    .unwrap()
                    .contains("goldenpath deploy --env dev --foundational db"),
                "{hint:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        w.registry
            .reservation("dev", "23-01-26-01".parse().unwrap())
            .unwrap()
            .is_none(),
        "nothing deployable: the build id must not be reserved"
    );
    assert!(
        !w.files().exists(),
        "the build created files: nothing about the database may be created by a build"
    );

    // The foundational plane, then the build again: svc is created, reading
    // the database's output.
    let f = deploy(&w, DeploymentSelector::Foundational(vec![]));
    assert!(f.succeeded());
    assert!(w.exists("foundational/db-app"));
    let o = deploy(&w, build("23-01-26-01"));
    assert!(
        matches!(result(&o, "svc"), ComponentResult::Applied { action, .. } if action == "create"),
        "{o:?}"
    );
    let content = std::fs::read_to_string(w.files().join("23-01-26-01/svc-a")).unwrap();
    assert!(content.ends_with("foundational/db-app"), "{content}");
    // Deploying again converges: nothing to do.
    let again = deploy(&w, build("23-01-26-01"));
    assert_eq!(result(&again, "svc"), &ComponentResult::Unchanged);
    assert_eq!(again.reserved, Some(false));

    // Teardown of the build removes exactly its files; the protected
    // database is untouched (observed on disk).
    let t = w
        .engine()
        .teardown(&TeardownRequest {
            env: "dev".into(),
            target: TeardownTarget::Build("23-01-26-01".parse().unwrap()),
            confirm: false,
            break_glass: vec![],
            reason: None,
            overrides: vec![],
            cascade: false,
        })
        .unwrap();
    assert!(t.clean(), "{t:?}");
    assert_eq!(t.destroyed.len(), 2);
    assert!(!w.exists("23-01-26-01/svc-a") && !w.exists("23-01-26-01/svc-b"));
    assert!(w.exists("foundational/db-app") && w.exists("foundational/db-other"));

    // The id is retired now.
    let err = w
        .engine()
        .deploy(&DeployRequest {
            env: "dev".into(),
            selector: build("23-01-26-01"),
            resume: false,
            override_reason: None,
            today: None,
            overrides: vec![],
            policy_overrides: vec![],
            ttl_s: None,
            remediate_drift: false,
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Registry(gp_registry::RegistryError::BuildIdRetired { .. })
        ),
        "{err}"
    );

    // The protected database: no --confirm, then no --break-glass: refused,
    // nothing changes.
    let mut req = TeardownRequest {
        env: "dev".into(),
        target: TeardownTarget::Foundational(vec!["db".into()]),
        confirm: false,
        break_glass: vec![],
        reason: None,
        overrides: vec![],
        cascade: false,
    };
    assert!(matches!(
        w.engine().teardown(&req),
        Err(EngineError::Refused { .. })
    ));
    req.confirm = true;
    let err = w.engine().teardown(&req).unwrap_err();
    assert!(
        err.to_string()
            .contains("`db` is protected; tearing it down needs --break-glass db"),
        "{err}"
    );
    assert!(w.exists("foundational/db-app"));
    assert!(
        w.registry
            .overrides("dev", None)
            .unwrap()
            .iter()
            .all(|o| o.kind != "break-glass")
    );
    // With break-glass and a reason it goes, and the override is recorded.
    req.break_glass = vec!["db".into()];
    assert!(
        matches!(w.engine().teardown(&req), Err(EngineError::Usage { .. })),
        "break-glass needs a reason"
    );
    req.reason = Some("decommissioning dev".into());
    let t = w.engine().teardown(&req).unwrap();
    assert!(t.clean(), "{t:?}");
    assert!(!w.exists("foundational/db-app"));
    let ov = w.registry.overrides("dev", Some("foundational")).unwrap();
    assert_eq!(ov.len(), 1);
    assert_eq!(
        (
            ov[0].kind.as_str(),
            ov[0].actor.as_str(),
            ov[0].reason.as_str()
        ),
        ("break-glass", "tester", "decommissioning dev")
    );
}

#[test]
fn tiers_and_modes_in_the_golden_example() {
    let p = Platform::load(&gp_test::example("golden-v1/goldenpath.yaml")).unwrap();
    let g = Graph::build(
        &p,
        "dev",
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
        &[],
    )
    .unwrap();
    assert_eq!(g.node("backstage").unwrap().disposition, Disposition::Run);
    assert_eq!(
        g.node("keycloak").unwrap().disposition,
        Disposition::Skip(
            "keycloak runs in persistent deployments only; builds use the persistent keycloak"
                .into()
        )
    );
    // Foundational components are read-only dependencies of a build.
    assert_eq!(g.node("rds").unwrap().role, Role::Dependency);
    assert_eq!(g.node("vpc").unwrap().role, Role::Dependency);
    // dns-zone is needed by external-dns.
    assert_eq!(g.node("dns-zone").unwrap().role, Role::Dependency);
    // Deterministic order: dependencies first, ties by declaration.
    let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "vpc",
            "rds",
            "dns-zone",
            "cluster",
            "irsa",
            "argocd",
            "external-dns",
            "external-secrets",
            "backstage",
            "keycloak"
        ]
    );
    // The persistent deployment runs keycloak; test builds stop at tier 1.5.
    let g = Graph::build(&p, "dev", Deployment::Persistent, &[]).unwrap();
    assert_eq!(g.node("keycloak").unwrap().disposition, Disposition::Run);
    let g = Graph::build(
        &p,
        "test",
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
        &[],
    )
    .unwrap();
    assert_eq!(
        g.node("backstage").unwrap().disposition,
        Disposition::Skip("tier 2 is above the ephemeral limit 1.5 for test".into())
    );
    // Mermaid and DOT name every node.
    let m = graph::render(&g, &p, GraphFormat::Mermaid);
    assert!(
        m.starts_with("flowchart LR")
            && m.contains("external_dns")
            && m.contains("class backstage skipped")
    );
    let d = graph::render(&g, &p, GraphFormat::Dot);
    assert!(
        d.contains("\"cluster\" -> \"irsa\";")
            && d.contains("\"rds\" -> \"backstage\" [label=\"backstage\"]")
    );
}

#[test]
fn status_says_what_to_run_next() {
    let p = Platform::load(&gp_test::example("golden-v1/goldenpath.yaml")).unwrap();
    let dir = gp_test::tempdir();
    let registry =
        gp_registry::Registry::open(&gp_registry::Location::Sqlite(dir.path().join("r.db")))
            .unwrap();
    // The real postgres driver words what its components are.
    let store = Arc::new(gp_driver_secrets::LocalStore::new(dir.path()));
    let drivers =
        gp_driver::DriverSet::new().with(Arc::new(gp_driver_postgres::PostgresDriver::new(store)));
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = Engine::new(
        &p,
        &registry,
        &drivers,
        dir.path().into(),
        &NoEvents,
        &cancel,
    );
    let s = engine
        .status("dev", Deployment::Ephemeral("23-01-26-01".parse().unwrap()))
        .unwrap();
    let row = |c: &str| s.components.iter().find(|r| r.component == c).unwrap();
    assert_eq!(row("backstage").state, RowState::Pending);
    assert_eq!(
        row("backstage").reason.as_deref(),
        Some("needs rds/backstage, a foundational database not deployed in dev")
    );
    // Every row names the one command that deploys everything missing,
    // in dependency order: one round, not one per component.
    let all = Some("goldenpath deploy --env dev --foundational vpc rds dns-zone");
    assert_eq!(row("backstage").next.as_deref(), all);
    assert_eq!(row("cluster").next.as_deref(), all);
    assert_eq!(row("keycloak").state, RowState::Skipped);
    assert!(
        row("keycloak")
            .reason
            .as_deref()
            .unwrap()
            .ends_with("at keycloak.dev.goldenpathidp.io")
    );
    assert_eq!(
        row("cluster").state,
        RowState::Pending,
        "cluster needs the vpc"
    );
    assert_eq!(row("rds").state, RowState::NotDeployed);
    assert_eq!(row("rds").next.as_deref(), all);
    assert_eq!(s.status, "not-deployed");
    // Only this deployment's components count as pending (all six of
    // them), not the foundational rds, vpc and zone they wait for.
    assert_eq!(s.pending, 6);
}

#[test]
fn independent_components_overlap_and_dependent_ones_never_do() {
    let spec = format!(
        "{HEADER}components:
  - name: a
    plane: disposable
    tier: 0
    driver: exec
    settings: {{ apply: sleep 0.4 }}
  - name: b
    plane: disposable
    tier: 0
    driver: exec
    settings: {{ apply: sleep 0.4 }}
  - name: c
    plane: disposable
    tier: 0
    driver: exec
    needs: [a]
    settings: {{ apply: sleep 0.1 }}
"
    );
    let w = World::new(&spec);
    let o = deploy(&w, build("23-01-26-01"));
    assert!(o.succeeded(), "{o:?}");
    let journal = w.registry.journal("dev", "23-01-26-01").unwrap();
    let span = |c: &str| {
        let at = |stage: Stage| {
            journal
                .iter()
                .find(|j| {
                    j.entry.component == c && j.entry.action == "apply" && j.entry.stage == stage
                })
                .unwrap()
                .at_us
        };
        (at(Stage::Before), at(Stage::After))
    };
    let (a0, a1) = span("a");
    let (b0, b1) = span("b");
    let (c0, c1) = span("c");
    assert!(
        a0 < b1 && b0 < a1,
        "a [{a0},{a1}] and b [{b0},{b1}] should overlap"
    );
    assert!(c0 >= a1, "c started at {c0} before a ended at {a1}");
    assert!(c1 > c0);
    // Each component is a phase in the registry.
    let phases = w.registry.phases("dev", Some("23-01-26-01")).unwrap();
    for c in ["apply:a", "apply:b", "apply:c", "deploy"] {
        assert!(
            phases
                .iter()
                .any(|p| p.phase == c && p.exit_code == Some(0)),
            "{c} missing: {phases:?}"
        );
    }
}

#[test]
fn a_failed_component_blocks_its_dependents_and_resume_finishes() {
    let spec = format!(
        "{HEADER}components:
  - name: flaky
    plane: disposable
    tier: 0
    driver: exec
    settings:
      apply: test -f \"$GOLDENPATH_STATE_DIR/fixed\"
  - name: after
    plane: disposable
    tier: 0
    driver: exec
    needs: [flaky]
    settings: {{ apply: 'true' }}
  - name: alone
    plane: disposable
    tier: 0
    driver: exec
    settings: {{ apply: 'true' }}
"
    );
    let w = World::new(&spec);
    let o = deploy(&w, build("23-01-26-01"));
    assert!(!o.succeeded());
    assert!(matches!(
        result(&o, "flaky"),
        ComponentResult::Failed { .. }
    ));
    assert_eq!(
        result(&o, "after"),
        &ComponentResult::Blocked {
            reason: "needs flaky, which failed".into()
        }
    );
    assert!(matches!(
        result(&o, "alone"),
        ComponentResult::Applied { .. }
    ));
    let failed = w
        .engine()
        .status("dev", Deployment::Ephemeral("23-01-26-01".parse().unwrap()))
        .unwrap();
    let flaky = failed
        .components
        .iter()
        .find(|c| c.component == "flaky")
        .unwrap();
    assert_eq!(flaky.state, RowState::Failed);
    assert_eq!(
        flaky.next.as_deref(),
        Some("goldenpath deploy --env dev --build-id 23-01-26-01 --resume")
    );
    assert_eq!(failed.status, "failed");

    std::fs::write(w.state_dir().join("fixed"), "").unwrap();
    let r = w
        .engine()
        .deploy(&DeployRequest {
            env: "dev".into(),
            selector: build("23-01-26-01"),
            resume: true,
            override_reason: None,
            today: None,
            overrides: vec![],
            policy_overrides: vec![],
            ttl_s: None,
            remediate_drift: false,
        })
        .unwrap();
    assert!(r.succeeded(), "{r:?}");
    // exec without a `check` cannot see what exists, so its failed apply
    // is simply run again.
    assert!(
        matches!(result(&r, "flaky"), ComponentResult::Applied { action, .. } if action == "create"),
        "{r:?}"
    );
    assert!(
        matches!(result(&r, "after"), ComponentResult::Applied { action, .. } if action == "create")
    );
    assert_eq!(result(&r, "alone"), &ComponentResult::Unchanged);
    assert!(w.registry.verify().unwrap().is_empty());
}

#[test]
fn ctrl_c_lets_running_work_finish_and_starts_nothing_new() {
    struct CancelOnStart<'a>(&'a std::sync::atomic::AtomicBool, &'a crate::Events);
    impl EventSink for CancelOnStart<'_> {
        fn emit(&self, e: &Event) {
            if matches!(e, Event::ComponentStarted { component, .. } if component == "first") {
                self.0.store(true, Ordering::SeqCst);
            }
            self.1.emit(e);
        }
    }
    let spec = format!(
        "{HEADER}components:
  - name: first
    plane: disposable
    tier: 0
    driver: exec
    settings: {{ apply: sleep 0.2 }}
  - name: second
    plane: disposable
    tier: 0
    driver: exec
    needs: [first]
    settings: {{ apply: 'true' }}
"
    );
    let w = World::new(&spec);
    let sink = CancelOnStart(&w.cancel, &w.events);
    let mut engine = w.engine();
    engine.events = &sink;
    let o = engine
        .deploy(&DeployRequest {
            env: "dev".into(),
            selector: build("23-01-26-01"),
            resume: false,
            override_reason: None,
            today: None,
            overrides: vec![],
            policy_overrides: vec![],
            ttl_s: None,
            remediate_drift: false,
        })
        .unwrap();
    assert!(o.interrupted);
    assert!(
        matches!(result(&o, "first"), ComponentResult::Applied { .. }),
        "the running action finished"
    );
    assert_eq!(result(&o, "second"), &ComponentResult::NotStarted);
    let events = w.registry.deployment_events("dev", "23-01-26-01").unwrap();
    assert_eq!(events.last().unwrap().event, "deploy_interrupted");
    // Resume finishes the rest.
    w.cancel.store(false, Ordering::SeqCst);
    let r = w
        .engine()
        .deploy(&DeployRequest {
            env: "dev".into(),
            selector: build("23-01-26-01"),
            resume: true,
            override_reason: None,
            today: None,
            overrides: vec![],
            policy_overrides: vec![],
            ttl_s: None,
            remediate_drift: false,
        })
        .unwrap();
    assert!(r.succeeded());
    assert_eq!(result(&r, "first"), &ComponentResult::Unchanged);
}

#[test]
fn a_held_lease_refuses_a_second_deploy_naming_the_holder() {
    let spec = format!(
        "{HEADER}components:\n  - name: a\n    plane: disposable\n    tier: 0\n    driver: exec\n    settings: {{ apply: 'true' }}\n"
    );
    let w = World::new(&spec);
    w.registry
        .lease_acquire(
            "dev",
            "23-01-26-01",
            "ci@runner-7 pid 1 on elsewhere run r",
            600,
        )
        .unwrap();
    let mut req = DeployRequest {
        env: "dev".into(),
        selector: build("23-01-26-01"),
        resume: false,
        override_reason: None,
        today: None,
        overrides: vec![],
        policy_overrides: vec![],
        ttl_s: None,
        remediate_drift: false,
    };
    let err = w.engine().deploy(&req).unwrap_err();
    assert!(
        err.to_string()
            .contains("being changed by ci@runner-7 pid 1 on elsewhere"),
        "{err}"
    );
    // Another build is independent.
    req.selector = build("23-01-26-02");
    assert!(w.engine().deploy(&req).unwrap().succeeded());
}

#[test]
fn references_are_checked_before_anything_runs() {
    let spec = format!(
        "{HEADER}components:
  - name: cluster
    plane: disposable
    tier: 0
    driver: exec
    settings: {{ apply: 'true', outputs: [endpoint] }}
  - name: app
    plane: disposable
    tier: 1
    driver: exec
    needs: [cluster]
    settings: {{ apply: 'true', env: {{ URL: '${{cluster.endpont}}', X: '${{other.y}}' }} }}
"
    );
    let w = World::new(&spec);
    let err = w.engine().validate().unwrap_err();
    let msgs: Vec<String> = err.0.iter().map(|d| d.to_string()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        msgs[0].contains(
            "`${cluster.endpont}`: `cluster` publishes no output `endpont` (outputs: endpoint)"
        ),
        "{msgs:?}"
    );
    assert_eq!(err.0[0].hint.as_deref(), Some("did you mean `endpoint`?"));
    assert!(
        msgs[1].contains("`app` references `${other.y}`, but does not need `other`"),
        "{msgs:?}"
    );
}

#[test]
fn preflight_reports_every_components_problem_and_passes_a_runnable_spec() {
    let ok = World::new(&format!(
        "{HEADER}components:\n  - {{ name: a, plane: disposable, tier: 1, driver: file, settings: {{ files: [x], source: /etc/hostname }} }}\n"
    ));
    assert!(gp_engine::preflight(&ok.platform, &ok.drivers).is_ok());
    let w = World::new(&format!(
        "{HEADER}components:\n  - {{ name: a, plane: disposable, tier: 1, driver: file, settings: {{ files: [x], source: /nonexistent/a }} }}\n  - {{ name: b, plane: disposable, tier: 1, driver: file, settings: {{ files: [y], source: /nonexistent/b }} }}\n  - {{ name: c, plane: disposable, tier: 1, driver: unknown-driver, settings: {{}} }}\n"
    ));
    let err = gp_engine::preflight(&w.platform, &w.drivers).unwrap_err();
    let messages: Vec<&str> = err.0.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        ["a: no file /nonexistent/a", "b: no file /nonexistent/b"]
    );
    assert_eq!(err.0[0].pos.map(|p| p.line), Some(12));
}

#[test]
fn a_foundational_dependency_that_failed_or_was_interrupted_says_so_where_it_is_needed() {
    let w = World::new(&format!(
        "{HEADER}components:
  - {{ name: db, plane: foundational, tier: 1, driver: file, settings: {{ databases: [app] }} }}
  - {{ name: web, plane: disposable, tier: 1, driver: file, needs: [db/app], settings: {{ files: [x] }} }}
"
    ));
    let b = Deployment::Ephemeral("23-01-26-01".parse().unwrap());
    let journal = |action_id: &str, stage: Stage| {
        w.registry
            .journal_append(&gp_registry::JournalEntry {
                id: gp_registry::new_id(),
                env: "dev".into(),
                deployment: Deployment::Foundational.key(),
                run_id: Some("r".into()),
                action_id: action_id.into(),
                stage,
                component: "db".into(),
                driver: "file".into(),
                action: "apply".into(),
                resource: "component db".into(),
                outputs: None,
                detail: (stage == Stage::Failed).then(|| "boom".to_string()),
            })
            .unwrap();
    };
    let rows = || {
        let s = w.engine().status("dev", b).unwrap();
        let f = w.engine().status("dev", Deployment::Foundational).unwrap();
        let web = s
            .components
            .iter()
            .find(|r| r.component == "web")
            .unwrap()
            .clone();
        let db = f
            .components
            .iter()
            .find(|r| r.component == "db")
            .unwrap()
            .clone();
        // The build's own row of its foundational dependency.
        let dep = s
            .components
            .iter()
            .find(|r| r.component == "db")
            .unwrap()
            .clone();
        assert_eq!(dep.role, "dependency");
        (web, db, dep.reason.unwrap_or_default())
    };
    let (web, db, dep) = rows();
    assert_eq!(dep, "foundational, not deployed in dev");
    assert_eq!(web.state, RowState::Pending);
    assert_eq!(
        web.reason.as_deref(),
        Some("needs db/app, a foundational component not deployed in dev")
    );
    assert_eq!(db.state, RowState::NotDeployed);
    // Started and never finished: interrupted.
    journal("a1", Stage::Before);
    let (web, db, dep) = rows();
    assert_eq!(dep, "foundational, its last deploy in dev was interrupted");
    assert_eq!(
        web.reason.as_deref(),
        Some("needs db/app, a foundational component whose last deploy was interrupted in dev")
    );
    assert_eq!(db.state, RowState::Interrupted);
    // Failed.
    journal("a1", Stage::Failed);
    let (web, db, dep) = rows();
    assert_eq!(dep, "foundational, its last deploy in dev failed");
    assert_eq!(
        web.reason.as_deref(),
        Some("needs db/app, a foundational component whose last deploy failed in dev")
    );
    assert_eq!(db.state, RowState::Failed);
    assert_eq!(
        web.next.as_deref(),
        Some("goldenpath deploy --env dev --foundational db")
    );
    // The words tables and JSON use.
    for (s, word) in [
        (RowState::Ready, "ready"),
        (RowState::Delivered, "delivered"),
        (RowState::Pending, "pending"),
        (RowState::Skipped, "skipped"),
        (RowState::Blocked, "blocked"),
        (RowState::Failed, "failed"),
        (RowState::Interrupted, "interrupted"),
        (RowState::NotDeployed, "not-deployed"),
        (RowState::TornDown, "torn-down"),
    ] {
        assert_eq!(s.as_str(), word);
        assert_eq!(serde_json::to_value(s).unwrap(), word);
    }
}
