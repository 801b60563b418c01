//! Self-service provisioning on a deployed foundational component (a
//! database request on the instance), and reading what a component holds.
//!
//! A request runs under the foundational plane's lease, journalled under
//! the instance component in the foundational deployment, so teardown of
//! the instance (break-glass) replays it with the rest and a concurrent
//! foundational deploy waits its turn.

use std::collections::BTreeMap;

use gp_core::{ComponentSpec, Contract, Deployment, Plane};
use gp_driver::{Applied, ComponentCtx, ComponentOutputs, DriverError, Intent};

use crate::recorder::RunRecorder;
use crate::state::{ComponentState, DeploymentState};
use crate::{Engine, EngineError, refs};

/// A deployed foundational component's driver, inputs and resolved
/// settings.
type Deployed<'a> = (
    &'a std::sync::Arc<dyn gp_driver::Driver>,
    BTreeMap<String, ComponentOutputs>,
    gp_core::yaml::Node,
);

impl Engine<'_> {
    fn foundational_spec(&self, component: &str) -> Result<&ComponentSpec, EngineError> {
        let spec = self
            .platform
            .spec
            .components
            .iter()
            .find(|c| c.name.value == component)
            .ok_or_else(|| {
                EngineError::usage(format!("there is no component `{component}`"), None)
            })?;
        if spec.plane.value != Plane::Foundational {
            return Err(EngineError::usage(
                format!("`{component}` is not a foundational component"),
                None,
            ));
        }
        Ok(spec)
    }

    /// Inputs of a foundational component from the foundational journal.
    fn foundational_inputs(
        &self,
        spec: &ComponentSpec,
        fstate: &DeploymentState,
    ) -> BTreeMap<String, ComponentOutputs> {
        spec.needs
            .iter()
            .filter_map(|n| {
                let name = n.value.split('/').next().unwrap_or_default();
                fstate.outputs(name).map(|o| (name.to_string(), o.clone()))
            })
            .collect()
    }

    /// Provisions `request` (the driver's JSON shape) on the deployed
    /// foundational `component` of `env`. The driver tells its own
    /// resources from others' through the recorder (`Recorder::owns`), which
    /// reads the foundational plane's journal.
    pub fn provision(
        &self,
        env: &str,
        component: &str,
        request: &serde_json::Value,
        label: &str,
    ) -> Result<Applied, EngineError> {
        let key = Deployment::Foundational.key();
        let (run_id, held) = self.take_lease(env, &key)?;
        let result = self.provision_held(env, component, request, label, &run_id);
        if let Err(e) = self.registry.lease_release(&held) {
            tracing::warn!("cannot release the lease: {e}");
        }
        result
    }

    /// [`Engine::provision`] by a caller that holds the environment's
    /// foundational lease, in its run `run_id`.
    pub(crate) fn provision_held(
        &self,
        env: &str,
        component: &str,
        request: &serde_json::Value,
        label: &str,
        run_id: &str,
    ) -> Result<Applied, EngineError> {
        self.validate()?;
        let spec = self.foundational_spec(component)?;
        let contract = Contract::new(self.platform, env, Deployment::Foundational)?;
        let key = Deployment::Foundational.key();
        {
            let fstate = DeploymentState::load(self.registry, env, &key)?;
            let (driver, inputs, resolved) = self.deployed_foundational(env, spec, &fstate)?;
            let payload = request.clone();
            let recorder = RunRecorder {
                component,
                driver: &spec.driver.value,
                flags: Some(label),
                foundational: Some(&fstate),
                own: Some(&fstate),
                ..self.recorder(env, &key, gp_driver::RunMode::Write, run_id)
            };
            let ctx = ComponentCtx {
                platform: self.platform,
                contract: &contract,
                component: spec,
                settings: &resolved,
                inputs: &inputs,
                last: fstate.outputs(component),
                intent: Intent::Update,
                state_dir: &self.state_dir,
                recorder: &recorder,
            };
            let phase = recorder.start_phase(&format!("provision:{component}"), Some(component));
            let applied = driver.provision(&ctx, &payload);
            match &applied {
                Ok(a) => recorder.end_phase(phase, 0, Some(a.counts), None),
                Err(_) => recorder.end_phase(phase, 1, None, None),
            }
            applied.map_err(driver_error)
        }
    }

    /// A foundational component that is deployed: its driver, its inputs
    /// and its resolved settings, or why it cannot take a request.
    fn deployed_foundational(
        &self,
        env: &str,
        spec: &ComponentSpec,
        fstate: &DeploymentState,
    ) -> Result<Deployed<'_>, EngineError> {
        let component = spec.name.value.as_str();
        if !fstate
            .components
            .get(component)
            .is_some_and(|c| c.state == ComponentState::Applied)
        {
            return Err(EngineError::usage(
                format!("{component} is not deployed in {env}"),
                Some(format!(
                    "deploy it first: goldenpath deploy --env {env} --foundational {component}"
                )),
            ));
        }
        let Some(driver) = self.drivers.get(&spec.driver.value) else {
            return Err(EngineError::usage(
                format!("no driver `{}`", spec.driver.value),
                None,
            ));
        };
        let inputs = self.foundational_inputs(spec, fstate);
        let resolved = refs::resolved_settings(spec, &inputs)?;
        Ok((driver, inputs, resolved))
    }

    /// What provisioning `request` would change on the deployed
    /// foundational `component` of `env`, step by step (read only: no
    /// lease, nothing recorded).
    pub fn provision_plan(
        &self,
        env: &str,
        component: &str,
        request: &serde_json::Value,
    ) -> Result<Vec<String>, EngineError> {
        self.validate()?;
        let spec = self.foundational_spec(component)?;
        let contract = Contract::new(self.platform, env, Deployment::Foundational)?;
        let key = Deployment::Foundational.key();
        let fstate = DeploymentState::load(self.registry, env, &key)?;
        let (driver, inputs, resolved) = self.deployed_foundational(env, spec, &fstate)?;
        let run_id = "plan".to_string();
        let recorder = RunRecorder {
            component,
            driver: &spec.driver.value,
            foundational: Some(&fstate),
            own: Some(&fstate),
            ..self.recorder(env, &key, gp_driver::RunMode::Plan, &run_id)
        };
        let ctx = ComponentCtx {
            platform: self.platform,
            contract: &contract,
            component: spec,
            settings: &resolved,
            inputs: &inputs,
            last: fstate.outputs(component),
            intent: Intent::Update,
            state_dir: &self.state_dir,
            recorder: &recorder,
        };
        driver.plan_provision(&ctx, request).map_err(driver_error)
    }

    /// What a deployed foundational component holds, read live from it.
    pub fn inventory(
        &self,
        env: &str,
        component: &str,
    ) -> Result<Vec<serde_json::Value>, EngineError> {
        let spec = self.foundational_spec(component)?;
        let contract = Contract::new(self.platform, env, Deployment::Foundational)?;
        let key = Deployment::Foundational.key();
        let fstate = DeploymentState::load(self.registry, env, &key)?;
        if !fstate
            .components
            .get(component)
            .is_some_and(|c| c.state == ComponentState::Applied)
        {
            return Ok(Vec::new());
        }
        let Some(driver) = self.drivers.get(&spec.driver.value) else {
            return Ok(Vec::new());
        };
        let inputs = self.foundational_inputs(spec, &fstate);
        let resolved = refs::resolved_settings(spec, &inputs)?;
        let recorder = RunRecorder {
            component,
            driver: &spec.driver.value,
            foundational: Some(&fstate),
            ..self.recorder(env, &key, gp_driver::RunMode::Read, "inventory")
        };
        let ctx = ComponentCtx {
            platform: self.platform,
            contract: &contract,
            component: spec,
            settings: &resolved,
            inputs: &inputs,
            last: fstate.outputs(component),
            intent: Intent::Update,
            state_dir: &self.state_dir,
            recorder: &recorder,
        };
        driver.inventory(&ctx).map_err(driver_error)
    }
}

/// A driver's error as the engine reports it: refusals exit 3, bad
/// settings 2, the rest 1.
pub(crate) fn driver_error(e: DriverError) -> EngineError {
    let message = e.message.clone();
    match e.kind {
        gp_driver::ErrorKind::Refused => EngineError::refused(message, e.hint),
        gp_driver::ErrorKind::Configuration => EngineError::usage(message, e.hint),
        _ => EngineError::Failed {
            message,
            hint: e.hint,
        },
    }
}

impl Engine<'_> {
    /// The outputs each applied component of a deployment last published
    /// (from the journal).
    pub fn component_outputs(
        &self,
        env: &str,
        deployment: &str,
    ) -> Result<BTreeMap<String, ComponentOutputs>, EngineError> {
        let state = DeploymentState::load(self.registry, env, deployment)?;
        Ok(state
            .components
            .iter()
            .filter(|(_, c)| c.state == ComponentState::Applied)
            .filter_map(|(name, c)| c.outputs.clone().map(|o| (name.clone(), o)))
            .collect())
    }
}
