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
use gp_driver::{
    Action, Applied, ComponentCtx, ComponentOutputs, Counts, Driver, DriverError, Existence,
    Observation, Outputs, Presence, ResourceRef, ValidateCtx, Validated, typed_settings,
};
use gp_driver_secrets::SecretStore;
use serde::{Deserialize, Serialize};

pub mod model;
pub mod rfc2136;
pub mod zonefile;

use model::{Change, Decision, Desired, Rr};

/// A place records live.
pub trait Backend: Send + Sync {
    /// Every record of the zone.
    fn list(&self) -> Result<Vec<Rr>, DriverError>;
    /// Applies changes atomically (all or none), checking prerequisites.
    fn apply(&self, changes: &[Change]) -> Result<(), DriverError>;
    /// For messages.
    fn describe(&self) -> String;
}

/// Where the zone is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// An RFC 1035 master file in the state directory (the default).
    Zonefile,
    /// RFC 2136 dynamic update with TSIG.
    Rfc2136,
    /// AWS Route 53.
    Route53,
}

/// Whether goldenpath deletes records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Create, update and delete its own records.
    #[default]
    Sync,
    /// Create and update, never delete.
    UpsertOnly,
}

/// What to do about a record someone else owns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnConflict {
    /// Refuse the apply (exit 3) before changing anything.
    #[default]
    Fail,
    /// Leave it and apply the rest.
    Skip,
}

/// The TSIG key for RFC 2136.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TsigSettings {
    /// The key's name as the server knows it.
    pub key_name: String,
    /// A secret holding the base64 key (`{"secret": ...}` or the text).
    #[serde(default)]
    pub secret: Option<String>,
    /// Or an environment variable holding it.
    #[serde(default)]
    pub secret_env: Option<String>,
}

/// Settings of the zone component.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ZoneSettings {
    /// Where the zone is kept.
    #[serde(default = "zonefile")]
    pub backend: Spanned<BackendKind>,
    /// The zone (default: the platform's).
    #[serde(default)]
    pub zone: Option<Spanned<String>>,
    /// `host:port` of the RFC 2136 server.
    #[serde(default)]
    pub server: Option<Spanned<String>>,
    /// The TSIG key.
    #[serde(default)]
    pub tsig: Option<TsigSettings>,
    /// Record TTL (default 300).
    #[serde(default)]
    pub ttl: Option<u32>,
    /// `sync` or `upsert-only`.
    #[serde(default)]
    pub policy: Policy,
    /// `fail` or `skip`.
    #[serde(default)]
    pub on_conflict: OnConflict,
    /// Address of the zone file's nameserver (default 127.0.0.1).
    #[serde(default)]
    pub nameserver: Option<String>,
    /// The zone file (default `{state}/dns/{zone}.zone`).
    #[serde(default)]
    pub file: Option<String>,
    /// Route 53 hosted zone.
    #[serde(default)]
    pub hosted_zone_id: Option<String>,
}

fn zonefile() -> Spanned<BackendKind> {
    Spanned::unpositioned(BackendKind::Zonefile)
}

/// One host record the engine asks for.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RecordSpec {
    /// The host relative to the deployment's suffix.
    pub name: String,
    /// The full name.
    pub fqdn: String,
    /// `A`, `AAAA` or `CNAME`.
    #[serde(rename = "type")]
    pub rtype: RecordType,
    /// Address or target name.
    pub target: String,
}

/// The settings the engine passes for a component's host records.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RecordsSettings {
    /// The zone component (one the component needs).
    pub zone: String,
    /// The records.
    pub records: Vec<RecordSpec>,
}

/// The driver.
pub struct DnsDriver {
    store: Arc<dyn SecretStore>,
}

impl DnsDriver {
    /// A driver that reads TSIG keys from `store`.
    pub fn new(store: Arc<dyn SecretStore>) -> Self {
        Self { store }
    }

    /// The backend described by a zone component's outputs.
    pub fn backend(&self, zone: &Outputs) -> Result<Box<dyn Backend>, DriverError> {
        let s = |k: &str| {
            zone.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let ttl = zone.get("ttl").and_then(|v| v.as_u64()).unwrap_or(300) as u32;
        match s("backend").as_str() {
            "zonefile" => Ok(Box::new(zonefile::ZoneFile::new(
                &PathBuf::from(s("file")),
                &s("zone"),
                &s("nameserver"),
                ttl,
            ))),
            "rfc2136" => {
                let key = match (s("keySecret"), s("keyEnv")) {
                    (path, _) if !path.is_empty() => {
                        let stored = self.store.get(&path)?.ok_or_else(|| {
                            DriverError::configuration(format!("the TSIG key secret {path} does not exist"))
                                .with_hint(format!("goldenpath secret put {path} < key.json   ({{\"secret\": \"BASE64\"}})"))
                        })?;
                        match stored.json().and_then(|m| {
                            m.get("secret").and_then(|v| v.as_str()).map(str::to_string)
                        }) {
                            Some(k) => Secret::new(k),
                            None => stored.value,
                        }
                    }
                    (_, var) if !var.is_empty() => {
                        Secret::new(std::env::var(&var).map_err(|_| {
                            DriverError::configuration(format!(
                                "the environment variable {var} (the TSIG key) is not set"
                            ))
                        })?)
                    }
                    _ => {
                        return Err(DriverError::configuration(
                            "no TSIG key: set tsig.secret or tsig.secretEnv",
                        ));
                    }
                };
                Ok(Box::new(rfc2136::Rfc2136::new(
                    &s("server"),
                    &s("zone"),
                    &s("keyName"),
                    &key,
                )?))
            }
            "route53" => Err(DriverError::configuration(
                "the Route 53 backend is not part of this build of goldenpath; use zonefile or rfc2136",
            )),
            other => Err(DriverError::configuration(format!(
                "unknown DNS backend `{other}`"
            ))),
        }
    }

    fn zone_outputs(&self, ctx: &ComponentCtx<'_>, s: &ZoneSettings) -> Outputs {
        let zone = s
            .zone
            .as_ref()
            .map(|z| z.value.clone())
            .unwrap_or_else(|| ctx.platform.zone().to_string());
        let file = s
            .file
            .as_ref()
            .map(|f| ctx.platform.base_dir().join(f))
            .unwrap_or_else(|| ctx.state_dir.join("dns").join(format!("{zone}.zone")));
        let file = if file.is_absolute() {
            file
        } else {
            std::env::current_dir()
                .map(|d| d.join(&file))
                .unwrap_or(file)
        };
        let kind = match s.backend.value {
            BackendKind::Zonefile => "zonefile",
            BackendKind::Rfc2136 => "rfc2136",
            BackendKind::Route53 => "route53",
        };
        let tsig = s.tsig.as_ref();
        BTreeMap::from([
            ("backend".to_string(), serde_json::json!(kind)),
            ("zone".to_string(), serde_json::json!(zone)),
            (
                "file".to_string(),
                serde_json::json!(if s.backend.value == BackendKind::Zonefile {
                    file.display().to_string()
                } else {
                    String::new()
                }),
            ),
            (
                "server".to_string(),
                serde_json::json!(
                    s.server
                        .as_ref()
                        .map(|x| x.value.clone())
                        .unwrap_or_default()
                ),
            ),
            (
                "keyName".to_string(),
                serde_json::json!(tsig.map(|t| t.key_name.clone()).unwrap_or_default()),
            ),
            (
                "keySecret".to_string(),
                serde_json::json!(tsig.and_then(|t| t.secret.clone()).unwrap_or_default()),
            ),
            (
                "keyEnv".to_string(),
                serde_json::json!(tsig.and_then(|t| t.secret_env.clone()).unwrap_or_default()),
            ),
            ("ttl".to_string(), serde_json::json!(s.ttl.unwrap_or(300))),
            (
                "policy".to_string(),
                serde_json::to_value(s.policy).unwrap_or_default(),
            ),
            (
                "onConflict".to_string(),
                serde_json::to_value(s.on_conflict).unwrap_or_default(),
            ),
            (
                "nameserver".to_string(),
                serde_json::json!(s.nameserver.clone().unwrap_or_else(|| "127.0.0.1".into())),
            ),
        ])
    }

    fn is_records(ctx_settings: &gp_core::yaml::Node) -> bool {
        ctx_settings.get("records").is_some()
    }

    /// What the engine's records for a component would do, without doing it.
    pub fn plan_records(
        &self,
        ctx: &ComponentCtx<'_>,
    ) -> Result<Vec<(Desired, Decision)>, DriverError> {
        let (s, zone) = self.records_settings(ctx)?;
        let backend = self.backend(&zone)?;
        let current = backend.list()?;
        let owner = ctx.contract.dns_owner_id();
        let desired = desired(ctx, &s, &zone)?;
        Ok(desired
            .into_iter()
            .map(|d| {
                let decision = model::decide(&d, &current, &owner);
                (d, decision)
            })
            .collect())
    }

    fn records_settings(
        &self,
        ctx: &ComponentCtx<'_>,
    ) -> Result<(RecordsSettings, Outputs), DriverError> {
        let s: RecordsSettings = gp_core::yaml::from_node(ctx.settings).map_err(|e| {
            DriverError::configuration(format!("invalid record settings: {}", e.message))
        })?;
        let zone = ctx
            .inputs
            .get(&s.zone)
            .map(|o| o.values.clone())
            .ok_or_else(|| {
                DriverError::configuration(format!(
                    "the zone `{}` has not published its outputs",
                    s.zone
                ))
            })?;
        Ok((s, zone))
    }

    fn apply_records(&self, ctx: &ComponentCtx<'_>) -> Result<Applied, DriverError> {
        let (s, zone) = self.records_settings(ctx)?;
        let backend = self.backend(&zone)?;
        let owner = ctx.contract.dns_owner_id();
        let wanted = desired(ctx, &s, &zone)?;
        let current = backend.list()?;
        let policy = zone
            .get("policy")
            .and_then(|p| p.as_str())
            .unwrap_or("sync");
        let skip_conflicts = zone.get("onConflict").and_then(|p| p.as_str()) == Some("skip");
        let mut conflicts = Vec::new();
        let mut planned: Vec<(Action, ResourceRef, Change)> = Vec::new();
        let mut outputs = ComponentOutputs::default();
        for (d, spec) in wanted.iter().zip(&s.records) {
            let resource = record_resource(d, &zone, policy);
            let record = Rr {
                name: d.fqdn.clone(),
                rtype: d.rtype.clone(),
                ttl: ttl(&zone),
                value: d.target.clone(),
            };
            let txt = txt_rr(d, &zone);
            match model::decide(d, &current, &owner) {
                Decision::Create => {
                    planned.push((Action::Create, resource, Change::Create { record, txt }))
                }
                Decision::Update(old) => planned.push((
                    Action::Update,
                    resource,
                    Change::Update {
                        old,
                        new: record,
                        txt,
                    },
                )),
                Decision::Unchanged => {}
                Decision::Conflict(why) => {
                    conflicts.push(why);
                    continue;
                }
            }
            // Keyed by full name: the engine rebuilds `last` from the
            // journal, which knows records by name.
            outputs.resources.insert(
                spec.fqdn.clone(),
                BTreeMap::from([
                    ("fqdn".to_string(), serde_json::json!(d.fqdn)),
                    ("type".to_string(), serde_json::json!(d.rtype)),
                    ("target".to_string(), serde_json::json!(d.target)),
                ]),
            );
        }
        if !conflicts.is_empty() {
            if skip_conflicts {
                for c in &conflicts {
                    ctx.recorder.log(&format!("dns conflict skipped: {c}"));
                }
            } else {
                return Err(DriverError::refused(format!("DNS conflict: {}", conflicts.join("; ")))
                    .with_hint("these records belong to someone else and are left alone; rename the host, or set onConflict: skip on the zone"));
            }
        }
        // Records this component published before and no longer wants.
        if policy == "sync"
            && let Some(last) = ctx.last
        {
            for (name, old) in &last.resources {
                if outputs.resources.contains_key(name) || s.records.iter().any(|r| &r.fqdn == name)
                {
                    continue;
                }
                let fqdn = old
                    .get("fqdn")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                let rtype = old
                    .get("type")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                let Ok(rt) = serde_json::from_value::<RecordType>(serde_json::json!(rtype)) else {
                    continue;
                };
                let d = Desired {
                    txt_name: ctx.contract.txt_owner_name(&fqdn, rt),
                    txt_value: ctx.contract.txt_owner_value(ctx.name()),
                    fqdn: fqdn.clone(),
                    rtype: rtype.clone(),
                    target: String::new(),
                };
                if model::is_ours(&fqdn, &rtype, &d.txt_name, &current, &owner) {
                    let records: Vec<Rr> = current
                        .iter()
                        .filter(|r| r.name == fqdn && r.rtype == rtype)
                        .cloned()
                        .collect();
                    let txt = txt_rr(&d, &zone);
                    planned.push((
                        Action::Destroy,
                        record_resource(&d, &zone, policy),
                        Change::Delete { records, txt },
                    ));
                }
            }
        }
        let mut ids = Vec::new();
        for (action, resource, _) in &planned {
            ids.push(ctx.recorder.before(*action, resource)?);
        }
        let changes: Vec<Change> = planned.iter().map(|(_, _, c)| c.clone()).collect();
        let phase = ctx.recorder.phase_start(&format!("dns:{}", ctx.name()));
        let result = backend.apply(&changes);
        ctx.recorder
            .phase_end(phase, if result.is_ok() { 0 } else { 1 }, None, None);
        if let Err(e) = result {
            for id in &ids {
                ctx.recorder.failed(id, &e.message);
            }
            return Err(e);
        }
        for id in &ids {
            ctx.recorder.after(id, None)?;
        }
        let counts = Counts {
            added: planned.iter().filter(|p| p.0 == Action::Create).count() as i64,
            changed: planned.iter().filter(|p| p.0 == Action::Update).count() as i64,
            destroyed: planned.iter().filter(|p| p.0 == Action::Destroy).count() as i64,
        };
        Ok(Applied { outputs, counts })
    }
}

fn ttl(zone: &Outputs) -> u32 {
    zone.get("ttl").and_then(|v| v.as_u64()).unwrap_or(300) as u32
}

fn txt_rr(d: &Desired, zone: &Outputs) -> Rr {
    Rr {
        name: d.txt_name.clone(),
        rtype: "TXT".into(),
        ttl: ttl(zone),
        value: d.txt_value.clone(),
    }
}

fn record_resource(d: &Desired, zone: &Outputs, policy: &str) -> ResourceRef {
    ResourceRef::new("record", format!("{} {}", d.fqdn, d.rtype)).with_data(serde_json::json!({
        "fqdn": d.fqdn,
        "type": d.rtype,
        "txtName": d.txt_name,
        "txtValue": d.txt_value,
        "policy": policy,
        "zone": zone,
    }))
}

/// The records a component wants, checked against the contract again
/// before anything is sent.
fn desired(
    ctx: &ComponentCtx<'_>,
    s: &RecordsSettings,
    zone: &Outputs,
) -> Result<Vec<Desired>, DriverError> {
    let apex = zone
        .get("zone")
        .and_then(|z| z.as_str())
        .unwrap_or_default()
        .to_string();
    s.records
        .iter()
        .map(|r| {
            ctx.contract
                .check_host(&r.fqdn, r.rtype)
                .map_err(|e| DriverError::configuration(e.to_string()))?;
            if !gp_core::names::is_under(&r.fqdn, &apex) {
                return Err(DriverError::configuration(format!(
                    "{} is not in the zone {apex}",
                    r.fqdn
                )));
            }
            let target = match r.rtype {
                RecordType::Cname => r.target.trim_end_matches('.').to_lowercase(),
                _ => r.target.clone(),
            };
            let parsed = target.parse::<std::net::IpAddr>();
            let ok = match r.rtype {
                RecordType::A => matches!(parsed, Ok(std::net::IpAddr::V4(_))),
                RecordType::Aaaa => matches!(parsed, Ok(std::net::IpAddr::V6(_))),
                RecordType::Cname => gp_core::names::check_name(&target).is_ok(),
            };
            if !ok {
                return Err(DriverError::configuration(format!(
                    "the target `{target}` of {} is not valid for a {} record",
                    r.fqdn, r.rtype
                )));
            }
            Ok(Desired {
                txt_name: ctx.contract.txt_owner_name(&r.fqdn, r.rtype),
                txt_value: ctx.contract.txt_owner_value(ctx.name()),
                fqdn: r.fqdn.clone(),
                rtype: r.rtype.to_string(),
                target,
            })
        })
        .collect()
}

impl Driver for DnsDriver {
    fn name(&self) -> &'static str {
        "dns"
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
            BackendKind::Route53 if s.hosted_zone_id.is_none() => {
                problems.push(
                    p.diagnostic(s.backend.start, "the route53 backend needs `hostedZoneId`"),
                );
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
        if Self::is_records(ctx.settings) {
            let plan = self.plan_records(ctx)?;
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
            return Ok(Observation {
                presence: match present {
                    0 if drift.is_empty() => Presence::Absent,
                    n if n == plan.len() => Presence::Present,
                    _ => Presence::Partial,
                },
                drift,
                outputs: None,
                counts: None,
            });
        }
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
        if Self::is_records(ctx.settings) {
            return self.apply_records(ctx);
        }
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
                if !zf.exists() {
                    let r = ResourceRef::new("zone-file", file.display().to_string())
                        .with_data(serde_json::json!({"file": file}));
                    let id = ctx.recorder.before(Action::Create, &r)?;
                    match zf.create() {
                        Ok(_) => ctx.recorder.after(&id, None)?,
                        Err(e) => {
                            ctx.recorder.failed(&id, &e.message);
                            return Err(e);
                        }
                    }
                    counts.added += 1;
                }
            }
            _ => {
                // A zone on a server goldenpath does not run: check that it
                // answers with this key, and adopt it.
                let backend = self.backend(&outputs)?;
                backend.list()?;
                if ctx.last.is_none() {
                    let r = ResourceRef::new("zone", outputs["zone"].as_str().unwrap_or_default());
                    let id = ctx.recorder.before(Action::Adopt, &r)?;
                    ctx.recorder.after(&id, None)?;
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
            "record" => {
                if r.data.get("policy").and_then(|p| p.as_str()) == Some("upsert-only") {
                    // upsert-only never deletes; the orphan check will say so.
                    return Ok(());
                }
                let (backend, fqdn, rtype, txt_name, txt_value) = self.record_parts(ctx, r)?;
                let current = match backend.list() {
                    Ok(c) => c,
                    Err(e) if e.kind == gp_driver::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(e),
                };
                let owner = model::parse_ownership(&txt_value)
                    .map(|o| o.owner)
                    .unwrap_or_default();
                if !model::is_ours(&fqdn, &rtype, &txt_name, &current, &owner) {
                    return Ok(());
                }
                let records: Vec<Rr> = current
                    .iter()
                    .filter(|x| x.name == fqdn && x.rtype == rtype)
                    .cloned()
                    .collect();
                let ttl = records.first().map(|x| x.ttl).unwrap_or(300);
                let txt = current
                    .iter()
                    .find(|x| x.name == txt_name && x.rtype == "TXT" && x.value == txt_value)
                    .cloned()
                    .unwrap_or(Rr {
                        name: txt_name,
                        rtype: "TXT".into(),
                        ttl,
                        value: txt_value,
                    });
                backend.apply(&[Change::Delete { records, txt }])
            }
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
                    if model::is_ours(&fqdn, &rtype, &txt_name, &current, &owner) {
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
    /// For a component's host records: each record and what applying would
    /// do (`create`, `update`, `unchanged`, `conflict`).
    fn inventory(&self, ctx: &ComponentCtx<'_>) -> Result<Vec<serde_json::Value>, DriverError> {
        if Self::is_records(ctx.settings) {
            return Ok(self
                .plan_records(ctx)?
                .into_iter()
                .map(|(d, decision)| {
                    let (what, why) = match decision {
                        Decision::Create => ("create", String::new()),
                        Decision::Update(old) => (
                            "update",
                            format!(
                                "now {}",
                                old.iter()
                                    .map(|r| r.value.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ),
                        Decision::Unchanged => ("unchanged", String::new()),
                        Decision::Conflict(why) => ("conflict", why),
                    };
                    serde_json::json!({
                        "fqdn": d.fqdn, "type": d.rtype, "target": d.target,
                        "txt": d.txt_name, "action": what, "detail": why,
                    })
                })
                .collect());
        }
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
                    model::parse_ownership(&r.value).map(|o| format!("{} (ownership)", o.owner))
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
                    "owner": owner.unwrap_or_else(|| "-".into()),
                })
            })
            .collect())
    }

    fn destroy_many(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[ResourceRef],
    ) -> Vec<Result<(), DriverError>> {
        let mut results: Vec<Option<Result<(), DriverError>>> = vec![None; resources.len()];
        for (_, idx) in by_zone(resources) {
            if resources[idx[0]].kind != "record" {
                for i in idx {
                    results[i] = Some(self.destroy(ctx, &resources[i]));
                }
                continue;
            }
            let group: Vec<&ResourceRef> = idx.iter().map(|&i| &resources[i]).collect();
            let r = self.destroy_records(ctx, &group);
            for i in idx {
                results[i] = Some(r.clone());
            }
        }
        results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
    }

    fn exists_many(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[ResourceRef],
    ) -> Vec<Result<Existence, DriverError>> {
        let mut results: Vec<Option<Result<Existence, DriverError>>> = vec![None; resources.len()];
        for (_, idx) in by_zone(resources) {
            if resources[idx[0]].kind != "record" {
                for i in idx {
                    results[i] = Some(self.exists(ctx, &resources[i]));
                }
                continue;
            }
            let current = self
                .record_parts(ctx, &resources[idx[0]])
                .and_then(|(b, ..)| match b.list() {
                    Err(e) if e.kind == gp_driver::ErrorKind::NotFound => Ok(Vec::new()),
                    other => other,
                });
            for i in idx {
                let r = &resources[i];
                results[i] = Some(current.clone().map(|zone| {
                    let s = |k: &str| {
                        r.data
                            .get(k)
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string()
                    };
                    let owner = model::parse_ownership(&s("txtValue"))
                        .map(|o| o.owner)
                        .unwrap_or_default();
                    if model::is_ours(&s("fqdn"), &s("type"), &s("txtName"), &zone, &owner) {
                        Existence::Exists
                    } else {
                        Existence::Gone
                    }
                }));
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Ok(Existence::Unknown)))
            .collect()
    }
}

type RecordParts = (Box<dyn Backend>, String, String, String, String);

/// Records grouped by the zone they live in, so one transfer and one
/// batch of updates serve them all.
fn by_zone(resources: &[ResourceRef]) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let key = if r.kind == "record" {
            r.data
                .get("zone")
                .map(|z| z.to_string())
                .unwrap_or_default()
        } else {
            format!("other-{i}")
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    groups
}

impl DnsDriver {
    /// Deletes many records with one zone read and batched updates.
    fn destroy_records(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[&ResourceRef],
    ) -> Result<(), DriverError> {
        let Some(first) = resources.first() else {
            return Ok(());
        };
        for r in resources {
            self.record_parts(ctx, r)?;
        }
        let (backend, ..) = self.record_parts(ctx, first)?;
        let current = match backend.list() {
            Ok(c) => c,
            Err(e) if e.kind == gp_driver::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut changes = Vec::new();
        for r in resources {
            if r.data.get("policy").and_then(|p| p.as_str()) == Some("upsert-only") {
                continue;
            }
            let s = |k: &str| {
                r.data
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let (fqdn, rtype, txt_name, txt_value) =
                (s("fqdn"), s("type"), s("txtName"), s("txtValue"));
            let owner = model::parse_ownership(&txt_value)
                .map(|o| o.owner)
                .unwrap_or_default();
            if !model::is_ours(&fqdn, &rtype, &txt_name, &current, &owner) {
                continue;
            }
            let records: Vec<Rr> = current
                .iter()
                .filter(|x| x.name == fqdn && x.rtype == rtype)
                .cloned()
                .collect();
            let ttl = records.first().map(|x| x.ttl).unwrap_or(300);
            let txt = current
                .iter()
                .find(|x| x.name == txt_name && x.rtype == "TXT" && x.value == txt_value)
                .cloned()
                .unwrap_or(Rr {
                    name: txt_name,
                    rtype: "TXT".into(),
                    ttl,
                    value: txt_value,
                });
            changes.push(Change::Delete { records, txt });
        }
        backend.apply(&changes)
    }

    /// The zone and record a journalled record stands for. The zone — which
    /// backend, server, file and key — is the zone component's as the
    /// spec makes it now (from the component's inputs), never the copy in
    /// the journal row; the record must carry this deployment's ownership
    /// and, in a build, lie under the build's suffix. Anything else is
    /// refused before a change is sent.
    fn record_parts(
        &self,
        ctx: &ComponentCtx<'_>,
        r: &ResourceRef,
    ) -> Result<RecordParts, DriverError> {
        let refuse = |why: &str| {
            DriverError::refused(format!(
                "the journal names {r} under `{}`, which {why}; nothing was sent",
                ctx.name()
            ))
        };
        if r.kind != "record" {
            return Err(refuse("is not a record"));
        }
        let s = |k: &str| {
            r.data
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let apex = r
            .data
            .get("zone")
            .and_then(|z| z.get("zone"))
            .and_then(|z| z.as_str())
            .unwrap_or_default()
            .to_string();
        let zone = ctx
            .inputs
            .values()
            .map(|o| &o.values)
            .find(|v| {
                v.get("backend").is_some() && v.get("zone").and_then(|z| z.as_str()) == Some(&apex)
            })
            .cloned()
            .ok_or_else(|| {
                DriverError::permanent(format!(
                    "the zone {apex} of {r} is not among the deployed inputs of `{}`",
                    ctx.name()
                ))
                .with_hint("deploy the zone's component (the foundational plane) first")
            })?;
        let fqdn = s("fqdn");
        if !gp_core::names::is_under(&fqdn, &apex) {
            return Err(refuse("lies outside its zone"));
        }
        if ctx.contract.build_id().is_some()
            && ctx
                .contract
                .check_host(&fqdn, gp_core::RecordType::for_type_name(&s("type")))
                .is_err()
        {
            return Err(refuse("lies outside the build's own suffix"));
        }
        let owner = model::parse_ownership(&s("txtValue"))
            .map(|o| o.owner)
            .unwrap_or_default();
        if owner != ctx.contract.dns_owner_id() {
            return Err(refuse("is not owned by this deployment"));
        }
        Ok((
            self.backend(&zone)?,
            fqdn,
            s("type"),
            s("txtName"),
            s("txtValue"),
        ))
    }

    /// The zone file a journalled `zone-file` stands for: the one the
    /// component's settings name now.
    fn own_zone_file(
        &self,
        ctx: &ComponentCtx<'_>,
        r: &ResourceRef,
    ) -> Result<PathBuf, DriverError> {
        let settings: ZoneSettings = gp_driver::settings_at_apply(ctx)?;
        let outputs = self.zone_outputs(ctx, &settings);
        let file = outputs
            .get("file")
            .and_then(|f| f.as_str())
            .unwrap_or_default()
            .to_string();
        if file.is_empty() || r.id != file {
            return Err(DriverError::refused(format!(
                "the journal names zone file `{}` under `{}`, but its zone file is `{file}`; nothing was removed",
                r.id,
                ctx.name()
            )));
        }
        Ok(PathBuf::from(file))
    }
}
