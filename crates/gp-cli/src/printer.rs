//! The one place that writes to stdout and stderr.
//!
//! Stdout carries data (tables, JSON documents, JSON Lines events); stderr
//! carries errors, warnings and progress. A closed stdout pipe is not an
//! error: the command stops quietly.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, IsTerminal, Write};

use serde::Serialize;

/// `--output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Output {
    /// Human-readable tables and messages.
    #[default]
    Text,
    /// One JSON document (or JSON Lines for streams) on stdout.
    Json,
    /// SARIF 2.1.0 from `validate`, `docs check` and `policy check`, for
    /// code-scanning annotations; other commands refuse it (exit 2).
    Sarif,
    /// For GitHub Actions: annotations from `validate`, `docs check` and
    /// `policy check` (for docs also a Markdown summary); `plan`, `deploy`,
    /// `teardown`, `status`, `drift`, `request` and `ci` print text and write the
    /// job summary, step outputs and the files a workflow posts, their
    /// errors and warnings also as annotations; other commands refuse it
    /// (exit 2).
    Github,
}

/// Raised when stdout was closed under us; `run` turns it into a quiet exit.
#[derive(Debug, thiserror::Error)]
#[error("stdout closed")]
pub struct ClosedPipe;

/// Writes everything the user sees.
#[derive(Clone, Debug)]
pub struct Printer {
    output: Output,
    color: bool,
    stderr_tty: bool,
    /// Something was written to stdout.
    wrote: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// A JSON Lines stream was started on stdout.
    streaming: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The process's arguments that hold control characters: wherever a
    /// message echoes one, it is shown escaped (a newline too).
    hostile_args: std::sync::Arc<Vec<String>>,
    /// Errors and warnings also go to stdout as GitHub Actions annotations
    /// (`--output github` of a command that does not write its own).
    annotate: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// A message's `file:line:col: ` position, if it starts with one.
fn position(message: &str) -> Option<(&str, u32, u32, &str)> {
    let (at, rest) = message.split_once(": ")?;
    let mut parts = at.rsplitn(3, ':');
    let col = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    let file = parts.next().filter(|f| !f.is_empty())?;
    Some((file, line, col, rest))
}

impl Printer {
    /// A printer for this process: colour only on a terminal and without
    /// `NO_COLOR`.
    pub fn new(output: Output) -> Self {
        let stderr_tty = io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            output,
            color: stderr_tty && !no_color,
            stderr_tty,
            wrote: Default::default(),
            streaming: Default::default(),
            hostile_args: std::sync::Arc::new(
                std::env::args_os()
                    .skip(1)
                    .map(|a| a.to_string_lossy().into_owned())
                    .filter(|a| a.chars().any(char::is_control))
                    .collect(),
            ),
            annotate: Default::default(),
        }
    }

    /// From now on, errors and warnings are also GitHub Actions
    /// annotations on stdout.
    pub fn annotate_messages(&self) {
        self.annotate
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The annotation of an error or warning, when annotations are on.
    fn annotation(&self, error: bool, text: &str) {
        if !self.annotate.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let a = match position(text) {
            // A diagnostic's first line; its source excerpt is the file's.
            Some((file, line, column, message)) => gp_core::annotate::Annotation {
                error,
                file: file.to_string(),
                line,
                column,
                rule: "goldenpath".into(),
                message: message.lines().next().unwrap_or_default().to_string(),
            },
            None => gp_core::annotate::Annotation {
                error,
                file: String::new(),
                line: 0,
                column: 0,
                rule: "goldenpath".into(),
                message: text.to_string(),
            },
        };
        let _ = self.data(gp_core::annotate::github(&[a]).trim_end());
    }

    /// A message as it may reach stderr: an argument echoed in it is
    /// escaped whole (its newlines too, so it cannot forge a line), then
    /// any other control character but newline and tab.
    fn message(&self, text: &str) -> String {
        let mut text = text.to_string();
        for a in self.hostile_args.iter() {
            let escaped: String = a
                .chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_unicode().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            text = text.replace(a.as_str(), &escaped);
        }
        visible(&text).into_owned()
    }

    /// Whether anything was written to stdout yet.
    pub fn wrote(&self) -> bool {
        self.wrote.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether stdout carries a JSON Lines stream.
    pub fn streaming(&self) -> bool {
        self.streaming.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The selected output format.
    pub fn output(&self) -> Output {
        self.output
    }

    /// Whether JSON was asked for.
    pub fn is_json(&self) -> bool {
        matches!(self.output, Output::Json | Output::Sarif)
    }

    /// Whether stderr is a terminal (progress bars are drawn only then, and
    /// never in JSON mode).
    pub fn progress_allowed(&self) -> bool {
        self.stderr_tty && self.output == Output::Text
    }

    /// Writes text to stdout, adding a final newline if missing.
    pub fn data(&self, text: &str) -> Result<(), ClosedPipe> {
        self.wrote.store(true, std::sync::atomic::Ordering::SeqCst);
        let text = &visible(text);
        let mut out = io::stdout().lock();
        let r = if text.ends_with('\n') || text.is_empty() {
            out.write_all(text.as_bytes())
        } else {
            out.write_all(text.as_bytes())
                .and_then(|_| out.write_all(b"\n"))
        };
        r.and_then(|_| out.flush()).map_err(|_| ClosedPipe)
    }

    /// Writes one pretty JSON document to stdout.
    pub fn json<T: Serialize>(&self, value: &T) -> Result<(), ClosedPipe> {
        let text = serde_json::to_value(value)
            .map(|mut v| {
                crate::outputs::with_times(&mut v);
                v
            })
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise output: {e}\"}}"));
        self.data(&text)
    }

    /// Writes one compact JSON line to stdout (for event streams).
    pub fn json_line<T: Serialize>(&self, value: &T) -> Result<(), ClosedPipe> {
        self.streaming
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let text = serde_json::to_value(value)
            .map(|mut v| {
                crate::outputs::with_times(&mut v);
                v
            })
            .and_then(|v| serde_json::to_string(&v))
            .unwrap_or_default();
        self.data(&text)
    }

    /// A status line on stderr (e.g. "created goldenpath.yaml").
    pub fn status(&self, text: &str) {
        let mut line = self.message(text);
        line.push('\n');
        // One write per line (stderr has no buffer: `writeln!` would make
        // the text and its newline two system calls).
        let _ = io::stderr().lock().write_all(line.as_bytes());
    }

    /// Status lines on stderr in one write, each as [`Printer::status`]
    /// would print it.
    pub fn status_lines(&self, lines: &[String]) {
        let mut text = String::new();
        for l in lines {
            text.push_str(&self.message(l));
            text.push('\n');
        }
        let _ = io::stderr().lock().write_all(text.as_bytes());
    }

    /// A warning on stderr.
    pub fn warn(&self, text: &str) {
        let label = self.paint("warning:", "33");
        let text = self.message(text);
        let _ = writeln!(io::stderr().lock(), "{label} {text}");
        self.annotation(false, &text);
    }

    /// An error, its causes and a hint, on stderr.
    pub fn error(&self, message: &str, causes: &[String], hint: Option<&str>) {
        let mut err = io::stderr().lock();
        let label = self.paint("error:", "31");
        let _ = writeln!(err, "{label} {}", self.message(message));
        for cause in causes {
            let _ = writeln!(
                err,
                "  {} {}",
                self.paint("caused by:", "2"),
                self.message(cause)
            );
        }
        if let Some(hint) = hint {
            let _ = writeln!(err, "{} {}", self.paint("hint:", "36"), self.message(hint));
        }
        drop(err);
        self.annotation(true, &self.message(message));
    }

    /// Wraps `text` in an ANSI colour when colour is on.
    pub fn paint(&self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[1;{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// A path as the user would type it: relative to the current directory
/// when it lies below it.
pub fn shown(path: &std::path::Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Text as it may reach a terminal: control characters other than newline
/// and tab (an escape sequence from a registry row or a file name) are shown
/// escaped, never sent raw.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() && c != '\n' && c != '\t' {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// The widest a table cell is shown; longer values are cut with `…` (the
/// full value is in `--output json`).
pub const MAX_CELL: usize = 512;

/// The commands to run next, each once, in order: `next: CMD` lines after
/// a blank line, or nothing.
pub fn next_steps<'a>(commands: impl IntoIterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for c in commands {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    if seen.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n");
    for c in seen {
        out.push_str("next: ");
        out.push_str(&visible(c));
        out.push('\n');
    }
    out
}

/// Renders rows as an aligned text table with a header; no line ends in
/// blanks.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cut: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| {
                    let c = c.replace(['\n', '\t'], " ");
                    if c.chars().count() > MAX_CELL {
                        let mut s: String = c.chars().take(MAX_CELL - 1).collect();
                        s.push('…');
                        s
                    } else {
                        c
                    }
                })
                .collect()
        })
        .collect();
    let rows = &cut;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        let kept = out.trim_end_matches(' ').len();
        out.truncate(kept);
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_align() {
        let t = super::table(
            &["NAME", "STATE"],
            &[
                vec!["a".into(), "ok".into()],
                vec!["long-name".into(), "x".into()],
            ],
        );
        assert_eq!(t, "NAME       STATE\na          ok\nlong-name  x\n");
        let t = super::table(&["A", "B"], &[vec!["x".into(), String::new()]]);
        assert_eq!(
            t, "A  B\nx\n",
            "an empty last cell leaves no trailing blanks"
        );
    }

    #[test]
    fn an_echoed_argument_is_escaped_whole_and_other_newlines_kept() {
        let mut p = super::Printer::new(super::Output::Text);
        p.hostile_args = std::sync::Arc::new(vec!["dev\nerror: forged\u{1b}[2J".into()]);
        assert_eq!(
            p.message("no environment `dev\nerror: forged\u{1b}[2J`\nnext line"),
            "no environment `dev\\u{a}error: forged\\u{1b}[2J`\nnext line"
        );
        assert_eq!(p.message("plain\u{7}"), "plain\\u{7}");
    }

    #[test]
    fn a_message_position_is_read_only_in_its_exact_form() {
        assert_eq!(
            super::position("requests/a.yaml:3:15: bad name\n  | x"),
            Some(("requests/a.yaml", 3, 15, "bad name\n  | x"))
        );
        assert_eq!(
            super::position("c:/x.yaml:1:2: m"),
            Some(("c:/x.yaml", 1, 2, "m"))
        );
        for none in [
            "no position here",
            "a.yaml:3: m",
            ":3:4: m",
            "a.yaml:x:4: m",
        ] {
            assert_eq!(super::position(none), None, "{none}");
        }
    }

    #[test]
    fn escapes_and_huge_cells_never_reach_the_terminal_raw() {
        assert_eq!(super::visible("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        // Newlines and tabs are text, kept as they are, even beside an
        // escape.
        assert_eq!(super::visible("a\nb\tc"), "a\nb\tc");
        assert!(matches!(
            super::visible("a\nb\tc"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(super::visible("\u{1b}\n\t\r"), "\\u{1b}\n\t\\u{d}");
        let t = super::table(&["X"], &[vec!["y".repeat(10_000)]]);
        assert!(t.len() < 600, "{}", t.len());
    }
}
