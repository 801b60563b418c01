//! Where an instance is and how to administer it: an existing server, the
//! managed local one (created with `initdb`, started on demand), or another
//! component's instance named in the spec.

use super::*;

/// Where an instance is and how to administer it.
pub(crate) struct Instance {
    pub(crate) admin: Endpoint,
    /// The database the admin connects to (the server URL's).
    pub(crate) admin_database: String,
    /// Host and port apps use.
    pub(crate) app_host: String,
    pub(crate) app_port: u16,
    /// The managed data directory.
    pub(crate) data_dir: Option<PathBuf>,
    /// Where the admin password lives (managed or instance-from-input).
    pub(crate) admin_secret: Option<String>,
    /// Or the environment variable holding it (an existing server).
    pub(crate) admin_env: Option<String>,
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
    /// The role may create databases.
    pub createdb: bool,
    /// The role's connection limit (-1: none).
    pub connection_limit: i32,
    /// Extensions in the database.
    pub extensions: Vec<String>,
    /// How an existing one is adopted.
    pub adopt: AdoptMode,
    /// For a request: what to do to adopt an existing one (refused, exit
    /// 3, until it asks).
    pub adopt_hint: Option<&'static str>,
}

impl DatabaseSpec {
    /// A database named after its app, with the defaults (role = name, no
    /// CREATEDB, no limit, no extensions, adopted as it is).
    pub fn named(app: &str, database: &str, role: &str, secret_path: String) -> DatabaseSpec {
        DatabaseSpec {
            app: app.into(),
            database: database.into(),
            role: role.into(),
            secret_path,
            allow_adopt: true,
            tags: BTreeMap::new(),
            createdb: false,
            connection_limit: -1,
            extensions: Vec::new(),
            adopt: AdoptMode::Keep,
            adopt_hint: None,
        }
    }
}

/// An admin connection to an instance, and how apps reach it.
pub struct InstanceConnection<'a> {
    /// Connected as the admin, to the admin database.
    pub admin: postgres::Client,
    /// How the admin connects (for other databases of the instance).
    pub admin_endpoint: Endpoint,
    /// The host apps connect to.
    pub host: &'a str,
    /// The port apps connect to.
    pub port: u16,
}

/// Where a managed instance lives: `{state}/postgres/{env}-{component}`.
pub(crate) fn managed_dir(ctx: &ComponentCtx<'_>, component: &str) -> PathBuf {
    ctx.state_dir
        .join("postgres")
        .join(format!("{}-{component}", ctx.contract.env()))
}
impl PostgresDriver {
    /// The instance of a component, starting a managed one that exists but
    /// is stopped when `start` is set.
    pub(crate) fn instance(
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
    pub(crate) fn instance_from(
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
            let tls = crate::tls::Tls {
                mode: server.sslmode.as_ref().map(|m| m.value).unwrap_or_default(),
                ca_bundle: server
                    .ca_bundle
                    .as_ref()
                    .map(|b| ctx.platform.base_dir().join(&b.value)),
            };
            return Ok(Some(Instance {
                admin_database: url.database.clone(),
                admin: Endpoint {
                    host: url.host.clone(),
                    port: url.port,
                    user: url.user,
                    password,
                    tls,
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
            admin_database: "postgres".into(),
            admin: Endpoint {
                host: "127.0.0.1".into(),
                port,
                user: MANAGED_ADMIN.into(),
                password,
                tls: crate::tls::Tls::disabled(),
            },
            app_host: "127.0.0.1".into(),
            app_port: port,
            data_dir: Some(data_dir),
            admin_secret: Some(admin_secret),
            admin_env: None,
        }))
    }

    /// The databases a component provisions, with their contract names.
    pub(crate) fn databases(
        &self,
        ctx: &ComponentCtx<'_>,
        s: &PostgresSettings,
    ) -> Result<Vec<DatabaseSpec>, DriverError> {
        let per_build = ctx.component.plane.value == Plane::Disposable;
        let decls = s.database_decls().map_err(|p| {
            DriverError::configuration(p.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join("; "))
        })?;
        let mut out = Vec::new();
        for d in &decls {
            let app = &d.name.value;
            let name = ctx
                .contract
                .build_database_name(app)
                .map_err(|e| DriverError::configuration(e.to_string()))?;
            let role = match &d.username {
                Some(u) => ctx
                    .contract
                    .build_database_name(&u.value)
                    .map_err(|e| DriverError::configuration(e.to_string()))?,
                None => name.clone(),
            };
            let secret_path = if per_build {
                ctx.contract.build_database_secret_path(app)
            } else {
                ctx.contract.database_secret_path(app)
            }
            .map_err(|e| DriverError::configuration(e.to_string()))?;
            let mut tags = ctx.contract.resource_tags(ctx.name(), per_build);
            if let Some(o) = &d.owner {
                tags.insert("Owner".into(), o.clone());
            }
            out.push(DatabaseSpec {
                app: app.clone(),
                database: name,
                role,
                secret_path,
                allow_adopt: !per_build,
                tags,
                createdb: d.createdb,
                connection_limit: d.connection_limit.as_ref().map_or(-1, |c| c.value),
                extensions: d.extensions.iter().map(|e| e.value.clone()).collect(),
                adopt: s.adopt_of(d),
                adopt_hint: None,
            });
        }
        Ok(out)
    }
}

/// Whether `password` logs `role` in to `database` at the apps' host and
/// port, over the admin's TLS settings.
pub(crate) fn password_works(
    on: &InstanceConnection<'_>,
    role: &str,
    database: &str,
    password: &Secret,
) -> bool {
    let e = Endpoint {
        host: on.host.into(),
        port: on.port,
        user: role.into(),
        password: password.clone(),
        tls: on.admin_endpoint.tls.clone(),
    };
    sql::connect(&e, database).is_ok()
}

pub(crate) fn server_error(e: server::ServerError) -> DriverError {
    let hint = e.hint();
    // A server that cannot be reached (or started) is an operation that
    // failed (exit 1), not bad input: the spec may be right and the server
    // down.
    let mut d = DriverError::permanent(e.to_string());
    d.hint = hint;
    d
}

/// Starts the managed server on `data_dir` if it is stopped (and `start`),
/// returning its port. The chosen port is kept in `port` beside the data.
pub(crate) fn ensure_running(
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
pub(crate) fn instance_outputs(inst: &Instance) -> ComponentOutputs {
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
    pub(crate) fn create_managed(
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
                    &ctx.contract.resource_tags(ctx.name(), false),
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
