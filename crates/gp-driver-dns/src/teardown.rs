//! Removing journalled records in batches, each checked to be this
//! deployment's own before a change is sent.

use super::*;

pub(crate) type RecordParts = (Box<dyn Backend>, String, String, String, String);

/// A text field of a journalled record's data (`fqdn`, `type`, `txtName`,
/// `txtValue`, ...), empty when it has none.
pub(crate) fn field(r: &ResourceRef, key: &str) -> String {
    r.data
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// Records grouped by the zone they live in, so one transfer and one
/// batch of updates serve them all.
pub(crate) fn by_zone(resources: &[&ResourceRef]) -> Vec<(String, Vec<usize>)> {
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
    pub(crate) fn destroy_records(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[&ResourceRef],
    ) -> Result<(), DriverError> {
        let Some(first) = resources.first() else {
            return Ok(());
        };
        // Every record is checked before anything is sent; the zone's
        // backend (and its key) is made once for all of them.
        for r in resources {
            self.checked_record(ctx, r)?;
        }
        let (backend, ..) = self.record_parts(ctx, first)?;
        let current = match backend.list() {
            Ok(c) => c,
            Err(e) if e.kind == gp_driver::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let index = model::Zone::new(&current);
        let changes: Vec<Change> = resources
            .iter()
            .filter_map(|r| self.delete_change(ctx, r, &index))
            .collect();
        backend.apply(&changes)
    }

    /// The change that deletes a journalled record from the zone as read:
    /// `None` when there is nothing of ours to delete (gone, another
    /// owner's now, or upsert-only).
    /// The delete of `r` sent without reading the zone: what
    /// [`Self::delete_change`] would send once the zone showed `r` ours,
    /// with that as the server's prerequisites. `None` for a record
    /// published `upsert-only`, which is never deleted.
    pub(crate) fn unread_delete(
        &self,
        ctx: &ComponentCtx<'_>,
        r: &ResourceRef,
    ) -> Option<model::UnreadDelete> {
        if r.data.get("policy").and_then(|p| p.as_str()) == Some("upsert-only") {
            return None;
        }
        let s = |k: &str| field(r, k);
        let fqdn = s("fqdn");
        let txt_name = s("txtName");
        // The legacy name from the contract, never from the row.
        let legacy = ctx.contract.legacy_txt_owner_name(&fqdn);
        let legacy = (!legacy.is_empty() && legacy != txt_name).then_some(legacy);
        Some(model::UnreadDelete {
            rtype: s("type"),
            txt: Rr {
                name: txt_name,
                rtype: "TXT".into(),
                ttl: 0,
                value: s("txtValue"),
            },
            legacy,
            fqdn,
        })
    }

    /// The deletes of `idx`'s records as the zone holds them now: the zone
    /// read, then what [`Self::delete_change`] finds of ours, sent.
    fn delete_as_read(
        &self,
        ctx: &ComponentCtx<'_>,
        backend: &dyn Backend,
        idx: &[usize],
        resources: &[&ResourceRef],
    ) -> Result<(), DriverError> {
        let current = backend.list()?;
        let index = model::Zone::new(&current);
        let changes: Vec<Change> = idx
            .iter()
            .filter_map(|&i| self.delete_change(ctx, resources[i], &index))
            .collect();
        if changes.is_empty() {
            Ok(())
        } else {
            backend.apply(&changes)
        }
    }

    pub(crate) fn delete_change(
        &self,
        ctx: &ComponentCtx<'_>,
        r: &ResourceRef,
        index: &model::Zone<'_>,
    ) -> Option<Change> {
        if r.data.get("policy").and_then(|p| p.as_str()) == Some("upsert-only") {
            return None;
        }
        let s = |k: &str| field(r, k);
        let (fqdn, rtype, txt_name, txt_value) =
            (s("fqdn"), s("type"), s("txtName"), s("txtValue"));
        let owner = model::parse_ownership(&txt_value)
            .map(|o| o.owner)
            .unwrap_or_default();
        if !model::is_ours(&fqdn, &rtype, &txt_name, index, &owner) {
            return None;
        }
        let records: Vec<Rr> = index
            .at(&fqdn)
            .filter(|x| x.rtype == rtype)
            .cloned()
            .collect();
        let ttl = records.first().map(|x| x.ttl).unwrap_or(300);
        let txt = index
            .at(&txt_name)
            .find(|x| x.rtype == "TXT" && x.value == txt_value)
            .cloned()
            .unwrap_or(Rr {
                name: txt_name,
                rtype: "TXT".into(),
                ttl,
                value: txt_value,
            });
        // The legacy name from the contract, never from the row.
        let legacy = model::legacy_to_delete(
            &ctx.contract.legacy_txt_owner_name(&fqdn),
            &txt.name,
            index,
            &txt.value,
        );
        Some(Change::Delete {
            records,
            txt,
            legacy,
        })
    }

    /// [`Self::destroy_records`] of one zone's records, each journalled
    /// through `journal` by the batches the backend takes: a batch's
    /// destroys before it is sent and, while it is on its way, the last
    /// batch's after and the next one's before as one write
    /// ([`crate::records::send_journalled_with`]). Every record is checked
    /// before anything is journalled.
    ///
    /// A backend whose server checks prerequisites
    /// ([`crate::Backend::deletes_unread`]) gets the records' deletes
    /// without the zone being read: each applied only while the zone holds
    /// what the read would have had to find ([`model::UnreadDelete`]). A
    /// batch the server refuses is tried again on this thread the way it
    /// always was: the zone read, and the deletes of what it holds of ours.
    /// Any other backend: the zone read first, and a record with nothing of
    /// ours left to delete journalled with the first batch.
    pub(crate) fn destroy_records_journalled(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[&ResourceRef],
        journal: &dyn gp_driver::DestroyJournal,
    ) -> Vec<Result<(), DriverError>> {
        let all = |e: DriverError| vec![Err(e); resources.len()];
        let Some(first) = resources.first() else {
            return Vec::new();
        };
        for r in resources {
            if let Err(e) = self.checked_record(ctx, r) {
                return all(e);
            }
        }
        let backend = match self.record_parts(ctx, first) {
            Ok((b, ..)) => b,
            Err(e) => return all(e),
        };
        if backend.deletes_unread() {
            let size = backend.batch().unwrap_or(resources.len()).max(1);
            let order: Vec<usize> = (0..resources.len()).collect();
            let batches: Vec<&[usize]> = order.chunks(size).collect();
            let deletes: Vec<Vec<model::UnreadDelete>> = batches
                .iter()
                .map(|b| {
                    b.iter()
                        .filter_map(|&i| self.unread_delete(ctx, resources[i]))
                        .collect()
                })
                .collect();
            let prepare = |k: usize| match deletes.get(k) {
                Some(d) if !d.is_empty() => backend.prepare_unread(d),
                _ => Ok(Box::new(|| Ok(())) as crate::Ready<'_>),
            };
            let again = |k: usize| {
                let idx = batches.get(k).copied().unwrap_or_default();
                self.delete_as_read(ctx, backend.as_ref(), idx, resources)
            };
            return crate::records::send_journalled_with(
                &batches,
                &prepare,
                Some(&again),
                journal,
                resources.len(),
            );
        }
        let current = match backend.list() {
            Ok(c) => c,
            // The zone is gone, and every record with it.
            Err(e) if e.kind == gp_driver::ErrorKind::NotFound => Vec::new(),
            Err(e) => return all(e),
        };
        let index = model::Zone::new(&current);
        let mut nothing = Vec::new();
        let mut deletes: Vec<(usize, Change)> = Vec::new();
        for (i, r) in resources.iter().enumerate() {
            match self.delete_change(ctx, r, &index) {
                Some(c) => deletes.push((i, c)),
                None => nothing.push(i),
            }
        }
        let size = backend.batch().unwrap_or(deletes.len()).max(1);
        let mut batches: Vec<(Vec<usize>, Vec<Change>)> = deletes
            .chunks(size)
            .map(|chunk| {
                (
                    chunk.iter().map(|(i, _)| *i).collect(),
                    chunk.iter().map(|(_, c)| c.clone()).collect(),
                )
            })
            .collect();
        match batches.first_mut() {
            Some((first, _)) => first.extend(nothing),
            None => batches.push((nothing, Vec::new())),
        }
        crate::records::send_batches_journalled(
            backend.as_ref(),
            &batches,
            journal,
            resources.len(),
        )
    }

    /// The zone and record a journalled record stands for. The zone — which
    /// backend, server, file and key — is the zone component's as the
    /// spec makes it now (from the component's inputs), never the copy in
    /// the journal row; the record must carry this deployment's ownership
    /// and, in a build, lie under the build's suffix. Anything else is
    /// refused before a change is sent.
    pub(crate) fn record_parts(
        &self,
        ctx: &ComponentCtx<'_>,
        r: &ResourceRef,
    ) -> Result<RecordParts, DriverError> {
        let (zone, fqdn, rtype, txt_name, txt_value) = self.checked_record(ctx, r)?;
        Ok((self.backend(zone)?, fqdn, rtype, txt_name, txt_value))
    }

    /// [`Self::record_parts`] without making the backend: the zone's
    /// outputs and the record's parts, once every check passed.
    pub(crate) fn checked_record<'c>(
        &self,
        ctx: &ComponentCtx<'c>,
        r: &ResourceRef,
    ) -> Result<(&'c Outputs, String, String, String, String), DriverError> {
        let refuse = |why: &str| {
            DriverError::refused(format!(
                "the journal names {r} under `{}`, which {why}; nothing was sent",
                ctx.name()
            ))
        };
        if r.kind != "record" {
            return Err(refuse("is not a record"));
        }
        let s = |k: &str| field(r, k);
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
        // Only what goldenpath publishes: a row naming another type (the
        // zone's NS, say) is no record of ours to delete.
        if !matches!(s("type").as_str(), "A" | "AAAA" | "CNAME") {
            return Err(refuse("is not a type goldenpath publishes"));
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
        Ok((zone, fqdn, s("type"), s("txtName"), s("txtValue")))
    }

    /// The zone file a journalled `zone-file` stands for: the one the
    /// component's settings name now.
    pub(crate) fn own_zone_file(
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
