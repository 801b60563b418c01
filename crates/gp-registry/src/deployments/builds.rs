//! An environment's builds, derived from their reservations, events and
//! leases, every row checked.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::*;
use crate::LeaseState;
use crate::chain::{PHASE_EVENTS, RESERVATIONS};

impl Registry {
    /// Builds of `env`, newest first, with their derived status. Every row
    /// they are derived from is checked: a tampered stream is an error.
    pub fn builds(&self, env: &str) -> Result<Vec<BuildSummary>, RegistryError> {
        let (builds, tampered) = self.builds_checked(env)?;
        match tampered.into_iter().next() {
            Some(t) => Err(t.into_error()),
            None => Ok(builds),
        }
    }

    /// [`Self::builds`] for a view: a build whose reservation, events or
    /// lease do not check out is listed with the status `tampered` (its
    /// state is not derived from them), and what does not check out is
    /// returned beside the list.
    pub fn builds_checked(
        &self,
        env: &str,
    ) -> Result<(Vec<BuildSummary>, Vec<Tampered>), RegistryError> {
        self.builds_checked_with(env, &|l| l.state == "held")
    }

    /// [`Self::builds_checked`], with what makes a held lease alive: a
    /// deploy or teardown whose lease is not alive died mid-way
    /// (`interrupted`). The engine, which knows a holder that died on this
    /// machine, says so through `alive`.
    pub fn builds_checked_with(
        &self,
        env: &str,
        alive: &dyn Fn(&LeaseState) -> bool,
    ) -> Result<(Vec<BuildSummary>, Vec<Tampered>), RegistryError> {
        let mut untrusted: BTreeSet<String> = BTreeSet::new();
        let mut reservations = Vec::new();
        let mut tampered = self.streams(
            &RESERVATIONS,
            "env = ?",
            &[env.into()],
            Heads::Stream(env),
            &mut |r, ok| {
                let r = Named(r);
                let build = r.string("build_id");
                if ok {
                    reservations.push((
                        build,
                        r.int("generation").unwrap_or(1),
                        r.string("actor"),
                        r.int("at_us").unwrap_or(0),
                    ));
                } else {
                    untrusted.insert(build);
                }
                Ok(())
            },
        )?;
        reservations.sort_by(|a, b| (b.3, &b.0).cmp(&(a.3, &a.0)));
        let events = self.env_events(env)?;
        untrusted.extend(events.untrusted.iter().cloned());
        tampered.extend(events.tampered);
        let (lease_list, lease_tampered) = self.leases_checked(Some(env))?;
        tampered.extend(lease_tampered);
        let leases: BTreeMap<String, LeaseState> = lease_list
            .into_iter()
            .map(|l| (l.deployment.clone(), l))
            .collect();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let tampered_build = |build_id: String, at_us: i64| BuildSummary {
            env: env.into(),
            build_id,
            generation: 0,
            reserved_by: String::new(),
            reserved_us: at_us,
            status: TAMPERED.into(),
            updated_us: at_us,
            imported: false,
            expires_us: None,
            kept: None,
            pull_request: None,
        };
        for (build_id, generation, actor, at_us) in reservations {
            if !seen.insert(build_id.clone()) {
                continue; // an older generation of an overridden id
            }
            let lease = leases.get(&build_id);
            if untrusted.contains(&build_id) || lease.is_some_and(|l| l.state == TAMPERED) {
                out.push(tampered_build(build_id, at_us));
                continue;
            }
            let ev = events.latest.get(&build_id).filter(|e| e.at_us >= at_us);
            let mut status = status_from_event(ev.map(|e| e.event.as_str())).to_string();
            // A deploy that started and whose lease is gone died mid-way.
            if (status == "deploying" || status == "tearing-down") && !lease.is_some_and(alive) {
                status = "interrupted".into();
            }
            let expiry = Expiry::from_events(
                events
                    .expiry_events
                    .get(&build_id)
                    .map_or(&[][..], Vec::as_slice),
                at_us,
            );
            let pull_request = events
                .pull_requests
                .get(&build_id)
                .filter(|(at, _, _)| *at >= at_us)
                .map(|(_, _, pr)| pr.clone());
            out.push(BuildSummary {
                env: env.into(),
                build_id,
                generation,
                reserved_by: actor,
                reserved_us: at_us,
                status,
                updated_us: ev.map(|e| e.at_us).unwrap_or(at_us),
                imported: false,
                expires_us: expiry.expires_us,
                kept: expiry.kept,
                pull_request,
            });
        }
        // What is named only by rows that do not check out (a forged
        // reservation, events of a build never reserved) is listed too:
        // as tampered, never as a build.
        for build_id in untrusted {
            if seen.insert(build_id.clone())
                && build_id != "persistent"
                && build_id != "foundational"
            {
                out.push(tampered_build(build_id, 0));
            }
        }
        // Builds only the imported history knows, under the id it wrote.
        let mut imported: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        tampered.extend(self.rows_checked(
            &PHASE_EVENTS,
            // A source that is a JSON object (an imported row's cells), found
            // by a range over `phase_events_source`.
            "t.kind = 'end' AND t.env = ? AND t.source >= '{' AND t.source < '|' AND t.deployment <> 'persistent' AND t.deployment <> 'foundational'",
            "",
            &[env.into()],
            &mut |r, ok| {
                let r = Named(r);
                let key = r.string("deployment");
                if !ok {
                    untrusted_imported(&mut imported, key);
                    return Ok(());
                }
                let (first, last) = (r.int("started_us").unwrap_or(0), r.int("ended_us").unwrap_or(0));
                let e = imported.entry(key).or_insert((first, last));
                if e.0 != i64::MIN {
                    e.0 = e.0.min(first);
                    e.1 = e.1.max(last);
                }
                Ok(())
            },
        )?);
        for (key, (first, last)) in imported {
            if seen.contains(&key) {
                continue;
            }
            if first == i64::MIN {
                out.push(tampered_build(key, 0));
                continue;
            }
            // An id in an older form (YYYYMMDD-NN) or free text is kept as
            // written and marked, never converted.
            let legacy = key
                .parse::<gp_core::BuildId>()
                .map_or(true, |b| b.to_string() != key);
            let status = if legacy {
                "imported-legacy-id"
            } else {
                "imported"
            };
            out.push(BuildSummary {
                env: env.into(),
                build_id: key,
                generation: 0,
                reserved_by: "import".into(),
                reserved_us: first,
                status: status.into(),
                updated_us: last,
                imported: true,
                expires_us: None,
                kept: None,
                pull_request: None,
            });
        }
        out.sort_by(|a, b| {
            b.reserved_us
                .cmp(&a.reserved_us)
                .then(b.build_id.cmp(&a.build_id))
        });
        Ok((out, tampered))
    }
}

/// Marks an imported build as named by a row that does not check out.
fn untrusted_imported(imported: &mut BTreeMap<String, (i64, i64)>, key: String) {
    imported.insert(key, (i64::MIN, 0));
}

/// An environment's deployment events as a build list reads them.
#[derive(Default)]
pub(super) struct EnvEvents {
    pub(super) latest: BTreeMap<String, DeploymentEvent>,
    pub(super) expiry_events: BTreeMap<String, Vec<DeploymentEvent>>,
    /// Each deployment's pull request, from its latest deploy that named
    /// one (when, event id, which).
    pub(super) pull_requests: BTreeMap<String, (i64, String, super::PullRequestRef)>,
    pub(super) untrusted: BTreeSet<String>,
    pub(super) tampered: Vec<Tampered>,
}
