//! The read path's checks, each side of each condition, and the generated
//! matrix: for every table and every kind of row goldenpath writes there, a
//! copy inserted without an HMAC and one with a wrong HMAC — on SQLite with
//! its triggers dropped, as someone holding the file would, and on
//! PostgreSQL as the INSERT-only runner role — and every reader of that
//! table reports tampering instead of answering.

use gp_core::{BuildId, BuildIdArg};

use super::*;
use crate::chain::TABLES;
use crate::{
    DeploymentEvent, EventKind, JournalEntry, Location, OpenOptions, Override, Phase, RequestEvent,
    ReserveRequest, Stage, TAMPERED, new_id, now_us,
};

const KEY: &str = "test-registry-key-0123456789abcdef";
const B1: &str = "23-01-26-01";
const B2: &str = "23-01-26-02";

fn build(s: &str) -> BuildId {
    s.parse().unwrap()
}

fn event(dep: &str, kind: &str, detail: Option<serde_json::Value>) -> DeploymentEvent {
    DeploymentEvent {
        id: new_id(),
        env: "dev".into(),
        deployment: dep.into(),
        run_id: None,
        event: kind.into(),
        actor: "alice".into(),
        commit_sha: None,
        run_url: None,
        detail,
        at_us: now_us(),
    }
}

fn journal(stage: Stage, action: &str) -> JournalEntry {
    JournalEntry {
        id: new_id(),
        env: "dev".into(),
        deployment: B1.into(),
        run_id: Some("run".into()),
        action_id: action.into(),
        stage,
        component: "web".into(),
        driver: "exec".into(),
        action: "create".into(),
        resource: "exec web".into(),
        outputs: None,
        detail: None,
    }
}

/// One row of every kind goldenpath writes, through its own API.
fn populate(reg: &Registry) {
    for b in [B1, B2] {
        reg.reserve(&ReserveRequest::new(
            "dev",
            BuildIdArg::Id(build(b)),
            "alice",
        ))
        .unwrap();
    }
    for k in EventKind::ALL {
        let detail = serde_json::json!({"expiresUs": now_us() + 3_600_000_000i64, "leadS": 600, "reason": "demo"});
        reg.record_deployment(&event(B1, k.as_str(), Some(detail)))
            .unwrap();
    }
    // A retired id re-used: a second generation and its override.
    reg.record_deployment(&event(B2, "torn_down", None))
        .unwrap();
    let mut again = ReserveRequest::new("dev", BuildIdArg::Id(build(B2)), "bob");
    again.override_reason = Some("the demo needs this id");
    reg.reserve(&again).unwrap();
    for (stage, action) in [
        (Stage::Before, "a1"),
        (Stage::After, "a1"),
        (Stage::Before, "a2"),
        (Stage::Failed, "a2"),
    ] {
        reg.journal_append(&journal(stage, action)).unwrap();
    }
    let l = reg.lease_acquire("dev", B1, "h1", 600).unwrap();
    let l = reg.lease_renew(&l, 600).unwrap();
    reg.lease_release(&l).unwrap();
    reg.lease_acquire("dev", B1, "h2", 600).unwrap();
    reg.lease_force_unlock("dev", B1, "carol", "stuck").unwrap();
    reg.lease_acquire("dev", B1, "h3", 600).unwrap();
    reg.lease_take_over_abandoned("dev", B1, "h3", "h4", 600)
        .unwrap();
    reg.record_override(&Override {
        id: new_id(),
        env: "dev".into(),
        deployment: Some(B1.into()),
        kind: "break-glass".into(),
        subject: "policy".into(),
        actor: "carol".into(),
        reason: "incident".into(),
        at_us: now_us(),
    })
    .unwrap();
    let phase = |run: &str, component: Option<&str>| Phase {
        run: run.into(),
        env: "dev".into(),
        deployment: B1.into(),
        build_id: B1.into(),
        phase: "apply".into(),
        component: component.map(str::to_string),
        started_us: now_us(),
        ended_us: Some(now_us() + 1_000_000),
        exit_code: Some(0),
        ..Phase::default()
    };
    let done = phase("run-done", Some("web"));
    reg.phase_start(&done).unwrap();
    reg.phase_end(&done).unwrap();
    reg.phase_start(&phase("run-open", Some("web"))).unwrap();
    for ev in [
        "planned",
        "approved",
        "applied",
        "refused",
        "failed",
        "withdrawn",
        "torn_down",
    ] {
        reg.record_request(&RequestEvent {
            id: new_id(),
            request_id: "RDS-0001".into(),
            kind: "rds".into(),
            env: "dev".into(),
            event: ev.into(),
            actor: "alice".into(),
            detail: None,
            at_us: now_us(),
        })
        .unwrap();
    }
    reg.flush().unwrap();
}

/// The column naming a row's kind in each table.
fn kind_column(t: &Table) -> Option<&'static str> {
    match t.name {
        "deployment_events" | "request_events" => Some("event"),
        "phase_events" | "lease_events" | "overrides" => Some("kind"),
        "journal" => Some("stage"),
        _ => None,
    }
}

/// A row to forge: a copy of a real one, of one kind.
#[derive(Clone)]
struct Forgery {
    table: &'static Table,
    kind: String,
    values: Vec<Value>,
    stream: String,
    next_seq: i64,
}

impl Forgery {
    fn text(&self, col: &str) -> String {
        match self.table.index(col).map(|i| &self.values[i]) {
            Some(Value::Text(Some(s))) => s.clone(),
            _ => String::new(),
        }
    }
}

/// Every kind of row the registry holds, one copy of each to forge.
fn forgeries(reg: &Registry) -> Vec<Forgery> {
    let mut out = Vec::new();
    reg.with_db(|db| {
        for t in TABLES {
            let kinds = match kind_column(t) {
                Some(c) => db.rows(
                    &format!("SELECT DISTINCT {c} FROM {} ORDER BY 1", t.name),
                    &[],
                    |r| r.string(0),
                )?,
                None => vec![String::new()],
            };
            assert!(!kinds.is_empty(), "{} holds no row", t.name);
            for kind in kinds {
                let filter = match kind_column(t) {
                    Some(c) => format!(" WHERE {c} = ?"),
                    None => String::new(),
                };
                let params: Vec<Value> = match kind_column(t) {
                    Some(_) => vec![kind.clone().into()],
                    None => vec![],
                };
                let row = db.rows(
                    &format!(
                        "SELECT {}, chain_stream FROM {}{filter} ORDER BY chain_seq DESC LIMIT 1",
                        t.select_list(),
                        t.name
                    ),
                    &params,
                    |r| {
                        let values: Vec<Value> = (0..t.columns.len()).map(|i| r.value(i)).collect();
                        (values, r.string(t.columns.len()))
                    },
                )?;
                let (mut values, stream) = row.into_iter().next().expect("a row of the kind");
                let next_seq = db
                    .scalar(
                        &format!(
                            "SELECT MAX(chain_seq) FROM {} WHERE chain_stream = ?",
                            t.name
                        ),
                        &[stream.clone().into()],
                    )?
                    .unwrap_or(0)
                    + 1;
                values[0] = Value::Text(Some(format!("forged-{}-{kind}", t.name)));
                // What the table holds unique besides the id.
                match t.name {
                    "reservations" => {
                        let i = t.index("generation").unwrap();
                        values[i] = Value::Int(Some(7));
                    }
                    "journal" => {
                        let i = t.index("seq").unwrap();
                        values[i] = Value::Int(Some(next_seq));
                    }
                    _ => {}
                }
                let (stream, next_seq) = if t.name == "phase_events" {
                    let i = t.index("phase_run").unwrap();
                    let run = format!("forged-run-{kind}");
                    values[i] = Value::Text(Some(run.clone()));
                    (run, if kind == "end" { 2 } else { 1 })
                } else {
                    (stream, next_seq)
                };
                out.push(Forgery {
                    table: t,
                    kind,
                    values,
                    stream,
                    next_seq,
                });
            }
        }
        Ok(())
    })
    .unwrap();
    out
}

/// Inserts the forgery as an attacker would: without the key, so with no
/// HMAC at all or with one made up.
fn insert(reg: &Registry, f: &Forgery, with_mac: bool) {
    let t = f.table;
    let mut values = f.values.clone();
    if with_mac {
        values.push(f.stream.clone().into());
        values.push(f.next_seq.into());
        values.push("0123456789abcdef0123456789abcdef".into());
    } else {
        values.push(Value::Text(None));
        values.push(Value::Int(None));
        values.push(Value::Text(None));
    }
    // NULL as a literal: a parameter would need the column's type.
    let marks: Vec<&str> = values
        .iter()
        .map(|v| {
            if v.as_ref() == ValueRef::Null {
                "NULL"
            } else {
                "?"
            }
        })
        .collect();
    let marks = marks.join(", ");
    let values: Vec<Value> = values
        .into_iter()
        .filter(|v| v.as_ref() != ValueRef::Null)
        .collect();
    reg.with_db(|db| {
        db.exec(
            &format!(
                "INSERT INTO {} ({}, chain_stream, chain_seq, chain_mac) VALUES ({marks})",
                t.name,
                t.select_list()
            ),
            &values,
        )
    })
    .unwrap();
}

fn tampered<T: std::fmt::Debug>(r: Result<T, RegistryError>) -> Result<(), String> {
    match r {
        Err(RegistryError::Tampered { .. }) => Ok(()),
        other => Err(format!("answered {other:?}")),
    }
}

fn listed(t: Result<Vec<Tampered>, RegistryError>) -> Result<(), String> {
    match t {
        Ok(t) if !t.is_empty() => Ok(()),
        other => Err(format!("listed nothing as tampered: {other:?}")),
    }
}

type Check = fn(&Registry, &Forgery) -> Result<(), String>;

/// A reader: its table, its name, which kinds of row it reads, its check.
type Reader = (&'static str, &'static str, fn(&str) -> bool, Check);

/// Every reader of every table, and which kinds of row it reads.
fn readers() -> Vec<Reader> {
    fn all(_: &str) -> bool {
        true
    }
    fn ends(kind: &str) -> bool {
        kind == "end"
    }
    vec![
        ("reservations", "reservation", all, |r, f| {
            tampered(r.reservation("dev", build(&f.text("build_id"))))
        }),
        ("reservations", "next_auto", all, |r, _| {
            tampered(r.next_auto("dev", None))
        }),
        ("reservations", "reserve auto", all, |r, _| {
            tampered(r.reserve(&ReserveRequest::new("dev", BuildIdArg::Auto, "eve")))
        }),
        ("reservations", "builds", all, |r, _| {
            tampered(r.builds("dev"))
        }),
        ("reservations", "builds_checked", all, |r, f| {
            let (builds, t) = r.builds_checked("dev").map_err(|e| e.to_string())?;
            let b = f.text("build_id");
            listed(Ok(t))?;
            builds
                .iter()
                .any(|x| x.build_id == b && x.status == TAMPERED)
                .then_some(())
                .ok_or(format!("{b} is not shown as tampered: {builds:?}"))
        }),
        ("deployment_events", "deployment_events", all, |r, f| {
            tampered(r.deployment_events("dev", &f.text("deployment")))
        }),
        (
            "deployment_events",
            "latest_deployment_events",
            all,
            |r, _| tampered(r.latest_deployment_events("dev")),
        ),
        ("deployment_events", "expiry", all, |r, f| {
            tampered(r.expiry("dev", &f.text("deployment")))
        }),
        ("deployment_events", "builds", all, |r, _| {
            tampered(r.builds("dev"))
        }),
        ("deployment_events", "builds_checked", all, |r, f| {
            let (builds, t) = r.builds_checked("dev").map_err(|e| e.to_string())?;
            listed(Ok(t))?;
            let d = f.text("deployment");
            builds
                .iter()
                .any(|x| x.build_id == d && x.status == TAMPERED)
                .then_some(())
                .ok_or(format!("{d} is not shown as tampered"))
        }),
        ("deployment_events", "reserve again", all, |r, f| {
            tampered(r.reserve(&ReserveRequest::new(
                "dev",
                BuildIdArg::Id(build(&f.text("deployment"))),
                "eve",
            )))
        }),
        ("deployment_events", "stream_after", all, |r, _| {
            stream_shows(r)
        }),
        ("journal", "journal", all, |r, f| {
            tampered(r.journal("dev", &f.text("deployment")))
        }),
        ("lease_events", "lease", all, |r, f| {
            tampered(r.lease("dev", &f.text("deployment")))
        }),
        ("lease_events", "leases", all, |r, _| {
            tampered(r.leases(Some("dev")))
        }),
        ("lease_events", "leases (all)", all, |r, _| {
            tampered(r.leases(None))
        }),
        ("lease_events", "leases_checked", all, |r, f| {
            let (leases, t) = r.leases_checked(Some("dev")).map_err(|e| e.to_string())?;
            listed(Ok(t))?;
            let d = f.text("deployment");
            leases
                .iter()
                .any(|l| l.deployment == d && l.state == TAMPERED)
                .then_some(())
                .ok_or(format!("the lease of {d} is not shown as tampered"))
        }),
        ("lease_events", "lease_acquire", all, |r, f| {
            tampered(r.lease_acquire("dev", &f.text("deployment"), "eve", 60))
        }),
        ("lease_events", "lease_force_unlock", all, |r, f| {
            tampered(r.lease_force_unlock("dev", &f.text("deployment"), "eve", "why"))
        }),
        ("lease_events", "builds", all, |r, _| {
            tampered(r.builds("dev"))
        }),
        ("overrides", "overrides", all, |r, _| {
            tampered(r.overrides("dev", None))
        }),
        ("overrides", "overrides of a deployment", all, |r, f| {
            tampered(r.overrides("dev", Some(&f.text("deployment"))))
        }),
        ("request_events", "request_events", all, |r, f| {
            tampered(r.request_events(Some(&f.text("request_id"))))
        }),
        ("request_events", "request_events (all)", all, |r, _| {
            tampered(r.request_events(None))
        }),
        ("request_events", "request_events_checked", all, |r, _| {
            listed(r.request_events_checked(None).map(|(_, t)| t))
        }),
        ("phase_events", "phases", ends, |r, _| {
            tampered(r.phases("dev", None))
        }),
        ("phase_events", "phases of a deployment", ends, |r, f| {
            tampered(r.phases("dev", Some(&f.text("deployment"))))
        }),
        ("phase_events", "all_phases", ends, |r, _| {
            tampered(r.all_phases())
        }),
        ("phase_events", "recent_build_phases", ends, |r, f| {
            tampered(r.recent_build_phases("dev", &f.text("phase"), 100))
        }),
        ("phase_events", "recent_deployment_phases", ends, |r, f| {
            tampered(r.recent_deployment_phases("dev", &f.text("deployment"), 100))
        }),
        ("phase_events", "slowest_phases", ends, |r, _| {
            tampered(r.slowest_phases("dev", 100))
        }),
        ("phase_events", "build_phase_outcomes", ends, |r, f| {
            tampered(r.build_phase_outcomes("dev", &f.text("phase")))
        }),
        ("phase_events", "open_phases", all, |r, f| {
            tampered(r.open_phases("dev", &f.text("deployment")))
        }),
        ("phase_events", "report", ends, |r, _| {
            tampered(crate::report(r, Some("dev"), None, true))
        }),
        (
            "phase_events",
            "report of every environment",
            ends,
            |r, _| tampered(crate::report(r, None, None, false)),
        ),
        // On SQLite the matrix reads it once before the forgery (a
        // server's kept report, with the forged row among the new ones).
        ("phase_events", "report_kept", ends, |r, _| {
            tampered(crate::report_kept(r, "dev", false))
        }),
        ("phase_events", "export_csv", ends, |r, _| {
            tampered(crate::export_csv(r, None, &mut Vec::new()))
        }),
        ("phase_events", "stream_after", all, |r, _| stream_shows(r)),
    ]
}

fn stream_shows(r: &Registry) -> Result<(), String> {
    let items = r
        .stream_after(None, now_us() + 3_600_000_000, 1000)
        .map_err(|e| e.to_string())?;
    items
        .iter()
        .any(|i| {
            i.kind == "tampered"
                && i.data["id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("forged-"))
        })
        .then_some(())
        .ok_or("the event stream shows no tampered item".into())
}

/// Runs the matrix: `fresh` gives a populated registry for each case (and
/// keeps what it needs alive).
fn matrix<K>(fresh: &mut dyn FnMut(usize) -> (Registry, K), prepare: &dyn Fn(&Registry)) {
    let readers = readers();
    // Every table has readers: a new table cannot go unread.
    for t in TABLES {
        assert!(
            readers.iter().any(|(table, ..)| *table == t.name),
            "{} has no reader in the matrix",
            t.name
        );
    }
    let (probe, _keep) = fresh(0);
    let cases = forgeries(&probe);
    drop(probe);
    let mut failures = Vec::new();
    let mut n = 0;
    for forgery in &cases {
        for with_mac in [false, true] {
            n += 1;
            let (reg, _keep) = fresh(n);
            prepare(&reg);
            insert(&reg, forgery, with_mac);
            for (table, name, reads, check) in &readers {
                if *table != forgery.table.name || !reads(&forgery.kind) {
                    continue;
                }
                if let Err(e) = check(&reg, forgery) {
                    failures.push(format!(
                        "{} `{}` ({}): {name} {e}",
                        forgery.table.name,
                        forgery.kind,
                        if with_mac { "wrong HMAC" } else { "no HMAC" }
                    ));
                }
            }
        }
    }
    assert!(cases.len() >= 38, "only {} kinds of row", cases.len());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_reader_of_every_table_reports_every_forged_row_on_sqlite() {
    let mut dirs = Vec::new();
    matrix(
        &mut |_| {
            let dir = tempfile::tempdir().unwrap();
            let loc = Location::Sqlite(dir.path().join("registry.db"));
            let reg = Registry::open(&loc).unwrap();
            populate(&reg);
            dirs.push(dir.path().to_path_buf());
            (reg, dir)
        },
        &|reg| {
            // Someone with the file drops the append-only triggers first.
            reg.with_db(|db| {
                let triggers = db.rows(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'",
                    &[],
                    |r| r.string(0),
                )?;
                for t in triggers {
                    db.exec(&format!("DROP TRIGGER {t}"), &[])?;
                }
                Ok(())
            })
            .unwrap();
            // A server has read the environment's report already.
            assert!(!crate::report_kept(reg, "dev", false).unwrap().is_empty());
        },
    );
}

#[test]
fn every_reader_of_every_table_reports_every_forged_row_on_postgres_as_the_runner() {
    let pg = gp_test::postgres::TestPostgres::start();
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    for s in [
        "CREATE ROLE gp_owner LOGIN PASSWORD 'owner-pw-0123456789'",
        "CREATE ROLE gp_runner LOGIN PASSWORD 'runner-pw-0123456789'",
        "CREATE DATABASE pristine OWNER gp_owner",
    ] {
        admin.batch_execute(s).unwrap();
    }
    let url = |user: &str, db: &str| {
        let pw = if user == "gp_owner" {
            "owner-pw-0123456789"
        } else {
            "runner-pw-0123456789"
        };
        format!("postgres://{user}:{pw}@127.0.0.1:{}/{db}", pg.port)
    };
    let opts = OpenOptions {
        key: Some(ChainKey::parse(KEY).unwrap()),
        read_only: false,
    };
    {
        let owner =
            Registry::open_with(&Location::Postgres(url("gp_owner", "pristine")), &opts).unwrap();
        owner.grant_runner("gp_runner").unwrap();
    }
    {
        let runner =
            Registry::open_with(&Location::Postgres(url("gp_runner", "pristine")), &opts).unwrap();
        populate(&runner);
    }
    matrix(
        &mut |n| {
            let db = format!("case{n}");
            admin
                .batch_execute(&format!(
                    "CREATE DATABASE {db} TEMPLATE pristine OWNER gp_owner"
                ))
                .unwrap();
            let reg =
                Registry::open_with(&Location::Postgres(url("gp_runner", &db)), &opts).unwrap();
            (reg, ())
        },
        &|_| {},
    );
}

// ---- each check, each side ----

pub(crate) fn sqlite() -> (Registry, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(&Location::Sqlite(dir.path().join("registry.db"))).unwrap();
    (reg, dir)
}

pub(crate) fn reopen(dir: &tempfile::TempDir) -> Registry {
    Registry::open(&Location::Sqlite(dir.path().join("registry.db"))).unwrap()
}

pub(crate) fn sql(reg: &Registry, s: &str) {
    reg.with_db(|db| db.batch(s)).unwrap();
}

fn three_events(reg: &Registry) {
    for k in ["deploy_started", "deploy_succeeded", "teardown_started"] {
        reg.record_deployment(&event(B1, k, None)).unwrap();
    }
}

fn why(reg: &Registry) -> String {
    match reg.deployment_events("dev", B1) {
        Err(RegistryError::Tampered { why, .. }) => why,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn a_stream_that_checks_out_is_read_whole() {
    let (reg, _d) = sqlite();
    three_events(&reg);
    assert_eq!(reg.deployment_events("dev", B1).unwrap().len(), 3);
}

#[test]
fn an_edited_row_breaks_its_stream_and_everything_after_it() {
    let (reg, _d) = sqlite();
    three_events(&reg);
    sql(
        &reg,
        "DROP TRIGGER deployment_events_no_update; UPDATE deployment_events SET event = 'torn_down' WHERE chain_seq = 2",
    );
    assert!(why(&reg).contains("does not match its HMAC"));
    // A view sees the rows before the break, none after.
    let mut seen = Vec::new();
    let t = reg
        .streams(
            &crate::chain::DEPLOYMENT_EVENTS,
            "env = ?",
            &["dev".into()],
            Heads::All,
            &mut |r, ok| {
                seen.push((r.int(r.index("chain_seq").unwrap_or(0)), ok));
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(t.len(), 1, "one break is one finding: {t:?}");
    assert_eq!(seen.iter().filter(|(_, ok)| *ok).count(), 1);
}

#[test]
fn positions_must_run_without_gaps_or_repeats() {
    let (reg, _d) = sqlite();
    three_events(&reg);
    sql(
        &reg,
        "DROP TRIGGER deployment_events_no_update; DROP TRIGGER deployment_events_no_delete; DELETE FROM deployment_events WHERE chain_seq = 2",
    );
    assert!(why(&reg).contains("where 2 was expected"), "{}", why(&reg));
    let (reg, _d) = sqlite();
    three_events(&reg);
    sql(
        &reg,
        "DROP INDEX deployment_events_chain; DROP TRIGGER deployment_events_no_replace; INSERT INTO deployment_events SELECT 'copy', env, deployment, run_id, event, actor, commit_sha, run_url, detail, at_us, chain_stream, chain_seq, chain_mac FROM deployment_events WHERE chain_seq = 2",
    );
    let w = why(&reg);
    assert!(
        w.contains("repeats chain position 2") || w.contains("does not match"),
        "{w}"
    );
}

#[test]
fn a_row_filed_under_another_stream_is_refused() {
    let (reg, _d) = sqlite();
    three_events(&reg);
    reg.record_deployment(&event(B2, "deploy_started", None))
        .unwrap();
    sql(
        &reg,
        &format!(
            "DROP TRIGGER deployment_events_no_update; UPDATE deployment_events SET deployment = '{B1}' WHERE deployment = '{B2}'"
        ),
    );
    assert!(why(&reg).contains("not its own"), "{}", why(&reg));
}

#[test]
fn a_journal_number_must_agree_with_its_position() {
    let (reg, _d) = sqlite();
    for (stage, a) in [(Stage::Before, "a"), (Stage::After, "a")] {
        reg.journal_append(&journal(stage, a)).unwrap();
    }
    assert_eq!(reg.journal("dev", B1).unwrap().len(), 2);
    sql(
        &reg,
        "DROP TRIGGER journal_no_update; UPDATE journal SET seq = 9 WHERE seq = 2",
    );
    match reg.journal("dev", B1) {
        Err(RegistryError::Tampered { why, .. }) => assert!(why.contains("disagrees"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn half_a_chain_entry_is_refused() {
    let (reg, _d) = sqlite();
    three_events(&reg);
    sql(
        &reg,
        "DROP TRIGGER deployment_events_no_update; UPDATE deployment_events SET chain_mac = NULL WHERE chain_seq = 3",
    );
    assert!(why(&reg).contains("half a chain entry"), "{}", why(&reg));
}

/// A registry an older goldenpath wrote: two rows of one stream before
/// chaining existed, sealed by the upgrade with the key.
pub(crate) fn legacy_registry() -> (Registry, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::Sqlite(dir.path().join("registry.db"));
    {
        let reg = Registry::open(&loc).unwrap();
        let key = ChainKey::read_file(&dir.path().join("registry.key"))
            .unwrap()
            .unwrap();
        reg.with_db(|db| {
            db.batch(&format!("INSERT INTO deployment_events (id, env, deployment, event, actor, at_us) VALUES ('old1', 'dev', '{B1}', 'deploy_started', 'a', 1), ('old2', 'dev', '{B1}', 'deploy_succeeded', 'a', 2)"))?;
            let rows = db.rows(
                &format!("SELECT {} FROM deployment_events WHERE chain_mac IS NULL ORDER BY id", crate::chain::DEPLOYMENT_EVENTS.select_list()),
                &[],
                |r| (0..10).map(|i| r.value(i)).collect::<Vec<_>>(),
            )?;
            let digest = crate::chain::seal_digest(&key, "deployment_events", &rows);
            db.batch("DROP TRIGGER chain_seals_no_update")?;
            db.exec("UPDATE chain_seals SET rows = 2, digest = ? WHERE tbl = 'deployment_events'", &[digest.into()])?;
            Ok(())
        })
        .unwrap();
    }
    let reg = reopen(&dir);
    (reg, dir)
}

#[test]
fn rows_from_before_chaining_pass_while_the_table_holds_exactly_the_sealed_rows() {
    let (reg, _d) = legacy_registry();
    reg.record_deployment(&event(B1, "teardown_started", None))
        .unwrap();
    assert_eq!(reg.deployment_events("dev", B1).unwrap().len(), 3);
    assert_eq!(reg.verify().unwrap(), Vec::new());
}

#[test]
fn one_more_row_without_a_chain_and_none_passes() {
    let (reg, _d) = legacy_registry();
    sql(
        &reg,
        &format!(
            "INSERT INTO deployment_events (id, env, deployment, event, actor, at_us) VALUES ('old3', 'dev', '{B1}', 'torn_down', 'a', 3)"
        ),
    );
    assert!(why(&reg).contains("no chain HMAC"), "{}", why(&reg));
}

#[test]
fn a_sealed_row_swapped_for_another_in_another_stream_does_not_pass() {
    let (reg, d) = legacy_registry();
    // As many rows without a chain as were sealed, but one of them is not
    // one of those: it names a stream goldenpath never wrote before
    // chaining.
    sql(
        &reg,
        &format!(
            "DROP TRIGGER deployment_events_no_delete; DELETE FROM deployment_events WHERE id = 'old2'; INSERT INTO deployment_events (id, env, deployment, event, actor, at_us) VALUES ('swap', 'dev', '{B2}', 'torn_down', 'a', 2)"
        ),
    );
    drop(reg);
    let reg = reopen(&d);
    match reg.deployment_events("dev", B2) {
        Err(RegistryError::Tampered { why, .. }) => assert!(why.contains("no chain HMAC"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(why(&reg).contains("no chain HMAC"));
}

#[test]
fn a_cut_tail_shows_against_the_head_file_for_the_streams_a_read_covers() {
    let (reg, d) = sqlite();
    three_events(&reg);
    reg.record_deployment(&event(B2, "deploy_started", None))
        .unwrap();
    drop(reg);
    let reg = reopen(&d);
    sql(
        &reg,
        "DROP TRIGGER deployment_events_no_delete; DELETE FROM deployment_events WHERE chain_seq = 3",
    );
    assert!(why(&reg).contains("deleted from its end"), "{}", why(&reg));
    // Another stream's read is not answerable for it.
    assert_eq!(reg.deployment_events("dev", B2).unwrap().len(), 1);
    // A whole stream deleted shows too.
    sql(
        &reg,
        &format!("DELETE FROM deployment_events WHERE deployment = '{B2}'"),
    );
    match reg.deployment_events("dev", B2) {
        Err(RegistryError::Tampered { why, .. }) => assert!(why.contains("is gone"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_last_row_replaced_at_the_same_position_shows_against_the_head() {
    let (reg, d) = sqlite();
    three_events(&reg);
    drop(reg);
    let reg = reopen(&d);
    let key = ChainKey::read_file(&d.path().join("registry.key"))
        .unwrap()
        .unwrap();
    // Rewritten with the key (a restore of another copy): the chain checks
    // out, but it is not the row that was written last.
    reg.with_db(|db| {
        db.batch("DROP TRIGGER deployment_events_no_update")?;
        let (stream, prev) = db
            .rows(
                "SELECT chain_stream, chain_mac FROM deployment_events WHERE chain_seq = 2",
                &[],
                |r| (r.string(0), r.string(1)),
            )?
            .remove(0);
        let mut values = db
            .rows(
                &format!(
                    "SELECT {} FROM deployment_events WHERE chain_seq = 3",
                    crate::chain::DEPLOYMENT_EVENTS.select_list()
                ),
                &[],
                |r| (0..10).map(|i| r.value(i)).collect::<Vec<_>>(),
            )?
            .remove(0);
        values[4] = "torn_down".into();
        let mac = crate::chain::row_mac(&key, "deployment_events", &stream, 3, &prev, &values);
        db.exec(
            "UPDATE deployment_events SET event = 'torn_down', chain_mac = ? WHERE chain_seq = 3",
            &[mac.into()],
        )?;
        Ok(())
    })
    .unwrap();
    assert!(
        why(&reg).contains("not the one that was written"),
        "{}",
        why(&reg)
    );
}

#[test]
fn a_single_row_read_checks_against_the_row_before_it() {
    let (reg, _d) = sqlite();
    let p = |run: &str| Phase {
        run: run.into(),
        env: "dev".into(),
        deployment: B1.into(),
        build_id: B1.into(),
        phase: "apply".into(),
        started_us: 1,
        ended_us: Some(2),
        exit_code: Some(0),
        ..Phase::default()
    };
    reg.phase_start(&p("r1")).unwrap();
    reg.phase_end(&p("r1")).unwrap();
    assert_eq!(reg.phases("dev", None).unwrap().len(), 1);
    // The end no longer follows the start it was chained to.
    sql(
        &reg,
        "DROP TRIGGER phase_events_no_update; UPDATE phase_events SET chain_mac = '00000000000000000000000000000000' WHERE kind = 'start'",
    );
    match reg.phases("dev", None) {
        Err(RegistryError::Tampered { why, .. }) => assert!(why.contains("HMAC"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_the_key_rows_cannot_be_read_and_an_empty_registry_can() {
    let (reg, d) = sqlite();
    let empty = |r: &Registry| r.deployment_events("dev", B1).map(|v| v.len());
    drop(reg);
    let ro = Registry::open_with(
        &Location::Sqlite(d.path().join("registry.db")),
        &OpenOptions {
            key: None,
            read_only: true,
        },
    )
    .unwrap();
    assert_eq!(empty(&ro).unwrap(), 0);
    drop(ro);
    let reg = reopen(&d);
    three_events(&reg);
    drop(reg);
    std::fs::rename(d.path().join("registry.key"), d.path().join("elsewhere")).unwrap();
    let ro = Registry::open_with(
        &Location::Sqlite(d.path().join("registry.db")),
        &OpenOptions {
            key: None,
            read_only: true,
        },
    )
    .unwrap();
    assert!(matches!(empty(&ro), Err(RegistryError::Key(_))));
}

// ---- the head file and its anchor ----

fn head_problem(d: &tempfile::TempDir) -> Option<String> {
    let reg = reopen(d);
    let problem = reg.trust.head_problem.clone();
    if problem.is_some() {
        // Every read refuses, and verify reports it.
        assert!(matches!(
            reg.deployment_events("dev", B1),
            Err(RegistryError::Tampered { .. })
        ));
        let breaches = reg.verify().unwrap();
        assert!(
            breaches.iter().any(|b| b.check == "head-file"),
            "{breaches:?}"
        );
    }
    problem
}

fn written(d: &tempfile::TempDir) {
    let reg = reopen(d);
    three_events(&reg);
    drop(reg);
}

#[test]
fn a_new_registry_has_a_head_file_and_it_checks_out() {
    let (reg, d) = sqlite();
    drop(reg);
    assert!(d.path().join("registry.head").exists());
    assert_eq!(head_problem(&d), None);
    written(&d);
    assert_eq!(head_problem(&d), None);
}

#[test]
fn a_deleted_head_file_is_tampering_once_anything_was_anchored_or_chained() {
    let (reg, d) = sqlite();
    drop(reg);
    let head = d.path().join("registry.head");
    // Nothing written yet: no anchor, no chained row.
    std::fs::remove_file(&head).unwrap();
    assert_eq!(head_problem(&d), None);
    written(&d);
    std::fs::remove_file(&head).unwrap();
    let p = head_problem(&d).expect("a deleted head file");
    assert!(p.contains("is missing"), "{p}");
    // With the anchors gone too, the chained rows still tell.
    let reg = reopen(&d);
    sql(
        &reg,
        "DROP TRIGGER head_anchors_no_delete; DELETE FROM head_anchors",
    );
    drop(reg);
    let p = head_problem(&d).expect("a deleted head file");
    assert!(p.contains("chained deployment_events rows"), "{p}");
}

#[test]
fn an_older_head_file_is_tampering_and_one_ahead_of_its_anchor_is_a_crash() {
    let (reg, d) = sqlite();
    drop(reg);
    let head = d.path().join("registry.head");
    written(&d);
    let old = std::fs::read(&head).unwrap();
    written(&d);
    let new = std::fs::read(&head).unwrap();
    assert_eq!(head_problem(&d), None);
    std::fs::write(&head, &old).unwrap();
    let p = head_problem(&d).expect("an older head file");
    assert!(p.contains("older copy"), "{p}");
    // The newest anchor deleted: the file is one ahead, as after a crash
    // between writing the file and anchoring it.
    let reg = reopen(&d);
    sql(
        &reg,
        "DROP TRIGGER head_anchors_no_delete; DELETE FROM head_anchors WHERE generation = (SELECT MAX(generation) FROM head_anchors)",
    );
    drop(reg);
    std::fs::write(&head, &new).unwrap();
    assert_eq!(head_problem(&d), None, "one generation ahead is a crash");
    // Two ahead: anchors were deleted.
    let reg = reopen(&d);
    sql(
        &reg,
        "DELETE FROM head_anchors WHERE generation = (SELECT MAX(generation) FROM head_anchors)",
    );
    drop(reg);
    let p = head_problem(&d).expect("anchors deleted");
    assert!(p.contains("anchors were deleted"), "{p}");
}

#[test]
fn a_head_file_of_the_anchored_generation_must_be_the_anchored_one() {
    let (reg, d) = sqlite();
    drop(reg);
    written(&d);
    let reg = reopen(&d);
    sql(
        &reg,
        "DROP TRIGGER head_anchors_no_update; UPDATE head_anchors SET mac = 'forged' WHERE generation = (SELECT MAX(generation) FROM head_anchors)",
    );
    drop(reg);
    let p = head_problem(&d).expect("a forged anchor");
    assert!(p.contains("not the generation"), "{p}");
}

#[test]
fn a_damaged_head_file_is_tampering() {
    let (reg, d) = sqlite();
    drop(reg);
    written(&d);
    let head = d.path().join("registry.head");
    let text = std::fs::read_to_string(&head)
        .unwrap()
        .replace("\"seq\":3", "\"seq\":2");
    std::fs::write(&head, text).unwrap();
    let p = head_problem(&d).expect("an edited head file");
    assert!(p.contains("HMAC"), "{p}");
}

#[test]
fn a_head_file_deleted_while_a_process_runs_is_not_written_afresh() {
    let (reg, d) = sqlite();
    drop(reg);
    written(&d);
    let reg = reopen(&d);
    reg.record_deployment(&event(B2, "deploy_started", None))
        .unwrap();
    std::fs::remove_file(d.path().join("registry.head")).unwrap();
    assert!(
        reg.flush().is_err(),
        "a fresh head file would forget every other stream"
    );
    std::mem::forget(reg);
    assert!(head_problem(&d).is_some());
}

#[test]
fn verify_and_reads_share_one_check() {
    let (reg, _d) = sqlite();
    populate(&reg);
    assert_eq!(reg.verify().unwrap(), Vec::new());
    let f = forgeries(&reg).into_iter().next().unwrap();
    insert(&reg, &f, false);
    let breaches = reg.verify().unwrap();
    assert!(
        breaches
            .iter()
            .any(|b| b.check == "chain-unsealed" && b.detail.contains("forged-")),
        "{breaches:?}"
    );
}

#[test]
fn a_read_kept_between_calls_is_read_again_once_another_process_writes() {
    let (reg, d) = sqlite();
    reg.reserve(&ReserveRequest::new(
        "dev",
        BuildIdArg::Id(build(B1)),
        "alice",
    ))
    .unwrap();
    assert!(reg.reservation("dev", build(B1)).unwrap().is_some());
    // Another connection, as another process (or an attacker) would.
    let other = rusqlite::Connection::open(d.path().join("registry.db")).unwrap();
    other
        .execute_batch(&format!("INSERT INTO reservations (id, env, build_id, date_prefix, seq, generation, actor, at_us) VALUES ('forged', 'dev', '{B1}', '23-01-26', 1, 2, 'eve', 1)"))
        .unwrap();
    assert!(matches!(
        reg.reservation("dev", build(B1)),
        Err(RegistryError::Tampered { .. })
    ));
    // This process's own writes count too.
    let (reg, _d) = sqlite();
    assert!(reg.reservation("dev", build(B2)).unwrap().is_none());
    reg.reserve(&ReserveRequest::new(
        "dev",
        BuildIdArg::Id(build(B2)),
        "alice",
    ))
    .unwrap();
    assert!(reg.reservation("dev", build(B2)).unwrap().is_some());
}

#[test]
fn a_tampered_row_or_stream_is_described_by_what_names_it() {
    let row = Tampered {
        table: "journal".into(),
        stream: "dev/23-01-26-01".into(),
        id: "e-7".into(),
        check: "chain-broken".into(),
        why: "does not match its HMAC".into(),
    };
    assert_eq!(row.describe(), "journal row `e-7` does not match its HMAC");
    let stream = Tampered {
        id: String::new(),
        why: "lost its last 2 rows".into(),
        ..row.clone()
    };
    assert_eq!(
        stream.describe(),
        "journal stream dev/23-01-26-01 lost its last 2 rows"
    );
    match stream.into_error() {
        RegistryError::Tampered { table, id, why } => {
            assert_eq!(
                (table.as_str(), id.as_str()),
                ("journal", "dev/23-01-26-01")
            );
            assert_eq!(why, "lost its last 2 rows");
        }
        other => panic!("{other:?}"),
    }
    match row.into_error() {
        RegistryError::Tampered { id, .. } => assert_eq!(id, "e-7"),
        other => panic!("{other:?}"),
    }
    // A stream's key is shown with its parts joined by `/`.
    assert_eq!(shown("dev\u{1f}23-01-26-01"), "dev/23-01-26-01");
    assert_eq!(shown("RDS-0001"), "RDS-0001");
}

/// A registry whose journal holds rows from before chaining — B1's,
/// numbered `seqs` — sealed as the migration seals them.
fn legacy_journal(seqs: &[i64]) -> (Registry, tempfile::TempDir) {
    let n = seqs.len();
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::Sqlite(dir.path().join("registry.db"));
    {
        let reg = Registry::open(&loc).unwrap();
        let key = ChainKey::read_file(&dir.path().join("registry.key"))
            .unwrap()
            .unwrap();
        reg.with_db(|db| {
            for seq in seqs {
                db.batch(&format!(
                    "INSERT INTO journal (id, env, deployment, seq, action_id, stage, component, driver, action, resource, at_us) VALUES ('old{seq}', 'dev', '{B1}', {seq}, 'a{seq}', 'before', 'c', 'exec', 'create', 'r', {seq})"
                ))?;
            }
            let width = crate::chain::JOURNAL.columns.len();
            let rows = db.rows(
                &format!(
                    "SELECT {} FROM journal WHERE chain_mac IS NULL ORDER BY id",
                    crate::chain::JOURNAL.select_list()
                ),
                &[],
                |r| (0..width).map(|i| r.value(i)).collect::<Vec<_>>(),
            )?;
            let digest = crate::chain::seal_digest(&key, "journal", &rows);
            db.batch("DROP TRIGGER chain_seals_no_update")?;
            db.exec(
                &format!("UPDATE chain_seals SET rows = {n}, digest = ? WHERE tbl = 'journal'"),
                &[digest.into()],
            )?;
            Ok(())
        })
        .unwrap();
    }
    let reg = reopen(&dir);
    (reg, dir)
}

#[test]
fn a_journal_chained_after_rows_from_before_chaining_continues_their_numbering() {
    let (reg, _d) = legacy_journal(&[1, 2, 3]);
    // The first chained row takes the position after the old rows.
    assert_eq!(
        reg.journal_append(&journal(Stage::Before, "create"))
            .unwrap(),
        4
    );
    assert_eq!(
        reg.journal_append(&journal(Stage::After, "create"))
            .unwrap(),
        5
    );
    let rows = reg.journal("dev", B1).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(reg.verify().unwrap(), Vec::new());
    // Old numbering with a gap: the chained rows follow the highest.
    let (gapped, _g) = legacy_journal(&[1, 2, 5]);
    assert_eq!(
        gapped
            .journal_append(&journal(Stage::Before, "create"))
            .unwrap(),
        6
    );
    assert_eq!(
        gapped
            .journal("dev", B1)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect::<Vec<_>>(),
        [1, 2, 5, 6]
    );
    // A gap in a journal is itself a breach `registry verify` names.
    assert!(
        gapped
            .verify()
            .unwrap()
            .iter()
            .any(|b| b.check == "journal-gap" && b.detail.contains("jumps from 2 to 5")),
        "{:?}",
        gapped.verify()
    );
    // One of the old rows gone: the chained rows no longer follow them.
    sql(
        &reg,
        "DROP TRIGGER journal_no_delete; DELETE FROM journal WHERE id = 'old3'",
    );
    assert!(reg.journal("dev", B1).is_err());
}

#[test]
fn rows_another_process_wrote_past_the_head_file_read_as_they_are() {
    let (a, d) = sqlite();
    three_events(&a);
    drop(a);
    // One process writes a fourth row and has not closed yet; another
    // reads: the head file says 3, the stream holds 4, nothing is wrong.
    let writer = reopen(&d);
    writer
        .record_deployment(&event(B1, "torn_down", None))
        .unwrap();
    let reader = reopen(&d);
    assert_eq!(reader.deployment_events("dev", B1).unwrap().len(), 4);
    assert_eq!(reader.verify().unwrap(), Vec::new());
    drop(writer);
}

#[test]
fn a_cut_tail_shows_for_every_stream_of_a_read_not_only_its_last() {
    let (reg, d) = sqlite();
    three_events(&reg);
    reg.record_deployment(&event(B2, "deploy_started", None))
        .unwrap();
    drop(reg);
    let reg = reopen(&d);
    // B1's stream is read before B2's: its end is judged when the read
    // moves on.
    sql(
        &reg,
        &format!(
            "DROP TRIGGER deployment_events_no_delete; DELETE FROM deployment_events WHERE deployment = '{B1}' AND chain_seq = 3"
        ),
    );
    let (_, tampered) = reg.builds_checked("dev").unwrap();
    assert!(
        tampered
            .iter()
            .any(|t| t.stream.contains(B1) && t.why.contains("deleted from its end")),
        "{tampered:?}"
    );
    assert!(
        !tampered.iter().any(|t| t.stream.contains(B2)),
        "{tampered:?}"
    );
}

#[test]
fn half_a_chain_entry_is_refused_among_rows_from_before_chaining_too() {
    let (reg, _d) = legacy_registry();
    // As many rows without an HMAC as were sealed, but one carries a
    // stream: half a chain entry, never a row from before chaining.
    sql(
        &reg,
        &format!(
            "DROP TRIGGER deployment_events_no_update; UPDATE deployment_events SET chain_stream = 'dev\u{1f}{B1}' WHERE id = 'old2'"
        ),
    );
    assert!(why(&reg).contains("half a chain entry"), "{}", why(&reg));
    // `registry verify` says so too (it collects the rows from before
    // chaining to check their seal).
    let breaches = reg.verify().unwrap();
    assert!(
        breaches
            .iter()
            .any(|b| b.detail.contains("half a chain entry")),
        "{breaches:?}"
    );
}

#[test]
fn rows_past_the_head_file_after_a_crash_before_its_flush_read_as_they_are() {
    let (reg, d) = sqlite();
    three_events(&reg);
    drop(reg);
    let head = d.path().join("registry.head");
    let before = std::fs::read(&head).unwrap();
    let reg = reopen(&d);
    let generation = |reg: &Registry| {
        reg.with_db(|db| {
            crate::db::DbExt::scalar(db, "SELECT MAX(generation) FROM head_anchors", &[])
        })
        .unwrap()
        .unwrap()
    };
    let anchored = generation(&reg);
    reg.record_deployment(&event(B1, "torn_down", None))
        .unwrap();
    drop(reg);
    // The crash: the row is committed, but neither the head file nor its
    // anchor moved on.
    std::fs::write(&head, &before).unwrap();
    let reg = reopen(&d);
    sql(
        &reg,
        &format!(
            "DROP TRIGGER head_anchors_no_delete; DELETE FROM head_anchors WHERE generation > {anchored}"
        ),
    );
    drop(reg);
    let reg = reopen(&d);
    // The head says 3, the stream holds 4 whose last is not the head's
    // row: nothing is wrong with that.
    assert_eq!(reg.deployment_events("dev", B1).unwrap().len(), 4);
}

#[test]
fn a_read_of_any_selection_takes_the_rows_from_before_chaining() {
    let (reg, _d) = legacy_registry();
    let items = reg.stream_after(None, i64::MAX, 100).unwrap();
    let kinds: Vec<&str> = items.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(kinds, ["deployment", "deployment"], "{items:?}");
    // One more row without a chain is no longer one of them.
    sql(
        &reg,
        &format!(
            "INSERT INTO deployment_events (id, env, deployment, event, actor, at_us) VALUES ('old3', 'dev', '{B1}', 'torn_down', 'a', 3)"
        ),
    );
    let items = reg.stream_after(None, i64::MAX, 100).unwrap();
    assert!(items.iter().all(|i| i.kind == "tampered"), "{items:?}");
}

#[test]
fn a_broken_stream_and_a_cut_one_in_one_read_are_each_reported_once() {
    let (reg, d) = sqlite();
    three_events(&reg);
    reg.record_deployment(&event(B2, "deploy_started", None))
        .unwrap();
    drop(reg);
    let reg = reopen(&d);
    // B1's second row edited (its stream breaks there); B2's only row
    // deleted (its stream is gone).
    sql(
        &reg,
        &format!(
            "DROP TRIGGER deployment_events_no_update; UPDATE deployment_events SET actor = 'mallory' WHERE deployment = '{B1}' AND chain_seq = 2; DROP TRIGGER deployment_events_no_delete; DELETE FROM deployment_events WHERE deployment = '{B2}'"
        ),
    );
    let (_, tampered) = reg.builds_checked("dev").unwrap();
    let of = |b: &str| tampered.iter().filter(|t| t.stream.contains(b)).count();
    assert_eq!(of(B1), 1, "one break is one finding: {tampered:?}");
    assert_eq!(of(B2), 1, "{tampered:?}");
    assert!(
        tampered
            .iter()
            .any(|t| t.stream.contains(B2) && t.why.contains("is gone")),
        "{tampered:?}"
    );
}
