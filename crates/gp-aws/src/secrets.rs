//! The `aws` secrets backend: AWS Secrets Manager.
//!
//! A path is a secret's name (`goldenpath/dev/keycloak/postgres`). `put`
//! creates the secret with its tags (and the KMS key, when one is given),
//! or, when it exists, writes a new version and sets the tags; a secret
//! scheduled for deletion is restored first. `delete` removes it without a
//! recovery window (per-build secrets); [`SecretStore::delete_recoverable`]
//! keeps the window (foundational ones, break-glass only).

use gp_core::iam::{Access, Grant};
use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use gp_core::Secret;
use gp_driver::secrets::{SecretMeta, SecretStore, SecretsError, StoredSecret, check_path};

use crate::{Aws, describe_error, micros};

/// Secrets in AWS Secrets Manager.
pub struct SecretsManagerStore {
    aws: Arc<Aws>,
    kms_key_id: Option<String>,
    client: std::sync::OnceLock<Client>,
}

impl SecretsManagerStore {
    /// A store in `region` (`None`: the chain's), encrypting new secrets
    /// with `kms_key_id` (`None`: the account's default key).
    pub fn new(region: Option<&str>, kms_key_id: Option<String>) -> Result<Self, SecretsError> {
        Ok(Self {
            aws: Aws::shared(region).map_err(SecretsError::Unavailable)?,
            kms_key_id,
            client: std::sync::OnceLock::new(),
        })
    }

    fn client(&self) -> Result<&Client, SecretsError> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let config = self
            .aws
            .config()
            .map_err(|e| SecretsError::Unavailable(format!("AWS Secrets Manager: {e}")))?;
        Ok(self.client.get_or_init(|| Client::new(config)))
    }

    fn fail(&self, what: &str, path: &str, why: String) -> SecretsError {
        SecretsError::Unavailable(format!(
            "AWS Secrets Manager ({}): cannot {what} {path}: {why}",
            self.aws.region_name()
        ))
    }

    fn tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
        tags.iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    }
}

impl SecretStore for SecretsManagerStore {
    fn resource_policy(&self, path: &str) -> Result<Option<String>, SecretsError> {
        check_path(path)?;
        let c = self.client()?;
        match self
            .aws
            .block_on(c.get_resource_policy().secret_id(path).send())
        {
            Ok(p) => Ok(p
                .resource_policy()
                .filter(|p| !p.trim().is_empty())
                .map(str::to_string)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.fail("read the resource policy of", path, describe_error(&e))),
        }
    }

    fn exists(&self, path: &str) -> Result<bool, SecretsError> {
        check_path(path)?;
        let c = self.client()?;
        match self
            .aws
            .block_on(c.describe_secret().secret_id(path).send())
        {
            // Scheduled for deletion: gone.
            Ok(d) => Ok(d.deleted_date().is_none()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.fail("read", path, describe_error(&e))),
        }
    }

    fn get(&self, path: &str) -> Result<Option<StoredSecret>, SecretsError> {
        check_path(path)?;
        let c = self.client()?;
        let described = match self
            .aws
            .block_on(c.describe_secret().secret_id(path).send())
        {
            Ok(d) => d,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(self.fail("read", path, describe_error(&e))),
        };
        if described.deleted_date().is_some() {
            // Scheduled for deletion: gone, as far as readers go (`put`
            // restores it).
            return Ok(None);
        }
        let value = match self
            .aws
            .block_on(c.get_secret_value().secret_id(path).send())
        {
            Ok(v) => v,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(self.fail("read", path, describe_error(&e))),
        };
        let Some(text) = value.secret_string() else {
            return Err(self.fail("read", path, "it holds binary data, not a string".into()));
        };
        Ok(Some(StoredSecret {
            value: Secret::new(text),
            tags: described
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect(),
            created_us: micros(described.created_date()),
            updated_us: micros(described.last_changed_date().or(described.created_date())),
        }))
    }

    fn get_many(&self, paths: &[String]) -> Result<Vec<Option<StoredSecret>>, SecretsError> {
        if paths.len() < 3 {
            return paths.iter().map(|p| self.get(p)).collect();
        }
        // One listing of the paths' common folder says which exist; only
        // those are read (each read is consistent, the listing is not: a
        // secret it misses is created with `create`, which refuses to write
        // over one that exists).
        let first = &paths[0];
        let mut common = first.len();
        for p in &paths[1..] {
            common = common.min(
                first
                    .bytes()
                    .zip(p.bytes())
                    .take_while(|(a, b)| a == b)
                    .count(),
            );
        }
        let prefix = match first[..common].rfind('/') {
            Some(i) => &first[..=i],
            None => return paths.iter().map(|p| self.get(p)).collect(),
        };
        let listed: std::collections::BTreeSet<String> = self
            .list(Some(prefix))?
            .into_iter()
            .map(|m| m.path)
            .collect();
        paths
            .iter()
            .map(|p| {
                if listed.contains(p) {
                    self.get(p)
                } else {
                    check_path(p).map(|_| None)
                }
            })
            .collect()
    }

    fn create(
        &self,
        path: &str,
        value: &Secret,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool, SecretsError> {
        check_path(path)?;
        let c = self.client()?;
        let created = self.aws.block_on(
            c.create_secret()
                .name(path)
                .secret_string(value.expose())
                .set_tags(Some(Self::tags(tags)))
                .set_kms_key_id(self.kms_key_id.clone())
                .description("managed by goldenpath")
                .send(),
        );
        match created {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                Ok(false)
            }
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_invalid_request_exception()
                        && aws_sdk_secretsmanager::error::ProvideErrorMetadata::message(s)
                            .is_some_and(|m| m.contains("deletion"))
                }) =>
            {
                // Scheduled for deletion: gone for readers, so created anew
                // (restored, then given this value and these tags).
                self.put(path, value, tags).map(|_| true)
            }
            Err(e) => Err(self.fail("create", path, describe_error(&e))),
        }
    }

    fn put(
        &self,
        path: &str,
        value: &Secret,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool, SecretsError> {
        check_path(path)?;
        let c = self.client()?;
        let created = self.aws.block_on(
            c.create_secret()
                .name(path)
                .secret_string(value.expose())
                .set_tags(Some(Self::tags(tags)))
                .set_kms_key_id(self.kms_key_id.clone())
                .description("managed by goldenpath")
                .send(),
        );
        match created {
            Ok(_) => return Ok(true),
            Err(e) => {
                let exists = e
                    .as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception());
                let scheduled = e.as_service_error().is_some_and(|s| {
                    s.is_invalid_request_exception()
                        && aws_sdk_secretsmanager::error::ProvideErrorMetadata::message(s)
                            .is_some_and(|m| m.contains("deletion"))
                });
                if scheduled {
                    self.aws
                        .block_on(c.restore_secret().secret_id(path).send())
                        .map_err(|e| self.fail("restore", path, describe_error(&e)))?;
                } else if !exists {
                    return Err(self.fail("create", path, describe_error(&e)));
                }
            }
        }
        self.aws
            .block_on(
                c.put_secret_value()
                    .secret_id(path)
                    .secret_string(value.expose())
                    .send(),
            )
            .map_err(|e| self.fail("write", path, describe_error(&e)))?;
        if !tags.is_empty() {
            self.aws
                .block_on(
                    c.tag_resource()
                        .secret_id(path)
                        .set_tags(Some(Self::tags(tags)))
                        .send(),
                )
                .map_err(|e| self.fail("tag", path, describe_error(&e)))?;
        }
        Ok(false)
    }

    fn delete(&self, path: &str) -> Result<bool, SecretsError> {
        check_path(path)?;
        let c = self.client()?;
        match self.aws.block_on(
            c.delete_secret()
                .secret_id(path)
                .force_delete_without_recovery(true)
                .send(),
        ) {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.fail("delete", path, describe_error(&e))),
        }
    }

    fn delete_recoverable(&self, path: &str, window_days: u32) -> Result<bool, SecretsError> {
        check_path(path)?;
        let c = self.client()?;
        match self.aws.block_on(
            c.delete_secret()
                .secret_id(path)
                .recovery_window_in_days(i64::from(window_days.clamp(7, 30)))
                .send(),
        ) {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.fail("delete", path, describe_error(&e))),
        }
    }

    fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretMeta>, SecretsError> {
        let c = self.client()?;
        let mut req = c.list_secrets().max_results(100);
        if let Some(p) = prefix.filter(|p| !p.is_empty()) {
            req = req.filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(p)
                    .build(),
            );
        }
        let mut pages = req.into_paginator().send();
        let mut out = Vec::new();
        loop {
            let page = match self.aws.block_on(pages.next()) {
                None => break,
                Some(Ok(p)) => p,
                Some(Err(e)) => {
                    return Err(self.fail("list", prefix.unwrap_or("secrets"), describe_error(&e)));
                }
            };
            for s in page.secret_list() {
                let Some(name) = s.name() else { continue };
                // The name filter matches words anywhere; keep true prefixes.
                if prefix.is_some_and(|p| !name.starts_with(p)) || s.deleted_date().is_some() {
                    continue;
                }
                out.push(SecretMeta {
                    path: name.to_string(),
                    tags: s
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                        .collect(),
                    created_us: micros(s.created_date()),
                    updated_us: micros(s.last_changed_date().or(s.created_date())),
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn permissions(&self, paths: &[String], access: Access) -> Vec<Grant> {
        use crate::iam::{actions, grant, secret_arn};
        let region = self.aws.region.as_deref();
        let arns: Vec<String> = paths.iter().map(|p| secret_arn(region, p)).collect();
        let mut out: Vec<Grant> = grant(
            "SecretsManagerSecrets",
            "secrets.rs",
            access,
            "secretsmanager",
            arns,
        )
        .into_iter()
        .collect();
        if access == Access::Read {
            // Listing names no secret.
            out.push(Grant::unscoped(
                "SecretsManagerList",
                actions("secrets.rs", Access::Read, "secretsmanager")
                    .into_iter()
                    .filter(|a| *a == "secretsmanager:ListSecrets"),
            ));
            if let Some(g) = out.first_mut() {
                g.actions.remove("secretsmanager:ListSecrets");
            }
        }
        // Secrets Manager encrypts and decrypts with the store's key as
        // the caller.
        if let Some(key) = &self.kms_key_id {
            let (sid, resource) = if key.starts_with("arn:") && !key.contains(":alias/") {
                ("SecretsManagerKmsKey", key.clone())
            } else if key.starts_with("alias/") || key.contains(":alias/") {
                // IAM scopes a key by its ARN; an alias names none.
                (
                    "SecretsManagerKmsKeyNamedByAliasNotScopable",
                    crate::iam::arn("kms", region, "key/*"),
                )
            } else {
                (
                    "SecretsManagerKmsKey",
                    crate::iam::arn("kms", region, &format!("key/{key}")),
                )
            };
            let kms: &[&str] = match access {
                Access::Read => &["kms:Decrypt"],
                Access::Write => &["kms:Decrypt", "kms:GenerateDataKey"],
                Access::Delete => &[],
            };
            if !kms.is_empty() {
                out.push(Grant::new(sid, kms.iter().copied(), [resource]));
            }
        }
        out
    }

    fn describe(&self) -> String {
        format!("AWS Secrets Manager in {}", self.aws.region_name())
    }
}
