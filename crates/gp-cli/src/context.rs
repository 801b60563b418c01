//! What every command gets: global options, the printer, and lazily the
//! platform spec.

use std::path::PathBuf;
use std::sync::Arc;
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
    /// The command only reads: the registry is opened read-only.
    pub read_only: bool,
    platform: OnceLock<Platform>,
    registry: OnceLock<Registry>,
}

impl Context {
    /// A context for one run.
    pub fn new(global: GlobalArgs, printer: Printer) -> Self {
        Self {
            global,
            printer,
            read_only: false,
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

    /// The registry, opened (and migrated) on first use; read-only for a
    /// command that only reads. Its chain key comes from
    /// `GOLDENPATH_REGISTRY_KEY`, else (SQLite) the key file beside it.
    pub fn registry(&self) -> anyhow::Result<&Registry> {
        if let Some(r) = self.registry.get() {
            return Ok(r);
        }
        let location = self.registry_location()?;
        let key = match std::env::var(crate::env::REGISTRY_KEY) {
            Ok(k) if !k.trim().is_empty() => {
                Some(gp_registry::ChainKey::parse(&k).map_err(|e| {
                    crate::exit::CliError::invalid(format!("{}: {e}", crate::env::REGISTRY_KEY))
                })?)
            }
            _ => None,
        };
        let opts = gp_registry::OpenOptions {
            key,
            read_only: self.read_only,
        };
        let r = Registry::open_with(&location, &opts)
            .with_context(|| format!("cannot open the registry ({})", location.describe()))?;
        for w in r.warnings() {
            self.printer.warn(w);
        }
        Ok(self.registry.get_or_init(|| r))
    }

    /// Fails (invalid input) unless `env` is declared in the spec.
    pub fn check_env(&self, env: &str) -> anyhow::Result<()> {
        let platform = self.platform()?;
        if platform.environment(env).is_none() {
            gp_core::Contract::new(platform, env, gp_core::Deployment::Persistent)?;
        }
        Ok(())
    }

    /// Fails (invalid input) when a SQLite registry does not exist yet: a
    /// command that changes recorded state (a teardown, an unlock) has
    /// nothing to act on, and must not create a registry to find that out.
    pub fn require_registry(&self) -> anyhow::Result<()> {
        if let Location::Sqlite(path) = self.registry_location()?
            && !path.exists()
            && !path.with_extension("head").exists()
        {
            return Err(crate::exit::CliError::invalid(format!(
                "nothing was ever deployed from this state directory (no registry at {})",
                crate::cmd::shown(&path)
            ))
            .hint("check --state-dir / --registry, or deploy first")
            .into());
        }
        Ok(())
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

impl Context {
    /// The secrets store the platform names: the local encrypted store in
    /// the state directory, or, for `secrets.backend: aws`, a store that
    /// refuses every call (this binary carries no AWS SDK).
    pub fn secret_store(&self) -> anyhow::Result<Arc<dyn gp_driver_secrets::SecretStore>> {
        let platform = self.platform()?;
        Ok(match platform.spec.secrets.backend {
            gp_core::spec::SecretsBackend::Local => {
                Arc::new(gp_driver_secrets::LocalStore::new(&self.state_dir()?))
            }
            gp_core::spec::SecretsBackend::Aws => {
                Arc::new(gp_driver_secrets::UnavailableStore::new(
                    "the aws secrets backend (AWS Secrets Manager) is not built into this binary; \
                 use `secrets: {backend: local}`",
                ))
            }
        })
    }

    /// The drivers this binary ships, sharing one secrets store.
    pub fn drivers(&self) -> anyhow::Result<gp_driver::DriverSet> {
        let store = self.secret_store()?;
        Ok(gp_driver::DriverSet::new()
            .with(Arc::new(gp_driver::exec::ExecDriver))
            .with(Arc::new(gp_driver_secrets::SecretsDriver::new(
                store.clone(),
            )))
            .with(Arc::new(gp_driver_postgres::PostgresDriver::new(
                store.clone(),
            )))
            .with(Arc::new(gp_driver_dns::DnsDriver::new(store)))
            .with(Arc::new(gp_driver_terraform::TerraformDriver::new()))
            .with(Arc::new(gp_driver_gitops::GitopsDriver)))
    }

    /// An engine for this invocation.
    pub fn engine<'a>(
        &'a self,
        drivers: &'a gp_driver::DriverSet,
        events: &'a dyn gp_engine::EventSink,
        cancel: &'a std::sync::atomic::AtomicBool,
    ) -> anyhow::Result<gp_engine::Engine<'a>> {
        // A spec with errors stops here, before the registry is opened or
        // created: bad input writes nothing. The engine keeps the result, so
        // its workflows do not validate again.
        let validated =
            gp_engine::validate(self.platform()?, drivers).map_err(gp_engine::EngineError::from)?;
        let mut engine = gp_engine::Engine::new(
            self.platform()?,
            self.registry()?,
            drivers,
            self.state_dir()?,
            events,
            cancel,
        );
        engine.set_validated(validated);
        engine.actor = self.actor();
        engine.commit = self.commit();
        engine.run_url = self.run_url();
        Ok(engine)
    }
}
