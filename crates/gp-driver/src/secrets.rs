//! What drivers keep secrets in: the [`SecretStore`] trait, its errors, and
//! the helpers every store and driver shares (path rules, password
//! generation, redaction). The stores themselves live with their backends
//! (the local encrypted store in `gp-driver-secrets`).

use std::collections::BTreeMap;

use gp_core::Secret;
use std::path::PathBuf;

use serde::Serialize;

/// What went wrong with a secret. Messages never contain secret values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// The key is missing, malformed, or does not open the store.
    #[error("{0}")]
    Key(String),
    /// The store file is damaged.
    #[error("the secrets store {path} is damaged: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong (never a value).
        why: String,
    },
    /// File system trouble.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// A path that is not allowed.
    #[error("invalid secret path `{0}`: use segments of [a-z0-9_-] separated by `/`")]
    Path(String),
    /// The backend is not available in this build.
    #[error("{0}")]
    Unavailable(String),
}

/// A secret as stored: its value (JSON text) and metadata.
#[derive(Clone, Debug)]
pub struct StoredSecret {
    /// The value, usually a JSON object.
    pub value: Secret,
    /// Tags (not secret).
    pub tags: BTreeMap<String, String>,
    /// Created, µs since the epoch.
    pub created_us: i64,
    /// Last written.
    pub updated_us: i64,
}

impl StoredSecret {
    /// The value parsed as a JSON object; keys only, values hidden, when
    /// printed through [`redacted_keys`].
    pub fn json(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        serde_json::from_str(self.value.expose()).ok()
    }
}

/// Metadata of a secret, for listings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretMeta {
    /// Its path.
    pub path: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Created.
    pub created_us: i64,
    /// Last written.
    pub updated_us: i64,
}

/// The keys of a JSON secret with every value replaced by `***`.
pub fn redacted_keys(s: &StoredSecret) -> serde_json::Value {
    match s.json() {
        Some(map) => serde_json::Value::Object(
            map.into_iter()
                .map(|(k, _)| (k, serde_json::Value::String("***".into())))
                .collect(),
        ),
        None => serde_json::Value::String("***".into()),
    }
}

/// A place secrets live.
pub trait SecretStore: Send + Sync {
    /// Reads a secret.
    fn get(&self, path: &str) -> Result<Option<StoredSecret>, SecretsError>;
    /// Creates or replaces a secret; returns whether it was created.
    fn put(
        &self,
        path: &str,
        value: &Secret,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool, SecretsError>;
    /// Whether a secret is there (not scheduled for deletion), without
    /// reading its value: the orphan check asks this, so a teardown needs
    /// no permission to read values.
    fn exists(&self, path: &str) -> Result<bool, SecretsError> {
        self.get(path).map(|s| s.is_some())
    }
    /// Reads several secrets (a store may answer with fewer calls than one
    /// per path); the answers are in the order of `paths`.
    fn get_many(&self, paths: &[String]) -> Result<Vec<Option<StoredSecret>>, SecretsError> {
        paths.iter().map(|p| self.get(p)).collect()
    }
    /// Creates a secret only if there is none at `path`; returns `false`
    /// (and writes nothing) when one exists.
    fn create(
        &self,
        path: &str,
        value: &Secret,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool, SecretsError> {
        if self.get(path)?.is_some() {
            return Ok(false);
        }
        self.put(path, value, tags).map(|_| true)
    }
    /// Deletes a secret at once, without a recovery window; returns
    /// whether it existed.
    fn delete(&self, path: &str) -> Result<bool, SecretsError>;
    /// Deletes a secret keeping the backend's recovery window (days) where
    /// it has one (AWS Secrets Manager); a store without one deletes.
    fn delete_recoverable(&self, path: &str, window_days: u32) -> Result<bool, SecretsError> {
        let _ = window_days;
        self.delete(path)
    }
    /// A secret's resource policy as the store holds it (`None`: it has
    /// none, or is gone). A store without resource policies (the local
    /// one) has none.
    fn resource_policy(&self, path: &str) -> Result<Option<String>, SecretsError> {
        let _ = path;
        Ok(None)
    }
    /// Lists secrets under a prefix.
    fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretMeta>, SecretsError>;
    /// The IAM permissions `access` to the secrets at `paths` (names or
    /// patterns with `*`) takes in this store: nothing for a store that
    /// is not in AWS.
    fn permissions(
        &self,
        paths: &[String],
        access: gp_core::iam::Access,
    ) -> Vec<gp_core::iam::Grant> {
        let _ = (paths, access);
        Vec::new()
    }
    /// A description for messages (`local store at ...`).
    fn describe(&self) -> String;
}

/// Days a recoverable deletion keeps a secret (AWS Secrets Manager's
/// longest window).
pub const RECOVERY_WINDOW_DAYS: u32 = 30;

/// The `port` of a database secret, written as a number or (as some
/// platforms write it) a string.
pub fn port_of(m: &serde_json::Map<String, serde_json::Value>) -> Option<u16> {
    match m.get("port")? {
        serde_json::Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Checks a secret path: segments of `[a-z0-9_-]`, no empty segment.
pub fn check_path(path: &str) -> Result<(), SecretsError> {
    let ok = !path.is_empty()
        && path.len() <= 512
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && seg.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b == b'-'
                        || b == b'_'
                        || b == b'.'
                })
                && seg != "."
                && seg != ".."
        });
    if ok {
        Ok(())
    } else {
        Err(SecretsError::Path(path.into()))
    }
}

/// A random password of `len` characters from `[A-Za-z0-9]`, drawn without
/// bias from the OS random source.
pub fn generate_password(len: usize) -> Result<Secret, SecretsError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf)
            .map_err(|e| SecretsError::Key(format!("no randomness for a password: {e}")))?;
        for b in buf {
            // 62 * 4 = 248: reject 248..=255 so every character is equally likely.
            if b < 248 && out.len() < len {
                out.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    Ok(Secret::new(out))
}

/// A backend this binary does not carry (AWS Secrets Manager): every call
/// fails with a message saying so, so nothing is half-done against the
/// wrong store.
pub struct UnavailableStore {
    why: String,
}

impl UnavailableStore {
    /// A store that refuses every call with `why`.
    pub fn new(why: impl Into<String>) -> Self {
        Self { why: why.into() }
    }
}

impl SecretStore for UnavailableStore {
    fn get(&self, _path: &str) -> Result<Option<StoredSecret>, SecretsError> {
        Err(SecretsError::Unavailable(self.why.clone()))
    }
    fn put(
        &self,
        _path: &str,
        _value: &Secret,
        _tags: &BTreeMap<String, String>,
    ) -> Result<bool, SecretsError> {
        Err(SecretsError::Unavailable(self.why.clone()))
    }
    fn delete(&self, _path: &str) -> Result<bool, SecretsError> {
        Err(SecretsError::Unavailable(self.why.clone()))
    }
    fn list(&self, _prefix: Option<&str>) -> Result<Vec<SecretMeta>, SecretsError> {
        Err(SecretsError::Unavailable(self.why.clone()))
    }
    fn describe(&self) -> String {
        "unavailable store".into()
    }
}

impl From<SecretsError> for crate::DriverError {
    fn from(e: SecretsError) -> Self {
        match e {
            SecretsError::Io { .. } => crate::DriverError::retryable(e.to_string()),
            SecretsError::Unavailable(_) | SecretsError::Key(_) | SecretsError::Path(_) => {
                crate::DriverError::configuration(e.to_string())
            }
            _ => crate::DriverError::permanent(e.to_string()),
        }
    }
}

#[cfg(test)]
mod port_tests {
    #[test]
    fn a_port_is_read_as_a_number_or_a_string() {
        let m = |v: serde_json::Value| v.as_object().cloned().unwrap();
        assert_eq!(
            super::port_of(&m(serde_json::json!({"port": 5432}))),
            Some(5432)
        );
        assert_eq!(
            super::port_of(&m(serde_json::json!({"port": "5432"}))),
            Some(5432)
        );
        assert_eq!(
            super::port_of(&m(serde_json::json!({"port": " 6543 "}))),
            Some(6543)
        );
        assert_eq!(super::port_of(&m(serde_json::json!({"port": "x"}))), None);
        assert_eq!(super::port_of(&m(serde_json::json!({"port": 70000}))), None);
        assert_eq!(super::port_of(&m(serde_json::json!({}))), None);
    }
}
