//! The generated tampering matrix through the binary. A real story writes
//! every table (deploys, a teardown, a retired id re-used, expiry moved and
//! kept, a forced unlock, requests planned, approved, applied and
//! withdrawn); then, for every table and every kind of row that story
//! wrote there, a copy is inserted without an HMAC and one with a wrong
//! HMAC — as someone holding the SQLite file would, its triggers dropped —
//! and every command that reads that table, and every endpoint of `serve`
//! that does, runs: none acts (no row is written, no resource changes),
//! each reports the tampering (exit 3 naming the row and `registry
//! verify`; a view shows it as tampered; the API answers 409 or lists it),
//! and `registry verify` names the row. The forged row is removed before
//! the next case.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use crate::deploy::Platform;
use crate::requests::Servers;

const B1: &str = "23-01-26-01";
const B2: &str = "23-01-26-02";

pub(crate) fn spec() -> String {
    let exec = include_str!("fixtures/exec-platform.yaml").replace(
        "ephemeral: { maxTier: 2 }",
        "ephemeral: { maxTier: 2, ttl: 4h, maxTtl: 48h }",
    );
    let rds = "  - name: rds\n    plane: foundational\n    tier: 2\n    protected: true\n    driver: postgres\n    settings:\n      managed: {}\n      databases: [keycloak]\n";
    format!("{exec}{rds}requests:\n  approvers:\n    platform: [bob]\n")
}

pub(crate) fn request(id: &str, database: &str, risk: &str) -> String {
    format!(
        "id: {id}\nenvironment: dev\ndatabaseName: {database}\nusername: {database}_app\nsize: small\nstorageGb: 20\nmaxStorageGb: 100\nbackupRetentionDays: 14\nowner: team-orders\nrequester: alice\ndomain: commerce\nrisk: {risk}\n"
    )
}

fn ok_as(p: &Platform, actor: &str, args: &[&str]) {
    let mut c = p.cmd(args);
    c.env("GOLDENPATH_ACTOR", actor);
    let out = gp_test::run(&mut c);
    assert_eq!(out.code, 0, "{args:?}\n{}", out.transcript());
}

/// A story that writes every table, through goldenpath's own commands.
pub(crate) fn story(p: &Platform) {
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    p.ok(&[
        "builds",
        "extend",
        "--env",
        "dev",
        "--build-id",
        B1,
        "--by",
        "2h",
        "--reason",
        "demo",
    ]);
    p.ok(&[
        "builds",
        "keep",
        "--env",
        "dev",
        "--build-id",
        B1,
        "--reason",
        "the demo",
    ]);
    p.ok(&[
        "builds",
        "keep",
        "--env",
        "dev",
        "--build-id",
        B1,
        "--release",
        "--reason",
        "done",
    ]);
    p.ok(&["deploy", "--env", "dev", "--build-id", B2]);
    p.ok(&["teardown", "--env", "dev", "--build-id", B2]);
    p.ok(&[
        "deploy",
        "--env",
        "dev",
        "--build-id",
        B2,
        "--reuse-retired",
        "the demo needs it",
    ]);
    // A deploy killed mid-way leaves its lease; it is forced open.
    hold_a_lease(p);
    p.ok(&[
        "lease",
        "unlock",
        "--env",
        "dev",
        "--persistent",
        "--force",
        "--reason",
        "killed",
    ]);
    std::fs::create_dir_all(p.path().join("requests")).unwrap();
    std::fs::write(
        p.path().join("requests/RDS-0001.yaml"),
        request("RDS-0001", "orders", "low"),
    )
    .unwrap();
    p.ok(&["request", "plan", "RDS-0001"]);
    p.ok(&["request", "apply", "RDS-0001"]);
    std::fs::write(
        p.path().join("requests/RDS-0002.yaml"),
        request("RDS-0002", "billing", "high"),
    )
    .unwrap();
    assert_eq!(p.run(&["request", "apply", "RDS-0002"]).code, 3);
    ok_as(p, "bob", &["request", "approve", "RDS-0002"]);
    p.ok(&["request", "withdraw", "RDS-0001"]);
}

/// A deploy of the persistent deployment killed mid-way: its lease stays
/// held (by a process that is gone).
pub(crate) fn hold_a_lease(p: &Platform) {
    let mut child = p.spawn(&["deploy", "--env", "dev", "--persistent"], "30");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !lease_held(p) {
        assert!(
            std::time::Instant::now() < deadline,
            "the deploy never took its lease"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    let _ = child.wait();
}

fn lease_held(p: &Platform) -> bool {
    p.run(&["lease", "list", "--output", "json"])
        .stdout
        .contains("\"held\"")
}

fn db(p: &Platform) -> rusqlite::Connection {
    rusqlite::Connection::open(p.path().join(".goldenpath/registry.db")).unwrap()
}

const TABLES: [(&str, Option<&str>); 7] = [
    ("reservations", None),
    ("deployment_events", Some("event")),
    ("phase_events", Some("kind")),
    ("journal", Some("stage")),
    ("lease_events", Some("kind")),
    ("overrides", Some("kind")),
    ("request_events", Some("event")),
];

/// A copy of the newest row of one kind, with a fresh id (and what the
/// table holds unique moved out of the way).
struct Forgery {
    table: &'static str,
    kind: String,
    columns: Vec<String>,
    values: Vec<rusqlite::types::Value>,
    stream: String,
    next: i64,
}

impl Forgery {
    fn text(&self, col: &str) -> String {
        match self
            .columns
            .iter()
            .position(|c| c == col)
            .map(|i| &self.values[i])
        {
            Some(rusqlite::types::Value::Text(t)) => t.clone(),
            _ => String::new(),
        }
    }
    fn id(&self) -> String {
        self.text("id")
    }
}

fn forgeries(c: &rusqlite::Connection) -> Vec<Forgery> {
    let mut out = Vec::new();
    for (table, kind_col) in TABLES {
        let kinds: Vec<String> = match kind_col {
            Some(k) => {
                let mut st = c
                    .prepare(&format!("SELECT DISTINCT {k} FROM {table} ORDER BY 1"))
                    .unwrap();
                st.query_map([], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
            None => vec![String::new()],
        };
        assert!(!kinds.is_empty(), "the story wrote no {table} row");
        let columns: Vec<String> = {
            let st = c
                .prepare(&format!("SELECT * FROM {table} LIMIT 0"))
                .unwrap();
            st.column_names().map(str::to_string).collect()
        };
        for kind in kinds {
            let filter = kind_col
                .map(|k| format!(" WHERE {k} = ?1"))
                .unwrap_or_default();
            let sql = format!("SELECT * FROM {table}{filter} ORDER BY chain_seq DESC LIMIT 1");
            let mut st = c.prepare(&sql).unwrap();
            let mut rows = if kind_col.is_some() {
                st.query([&kind]).unwrap()
            } else {
                st.query([]).unwrap()
            };
            let row = rows.next().unwrap().unwrap();
            let mut values: Vec<rusqlite::types::Value> =
                (0..columns.len()).map(|i| row.get(i).unwrap()).collect();
            let at = |name: &str| columns.iter().position(|c| c == name).unwrap();
            let stream = match &values[at("chain_stream")] {
                rusqlite::types::Value::Text(t) => t.clone(),
                _ => String::new(),
            };
            drop(rows);
            let next: i64 = c
                .query_row(
                    &format!("SELECT MAX(chain_seq) + 1 FROM {table} WHERE chain_stream = ?1"),
                    [&stream],
                    |r| r.get(0),
                )
                .unwrap();
            values[at("id")] = rusqlite::types::Value::Text(format!("forged-{table}-{kind}"));
            let (stream, next) = match table {
                "reservations" => {
                    values[at("generation")] = rusqlite::types::Value::Integer(9);
                    (stream, next)
                }
                "journal" => {
                    values[at("seq")] = rusqlite::types::Value::Integer(next);
                    (stream, next)
                }
                "phase_events" => {
                    let run = format!("forged-run-{kind}");
                    values[at("phase_run")] = rusqlite::types::Value::Text(run.clone());
                    (run, if kind == "end" { 2 } else { 1 })
                }
                _ => (stream, next),
            };
            out.push(Forgery {
                table,
                kind,
                columns: columns.clone(),
                values,
                stream,
                next,
            });
        }
    }
    out
}

fn insert(c: &rusqlite::Connection, f: &Forgery, with_mac: bool) {
    let mut values = f.values.clone();
    let at = |name: &str| f.columns.iter().position(|c| c == name).unwrap();
    use rusqlite::types::Value as V;
    if with_mac {
        // After whatever the stream holds now.
        let now: Option<i64> = c
            .query_row(
                &format!(
                    "SELECT MAX(chain_seq) + 1 FROM {} WHERE chain_stream = ?1",
                    f.table
                ),
                [&f.stream],
                |r| r.get(0),
            )
            .unwrap();
        values[at("chain_stream")] = V::Text(f.stream.clone());
        values[at("chain_seq")] = V::Integer(now.unwrap_or(f.next).max(f.next));

        values[at("chain_mac")] = V::Text("0123456789abcdef0123456789abcdef".into());
    } else {
        values[at("chain_stream")] = V::Null;
        values[at("chain_seq")] = V::Null;
        values[at("chain_mac")] = V::Null;
    }
    if f.table == "journal" {
        let seq: i64 = c
            .query_row(
                "SELECT MAX(seq) + 1 FROM journal WHERE env = ?1 AND deployment = ?2",
                [f.text("env"), f.text("deployment")],
                |r| r.get(0),
            )
            .unwrap();
        values[at("seq")] = V::Integer(seq);
        if with_mac {
            values[at("chain_seq")] = V::Integer(seq);
        }
    }
    let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
    c.execute(
        &format!(
            "INSERT INTO {} ({}) VALUES ({})",
            f.table,
            f.columns.join(", "),
            marks.join(", ")
        ),
        rusqlite::params_from_iter(values),
    )
    .unwrap();
}

/// Every row count, and the resources on disk: what acting would change.
fn footprint(p: &Platform) -> (BTreeMap<&'static str, i64>, Vec<String>) {
    let c = db(p);
    let counts = TABLES
        .iter()
        .map(|(t, _)| {
            (
                *t,
                c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                    .unwrap(),
            )
        })
        .collect();
    (counts, p.resources())
}

/// The flags naming the deployment a row is about.
fn flags(dep: &str) -> Vec<String> {
    match dep {
        "persistent" => vec!["--persistent".into()],
        "foundational" => vec!["--foundational".into()],
        b => vec!["--build-id".into(), b.into()],
    }
}

/// Every command that reads the forgery's table, in its scope.
fn commands(f: &Forgery) -> Vec<Vec<String>> {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let with = |a: &[&str], dep: &str| {
        let mut c = v(a);
        c.extend(flags(dep));
        c
    };
    match f.table {
        "reservations" => {
            let b = f.text("build_id");
            vec![
                v(&["builds", "list", "--env", "dev"]),
                v(&["builds", "show", "--env", "dev", "--build-id", &b]),
                v(&["status", "--env", "dev"]),
                v(&["reap", "--env", "dev"]),
                v(&["deploy", "--env", "dev", "--build-id", "auto"]),
                v(&["deploy", "--env", "dev", "--build-id", &b]),
                v(&["teardown", "--env", "dev", "--build-id", &b]),
            ]
        }
        "deployment_events" | "journal" | "lease_events" => {
            let dep = f.text("deployment");
            let mut c = vec![
                with(&["status", "--env", "dev"], &dep),
                with(&["deploy", "--env", "dev"], &dep),
                with(&["teardown", "--env", "dev", "--confirm"], &dep),
            ];
            if dep != "persistent" && dep != "foundational" {
                c.push(v(&["builds", "show", "--env", "dev", "--build-id", &dep]));
            }
            // Drift checks the deployment's streams before it compares.
            c.push(with(&["drift", "--env", "dev"], &dep));
            match f.table {
                "deployment_events" => {
                    c.push(v(&["builds", "list", "--env", "dev"]));
                    c.push(v(&["reap", "--env", "dev"]));
                    c.push(v(&["status", "--env", "dev"]));
                    c.push(v(&["metrics", "--env", "dev"]));
                }
                "lease_events" => {
                    c.push(v(&["lease", "list"]));
                    c.push(v(&["builds", "list", "--env", "dev"]));
                    c.push(with(
                        &[
                            "lease", "unlock", "--env", "dev", "--force", "--reason", "x",
                        ],
                        &dep,
                    ));
                }
                _ => {}
            }
            c
        }
        "overrides" => vec![
            v(&["builds", "show", "--env", "dev", "--build-id", B1]),
            v(&["builds", "show", "--env", "dev", "--build-id", B2]),
        ],
        "request_events" => {
            let id = f.text("request_id");
            vec![
                v(&["request", "list"]),
                v(&["request", "apply", &id]),
                v(&["request", "approve", &id]),
                v(&["request", "withdraw", &id]),
                // The foundational plane's drift checks applied requests.
                v(&["drift", "--env", "dev", "--foundational"]),
            ]
        }
        "phase_events" => {
            // Reports and exports read finished phases (their ends); a
            // start is read by the event stream and `registry verify`.
            let dep = f.text("deployment");
            if f.kind != "end" {
                return Vec::new();
            }
            let mut c = vec![
                v(&["registry", "export"]),
                v(&["registry", "report", "--env", "dev"]),
                v(&["registry", "report"]),
            ];
            if dep != "persistent" && dep != "foundational" {
                c.push(v(&["builds", "show", "--env", "dev", "--build-id", &dep]));
            }
            c
        }
        other => panic!("no commands for {other}"),
    }
}

/// Every endpoint of `serve` that reads the forgery's table, and what it
/// must answer: a status, and a text the body holds.
fn endpoints(f: &Forgery) -> Vec<(String, u16, &'static str)> {
    let dep = f.text("deployment");
    match f.table {
        "reservations" => vec![
            (
                "/api/v1/environments/dev/builds".into(),
                200,
                "\"tampered\"",
            ),
            ("/api/v1/environments/dev".into(), 200, "\"tampered\""),
            ("/".into(), 200, "tampered"),
        ],
        "deployment_events" | "journal" => {
            let mut v = vec![
                (
                    format!("/api/v1/environments/dev/deployments/{dep}"),
                    409,
                    "tampered",
                ),
                (format!("/ui/dev/{dep}"), 409, "tampered"),
            ];
            // Delivery metrics read every deployment event of the
            // environment.
            if f.table == "deployment_events" {
                v.push(("/api/v1/environments/dev/metrics".into(), 409, "tampered"));
                v.push(("/ui/dev/history".into(), 409, "tampered"));
            }
            v
        }
        "lease_events" => vec![
            ("/api/v1/leases".into(), 200, "\"tampered\""),
            ("/ui/leases".into(), 200, "tampered"),
        ],
        "overrides" => vec![(
            format!("/api/v1/environments/dev/builds/{B1}"),
            409,
            "tampered",
        )],
        "request_events" => vec![
            ("/api/v1/requests".into(), 200, "\"tampered\""),
            ("/ui/requests".into(), 200, "tampered"),
        ],
        "phase_events" if f.kind == "end" => vec![
            ("/api/v1/environments/dev/report".into(), 409, "tampered"),
            ("/ui/dev/history".into(), 409, "tampered"),
            // Its page charts the deployment's newest runs.
            (format!("/ui/dev/{dep}"), 409, "tampered"),
        ],
        "phase_events" => vec![],
        other => panic!("no endpoints for {other}"),
    }
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    (
        out.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        out,
    )
}

#[test]
fn every_command_and_endpoint_reading_a_forged_row_reports_it_and_acts_on_nothing() {
    let p = Platform::new(&spec());
    let _servers = Servers(p.path().to_path_buf());
    story(&p);
    assert_eq!(p.ok(&["registry", "verify"]).code, 0);
    let (server, addr) = crate::serve_doors::start(&p, &["--listen", "127.0.0.1:0"]);
    let c = db(&p);
    let triggers: Vec<String> = {
        let mut st = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    for t in triggers {
        c.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
    }
    let cases = forgeries(&c);
    assert!(cases.len() >= 20, "only {} kinds of row", cases.len());
    let mut failures = Vec::new();
    let mut runs = 0;
    for f in &cases {
        for with_mac in [false, true] {
            let case = format!(
                "{} `{}` ({})",
                f.table,
                f.kind,
                if with_mac { "wrong HMAC" } else { "no HMAC" }
            );
            insert(&c, f, with_mac);
            let before = footprint(&p);
            for args in commands(f) {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = p.run(&args);
                runs += 1;
                if out.code != 3
                    || !out.stderr.contains("tampered")
                    || !out.stderr.contains("registry verify")
                {
                    failures.push(format!(
                        "{case}: {args:?} exit {}: {}",
                        out.code,
                        out.stderr.trim()
                    ));
                }
                if footprint(&p) != before {
                    failures.push(format!("{case}: {args:?} acted"));
                }
            }
            let verify = p.run(&["registry", "verify"]);
            if verify.code != 1 || !verify.stderr.contains(&f.id()) {
                failures.push(format!("{case}: registry verify: {}", verify.transcript()));
            }
            for (path, status, needle) in endpoints(f) {
                let (code, body) = get(&addr, &path);
                if code != status || !body.contains(needle) {
                    failures.push(format!(
                        "{case}: GET {path} answered {code}: {}",
                        body.chars().take(300).collect::<String>()
                    ));
                }
            }
            c.execute(&format!("DELETE FROM {} WHERE id = ?1", f.table), [f.id()])
                .unwrap();
        }
    }
    let mut server = server;
    let _ = server.kill();
    let _ = server.wait();
    assert!(runs > 100, "{runs} runs");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // With the forgeries gone the registry checks out again.
    assert_eq!(p.run(&["registry", "verify"]).code, 0);
}
