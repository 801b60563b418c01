//! What goes wrong in a driver, and whether retrying can help.

use super::*;

/// Whether trying again can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The settings or the environment are wrong; fix them first.
    Configuration,
    /// Transient (network, lock, server starting); retrying may succeed.
    Retryable,
    /// The operation failed and will fail again.
    Permanent,
    /// The thing looked for does not exist.
    NotFound,
    /// A guard refused (protected resource, ownership conflict); exit 3.
    Refused,
    /// The run was interrupted before the action finished.
    Interrupted,
}

/// A driver failure.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct DriverError {
    /// Whether retrying can help.
    pub kind: ErrorKind,
    /// What happened (never contains a secret).
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
    /// Positioned problems in input files, when there are any.
    pub diagnostics: Vec<Diagnostic>,
}

impl DriverError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
            diagnostics: Vec::new(),
        }
    }
    /// A configuration error.
    pub fn configuration(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Configuration, message)
    }
    /// A transient failure.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Retryable, message)
    }
    /// A lasting failure.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Permanent, message)
    }
    /// Something is missing.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// A guard refused.
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Refused, message)
    }
    /// The run was interrupted.
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Interrupted, message)
    }
    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Attaches positioned diagnostics.
    pub fn with_diagnostics(mut self, d: Vec<Diagnostic>) -> Self {
        self.diagnostics = d;
        self
    }
}
