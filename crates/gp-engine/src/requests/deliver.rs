//! A request's deliveries to the cluster, through the driver that delivers
//! (the gitops driver): rendered and checked before anything is made,
//! passed through the run's policy gate, journalled under the
//! environment's `requests` journal, committed and pushed in one commit.

use gp_core::request::{Delivery, Request};
use gp_driver::deliver::{DeliveryCtx, Rendered};
use gp_driver::{Counts, Recorder};

use crate::recorder::RunRecorder;
use crate::{Engine, EngineError};

/// The journal a request's deliveries are recorded in: the
/// environment's, under this deployment key (never a build's, never the
/// foundational plane's, so no teardown of either replays it).
pub const JOURNAL: &str = "requests";

impl Engine<'_> {
    /// The files a request's deliveries render to, checked against their
    /// schemas (nothing written); none when there is nothing to deliver.
    pub(crate) fn render_deliveries(
        &self,
        r: &Request,
        deliveries: &[Delivery],
    ) -> Result<Rendered, EngineError> {
        if deliveries.is_empty() {
            return Ok(Rendered::new());
        }
        let deliverer = self.drivers.deliverer().ok_or_else(|| {
            EngineError::usage(
                format!(
                    "request {} delivers an ExternalSecret, and no driver of this platform delivers to the cluster",
                    r.id().value
                ),
                Some("wire the gitops driver".into()),
            )
        })?;
        deliverer
            .render_deliveries(self.platform, r.env(), &r.id().value, deliveries)
            .map_err(super::driver_error)
    }

    /// A recorder of the request's environment, with its policy gate
    /// (`run_id` `plan` writes nothing, not even the findings).
    fn delivery_recorder<'a>(
        &'a self,
        r: &'a Request,
        run_id: &'a str,
        gate: Option<&'a crate::policy::PolicyGate>,
    ) -> RunRecorder<'a> {
        RunRecorder {
            component: &r.id().value,
            driver: "gitops",
            policy: gate,
            ..self.recorder(r.env(), JOURNAL, gp_driver::RunMode::Write, run_id)
        }
    }

    /// The policy gate of a request's environment.
    fn request_gate(&self, r: &Request) -> Result<Option<crate::policy::PolicyGate>, EngineError> {
        let contract = self.request_contract(r)?;
        self.policy_gate(&contract, &[])
    }

    /// Runs the platform's policies over what a request would deliver,
    /// recording nothing: a `deny` refuses (exit 3) before anything is
    /// made.
    pub(crate) fn gate_deliveries(&self, r: &Request, files: &Rendered) -> Result<(), EngineError> {
        if files.is_empty() {
            return Ok(());
        }
        let gate = self.request_gate(r)?;
        let recorder = self.delivery_recorder(r, "plan", gate.as_ref());
        recorder
            .check_policy(gp_driver::PolicySubject::Rendered(files))
            .map_err(super::driver_error)
    }

    /// Delivers a request's objects (journalled, gated, committed, pushed).
    pub(crate) fn deliver(
        &self,
        r: &Request,
        run_id: &str,
        deliveries: &[Delivery],
    ) -> Result<Counts, EngineError> {
        if deliveries.is_empty() {
            return Ok(Counts::default());
        }
        let Some(deliverer) = self.drivers.deliverer() else {
            return Err(EngineError::usage(
                "no driver of this platform delivers to the cluster",
                None,
            ));
        };
        let gate = self.request_gate(r)?;
        let recorder = self.delivery_recorder(r, run_id, gate.as_ref());
        deliverer
            .deliver(
                &DeliveryCtx {
                    platform: self.platform,
                    env: r.env(),
                    request: &r.id().value,
                    recorder: &recorder,
                },
                deliveries,
            )
            .map_err(super::driver_error)
    }

    /// Removes what a request delivered; returns the files that were there.
    pub(crate) fn withdraw_deliveries(
        &self,
        request: &str,
        env: &str,
        run_id: &str,
    ) -> Result<Vec<String>, EngineError> {
        let Some(deliverer) = self.drivers.deliverer() else {
            return Ok(Vec::new());
        };
        let there = deliverer
            .delivered(self.platform, env, request)
            .map_err(super::driver_error)?;
        let recorder = RunRecorder {
            component: request,
            driver: "gitops",
            ..self.recorder(env, JOURNAL, gp_driver::RunMode::Write, run_id)
        };
        deliverer
            .withdraw(&DeliveryCtx {
                platform: self.platform,
                env,
                request,
                recorder: &recorder,
            })
            .map_err(super::driver_error)?;
        Ok(there.into_keys().collect())
    }
}
