//! What a self-service request delivers to the cluster (the ExternalSecret
//! that takes its credentials into the app's namespace), and the
//! capability of a driver that delivers it. The gitops driver renders a
//! request's deliveries like a component's: checked against the CRD at
//! the version the cluster serves, passed through the policy gate,
//! journalled, written and committed (and pushed, with a remote) in one
//! commit; withdrawn the same way. The engine finds the capability, never
//! a driver name.

use std::collections::BTreeMap;

use gp_core::Platform;
use gp_core::request::Delivery;

use crate::{Counts, DriverError, Recorder};

/// Files by path in the GitOps repository, and their text.
pub type Rendered = BTreeMap<String, String>;

/// What delivering needs: the platform, the request's environment and id,
/// and the recorder that journals and gates what is delivered.
pub struct DeliveryCtx<'a> {
    /// The platform.
    pub platform: &'a Platform,
    /// The request's environment.
    pub env: &'a str,
    /// The request's id (`RDS-0007`).
    pub request: &'a str,
    /// Journal and policy gate.
    pub recorder: &'a dyn Recorder,
}

/// A driver that delivers requests' objects to the cluster.
pub trait Deliverer: Send + Sync {
    /// The files `deliveries` render to, each checked against its schema;
    /// reads and writes nothing.
    fn render_deliveries(
        &self,
        platform: &Platform,
        env: &str,
        request: &str,
        deliveries: &[Delivery],
    ) -> Result<Rendered, DriverError>;

    /// Delivers them: the rendered files pass the recorder's policy gate,
    /// then are journalled, written (files of the request no longer
    /// rendered removed) and committed in one commit, pushed with a
    /// remote. Delivering what is already there changes nothing.
    fn deliver(
        &self,
        ctx: &DeliveryCtx<'_>,
        deliveries: &[Delivery],
    ) -> Result<Counts, DriverError>;

    /// Removes everything delivered for the request, journalled and
    /// committed (pushed with a remote). Nothing there is not an error.
    fn withdraw(&self, ctx: &DeliveryCtx<'_>) -> Result<Counts, DriverError>;

    /// The request's delivered files as they are now (path and text).
    fn delivered(
        &self,
        platform: &Platform,
        env: &str,
        request: &str,
    ) -> Result<Rendered, DriverError>;
}
