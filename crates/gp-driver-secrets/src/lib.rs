//! Secrets for goldenpath.
//!
//! - [`store`]: the [`SecretStore`] trait and the local encrypted store (the
//!   embedded default). Values are [`gp_core::Secret`]s, which never print.
//! - [`SecretsDriver`]: the `secrets` driver, which adopts or creates
//!   secrets at the contract's paths.
//!
//! ```yaml
//! - name: app-secrets
//!   plane: disposable
//!   tier: 1
//!   driver: secrets
//!   settings:
//!     secrets:
//!       - name: grafana-admin          # {prefix}/{env}[/builds/{B}]/grafana-admin
//!         generate: [password]         # created with random values when absent
//!       - name: github-token
//!         supplied: [token]            # put by a human: goldenpath secret put PATH
//! ```
//!
//! ```
//! use gp_driver_secrets::store::{LocalStore, SecretStore};
//! let dir = tempfile::tempdir().unwrap();
//! let store = LocalStore::new(dir.path());
//! store.put("gp/dev/app/token", &gp_core::Secret::new("{\"token\":\"t\"}"), &Default::default()).unwrap();
//! assert!(store.get("gp/dev/app/token").unwrap().is_some());
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;
use std::sync::Arc;

use gp_core::Secret;
use gp_core::yaml::Spanned;
use gp_driver::{
    Action, Applied, ComponentCtx, ComponentOutputs, Counts, Driver, DriverError, Existence,
    HeldName, Observation, Presence, ResourceRef, ValidateCtx, Validated, settings_at_apply,
    typed_settings,
};
use serde::Deserialize;

pub mod store;

pub use store::{
    LocalStore, SecretMeta, SecretStore, SecretsError, StoredSecret, UnavailableStore, check_path,
    generate_password, redacted_keys,
};

/// One secret a `secrets` component manages.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretSpec {
    /// Its name; the path is `{prefix}/{env}[/builds/{B}]/{name}`.
    pub name: Spanned<String>,
    /// Keys generated randomly when the secret is created.
    #[serde(default)]
    pub generate: Vec<String>,
    /// Keys a human supplies with `goldenpath secret put`.
    #[serde(default)]
    pub supplied: Vec<String>,
    /// Length of generated values (default 40, at least 32).
    #[serde(default)]
    pub length: Option<Spanned<usize>>,
}

/// Settings of a `secrets` component.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretsSettings {
    /// The secrets.
    pub secrets: Vec<SecretSpec>,
}

/// The longest generated value.
pub const MAX_GENERATED_LEN: usize = 4096;

/// A journalled secret must be one of this deployment's own paths; a row
/// naming any other secret is refused and nothing is deleted.
fn check_owned(ctx: &ComponentCtx<'_>, r: &ResourceRef) -> Result<(), DriverError> {
    if r.kind == "secret" && ctx.contract.owns_secret_path(&r.id) {
        return Ok(());
    }
    Err(DriverError::refused(format!(
        "the journal names {r} under `{}`, which is not one of this deployment's secrets ({}...); nothing was deleted",
        ctx.name(),
        ctx.contract.secret_scope()
    )))
}

/// The `secrets` driver.
pub struct SecretsDriver {
    store: Arc<dyn SecretStore>,
}

impl SecretsDriver {
    /// A driver over `store`.
    pub fn new(store: Arc<dyn SecretStore>) -> Self {
        Self { store }
    }

    fn path(ctx: &ComponentCtx<'_>, name: &str) -> Result<String, DriverError> {
        ctx.contract
            .secret_path(name)
            .map_err(|e| DriverError::configuration(e.to_string()))
    }
}

/// Whether this deployment wrote the secret named `name` (its last
/// outputs list it: created or adopted).
fn ours(ctx: &ComponentCtx<'_>, name: &str) -> bool {
    ctx.last.is_some_and(|l| l.resources.contains_key(name))
}

/// Whether this deployment created the secret at `path` (its journal says
/// so): only such a secret carries goldenpath's tags; an adopted one keeps
/// the tags it had.
fn created(ctx: &ComponentCtx<'_>, path: &str) -> bool {
    ctx.recorder.created(&ResourceRef::new("secret", path))
}

/// The key under a secret's outputs that holds the digest of the value
/// it had when goldenpath last applied it.
const VALUE_DIGEST: &str = "valueDigest";

/// The key under a secret's outputs that holds the digest of its resource
/// policy when goldenpath last applied it (`none` without one).
const POLICY_DIGEST: &str = "policyDigest";

/// A resource policy's digest: `sha256:HEX` of its text, `none` without.
fn policy_digest(policy: Option<&str>) -> String {
    use sha2::Digest;
    match policy {
        None => "none".into(),
        Some(p) => {
            let hex: String = sha2::Sha256::digest(p.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("sha256:{hex}")
        }
    }
}

/// A digest of a secret's value, salted: `sha256:SALT:HEX`, the SHA-256
/// of the salt's bytes then the value's. The salt is 16 random bytes per
/// apply, so equal values under two paths or in two applies never show as
/// equal, and the value is never kept or printed — only whether it
/// changed can be told.
fn value_digest(value: &Secret) -> Result<String, DriverError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| DriverError::permanent(format!("no randomness for a digest: {e}")))?;
    let salt: String = salt.iter().map(|b| format!("{b:02x}")).collect();
    Ok(digest_with(&salt, value))
}

fn digest_with(salt: &str, value: &Secret) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(salt.as_bytes());
    h.update(value.expose().as_bytes());
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{salt}:{hex}")
}

/// Whether `value` is the value `recorded` (a [`value_digest`]) was made
/// of; `None` for a digest that cannot be read (it tells nothing).
fn digest_matches(recorded: &str, value: &Secret) -> Option<bool> {
    match recorded
        .strip_prefix("sha256:")
        .and_then(|r| r.split_once(':'))
    {
        Some((salt, hex)) if !salt.is_empty() && hex.len() == 64 => {
            Some(digest_with(salt, value) == recorded)
        }
        _ => None,
    }
}

/// Whether the value changed since `recorded` was made of it.
fn value_changed(recorded: &str, value: &Secret) -> bool {
    digest_matches(recorded, value) == Some(false)
}

/// How a secret's tags differ from goldenpath's: each of goldenpath's tags
/// removed or changed (tags someone added beside them are theirs).
fn tag_drift(found: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> Vec<String> {
    want.iter()
        .filter_map(|(k, v)| match found.get(k) {
            None => Some(format!("tag `{k}` was removed")),
            Some(f) if f != v => Some(format!("tag `{k}` is `{f}`, not `{v}`")),
            Some(_) => None,
        })
        .collect()
}

impl Driver for SecretsDriver {
    fn name(&self) -> &'static str {
        "secrets"
    }

    /// Its secrets in the store.
    fn permissions(
        &self,
        ctx: &ValidateCtx<'_>,
        contract: &gp_core::Contract<'_>,
        access: gp_core::iam::Access,
    ) -> Result<Vec<gp_core::iam::Grant>, Vec<gp_core::Diagnostic>> {
        let paths: Vec<String> = self
            .holds(ctx, contract)
            .into_iter()
            .map(|h| {
                if h.under {
                    format!("{}*", h.name)
                } else {
                    h.name
                }
            })
            .collect();
        Ok(self.store.permissions(&paths, access))
    }

    fn holds(&self, ctx: &ValidateCtx<'_>, contract: &gp_core::Contract<'_>) -> Vec<HeldName> {
        let Ok(s) = typed_settings::<SecretsSettings>(ctx.platform, ctx.settings, true) else {
            return Vec::new();
        };
        s.secrets
            .iter()
            .filter_map(|x| {
                contract
                    .secret_path(&x.name.value)
                    .ok()
                    .map(|name| HeldName {
                        kind: gp_core::ownership::NameKind::Secret,
                        name,
                        under: false,
                        what: format!("its secret `{}`", x.name.value),
                    })
            })
            .collect()
    }

    fn validate(&self, ctx: &ValidateCtx<'_>) -> Result<Validated, Vec<gp_core::Diagnostic>> {
        let s: SecretsSettings = typed_settings(ctx.platform, ctx.settings, true)?;
        let mut problems = Vec::new();
        let mut names = Vec::new();
        for spec in &s.secrets {
            let n = &spec.name.value;
            // A name below the contract's prefix: segments of [a-z0-9_-]
            // separated by `/` (`backstage/secrets`, `github-token`).
            let ok = (3..=200).contains(&n.len())
                && n.as_bytes()[0].is_ascii_lowercase()
                && n.split('/').next() != Some("builds")
                && n.split('/').all(|seg| {
                    (1..=63).contains(&seg.len())
                        && seg.as_bytes()[0].is_ascii_alphanumeric()
                        && seg.bytes().all(|b| {
                            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                        })
                });
            if !ok {
                problems.push(ctx.platform.diagnostic(
                    spec.name.start,
                    format!("invalid secret name `{n}`: use segments of [a-z0-9_-] (1-63 characters each, starting with a letter or digit, the first with a letter) separated by `/`, 3-200 characters in all"),
                ));
            }
            if names.contains(n) {
                problems.push(
                    ctx.platform
                        .diagnostic(spec.name.start, format!("secret `{n}` is listed twice")),
                );
            }
            names.push(n.clone());
            if spec.generate.is_empty() && spec.supplied.is_empty() {
                problems.push(ctx.platform.diagnostic(
                    spec.name.start,
                    format!("secret `{n}` has no keys: list them under `generate` or `supplied`"),
                ));
            }
            if let Some(l) = &spec.length
                && !(32..=MAX_GENERATED_LEN).contains(&l.value)
            {
                problems.push(ctx.platform.diagnostic(
                    l.start,
                    format!("generated values are 32 to {MAX_GENERATED_LEN} characters long"),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Validated {
            outputs: Some(Vec::new()),
            resources: names,
            resource_outputs: Some(vec!["path".into()]),
            owned: Vec::new(),
        })
    }

    fn observe(&self, ctx: &ComponentCtx<'_>) -> Result<Observation, DriverError> {
        let s: SecretsSettings = settings_at_apply(ctx)?;
        let mut present = 0;
        let mut drift = Vec::new();
        let paths = s
            .secrets
            .iter()
            .map(|spec| Self::path(ctx, &spec.name.value))
            .collect::<Result<Vec<_>, _>>()?;
        let found_all = self.store.get_many(&paths)?;
        let tags = ctx.contract.resource_tags(ctx.name(), true);
        for ((spec, path), found) in s.secrets.iter().zip(&paths).zip(found_all) {
            if let Some(found) = found {
                present += 1;
                let keys = found.json().unwrap_or_default();
                for k in spec.generate.iter().chain(&spec.supplied) {
                    if !keys.contains_key(k) {
                        drift.push(format!("{path} lacks key `{k}`"));
                    }
                }
                // Its value against the digest of the value it had when
                // goldenpath last applied it (never the value itself).
                if let Some(recorded) = ctx
                    .last
                    .and_then(|l| l.resources.get(&spec.name.value))
                    .and_then(|r| r.get(VALUE_DIGEST))
                    .and_then(|d| d.as_str())
                    && value_changed(recorded, &found.value)
                {
                    drift.push(format!(
                        "{path}: its value changed since goldenpath applied it (compared by digest)"
                    ));
                }
                // Its resource policy against the one it had then.
                if let Some(recorded) = ctx
                    .last
                    .and_then(|l| l.resources.get(&spec.name.value))
                    .and_then(|r| r.get(POLICY_DIGEST))
                    .and_then(|d| d.as_str())
                {
                    let now = self.store.resource_policy(path)?;
                    if policy_digest(now.as_deref()) != recorded {
                        drift.push(match (recorded, now) {
                            ("none", Some(_)) => format!("{path}: a resource policy was added"),
                            (_, None) => format!("{path}: its resource policy was removed"),
                            _ => format!("{path}: its resource policy changed"),
                        });
                    }
                }
                // goldenpath's tags on a secret this deployment created.
                if created(ctx, path) {
                    drift.extend(
                        tag_drift(&found.tags, &tags)
                            .into_iter()
                            .map(|d| format!("{path}: {d}")),
                    );
                }
            }
        }
        Ok(Observation {
            presence: match present {
                0 => Presence::Absent,
                n if n == s.secrets.len() => Presence::Present,
                _ => Presence::Partial,
            },
            drift,
            outputs: None,
            counts: None,
        })
    }

    fn apply(&self, ctx: &ComponentCtx<'_>) -> Result<Applied, DriverError> {
        let s: SecretsSettings = settings_at_apply(ctx)?;
        let mut outputs = ComponentOutputs::default();
        let mut counts = Counts::default();
        let tags = ctx.contract.resource_tags(ctx.name(), true);
        let paths = s
            .secrets
            .iter()
            .map(|spec| Self::path(ctx, &spec.name.value))
            .collect::<Result<Vec<_>, _>>()?;
        let existing_all = self.store.get_many(&paths)?;
        for ((spec, path), existing) in s.secrets.iter().zip(paths).zip(existing_all) {
            let name = &spec.name.value;
            let mut keys = existing
                .as_ref()
                .and_then(StoredSecret::json)
                .unwrap_or_default();
            let missing_supplied: Vec<&String> = spec
                .supplied
                .iter()
                .filter(|k| !keys.contains_key(*k))
                .collect();
            if !missing_supplied.is_empty() {
                return Err(DriverError::configuration(format!(
                    "secret {path} needs {} supplied by a person",
                    missing_supplied
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .with_hint(format!(
                    "goldenpath secret put {path} < file.json   (a JSON object with those keys)"
                )));
            }
            let missing_generated: Vec<&String> = spec
                .generate
                .iter()
                .filter(|k| !keys.contains_key(*k))
                .collect();
            let resource = ResourceRef::new("secret", &path);
            let ours = ours(ctx, name);
            // goldenpath's tags changed or removed by hand: put back.
            let retag = existing.as_ref().is_some_and(|e| {
                ours && created(ctx, &path) && !tag_drift(&e.tags, &tags).is_empty()
            });
            let action = match (&existing, ours) {
                (None, _) => Some(Action::Create),
                (Some(_), false) => Some(Action::Adopt),
                (Some(_), true) if !missing_generated.is_empty() || retag => Some(Action::Update),
                (Some(_), true) => None,
            };
            // The value as goldenpath leaves it: what it finds, or what it
            // writes below.
            let mut held = existing.as_ref().map(|e| e.value.clone());
            if let Some(action) = action {
                let generated = !missing_generated.is_empty();
                let id = ctx.recorder.before(action, &resource)?;
                if !missing_generated.is_empty() {
                    let len = spec.length.as_ref().map(|l| l.value).unwrap_or(40).max(32);
                    for k in missing_generated {
                        keys.insert(
                            k.clone(),
                            serde_json::Value::String(generate_password(len)?.expose().to_string()),
                        );
                    }
                    let value = Secret::new(serde_json::Value::Object(keys).to_string());
                    held = Some(value.clone());
                    let written = if action == Action::Create {
                        // Only if it is still absent: one that appeared since
                        // it was read is never written over.
                        self.store.create(&path, &value, &tags)
                    } else {
                        self.store.put(&path, &value, &tags).map(|_| true)
                    };
                    match written {
                        Ok(true) => {}
                        Ok(false) => {
                            let why = format!(
                                "secret {path} appeared while it was being created; nothing was written"
                            );
                            ctx.recorder.failed(&id, &why);
                            return Err(DriverError::retryable(why)
                                .with_hint("run again: it is then adopted, its value kept"));
                        }
                        Err(e) => {
                            ctx.recorder.failed(&id, &e.to_string());
                            return Err(e.into());
                        }
                    }
                }
                if !generated
                    && retag
                    && let Some(e) = &existing
                {
                    // The value as it is; only the tags are written.
                    if let Err(err) = self.store.put(&path, &e.value, &tags) {
                        ctx.recorder.failed(&id, &err.to_string());
                        return Err(err.into());
                    }
                }
                ctx.recorder.after(&id, None)?;
                match action {
                    Action::Create => counts.added += 1,
                    _ => counts.changed += 1,
                }
            }
            let mut recorded = BTreeMap::from([("path".to_string(), serde_json::json!(path))]);
            if let Some(v) = &held {
                // The digest of the last apply while the value is the same
                // (outputs stay as they were), a new one when it changed.
                let last = ctx
                    .last
                    .and_then(|l| l.resources.get(name))
                    .and_then(|r| r.get(VALUE_DIGEST))
                    .and_then(|d| d.as_str())
                    .filter(|d| digest_matches(d, v) == Some(true));
                let digest = match last {
                    Some(d) => d.to_string(),
                    None => value_digest(v)?,
                };
                recorded.insert(VALUE_DIGEST.to_string(), serde_json::json!(digest));
                let policy = self.store.resource_policy(&path)?;
                recorded.insert(
                    POLICY_DIGEST.to_string(),
                    serde_json::json!(policy_digest(policy.as_deref())),
                );
            }
            outputs.resources.insert(name.clone(), recorded);
        }
        Ok(Applied { outputs, counts })
    }

    fn destroy(&self, ctx: &ComponentCtx<'_>, resource: &ResourceRef) -> Result<(), DriverError> {
        check_owned(ctx, resource)?;
        // A per-build secret goes at once; a persistent or foundational one
        // keeps the backend's recovery window.
        if ctx.contract.build_id().is_some() {
            self.store.delete(&resource.id)?;
        } else {
            self.store
                .delete_recoverable(&resource.id, gp_driver::secrets::RECOVERY_WINDOW_DAYS)?;
        }
        Ok(())
    }

    fn noun(&self, _resource: bool) -> &'static str {
        "secret"
    }

    fn resource_kinds(&self) -> &'static [&'static str] {
        &["secret"]
    }

    fn exists(
        &self,
        ctx: &ComponentCtx<'_>,
        resource: &ResourceRef,
    ) -> Result<Existence, DriverError> {
        check_owned(ctx, resource)?;
        Ok(if self.store.exists(&resource.id)? {
            Existence::Exists
        } else {
            Existence::Gone
        })
    }
}

#[cfg(test)]
mod drift_tests {
    use std::collections::BTreeMap;

    #[test]
    fn tag_drift_is_goldenpaths_tags_removed_or_changed_only() {
        let m = |v: &[(&str, &str)]| -> BTreeMap<String, String> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let want = m(&[("BuildId", "b1"), ("Owner", "team")]);
        assert!(super::tag_drift(&want, &want).is_empty());
        // Someone's own tag beside them is theirs.
        assert!(
            super::tag_drift(
                &m(&[("BuildId", "b1"), ("Owner", "team"), ("x", "y")]),
                &want
            )
            .is_empty()
        );
        assert_eq!(
            super::tag_drift(&m(&[("BuildId", "b2")]), &want),
            ["tag `BuildId` is `b2`, not `b1`", "tag `Owner` was removed"]
        );
    }

    #[test]
    fn a_value_digest_tells_a_changed_value_and_never_holds_the_value() {
        use gp_core::Secret;
        let v = Secret::new(r#"{"password":"correct horse battery staple"}"#);
        let d = super::value_digest(&v).unwrap();
        assert!(d.starts_with("sha256:"), "{d}");
        assert!(!d.contains("horse"));
        assert_eq!(super::digest_matches(&d, &v), Some(true));
        assert!(!super::value_changed(&d, &v));
        let other = Secret::new(r#"{"password":"another"}"#);
        assert_eq!(super::digest_matches(&d, &other), Some(false));
        assert!(super::value_changed(&d, &other));
        // Salted: the same value digests differently each time.
        assert_ne!(super::value_digest(&v).unwrap(), d);
        // A digest that cannot be read tells nothing.
        for unreadable in ["", "sha256:", "sha256::abc", "md5:aa:bb", "sha256:aa:short"] {
            assert_eq!(super::digest_matches(unreadable, &v), None, "{unreadable}");
            assert!(!super::value_changed(unreadable, &v), "{unreadable}");
        }
    }

    #[test]
    fn a_policy_digest_is_none_without_one_and_tells_any_change_of_the_text() {
        assert_eq!(super::policy_digest(None), "none");
        let a = super::policy_digest(Some(r#"{"Version":"2012-10-17"}"#));
        assert!(
            a.starts_with("sha256:") && a.len() == "sha256:".len() + 64,
            "{a}"
        );
        assert_eq!(a, super::policy_digest(Some(r#"{"Version":"2012-10-17"}"#)));
        assert_ne!(a, super::policy_digest(Some(r#"{"Version":"2008-10-17"}"#)));
        assert_ne!(super::policy_digest(Some("")), "none");
    }
}
