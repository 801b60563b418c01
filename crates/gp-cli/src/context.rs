//! What every command gets: global options, the printer, and lazily the
//! platform spec.

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Context as _;
use gp_core::Platform;
use gp_registry::{Location, Registry};

use crate::GlobalArgs;
use crate::printer::Printer;

/// Shared state of one invocation.
pub struct Context {
    /// Global options.
    pub global: GlobalArgs,
    /// Where output goes.
    pub printer: Printer,
    platform: OnceLock<Platform>,
    registry: OnceLock<Registry>,
}

impl Context {
    /// A context for one run.
    pub fn new(global: GlobalArgs, printer: Printer) -> Self {
        Self {
            global,
            printer,
            platform: OnceLock::new(),
            registry: OnceLock::new(),
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

impl Context {
    /// Where the registry lives: `--registry` / `GOLDENPATH_REGISTRY`, else
    /// `registry.db` in the state directory.
    pub fn registry_location(&self) -> anyhow::Result<Location> {
        match &self.global.registry {
            Some(r) => Ok(Location::parse(r)?),
            None => Ok(Location::Sqlite(self.state_dir()?.join("registry.db"))),
        }
    }

    /// The registry, opened (and migrated) on first use.
    pub fn registry(&self) -> anyhow::Result<&Registry> {
        if let Some(r) = self.registry.get() {
            return Ok(r);
        }
        let location = self.registry_location()?;
        let r = Registry::open(&location)
            .with_context(|| format!("cannot open the registry ({})", location.describe()))?;
        Ok(self.registry.get_or_init(|| r))
    }

    /// Who is acting: `GOLDENPATH_ACTOR`, else `$USER@host`.
    pub fn actor(&self) -> String {
        if let Ok(a) = std::env::var(crate::env::ACTOR)
            && !a.trim().is_empty()
        {
            return a;
        }
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        format!("{user}@{host}")
    }

    /// The source commit, if known.
    pub fn commit(&self) -> Option<String> {
        std::env::var(crate::env::COMMIT)
            .or_else(|_| std::env::var("GITHUB_SHA"))
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// The CI run URL, if known.
    pub fn run_url(&self) -> Option<String> {
        std::env::var(crate::env::RUN_URL)
            .ok()
            .filter(|s| !s.is_empty())
    }
}
