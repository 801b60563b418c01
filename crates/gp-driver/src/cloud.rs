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
    /// goldenpath's own tags on it (`ManagedBy=goldenpath`, any
    /// `goldenpath:` key but the request's): what goldenpath made for the
    /// platform or a build, which no request may take.
    pub goldenpath_tags: std::collections::BTreeMap<String, String>,
    /// Each change apply would make, in the order it makes them; empty
    /// when it is as asked.
    pub changes: Vec<String>,
    /// The changes that weaken what is there, by the setting a request
    /// names to allow them (`tagImmutability`, `encryption`,
    /// `publicAccess`, `versioning`, `lifecycle`, `resourcePolicy`,
    /// `scanOnPush`), with the change in words.
    pub weakens: Vec<(String, String)>,
}

/// Whether tags are goldenpath's own (its `ManagedBy`, or a `goldenpath:`
/// key other than the request tag): the tags worth reporting of a
/// resource found.
pub fn goldenpath_tags(
    tags: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    tags.iter()
        .filter(|(k, v)| {
            (k.as_str() == "ManagedBy" && v.as_str() == "goldenpath")
                || (k.starts_with("goldenpath:") && k.as_str() != gp_core::request::REQUEST_TAG)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain(
            ["Component", "BuildId", "Environment", "Lifecycle"]
                .iter()
                .filter(|_| tags.get("ManagedBy").is_some_and(|v| v == "goldenpath"))
                .filter_map(|k| tags.get(*k).map(|v| (k.to_string(), v.clone()))),
        )
        .collect()
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
    /// The IAM permissions of `access` to every resource requests in
    /// `contract`'s environment may ask for, named as the contract names
    /// them.
    fn permissions(
        &self,
        contract: &gp_core::Contract<'_>,
        access: gp_core::iam::Access,
    ) -> Vec<gp_core::iam::Grant>;
}
