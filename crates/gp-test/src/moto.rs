//! A local AWS endpoint: moto's server (`moto_server` from the `moto[server]`
//! package) on a free loopback port, started per test and killed when
//! dropped, and boto3 from the same virtual environment as the independent
//! client tests assert through.
//!
//! The virtual environment is `$GP_TEST_VENV`, else `.venv` at the
//! repository root (`scripts/prereqs.sh` creates it). A test that needs it
//! fails, with the command that makes it, when it is missing.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The region tests use.
pub const REGION: &str = "eu-west-2";

/// A running moto server.
pub struct Moto {
    child: Child,
    port: u16,
    venv: PathBuf,
    _dir: tempfile::TempDir,
}

/// The virtual environment holding moto and boto3.
pub fn venv() -> PathBuf {
    std::env::var_os("GP_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join(".venv"))
}

impl Moto {
    /// Starts a server and waits until it answers.
    pub fn start() -> Moto {
        let venv = venv();
        let bin = venv.join("bin/moto_server");
        assert!(
            bin.exists(),
            "{} is missing: create it with `python3 -m venv {v} && {v}/bin/pip install \"moto[server]\" boto3` (scripts/prereqs.sh does)",
            bin.display(),
            v = venv.display()
        );
        let dir = crate::tempdir();
        let mut last = String::new();
        for _ in 0..5 {
            let port = crate::bind::free_port();
            let log = std::fs::File::create(dir.path().join("moto.log")).unwrap();
            let mut child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!(
                        "moto_server exited with {status}: {}",
                        std::fs::read_to_string(dir.path().join("moto.log")).unwrap_or_default()
                    );
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Moto {
                        child,
                        port,
                        venv,
                        _dir: dir,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    last = "moto_server did not listen within 30 s".into();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("cannot start moto_server: {last}");
    }

    /// The endpoint URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The environment a process needs to use this endpoint and nothing
    /// else: test credentials, the region, the endpoint override.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// Sets [`Moto::env`] on a command (and removes a profile or session
    /// token from the machine's environment).
    pub fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        for k in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
        ] {
            cmd.env_remove(k);
        }
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs a Python script with boto3 against this endpoint (the
    /// independent client); returns its stdout, panicking on failure.
    /// `e` in the script is the endpoint URL.
    pub fn py(&self, script: &str) -> String {
        let mut cmd = Command::new(self.venv.join("bin/python"));
        cmd.arg("-c").arg(format!(
            "import boto3, json, sys\ne = {:?}\n{script}",
            self.url()
        ));
        self.apply(&mut cmd);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "boto3 script failed: {}\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The Python interpreter of the virtual environment.
    pub fn python(&self) -> PathBuf {
        self.venv.join("bin/python")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
