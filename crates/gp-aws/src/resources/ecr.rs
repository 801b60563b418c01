//! ECR repositories: scan on push, tag immutability, a lifecycle policy, tags.

use std::collections::BTreeMap;

use gp_core::request::DesiredRepository;
use gp_driver::DriverError;
use gp_driver::cloud::CloudPlan;

use super::{AwsResources, Change, REQUEST_TAG};

impl AwsResources {
    fn lifecycle_policy(keep: u32) -> serde_json::Value {
        serde_json::json!({"rules": [{
            "rulePriority": 1,
            "description": format!("goldenpath: keep the last {keep} images"),
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
            "action": {"type": "expire"},
        }]})
    }

    pub(super) fn repository_changes<'a>(
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
                if let Some(t) = self.read_or_absent(
                    &format!("read the tags of {name}"),
                    self.aws
                        .block_on(c.list_tags_for_resource().resource_arn(&arn).send()),
                    &[],
                )? {
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
            self.read_or_absent(
                &format!("read the lifecycle policy of {name}"),
                self.aws
                    .block_on(c.get_lifecycle_policy().repository_name(name).send()),
                &["LifecyclePolicyNotFoundException"],
            )?
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
}
