//! The orphan sweep: what AWS still holds tagged with a build id.
//!
//! The journal knows what goldenpath created; Terraform modules and
//! controllers create more, tagged from the contract (`BuildId`,
//! `ManagedBy`, `Environment`). The Resource Groups Tagging API lists
//! every resource of the account and region that still carries them.

use std::collections::BTreeMap;

use aws_sdk_resourcegroupstagging::Client;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use gp_driver::DriverError;

use crate::{Aws, describe_error};

/// A resource still tagged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tagged {
    /// Its ARN.
    pub arn: String,
    /// `secretsmanager:secret`, `ec2:instance`, ... from the ARN.
    pub kind: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

impl Tagged {
    /// Whether goldenpath owns resources of this kind (and may delete one).
    pub fn deletable(&self) -> bool {
        self.kind == "secretsmanager:secret"
    }
}

/// Every resource in `region` tagged with all of `tags`.
pub fn sweep(region: Option<&str>, tags: &[(&str, &str)]) -> Result<Vec<Tagged>, DriverError> {
    let aws = Aws::shared(region).map_err(DriverError::configuration)?;
    let config = aws
        .config()
        .map_err(|e| DriverError::configuration(format!("the tag sweep: {e}")))?;
    let client = Client::new(config);
    let filters: Vec<TagFilter> = tags
        .iter()
        .map(|(k, v)| TagFilter::builder().key(*k).values(*v).build())
        .collect();
    let mut pages = client
        .get_resources()
        .set_tag_filters(Some(filters))
        .resources_per_page(100)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    loop {
        let page = match aws.block_on(pages.next()) {
            None => break,
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                let message = format!(
                    "the tag sweep in {} failed: {}",
                    aws.region_name(),
                    describe_error(&e)
                );
                // A denial is the role's configuration, not a blip.
                return Err(if crate::denied(&e) {
                    DriverError::configuration(message)
                } else {
                    DriverError::retryable(message)
                });
            }
        };
        for m in page.resource_tag_mapping_list() {
            let Some(arn) = m.resource_arn() else {
                continue;
            };
            out.push(Tagged {
                arn: arn.to_string(),
                kind: kind_of(arn),
                tags: m
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            });
        }
    }
    out.sort_by(|a, b| a.arn.cmp(&b.arn));
    Ok(out)
}

/// `service:resource-type` of an ARN
/// (`arn:aws:secretsmanager:eu-west-2:1:secret:name-x` → `secretsmanager:secret`).
pub fn kind_of(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        [_, _, service, _, _, rest] => {
            let ty = rest.split(['/', ':']).next().unwrap_or_default();
            format!("{service}:{ty}")
        }
        _ => "unknown".into(),
    }
}

/// Deletes a tagged secret by ARN, without a recovery window.
pub fn delete_secret_arn(region: Option<&str>, arn: &str) -> Result<(), DriverError> {
    let aws = Aws::shared(region).map_err(DriverError::configuration)?;
    let config = aws
        .config()
        .map_err(|e| DriverError::configuration(format!("the tag sweep: {e}")))?;
    let client = aws_sdk_secretsmanager::Client::new(config);
    aws.block_on(
        client
            .delete_secret()
            .secret_id(arn)
            .force_delete_without_recovery(true)
            .send(),
    )
    .map(|_| ())
    .or_else(|e| {
        if e.as_service_error()
            .is_some_and(|s| s.is_resource_not_found_exception())
        {
            Ok(())
        } else {
            Err(DriverError::retryable(format!(
                "cannot delete {arn}: {}",
                describe_error(&e)
            )))
        }
    })
}

/// The engine's orphan sweep on the Resource Groups Tagging API.
pub struct AwsTagSweep {
    region: Option<String>,
}

impl AwsTagSweep {
    /// A sweep of `region` (`None`: the chain's).
    pub fn new(region: Option<String>) -> Self {
        Self { region }
    }
}

impl gp_driver::TagSweep for AwsTagSweep {
    fn tagged(
        &self,
        tags: &BTreeMap<String, String>,
    ) -> Result<Vec<gp_driver::TaggedResource>, DriverError> {
        let pairs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Ok(sweep(self.region.as_deref(), &pairs)?
            .into_iter()
            .map(|t| gp_driver::TaggedResource {
                deletable: t.deletable(),
                build_id: t.tags.get("BuildId").cloned(),
                id: t.arn,
                kind: t.kind,
            })
            .collect())
    }

    fn permissions(&self, contract: &gp_core::Contract<'_>) -> Vec<gp_core::iam::Grant> {
        use crate::iam::{actions, grant};
        use gp_core::iam::{Access, Grant};
        let region = self.region.as_deref();
        // What is tagged is found account-wide: the API names no resource.
        let mut out = vec![Grant::unscoped(
            "TagSweepFind",
            actions("tagging.rs", Access::Read, "tag"),
        )];
        // Only secrets are deleted, and only those tagged for a build of
        // this environment (a tag condition: the ARN of a secret a module
        // made is not the contract's).
        if let Some(mut g) = grant(
            "TagSweepDeleteSecretsTaggedForABuild",
            "tagging.rs",
            Access::Delete,
            "secretsmanager",
            [crate::iam::arn("secretsmanager", region, "secret:*")],
        ) {
            for (k, v) in contract.sweep_tags() {
                g = g.when("StringLike", &format!("aws:ResourceTag/{k}"), vec![v]);
            }
            out.push(g);
        }
        out
    }

    fn delete(&self, r: &gp_driver::TaggedResource) -> Result<(), DriverError> {
        if r.kind != "secretsmanager:secret" {
            return Err(DriverError::refused(format!(
                "{} is a {}: goldenpath deletes only what it owns (secrets)",
                r.id, r.kind
            )));
        }
        delete_secret_arn(self.region.as_deref(), &r.id)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn kinds() {
        assert_eq!(
            super::kind_of("arn:aws:secretsmanager:eu-west-2:1:secret:goldenpath/dev/x-AbC"),
            "secretsmanager:secret"
        );
        assert_eq!(
            super::kind_of("arn:aws:ec2:eu-west-2:1:instance/i-1"),
            "ec2:instance"
        );
        assert_eq!(super::kind_of("nope"), "unknown");
    }
}
