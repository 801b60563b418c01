//! One database, its login role and its credentials secret: what the
//! catalogs and the store say ([`DbState`]), the steps that bring them to
//! the spec ([`plan`]: the same list plan shows and apply runs), and their
//! execution, each step journalled.
//!
//! What exists and was not created here is adopted. With `adopt: keep`
//! (the default) adoption changes nothing: the role keeps its attributes
//! and password, the database its privileges; only a password that no
//! longer logs in (or that no secret holds) is rotated, and plan says so.
//! With `adopt: reconcile` an adopted role gets the declared attributes and
//! PUBLIC loses CONNECT. Every refusal happens before the first change.

use std::collections::BTreeSet;

use super::*;

/// The guard override that asks for new passwords.
pub const ROTATE: &str = "rotate-credentials";

/// A role as `pg_roles` has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleState {
    /// `rolsuper`.
    pub superuser: bool,
    /// `rolcreaterole`.
    pub createrole: bool,
    /// `rolcreatedb`.
    pub createdb: bool,
    /// `rolcanlogin`.
    pub login: bool,
    /// `rolconnlimit` (-1: none).
    pub connection_limit: i32,
}

/// What the instance and the store hold for one database.
#[derive(Clone, Debug)]
pub struct DbState {
    /// The role, if it exists.
    pub role: Option<RoleState>,
    /// The database's owner and whether PUBLIC may connect, if it exists.
    pub database: Option<(String, bool)>,
    /// Extensions installed in the database.
    pub extensions: BTreeSet<String>,
    /// The secret's fields, if it exists.
    pub secret: Option<serde_json::Map<String, serde_json::Value>>,
    /// Whether the secret's password logs the role in.
    pub secret_works: bool,
}

/// One change, in the order it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Create the role with the declared attributes and a new password.
    CreateRole,
    /// Take over an existing role as it is.
    AdoptRole,
    /// Set the declared attributes (the `ALTER ROLE` clauses).
    AlterRole(Vec<String>),
    /// A new password, and why.
    Rotate(String),
    /// Create the database, owned by the role, CONNECT for the role only.
    CreateDatabase,
    /// Take over an existing database as it is.
    AdoptDatabase,
    /// Revoke CONNECT from PUBLIC, grant it to the role.
    Restrict,
    /// `CREATE EXTENSION IF NOT EXISTS`.
    CreateExtension(String),
    /// Take over an existing secret (kept by teardown).
    AdoptSecret,
    /// Write the secret (created, or its fields brought up to date), and why.
    WriteSecret(String),
}

impl Step {
    /// What plan shows.
    pub fn describe(&self, db: &DatabaseSpec) -> String {
        match self {
            Step::CreateRole => format!("create role {}", db.role),
            Step::AdoptRole => format!("adopt role {} as it is", db.role),
            Step::AlterRole(a) => format!("alter role {}: {}", db.role, a.join(" ")),
            Step::Rotate(why) => format!("rotate the password of {}: {why}", db.role),
            Step::CreateDatabase => format!("create database {} owned by {}", db.database, db.role),
            Step::AdoptDatabase => format!("adopt database {} as it is", db.database),
            Step::Restrict => format!(
                "revoke CONNECT on {} from PUBLIC, grant it to {}",
                db.database, db.role
            ),
            Step::CreateExtension(e) => format!("create extension {e} in {}", db.database),
            Step::AdoptSecret => format!("adopt secret {} as it is", db.secret_path),
            Step::WriteSecret(why) => format!("write secret {}: {why}", db.secret_path),
        }
    }

    /// Whether it changes anything (adoptions only record).
    pub fn changes(&self) -> bool {
        !matches!(
            self,
            Step::AdoptRole | Step::AdoptDatabase | Step::AdoptSecret
        )
    }
}

/// The `ALTER ROLE` clauses that bring `r` to what `db` declares.
fn attribute_changes(r: &RoleState, db: &DatabaseSpec) -> Vec<String> {
    let mut out = Vec::new();
    if r.superuser {
        out.push("NOSUPERUSER".to_string());
    }
    if r.createrole {
        out.push("NOCREATEROLE".into());
    }
    if r.createdb != db.createdb {
        out.push(
            if db.createdb {
                "CREATEDB"
            } else {
                "NOCREATEDB"
            }
            .into(),
        );
    }
    if !r.login {
        out.push("LOGIN".into());
    }
    if r.connection_limit != db.connection_limit {
        out.push(format!("CONNECTION LIMIT {}", db.connection_limit));
    }
    out
}

/// The secret's fields apart from the password match the database (a
/// `port` written as a string counts).
fn secret_matches(
    m: &serde_json::Map<String, serde_json::Value>,
    db: &DatabaseSpec,
    host: &str,
    port: u16,
) -> bool {
    let s = |k: &str| m.get(k).and_then(|v| v.as_str());
    s("username") == Some(db.role.as_str())
        && s("dbname") == Some(db.database.as_str())
        && s("host") == Some(host)
        && gp_driver::secrets::port_of(m) == Some(port)
        && s("engine") == Some("postgres")
}

/// Whose a database's role is, as the deployment's journal says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// This deployment created it.
    Created,
    /// This deployment adopted it earlier.
    Adopted,
    /// Not in the journal: adopted now, if it exists.
    Found,
}

impl Origin {
    /// From the recorder and the last outputs of the component.
    pub fn of(ctx: &ComponentCtx<'_>, db: &DatabaseSpec) -> Origin {
        let role = ResourceRef::new("role", &db.role);
        if ctx.recorder.created(&role) {
            Origin::Created
        } else if ctx.recorder.owns(&role)
            || ctx.last.is_some_and(|l| l.resources.contains_key(&db.app))
        {
            Origin::Adopted
        } else {
            Origin::Found
        }
    }
}

/// The steps that bring `state` to `db`, or the refusal (before any
/// change).
pub fn plan(
    state: &DbState,
    db: &DatabaseSpec,
    origin: Origin,
    rotate: bool,
    endpoint: (&str, u16),
) -> Result<Vec<Step>, DriverError> {
    let known = origin != Origin::Found;
    // Refusals first: nothing is created before all of them are checked.
    if let Some((owner, _)) = &state.database
        && owner != &db.role
    {
        return Err(DriverError::permanent(format!(
            "database {} exists and is owned by {owner}, not {}; nothing was changed",
            db.database, db.role
        ))
        .with_hint(if sql::check_role(owner).is_ok() && state.role.is_none() {
            format!(
                "if {owner} is its login role, declare it: databases: [{{name: {}, username: {owner}}}]",
                db.app
            )
        } else {
            format!(
                "choose another name, or hand it over first: ALTER DATABASE {} OWNER TO {}",
                sql::ident(&db.database),
                sql::ident(&db.role)
            )
        }));
    }
    let not_adopted = |what: String| match db.adopt_hint {
        Some(hint) => DriverError::refused(format!(
            "{what} already exists and nobody here created it; nothing was changed"
        ))
        .with_hint(hint),
        None => DriverError::permanent(format!(
            "{what} already exists and was not created by this deployment; a per-build database never takes over an existing role or database"
        )),
    };
    if state.role.is_some() && !known && !db.allow_adopt {
        return Err(not_adopted(format!("role {}", db.role)));
    }
    if state.database.is_some() && !known && !db.allow_adopt {
        return Err(not_adopted(format!("database {}", db.database)));
    }
    if let Some(r) = &state.role
        && !known
        && (r.superuser || r.createrole)
    {
        return Err(DriverError::permanent(format!(
            "role {} is a {}: goldenpath never adopts one as an app's login role; nothing was changed",
            db.role,
            if r.superuser {
                "superuser"
            } else {
                "role that creates roles"
            }
        )));
    }
    let reconcile = origin == Origin::Created || db.adopt == AdoptMode::Reconcile;
    let mut steps = Vec::new();
    let mut rotated = false;
    match &state.role {
        None => {
            steps.push(Step::CreateRole);
            rotated = true;
        }
        Some(r) => {
            if !known {
                steps.push(Step::AdoptRole);
            }
            let attrs = attribute_changes(r, db);
            if reconcile && !attrs.is_empty() {
                steps.push(Step::AlterRole(attrs));
            }
            let why = if state.secret.is_none() {
                Some(format!("no secret at {} holds it", db.secret_path))
            } else if !state.secret_works {
                Some(format!(
                    "the password in {} does not log in",
                    db.secret_path
                ))
            } else if rotate {
                Some("asked (--rotate)".into())
            } else {
                None
            };
            if let Some(why) = why {
                steps.push(Step::Rotate(why));
                rotated = true;
            }
        }
    }
    match &state.database {
        None => steps.push(Step::CreateDatabase),
        Some((_, public_connect)) => {
            if !known {
                steps.push(Step::AdoptDatabase);
            }
            if reconcile && *public_connect {
                steps.push(Step::Restrict);
            }
        }
    }
    for e in &db.extensions {
        if !state.extensions.contains(e) {
            steps.push(Step::CreateExtension(e.clone()));
        }
    }
    match &state.secret {
        None => steps.push(Step::WriteSecret("create".into())),
        Some(m) => {
            if !known && state.role.is_some() {
                steps.push(Step::AdoptSecret);
            }
            if rotated {
                steps.push(Step::WriteSecret("the new password".into()));
            } else if !secret_matches(m, db, endpoint.0, endpoint.1) {
                steps.push(Step::WriteSecret(
                    "its username, host, port, dbname or engine differ from the database".into(),
                ));
            }
        }
    }
    Ok(steps)
}

impl PostgresDriver {
    /// Reads what the instance and the store hold for `db`.
    pub(crate) fn db_state(
        &self,
        on: &mut InstanceConnection<'_>,
        db: &DatabaseSpec,
    ) -> Result<DbState, DriverError> {
        let role = sql::role_state(&mut on.admin, &db.role)?;
        let database = sql::database(&mut on.admin, &db.database)?;
        let secret = self.store.get(&db.secret_path)?;
        let secret = secret.as_ref().and_then(StoredSecretExt::fields);
        let extensions = if database.is_some() && !db.extensions.is_empty() {
            sql::extensions(&on.admin_endpoint, &db.database)?
        } else {
            BTreeSet::new()
        };
        let secret_works = match (&role, &secret) {
            (Some(_), Some(m)) => m.get("password").and_then(|p| p.as_str()).is_some_and(|p| {
                // Its own database when it exists (the role may
                // connect there), else `postgres`.
                let dbname = if database.as_ref().is_some_and(|(o, _)| o == &db.role) {
                    db.database.as_str()
                } else {
                    "postgres"
                };
                password_works(on, &db.role, dbname, &Secret::new(p))
            }),
            _ => false,
        };
        Ok(DbState {
            role,
            database,
            extensions,
            secret,
            secret_works,
        })
    }

    /// The steps for `db` on this instance (what plan shows).
    pub(crate) fn plan_database(
        &self,
        on: &mut InstanceConnection<'_>,
        db: &DatabaseSpec,
        origin: Origin,
        rotate: bool,
    ) -> Result<Vec<Step>, DriverError> {
        sql::check_database(&db.database).map_err(|e| DriverError::configuration(e.to_string()))?;
        sql::check_role(&db.role).map_err(|e| DriverError::configuration(e.to_string()))?;
        let state = self.db_state(on, db)?;
        plan(&state, db, origin, rotate, (on.host, on.port))
    }

    /// Brings one database, its role and its secret to the spec: exactly
    /// the steps [`plan`] lists, each journalled. Used for the databases of
    /// a component and for database requests.
    pub fn ensure_database(
        &self,
        ctx: &ComponentCtx<'_>,
        on: &mut InstanceConnection<'_>,
        db: &DatabaseSpec,
        origin: Origin,
        counts: &mut Counts,
    ) -> Result<Outputs, DriverError> {
        // `--override-guard COMPONENT:rotate-credentials --reason ...`
        // (recorded with who and why) asks for new passwords.
        let rotate = ctx.recorder.guard_override(ROTATE).is_some();
        sql::check_database(&db.database).map_err(|e| DriverError::configuration(e.to_string()))?;
        sql::check_role(&db.role).map_err(|e| DriverError::configuration(e.to_string()))?;
        for e in &db.extensions {
            sql::check_extension(e).map_err(|e| DriverError::configuration(e.to_string()))?;
        }
        let state = self.db_state(on, db)?;
        let steps = plan(&state, db, origin, rotate, (on.host, on.port))?;
        let role_ref = ResourceRef::new("role", &db.role);
        let db_ref = ResourceRef::new("database", &db.database);
        let secret_ref = ResourceRef::new("secret", &db.secret_path);
        let mut password: Option<Secret> = None;
        let mut secret_written = false;
        for step in &steps {
            match step {
                Step::CreateRole => {
                    let pw = generate_password(PASSWORD_LEN)?;
                    ctx.recorder.journalled(Action::Create, &role_ref, || {
                        sql::create_role(
                            &mut on.admin,
                            &db.role,
                            &pw,
                            db.createdb,
                            db.connection_limit,
                        )
                    })?;
                    counts.added += 1;
                    password = Some(pw);
                }
                Step::AdoptRole => {
                    ctx.recorder
                        .journalled(Action::Adopt, &role_ref, || Ok(()))?;
                }
                Step::AlterRole(clauses) => {
                    ctx.recorder.journalled(Action::Update, &role_ref, || {
                        sql::alter_role(&mut on.admin, &db.role, clauses)
                    })?;
                    counts.changed += 1;
                }
                Step::Rotate(_) => {
                    let pw = generate_password(PASSWORD_LEN)?;
                    ctx.recorder.journalled(Action::Update, &role_ref, || {
                        sql::set_password(&mut on.admin, &db.role, &pw)
                    })?;
                    counts.changed += 1;
                    // The new password goes where the cluster reads it at
                    // once: a crash between the two is repaired on resume
                    // (the stored one no longer logs in, so it rotates).
                    self.write_secret(
                        ctx,
                        db,
                        &state,
                        &pw,
                        (on.host, on.port),
                        &secret_ref,
                        counts,
                    )?;
                    secret_written = true;
                    password = Some(pw);
                }
                Step::CreateDatabase => {
                    ctx.recorder.journalled(Action::Create, &db_ref, || {
                        sql::create_database(&mut on.admin, &db.database, &db.role)
                    })?;
                    counts.added += 1;
                }
                Step::AdoptDatabase => {
                    ctx.recorder.journalled(Action::Adopt, &db_ref, || Ok(()))?;
                }
                Step::Restrict => {
                    ctx.recorder.journalled(Action::Update, &db_ref, || {
                        sql::restrict(&mut on.admin, &db.database, &db.role)
                    })?;
                    counts.changed += 1;
                }
                Step::CreateExtension(e) => {
                    let r = ResourceRef::new("extension", format!("{}/{e}", db.database));
                    ctx.recorder.journalled(Action::Update, &r, || {
                        sql::create_extension(&on.admin_endpoint, &db.database, e)
                    })?;
                    counts.changed += 1;
                }
                Step::AdoptSecret => {
                    ctx.recorder
                        .journalled(Action::Adopt, &secret_ref, || Ok(()))?;
                }
                Step::WriteSecret(_) if secret_written => {}
                Step::WriteSecret(_) => {
                    let pw = match &password {
                        Some(p) => p.clone(),
                        None => state
                            .secret
                            .as_ref()
                            .and_then(|m| m.get("password").and_then(|p| p.as_str()))
                            .map(Secret::new)
                            .ok_or_else(|| {
                                DriverError::permanent(format!(
                                    "no password is known for role {}",
                                    db.role
                                ))
                            })?,
                    };
                    self.write_secret(
                        ctx,
                        db,
                        &state,
                        &pw,
                        (on.host, on.port),
                        &secret_ref,
                        counts,
                    )?;
                    secret_written = true;
                }
            }
        }
        Ok(database_outputs(db, on.host, on.port))
    }

    /// Writes the secret in the platform's shape, keeping the keys it has
    /// beyond the six (`dbInstanceIdentifier`) and a `port` written as a
    /// string a string.
    #[allow(clippy::too_many_arguments)]
    fn write_secret(
        &self,
        ctx: &ComponentCtx<'_>,
        db: &DatabaseSpec,
        state: &DbState,
        password: &Secret,
        (host, port): (&str, u16),
        secret_ref: &ResourceRef,
        counts: &mut Counts,
    ) -> Result<(), DriverError> {
        let mut m = state.secret.clone().unwrap_or_default();
        let port_value = match m.get("port") {
            Some(serde_json::Value::String(_)) => serde_json::json!(port.to_string()),
            _ => serde_json::json!(port),
        };
        m.insert("username".into(), serde_json::json!(db.role));
        m.insert("password".into(), serde_json::json!(password.expose()));
        m.insert("host".into(), serde_json::json!(host));
        m.insert("port".into(), port_value);
        m.insert("dbname".into(), serde_json::json!(db.database));
        m.insert("engine".into(), serde_json::json!("postgres"));
        let value = Secret::new(serde_json::Value::Object(m).to_string());
        let created = state.secret.is_none();
        let action = if created {
            Action::Create
        } else {
            Action::Update
        };
        // A secret adopted earlier stays adopted (teardown keeps it); one
        // of ours is updated.
        ctx.recorder.journalled(action, secret_ref, || {
            self.store
                .put(&db.secret_path, &value, &db.tags)
                .map(|_| ())
                .map_err(DriverError::from)
        })?;
        if created {
            counts.added += 1;
        } else {
            counts.changed += 1;
        }
        Ok(())
    }
}

/// The fields of a stored secret.
trait StoredSecretExt {
    fn fields(&self) -> Option<serde_json::Map<String, serde_json::Value>>;
}

impl StoredSecretExt for gp_driver::secrets::StoredSecret {
    fn fields(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        self.json()
    }
}

pub(crate) fn database_outputs(db: &DatabaseSpec, host: &str, port: u16) -> Outputs {
    BTreeMap::from([
        ("dbname".to_string(), serde_json::json!(db.database)),
        ("username".to_string(), serde_json::json!(db.role)),
        ("host".to_string(), serde_json::json!(host)),
        ("port".to_string(), serde_json::json!(port)),
        ("secret_path".to_string(), serde_json::json!(db.secret_path)),
    ])
}
