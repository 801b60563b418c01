//! Adopting a running database instance set up the way the platform set
//! its own up: login roles named apart from their databases
//! (`keycloak_user`, `backstage_user` with CREATEDB), PUBLIC CONNECT left
//! on, grants in the wrong database, default privileges, and secrets with
//! the port as a string. `adopt: keep` changes nothing (the catalogs are
//! compared before and after through an independent client, and the old
//! passwords still log in); `adopt: reconcile` makes exactly the changes
//! plan listed. And a TLS-only server, reached with `verify-full`.

use std::collections::BTreeMap;

use gp_test::postgres::TestPostgres;

use crate::deploy::Platform;

const OLD_KC: &str = "kc-old-password-0123456789abcdef";
const OLD_BS: &str = "bs-old-password-0123456789abcdef";

fn set_up_like_the_platform(pg: &TestPostgres, keycloak_createdb: bool) {
    let mut c = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    for sql in [
        format!(
            "CREATE ROLE keycloak_user LOGIN {} PASSWORD '{OLD_KC}'",
            if keycloak_createdb { "CREATEDB" } else { "" }
        ),
        format!("CREATE ROLE backstage_user LOGIN CREATEDB PASSWORD '{OLD_BS}'"),
        "CREATE DATABASE keycloak OWNER keycloak_user".into(),
        "CREATE DATABASE backstage OWNER backstage_user".into(),
        "GRANT CONNECT ON DATABASE keycloak TO backstage_user".into(),
    ] {
        c.batch_execute(&sql).unwrap();
    }
    let mut b = postgres::Client::connect(&pg.url_for("backstage"), postgres::NoTls).unwrap();
    b.batch_execute(
        "ALTER DEFAULT PRIVILEGES FOR ROLE backstage_user GRANT SELECT ON TABLES TO keycloak_user;",
    )
    .unwrap();
}

/// Everything adoption could touch, read as the superuser.
fn catalogs(pg: &TestPostgres) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut c = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    for r in c
        .query(
            "SELECT rolname::text, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolconnlimit, COALESCE(rolpassword, '') FROM pg_authid WHERE rolname NOT LIKE 'pg\\_%' ORDER BY 1",
            &[],
        )
        .unwrap()
    {
        let name: String = r.get(0);
        out.insert(
            format!("role {name}"),
            format!(
                "super={} createdb={} createrole={} login={} connlimit={} password={}",
                r.get::<_, bool>(1),
                r.get::<_, bool>(2),
                r.get::<_, bool>(3),
                r.get::<_, bool>(4),
                r.get::<_, i32>(5),
                r.get::<_, String>(6)
            ),
        );
    }
    for r in c
        .query(
            "SELECT datname::text, pg_get_userbyid(datdba)::text, COALESCE(datacl::text, '') FROM pg_database ORDER BY 1",
            &[],
        )
        .unwrap()
    {
        let name: String = r.get(0);
        out.insert(
            format!("database {name}"),
            format!("owner={} acl={}", r.get::<_, String>(1), r.get::<_, String>(2)),
        );
    }
    for db in ["keycloak", "backstage"] {
        let mut d = postgres::Client::connect(&pg.url_for(db), postgres::NoTls).unwrap();
        for r in d
            .query(
                "SELECT defaclrole::regrole::text, defaclobjtype::text, defaclacl::text FROM pg_default_acl ORDER BY 1, 2",
                &[],
            )
            .unwrap()
        {
            out.insert(
                format!("default acl in {db} for {} on {}", r.get::<_, String>(0), r.get::<_, String>(1)),
                r.get::<_, String>(2),
            );
        }
        for r in d
            .query("SELECT extname::text FROM pg_extension ORDER BY 1", &[])
            .unwrap()
        {
            out.insert(
                format!("extension {} in {db}", r.get::<_, String>(0)),
                String::new(),
            );
        }
    }
    out
}

fn spec(pg: &TestPostgres, adopt: &str, extra: &str) -> String {
    format!(
        "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: goldenpath-idp
prefix: goldenpath
domain: example.io
owner: platform-team
environments:
  dev: {{}}
components:
  - name: rds
    plane: foundational
    tier: 2
    driver: postgres
    settings:
      server:
        url: postgres://{}@127.0.0.1:{}/postgres
        passwordSecret: goldenpath/dev/rds/master
      adopt: {adopt}
      databases:
        - {{ name: keycloak, username: keycloak_user }}
        - {{ name: backstage, username: backstage_user, createdb: true{extra} }}
",
        pg.superuser, pg.port
    )
}

fn put(p: &Platform, path: &str, value: serde_json::Value) {
    use std::io::Write;
    let mut c = p.cmd(&["secret", "put", path]);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The platform's secrets: the master secret with `dbInstanceIdentifier`,
/// the apps' with the port as a string.
fn platform_secrets(p: &Platform, pg: &TestPostgres) {
    put(
        p,
        "goldenpath/dev/rds/master",
        serde_json::json!({"username": pg.superuser, "password": pg.password.expose(), "host": "127.0.0.1", "port": pg.port.to_string(), "engine": "postgres", "dbInstanceIdentifier": "goldenpath-dev-rds"}),
    );
    for (app, role, pw) in [
        ("keycloak", "keycloak_user", OLD_KC),
        ("backstage", "backstage_user", OLD_BS),
    ] {
        put(
            p,
            &format!("goldenpath/dev/{app}/postgres"),
            serde_json::json!({"username": role, "password": pw, "host": "127.0.0.1", "port": pg.port.to_string(), "dbname": app, "engine": "postgres"}),
        );
    }
}

fn logs_in(pg: &TestPostgres, role: &str, password: &str, db: &str) -> bool {
    postgres::Client::connect(
        &format!("postgres://{role}:{password}@127.0.0.1:{}/{db}", pg.port),
        postgres::NoTls,
    )
    .is_ok()
}

fn secret(p: &Platform, path: &str) -> serde_json::Value {
    let out = p.ok(&["secret", "get", path, "--reveal", "--output", "json"]);
    serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()["value"].clone()
}

#[test]
fn adopt_keep_changes_nothing_and_the_old_credentials_still_work() {
    let pg = TestPostgres::start();
    set_up_like_the_platform(&pg, false);
    let p = Platform::new(&spec(&pg, "keep", ""));
    platform_secrets(&p, &pg);
    let before = catalogs(&pg);
    let kc_secret = secret(&p, "goldenpath/dev/keycloak/postgres");
    let plan = p.ok(&["plan", "--env", "dev", "--foundational"]);
    assert!(
        !plan.stdout.contains("rotate") && !plan.stdout.contains("revoke"),
        "{}",
        plan.stdout
    );
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    assert_eq!(catalogs(&pg), before, "adopt: keep changed the catalogs");
    assert!(logs_in(&pg, "keycloak_user", OLD_KC, "keycloak"));
    assert!(logs_in(&pg, "backstage_user", OLD_BS, "backstage"));
    assert_eq!(
        secret(&p, "goldenpath/dev/keycloak/postgres"),
        kc_secret,
        "the platform's secret (port as a string) is kept as it is"
    );
    // Deploying again, and tearing the plane down, leave it all in place.
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["teardown", "--env", "dev", "--foundational", "--confirm"]);
    assert_eq!(catalogs(&pg), before);
    assert!(logs_in(&pg, "keycloak_user", OLD_KC, "keycloak"));
}

#[test]
fn adopt_reconcile_makes_exactly_the_changes_plan_lists() {
    let pg = TestPostgres::start();
    // keycloak_user has CREATEDB it is not declared with.
    set_up_like_the_platform(&pg, true);
    let p = Platform::new(&spec(&pg, "reconcile", ", extensions: [pg_trgm]"));
    platform_secrets(&p, &pg);
    let before = catalogs(&pg);
    let plan = p.ok(&["plan", "--env", "dev", "--foundational"]).stdout;
    for change in [
        "alter role keycloak_user: NOCREATEDB",
        "revoke CONNECT on keycloak from PUBLIC, grant it to keycloak_user",
        "revoke CONNECT on backstage from PUBLIC, grant it to backstage_user",
        "create extension pg_trgm in backstage",
    ] {
        assert!(plan.contains(change), "{change}\n{plan}");
    }
    assert!(
        !plan.contains("rotate"),
        "the stored passwords still log in: {plan}"
    );
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let after = catalogs(&pg);
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        changed,
        [
            "database backstage",
            "database keycloak",
            "extension pg_trgm in backstage",
            "role keycloak_user",
        ],
        "before: {before:#?}\nafter: {after:#?}"
    );
    assert!(after["role keycloak_user"].contains("createdb=false"));
    assert_eq!(
        before["role keycloak_user"].split(" password=").nth(1),
        after["role keycloak_user"].split(" password=").nth(1),
        "no rotation"
    );
    assert!(
        after["role backstage_user"].contains("createdb=true"),
        "declared createdb is kept"
    );
    assert!(logs_in(&pg, "keycloak_user", OLD_KC, "keycloak"));
    // Planned again: nothing left to do.
    let again = p.ok(&["plan", "--env", "dev", "--foundational"]).stdout;
    assert!(
        !again.contains("alter role") && !again.contains("revoke"),
        "{again}"
    );
}

#[test]
fn a_stored_secret_that_no_longer_logs_in_is_rotated_and_written_where_the_cluster_reads_it() {
    let pg = TestPostgres::start();
    set_up_like_the_platform(&pg, false);
    let p = Platform::new(&spec(&pg, "keep", ""));
    platform_secrets(&p, &pg);
    // Someone changed keycloak_user's password behind the secret's back.
    let mut c = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    c.batch_execute("ALTER ROLE keycloak_user PASSWORD 'changed-by-hand-0123456789'")
        .unwrap();
    let plan = p.ok(&["plan", "--env", "dev", "--foundational"]).stdout;
    assert!(
        plan.contains("rotate the password of keycloak_user: the password in goldenpath/dev/keycloak/postgres does not log in"),
        "{plan}"
    );
    assert!(
        !plan.contains("backstage_user:"),
        "backstage is left alone: {plan}"
    );
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let s = secret(&p, "goldenpath/dev/keycloak/postgres");
    assert_eq!(
        s["port"],
        serde_json::json!(pg.port.to_string()),
        "the port stays a string"
    );
    assert!(logs_in(
        &pg,
        "keycloak_user",
        s["password"].as_str().unwrap(),
        "keycloak"
    ));
    assert!(
        logs_in(&pg, "backstage_user", OLD_BS, "backstage"),
        "backstage's password was not touched"
    );
    // --rotate, with a reason, rotates a working one too.
    let out = p.run(&[
        "deploy",
        "--env",
        "dev",
        "--foundational",
        "--rotate",
        "rds",
    ]);
    assert_eq!(out.code, 2, "--rotate needs --reason: {}", out.transcript());
    p.ok(&[
        "deploy",
        "--env",
        "dev",
        "--foundational",
        "--rotate",
        "rds",
        "--reason",
        "quarterly rotation",
    ]);
    assert!(!logs_in(&pg, "backstage_user", OLD_BS, "backstage"));
    let bs = secret(&p, "goldenpath/dev/backstage/postgres");
    assert!(logs_in(
        &pg,
        "backstage_user",
        bs["password"].as_str().unwrap(),
        "backstage"
    ));
}

#[test]
fn a_database_owned_by_another_role_is_refused_before_any_change() {
    let pg = TestPostgres::start();
    set_up_like_the_platform(&pg, false);
    // The spec forgets the platform's role names: role = database.
    let text = spec(&pg, "keep", "")
        .replace("{ name: keycloak, username: keycloak_user }", "keycloak")
        .replace(
            "{ name: backstage, username: backstage_user, createdb: true }",
            "backstage",
        );
    let p = Platform::new(&text);
    platform_secrets(&p, &pg);
    let before = catalogs(&pg);
    let out = p.run(&["deploy", "--env", "dev", "--foundational"]);
    assert_ne!(out.code, 0);
    let all = out.transcript();
    assert!(
        all.contains("database keycloak exists and is owned by keycloak_user"),
        "{all}"
    );
    assert!(
        all.contains("username: keycloak_user"),
        "the hint says how to declare it: {all}"
    );
    assert_eq!(catalogs(&pg), before, "no stray role, nothing changed");
}

#[test]
fn a_tls_only_server_is_deployed_to_with_verify_full() {
    let (pg, ca) = TestPostgres::start_tls();
    let text = format!(
        "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
environments:
  dev: {{}}
components:
  - name: rds
    plane: foundational
    tier: 2
    driver: postgres
    settings:
      server:
        url: postgres://{}@localhost:{}/postgres
        passwordSecret: demo/dev/rds/admin
        sslmode: verify-full
        caBundle: {}
      databases:
        - {{ name: orders, username: orders_app, extensions: [pg_trgm] }}
",
        pg.superuser,
        pg.port,
        ca.display()
    );
    let p = Platform::new(&text);
    put(
        &p,
        "demo/dev/rds/admin",
        serde_json::json!({"password": pg.password.expose()}),
    );
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let s = secret(&p, "demo/dev/orders/postgres");
    assert_eq!(s["username"], "orders_app");
    assert_eq!(s["dbname"], "orders");
    // Without TLS the same spec cannot connect, and says why.
    let p2 = Platform::new(&text.replace("sslmode: verify-full", "sslmode: disable"));
    put(
        &p2,
        "demo/dev/rds/admin",
        serde_json::json!({"password": pg.password.expose()}),
    );
    let out = p2.run(&["deploy", "--env", "dev", "--foundational"]);
    assert_ne!(out.code, 0);
    assert!(
        out.transcript().contains("no encryption"),
        "{}",
        out.transcript()
    );
    assert!(
        out.transcript().contains("sslmode: require"),
        "{}",
        out.transcript()
    );
}
