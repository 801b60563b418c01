//! `verify propagation`: every driver's artifacts of a deployment checked
//! against the contract ([`gp_core::propagation`]).

use std::collections::BTreeSet;

use gp_core::propagation::{Artifact, Finding};
use gp_core::{Contract, Deployment};
use gp_driver::ArtifactCtx;

use crate::{Engine, EngineError};

impl Engine<'_> {
    /// The contract's propagation into what the deployment's drivers wrote
    /// (rendered GitOps files, Terraform variables): each problem with file
    /// and line. A deployment with no artifact at all is one finding.
    pub fn verify_propagation(
        &self,
        env: &str,
        deployment: Deployment,
    ) -> Result<Vec<Finding>, EngineError> {
        let contract = Contract::new(self.platform, env, deployment)?;
        let ctx = ArtifactCtx {
            platform: self.platform,
            contract: &contract,
            state_dir: &self.state_dir,
        };
        let drivers: BTreeSet<&str> = self
            .platform
            .spec
            .components
            .iter()
            .map(|c| c.driver.value.as_str())
            .collect();
        let artifacts: Vec<Artifact> = drivers
            .into_iter()
            .filter_map(|d| self.drivers.get(d))
            .flat_map(|d| d.artifacts(&ctx))
            .collect();
        if artifacts.is_empty() {
            return Ok(vec![Finding {
                file: self.state_dir.clone(),
                line: 0,
                value: String::new(),
                problem: format!(
                    "no artifacts of {} in {env} to check (was it deployed?)",
                    deployment.key()
                ),
            }]);
        }
        Ok(gp_core::propagation::check(
            self.platform,
            &contract,
            &artifacts,
        ))
    }
}
