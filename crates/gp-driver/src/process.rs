//! Running child processes for drivers: in their own process group, with a
//! timeout that kills the whole group, output captured to a log file and
//! streamed line by line to the recorder (shown with `-v`).
//!
//! A child never outlives the goldenpath that started it: it gets a
//! parent-death signal (SIGKILL), and its process group is recorded in the
//! deployment's run directory so that whoever takes the deployment's lease
//! next kills what a killed goldenpath left running ([`kill_tracked`]).
//! Its environment is explicit ([`gp_core::child_env`]).

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
    /// Its stdout is data read by goldenpath (`terraform show -json`,
    /// `terraform output -json`, which holds sensitive values): captured,
    /// never written to the log file nor streamed to `-v`.
    pub stdout_is_data: bool,
    /// The prefix for streamed lines, e.g. `cluster`.
    pub prefix: String,
    /// Variables of the caller's environment the child inherits beside the
    /// base set: names, or prefixes ending in `*` (see
    /// [`gp_core::child_env::matches`]); `GOLDENPATH_*` never.
    pub inherit: &'a [&'a str],
    /// Where to record the child's process group while it runs (the
    /// deployment's run directory), so a later run can kill it if this
    /// goldenpath dies first.
    pub track: Option<&'a Path>,
    /// Limit the child's address space to this many bytes (`RLIMIT_AS`):
    /// an allocation beyond it fails in the child, not in goldenpath.
    pub memory_limit: Option<u64>,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(600),
            log_file: None,
            recorder: None,
            stdout_is_data: false,
            prefix: String::new(),
            inherit: &[],
            track: None,
            memory_limit: None,
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
    gp_core::child_env::scrub(&mut cmd, opts.inherit);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.process_group(0);
    die_with_parent(&mut cmd);
    if let Some(bytes) = opts.memory_limit {
        limit_memory(&mut cmd, bytes);
    }
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| DriverError::configuration(format!("cannot run {program}: {e}")))?;
    let pgid = child.id();
    let tracked = opts.track.and_then(|dir| record_group(dir, pgid));
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
        let log = log.clone().filter(|_| is_err || !opts.stdout_is_data);
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
                if let Some(r) = opts.recorder
                    && (is_err || !opts.stdout_is_data)
                {
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
    if let Some(file) = tracked {
        // The group may still hold grandchildren after a timeout kill; it
        // was killed whole, so the record can go.
        let _ = std::fs::remove_file(file);
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

/// Makes the child die with its parent thread: a SIGKILL when goldenpath
/// exits, however it exits.
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs between fork and exec and only makes the
    // async-signal-safe calls prctl and getppid; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before the signal was armed.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("the parent exited"));
            }
            Ok(())
        });
    }
}

/// Caps the child's address space (`RLIMIT_AS`) at `bytes`.
#[allow(unsafe_code)]
fn limit_memory(cmd: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    let limit = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: the closure runs between fork and exec and only makes the
    // async-signal-safe call setrlimit on a value copied in; it allocates
    // nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The start time of a process (field 22 of `/proc/PID/stat`), which tells a
/// live process from a later one that re-used its pid.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19).map(str::to_string)
}

fn record_group(dir: &Path, pgid: u32) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let file = dir.join(pgid.to_string());
    let start = start_time(pgid)?;
    std::fs::write(&file, format!("{start} {}\n", std::process::id())).ok()?;
    Some(file)
}

/// Kills every process group recorded in `dir` that still runs (checked by
/// its start time, so a re-used pid is left alone), and forgets them all.
/// Called by whoever takes a deployment's lease: anything recorded belongs
/// to an earlier holder. Returns how many groups were killed.
pub fn kill_tracked(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut killed = 0;
    for e in entries.flatten() {
        let path = e.path();
        let Some(pgid) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let recorded = std::fs::read_to_string(&path).unwrap_or_default();
        let recorded_start = recorded.split_whitespace().next().unwrap_or_default();
        let owner_alive = recorded
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| p != std::process::id() && Path::new(&format!("/proc/{p}")).exists());
        if owner_alive {
            // A live goldenpath still runs it (the lease was forced): it is
            // not ours to kill from here; that run will stop on its own.
            continue;
        }
        // The leader may be gone (it died with goldenpath) while what it
        // started still runs in its group: kill the group when its leader
        // is the recorded one, or, when no process has its pid, when
        // members started after it remain. (Linux never hands out a pid
        // still in use as a group id, so a process running with that pid
        // and another start time means the group is gone and the pid is
        // someone else's now.)
        let kill = match start_time(pgid) {
            Some(now) => now == recorded_start,
            None => group_outlives_leader(pgid, recorded_start),
        };
        if kill {
            kill_group(pgid);
            killed += 1;
        }
        let _ = std::fs::remove_file(&path);
    }
    killed
}

/// Whether processes of group `pgid`, started no earlier than its recorded
/// leader, still run.
fn group_outlives_leader(pgid: u32, leader_start: &str) -> bool {
    let Ok(leader_start) = leader_start.parse::<u64>() else {
        return false;
    };
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|e| {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let Some((_, after)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        // After the comm: state, ppid, pgrp, ... starttime is field 22.
        let pgrp = fields.get(2).and_then(|f| f.parse::<u32>().ok());
        let start = fields.get(19).and_then(|f| f.parse::<u64>().ok());
        pgrp == Some(pgid) && start.is_some_and(|s| s >= leader_start)
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

/// The longest a child may be given to run.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Checks a `timeout:` setting at validation: a duration of at most
/// [`MAX_TIMEOUT`], else a positioned problem.
pub fn check_timeout(
    platform: &gp_core::Platform,
    t: &gp_core::yaml::Spanned<String>,
) -> Option<gp_core::Diagnostic> {
    match parse_timeout(&t.value) {
        None => Some(platform.diagnostic(
            t.start,
            format!(
                "invalid timeout `{}`: expected e.g. 90s, 10m or 1h",
                t.value
            ),
        )),
        Some(d) if d > MAX_TIMEOUT => Some(platform.diagnostic(
            t.start,
            format!(
                "timeout `{}` is longer than the {}h a step may run",
                t.value,
                MAX_TIMEOUT.as_secs() / 3600
            ),
        )),
        Some(_) => None,
    }
}

/// Parses a duration like `90s`, `5m`, `1h`.
pub fn parse_timeout(s: &str) -> Option<Duration> {
    gp_core::spec::parse_duration(s).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::{Duration, Instant};

    use super::*;

    fn shell(script: &str, opts: RunOptions<'_>) -> Finished {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        run(cmd, opts).unwrap()
    }

    /// Whether `pid` runs (a zombie, killed and not yet reaped, does not).
    fn runs(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, a)| a.trim_start().starts_with('Z'))
            })
            .is_some_and(|zombie| !zombie)
    }

    fn eventually(mut what: impl FnMut() -> bool) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if what() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// A `sleep 60` in a process group of its own, its pid.
    fn sleeper(cmd: &mut Command) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0).spawn().unwrap()
    }

    #[test]
    fn a_memory_limit_caps_the_childs_address_space_and_none_leaves_it() {
        let limited = shell(
            "ulimit -v",
            RunOptions {
                memory_limit: Some(512 << 20),
                ..RunOptions::default()
            },
        );
        assert_eq!(limited.stdout.trim(), "524288");
        let free = shell("ulimit -v", RunOptions::default());
        assert_ne!(free.stdout.trim(), "524288");
    }

    #[test]
    fn a_child_dies_when_the_thread_that_started_it_ends() {
        let child = std::thread::spawn(|| {
            let mut cmd = Command::new("sleep");
            cmd.arg("60");
            die_with_parent(&mut cmd);
            cmd.spawn().unwrap()
        })
        .join()
        .unwrap();
        let mut child = child;
        let pid = child.id();
        assert!(eventually(|| !runs(pid)), "sleep {pid} outlived its parent");
        child.wait().unwrap();
        // A child without it lives on.
        let mut other = Command::new("sleep").arg("60").spawn().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(runs(other.id()));
        other.kill().unwrap();
        other.wait().unwrap();
    }

    #[test]
    fn a_tracked_child_is_recorded_while_it_runs_and_forgotten_after() {
        let dir = tempfile::tempdir().unwrap();
        let track = dir.path().join("children");
        // The group is recorded just after the child starts: it waits.
        let script = format!(
            "echo $$; for _ in $(seq 200); do [ -s {d}/$$ ] && break; sleep 0.05; done; cat {d}/$$",
            d = track.display()
        );
        let out = shell(
            &script,
            RunOptions {
                track: Some(&track),
                timeout: Duration::from_secs(20),
                ..RunOptions::default()
            },
        );
        let mut lines = out.stdout.lines();
        let pid: u32 = lines.next().unwrap().parse().unwrap();
        let record = lines.next().unwrap_or_default();
        let (start, owner) = record.split_once(' ').unwrap();
        assert!(start.parse::<u64>().is_ok(), "{record}");
        assert_eq!(owner, std::process::id().to_string());
        assert!(pid > 0);
        assert!(!track.join(pid.to_string()).exists(), "forgotten after");
    }

    #[test]
    fn kill_tracked_kills_a_recorded_group_and_forgets_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = sleeper(Command::new("sleep").arg("60"));
        let pid = child.id();
        let file = record_group(dir.path(), pid).unwrap();
        assert_eq!(file, dir.path().join(pid.to_string()));
        assert_eq!(kill_tracked(dir.path()), 1);
        assert!(
            eventually(|| child.try_wait().unwrap().is_some()),
            "not killed"
        );
        assert!(!runs(pid));
        assert!(!file.exists());
        // Nothing recorded, or no directory: nothing killed.
        assert_eq!(kill_tracked(dir.path()), 0);
        assert_eq!(kill_tracked(&dir.path().join("none")), 0);
    }

    #[test]
    fn kill_tracked_counts_each_group_it_kills() {
        let dir = tempfile::tempdir().unwrap();
        let mut children: Vec<_> = (0..3)
            .map(|_| sleeper(Command::new("sleep").arg("60")))
            .collect();
        for c in &children {
            record_group(dir.path(), c.id()).unwrap();
        }
        assert_eq!(kill_tracked(dir.path()), 3);
        for c in &mut children {
            assert!(eventually(|| c.try_wait().unwrap().is_some()), "not killed");
        }
    }

    #[test]
    fn kill_tracked_leaves_a_group_another_live_goldenpath_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = sleeper(Command::new("sleep").arg("60"));
        let pid = child.id();
        let start = start_time(pid).unwrap();
        // Recorded by another process that still runs (this test's parent
        // process stands for it: pid 1 always runs).
        std::fs::write(dir.path().join(pid.to_string()), format!("{start} 1\n")).unwrap();
        assert_eq!(kill_tracked(dir.path()), 0);
        assert!(runs(pid));
        // Recorded by one that is gone: killed.
        let gone = {
            let mut c = Command::new("true").spawn().unwrap();
            let p = c.id();
            c.wait().unwrap();
            p
        };
        std::fs::write(
            dir.path().join(pid.to_string()),
            format!("{start} {gone}\n"),
        )
        .unwrap();
        assert_eq!(kill_tracked(dir.path()), 1);
        assert!(
            eventually(|| child.try_wait().unwrap().is_some()),
            "not killed"
        );
    }

    #[test]
    fn kill_tracked_leaves_a_reused_pid_alone_and_ignores_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = sleeper(Command::new("sleep").arg("60"));
        let pid = child.id();
        // The recorded leader started at another time: not this process.
        std::fs::write(dir.path().join(pid.to_string()), "1 999999999\n").unwrap();
        std::fs::write(dir.path().join("notes"), "x").unwrap();
        assert_eq!(kill_tracked(dir.path()), 0);
        assert!(runs(pid));
        assert!(!dir.path().join(pid.to_string()).exists(), "forgotten");
        assert!(dir.path().join("notes").exists());
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn kill_tracked_kills_what_a_dead_leader_left_in_its_group() {
        let dir = tempfile::tempdir().unwrap();
        // The leader starts a sleep in its group, then waits to be recorded.
        let mut leader = sleeper(
            Command::new("sh")
                .args(["-c", "sleep 60 & echo $! ; sleep 1"])
                .stdout(std::process::Stdio::piped()),
        );
        let pgid = leader.id();
        let mut out = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(leader.stdout.take().unwrap()),
            &mut out,
        )
        .unwrap();
        let member: u32 = out.trim().parse().unwrap();
        record_group(dir.path(), pgid).unwrap();
        leader.wait().unwrap();
        assert!(runs(member));
        assert!(group_outlives_leader(pgid, &start_time(member).unwrap()));
        assert_eq!(kill_tracked(dir.path()), 1);
        assert!(eventually(|| !runs(member)), "the orphan {member} runs");
    }

    #[test]
    fn a_group_outlives_its_leader_only_with_members_started_after_it() {
        let mut child = sleeper(Command::new("sleep").arg("60"));
        let pid = child.id();
        let start: u64 = start_time(pid).unwrap().parse().unwrap();
        assert!(group_outlives_leader(pid, &start.to_string()));
        // Members older than the recorded leader are not its.
        assert!(!group_outlives_leader(pid, &(start + 1).to_string()));
        assert!(!group_outlives_leader(pid, "not a time"));
        // A group nobody is in.
        assert!(!group_outlives_leader(u32::MAX - 1, "0"));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
