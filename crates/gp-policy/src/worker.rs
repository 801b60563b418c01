//! Where an evaluation runs: in a child process of goldenpath itself
//! (`goldenpath __policy-worker REQUEST`) with an address-space limit and a
//! kill after the time limit, or in this process (benchmarks, tests of the
//! rules).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gp_driver::process::{self, RunOptions};

use crate::{Context, Doc, Finding, PolicyError, PolicySet, Request, Response, TestResult};

/// How a check is evaluated.
#[derive(Clone, Debug)]
pub enum Runner {
    /// In this process (no memory limit: for trusted policies only).
    InProcess,
    /// In a child: this executable, given `__policy-worker FILE`.
    Child(PathBuf),
}

impl Runner {
    /// The worker is this very binary (`goldenpath`).
    pub fn current_exe() -> Runner {
        match std::env::current_exe() {
            Ok(p) => Runner::Child(p),
            Err(_) => Runner::Child(PathBuf::from("goldenpath")),
        }
    }

    fn run(&self, set: &PolicySet, req: &Request) -> Result<Response, PolicyError> {
        let exe = match self {
            // The built-in rules alone are goldenpath's own code: no child.
            _ if set.only_builtin() => return in_process(req),
            Runner::InProcess => return in_process(req),
            Runner::Child(exe) => exe,
        };
        let mut file = tempfile::Builder::new()
            .prefix("goldenpath-policy-")
            .suffix(".json")
            .tempfile()
            .map_err(|e| PolicyError::Failed(format!("cannot write the policy request: {e}")))?;
        let text = serde_json::to_vec(req)
            .map_err(|e| PolicyError::Failed(format!("cannot write the policy request: {e}")))?;
        file.write_all(&text)
            .and_then(|()| file.flush())
            .map_err(|e| PolicyError::Failed(format!("cannot write the policy request: {e}")))?;
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("__policy-worker").arg(file.path());
        // The worker's own limit stops it first; the kill is the backstop.
        let finished = process::run(
            cmd,
            RunOptions {
                timeout: set.timeout + Duration::from_secs(5),
                stdout_is_data: true,
                prefix: "policy".into(),
                memory_limit: Some(set.memory),
                ..Default::default()
            },
        )
        .map_err(|e| {
            if e.message.contains("did not finish within") {
                PolicyError::Limit(format!(
                    "the policy evaluation ran past its time limit ({}s) and was stopped",
                    set.timeout.as_secs()
                ))
            } else {
                PolicyError::Failed(e.message)
            }
        })?;
        if !finished.success() {
            let err = finished.stderr.to_lowercase();
            let memory = err.contains("memory allocation")
                || err.contains("out of memory")
                || err.contains("capacity overflow")
                || finished.exit_code() == 134
                || finished.exit_code() == -6;
            return Err(if memory {
                PolicyError::Limit(format!(
                    "the policy evaluation needed more than its memory limit ({} MiB) and was stopped",
                    set.memory >> 20
                ))
            } else {
                PolicyError::Failed(format!(
                    "the policy evaluation failed (exit {}): {}",
                    finished.exit_code(),
                    finished.tail(3)
                ))
            });
        }
        let resp: Response = serde_json::from_str(&finished.stdout).map_err(|e| {
            PolicyError::Failed(format!("the policy worker answered something else: {e}"))
        })?;
        match &resp.error {
            Some(e) if resp.limit => Err(PolicyError::Limit(format!(
                "the policy evaluation stopped at its limit: {e}"
            ))),
            Some(e) => Err(PolicyError::Failed(format!("a policy failed: {e}"))),
            None => Ok(resp),
        }
    }

    /// Every rule of `set` over `docs`; findings in the order of the docs.
    pub fn check(
        &self,
        set: &PolicySet,
        context: &Context,
        docs: Vec<Doc>,
    ) -> Result<Vec<Finding>, PolicyError> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let req = Request {
            modules: set.modules(),
            queries: set.queries(),
            context: serde_json::to_value(context).unwrap_or_default(),
            docs,
            timeout_ms: set.timeout.as_millis() as u64,
            tests: Vec::new(),
        };
        Ok(self.run(set, &req)?.findings)
    }

    /// The unit tests (`test_` rules) of `set`: the user's, and with
    /// `builtin` the built-in set's too.
    pub fn test(
        &self,
        set: &PolicySet,
        context: &Context,
        builtin: bool,
    ) -> Result<Vec<TestResult>, PolicyError> {
        let tests = set.tests(builtin);
        if tests.is_empty() {
            return Ok(Vec::new());
        }
        let req = Request {
            modules: set.modules(),
            queries: Vec::new(),
            context: serde_json::to_value(context).unwrap_or_default(),
            docs: Vec::new(),
            timeout_ms: set.timeout.as_millis() as u64,
            tests,
        };
        Ok(self.run(set, &req)?.tests)
    }
}

fn in_process(req: &Request) -> Result<Response, PolicyError> {
    let resp = crate::evaluate(req);
    match &resp.error {
        Some(e) if resp.limit => Err(PolicyError::Limit(format!(
            "the policy evaluation stopped at its limit: {e}"
        ))),
        Some(e) => Err(PolicyError::Failed(format!("a policy failed: {e}"))),
        None => Ok(resp),
    }
}

/// The worker's `main`: reads the request at `path`, evaluates it, writes
/// the response as JSON to stdout. Returns the exit status.
pub fn worker_main(path: &Path) -> i32 {
    let resp = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<Request>(&t).map_err(|e| e.to_string()))
    {
        Ok(req) => crate::evaluate(&req),
        Err(e) => Response {
            error: Some(format!("cannot read the request: {e}")),
            ..Default::default()
        },
    };
    let text = serde_json::to_string(&resp).unwrap_or_else(|_| "{}".into());
    let mut out = std::io::stdout().lock();
    if out.write_all(text.as_bytes()).is_err() {
        return 1;
    }
    0
}
