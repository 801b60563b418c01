//! The resources self-service requests ask for, on AWS: S3 buckets
//! (encryption, versioning, public-access block, a lifecycle rule, access
//! logging, tags), Secrets Manager secrets (tags, a resource policy for the
//! principals; never a value) and ECR repositories (scan on push, tag
//! immutability, a lifecycle policy, tags).
//!
//! Each is read first and only what differs is changed: a second apply
//! changes nothing. What a plan reads tells the engine who owns what is
//! there — the request's tag, goldenpath's own tags — and which changes
//! weaken it; adopting is the engine's decision. An adopted resource keeps
//! its other rules, tags and statements (goldenpath's lifecycle rule has
//! its own id, tags are merged); one whose tag names another request is
//! refused here too, before any change.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use gp_core::request::{Desired, DesiredBucket, DesiredRepository, DesiredSecret};
use gp_driver::DriverError;
use gp_driver::cloud::{CloudApplied, CloudPlan, CloudResources};

use crate::{Aws, describe_error};

/// The tag naming the request a resource was made for.
pub const REQUEST_TAG: &str = "goldenpath:request";

/// The resources of requests, in one region.
pub struct AwsResources {
    aws: Arc<Aws>,
    s3: OnceLock<aws_sdk_s3::Client>,
    sm: OnceLock<aws_sdk_secretsmanager::Client>,
    ecr: OnceLock<aws_sdk_ecr::Client>,
}

impl std::fmt::Debug for AwsResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsResources").finish()
    }
}

/// One change: what it is in words, and how to make it.
struct Change<'a> {
    words: String,
    make: Box<dyn FnOnce() -> Result<(), DriverError> + 'a>,
}

impl AwsResources {
    /// Resources in `region` (`None`: the chain's).
    pub fn new(region: Option<&str>) -> Result<Self, DriverError> {
        Ok(Self {
            aws: Aws::shared(region).map_err(DriverError::configuration)?,
            s3: OnceLock::new(),
            sm: OnceLock::new(),
            ecr: OnceLock::new(),
        })
    }

    fn config(&self) -> Result<&aws_config::SdkConfig, DriverError> {
        self.aws.config().map_err(DriverError::configuration)
    }

    fn s3(&self) -> Result<&aws_sdk_s3::Client, DriverError> {
        if let Some(c) = self.s3.get() {
            return Ok(c);
        }
        let config = self.config()?;
        // A local endpoint (AWS_ENDPOINT_URL) answers path-style only.
        let mut b = aws_sdk_s3::config::Builder::from(config);
        if config.endpoint_url().is_some() {
            b = b.force_path_style(true);
        }
        Ok(self
            .s3
            .get_or_init(|| aws_sdk_s3::Client::from_conf(b.build())))
    }

    fn sm(&self) -> Result<&aws_sdk_secretsmanager::Client, DriverError> {
        let config = self.config()?;
        Ok(self
            .sm
            .get_or_init(|| aws_sdk_secretsmanager::Client::new(config)))
    }

    fn ecr(&self) -> Result<&aws_sdk_ecr::Client, DriverError> {
        let config = self.config()?;
        Ok(self.ecr.get_or_init(|| aws_sdk_ecr::Client::new(config)))
    }

    fn fail<E, R>(&self, what: &str, e: &aws_sdk_s3::error::SdkError<E, R>) -> DriverError
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        DriverError::permanent(format!(
            "AWS ({}): cannot {what}: {}",
            self.aws.region_name(),
            describe_error(e)
        ))
    }

    // ---- S3 ----

    fn bucket_changes<'a>(
        &'a self,
        b: &'a DesiredBucket,
    ) -> Result<(CloudPlan, Vec<Change<'a>>), DriverError> {
        let c = self.s3()?;
        let name = b.name.as_str();
        let exists = match self.aws.block_on(c.head_bucket().bucket(name).send()) {
            Ok(_) => true,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => false,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                return Err(DriverError::refused(format!(
                    "bucket {name} exists and belongs to someone else (S3 names are global): choose another name"
                )));
            }
            Err(e) => return Err(self.fail(&format!("read bucket {name}"), &e)),
        };
        let mut plan = CloudPlan {
            exists,
            ..CloudPlan::default()
        };
        let mut changes: Vec<Change<'a>> = Vec::new();
        if !exists {
            let region = self.aws.region_name();
            changes.push(Change {
                words: format!("create bucket {name}"),
                make: Box::new(move || {
                    let mut req = c.create_bucket().bucket(name);
                    if region != "us-east-1" {
                        req = req.create_bucket_configuration(
                            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                                .location_constraint(
                                    aws_sdk_s3::types::BucketLocationConstraint::from(
                                        region.as_str(),
                                    ),
                                )
                                .build(),
                        );
                    }
                    self.aws
                        .block_on(req.send())
                        .map(|_| ())
                        .map_err(|e| self.fail(&format!("create bucket {name}"), &e))
                }),
            });
        }
        // Tags: ours merged into what is there.
        let mut current_tags: BTreeMap<String, String> = BTreeMap::new();
        if exists {
            match self
                .aws
                .block_on(c.get_bucket_tagging().bucket(name).send())
            {
                Ok(t) => {
                    for tag in t.tag_set() {
                        current_tags.insert(tag.key().to_string(), tag.value().to_string());
                    }
                }
                Err(e)
                    if e.as_service_error()
                        .and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::code(s))
                        == Some("NoSuchTagSet") => {}
                Err(e) => return Err(self.fail(&format!("read the tags of {name}"), &e)),
            }
        }
        plan.tagged_request = current_tags.get(REQUEST_TAG).cloned();
        plan.goldenpath_tags = gp_driver::cloud::goldenpath_tags(&current_tags);
        // Encryption.
        let (want_alg, want_key) = match &b.kms_key {
            Some(k) => ("aws:kms", Some(k.clone())),
            None => ("AES256", None),
        };
        let have = if exists {
            match self
                .aws
                .block_on(c.get_bucket_encryption().bucket(name).send())
            {
                Ok(enc) => enc
                    .server_side_encryption_configuration()
                    .and_then(|cfg| cfg.rules().first())
                    .and_then(|r| r.apply_server_side_encryption_by_default())
                    .map(|d| {
                        (
                            d.sse_algorithm().as_str().to_string(),
                            d.kms_master_key_id().map(str::to_string),
                        )
                    }),
                Err(_) => None,
            }
        } else {
            None
        };
        if have.as_ref().map(|(a, k)| (a.as_str(), k.clone())) != Some((want_alg, want_key.clone()))
        {
            let key = want_key.clone();
            if have.as_ref().is_some_and(|(a, _)| a == "aws:kms") && key.is_none() {
                plan.weakens.push((
                    "encryption".into(),
                    "from a KMS key to S3-managed keys".into(),
                ));
            }
            changes.push(Change {
                words: match &key {
                    Some(k) => format!("encrypt with the KMS key {k}"),
                    None => "encrypt with S3-managed keys (AES-256)".into(),
                },
                make: Box::new(move || {
                    use aws_sdk_s3::types::{
                        ServerSideEncryption, ServerSideEncryptionByDefault,
                        ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
                    };
                    let mut by_default =
                        ServerSideEncryptionByDefault::builder().sse_algorithm(if key.is_some() {
                            ServerSideEncryption::AwsKms
                        } else {
                            ServerSideEncryption::Aes256
                        });
                    if let Some(k) = &key {
                        by_default = by_default.kms_master_key_id(k);
                    }
                    let rule = ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            by_default
                                .build()
                                .map_err(|e| DriverError::permanent(e.to_string()))?,
                        )
                        .bucket_key_enabled(key.is_some())
                        .build();
                    let cfg = ServerSideEncryptionConfiguration::builder()
                        .rules(rule)
                        .build()
                        .map_err(|e| DriverError::permanent(e.to_string()))?;
                    self.aws
                        .block_on(
                            c.put_bucket_encryption()
                                .bucket(name)
                                .server_side_encryption_configuration(cfg)
                                .send(),
                        )
                        .map(|_| ())
                        .map_err(|e| self.fail(&format!("encrypt {name}"), &e))
                }),
            });
        }
        // Versioning.
        let status = if exists {
            self.aws
                .block_on(c.get_bucket_versioning().bucket(name).send())
                .ok()
                .and_then(|v| v.status().map(|s| s.as_str().to_string()))
        } else {
            None
        };
        let want = if b.versioning {
            Some("Enabled")
        } else if status.is_some() {
            Some("Suspended") // once on, S3 can only suspend it
        } else {
            None
        };
        if let Some(w) = want
            && status.as_deref() != Some(w)
        {
            if status.as_deref() == Some("Enabled") {
                plan.weakens
                    .push(("versioning".into(), "versioning suspended".into()));
            }
            changes.push(Change {
                words: format!("versioning {}", w.to_lowercase()),
                make: Box::new(move || {
                    let cfg = aws_sdk_s3::types::VersioningConfiguration::builder()
                        .status(aws_sdk_s3::types::BucketVersioningStatus::from(w))
                        .build();
                    self.aws
                        .block_on(
                            c.put_bucket_versioning()
                                .bucket(name)
                                .versioning_configuration(cfg)
                                .send(),
                        )
                        .map(|_| ())
                        .map_err(|e| self.fail(&format!("set versioning of {name}"), &e))
                }),
            });
        }
        // Public-access block.
        let block = b.block_public;
        let have_block = if exists {
            self.aws
                .block_on(c.get_public_access_block().bucket(name).send())
                .ok()
                .and_then(|p| p.public_access_block_configuration().cloned())
                .map(|p| {
                    [
                        p.block_public_acls(),
                        p.ignore_public_acls(),
                        p.block_public_policy(),
                        p.restrict_public_buckets(),
                    ]
                })
        } else {
            None
        };
        let want_block = [Some(block); 4];
        if have_block != Some(want_block) && (block || have_block.is_some()) {
            if !block && have_block.is_some_and(|h| h.contains(&Some(true))) {
                plan.weakens.push((
                    "publicAccess".into(),
                    "the public-access blocks turned off".into(),
                ));
            }
            changes.push(Change {
                words: if block {
                    "block all public access".into()
                } else {
                    "allow public access (an approved exception)".into()
                },
                make: Box::new(move || {
                    let cfg = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                        .block_public_acls(block)
                        .ignore_public_acls(block)
                        .block_public_policy(block)
                        .restrict_public_buckets(block)
                        .build();
                    self.aws
                        .block_on(
                            c.put_public_access_block()
                                .bucket(name)
                                .public_access_block_configuration(cfg)
                                .send(),
                        )
                        .map(|_| ())
                        .map_err(|e| {
                            self.fail(&format!("set the public-access block of {name}"), &e)
                        })
                }),
            });
        }
        // Lifecycle: goldenpath's rule, by its id; other rules kept.
        let rule_id = "goldenpath";
        let wants_rule = b.ia_days.is_some() || b.glacier_days.is_some() || b.expire_days.is_some();
        let mut others = Vec::new();
        let mut have_rule: Option<(Option<i32>, Option<i32>, Option<i32>)> = None;
        if exists
            && let Ok(l) = self
                .aws
                .block_on(c.get_bucket_lifecycle_configuration().bucket(name).send())
        {
            for r in l.rules() {
                if r.id() == Some(rule_id) {
                    let mut ia = None;
                    let mut gl = None;
                    for t in r.transitions() {
                        match t.storage_class().map(|s| s.as_str()) {
                            Some("STANDARD_IA") => ia = t.days(),
                            Some("GLACIER") => gl = t.days(),
                            _ => {}
                        }
                    }
                    have_rule = Some((ia, gl, r.expiration().and_then(|e| e.days())));
                } else {
                    others.push(r.clone());
                }
            }
        }
        let days = |d: Option<u32>| d.and_then(|d| i32::try_from(d).ok());
        let want_rule = (days(b.ia_days), days(b.glacier_days), days(b.expire_days));
        if (wants_rule && have_rule != Some(want_rule)) || (!wants_rule && have_rule.is_some()) {
            let (ia, gl, ex) = want_rule;
            let had = have_rule.and_then(|(_, _, e)| e);
            if exists
                && let Some(d) = ex
                && had.is_none_or(|h| d < h)
            {
                plan.weakens
                    .push(("lifecycle".into(), format!("objects expire after {d} days")));
            }
            changes.push(Change {
                words: if wants_rule {
                    format!(
                        "lifecycle rule `{rule_id}`: {}",
                        gp_core::request::bucket::lifecycle_words(
                            b.ia_days,
                            b.glacier_days,
                            b.expire_days
                        )
                    )
                } else {
                    format!("remove lifecycle rule `{rule_id}`")
                },
                make: Box::new(move || {
                    use aws_sdk_s3::types::{
                        BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration,
                        LifecycleRule, LifecycleRuleFilter, Transition, TransitionStorageClass,
                    };
                    let mut rules = others;
                    if wants_rule {
                        let mut rule = LifecycleRule::builder()
                            .id(rule_id)
                            .status(ExpirationStatus::Enabled)
                            .filter(LifecycleRuleFilter::builder().prefix("").build());
                        if let Some(d) = ia {
                            rule = rule.transitions(
                                Transition::builder()
                                    .days(d)
                                    .storage_class(TransitionStorageClass::StandardIa)
                                    .build(),
                            );
                        }
                        if let Some(d) = gl {
                            rule = rule.transitions(
                                Transition::builder()
                                    .days(d)
                                    .storage_class(TransitionStorageClass::Glacier)
                                    .build(),
                            );
                        }
                        if let Some(d) = ex {
                            rule = rule.expiration(LifecycleExpiration::builder().days(d).build());
                        }
                        rules.push(
                            rule.build()
                                .map_err(|e| DriverError::permanent(e.to_string()))?,
                        );
                    }
                    if rules.is_empty() {
                        return self
                            .aws
                            .block_on(c.delete_bucket_lifecycle().bucket(name).send())
                            .map(|_| ())
                            .map_err(|e| {
                                self.fail(&format!("remove the lifecycle of {name}"), &e)
                            });
                    }
                    let cfg = BucketLifecycleConfiguration::builder()
                        .set_rules(Some(rules))
                        .build()
                        .map_err(|e| DriverError::permanent(e.to_string()))?;
                    self.aws
                        .block_on(
                            c.put_bucket_lifecycle_configuration()
                                .bucket(name)
                                .lifecycle_configuration(cfg)
                                .send(),
                        )
                        .map(|_| ())
                        .map_err(|e| self.fail(&format!("set the lifecycle of {name}"), &e))
                }),
            });
        }
        // Access logging.
        let have_log = if exists {
            self.aws
                .block_on(c.get_bucket_logging().bucket(name).send())
                .ok()
                .and_then(|l| l.logging_enabled().map(|e| e.target_bucket().to_string()))
        } else {
            None
        };
        if have_log != b.log_target && !(b.log_target.is_none() && have_log.is_none()) {
            let target = b.log_target.clone();
            changes.push(Change {
                words: match &target {
                    Some(t) => format!("access logs to {t} under {name}/"),
                    None => "stop access logging".into(),
                },
                make: Box::new(move || {
                    use aws_sdk_s3::types::{BucketLoggingStatus, LoggingEnabled};
                    let mut status = BucketLoggingStatus::builder();
                    if let Some(t) = &target {
                        status = status.logging_enabled(
                            LoggingEnabled::builder()
                                .target_bucket(t)
                                .target_prefix(format!("{name}/"))
                                .build()
                                .map_err(|e| DriverError::permanent(e.to_string()))?,
                        );
                    }
                    self.aws
                        .block_on(
                            c.put_bucket_logging()
                                .bucket(name)
                                .bucket_logging_status(status.build())
                                .send(),
                        )
                        .map(|_| ())
                        .map_err(|e| self.fail(&format!("set access logging of {name}"), &e))
                }),
            });
        }
        let mut merged = current_tags.clone();
        merged.extend(b.tags.clone());
        if merged != current_tags {
            let added: Vec<String> = b
                .tags
                .iter()
                .filter(|(k, v)| current_tags.get(*k) != Some(v))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            changes.push(Change {
                words: format!("tags {}", added.join(", ")),
                make: Box::new(move || {
                    let tags: Vec<aws_sdk_s3::types::Tag> = merged
                        .iter()
                        .filter_map(|(k, v)| {
                            aws_sdk_s3::types::Tag::builder()
                                .key(k)
                                .value(v)
                                .build()
                                .ok()
                        })
                        .collect();
                    let tagging = aws_sdk_s3::types::Tagging::builder()
                        .set_tag_set(Some(tags))
                        .build()
                        .map_err(|e| DriverError::permanent(e.to_string()))?;
                    self.aws
                        .block_on(c.put_bucket_tagging().bucket(name).tagging(tagging).send())
                        .map(|_| ())
                        .map_err(|e| self.fail(&format!("tag {name}"), &e))
                }),
            });
        }
        plan.changes = changes.iter().map(|c| c.words.clone()).collect();
        Ok((plan, changes))
    }

    // ---- Secrets Manager ----

    fn secret_policy(s: &DesiredSecret) -> Option<serde_json::Value> {
        let statement = |sid: &str, who: &[String], actions: &[&str]| {
            (!who.is_empty()).then(|| {
                serde_json::json!({
                    "Sid": sid,
                    "Effect": "Allow",
                    "Principal": {"AWS": who},
                    "Action": actions,
                    "Resource": "*",
                })
            })
        };
        let statements: Vec<serde_json::Value> = [
            statement(
                "GoldenpathRead",
                &s.read,
                &[
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:DescribeSecret",
                ],
            ),
            statement(
                "GoldenpathWrite",
                &s.write,
                &[
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:UpdateSecret",
                    "secretsmanager:DescribeSecret",
                ],
            ),
            statement(
                "GoldenpathBreakGlass",
                &s.break_glass,
                &[
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:RestoreSecret",
                ],
            ),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!statements.is_empty())
            .then(|| serde_json::json!({"Version": "2012-10-17", "Statement": statements}))
    }

    fn secret_changes<'a>(
        &'a self,
        s: &'a DesiredSecret,
    ) -> Result<(CloudPlan, Vec<Change<'a>>), DriverError> {
        let c = self.sm()?;
        let name = s.name.as_str();
        let mut tags = s.tags.clone();
        tags.insert(
            "recoveryWindowInDays".into(),
            s.recovery_window_days.to_string(),
        );
        let described = match self
            .aws
            .block_on(c.describe_secret().secret_id(name).send())
        {
            Ok(d) => Some(d),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|x| x.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(e) => return Err(self.fail(&format!("read secret {name}"), &e)),
        };
        let current_tags: BTreeMap<String, String> = described
            .as_ref()
            .map(|d| {
                d.tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let mut plan = CloudPlan {
            exists: described.is_some(),
            tagged_request: current_tags.get(REQUEST_TAG).cloned(),
            goldenpath_tags: gp_driver::cloud::goldenpath_tags(&current_tags),
            ..CloudPlan::default()
        };
        let mut changes: Vec<Change<'a>> = Vec::new();
        let tag_list = |t: &BTreeMap<String, String>| -> Vec<aws_sdk_secretsmanager::types::Tag> {
            t.iter()
                .map(|(k, v)| {
                    aws_sdk_secretsmanager::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                })
                .collect()
        };
        match &described {
            None => {
                let t = tag_list(&tags);
                changes.push(Change {
                    words: format!("create secret {name} (no value: its owners write it)"),
                    make: Box::new(move || {
                        self.aws
                            .block_on(
                                c.create_secret()
                                    .name(name)
                                    .description("made by goldenpath for a secret request; its value is written by its owners")
                                    .set_tags(Some(t))
                                    .send(),
                            )
                            .map(|_| ())
                            .map_err(|e| self.fail(&format!("create secret {name}"), &e))
                    }),
                });
            }
            Some(d) => {
                if d.deleted_date().is_some() {
                    changes.push(Change {
                        words: format!("restore secret {name} (scheduled for deletion)"),
                        make: Box::new(move || {
                            self.aws
                                .block_on(c.restore_secret().secret_id(name).send())
                                .map(|_| ())
                                .map_err(|e| self.fail(&format!("restore {name}"), &e))
                        }),
                    });
                }
                let missing: BTreeMap<String, String> = tags
                    .iter()
                    .filter(|(k, v)| current_tags.get(*k) != Some(v))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if !missing.is_empty() {
                    let words = format!(
                        "tags {}",
                        missing
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    let t = tag_list(&missing);
                    changes.push(Change {
                        words,
                        make: Box::new(move || {
                            self.aws
                                .block_on(c.tag_resource().secret_id(name).set_tags(Some(t)).send())
                                .map(|_| ())
                                .map_err(|e| self.fail(&format!("tag {name}"), &e))
                        }),
                    });
                }
            }
        }
        let want = Self::secret_policy(s);
        let have = if described.is_some() {
            self.aws
                .block_on(c.get_resource_policy().secret_id(name).send())
                .ok()
                .and_then(|p| p.resource_policy().map(str::to_string))
                .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
        } else {
            None
        };
        if let Some(w) = want
            && have.as_ref() != Some(&w)
        {
            let principals = s.read.len() + s.write.len() + s.break_glass.len();
            if described.is_some() {
                let granted =
                    |p: Option<&serde_json::Value>| -> std::collections::BTreeSet<String> {
                        let mut out = std::collections::BTreeSet::new();
                        for st in p
                            .and_then(|p| p["Statement"].as_array())
                            .into_iter()
                            .flatten()
                        {
                            let who = &st["Principal"]["AWS"];
                            let who: Vec<String> = match who {
                                serde_json::Value::String(x) => vec![x.clone()],
                                serde_json::Value::Array(a) => a
                                    .iter()
                                    .filter_map(|x| x.as_str().map(str::to_string))
                                    .collect(),
                                _ => Vec::new(),
                            };
                            let actions = st["Action"].to_string();
                            for x in who {
                                out.insert(format!("{x} {actions}"));
                            }
                        }
                        out
                    };
                let (before, after) = (granted(have.as_ref()), granted(Some(&w)));
                let added: Vec<&String> = after.difference(&before).collect();
                if !added.is_empty() {
                    plan.weakens.push((
                        "resourcePolicy".into(),
                        format!("the resource policy grants {} more", added.len()),
                    ));
                }
            }
            changes.push(Change {
                words: format!("resource policy for {principals} principals (read {}, write {}, break-glass {})", s.read.len(), s.write.len(), s.break_glass.len()),
                make: Box::new(move || {
                    self.aws
                        .block_on(
                            c.put_resource_policy()
                                .secret_id(name)
                                .resource_policy(w.to_string())
                                .block_public_policy(true)
                                .send(),
                        )
                        .map(|_| ())
                        .map_err(|e| self.fail(&format!("set the resource policy of {name}"), &e))
                }),
            });
        }
        plan.changes = changes.iter().map(|c| c.words.clone()).collect();
        Ok((plan, changes))
    }

    // ---- ECR ----

    fn lifecycle_policy(keep: u32) -> serde_json::Value {
        serde_json::json!({"rules": [{
            "rulePriority": 1,
            "description": format!("goldenpath: keep the last {keep} images"),
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
            "action": {"type": "expire"},
        }]})
    }

    fn repository_changes<'a>(
        &'a self,
        r: &'a DesiredRepository,
    ) -> Result<(CloudPlan, Vec<Change<'a>>), DriverError> {
        use aws_sdk_ecr::types::{ImageScanningConfiguration, ImageTagMutability};
        let c = self.ecr()?;
        let name = r.name.as_str();
        let found = match self
            .aws
            .block_on(c.describe_repositories().repository_names(name).send())
        {
            Ok(d) => d.repositories().first().cloned(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|x| x.is_repository_not_found_exception()) =>
            {
                None
            }
            Err(e) => return Err(self.fail(&format!("read repository {name}"), &e)),
        };
        let mutability = if r.immutable {
            ImageTagMutability::Immutable
        } else {
            ImageTagMutability::Mutable
        };
        let mut changes: Vec<Change<'a>> = Vec::new();
        let mut current_tags = BTreeMap::new();
        let mut plan = CloudPlan {
            exists: found.is_some(),
            ..CloudPlan::default()
        };
        match &found {
            None => {
                let tags: Vec<aws_sdk_ecr::types::Tag> = r
                    .tags
                    .iter()
                    .filter_map(|(k, v)| {
                        aws_sdk_ecr::types::Tag::builder()
                            .key(k)
                            .value(v)
                            .build()
                            .ok()
                    })
                    .collect();
                let m = mutability.clone();
                changes.push(Change {
                    words: format!(
                        "create repository {name} (scan on push {}, tags {})",
                        if r.scan_on_push { "on" } else { "off" },
                        if r.immutable { "immutable" } else { "mutable" }
                    ),
                    make: Box::new(move || {
                        self.aws
                            .block_on(
                                c.create_repository()
                                    .repository_name(name)
                                    .image_scanning_configuration(
                                        ImageScanningConfiguration::builder()
                                            .scan_on_push(r.scan_on_push)
                                            .build(),
                                    )
                                    .image_tag_mutability(m)
                                    .set_tags(Some(tags))
                                    .send(),
                            )
                            .map(|_| ())
                            .map_err(|e| self.fail(&format!("create repository {name}"), &e))
                    }),
                });
            }
            Some(repo) => {
                let arn = repo.repository_arn().unwrap_or_default().to_string();
                if let Ok(t) = self
                    .aws
                    .block_on(c.list_tags_for_resource().resource_arn(&arn).send())
                {
                    for tag in t.tags() {
                        current_tags.insert(tag.key().to_string(), tag.value().to_string());
                    }
                }
                plan.tagged_request = current_tags.get(REQUEST_TAG).cloned();
                plan.goldenpath_tags = gp_driver::cloud::goldenpath_tags(&current_tags);
                let scan = repo
                    .image_scanning_configuration()
                    .is_some_and(|s| s.scan_on_push());
                if scan != r.scan_on_push {
                    if scan {
                        plan.weakens
                            .push(("scanOnPush".into(), "scan on push turned off".into()));
                    }
                    changes.push(Change {
                        words: format!(
                            "scan on push {}",
                            if r.scan_on_push { "on" } else { "off" }
                        ),
                        make: Box::new(move || {
                            self.aws
                                .block_on(
                                    c.put_image_scanning_configuration()
                                        .repository_name(name)
                                        .image_scanning_configuration(
                                            ImageScanningConfiguration::builder()
                                                .scan_on_push(r.scan_on_push)
                                                .build(),
                                        )
                                        .send(),
                                )
                                .map(|_| ())
                                .map_err(|e| self.fail(&format!("set scanning of {name}"), &e))
                        }),
                    });
                }
                if repo.image_tag_mutability() != Some(&mutability) {
                    if !r.immutable {
                        plan.weakens
                            .push(("tagImmutability".into(), "tags made mutable".into()));
                    }
                    let m = mutability.clone();
                    changes.push(Change {
                        words: format!(
                            "tags {}",
                            if r.immutable { "immutable" } else { "mutable" }
                        ),
                        make: Box::new(move || {
                            self.aws
                                .block_on(
                                    c.put_image_tag_mutability()
                                        .repository_name(name)
                                        .image_tag_mutability(m)
                                        .send(),
                                )
                                .map(|_| ())
                                .map_err(|e| {
                                    self.fail(&format!("set tag mutability of {name}"), &e)
                                })
                        }),
                    });
                }
                let missing: Vec<aws_sdk_ecr::types::Tag> = r
                    .tags
                    .iter()
                    .filter(|(k, v)| current_tags.get(*k) != Some(v))
                    .filter_map(|(k, v)| {
                        aws_sdk_ecr::types::Tag::builder()
                            .key(k)
                            .value(v)
                            .build()
                            .ok()
                    })
                    .collect();
                if !missing.is_empty() {
                    let words = format!(
                        "tags {}",
                        missing
                            .iter()
                            .map(|t| format!("{}={}", t.key(), t.value()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    changes.push(Change {
                        words,
                        make: Box::new(move || {
                            self.aws
                                .block_on(
                                    c.tag_resource()
                                        .resource_arn(arn)
                                        .set_tags(Some(missing))
                                        .send(),
                                )
                                .map(|_| ())
                                .map_err(|e| self.fail(&format!("tag {name}"), &e))
                        }),
                    });
                }
            }
        }
        let want = Self::lifecycle_policy(r.keep_last);
        let have = if found.is_some() {
            self.aws
                .block_on(c.get_lifecycle_policy().repository_name(name).send())
                .ok()
                .and_then(|p| p.lifecycle_policy_text().map(str::to_string))
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        } else {
            None
        };
        if have.as_ref() != Some(&want) {
            // The images the policy there keeps (none: it keeps every one).
            let kept = have.as_ref().and_then(|h| {
                h["rules"]
                    .as_array()?
                    .iter()
                    .filter(|x| x["selection"]["countType"] == "imageCountMoreThan")
                    .filter_map(|x| x["selection"]["countNumber"].as_u64())
                    .min()
            });
            if found.is_some() && kept.is_none_or(|k| u64::from(r.keep_last) < k) {
                plan.weakens.push((
                    "lifecycle".into(),
                    format!("images beyond the last {} expire", r.keep_last),
                ));
            }
            changes.push(Change {
                words: format!("lifecycle policy: keep the last {} images", r.keep_last),
                make: Box::new(move || {
                    self.aws
                        .block_on(
                            c.put_lifecycle_policy()
                                .repository_name(name)
                                .lifecycle_policy_text(want.to_string())
                                .send(),
                        )
                        .map(|_| ())
                        .map_err(|e| self.fail(&format!("set the lifecycle policy of {name}"), &e))
                }),
            });
        }
        plan.changes = changes.iter().map(|c| c.words.clone()).collect();
        Ok((plan, changes))
    }

    fn changes<'a>(&'a self, d: &'a Desired) -> Result<(CloudPlan, Vec<Change<'a>>), DriverError> {
        match d {
            Desired::Bucket(b) => self.bucket_changes(b),
            Desired::Secret(s) => self.secret_changes(s),
            Desired::Repository(r) => self.repository_changes(r),
            Desired::Database(_) => Err(DriverError::configuration(
                "a database request goes to the foundational instance, not the cloud",
            )),
        }
    }

    fn arn(&self, d: &Desired) -> String {
        match d {
            Desired::Bucket(b) => format!("arn:aws:s3:::{}", b.name),
            Desired::Secret(s) => self
                .sm()
                .ok()
                .and_then(|c| {
                    self.aws
                        .block_on(c.describe_secret().secret_id(&s.name).send())
                        .ok()
                })
                .and_then(|d| d.arn().map(str::to_string))
                .unwrap_or_else(|| s.name.clone()),
            Desired::Repository(r) => self
                .ecr()
                .ok()
                .and_then(|c| {
                    self.aws
                        .block_on(c.describe_repositories().repository_names(&r.name).send())
                        .ok()
                })
                .and_then(|d| {
                    d.repositories()
                        .first()
                        .and_then(|x| x.repository_arn().map(str::to_string))
                })
                .unwrap_or_else(|| r.name.clone()),
            Desired::Database(d) => d.database.clone(),
        }
    }
}

impl CloudResources for AwsResources {
    fn plan(&self, desired: &Desired) -> Result<CloudPlan, DriverError> {
        self.changes(desired).map(|(p, _)| p)
    }

    fn apply(
        &self,
        desired: &Desired,
        request: &str,
        step: &mut dyn FnMut(&str, bool),
    ) -> Result<CloudApplied, DriverError> {
        let (plan, changes) = self.changes(desired)?;
        if let Some(other) = &plan.tagged_request
            && other != request
        {
            return Err(DriverError::refused(format!(
                "it exists and request {other} made it; a request may only adopt what no one else owns"
            )));
        }
        let mut done = Vec::new();
        for ch in changes {
            step(&ch.words, false);
            (ch.make)()?;
            step(&ch.words, true);
            done.push(ch.words);
        }
        Ok(CloudApplied {
            arn: self.arn(desired),
            created: !plan.exists,
            changes: done,
        })
    }
}
