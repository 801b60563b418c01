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
//! Each entry of `databases:` is a name, or `{name, username, createdb,
//! connectionLimit, extensions, owner, adopt}`: a login role (`username`,
//! default the name) that owns the database, never superuser or
//! createrole, with CREATEDB and a connection limit only when declared;
//! `CONNECT` revoked from `PUBLIC`; the declared extensions created by the
//! admin; a random 40-character password set as a SCRAM-SHA-256 verifier;
//! a secret at the contract's path holding
//! `{username, password, host, port, dbname, engine}`.
//!
//! What exists already is adopted ([`database`]): with `adopt: keep` (the
//! default) as it is — only a password that no secret holds, or that no
//! longer logs in, is rotated (or all of a component's with `deploy
//! --rotate COMPONENT`); with `adopt: reconcile` it is brought to the
//! spec. Plan lists each step; apply runs exactly those. A database owned
//! by another role is refused before anything changes. An existing server
//! is reached with libpq's `sslmode` ([`tls`]). [`server`] runs the
//! managed instance.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gp_core::yaml::{RawNode, Spanned};
use gp_core::{Plane, Secret};
use gp_driver::secrets::{SecretStore, generate_password};
use gp_driver::{
    Action, Applied, ComponentCtx, ComponentOutputs, Counts, Driver, DriverError, Existence,
    HeldName, Observation, Outputs, Presence, ResourceRef, ValidateCtx, Validated,
    settings_at_apply, typed_settings,
};
use serde::{Deserialize, Serialize};

pub mod server;
pub mod sql;
pub mod tls;

use sql::Endpoint;

mod database;
mod instance;
mod scope;
mod settings;
pub use database::*;
pub use instance::*;
pub(crate) use scope::*;
pub use settings::*;

/// The admin user of a managed instance.
pub const MANAGED_ADMIN: &str = "goldenpath_admin";
const PASSWORD_LEN: usize = 40;

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
}

impl Driver for PostgresDriver {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn preflight(&self, ctx: &ValidateCtx<'_>) -> Vec<gp_core::Diagnostic> {
        let Ok(s) = typed_settings::<PostgresSettings>(ctx.platform, ctx.settings, true) else {
            return Vec::new();
        };
        // A managed local instance needs the server's binaries here.
        if s.server.is_none()
            && s.instance.is_none()
            && let Err(e) = server::find_bin_dir()
        {
            return vec![
                ctx.platform
                    .diagnostic(ctx.component.driver.start, e.to_string())
                    .with_hint_opt(e.hint()),
            ];
        }
        Vec::new()
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
        if let Some(server) = &s.server {
            let mode = server.sslmode.as_ref().map(|m| m.value).unwrap_or_default();
            if matches!(mode, tls::SslMode::VerifyCa | tls::SslMode::VerifyFull)
                && server.ca_bundle.is_none()
            {
                problems.push(
                    p.diagnostic(
                        server
                            .sslmode
                            .as_ref()
                            .map_or(server.url.start, |m| m.start),
                        format!(
                            "sslmode {} needs `caBundle`: the PEM file of the server's CA",
                            mode.as_str()
                        ),
                    ),
                );
            }
        }
        let decls = match s.database_decls() {
            Ok(d) => d,
            Err(ps) => {
                for (pos, m) in ps {
                    problems.push(p.diagnostic(pos, m));
                }
                Vec::new()
            }
        };
        let mut seen = Vec::new();
        let mut roles: Vec<String> = Vec::new();
        for d in &decls {
            let db = &d.name;
            // Per-build names carry a suffix: check the longest they can be.
            let longest = |n: &str| {
                if disposable {
                    format!("{n}_b00000000")
                } else {
                    n.to_string()
                }
            };
            let role = d.username.as_ref().unwrap_or(&d.name);
            if let Err(e) = sql::check_database(&db.value) {
                problems.push(p.diagnostic(db.start, e.to_string()));
            } else if let Err(e) = sql::check_role(&longest(&role.value)) {
                let why = if disposable && sql::check_role(&role.value).is_ok() {
                    format!(
                        "`{}` is too long for a per-build role: `{}` must fit a role name (31 characters)",
                        role.value,
                        longest(&role.value)
                    )
                } else {
                    e.to_string()
                };
                problems.push(p.diagnostic(role.start, why));
            }
            for e in &d.extensions {
                if let Err(err) = sql::check_extension(&e.value) {
                    problems.push(p.diagnostic(e.start, err.to_string()));
                }
            }
            if let Some(c) = &d.connection_limit
                && c.value < -1
            {
                problems.push(p.diagnostic(c.start, "connectionLimit is -1 (none) or more"));
            }
            if seen.contains(&db.value) {
                problems.push(
                    p.diagnostic(db.start, format!("database `{}` is listed twice", db.value)),
                );
            }
            if roles.contains(&role.value) {
                problems.push(p.diagnostic(
                    role.start,
                    format!("role `{}` is used by two databases", role.value),
                ));
            }
            seen.push(db.value.clone());
            roles.push(role.value.clone());
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
                    .chain(seen.iter().map(|d| (d.clone(), "database")))
                    .chain(roles.iter().map(|r| (r.clone(), "role")))
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

    /// Its secrets in the store (the admin password of an instance it
    /// makes, each database's credentials), and the admin password it
    /// reads: of the instance it uses, or the existing server's.
    fn permissions(
        &self,
        ctx: &ValidateCtx<'_>,
        contract: &gp_core::Contract<'_>,
        access: gp_core::iam::Access,
    ) -> Result<Vec<gp_core::iam::Grant>, Vec<gp_core::Diagnostic>> {
        let s: PostgresSettings = typed_settings(ctx.platform, ctx.settings, true)?;
        let held: Vec<String> = secrets_held(self.holds(ctx, contract));
        let mut out = self.store.permissions(&held, access);
        let mut reads = Vec::new();
        if let Some(instance) = &s.instance {
            reads.push(contract.component_secret_path(&instance.value, "admin"));
        }
        if let Some(p) = s.server.as_ref().and_then(|x| x.password_secret.clone())
            && !gp_core::yaml::mentions_reference(&p)
        {
            reads.push(p);
        }
        out.extend(self.store.permissions(&reads, gp_core::iam::Access::Read));
        Ok(out)
    }

    fn holds(&self, ctx: &ValidateCtx<'_>, contract: &gp_core::Contract<'_>) -> Vec<HeldName> {
        use gp_core::ownership::NameKind;
        let Ok(s) = typed_settings::<PostgresSettings>(ctx.platform, ctx.settings, true) else {
            return Vec::new();
        };
        let Ok(decls) = s.database_decls() else {
            return Vec::new();
        };
        let name = ctx.component.name.value.as_str();
        let per_build = ctx.component.plane.value == Plane::Disposable;
        let held = |kind, name: String, under, what: String| HeldName {
            kind,
            name,
            under,
            what,
        };
        let mut out = Vec::new();
        // The instance's own: its admin role and where its password is.
        if s.instance.is_none() {
            let admin = match &s.server {
                Some(server) => parse_url(&server.url.value).map(|u| u.user),
                None => Some(MANAGED_ADMIN.to_string()),
            };
            if let Some(a) = admin {
                out.push(held(NameKind::Role, a, false, "its admin role".into()));
            }
            out.push(held(
                NameKind::Secret,
                contract.component_secret_path(name, "admin"),
                false,
                "its admin password".into(),
            ));
        }
        for d in &decls {
            let app = &d.name.value;
            let role = d.username.as_ref().map_or(app, |u| &u.value);
            let (Ok(database), Ok(role)) = (
                contract.build_database_name(app),
                contract.build_database_name(role),
            ) else {
                continue;
            };
            let secret = if per_build {
                contract.build_database_secret_path(app)
            } else {
                contract.database_secret_path(app)
            };
            out.push(held(
                NameKind::Database,
                database,
                false,
                format!("its database `{app}`"),
            ));
            out.push(held(
                NameKind::Role,
                role,
                false,
                format!("the login role of its database `{app}`"),
            ));
            if let Ok(secret) = secret {
                out.push(held(
                    NameKind::Secret,
                    secret,
                    false,
                    format!("the credentials of its database `{app}`"),
                ));
            }
        }
        out
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
        let mut on = InstanceConnection {
            admin: sql::connect(&inst.admin, &inst.admin_database)?,
            admin_endpoint: inst.admin.clone(),
            host: &inst.app_host,
            port: inst.app_port,
        };
        let dbs = self.databases(ctx, &s)?;
        let mut drift = Vec::new();
        let mut present = 0usize;
        let mut outputs = instance_outputs(&inst);
        for db in &dbs {
            let state = self.db_state(&mut on, db)?;
            if state.role.is_none() && state.database.is_none() && state.secret.is_none() {
                continue;
            }
            present += 1;
            let rotate = ctx.recorder.guard_override(ROTATE).is_some();
            // What apply would do, step by step; a refusal is shown as such.
            match plan(&state, db, Origin::of(ctx, db), rotate, (on.host, on.port)) {
                Ok(steps) => {
                    drift.extend(steps.iter().filter(|s| s.changes()).map(|s| s.describe(db)))
                }
                Err(e) => drift.push(format!("refused: {}", e.message)),
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
            admin: sql::connect(&inst.admin, &inst.admin_database)?,
            admin_endpoint: inst.admin.clone(),
            host: &inst.app_host,
            port: inst.app_port,
        };
        let mut outputs = instance_outputs(&inst);
        for db in self.databases(ctx, &s)? {
            // Ours: journalled by this deployment (created, or adopted),
            // or published by the last apply.
            let out = self.ensure_database(ctx, &mut on, &db, Origin::of(ctx, &db), &mut counts)?;
            outputs.resources.insert(db.app.clone(), out);
        }
        Ok(Applied { outputs, counts })
    }

    /// A database request: `{request, database, role}`
    /// on this (foundational) instance. Re-running is a no-op; an existing
    /// role not journalled here is adopted (its password rotated).
    fn plan_provision(
        &self,
        ctx: &ComponentCtx<'_>,
        request: &serde_json::Value,
    ) -> Result<Vec<String>, DriverError> {
        let (inst, db) = self.request_db(ctx, request)?;
        let origin = Origin::of(ctx, &db);
        let mut on = InstanceConnection {
            admin: sql::connect(&inst.admin, &inst.admin_database)?,
            admin_endpoint: inst.admin.clone(),
            host: &inst.app_host,
            port: inst.app_port,
        };
        let rotate = ctx.recorder.guard_override(ROTATE).is_some();
        Ok(self
            .plan_database(&mut on, &db, origin, rotate)?
            .iter()
            .map(|s| s.describe(&db))
            .collect())
    }

    fn provision(
        &self,
        ctx: &ComponentCtx<'_>,
        request: &serde_json::Value,
    ) -> Result<Applied, DriverError> {
        let (inst, db) = self.request_db(ctx, request)?;
        // A role the instance's journal holds is this instance's (an
        // earlier, perhaps interrupted, apply of the same request).
        let origin = Origin::of(ctx, &db);
        let mut on = InstanceConnection {
            admin: sql::connect(&inst.admin, &inst.admin_database)?,
            admin_endpoint: inst.admin.clone(),
            host: &inst.app_host,
            port: inst.app_port,
        };
        let mut counts = Counts::default();
        let out = self.ensure_database(ctx, &mut on, &db, origin, &mut counts)?;
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
                // A per-build secret goes at once; the persistent or
                // foundational one (a break-glass teardown) keeps the
                // backend's recovery window.
                if ctx.contract.build_id().is_some() {
                    self.store.delete(&r.id)?;
                } else {
                    self.store
                        .delete_recoverable(&r.id, gp_driver::secrets::RECOVERY_WINDOW_DAYS)?;
                }
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
            Owned::Secret => self.store.exists(&r.id)?,
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

    fn noun(&self, resource: bool) -> &'static str {
        if resource {
            "database"
        } else {
            "database instance"
        }
    }

    fn resource_kinds(&self) -> &'static [&'static str] {
        &["secret", "server", "role", "database"]
    }
}

impl PostgresDriver {
    /// The instance and the database a request asks for.
    fn request_db(
        &self,
        ctx: &ComponentCtx<'_>,
        request: &serde_json::Value,
    ) -> Result<(Instance, DatabaseSpec), DriverError> {
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
        let mut tags = ctx.contract.resource_tags(ctx.name(), false);
        tags.insert("Request".into(), id);
        let mut db = DatabaseSpec::named(
            &database,
            &database,
            &role,
            ctx.contract
                .database_secret_path(&database)
                .map_err(|e| DriverError::configuration(e.to_string()))?,
        );
        db.tags = tags;
        db.createdb = request
            .get("createdb")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        db.adopt = match request.get("adopt").and_then(|v| v.as_str()) {
            Some("reconcile") => AdoptMode::Reconcile,
            _ => AdoptMode::Keep,
        };
        // What exists and nobody here made is adopted only when the
        // request asks (its approval is the platform's).
        db.allow_adopt = request.get("adoptExisting").and_then(|v| v.as_bool()) == Some(true);
        db.adopt_hint = Some(
            "adopting it is explicit: set adopt: true in the request (the platform approves it)",
        );
        Ok((inst, db))
    }
}

/// The secret paths (a folder as a pattern) among names held.
pub(crate) fn secrets_held(held: Vec<HeldName>) -> Vec<String> {
    held.into_iter()
        .filter(|h| h.kind == gp_core::ownership::NameKind::Secret)
        .map(|h| {
            if h.under {
                format!("{}*", h.name)
            } else {
                h.name
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_and_a_per_build_component_hold_their_names_in_each_deployment() {
        use gp_core::ownership::NameKind;
        let p = gp_core::Platform::from_source(
            std::path::Path::new("goldenpath.yaml"),
            "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: p\nprefix: gp\ndomain: example.io\nowner: t\nenvironments:\n  dev: {}\ncomponents:\n  - { name: rds, plane: foundational, tier: 2, driver: postgres, settings: { managed: {}, databases: [{ name: keycloak, username: kc_app }] } }\n  - { name: build-db, plane: disposable, tier: 2, driver: postgres, needs: [rds], settings: { instance: rds, databases: [scratch] } }\n",
        )
        .unwrap();
        let holds = |component: &str, deployment| {
            let c = p.component(component).unwrap();
            let settings = c.settings_node();
            let contract = gp_core::Contract::new(&p, "dev", deployment).unwrap();
            PostgresDriver::new(Arc::new(gp_driver::secrets::UnavailableStore::new("none")))
                .holds(
                    &ValidateCtx {
                        platform: &p,
                        component: c,
                        settings: &settings,
                    },
                    &contract,
                )
                .into_iter()
                .map(|h| (h.kind, h.name))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            holds("rds", gp_core::Deployment::Foundational),
            [
                (NameKind::Role, MANAGED_ADMIN.to_string()),
                (NameKind::Secret, "gp/dev/rds/admin".into()),
                (NameKind::Database, "keycloak".into()),
                (NameKind::Role, "kc_app".into()),
                (NameKind::Secret, "gp/dev/keycloak/postgres".into()),
            ]
        );
        assert_eq!(
            holds(
                "build-db",
                gp_core::Deployment::Ephemeral("23-01-26-01".parse().unwrap())
            ),
            [
                (NameKind::Database, "scratch_b23012601".to_string()),
                (NameKind::Role, "scratch_b23012601".into()),
                (
                    NameKind::Secret,
                    "gp/dev/builds/23-01-26-01/scratch/postgres".into()
                ),
            ],
            "a build's names, and no admin role of its own"
        );
        assert_eq!(
            holds("build-db", gp_core::Deployment::Persistent)[0],
            (NameKind::Database, "scratch".to_string())
        );
    }

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
