//! What a request may claim, at the engine: never a name another request
//! holds (its database, its role, its credentials' path), in the same
//! environment; its own names are no claim; the platform's per-build names
//! are held for every build.

use gp_core::request::Request;
use gp_registry::{RequestEvent, new_id, now_us};

use crate::{HEADER, World};

const SPEC: &str = "  prod: {}
components: []
";

fn applied(w: &World, id: &str, env: &str, database: &str, role: &str) {
    w.registry
        .record_request(&RequestEvent {
            id: new_id(),
            request_id: id.into(),
            kind: "rds".into(),
            env: env.into(),
            event: "applied".into(),
            actor: "tester".into(),
            detail: Some(serde_json::json!({
                "hash": "h", "resource": database, "role": role, "instance": "db",
                "secretPath": format!("demo/{env}/{database}/postgres"),
                "owner": "t", "requester": "alice",
            })),
            at_us: now_us(),
        })
        .unwrap();
}

fn request(id: &str, env: &str, database: &str, role: &str) -> Request {
    Request::from_source(
        std::path::Path::new("requests/x.yaml"),
        &format!(
            "id: {id}\nenvironment: {env}\ndatabaseName: {database}\nusername: {role}\nowner: t\nrequester: bob\ndomain: d\n"
        ),
    )
    .unwrap()
}

#[test]
fn a_request_never_takes_another_requests_database_or_role() {
    let w = World::new(&format!("{HEADER}{SPEC}"));
    let e = w.engine();
    applied(&w, "RDS-0001", "dev", "orders", "orders_app");
    // Its database, its role: each refused, naming the holder.
    for (db, role, field) in [
        ("orders", "other_app", "database"),
        ("other", "orders_app", "role"),
    ] {
        let claims = e
            .request_claims(&request("RDS-0002", "dev", db, role))
            .unwrap();
        assert_eq!(claims.len(), 1, "{field}: {claims:?}");
        assert!(
            claims[0].message.contains("held by request RDS-0001"),
            "{claims:?}"
        );
    }
    // Its own names are no claim; another environment's instance is
    // another namespace; a name nobody holds is free.
    assert!(
        e.request_claims(&request("RDS-0001", "dev", "orders", "orders_app"))
            .unwrap()
            .is_empty()
    );
    assert!(
        e.request_claims(&request("RDS-0002", "prod", "orders", "orders_app"))
            .unwrap()
            .is_empty()
    );
    assert!(
        e.request_claims(&request("RDS-0002", "dev", "ledger", "ledger_app"))
            .unwrap()
            .is_empty()
    );
}

const BUCKET: &str = "kind: S3BucketRequest
metadata: { id: ID, owner: team-orders, requester: alice }
spec:
  environment: dev
  application: orders
  bucketName: demo-dev-orders-logs
  purpose: { type: logs, description: access logs }
  tags: { costCenter: cc-042 }
";

const SECRET: &str = "kind: SecretRequest
metadata: { id: ID, name: stripe-key, service: payments, environment: dev, domain: commerce }
spec:
  provider: aws-secrets-manager
  secretType: api-key
  risk: { tier: high }
  rotation: { rotationClass: standard }
  lifecycle: { status: active, recoveryWindowInDays: 7 }
  access: { namespace: payments, k8sSecretName: stripe, readPrincipals: [arn:aws:iam::123456789012:role/payments-api] }
  ttlDays: 90
";

const REPOSITORY: &str = "kind: EcrRepositoryRequest
metadata: { id: ID, owner: team-payments }
spec:
  repositoryName: payments/api
  scanOnPush: enabled
  tagImmutability: IMMUTABLE
  lifecyclePolicy: { keepLast: 25 }
  risk: { tier: critical }
";

fn cloud_request(template: &str, id: &str) -> Request {
    Request::from_source(
        std::path::Path::new("requests/x.yaml"),
        &template.replace("ID", id),
    )
    .unwrap()
}

#[test]
fn a_bucket_secret_or_repository_another_request_holds_is_never_claimed() {
    for (template, kind, first, second) in [
        (BUCKET, "s3", "S3-0001", "S3-0002"),
        (SECRET, "secret", "SEC-0001", "SEC-0002"),
        (REPOSITORY, "ecr", "ECR-0001", "ECR-0002"),
    ] {
        let w = World::new(&format!("{HEADER}{SPEC}"));
        let e = w.engine();
        let held = cloud_request(template, first);
        // Nobody holds it yet: free.
        assert!(e.request_claims(&held).unwrap().is_empty(), "{kind}");
        let name = e.request_desired(&held).unwrap().name().to_string();
        w.registry
            .record_request(&RequestEvent {
                id: new_id(),
                request_id: first.into(),
                kind: kind.into(),
                env: held.env().into(),
                event: "applied".into(),
                actor: "tester".into(),
                detail: Some(serde_json::json!({"hash": "h", "resource": name, "created": true})),
                at_us: now_us(),
            })
            .unwrap();
        let claims = e.request_claims(&cloud_request(template, second)).unwrap();
        assert_eq!(claims.len(), 1, "{kind}: {claims:?}");
        assert!(
            claims[0]
                .message
                .contains(&format!("held by request {first}")),
            "{kind}: {claims:?}"
        );
        // Its own name is no claim.
        assert!(e.request_claims(&held).unwrap().is_empty(), "{kind}");
    }
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn who_asked_is_the_requester_every_author_of_the_file_and_the_pull_requests_author() {
    let w = World::new(&format!("{HEADER}{SPEC}"));
    let dir = w.dir.path();
    let file = dir.join("requests/RDS-0003.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let text = "id: RDS-0003\nenvironment: dev\ndatabaseName: ledger\nusername: ledger_app\nowner: t\nrequester: bob\ndomain: d\n";
    let r = |text: &str| Request::from_source(&file, text).unwrap();
    // Outside git: the requester alone.
    std::fs::write(&file, text).unwrap();
    let askers = w.engine().request_askers(&r(text)).unwrap();
    assert_eq!(
        askers.iter().map(|a| a.who.as_str()).collect::<Vec<_>>(),
        ["bob"]
    );
    git(dir, &["init", "-q"]);
    for (name, email, line) in [
        ("Carol", "carol@example.io", ""),
        ("Dave", "dave@example.io", "# edited\n"),
    ] {
        std::fs::write(&file, format!("{text}{line}")).unwrap();
        git(dir, &["add", "requests"]);
        git(
            dir,
            &[
                "-c",
                &format!("user.name={name}"),
                "-c",
                &format!("user.email={email}"),
                "commit",
                "-qm",
                "request",
            ],
        );
    }
    let mut e = w.engine();
    e.change_author = Some("erin".into());
    let askers = e.request_askers(&r(text)).unwrap();
    let who: Vec<(&str, &str)> = askers.iter().map(|a| (a.who.as_str(), a.role)).collect();
    assert_eq!(
        who,
        [
            ("bob", "asked for"),
            ("Carol", "wrote or changed the file of"),
            ("Dave", "wrote or changed the file of"),
            ("carol@example.io", "wrote or changed the file of"),
            ("dave@example.io", "wrote or changed the file of"),
            ("erin", "opened the pull request of"),
        ]
    );
}

const PLATFORM: &str = "  prod: {}
components:
  - name: rds
    plane: foundational
    tier: 1
    driver: file
    settings: { databases: [keycloak] }
  - name: build-db
    plane: disposable
    tier: 1
    driver: file
    settings: { databases: [app] }
  - name: nothing
    plane: disposable
    tier: 1
    driver: exec
    settings: { apply: [\"true\"] }
";

#[test]
fn the_platform_holds_its_foundational_persistent_and_every_builds_names() {
    use gp_core::ownership::{NameKind, Owner};
    let w = World::new(&format!("{HEADER}{PLATFORM}"));
    let e = w.engine();
    for env in ["dev", "prod"] {
        let index = e.platform_holds(env).unwrap();
        let owner = |name: &str| {
            index
                .owner_of(NameKind::Database, name)
                .map(|h| h.owner.clone())
        };
        assert_eq!(owner("keycloak"), Some(Owner::component("rds")));
        assert_eq!(
            owner("app_persistent"),
            Some(Owner::Deployment("the persistent deployment".into()))
        );
        // Every build, past and future, not only the probes.
        for b in ["app_b_23012601", "app_b_01123007", "app_b_31129999"] {
            assert_eq!(
                owner(b),
                Some(Owner::Deployment("every build (past and future)".into())),
                "{b}"
            );
        }
        assert_eq!(owner("app"), None);
        assert_eq!(owner("app_b_x"), None);
        assert_eq!(owner("orders"), None);
        // The folder of every build's secrets, and what is under it.
        let scope = gp_core::Contract::new(&w.platform, env, gp_core::Deployment::Foundational)
            .unwrap()
            .builds_secret_scope();
        let held = index
            .owner_of(NameKind::Secret, &format!("{scope}/23-01-26-01/db"))
            .map(|h| h.owner.clone());
        assert_eq!(
            held,
            Some(Owner::Deployment("every build (past and future)".into()))
        );
    }
}

#[test]
fn a_request_for_a_name_the_platform_holds_is_refused_naming_the_holder() {
    let w = World::new(&format!("{HEADER}{PLATFORM}"));
    let e = w.engine();
    for (db, holder) in [
        ("keycloak", "rds"),
        ("app_persistent", "the persistent deployment"),
        ("app_b_24022703", "every build"),
    ] {
        let claims = e
            .request_claims(&request("RDS-0009", "dev", db, "someone_app"))
            .unwrap();
        assert_eq!(claims.len(), 1, "{db}: {claims:?}");
        assert!(claims[0].message.contains(holder), "{db}: {claims:?}");
    }
    assert!(
        e.request_claims(&request("RDS-0009", "dev", "ledger", "ledger_app"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_spec_change_that_would_hold_a_requests_name_is_found_at_the_component() {
    let w = World::new(&format!("{HEADER}{PLATFORM}"));
    applied(&w, "RDS-0001", "dev", "keycloak", "keycloak_app");
    applied(&w, "RDS-0002", "prod", "app_persistent", "p_app");
    // A request elsewhere, and a name nobody in the spec holds: no finding.
    applied(&w, "RDS-0003", "dev", "ledger", "ledger_app");
    let found = w.engine().spec_claims().unwrap();
    let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(found.len(), 2, "{messages:?}");
    assert!(
        messages[0].contains("`rds` would hold the database `keycloak` in dev"),
        "{messages:?}"
    );
    assert!(messages[0].contains("request RDS-0001"), "{messages:?}");
    assert!(
        messages[1].contains("`build-db`") && messages[1].contains("in prod"),
        "{messages:?}"
    );
}

#[test]
fn a_spec_change_that_would_hold_a_requests_bucket_secret_or_repository_is_found() {
    let w = World::new(&format!(
        "{HEADER}  prod: {{}}
components:
  - name: store
    plane: foundational
    tier: 1
    driver: file
    settings: {{ buckets: [shop-logs], secrets: [shop/dev/api-key], repositories: [shop/api] }}
"
    ));
    let applied = |id: &str, kind: &str, env: &str, resource: &str| {
        w.registry
            .record_request(&RequestEvent {
                id: new_id(),
                request_id: id.into(),
                kind: kind.into(),
                env: env.into(),
                event: "applied".into(),
                actor: "tester".into(),
                detail: Some(
                    serde_json::json!({"hash": "h", "resource": resource, "created": true}),
                ),
                at_us: now_us(),
            })
            .unwrap();
    };
    // A bucket's and a repository's names are global: applied in prod, they
    // are held in dev too; a secret's only in its environment.
    applied("S3-0001", "s3", "prod", "shop-logs");
    applied("SEC-0001", "secret", "dev", "shop/dev/api-key");
    applied("ECR-0001", "ecr", "prod", "shop/api");
    applied("SEC-0002", "secret", "prod", "shop/dev/api-key-other");
    let found = w.engine().spec_claims().unwrap();
    let mut messages: Vec<String> = found.iter().map(|d| d.message.clone()).collect();
    messages.sort();
    assert_eq!(messages.len(), 5, "{messages:#?}");
    for (what, request) in [
        ("the bucket `shop-logs` in dev", "S3-0001"),
        ("the bucket `shop-logs` in prod", "S3-0001"),
        ("the secret `shop/dev/api-key` in dev", "SEC-0001"),
        ("the repository `shop/api` in dev", "ECR-0001"),
        ("the repository `shop/api` in prod", "ECR-0001"),
    ] {
        assert!(
            messages
                .iter()
                .any(|m| m.contains(what) && m.contains(&format!("request {request}"))),
            "{what}: {messages:#?}"
        );
    }
}

fn event(w: &World, id: &str, kind: &str, event: &str, detail: serde_json::Value) {
    w.registry
        .record_request(&RequestEvent {
            id: new_id(),
            request_id: id.into(),
            kind: kind.into(),
            env: "dev".into(),
            event: event.into(),
            actor: "tester".into(),
            detail: Some(detail),
            at_us: now_us(),
        })
        .unwrap();
}

#[test]
fn a_withdrawn_request_still_holds_its_names_and_one_torn_down_with_its_instance_holds_none() {
    let w = World::new(&format!("{HEADER}{SPEC}"));
    let e = w.engine();
    applied(&w, "RDS-0001", "dev", "orders", "orders_app");
    let a = e.applied_requests(Some("dev")).unwrap();
    assert_eq!(a.len(), 1);
    assert!(!a[0].withdrawn);
    // Each kind claims its own kinds of names, by name.
    assert!(a[0].claims("database", "orders"));
    assert!(a[0].claims("role", "orders_app"));
    assert!(!a[0].claims("database", "orders_app"));
    assert!(!a[0].claims("role", "orders"));
    assert!(!a[0].claims("bucket", "orders"));
    // Withdrawn: its deliveries are gone, the database is kept — and held.
    event(
        &w,
        "RDS-0001",
        "rds",
        "withdrawn",
        serde_json::json!({"removed": ["x"], "reason": "done"}),
    );
    let a = e.applied_requests(Some("dev")).unwrap();
    assert!(a[0].withdrawn && a[0].delivered.is_empty());
    assert_eq!(
        e.request_claims(&request("RDS-0002", "dev", "orders", "other_app"))
            .unwrap()
            .len(),
        1
    );
    // Torn down with its instance: it holds nothing any more.
    event(
        &w,
        "RDS-0001",
        "rds",
        "torn_down",
        serde_json::json!({"by": "teardown of db", "removed": []}),
    );
    assert!(e.applied_requests(Some("dev")).unwrap().is_empty());
    assert!(
        e.request_claims(&request("RDS-0002", "dev", "orders", "orders_app"))
            .unwrap()
            .is_empty()
    );
    // Another environment's requests are not this one's.
    assert!(e.applied_requests(Some("prod")).unwrap().is_empty());
}

#[test]
fn a_cloud_request_claims_its_resource_by_its_kind() {
    let w = World::new(&format!("{HEADER}{SPEC}"));
    for (id, kind, name) in [
        ("S3-0001", "s3", "gp-dev-logs"),
        ("ECR-0001", "ecr", "shop/api"),
        ("SEC-0001", "secret", "gp/dev/api-key"),
    ] {
        event(
            &w,
            id,
            kind,
            "applied",
            serde_json::json!({"hash": "h", "resource": name, "created": true}),
        );
    }
    let a = w.engine().applied_requests(None).unwrap();
    let by = |id: &str| a.iter().find(|x| x.request == id).unwrap();
    assert!(by("S3-0001").claims("bucket", "gp-dev-logs"));
    assert!(!by("S3-0001").claims("repository", "gp-dev-logs"));
    assert!(!by("S3-0001").claims("bucket", "other"));
    assert!(by("ECR-0001").claims("repository", "shop/api"));
    assert!(!by("ECR-0001").claims("secret", "shop/api"));
    assert!(by("SEC-0001").claims("secret", "gp/dev/api-key"));
    assert!(!by("SEC-0001").claims("database", "gp/dev/api-key"));
}
