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

#[cfg(test)]
mod tests {
    use gp_core::BuildIdArg;

    use crate::{
        BuildSummary, DeploymentEvent, ImportOptions, Location, Registry, ReserveRequest, TAMPERED,
        new_id, now_us,
    };

    const B1: &str = "23-01-26-01";
    const B2: &str = "23-01-26-02";
    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn sqlite() -> (Registry, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&Location::Sqlite(dir.path().join("registry.db"))).unwrap();
        (reg, dir)
    }

    fn reserve(reg: &Registry, b: &str, again: bool) {
        let mut r = ReserveRequest::new("dev", BuildIdArg::Id(b.parse().unwrap()), "alice");
        if again {
            r.override_reason = Some("the demo needs this id");
        }
        reg.reserve(&r).unwrap();
    }

    fn record(reg: &Registry, dep: &str, kind: &str, detail: Option<serde_json::Value>) {
        reg.record_deployment(&DeploymentEvent {
            id: new_id(),
            env: "dev".into(),
            deployment: dep.into(),
            run_id: None,
            event: kind.into(),
            actor: "alice".into(),
            commit_sha: None,
            run_url: None,
            detail,
            at_us: now_us(),
        })
        .unwrap();
    }

    fn pr(n: u64) -> Option<serde_json::Value> {
        Some(serde_json::json!({"pullRequest": {"number": n, "headSha": SHA}}))
    }

    fn list(reg: &Registry) -> Vec<BuildSummary> {
        reg.builds_checked("dev").unwrap().0
    }

    fn status(reg: &Registry, b: &str) -> String {
        list(reg)
            .into_iter()
            .find(|s| s.build_id == b)
            .map(|s| s.status)
            .unwrap_or_else(|| panic!("{b} not listed"))
    }

    fn sql(reg: &Registry, s: &str) {
        reg.with_db(|db| db.batch(s)).unwrap();
    }

    #[test]
    fn a_run_whose_lease_is_gone_was_interrupted_and_one_holding_it_is_running() {
        let (reg, _d) = sqlite();
        reserve(&reg, B1, false);
        assert_eq!(status(&reg, B1), "reserved");
        record(&reg, B1, "deploy_started", None);
        // No lease: the run died mid-way.
        assert_eq!(status(&reg, B1), "interrupted");
        // Holding a live lease: deploying (a held lease is not tampering).
        let lease = reg.lease_acquire("dev", B1, "ci@a", 600).unwrap();
        assert_eq!(status(&reg, B1), "deploying");
        // What the engine knows of the holder decides.
        let dead = reg.builds_checked_with("dev", &|_| false).unwrap().0;
        assert_eq!(dead[0].status, "interrupted");
        record(&reg, B1, "deploy_succeeded", None);
        reg.lease_release(&lease).unwrap();
        // Finished: the lease's end says nothing.
        assert_eq!(status(&reg, B1), "live");
        record(&reg, B1, "teardown_started", None);
        assert_eq!(status(&reg, B1), "interrupted");
        reg.lease_acquire("dev", B1, "ci@a", 600).unwrap();
        assert_eq!(status(&reg, B1), "tearing-down");
    }

    #[test]
    fn a_builds_pull_request_is_its_latest_deploys_of_this_generation() {
        let (reg, _d) = sqlite();
        reserve(&reg, B1, false);
        record(&reg, B1, "deploy_started", pr(7));
        record(&reg, B1, "deploy_started", pr(8));
        let b = &list(&reg)[0];
        assert_eq!(b.pull_request.as_ref().map(|p| p.number), Some(8));
        // The id torn down and reserved again: the old pull request is the
        // old generation's.
        record(&reg, B1, "torn_down", None);
        reserve(&reg, B1, true);
        let b = &list(&reg)[0];
        assert_eq!((b.generation, b.pull_request.clone()), (2, None));
        record(&reg, B1, "deploy_started", pr(9));
        assert_eq!(
            list(&reg)[0].pull_request.as_ref().map(|p| p.number),
            Some(9)
        );
    }

    #[test]
    fn forged_events_list_a_build_as_tampered_but_never_the_persistent_or_foundational_plane() {
        let (reg, _d) = sqlite();
        reserve(&reg, B1, false);
        for dep in ["persistent", "foundational", B2] {
            record(&reg, dep, "deploy_started", None);
        }
        sql(
            &reg,
            "DROP TRIGGER deployment_events_no_update; UPDATE deployment_events SET actor = 'mallory'",
        );
        let (builds, tampered) = reg.builds_checked("dev").unwrap();
        let names: Vec<(&str, &str)> = builds
            .iter()
            .map(|b| (b.build_id.as_str(), b.status.as_str()))
            .collect();
        assert!(names.contains(&(B1, "reserved")), "{names:?}");
        assert!(names.contains(&(B2, TAMPERED)), "never reserved: {names:?}");
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(!tampered.is_empty());
        assert!(reg.builds("dev").is_err());
    }

    fn import(reg: &Registry, rows: &str) {
        let text = format!(
            "start_time_utc,end_time_utc,phase,env,build_id,duration_seconds,exit_code\n{rows}"
        );
        let r = crate::import_csv(
            reg,
            &mut text.as_bytes(),
            &ImportOptions {
                source: "h.csv",
                ..Default::default()
            },
        )
        .unwrap();
        assert!(r.problems.is_empty(), "{r:?}");
    }

    #[test]
    fn builds_known_only_from_history_span_their_rows_and_keep_an_older_id_as_written() {
        let (reg, _d) = sqlite();
        import(
            &reg,
            "2025-01-16T10:00:00Z,2025-01-16T10:04:00Z,apply,dev,16-01-25-01,240,0\n\
             2025-01-16T09:00:00Z,2025-01-16T09:01:00Z,plan,dev,16-01-25-01,60,0\n\
             2025-01-15T09:00:00Z,2025-01-15T09:10:00Z,apply,dev,20250115-067,600,1\n\
             2025-01-17T09:00:00Z,2025-01-17T09:10:00Z,apply,dev,persistent,600,0\n",
        );
        let builds = list(&reg);
        assert_eq!(builds.len(), 2, "{builds:?}");
        let b = &builds[0];
        assert_eq!(
            (b.build_id.as_str(), b.status.as_str(), b.imported),
            ("16-01-25-01", "imported", true)
        );
        // From the earliest start to the latest end of its rows.
        assert_eq!(
            b.reserved_us,
            crate::parse_utc("2025-01-16T09:00:00Z").unwrap()
        );
        assert_eq!(
            b.updated_us,
            crate::parse_utc("2025-01-16T10:04:00Z").unwrap()
        );
        assert_eq!(
            (builds[1].build_id.as_str(), builds[1].status.as_str()),
            ("20250115-067", "imported-legacy-id")
        );
        // A build reserved by goldenpath is listed once, as its own.
        reserve(&reg, "16-01-25-01", false);
        let again: Vec<_> = list(&reg)
            .into_iter()
            .filter(|b| b.build_id == "16-01-25-01")
            .collect();
        assert_eq!(again.len(), 1);
        assert!(!again[0].imported);
    }

    #[test]
    fn an_imported_build_with_a_forged_row_is_tampered_whatever_its_other_rows_say() {
        let (reg, _d) = sqlite();
        import(
            &reg,
            "2025-01-16T09:00:00Z,2025-01-16T09:01:00Z,plan,dev,16-01-25-01,60,0\n\
             2025-01-16T10:00:00Z,2025-01-16T10:04:00Z,apply,dev,16-01-25-01,240,0\n\
             2025-01-18T10:00:00Z,2025-01-18T10:04:00Z,apply,dev,18-01-25-01,240,0\n",
        );
        sql(
            &reg,
            "DROP TRIGGER phase_events_no_update; UPDATE phase_events SET exit_code = 1 WHERE phase = 'plan'",
        );
        let (builds, tampered) = reg.builds_checked("dev").unwrap();
        let b = builds.iter().find(|b| b.build_id == "16-01-25-01").unwrap();
        assert_eq!(b.status, TAMPERED, "{builds:?}");
        let c = builds.iter().find(|b| b.build_id == "18-01-25-01").unwrap();
        assert_eq!(c.status, "imported");
        assert!(!tampered.is_empty());
    }

    #[test]
    fn an_environment_is_recorded_by_any_reservation_event_or_phase() {
        let (reg, _d) = sqlite();
        assert!(!reg.env_recorded("dev").unwrap());
        reserve(&reg, B1, false);
        assert!(reg.env_recorded("dev").unwrap());
        assert!(!reg.env_recorded("prod").unwrap());
        record(&reg, "persistent", "deploy_started", None);
        let p = DeploymentEvent {
            id: new_id(),
            env: "test".into(),
            deployment: "persistent".into(),
            run_id: None,
            event: "deploy_started".into(),
            actor: "a".into(),
            commit_sha: None,
            run_url: None,
            detail: None,
            at_us: now_us(),
        };
        reg.record_deployment(&p).unwrap();
        assert!(reg.env_recorded("test").unwrap());
        import(
            &reg,
            "2025-01-16T09:00:00Z,2025-01-16T09:01:00Z,plan,qa,16-01-25-01,60,0\n",
        );
        assert!(reg.env_recorded("qa").unwrap());
    }
}
