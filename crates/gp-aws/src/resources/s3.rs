//! S3 buckets: read, and only what differs changed.

use std::collections::BTreeMap;

use gp_core::request::DesiredBucket;
use gp_driver::DriverError;
use gp_driver::cloud::CloudPlan;

use super::{AwsResources, Change, REQUEST_TAG};

impl AwsResources {
    pub(super) fn bucket_changes<'a>(
        &'a self,
        b: &'a DesiredBucket,
    ) -> Result<(CloudPlan, Vec<Change<'a>>), DriverError> {
        let c = self.s3()?;
        let name = b.name.as_str();
        let exists = match self.aws.block_on(c.head_bucket().bucket(name).send()) {
            Ok(_) => true,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => false,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                // S3 answers a bucket of another account and a bucket these
                // credentials may not list alike.
                return Err(DriverError::refused(format!(
                    "bucket {name} cannot be read (403): it belongs to someone else (S3 names are global: choose another name), or the credentials lack `s3:ListBucket` on it (see `goldenpath iam policy`)"
                )));
            }
            Err(e) => return Err(self.fail(&format!("read bucket {name}"), &e)),
        };
        let plan = CloudPlan {
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
        let mut work = BucketWork {
            res: self,
            c,
            b,
            name,
            exists,
            plan,
            changes,
            current_tags: BTreeMap::new(),
        };
        work.tags()?;
        work.encryption()?;
        work.versioning()?;
        work.public_access()?;
        work.lifecycle()?;
        work.logging()?;
        work.tag_change()?;
        let BucketWork {
            mut plan, changes, ..
        } = work;
        plan.changes = changes.iter().map(|c| c.words.clone()).collect();
        Ok((plan, changes))
    }
}

/// A bucket being planned: what is read of it and the changes it needs,
/// one aspect at a time.
struct BucketWork<'a> {
    res: &'a AwsResources,
    c: &'a aws_sdk_s3::Client,
    b: &'a DesiredBucket,
    name: &'a str,
    exists: bool,
    plan: CloudPlan,
    changes: Vec<Change<'a>>,
    current_tags: BTreeMap<String, String>,
}

impl<'a> BucketWork<'a> {
    /// The tags there: who made it (the request's tag, goldenpath's own).
    fn tags(&mut self) -> Result<(), DriverError> {
        let (res, c, name, exists) = (self.res, self.c, self.name, self.exists);
        // Tags: ours merged into what is there.
        if exists {
            match res.aws.block_on(c.get_bucket_tagging().bucket(name).send()) {
                Ok(t) => {
                    for tag in t.tag_set() {
                        self.current_tags
                            .insert(tag.key().to_string(), tag.value().to_string());
                    }
                }
                Err(e)
                    if e.as_service_error()
                        .and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::code(s))
                        == Some("NoSuchTagSet") => {}
                Err(e) => return Err(res.fail(&format!("read the tags of {name}"), &e)),
            }
        }
        self.plan.tagged_request = self.current_tags.get(REQUEST_TAG).cloned();
        self.plan.goldenpath_tags = gp_driver::cloud::goldenpath_tags(&self.current_tags);
        Ok(())
    }

    /// Encryption: S3-managed keys, or the request's KMS key.
    fn encryption(&mut self) -> Result<(), DriverError> {
        let (res, c, b, name, exists) = (self.res, self.c, self.b, self.name, self.exists);
        // Encryption.
        let (want_alg, want_key) = match &b.kms_key {
            Some(k) => ("aws:kms", Some(k.clone())),
            None => ("AES256", None),
        };
        let have = if exists {
            match res.read_or_absent(
                &format!("read the encryption of {name}"),
                res.aws
                    .block_on(c.get_bucket_encryption().bucket(name).send()),
                &["ServerSideEncryptionConfigurationNotFoundError"],
            )? {
                Some(enc) => enc
                    .server_side_encryption_configuration()
                    .and_then(|cfg| cfg.rules().first())
                    .and_then(|r| r.apply_server_side_encryption_by_default())
                    .map(|d| {
                        (
                            d.sse_algorithm().as_str().to_string(),
                            d.kms_master_key_id().map(str::to_string),
                        )
                    }),
                None => None,
            }
        } else {
            None
        };
        if have.as_ref().map(|(a, k)| (a.as_str(), k.clone())) != Some((want_alg, want_key.clone()))
        {
            let key = want_key.clone();
            if have.as_ref().is_some_and(|(a, _)| a == "aws:kms") && key.is_none() {
                self.plan.weakens.push((
                    "encryption".into(),
                    "from a KMS key to S3-managed keys".into(),
                ));
            }
            self.changes.push(Change {
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
                    res.aws
                        .block_on(
                            c.put_bucket_encryption()
                                .bucket(name)
                                .server_side_encryption_configuration(cfg)
                                .send(),
                        )
                        .map(|_| ())
                        .map_err(|e| res.fail(&format!("encrypt {name}"), &e))
                }),
            });
        }
        Ok(())
    }

    /// Versioning: enabled, or suspended once it was on (S3 cannot turn it off).
    fn versioning(&mut self) -> Result<(), DriverError> {
        let (res, c, b, name, exists) = (self.res, self.c, self.b, self.name, self.exists);
        // Versioning.
        let status = if exists {
            res.read_or_absent(
                &format!("read the versioning of {name}"),
                res.aws
                    .block_on(c.get_bucket_versioning().bucket(name).send()),
                &[],
            )?
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
                self.plan
                    .weakens
                    .push(("versioning".into(), "versioning suspended".into()));
            }
            self.changes.push(Change {
                words: format!("versioning {}", w.to_lowercase()),
                make: Box::new(move || {
                    let cfg = aws_sdk_s3::types::VersioningConfiguration::builder()
                        .status(aws_sdk_s3::types::BucketVersioningStatus::from(w))
                        .build();
                    res.aws
                        .block_on(
                            c.put_bucket_versioning()
                                .bucket(name)
                                .versioning_configuration(cfg)
                                .send(),
                        )
                        .map(|_| ())
                        .map_err(|e| res.fail(&format!("set versioning of {name}"), &e))
                }),
            });
        }
        Ok(())
    }

    /// The public-access block: all four on, or off as an approved exception.
    fn public_access(&mut self) -> Result<(), DriverError> {
        let (res, c, b, name, exists) = (self.res, self.c, self.b, self.name, self.exists);
        // Public-access block.
        let block = b.block_public;
        let have_block = if exists {
            res.read_or_absent(
                &format!("read the public access block of {name}"),
                res.aws
                    .block_on(c.get_public_access_block().bucket(name).send()),
                &["NoSuchPublicAccessBlockConfiguration"],
            )?
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
                self.plan.weakens.push((
                    "publicAccess".into(),
                    "the public-access blocks turned off".into(),
                ));
            }
            self.changes.push(Change {
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
                    res.aws
                        .block_on(
                            c.put_public_access_block()
                                .bucket(name)
                                .public_access_block_configuration(cfg)
                                .send(),
                        )
                        .map(|_| ())
                        .map_err(|e| {
                            res.fail(&format!("set the public-access block of {name}"), &e)
                        })
                }),
            });
        }
        Ok(())
    }

    /// goldenpath's lifecycle rule, by its id; other rules are kept.
    fn lifecycle(&mut self) -> Result<(), DriverError> {
        let (res, c, b, name, exists) = (self.res, self.c, self.b, self.name, self.exists);
        // Lifecycle: goldenpath's rule, by its id; other rules kept.
        let rule_id = "goldenpath";
        let wants_rule = b.ia_days.is_some() || b.glacier_days.is_some() || b.expire_days.is_some();
        let mut others = Vec::new();
        let mut have_rule: Option<(Option<i32>, Option<i32>, Option<i32>)> = None;
        if exists
            && let Some(l) = res.read_or_absent(
                &format!("read the lifecycle of {name}"),
                res.aws
                    .block_on(c.get_bucket_lifecycle_configuration().bucket(name).send()),
                &["NoSuchLifecycleConfiguration"],
            )?
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
                self.plan
                    .weakens
                    .push(("lifecycle".into(), format!("objects expire after {d} days")));
            }
            self.changes.push(Change {
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
                        return res
                            .aws
                            .block_on(c.delete_bucket_lifecycle().bucket(name).send())
                            .map(|_| ())
                            .map_err(|e| res.fail(&format!("remove the lifecycle of {name}"), &e));
                    }
                    let cfg = BucketLifecycleConfiguration::builder()
                        .set_rules(Some(rules))
                        .build()
                        .map_err(|e| DriverError::permanent(e.to_string()))?;
                    res.aws
                        .block_on(
                            c.put_bucket_lifecycle_configuration()
                                .bucket(name)
                                .lifecycle_configuration(cfg)
                                .send(),
                        )
                        .map(|_| ())
                        .map_err(|e| res.fail(&format!("set the lifecycle of {name}"), &e))
                }),
            });
        }
        Ok(())
    }

    /// Access logging to the request's target bucket.
    fn logging(&mut self) -> Result<(), DriverError> {
        let (res, c, b, name, exists) = (self.res, self.c, self.b, self.name, self.exists);
        // Access logging.
        let have_log = if exists {
            res.read_or_absent(
                &format!("read the access logging of {name}"),
                res.aws.block_on(c.get_bucket_logging().bucket(name).send()),
                &[],
            )?
            .and_then(|l| l.logging_enabled().map(|e| e.target_bucket().to_string()))
        } else {
            None
        };
        if have_log != b.log_target && !(b.log_target.is_none() && have_log.is_none()) {
            let target = b.log_target.clone();
            self.changes.push(Change {
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
                    res.aws
                        .block_on(
                            c.put_bucket_logging()
                                .bucket(name)
                                .bucket_logging_status(status.build())
                                .send(),
                        )
                        .map(|_| ())
                        .map_err(|e| res.fail(&format!("set access logging of {name}"), &e))
                }),
            });
        }
        Ok(())
    }

    /// Our tags merged into what is there.
    fn tag_change(&mut self) -> Result<(), DriverError> {
        let (res, c, b, name) = (self.res, self.c, self.b, self.name);
        let mut merged = self.current_tags.clone();
        merged.extend(b.tags.clone());
        if merged != self.current_tags {
            let added: Vec<String> = b
                .tags
                .iter()
                .filter(|(k, v)| self.current_tags.get(*k) != Some(v))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            self.changes.push(Change {
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
                    res.aws
                        .block_on(c.put_bucket_tagging().bucket(name).tagging(tagging).send())
                        .map(|_| ())
                        .map_err(|e| res.fail(&format!("tag {name}"), &e))
                }),
            });
        }
        Ok(())
    }
}
