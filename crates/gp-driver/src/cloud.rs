//! Cloud resources a self-service request asks for (a bucket, a secret, a
//! container repository): what apply would change, and applying it. The
//! engine decides whether a request may be applied; an implementation
//! (`gp-aws` on AWS) only reads and makes the resource.

use gp_core::request::Desired;

use crate::DriverError;

/// What a resource is now, against what a request asks.
#[derive(Clone, Debug, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudPlan {
    /// Whether it exists already (apply adopts it).
    pub exists: bool,
    /// The request recorded on it (its `goldenpath:request` tag), if any.
    pub tagged_request: Option<String>,
    /// Each change apply would make, in the order it makes them; empty
    /// when it is as asked.
    pub changes: Vec<String>,
}

/// What apply did.
#[derive(Clone, Debug, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudApplied {
    /// Its ARN (or, for a bucket, `arn:aws:s3:::NAME`).
    pub arn: String,
    /// Whether apply created it (else it existed and was adopted).
    pub created: bool,
    /// The changes made.
    pub changes: Vec<String>,
}

/// Reads and makes the resources requests ask for.
pub trait CloudResources: Send + Sync {
    /// What apply would change (reads only).
    fn plan(&self, desired: &Desired) -> Result<CloudPlan, DriverError>;
    /// Creates or adopts it and makes each change; `step` is called with
    /// each change before it is made (`false`) and after (`true`). A
    /// resource another request's tag names is refused before any change.
    fn apply(
        &self,
        desired: &Desired,
        request: &str,
        step: &mut dyn FnMut(&str, bool),
    ) -> Result<CloudApplied, DriverError>;
}
