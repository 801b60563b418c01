//! The baseline: today's findings, recorded in a committed file, so a
//! repository can turn the gate on without fixing everything first.
//!
//! An entry is keyed by file, rule and the finding's message with positions
//! and trailing parenthesised detail removed (the allowed values, where an
//! inherited value came from): never by line, so moving a line does not
//! make its finding new. Several equal findings in one file are one entry
//! with a count. `docs check` with a baseline reports only the findings
//! beyond it, and the entries that no longer occur (so the file can shrink).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{DocsError, Finding};

/// The baseline's file name at the repository root.
pub const FILE: &str = "goldenpath-docs-baseline.json";

/// The file.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Baseline {
    /// Version of this shape.
    pub schema_version: u32,
    /// Accepted findings.
    pub entries: Vec<Entry>,
}

/// One accepted finding (or several equal ones in a file).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entry {
    /// The file, relative to the root.
    pub file: String,
    /// Rule id.
    pub rule: String,
    /// The normalised message.
    pub message: String,
    /// How many equal findings the file had.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// A message without positions (`file.yaml:3:5`, `line 7`) and without
/// its trailing parenthesised detail.
pub fn normalise(message: &str) -> String {
    let mut m = message.trim_end().to_string();
    // Trailing "(...)" groups: allowed values, inherited-from notes, hints.
    while m.ends_with(')') {
        let mut depth = 0usize;
        let mut open = None;
        for (i, c) in m.char_indices().rev() {
            match c {
                ')' => depth += 1,
                '(' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        open = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        match open {
            Some(i) if i > 0 && m[..i].ends_with(' ') => m = m[..i].trim_end().to_string(),
            _ => break,
        }
    }
    // `:LINE:COL` and `:LINE` after a name.
    let mut out = String::with_capacity(m.len());
    let mut chars = m.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars
                .peek()
                .is_some_and(|d| d.is_ascii_digit() || *d == ':')
            {
                chars.next();
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn key(f: &Finding) -> (String, String, String) {
    (f.file.clone(), f.rule.clone(), normalise(&f.message))
}

impl Baseline {
    /// The baseline of these findings.
    pub fn of(findings: &[Finding]) -> Baseline {
        let mut counts: BTreeMap<(String, String, String), u32> = BTreeMap::new();
        for f in findings {
            *counts.entry(key(f)).or_default() += 1;
        }
        Baseline {
            schema_version: 1,
            entries: counts
                .into_iter()
                .map(|((file, rule, message), count)| Entry {
                    file,
                    rule,
                    message,
                    count,
                })
                .collect(),
        }
    }

    /// Reads a baseline file; a malformed one is an error naming its line
    /// and column.
    pub fn load(path: &Path, shown: &Path) -> Result<Baseline, DocsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| DocsError::Usage(format!("cannot read {}: {e}", shown.display())))?;
        serde_json::from_str(&text).map_err(|e| {
            DocsError::Invalid(gp_core::InvalidInput(vec![gp_core::diag::Diagnostic::at(
                shown,
                &text,
                gp_core::yaml::Pos {
                    line: u32::try_from(e.line()).unwrap_or(u32::MAX),
                    col: u32::try_from(e.column()).unwrap_or(u32::MAX),
                    offset: 0,
                },
                format!("not a docs baseline: {e}"),
            )]))
        })
    }

    /// The file's text: pretty JSON, one entry per object, sorted.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Splits findings into the new ones and the number accepted by the
    /// baseline; returns also the entries (with the count) no longer seen.
    pub fn apply(&self, findings: Vec<Finding>) -> (Vec<Finding>, usize, Vec<Entry>) {
        let mut left: BTreeMap<(String, String, String), u32> = BTreeMap::new();
        for e in &self.entries {
            *left
                .entry((e.file.clone(), e.rule.clone(), e.message.clone()))
                .or_default() += e.count;
        }
        let mut fresh = Vec::new();
        let mut accepted = 0;
        // Findings arrive sorted by file and position: the first ones of a
        // key are the accepted ones.
        for f in findings {
            match left.get_mut(&key(&f)) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    accepted += 1;
                }
                _ => fresh.push(f),
            }
        }
        let gone = left
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|((file, rule, message), count)| Entry {
                file,
                rule,
                message,
                count,
            })
            .collect();
        (fresh, accepted, gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_lose_positions_and_detail() {
        assert_eq!(
            normalise("`status` is `x`, not a value of enum `s` (allowed: a, b)"),
            "`status` is `x`, not a value of enum `s`"
        );
        assert_eq!(
            normalise("`owner` is `1` (inherited from docs/metadata.yaml:3:8)"),
            "`owner` is `1`"
        );
        assert_eq!(
            normalise("see docs/a.md:12:4 for the other"),
            "see docs/a.md for the other"
        );
        assert_eq!(
            normalise("emoji 🚀 is not in the allowed set (✅ ❌)"),
            "emoji 🚀 is not in the allowed set"
        );
    }
}
