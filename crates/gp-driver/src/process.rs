//! Running child processes for drivers: in their own process group, with a
//! timeout that kills the whole group, output captured to a log file and
//! streamed line by line to the recorder (shown with `-v`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{DriverError, Recorder};

/// How a process ended.
#[derive(Clone, Debug)]
pub struct Finished {
    /// Exit code; `None` if killed by a signal.
    pub code: Option<i32>,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Finished {
    /// Exited 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The exit code as the registry records it (-1 for a signal).
    pub fn exit_code(&self) -> i32 {
        self.code.unwrap_or(-1)
    }

    /// The last lines of stderr (or stdout), for error messages.
    pub fn tail(&self, lines: usize) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// Options for [`run`].
pub struct RunOptions<'a> {
    /// Kill the process group after this long.
    pub timeout: Duration,
    /// Append output here.
    pub log_file: Option<PathBuf>,
    /// Stream lines here, prefixed.
    pub recorder: Option<&'a dyn Recorder>,
    /// The prefix for streamed lines, e.g. `cluster`.
    pub prefix: String,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(600),
            log_file: None,
            recorder: None,
            prefix: String::new(),
        }
    }
}

fn open_log(path: &Path) -> Option<std::fs::File> {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ok()
}

/// Runs `cmd` to completion (or until the timeout kills its process group).
pub fn run(mut cmd: Command, opts: RunOptions<'_>) -> Result<Finished, DriverError> {
    use std::os::unix::process::CommandExt;
    let program = format!("{:?}", cmd.get_program());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.process_group(0);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| DriverError::configuration(format!("cannot run {program}: {e}")))?;
    let pgid = child.id();
    let log = opts
        .log_file
        .as_deref()
        .and_then(open_log)
        .map(|f| Arc::new(Mutex::new(f)));
    if let Some(log) = &log
        && let Ok(mut f) = log.lock()
    {
        let _ = writeln!(f, "$ {program} {:?}", cmd.get_args().collect::<Vec<_>>());
    }
    let (line_tx, line_rx) = mpsc::channel::<(bool, String)>();
    let mut readers = Vec::new();
    for (is_err, stream) in [
        (
            false,
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ),
        (
            true,
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ),
    ] {
        let Some(stream) = stream else { continue };
        let tx = line_tx.clone();
        let log = log.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(log) = &log
                    && let Ok(mut f) = log.lock()
                {
                    let _ = writeln!(f, "{line}");
                }
                if tx.send((is_err, line)).is_err() {
                    break;
                }
            }
        }));
    }
    drop(line_tx);
    let (done_tx, done_rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = done_tx.send(());
        status
    });
    let mut stdout = String::new();
    let mut stderr = String::new();
    let deadline = started + opts.timeout;
    let mut timed_out = false;
    loop {
        // Drain output while waiting, so a chatty child never blocks on a
        // full pipe.
        match line_rx.recv_timeout(Duration::from_millis(50)) {
            Ok((is_err, line)) => {
                if let Some(r) = opts.recorder {
                    r.log(&format!("{}: {line}", opts.prefix));
                }
                let buf = if is_err { &mut stderr } else { &mut stdout };
                buf.push_str(&line);
                buf.push('\n');
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Both streams closed; the process is finishing.
                if done_rx
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .is_ok()
                {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if done_rx.try_recv().is_ok() {
            // Collect what the readers still hold.
            for (is_err, line) in line_rx.try_iter() {
                let buf = if is_err { &mut stderr } else { &mut stdout };
                buf.push_str(&line);
                buf.push('\n');
            }
            break;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            kill_group(pgid);
            break;
        }
    }
    let status = waiter
        .join()
        .map_err(|_| DriverError::permanent(format!("lost track of {program}")))?
        .map_err(|e| DriverError::permanent(format!("cannot wait for {program}: {e}")))?;
    for r in readers {
        let _ = r.join();
    }
    for (is_err, line) in line_rx.try_iter() {
        let buf = if is_err { &mut stderr } else { &mut stdout };
        buf.push_str(&line);
        buf.push('\n');
    }
    if timed_out {
        return Err(DriverError::retryable(format!(
            "{program} did not finish within {}s and was killed",
            opts.timeout.as_secs()
        )));
    }
    Ok(Finished {
        code: status.code(),
        stdout,
        stderr,
        elapsed: started.elapsed(),
    })
}

/// Kills a process group (the child and everything it started).
pub fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Parses a duration like `90s`, `5m`, `1h`.
pub fn parse_timeout(s: &str) -> Option<Duration> {
    gp_core::spec::parse_duration(s).map(Duration::from_secs)
}
