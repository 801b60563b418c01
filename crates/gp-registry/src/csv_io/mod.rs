//! `build_timings.csv`: export in the platform's 12-column layout, and
//! import of that layout and the older 7-, 9- and 11-column ones.
//!
//! A row is placed by its layout ([`layout`]): the file's header when the
//! row is as wide, otherwise the known layout of its width, and only when
//! every cell can be what its column holds. A row that fits no layout (a
//! cell missing, so the others read shifted; a time that does not parse; a
//! duration that is not a number) is reported with its line and cells and
//! imports nothing. An accepted row's `build_id` places it — a build id,
//! `persistent`, a component of the spec (its foundational deployment),
//! anything else a deployment of that name, kept as written — and every
//! cell is kept as written, so export writes the row back as it was read.
//! Importing the same rows twice, or a registry's own export back into it,
//! adds nothing.

mod import;
pub mod layout;

pub use import::{ImportOptions, ImportReport, RowProblem, import_csv};
pub use layout::HEADER_12;

use std::io::Write;

use crate::time::format_utc;
use crate::{Phase, Registry, RegistryError};

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
pub(super) fn uncell(text: &str) -> &str {
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
                // such column (a header's `workflow_run_url` is the log's
                // place).
                Some(i) => i
                    .cells
                    .get(*name)
                    .or_else(|| {
                        (*name == "log_path")
                            .then(|| i.cells.get("workflow_run_url"))
                            .flatten()
                    })
                    .cloned()
                    .unwrap_or_default(),
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

/// A stable id from content, so re-imports are recognised.
pub(super) fn content_id(parts: &[&str]) -> String {
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
