//! The platform's request files as they are: the nested layout under
//! environment folders at a configured location, the platform's defaults,
//! its enums file, ids apart from file names, every rule enforced, approvals
//! routed to groups, and `request new`. A location with no file, a file of
//! another kind and a duplicate id are errors (exit 2), never a silent pass.

use crate::deploy::Platform;

const SPEC: &str = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
requests:
  paths: [\"docs/20-contracts/rds-requests/**/*.yaml\"]
  enums: schemas/metadata/enums.yaml
  approvers:
    platform: [paula]
    security: [sam]
environments:
  dev: {}
  prod: {}
components:
  - name: rds
    plane: foundational
    tier: 2
    protected: true
    driver: postgres
    settings:
      managed: {}
      databases: [keycloak]
";

const ENUMS: &str = "# the platform's enums: top-level keys, each a list
domains: [commerce, identity, platform]
owners: [team-orders, platform-team]
lifecycle: [active, draft]
";

/// A request in the platform's nested layout.
fn nested(id: &str, env: &str, spec_lines: &str) -> String {
    format!(
        "id: {id}
service: postgres
environment: {env}
owner: team-orders
requester: alice
metadata:
  title: Orders database
  description: for the orders service
  created: 2026-01-05
spec:
  databaseName: order_events
  username: order_events_app
  domain: commerce
{spec_lines}"
    )
}

fn platform() -> Platform {
    let p = Platform::new(SPEC);
    let w = |rel: &str, text: &str| {
        let path = p.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    w("schemas/metadata/enums.yaml", ENUMS);
    w(
        "docs/20-contracts/rds-requests/dev/RDS-0001.yaml",
        &nested("RDS-0001", "dev", ""),
    );
    // A file named apart from its id.
    w(
        "docs/20-contracts/rds-requests/prod/RDS-0002-orders-prod.yaml",
        &nested(
            "RDS-0002",
            "prod",
            "  size: medium\n  storageGb: 50\n  maxStorageGb: 200\n  backupRetentionDays: 14\n  multiAz: true\n",
        ),
    );
    p
}

fn write(p: &Platform, rel: &str, text: &str) {
    let path = p.path().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_platforms_nested_files_validate_with_its_defaults_and_enums() {
    let p = platform();
    let out = p.run(&["request", "validate"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stderr.contains("RDS-0001") && out.stderr.contains("RDS-0002"),
        "{}",
        out.transcript()
    );
    // Found by id although the file is named otherwise; defaults applied.
    let plan = p.run(&["request", "plan", "RDS-0002", "--output", "json"]);
    // The instance is not deployed: plan says it cannot plan, but reads
    // the file.
    assert!(plan.stdout.contains("RDS-0002"), "{}", plan.transcript());
    let list = p.ok(&["request", "list"]).stdout;
    assert!(
        list.contains("RDS-0001") && list.contains("awaiting platform, security"),
        "{list}"
    );
    // A domain or owner outside the enums file: exit 2 at its line.
    write(
        &p,
        "docs/20-contracts/rds-requests/dev/RDS-0001.yaml",
        &nested("RDS-0001", "dev", "").replace("domain: commerce", "domain: payments"),
    );
    let out = p.run(&["request", "validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("RDS-0001.yaml:13:11: domain `payments` is not in schemas/metadata/enums.yaml (allowed: commerce, identity, platform)"),
        "{}",
        out.stderr
    );
}

#[test]
fn every_rule_is_enforced_at_its_line() {
    let p = platform();
    let cases: &[(&str, &str, &str)] = &[
        (
            "prod",
            "  backupRetentionDays: 7\n  multiAz: true\n",
            "prod databases keep backups at least 14 days",
        ),
        (
            "prod",
            "  backupRetentionDays: 14\n",
            "prod databases run in several availability zones",
        ),
        ("dev", "  size: medium\n", "dev databases must be `small`"),
    ];
    for (env, lines, message) in cases {
        write(
            &p,
            "docs/20-contracts/rds-requests/dev/RDS-0001.yaml",
            &nested("RDS-0001", env, lines),
        );
        let out = p.run(&["request", "validate", "RDS-0001"]);
        assert_eq!(out.code, 3, "{message}: {}", out.transcript());
        assert!(out.stderr.contains(message), "{message}: {}", out.stderr);
        assert!(
            out.stderr.contains("RDS-0001.yaml:"),
            "positioned: {}",
            out.stderr
        );
    }
    let schema: &[(&str, &str)] = &[
        (
            "  storageGb: 100\n  maxStorageGb: 100\n",
            "maxStorageGb (100) must exceed storageGb (100)",
        ),
        ("  storageGb: 5\n", "storageGb must be between 20 and 500"),
        (
            "  backupRetentionDays: 90\n",
            "backupRetentionDays must be between 1 and 35",
        ),
        ("  risk: extreme\n", "unknown value `extreme`"),
        ("  multiAZ: true\n", "multiAZ"),
    ];
    for (lines, message) in schema {
        write(
            &p,
            "docs/20-contracts/rds-requests/dev/RDS-0001.yaml",
            &nested("RDS-0001", "dev", lines),
        );
        let out = p.run(&["request", "validate", "RDS-0001"]);
        assert_eq!(out.code, 2, "{message}: {}", out.transcript());
        assert!(out.stderr.contains(message), "{message}: {}", out.stderr);
    }
    write(
        &p,
        "docs/20-contracts/rds-requests/dev/RDS-0001.yaml",
        &nested("RDS-0001", "dev", "").replace("order_events_app", "Order-App"),
    );
    let out = p.run(&["request", "validate", "RDS-0001"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("invalid username `Order-App`"),
        "{}",
        out.stderr
    );
}

#[test]
fn approvals_are_routed_to_groups_and_nobody_approves_their_own() {
    let p = platform();
    // Prod routes to the platform and the security groups.
    write(
        &p,
        "docs/20-contracts/rds-requests/prod/RDS-0003.yaml",
        &nested(
            "RDS-0003",
            "prod",
            "  size: large\n  backupRetentionDays: 14\n  multiAz: true\n",
        )
        .replace("order_events", "ledger"),
    );
    let as_actor = |actor: &str, args: &[&str]| {
        let mut c = p.cmd(args);
        c.env("GOLDENPATH_ACTOR", actor);
        gp_test::run(&mut c)
    };
    // The requester never approves their own (exit 3).
    let out = as_actor("alice", &["request", "approve", "RDS-0003"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(out.stderr.contains("cannot approve it"), "{}", out.stderr);
    // Someone in no group of its route: refused.
    let out = as_actor("mallory", &["request", "approve", "RDS-0003"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr.contains("routes to platform-and-security"),
        "{}",
        out.stderr
    );
    // Prod routes to both groups: one approval is not enough.
    assert_eq!(
        as_actor("paula", &["request", "approve", "RDS-0003"]).code,
        0
    );
    let plan = as_actor("alice", &["request", "plan", "RDS-0003"]).stdout;
    assert!(plan.contains("required"), "{plan}");
    assert!(
        plan.contains("paula (platform) so far, security missing"),
        "{plan}"
    );
    let state = |id: &str| {
        let out = as_actor("alice", &["request", "list", "--output", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let row = v["requests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["request"] == id)
            .cloned()
            .unwrap();
        (row["state"].as_str().unwrap().to_string(), row)
    };
    assert_eq!(state("RDS-0003").0, "awaiting security");
    // The same person approving twice is one approval: refused, recorded.
    let again = as_actor("paula", &["request", "approve", "RDS-0003"]);
    assert_eq!(again.code, 3, "{}", again.transcript());
    assert!(again.stderr.contains("counts once"), "{}", again.stderr);
    let (s, row) = state("RDS-0003");
    assert_eq!(s, "awaiting security");
    assert_eq!(row["approvals"].as_array().unwrap().len(), 1, "{row}");
    assert_eq!(
        row["last"]["event"], "approved",
        "a refused approval is no change"
    );
    assert_eq!(as_actor("sam", &["request", "approve", "RDS-0003"]).code, 0);
    let plan = as_actor("alice", &["request", "plan", "RDS-0003"]).stdout;
    assert!(
        plan.contains("recorded by paula (platform), sam (security)"),
        "{plan}"
    );
    assert_eq!(state("RDS-0003").0, "approved");
    // Edited after approval: the approvals were of another content.
    write(
        &p,
        "docs/20-contracts/rds-requests/prod/RDS-0003.yaml",
        &nested(
            "RDS-0003",
            "prod",
            "  size: large\n  backupRetentionDays: 21\n  multiAz: true\n",
        )
        .replace("order_events", "ledger"),
    );
    assert_eq!(state("RDS-0003").0, "changed since approval");
    let out = as_actor("alice", &["request", "apply", "RDS-0003"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
}

#[test]
fn an_empty_location_another_kind_and_a_duplicate_id_exit_2() {
    let p = platform();
    // Another kind of request in the configured location.
    write(
        &p,
        "docs/20-contracts/rds-requests/dev/SEC-0007-simulated.yaml",
        "id: SEC-0007\nservice: secretsmanager\nenvironment: dev\n",
    );
    // It is read as a secret request (its kind is known now): one that
    // lacks the fields a secret request needs is invalid input at its file.
    let out = p.run(&["request", "validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains(
            "docs/20-contracts/rds-requests/dev/SEC-0007-simulated.yaml:1:1: missing field `name`"
        ),
        "{}",
        out.stderr
    );
    std::fs::remove_file(
        p.path()
            .join("docs/20-contracts/rds-requests/dev/SEC-0007-simulated.yaml"),
    )
    .unwrap();
    // The same id in two files: both named.
    write(
        &p,
        "docs/20-contracts/rds-requests/dev/RDS-0001-copy.yaml",
        &nested("RDS-0001", "dev", ""),
    );
    let out = p.run(&["request", "validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("request id RDS-0001 is used by 2 files")
            && out.stderr.contains("RDS-0001-copy.yaml")
            && out.stderr.contains("dev/RDS-0001.yaml"),
        "{}",
        out.stderr
    );
    // A configured location with no file.
    std::fs::remove_dir_all(p.path().join("docs/20-contracts/rds-requests")).unwrap();
    let out = p.run(&["request", "validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("requests.paths `docs/20-contracts/rds-requests/**/*.yaml` matches no file"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("goldenpath.yaml:8:11:"),
        "at its line: {}",
        out.stderr
    );
}

#[test]
fn request_new_writes_a_file_that_validates_and_apply_writes_its_external_secret() {
    let p = platform();
    let _servers = crate::requests::Servers(p.path().to_path_buf());
    let out = p.ok(&[
        "request",
        "new",
        "rds",
        "--env",
        "dev",
        "--database",
        "billing_events",
        "--username",
        "billing_app",
        "--owner",
        "team-orders",
        "--domain",
        "commerce",
    ]);
    assert!(
        out.stdout
            .contains("docs/20-contracts/rds-requests/dev/RDS-0003.yaml"),
        "{}",
        out.stdout
    );
    let text = std::fs::read_to_string(
        p.path()
            .join("docs/20-contracts/rds-requests/dev/RDS-0003.yaml"),
    )
    .unwrap();
    assert!(
        text.contains("service: postgres") && text.contains("spec:"),
        "{text}"
    );
    p.ok(&["request", "validate", "RDS-0003"]);
    // Every kind: a file in the platform's layout that validates.
    for (args, id) in [
        (
            &[
                "s3",
                "--env",
                "dev",
                "--application",
                "orders",
                "--purpose",
                "logs",
                "--description",
                "the orders API's access logs",
                "--cost-center",
                "cc-1",
            ][..],
            "S3-0001",
        ),
        (
            &[
                "secret",
                "--env",
                "dev",
                "--service",
                "payments",
                "--name",
                "stripe-key",
                "--namespace",
                "payments",
                "--k8s-secret-name",
                "stripe",
            ][..],
            "SEC-0001",
        ),
        (&["ecr", "--repository", "orders/api"][..], "ECR-0001"),
    ] {
        let mut all = vec!["request", "new"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--owner", "team-orders", "--output", "json"]);
        let made: serde_json::Value = serde_json::from_str(&p.ok(&all).stdout).unwrap();
        assert_eq!(made["request"], id, "{made}");
        let text = std::fs::read_to_string(p.path().join(made["file"].as_str().unwrap())).unwrap();
        assert!(
            text.contains("apiVersion: goldenpath.io/v1") && text.contains("spec:"),
            "{text}"
        );
        let out = p.ok(&["request", "validate", id]);
        assert!(!out.stderr.contains("warning"), "{}", out.transcript());
    }
    // Its owner is checked against the enums at once.
    let out = p.run(&[
        "request",
        "new",
        "rds",
        "--env",
        "dev",
        "--database",
        "x_db",
        "--username",
        "x_app",
        "--owner",
        "nobody",
        "--domain",
        "commerce",
    ]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    // Applied: the database, and an ExternalSecret with a valid name.
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["request", "apply", "RDS-0003"]);
    let es_path = p
        .path()
        .join("gitops/requests/dev/RDS-0003/externalsecret-billing-events-postgres.yaml");
    let es = gp_core::yaml::parse(&std::fs::read_to_string(&es_path).unwrap())
        .unwrap()
        .unwrap()
        .to_json();
    assert_eq!(es["kind"], "ExternalSecret");
    assert_eq!(
        es["metadata"]["name"], "billing-events-postgres",
        "underscores become dashes"
    );
    assert_eq!(
        es["spec"]["data"][0]["remoteRef"]["key"],
        "demo/dev/billing_events/postgres"
    );
    let name = es["metadata"]["name"].as_str().unwrap();
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    );
    let list = p.ok(&["request", "list"]).stdout;
    assert!(
        list.lines()
            .any(|l| l.starts_with("RDS-0003") && l.contains("applied")),
        "{list}"
    );
}

#[test]
fn files_the_spec_names_never_lie_outside_its_folder() {
    // A request glob, an enums file and a values file reaching out of the
    // spec's folder (their content would be read, and values rendered).
    let p = platform();
    let outside = p.path().parent().unwrap().join("secret-elsewhere.yaml");
    std::fs::write(&outside, "password: hunter2\n").unwrap();
    for (from, to) in [
        (
            "paths: [\"docs/20-contracts/rds-requests/**/*.yaml\"]",
            "paths: [\"../*.yaml\"]",
        ),
        (
            "enums: schemas/metadata/enums.yaml",
            "enums: ../secret-elsewhere.yaml",
        ),
    ] {
        std::fs::write(p.path().join("goldenpath.yaml"), SPEC.replace(from, to)).unwrap();
        let out = p.run(&["request", "validate"]);
        assert_eq!(out.code, 2, "{to}: {}", out.transcript());
        assert!(
            out.stderr.contains("leaves the spec's folder"),
            "{}",
            out.stderr
        );
        assert!(!out.transcript().contains("hunter2"));
    }
    let spec = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
environments:
  dev: {}
components:
  - name: web
    plane: disposable
    tier: 1
    driver: gitops
    settings: { namespace: web, valuesFiles: [/etc/passwd], environments: { dev: { valuesFiles: [../secret-elsewhere.yaml] } } }
";
    std::fs::write(p.path().join("goldenpath.yaml"), spec).unwrap();
    let out = p.run(&["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("values file `/etc/passwd` leaves the spec's folder"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("values file `../secret-elsewhere.yaml` leaves"),
        "{}",
        out.stderr
    );
}
