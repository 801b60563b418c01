//! A PostgreSQL server that goldenpath creates and runs from the PostgreSQL
//! binaries: `initdb` with SCRAM-SHA-256 authentication and a superuser
//! password, then `pg_ctl start` listening only on 127.0.0.1 (no Unix
//! socket), and `pg_ctl stop`.
//!
//! PostgreSQL refuses to run as root. When goldenpath runs as root the server
//! processes run as the `postgres` user if it exists, else `nobody`
//! (override with `GOLDENPATH_PG_OS_USER`); the data directory is owned by
//! that user and every directory above it must be searchable by it.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gp_core::Secret;

/// The environment variable naming the OS user the server runs as when
/// goldenpath runs as root.
pub const OS_USER_ENV: &str = "GOLDENPATH_PG_OS_USER";
/// The environment variable naming the directory of the PostgreSQL server
/// binaries, when they are neither on PATH nor under /usr/lib/postgresql.
pub const BIN_DIR_ENV: &str = "GOLDENPATH_PG_BIN";

/// What went wrong running the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// `initdb`/`pg_ctl` were not found.
    #[error(
        "the PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH, under /usr/lib/postgresql/*/bin, or in ${BIN_DIR_ENV}"
    )]
    BinariesMissing,
    /// The server would run as a user who cannot reach its data directory.
    #[error(
        "PostgreSQL cannot run as root, so goldenpath runs it as `{user}`, who cannot reach {dir}: {blocked} is not searchable by that user"
    )]
    Unreachable {
        /// The OS user.
        user: String,
        /// The data directory.
        dir: PathBuf,
        /// The first directory that blocks it.
        blocked: PathBuf,
    },
    /// A command failed; its output (which never contains the password) is
    /// attached.
    #[error("`{command}` failed ({status}): {output}")]
    Command {
        /// What was run.
        command: String,
        /// Exit status.
        status: String,
        /// Its last lines of output.
        output: String,
    },
    /// File system trouble.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

impl ServerError {
    /// The command that fixes a missing prerequisite, for hints.
    pub fn hint(&self) -> Option<String> {
        match self {
            ServerError::BinariesMissing => Some(
                "install them with `apt-get install -y postgresql` (or set GOLDENPATH_PG_BIN to their directory)"
                    .into(),
            ),
            ServerError::Unreachable { .. } => Some(
                "put the state directory somewhere that user can reach (--state-dir), or run goldenpath as a non-root user"
                    .into(),
            ),
            _ => None,
        }
    }
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let context = context.into();
    move |source| ServerError::Io { context, source }
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
pub fn find_bin_dir() -> Result<PathBuf, ServerError> {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        let dir = PathBuf::from(dir);
        if has_all(&dir) {
            return Ok(dir);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_all(&dir) {
                return Ok(dir);
            }
        }
    }
    // Debian's packages: /usr/lib/postgresql/<major>/bin, newest first.
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((major, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_all(dir))
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, d)| d)
        .ok_or(ServerError::BinariesMissing)
}

/// The OS identity server processes run as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsUser {
    /// User name.
    pub name: String,
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
}

fn effective_uid() -> u32 {
    // /proc/self belongs to the process's effective uid.
    fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}

fn lookup_user(name: &str) -> Option<OsUser> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let user = f.next()?;
        if user != name {
            return None;
        }
        let _ = f.next();
        let uid = f.next()?.parse().ok()?;
        let gid = f.next()?.parse().ok()?;
        Some(OsUser {
            name: user.into(),
            uid,
            gid,
        })
    })
}

/// `None` when goldenpath is not root (the server runs as us); otherwise the
/// unprivileged user it runs as.
pub fn server_os_user() -> Option<OsUser> {
    if effective_uid() != 0 {
        return None;
    }
    if let Ok(name) = std::env::var(OS_USER_ENV)
        && let Some(u) = lookup_user(&name)
    {
        return Some(u);
    }
    lookup_user("postgres").or_else(|| lookup_user("nobody"))
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> Result<u16, ServerError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("cannot find a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(io("cannot find a free port"))?
        .port())
}

/// A PostgreSQL data directory and how to run the server on it.
#[derive(Clone, Debug)]
pub struct LocalServer {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The server log.
    pub log_file: PathBuf,
    bin_dir: PathBuf,
    os_user: Option<OsUser>,
}

impl LocalServer {
    /// A server on `data_dir`; finds the binaries and the OS user.
    pub fn new(data_dir: &Path) -> Result<Self, ServerError> {
        let bin_dir = find_bin_dir()?;
        let data_dir = if data_dir.is_absolute() {
            data_dir.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(io("cannot resolve the current directory"))?
                .join(data_dir)
        };
        let log_file = data_dir.with_extension("log");
        Ok(Self {
            data_dir,
            log_file,
            bin_dir,
            os_user: server_os_user(),
        })
    }

    /// Whether `initdb` has run here.
    pub fn is_initialised(&self) -> bool {
        self.data_dir.join("PG_VERSION").is_file()
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        if let Some(u) = &self.os_user {
            cmd.uid(u.uid).gid(u.gid);
            // Run from a directory the user can enter.
            cmd.current_dir("/");
        }
        cmd.env("LC_ALL", "C");
        // The server and its tools get the base environment only: never
        // goldenpath's keys (a server's environment is readable in
        // /proc/PID/environ by its OS user).
        gp_core::child_env::scrub(&mut cmd, &[]);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Where `initdb` reads the bootstrap password from. It only ever holds
    /// a SCRAM verifier, and exists only while `initdb` runs; a file left by
    /// a killed run is removed by the next one.
    pub fn bootstrap_file(&self) -> PathBuf {
        self.data_dir.with_extension("pw")
    }

    fn run(&self, mut cmd: Command, what: &str) -> Result<String, ServerError> {
        let out = cmd.output().map_err(io(format!("cannot run {what}")))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            let tail: Vec<&str> = text.lines().rev().take(8).collect();
            return Err(ServerError::Command {
                command: what.into(),
                status: out.status.to_string(),
                output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            });
        }
        Ok(text)
    }

    /// Checks that the server's OS user can reach the data directory.
    fn check_reachable(&self) -> Result<(), ServerError> {
        let Some(user) = &self.os_user else {
            return Ok(());
        };
        let mut dir = self.data_dir.parent();
        while let Some(d) = dir {
            if let Ok(meta) = fs::metadata(d) {
                let mode = meta.permissions().mode();
                let ok = mode & 0o001 != 0
                    || (meta.gid() == user.gid && mode & 0o010 != 0)
                    || (meta.uid() == user.uid && mode & 0o100 != 0);
                if !ok {
                    return Err(ServerError::Unreachable {
                        user: user.name.clone(),
                        dir: self.data_dir.clone(),
                        blocked: d.to_path_buf(),
                    });
                }
            }
            dir = d.parent();
        }
        Ok(())
    }

    /// Runs `initdb`: SCRAM-SHA-256 for every connection, `superuser` with
    /// `password`, UTF-8. Only the password's SCRAM verifier goes through a
    /// 0600 file, removed at once (and by the next run if this one is
    /// killed); the password itself is never on disk or a command line.
    pub fn init(&self, superuser: &str, password: &Secret) -> Result<(), ServerError> {
        if let Some(parent) = self.data_dir.parent() {
            fs::create_dir_all(parent)
                .map_err(io(format!("cannot create {}", parent.display())))?;
        }
        self.check_reachable()?;
        fs::create_dir_all(&self.data_dir)
            .map_err(io(format!("cannot create {}", self.data_dir.display())))?;
        fs::set_permissions(&self.data_dir, fs::Permissions::from_mode(0o700))
            .map_err(io("cannot restrict the data directory"))?;
        let pwfile = self.bootstrap_file();
        // A bootstrap file left by an initdb killed mid-way.
        let _ = fs::remove_file(&pwfile);
        {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&pwfile)
                .map_err(io("cannot write the initdb password file"))?;
            // PostgreSQL stores a password that is already a SCRAM verifier
            // as it is: the clear password never touches the disk.
            let verifier = postgres_protocol::password::scram_sha_256(password.expose().as_bytes());
            f.write_all(verifier.as_bytes())
                .map_err(io("cannot write the initdb password file"))?;
        }
        if let Some(u) = &self.os_user {
            std::os::unix::fs::chown(&self.data_dir, Some(u.uid), Some(u.gid))
                .map_err(io("cannot hand the data directory to the server user"))?;
            std::os::unix::fs::chown(&pwfile, Some(u.uid), Some(u.gid))
                .map_err(io("cannot hand the password file to the server user"))?;
        }
        let mut cmd = self.command("initdb");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg("-U")
            .arg(superuser)
            .arg("--auth=scram-sha-256")
            .arg("--encoding=UTF8")
            .arg("--locale=C")
            .arg("--pwfile")
            .arg(&pwfile);
        let result = self.run(cmd, "initdb");
        let _ = fs::remove_file(&pwfile);
        result.map(|_| ())
    }

    /// Starts the server on 127.0.0.1:`port` and waits until it accepts
    /// connections.
    pub fn start(&self, port: u16) -> Result<(), ServerError> {
        // A bootstrap file left by an initdb killed mid-way goes now.
        let _ = fs::remove_file(self.bootstrap_file());
        if let Some(u) = &self.os_user {
            // The log file must be writable by the server user.
            if !self.log_file.exists() {
                fs::write(&self.log_file, b"").map_err(io("cannot create the server log"))?;
            }
            std::os::unix::fs::chown(&self.log_file, Some(u.uid), Some(u.gid))
                .map_err(io("cannot hand the server log to the server user"))?;
        }
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=on -c max_connections=200"
        );
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_file)
            .arg("-o")
            .arg(options)
            .args(["-w", "-t", "60", "start"]);
        // pg_ctl leaves the server running in the background holding our
        // pipes open if we capture them; send its output to the log instead.
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let status = cmd.status().map_err(io("cannot run pg_ctl start"))?;
        if !status.success() {
            let log = fs::read_to_string(&self.log_file).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(8).collect();
            return Err(ServerError::Command {
                command: "pg_ctl start".into(),
                status: status.to_string(),
                output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            });
        }
        Ok(())
    }

    /// Whether a server is running on this data directory.
    pub fn is_running(&self) -> bool {
        if !self.is_initialised() {
            return false;
        }
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D").arg(&self.data_dir).arg("status");
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        cmd.status().map(|s| s.success()).unwrap_or(false)
    }

    /// The port the running server listens on, read from `postmaster.pid`.
    pub fn running_port(&self) -> Option<u16> {
        let pid = fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        pid.lines().nth(3)?.trim().parse().ok()
    }

    /// Stops the server (fast shutdown). Stopping a stopped server is fine.
    pub fn stop(&self) -> Result<(), ServerError> {
        if !self.is_running() {
            return Ok(());
        }
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "-t", "60", "stop"]);
        self.run(cmd, "pg_ctl stop").map(|_| ())
    }
}
