//! Where secrets live: the [`SecretStore`] trait and the local encrypted
//! store, goldenpath's embedded default.
//!
//! The local store is one JSON file, `{state}/secrets/store.json`, holding
//! per path the tags, timestamps, a random 24-byte nonce and the
//! XChaCha20-Poly1305 ciphertext of the value, authenticated together with
//! the path (so a ciphertext cannot be moved to another path). The 32-byte
//! key comes from `GOLDENPATH_SECRETS_KEY` (base64) or from a key file,
//! `{state}/secrets/key`, created with mode 0600 on first use. Every change
//! is a read-modify-write under an exclusive lock, written to a temporary
//! file and renamed into place, so concurrent processes lose nothing and a
//! crash never leaves half a file.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use gp_core::Secret;
pub use gp_driver::secrets::{
    SecretMeta, SecretStore, SecretsError, StoredSecret, UnavailableStore, check_path,
    generate_password, redacted_keys,
};
use serde::{Deserialize, Serialize};

/// The environment variable holding the store's key (32 bytes, base64).
pub const KEY_ENV: &str = "GOLDENPATH_SECRETS_KEY";

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> SecretsError {
    let context = context.into();
    move |source| SecretsError::Io { context, source }
}

#[derive(Serialize, Deserialize, Default)]
struct StoreFile {
    version: u32,
    secrets: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Entry {
    nonce: String,
    ciphertext: String,
    tags: BTreeMap<String, String>,
    created_us: i64,
    updated_us: i64,
}

/// The local encrypted store.
pub struct LocalStore {
    dir: PathBuf,
    key_env: Option<String>,
}

impl LocalStore {
    /// A store in `{state_dir}/secrets`. Nothing is created until the
    /// first write.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join("secrets"),
            key_env: std::env::var(KEY_ENV).ok().filter(|k| !k.trim().is_empty()),
        }
    }

    /// A store with an explicit base64 key (tests, and callers that read
    /// the key elsewhere).
    pub fn with_key(state_dir: &Path, key_b64: &str) -> Self {
        Self {
            dir: state_dir.join("secrets"),
            key_env: Some(key_b64.into()),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join("store.json")
    }

    fn key_file(&self) -> PathBuf {
        self.dir.join("key")
    }

    fn ensure_dir(&self) -> Result<(), SecretsError> {
        fs::create_dir_all(&self.dir)
            .map_err(io(format!("cannot create {}", self.dir.display())))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
            .map_err(io(format!("cannot restrict {}", self.dir.display())))
    }

    /// The cipher; `create` makes a key file when there is none.
    fn cipher(&self, create: bool) -> Result<Option<XChaCha20Poly1305>, SecretsError> {
        let encoded = match &self.key_env {
            Some(k) => k.trim().to_string(),
            None => match fs::read_to_string(self.key_file()) {
                Ok(k) => k.trim().to_string(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if !create {
                        return Ok(None);
                    }
                    self.ensure_dir()?;
                    let mut key = [0u8; 32];
                    getrandom::fill(&mut key)
                        .map_err(|e| SecretsError::Key(format!("no randomness for a key: {e}")))?;
                    let encoded = B64.encode(key);
                    let mut f = fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(self.key_file())
                        .map_err(io(format!(
                            "cannot create the key file {}",
                            self.key_file().display()
                        )))?;
                    f.write_all(encoded.as_bytes())
                        .and_then(|_| f.sync_all())
                        .map_err(io("cannot write the key file"))?;
                    encoded
                }
                Err(e) => return Err(io(format!("cannot read {}", self.key_file().display()))(e)),
            },
        };
        let key = B64
            .decode(encoded.as_bytes())
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or_else(|| {
                SecretsError::Key(format!(
                    "the secrets key must be 32 bytes, base64-encoded (from {})",
                    if self.key_env.is_some() {
                        KEY_ENV.to_string()
                    } else {
                        self.key_file().display().to_string()
                    }
                ))
            })?;
        XChaCha20Poly1305::new_from_slice(&key)
            .map(Some)
            .map_err(|_| SecretsError::Key("the secrets key has the wrong length".into()))
    }

    fn read(&self) -> Result<StoreFile, SecretsError> {
        match fs::read(self.file()) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| SecretsError::Corrupt {
                path: self.file(),
                why: format!("not the expected JSON ({e})"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StoreFile {
                version: 1,
                ..StoreFile::default()
            }),
            Err(e) => Err(io(format!("cannot read {}", self.file().display()))(e)),
        }
    }

    fn write(&self, store: &StoreFile) -> Result<(), SecretsError> {
        let tmp = self
            .dir
            .join(format!(".store.json.{}.tmp", std::process::id()));
        let bytes = serde_json::to_vec_pretty(store).map_err(|e| SecretsError::Corrupt {
            path: self.file(),
            why: e.to_string(),
        })?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(format!("cannot write {}", tmp.display())))?;
        f.write_all(&bytes)
            .and_then(|_| f.sync_all())
            .map_err(io(format!("cannot write {}", tmp.display())))?;
        fs::rename(&tmp, self.file())
            .map_err(io(format!("cannot replace {}", self.file().display())))
    }

    /// Runs `f` on the store under an exclusive lock, writing the result
    /// back when `f` says so.
    fn modify<R>(
        &self,
        f: impl FnOnce(&mut StoreFile, &XChaCha20Poly1305) -> Result<(R, bool), SecretsError>,
    ) -> Result<R, SecretsError> {
        self.ensure_dir()?;
        let lock = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.dir.join(".lock"))
            .map_err(io("cannot open the secrets lock"))?;
        lock.lock().map_err(io("cannot lock the secrets store"))?;
        let mut store = self.read()?;
        // A new key only for a store that holds nothing: a missing key file
        // beside secrets is an error, never a fresh key that would leave
        // them unreadable.
        let cipher = match self.cipher(store.secrets.is_empty())? {
            Some(c) => c,
            None => {
                return Err(SecretsError::Key(format!(
                    "the store {} holds {} secret(s) but its key is missing: restore {} or set {KEY_ENV}; a new key would make them unreadable",
                    self.file().display(),
                    store.secrets.len(),
                    self.key_file().display()
                )));
            }
        };
        // A store is written with one key only: a write under another key
        // (no stored secret opens with it) is refused, which would leave a
        // store mixing keys.
        let key_fits = store.secrets.is_empty()
            || store
                .secrets
                .iter()
                .any(|(path, e)| self.open(&cipher, path, e).is_ok());
        let (r, changed) = f(&mut store, &cipher)?;
        if changed && !key_fits {
            return Err(SecretsError::Key(format!(
                "the key does not match the store {} (check {KEY_ENV} or the key file {}); nothing was written",
                self.file().display(),
                self.key_file().display()
            )));
        }
        if changed {
            self.write(&store)?;
        }
        drop(lock);
        Ok(r)
    }

    fn open(
        &self,
        cipher: &XChaCha20Poly1305,
        path: &str,
        e: &Entry,
    ) -> Result<Secret, SecretsError> {
        let nonce = B64.decode(&e.nonce).ok().filter(|n| n.len() == 24);
        let ct = B64.decode(&e.ciphertext).ok();
        let (Some(nonce), Some(ct)) = (nonce, ct) else {
            return Err(SecretsError::Corrupt {
                path: self.file(),
                why: format!("the entry for {path} is not valid base64"),
            });
        };
        let plain = cipher
            .decrypt(XNonce::from_slice(&nonce), Payload { msg: &ct, aad: path.as_bytes() })
            .map_err(|_| {
                SecretsError::Key(format!(
                    "cannot decrypt {path}: the key does not match the store (check {KEY_ENV} or the key file)"
                ))
            })?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| SecretsError::Corrupt {
                path: self.file(),
                why: format!("the value of {path} is not text"),
            })
    }
}

impl SecretStore for LocalStore {
    fn get(&self, path: &str) -> Result<Option<StoredSecret>, SecretsError> {
        check_path(path)?;
        let store = self.read()?;
        let Some(e) = store.secrets.get(path) else {
            return Ok(None);
        };
        let cipher = self.cipher(false)?.ok_or_else(|| {
            SecretsError::Key(format!(
                "the store has secrets but no key: set {KEY_ENV} or restore {}",
                self.key_file().display()
            ))
        })?;
        Ok(Some(StoredSecret {
            value: self.open(&cipher, path, e)?,
            tags: e.tags.clone(),
            created_us: e.created_us,
            updated_us: e.updated_us,
        }))
    }

    fn put(
        &self,
        path: &str,
        value: &Secret,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool, SecretsError> {
        check_path(path)?;
        self.modify(|store, cipher| {
            let mut nonce = [0u8; 24];
            getrandom::fill(&mut nonce)
                .map_err(|e| SecretsError::Key(format!("no randomness for a nonce: {e}")))?;
            let ct = cipher
                .encrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: value.expose().as_bytes(),
                        aad: path.as_bytes(),
                    },
                )
                .map_err(|_| SecretsError::Key("encryption failed".into()))?;
            let now = now_us();
            let created = store.secrets.get(path).map(|e| e.created_us);
            store.secrets.insert(
                path.into(),
                Entry {
                    nonce: B64.encode(nonce),
                    ciphertext: B64.encode(ct),
                    tags: tags.clone(),
                    created_us: created.unwrap_or(now),
                    updated_us: now,
                },
            );
            Ok((created.is_none(), true))
        })
    }

    fn delete(&self, path: &str) -> Result<bool, SecretsError> {
        check_path(path)?;
        if !self.file().exists() {
            return Ok(false);
        }
        self.modify(|store, _| {
            let existed = store.secrets.remove(path).is_some();
            Ok((existed, existed))
        })
    }

    fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretMeta>, SecretsError> {
        let store = self.read()?;
        Ok(store
            .secrets
            .iter()
            .filter(|(p, _)| prefix.is_none_or(|pre| p.starts_with(pre)))
            .map(|(p, e)| SecretMeta {
                path: p.clone(),
                tags: e.tags.clone(),
                created_us: e.created_us,
                updated_us: e.updated_us,
            })
            .collect())
    }

    fn describe(&self) -> String {
        format!("local encrypted store at {}", self.file().display())
    }
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_evidence() {
        let dir = gp_test::tempdir();
        let store = LocalStore::new(dir.path());
        let tags = BTreeMap::from([("Environment".to_string(), "dev".to_string())]);
        assert!(
            store
                .put(
                    "gp/dev/app/postgres",
                    &Secret::new("{\"password\":\"p4ss\"}"),
                    &tags
                )
                .unwrap()
        );
        assert!(
            !store
                .put(
                    "gp/dev/app/postgres",
                    &Secret::new("{\"password\":\"n3w\"}"),
                    &tags
                )
                .unwrap()
        );
        let got = store.get("gp/dev/app/postgres").unwrap().unwrap();
        assert_eq!(got.value.expose(), "{\"password\":\"n3w\"}");
        assert_eq!(got.tags["Environment"], "dev");
        assert_eq!(redacted_keys(&got), serde_json::json!({"password": "***"}));
        // The file holds no plaintext, and the key file is private.
        let text = fs::read_to_string(dir.path().join("secrets/store.json")).unwrap();
        assert!(!text.contains("n3w"));
        let mode = fs::metadata(dir.path().join("secrets/key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // A ciphertext moved to another path does not open.
        let mut file: StoreFile = serde_json::from_str(&text).unwrap();
        let e = file.secrets["gp/dev/app/postgres"].clone();
        file.secrets.insert("gp/dev/other/postgres".into(), e);
        fs::write(
            dir.path().join("secrets/store.json"),
            serde_json::to_vec(&file).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            store.get("gp/dev/other/postgres"),
            Err(SecretsError::Key(_))
        ));
        // A wrong key does not open anything, and says so without values.
        let wrong = LocalStore::with_key(dir.path(), &B64.encode([7u8; 32]));
        let err = wrong.get("gp/dev/app/postgres").unwrap_err();
        assert!(err.to_string().contains("the key does not match"), "{err}");
        assert!(store.delete("gp/dev/app/postgres").unwrap());
        assert!(!store.delete("gp/dev/app/postgres").unwrap());
        assert!(store.get("gp/dev/app/postgres").unwrap().is_none());
    }

    #[test]
    fn paths_are_checked() {
        for bad in ["", "a//b", "../x", "A/b", "a b", "a/./b"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        assert!(check_path("goldenpath/dev/builds/23-01-26-01/app/postgres").is_ok());
    }

    #[test]
    fn passwords_are_long_and_varied() {
        let a = generate_password(40).unwrap();
        let b = generate_password(40).unwrap();
        assert_eq!(a.len(), 40);
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let dir = gp_test::tempdir();
        std::thread::scope(|s| {
            for t in 0..4 {
                let dir = dir.path().to_path_buf();
                s.spawn(move || {
                    let store = LocalStore::new(&dir);
                    for i in 0..25 {
                        store
                            .put(&format!("t{t}/s{i}"), &Secret::new("x"), &BTreeMap::new())
                            .unwrap();
                    }
                });
            }
        });
        assert_eq!(LocalStore::new(dir.path()).list(None).unwrap().len(), 100);
    }
}
