//! build_timings.csv import and export: every row of a real history kept,
//! written back as it was read, and an export imported into its own
//! registry adding nothing.

use gp_registry::{ImportOptions, export_csv, import_csv};

const MIXED: &str = include_str!("fixtures/build_timings_mixed.csv");
const HISTORY: &str = include_str!("fixtures/build_timings_history.csv");

static COMPONENTS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec!["rds".to_string(), "dns-zone".to_string()]);

static ENVS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec!["dev".to_string(), "test".to_string(), "prod".to_string()]);

fn opts(source: &str) -> ImportOptions<'_> {
    ImportOptions {
        source,
        components: &COMPONENTS,
        envs: &ENVS,
    }
}

fn export(reg: &gp_registry::Registry) -> String {
    let mut out = Vec::new();
    export_csv(reg, None, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The rows of a CSV text as maps of column name to cell.
fn rows(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut records = r.records();
    let header: Vec<String> = records
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    records
        .map(|rec| {
            let rec = rec.unwrap();
            let layout: Vec<&str> = match rec.len() {
                n if n == header.len() => header.iter().map(String::as_str).collect(),
                7 => vec![
                    "start_time_utc",
                    "end_time_utc",
                    "phase",
                    "env",
                    "build_id",
                    "duration_seconds",
                    "log_path",
                ],
                9 => vec![
                    "start_time_utc",
                    "end_time_utc",
                    "phase",
                    "env",
                    "build_id",
                    "duration_seconds",
                    "exit_code",
                    "flags",
                    "log_path",
                ],
                11 => vec![
                    "start_time_utc",
                    "end_time_utc",
                    "phase",
                    "env",
                    "build_id",
                    "duration_seconds",
                    "exit_code",
                    "resources_added",
                    "resources_changed",
                    "resources_destroyed",
                    "log_path",
                ],
                n => panic!("a row of {n} columns"),
            };
            layout
                .iter()
                .zip(rec.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn every_row_of_a_real_history_is_kept_and_written_back_as_read() {
    let (reg, _dir, _) = crate::sqlite();
    let report = import_csv(&reg, &mut HISTORY.as_bytes(), &opts("history.csv")).unwrap();
    assert_eq!(report.rows, 11);
    // Only the row without a phase and the one whose duration is words are
    // refused, each with its cells.
    assert_eq!(report.imported, 9, "{report:?}");
    assert_eq!(report.problems.len(), 2, "{report:?}");
    assert_eq!(report.problems[0].line, 7);
    assert!(
        report.problems[0]
            .reason
            .contains("duration_seconds `four minutes`")
    );
    assert_eq!(report.problems[1].line, 9);
    assert!(report.problems[1].reason.contains("phase `` is empty"));
    assert_eq!(report.problems[1].cells[3], "dev");
    // Legacy ids and free text are kept as written, with a note.
    for line in [2, 4, 8] {
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.line == line && n.reason.contains("kept as written")),
            "line {line}: {report:?}"
        );
    }
    // Where the rows went: `rds` to the foundational plane, `persistent` to
    // the persistent deployment, the legacy id under its own name.
    let rds = reg.phases("dev", Some("foundational")).unwrap();
    assert_eq!(rds.len(), 1);
    assert_eq!(rds[0].component.as_deref(), Some("rds"));
    assert_eq!(rds[0].phase, "rds-apply");
    assert_eq!(reg.phases("prod", Some("foundational")).unwrap().len(), 1);
    let persistent = reg.phases("dev", Some("persistent")).unwrap();
    assert_eq!(persistent.len(), 2);
    assert_eq!(
        persistent[0].log_path.as_deref(),
        Some("https://github.com/acme/platform/actions/runs/9912"),
        "a URL in log_path is kept"
    );
    let legacy = reg.phases("dev", Some("20250115-067")).unwrap();
    assert_eq!(legacy.len(), 1, "no date was invented for 20250115-067");
    assert_eq!(legacy[0].build_id, "20250115-067");
    assert_eq!(
        reg.phases("dev", Some("19-01-25-01 (rerun after the quota fix)"))
            .unwrap()
            .len(),
        1
    );

    // Export writes every kept row back as it was read: each cell its
    // layout had, in the 12-column layout, nothing invented for the
    // columns it lacked.
    let out = export(&reg);
    let written = rows(&out);
    let mut read = rows(HISTORY);
    read.retain(|r| {
        !r.get("phase").is_none_or(String::is_empty) && r["duration_seconds"] != "four minutes"
    });
    assert_eq!(written.len(), read.len());
    for (w, r) in written.iter().zip(&read) {
        for (k, v) in r {
            assert_eq!(w.get(k), Some(v), "{k} of {r:?} became {w:?}");
        }
        for (k, v) in w {
            if !r.contains_key(k) {
                assert_eq!(v, "", "{k} was invented for {r:?}");
            }
        }
    }

    // Importing the export into the registry it came from adds nothing;
    // into a fresh one, the same rows, and its export is the same bytes.
    let again = import_csv(&reg, &mut out.as_bytes(), &opts("export.csv")).unwrap();
    assert_eq!((again.imported, again.duplicates), (0, 9), "{again:?}");
    let (fresh, _d2, _) = crate::sqlite();
    let report = import_csv(&fresh, &mut out.as_bytes(), &opts("export.csv")).unwrap();
    assert_eq!(report.imported, 9, "{report:?}");
    assert_eq!(export(&fresh), out);
}

#[test]
fn a_file_in_the_current_layout_round_trips_byte_for_byte() {
    let twelve: String = HISTORY
        .lines()
        .filter(|l| l.starts_with("start") || l.matches(',').count() == 11)
        .filter(|l| !l.contains(",,dev,") && !l.contains("four minutes"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(twelve.lines().count() >= 6, "{twelve}");
    let (reg, _dir, _) = crate::sqlite();
    let report = import_csv(&reg, &mut twelve.as_bytes(), &opts("history.csv")).unwrap();
    assert!(report.problems.is_empty(), "{report:?}");
    assert_eq!(export(&reg), twelve);
}

#[test]
fn goldenpaths_own_rows_export_and_import_into_their_registry_as_duplicates() {
    let (reg, _dir, _) = crate::sqlite();
    for (deployment, build, component, phase) in [
        ("persistent", "", None, "deploy"),
        ("foundational", "", Some("rds"), "apply:rds"),
        ("foundational", "", None, "deploy-foundational"),
        ("23-01-26-01", "23-01-26-01", None, "deploy"),
    ] {
        let p = gp_registry::Phase {
            run: gp_registry::new_id(),
            env: "dev".into(),
            deployment: deployment.into(),
            build_id: build.into(),
            phase: phase.into(),
            component: component.map(str::to_string),
            started_us: 1_700_000_000_123_456,
            ended_us: Some(1_700_000_004_987_654),
            exit_code: Some(0),
            flags: Some("--resume".into()),
            ..Default::default()
        };
        reg.phase_start(&p).unwrap();
        reg.phase_end(&p).unwrap();
    }
    let out = export(&reg);
    assert!(out.contains(",dev,persistent,"), "{out}");
    assert!(out.contains(",apply:rds,dev,rds,"), "{out}");
    assert!(
        out.contains(",deploy-foundational,dev,foundational,"),
        "{out}"
    );
    let again = import_csv(&reg, &mut out.as_bytes(), &opts("export.csv")).unwrap();
    assert_eq!((again.imported, again.duplicates), (0, 4), "{again:?}");
}

#[test]
fn formula_cells_of_the_registry_are_escaped_and_read_back() {
    let (reg, _dir, _) = crate::sqlite();
    let csv = "start_time_utc,end_time_utc,phase,env,build_id,duration_seconds,exit_code,flags,resources_added,resources_changed,resources_destroyed,log_path\n2026-01-23T10:00:00Z,2026-01-23T10:05:00Z,=HYPERLINK(\"http://x\"),dev,23-01-26-01,300,0,+cmd|' /C calc'!A0,0,0,0,@SUM(1)\n";
    import_csv(&reg, &mut csv.as_bytes(), &opts("evil.csv")).unwrap();
    let out = export(&reg);
    assert!(out.contains(",\"'=HYPERLINK(\"\"http://x\"\")\","), "{out}");
    assert!(out.contains(",'+cmd|' /C calc'!A0,"), "{out}");
    assert!(out.contains(",'@SUM(1)"), "{out}");
    // Read back, the values are the originals again.
    let (b, _d2, _) = crate::sqlite();
    import_csv(&b, &mut out.as_bytes(), &opts("export.csv")).unwrap();
    assert_eq!(
        b.phases("dev", None).unwrap()[0].phase,
        "=HYPERLINK(\"http://x\")"
    );
}

#[test]
fn report_counts_failures_apart() {
    let (reg, _dir, _) = crate::sqlite();
    import_csv(&reg, &mut MIXED.as_bytes(), &opts("fixture")).unwrap();
    let stats = gp_registry::report(&reg, Some("dev"), None, true).unwrap();
    let apply: Vec<_> = stats
        .iter()
        .filter(|s| s.phase == "terraform-apply")
        .collect();
    let count: u64 = apply.iter().map(|s| s.count).sum();
    let failed: u64 = apply.iter().map(|s| s.failed).sum();
    assert_eq!((count, failed), (2, 1));
    let build = apply.iter().find(|s| s.kind == "build").unwrap();
    // The failed 600 s run is not averaged into the durations.
    assert_eq!(build.p50_seconds, Some(300.0));
    assert_eq!(build.p95_seconds, Some(300.0));
    let since = gp_registry::parse_utc("2026-01-01").unwrap();
    let recent = gp_registry::report(&reg, None, Some(since), true).unwrap();
    assert_eq!(recent.iter().map(|s| s.count).sum::<u64>(), 2);
}
