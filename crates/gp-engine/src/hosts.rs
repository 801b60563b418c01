//! Publishing a component's hostnames as DNS records.
//!
//! A component that serves `hosts` with a `target` and needs a component
//! whose driver publishes host records (a [`gp_driver::HostPublisher`]: the
//! zone) gets a record per host through that capability, as typed
//! [`gp_driver::HostRecords`]. Targets may reference outputs
//! (`${cluster.ingress_address}`). The records are journalled under the
//! component with the zone's driver, so teardown removes them with the
//! rest.

use std::collections::BTreeMap;

use gp_core::{ComponentSpec, Contract};
use gp_driver::{ComponentCtx, ComponentOutputs, DriverError, Intent, Observation, Presence};

use crate::graph::{Graph, GraphNode};
use crate::state::DeploymentState;
use crate::{Engine, EngineError, refs};

/// The records step of one component, ready to run.
pub(crate) struct HostRecords {
    /// The zone component.
    pub zone: String,
    /// Its driver, which publishes the records.
    pub zone_driver: String,
    /// The records.
    pub records: gp_driver::HostRecords,
    /// What the publisher's context carries as settings (nothing: the
    /// records are typed).
    pub settings: gp_core::yaml::Node,
    /// What this component published before, from the journal.
    pub last: Option<ComponentOutputs>,
}

impl Engine<'_> {
    /// The host publisher of a driver, if it is one.
    pub(crate) fn publisher(&self, driver: &str) -> Option<&dyn gp_driver::HostPublisher> {
        self.drivers.get(driver).and_then(|d| d.host_publisher())
    }

    /// The zone a component's host records go to: the first component it
    /// needs whose driver publishes host records, and that driver.
    fn zone_of(&self, graph: &Graph, node: &GraphNode) -> Option<(String, String)> {
        node.needs.iter().find_map(|(_, d)| {
            let dep = &graph.nodes[*d];
            let driver = &graph.spec(self.platform, dep).driver.value;
            self.publisher(driver)
                .is_some()
                .then(|| (dep.name.clone(), driver.clone()))
        })
    }

    /// Starts reading each zone the graph's components publish host
    /// records in, where the foundational plane has published the zone
    /// ([`gp_driver::HostPublisher::read_ahead`]): one read per zone, by
    /// zone component, for the plan's observation of the first component
    /// whose records go there ([`Engine::observe_records`]).
    pub(crate) fn read_zones_ahead(
        &self,
        graph: &Graph,
        foundational: &DeploymentState,
    ) -> BTreeMap<String, gp_driver::ZoneRead> {
        let mut reads = BTreeMap::new();
        for node in &graph.nodes {
            let spec = graph.spec(self.platform, node);
            if !spec.hosts.iter().any(|h| h.target.is_some()) {
                continue;
            }
            let Some((zone, driver)) = self.zone_of(graph, node) else {
                continue;
            };
            if reads.contains_key(&zone) {
                continue;
            }
            let (Some(outputs), Some(publisher)) =
                (foundational.outputs(&zone), self.publisher(&driver))
            else {
                continue;
            };
            if let Some(read) = publisher.read_ahead(&outputs.values) {
                reads.insert(zone, read);
            }
        }
        reads
    }

    /// The records a component should have, or `None` when it publishes
    /// none (no host with a target, or no zone among its needs).
    pub(crate) fn host_records(
        &self,
        graph: &Graph,
        node: &GraphNode,
        spec: &ComponentSpec,
        contract: &Contract<'_>,
        inputs: &BTreeMap<String, ComponentOutputs>,
        state: &DeploymentState,
    ) -> Result<Option<HostRecords>, DriverError> {
        self.host_records_with(graph, node, spec, contract, inputs, state, false)
    }

    /// [`Engine::host_records`]; with `names_only`, a target whose inputs
    /// are not published yet stays as written (a plan asks who owns the
    /// names before the component that yields the address has run).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn host_records_with(
        &self,
        graph: &Graph,
        node: &GraphNode,
        spec: &ComponentSpec,
        contract: &Contract<'_>,
        inputs: &BTreeMap<String, ComponentOutputs>,
        state: &DeploymentState,
        names_only: bool,
    ) -> Result<Option<HostRecords>, DriverError> {
        let Some((zone, zone_driver)) = self.zone_of(graph, node) else {
            return Ok(None);
        };
        let mut records = Vec::new();
        for h in &spec.hosts {
            let Some(target) = &h.target else { continue };
            let rtype = h.record_type();
            let resolved = match refs::resolve_str(&target.value, inputs) {
                // A documentation address (RFC 5737, 3849) or name stands in:
                // only the names' owners matter before the address exists.
                Err(_) if names_only => Ok(match rtype {
                    gp_core::RecordType::A => "192.0.2.1".to_string(),
                    gp_core::RecordType::Aaaa => "2001:db8::1".to_string(),
                    gp_core::RecordType::Cname => "target.invalid".to_string(),
                }),
                other => other,
            }
            .map_err(|missing| {
                DriverError::configuration(format!(
                    "the target of host {} references outputs that were not published: {}",
                    h.name.value,
                    missing
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            let fqdn = contract
                .hostname(&h.name.value, rtype)
                .map_err(|e| DriverError::configuration(e.to_string()))?;
            records.push(gp_driver::HostRecord {
                name: h.name.value.clone(),
                fqdn,
                rtype,
                target: resolved,
            });
        }
        if records.is_empty() {
            return Ok(None);
        }
        // What it published before: its live records in the journal.
        let mut last = ComponentOutputs::default();
        for r in state
            .resources
            .iter()
            .filter(|r| r.component == spec.name.value && r.driver == zone_driver && !r.destroyed)
        {
            if let Some(fqdn) = r.resource.data.get("fqdn").and_then(|f| f.as_str()) {
                last.resources.insert(
                    fqdn.to_string(),
                    BTreeMap::from([
                        ("fqdn".to_string(), serde_json::json!(fqdn)),
                        (
                            "type".to_string(),
                            r.resource.data.get("type").cloned().unwrap_or_default(),
                        ),
                    ]),
                );
            }
        }
        Ok(Some(HostRecords {
            records: gp_driver::HostRecords {
                zone: zone.clone(),
                records,
            },
            zone,
            zone_driver,
            settings: gp_core::yaml::Node::empty_map(spec.name.start),
            last: (!last.resources.is_empty()).then_some(last),
        }))
    }

    /// Observes a component's records; what the zone holds is taken from
    /// `read` when one was started ([`Engine::read_zones_ahead`]).
    pub(crate) fn observe_records(
        &self,
        spec: &ComponentSpec,
        contract: &Contract<'_>,
        records: &HostRecords,
        inputs: &BTreeMap<String, ComponentOutputs>,
        recorder: &dyn gp_driver::Recorder,
        read: Option<gp_driver::ZoneRead>,
    ) -> Result<Observation, DriverError> {
        let Some(publisher) = self.publisher(&records.zone_driver) else {
            return Err(DriverError::configuration(format!(
                "the driver {} publishes no host records",
                records.zone_driver
            )));
        };
        let ctx = self.records_ctx(spec, contract, records, inputs, recorder);
        match read {
            Some(read) => publisher.observe_hosts_with(&ctx, &records.records, read),
            None => publisher.observe_hosts(&ctx, &records.records),
        }
    }

    /// Publishes a component's records if they are not as wanted.
    pub(crate) fn publish_records(
        &self,
        spec: &ComponentSpec,
        contract: &Contract<'_>,
        records: &HostRecords,
        inputs: &BTreeMap<String, ComponentOutputs>,
        recorder: &dyn gp_driver::Recorder,
    ) -> Result<Option<gp_driver::Applied>, DriverError> {
        let Some(publisher) = self.publisher(&records.zone_driver) else {
            return Err(DriverError::configuration(format!(
                "the driver {} publishes no host records",
                records.zone_driver
            )));
        };
        let ctx = self.records_ctx(spec, contract, records, inputs, recorder);
        let seen = publisher.observe_hosts(&ctx, &records.records)?;
        if seen.presence == Presence::Present && seen.drift.is_empty() {
            return Ok(None);
        }
        publisher.publish_hosts(&ctx, &records.records).map(Some)
    }

    fn records_ctx<'x>(
        &'x self,
        spec: &'x ComponentSpec,
        contract: &'x Contract<'x>,
        records: &'x HostRecords,
        inputs: &'x BTreeMap<String, ComponentOutputs>,
        recorder: &'x dyn gp_driver::Recorder,
    ) -> ComponentCtx<'x> {
        ComponentCtx {
            platform: self.platform,
            contract,
            component: spec,
            settings: &records.settings,
            inputs,
            last: records.last.as_ref(),
            intent: Intent::Update,
            state_dir: &self.state_dir,
            recorder,
        }
    }
}

/// One host record of a deployment and what applying would do.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostRecordPlan {
    /// The component serving the host.
    pub component: String,
    /// Full name.
    pub fqdn: String,
    /// Record type.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Address or target name.
    pub target: String,
    /// `create`, `update`, `unchanged`, `conflict`, or `not deployed`.
    pub action: String,
    /// Why (a conflict's owner, the current value).
    pub detail: String,
}

/// A component that publishes host records, and when it is deployed its
/// records step with the inputs to resolve it.
type RecordsStep = (
    String,
    Option<(HostRecords, BTreeMap<String, ComponentOutputs>)>,
);

/// What `dns apply` did for one component.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostRecordsApplied {
    /// The component.
    pub component: String,
    /// Records added, changed, removed.
    pub counts: gp_driver::Counts,
    /// The error, if its records could not be published.
    pub error: Option<String>,
    /// Whether a guard refused them (a name another owner holds).
    pub refused: bool,
}

impl Engine<'_> {
    /// The components of a deployment that publish host records, with the
    /// records step of each deployed one.
    fn records_steps(
        &self,
        env: &str,
        deployment: gp_core::Deployment,
    ) -> Result<Vec<RecordsStep>, EngineError> {
        let contract = Contract::new(self.platform, env, deployment)?;
        let graph = Graph::build(self.platform, env, deployment, &[])?;
        let (state, fstate) =
            DeploymentState::load_with_foundational(self.registry, env, deployment)?;
        let mut out = Vec::new();
        for node in &graph.nodes {
            if node.role != crate::graph::Role::Target
                || !matches!(node.disposition, crate::graph::Disposition::Run)
            {
                continue;
            }
            let spec = graph.spec(self.platform, node);
            if !spec.hosts.iter().any(|h| h.target.is_some()) {
                continue;
            }
            let applied = state
                .components
                .get(&node.name)
                .is_some_and(|c| c.state == crate::state::ComponentState::Applied);
            if !applied {
                out.push((node.name.clone(), None));
                continue;
            }
            let mut inputs = self.inputs_from_state(&graph, node, &state, &fstate);
            for (_, d) in &node.needs {
                let dep = &graph.nodes[*d];
                if let Some(o) = fstate.outputs(&dep.name) {
                    inputs.entry(dep.name.clone()).or_insert_with(|| o.clone());
                }
            }
            match self.host_records(&graph, node, spec, &contract, &inputs, &state) {
                Ok(Some(r)) => out.push((node.name.clone(), Some((r, inputs)))),
                Ok(None) => {}
                Err(e) => {
                    return Err(EngineError::usage(format!("{}: {e}", node.name), None));
                }
            }
        }
        Ok(out)
    }

    fn spec_named(&self, name: &str) -> Option<&ComponentSpec> {
        self.platform
            .spec
            .components
            .iter()
            .find(|c| c.name.value == name)
    }

    /// What publishing a deployment's host records would do, per record.
    pub fn dns_plan(
        &self,
        env: &str,
        deployment: gp_core::Deployment,
    ) -> Result<Vec<HostRecordPlan>, EngineError> {
        self.validate()?;
        let contract = Contract::new(self.platform, env, deployment)?;
        let recorder = self.quiet_recorder(env, &deployment.key());
        let mut rows = Vec::new();
        for (component, step) in self.records_steps(env, deployment)? {
            let Some(spec) = self.spec_named(&component) else {
                continue;
            };
            let Some((records, inputs)) = step else {
                for h in spec.hosts.iter().filter(|h| h.target.is_some()) {
                    rows.push(HostRecordPlan {
                        component: component.clone(),
                        fqdn: contract
                            .hostname(&h.name.value, h.record_type())
                            .unwrap_or_default(),
                        rtype: h.record_type().to_string(),
                        target: h
                            .target
                            .as_ref()
                            .map(|t| t.value.clone())
                            .unwrap_or_default(),
                        action: "not deployed".into(),
                        detail: "deploy the component first".into(),
                    });
                }
                continue;
            };
            let Some(publisher) = self.publisher(&records.zone_driver) else {
                return Err(EngineError::usage(
                    format!(
                        "the driver {} publishes no host records",
                        records.zone_driver
                    ),
                    None,
                ));
            };
            let items = publisher
                .plan_hosts(
                    &self.records_ctx(spec, &contract, &records, &inputs, &recorder),
                    &records.records,
                )
                .map_err(|e| EngineError::usage(format!("{component}: {e}"), e.hint))?;
            for i in items {
                rows.push(HostRecordPlan {
                    component: component.clone(),
                    fqdn: i.fqdn,
                    rtype: i.rtype,
                    target: i.target,
                    action: serde_json::to_value(i.action)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    detail: i.detail,
                });
            }
        }
        Ok(rows)
    }

    /// Publishes a deployment's host records (deployed components only),
    /// under the deployment's lease, journalled like a deploy.
    pub fn dns_apply(
        &self,
        env: &str,
        deployment: gp_core::Deployment,
    ) -> Result<Vec<HostRecordsApplied>, EngineError> {
        self.validate()?;
        let contract = Contract::new(self.platform, env, deployment)?;
        let key = deployment.key();
        let (run_id, held) = self.take_lease(env, &key)?;
        let result = (|| {
            let build_id = deployment.build_id();
            let mut out = Vec::new();
            for (component, step) in self.records_steps(env, deployment)? {
                let (Some(spec), Some((records, inputs))) = (self.spec_named(&component), step)
                else {
                    continue;
                };
                let recorder = crate::recorder::RunRecorder {
                    build_id,
                    component: &component,
                    driver: &records.zone_driver,
                    flags: Some("dns apply"),
                    ..self.recorder(env, &key, gp_driver::RunMode::Write, &run_id)
                };
                let phase = recorder.start_phase(&format!("records:{component}"), Some(&component));
                match self.publish_records(spec, &contract, &records, &inputs, &recorder) {
                    Ok(a) => {
                        let counts = a.map(|a| a.counts).unwrap_or_default();
                        recorder.end_phase(phase, 0, Some(counts), None);
                        out.push(HostRecordsApplied {
                            component,
                            counts,
                            error: None,
                            refused: false,
                        });
                    }
                    Err(e) => {
                        recorder.end_phase(
                            phase,
                            if e.kind == gp_driver::ErrorKind::Refused {
                                3
                            } else {
                                1
                            },
                            None,
                            None,
                        );
                        out.push(HostRecordsApplied {
                            component,
                            counts: Default::default(),
                            error: Some(match &e.hint {
                                Some(h) => format!("{} ({h})", e.message),
                                None => e.message.clone(),
                            }),
                            refused: e.kind == gp_driver::ErrorKind::Refused,
                        });
                    }
                }
            }
            Ok(out)
        })();
        if let Err(e) = self.registry.lease_release(&held) {
            tracing::warn!("cannot release the lease: {e}");
        }
        result
    }

    /// A recorder for read-only driver calls.
    pub(crate) fn quiet_recorder<'a>(
        &'a self,
        env: &'a str,
        deployment: &str,
    ) -> crate::recorder::RunRecorder<'a> {
        self.recorder(env, deployment, gp_driver::RunMode::Read, "read")
    }

    /// `terraform force-unlock` (or a driver's like) of a component's state
    /// lock, recorded first as an override with who and why.
    pub fn unlock(
        &self,
        env: &str,
        deployment: gp_core::Deployment,
        component: &str,
        lock_id: &str,
        reason: &str,
    ) -> Result<(), EngineError> {
        self.validate()?;
        if reason.trim().is_empty() {
            return Err(EngineError::usage("an unlock needs a --reason", None));
        }
        let Some(spec) = self.spec_named(component) else {
            return Err(EngineError::usage(
                format!("there is no component `{component}`"),
                None,
            ));
        };
        let contract = Contract::new(self.platform, env, deployment)?;
        let key = deployment.key();
        let state = DeploymentState::load(self.registry, env, &key)?;
        let fstate = DeploymentState::load(self.registry, env, "foundational")?;
        let Some(driver) = self.drivers.get(&spec.driver.value) else {
            return Err(EngineError::usage(
                format!("no driver `{}`", spec.driver.value),
                None,
            ));
        };
        self.registry.record_override(&gp_registry::Override {
            id: gp_registry::new_id(),
            env: env.into(),
            deployment: Some(key.clone()),
            kind: format!("{}-force-unlock", spec.driver.value),
            subject: format!("{component} lock {lock_id}"),
            actor: self.actor.clone(),
            reason: reason.into(),
            at_us: gp_registry::now_us(),
        })?;
        let mut inputs: BTreeMap<String, ComponentOutputs> = BTreeMap::new();
        for n in &spec.needs {
            let name = n.value.split('/').next().unwrap_or_default();
            if let Some(o) = state.outputs(name).or_else(|| fstate.outputs(name)) {
                inputs.insert(name.to_string(), o.clone());
            }
        }
        let resolved = refs::resolved_settings(spec, &inputs)?;
        let mut recorder = self.quiet_recorder(env, &key);
        recorder.component = component;
        recorder.driver = &spec.driver.value;
        let ctx = ComponentCtx {
            platform: self.platform,
            contract: &contract,
            component: spec,
            settings: &resolved,
            inputs: &inputs,
            last: state.outputs(component),
            intent: Intent::Update,
            state_dir: &self.state_dir,
            recorder: &recorder,
        };
        // The override above records who asked and why; the outcome is a
        // deployment event next to it.
        let result = driver.unlock(&ctx, lock_id);
        let run_id = gp_registry::new_id();
        self.record_event(
            env,
            &key,
            &run_id,
            if result.is_ok() {
                gp_registry::EventKind::ForceUnlockSucceeded
            } else {
                gp_registry::EventKind::ForceUnlockFailed
            },
            Some(serde_json::json!({
                "component": component,
                "lockId": lock_id,
                "error": result.as_ref().err().map(|e| e.message.clone()),
            })),
        )?;
        result.map_err(|e| EngineError::Failed {
            message: e.message,
            hint: e.hint,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use gp_core::Deployment;

    use super::*;
    use crate::iam::tests::Probe;
    use crate::state::{ComponentRecord, ComponentState};

    /// Two components with hosts in `zone`, one with hosts in `other`, one
    /// with a host but no target in `third`, one in `lazy` (whose driver
    /// reads nothing ahead), one needing no zone.
    const SPEC: &str = "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: t\nprefix: gp\ndomain: example.test\nowner: t\nenvironments:\n  dev: {}\ncomponents:\n  - { name: zone, plane: foundational, tier: 0, driver: zoned, settings: {} }\n  - { name: other, plane: foundational, tier: 0, driver: zoned, settings: {} }\n  - { name: third, plane: foundational, tier: 0, driver: zoned, settings: {} }\n  - { name: lazy, plane: foundational, tier: 0, driver: lazy, settings: {} }\n  - { name: web, plane: disposable, tier: 1, driver: exec, needs: [zone], hosts: [{ name: www, target: 10.0.0.1 }], settings: { apply: 'true' } }\n  - { name: api, plane: disposable, tier: 1, driver: exec, needs: [zone], hosts: [{ name: api, target: 10.0.0.2 }], settings: { apply: 'true' } }\n  - { name: docs, plane: disposable, tier: 1, driver: exec, needs: [other], hosts: [{ name: docs, target: 10.0.0.3 }], settings: { apply: 'true' } }\n  - { name: bare, plane: disposable, tier: 1, driver: exec, needs: [third], hosts: [{ name: bare }], settings: { apply: 'true' } }\n  - { name: slow, plane: disposable, tier: 1, driver: exec, needs: [lazy], hosts: [{ name: slow, target: 10.0.0.4 }], settings: { apply: 'true' } }\n  - { name: job, plane: disposable, tier: 1, driver: exec, settings: { apply: 'true' } }\n";

    fn published(zone: &str) -> gp_driver::Outputs {
        gp_driver::Outputs::from([("zone".to_string(), serde_json::json!(zone))])
    }

    /// The foundational plane with each of `zones` applied (its outputs
    /// published) and each of `torn` torn down.
    fn plane(zones: &[&str], torn: &[&str]) -> DeploymentState {
        let mut state = DeploymentState::default();
        for (zone, state_of) in zones
            .iter()
            .map(|z| (z, ComponentState::Applied))
            .chain(torn.iter().map(|z| (z, ComponentState::TornDown)))
        {
            state.components.insert(
                zone.to_string(),
                ComponentRecord {
                    state: state_of,
                    outputs: Some(ComponentOutputs {
                        values: published(zone),
                        ..Default::default()
                    }),
                    settings_hash: None,
                    at_us: 0,
                },
            );
        }
        state
    }

    #[test]
    fn each_published_zone_of_a_host_with_a_target_is_read_ahead_once() {
        let mut t = crate::TestEngine::with_spec(SPEC);
        let zoned = Arc::new(Probe {
            name: "zoned",
            zone: true,
            ahead: true,
            asked: Mutex::default(),
        });
        t.drivers = gp_driver::DriverSet::new()
            .with(Arc::new(gp_driver::exec::ExecDriver))
            .with(zoned.clone())
            .with(Arc::new(Probe::new("lazy", true)));
        let engine = t.engine();
        let build = Deployment::Ephemeral("23-01-26-01".parse().unwrap());
        let graph = Graph::build(&t.platform, "dev", build, &[]).unwrap();
        let cases: [(&[&str], &[&str], &[&str]); 4] = [
            // `zone` once for `web` and `api`, `other` for `docs`; never
            // `third` (a host without a target publishes no record) nor
            // `lazy` (its driver reads nothing ahead).
            (&["zone", "other", "third", "lazy"], &[], &["other", "zone"]),
            // A zone the plane has not published, or has torn down, is
            // not read.
            (&["other"], &["zone"], &["other"]),
            (&[], &["zone", "other"], &[]),
            (&[], &[], &[]),
        ];
        for (applied, torn, read) in cases {
            zoned.asked.lock().unwrap().clear();
            let reads = engine.read_zones_ahead(&graph, &plane(applied, torn));
            let zones: Vec<&str> = reads.keys().map(String::as_str).collect();
            assert_eq!(zones, read, "{applied:?} {torn:?}");
            for (zone, r) in reads {
                assert_eq!(r.take::<gp_driver::Outputs>(), Some(published(&zone)));
            }
            let mut asked: Vec<gp_driver::Outputs> = zoned.asked.lock().unwrap().clone();
            asked.sort_by_key(|o| o["zone"].to_string());
            let want: Vec<gp_driver::Outputs> = read.iter().map(|z| published(z)).collect();
            assert_eq!(asked, want, "each zone asked once");
        }
    }
}
