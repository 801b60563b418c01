//! Attacks through the binary, as a hostile insider or a careless teammate
//! would make them: forged and replaced registry rows, requests naming roles
//! they do not own, keys looked for in children, expansion bombs, huge
//! numbers, injected outputs and revisions, escape sequences, spreadsheet
//! formulas, symlinks out of the docs root, kills at every step of a
//! teardown, and truncated or emptied registry files. Each test replays the
//! attack against the real SQLite or PostgreSQL registry, a real managed
//! PostgreSQL, and the real `git`, and checks the effect in the real system.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::deploy::Platform;

const EXEC: &str = include_str!("fixtures/exec-platform.yaml");
const DB: &str = include_str!("fixtures/db-platform.yaml");

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn spawn(p: &Platform, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut c = p.cmd(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap()
}

fn kill_group(child: &mut Child) {
    std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    let _ = child.wait();
}

fn registry(p: &Platform) -> rusqlite::Connection {
    rusqlite::Connection::open(p.path().join(".goldenpath/registry.db")).unwrap()
}

fn max_seq(db: &rusqlite::Connection, deployment: &str) -> i64 {
    db.query_row(
        "SELECT MAX(seq) FROM journal WHERE env = 'dev' AND deployment = ?1",
        [deployment],
        |r| r.get(0),
    )
    .unwrap()
}

/// Inserts a journal row the way an attacker with INSERT rights would:
/// without the chain key.
fn forge(
    db: &rusqlite::Connection,
    deployment: &str,
    component: &str,
    driver: &str,
    resource: serde_json::Value,
) {
    let seq = max_seq(db, deployment) + 1;
    let id = format!("forged-{seq}");
    let kind = resource["kind"].as_str().unwrap().to_string();
    let rid = resource["id"].as_str().unwrap().to_string();
    db.execute(
        "INSERT INTO journal (id, env, deployment, seq, run_id, action_id, stage, component, driver, action, resource, outputs, detail, at_us) VALUES (?1, 'dev', ?2, ?3, 'x', ?1, 'before', ?4, ?5, 'create', ?6, ?7, NULL, 1)",
        rusqlite::params![id, deployment, seq, component, driver, format!("{kind} {rid}"), serde_json::json!({"resource": resource}).to_string()],
    )
    .unwrap();
    db.execute(
        "INSERT INTO journal (id, env, deployment, seq, run_id, action_id, stage, component, driver, action, resource, outputs, detail, at_us) VALUES (?1, 'dev', ?2, ?3, 'x', ?4, 'after', ?5, ?6, 'create', ?7, NULL, NULL, 2)",
        rusqlite::params![format!("{id}-after"), deployment, seq + 1, id, component, driver, format!("{kind} {rid}")],
    )
    .unwrap();
}

#[test]
fn forged_journal_rows_run_nothing_and_verify_names_them() {
    let p = Platform::new(EXEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    let victim = p.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep"), "x").unwrap();
    let pwned = p.path().join("PWNED");
    {
        let db = registry(&p);
        forge(
            &db,
            "23-01-26-01",
            "cluster",
            "exec",
            serde_json::json!({"kind": "exec", "id": "cluster", "data": {"destroy": format!("touch {}", pwned.display())}}),
        );
        forge(
            &db,
            "23-01-26-01",
            "app",
            "gitops",
            serde_json::json!({"kind": "gitops-root", "id": "/", "data": {"dir": victim.display().to_string()}}),
        );
        forge(
            &db,
            "23-01-26-01",
            "web",
            "terraform",
            serde_json::json!({"kind": "state", "id": "envs/dev/terraform.tfstate", "data": {"binary": format!("{}", pwned.display())}}),
        );
    }
    let out = p.run(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(
        out.code,
        3,
        "a tampered journal is a refusal\n{}",
        out.transcript()
    );
    assert!(out.stderr.contains("tampered"), "{}", out.stderr);
    assert!(
        out.stderr.contains("forged-"),
        "names the row: {}",
        out.stderr
    );
    assert!(!pwned.exists(), "a journal row never runs a command");
    assert!(
        victim.join("keep").exists(),
        "a journal row never names a directory to delete"
    );
    let verify = p.run(&["registry", "verify"]);
    assert_eq!(verify.code, 1, "{}", verify.transcript());
    assert!(verify.stderr.contains("forged-"), "{}", verify.stderr);
    assert!(verify.stderr.contains("chain"), "{}", verify.stderr);
    // Reads refuse too: status derives state from the same journal.
    assert_eq!(
        p.run(&["status", "--env", "dev", "--build-id", "23-01-26-01"])
            .code,
        3
    );
}

#[test]
fn rows_appended_with_the_key_still_cannot_name_commands_kinds_or_paths() {
    // An insider with the key (a runner) appends rows through the library:
    // the chain holds, so the drivers' own checks are what stand.
    let p = Platform::new(EXEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    let pwned = p.path().join("PWNED");
    let victim = p.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep"), "x").unwrap();
    {
        let reg = gp_registry::Registry::open(&gp_registry::Location::Sqlite(
            p.path().join(".goldenpath/registry.db"),
        ))
        .unwrap();
        let rows = [
            (
                "cluster",
                "exec",
                serde_json::json!({"kind": "exec", "id": "cluster", "data": {"destroy": format!("touch {}", pwned.display())}}),
            ),
            (
                "app",
                "exec",
                serde_json::json!({"kind": "gitops-root", "id": victim.display().to_string()}),
            ),
            (
                "web",
                "terraform",
                serde_json::json!({"kind": "state", "id": "envs/dev/terraform.tfstate"}),
            ),
        ];
        for (component, driver, resource) in rows {
            let action = gp_registry::new_id();
            for stage in [gp_registry::Stage::Before, gp_registry::Stage::After] {
                reg.journal_append(&gp_registry::JournalEntry {
                    id: gp_registry::new_id(),
                    env: "dev".into(),
                    deployment: "23-01-26-01".into(),
                    run_id: None,
                    action_id: action.clone(),
                    stage,
                    component: component.into(),
                    driver: driver.into(),
                    action: "create".into(),
                    resource: format!("{} {}", resource["kind"], resource["id"]),
                    outputs: (stage == gp_registry::Stage::Before)
                        .then(|| serde_json::json!({"resource": resource})),
                    detail: None,
                })
                .unwrap();
            }
        }
    }
    let out = p.run(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stdout.contains("refused") || out.stderr.contains("refused"),
        "{}",
        out.transcript()
    );
    assert!(!pwned.exists(), "the destroy command comes from the spec");
    assert!(victim.join("keep").exists());
    // What the build really created is gone.
    assert!(!p.path().join("res/23-01-26-01-cluster").exists());
}

#[test]
fn replace_and_upsert_are_refused_on_every_table() {
    let p = Platform::new(EXEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    p.ok(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
    // Re-using the retired id records an override row.
    p.ok(&[
        "deploy",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--reuse-retired",
        "make an override row",
    ]);
    // And a request event.
    std::fs::create_dir_all(p.path().join("requests")).unwrap();
    std::fs::write(
        p.path().join("requests/RDS-0001.yaml"),
        request("RDS-0001", "orders", "orders_app", "alice"),
    )
    .unwrap();
    let mut c = p.cmd(&["request", "approve", "RDS-0001"]);
    c.env("GOLDENPATH_ACTOR", "bob");
    assert_eq!(gp_test::run(&mut c).code, 0);
    let db = registry(&p);
    for table in [
        "reservations",
        "deployment_events",
        "phase_events",
        "journal",
        "lease_events",
        "overrides",
        "request_events",
    ] {
        let n: i64 = db
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert!(n > 0, "{table} has rows to attack");
        let replace = db.execute(
            &format!("INSERT OR REPLACE INTO {table} SELECT * FROM {table} LIMIT 1"),
            [],
        );
        let e = replace.expect_err(table).to_string();
        assert!(e.contains("cannot be replaced"), "{table}: {e}");
        let upsert = db.execute(
            &format!("INSERT INTO {table} SELECT * FROM {table} WHERE true LIMIT 1 ON CONFLICT (id) DO UPDATE SET id = excluded.id"),
            [],
        );
        assert!(upsert.is_err(), "{table}: an upsert went through");
    }
    assert_eq!(p.run(&["registry", "verify"]).code, 0);
}

#[test]
fn a_runner_role_cannot_alter_disable_triggers_delete_or_truncate() {
    let pg = gp_test::postgres::TestPostgres::start();
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    for sql in [
        "CREATE ROLE gp_owner LOGIN PASSWORD 'owner-pw-0123456789'",
        "CREATE ROLE gp_runner LOGIN PASSWORD 'runner-pw-0123456789'",
        "CREATE DATABASE ledger OWNER gp_owner",
    ] {
        admin.batch_execute(sql).unwrap();
    }
    let url = |user: &str, pw: &str| format!("postgres://{user}:{pw}@127.0.0.1:{}/ledger", pg.port);
    let owner = url("gp_owner", "owner-pw-0123456789");
    let runner = url("gp_runner", "runner-pw-0123456789");
    let p = Platform::new(EXEC);
    let key = (
        "GOLDENPATH_REGISTRY_KEY",
        "a-shared-registry-key-0123456789abcdef",
    );
    let as_role = |u: &str, args: &[&str]| {
        let mut c = p.cmd(args);
        c.env("GOLDENPATH_REGISTRY", u).env(key.0, key.1);
        gp_test::run(&mut c)
    };
    let migrate = as_role(&owner, &["registry", "migrate"]);
    assert_eq!(migrate.code, 0, "{}", migrate.transcript());
    assert!(
        migrate.stderr.contains("the owner of"),
        "the owner is warned: {}",
        migrate.stderr
    );
    assert_eq!(
        as_role(&owner, &["registry", "grant-runner", "gp_runner"]).code,
        0
    );
    let deploy = as_role(&runner, &["deploy", "--env", "dev", "--foundational"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    assert!(
        !deploy.stderr.contains("warning: connected"),
        "{}",
        deploy.stderr
    );
    let mut r = postgres::Client::connect(&runner, postgres::NoTls).unwrap();
    for attack in [
        "ALTER TABLE journal DISABLE TRIGGER ALL",
        "DELETE FROM journal",
        "TRUNCATE journal",
        "UPDATE journal SET action = 'adopt'",
        "DROP TABLE journal",
        "ALTER TABLE journal ADD COLUMN x int",
    ] {
        let e = r.batch_execute(attack).expect_err(attack);
        let e = e
            .as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_else(|| e.to_string());
        assert!(
            e.contains("permission denied")
                || e.contains("must be owner")
                || e.contains("append-only"),
            "{attack}: {e}"
        );
    }
    let verify = as_role(&runner, &["registry", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.transcript());
    // Without the key a runner cannot write at all.
    let mut c = p.cmd(&["deploy", "--env", "dev", "--foundational"]);
    c.env("GOLDENPATH_REGISTRY", &runner);
    let out = gp_test::run(&mut c);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("GOLDENPATH_REGISTRY_KEY"),
        "{}",
        out.stderr
    );
}

fn request(id: &str, database: &str, username: &str, requester: &str) -> String {
    format!(
        "id: {id}\nenvironment: dev\ndatabaseName: {database}\nusername: {username}\nsize: small\nstorageGb: 20\nmaxStorageGb: 100\nbackupRetentionDays: 7\nowner: team-orders\nrequester: {requester}\ndomain: commerce\nrisk: high\n"
    )
}

#[test]
fn requests_cannot_name_the_admin_a_platform_role_or_a_reserved_name() {
    let p = Platform::new(DB);
    std::fs::create_dir_all(p.path().join("requests")).unwrap();
    // A name the platform owns is a refused claim (exit 3, naming its
    // owner); a name PostgreSQL keeps is invalid input (exit 2).
    let cases = [
        ("RDS-0001", "orders", "goldenpath_admin", "username", 3),
        ("RDS-0002", "orders", "backstage", "username", 3),
        ("RDS-0003", "keycloak", "keycloak", "databaseName", 3),
        ("RDS-0004", "postgres", "orders_app", "databaseName", 2),
        ("RDS-0005", "template1", "orders_app", "databaseName", 2),
        ("RDS-0006", "orders", "pg_monitor", "username", 2),
        ("RDS-0007", "pg_catalog", "orders_app", "databaseName", 2),
        ("RDS-0008", "public", "orders_app", "databaseName", 2),
    ];
    for (id, db, user, field, code) in cases {
        std::fs::write(
            p.path().join(format!("requests/{id}.yaml")),
            request(id, db, user, "alice"),
        )
        .unwrap();
        let out = p.run(&["request", "validate", id]);
        assert_eq!(out.code, code, "{id}: {}", out.transcript());
        if code == 3 {
            assert!(
                out.stderr.contains("held by component `"),
                "{id} names its owner: {}",
                out.stderr
            );
        }
        let line = if field == "username" { 4 } else { 3 };
        assert!(
            out.stderr.contains(&format!("requests/{id}.yaml:{line}:")),
            "{id} points at its {field}: {}",
            out.stderr
        );
        assert_eq!(
            p.run(&["request", "apply", id]).code,
            code,
            "{id}: apply refuses too"
        );
    }
    assert!(
        !p.path().join(".goldenpath/postgres").exists(),
        "nothing was started for a refused request"
    );
    // The requester cannot approve their own request; someone else can.
    std::fs::write(
        p.path().join("requests/RDS-0009.yaml"),
        request("RDS-0009", "orders", "orders_app", "alice"),
    )
    .unwrap();
    let mut c = p.cmd(&["request", "approve", "RDS-0009"]);
    c.env("GOLDENPATH_ACTOR", "alice@laptop");
    let own = gp_test::run(&mut c);
    assert_eq!(own.code, 3, "{}", own.transcript());
    assert!(own.stderr.contains("cannot approve it"), "{}", own.stderr);
    let mut c = p.cmd(&["request", "approve", "RDS-0009", "--by", "bob"]);
    c.env("GOLDENPATH_ACTOR", "alice");
    assert_eq!(
        gp_test::run(&mut c).code,
        2,
        "--by cannot name someone else"
    );
    let mut c = p.cmd(&["request", "approve", "RDS-0009"]);
    c.env("GOLDENPATH_ACTOR", "bob");
    assert_eq!(gp_test::run(&mut c).code, 0);
    let listed = p.ok(&["request", "list", "--output", "json"]).stdout;
    assert!(listed.contains("RDS-0009"), "{listed}");
    // The approval binds a SHA-256 of the content.
    let db = registry(&p);
    let detail: String = db
        .query_row(
            "SELECT detail FROM request_events WHERE request_id = 'RDS-0009' AND event = 'approved'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let hash = serde_json::from_str::<serde_json::Value>(&detail).unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(hash.len(), 64, "{hash}");
    let refusal: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM request_events WHERE request_id = 'RDS-0009' AND event = 'refused'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(refusal, 1, "the self-approval is recorded as refused");
}

fn environ(pid: u32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default())
        .replace('\0', "\n")
}

#[test]
fn keys_never_reach_a_child_or_the_managed_server() {
    const KEY: &str = "c2VjcmV0cy1rZXktMDEyMzQ1Njc4OWFiY2RlZmdoaWo="; // 32 bytes
    const REGISTRY_KEY: &str = "registry-key-that-no-child-may-see-0123";
    let spec = DB.to_string()
        + "  - name: probe\n    plane: foundational\n    tier: 0\n    driver: exec\n    settings:\n      apply: env > probe.env\n";
    let p = Platform::new(&spec);
    let mut c = p.cmd(&["-v", "deploy", "--env", "dev", "--foundational"]);
    c.env("GOLDENPATH_SECRETS_KEY", KEY)
        .env("GOLDENPATH_REGISTRY_KEY", REGISTRY_KEY)
        .env("GOLDENPATH_REGISTRY", p.path().join("shared.db"));
    let out = gp_test::run(&mut c);
    let _servers = crate::requests::Servers(p.path().join(".goldenpath/postgres"));
    assert_eq!(out.code, 0, "{}", out.transcript());
    let probe = std::fs::read_to_string(p.path().join("probe.env")).unwrap();
    assert!(
        probe.contains("PATH="),
        "the child has a working environment"
    );
    for secret in [KEY, REGISTRY_KEY] {
        assert!(!probe.contains(secret), "an exec child saw a key");
        assert!(!out.stderr.contains(secret) && !out.stdout.contains(secret));
    }
    assert!(!probe.contains("GOLDENPATH_SECRETS_KEY") && !probe.contains("GOLDENPATH_REGISTRY"));
    let pidfile = std::fs::read_to_string(
        p.path()
            .join(".goldenpath/postgres/dev-rds/data/postmaster.pid"),
    )
    .unwrap();
    let pid: u32 = pidfile.lines().next().unwrap().trim().parse().unwrap();
    let env = environ(pid);
    assert!(env.contains("LC_ALL=C"), "{env}");
    assert!(
        !env.contains(KEY) && !env.contains("GOLDENPATH_"),
        "the server's environment: {env}"
    );
}

#[test]
fn a_kill_during_initdb_leaves_no_password_on_disk() {
    for _ in 0..3 {
        let p = Platform::new(DB);
        let _servers = crate::requests::Servers(p.path().join(".goldenpath/postgres"));
        let pw_file = p.path().join(".goldenpath/postgres/dev-rds/data.pw");
        let mut child = spawn(&p, &["deploy", "--env", "dev", "--foundational"], &[]);
        wait_until("initdb's bootstrap file", || {
            pw_file.exists() || child.try_wait().unwrap().is_some()
        });
        kill_group(&mut child);
        let admin = p
            .ok(&[
                "secret",
                "get",
                "demo/dev/rds/admin",
                "--reveal",
                "--output",
                "json",
            ])
            .stdout;
        let password =
            serde_json::from_str::<serde_json::Value>(&admin).unwrap()["value"]["password"]
                .as_str()
                .unwrap()
                .to_string();
        if let Ok(left) = std::fs::read_to_string(&pw_file) {
            assert!(
                left.is_empty() || left.starts_with("SCRAM-SHA-256$"),
                "only a verifier: {left}"
            );
            assert!(!left.contains(&password));
        }
        p.ok(&["deploy", "--env", "dev", "--foundational"]);
        assert!(!pw_file.exists(), "the next run removes the bootstrap file");
        for entry in walk(&p.path().join(".goldenpath")) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&password),
                "{} holds the admin password",
                entry.display()
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out
}

#[test]
fn a_store_written_with_one_key_refuses_another_and_a_missing_key() {
    let p = Platform::new(EXEC);
    let put = |env: &[(&str, &str)], value: &str| {
        let mut c = p.cmd(&["secret", "put", "demo/dev/tokens/api"]);
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdin(Stdio::piped());
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(value.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert_eq!(put(&[], "{\"token\": \"first\"}").0, 0);
    let store = p.path().join(".goldenpath/secrets/store.json");
    let before = std::fs::read(&store).unwrap();
    let other = "b3RoZXIta2V5LTAxMjM0NTY3ODlhYmNkZWZnaGlqa2w="; // 32 bytes
    let (code, err) = put(
        &[("GOLDENPATH_SECRETS_KEY", other)],
        "{\"token\": \"second\"}",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the key does not match the store"), "{err}");
    let key_file = p.path().join(".goldenpath/secrets/key");
    let key = std::fs::read(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let (code, err) = put(&[], "{\"token\": \"third\"}");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("key is missing"), "{err}");
    assert!(!key_file.exists(), "no new key was made");
    assert_eq!(
        std::fs::read(&store).unwrap(),
        before,
        "the store is unchanged"
    );
    std::fs::write(&key_file, key).unwrap();
    let got = p
        .ok(&[
            "secret",
            "get",
            "demo/dev/tokens/api",
            "--reveal",
            "--output",
            "json",
        ])
        .stdout;
    assert!(got.contains("first"), "{got}");
}

#[test]
fn expansion_bombs_huge_numbers_and_huge_strings_are_invalid_input() {
    let mut bomb = String::from(
        "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: demo\nprefix: demo\ndomain: example.io\nowner: team\nenvironments: {dev: {}}\nx0: &x0 [a, a, a, a, a, a, a, a, a, a]\n",
    );
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "x{i}: &x{i} [*x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}]\n"
        ));
    }
    bomb.push_str("components: []\n");
    let p = Platform::new(&bomb);
    // Under a 512 MB address-space limit, as a CI runner might have.
    let bin = crate::BIN;
    let out = gp_test::run(
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v 524288; exec '{bin}' validate"))
            .current_dir(p.path()),
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("more than"), "{}", out.stderr);
    // The same block in Markdown front matter.
    let docs = gp_test::tempdir();
    let fm = bomb.replace("components: []\n", "");
    std::fs::create_dir_all(docs.path().join("docs")).unwrap();
    std::fs::write(
        docs.path().join("docs/bomb.md"),
        format!("---\n{fm}---\n# x\n"),
    )
    .unwrap();
    let out = gp_test::run(
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -v 524288; exec '{bin}' docs check --root ."
            ))
            .current_dir(docs.path()),
    );
    assert!(out.code == 1 || out.code == 2, "{}", out.transcript());
    assert!(
        out.stdout.contains("more than") || out.stderr.contains("more than"),
        "{}",
        out.transcript()
    );

    let base = "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: demo\nprefix: demo\ndomain: example.io\nenvironments: {dev: {}}\n";
    let cases = [
        (
            format!(
                "{base}owner: team\ncomponents:\n  - name: a\n    plane: disposable\n    tier: 0\n    driver: exec\n    settings: {{apply: 'true', timeout: 9223372036854775807s}}\n"
            ),
            "timeout",
        ),
        (
            format!(
                "{base}owner: team\ncomponents:\n  - name: a\n    plane: disposable\n    tier: 0\n    driver: secrets\n    settings: {{secrets: [{{name: api, generate: [token], length: 9223372036854775807}}]}}\n"
            ),
            "characters long",
        ),
        (
            format!("{base}owner: {}\ncomponents: []\n", "o".repeat(1 << 20)),
            "owner",
        ),
    ];
    for (spec, what) in cases {
        let p = Platform::new(&spec);
        let out = p.run(&["validate"]);
        assert_eq!(out.code, 2, "{what}: {}", out.transcript());
        assert!(out.stderr.contains(what), "{what}: {}", out.stderr);
        let out = p.run(&["deploy", "--env", "dev", "--build-id", "auto"]);
        assert_eq!(out.code, 2, "{what}: deploy refuses the same input");
        assert!(
            !p.path().join(".goldenpath").exists(),
            "nothing was written"
        );
    }
}

#[test]
fn output_references_never_become_shell_text() {
    let base = "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: demo\nprefix: demo\ndomain: example.io\nowner: team\nenvironments: {dev: {}}\ncomponents:\n  - name: a\n    plane: disposable\n    tier: 0\n    driver: exec\n    settings:\n      apply: echo 'x=$(touch pwned-a)' > \"$GOLDENPATH_OUTPUTS\"\n      outputs: [x]\n  - name: b\n    plane: disposable\n    tier: 0\n    driver: exec\n    needs: [a]\n    settings:\n";
    let spliced = format!("{base}      apply: echo value=${{a.x}}\n");
    let p = Platform::new(&spliced);
    let out = p.run(&["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("splices an output reference"),
        "{}",
        out.stderr
    );
    let as_data =
        format!("{base}      apply: echo \"$X\" > seen.txt\n      env: {{X: \"${{a.x}}\"}}\n");
    let p = Platform::new(&as_data);
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert!(
        !p.path().join("pwned-a").exists(),
        "the output was run as shell"
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join("seen.txt"))
            .unwrap()
            .trim(),
        "$(touch pwned-a)"
    );
}

#[test]
fn a_diff_that_looks_like_an_option_is_refused() {
    let docs = gp_test::tempdir();
    let root = docs.path();
    let git = |args: &[&str]| {
        assert!(
            std::process::Command::new("git")
                .arg("-C")
                .arg(root)
                .args(args)
                .status()
                .unwrap()
                .success()
        );
    };
    git(&["init", "-q"]);
    git(&[
        "-c",
        "user.email=t@t",
        "-c",
        "user.name=t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    ]);
    let target = root.join("written-by-git");
    for spec in [
        format!("--output={}", target.display()),
        format!("HEAD..--output={}", target.display()),
    ] {
        let out = gp_test::run(crate::gp().current_dir(root).args([
            "docs",
            "check",
            "--root",
            ".",
            &format!("--diff={spec}"),
        ]));
        assert_eq!(out.code, 2, "{}", out.transcript());
        assert!(out.stderr.contains("not a git revision"), "{}", out.stderr);
        assert!(!target.exists(), "git was handed an option");
    }
}

#[test]
fn escape_sequences_are_refused_in_input_and_escaped_in_output() {
    let spec = EXEC.replace("owner: team", "owner: \"team\\e]0;pwned\\a\\e[31m\"");
    let p = Platform::new(&spec);
    let out = p.run(&["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("control character"), "{}", out.stderr);
    assert!(out.stderr.contains("goldenpath.yaml:6:"), "{}", out.stderr);
    assert!(!out.stderr.contains('\u{1b}'));
    // A name from the registry (who acted) reaches tables escaped.
    let p = Platform::new(EXEC);
    let mut c = p.cmd(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    c.env("GOLDENPATH_ACTOR", "mallory\u{1b}[2J");
    let deployed = gp_test::run(&mut c);
    assert!(
        deployed.code == 0 || deployed.code == 1,
        "{}",
        deployed.transcript()
    );
    let shown = p.ok(&[
        "builds",
        "show",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
    ]);
    assert!(
        !shown.stdout.contains('\u{1b}') && !shown.stderr.contains('\u{1b}'),
        "{}",
        shown.transcript()
    );
    assert!(shown.stdout.contains("\\u{1b}"), "{}", shown.stdout);
}

#[test]
fn formula_cells_are_neutralised_in_the_csv_and_read_back() {
    let p = Platform::new(EXEC);
    let csv = p.path().join("history.csv");
    std::fs::write(
        &csv,
        "start_time_utc,end_time_utc,phase,env,build_id,duration_seconds,exit_code,flags,resources_added,resources_changed,resources_destroyed,log_path\n2026-01-23T10:00:00Z,2026-01-23T10:01:00Z,\"=HYPERLINK(\"\"http://evil\"\")\",dev,23-01-26-01,60,0,@SUM(1),0,0,0,\"-2+3+cmd|' /C calc'!A0\"\n2026-01-23T10:02:00Z,2026-01-23T10:03:00Z,bootstrap,dev,23-01-26-01,60,0,--auto-approve -lock=false,0,0,0,+cmd|x\n",
    )
    .unwrap();
    assert_eq!(p.run(&["registry", "import", "history.csv"]).code, 0);
    let exported = p.ok(&["registry", "export", "--format", "csv"]).stdout;
    assert!(exported.contains("'=HYPERLINK"), "{exported}");
    assert!(
        exported.contains("'@SUM(1)")
            && exported.contains("'-2+3+cmd|")
            && exported.contains(",'+cmd|x"),
        "{exported}"
    );
    // Command-line flags are not formulas: they stay as written.
    assert!(
        exported.contains(",--auto-approve -lock=false,"),
        "{exported}"
    );
    for line in exported.lines().skip(1) {
        for cell in line.split(',') {
            let c = cell.trim_start_matches('"');
            assert!(
                !(c.starts_with(['=', '@'])
                    || (c.starts_with(['+', '-']) && c.contains(['|', '(', '!']))),
                "a live formula cell: {line}"
            );
        }
    }
    std::fs::write(&csv, &exported).unwrap();
    let again = p
        .ok(&["registry", "import", "history.csv", "--output", "json"])
        .stdout;
    let v: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(
        v["files"][0]["report"]["imported"], 0,
        "re-reading the export adds nothing: {again}"
    );
}

#[test]
fn docs_check_does_not_follow_links_out_of_the_root() {
    let outside = gp_test::tempdir();
    std::fs::write(
        outside.path().join("private.md"),
        "---\nid: LEAKED-SECRET-VALUE\n---\nhttps://bare.example\n",
    )
    .unwrap();
    let docs = gp_test::tempdir();
    std::fs::create_dir_all(docs.path().join("docs")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("private.md"),
        docs.path().join("docs/leak.md"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), docs.path().join("docs/outside")).unwrap();
    let out = gp_test::run(
        crate::gp()
            .current_dir(docs.path())
            .args(["docs", "check", "--root", ".", "--output", "json"]),
    );
    assert!(
        !out.stdout.contains("LEAKED") && !out.stdout.contains("leak.md"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("private.md"), "{}", out.stdout);
}

const GITOPS: &str = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
gitops: {path: gitops, git: true}
environments:
  dev: {}
components:
  - name: cluster
    plane: disposable
    tier: 0
    driver: exec
    settings:
      apply: mkdir -p res && touch \"res/$GOLDENPATH_DEPLOYMENT-cluster\"
      destroy: rm -f \"res/$GOLDENPATH_DEPLOYMENT-cluster\"
      check: test -f \"res/$GOLDENPATH_DEPLOYMENT-cluster\"
  - name: argocd
    plane: disposable
    tier: 1
    driver: gitops
    needs: [cluster]
    settings: {namespace: argocd}
  - name: external-secrets
    plane: disposable
    tier: 1
    driver: gitops
    needs: [argocd]
    settings: {namespace: external-secrets}
";

#[test]
fn a_teardown_killed_at_any_step_converges() {
    let p = Platform::new(GITOPS);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for trial in 0..20 {
        p.ok(&[
            "deploy",
            "--env",
            "dev",
            "--build-id",
            "23-01-26-01",
            "--reuse-retired",
            "trial",
        ]);
        let folder = p.path().join("gitops/apps/dev/builds/23-01-26-01");
        assert!(folder.exists());
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(seed % 400);
        let mut child = spawn(
            &p,
            &["teardown", "--env", "dev", "--build-id", "23-01-26-01"],
            &[],
        );
        std::thread::sleep(delay); // a random kill point, not a readiness wait
        kill_group(&mut child);
        let again = p.run(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
        assert_eq!(
            again.code,
            0,
            "trial {trial} (kill after {delay:?}):\n{}",
            again.transcript()
        );
        assert!(!folder.exists(), "trial {trial}");
        let status = std::process::Command::new("git")
            .arg("-C")
            .arg(p.path().join("gitops"))
            .args(["status", "--porcelain"])
            .output()
            .unwrap();
        assert!(
            status.stdout.is_empty(),
            "trial {trial}: the removal is committed"
        );
        assert_eq!(p.run(&["registry", "verify"]).code, 0, "trial {trial}");
    }
}

#[test]
fn a_teardown_right_after_a_killed_deploy_leaves_nothing_behind() {
    let spec = EXEC.replace(
        "apply: mkdir -p res && sleep \"$${SLOW:-0}\" && touch \"res/$GOLDENPATH_DEPLOYMENT-cluster\"",
        "apply: mkdir -p res && touch res/started && (sleep \"$${SLOW:-0}\"; touch \"res/$GOLDENPATH_DEPLOYMENT-late\") & sleep \"$${SLOW:-0}\" && touch \"res/$GOLDENPATH_DEPLOYMENT-cluster\"",
    );
    assert_ne!(spec, EXEC);
    let p = Platform::new(&spec);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let mut child = spawn(
        &p,
        &["deploy", "--env", "dev", "--build-id", "23-01-26-01"],
        &[("SLOW", "2")],
    );
    wait_until("the apply to start", || {
        p.path().join("res/started").exists()
    });
    // Only goldenpath dies; its children are on their own.
    std::process::Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    let out = p.run(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline {
        for late in ["res/23-01-26-01-late", "res/23-01-26-01-cluster"] {
            assert!(
                !p.path().join(late).exists(),
                "{late} appeared after the teardown"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn truncated_and_emptied_registries_are_reported_not_started_afresh() {
    let p = Platform::new(EXEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    {
        let db = registry(&p);
        db.execute_batch("DROP TRIGGER journal_no_delete").unwrap();
        let last = max_seq(&db, "23-01-26-01");
        db.execute(
            "DELETE FROM journal WHERE env = 'dev' AND deployment = '23-01-26-01' AND seq >= ?1",
            [last - 1],
        )
        .unwrap();
    }
    let verify = p.run(&["registry", "verify"]);
    assert_eq!(verify.code, 1, "{}", verify.transcript());
    assert!(
        verify.stderr.contains("chain-truncated"),
        "{}",
        verify.stderr
    );
    let out = p.run(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(out.stderr.contains("rows deleted"), "{}", out.stderr);
    // An emptied file is an error, never a fresh ledger.
    let file = p.path().join(".goldenpath/registry.db");
    std::fs::write(&file, b"").unwrap();
    for _ in 0..2 {
        let out = p.run(&["status", "--env", "dev"]);
        assert_eq!(out.code, 1, "{}", out.transcript());
        assert!(out.stderr.contains("empty file"), "{}", out.stderr);
        assert_eq!(
            std::fs::metadata(&file).unwrap().len(),
            0,
            "nothing was written"
        );
    }
    std::fs::remove_file(&file).unwrap();
    let out = p.run(&["builds", "list", "--env", "dev"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("is gone"), "{}", out.stderr);
}

#[test]
fn a_deleted_or_older_head_file_is_tampering_and_nothing_acts_on_it() {
    let p = Platform::new(EXEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let head = p.path().join(".goldenpath/registry.head");
    let older = std::fs::read(&head).unwrap();
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    // The attack of the issue: the journal's tail cut, and the head file
    // that would show it deleted.
    {
        let db = registry(&p);
        db.execute_batch("DROP TRIGGER journal_no_delete").unwrap();
        let last = max_seq(&db, "23-01-26-01");
        db.execute(
            "DELETE FROM journal WHERE env = 'dev' AND deployment = '23-01-26-01' AND seq >= ?1",
            [last - 1],
        )
        .unwrap();
    }
    let check = |what: &str| {
        let verify = p.run(&["registry", "verify"]);
        assert_eq!(verify.code, 1, "{what}: {}", verify.transcript());
        assert!(
            verify.stderr.contains("head-file"),
            "{what}: {}",
            verify.stderr
        );
        let out = p.run(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
        assert_eq!(out.code, 3, "{what}: {}", out.transcript());
        assert!(
            out.stderr.contains("registry.head"),
            "{what}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("registry verify"),
            "{what}: {}",
            out.stderr
        );
        for args in [
            &["builds", "list", "--env", "dev"][..],
            &["status", "--env", "dev", "--build-id", "23-01-26-01"],
            &["reap", "--env", "dev"],
        ] {
            let out = p.run(args);
            assert_eq!(out.code, 3, "{what}: {args:?}: {}", out.transcript());
        }
    };
    std::fs::remove_file(&head).unwrap();
    check("deleted");
    assert!(
        !head.exists(),
        "nothing wrote a new head file over the evidence"
    );
    std::fs::write(&head, &older).unwrap();
    check("an older copy");
    assert_eq!(std::fs::read(&head).unwrap(), older);
}

#[test]
fn invalid_input_and_read_only_commands_create_nothing() {
    let p = Platform::new(EXEC);
    for args in [
        &["deploy", "--env", "nope", "--build-id", "auto"][..],
        &["teardown", "--env", "dev", "--build-id", "23-01-26-09"],
        &["status", "--env", "dev"],
        &["plan", "--env", "dev", "--build-id", "auto"],
        &["builds", "list", "--env", "dev"],
        &["registry", "report"],
        &["registry", "export"],
        &["lease", "list"],
        &["graph", "--env", "dev"],
    ] {
        let _ = p.run(args);
        assert!(
            !p.path().join(".goldenpath/registry.db").exists(),
            "{args:?} created the registry"
        );
    }
}
