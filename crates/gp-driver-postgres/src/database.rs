//! One database, its login role and its credentials secret, created or
//! converged step by step, each step journalled.

use super::*;

impl PostgresDriver {
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
                ctx.recorder.journalled(Action::Create, &role_ref, || {
                    sql::set_role(admin, &db.role, &pw, true)
                })?;
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
                    ctx.recorder.journalled(action, &role_ref, || {
                        sql::set_role(admin, &db.role, &pw, false)
                    })?;
                    counts.changed += 1;
                    password = Some(pw);
                }
            }
        }
        // The database.
        match sql::database(admin, &db.database)? {
            None => {
                ctx.recorder.journalled(Action::Create, &db_ref, || {
                    sql::create_database(admin, &db.database, &db.role)
                })?;
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
                    ctx.recorder.journalled(action, &db_ref, || {
                        sql::restrict(admin, &db.database, &db.role)
                    })?;
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
            ctx.recorder.journalled(action, &secret_ref, || {
                self.store
                    .put(&db.secret_path, &Secret::new(desired.to_string()), &db.tags)
                    .map_err(DriverError::from)
            })?;
            if action == Action::Create {
                counts.added += 1;
            } else {
                counts.changed += 1;
            }
        }
        Ok(database_outputs(db, app_host, app_port))
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
