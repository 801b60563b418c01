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

    /// Ends a command's run just before its process exits: the registry
    /// is closed ([`Registry::close_at_exit`]: its head file written, its
    /// connection closed), and what was only read into memory (the spec,
    /// the journals) is left for the system to take back whole at exit
    /// rather than freed value by value.
    pub fn finish_at_exit(mut self) {
        if let Some(registry) = self.registry.take() {
            registry.close_at_exit();
        }
        std::mem::forget(self.platform.take());
    }

    /// The platform spec's path: `--spec` / `GOLDENPATH_SPEC` (a file, or a
    /// directory holding `goldenpath.yaml`), else `goldenpath.yaml` in the
    /// current directory or the nearest parent that has one, as cargo
    /// finds `Cargo.toml`.
    pub fn spec_path(&self) -> anyhow::Result<PathBuf> {
        match &self.global.spec {
            Some(p) if p.is_dir() => Ok(p.join(SPEC_FILE)),
            Some(p) => Ok(p.clone()),
            None => find_spec(&std::env::current_dir()?).ok_or_else(|| {
                crate::exit::CliError::invalid(format!(
                    "no {SPEC_FILE} in this directory or any parent directory"
                ))
                .hint("create one with `goldenpath init`, or pass --spec PATH (or set GOLDENPATH_SPEC)")
                .into()
            }),
        }
    }

    /// The platform spec, loaded and checked on first use.
    pub fn platform(&self) -> anyhow::Result<&Platform> {
        if let Some(p) = self.platform.get() {
            return Ok(p);
        }
        let path = self.spec_path()?;
        let p = Platform::load(&path).with_context(|| {
            format!(
                "cannot load the platform spec {}",
                crate::printer::shown(&path)
            )
        })?;
        Ok(self.platform.get_or_init(|| p))
    }

    /// The state directory: `--state-dir` / `GOLDENPATH_STATE_DIR`, else the
    /// spec's `stateDir`, else `.goldenpath/` beside the spec (beside where
    /// the spec would be, `.`, when there is none). Resolving it never
    /// creates it.
    pub fn state_dir(&self) -> anyhow::Result<PathBuf> {
        // Absolute, so every path recorded in the registry (logs, data
        // directories) means the same from wherever it is read.
        let dir = self.state_dir_as_given()?;
        Ok(if dir.is_absolute() {
            dir
        } else {
            std::env::current_dir()?.join(dir)
        })
    }

    fn state_dir_as_given(&self) -> anyhow::Result<PathBuf> {
        if let Some(dir) = &self.global.state_dir {
            return Ok(dir.clone());
        }
        if self.global.spec.is_none()
            && self.platform.get().is_none()
            && find_spec(&std::env::current_dir()?).is_none()
        {
            return Ok(std::env::current_dir()?.join(".goldenpath"));
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
        let r = self.open_registry()?;
        Ok(self.registry.get_or_init(|| r))
    }

    /// A registry of its own (for a server whose handlers outlive the
    /// command's borrows), opened as [`Self::registry`] opens it.
    pub fn open_registry_shared(&self) -> anyhow::Result<Registry> {
        self.open_registry()
    }

    fn open_registry(&self) -> anyhow::Result<Registry> {
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
        Ok(r)
    }

    /// Fails (invalid input) unless `env` is declared in the spec.
    pub fn check_env(&self, env: &str) -> anyhow::Result<()> {
        let platform = self.platform()?;
        if platform.environment(env).is_none() {
            gp_core::Contract::new(platform, env, gp_core::Deployment::Persistent)?;
        }
        Ok(())
    }

    /// Like [`Context::check_env`], for commands that read history: an
    /// environment the spec no longer declares is fine while the registry
    /// holds rows for it (an imported or retired one).
    pub fn check_recorded_env(&self, env: &str) -> anyhow::Result<()> {
        let declared = self.check_env(env);
        if declared.is_err() && self.registry()?.env_recorded(env)? {
            return Ok(());
        }
        declared
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
                crate::printer::shown(&path)
            ))
            .hint("check --state-dir / --registry, or deploy first")
            .into());
        }
        Ok(())
    }

    /// Who is acting: `GOLDENPATH_ACTOR`; else the CI system's user
    /// ([`crate::env::CI_ACTORS`]: `GITHUB_ACTOR`, `GITLAB_USER_LOGIN`,
    /// ...); else git's `user.email` where the spec is; else the login
    /// name, `@host`.
    pub fn actor(&self) -> String {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if let Some(a) = var(crate::env::ACTOR) {
            return a;
        }
        for name in crate::env::CI_ACTORS {
            if let Some(a) = var(name) {
                return a;
            }
        }
        let dir = self
            .platform
            .get()
            .map(|p| p.base_dir().to_path_buf())
            .or_else(|| {
                self.spec_path()
                    .ok()?
                    .parent()
                    .map(std::path::Path::to_path_buf)
            })
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        if let Some(email) = git_user_email(&dir) {
            return email;
        }
        let user = var("USER")
            .or_else(|| var("LOGNAME"))
            .or_else(login_name)
            .unwrap_or_else(|| "unknown".into());
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

    /// Who opened the change this run comes from:
    /// `GOLDENPATH_CHANGE_AUTHOR`, else the pull request's author from
    /// GitHub Actions' event file.
    pub fn change_author(&self) -> Option<String> {
        let var = |name: &str| std::env::var(name).ok().filter(|s| !s.trim().is_empty());
        var(crate::env::CHANGE_AUTHOR).or_else(|| {
            let path = var("GITHUB_EVENT_PATH")?;
            // The event file is input like any other: bounded, parsed, and
            // only a login of GitHub's shape taken from it.
            let text = std::fs::read(path).ok().filter(|t| t.len() <= 16 << 20)?;
            let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
            let login = v["pull_request"]["user"]["login"].as_str()?;
            (!login.is_empty()
                && login.len() <= 39
                && login.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'[' || b == b']'
                }))
            .then(|| login.to_string())
        })
    }

    /// The CI run URL, if known: `GOLDENPATH_RUN_URL`, else GitHub
    /// Actions' run (`GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/
    /// GITHUB_RUN_ID`), else GitLab's `CI_JOB_URL`.
    pub fn run_url(&self) -> Option<String> {
        let var = |name: &str| std::env::var(name).ok().filter(|s| !s.trim().is_empty());
        var(crate::env::RUN_URL)
            .or_else(|| {
                Some(format!(
                    "{}/{}/actions/runs/{}",
                    var("GITHUB_SERVER_URL")?.trim_end_matches('/'),
                    var("GITHUB_REPOSITORY")?,
                    var("GITHUB_RUN_ID")?
                ))
            })
            .or_else(|| var("CI_JOB_URL"))
    }
}

impl Context {
    /// The secrets store the platform names: the local encrypted store in
    /// the state directory, or, for `secrets.backend: aws`, AWS Secrets
    /// Manager (a store that refuses every call in a build without the
    /// `aws` feature).
    pub fn secret_store(&self) -> anyhow::Result<Arc<dyn gp_driver_secrets::SecretStore>> {
        let platform = self.platform()?;
        Ok(match platform.spec.secrets.backend {
            gp_core::spec::SecretsBackend::Local => {
                Arc::new(gp_driver_secrets::LocalStore::new(&self.state_dir()?))
            }
            #[cfg(feature = "aws")]
            gp_core::spec::SecretsBackend::Aws => Arc::new(gp_aws::SecretsManagerStore::new(
                platform.spec.secrets.region.as_deref(),
                platform.spec.secrets.kms_key_id.clone(),
            )?),
            #[cfg(not(feature = "aws"))]
            gp_core::spec::SecretsBackend::Aws => {
                Arc::new(gp_driver_secrets::UnavailableStore::new(
                    "the aws secrets backend (AWS Secrets Manager) is not built into this binary (built without the `aws` feature); \
                 use `secrets: {backend: local}`",
                ))
            }
        })
    }

    /// [`gp_engine::preflight`], and that the secrets backend is built
    /// into this binary: every problem with its position in the spec.
    pub fn preflight(&self, drivers: &gp_driver::DriverSet) -> Result<(), gp_core::InvalidInput> {
        let platform = self
            .platform()
            .map_err(|_| gp_core::InvalidInput(Vec::new()))?;
        #[allow(unused_mut)]
        let mut problems = match gp_engine::preflight(platform, drivers) {
            Ok(()) => Vec::new(),
            Err(e) => e.0,
        };
        #[cfg(not(feature = "aws"))]
        if platform.spec.secrets.backend == gp_core::spec::SecretsBackend::Aws {
            problems.push(
                platform
                    .diagnostic(
                        platform.position_of(&["secrets", "backend"]),
                        "the aws secrets backend (AWS Secrets Manager) is not part of this build of goldenpath (built without the `aws` feature)",
                    )
                    .with_hint("use `secrets: {backend: local}`"),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(gp_core::InvalidInput(problems))
        }
    }

    /// The drivers this binary ships, sharing one secrets store.
    pub fn drivers(&self) -> anyhow::Result<gp_driver::DriverSet> {
        self.drivers_with(gp_driver_terraform::TerraformDriver::new())
    }

    /// [`Context::drivers`] with this terraform driver (one given saved
    /// plans, for `iam policy --plan`).
    pub fn drivers_with(
        &self,
        terraform: gp_driver_terraform::TerraformDriver,
    ) -> anyhow::Result<gp_driver::DriverSet> {
        let store = self.secret_store()?;
        let set = gp_driver::DriverSet::new()
            .with(Arc::new(gp_driver::exec::ExecDriver))
            .with(Arc::new(gp_driver_secrets::SecretsDriver::new(
                store.clone(),
            )))
            .with(Arc::new(gp_driver_postgres::PostgresDriver::new(
                store.clone(),
            )))
            .with(Arc::new(dns_driver(store)))
            .with(Arc::new(terraform))
            .with(Arc::new(gp_driver_gitops::GitopsDriver));
        #[cfg(feature = "aws")]
        let set = if uses_aws(self.platform()?) {
            set.with_tag_sweep(Arc::new(gp_aws::AwsTagSweep::new(self.aws_region())))
        } else {
            set
        };
        Ok(set)
    }

    /// The region AWS calls of this platform use beyond the secrets store
    /// (the tag sweep): `secrets.region`, else the chain's.
    pub fn aws_region(&self) -> Option<String> {
        self.platform().ok()?.spec.secrets.region.clone()
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
        // So are policy files that do not parse.
        if self.platform()?.spec.policy.enabled {
            gp_policy::PolicySet::load(self.platform()?)?;
        }
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
        engine.change_author = self.change_author();
        // Policies are evaluated by this binary in a child process.
        engine.policy = Some(gp_policy::Runner::current_exe());
        Ok(engine)
    }
}

/// `git config user.email` in `dir`, when git is installed and one is set.
fn git_user_email(dir: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["config", "--get", "user.email"])
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let email = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !email.is_empty() && !email.chars().any(char::is_control))
        .then_some(email)
}

/// The login name of this process's user, from `/etc/passwd` (no `$USER`
/// in a container or a cron job).
fn login_name() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)? == uid).then(|| name.to_string())
        })
}

/// The spec's file name, looked for when `--spec` is not given.
pub const SPEC_FILE: &str = "goldenpath.yaml";

/// `goldenpath.yaml` in `dir` or its nearest parent that has one.
/// Messages name it as the user would: `goldenpath.yaml` when it is in
/// `dir`, else its full path.
fn find_spec(dir: &std::path::Path) -> Option<PathBuf> {
    let found = dir
        .ancestors()
        .map(|d| d.join(SPEC_FILE))
        .find(|p| p.is_file())?;
    Some(if found.parent() == Some(dir) {
        PathBuf::from(SPEC_FILE)
    } else {
        found
    })
}

/// The DNS driver, with Route 53 when the binary carries the AWS SDK.
fn dns_driver(store: Arc<dyn gp_driver_secrets::SecretStore>) -> gp_driver_dns::DnsDriver {
    let d = gp_driver_dns::DnsDriver::new(store);
    #[cfg(feature = "aws")]
    let d = d.with_route53(gp_aws::route53_factory(), gp_aws::route53_permissions());
    d
}

/// Whether the platform keeps anything in AWS (Secrets Manager, a Route 53
/// zone, Terraform state in S3): then a build's teardown also sweeps AWS
/// for resources still tagged with it.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub fn uses_aws(platform: &Platform) -> bool {
    platform.spec.secrets.backend == gp_core::spec::SecretsBackend::Aws
        || platform.spec.components.iter().any(|c| {
            let settings = c.settings_node();
            let backend = settings.get("backend");
            match c.driver.value.as_str() {
                "dns" => backend.and_then(|b| b.as_str()) == Some("route53"),
                "terraform" => backend.is_some_and(|b| b.get("s3").is_some()),
                _ => false,
            }
        })
}
