//! Provision 50 app databases on one local PostgreSQL (SCRAM auth):
//! goldenpath's postgres driver against the floor, `psql -f` running a
//! script of the same statements (the same catalog reads, `CREATE ROLE ...
//! PASSWORD 'SCRAM-SHA-256$...'`, `CREATE DATABASE`, `REVOKE`/`GRANT`), side
//! by side, alternating, 5 runs each. goldenpath's time also includes
//! generating 50 passwords, journalling every action, and writing 50
//! encrypted secrets; the floor does none of that.
//!
//! Then the same over TLS: a server that accepts only TLS, goldenpath with
//! `sslmode: verify-full` and the test CA, `psql` with `sslmode=verify-full`
//! and the same CA.
//!
//! `cargo bench -p gp-driver-postgres --bench provision`
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use gp_core::{Contract, Deployment, Platform, Secret};
use gp_driver::conformance::MemoryRecorder;
use gp_driver::{ComponentCtx, Driver, Intent};
use gp_driver_postgres::{PostgresDriver, server, sql};
use gp_driver_secrets::{LocalStore, SecretStore};
use gp_test::postgres::TestPostgres;

const APPS: usize = 50;
const RUNS: usize = 6;

fn names(tag: &str) -> Vec<String> {
    (0..APPS).map(|i| format!("{tag}_app{i:02}")).collect()
}

fn goldenpath(pg: &TestPostgres, dir: &Path, tag: &str, tls: Option<&Path>) -> f64 {
    let store = Arc::new(LocalStore::with_key(
        dir,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ));
    store
        .put(
            "gp/dev/rds/admin",
            &Secret::new(serde_json::json!({"password": pg.password.expose()}).to_string()),
            &BTreeMap::new(),
        )
        .unwrap();
    let spec = format!(
        "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: demo\nprefix: gp\ndomain: example.io\nowner: team\nenvironments:\n  dev: {{}}\ncomponents:\n  - name: rds\n    plane: foundational\n    tier: 2\n    driver: postgres\n    settings:\n      server:\n        url: postgres://{}@{}:{}/postgres\n        passwordSecret: gp/dev/rds/admin\n{}      databases: [{}]\n",
        pg.superuser,
        if tls.is_some() {
            "localhost"
        } else {
            "127.0.0.1"
        },
        pg.port,
        tls.map(|ca| format!(
            "        sslmode: verify-full\n        caBundle: {}\n",
            ca.display()
        ))
        .unwrap_or_default(),
        names(tag).join(", ")
    );
    let platform = Platform::from_source(Path::new("goldenpath.yaml"), &spec).unwrap();
    let contract = Contract::new(&platform, "dev", Deployment::Foundational).unwrap();
    let component = platform.component("rds").unwrap();
    let settings = component.settings_node();
    let inputs = BTreeMap::new();
    let rec = MemoryRecorder::default();
    let driver = PostgresDriver::new(store);
    let ctx = ComponentCtx {
        platform: &platform,
        contract: &contract,
        component,
        settings: &settings,
        inputs: &inputs,
        last: None,
        intent: Intent::Create,
        state_dir: dir,
        recorder: &rec,
    };
    let t = Instant::now();
    let applied = driver.apply(&ctx).unwrap();
    let took = t.elapsed().as_secs_f64();
    assert_eq!(
        applied.counts.added as usize,
        APPS * 3,
        "role, database, secret each"
    );
    took
}

fn floor(pg: &TestPostgres, dir: &Path, tag: &str, tls: Option<&Path>) -> f64 {
    let mut script = String::from("\\set ON_ERROR_STOP on\n");
    for name in names(tag) {
        let pw = gp_driver_secrets::generate_password(40).unwrap();
        let ident = sql::ident(&name);
        let _ = write!(
            script,
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = '{name}';\n\
             CREATE ROLE {ident} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {};\n\
             SELECT pg_get_userbyid(datdba)::text, COALESCE(array_to_string(datacl, ','), '') FROM pg_database WHERE datname = '{name}';\n\
             CREATE DATABASE {ident} OWNER {ident};\n\
             REVOKE ALL ON DATABASE {ident} FROM PUBLIC; GRANT CONNECT, TEMPORARY ON DATABASE {ident} TO {ident};\n",
            sql::literal(&sql::scram(&pw))
        );
    }
    let file = dir.join(format!("{tag}.sql"));
    std::fs::write(&file, script).unwrap();
    let psql = server::find_bin_dir().unwrap().join("psql");
    let psql = if psql.exists() { psql } else { "psql".into() };
    let mut cmd = std::process::Command::new(psql);
    cmd.args([
        "-q",
        "-X",
        "-h",
        if tls.is_some() {
            "localhost"
        } else {
            "127.0.0.1"
        },
        "-p",
        &pg.port.to_string(),
        "-U",
        &pg.superuser,
        "-d",
        "postgres",
        "-f",
    ])
    .arg(&file)
    .env("PGPASSWORD", pg.password.expose());
    if let Some(ca) = tls {
        cmd.env("PGSSLMODE", "verify-full").env("PGSSLROOTCERT", ca);
    }
    let t = Instant::now();
    let out = cmd.output().unwrap();
    let took = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let base = std::env::var_os("GP_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    let plain = TestPostgres::start();
    measure(&base, &plain, None, "plain");
    let (secure, ca) = TestPostgres::start_tls();
    measure(&base, &secure, Some(&ca), "TLS verify-full");
}

fn measure(base: &Path, pg: &TestPostgres, tls: Option<&Path>, label: &str) {
    let (mut ours, mut floors) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let dir = tempfile::Builder::new()
            .prefix("gp-bench-pg-")
            .tempdir_in(base)
            .unwrap();
        // Alternate which goes first: each side's CREATE DATABASEs slow
        // down as the cluster grows.
        let (f, g) = if run % 2 == 0 {
            let f = floor(pg, dir.path(), &format!("f{run}"), tls);
            (f, goldenpath(pg, dir.path(), &format!("g{run}"), tls))
        } else {
            let g = goldenpath(pg, dir.path(), &format!("g{run}"), tls);
            (floor(pg, dir.path(), &format!("f{run}"), tls), g)
        };
        println!(
            "{label} run {}: goldenpath {:.3} s, psql floor {:.3} s",
            run + 1,
            g,
            f
        );
        ours.push(g);
        floors.push(f);
    }
    let ratios: Vec<f64> = ours.iter().zip(&floors).map(|(g, f)| g / f).collect();
    println!(
        "{label} per-run ratios: {}",
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (g, f) = (median(ours), median(floors));
    println!(
        "{label}: {APPS} databases: goldenpath median {g:.3} s, psql floor median {f:.3} s, ratio {:.2}x (goal <= 1.3x)",
        g / f
    );
}
