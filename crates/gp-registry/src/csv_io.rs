//! `build_timings.csv`: export in the platform's 12-column layout, and
//! import of that layout and the older 7-, 9- and 11-column ones.
//!
//! Columns are matched by header name; a row whose width disagrees with the
//! header is read by its own width when that is one of the known layouts.
//! Import keeps every row that has a phase, an environment and a start
//! time: the `build_id` column places it — a build id, `persistent`, a
//! component of the spec (its foundational deployment), anything else a
//! deployment of that name, kept as written — and every cell is kept as
//! written, so export writes the row back as it was read. Only a row
//! without those fields is refused, reported with its line; none is
//! dropped silently. Importing the same rows twice, or a registry's own
//! export back into it, adds nothing.

use std::io::{Read, Write};

use serde::Serialize;

use crate::time::{format_utc, parse_utc};
use crate::{Phase, Registry, RegistryError};

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
/// The oldest layout: no exit code, flags or resource counts.
const HEADER_7: [&str; 7] = [
    "start_time_utc",
    "end_time_utc",
    "phase",
    "env",
    "build_id",
    "duration_seconds",
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

/// A cell a spreadsheet would run as a formula is written with a leading
/// `'`, as spreadsheet tools expect, and import takes it off again: one
/// that starts with `=`, `@`, a tab or a carriage return, or with `+` or
/// `-` unless it is a number or command-line flags (`--auto-approve -lock=false`),
/// which stay as written so a real file survives a round trip byte for byte.
fn cell(text: String) -> String {
    if needs_escape(&text) {
        format!("'{text}")
    } else {
        text
    }
}

fn needs_escape(text: &str) -> bool {
    match text.chars().next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => !(text.parse::<f64>().is_ok() || is_flags(text)),
        _ => false,
    }
}

/// `--flag`, `-x`, `--key=value`, separated by single spaces, of the
/// characters options are made of: nothing a formula (`(`, `|`, `!`, quotes)
/// needs.
fn is_flags(text: &str) -> bool {
    text.split(' ').all(|t| {
        t.starts_with('-')
            && t.len() > 1
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=.,/:".contains(&b))
    })
}

/// The value of a cell written by [`cell`].
fn uncell(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if needs_escape(rest) => rest,
        _ => text,
    }
}

fn opt(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Writes every finished phase (of `env`) as 12-column CSV, oldest first.
/// An imported phase is written back with its cells as they were read;
/// goldenpath's own phases name their deployment in `build_id` as the
/// platform's history does: the build id, `persistent`, or the foundational
/// component (`foundational` for a phase of the whole plane).
pub fn export_csv(
    registry: &Registry,
    env: Option<&str>,
    out: &mut dyn Write,
) -> Result<usize, RegistryError> {
    // Every row checked against its chain: a tampered row is an error.
    let phases: Vec<Phase> = match env {
        Some(e) => registry.phases(e, None)?,
        None => registry.all_phases()?,
    };
    let io = |e: csv::Error| RegistryError::Invalid(format!("cannot write CSV: {e}"));
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER_12).map_err(io)?;
    for p in &phases {
        let computed = [
            format_utc(p.started_us),
            p.ended_us.map(format_utc).unwrap_or_default(),
            p.phase.clone(),
            p.env.clone(),
            native_build_id(p),
            p.duration_ms().map(seconds).unwrap_or_default(),
            opt(p.exit_code),
            p.flags.clone().unwrap_or_default(),
            opt(p.added),
            opt(p.changed),
            opt(p.destroyed),
            p.log_path.clone().unwrap_or_default(),
        ];
        let row: Vec<String> = HEADER_12
            .iter()
            .zip(computed)
            .map(|(name, mine)| match &p.imported {
                // What the file said, or nothing where its layout had no
                // such column.
                Some(i) => i.cells.get(*name).cloned().unwrap_or_default(),
                None => mine,
            })
            .map(cell)
            .collect();
        w.write_record(&row).map_err(io)?;
    }
    w.flush()
        .map_err(|e| RegistryError::Invalid(format!("cannot write CSV: {e}")))?;
    Ok(phases.len())
}

/// How goldenpath's own phase names its deployment in `build_id`.
fn native_build_id(p: &Phase) -> String {
    match p.deployment.as_str() {
        "persistent" => "persistent".into(),
        "foundational" => p.component.clone().unwrap_or_else(|| "foundational".into()),
        _ if !p.build_id.is_empty() => p.build_id.clone(),
        other => other.to_string(),
    }
}

/// Where a `build_id` cell places a phase: the deployment key, the
/// foundational component it names, and a note for a value that is none of
/// the known kinds (kept as a deployment of that name).
pub fn place(raw: &str, components: &[String]) -> (String, Option<String>, Option<String>) {
    if raw.is_empty() || raw == "persistent" {
        return ("persistent".into(), None, None);
    }
    if raw == "foundational" {
        return ("foundational".into(), None, None);
    }
    if let Ok(b) = raw.parse::<gp_core::BuildId>()
        && b.to_string() == raw
    {
        return (raw.into(), None, None);
    }
    if components.iter().any(|c| c == raw) {
        return ("foundational".into(), Some(raw.into()), None);
    }
    // A legacy (YYYYMMDD-NN) or malformed id, free text: kept exactly as
    // written, as a deployment of that name (never converted into a date
    // it may not be).
    let key: String = if raw.len() <= 200 {
        raw.into()
    } else {
        let mut cut = 200;
        while !raw.is_char_boundary(cut) {
            cut -= 1;
        }
        format!(
            "{}…{}",
            &raw[..cut],
            content_id(&[raw]).get(..8).unwrap_or_default()
        )
    };
    let note = format!(
        "build_id `{raw}` is not a build id (DD-MM-YY-NN), `persistent` or a component of the spec: kept as written, as a deployment of that name"
    );
    (key, None, Some(note))
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

/// What an import needs to know besides the file.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImportOptions<'a> {
    /// The file's name, recorded with every row.
    pub source: &'a str,
    /// The spec's foundational components: a `build_id` naming one places
    /// the row in the foundational plane.
    pub components: &'a [String],
}

/// Imports phases from CSV. Problems are reported, never fatal; only an
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
                opts,
                &mut report,
            )?;
            continue;
        };
        report.rows += 1;
        let h = h.clone();
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
    let layout: Vec<String> = if fields.len() == header.len() {
        header.to_vec()
    } else {
        match fields.len() {
            12 => HEADER_12.iter().map(|s| s.to_string()).collect(),
            11 => HEADER_11.iter().map(|s| s.to_string()).collect(),
            9 => HEADER_9.iter().map(|s| s.to_string()).collect(),
            7 => HEADER_7.iter().map(|s| s.to_string()).collect(),
            n => {
                report.problems.push(RowProblem {
                    line,
                    reason: format!(
                        "row has {n} columns; the header has {} and the known layouts have 7, 9, 11 or 12",
                        header.len()
                    ),
                });
                return Ok(());
            }
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
    let mut note = |reason: String| report.notes.push(RowProblem { line, reason });
    let mut refusals: Vec<String> = Vec::new();
    let start = get("start_time_utc");
    let started_us = match start {
        None => {
            refusals.push("start_time_utc is empty".into());
            None
        }
        Some(t) => {
            let v = parse_utc(t);
            if v.is_none() {
                refusals.push(format!("start_time_utc `{t}` is not a time"));
            }
            v
        }
    };
    let phase = get("phase");
    if phase.is_none() {
        refusals.push("phase is empty".into());
    }
    let env = get("env");
    if env.is_none() {
        refusals.push("env is empty".into());
    }
    let duration_ms = match get("duration_seconds") {
        None => None,
        Some(d) => match d.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Some((v * 1000.0).round() as i64),
            // The times still say how long it took; the cell stays as
            // written.
            _ if get("end_time_utc").and_then(parse_utc).is_some() => {
                note(format!(
                    "duration_seconds `{d}` is not a number of seconds: kept as written, the duration taken from the times"
                ));
                None
            }
            _ => {
                refusals.push(format!("duration_seconds `{d}` is not a number of seconds"));
                None
            }
        },
    };
    let ended_us = match get("end_time_utc") {
        Some(e) => {
            let v = parse_utc(e);
            if v.is_none() {
                refusals.push(format!("end_time_utc `{e}` is not a time"));
            }
            v
        }
        None => match (started_us, duration_ms) {
            (Some(s), Some(d)) => Some(s + d * 1000),
            _ => {
                if refusals.is_empty() {
                    refusals.push("neither end_time_utc nor duration_seconds is given".into());
                }
                None
            }
        },
    };
    let (Some(started_us), Some(phase), Some(env), Some(ended_us), true) =
        (started_us, phase, env, ended_us, refusals.is_empty())
    else {
        report.problems.push(RowProblem {
            line,
            reason: refusals.join("; "),
        });
        return Ok(());
    };
    // The stored duration is end - start; prefer the recorded duration when
    // the timestamps are only to the second.
    let ended_us = match duration_ms {
        Some(d) if (ended_us - started_us - d * 1000).abs() < 1_000_000 => started_us + d * 1000,
        _ => ended_us,
    };
    // Counts and exit codes that are not whole numbers stay in the cells
    // (and in an export) but count as unknown.
    let mut int = |name: &str| -> Option<i64> {
        let v = get(name)?;
        match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                note(format!(
                    "{name} `{v}` is not a whole number: kept as written, counted as unknown"
                ));
                None
            }
        }
    };
    let exit_code = int("exit_code");
    let added = int("resources_added");
    let changed = int("resources_changed");
    let destroyed = int("resources_destroyed");
    let raw_build = get("build_id").unwrap_or_default();
    let (deployment, component, placed) = place(raw_build, opts.components);
    if let Some(n) = placed {
        note(n);
    }
    let build_id: String = if raw_build.len() <= 200 {
        raw_build.into()
    } else {
        deployment.clone()
    };
    let log = get("log_path").map(str::to_string);
    let phase = Phase {
        run: format!(
            "import-{}",
            content_id(&[
                start.unwrap_or_default(),
                phase,
                env,
                raw_build,
                &ended_us.to_string()
            ])
        ),
        env: env.into(),
        deployment,
        build_id,
        phase: phase.into(),
        component,
        started_us,
        ended_us: Some(ended_us),
        exit_code,
        added,
        changed,
        destroyed,
        flags: get("flags").map(str::to_string),
        // A path or a CI run's URL, as written.
        log_path: log,
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
        Err(RegistryError::Invalid(why)) => report.problems.push(RowProblem { line, reason: why }),
        Err(e) => return Err(e),
    }
    Ok(())
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
    fn build_ids_place_a_row_without_inventing_one() {
        let comps = vec!["rds".to_string()];
        assert_eq!(
            place("23-01-26-01", &comps),
            ("23-01-26-01".into(), None, None)
        );
        assert_eq!(place("persistent", &comps).0, "persistent");
        assert_eq!(place("", &comps).0, "persistent");
        assert_eq!(
            place("rds", &comps),
            ("foundational".into(), Some("rds".into()), None)
        );
        let (key, _, note) = place("20250115-067", &comps);
        assert_eq!(
            key, "20250115-067",
            "a legacy id is kept, never turned into a date"
        );
        assert!(note.is_some());
        let (key, _, _) = place("23-01-26-01 (retry after the outage)", &comps);
        assert_eq!(key, "23-01-26-01 (retry after the outage)");
        assert_eq!(
            place("foundational", &comps),
            ("foundational".into(), None, None)
        );
        // An id that parses but is not written in the canonical form.
        let (key, _, note) = place("1-01-26-01", &comps);
        assert_eq!(key, "1-01-26-01");
        assert!(note.is_some());
        // A very long value: cut at a character boundary, with a digest of
        // the whole so two long values stay apart.
        let long = format!("{}\u{e9}{}", "x".repeat(199), "y".repeat(300));
        let (key, _, _) = place(&long, &comps);
        assert!(key.starts_with(&"x".repeat(199)), "{key}");
        assert_eq!(key.chars().nth(199), Some('\u{2026}'), "{key}");
        assert_eq!(key.chars().count(), 199 + 1 + 8);
        let other = format!("{}\u{e9}{}", "x".repeat(199), "z".repeat(300));
        assert_ne!(place(&other, &comps).0, key);
        // Exactly 200 bytes: kept whole.
        let exact = "w".repeat(200);
        assert_eq!(place(&exact, &comps).0, exact);
    }

    #[test]
    fn only_formula_cells_are_escaped() {
        assert_eq!(cell("=HYPERLINK(\"x\")".into()), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+cmd|' /C calc'!A0".into()), "'+cmd|' /C calc'!A0");
        assert_eq!(
            cell("-2+3+cmd|' /C calc'!A0".into()),
            "'-2+3+cmd|' /C calc'!A0"
        );
        assert_eq!(
            cell("--auto-approve -lock=false".into()),
            "--auto-approve -lock=false"
        );
        assert_eq!(cell("-1".into()), "-1");
        assert_eq!(uncell("'=x"), "=x");
        assert_eq!(uncell("'--auto-approve"), "'--auto-approve");
    }

    #[test]
    fn seconds_are_trimmed() {
        assert_eq!(seconds(12_000), "12");
        assert_eq!(seconds(12_500), "12.5");
        assert_eq!(seconds(1), "0.001");
    }
}
