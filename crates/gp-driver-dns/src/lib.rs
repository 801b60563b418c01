//! The `dns` driver: records for a deployment's hostnames, managed side by
//! side with ExternalDNS without either deleting the other's records.
//!
//! A foundational component holds the zone:
//!
//! ```yaml
//! - name: dns-zone
//!   plane: foundational
//!   tier: 0
//!   driver: dns
//!   settings:
//!     backend: zonefile             # or rfc2136 (with server and tsig), or route53
//!     policy: sync                  # or upsert-only: never delete
//!     onConflict: fail              # or skip
//! ```
//!
//! Components that serve `hosts` with a `target` and need the zone get an
//! A/AAAA/CNAME record per host, plus ExternalDNS's ownership TXT
//! (`{txtPrefix}{type}-{leftmost}.{rest}`, value
//! `heritage=external-dns,external-dns/owner={owner id},external-dns/resource=goldenpath/{component}`).
//! A record without that TXT, or with another owner's, is never changed or
//! deleted: it is a conflict. The engine asks for a component's records with
//! the [`RecordsSettings`] shape; teardown removes exactly the build's own
//! records and TXTs, and the orphan check asks the server.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use gp_core::yaml::Spanned;
use gp_core::{RecordType, Secret};
use gp_driver::secrets::SecretStore;
use gp_driver::{
    Action, Applied, ComponentCtx, ComponentOutputs, Counts, Driver, DriverError, Existence,
    HostPublisher, HostRecords, Observation, Outputs, Presence, RecordAction, RecordPlan,
    ResourceRef, ValidateCtx, Validated, ZoneRead, typed_settings,
};
use serde::{Deserialize, Serialize};

pub mod model;
pub mod rfc2136;
pub mod zonefile;

use model::{Change, Decision, Desired, Rr};

mod records;
mod settings;
mod teardown;
pub(crate) use records::*;
pub use settings::*;
pub(crate) use teardown::*;

/// A place records live.
pub trait Backend: Send + Sync {
    /// Every record of the zone.
    fn list(&self) -> Result<Vec<Rr>, DriverError>;
    /// Applies changes atomically (all or none), checking prerequisites.
    fn apply(&self, changes: &[Change]) -> Result<(), DriverError>;
    /// [`Backend::apply`] made ready ahead, as [`Backend::prepare_unread`]
    /// for deletes: what can be done before anything is sent is done here;
    /// the [`Ready`] sends. An error here is one nothing was sent for.
    fn prepare<'a>(&'a self, changes: &'a [Change]) -> Result<Ready<'a>, DriverError> {
        Ok(Box::new(move || self.apply(changes)))
    }
    /// How many changes one call of [`Backend::apply`] sends as one
    /// message (a batch): a publish journals the next batch while this
    /// one is on its way. `None`: every change in one call (a zone file is
    /// written once, a Route 53 change batch is its own).
    fn batch(&self) -> Option<usize> {
        None
    }
    /// Whether [`Backend::apply_unread`] deletes without the zone being
    /// read first: the server itself checks what the read would have.
    fn deletes_unread(&self) -> bool {
        false
    }
    /// Applies deletes atomically (all or none) under prerequisites the
    /// server checks ([`model::UnreadDelete`]); a refusal changes nothing.
    /// Only for a backend whose [`Backend::deletes_unread`] says so.
    fn apply_unread(&self, deletes: &[model::UnreadDelete]) -> Result<(), DriverError> {
        let _ = deletes;
        Err(DriverError::permanent(format!(
            "{} does not delete without reading the zone",
            self.describe()
        )))
    }
    /// [`Backend::apply_unread`] made ready ahead: what can be done before
    /// anything is sent (an RFC 2136 backend builds and signs its
    /// messages) is done here, while the batch before is at the server;
    /// the [`Ready`] sends. An error here is one nothing was sent for.
    fn prepare_unread<'a>(
        &'a self,
        deletes: &'a [model::UnreadDelete],
    ) -> Result<Ready<'a>, DriverError> {
        Ok(Box::new(move || self.apply_unread(deletes)))
    }
    /// For messages.
    fn describe(&self) -> String;
}

/// A batch made ready to send ([`Backend::prepare_unread`]): called, it
/// sends, and its result is the batch's.
pub type Ready<'a> = Box<dyn FnOnce() -> Result<(), DriverError> + Send + 'a>;

/// Makes the Route 53 backend from a zone component's outputs (`zone`,
/// `hostedZoneId`, `region`, `requestsPerSecond`, `syncTimeout`, `ttl`).
pub type BackendFactory =
    Arc<dyn Fn(&Outputs) -> Result<Box<dyn Backend>, DriverError> + Send + Sync>;

/// What the Route 53 backend's permissions are asked for: the zone (its
/// id when the spec names it), the region, the record names a deployment
/// writes (patterns), and how.
#[derive(Clone, Debug)]
pub struct Route53Scope<'a> {
    /// `hostedZoneId` of the spec (`None`: found by the zone's name).
    pub hosted_zone_id: Option<&'a str>,
    /// The names the deployment's records and ownership TXTs take.
    pub names: Vec<String>,
    /// Read, write or delete.
    pub access: gp_core::iam::Access,
}

/// The Route 53 backend's permissions (the binary's `aws` feature).
pub type Route53Permissions =
    Arc<dyn Fn(&Route53Scope<'_>) -> Vec<gp_core::iam::Grant> + Send + Sync>;

/// The driver.
pub struct DnsDriver {
    store: Arc<dyn SecretStore>,
    route53: Option<BackendFactory>,
    route53_permissions: Option<Route53Permissions>,
}

impl DnsDriver {
    /// A driver that reads TSIG keys from `store`.
    pub fn new(store: Arc<dyn SecretStore>) -> Self {
        Self {
            store,
            route53: None,
            route53_permissions: None,
        }
    }

    /// The same, with the Route 53 backend (the binary's `aws` feature)
    /// and the permissions its calls need.
    pub fn with_route53(mut self, make: BackendFactory, permissions: Route53Permissions) -> Self {
        self.route53 = Some(make);
        self.route53_permissions = Some(permissions);
        self
    }
}

impl HostPublisher for DnsDriver {
    fn observe_hosts(
        &self,
        ctx: &ComponentCtx<'_>,
        records: &HostRecords,
    ) -> Result<Observation, DriverError> {
        self.observe_read(ctx, records, None)
    }

    fn read_ahead(&self, zone: &Outputs) -> Option<ZoneRead> {
        Some(self.read_zone_ahead(zone))
    }

    fn observe_hosts_with(
        &self,
        ctx: &ComponentCtx<'_>,
        records: &HostRecords,
        read: ZoneRead,
    ) -> Result<Observation, DriverError> {
        self.observe_read(ctx, records, Some(read))
    }

    fn publish_hosts(
        &self,
        ctx: &ComponentCtx<'_>,
        records: &HostRecords,
    ) -> Result<Applied, DriverError> {
        self.apply_records(ctx, records)
    }

    fn plan_hosts(
        &self,
        ctx: &ComponentCtx<'_>,
        records: &HostRecords,
    ) -> Result<Vec<RecordPlan>, DriverError> {
        Ok(self
            .plan_records(ctx, records)?
            .into_iter()
            .map(|(d, decision)| {
                let (action, detail) = match decision {
                    Decision::Create => (RecordAction::Create, String::new()),
                    Decision::Update(old) => (
                        RecordAction::Update,
                        format!(
                            "now {}",
                            old.iter()
                                .map(|r| r.value.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                    Decision::Unchanged => (RecordAction::Unchanged, String::new()),
                    Decision::Conflict(why) => (RecordAction::Conflict, why),
                };
                RecordPlan {
                    fqdn: d.fqdn,
                    rtype: d.rtype,
                    target: d.target,
                    action,
                    detail,
                }
            })
            .collect())
    }
}

impl DnsDriver {
    /// What exists of `records`, the zone read from `read` when given
    /// ([`HostPublisher::observe_hosts_with`]).
    fn observe_read(
        &self,
        ctx: &ComponentCtx<'_>,
        records: &HostRecords,
        read: Option<ZoneRead>,
    ) -> Result<Observation, DriverError> {
        let plan = self.plan_records_read(ctx, records, read)?;
        let mut drift = Vec::new();
        let mut present = 0;
        for (d, decision) in &plan {
            match decision {
                Decision::Unchanged => present += 1,
                Decision::Create => {}
                Decision::Update(_) => {
                    present += 1;
                    drift.push(format!("{} {} points elsewhere", d.fqdn, d.rtype));
                }
                Decision::Conflict(why) => drift.push(format!("conflict: {why}")),
            }
        }
        Ok(Observation {
            presence: match present {
                0 if drift.is_empty() => Presence::Absent,
                n if n == plan.len() => Presence::Present,
                _ => Presence::Partial,
            },
            drift,
            outputs: None,
            counts: None,
        })
    }
}

impl Driver for DnsDriver {
    fn name(&self) -> &'static str {
        "dns"
    }

    fn noun(&self, _resource: bool) -> &'static str {
        "DNS zone"
    }

    fn host_publisher(&self) -> Option<&dyn HostPublisher> {
        Some(self)
    }

    /// The zone's records of the deployment of `contract`: Route 53's
    /// calls on the names under its host suffix (and their ownership
    /// TXTs); a TSIG key read from the store.
    fn permissions(
        &self,
        ctx: &ValidateCtx<'_>,
        contract: &gp_core::Contract<'_>,
        access: gp_core::iam::Access,
    ) -> Result<Vec<gp_core::iam::Grant>, Vec<gp_core::Diagnostic>> {
        let s: ZoneSettings = typed_settings(ctx.platform, ctx.settings, true)?;
        let mut out = Vec::new();
        if let Some(secret) = s.tsig.as_ref().and_then(|t| t.secret.clone()) {
            out.extend(
                self.store
                    .permissions(&[secret], gp_core::iam::Access::Read),
            );
        }
        if s.backend.value == BackendKind::Route53
            && let Some(permissions) = &self.route53_permissions
        {
            let suffix = contract.host_suffix();
            let probe = format!("iamprobe.{suffix}");
            let mut names = vec![suffix.clone(), format!("*.{suffix}")];
            for rtype in [
                gp_core::model::RecordType::A,
                gp_core::model::RecordType::Cname,
            ] {
                names.push(
                    contract
                        .txt_owner_name(&probe, rtype)
                        .replace("iamprobe", "*"),
                );
            }
            names.push(
                contract
                    .legacy_txt_owner_name(&probe)
                    .replace("iamprobe", "*"),
            );
            names.sort();
            names.dedup();
            out.extend(permissions(&Route53Scope {
                hosted_zone_id: s.hosted_zone_id.as_deref(),
                names,
                access,
            }));
        }
        Ok(out)
    }

    fn preflight(&self, ctx: &ValidateCtx<'_>) -> Vec<gp_core::Diagnostic> {
        let Ok(s) = typed_settings::<ZoneSettings>(ctx.platform, ctx.settings, true) else {
            return Vec::new();
        };
        match self.backend_available(s.backend.value) {
            Ok(()) => Vec::new(),
            Err(e) => vec![ctx.platform.diagnostic(s.backend.start, e)],
        }
    }

    fn validate(&self, ctx: &ValidateCtx<'_>) -> Result<Validated, Vec<gp_core::Diagnostic>> {
        let s: ZoneSettings = typed_settings(ctx.platform, ctx.settings, true)?;
        let p = ctx.platform;
        let mut problems = Vec::new();
        if ctx.component.plane.value != gp_core::Plane::Foundational {
            problems.push(p.diagnostic(
                ctx.component.plane.start,
                "a dns component holds a zone and is foundational; components get records by serving `hosts` and needing it",
            ));
        }
        match s.backend.value {
            BackendKind::Rfc2136 => {
                if s.server.is_none() {
                    problems.push(p.diagnostic(
                        s.backend.start,
                        "the rfc2136 backend needs `server: HOST:PORT`",
                    ));
                }
                match &s.tsig {
                    None => problems.push(p.diagnostic(
                        s.backend.start,
                        "the rfc2136 backend needs `tsig: {keyName, secret}`",
                    )),
                    Some(t) if t.secret.is_none() && t.secret_env.is_none() => {
                        problems.push(p.diagnostic(
                            s.backend.start,
                            "the TSIG key needs `secret` (a secret path) or `secretEnv`",
                        ))
                    }
                    _ => {}
                }
            }
            BackendKind::Route53 => {
                if let Some(r) = s.requests_per_second
                    && !(0.1..=100.0).contains(&r)
                {
                    problems.push(p.diagnostic(
                        s.backend.start,
                        "requestsPerSecond must lie between 0.1 and 100",
                    ));
                }
            }
            _ => {}
        }
        if let Some(z) = &s.zone
            && let Err(e) = gp_core::names::check_name(&z.value)
        {
            problems.push(p.diagnostic(z.start, format!("invalid zone: {e}")));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Validated {
            outputs: Some(
                [
                    "backend",
                    "zone",
                    "file",
                    "server",
                    "keyName",
                    "keySecret",
                    "keyEnv",
                    "ttl",
                    "policy",
                    "onConflict",
                    "nameserver",
                    "hostedZoneId",
                    "region",
                    "requestsPerSecond",
                    "syncTimeout",
                ]
                .map(String::from)
                .to_vec(),
            ),
            resources: Vec::new(),
            resource_outputs: None,
            owned: Vec::new(),
        })
    }

    fn observe(&self, ctx: &ComponentCtx<'_>) -> Result<Observation, DriverError> {
        let s: ZoneSettings = gp_driver::settings_at_apply(ctx)?;
        let outputs = self.zone_outputs(ctx, &s);
        let backend = self.backend(&outputs)?;
        let present = match s.backend.value {
            BackendKind::Zonefile => {
                PathBuf::from(outputs["file"].as_str().unwrap_or_default()).exists()
            }
            _ => backend.list().is_ok(),
        };
        Ok(if present {
            Observation::present(Some(ComponentOutputs {
                values: outputs,
                resources: BTreeMap::new(),
            }))
        } else {
            Observation::absent()
        })
    }

    fn apply(&self, ctx: &ComponentCtx<'_>) -> Result<Applied, DriverError> {
        let s: ZoneSettings = gp_driver::settings_at_apply(ctx)?;
        let outputs = self.zone_outputs(ctx, &s);
        let mut counts = Counts::default();
        match s.backend.value {
            BackendKind::Zonefile => {
                let file = PathBuf::from(outputs["file"].as_str().unwrap_or_default());
                let zf = zonefile::ZoneFile::new(
                    &file,
                    outputs["zone"].as_str().unwrap_or_default(),
                    outputs["nameserver"].as_str().unwrap_or("127.0.0.1"),
                    ttl(&outputs),
                );
                let r = ResourceRef::new("zone-file", file.display().to_string())
                    .with_data(serde_json::json!({"file": file}));
                if !zf.exists() {
                    ctx.recorder
                        .journalled(Action::Create, &r, || zf.create())?;
                    counts.added += 1;
                } else if ctx.last.is_none() && !ctx.recorder.owns(&r) {
                    // A zone file that was there before goldenpath: taken
                    // over, and kept by teardown.
                    ctx.recorder.journalled(Action::Adopt, &r, || Ok(()))?;
                }
            }
            _ => {
                // A zone on a server goldenpath does not run: check that it
                // answers with this key, and adopt it.
                let backend = self.backend(&outputs)?;
                backend.list()?;
                if ctx.last.is_none() {
                    let r = ResourceRef::new("zone", outputs["zone"].as_str().unwrap_or_default());
                    ctx.recorder.journalled(Action::Adopt, &r, || Ok(()))?;
                }
            }
        }
        Ok(Applied {
            outputs: ComponentOutputs {
                values: outputs,
                resources: BTreeMap::new(),
            },
            counts,
        })
    }

    fn destroy(&self, ctx: &ComponentCtx<'_>, r: &ResourceRef) -> Result<(), DriverError> {
        match r.kind.as_str() {
            "zone-file" => {
                let file = self.own_zone_file(ctx, r)?;
                zonefile::ZoneFile::new(&file, "", "", 300).remove()
            }
            // One record is a batch of one.
            "record" => self.destroy_records(ctx, &[r]),
            "zone" => Ok(()),
            other => Err(DriverError::refused(format!(
                "the journal names a `{other}` under `{}`, a kind the dns driver never creates; nothing was removed",
                ctx.name()
            ))),
        }
    }

    fn resource_kinds(&self) -> &'static [&'static str] {
        &["zone-file", "zone", "record"]
    }

    fn exists(&self, ctx: &ComponentCtx<'_>, r: &ResourceRef) -> Result<Existence, DriverError> {
        match r.kind.as_str() {
            "zone-file" => {
                let file = self.own_zone_file(ctx, r)?;
                Ok(if file.exists() {
                    Existence::Exists
                } else {
                    Existence::Gone
                })
            }
            "record" => {
                let (backend, fqdn, rtype, txt_name, txt_value) = self.record_parts(ctx, r)?;
                let current = match backend.list() {
                    Ok(c) => c,
                    Err(e) if e.kind == gp_driver::ErrorKind::NotFound => {
                        return Ok(Existence::Gone);
                    }
                    Err(e) => return Err(e),
                };
                let owner = model::parse_ownership(&txt_value)
                    .map(|o| o.owner)
                    .unwrap_or_default();
                Ok(
                    if model::is_ours(
                        &fqdn,
                        &rtype,
                        &txt_name,
                        &model::Zone::new(&current),
                        &owner,
                    ) {
                        Existence::Exists
                    } else {
                        Existence::Gone
                    },
                )
            }
            _ => Ok(Existence::Unknown),
        }
    }

    /// For a zone: every record with its owner (from the ownership TXTs).
    fn inventory(&self, ctx: &ComponentCtx<'_>) -> Result<Vec<serde_json::Value>, DriverError> {
        let s: ZoneSettings = gp_driver::settings_at_apply(ctx)?;
        let outputs = self.zone_outputs(ctx, &s);
        let backend = self.backend(&outputs)?;
        let zone = match backend.list() {
            Ok(z) => z,
            Err(e) if e.kind == gp_driver::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(zone
            .iter()
            .filter(|r| !matches!(r.rtype.as_str(), "SOA" | "NS"))
            .map(|r| {
                let owner = if r.rtype == "TXT" {
                    model::parse_ownership(&r.value).map(|o| o.owner)
                } else {
                    let rtype = match r.rtype.as_str() {
                        "A" => gp_core::RecordType::A,
                        "AAAA" => gp_core::RecordType::Aaaa,
                        _ => gp_core::RecordType::Cname,
                    };
                    let txt_name = ctx.contract.txt_owner_name(&r.name, rtype);
                    zone.iter()
                        .filter(|t| t.rtype == "TXT" && t.name == txt_name)
                        .find_map(|t| model::parse_ownership(&t.value))
                        .map(|o| o.owner)
                };
                serde_json::json!({
                    "name": r.name, "type": r.rtype, "ttl": r.ttl, "value": r.value,
                    "owner": owner,
                    // An ownership record (a TXT naming its owner) rather
                    // than a record owned.
                    "ownership": r.rtype == "TXT" && owner.is_some(),
                })
            })
            .collect())
    }

    fn destroy_many(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[&ResourceRef],
    ) -> Vec<Result<(), DriverError>> {
        let mut results: Vec<Option<Result<(), DriverError>>> = vec![None; resources.len()];
        for (_, idx) in by_zone(resources) {
            if resources[idx[0]].kind != "record" {
                for i in idx {
                    results[i] = Some(self.destroy(ctx, resources[i]));
                }
                continue;
            }
            let group: Vec<&ResourceRef> = idx.iter().map(|&i| resources[i]).collect();
            let r = self.destroy_records(ctx, &group);
            for i in idx {
                results[i] = Some(r.clone());
            }
        }
        results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
    }

    /// One zone's records go by the batches the server takes, each
    /// journalled beside the exchange before it; anything else as every
    /// driver does.
    fn destroy_many_journalled(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[&ResourceRef],
        journal: &dyn gp_driver::DestroyJournal,
    ) -> Vec<Result<(), DriverError>> {
        if resources.iter().all(|r| r.kind == "record") && by_zone(resources).len() == 1 {
            return self.destroy_records_journalled(ctx, resources, journal);
        }
        gp_driver::destroy_journalled_whole(self, ctx, resources, journal)
    }

    fn exists_many(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[&ResourceRef],
    ) -> Vec<Result<Existence, DriverError>> {
        let mut results: Vec<Option<Result<Existence, DriverError>>> = vec![None; resources.len()];
        for (_, idx) in by_zone(resources) {
            if resources[idx[0]].kind != "record" {
                for i in idx {
                    results[i] = Some(self.exists(ctx, resources[i]));
                }
                continue;
            }
            let current = self
                .record_parts(ctx, resources[idx[0]])
                .and_then(|(b, ..)| match b.list() {
                    Err(e) if e.kind == gp_driver::ErrorKind::NotFound => Ok(Vec::new()),
                    other => other,
                });
            // One read of the zone, indexed once, for every record of it.
            let index = current.as_ref().ok().map(|c| model::Zone::new(c));
            for i in idx {
                let r = &resources[i];
                results[i] = Some(match (&current, &index) {
                    (Err(e), _) => Err(e.clone()),
                    (Ok(_), None) => Ok(Existence::Unknown),
                    (Ok(_), Some(zone)) => Ok({
                        let s = |k: &str| teardown::field(r, k);
                        let owner = model::parse_ownership(&s("txtValue"))
                            .map(|o| o.owner)
                            .unwrap_or_default();
                        if model::is_ours(&s("fqdn"), &s("type"), &s("txtName"), zone, &owner) {
                            Existence::Exists
                        } else {
                            Existence::Gone
                        }
                    }),
                });
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Ok(Existence::Unknown)))
            .collect()
    }
}
