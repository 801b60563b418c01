//! `build_timings.csv`: export in the platform's 12-column layout, and
//! import of that layout and the older 9- and 11-column ones.
//!
//! Columns are matched by header name; a row whose width disagrees with the
//! header is read by its own width when that is one of the known layouts.
//! Every row that cannot be read is reported with its line number and why;
//! none is dropped silently. Importing the same rows twice adds nothing.

use std::io::{Read, Write};

use serde::Serialize;

use crate::time::{format_utc, parse_utc};
use crate::{PHASE_COLUMNS, Phase, Registry, RegistryError, phase_row};

/// The 12-column header, in order.
pub const HEADER_12: [&str; 12] = [
    "start_time_utc",
    "end_time_utc",
    "phase",
    "env",
    "build_id",
    "duration_seconds",
    "exit_code",
    "flags",
    "resources_added",
    "resources_changed",
    "resources_destroyed",
    "log_path",
];
const HEADER_9: [&str; 9] = [
    "start_time_utc",
    "end_time_utc",
    "phase",
    "env",
    "build_id",
    "duration_seconds",
    "exit_code",
    "flags",
    "log_path",
];
const HEADER_11: [&str; 11] = [
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
    "workflow_run_url",
];

fn seconds(ms: i64) -> String {
    let s = format!("{}.{:03}", ms / 1000, (ms % 1000).abs());
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a
/// tab or carriage return first) is written with a leading `'`, as
/// spreadsheet tools expect; import takes it off again.
fn cell(text: String) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text,
    }
}

/// The value of a cell written by [`cell`].
fn uncell(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => text,
    }
}

fn opt(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Writes every finished phase (of `env`) as 12-column CSV, oldest first.
pub fn export_csv(
    registry: &Registry,
    env: Option<&str>,
    out: &mut dyn Write,
) -> Result<usize, RegistryError> {
    let phases: Vec<Phase> = registry.with_db(|db| {
        use crate::db::DbExt;
        match env {
            Some(e) => db.rows(
                &format!("SELECT {PHASE_COLUMNS} FROM phase_events WHERE kind = 'end' AND env = ? ORDER BY started_us, phase_run"),
                &[e.into()],
                phase_row,
            ),
            None => db.rows(
                &format!("SELECT {PHASE_COLUMNS} FROM phase_events WHERE kind = 'end' ORDER BY started_us, phase_run"),
                &[],
                phase_row,
            ),
        }
    })?;
    let io = |e: csv::Error| RegistryError::Invalid(format!("cannot write CSV: {e}"));
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER_12).map_err(io)?;
    for p in &phases {
        w.write_record([
            format_utc(p.started_us),
            p.ended_us.map(format_utc).unwrap_or_default(),
            cell(p.phase.clone()),
            cell(p.env.clone()),
            cell(p.build_id.clone()),
            p.duration_ms().map(seconds).unwrap_or_default(),
            opt(p.exit_code),
            cell(p.flags.clone().unwrap_or_default()),
            opt(p.added),
            opt(p.changed),
            opt(p.destroyed),
            cell(p.log_path.clone().unwrap_or_default()),
        ])
        .map_err(io)?;
    }
    w.flush()
        .map_err(|e| RegistryError::Invalid(format!("cannot write CSV: {e}")))?;
    Ok(phases.len())
}

/// A row that could not be imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RowProblem {
    /// 1-based line in the file.
    pub line: u64,
    /// Why.
    pub reason: String,
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
    /// Rows that could not be read.
    pub problems: Vec<RowProblem>,
    /// Notes on rows that were read with a conversion (legacy build ids).
    pub notes: Vec<RowProblem>,
}

/// Imports phases from CSV. Problems are reported, never fatal; only an
/// unreadable file or a registry failure is an error.
pub fn import_csv(
    registry: &Registry,
    input: &mut dyn Read,
    source: &str,
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
                });
                continue;
            }
        };
        let fields: Vec<String> = record
            .iter()
            .map(|f| uncell(f.trim()).to_string())
            .collect();
        if fields.iter().all(String::is_empty) {
            continue;
        }
        let Some(h) = &header else {
            if fields.iter().any(|f| f == "start_time_utc") {
                header = Some(fields);
                continue;
            }
            // No header: read rows by width alone.
            header = Some(HEADER_12.iter().map(|s| s.to_string()).collect());
            report.notes.push(RowProblem {
                line,
                reason: "no header line; columns read by row width".into(),
            });
            report.rows += 1;
            import_row(
                registry,
                &fields,
                header.as_deref().unwrap_or_default(),
                line,
                source,
                &mut report,
            )?;
            continue;
        };
        report.rows += 1;
        let h = h.clone();
        import_row(registry, &fields, &h, line, source, &mut report)?;
    }
    Ok(report)
}

fn import_row(
    registry: &Registry,
    fields: &[String],
    header: &[String],
    line: u64,
    source: &str,
    report: &mut ImportReport,
) -> Result<(), RegistryError> {
    let layout: Vec<String> = if fields.len() == header.len() {
        header.to_vec()
    } else {
        match fields.len() {
            12 => HEADER_12.iter().map(|s| s.to_string()).collect(),
            11 => HEADER_11.iter().map(|s| s.to_string()).collect(),
            9 => HEADER_9.iter().map(|s| s.to_string()).collect(),
            n => {
                report.problems.push(RowProblem {
                    line,
                    reason: format!(
                        "row has {n} columns; the header has {} and the known layouts have 9, 11 or 12",
                        header.len()
                    ),
                });
                return Ok(());
            }
        }
    };
    let get = |name: &str| -> Option<&str> {
        layout
            .iter()
            .position(|h| h == name)
            .and_then(|i| fields.get(i))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let mut problem = |reason: String| {
        report.problems.push(RowProblem { line, reason });
    };
    let Some(start) = get("start_time_utc") else {
        problem("start_time_utc is empty".into());
        return Ok(());
    };
    let Some(started_us) = parse_utc(start) else {
        problem(format!("start_time_utc `{start}` is not a time"));
        return Ok(());
    };
    let Some(phase) = get("phase") else {
        problem("phase is empty".into());
        return Ok(());
    };
    let Some(env) = get("env") else {
        problem("env is empty".into());
        return Ok(());
    };
    let duration_ms = match get("duration_seconds") {
        None => None,
        Some(d) => match d.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Some((v * 1000.0).round() as i64),
            _ => {
                problem(format!("duration_seconds `{d}` is not a number of seconds"));
                return Ok(());
            }
        },
    };
    let ended_us = match get("end_time_utc") {
        Some(e) => match parse_utc(e) {
            Some(v) => Some(v),
            None => {
                problem(format!("end_time_utc `{e}` is not a time"));
                return Ok(());
            }
        },
        None => duration_ms.map(|d| started_us + d * 1000),
    };
    let Some(ended_us) = ended_us else {
        problem("neither end_time_utc nor duration_seconds is given".into());
        return Ok(());
    };
    // The stored duration is end - start; prefer the recorded duration when
    // the timestamps are only to the second.
    let ended_us = match duration_ms {
        Some(d) if (ended_us - started_us - d * 1000).abs() < 1_000_000 => started_us + d * 1000,
        _ => ended_us,
    };
    let int = |name: &str, report: &mut Vec<RowProblem>| -> Result<Option<i64>, ()> {
        match get(name) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                report.push(RowProblem {
                    line,
                    reason: format!("{name} `{v}` is not a whole number"),
                });
            }),
        }
    };
    let (Ok(exit_code), Ok(added), Ok(changed), Ok(destroyed)) = (
        int("exit_code", &mut report.problems),
        int("resources_added", &mut report.problems),
        int("resources_changed", &mut report.problems),
        int("resources_destroyed", &mut report.problems),
    ) else {
        return Ok(());
    };
    let raw_build = get("build_id").unwrap_or_default();
    let build_id = match normalise_build_id(raw_build) {
        Ok(b) => {
            if b != raw_build {
                report.notes.push(RowProblem {
                    line,
                    reason: format!("legacy build id `{raw_build}` read as `{b}`"),
                });
            }
            b
        }
        Err(why) => {
            report.problems.push(RowProblem { line, reason: why });
            return Ok(());
        }
    };
    let deployment = if build_id.is_empty() {
        "persistent".to_string()
    } else {
        build_id.clone()
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
        component: None,
        started_us,
        ended_us: Some(ended_us),
        exit_code,
        added,
        changed,
        destroyed,
        flags: get("flags").map(str::to_string),
        log_path: get("log_path").map(str::to_string),
        run_url: get("workflow_run_url").map(str::to_string),
        actor: Some(format!("import:{source}")),
        commit_sha: None,
    };
    match registry.insert_imported_phase(&phase) {
        Ok(true) => report.imported += 1,
        Ok(false) => report.duplicates += 1,
        // A field over its size limit (a 10 MB phase name): this row is
        // refused and reported, the rest of the file still goes in.
        Err(RegistryError::Invalid(why)) => report.problems.push(RowProblem { line, reason: why }),
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Accepts `DD-MM-YY-NN`, an empty id (a persistent deployment), or the
/// legacy `YYYYMMDD-NN`, which is read as `DD-MM-YY-NN`.
fn normalise_build_id(raw: &str) -> Result<String, String> {
    if raw.is_empty() || raw == "persistent" {
        return Ok(String::new());
    }
    if let Ok(b) = raw.parse::<gp_core::BuildId>() {
        return Ok(b.to_string());
    }
    if let Some((date, seq)) = raw.split_once('-')
        && date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && let Ok(seq) = seq.parse::<u8>()
    {
        let year: u32 = date[0..4].parse().unwrap_or(0);
        let month: u8 = date[4..6].parse().unwrap_or(0);
        let day: u8 = date[6..8].parse().unwrap_or(0);
        if (2000..2100).contains(&year) {
            return gp_core::BuildId::new(day, month, (year % 100) as u8, seq)
                .map(|b| b.to_string())
                .map_err(|e| format!("legacy build id `{raw}`: {e}"));
        }
    }
    Err(format!(
        "build_id `{raw}` is neither DD-MM-YY-NN nor the legacy YYYYMMDD-NN"
    ))
}

/// A stable id from content, so re-imports are recognised.
fn content_id(parts: &[&str]) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x8422_2325_cbf2_9ce4;
    for p in parts {
        for byte in p.bytes().chain(std::iter::once(0u8)) {
            a ^= u64::from(byte);
            a = a.wrapping_mul(0x0100_0000_01b3);
            b = (b ^ u64::from(byte))
                .wrapping_mul(0x0000_0100_0000_01b3)
                .rotate_left(7);
        }
    }
    format!("{a:016x}{b:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_ids_are_read_as_build_ids() {
        assert_eq!(normalise_build_id("20250115-06").unwrap(), "15-01-25-06");
        assert_eq!(normalise_build_id("23-01-26-01").unwrap(), "23-01-26-01");
        assert_eq!(normalise_build_id("").unwrap(), "");
        assert!(normalise_build_id("20251315-06").is_err());
        assert!(normalise_build_id("build-7").is_err());
    }

    #[test]
    fn seconds_are_trimmed() {
        assert_eq!(seconds(12_000), "12");
        assert_eq!(seconds(12_500), "12.5");
        assert_eq!(seconds(1), "0.001");
    }
}
