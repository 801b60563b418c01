//! Drawing engine events: a line per running component on a terminal,
//! plain lines otherwise, JSON Lines with `--output json`.
#![allow(clippy::print_stderr)]

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

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
    /// Per-resource lines not yet written (plain text, not a terminal).
    holder: Arc<Holder>,
    /// The thread that writes held lines when their wait is over, started
    /// with the first held line; stopped and joined when the run's
    /// renderer is dropped.
    flusher: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The held lines and what wakes the thread that writes them. Lines are
/// written to stderr with the lock held, so no held line can be written
/// after a later event's own line.
#[derive(Default)]
struct Holder {
    held: Mutex<Held>,
    wake: Condvar,
}

/// A run's per-resource lines (a teardown's "destroyed" of each record)
/// written together: a teardown of 2,000 DNS records made 2,000 writes to
/// stderr. A line waits at most [`Held::WAIT`] (the flusher thread) or
/// until [`Held::BYTES`] are held, and any other event writes what is
/// held before itself, so the order of lines is the order of events.
struct Held {
    lines: Vec<String>,
    bytes: usize,
    since: Option<Instant>,
    /// The renderer is being dropped: the flusher writes what is left and
    /// ends.
    closed: bool,
    /// How long a line may wait: [`Held::WAIT`] (tests of order make it
    /// long, so that no wait runs out while they look).
    wait: Duration,
}

impl Default for Held {
    fn default() -> Self {
        Held {
            lines: Vec::new(),
            bytes: 0,
            since: None,
            closed: false,
            wait: Held::WAIT,
        }
    }
}

impl Held {
    const WAIT: Duration = Duration::from_millis(100);
    const BYTES: usize = 16 * 1024;

    /// Holds `line`; returns every held line when they are due.
    fn push(&mut self, line: String, now: Instant) -> Option<Vec<String>> {
        self.bytes += line.len() + 1;
        self.lines.push(line);
        let since = *self.since.get_or_insert(now);
        (self.bytes >= Self::BYTES || now.duration_since(since) >= self.wait).then(|| self.take())
    }

    /// Every held line, in order, and nothing held after.
    fn take(&mut self) -> Vec<String> {
        self.bytes = 0;
        self.since = None;
        std::mem::take(&mut self.lines)
    }
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
            holder: Arc::default(),
            flusher: Mutex::new(None),
        }
    }

    /// For a command that prints one document: lines on stderr in text
    /// mode (with `-v`, the steps' output), nothing in JSON.
    pub fn for_command(printer: &Printer, verbose: bool) -> Self {
        let mut p = Self::new(printer, verbose);
        p.stream = false;
        p
    }

    /// Writes the held lines.
    fn flush(&self) {
        if let Ok(mut h) = self.holder.held.lock()
            && !h.lines.is_empty()
        {
            let lines = h.take();
            self.printer.status_lines(&lines);
        }
    }

    /// A per-resource line: held with others when it goes to plain
    /// stderr, written at once to a terminal's bars.
    fn held_line(&self, text: String) {
        if self.bars.is_some() {
            return self.line(&text);
        }
        let Ok(mut h) = self.holder.held.lock() else {
            return self.printer.status(&text);
        };
        let first = h.lines.is_empty();
        match h.push(text, Instant::now()) {
            Some(lines) => self.printer.status_lines(&lines),
            // Only the first held line wakes the flusher (it waits for one
            // without a deadline); for the next ones it already waits
            // until the first one's time is over. Waking it for each line
            // cost a teardown of 2,000 records a context switch per line.
            None if first => {
                drop(h);
                self.start_flusher();
                self.holder.wake.notify_one();
            }
            None => {}
        }
    }

    /// Starts the thread that writes held lines once their wait is over
    /// (a run can go quiet for minutes after a burst of lines).
    fn start_flusher(&self) {
        let Ok(mut f) = self.flusher.lock() else {
            return;
        };
        if f.is_none() {
            let (holder, printer) = (Arc::clone(&self.holder), self.printer.clone());
            *f = std::thread::Builder::new()
                .name("progress-flusher".into())
                .spawn(move || flusher(&holder, &printer))
                .ok();
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
        if let Event::ResourceDestroyed {
            component,
            resource,
        } = event
        {
            return self.held_line(format!("  destroyed {component}: {resource}"));
        }
        self.flush();
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
            Event::ResourceDestroyed { .. } => {}
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

impl Drop for Progress {
    fn drop(&mut self) {
        self.flush();
        if let Ok(mut h) = self.holder.held.lock() {
            h.closed = true;
        }
        self.holder.wake.notify_all();
        if let Some(t) = self.flusher.lock().ok().and_then(|mut f| f.take()) {
            let _ = t.join();
        }
    }
}

/// The flusher: waits for a held line, then until its wait is over, and
/// writes every held line (unless an event or a full buffer wrote them
/// first); ends when the renderer is dropped, writing what is left.
fn flusher(holder: &Holder, printer: &Printer) {
    let Ok(mut h) = holder.held.lock() else {
        return;
    };
    loop {
        match h.since {
            Some(since) => {
                let now = Instant::now();
                let due = since + h.wait;
                if h.closed || now >= due {
                    let lines = h.take();
                    printer.status_lines(&lines);
                    continue;
                }
                h = match holder.wake.wait_timeout(h, due - now) {
                    Ok((g, _)) => g,
                    Err(_) => return,
                };
            }
            None if h.closed => return,
            None => {
                h = match holder.wake.wait(h) {
                    Ok(g) => g,
                    Err(_) => return,
                };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("  destroyed web: record h{i}"))
            .collect()
    }

    #[test]
    fn held_lines_wait_until_the_wait_is_over() {
        let t0 = Instant::now();
        let mut h = Held::default();
        assert_eq!(h.push("a".into(), t0), None);
        assert_eq!(h.push("b".into(), t0 + Held::WAIT / 2), None);
        // Just short of the wait from the first line: still held.
        assert_eq!(
            h.push("c".into(), t0 + Held::WAIT - Duration::from_micros(1)),
            None
        );
        assert_eq!(
            h.push("d".into(), t0 + Held::WAIT),
            Some(vec!["a".into(), "b".into(), "c".into(), "d".into()])
        );
        // The wait counts again from the next line.
        assert_eq!(h.push("e".into(), t0 + Held::WAIT * 3), None);
        assert_eq!(h.take(), vec!["e".to_string()]);
    }

    #[test]
    fn held_lines_are_written_when_they_reach_the_size() {
        let t0 = Instant::now();
        let mut h = Held::default();
        let line = "x".repeat(1023);
        // 15 lines of 1 KiB with their newlines: under the size.
        for _ in 0..15 {
            assert_eq!(h.push(line.clone(), t0), None);
        }
        let due = h.push(line.clone(), t0).expect("16 KiB are due");
        assert_eq!(due.len(), 16);
        assert!(h.lines.is_empty() && h.bytes == 0 && h.since.is_none());
    }

    fn plain(output: crate::printer::Output) -> Progress {
        let mut p = Progress::new(&Printer::new(output), false);
        p.bars = None;
        p
    }

    /// A renderer whose held lines wait an hour: only events, the size or
    /// its drop write them, whatever the machine's pauses.
    fn patient() -> Progress {
        let p = plain(crate::printer::Output::Text);
        p.holder.held.lock().unwrap().wait = Duration::from_secs(3600);
        p
    }

    fn destroyed(i: usize) -> Event {
        Event::ResourceDestroyed {
            component: "web".into(),
            resource: format!("record h{i}"),
        }
    }

    fn held(p: &Progress) -> Vec<String> {
        p.holder.held.lock().unwrap().lines.clone()
    }

    #[test]
    fn a_held_line_is_written_when_its_wait_is_over_without_another_event() {
        let p = plain(crate::printer::Output::Text);
        let t0 = Instant::now();
        p.emit(&destroyed(0));
        // A deadline, polled: the flusher writes it once WAIT has passed
        // since it was held, never before.
        let deadline = t0 + Duration::from_secs(10);
        while !held(&p).is_empty() {
            assert!(Instant::now() < deadline, "the held line was never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            t0.elapsed() >= Held::WAIT,
            "written before its wait was over"
        );
        // The flusher waits for the next line and writes it the same way.
        p.emit(&destroyed(1));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !held(&p).is_empty() {
            assert!(
                Instant::now() < deadline,
                "the second held line was never written"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn dropping_the_renderer_writes_what_is_held_and_stops_the_flusher() {
        let p = patient();
        p.emit(&destroyed(0));
        let holder = Arc::clone(&p.holder);
        assert!(
            p.flusher.lock().unwrap().is_some(),
            "a held line starts the flusher"
        );
        drop(p);
        let h = holder.held.lock().unwrap();
        assert!(h.lines.is_empty() && h.closed);
        // Only this test's handle is left: the flusher thread has ended.
        drop(h);
        assert_eq!(Arc::strong_count(&holder), 1);
    }

    #[test]
    fn a_runs_destroyed_lines_are_held_and_the_next_other_event_writes_them_first() {
        let p = patient();
        p.emit(&destroyed(0));
        p.emit(&destroyed(1));
        assert_eq!(
            held(&p),
            vec![
                "  destroyed web: record h0".to_string(),
                "  destroyed web: record h1".to_string()
            ]
        );
        p.emit(&Event::ComponentUnchanged {
            component: "db".into(),
        });
        assert!(held(&p).is_empty(), "another event writes what is held");
        // With nothing held, another event holds nothing either.
        p.emit(&Event::ComponentUnchanged {
            component: "db".into(),
        });
        assert!(held(&p).is_empty());
    }

    #[test]
    fn nothing_is_held_on_a_terminal_or_in_json() {
        let p = plain(crate::printer::Output::Json);
        p.emit(&destroyed(0));
        assert!(held(&p).is_empty(), "JSON streams each event");
        let mut p = plain(crate::printer::Output::Text);
        p.bars = Some(Mutex::new((
            MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden()),
            HashMap::new(),
        )));
        p.emit(&destroyed(0));
        assert!(held(&p).is_empty(), "a terminal's bars print at once");
    }

    #[test]
    fn take_gives_every_held_line_in_order_and_holds_nothing_after() {
        let t0 = Instant::now();
        let mut h = Held::default();
        for l in lines(5) {
            assert_eq!(h.push(l, t0), None);
        }
        assert_eq!(h.take(), lines(5));
        assert_eq!(h.take(), Vec::<String>::new());
    }
}
