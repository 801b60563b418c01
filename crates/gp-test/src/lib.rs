//! Test fixtures shared by goldenpath's test suites: temporary directories,
//! running the `goldenpath` binary, snapshot filters, and (in [`postgres`]
//! and [`bind`]) real servers started from their binaries.
#![allow(missing_docs)]

pub mod bind;
pub mod moto;
pub mod postgres;
pub mod proxy;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("../.."))
}

/// A path under `examples/`.
pub fn example(path: &str) -> PathBuf {
    repo_root().join("examples").join(path)
}

/// What a finished command printed and returned.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Exit code, stdout and stderr in one text, for snapshots.
    pub fn transcript(&self) -> String {
        format!(
            "exit code: {}\n----- stdout -----\n{}\n----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd`, capturing everything.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A `goldenpath` command for `bin` (pass `env!("CARGO_BIN_EXE_goldenpath")`)
/// with a clean environment: no colour, no inherited GOLDENPATH_* settings,
/// no CI identity.
pub fn goldenpath(bin: &str) -> Command {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GOLDENPATH_") {
            cmd.env_remove(k);
        }
    }
    // CI identities and run URLs (a test sets the ones it means).
    for k in [
        "GITHUB_ACTOR",
        "GITLAB_USER_LOGIN",
        "CIRCLE_USERNAME",
        "BUILDKITE_BUILD_CREATOR_EMAIL",
        "BUILD_USER_ID",
        "BUILD_REQUESTEDFOREMAIL",
        "GITHUB_SERVER_URL",
        "GITHUB_REPOSITORY",
        "GITHUB_RUN_ID",
        "CI_JOB_URL",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("NO_COLOR", "1").env_remove("RUST_LOG");
    cmd
}

/// A fresh temporary directory, removed when dropped.
///
/// With `GP_TEST_KEEP` set, the directory is left behind (for reading a
/// failed test's state, logs and registry).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("gp-test-")
        .disable_cleanup(std::env::var_os("GP_TEST_KEEP").is_some())
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}

/// Replaces `dir` in `text` with `[DIR]`, for stable snapshots.
pub fn redact_dir(text: &str, dir: &Path) -> String {
    text.replace(&dir.display().to_string(), "[DIR]")
}

/// A random-looking token of `len` alphanumeric characters for throwaway
/// test credentials (not for production secrets).
pub fn random_token(len: usize) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(out.len());
        let mut v = h.finish();
        for _ in 0..8 {
            if out.len() == len {
                break;
            }
            out.push(ALPHABET[(v % ALPHABET.len() as u64) as usize] as char);
            v /= ALPHABET.len() as u64;
        }
    }
    out
}

/// A small xorshift generator for tests generated over many inputs: the
/// same seed gives the same inputs on every run and machine, with no
/// dependency.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
