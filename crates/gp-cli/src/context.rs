//! What every command gets: global options, the printer, and lazily the
//! platform spec.

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Context as _;
use gp_core::Platform;

use crate::GlobalArgs;
use crate::printer::Printer;

/// Shared state of one invocation.
pub struct Context {
    /// Global options.
    pub global: GlobalArgs,
    /// Where output goes.
    pub printer: Printer,
    platform: OnceLock<Platform>,
}

impl Context {
    /// A context for one run.
    pub fn new(global: GlobalArgs, printer: Printer) -> Self {
        Self {
            global,
            printer,
            platform: OnceLock::new(),
        }
    }

    /// The platform spec, loaded and checked on first use.
    pub fn platform(&self) -> anyhow::Result<&Platform> {
        if let Some(p) = self.platform.get() {
            return Ok(p);
        }
        let p = Platform::load(&self.global.spec).with_context(|| {
            format!(
                "cannot load the platform spec {}",
                self.global.spec.display()
            )
        })?;
        Ok(self.platform.get_or_init(|| p))
    }

    /// The state directory: `--state-dir` / `GOLDENPATH_STATE_DIR`, else the
    /// spec's `stateDir`, else `.goldenpath/` beside the spec. Resolving it
    /// never creates it.
    pub fn state_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(dir) = &self.global.state_dir {
            return Ok(dir.clone());
        }
        let platform = self.platform()?;
        Ok(match &platform.spec.state_dir {
            Some(dir) => platform.base_dir().join(&dir.value),
            None => platform.base_dir().join(".goldenpath"),
        })
    }
}
