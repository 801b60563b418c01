//! The `postgres` driver: the platform's standalone database instance and
//! one database plus login role per app.
//!
//! ```yaml
//! # The foundational instance: a managed local server (the embedded
//! # default) or an existing one.
//! - name: rds
//!   plane: foundational
//!   tier: 2
//!   protected: true
//!   driver: postgres
//!   settings:
//!     managed: {}                    # or: server: { url: postgres://admin@db:5432/postgres, passwordSecret: PATH }
//!     databases: [keycloak, backstage]
//!
//! # Per-build databases on that instance, removed by the build's teardown.
//! - name: scratch-db
//!   plane: disposable
//!   tier: 2
//!   driver: postgres
//!   needs: [rds]
//!   settings: { instance: rds, databases: [scratch] }
//! ```
//!
//! For each database: a login role without superuser, createrole or
//! createdb that owns the database; `CONNECT` revoked from `PUBLIC`; a
//! random 40-character password set as a SCRAM-SHA-256 verifier; and a
//! secret at the contract's path holding
//! `{username, password, host, port, dbname, engine}`. An existing role is
//! adopted by rotating its password; an existing database owned by someone
//! else is an error. [`server`] runs the managed instance.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gp_core::yaml::Spanned;
use gp_core::{Plane, Secret};
use gp_driver::{
    Action, Applied, ComponentCtx, ComponentOutputs, Counts, Driver, DriverError, Existence,
    Observation, Outputs, Presence, ResourceRef, ValidateCtx, Validated, settings_at_apply,
    typed_settings,
};
use gp_driver_secrets::{SecretStore, generate_password};
use serde::Deserialize;

pub mod server;
pub mod sql;

use sql::Endpoint;

/// The admin user of a managed instance.
pub const MANAGED_ADMIN: &str = "goldenpath_admin";
const PASSWORD_LEN: usize = 40;

/// Settings of a `postgres` component.
#[derive(Clone, Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PostgresSettings {
    /// A managed local instance under the state directory (the default).
    #[serde(default)]
    pub managed: Option<ManagedSettings>,
    /// An existing server.
    #[serde(default)]
    pub server: Option<ServerSettings>,
    /// Databases on another component's instance (a component it needs).
    #[serde(default)]
    pub instance: Option<Spanned<String>>,
    /// One database and login role per app, named after it.
    #[serde(default)]
    pub databases: Vec<Spanned<String>>,
}

/// A managed local instance.
#[derive(Clone, Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ManagedSettings {
    /// Preferred port (default: a free one, kept across restarts).
    #[serde(default)]
    pub port: Option<u16>,
}

/// An existing server. The admin password never sits in the spec: it comes
/// from a secret or an environment variable.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerSettings {
    /// `postgres://admin@host:port/postgres`, without a password.
    pub url: Spanned<String>,
    /// A secret holding the admin password (`{"password": ...}` or text).
    #[serde(default)]
    pub password_secret: Option<String>,
    /// An environment variable holding the admin password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// The host apps connect to, when it differs from the URL's.
    #[serde(default)]
    pub app_host: Option<String>,
}

/// A parsed `postgres://user@host:port/db`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    /// User.
    pub user: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database.
    pub database: String,
    /// Whether a password was written in it (refused).
    pub has_password: bool,
}

/// Parses a server URL.
pub fn parse_url(url: &str) -> Option<ServerUrl> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))?;
    let (auth, hostpart) = rest.rsplit_once('@')?;
    let (user, has_password) = match auth.split_once(':') {
        Some((u, _)) => (u, true),
        None => (auth, false),
    };
    let (hostport, database) = hostpart.split_once('/').unwrap_or((hostpart, "postgres"));
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (hostport, 5432),
    };
    if user.is_empty() || host.is_empty() {
        return None;
    }
    Some(ServerUrl {
        user: user.into(),
        host: host.into(),
        port,
        database: if database.is_empty() {
            "postgres".into()
        } else {
            database.into()
        },
        has_password,
    })
}

/// Where an instance is and how to administer it.
struct Instance {
    admin: Endpoint,
    /// Host and port apps use.
    app_host: String,
    app_port: u16,
    /// The managed data directory.
    data_dir: Option<PathBuf>,
    /// Where the admin password lives (managed or instance-from-input).
    admin_secret: Option<String>,
    /// Or the environment variable holding it (an existing server).
    admin_env: Option<String>,
}

/// One database to provision.
#[derive(Clone, Debug)]
pub struct DatabaseSpec {
    /// The app, as the contract names it (`backstage`).
    pub app: String,
    /// The database name.
    pub database: String,
    /// The login role.
    pub role: String,
    /// Where its credentials go.
    pub secret_path: String,
    /// Whether an existing role may be taken over (never for per-build
    /// databases, which must not touch what they did not create).
    pub allow_adopt: bool,
    /// Tags on the secret.
    pub tags: BTreeMap<String, String>,
}

/// An admin connection to an instance, and how apps reach it.
pub struct InstanceConnection<'a> {
    /// Connected as the admin, to the `postgres` database.
    pub admin: postgres::Client,
    /// The host apps connect to.
    pub host: &'a str,
    /// The port apps connect to.
    pub port: u16,
}

/// Where a managed instance lives: `{state}/postgres/{env}-{component}`.
fn managed_dir(ctx: &ComponentCtx<'_>, component: &str) -> PathBuf {
    ctx.state_dir
        .join("postgres")
        .join(format!("{}-{component}", ctx.contract.env()))
}

/// The driver.
pub struct PostgresDriver {
    store: Arc<dyn SecretStore>,
}

impl PostgresDriver {
    /// A driver keeping credentials in `store`.
    pub fn new(store: Arc<dyn SecretStore>) -> Self {
        Self { store }
    }

    fn password_from(&self, path: &str) -> Result<Option<Secret>, DriverError> {
        let Some(s) = self.store.get(path)? else {
            return Ok(None);
        };
        Ok(Some(
            match s.json().and_then(|m| {
                m.get("password")
                    .and_then(|p| p.as_str())
                    .map(str::to_string)
            }) {
                Some(p) => Secret::new(p),
                None => s.value,
            },
        ))
    }

    /// The instance of a component, starting a managed one that exists but
    /// is stopped when `start` is set.
    fn instance(
        &self,
        ctx: &ComponentCtx<'_>,
        s: &PostgresSettings,
        start: bool,
    ) -> Result<Option<Instance>, DriverError> {
        if let Some(name) = &s.instance {
            // The instance is found from its own spec, never from the
            // outputs it published: an output is data, not a pointer to a
            // data directory, a server or an environment variable.
            let Some(spec) = ctx
                .platform
                .component(&name.value)
                .filter(|c| c.driver.value == "postgres")
            else {
                return Err(DriverError::configuration(format!(
                    "`{}` is not a postgres component of the spec",
                    name.value
                )));
            };
            let own: PostgresSettings =
                gp_driver::typed_settings(ctx.platform, &spec.settings_node(), false).map_err(
                    |d| {
                        DriverError::configuration(format!("invalid settings for `{}`", name.value))
                            .with_diagnostics(d)
                    },
                )?;
            if own.instance.is_some() {
                return Err(DriverError::configuration(format!(
                    "`{}` names another component's instance; name the instance itself",
                    name.value
                )));
            }
            return self.instance_from(ctx, &name.value, &own, start);
        }
        self.instance_from(ctx, ctx.name(), s, start)
    }

    /// The instance a component's own settings describe: an existing
    /// server, or the managed one under the state directory.
    fn instance_from(
        &self,
        ctx: &ComponentCtx<'_>,
        component: &str,
        s: &PostgresSettings,
        start: bool,
    ) -> Result<Option<Instance>, DriverError> {
        if let Some(server) = &s.server {
            let url = parse_url(&server.url.value).ok_or_else(|| {
                DriverError::configuration(format!("invalid server url `{}`", server.url.value))
            })?;
            let password = match (&server.password_secret, &server.password_env) {
                (Some(path), _) => self.password_from(path)?.ok_or_else(|| {
                    DriverError::configuration(format!(
                        "the admin password secret {path} does not exist"
                    ))
                    .with_hint(format!("goldenpath secret put {path} < password.json"))
                })?,
                (None, Some(var)) => Secret::new(std::env::var(var).map_err(|_| {
                    DriverError::configuration(format!(
                        "the environment variable {var} (the admin password) is not set"
                    ))
                })?),
                (None, None) => {
                    return Err(DriverError::configuration(
                        "the server's admin password needs passwordSecret or passwordEnv",
                    ));
                }
            };
            return Ok(Some(Instance {
                admin: Endpoint {
                    host: url.host.clone(),
                    port: url.port,
                    user: url.user,
                    password,
                },
                app_host: server.app_host.clone().unwrap_or(url.host),
                app_port: url.port,
                data_dir: None,
                admin_secret: server.password_secret.clone(),
                admin_env: server
                    .password_env
                    .clone()
                    .filter(|_| server.password_secret.is_none()),
            }));
        }
        // Managed.
        let dir = managed_dir(ctx, component);
        let data_dir = dir.join("data");
        let local = server::LocalServer::new(&data_dir).map_err(server_error)?;
        if !local.is_initialised() {
            return Ok(None);
        }
        let preferred = s.managed.as_ref().and_then(|m| m.port);
        let port = ensure_running(&data_dir, preferred, start)?;
        let admin_secret = ctx.contract.component_secret_path(component, "admin");
        let password = self.password_from(&admin_secret)?.ok_or_else(|| {
            DriverError::configuration(format!(
                "the managed instance's admin secret {admin_secret} is missing"
            ))
        })?;
        Ok(Some(Instance {
            admin: Endpoint {
                host: "127.0.0.1".into(),
                port,
                user: MANAGED_ADMIN.into(),
                password,
            },
            app_host: "127.0.0.1".into(),
            app_port: port,
            data_dir: Some(data_dir),
            admin_secret: Some(admin_secret),
            admin_env: None,
        }))
    }

    /// The databases a component provisions, with their contract names.
    fn databases(
        &self,
        ctx: &ComponentCtx<'_>,
        s: &PostgresSettings,
    ) -> Result<Vec<DatabaseSpec>, DriverError> {
        let per_build = ctx.component.plane.value == Plane::Disposable;
        let mut out = Vec::new();
        for app in &s.databases {
            let app = &app.value;
            let name = ctx
                .contract
                .build_database_name(app)
                .map_err(|e| DriverError::configuration(e.to_string()))?;
            let secret_path = if per_build {
                ctx.contract.build_database_secret_path(app)
            } else {
                ctx.contract.database_secret_path(app)
            }
            .map_err(|e| DriverError::configuration(e.to_string()))?;
            out.push(DatabaseSpec {
                app: app.clone(),
                database: name.clone(),
                role: name,
                secret_path,
                allow_adopt: !per_build,
                tags: gp_driver_secrets::tags(ctx.contract, ctx.name(), per_build),
            });
        }
        Ok(out)
    }

    /// Creates or converges one database, its role and its secret,
    /// journalling each step. Used for the databases of a component and for
    /// database requests.
    pub fn ensure_database(
        &self,
        ctx: &ComponentCtx<'_>,
        on: &mut InstanceConnection<'_>,
        db: &DatabaseSpec,
        known: bool,
        counts: &mut Counts,
    ) -> Result<Outputs, DriverError> {
        let admin = &mut on.admin;
        let endpoint = (on.host, on.port);
        sql::check_database(&db.database).map_err(|e| DriverError::configuration(e.to_string()))?;
        sql::check_role(&db.role).map_err(|e| DriverError::configuration(e.to_string()))?;
        let (app_host, app_port) = endpoint;
        let role_ref = ResourceRef::new("role", &db.role);
        let db_ref = ResourceRef::new("database", &db.database);
        let secret_ref = ResourceRef::new("secret", &db.secret_path);
        let existing_secret = self.store.get(&db.secret_path)?;
        let secret_password = existing_secret
            .as_ref()
            .and_then(|s| s.json())
            .and_then(|m| m.get("password").and_then(|p| p.as_str()).map(Secret::new));

        // The role.
        let mut password = None;
        match sql::role(admin, &db.role)? {
            None => {
                let pw = generate_password(PASSWORD_LEN)?;
                let id = ctx.recorder.before(Action::Create, &role_ref)?;
                if let Err(e) = sql::set_role(admin, &db.role, &pw, true) {
                    ctx.recorder.failed(&id, &e.message);
                    return Err(e);
                }
                ctx.recorder.after(&id, None)?;
                counts.added += 1;
                password = Some(pw);
            }
            Some((superuser, createrole, createdb, login)) => {
                if !known && !db.allow_adopt {
                    return Err(DriverError::permanent(format!(
                        "role {} already exists and was not created by this deployment; a per-build database never takes over an existing role",
                        db.role
                    )));
                }
                let works = match &secret_password {
                    Some(p) => password_works(app_host, app_port, &db.role, p),
                    None => false,
                };
                if !known || superuser || createrole || createdb || !login || !works {
                    // Adopting rotates the password: its hash cannot be read
                    // back. A role of ours with a broken secret is repaired
                    // the same way.
                    let pw = generate_password(PASSWORD_LEN)?;
                    let action = if known { Action::Update } else { Action::Adopt };
                    let id = ctx.recorder.before(action, &role_ref)?;
                    if let Err(e) = sql::set_role(admin, &db.role, &pw, false) {
                        ctx.recorder.failed(&id, &e.message);
                        return Err(e);
                    }
                    ctx.recorder.after(&id, None)?;
                    counts.changed += 1;
                    password = Some(pw);
                }
            }
        }
        // The database.
        match sql::database(admin, &db.database)? {
            None => {
                let id = ctx.recorder.before(Action::Create, &db_ref)?;
                if let Err(e) = sql::create_database(admin, &db.database, &db.role) {
                    ctx.recorder.failed(&id, &e.message);
                    return Err(e);
                }
                ctx.recorder.after(&id, None)?;
                counts.added += 1;
            }
            Some((owner, public_connect)) => {
                if owner != db.role {
                    return Err(DriverError::permanent(format!(
                        "database {} exists and is owned by {owner}, not {}",
                        db.database, db.role
                    ))
                    .with_hint(format!(
                        "choose another name, or hand it over first: ALTER DATABASE {} OWNER TO {}",
                        sql::ident(&db.database),
                        sql::ident(&db.role)
                    )));
                }
                if !known && !db.allow_adopt {
                    return Err(DriverError::permanent(format!(
                        "database {} already exists and was not created by this deployment",
                        db.database
                    )));
                }
                if !known || public_connect {
                    let action = if known { Action::Update } else { Action::Adopt };
                    let id = ctx.recorder.before(action, &db_ref)?;
                    if let Err(e) = sql::restrict(admin, &db.database, &db.role) {
                        ctx.recorder.failed(&id, &e.message);
                        return Err(e);
                    }
                    ctx.recorder.after(&id, None)?;
                    counts.changed += 1;
                }
            }
        }
        // The secret.
        let password = match password.or(secret_password) {
            Some(p) => p,
            None => {
                return Err(DriverError::permanent(format!(
                    "no password is known for role {}",
                    db.role
                )));
            }
        };
        let desired = serde_json::json!({
            "username": db.role,
            "password": password.expose(),
            "host": app_host,
            "port": app_port,
            "dbname": db.database,
            "engine": "postgres",
        });
        let current = existing_secret
            .as_ref()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s.value.expose()).ok());
        if current.as_ref() != Some(&desired) {
            let action = match (&existing_secret, known) {
                (None, _) => Action::Create,
                (Some(_), true) => Action::Update,
                (Some(_), false) => Action::Adopt,
            };
            let id = ctx.recorder.before(action, &secret_ref)?;
            if let Err(e) =
                self.store
                    .put(&db.secret_path, &Secret::new(desired.to_string()), &db.tags)
            {
                ctx.recorder.failed(&id, &e.to_string());
                return Err(e.into());
            }
            ctx.recorder.after(&id, None)?;
            if action == Action::Create {
                counts.added += 1;
            } else {
                counts.changed += 1;
            }
        }
        Ok(database_outputs(db, app_host, app_port))
    }
}

fn database_outputs(db: &DatabaseSpec, host: &str, port: u16) -> Outputs {
    BTreeMap::from([
        ("dbname".to_string(), serde_json::json!(db.database)),
        ("username".to_string(), serde_json::json!(db.role)),
        ("host".to_string(), serde_json::json!(host)),
        ("port".to_string(), serde_json::json!(port)),
        ("secret_path".to_string(), serde_json::json!(db.secret_path)),
    ])
}

/// Whether `password` logs `role` in (to the `postgres` database, which
/// PUBLIC may connect to).
fn password_works(host: &str, port: u16, role: &str, password: &Secret) -> bool {
    let e = Endpoint {
        host: host.into(),
        port,
        user: role.into(),
        password: password.clone(),
    };
    sql::connect(&e, "postgres").is_ok()
}

fn server_error(e: server::ServerError) -> DriverError {
    let hint = e.hint();
    let mut d = match e {
        server::ServerError::BinariesMissing | server::ServerError::Unreachable { .. } => {
            DriverError::configuration(e.to_string())
        }
        _ => DriverError::permanent(e.to_string()),
    };
    d.hint = hint;
    d
}

/// Starts the managed server on `data_dir` if it is stopped (and `start`),
/// returning its port. The chosen port is kept in `port` beside the data.
fn ensure_running(
    data_dir: &Path,
    preferred: Option<u16>,
    start: bool,
) -> Result<u16, DriverError> {
    let local = server::LocalServer::new(data_dir).map_err(server_error)?;
    if !local.is_initialised() {
        return Err(DriverError::not_found(format!(
            "no managed instance at {}",
            data_dir.display()
        )));
    }
    if local.is_running() {
        return local.running_port().ok_or_else(|| {
            DriverError::retryable("the managed instance is running but its port is unknown")
        });
    }
    let port_file = data_dir.with_file_name("port");
    let saved: Option<u16> = std::fs::read_to_string(&port_file)
        .ok()
        .and_then(|p| p.trim().parse().ok());
    if !start {
        return Err(DriverError::retryable(format!(
            "the managed instance at {} is stopped",
            data_dir.display()
        )));
    }
    let mut candidates: Vec<u16> = saved.into_iter().chain(preferred).collect();
    for _ in 0..3 {
        candidates.push(server::free_port().map_err(server_error)?);
    }
    let mut last = None;
    for port in candidates {
        match local.start(port) {
            Ok(()) => {
                let _ = std::fs::write(&port_file, port.to_string());
                return Ok(port);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .map(server_error)
        .unwrap_or_else(|| DriverError::permanent("cannot start the managed instance")))
}

impl Driver for PostgresDriver {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn validate(&self, ctx: &ValidateCtx<'_>) -> Result<Validated, Vec<gp_core::Diagnostic>> {
        let s: PostgresSettings = typed_settings(ctx.platform, ctx.settings, true)?;
        let mut problems = Vec::new();
        let p = ctx.platform;
        let modes = usize::from(s.managed.is_some())
            + usize::from(s.server.is_some())
            + usize::from(s.instance.is_some());
        if modes > 1 {
            problems.push(p.diagnostic(
                ctx.settings.start,
                "choose one of `managed`, `server` and `instance`",
            ));
        }
        let disposable = ctx.component.plane.value == Plane::Disposable;
        if disposable && s.instance.is_none() {
            problems.push(p.diagnostic(
                ctx.settings.start,
                "a disposable postgres component holds per-build databases on an instance: set `instance: NAME` (a foundational postgres component it needs)",
            ));
        }
        if let Some(i) = &s.instance
            && !ctx
                .component
                .need_refs()
                .any(|(r, _)| r.component == i.value)
        {
            problems.push(p.diagnostic(
                i.start,
                format!("`instance: {}` must also be listed in `needs`", i.value),
            ));
        }
        if let Some(server) = &s.server {
            match parse_url(&server.url.value) {
                None => problems.push(p.diagnostic(
                    server.url.start,
                    "invalid url: expected postgres://USER@HOST[:PORT][/DATABASE]",
                )),
                Some(u) if u.has_password => problems.push(
                    p.diagnostic(
                        server.url.start,
                        "the url contains a password; never put one in the spec",
                    )
                    .with_hint(
                        "use passwordSecret: PATH (goldenpath secret put PATH) or passwordEnv: VAR",
                    ),
                ),
                Some(_) => {}
            }
            if server.password_secret.is_none() && server.password_env.is_none() {
                problems.push(p.diagnostic(
                    server.url.start,
                    "the admin password needs `passwordSecret` or `passwordEnv`",
                ));
            }
        }
        let mut seen = Vec::new();
        for db in &s.databases {
            // Per-build names carry a suffix: check the longest they can be.
            let longest = if disposable {
                format!("{}_b00000000", db.value)
            } else {
                db.value.clone()
            };
            if let Err(e) = sql::check_database(&db.value).and_then(|_| sql::check_role(&longest)) {
                let why = if disposable && sql::check_role(&db.value).is_ok() {
                    format!(
                        "`{}` is too long for a per-build database: `{longest}` must fit a role name (31 characters)",
                        db.value
                    )
                } else {
                    e.to_string()
                };
                problems.push(p.diagnostic(db.start, why));
            }
            if seen.contains(&db.value) {
                problems.push(
                    p.diagnostic(db.start, format!("database `{}` is listed twice", db.value)),
                );
            }
            seen.push(db.value.clone());
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Validated {
            outputs: Some(
                [
                    "host",
                    "port",
                    "engine",
                    "adminUser",
                    "adminSecret",
                    "adminPasswordEnv",
                    "dataDir",
                ]
                .map(String::from)
                .to_vec(),
            ),
            owned: {
                let admin = match &s.server {
                    Some(server) => parse_url(&server.url.value).map(|u| u.user),
                    None if s.instance.is_none() => Some(MANAGED_ADMIN.to_string()),
                    None => None,
                };
                admin
                    .map(|a| (a, "role"))
                    .into_iter()
                    .chain(
                        seen.iter()
                            .flat_map(|d| [(d.clone(), "database"), (d.clone(), "role")]),
                    )
                    .collect()
            },
            resources: seen,
            resource_outputs: Some(
                ["dbname", "username", "host", "port", "secret_path"]
                    .map(String::from)
                    .to_vec(),
            ),
        })
    }

    fn observe(&self, ctx: &ComponentCtx<'_>) -> Result<Observation, DriverError> {
        let s: PostgresSettings = settings_at_apply(ctx)?;
        let inst = match self.instance(ctx, &s, false) {
            Ok(Some(i)) => i,
            Ok(None) => return Ok(Observation::absent()),
            Err(e)
                if e.kind == gp_driver::ErrorKind::Retryable
                    && s.instance.is_none()
                    && s.server.is_none() =>
            {
                return Ok(Observation {
                    presence: Presence::Partial,
                    drift: vec![e.message],
                    outputs: None,
                    counts: None,
                });
            }
            Err(e) => return Err(e),
        };
        let mut admin = sql::connect(&inst.admin, "postgres")?;
        let dbs = self.databases(ctx, &s)?;
        let mut drift = Vec::new();
        let mut present = 0usize;
        let mut outputs = instance_outputs(&inst);
        for db in &dbs {
            let role = sql::role(&mut admin, &db.role)?;
            let database = sql::database(&mut admin, &db.database)?;
            let secret = self.store.get(&db.secret_path)?;
            if role.is_none() && database.is_none() && secret.is_none() {
                continue;
            }
            present += 1;
            match role {
                None => drift.push(format!("role {} is missing", db.role)),
                Some((su, cr, cd, login)) if su || cr || cd || !login => {
                    drift.push(format!("role {} has privileges it must not have", db.role))
                }
                _ => {}
            }
            match database {
                None => drift.push(format!("database {} is missing", db.database)),
                Some((owner, _)) if owner != db.role => {
                    drift.push(format!("database {} is owned by {owner}", db.database))
                }
                Some((_, true)) => {
                    drift.push(format!("PUBLIC may connect to database {}", db.database))
                }
                _ => {}
            }
            let json = secret.as_ref().and_then(|s| s.json());
            match json {
                None => drift.push(format!("secret {} is missing", db.secret_path)),
                Some(m) => {
                    let pw = m.get("password").and_then(|p| p.as_str()).map(Secret::new);
                    let fields_ok = m.get("host").and_then(|h| h.as_str())
                        == Some(inst.app_host.as_str())
                        && m.get("port").and_then(|p| p.as_u64()) == Some(u64::from(inst.app_port))
                        && m.get("dbname").and_then(|d| d.as_str()) == Some(db.database.as_str())
                        && m.get("username").and_then(|u| u.as_str()) == Some(db.role.as_str())
                        && m.get("engine").and_then(|e| e.as_str()) == Some("postgres");
                    if !fields_ok {
                        drift.push(format!(
                            "secret {} does not match the database",
                            db.secret_path
                        ));
                    } else if !pw.is_some_and(|p| {
                        password_works(&inst.app_host, inst.app_port, &db.role, &p)
                    }) {
                        drift.push(format!(
                            "the password in {} does not log in",
                            db.secret_path
                        ));
                    }
                }
            }
            outputs.resources.insert(
                db.app.clone(),
                database_outputs(db, &inst.app_host, inst.app_port),
            );
        }
        let managed = s.server.is_none() && s.instance.is_none();
        Ok(Observation {
            presence: if present == dbs.len() {
                Presence::Present
            } else if present == 0 && !managed {
                // On a server goldenpath does not run, nothing of ours is
                // there; a managed instance itself is already something.
                Presence::Absent
            } else {
                Presence::Partial
            },
            drift,
            outputs: Some(outputs),
            counts: None,
        })
    }

    fn apply(&self, ctx: &ComponentCtx<'_>) -> Result<Applied, DriverError> {
        let s: PostgresSettings = settings_at_apply(ctx)?;
        let mut counts = Counts::default();
        let managed = s.server.is_none() && s.instance.is_none();
        if managed {
            self.create_managed(ctx, &s, &mut counts)?;
        }
        let inst = self
            .instance(ctx, &s, true)?
            .ok_or_else(|| DriverError::permanent("the managed instance did not come up"))?;
        let mut on = InstanceConnection {
            admin: sql::connect(&inst.admin, "postgres")?,
            host: &inst.app_host,
            port: inst.app_port,
        };
        let mut outputs = instance_outputs(&inst);
        for db in self.databases(ctx, &s)? {
            let known = ctx.last.is_some_and(|l| l.resources.contains_key(&db.app));
            let out = self.ensure_database(ctx, &mut on, &db, known, &mut counts)?;
            outputs.resources.insert(db.app.clone(), out);
        }
        Ok(Applied { outputs, counts })
    }

    /// A database request: `{request, database, role, journalled: ["role:x", ...]}`
    /// on this (foundational) instance. Re-running is a no-op; an existing
    /// role not journalled here is adopted (its password rotated).
    fn provision(
        &self,
        ctx: &ComponentCtx<'_>,
        request: &serde_json::Value,
    ) -> Result<Applied, DriverError> {
        let field = |k: &str| {
            request
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| DriverError::configuration(format!("the request lacks `{k}`")))
        };
        let (id, database, role) = (field("request")?, field("database")?, field("role")?);
        if ctx.component.plane.value != Plane::Foundational {
            return Err(DriverError::configuration(format!(
                "{} is not a foundational instance; requests go to the foundational plane",
                ctx.name()
            )));
        }
        let s: PostgresSettings = settings_at_apply(ctx)?;
        let inst = self.instance(ctx, &s, true)?.ok_or_else(|| {
            DriverError::configuration(format!(
                "the instance {} has not been created in {}",
                ctx.name(),
                ctx.contract.env()
            ))
            .with_hint(format!(
                "goldenpath deploy --env {} --foundational {}",
                ctx.contract.env(),
                ctx.name()
            ))
        })?;
        let journalled = |kind: &str, name: &str| {
            request
                .get("journalled")
                .and_then(|j| j.as_array())
                .is_some_and(|a| {
                    a.iter()
                        .any(|x| x.as_str() == Some(&format!("{kind}:{name}")))
                })
        };
        let mut tags = gp_driver_secrets::tags(ctx.contract, ctx.name(), false);
        tags.insert("Request".into(), id);
        let db = DatabaseSpec {
            app: database.clone(),
            secret_path: ctx
                .contract
                .database_secret_path(&database)
                .map_err(|e| DriverError::configuration(e.to_string()))?,
            database,
            role,
            allow_adopt: true,
            tags,
        };
        let known = journalled("role", &db.role);
        let mut on = InstanceConnection {
            admin: sql::connect(&inst.admin, "postgres")?,
            host: &inst.app_host,
            port: inst.app_port,
        };
        let mut counts = Counts::default();
        let out = self.ensure_database(ctx, &mut on, &db, known, &mut counts)?;
        let mut outputs = ComponentOutputs::default();
        outputs.resources.insert(db.app.clone(), out);
        Ok(Applied { outputs, counts })
    }

    /// The databases on the instance and their owners, read live.
    fn inventory(&self, ctx: &ComponentCtx<'_>) -> Result<Vec<serde_json::Value>, DriverError> {
        let s: PostgresSettings = settings_at_apply(ctx)?;
        let Some(inst) = self.instance(ctx, &s, true)? else {
            return Ok(Vec::new());
        };
        let mut admin = sql::connect(&inst.admin, "postgres")?;
        let rows = admin
            .query(
                "SELECT d.datname, pg_catalog.pg_get_userbyid(d.datdba) \
                 FROM pg_catalog.pg_database d \
                 WHERE NOT d.datistemplate AND d.datname <> 'postgres' ORDER BY 1",
                &[],
            )
            .map_err(|e| sql::classify(&e, "cannot list the databases"))?;
        Ok(rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "database": r.get::<_, String>(0),
                    "owner": r.get::<_, String>(1),
                    "host": inst.app_host,
                    "port": inst.app_port,
                })
            })
            .collect())
    }

    fn destroy(&self, ctx: &ComponentCtx<'_>, r: &ResourceRef) -> Result<(), DriverError> {
        match self.owned(ctx, r)? {
            Owned::Secret => {
                self.store.delete(&r.id)?;
                Ok(())
            }
            Owned::Server(data_dir) => {
                let local = server::LocalServer::new(&data_dir).map_err(server_error)?;
                local.stop().map_err(server_error)?;
                if let Some(dir) = data_dir.parent()
                    && dir.exists()
                {
                    std::fs::remove_dir_all(dir).map_err(|e| {
                        DriverError::permanent(format!("cannot remove {}: {e}", dir.display()))
                    })?;
                }
                Ok(())
            }
            Owned::Role | Owned::Database => {
                let Some(mut admin) = self.admin_for_teardown(ctx)? else {
                    return Ok(());
                };
                if r.kind == "database" {
                    sql::drop_database(&mut admin, &r.id)
                } else {
                    sql::drop_role(&mut admin, &r.id)
                }
            }
        }
    }

    fn exists(&self, ctx: &ComponentCtx<'_>, r: &ResourceRef) -> Result<Existence, DriverError> {
        let found = match self.owned(ctx, r)? {
            Owned::Secret => self.store.get(&r.id)?.is_some(),
            Owned::Server(data_dir) => data_dir.join("PG_VERSION").exists(),
            Owned::Role | Owned::Database => {
                let Some(mut admin) = self.admin_for_teardown(ctx)? else {
                    return Ok(Existence::Gone);
                };
                if r.kind == "role" {
                    sql::role(&mut admin, &r.id)?.is_some()
                } else {
                    sql::database(&mut admin, &r.id)?.is_some()
                }
            }
        };
        Ok(if found {
            Existence::Exists
        } else {
            Existence::Gone
        })
    }

    fn resource_kinds(&self) -> &'static [&'static str] {
        &["secret", "server", "role", "database"]
    }
}

/// What a journalled resource is, once checked to be this deployment's.
enum Owned {
    Secret,
    Server(PathBuf),
    Role,
    Database,
}

impl PostgresDriver {
    /// Checks that a journalled resource is one this component in this
    /// deployment may own, before anything touches it: a secret under the
    /// deployment's own paths, the component's own managed data directory,
    /// a role or database that is neither the admin, nor reserved, nor
    /// (in a build) outside the build's own names.
    fn owned(&self, ctx: &ComponentCtx<'_>, r: &ResourceRef) -> Result<Owned, DriverError> {
        let refuse = |why: String| {
            DriverError::refused(format!(
                "the journal names {r} under `{}`, which {why}; nothing was touched",
                ctx.name()
            ))
        };
        if ctx.platform.component(ctx.name()).is_none() {
            return Err(DriverError::permanent(format!(
                "`{}` is no longer in the spec, so the instance holding {r} is unknown",
                ctx.name()
            ))
            .with_hint("put the component back into the spec to tear it down, then remove it"));
        }
        match r.kind.as_str() {
            "secret" => {
                if ctx.contract.owns_secret_path(&r.id) {
                    Ok(Owned::Secret)
                } else {
                    Err(refuse(format!(
                        "lies outside this deployment's secrets ({}...)",
                        ctx.contract.secret_scope()
                    )))
                }
            }
            "server" => {
                let data_dir = managed_dir(ctx, ctx.name()).join("data");
                if r.id == data_dir.display().to_string() {
                    Ok(Owned::Server(data_dir))
                } else {
                    Err(refuse(format!(
                        "is not its managed data directory {}",
                        data_dir.display()
                    )))
                }
            }
            "role" | "database" => {
                let name = r.id.as_str();
                let valid = if r.kind == "role" {
                    sql::check_role(name).is_ok()
                } else {
                    sql::check_database(name).is_ok()
                };
                if !valid || name == MANAGED_ADMIN {
                    return Err(refuse(
                        "is reserved or not a name goldenpath creates".into(),
                    ));
                }
                if let Some(b) = ctx.contract.build_id() {
                    let suffix = format!("_b{}", b.to_string().replace('-', ""));
                    if !name.ends_with(&suffix) {
                        return Err(refuse(format!(
                            "is not a per-build name of build {b} (`..{suffix}`)"
                        )));
                    }
                }
                Ok(if r.kind == "role" {
                    Owned::Role
                } else {
                    Owned::Database
                })
            }
            other => Err(refuse(format!(
                "is a `{other}`, a kind the postgres driver never creates"
            ))),
        }
    }

    /// An admin connection to the component's instance, from the spec;
    /// `None` when a managed instance no longer exists (its databases went
    /// with it).
    fn admin_for_teardown(
        &self,
        ctx: &ComponentCtx<'_>,
    ) -> Result<Option<postgres::Client>, DriverError> {
        let s: PostgresSettings = settings_at_apply(ctx)?;
        let Some(inst) = self.instance(ctx, &s, true)? else {
            return Ok(None);
        };
        if let Some(admin_env) = &inst.admin_env
            && admin_env.starts_with(gp_core::child_env::PRIVATE_PREFIX)
        {
            return Err(DriverError::configuration(format!(
                "the admin password may not come from {admin_env}, one of goldenpath's own variables"
            )));
        }
        sql::connect(&inst.admin, "postgres").map(Some)
    }
}

fn instance_outputs(inst: &Instance) -> ComponentOutputs {
    let mut values = Outputs::new();
    values.insert("host".into(), serde_json::json!(inst.app_host));
    values.insert("port".into(), serde_json::json!(inst.app_port));
    values.insert("engine".into(), serde_json::json!("postgres"));
    values.insert("adminUser".into(), serde_json::json!(inst.admin.user));
    values.insert(
        "adminSecret".into(),
        serde_json::json!(inst.admin_secret.clone().unwrap_or_default()),
    );
    values.insert(
        "adminPasswordEnv".into(),
        serde_json::json!(inst.admin_env.clone().unwrap_or_default()),
    );
    values.insert(
        "dataDir".into(),
        serde_json::json!(
            inst.data_dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        ),
    );
    ComponentOutputs {
        values,
        resources: BTreeMap::new(),
    }
}

impl PostgresDriver {
    /// Creates the managed instance's admin secret and data directory, and
    /// starts it.
    fn create_managed(
        &self,
        ctx: &ComponentCtx<'_>,
        s: &PostgresSettings,
        counts: &mut Counts,
    ) -> Result<(), DriverError> {
        let dir = managed_dir(ctx, ctx.name());
        let data_dir = dir.join("data");
        let local = server::LocalServer::new(&data_dir).map_err(server_error)?;
        if local.is_initialised() {
            return Ok(());
        }
        let admin_path = ctx.contract.component_secret_path(ctx.name(), "admin");
        let password = match self.password_from(&admin_path)? {
            Some(p) => p,
            None => {
                let pw = generate_password(PASSWORD_LEN)?;
                let id = ctx
                    .recorder
                    .before(Action::Create, &ResourceRef::new("secret", &admin_path))?;
                let value = serde_json::json!({"username": MANAGED_ADMIN, "password": pw.expose()});
                self.store.put(
                    &admin_path,
                    &Secret::new(value.to_string()),
                    &gp_driver_secrets::tags(ctx.contract, ctx.name(), false),
                )?;
                ctx.recorder.after(&id, None)?;
                counts.added += 1;
                pw
            }
        };
        let server_ref = ResourceRef::new("server", data_dir.display().to_string());
        let id = ctx.recorder.before(Action::Create, &server_ref)?;
        let phase = ctx.recorder.phase_start("postgres-initdb");
        if dir.exists() {
            // A previous initdb died half-way: start from nothing.
            let _ = std::fs::remove_dir_all(&dir);
        }
        let result = local
            .init(MANAGED_ADMIN, &password)
            .map_err(server_error)
            .and_then(|_| {
                ensure_running(&data_dir, s.managed.as_ref().and_then(|m| m.port), true).map(|_| ())
            });
        ctx.recorder.phase_end(
            phase,
            if result.is_ok() { 0 } else { 1 },
            None,
            Some(&local.log_file),
        );
        match result {
            Ok(()) => {
                ctx.recorder.after(&id, None)?;
                counts.added += 1;
                Ok(())
            }
            Err(e) => {
                ctx.recorder.failed(&id, &e.message);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("postgres://admin@db.internal:6543/main").unwrap();
        assert_eq!(
            (
                u.user.as_str(),
                u.host.as_str(),
                u.port,
                u.database.as_str(),
                u.has_password
            ),
            ("admin", "db.internal", 6543, "main", false)
        );
        assert!(
            parse_url("postgres://admin:pw@db/main")
                .unwrap()
                .has_password
        );
        assert_eq!(parse_url("postgresql://a@h").unwrap().port, 5432);
        assert!(parse_url("mysql://a@h").is_none());
        assert!(parse_url("postgres://h").is_none());
    }
}
