//! The postgres driver against real PostgreSQL servers with SCRAM auth.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use gp_core::{Contract, Deployment, Platform, Secret};
use gp_driver::conformance::{Fixture, MemoryRecorder, check};
use gp_driver::{Action, ComponentCtx, ComponentOutputs, Driver, Intent, ValidateCtx};
use gp_driver_postgres::PostgresDriver;
use gp_driver_postgres::sql::{self, Endpoint, SslMode, Tls};
use gp_driver_secrets::{LocalStore, SecretStore};
use gp_test::postgres::TestPostgres;

struct World {
    dir: tempfile::TempDir,
    store: Arc<LocalStore>,
    driver: PostgresDriver,
    platform: Platform,
}

fn spec(components: &str) -> String {
    format!(
        "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: gp
domain: example.io
owner: team
environments:
  dev: {{}}
components:
{components}"
    )
}

impl World {
    fn new(components: &str) -> World {
        let dir = gp_test::tempdir();
        // The managed server may run as another user: let it in.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let store = Arc::new(LocalStore::new(dir.path()));
        let platform =
            Platform::from_source(Path::new("goldenpath.yaml"), &spec(components)).unwrap();
        World {
            driver: PostgresDriver::new(store.clone()),
            store,
            platform,
            dir,
        }
    }

    fn ctx<'a>(
        &'a self,
        contract: &'a Contract<'a>,
        component: &str,
        settings: &'a gp_core::yaml::Node,
        inputs: &'a BTreeMap<String, ComponentOutputs>,
        last: Option<&'a ComponentOutputs>,
        rec: &'a MemoryRecorder,
    ) -> ComponentCtx<'a> {
        ComponentCtx {
            platform: &self.platform,
            contract,
            component: self.platform.component(component).unwrap(),
            settings,
            inputs,
            last,
            intent: Intent::Create,
            state_dir: self.dir.path(),
            recorder: rec,
        }
    }

    fn secret(&self, path: &str) -> serde_json::Map<String, serde_json::Value> {
        self.store.get(path).unwrap().unwrap().json().unwrap()
    }
}

fn server_component(pg: &TestPostgres, dbs: &str) -> String {
    format!(
        "  - name: rds
    plane: foundational
    tier: 2
    protected: true
    driver: postgres
    settings:
      server:
        url: postgres://{}@127.0.0.1:{}/postgres
        passwordSecret: gp/dev/rds/admin
      databases: [{dbs}]
",
        pg.superuser, pg.port
    )
}

fn put_admin(w: &World, pg: &TestPostgres) {
    w.store
        .put(
            "gp/dev/rds/admin",
            &Secret::new(serde_json::json!({"password": pg.password.expose()}).to_string()),
            &BTreeMap::new(),
        )
        .unwrap();
}

fn connect(
    host_port: (&str, u16),
    user: &str,
    password: &str,
    db: &str,
) -> Result<postgres::Client, postgres::Error> {
    postgres::Config::new()
        .host(host_port.0)
        .port(host_port.1)
        .user(user)
        .password(password)
        .dbname(db)
        .connect(postgres::NoTls)
}

#[test]
fn conformance_on_an_existing_server() {
    let pg = TestPostgres::start();
    let w = World::new(&server_component(&pg, "appone, apptwo"));
    put_admin(&w, &pg);
    let contract = Contract::new(&w.platform, "dev", Deployment::Foundational).unwrap();
    let c = w.platform.component("rds").unwrap();
    let settings = c.settings_node();
    let inputs = BTreeMap::new();
    check(
        &w.driver,
        &Fixture {
            platform: &w.platform,
            contract: &contract,
            component: c,
            settings: &settings,
            inputs: &inputs,
            state_dir: w.dir.path().to_path_buf(),
        },
    )
    .unwrap();
}

#[test]
fn conformance_with_roles_named_apart_from_their_databases_and_createdb() {
    let pg = TestPostgres::start();
    let w = World::new(&server_component(
        &pg,
        "{name: appone, username: appone_user, createdb: true, connectionLimit: 20}, {name: apptwo, username: apptwo_user, extensions: [pg_trgm]}",
    ));
    put_admin(&w, &pg);
    let contract = Contract::new(&w.platform, "dev", Deployment::Foundational).unwrap();
    let c = w.platform.component("rds").unwrap();
    let settings = c.settings_node();
    let inputs = BTreeMap::new();
    check(
        &w.driver,
        &Fixture {
            platform: &w.platform,
            contract: &contract,
            component: c,
            settings: &settings,
            inputs: &inputs,
            state_dir: w.dir.path().to_path_buf(),
        },
    )
    .unwrap();
    // The roles were created as declared (and are gone after the suite's
    // destroys).
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_roles WHERE rolname IN ('appone_user', 'apptwo_user')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[test]
fn conformance_on_a_managed_instance() {
    let w = World::new(
        "  - name: rds
    plane: foundational
    tier: 2
    driver: postgres
    settings: { managed: {}, databases: [appone] }
",
    );
    let contract = Contract::new(&w.platform, "dev", Deployment::Foundational).unwrap();
    let c = w.platform.component("rds").unwrap();
    let settings = c.settings_node();
    let inputs = BTreeMap::new();
    check(
        &w.driver,
        &Fixture {
            platform: &w.platform,
            contract: &contract,
            component: c,
            settings: &settings,
            inputs: &inputs,
            state_dir: w.dir.path().to_path_buf(),
        },
    )
    .unwrap();
}

#[test]
fn each_app_gets_its_own_database_and_nothing_more() {
    let pg = TestPostgres::start();
    let w = World::new(&server_component(&pg, "keycloak, backstage"));
    put_admin(&w, &pg);
    let contract = Contract::new(&w.platform, "dev", Deployment::Foundational).unwrap();
    let settings = w.platform.component("rds").unwrap().settings_node();
    let inputs = BTreeMap::new();
    let rec = MemoryRecorder::default();
    let applied = w
        .driver
        .apply(&w.ctx(&contract, "rds", &settings, &inputs, None, &rec))
        .unwrap();
    assert_eq!(
        applied.outputs.resources["backstage"]["secret_path"],
        "gp/dev/backstage/postgres"
    );

    let kc = w.secret("gp/dev/keycloak/postgres");
    let bs = w.secret("gp/dev/backstage/postgres");
    for key in ["username", "password", "host", "port", "dbname", "engine"] {
        assert!(kc.contains_key(key), "missing {key}");
    }
    assert_eq!(kc["engine"], "postgres");
    assert!(kc["password"].as_str().unwrap().len() >= 32);
    let at = (
        kc["host"].as_str().unwrap(),
        kc["port"].as_u64().unwrap() as u16,
    );
    let kc_pw = kc["password"].as_str().unwrap();
    // Its own database: yes.
    let mut client = connect(at, "keycloak", kc_pw, "keycloak").unwrap();
    // Another app's database: no; a wrong password: no.
    let Err(err) = connect(at, "keycloak", kc_pw, "backstage") else {
        panic!("keycloak reached backstage's database")
    };
    let msg = err
        .as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default();
    assert!(msg.contains("permission denied for database"), "{err:?}");
    assert!(connect(at, "keycloak", "wrong-password", "keycloak").is_err());
    assert!(
        connect(
            at,
            "backstage",
            bs["password"].as_str().unwrap(),
            "backstage"
        )
        .is_ok()
    );

    // The app role owns its database and can do nothing else.
    let row = client
        .query_one("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user", &[])
        .unwrap();
    assert_eq!(
        (
            row.get::<_, bool>(0),
            row.get::<_, bool>(1),
            row.get::<_, bool>(2)
        ),
        (false, false, false)
    );
    assert!(client.batch_execute("CREATE ROLE sneaky").is_err());
    assert!(client.batch_execute("CREATE DATABASE sneaky").is_err());
    client
        .batch_execute("CREATE TABLE realms (id int)")
        .unwrap();
    let owner: String = client
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = 'keycloak'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, "keycloak");

    // Re-running changes nothing.
    let again = MemoryRecorder::default();
    w.driver
        .apply(&w.ctx(
            &contract,
            "rds",
            &settings,
            &inputs,
            Some(&applied.outputs),
            &again,
        ))
        .unwrap();
    assert!(
        again.actions.lock().unwrap().is_empty(),
        "{:?}",
        again.actions.lock().unwrap()
    );
    assert_eq!(
        w.secret("gp/dev/keycloak/postgres")["password"],
        kc["password"]
    );
    let seen = w
        .driver
        .observe(&w.ctx(
            &contract,
            "rds",
            &settings,
            &inputs,
            Some(&applied.outputs),
            &again,
        ))
        .unwrap();
    assert!(seen.drift.is_empty(), "{:?}", seen.drift);

    // The database handed to another role behind goldenpath's back: named
    // as drift (a deploy refuses to take it back, and says how).
    let mut admin = connect(
        ("127.0.0.1", pg.port),
        &pg.superuser,
        pg.password.expose(),
        "postgres",
    )
    .unwrap();
    admin
        .batch_execute("CREATE ROLE someone; ALTER DATABASE keycloak OWNER TO someone")
        .unwrap();
    let seen = w
        .driver
        .observe(&w.ctx(
            &contract,
            "rds",
            &settings,
            &inputs,
            Some(&applied.outputs),
            &again,
        ))
        .unwrap();
    assert!(
        seen.drift
            .iter()
            .any(|d| d.contains("keycloak") && d.contains("owned by someone")),
        "{:?}",
        seen.drift
    );
    admin
        .batch_execute("ALTER DATABASE keycloak OWNER TO keycloak")
        .unwrap();

    // Nothing the recorder saw holds a password.
    let journal = format!(
        "{:?}{:?}{:?}",
        rec.actions.lock().unwrap(),
        rec.lines.lock().unwrap(),
        applied.outputs
    );
    for pw in [
        kc_pw,
        bs["password"].as_str().unwrap(),
        pg.password.expose(),
    ] {
        assert!(!journal.contains(pw));
    }
}

#[test]
fn adopting_a_role_whose_secret_is_missing_rotates_only_its_password() {
    let pg = TestPostgres::start();
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    admin
        .batch_execute("CREATE ROLE orders LOGIN CREATEDB PASSWORD 'the-old-password-of-orders'")
        .unwrap();
    let w = World::new(&server_component(&pg, "orders"));
    put_admin(&w, &pg);
    let contract = Contract::new(&w.platform, "dev", Deployment::Foundational).unwrap();
    let settings = w.platform.component("rds").unwrap().settings_node();
    let inputs = BTreeMap::new();
    let rec = MemoryRecorder::default();
    let applied = w
        .driver
        .apply(&w.ctx(&contract, "rds", &settings, &inputs, None, &rec))
        .unwrap();
    let actions: Vec<(Action, String)> = rec
        .actions
        .lock()
        .unwrap()
        .iter()
        .map(|a| (a.action, a.resource.kind.clone()))
        .collect();
    // No secret holds its password: adopted as it is, the password
    // rotated and written to the secret in the same step, then the
    // database.
    assert_eq!(
        actions,
        [
            (Action::Adopt, "role".into()),
            (Action::Update, "role".into()),
            (Action::Create, "secret".into()),
            (Action::Create, "database".into()),
        ]
    );
    let at = ("127.0.0.1", pg.port);
    assert!(
        connect(at, "orders", "the-old-password-of-orders", "postgres").is_err(),
        "the old password still works"
    );
    let s = w.secret("gp/dev/orders/postgres");
    let mut client = connect(at, "orders", s["password"].as_str().unwrap(), "orders").unwrap();
    let createdb: bool = client
        .query_one(
            "SELECT rolcreatedb FROM pg_roles WHERE rolname = 'orders'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        createdb,
        "adopt: keep leaves the role's attributes as they are"
    );
    // Teardown of the foundational plane leaves an adopted role in place.
    let again = MemoryRecorder::default();
    w.driver
        .apply(&w.ctx(
            &contract,
            "rds",
            &settings,
            &inputs,
            Some(&applied.outputs),
            &again,
        ))
        .unwrap();
    assert!(again.actions.lock().unwrap().is_empty());
}

#[test]
fn a_database_owned_by_someone_else_is_an_error() {
    let pg = TestPostgres::start();
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    admin.batch_execute("CREATE ROLE someone").unwrap();
    admin
        .batch_execute("CREATE DATABASE ledger OWNER someone")
        .unwrap();
    let w = World::new(&server_component(&pg, "ledger"));
    put_admin(&w, &pg);
    let contract = Contract::new(&w.platform, "dev", Deployment::Foundational).unwrap();
    let settings = w.platform.component("rds").unwrap().settings_node();
    let inputs = BTreeMap::new();
    let rec = MemoryRecorder::default();
    let err = w
        .driver
        .apply(&w.ctx(&contract, "rds", &settings, &inputs, None, &rec))
        .unwrap_err();
    assert!(
        err.message
            .contains("database ledger exists and is owned by someone, not ledger"),
        "{err}"
    );
}

#[test]
fn a_per_build_database_interrupted_after_its_role_resumes_as_its_own() {
    let pg = TestPostgres::start();
    let components = format!(
        "{}  - name: scratch
    plane: disposable
    tier: 2
    driver: postgres
    needs: [rds]
    settings: {{ instance: rds, databases: [scratch] }}
",
        server_component(&pg, "keycloak")
    );
    let w = World::new(&components);
    put_admin(&w, &pg);
    let fcontract = Contract::new(&w.platform, "dev", Deployment::Foundational).unwrap();
    let rds_settings = w.platform.component("rds").unwrap().settings_node();
    let none = BTreeMap::new();
    let rds = w
        .driver
        .apply(&w.ctx(
            &fcontract,
            "rds",
            &rds_settings,
            &none,
            None,
            &MemoryRecorder::default(),
        ))
        .unwrap();
    let contract = Contract::new(
        &w.platform,
        "dev",
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    )
    .unwrap();
    let settings = w.platform.component("scratch").unwrap().settings_node();
    let inputs = BTreeMap::from([("rds".to_string(), rds.outputs.clone())]);
    // Killed after the role was created, before the database: the journal
    // holds the role; nothing was published.
    let mut rec = MemoryRecorder::interrupting_at(2);
    let err = w
        .driver
        .apply(&w.ctx(&contract, "scratch", &settings, &inputs, None, &rec))
        .unwrap_err();
    assert_eq!(err.kind, gp_driver::ErrorKind::Interrupted, "{err:?}");
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    let role: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_roles WHERE rolname = 'scratch_b23012601'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(role, 1, "the role was created before the interruption");
    // The resume sees the role as its own and finishes.
    rec.interrupt_at = None;
    let applied = w
        .driver
        .apply(&w.ctx(&contract, "scratch", &settings, &inputs, None, &rec))
        .unwrap();
    assert_eq!(
        applied.outputs.resources["scratch"]["dbname"],
        "scratch_b23012601"
    );
    // A role nobody journalled is still refused.
    let stranger = MemoryRecorder::default();
    admin
        .batch_execute("DROP DATABASE scratch_b23012601")
        .unwrap();
    let err = w
        .driver
        .apply(&w.ctx(&contract, "scratch", &settings, &inputs, None, &stranger))
        .unwrap_err();
    assert!(
        err.message
            .contains("never takes over an existing role or database"),
        "{err:?}"
    );
}

#[test]
fn a_per_build_database_goes_with_its_build_even_with_a_session_open() {
    let pg = TestPostgres::start();
    let components = format!(
        "{}  - name: scratch
    plane: disposable
    tier: 2
    driver: postgres
    needs: [rds]
    settings: {{ instance: rds, databases: [scratch] }}
",
        server_component(&pg, "keycloak")
    );
    let w = World::new(&components);
    put_admin(&w, &pg);
    // The foundational instance first; its outputs feed the build.
    let fcontract = Contract::new(&w.platform, "dev", Deployment::Foundational).unwrap();
    let rds_settings = w.platform.component("rds").unwrap().settings_node();
    let none = BTreeMap::new();
    let rec = MemoryRecorder::default();
    let rds = w
        .driver
        .apply(&w.ctx(&fcontract, "rds", &rds_settings, &none, None, &rec))
        .unwrap();

    let contract = Contract::new(
        &w.platform,
        "dev",
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    )
    .unwrap();
    let settings = w.platform.component("scratch").unwrap().settings_node();
    let inputs = BTreeMap::from([("rds".to_string(), rds.outputs.clone())]);
    let rec = MemoryRecorder::default();
    let applied = w
        .driver
        .apply(&w.ctx(&contract, "scratch", &settings, &inputs, None, &rec))
        .unwrap();
    let path = "gp/dev/builds/23-01-26-01/scratch/postgres";
    assert_eq!(applied.outputs.resources["scratch"]["secret_path"], path);
    let s = w.secret(path);
    assert_eq!(s["dbname"], "scratch_b23012601");
    let mut session = connect(
        ("127.0.0.1", pg.port),
        "scratch_b23012601",
        s["password"].as_str().unwrap(),
        "scratch_b23012601",
    )
    .unwrap();
    session
        .batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
        .unwrap();

    // Teardown destroys what the journal says was created, newest first.
    let created = rec.created();
    let ctx = w.ctx(&contract, "scratch", &settings, &inputs, None, &rec);
    for r in created.iter().rev() {
        w.driver.destroy(&ctx, r).unwrap();
    }
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    let dbs: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = 'scratch_b23012601'",
            &[],
        )
        .unwrap()
        .get(0);
    let roles: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_roles WHERE rolname = 'scratch_b23012601'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!((dbs, roles), (0, 0));
    assert!(w.store.get(path).unwrap().is_none());
    // The foundational database is untouched.
    let kc: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = 'keycloak'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(kc, 1);
    drop(session);
}

#[test]
fn bad_names_are_refused_before_any_sql() {
    for (name, says) in [
        ("'a\"b'", "is not a valid database name"),
        ("'x; drop table y'", "is not a valid database name"),
        ("Bad", "is not a valid database name"),
        ("é", "is not a valid database name"),
        (&"a".repeat(64), "is not a valid database name"),
        ("pg_catalog2", "is reserved by PostgreSQL"),
    ] {
        let w = World::new(&format!(
            "  - name: rds\n    plane: foundational\n    tier: 2\n    driver: postgres\n    settings: {{ managed: {{}}, databases: [{name}] }}\n"
        ));
        let c = w.platform.component("rds").unwrap();
        let settings = c.settings_node();
        let err = w
            .driver
            .validate(&ValidateCtx {
                platform: &w.platform,
                component: c,
                settings: &settings,
            })
            .unwrap_err();
        assert!(err[0].message.contains(says), "{name}: {}", err[0].message);
        assert_eq!(err[0].pos.map(|p| p.line), Some(14), "{name}");
    }
}

#[test]
fn a_password_in_the_url_is_refused() {
    let w = World::new(
        "  - name: rds\n    plane: foundational\n    tier: 2\n    driver: postgres\n    settings:\n      server: { url: 'postgres://admin:hunter2@db/postgres', passwordEnv: PW }\n",
    );
    let c = w.platform.component("rds").unwrap();
    let settings = c.settings_node();
    let err = w
        .driver
        .validate(&ValidateCtx {
            platform: &w.platform,
            component: c,
            settings: &settings,
        })
        .unwrap_err();
    assert!(
        err[0].message.contains("the url contains a password"),
        "{}",
        err[0].message
    );
    assert!(!err[0].message.contains("hunter2"));
}

fn tls_endpoint(pg: &TestPostgres, host: &str, mode: SslMode, ca: Option<&Path>) -> Endpoint {
    Endpoint {
        host: host.into(),
        port: pg.port,
        user: pg.superuser.clone(),
        password: pg.password.clone(),
        tls: Tls {
            mode,
            ca_bundle: ca.map(Path::to_path_buf),
        },
    }
}

#[test]
fn a_tls_only_server_takes_require_and_verified_connections_and_refuses_plain_ones() {
    let (pg, ca) = TestPostgres::start_tls();
    // Plain TCP: refused by pg_hba.conf, with the fix in the hint.
    let err = sql::connect(
        &tls_endpoint(&pg, "127.0.0.1", SslMode::Disable, None),
        "postgres",
    )
    .err()
    .expect("a plain connection is refused");
    assert!(err.message.contains("no encryption"), "{}", err.message);
    assert!(
        err.hint
            .as_deref()
            .unwrap_or_default()
            .contains("sslmode: require"),
        "{err:?}"
    );
    // Encrypted without a check, and encrypted when offered.
    for mode in [SslMode::Prefer, SslMode::Require] {
        let mut c = sql::connect(&tls_endpoint(&pg, "127.0.0.1", mode, None), "postgres")
            .unwrap_or_else(|e| panic!("{mode:?}: {e:?}"));
        let ssl: bool = c
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(ssl, "{mode:?} is encrypted");
    }
    // Chained to the CA: by IP (verify-ca ignores the name), and by the
    // name the certificate carries (verify-full).
    sql::connect(
        &tls_endpoint(&pg, "127.0.0.1", SslMode::VerifyCa, Some(&ca)),
        "postgres",
    )
    .unwrap();
    sql::connect(
        &tls_endpoint(&pg, "localhost", SslMode::VerifyFull, Some(&ca)),
        "postgres",
    )
    .unwrap();
    // verify-full to a name the certificate does not carry fails.
    let err = sql::connect(
        &tls_endpoint(&pg, "127.0.0.1", SslMode::VerifyFull, Some(&ca)),
        "postgres",
    )
    .err()
    .expect("the certificate does not name 127.0.0.1");
    assert!(
        err.message.to_lowercase().contains("certificate") || err.message.contains("name"),
        "{}",
        err.message
    );
    // Another CA: refused, however the name is written.
    let (_other, other_ca) = TestPostgres::start_tls();
    for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
        assert!(
            sql::connect(
                &tls_endpoint(&pg, "localhost", mode, Some(&other_ca)),
                "postgres"
            )
            .is_err(),
            "{mode:?} with another CA"
        );
    }
}
