//! goldenpath on AWS, through the AWS SDK for Rust.
//!
//! - [`SecretsManagerStore`]: the `aws` secrets backend, a
//!   [`gp_driver::secrets::SecretStore`] on AWS Secrets Manager.
//! - [`Route53`]: the `route53` backend of the `dns` driver.
//! - [`AwsResources`]: the S3 buckets, Secrets Manager secrets and ECR
//!   repositories self-service requests ask for.
//! - [`sweep`]: the orphan sweep, resources still tagged with a build id
//!   (Resource Groups Tagging API).
//!
//! Configuration comes from the SDK's standard chain: credentials from the
//! environment, a profile, web identity (a CI role assumed through OIDC),
//! the container or instance role; the region from the spec or the chain;
//! `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` override endpoints
//! (a local endpoint in tests). Nothing is loaded until the first call, so
//! `validate` and `plan` of a spec that names AWS need no credentials.
//!
//! Calls retry with the SDK's standard strategy (exponential backoff with
//! jitter on throttling, `PriorRequestNotComplete` and transient errors,
//! up to [`MAX_ATTEMPTS`] attempts) under a per-call deadline.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

mod iam;
mod resources;
mod route53;
mod secrets;
mod tagging;

pub use resources::{AwsResources, REQUEST_TAG};
pub use route53::{
    Route53, Route53Settings, factory as route53_factory, permissions as route53_permissions,
};
pub use secrets::SecretsManagerStore;
pub use tagging::{AwsTagSweep, Tagged, delete_secret_arn, sweep};

/// Attempts per call (the first and its retries).
pub const MAX_ATTEMPTS: u32 = 8;

/// One SDK configuration and the runtime its calls run on, per region.
pub struct Aws {
    rt: tokio::runtime::Runtime,
    region: Option<String>,
    config: OnceLock<Result<aws_config::SdkConfig, String>>,
}

impl std::fmt::Debug for Aws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aws").field("region", &self.region).finish()
    }
}

impl Aws {
    /// The process's handle for `region` (`None`: the chain's region).
    pub fn shared(region: Option<&str>) -> Result<Arc<Aws>, String> {
        static ALL: OnceLock<Mutex<BTreeMap<Option<String>, Arc<Aws>>>> = OnceLock::new();
        let all = ALL.get_or_init(Default::default);
        let mut all = all.lock().unwrap_or_else(|p| p.into_inner());
        let key = region.map(str::to_string);
        if let Some(a) = all.get(&key) {
            return Ok(a.clone());
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("goldenpath-aws")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the AWS client runtime: {e}"))?;
        let a = Arc::new(Aws {
            rt,
            region: key.clone(),
            config: OnceLock::new(),
        });
        all.insert(key, a.clone());
        Ok(a)
    }

    /// The SDK configuration, loaded once from the standard chain (its
    /// credential providers, STS and SSO among them, share the HTTP
    /// client).
    pub fn config(&self) -> Result<&aws_config::SdkConfig, String> {
        self.config
            .get_or_init(|| {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .http_client(http_client())
                    .retry_config(
                        aws_config::retry::RetryConfig::standard()
                            .with_max_attempts(MAX_ATTEMPTS)
                            .with_initial_backoff(Duration::from_millis(100))
                            .with_max_backoff(Duration::from_secs(10)),
                    )
                    .timeout_config(
                        aws_config::timeout::TimeoutConfig::builder()
                            .connect_timeout(Duration::from_secs(10))
                            .operation_attempt_timeout(Duration::from_secs(30))
                            .operation_timeout(Duration::from_secs(120))
                            .build(),
                    );
                if let Some(r) = &self.region {
                    loader = loader.region(aws_config::Region::new(r.clone()));
                }
                let config = self.rt.block_on(loader.load());
                if config.region().is_none() {
                    return Err("no AWS region: set one in the spec (`secrets.region`, `requests.region`, or a route53 zone's `region`, for what uses it), or AWS_REGION".into());
                }
                Ok(config)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Runs a future to completion on this handle's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The region in use, for messages.
    pub fn region_name(&self) -> String {
        match self.config() {
            Ok(c) => c
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "?".into()),
            Err(_) => self.region.clone().unwrap_or_else(|| "?".into()),
        }
    }
}

/// An SDK error as one line: the service's code and message, or the
/// transport's reason. Never carries request bodies (secret values).
/// A denial also names the IAM action the call needs.
pub fn describe_error<E>(
    e: &aws_sdk_secretsmanager::error::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> String
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_secretsmanager::error::SdkError;
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            let said = match (err.code(), err.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                _ => err.to_string(),
            };
            match iam::denied_hint(
                err.code(),
                s.raw().status().as_u16(),
                std::any::type_name::<E>(),
            ) {
                Some(hint) => format!("{said}; {hint}"),
                None => said,
            }
        }
        SdkError::TimeoutError(_) => "the call timed out".into(),
        SdkError::DispatchFailure(d) => {
            if d.is_io() {
                "cannot reach the endpoint (connection failed)".into()
            } else if d.is_timeout() {
                "the connection timed out".into()
            } else {
                "the request could not be sent".into()
            }
        }
        SdkError::ResponseError(_) => "the response could not be read".into(),
        SdkError::ConstructionFailure(_) => {
            "the request could not be built (credentials or region missing?)".into()
        }
        _ => "the call failed".into(),
    }
}

/// Whether the service denied the call (the credentials lack its action).
pub(crate) fn denied<E>(
    e: &aws_sdk_secretsmanager::error::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> bool
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match e {
        aws_sdk_secretsmanager::error::SdkError::ServiceError(s) => {
            iam::is_denial(s.err().code(), s.raw().status().as_u16())
        }
        _ => false,
    }
}

/// A time from the SDK as microseconds since the epoch.
pub(crate) fn micros(t: Option<&aws_sdk_secretsmanager::primitives::DateTime>) -> i64 {
    t.map_or(0, |t| {
        t.secs() * 1_000_000 + i64::from(t.subsec_nanos() / 1000)
    })
}

/// The HTTP client of every AWS call: rustls over *ring*, the TLS stack
/// the PostgreSQL driver already uses (the SDK's default client builds a
/// second one, AWS-LC, from C). Plain `http://` endpoints (a local one)
/// work as well.
fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}
