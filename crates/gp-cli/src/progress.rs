//! Drawing engine events: a line per running component on a terminal,
//! plain lines otherwise, JSON Lines with `--output json`.
#![allow(clippy::print_stderr)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use gp_engine::{Event, EventSink};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::printer::Printer;

/// Renders events for one run.
pub struct Progress {
    printer: Printer,
    verbose: bool,
    /// With `--output json`, stream events as JSON Lines (a run) or drop
    /// them (a command whose output is one document).
    stream: bool,
    bars: Option<Mutex<(MultiProgress, HashMap<String, ProgressBar>)>>,
}

impl Progress {
    /// A run's renderer (`deploy`, `teardown`): bars only on a terminal;
    /// with `--output json`, every event as a JSON line.
    pub fn new(printer: &Printer, verbose: bool) -> Self {
        let bars = printer
            .progress_allowed()
            .then(|| Mutex::new((MultiProgress::new(), HashMap::new())));
        Self {
            printer: printer.clone(),
            verbose,
            stream: true,
            bars,
        }
    }

    /// For a command that prints one document: lines on stderr in text
    /// mode (with `-v`, the steps' output), nothing in JSON.
    pub fn for_command(printer: &Printer, verbose: bool) -> Self {
        Self {
            stream: false,
            ..Self::new(printer, verbose)
        }
    }

    fn line(&self, text: &str) {
        match &self.bars {
            Some(b) => {
                if let Ok(b) = b.lock() {
                    let _ = b.0.println(text);
                }
            }
            None => self.printer.status(text),
        }
    }
}

impl EventSink for Progress {
    fn emit(&self, event: &Event) {
        if self.printer.is_json() {
            // JSON Lines on stdout: the event stream is the data. A step's
            // own output (Terraform's lines) only with -v, as in text.
            if self.stream && (self.verbose || !matches!(event, Event::Log { .. })) {
                let _ = self.printer.json_line(event);
            }
            return;
        }
        match event {
            Event::RunStarted {
                env,
                deployment,
                operation,
                components,
                ..
            } => {
                if *components == 0 {
                    self.line(&format!("{operation} {deployment} of {env}"));
                } else {
                    self.line(&format!(
                        "{operation} {deployment} of {env}: {components} component(s)"
                    ));
                }
            }
            Event::ComponentStarted { component, action } => match &self.bars {
                Some(b) => {
                    if let Ok(mut b) = b.lock() {
                        let bar = b.0.add(ProgressBar::new_spinner());
                        bar.set_style(
                            ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                        bar.set_message(format!("{action:<7} {component}"));
                        bar.enable_steady_tick(Duration::from_millis(120));
                        b.1.insert(component.clone(), bar);
                    }
                }
                None => self.line(&format!("  {action:<9} {component} ...")),
            },
            Event::ComponentFinished {
                component,
                action,
                duration_ms,
                added,
                changed,
                destroyed,
            } => {
                if let Some(b) = &self.bars
                    && let Ok(mut b) = b.lock()
                    && let Some(bar) = b.1.remove(component)
                {
                    bar.finish_and_clear();
                }
                self.line(&format!(
                    "  {:<9} {component} ({:.1}s, +{added} ~{changed} -{destroyed})",
                    past(action),
                    *duration_ms as f64 / 1000.0
                ));
            }
            Event::ComponentUnchanged { component } => {
                self.line(&format!("  unchanged {component}"))
            }
            Event::DependencyReady { component } => {
                self.line(&format!("  ready     {component} (foundational)"))
            }
            Event::ComponentSkipped { component, .. } => {
                self.line(&format!("  skipped   {component}"))
            }
            // Why it waits is in the table at the end, once.
            Event::ComponentPending { component, .. } => {
                self.line(&format!("  pending   {component}"))
            }
            Event::ComponentBlocked { component, .. } => {
                self.line(&format!("  blocked   {component}"))
            }
            Event::DependencyNotDeployed { component, .. } => {
                self.line(&format!("  not-deployed {component} (foundational)"))
            }
            Event::ComponentFailed {
                component,
                error,
                hint,
                refused,
            } => {
                if let Some(b) = &self.bars
                    && let Ok(mut b) = b.lock()
                    && let Some(bar) = b.1.remove(component)
                {
                    bar.finish_and_clear();
                }
                let label = if *refused {
                    self.printer.paint("refused ", "31")
                } else {
                    self.printer.paint("failed  ", "31")
                };
                self.line(&format!("  {label}  {component}: {error}"));
                if let Some(h) = hint {
                    self.line(&format!("            {h}"));
                }
            }
            Event::Retrying {
                component,
                attempt,
                error,
            } => {
                self.line(&format!(
                    "  retrying  {component} (attempt {attempt}): {error}"
                ));
            }
            Event::ResourceDestroyed {
                component,
                resource,
            } => {
                self.line(&format!("  destroyed {component}: {resource}"));
            }
            Event::ResourceDestroyFailed {
                component,
                resource,
                error,
            } => {
                self.line(&format!("  failed    {component}: {resource}: {error}"));
            }
            Event::PolicyFinding {
                component,
                rule,
                severity,
                message,
                file,
                line,
                overridden,
            } => {
                let label = match (severity.as_str(), overridden) {
                    ("deny", false) => self.printer.paint("deny    ", "31"),
                    ("deny", true) => "deny (overridden)".to_string(),
                    _ => self.printer.paint("warn    ", "33"),
                };
                self.line(&format!(
                    "  policy    {component}: {label} {rule} {file}:{line} {message}"
                ));
            }
            Event::Log { line } => {
                if self.verbose {
                    self.line(&format!("    | {line}"));
                }
            }
            Event::Interrupted { not_started } => {
                self.line(&format!(
                    "interrupted: running actions finished; not started: {}",
                    if not_started.is_empty() {
                        "none".into()
                    } else {
                        not_started.join(", ")
                    }
                ));
            }
            Event::RunFinished {
                outcome,
                duration_ms,
            } => {
                self.line(&format!(
                    "{} in {:.1}s",
                    outcome.replace('_', " "),
                    *duration_ms as f64 / 1000.0
                ));
            }
        }
    }
}

/// `create` -> `created`, ...
pub(crate) fn past(action: &str) -> String {
    match action {
        "create" => "created".into(),
        "adopt" => "adopted".into(),
        "update" => "updated".into(),
        "destroy" => "destroyed".into(),
        other => other.into(),
    }
}
