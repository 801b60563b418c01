//! Publishing a component's hostnames as DNS records.
//!
//! A component that serves `hosts` with a `target` and needs a component of
//! the `dns` driver (the zone) gets a record per host through that driver,
//! in the shape `gp_driver_dns::RecordsSettings` documents: `{zone,
//! records: [{name, fqdn, type, target}]}`. Targets may reference outputs
//! (`${cluster.ingress_address}`). The records are journalled under the
//! component with driver `dns`, so teardown removes them with the rest.

use std::collections::BTreeMap;

use gp_core::{ComponentSpec, Contract};
use gp_driver::{ComponentCtx, ComponentOutputs, DriverError, Intent, Observation, Presence};

use crate::graph::{Graph, GraphNode};
use crate::state::DeploymentState;
use crate::{Engine, refs};

/// The records step of one component, ready to run.
pub(crate) struct HostRecords {
    /// The zone component.
    pub zone: String,
    /// The settings node for the dns driver.
    pub settings: gp_core::yaml::Node,
    /// What this component published before, from the journal.
    pub last: Option<ComponentOutputs>,
}

impl Engine<'_> {
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
        let zone = node.needs.iter().find_map(|(_, d)| {
            let dep = &graph.nodes[*d];
            (graph.spec(self.platform, dep).driver.value == "dns").then(|| dep.name.clone())
        });
        let Some(zone) = zone else { return Ok(None) };
        let mut records = Vec::new();
        for h in &spec.hosts {
            let Some(target) = &h.target else { continue };
            let resolved = refs::resolve_str(&target.value, inputs).map_err(|missing| {
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
            let rtype = h.record_type();
            let fqdn = contract
                .hostname(&h.name.value, rtype)
                .map_err(|e| DriverError::configuration(e.to_string()))?;
            records.push(serde_json::json!({
                "name": h.name.value,
                "fqdn": fqdn,
                "type": rtype,
                "target": resolved,
            }));
        }
        if records.is_empty() {
            return Ok(None);
        }
        let settings = gp_core::yaml::Node::from_json(
            &serde_json::json!({ "zone": zone, "records": records }),
            spec.name.start,
        );
        // What it published before: its live dns records in the journal.
        let mut last = ComponentOutputs::default();
        for r in state
            .resources
            .iter()
            .filter(|r| r.component == spec.name.value && r.driver == "dns" && !r.destroyed)
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
            zone,
            settings,
            last: (!last.resources.is_empty()).then_some(last),
        }))
    }

    /// Observes a component's records.
    pub(crate) fn observe_records(
        &self,
        spec: &ComponentSpec,
        contract: &Contract<'_>,
        records: &HostRecords,
        inputs: &BTreeMap<String, ComponentOutputs>,
        recorder: &dyn gp_driver::Recorder,
    ) -> Result<Observation, DriverError> {
        let Some(driver) = self.drivers.get("dns") else {
            return Err(DriverError::configuration(
                "the dns driver is not available",
            ));
        };
        driver.observe(&self.records_ctx(spec, contract, records, inputs, recorder))
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
        let Some(driver) = self.drivers.get("dns") else {
            return Err(DriverError::configuration(
                "the dns driver is not available",
            ));
        };
        let ctx = self.records_ctx(spec, contract, records, inputs, recorder);
        let seen = driver.observe(&ctx)?;
        if seen.presence == Presence::Present && seen.drift.is_empty() {
            return Ok(None);
        }
        driver.apply(&ctx).map(Some)
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
