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

    fn finding(file: &str, line: u32, rule: &str, message: &str) -> Finding {
        Finding {
            file: file.into(),
            line,
            column: 1,
            rule: rule.into(),
            level: crate::Level::Error,
            message: message.into(),
        }
    }

    #[test]
    fn nested_and_inner_parentheses_are_kept_or_cut_as_a_whole() {
        // A trailing group with groups inside goes whole.
        assert_eq!(normalise("x is wrong (see (a) and (b))"), "x is wrong");
        // Several trailing groups go, one after another.
        assert_eq!(normalise("x (a) (b)"), "x");
        // A group that is part of a word stays: no space before it.
        assert_eq!(normalise("call f(x)"), "call f(x)");
        // A message that is only a group stays.
        assert_eq!(normalise("(only)"), "(only)");
        // An unbalanced close stays.
        assert_eq!(normalise("x )"), "x )");
        // Trailing blanks go; a colon not before a digit stays.
        assert_eq!(normalise("key: value  "), "key: value");
        assert_eq!(normalise("a.md:7 and b.md:1:2:"), "a.md and b.md");
    }

    #[test]
    fn a_baseline_counts_equal_findings_once_per_key_and_sorts() {
        let b = Baseline::of(&[
            finding("b.md", 3, "r", "m (detail)"),
            finding("a.md", 9, "r", "m"),
            finding("a.md", 1, "r", "m"),
            finding("a.md", 2, "s", "m"),
        ]);
        assert_eq!(b.schema_version, 1);
        let got: Vec<(&str, &str, &str, u32)> = b
            .entries
            .iter()
            .map(|e| {
                (
                    e.file.as_str(),
                    e.rule.as_str(),
                    e.message.as_str(),
                    e.count,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a.md", "r", "m", 2),
                ("a.md", "s", "m", 1),
                ("b.md", "r", "m", 1)
            ]
        );
        // A count of one is left out of the file, and read back as one.
        let text = b.to_text();
        assert!(text.ends_with('\n'));
        assert_eq!(text.matches("\"count\"").count(), 1, "{text}");
        let back: Baseline = serde_json::from_str(&text).unwrap();
        assert_eq!(back.entries, b.entries);
    }

    #[test]
    fn only_findings_beyond_the_baseline_are_new_and_what_is_gone_is_named() {
        let b = Baseline::of(&[
            finding("a.md", 1, "r", "m"),
            finding("a.md", 2, "r", "m"),
            finding("c.md", 1, "r", "gone"),
        ]);
        // The same finding moved to another line is still accepted; a third
        // equal one is new; another rule or file is new.
        let (fresh, accepted, gone) = b.apply(vec![
            finding("a.md", 10, "r", "m"),
            finding("a.md", 11, "r", "m"),
            finding("a.md", 12, "r", "m"),
            finding("a.md", 13, "s", "m"),
            finding("b.md", 1, "r", "m"),
        ]);
        assert_eq!(accepted, 2);
        let fresh: Vec<(String, u32, String)> = fresh
            .into_iter()
            .map(|f| (f.file, f.line, f.rule))
            .collect();
        assert_eq!(
            fresh,
            [
                ("a.md".to_string(), 12, "r".to_string()),
                ("a.md".into(), 13, "s".into()),
                ("b.md".into(), 1, "r".into())
            ]
        );
        assert_eq!(
            gone,
            [Entry {
                file: "c.md".into(),
                rule: "r".into(),
                message: "gone".into(),
                count: 1
            }]
        );
        // An entry partly used names what is left of it.
        let (_, accepted, gone) = b.apply(vec![finding("a.md", 1, "r", "m")]);
        assert_eq!(accepted, 1);
        assert!(
            gone.iter().any(|e| e.file == "a.md" && e.count == 1),
            "{gone:?}"
        );
        // Nothing found: everything is gone, nothing accepted.
        let (fresh, accepted, gone) = b.apply(Vec::new());
        assert!(fresh.is_empty());
        assert_eq!((accepted, gone.len()), (0, 2));
    }

    #[test]
    fn a_malformed_baseline_is_invalid_input_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(
            &path,
            "{\n  \"schemaVersion\": 1,\n  \"entries\": [\n    {\"file\": 3}\n  ]\n}\n",
        )
        .unwrap();
        match Baseline::load(&path, Path::new(FILE)) {
            Err(DocsError::Invalid(i)) => {
                let text = i.to_string();
                assert!(text.contains(&format!("{FILE}:4:")), "{text}");
            }
            other => panic!("{other:?}"),
        }
        match Baseline::load(&dir.path().join("missing.json"), Path::new("missing.json")) {
            Err(DocsError::Usage(m)) => assert!(m.contains("missing.json")),
            other => panic!("{other:?}"),
        }
        std::fs::write(
            &path,
            Baseline::of(&[finding("a.md", 1, "r", "m")]).to_text(),
        )
        .unwrap();
        assert_eq!(
            Baseline::load(&path, Path::new(FILE))
                .unwrap()
                .entries
                .len(),
            1
        );
    }
}
