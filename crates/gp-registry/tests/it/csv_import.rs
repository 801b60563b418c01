//! build_timings.csv import and export.

use gp_registry::{export_csv, import_csv};

const MIXED: &str = include_str!("fixtures/build_timings_mixed.csv");

#[test]
fn mixed_layouts_import_and_problems_are_reported_by_line() {
    let (reg, _dir, _) = crate::sqlite();
    let report = import_csv(&reg, &mut MIXED.as_bytes(), "fixture").unwrap();
    assert_eq!(report.rows, 7);
    // Line 2 (12 columns), 3 (12), 4 (9 columns, legacy id), 5 (11
    // columns), 8 (12) are readable.
    assert_eq!(report.imported, 5, "{report:?}");
    let problems: Vec<(u64, &str)> = report
        .problems
        .iter()
        .map(|p| (p.line, p.reason.as_str()))
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].0, 6);
    assert!(problems[0].1.contains("row has 4 columns"), "{problems:?}");
    assert_eq!(problems[1].0, 7);
    assert!(
        problems[1]
            .1
            .contains("duration_seconds `four minutes` is not a number"),
        "{problems:?}"
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.line == 4 && n.reason.contains("`20250115-06` read as `15-01-25-06`")),
        "{report:?}"
    );

    let phases = reg.phases("dev", Some("15-01-25-06")).unwrap();
    assert_eq!(phases.len(), 1);
    assert_eq!(phases[0].exit_code, Some(1));
    assert_eq!(
        phases[0].log_path.as_deref(),
        Some("logs/20250115-06/apply.log")
    );
    assert_eq!(
        phases[0].added, None,
        "the 9-column layout has no resource counts"
    );
    let test = reg.phases("test", None).unwrap();
    assert_eq!(test[0].added, Some(5));
    assert_eq!(test[0].destroyed, Some(0));
    assert_eq!(
        test[0].run_url.as_deref(),
        Some("https://ci.example/runs/77")
    );

    // Importing the same file again adds nothing.
    let again = import_csv(&reg, &mut MIXED.as_bytes(), "fixture").unwrap();
    assert_eq!(again.imported, 0);
    assert_eq!(again.duplicates, 5);
    assert_eq!(reg.count_phase_events().unwrap(), 10);
}

#[test]
fn export_then_import_is_a_round_trip() {
    let (a, _d1, _) = crate::sqlite();
    import_csv(&a, &mut MIXED.as_bytes(), "fixture").unwrap();
    let mut first = Vec::new();
    assert_eq!(export_csv(&a, None, &mut first).unwrap(), 5);
    let text = String::from_utf8(first.clone()).unwrap();
    assert!(text.starts_with("start_time_utc,end_time_utc,phase,env,build_id,duration_seconds,exit_code,flags,resources_added,resources_changed,resources_destroyed,log_path\n"));
    assert!(text.contains("2026-01-23T10:00:00Z,2026-01-23T10:05:00Z,terraform-apply,dev,23-01-26-01,300,0,'--auto-approve,12,0,0,logs/23-01-26-01/apply.log"), "{text}");

    let (b, _d2, _) = crate::sqlite();
    let report = import_csv(&b, &mut first.as_slice(), "export").unwrap();
    assert!(report.problems.is_empty(), "{report:?}");
    let mut second = Vec::new();
    export_csv(&b, None, &mut second).unwrap();
    assert_eq!(String::from_utf8(second).unwrap(), text);
    // Importing an export into the registry it came from adds nothing.
    assert_eq!(
        import_csv(&a, &mut first.as_slice(), "export")
            .unwrap()
            .imported,
        0
    );
}

#[test]
fn report_counts_failures_apart() {
    let (reg, _dir, _) = crate::sqlite();
    import_csv(&reg, &mut MIXED.as_bytes(), "fixture").unwrap();
    let stats = gp_registry::report(&reg, Some("dev"), None).unwrap();
    let apply = stats.iter().find(|s| s.phase == "terraform-apply").unwrap();
    assert_eq!((apply.count, apply.succeeded, apply.failed), (2, 1, 1));
    // The failed 600 s run is not averaged into the durations.
    assert_eq!(apply.p50_seconds, Some(300.0));
    assert_eq!(apply.p95_seconds, Some(300.0));
    assert_eq!(apply.success_rate, 0.5);
    let since = gp_registry::parse_utc("2026-01-01").unwrap();
    let recent = gp_registry::report(&reg, None, Some(since)).unwrap();
    assert_eq!(recent.iter().map(|s| s.count).sum::<u64>(), 2);
}
