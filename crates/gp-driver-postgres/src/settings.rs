//! The `postgres` driver's typed settings and server URLs.

use super::*;

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
    /// One database and login role per app: a name (role = database =
    /// the name), or `{name, username, createdb, connectionLimit,
    /// extensions, owner, adopt}`.
    #[serde(default)]
    pub databases: Vec<RawNode>,
    /// What deploying does to a database, role or secret that exists but
    /// was not created by goldenpath: `keep` (the default: adopt it as it
    /// is; only a password that no longer logs in is rotated) or
    /// `reconcile` (bring it to the spec: role attributes, PUBLIC
    /// CONNECT revoked).
    #[serde(default)]
    pub adopt: Option<Spanned<AdoptMode>>,
}

/// How an existing database is adopted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AdoptMode {
    /// Adopt as it is.
    #[default]
    Keep,
    /// Bring it to the spec.
    Reconcile,
}

/// One database entry as written in `databases:`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DatabaseDecl {
    /// The app and its database (`backstage`).
    pub name: Spanned<String>,
    /// The login role (default: the database's name), e.g. `backstage_user`.
    #[serde(default)]
    pub username: Option<Spanned<String>>,
    /// Whether the role may create databases (Backstage creates its
    /// plugins' databases itself).
    #[serde(default)]
    pub createdb: bool,
    /// The role's connection limit (default: none).
    #[serde(default)]
    pub connection_limit: Option<Spanned<i32>>,
    /// Extensions the admin creates in the database.
    #[serde(default)]
    pub extensions: Vec<Spanned<String>>,
    /// The owning team, recorded in the secret's tags.
    #[serde(default)]
    pub owner: Option<String>,
    /// This database's adoption (default: the component's `adopt`).
    #[serde(default)]
    pub adopt: Option<AdoptMode>,
}

impl PostgresSettings {
    /// The `databases:` entries, typed; problems at their positions.
    pub fn database_decls(&self) -> Result<Vec<DatabaseDecl>, Vec<(gp_core::yaml::Pos, String)>> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for RawNode(n) in &self.databases {
            match &n.kind {
                gp_core::yaml::NodeKind::Scalar(text, _) => out.push(DatabaseDecl {
                    name: Spanned {
                        value: text.clone(),
                        start: n.start,
                        end: n.end,
                    },
                    username: None,
                    createdb: false,
                    connection_limit: None,
                    extensions: Vec::new(),
                    owner: None,
                    adopt: None,
                }),
                gp_core::yaml::NodeKind::Map(_) => match gp_core::yaml::from_node::<DatabaseDecl>(n) {
                    Ok(d) => out.push(d),
                    Err(e) => problems.push((e.pos.unwrap_or(n.start), e.message)),
                },
                gp_core::yaml::NodeKind::Seq(_) => problems.push((
                    n.start,
                    "a database is a name or {name, username, createdb, connectionLimit, extensions, owner, adopt}".into(),
                )),
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }

    /// The adoption of `decl`.
    pub fn adopt_of(&self, decl: &DatabaseDecl) -> AdoptMode {
        decl.adopt
            .or(self.adopt.as_ref().map(|a| a.value))
            .unwrap_or_default()
    }
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
    /// TLS: `disable`, `prefer` (the default), `require`, `verify-ca` or
    /// `verify-full` (libpq's modes). Amazon RDS with `rds.force_ssl=1`
    /// needs at least `require`.
    #[serde(default)]
    pub sslmode: Option<Spanned<crate::tls::SslMode>>,
    /// The CA bundle (PEM) `verify-ca` and `verify-full` check against
    /// (for RDS, its global bundle), relative to the spec.
    #[serde(default)]
    pub ca_bundle: Option<Spanned<String>>,
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
