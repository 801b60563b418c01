//! Input diagnostics: an error tied to a file, line and column.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::yaml::Pos;

/// An error in a file the user wrote, with where it is and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as the user named it.
    pub file: PathBuf,
    /// Where in the file; `None` when the problem is the file as a whole.
    pub pos: Option<Pos>,
    /// What is wrong and what was expected.
    pub message: String,
    /// The source line at `pos`, shown with a caret under the column.
    pub source_line: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `pos` in `file`, quoting the line from `source`.
    pub fn at(file: &Path, source: &str, pos: Pos, message: impl Into<String>) -> Self {
        let source_line = source
            .lines()
            .nth(pos.line.saturating_sub(1) as usize)
            .map(|l| quoted_line(l.trim_end_matches('\r')));
        Self {
            file: file.to_path_buf(),
            pos: Some(pos),
            message: message.into(),
            source_line,
            hint: None,
        }
    }

    /// A diagnostic about a file as a whole.
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            pos: None,
            message: message.into(),
            source_line: None,
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a hint if there is one.
    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// `file:line:col`, or just `file`.
    pub fn location(&self) -> String {
        match self.pos {
            Some(p) => format!("{}:{}:{}", self.file.display(), p.line, p.col),
            None => self.file.display().to_string(),
        }
    }
}

/// Renders as
///
/// ```text
/// goldenpath.yaml:3:5: unknown field `teir`, expected one of ...
///   |
/// 3 |     teir: 1
///   |     ^
/// ```
///
/// The hint is left to the caller, which prints it after any `caused by:` lines.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)?;
        if let (Some(pos), Some(line)) = (self.pos, &self.source_line) {
            let number = pos.line.to_string();
            let pad = " ".repeat(number.len());
            // The caret sits under the column, counting characters; tabs are
            // kept so the caret lines up with what the terminal shows.
            let lead: String = line
                .chars()
                .take(pos.col.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{pad} |\n{number} | {line}\n{pad} | {lead}^")?;
        }
        Ok(())
    }
}

/// One or more diagnostics about input; the error type of every loader.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct InvalidInput(pub Vec<Diagnostic>);

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl From<Diagnostic> for InvalidInput {
    fn from(d: Diagnostic) -> Self {
        Self(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_line_with_a_caret() {
        let d = Diagnostic::at(
            Path::new("x.yaml"),
            "a: 1\n  bad: 2\n",
            Pos {
                line: 2,
                col: 3,
                offset: 7,
            },
            "unknown field `bad`",
        );
        assert_eq!(
            d.to_string(),
            "x.yaml:2:3: unknown field `bad`\n  |\n2 |   bad: 2\n  |   ^"
        );
    }
}

/// How much of a source line a diagnostic quotes.
const QUOTED_CHARS: usize = 200;

/// A source line as a diagnostic quotes it: at most [`QUOTED_CHARS`]
/// characters, so that a huge value is never echoed back whole.
fn quoted_line(line: &str) -> String {
    match line.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod quoted {
    #[test]
    fn a_long_line_is_cut() {
        let long = "x".repeat(10_000);
        let d = super::Diagnostic::at(
            std::path::Path::new("f"),
            &long,
            crate::yaml::Pos {
                line: 1,
                col: 1,
                offset: 0,
            },
            "m",
        );
        assert_eq!(
            d.source_line.as_deref().map(|l| l.chars().count()),
            Some(201)
        );
    }
}
