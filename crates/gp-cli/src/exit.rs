//! Exit codes and how errors map to them.
//!
//! 0 ok; 1 the operation failed; 2 invalid input or usage; 3 refused by a
//! guard (approval missing, protected resource, reused build id).

use std::process::ExitCode;

use gp_core::InvalidInput;

use crate::printer::{ClosedPipe, Printer};

/// An error that says which exit code it means and what to do next.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    /// Exit status.
    pub code: Code,
    /// What went wrong.
    pub message: String,
    /// The next command to run, or what to change.
    pub hint: Option<String>,
}

pub use crate::classify::Code;

impl CliError {
    /// Invalid input or usage (exit 2).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: Code::Invalid,
            message: message.into(),
            hint: None,
        }
    }

    /// Refused by a guard (exit 3).
    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            code: Code::Refused,
            message: message.into(),
            hint: None,
        }
    }

    /// The operation failed (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            code: Code::Failed,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// A failure that was already reported in full (e.g. a table of findings);
/// only the exit code remains to be set.
#[derive(Debug, thiserror::Error)]
#[error("already reported")]
pub struct Reported(pub Code);

/// Prints `err` the way users read it and returns the exit code.
pub fn report(printer: &Printer, err: &anyhow::Error) -> ExitCode {
    if err.downcast_ref::<ClosedPipe>().is_some() {
        return ExitCode::SUCCESS;
    }
    if let Some(Reported(code)) = err.downcast_ref::<Reported>() {
        return ExitCode::from(*code as u8);
    }
    // Typed errors anywhere in the chain decide the code.
    let mut code = Code::Failed;
    let mut hint: Option<String> = None;
    for cause in err.chain() {
        let invalid = cause.downcast_ref::<InvalidInput>().or_else(|| match cause
            .downcast_ref::<gp_engine::EngineError>(
        ) {
            Some(gp_engine::EngineError::Invalid(i)) => Some(i),
            _ => None,
        });
        if let Some(invalid) = invalid {
            for d in &invalid.0 {
                printer.error(&d.to_string(), &[], d.hint.as_deref());
            }
            if invalid.0.len() > 1 {
                printer.status(&format!("{} problems found", invalid.0.len()));
            }
            let first = invalid.0.first();
            json_error(
                printer,
                crate::outputs::ErrorDetail {
                    code: Code::Invalid as u8,
                    message: match invalid.0.len() {
                        1 => first.map(|d| d.message.clone()).unwrap_or_default(),
                        n => format!("{n} problems found"),
                    },
                    causes: Vec::new(),
                    hint: first.and_then(|d| d.hint.clone()),
                    diagnostics: invalid
                        .0
                        .iter()
                        .map(crate::outputs::DiagnosticJson::from)
                        .collect(),
                },
            );
            return ExitCode::from(Code::Invalid as u8);
        }
        if let Some(e) = cause.downcast_ref::<CliError>() {
            code = e.code;
            hint = hint.or_else(|| e.hint.clone());
            break;
        }
        if let Some(c) = crate::classify::classify(cause) {
            code = c.0;
            hint = hint.or(c.1);
            break;
        }
    }
    let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
    let mut causes_dedup: Vec<String> = Vec::new();
    let top = err.to_string();
    for c in causes {
        if c != top && !causes_dedup.contains(&c) {
            causes_dedup.push(c);
        }
    }
    printer.error(&top, &causes_dedup, hint.as_deref());
    json_error(
        printer,
        crate::outputs::ErrorDetail {
            code: code as u8,
            message: top,
            causes: causes_dedup,
            hint,
            diagnostics: Vec::new(),
        },
    );
    ExitCode::from(code as u8)
}

/// With `--output json`, the error on stdout too: as the last line of a
/// stream, or as the document of a command that printed none.
fn json_error(printer: &Printer, error: crate::outputs::ErrorDetail) {
    if !printer.is_json() {
        return;
    }
    if printer.streaming() {
        let _ = printer.json_line(&crate::outputs::ErrorLine {
            event: crate::outputs::ErrorTag::Error,
            error,
        });
    } else if !printer.wrote() {
        let _ = printer.json(&crate::outputs::ErrorOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            error,
        });
    }
}
