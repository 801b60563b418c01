//! Host records a component publishes through the `dns` driver.

use super::*;

/// A DNS record for one of a component's hosts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostRecord {
    /// The host relative to the deployment's suffix.
    pub name: String,
    /// The full name, derived by the contract.
    pub fqdn: String,
    /// A, AAAA or CNAME.
    #[serde(rename = "type")]
    pub rtype: gp_core::RecordType,
    /// The address or name it points at (references resolved).
    pub target: String,
}

/// The records of one component's hosts, in the zone of a component it
/// needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostRecords {
    /// The zone's component.
    pub zone: String,
    /// The records.
    pub records: Vec<HostRecord>,
}

/// What publishing one host record would do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecordAction {
    /// It does not exist yet.
    Create,
    /// It exists and points elsewhere.
    Update,
    /// It is as wanted.
    Unchanged,
    /// Another owner holds the name: never touched.
    Conflict,
}

/// One row of a host-records plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordPlan {
    /// Full name.
    pub fqdn: String,
    /// Record type.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Target.
    pub target: String,
    /// What applying would do.
    pub action: RecordAction,
    /// Why (a conflict's owner, the current value).
    pub detail: String,
}

/// A read of a zone started ahead of the observation that takes it
/// ([`HostPublisher::read_ahead`]): a plan starts it as soon as the zone's
/// outputs are known, so that the zone is transferred while the
/// deployment's journal is read. It is handed to one observation
/// ([`HostPublisher::observe_hosts_with`]), never kept: a publish reads the
/// zone afresh.
pub struct ZoneRead(Box<dyn std::any::Any + Send>);

impl ZoneRead {
    /// Wraps the publisher's own read.
    pub fn new<T: std::any::Any + Send>(read: T) -> Self {
        Self(Box::new(read))
    }

    /// The publisher's own read, if it is of type `T`.
    pub fn take<T: std::any::Any>(self) -> Option<T> {
        self.0.downcast::<T>().ok().map(|b| *b)
    }
}

impl std::fmt::Debug for ZoneRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ZoneRead")
    }
}

/// A driver that holds a zone and publishes components' host records in
/// it, with ownership records so that it and ExternalDNS never delete each
/// other's records. The engine finds this capability, never a driver name.
pub trait HostPublisher: Send + Sync {
    /// What exists of the records.
    fn observe_hosts(
        &self,
        ctx: &ComponentCtx<'_>,
        records: &HostRecords,
    ) -> Result<Observation, DriverError>;
    /// Starts reading the zone whose component published `zone` (its
    /// outputs), for [`HostPublisher::observe_hosts_with`]; `None` when
    /// this publisher reads nothing ahead (the default).
    fn read_ahead(&self, zone: &Outputs) -> Option<ZoneRead> {
        let _ = zone;
        None
    }
    /// [`HostPublisher::observe_hosts`], taking what the zone holds from
    /// `read` when it was started for the zone the records go to, and
    /// reading the zone as `observe_hosts` does otherwise (the default).
    fn observe_hosts_with(
        &self,
        ctx: &ComponentCtx<'_>,
        records: &HostRecords,
        read: ZoneRead,
    ) -> Result<Observation, DriverError> {
        let _ = read;
        self.observe_hosts(ctx, records)
    }
    /// Publishes them (journalled under the component); a name another
    /// owner holds is refused ([`ErrorKind::Refused`]).
    fn publish_hosts(
        &self,
        ctx: &ComponentCtx<'_>,
        records: &HostRecords,
    ) -> Result<Applied, DriverError>;
    /// What publishing would do, per record.
    fn plan_hosts(
        &self,
        ctx: &ComponentCtx<'_>,
        records: &HostRecords,
    ) -> Result<Vec<RecordPlan>, DriverError>;
}

/// The [`Driver`] face of a driver's [`HostPublisher`] for one set of
/// records: `apply` publishes them, `observe` observes them, `destroy` and
/// `exists` are the driver's own. What the shared conformance suite and the
/// publisher's tests run.
pub struct PublishHosts<'a> {
    /// The driver holding the zone.
    pub driver: &'a dyn Driver,
    /// The records.
    pub records: HostRecords,
}

impl PublishHosts<'_> {
    fn publisher(&self) -> Result<&dyn HostPublisher, DriverError> {
        self.driver.host_publisher().ok_or_else(|| {
            DriverError::configuration(format!(
                "the {} driver publishes no host records",
                self.driver.name()
            ))
        })
    }
}

impl Driver for PublishHosts<'_> {
    fn name(&self) -> &'static str {
        self.driver.name()
    }
    fn validate(&self, ctx: &ValidateCtx<'_>) -> Result<Validated, Vec<Diagnostic>> {
        self.driver.validate(ctx)
    }
    fn preflight(&self, ctx: &ValidateCtx<'_>) -> Vec<Diagnostic> {
        self.driver.preflight(ctx)
    }
    fn artifacts(&self, ctx: &ArtifactCtx<'_>) -> Vec<gp_core::propagation::Artifact> {
        self.driver.artifacts(ctx)
    }
    fn observe(&self, ctx: &ComponentCtx<'_>) -> Result<Observation, DriverError> {
        self.publisher()?.observe_hosts(ctx, &self.records)
    }
    fn apply(&self, ctx: &ComponentCtx<'_>) -> Result<Applied, DriverError> {
        self.publisher()?.publish_hosts(ctx, &self.records)
    }
    fn destroy(&self, ctx: &ComponentCtx<'_>, resource: &ResourceRef) -> Result<(), DriverError> {
        self.driver.destroy(ctx, resource)
    }
    fn destroy_many(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[&ResourceRef],
    ) -> Vec<Result<(), DriverError>> {
        self.driver.destroy_many(ctx, resources)
    }
    fn resource_kinds(&self) -> &'static [&'static str] {
        self.driver.resource_kinds()
    }
    fn exists(
        &self,
        ctx: &ComponentCtx<'_>,
        resource: &ResourceRef,
    ) -> Result<Existence, DriverError> {
        self.driver.exists(ctx, resource)
    }
}
