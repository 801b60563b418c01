//! Names, quoting and the statements the driver runs. Names are validated
//! before any SQL is built, and still quoted as identifiers; passwords are
//! sent only as SCRAM-SHA-256 verifiers computed here, so no plaintext
//! password ever reaches the server (or its logs).

use std::time::Duration;

use gp_core::Secret;
use gp_driver::DriverError;
use postgres::{Client, NoTls};

pub use crate::tls::{SslMode, Tls};

/// Why a database or role name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(pub String);

fn check(name: &str, what: &str, max: usize) -> Result<(), NameError> {
    let shape = name.len() >= 3
        && name.len() <= max
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !shape {
        let pattern = format!("^[a-z][a-z0-9_]{{2,{}}}$", max - 1);
        return Err(NameError(format!(
            "`{}` is not a valid {what} name: it must match {pattern} ({} characters at most, lower-case letters, digits and `_`, starting with a letter)",
            name.escape_debug(),
            max
        )));
    }
    if name.starts_with("pg_") || matches!(name, "postgres" | "template0" | "template1" | "public")
    {
        return Err(NameError(format!(
            "`{name}` is reserved by PostgreSQL; choose another {what} name"
        )));
    }
    Ok(())
}

/// `^[a-z][a-z0-9_]{2,62}$`, not reserved.
pub fn check_database(name: &str) -> Result<(), NameError> {
    check(name, "database", 63)
}

/// `^[a-z][a-z0-9_]{2,30}$`, not reserved.
pub fn check_role(name: &str) -> Result<(), NameError> {
    check(name, "role", 31)
}

/// A quoted identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A quoted literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The SCRAM-SHA-256 verifier of a password, as `ALTER ROLE ... PASSWORD`
/// accepts it.
pub fn scram(password: &Secret) -> String {
    postgres_protocol::password::scram_sha_256(password.expose().as_bytes())
}

/// How to reach a server as some user.
#[derive(Clone)]
pub struct Endpoint {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// User.
    pub user: String,
    /// Password.
    pub password: Secret,
    /// TLS.
    pub tls: Tls,
}

/// Connects; errors say whether retrying helps and never contain the
/// password.
pub fn connect(e: &Endpoint, database: &str) -> Result<Client, DriverError> {
    let mut config = postgres::Config::new();
    config
        .host(&e.host)
        .port(e.port)
        .user(&e.user)
        .password(e.password.expose())
        .dbname(database)
        .application_name("goldenpath")
        .connect_timeout(Duration::from_secs(10))
        .ssl_mode(match e.tls.mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        });
    let context = format!(
        "cannot connect to {}:{} as {} (sslmode {})",
        e.host,
        e.port,
        e.user,
        e.tls.mode.as_str()
    );
    let result = match e.tls.connector()? {
        None => config.connect(NoTls),
        Some(tls) => config.connect(tls),
    };
    result.map_err(|err| {
        let d = classify(&err, &context);
        let text = d.message.to_lowercase();
        if text.contains("no encryption") || text.contains("ssl off") {
            d.with_hint("the server accepts only TLS connections: set `sslmode: require` (or `verify-full` with `caBundle`) on the server")
        } else if text.contains("certificate") || text.contains("tls") {
            d.with_hint("check `caBundle` (the server's CA, PEM) and that the server's certificate names the host; `sslmode: require` encrypts without checking")
        } else {
            d
        }
    })
}

/// Maps a client error to a driver error.
pub fn classify(err: &postgres::Error, context: &str) -> DriverError {
    use postgres::error::SqlState;
    match err.as_db_error() {
        Some(db) => {
            let msg = format!("{context}: {}", db.message());
            match *db.code() {
                SqlState::INVALID_PASSWORD | SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                    DriverError::configuration(msg)
                }
                SqlState::CANNOT_CONNECT_NOW
                | SqlState::TOO_MANY_CONNECTIONS
                | SqlState::T_R_DEADLOCK_DETECTED => DriverError::retryable(msg),
                _ => DriverError::permanent(msg),
            }
        }
        None => {
            // The cause chain says why (a TLS handshake names the
            // certificate problem only there).
            let mut text = err.to_string();
            let mut cause = std::error::Error::source(err);
            while let Some(c) = cause {
                let c_text = c.to_string();
                if !text.contains(&c_text) {
                    text.push_str(": ");
                    text.push_str(&c_text);
                }
                cause = c.source();
            }
            let lower = text.to_lowercase();
            if lower.contains("certificate") || lower.contains("handshake") {
                DriverError::configuration(format!("{context}: {text}"))
            } else {
                DriverError::retryable(format!("{context}: {text}"))
            }
        }
    }
}

/// Runs one statement.
pub fn exec(client: &mut Client, sql: &str, what: &str) -> Result<(), DriverError> {
    client.batch_execute(sql).map_err(|e| classify(&e, what))
}

/// A role's attributes.
pub fn role_state(
    client: &mut Client,
    name: &str,
) -> Result<Option<crate::RoleState>, DriverError> {
    let rows = client
        .query(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = $1",
            &[&name],
        )
        .map_err(|e| classify(&e, "cannot read pg_roles"))?;
    Ok(rows.first().map(|r| crate::RoleState {
        superuser: r.get(0),
        createrole: r.get(1),
        createdb: r.get(2),
        login: r.get(3),
        connection_limit: r.get(4),
    }))
}

/// Creates a login role with `password` and the declared attributes
/// (never superuser, createrole, replication or bypassrls).
pub fn create_role(
    client: &mut Client,
    name: &str,
    password: &Secret,
    createdb: bool,
    connection_limit: i32,
) -> Result<(), DriverError> {
    let sql = format!(
        "CREATE ROLE {} WITH LOGIN NOSUPERUSER {} NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT {connection_limit} PASSWORD {}",
        ident(name),
        if createdb { "CREATEDB" } else { "NOCREATEDB" },
        literal(&scram(password))
    );
    exec(client, &sql, &format!("cannot create role {name}"))
}

/// `ALTER ROLE name WITH clauses` (clauses from a fixed vocabulary).
pub fn alter_role(client: &mut Client, name: &str, clauses: &[String]) -> Result<(), DriverError> {
    for c in clauses {
        let ok = matches!(
            c.as_str(),
            "NOSUPERUSER" | "NOCREATEROLE" | "CREATEDB" | "NOCREATEDB" | "LOGIN"
        ) || c
            .strip_prefix("CONNECTION LIMIT ")
            .is_some_and(|n| n.parse::<i32>().is_ok());
        if !ok {
            return Err(DriverError::permanent(format!("refused role clause `{c}`")));
        }
    }
    exec(
        client,
        &format!("ALTER ROLE {} WITH {}", ident(name), clauses.join(" ")),
        &format!("cannot alter role {name}"),
    )
}

/// A new password for a role, nothing else changed.
pub fn set_password(client: &mut Client, name: &str, password: &Secret) -> Result<(), DriverError> {
    exec(
        client,
        &format!(
            "ALTER ROLE {} WITH PASSWORD {}",
            ident(name),
            literal(&scram(password))
        ),
        &format!("cannot set the password of {name}"),
    )
}

/// `^[a-z][a-z0-9_-]{1,62}$`: an extension's name (`pg_trgm`, `uuid-ossp`).
pub fn check_extension(name: &str) -> Result<(), NameError> {
    let ok = (2..=63).contains(&name.len())
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(NameError(format!(
            "`{}` is not a valid extension name: it must match ^[a-z][a-z0-9_-]{{1,62}}$",
            name.escape_debug()
        )))
    }
}

/// The extensions installed in `database`.
pub fn extensions(
    admin: &Endpoint,
    database: &str,
) -> Result<std::collections::BTreeSet<String>, DriverError> {
    let mut c = connect(admin, database)?;
    let rows = c
        .query("SELECT extname::text FROM pg_extension", &[])
        .map_err(|e| classify(&e, "cannot read pg_extension"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// `CREATE EXTENSION IF NOT EXISTS` in `database`, as the admin.
pub fn create_extension(admin: &Endpoint, database: &str, name: &str) -> Result<(), DriverError> {
    check_extension(name).map_err(|e| DriverError::configuration(e.to_string()))?;
    let mut c = connect(admin, database)?;
    exec(
        &mut c,
        &format!("CREATE EXTENSION IF NOT EXISTS {}", ident(name)),
        &format!("cannot create extension {name} in {database}"),
    )
}

/// A role's dangerous attributes: (superuser, createrole, createdb, login).
pub fn role(
    client: &mut Client,
    name: &str,
) -> Result<Option<(bool, bool, bool, bool)>, DriverError> {
    let rows = client
        .query(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = $1",
            &[&name],
        )
        .map_err(|e| classify(&e, "cannot read pg_roles"))?;
    Ok(rows
        .first()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))))
}

/// A database's owner and whether PUBLIC may connect to it.
pub fn database(client: &mut Client, name: &str) -> Result<Option<(String, bool)>, DriverError> {
    let rows = client
        .query(
            "SELECT pg_get_userbyid(datdba)::text, COALESCE(array_to_string(datacl, ','), '') FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .map_err(|e| classify(&e, "cannot read pg_database"))?;
    Ok(rows.first().map(|r| {
        let owner: String = r.get(0);
        let acl: String = r.get(1);
        // No ACL means the defaults, which let PUBLIC connect; an entry
        // for PUBLIC is written `=c/owner` (empty grantee).
        let public_connect = acl.is_empty()
            || acl.split(',').any(|e| {
                e.starts_with('=') && e.split('/').next().is_some_and(|p| p.contains('c'))
            });
        (owner, public_connect)
    }))
}

/// Creates or fixes a login role with `password`, without superuser,
/// createrole or createdb.
pub fn set_role(
    client: &mut Client,
    name: &str,
    password: &Secret,
    create: bool,
) -> Result<(), DriverError> {
    let verb = if create { "CREATE" } else { "ALTER" };
    let sql = format!(
        "{verb} ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {}",
        ident(name),
        literal(&scram(password))
    );
    exec(
        client,
        &sql,
        &format!("cannot {} role {name}", verb.to_lowercase()),
    )
}

/// Creates a database owned by `owner` (outside a transaction, as
/// PostgreSQL requires) and restricts who may connect.
pub fn create_database(client: &mut Client, name: &str, owner: &str) -> Result<(), DriverError> {
    exec(
        client,
        &format!("CREATE DATABASE {} OWNER {}", ident(name), ident(owner)),
        &format!("cannot create database {name}"),
    )?;
    restrict(client, name, owner)
}

/// `REVOKE ALL ... FROM PUBLIC; GRANT CONNECT ... TO owner`.
pub fn restrict(client: &mut Client, name: &str, owner: &str) -> Result<(), DriverError> {
    exec(
        client,
        &format!(
            "REVOKE ALL ON DATABASE {db} FROM PUBLIC; GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {role}",
            db = ident(name),
            role = ident(owner)
        ),
        &format!("cannot set privileges on database {name}"),
    )
}

/// Drops a database, terminating its sessions.
pub fn drop_database(client: &mut Client, name: &str) -> Result<(), DriverError> {
    exec(
        client,
        &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(name)),
        &format!("cannot drop database {name}"),
    )
}

/// Drops what a role owns (here) and the role.
pub fn drop_role(client: &mut Client, name: &str) -> Result<(), DriverError> {
    if role(client, name)?.is_none() {
        return Ok(());
    }
    exec(
        client,
        &format!(
            "DROP OWNED BY {r}; DROP ROLE IF EXISTS {r}",
            r = ident(name)
        ),
        &format!("cannot drop role {name}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_database("backstage").is_ok());
        assert!(check_database(&"a".repeat(63)).is_ok());
        assert!(check_role(&"a".repeat(31)).is_ok());
        for bad in [
            "a\"b",
            "x; drop table y",
            "Bad",
            "é",
            "ab",
            "1abc",
            "pg_x",
            "postgres",
            "with space",
        ] {
            assert!(check_database(bad).is_err(), "{bad}");
            assert!(check_role(bad).is_err(), "{bad}");
        }
        assert!(check_database(&"a".repeat(64)).is_err());
        assert!(check_role(&"a".repeat(32)).is_err());
        let msg = check_database("x; drop table y").unwrap_err().to_string();
        assert!(msg.contains("^[a-z][a-z0-9_]{2,62}$"), "{msg}");
    }

    #[test]
    fn quoting() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
        let v = scram(&Secret::new("pw"));
        assert!(v.starts_with("SCRAM-SHA-256$4096:"), "{v}");
        assert!(!v.contains("pw$"));
    }
}
