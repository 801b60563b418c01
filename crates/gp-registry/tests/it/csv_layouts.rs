//! Generated history files: every layout (7, 9, 11 and 12 cells), with the
//! layout's own header, with the 12-column header and rows of every width,
//! and without a header; every kind of id; log paths and run URLs; every
//! result. Then each kind of row that fits no layout. Every accepted row's
//! cells come back out of export as they went in; a re-import adds
//! nothing; a fresh registry's export of the export is the same bytes.

use std::collections::BTreeMap;

use gp_registry::layout::{HEADER_7, HEADER_9, HEADER_11, HEADER_12};
use gp_registry::{ImportOptions, PhaseResult, Registry, export_csv, import_csv};

const COMPONENTS: &[&str] = &["rds", "dns-zone"];
const ENVS: &[&str] = &["dev", "test", "prod"];

fn opts<'a>(components: &'a [String], envs: &'a [String]) -> ImportOptions<'a> {
    ImportOptions {
        source: "build_timings.csv",
        components,
        envs,
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Every kind of id a history's `build_id` holds, and the kind the report
/// gives it.
const IDS: &[(&str, &str)] = &[
    ("23-01-26-01", "build"),
    ("20250115-067", "legacy"),
    ("19-01-25-01 (rerun after the quota fix)", "other"),
    ("persistent", "persistent"),
    ("rds", "foundational"),
    ("foundational", "foundational"),
    ("", "persistent"),
];

/// Exit code, seconds, resources added, and the result they make where
/// the layout has those columns.
const RESULTS: &[(&str, &str, &str, PhaseResult)] = &[
    ("0", "300", "12", PhaseResult::Success),
    ("1", "0.4", "0", PhaseResult::Aborted),
    ("2", "3", "", PhaseResult::Aborted),
    ("1", "3", "2", PhaseResult::Failed),
    ("1", "600", "0", PhaseResult::Failed),
    ("", "120", "", PhaseResult::Unknown),
];

/// The result a row's cells make, as the platform's history reads: no
/// exit code is unknown; a quick non-zero exit that changed nothing known
/// to have changed is an abort.
fn result_of(cells: &BTreeMap<String, String>) -> PhaseResult {
    let int = |c: &str| cells.get(c).and_then(|v| v.parse::<i64>().ok());
    match int("exit_code") {
        None => PhaseResult::Unknown,
        Some(0) => PhaseResult::Success,
        Some(_) => {
            let secs: f64 = cells["duration_seconds"].parse().unwrap();
            let changed = [
                "resources_added",
                "resources_changed",
                "resources_destroyed",
            ]
            .iter()
            .any(|c| int(c).is_some_and(|n| n > 0));
            if secs < 5.0 && !changed {
                PhaseResult::Aborted
            } else {
                PhaseResult::Failed
            }
        }
    }
}

const LOGS: &[&str] = &[
    "logs/23-01-26-01/apply.log",
    "https://github.com/acme/platform/actions/runs/9912",
];

/// One row of `layout`: the `n`-th combination of id, result and log.
fn row(layout: &[&str], n: usize) -> (BTreeMap<String, String>, PhaseResult) {
    let (id, _) = IDS[n % IDS.len()];
    let (exit, secs, added, result) = RESULTS[n % RESULTS.len()];
    let log = LOGS[n % LOGS.len()];
    // Every row its own start, a minute apart.
    let start = 1_737_104_400 + 3_600 * n as i64;
    let t = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let secs_whole = secs.parse::<f64>().unwrap().ceil() as i64;
    let cells = layout
        .iter()
        .map(|c| {
            let v = match *c {
                "start_time_utc" => t(start),
                "end_time_utc" => t(start + secs_whole),
                "phase" => ["terraform-apply", "bootstrap", "teardown"][n % 3].into(),
                "env" => ENVS[n % ENVS.len()].into(),
                "build_id" => id.into(),
                "duration_seconds" => secs.into(),
                "exit_code" => exit.into(),
                "flags" => ["--auto-approve", "", "-lock=false"][n % 3].into(),
                "resources_added" => added.into(),
                "resources_changed" | "resources_destroyed" => {
                    if exit.is_empty() { "" } else { "0" }.into()
                }
                "log_path" => log.into(),
                other => panic!("{other}"),
            };
            (c.to_string(), v)
        })
        .collect();
    let got = result_of(&cells);
    // In the 12-column layout every column is there: the table's result.
    if layout.len() == 12 {
        assert_eq!(got, result, "{cells:?}");
    }
    (cells, got)
}

fn line(layout: &[&str], cells: &BTreeMap<String, String>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(layout.iter().map(|c| cells[*c].as_str()))
        .unwrap();
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

fn export(reg: &Registry) -> String {
    let mut out = Vec::new();
    export_csv(reg, None, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The exported rows, as maps of column to cell.
fn exported(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, strings(&HEADER_12));
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

const LAYOUTS: [&[&str]; 4] = [&HEADER_7, &HEADER_9, &HEADER_11, &HEADER_12];

/// How a generated file heads its rows.
#[derive(Clone, Copy, Debug)]
enum Heading {
    /// The header of the rows' own layout.
    Own,
    /// The 12-column header, whatever the rows' widths.
    Twelve,
    /// No header at all.
    None,
}

#[test]
fn every_layout_with_and_without_a_header_round_trips_and_every_row_has_a_result() {
    let components = strings(COMPONENTS);
    let envs = strings(ENVS);
    for heading in [Heading::Own, Heading::Twelve, Heading::None] {
        let (reg, _dir, _) = crate::sqlite();
        let mut text = String::new();
        let mut expected: Vec<(BTreeMap<String, String>, PhaseResult)> = Vec::new();
        let mut n = 0;
        for layout in LAYOUTS {
            let mut file = String::new();
            match heading {
                Heading::Own => file.push_str(&format!("{}\n", layout.join(","))),
                Heading::Twelve if text.is_empty() => {
                    file.push_str(&format!("{}\n", HEADER_12.join(",")));
                }
                _ => {}
            }
            // Enough rows that every id meets every result and log.
            for _ in 0..IDS.len() * RESULTS.len() {
                let (cells, result) = row(layout, n);
                file.push_str(&line(layout, &cells));
                expected.push((cells, result));
                n += 1;
            }
            match heading {
                // Each layout its own file, under its own header.
                Heading::Own => {
                    let report =
                        import_csv(&reg, &mut file.as_bytes(), &opts(&components, &envs)).unwrap();
                    assert!(report.problems.is_empty(), "{layout:?}: {report:?}");
                }
                _ => text.push_str(&file),
            }
        }
        if !matches!(heading, Heading::Own) {
            let report = import_csv(&reg, &mut text.as_bytes(), &opts(&components, &envs)).unwrap();
            assert!(report.problems.is_empty(), "{heading:?}: {report:?}");
            assert_eq!(report.imported as usize, expected.len(), "{heading:?}");
        }
        let out = export(&reg);
        let written = exported(&out);
        assert_eq!(written.len(), expected.len(), "{heading:?}");
        // Export is oldest first, and rows were generated an hour apart.
        for (w, (cells, _)) in written.iter().zip(&expected) {
            for (k, v) in cells {
                assert_eq!(&w[k], v, "{heading:?}: {k} of {cells:?} became {w:?}");
            }
            for (k, v) in w {
                if !cells.contains_key(k) {
                    assert_eq!(v, "", "{heading:?}: {k} invented for {cells:?}");
                }
            }
        }
        // Every row has its result, and an id that is not goldenpath's is
        // never a build.
        let phases = reg.all_phases().unwrap();
        for (p, (cells, result)) in phases.iter().zip(&expected) {
            assert_eq!(p.result(), *result, "{cells:?}");
            assert!(p.imported.is_some());
            // The log's place (a path or the run's URL) is the log.
            assert_eq!(p.log_path.as_ref(), cells.get("log_path"), "{cells:?}");
        }
        let stats = gp_registry::report(&reg, None, None, true).unwrap();
        for (id, kind) in IDS {
            let key = match *id {
                "" => "persistent",
                "rds" => "foundational",
                other => other,
            };
            assert_eq!(gp_registry::kind_of(key), *kind, "{id}");
        }
        assert!(stats.iter().any(|s| s.kind == "legacy"), "{stats:?}");
        // The figures count each result, and only known ones in the rate.
        let sum = |f: fn(&gp_registry::PhaseStats) -> u64| stats.iter().map(f).sum::<u64>();
        let want = |r: PhaseResult| expected.iter().filter(|(_, x)| *x == r).count() as u64;
        assert_eq!(sum(|s| s.succeeded), want(PhaseResult::Success));
        assert_eq!(sum(|s| s.failed), want(PhaseResult::Failed));
        assert_eq!(sum(|s| s.aborted), want(PhaseResult::Aborted));
        assert_eq!(sum(|s| s.unknown), want(PhaseResult::Unknown));
        assert_eq!(sum(|s| s.imported), expected.len() as u64);
        for s in &stats {
            let known = s.count - s.unknown;
            match s.success_rate {
                None => assert_eq!(known, 0, "{s:?}"),
                Some(r) => assert_eq!(r, s.succeeded as f64 / known as f64, "{s:?}"),
            }
            assert_eq!(s.percentile_runs, s.succeeded, "{s:?}");
        }
        // Imported history is left out of the percentiles unless asked.
        let own = gp_registry::report(&reg, None, None, false).unwrap();
        assert!(
            own.iter()
                .all(|s| s.p50_seconds.is_none() && s.percentile_runs == 0)
        );
        assert_eq!(
            own.iter().map(|s| s.count).sum::<u64>(),
            expected.len() as u64
        );

        // Into the same registry: nothing added. Into a fresh one: the same
        // bytes out.
        let again = import_csv(&reg, &mut out.as_bytes(), &opts(&components, &envs)).unwrap();
        assert_eq!(
            (again.imported, again.duplicates as usize),
            (0, expected.len()),
            "{heading:?}"
        );
        let (fresh, _d2, _) = crate::sqlite();
        import_csv(&fresh, &mut out.as_bytes(), &opts(&components, &envs)).unwrap();
        assert_eq!(export(&fresh), out, "{heading:?}");
    }
}

#[test]
fn a_header_naming_the_workflow_run_url_keeps_it_in_the_log_column() {
    let (reg, _dir, _) = crate::sqlite();
    let mut header = strings(&HEADER_11);
    *header.last_mut().unwrap() = "workflow_run_url".into();
    let text = format!(
        "{}\n2026-01-23T10:00:00Z,2026-01-23T10:05:00Z,apply,dev,23-01-26-01,300,0,1,0,0,https://ci.example/runs/5\n",
        header.join(",")
    );
    let components = strings(COMPONENTS);
    let envs = strings(ENVS);
    let report = import_csv(&reg, &mut text.as_bytes(), &opts(&components, &envs)).unwrap();
    assert!(report.problems.is_empty(), "{report:?}");
    let p = &reg.all_phases().unwrap()[0];
    assert_eq!(p.run_url.as_deref(), Some("https://ci.example/runs/5"));
    let w = exported(&export(&reg));
    assert_eq!(w[0]["log_path"], "https://ci.example/runs/5");
}

#[test]
fn each_kind_of_misfit_row_is_reported_with_its_cells_and_imports_nothing() {
    let components = strings(COMPONENTS);
    let envs = strings(ENVS);
    // For every layout: the row without its phase, without its
    // environment, with a cell too many; the phase an environment's name;
    // a start that is not a time; an end that is not a time; a duration
    // that is words.
    type Spoil = fn(&mut Vec<String>, &[&str]);
    let spoils: &[(&str, Spoil)] = &[
        ("no phase", |r, l| {
            r.remove(l.iter().position(|x| *x == "phase").unwrap());
        }),
        ("no env", |r, l| {
            r.remove(l.iter().position(|x| *x == "env").unwrap());
        }),
        ("a cell too many", |r, _| r.push("extra".into())),
        ("phase is an environment", |r, l| {
            r[l.iter().position(|x| *x == "phase").unwrap()] = "prod".into();
        }),
        ("start is not a time", |r, l| {
            r[l.iter().position(|x| *x == "start_time_utc").unwrap()] = "dev".into();
        }),
        ("end is not a time", |r, l| {
            r[l.iter().position(|x| *x == "end_time_utc").unwrap()] = "later".into();
        }),
        ("duration is words", |r, l| {
            r[l.iter().position(|x| *x == "duration_seconds").unwrap()] = "four minutes".into();
        }),
        ("duration is huge", |r, l| {
            r[l.iter().position(|x| *x == "duration_seconds").unwrap()] = "1e300".into();
        }),
        ("start is past i64 microseconds", |r, l| {
            r[l.iter().position(|x| *x == "start_time_utc").unwrap()] =
                "9223372036854775807".into();
        }),
    ];
    for layout in LAYOUTS {
        for (name, spoil) in spoils {
            let (cells, _) = row(layout, 0);
            let mut cells: Vec<String> = layout.iter().map(|c| cells[*c].clone()).collect();
            spoil(&mut cells, layout);
            // A good row before and after, so the misfit is one line of
            // several.
            let good = |n| {
                let (c, _) = row(&HEADER_12, n);
                line(&HEADER_12, &c)
            };
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(&cells).unwrap();
            let bad = String::from_utf8(w.into_inner().unwrap()).unwrap();
            let text = format!("{}\n{}{bad}{}", HEADER_12.join(","), good(1), good(2));
            let (reg, _dir, _) = crate::sqlite();
            let report = import_csv(&reg, &mut text.as_bytes(), &opts(&components, &envs)).unwrap();
            assert_eq!(report.imported, 2, "{name} in {layout:?}: {report:?}");
            assert_eq!(report.problems.len(), 1, "{name} in {layout:?}: {report:?}");
            let p = &report.problems[0];
            assert_eq!(p.line, 3, "{name} in {layout:?}");
            assert!(
                p.reason.contains("fits no layout"),
                "{name} in {layout:?}: {p:?}"
            );
            assert_eq!(p.cells, cells, "{name} in {layout:?}");
            assert_eq!(reg.all_phases().unwrap().len(), 2, "{name} in {layout:?}");
        }
    }
}

#[test]
fn a_file_a_spreadsheet_saved_with_a_byte_order_mark_and_crlf_reads_as_any_other() {
    let components = strings(COMPONENTS);
    let envs = strings(ENVS);
    let (cells, _) = row(&HEADER_12, 0);
    let text = format!(
        "\u{feff}{}\r\n{}",
        HEADER_12.join(","),
        line(&HEADER_12, &cells).replace('\n', "\r\n")
    );
    let (reg, _dir, _) = crate::sqlite();
    let report = import_csv(&reg, &mut text.as_bytes(), &opts(&components, &envs)).unwrap();
    assert!(
        report.problems.is_empty() && report.notes.iter().all(|n| !n.reason.contains("no header")),
        "{report:?}"
    );
    assert_eq!(report.imported, 1);
    assert_eq!(exported(&export(&reg))[0]["phase"], cells["phase"]);
}
