//! The zone's backend and a component's host records: what they should be,
//! what the zone holds, and the changes that make it so.

use super::*;

impl DnsDriver {
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
            "route53" => match &self.route53 {
                Some(make) => make(zone),
                None => Err(DriverError::configuration(
                    self.backend_available(BackendKind::Route53)
                        .err()
                        .unwrap_or_default(),
                )),
            },
            other => Err(DriverError::configuration(format!(
                "unknown DNS backend `{other}`"
            ))),
        }
    }

    pub(crate) fn zone_outputs(&self, ctx: &ComponentCtx<'_>, s: &ZoneSettings) -> Outputs {
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
            (
                "hostedZoneId".to_string(),
                serde_json::json!(s.hosted_zone_id.clone().unwrap_or_default()),
            ),
            (
                "region".to_string(),
                serde_json::json!(s.region.clone().unwrap_or_default()),
            ),
            (
                "requestsPerSecond".to_string(),
                serde_json::json!(s.requests_per_second.unwrap_or(5.0)),
            ),
            (
                "syncTimeout".to_string(),
                serde_json::json!(s.sync_timeout.unwrap_or(300)),
            ),
        ])
    }

    /// What the engine's records for a component would do, without doing it.
    pub fn plan_records(
        &self,
        ctx: &ComponentCtx<'_>,
        s: &RecordsSettings,
    ) -> Result<Vec<(Desired, Decision)>, DriverError> {
        self.plan_records_read(ctx, s, None)
    }

    /// [`Self::plan_records`], with what the zone holds taken from `read`
    /// when it was started for this zone ([`Self::read_zone_ahead`]); the
    /// zone is read here otherwise.
    pub(crate) fn plan_records_read(
        &self,
        ctx: &ComponentCtx<'_>,
        s: &RecordsSettings,
        read: Option<ZoneRead>,
    ) -> Result<Vec<(Desired, Decision)>, DriverError> {
        let zone = self.records_zone(ctx, s)?;
        let current = match read.and_then(ZoneRead::take::<ReadAhead>) {
            Some(ahead) if ahead.zone == zone => ahead.records()?,
            _ => self.backend(&zone)?.list()?,
        };
        let owner = ctx.contract.dns_owner_id();
        let desired = desired(ctx, s, &zone)?;
        let index = model::Zone::new(&current);
        Ok(desired
            .into_iter()
            .map(|d| {
                let decision = model::decide(&d, &index, &owner);
                (d, decision)
            })
            .collect())
    }

    /// Starts listing the zone whose component published `zone` on a
    /// thread of its own ([`gp_driver::HostPublisher::read_ahead`]). The
    /// backend is made here (its key read from the store); an error making
    /// it is the read's, given to the observation that takes it.
    pub(crate) fn read_zone_ahead(&self, zone: &Outputs) -> ZoneRead {
        let read = self.backend(zone).and_then(|backend| {
            std::thread::Builder::new()
                .name("zone-read".into())
                .spawn(move || backend.list())
                .map_err(|e| DriverError::retryable(format!("cannot start reading the zone: {e}")))
        });
        ZoneRead::new(ReadAhead {
            zone: zone.clone(),
            read,
        })
    }

    /// The outputs of the zone the records go to (a component the
    /// publishing component needs).
    pub(crate) fn records_zone(
        &self,
        ctx: &ComponentCtx<'_>,
        s: &RecordsSettings,
    ) -> Result<Outputs, DriverError> {
        ctx.inputs
            .get(&s.zone)
            .map(|o| o.values.clone())
            .ok_or_else(|| {
                DriverError::configuration(format!(
                    "the zone `{}` has not published its outputs",
                    s.zone
                ))
            })
    }

    pub(crate) fn apply_records(
        &self,
        ctx: &ComponentCtx<'_>,
        s: &RecordsSettings,
    ) -> Result<Applied, DriverError> {
        let zone = self.records_zone(ctx, s)?;
        let backend = self.backend(&zone)?;
        let owner = ctx.contract.dns_owner_id();
        let wanted = desired(ctx, s, &zone)?;
        let current = backend.list()?;
        let index = model::Zone::new(&current);
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
            match model::decide(d, &index, &owner) {
                Decision::Create => {
                    let legacy = if ctx.platform.spec.dns.txt_legacy {
                        model::legacy_to_write(d, &index, ttl(&zone))
                    } else {
                        None
                    };
                    planned.push((
                        Action::Create,
                        resource,
                        Change::Create {
                            record,
                            txt,
                            legacy,
                        },
                    ))
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
                    legacy_txt_name: ctx.contract.legacy_txt_owner_name(&fqdn),
                    txt_value: ctx.contract.txt_owner_value(ctx.name()),
                    fqdn: fqdn.clone(),
                    rtype: rtype.clone(),
                    target: String::new(),
                };
                if model::is_ours(&fqdn, &rtype, &d.txt_name, &index, &owner) {
                    let records: Vec<Rr> = index
                        .at(&fqdn)
                        .filter(|r| r.rtype == rtype)
                        .cloned()
                        .collect();
                    let txt = txt_rr(&d, &zone);
                    let legacy = model::legacy_to_delete(
                        &d.legacy_txt_name,
                        &d.txt_name,
                        &index,
                        &d.txt_value,
                    );
                    planned.push((
                        Action::Destroy,
                        record_resource(&d, &zone, policy),
                        Change::Delete {
                            records,
                            txt,
                            legacy,
                        },
                    ));
                }
            }
        }
        let actions: Vec<(Action, &ResourceRef)> =
            planned.iter().map(|(a, r, _)| (*a, r)).collect();
        let changes: Vec<Change> = planned.iter().map(|(_, _, c)| c.clone()).collect();
        let phase = ctx.recorder.phase_start(&format!("dns:{}", ctx.name()));
        let result = send_journalled(
            ctx.recorder,
            backend.as_ref(),
            &actions,
            &changes,
            backend.batch().unwrap_or(usize::MAX),
        );
        ctx.recorder
            .phase_end(phase, if result.is_ok() { 0 } else { 1 }, None, None);
        result?;
        let counts = Counts {
            added: planned.iter().filter(|p| p.0 == Action::Create).count() as i64,
            changed: planned.iter().filter(|p| p.0 == Action::Update).count() as i64,
            destroyed: planned.iter().filter(|p| p.0 == Action::Destroy).count() as i64,
        };
        Ok(Applied { outputs, counts })
    }
}

pub(crate) fn ttl(zone: &Outputs) -> u32 {
    zone.get("ttl").and_then(|v| v.as_u64()).unwrap_or(300) as u32
}

pub(crate) fn txt_rr(d: &Desired, zone: &Outputs) -> Rr {
    Rr {
        name: d.txt_name.clone(),
        rtype: "TXT".into(),
        ttl: ttl(zone),
        value: d.txt_value.clone(),
    }
}

/// A record as the journal keeps it: its names, ownership and the zone's
/// apex. Nothing else of the zone (its backend, server and key are taken
/// from the spec when the record is removed, never from the row), so each
/// of a thousand rows stays short.
pub(crate) fn record_resource(d: &Desired, zone: &Outputs, policy: &str) -> ResourceRef {
    let apex = zone.get("zone").cloned().unwrap_or_default();
    ResourceRef::new("record", format!("{} {}", d.fqdn, d.rtype)).with_data(serde_json::json!({
        "fqdn": d.fqdn,
        "type": d.rtype,
        "txtName": d.txt_name,
        "txtValue": d.txt_value,
        "policy": policy,
        "zone": { "zone": apex },
    }))
}

/// The records a component wants, checked against the contract again
/// before anything is sent.
pub(crate) fn desired(
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
                legacy_txt_name: ctx.contract.legacy_txt_owner_name(&r.fqdn),
                txt_value: ctx.contract.txt_owner_value(ctx.name()),
                fqdn: r.fqdn.clone(),
                rtype: r.rtype.to_string(),
                target,
            })
        })
        .collect()
}

/// Whether this build of goldenpath can talk to `backend`; `Err` says why
/// not.
impl DnsDriver {
    pub(crate) fn backend_available(&self, backend: BackendKind) -> Result<(), String> {
        match backend {
            BackendKind::Route53 if self.route53.is_none() => Err(
                "the route53 backend is not part of this build of goldenpath (built without the `aws` feature); use zonefile or rfc2136"
                    .into(),
            ),
            _ => Ok(()),
        }
    }
}

/// Sends `changes` in batches of `batch`, each journalled before it is
/// sent and after the server took it. While a batch is on its way (the
/// server applying it), the previous batch's entries after and the next
/// batch's entries before are written as one transaction, so the journal
/// costs little more than the server's time and one write per batch.
/// No change is sent before its entry is written; a batch the server
/// refused is failed, with the batch journalled after it and never sent.
pub(crate) fn send_journalled(
    recorder: &dyn gp_driver::Recorder,
    backend: &dyn Backend,
    actions: &[(Action, &ResourceRef)],
    changes: &[Change],
    batch: usize,
) -> Result<(), DriverError> {
    let batch = batch.max(1);
    let chunks: Vec<(usize, usize)> = (0..changes.len())
        .step_by(batch)
        .map(|start| (start, (start + batch).min(changes.len())))
        .collect();
    let Some(&(s0, e0)) = chunks.first() else {
        return Ok(());
    };
    // The first batch is made ready (built and signed) beside its
    // before's write; nothing is sent until that write is done.
    let (current, first_ready) = std::thread::scope(|scope| {
        let preparing = scope.spawn(|| backend.prepare(&changes[s0..e0]));
        let written = recorder.before_many(&actions[s0..e0]);
        (written, preparing.join().ok())
    });
    let mut current = current?;
    let mut ready = first_ready;
    let mut done: Vec<gp_driver::ActionId> = Vec::new();
    for (k, &(start, end)) in chunks.iter().enumerate() {
        let this = ready
            .take()
            .unwrap_or_else(|| backend.prepare(&changes[start..end]));
        let (sent, journalled, prepared) = std::thread::scope(|scope| {
            let sending = scope.spawn(move || this.and_then(|send| send()));
            // Beside the exchange, one write: the last batch after and
            // the next before; then the next batch made ready, once its
            // before is written.
            let journalled = match chunks.get(k + 1) {
                Some(&(s, e)) => recorder
                    .after_and_before_many(&done, &actions[s..e])
                    .map(Some),
                None => recorder.after_many(&done).map(|()| None),
            };
            let prepared = match (&journalled, chunks.get(k + 1)) {
                (Ok(Some(_)), Some(&(s, e))) => Some(backend.prepare(&changes[s..e])),
                _ => None,
            };
            let sent = sending.join().unwrap_or_else(|_| {
                Err(DriverError::permanent(
                    "the DNS exchange stopped unexpectedly",
                ))
            });
            (sent, journalled, prepared)
        });
        ready = prepared;
        let finished = std::mem::take(&mut done);
        if let Err(e) = sent {
            for id in &current {
                recorder.failed(id, &e.message);
            }
            if let Ok(Some(ids)) = &journalled {
                for id in ids {
                    recorder.failed(
                        id,
                        &format!("not sent: an earlier batch failed: {}", e.message),
                    );
                }
            }
            journalled?;
            return Err(e);
        }
        match journalled {
            Ok(Some(ids)) => done = std::mem::replace(&mut current, ids),
            Ok(None) => done = std::mem::take(&mut current),
            Err(e) => {
                // Nothing of that write is there: the batches the server
                // took are journalled after, and nothing more is sent.
                let taken: Vec<gp_driver::ActionId> = finished.into_iter().chain(current).collect();
                recorder.after_many(&taken)?;
                return Err(e);
            }
        }
    }
    recorder.after_many(&done)
}

/// Sends `batches` (the indexes of the resources each destroys, and its
/// changes) in order through `backend`, journalled through `journal`
/// ([`send_journalled_with`]).
pub(crate) fn send_batches_journalled(
    backend: &dyn Backend,
    batches: &[(Vec<usize>, Vec<Change>)],
    journal: &dyn gp_driver::DestroyJournal,
    count: usize,
) -> Vec<Result<(), DriverError>> {
    let indexes: Vec<&[usize]> = batches.iter().map(|(i, _)| i.as_slice()).collect();
    let send = |k: usize| match batches.get(k) {
        Some((_, changes)) if !changes.is_empty() => backend.apply(changes),
        _ => Ok(()),
    };
    send_journalled_with(&indexes, &when_sent(&send), None, journal, count)
}

/// A batch's sending as a [`crate::Ready`] that does all of it when
/// called: nothing made ready ahead.
pub(crate) fn when_sent<'a>(
    send: &'a (dyn Fn(usize) -> Result<(), DriverError> + Sync),
) -> impl Fn(usize) -> Result<crate::Ready<'a>, DriverError> + Sync + 'a {
    move |k| Ok(Box::new(move || send(k)))
}

/// Sends batches in order, journalled through `journal`: the first
/// batch's destroys before anything is sent, and while batch k is on its
/// way (`send(k)`, on a thread of its own), batch k-1's after and batch
/// k+1's before as one write. When `send(k)` fails and `again` is given,
/// `again(k)` is the batch's second try, on this thread once that write
/// is done, and its result is the batch's. Nothing is sent for a destroy
/// not journalled before. One result per resource of `count` (`batches`
/// holds their indexes): `Ok` for the batches the server took; a refused
/// batch fails with the next one; once the journal refuses, nothing more
/// is sent.
pub(crate) fn send_journalled_with<'a>(
    batches: &[&[usize]],
    prepare: &(dyn Fn(usize) -> Result<crate::Ready<'a>, DriverError> + Sync),
    again: Option<&dyn Fn(usize) -> Result<(), DriverError>>,
    journal: &dyn gp_driver::DestroyJournal,
    count: usize,
) -> Vec<Result<(), DriverError>> {
    let mut results: Vec<Result<(), DriverError>> = vec![Ok(()); count];
    let fail_from = |results: &mut Vec<Result<(), DriverError>>, k: usize, e: &DriverError| {
        for (n, idx) in batches.iter().enumerate().skip(k) {
            let error = if n == k {
                e.clone()
            } else {
                DriverError::permanent(format!("not sent: an earlier batch failed: {}", e.message))
            };
            for &i in *idx {
                if let Some(slot) = results.get_mut(i) {
                    *slot = Err(error.clone());
                }
            }
        }
    };
    let Some(first) = batches.first() else {
        return results;
    };
    // The first batch is made ready beside its before's write; nothing
    // is sent until that write is done.
    let (written, first_ready) = std::thread::scope(|scope| {
        let preparing = scope.spawn(|| prepare(0));
        let written = journal.after_and_before(&[], first);
        (written, preparing.join().ok())
    });
    if let Err(e) = written {
        fail_from(&mut results, 0, &e);
        return results;
    }
    let mut done: &[usize] = &[];
    let mut ready = first_ready;
    for (k, idx) in batches.iter().enumerate() {
        let next: &[usize] = batches.get(k + 1).copied().unwrap_or(&[]);
        let this = ready.take().unwrap_or_else(|| prepare(k));
        let (sent, journalled, prepared) = std::thread::scope(|scope| {
            let sending = scope.spawn(move || this.and_then(|send| send()));
            // Beside the exchange, one write: the last batch after and the
            // next before; then the next batch made ready to send (built
            // and signed), once its before is written.
            let journalled = if done.is_empty() && next.is_empty() {
                Ok(())
            } else {
                journal.after_and_before(done, next)
            };
            let prepared = (journalled.is_ok() && k + 1 < batches.len()).then(|| prepare(k + 1));
            let sent = sending.join().unwrap_or_else(|_| {
                Err(DriverError::permanent(
                    "the DNS exchange stopped unexpectedly",
                ))
            });
            (sent, journalled, prepared)
        });
        ready = prepared;
        let sent = match (sent, again) {
            (Err(_), Some(again)) => again(k),
            (sent, _) => sent,
        };
        match (sent, journalled) {
            (Err(e), _) => {
                fail_from(&mut results, k, &e);
                return results;
            }
            (Ok(()), Err(e)) => {
                // Nothing of that write is there: the batches the server
                // took are journalled after, and nothing more is sent.
                let taken: Vec<usize> = done.iter().chain(idx.iter()).copied().collect();
                let _ = journal.after_and_before(&taken, &[]);
                fail_from(&mut results, k + 1, &e);
                return results;
            }
            (Ok(()), Ok(())) => done = idx,
        }
    }
    let _ = journal.after_and_before(done, &[]);
    results
}

/// A zone being listed on its own thread ([`DnsDriver::read_zone_ahead`]).
pub(crate) struct ReadAhead {
    /// The outputs of the zone component it was started for: an
    /// observation of another zone reads that zone itself.
    zone: Outputs,
    /// The listing thread, or why it could not start.
    read: Result<std::thread::JoinHandle<Result<Vec<Rr>, DriverError>>, DriverError>,
}

impl ReadAhead {
    /// What the zone held, or the read's error.
    fn records(self) -> Result<Vec<Rr>, DriverError> {
        self.read?
            .join()
            .unwrap_or_else(|_| Err(DriverError::permanent("reading the zone panicked")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gp_driver::conformance::MemoryRecorder;
    use std::sync::Mutex;

    /// A backend that takes every batch, or refuses the `refuse`-th call,
    /// and notes for each call which of its records were journalled
    /// before it was sent (the recorder's entries at that moment).
    struct Taking<'a> {
        recorder: &'a MemoryRecorder,
        refuse: Option<usize>,
        calls: Mutex<Vec<(Vec<String>, bool)>>,
    }

    impl Backend for Taking<'_> {
        fn list(&self) -> Result<Vec<Rr>, DriverError> {
            Ok(Vec::new())
        }
        fn apply(&self, changes: &[Change]) -> Result<(), DriverError> {
            let journalled: Vec<String> = self
                .recorder
                .actions
                .lock()
                .unwrap()
                .iter()
                .map(|a| a.resource.id.clone())
                .collect();
            let names: Vec<String> = changes
                .iter()
                .map(|c| match c {
                    Change::Create { record, .. } => record.name.clone(),
                    _ => String::new(),
                })
                .collect();
            let all_before = names.iter().all(|n| journalled.contains(n));
            let mut calls = self.calls.lock().unwrap();
            calls.push((names, all_before));
            if self.refuse == Some(calls.len()) {
                return Err(DriverError::refused("prerequisite failed"));
            }
            Ok(())
        }
        fn describe(&self) -> String {
            "a test backend".into()
        }
    }

    fn record(n: usize) -> (ResourceRef, Change) {
        let rr = |name: String, rtype: &str| Rr {
            name,
            rtype: rtype.into(),
            ttl: 300,
            value: "10.0.0.1".into(),
        };
        let name = format!("h{n}.example.test");
        (
            ResourceRef::new("record", &name),
            Change::Create {
                record: rr(name.clone(), "A"),
                txt: rr(format!("a-{name}"), "TXT"),
                legacy: None,
            },
        )
    }

    #[test]
    fn every_batch_is_journalled_before_it_is_sent_and_after_it_was_taken() {
        for (records, batch) in [(0, 3), (1, 3), (3, 3), (7, 3), (7, 1), (7, 100)] {
            let rec = MemoryRecorder::default();
            let backend = Taking {
                recorder: &rec,
                refuse: None,
                calls: Mutex::default(),
            };
            let parts: Vec<(ResourceRef, Change)> = (0..records).map(record).collect();
            let actions: Vec<(Action, &ResourceRef)> =
                parts.iter().map(|(r, _)| (Action::Create, r)).collect();
            let changes: Vec<Change> = parts.iter().map(|(_, c)| c.clone()).collect();
            send_journalled(&rec, &backend, &actions, &changes, batch).unwrap();
            let calls = backend.calls.lock().unwrap();
            assert_eq!(calls.len(), records.div_ceil(batch), "{records} by {batch}");
            assert!(calls.iter().all(|(_, before)| *before), "{calls:?}");
            let sent: Vec<String> = calls.iter().flat_map(|(n, _)| n.clone()).collect();
            let wanted: Vec<String> = parts.iter().map(|(r, _)| r.id.clone()).collect();
            assert_eq!(sent, wanted, "in order, each once");
            let journal = rec.actions.lock().unwrap();
            assert_eq!(journal.len(), records);
            assert!(journal.iter().all(|a| a.finished && !a.failed));
        }
    }

    /// A platform whose `web` publishes hosts in `dns-zone`, a zone file
    /// in `dir`; the zone's outputs, as its apply publishes them.
    fn zone_world(dir: &std::path::Path) -> (gp_core::Platform, Outputs) {
        let text = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: gp
domain: example.test
owner: team
environments:
  dev: {}
components:
  - name: dns-zone
    plane: foundational
    tier: 0
    driver: dns
    settings: { backend: zonefile }
  - name: web
    plane: disposable
    tier: 1
    driver: exec
    needs: [dns-zone]
    settings: { apply: 'true' }
";
        let platform =
            gp_core::Platform::from_source(std::path::Path::new("goldenpath.yaml"), text).unwrap();
        let file = dir.join("example.test.zone");
        let zone = Outputs::from([
            ("backend".to_string(), serde_json::json!("zonefile")),
            (
                "file".to_string(),
                serde_json::json!(file.to_str().unwrap()),
            ),
            ("zone".to_string(), serde_json::json!("example.test")),
            ("nameserver".to_string(), serde_json::json!("127.0.0.1")),
        ]);
        (platform, zone)
    }

    /// An `A` record of `fqdn` that no ownership record claims.
    fn unowned(fqdn: &str) -> Rr {
        Rr {
            name: fqdn.into(),
            rtype: "A".into(),
            ttl: 300,
            value: "10.9.9.9".into(),
        }
    }

    /// A read of `zone` whose thread gives `listed`.
    fn read_giving(zone: &Outputs, listed: Result<Vec<Rr>, DriverError>) -> ZoneRead {
        ZoneRead::new(ReadAhead {
            zone: zone.clone(),
            read: Ok(std::thread::spawn(move || listed)),
        })
    }

    #[test]
    fn an_observation_takes_a_read_ahead_only_of_its_own_zone() {
        use gp_driver::HostPublisher;
        let dir = tempfile::tempdir().unwrap();
        let (platform, zone) = zone_world(dir.path());
        let store: Arc<dyn SecretStore> =
            Arc::new(gp_driver::secrets::UnavailableStore::new("none"));
        let driver = DnsDriver::new(store);
        let build = gp_core::Deployment::Ephemeral("23-01-26-01".parse().unwrap());
        let contract = gp_core::Contract::new(&platform, "dev", build).unwrap();
        let fqdn = contract.hostname("backstage", RecordType::A).unwrap();
        let records = RecordsSettings {
            zone: "dns-zone".into(),
            records: vec![gp_driver::HostRecord {
                name: "backstage".into(),
                fqdn: fqdn.clone(),
                rtype: RecordType::A,
                target: "10.1.0.1".into(),
            }],
        };
        let settings = gp_core::yaml::Node::empty_map(Default::default());
        let inputs = BTreeMap::from([(
            "dns-zone".to_string(),
            ComponentOutputs {
                values: zone.clone(),
                ..Default::default()
            },
        )]);
        let rec = MemoryRecorder::default();
        let ctx = ComponentCtx {
            platform: &platform,
            contract: &contract,
            component: platform.component("web").unwrap(),
            settings: &settings,
            inputs: &inputs,
            last: None,
            intent: gp_driver::Intent::Update,
            state_dir: dir.path(),
            recorder: &rec,
        };
        let conflicted = |o: &Observation| o.drift.iter().any(|d| d.starts_with("conflict: "));
        let file = zonefile::ZoneFile::new(
            std::path::Path::new(zone["file"].as_str().unwrap()),
            "example.test",
            "127.0.0.1",
            300,
        );
        file.create().unwrap();
        // The zone holds none of them.
        let fresh = driver.observe_hosts(&ctx, &records).unwrap();
        assert_eq!(fresh.presence, Presence::Absent);
        assert!(!conflicted(&fresh), "{fresh:?}");
        // A read of this zone is what the observation sees.
        let taken = driver
            .observe_hosts_with(&ctx, &records, read_giving(&zone, Ok(vec![unowned(&fqdn)])))
            .unwrap();
        assert!(conflicted(&taken), "{taken:?}");
        // A read of another zone (other outputs) is not: it reads its own.
        let mut other = zone.clone();
        other.insert("file".into(), serde_json::json!("/elsewhere.zone"));
        let ignored = driver
            .observe_hosts_with(
                &ctx,
                &records,
                read_giving(&other, Ok(vec![unowned(&fqdn)])),
            )
            .unwrap();
        assert_eq!(ignored, fresh);
        // Nor is another publisher's read.
        let foreign = driver
            .observe_hosts_with(&ctx, &records, ZoneRead::new(vec![unowned(&fqdn)]))
            .unwrap();
        assert_eq!(foreign, fresh);
        // A read that failed is the observation's error, whether the zone
        // could not be listed or its backend not made.
        let failed = driver
            .observe_hosts_with(
                &ctx,
                &records,
                read_giving(&zone, Err(DriverError::retryable("the zone went away"))),
            )
            .unwrap_err();
        assert_eq!(failed.message, "the zone went away");
        let unmade = ZoneRead::new(ReadAhead {
            zone: zone.clone(),
            read: Err(DriverError::configuration("no key")),
        });
        let failed = driver
            .observe_hosts_with(&ctx, &records, unmade)
            .unwrap_err();
        assert_eq!(failed.message, "no key");
        // The driver's own read ahead lists the zone on its thread: the
        // same observation as a fresh one, over a zone holding the record.
        let mut text = std::fs::read_to_string(file.path()).unwrap();
        text.push_str(&format!("{fqdn}. 300 IN A 10.9.9.9\n"));
        std::fs::write(file.path(), text).unwrap();
        let fresh = driver.observe_hosts(&ctx, &records).unwrap();
        assert!(conflicted(&fresh), "{fresh:?}");
        let ahead = driver.read_ahead(&zone).unwrap();
        assert_eq!(
            driver.observe_hosts_with(&ctx, &records, ahead).unwrap(),
            fresh
        );
        // And a zone whose backend cannot be made fails as a fresh read does.
        let mut broken = zone.clone();
        broken.insert("backend".into(), serde_json::json!("carrier-pigeon"));
        let ahead = driver.read_ahead(&broken).unwrap();
        let mut broken_inputs = inputs.clone();
        broken_inputs.get_mut("dns-zone").unwrap().values = broken;
        let broken_ctx = ComponentCtx {
            inputs: &broken_inputs,
            ..ctx
        };
        let want = driver.observe_hosts(&broken_ctx, &records).unwrap_err();
        let got = driver
            .observe_hosts_with(&broken_ctx, &records, ahead)
            .unwrap_err();
        assert_eq!(got.message, want.message);
    }

    /// Waits until `what` is among `events`, polling, for at most five
    /// seconds: an exchange that ends only once the next batch is made
    /// ready, or at the deadline when nothing makes it ready meanwhile.
    fn wait_for(events: &Mutex<Vec<String>>, what: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if events.lock().unwrap().iter().any(|e| e == what) {
                return;
            }
            std::thread::yield_now();
        }
    }

    /// A backend whose batches are made ready ahead ([`Backend::prepare`])
    /// and stay at the "server" until the next is ready, noting the order
    /// of both; the batch
    /// whose first record is `hN` with N == `unready` cannot be made ready.
    struct Pipelined {
        events: Mutex<Vec<String>>,
        unready: Option<usize>,
    }

    impl Backend for Pipelined {
        fn list(&self) -> Result<Vec<Rr>, DriverError> {
            Ok(Vec::new())
        }
        fn apply(&self, _: &[Change]) -> Result<(), DriverError> {
            unreachable!("every batch goes through prepare")
        }
        fn prepare<'a>(&'a self, changes: &'a [Change]) -> Result<crate::Ready<'a>, DriverError> {
            let first = match &changes[0] {
                Change::Create { record, .. } => record.name.clone(),
                _ => String::new(),
            };
            self.events.lock().unwrap().push(format!("ready {first}"));
            if self
                .unready
                .is_some_and(|n| first == format!("h{n}.example.test"))
            {
                return Err(DriverError::permanent("cannot sign"));
            }
            // At the "server" until the next batch (three records on, of
            // nine) is made ready, or five seconds.
            let n: usize = first
                .trim_start_matches('h')
                .trim_end_matches(".example.test")
                .parse()
                .unwrap();
            Ok(Box::new(move || {
                self.events.lock().unwrap().push(format!("send {first}"));
                if n + 3 < 9 {
                    wait_for(&self.events, &format!("ready h{}.example.test", n + 3));
                }
                self.events.lock().unwrap().push(format!("sent {first}"));
                Ok(())
            }))
        }
        fn describe(&self) -> String {
            "a test backend".into()
        }
    }

    #[test]
    fn a_publish_makes_the_next_batch_ready_while_one_is_sent_and_never_sends_one_not_made_ready() {
        for unready in [None, Some(3)] {
            let rec = MemoryRecorder::default();
            let backend = Pipelined {
                events: Mutex::default(),
                unready,
            };
            let parts: Vec<(ResourceRef, Change)> = (0..9).map(record).collect();
            let actions: Vec<(Action, &ResourceRef)> =
                parts.iter().map(|(r, _)| (Action::Create, r)).collect();
            let changes: Vec<Change> = parts.iter().map(|(_, c)| c.clone()).collect();
            let result = send_journalled(&rec, &backend, &actions, &changes, 3);
            let events = backend.events.into_inner().unwrap();
            let at = |e: &str| events.iter().position(|x| x == e);
            // Batch h3.. made ready before batch h0.. came back.
            let ready = at("ready h3.example.test").unwrap();
            assert!(ready < at("sent h0.example.test").unwrap(), "{events:?}");
            let journal = rec.actions.lock().unwrap();
            let state: Vec<(bool, bool)> = journal.iter().map(|a| (a.finished, a.failed)).collect();
            match unready {
                None => {
                    result.unwrap();
                    let ready = at("ready h6.example.test").unwrap();
                    assert!(ready < at("sent h3.example.test").unwrap(), "{events:?}");
                    assert_eq!(state, vec![(true, false); 9]);
                }
                Some(_) => {
                    assert_eq!(result.unwrap_err().message, "cannot sign");
                    assert_eq!(at("send h3.example.test"), None, "{events:?}");
                    assert_eq!(at("send h6.example.test"), None, "{events:?}");
                    // The first batch finished; the one not made ready, and
                    // the one journalled beside its turn, failed.
                    assert_eq!(
                        state,
                        [vec![(true, false); 3], vec![(false, true); 6]].concat()
                    );
                }
            }
        }
    }

    #[test]
    fn a_refused_batch_fails_with_the_next_and_what_was_taken_before_is_finished() {
        let rec = MemoryRecorder::default();
        let backend = Taking {
            recorder: &rec,
            refuse: Some(2),
            calls: Mutex::default(),
        };
        let parts: Vec<(ResourceRef, Change)> = (0..8).map(record).collect();
        let actions: Vec<(Action, &ResourceRef)> =
            parts.iter().map(|(r, _)| (Action::Create, r)).collect();
        let changes: Vec<Change> = parts.iter().map(|(_, c)| c.clone()).collect();
        let err = send_journalled(&rec, &backend, &actions, &changes, 3).unwrap_err();
        assert_eq!(err.kind, gp_driver::ErrorKind::Refused);
        // The third batch was journalled beside the second's exchange and
        // never sent.
        assert_eq!(backend.calls.lock().unwrap().len(), 2);
        let journal = rec.actions.lock().unwrap();
        let state: Vec<(bool, bool)> = journal.iter().map(|a| (a.finished, a.failed)).collect();
        assert_eq!(
            state,
            [
                vec![(true, false); 3],
                vec![(false, true); 3],
                vec![(false, true); 2]
            ]
            .concat()
        );
    }

    #[test]
    fn an_interrupted_journal_sends_nothing_more_and_finishes_what_was_taken() {
        // The second batch's entries are refused (as a Ctrl-C would) while
        // the first is on its way: the first is finished, nothing else sent.
        let rec = MemoryRecorder::interrupting_at(4);
        let backend = Taking {
            recorder: &rec,
            refuse: None,
            calls: Mutex::default(),
        };
        let parts: Vec<(ResourceRef, Change)> = (0..6).map(record).collect();
        let actions: Vec<(Action, &ResourceRef)> =
            parts.iter().map(|(r, _)| (Action::Create, r)).collect();
        let changes: Vec<Change> = parts.iter().map(|(_, c)| c.clone()).collect();
        let err = send_journalled(&rec, &backend, &actions, &changes, 3).unwrap_err();
        assert_eq!(err.kind, gp_driver::ErrorKind::Interrupted);
        assert_eq!(backend.calls.lock().unwrap().len(), 1);
        let journal = rec.actions.lock().unwrap();
        assert_eq!(journal.len(), 3);
        assert!(journal.iter().all(|a| a.finished));
    }

    /// A journal of destroys by index: every write, what is journalled
    /// before and after, and the `refuse`-th write refused.
    #[derive(Default)]
    struct Entries {
        writes: Mutex<Vec<(Vec<usize>, Vec<usize>)>>,
        before: Mutex<Vec<usize>>,
        after: Mutex<Vec<usize>>,
        refuse: Option<usize>,
    }

    impl gp_driver::DestroyJournal for Entries {
        fn after_and_before(&self, done: &[usize], next: &[usize]) -> Result<(), DriverError> {
            let mut writes = self.writes.lock().unwrap();
            writes.push((done.to_vec(), next.to_vec()));
            if self.refuse == Some(writes.len()) {
                return Err(DriverError::interrupted("interrupted"));
            }
            self.after.lock().unwrap().extend(done);
            self.before.lock().unwrap().extend(next);
            Ok(())
        }
    }

    /// A backend that notes, for each batch, whether each of its records
    /// (`hN.example.test` is resource N) was journalled before it was sent.
    struct Deleting<'a> {
        entries: &'a Entries,
        refuse: Option<usize>,
        calls: Mutex<Vec<(Vec<usize>, bool)>>,
    }

    impl Backend for Deleting<'_> {
        fn list(&self) -> Result<Vec<Rr>, DriverError> {
            Ok(Vec::new())
        }
        fn apply(&self, changes: &[Change]) -> Result<(), DriverError> {
            let idx: Vec<usize> = changes
                .iter()
                .map(|c| match c {
                    Change::Delete { txt, .. } => txt.name["a-h".len()..]
                        .split('.')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap(),
                    _ => usize::MAX,
                })
                .collect();
            let before = self.entries.before.lock().unwrap();
            let all_before = idx.iter().all(|i| before.contains(i));
            let mut calls = self.calls.lock().unwrap();
            calls.push((idx, all_before));
            if self.refuse == Some(calls.len()) {
                return Err(DriverError::refused("prerequisite failed"));
            }
            Ok(())
        }
        fn describe(&self) -> String {
            "a test backend".into()
        }
    }

    fn deletes(n: usize, size: usize) -> Vec<(Vec<usize>, Vec<Change>)> {
        let rr = |name: String| Rr {
            name,
            rtype: "TXT".into(),
            ttl: 300,
            value: "owner".into(),
        };
        let all: Vec<usize> = (0..n).collect();
        all.chunks(size)
            .map(|c| {
                (
                    c.to_vec(),
                    c.iter()
                        .map(|i| Change::Delete {
                            records: Vec::new(),
                            txt: rr(format!("a-h{i}.example.test")),
                            legacy: None,
                        })
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn every_destroy_is_journalled_before_its_batch_is_sent_and_after_it_was_taken() {
        for (n, size) in [(1, 3), (3, 3), (7, 3), (7, 1), (7, 100)] {
            let entries = Entries::default();
            let backend = Deleting {
                entries: &entries,
                refuse: None,
                calls: Mutex::default(),
            };
            let results = send_batches_journalled(&backend, &deletes(n, size), &entries, n);
            assert!(results.iter().all(Result::is_ok), "{n} by {size}");
            let calls = backend.calls.lock().unwrap();
            assert_eq!(calls.len(), n.div_ceil(size));
            assert!(calls.iter().all(|(_, before)| *before), "{calls:?}");
            let sent: Vec<usize> = calls.iter().flat_map(|(i, _)| i.clone()).collect();
            assert_eq!(sent, (0..n).collect::<Vec<_>>(), "in order, each once");
            let mut after = entries.after.lock().unwrap().clone();
            after.sort_unstable();
            assert_eq!(after, (0..n).collect::<Vec<_>>());
            // One write per batch beside its exchange, one before the
            // first and one after the last.
            let batches = n.div_ceil(size);
            let writes = entries.writes.lock().unwrap().len();
            assert_eq!(
                writes,
                if batches == 1 { 2 } else { batches + 2 },
                "{n} by {size}"
            );
        }
        // A batch with nothing to send (records already gone) is journalled
        // and never sent.
        let entries = Entries::default();
        let backend = Deleting {
            entries: &entries,
            refuse: None,
            calls: Mutex::default(),
        };
        let results = send_batches_journalled(&backend, &[(vec![0, 1], Vec::new())], &entries, 2);
        assert!(results.iter().all(Result::is_ok));
        assert!(backend.calls.lock().unwrap().is_empty());
        assert_eq!(*entries.after.lock().unwrap(), vec![0, 1]);
    }

    #[test]
    fn a_refused_destroy_batch_fails_with_the_rest_and_what_was_taken_is_journalled_after() {
        let entries = Entries::default();
        let backend = Deleting {
            entries: &entries,
            refuse: Some(2),
            calls: Mutex::default(),
        };
        let results = send_batches_journalled(&backend, &deletes(11, 3), &entries, 11);
        let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
        assert_eq!(ok, [vec![true; 3], vec![false; 8]].concat());
        assert_eq!(
            results[3].as_ref().unwrap_err().kind,
            gp_driver::ErrorKind::Refused
        );
        assert!(
            results[6]
                .as_ref()
                .unwrap_err()
                .message
                .starts_with("not sent")
        );
        assert_eq!(backend.calls.lock().unwrap().len(), 2);
        assert_eq!(*entries.after.lock().unwrap(), vec![0, 1, 2]);
        // The batch journalled beside the refused exchange was never sent;
        // the last was never journalled.
        assert_eq!(*entries.before.lock().unwrap(), (0..9).collect::<Vec<_>>());
    }

    #[test]
    fn a_refused_destroy_journal_sends_nothing_more_and_journals_what_was_taken() {
        for refuse in [1, 2, 3] {
            let entries = Entries {
                refuse: Some(refuse),
                ..Entries::default()
            };
            let backend = Deleting {
                entries: &entries,
                refuse: None,
                calls: Mutex::default(),
            };
            let results = send_batches_journalled(&backend, &deletes(9, 3), &entries, 9);
            let calls = backend.calls.lock().unwrap();
            // Sent: nothing when the first write is refused; else the
            // batches journalled before the refusal.
            assert_eq!(calls.len(), refuse - 1, "refused at write {refuse}");
            assert!(calls.iter().all(|(_, before)| *before));
            let taken = 3 * (refuse - 1);
            let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
            assert_eq!(ok, [vec![true; taken], vec![false; 9 - taken]].concat());
            let mut after = entries.after.lock().unwrap().clone();
            after.sort_unstable();
            assert_eq!(
                after,
                (0..taken).collect::<Vec<_>>(),
                "refused at write {refuse}"
            );
        }
    }

    #[test]
    fn a_refused_batch_is_tried_again_after_its_journal_write_and_that_try_is_its_result() {
        // Batch 1 of 3 (records 3..6) is refused by its first way; its
        // second way either takes it or fails.
        for second_takes in [true, false] {
            let entries = Entries::default();
            let sent: Mutex<Vec<usize>> = Mutex::default();
            let again_calls: Mutex<Vec<(usize, usize)>> = Mutex::default();
            let send = |k: usize| {
                sent.lock().unwrap().push(k);
                if k == 1 {
                    Err(DriverError::refused("prerequisite failed"))
                } else {
                    Ok(())
                }
            };
            let again = |k: usize| {
                // The journal write beside the refused exchange is done:
                // batch 0 after and batch 2 before.
                again_calls
                    .lock()
                    .unwrap()
                    .push((k, entries.writes.lock().unwrap().len()));
                if second_takes {
                    Ok(())
                } else {
                    Err(DriverError::permanent("the zone read failed"))
                }
            };
            let order: Vec<usize> = (0..9).collect();
            let batches: Vec<&[usize]> = order.chunks(3).collect();
            let results =
                send_journalled_with(&batches, &when_sent(&send), Some(&again), &entries, 9);
            assert_eq!(*again_calls.lock().unwrap(), vec![(1, 3)]);
            let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
            let mut after = entries.after.lock().unwrap().clone();
            after.sort_unstable();
            if second_takes {
                assert!(ok.iter().all(|&o| o), "{results:?}");
                assert_eq!(*sent.lock().unwrap(), vec![0, 1, 2]);
                assert_eq!(after, (0..9).collect::<Vec<_>>());
            } else {
                assert_eq!(ok, [vec![true; 3], vec![false; 6]].concat());
                assert_eq!(
                    results[4].as_ref().unwrap_err().message,
                    "the zone read failed"
                );
                assert!(
                    results[7]
                        .as_ref()
                        .unwrap_err()
                        .message
                        .starts_with("not sent")
                );
                assert_eq!(*sent.lock().unwrap(), vec![0, 1]);
                assert_eq!(after, vec![0, 1, 2]);
            }
        }
        // Without a second way, a refusal is the batch's result.
        let entries = Entries::default();
        let send = |k: usize| {
            if k == 1 {
                Err(DriverError::refused("prerequisite failed"))
            } else {
                Ok(())
            }
        };
        let order: Vec<usize> = (0..9).collect();
        let batches: Vec<&[usize]> = order.chunks(3).collect();
        let results = send_journalled_with(&batches, &when_sent(&send), None, &entries, 9);
        assert_eq!(
            results[3].as_ref().unwrap_err().kind,
            gp_driver::ErrorKind::Refused
        );
        assert!(results[..3].iter().all(Result::is_ok));
    }

    #[test]
    fn the_next_batch_is_made_ready_while_one_is_sent_and_one_not_made_ready_is_never_sent() {
        // Each batch's exchange ends once the next batch is made ready (or
        // at a deadline): made ready beside it, that comes first.
        for unready in [None, Some(0), Some(1), Some(2)] {
            let entries = Entries::default();
            let events: Mutex<Vec<String>> = Mutex::default();
            let order: Vec<usize> = (0..9).collect();
            let batches: Vec<&[usize]> = order.chunks(3).collect();
            let prepare = |k: usize| -> Result<crate::Ready<'_>, DriverError> {
                events.lock().unwrap().push(format!("ready {k}"));
                if unready == Some(k) {
                    return Err(DriverError::permanent("cannot sign"));
                }
                let (events, entries, idx) = (&events, &entries, batches[k]);
                Ok(Box::new(move || {
                    // Sent only once every destroy of the batch is
                    // journalled before.
                    let before = entries.before.lock().unwrap().clone();
                    assert!(idx.iter().all(|i| before.contains(i)), "{k}: {before:?}");
                    events.lock().unwrap().push(format!("send {k}"));
                    if k + 1 < 3 {
                        wait_for(events, &format!("ready {}", k + 1));
                    }
                    events.lock().unwrap().push(format!("sent {k}"));
                    Ok(())
                }))
            };
            let results = send_journalled_with(&batches, &prepare, None, &entries, 9);
            let events = events.into_inner().unwrap();
            let at = |e: &str| events.iter().position(|x| x == e);
            let last = unready.unwrap_or(3);
            for k in 0..last {
                // Batch k+1 made ready while batch k was at the server,
                // not after it came back.
                if k + 1 < 3 {
                    let ready = at(&format!("ready {}", k + 1)).unwrap();
                    assert!(ready < at(&format!("sent {k}")).unwrap(), "{events:?}");
                }
            }
            for k in last..3 {
                assert_eq!(at(&format!("send {k}")), None, "{events:?}");
            }
            let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
            assert_eq!(
                ok,
                [vec![true; 3 * last], vec![false; 9 - 3 * last]].concat()
            );
            if let Some(k) = unready {
                assert_eq!(results[3 * k].as_ref().unwrap_err().message, "cannot sign");
                if k < 2 {
                    assert!(
                        results[8]
                            .as_ref()
                            .unwrap_err()
                            .message
                            .starts_with("not sent")
                    );
                }
            }
            // What the server took is journalled after, and only that.
            let mut after = entries.after.lock().unwrap().clone();
            after.sort_unstable();
            assert_eq!(after, (0..3 * last).collect::<Vec<_>>());
        }
    }
}
