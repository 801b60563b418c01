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
