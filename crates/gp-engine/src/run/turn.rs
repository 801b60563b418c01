//! One component's turn on a worker: settings resolved, the recorder and
//! the driver context built, observe, decide, apply, publish its hosts.

use super::*;

impl Engine<'_> {
    /// One component's turn on a worker.
    pub(crate) fn work(
        &self,
        w: &Work<'_>,
        i: usize,
        inputs: &BTreeMap<String, ComponentOutputs>,
    ) -> Done {
        let Work {
            graph,
            contract,
            state,
            fstate,
            run_id,
            flags,
            overrides,
            policy,
        } = *w;
        let node = &graph.nodes[i];
        let spec = graph.spec(self.platform, node);
        let Some(driver) = self.drivers.get(&spec.driver.value) else {
            return Done::Failed(
                i,
                DriverError::configuration(format!("no driver `{}`", spec.driver.value)),
            );
        };
        let resolved = match refs::resolve(&spec.settings_node(), inputs) {
            Ok(r) => r,
            Err(missing) => {
                let names: Vec<String> = missing.iter().map(|r| r.to_string()).collect();
                return Done::Failed(
                    i,
                    DriverError::configuration(format!(
                        "its settings reference outputs that were not published: {}",
                        names.join(", ")
                    )),
                );
            }
        };
        let hash = crate::settings_hash(spec, &resolved);
        let recorder = RunRecorder {
            build_id: contract.build_id(),
            component: &node.name,
            driver: &spec.driver.value,
            flags,
            overrides,
            foundational: Some(fstate),
            own: Some(w.state),
            policy,
            ..self.recorder(
                contract.env(),
                &contract.deployment().key(),
                gp_driver::RunMode::Write,
                run_id,
            )
        };
        let mut ctx = ComponentCtx {
            platform: self.platform,
            contract,
            component: spec,
            settings: &resolved,
            inputs,
            last: state.outputs(&node.name),
            intent: Intent::Update,
            state_dir: &self.state_dir,
            recorder: &recorder,
        };
        let record = state.components.get(&node.name);
        let journalled = state.resources.iter().any(|r| r.component == node.name)
            || record.is_some_and(|r| r.state == ComponentState::Interrupted);
        let observed = match retry(self, &node.name, || driver.observe(&ctx)) {
            Ok(o) => o,
            Err(e) => return Done::Failed(i, e),
        };
        let intent = match decide(&observed, record, journalled, &hash) {
            Decision::Unchanged => {
                let outputs = observed
                    .outputs
                    .or_else(|| state.outputs(&node.name).cloned())
                    .unwrap_or_default();
                if let Err(e) = self.publish_hosts(w, i, inputs, &recorder) {
                    return Done::Failed(i, e);
                }
                return Done::Unchanged(i, outputs);
            }
            Decision::Act(intent, _) => intent,
        };
        ctx.intent = intent;
        self.events.emit(&Event::ComponentStarted {
            component: node.name.clone(),
            action: intent_word(intent).into(),
        });
        let t = Instant::now();
        let phase = recorder.start_phase(&format!("apply:{}", node.name), Some(&node.name));
        let action_id = new_id();
        let component_resource = format!("component {}", node.name);
        if let Err(e) = recorder.journal(
            &action_id,
            Stage::Before,
            APPLY,
            &component_resource,
            None,
            None,
        ) {
            recorder.end_phase(phase, 1, None, None);
            return Done::Failed(i, e);
        }
        let result = retry(self, &node.name, || driver.apply(&ctx));
        match result {
            Ok(applied) => {
                let outputs = serde_json::json!({
                    "outputs": applied.outputs,
                    "settingsHash": hash,
                });
                if let Err(e) = recorder.journal(
                    &action_id,
                    Stage::After,
                    APPLY,
                    &component_resource,
                    Some(outputs),
                    None,
                ) {
                    recorder.end_phase(phase, 1, Some(applied.counts), None);
                    return Done::Failed(i, e);
                }
                recorder.end_phase(phase, 0, Some(applied.counts), None);
                match self.publish_hosts(w, i, inputs, &recorder) {
                    Ok(Some(records)) => {
                        let mut applied = applied;
                        applied.counts.added += records.counts.added;
                        applied.counts.changed += records.counts.changed;
                        applied.counts.destroyed += records.counts.destroyed;
                        Done::Applied(i, intent, applied, t.elapsed())
                    }
                    Ok(None) => Done::Applied(i, intent, applied, t.elapsed()),
                    Err(e) => Done::Failed(i, e),
                }
            }
            Err(mut e) => {
                if let Err(je) = recorder.journal(
                    &action_id,
                    Stage::Failed,
                    APPLY,
                    &component_resource,
                    None,
                    Some(e.message.clone()),
                ) {
                    e.message =
                        format!("{} (and the journal could not record it: {je})", e.message);
                }
                recorder.end_phase(phase, 1, None, None);
                Done::Failed(i, e)
            }
        }
    }

    /// Publishes the DNS records of a component's hosts (see `hosts.rs`)
    /// under a `dns` recorder, so teardown replays them with the rest.
    pub(crate) fn publish_hosts(
        &self,
        w: &Work<'_>,
        i: usize,
        inputs: &BTreeMap<String, ComponentOutputs>,
        recorder: &RunRecorder<'_>,
    ) -> Result<Option<Applied>, DriverError> {
        let node = &w.graph.nodes[i];
        let spec = w.graph.spec(self.platform, node);
        let Some(records) = self.host_records(w.graph, node, spec, w.contract, inputs, w.state)?
        else {
            return Ok(None);
        };
        let mut zone_inputs = inputs.clone();
        if let Some(z) = w.fstate.outputs(&records.zone) {
            zone_inputs
                .entry(records.zone.clone())
                .or_insert_with(|| z.clone());
        }
        let dns = recorder.scoped(recorder.component, &records.zone_driver, recorder.cancel);
        let phase = dns.start_phase(&format!("records:{}", node.name), Some(&node.name));
        let result = retry(self, &node.name, || {
            self.publish_records(spec, w.contract, &records, &zone_inputs, &dns)
        });
        match &result {
            Ok(a) => dns.end_phase(phase, 0, a.as_ref().map(|a| a.counts), None),
            Err(_) => dns.end_phase(phase, 1, None, None),
        }
        result
    }
}

/// What every component's turn in one run shares.
#[derive(Clone, Copy)]
pub(crate) struct Work<'a> {
    pub(crate) graph: &'a Graph,
    pub(crate) contract: &'a Contract<'a>,
    pub(crate) state: &'a DeploymentState,
    pub(crate) fstate: &'a DeploymentState,
    pub(crate) run_id: &'a str,
    pub(crate) flags: Option<&'a str>,
    pub(crate) overrides: &'a [crate::GuardOverride],
    pub(crate) policy: Option<&'a crate::policy::PolicyGate>,
}

pub(crate) fn intent_word(i: Intent) -> &'static str {
    match i {
        Intent::Create => "create",
        Intent::Adopt => "adopt",
        Intent::Update => "update",
    }
}

/// Retries retryable errors with a growing pause; everything else returns
/// at once.
pub(crate) fn retry<T>(
    engine: &Engine<'_>,
    component: &str,
    mut f: impl FnMut() -> Result<T, DriverError>,
) -> Result<T, DriverError> {
    let mut attempt = 1;
    loop {
        match f() {
            Err(e)
                if e.kind == ErrorKind::Retryable
                    && attempt <= engine.retries
                    && !engine.cancel.load(Ordering::SeqCst) =>
            {
                attempt += 1;
                engine.events.emit(&Event::Retrying {
                    component: component.into(),
                    attempt,
                    error: e.message.clone(),
                });
                std::thread::park_timeout(Duration::from_secs(2u64.pow(attempt - 1)));
            }
            other => return other,
        }
    }
}
