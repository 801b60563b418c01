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

use std::sync::{Arc, OnceLock};

use gp_core::request::Desired;
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

    fn fail<E>(
        &self,
        what: &str,
        e: &aws_sdk_s3::error::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    ) -> DriverError
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        DriverError::permanent(format!(
            "AWS ({}): cannot {what}: {}",
            self.aws.region_name(),
            describe_error(e)
        ))
    }
}

/// Whether an XML body is one element with nothing in it (after an XML
/// declaration): `<X/>` or `<X xmlns="..."></X>`.
fn empty_element(body: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let mut t = text.trim();
    if let Some(rest) = t.strip_prefix("<?xml") {
        match rest.find("?>") {
            Some(i) => t = rest[i + 2..].trim(),
            None => return false,
        }
    }
    let Some(inner) = t.strip_prefix('<').and_then(|x| x.strip_suffix('>')) else {
        return false;
    };
    if let Some(open) = inner.strip_suffix('/') {
        return !open.contains(['<', '>']);
    }
    // `<X ...></X>`
    match inner.split_once("></") {
        Some((open, close)) => {
            !open.contains(['<', '>'])
                && !close.contains(['<', '>'])
                && open.split_whitespace().next() == Some(close.trim())
        }
        None => false,
    }
}

impl AwsResources {
    /// A read whose "nothing there" answer is one of `absent` (the
    /// service's error codes): `None`. Any other failure — a denial first —
    /// stops the plan: a read that could not be made is never taken for a
    /// setting, a tag or a policy that is not there.
    pub(crate) fn read_or_absent<T, E>(
        &self,
        what: &str,
        r: Result<
            T,
            aws_sdk_s3::error::SdkError<
                E,
                aws_smithy_runtime_api::client::orchestrator::HttpResponse,
            >,
        >,
        absent: &[&str],
    ) -> Result<Option<T>, DriverError>
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e)
                if e.as_service_error()
                    .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code)
                    .is_some_and(|c| absent.contains(&c)) =>
            {
                Ok(None)
            }
            // A success whose body is one empty element (moto answers a
            // bucket never versioned with `<GetBucketVersioningResponse/>`,
            // S3 with `<VersioningConfiguration/>`): nothing there.
            Err(e)
                if e.raw_response().is_some_and(|r| {
                    r.status().is_success() && r.body().bytes().is_some_and(empty_element)
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.fail(what, &e)),
        }
    }
}

impl CloudResources for AwsResources {
    fn permissions(
        &self,
        contract: &gp_core::Contract<'_>,
        access: gp_core::iam::Access,
    ) -> Vec<gp_core::iam::Grant> {
        use crate::iam::{arn, grant, secret_arn};
        let region = self.aws.region.as_deref();
        let bucket = format!("arn:aws:s3:::{}", contract.request_bucket_name("*", "*"));
        let secret = secret_arn(region, &contract.request_secret_path("*", "*"));
        // A repository's name is the request's own (`team/app`), not one
        // the contract derives.
        let repository = arn("ecr", region, "repository/*");
        [
            grant("RequestBuckets", "resources/s3.rs", access, "s3", [bucket]),
            grant(
                "RequestSecrets",
                "resources/secrets.rs",
                access,
                "secretsmanager",
                [secret.clone()],
            ),
            grant(
                "RequestSecrets",
                "resources/mod.rs",
                access,
                "secretsmanager",
                [secret],
            ),
            grant(
                "RequestRepositoriesNamedByEachRequestNotByTheContract",
                "resources/ecr.rs",
                access,
                "ecr",
                [repository.clone()],
            ),
            grant(
                "RequestRepositoriesNamedByEachRequestNotByTheContract",
                "resources/mod.rs",
                access,
                "ecr",
                [repository],
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

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

impl AwsResources {
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

mod ecr;
mod s3;
mod secrets;

#[cfg(test)]
mod tests {
    use super::empty_element;

    #[test]
    fn only_one_element_with_nothing_in_it_is_empty() {
        assert!(empty_element(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<GetBucketVersioningResponse xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>"));
        assert!(empty_element(
            b"<VersioningConfiguration xmlns=\"x\"></VersioningConfiguration>"
        ));
        assert!(!empty_element(
            b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
        ));
        assert!(!empty_element(b"<A></B>"));
        assert!(!empty_element(b"<Error><Code>AccessDenied</Code></Error>"));
        assert!(!empty_element(b""));
        assert!(!empty_element(b"<?xml version=\"1.0\""));
        assert!(!empty_element(&[0xff, 0xfe]));
    }
}
