//! The `Driver` trait and the set of drivers a run uses.

use super::*;

/// A driver: one kind of component.
pub trait Driver: Send + Sync {
    /// The name components use in `driver:`.
    fn name(&self) -> &'static str;

    /// Whether an applied component of this driver is ready as far as
    /// goldenpath can tell: `true` when the driver observes the system
    /// itself (a database answers, a record resolves), `false` when it
    /// delivers what another system acts on later — a GitOps commit Argo CD
    /// syncs — and nothing is read back. Status then says `delivered`, never
    /// `ready`.
    fn observes_readiness(&self) -> bool {
        true
    }

    /// Checks the settings without I/O.
    fn validate(&self, ctx: &ValidateCtx<'_>) -> Result<Validated, Vec<Diagnostic>>;

    /// Checks that this machine can run the component as written — its
    /// files exist, its programs are installed, its backend is built in —
    /// reading only local files (no network, no registry). `validate` and
    /// `deploy` report these with the spec's positions before anything
    /// runs.
    fn preflight(&self, ctx: &ValidateCtx<'_>) -> Vec<Diagnostic> {
        let _ = ctx;
        Vec::new()
    }

    /// The files this driver wrote for a deployment that carry the
    /// contract (rendered objects, variable files), for `verify
    /// propagation`; each says where it must hold the build id.
    fn artifacts(&self, ctx: &ArtifactCtx<'_>) -> Vec<gp_core::propagation::Artifact> {
        let _ = ctx;
        Vec::new()
    }

    /// Looks at what exists.
    fn observe(&self, ctx: &ComponentCtx<'_>) -> Result<Observation, DriverError>;

    /// Makes it so; journals each resource action before and after.
    fn apply(&self, ctx: &ComponentCtx<'_>) -> Result<Applied, DriverError>;

    /// Removes one resource this deployment created. Removing something
    /// already gone is not an error.
    fn destroy(&self, ctx: &ComponentCtx<'_>, resource: &ResourceRef) -> Result<(), DriverError>;

    /// What one of its components is, in words (`database instance`, `DNS
    /// zone`), and with `resource` what a resource within it is
    /// (`database`), for the reasons status and plan give.
    fn noun(&self, resource: bool) -> &'static str {
        let _ = resource;
        "component"
    }

    /// The names in shared systems the component holds in the deployment
    /// of `contract` (no I/O): the ownership index asks it for the
    /// foundational plane, the persistent deployment and two probe builds,
    /// and learns a per-build pattern from what the build changed. Return
    /// the names in the same order for every deployment.
    fn holds(&self, ctx: &ValidateCtx<'_>, contract: &Contract<'_>) -> Vec<HeldName> {
        let _ = (ctx, contract);
        Vec::new()
    }

    /// The AWS IAM permissions its runs in the deployment of `contract`
    /// need for `access` (no I/O): the actions it makes — itself, through
    /// the secrets store or its backend — on the names the contract
    /// derives. `goldenpath iam policy` gathers them per role; a build's
    /// contract is a probe build whose id the policy turns into `*`.
    /// Nothing by default (a driver that calls no AWS API).
    fn permissions(
        &self,
        ctx: &ValidateCtx<'_>,
        contract: &Contract<'_>,
        access: gp_core::iam::Access,
    ) -> Result<Vec<gp_core::iam::Grant>, Vec<gp_core::Diagnostic>> {
        let _ = (ctx, contract, access);
        Ok(Vec::new())
    }

    /// Its host-publishing capability, for a driver that holds a zone.
    fn host_publisher(&self) -> Option<&dyn HostPublisher> {
        None
    }

    /// Its capability of delivering requests' objects to the cluster, for
    /// a driver that writes what the cluster applies.
    fn deliverer(&self) -> Option<&dyn deliver::Deliverer> {
        None
    }

    /// The resource kinds this driver journals. Teardown refuses a
    /// journalled resource of any other kind under a component of this
    /// driver (a forged or misfiled row), running nothing for it.
    fn resource_kinds(&self) -> &'static [&'static str];

    /// Whether a journalled resource still exists.
    fn exists(
        &self,
        ctx: &ComponentCtx<'_>,
        resource: &ResourceRef,
    ) -> Result<Existence, DriverError>;

    /// Removes several resources of one component, in the order given,
    /// with one result each. Drivers whose systems take batches (DNS
    /// updates) override it; the default destroys one at a time.
    fn destroy_many(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[&ResourceRef],
    ) -> Vec<Result<(), DriverError>> {
        resources.iter().map(|r| self.destroy(ctx, r)).collect()
    }

    /// [`Driver::destroy_many`], each destroy journalled through `journal`
    /// before any change for it is sent and after the system took it: a
    /// driver whose system takes batches (DNS updates) journals the next
    /// batch while one is on its way. The default journals them all,
    /// destroys them, then journals those that went
    /// ([`destroy_journalled_whole`]). A result is `Ok` only when the
    /// resource is gone; whether it was journalled finished, the journal
    /// knows.
    fn destroy_many_journalled(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[&ResourceRef],
        journal: &dyn DestroyJournal,
    ) -> Vec<Result<(), DriverError>> {
        destroy_journalled_whole(self, ctx, resources, journal)
    }

    /// [`Driver::exists`] for several resources at once.
    fn exists_many(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[&ResourceRef],
    ) -> Vec<Result<Existence, DriverError>> {
        resources.iter().map(|r| self.exists(ctx, r)).collect()
    }

    /// Provisions something a self-service request asks of a deployed
    /// component (a database on an instance), journalling each action
    /// like [`Driver::apply`]. The request is the driver's own JSON shape.
    /// Drivers that take no requests refuse.
    fn provision(
        &self,
        ctx: &ComponentCtx<'_>,
        request: &serde_json::Value,
    ) -> Result<Applied, DriverError> {
        let _ = request;
        Err(DriverError::configuration(format!(
            "{} (driver {}) takes no requests",
            ctx.name(),
            self.name()
        )))
    }

    /// Called once at the end of a deploy run (successful or not), for work
    /// a driver batches across its components (the gitops driver's one
    /// commit and push to a remote).
    fn run_finished(&self, platform: &gp_core::Platform) -> Result<(), DriverError> {
        let _ = platform;
        Ok(())
    }

    /// What [`Driver::provision`] of `request` would change, one line per
    /// step, reading only (drivers that take no requests: nothing).
    fn plan_provision(
        &self,
        ctx: &ComponentCtx<'_>,
        request: &serde_json::Value,
    ) -> Result<Vec<String>, DriverError> {
        let _ = (ctx, request);
        Ok(Vec::new())
    }

    /// Releases a stale lock on the component's state (`terraform
    /// force-unlock`). The engine records who and why first. Drivers
    /// without locks refuse.
    fn unlock(&self, ctx: &ComponentCtx<'_>, lock_id: &str) -> Result<(), DriverError> {
        let _ = lock_id;
        Err(DriverError::configuration(format!(
            "{} (driver {}) has no state locks",
            ctx.name(),
            self.name()
        )))
    }

    /// What a deployed component holds, read live (the databases on an
    /// instance), one JSON object per item. Empty for drivers with nothing
    /// to list.
    fn inventory(&self, ctx: &ComponentCtx<'_>) -> Result<Vec<serde_json::Value>, DriverError> {
        let _ = ctx;
        Ok(Vec::new())
    }
}

/// The drivers a run can use, by name.
#[derive(Clone, Default)]
pub struct DriverSet {
    drivers: BTreeMap<&'static str, Arc<dyn Driver>>,
    sweep: Option<Arc<dyn TagSweep>>,
}

/// A resource a cloud still holds with a deployment's tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedResource {
    /// Its id (an ARN).
    pub id: String,
    /// Its kind (`secretsmanager:secret`).
    pub kind: String,
    /// Whether goldenpath owns resources of this kind and may delete it.
    pub deletable: bool,
    /// Its `BuildId` tag, if it has one.
    pub build_id: Option<String>,
}

/// Finds what a cloud still holds tagged for a deployment, beyond the
/// journal (resources made by Terraform modules, by controllers, by hand):
/// the orphan sweep.
pub trait TagSweep: Send + Sync {
    /// Every resource carrying all of `tags`.
    fn tagged(&self, tags: &BTreeMap<String, String>) -> Result<Vec<TaggedResource>, DriverError>;
    /// Deletes one (only a `deletable` one is ever passed).
    fn delete(&self, r: &TaggedResource) -> Result<(), DriverError>;
    /// The IAM permissions of a sweep after a teardown in `contract`'s
    /// environment: finding what is tagged, deleting what may be.
    fn permissions(&self, contract: &Contract<'_>) -> Vec<gp_core::iam::Grant>;
}

impl DriverSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a driver.
    pub fn with(mut self, driver: Arc<dyn Driver>) -> Self {
        self.drivers.insert(driver.name(), driver);
        self
    }

    /// Adds the orphan sweep by tags.
    pub fn with_tag_sweep(mut self, sweep: Arc<dyn TagSweep>) -> Self {
        self.sweep = Some(sweep);
        self
    }

    /// The orphan sweep by tags, when this platform has one.
    pub fn tag_sweep(&self) -> Option<&Arc<dyn TagSweep>> {
        self.sweep.as_ref()
    }

    /// The driver called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Driver>> {
        self.drivers.get(name)
    }

    /// Every driver name.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.drivers.keys().copied()
    }

    /// The driver that delivers requests' objects, if one is wired.
    pub fn deliverer(&self) -> Option<&dyn deliver::Deliverer> {
        self.drivers.values().find_map(|d| d.deliverer())
    }
}

/// The journal a driver's own batched destroy writes through
/// ([`Driver::destroy_many_journalled`]): the destroys of the resources it
/// was handed, named by their indexes.
pub trait DestroyJournal {
    /// Journals the destroys of `done` as finished and those of `next`
    /// before anything is sent for them, as one write. An error: none of
    /// `next` may be sent, and `done` is not journalled finished (asking
    /// again with it is how a driver retries).
    fn after_and_before(&self, done: &[usize], next: &[usize]) -> Result<(), DriverError>;
}

/// The default of [`Driver::destroy_many_journalled`]: every destroy
/// journalled before, [`Driver::destroy_many`], then those that went
/// journalled after.
pub fn destroy_journalled_whole<D: Driver + ?Sized>(
    driver: &D,
    ctx: &ComponentCtx<'_>,
    resources: &[&ResourceRef],
    journal: &dyn DestroyJournal,
) -> Vec<Result<(), DriverError>> {
    let all: Vec<usize> = (0..resources.len()).collect();
    if let Err(e) = journal.after_and_before(&[], &all) {
        return vec![Err(e); resources.len()];
    }
    let results = driver.destroy_many(ctx, resources);
    let done: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    if !done.is_empty() {
        // A refusal is the journal's to report: it knows what it could not
        // write.
        let _ = journal.after_and_before(&done, &[]);
    }
    results
}
