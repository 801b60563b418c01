//! `registry import`: rows of a `build_timings.csv` placed by their layout
//! (see [`super::layout`]), each accepted row's cells kept as written.

use std::io::Read;

use serde::Serialize;

use super::layout::{HEADER_12, fit, shown};
use super::{content_id, place, uncell};
use crate::time::parse_utc;
use crate::{Phase, Registry, RegistryError};

/// A row that could not be imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RowProblem {
    /// 1-based line in the file.
    pub line: u64,
    /// Why.
    pub reason: String,
    /// The row's cells as read, for a row that was not imported.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub cells: Vec<String>,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Data rows read.
    pub rows: u64,
    /// Rows added to the registry.
    pub imported: u64,
    /// Rows already present (a re-import).
    pub duplicates: u64,
    /// Rows that were not imported: each fits no layout.
    pub problems: Vec<RowProblem>,
    /// Notes on rows that were imported (an id that is not a build id, a
    /// file without a header).
    pub notes: Vec<RowProblem>,
}

/// What an import needs to know besides the file.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImportOptions<'a> {
    /// The file's name, recorded with every row.
    pub source: &'a str,
    /// The spec's foundational components: a `build_id` naming one places
    /// the row in the foundational plane.
    pub components: &'a [String],
    /// The spec's environments: a phase cell holding one of them is a
    /// row read shifted.
    pub envs: &'a [String],
}

/// Imports phases from CSV. A row that fits no layout is reported with
/// its line and cells and imports nothing; the others go in. Only an
/// unreadable file or a registry failure is an error.
pub fn import_csv(
    registry: &Registry,
    input: &mut dyn Read,
    opts: &ImportOptions<'_>,
) -> Result<ImportReport, RegistryError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut report = ImportReport::default();
    let mut header: Option<Vec<String>> = None;
    for (index, record) in reader.records().enumerate() {
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position().map(|p| p.line()))
            .unwrap_or(index as u64 + 1);
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                report.problems.push(RowProblem {
                    line,
                    reason: format!("unreadable CSV: {e}"),
                    cells: Vec::new(),
                });
                continue;
            }
        };
        // A file saved by a spreadsheet starts with a byte-order mark.
        let fields: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let f = if index == 0 && i == 0 {
                    f.trim_start_matches('\u{feff}')
                } else {
                    f
                };
                uncell(f.trim()).to_string()
            })
            .collect();
        if fields.iter().all(String::is_empty) {
            continue;
        }
        let h = match &header {
            Some(h) => h.clone(),
            None if fields.iter().any(|f| f == "start_time_utc") => {
                header = Some(fields);
                continue;
            }
            None => {
                // No header: rows are read by their width alone.
                report.notes.push(RowProblem {
                    line,
                    reason: "no header line; columns read by row width".into(),
                    cells: Vec::new(),
                });
                let h: Vec<String> = HEADER_12.iter().map(|s| s.to_string()).collect();
                header = Some(h.clone());
                h
            }
        };
        report.rows += 1;
        import_row(registry, &fields, &h, line, opts, &mut report)?;
    }
    Ok(report)
}

fn import_row(
    registry: &Registry,
    fields: &[String],
    header: &[String],
    line: u64,
    opts: &ImportOptions<'_>,
    report: &mut ImportReport,
) -> Result<(), RegistryError> {
    let layout = match fit(fields, header, opts.envs) {
        Ok(l) => l,
        Err(reason) => {
            report.problems.push(RowProblem {
                line,
                reason,
                cells: fields.iter().map(|c| shown(c)).collect(),
            });
            return Ok(());
        }
    };
    // Every cell as written (the layout's columns), for export.
    let cells: std::collections::BTreeMap<String, String> = layout
        .iter()
        .zip(fields)
        .map(|(h, v)| (h.clone(), v.clone()))
        .collect();
    let get = |name: &str| -> Option<&str> {
        cells
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    // The layout's rule has checked every cell: what is given parses.
    let (Some(start), Some(phase), Some(env)) = (get("start_time_utc"), get("phase"), get("env"))
    else {
        return Ok(());
    };
    let Some(started_us) = parse_utc(start) else {
        return Ok(());
    };
    let duration_ms = get("duration_seconds")
        .and_then(|d| d.parse::<f64>().ok())
        .map(|v| (v * 1000.0).round() as i64);
    // The layout's rule bounds times (1970 to 9999) and durations (ten
    // years): nothing below can overflow.
    let ended_us = match (get("end_time_utc").and_then(parse_utc), duration_ms) {
        // The stored duration is end - start; the recorded duration wins
        // when the times are only to the second.
        (Some(e), Some(d)) if (e - started_us - d * 1000).abs() < 1_000_000 => {
            started_us + d * 1000
        }
        (Some(e), _) => e,
        (None, Some(d)) => started_us + d * 1000,
        (None, None) => return Ok(()),
    };
    let int = |name: &str| get(name).and_then(|v| v.parse::<i64>().ok());
    let raw_build = get("build_id").unwrap_or_default();
    let (deployment, component, placed) = place(raw_build, opts.components);
    if let Some(reason) = placed {
        report.notes.push(RowProblem {
            line,
            reason,
            cells: Vec::new(),
        });
    }
    let build_id: String = if raw_build.len() <= 200 {
        raw_build.into()
    } else {
        deployment.clone()
    };
    let phase = Phase {
        run: format!(
            "import-{}",
            content_id(&[start, phase, env, raw_build, &ended_us.to_string()])
        ),
        env: env.into(),
        deployment,
        build_id,
        phase: phase.into(),
        component,
        started_us,
        ended_us: Some(ended_us),
        exit_code: int("exit_code"),
        added: int("resources_added"),
        changed: int("resources_changed"),
        destroyed: int("resources_destroyed"),
        flags: get("flags").map(str::to_string),
        // A path or a CI run's URL, as written.
        log_path: get("log_path").map(str::to_string),
        run_url: get("workflow_run_url").map(str::to_string),
        actor: Some(format!("import:{}", opts.source)),
        commit_sha: None,
        imported: Some(crate::ImportedRow {
            file: opts.source.into(),
            cells,
        }),
    };
    match registry.insert_imported_phase(&phase) {
        Ok(true) => report.imported += 1,
        Ok(false) => report.duplicates += 1,
        // A field over its size limit (a 10 MB phase name): this row is
        // refused and reported, the rest of the file still goes in.
        Err(RegistryError::Invalid(why)) => report.problems.push(RowProblem {
            line,
            reason: why,
            cells: Vec::new(),
        }),
        Err(e) => return Err(e),
    }
    Ok(())
}
