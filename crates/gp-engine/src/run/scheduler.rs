//! The scheduler: a bounded pool of workers, and the settle loop that
//! dispatches a node once everything it needs is settled.

use super::*;

pub(crate) enum Done {
    Applied(usize, Intent, Applied, Duration),
    Unchanged(usize, ComponentOutputs),
    Failed(usize, DriverError),
}
impl Engine<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_graph(
        &self,
        req: &DeployRequest,
        contract: &Contract<'_>,
        graph: &Graph,
        run_id: &str,
        reservation: Option<&Reservation>,
        lost: &AtomicBool,
        started: Instant,
    ) -> Result<DeployOutcome, EngineError> {
        let env = req.env.as_str();
        let deployment = contract.deployment();
        let key = deployment.key();
        let build_id = deployment.build_id();
        let flags = if req.resume { Some("--resume") } else { None };
        let (state, fstate) =
            DeploymentState::load_with_foundational(self.registry, env, deployment)?;
        let settle = Settle::new(self, graph, &fstate);
        let base = RunRecorder {
            build_id,
            flags,
            overrides: &req.overrides,
            foundational: Some(&fstate),
            own: Some(&state),
            ..self.recorder(env, &key, gp_driver::RunMode::Write, run_id)
        };
        self.record_event(
            env,
            &key,
            run_id,
            gp_registry::EventKind::DeployStarted,
            Some(match (&self.pull_request, build_id) {
                (Some(pr), Some(_)) => {
                    serde_json::json!({"resume": req.resume, "pullRequest": pr})
                }
                _ => serde_json::json!({"resume": req.resume}),
            }),
        )?;
        self.record_guard_overrides(env, &key, &req.overrides)?;
        // The run's policies (checked before the reservation, so nothing
        // fails here that a bad file or override could cause); their
        // overrides are recorded like the guards'.
        let gate = self.policy_gate(contract, &req.policy_overrides)?;
        let phase_name = if deployment == Deployment::Foundational {
            "deploy-foundational"
        } else {
            "deploy"
        };
        let deploy_phase = base.start_phase(phase_name, None);
        self.events.emit(&Event::RunStarted {
            env: env.into(),
            deployment: key.clone(),
            run_id: run_id.into(),
            operation: "deploy".into(),
            components: graph.nodes.len(),
        });

        let n = graph.nodes.len();
        let mut results: Vec<Option<ComponentResult>> = vec![None; n];
        let mut outputs: Vec<Option<ComponentOutputs>> = vec![None; n];
        let mut dispatched = vec![false; n];
        let mut running = 0usize;
        let mut totals = Counts::default();
        let (job_tx, job_rx) = mpsc::channel::<(usize, BTreeMap<String, ComponentOutputs>)>();
        let job_rx = Mutex::new(job_rx);
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let workers = self.parallel.max(1).min(n.max(1));
        let interrupted = std::thread::scope(|scope| -> Result<bool, EngineError> {
            for _ in 0..workers {
                let job_rx = &job_rx;
                let done_tx = done_tx.clone();
                let work = Work {
                    graph,
                    contract,
                    state: &state,
                    fstate: &fstate,
                    run_id,
                    flags,
                    overrides: &req.overrides,
                    policy: gate.as_ref(),
                };
                scope.spawn(move || {
                    loop {
                        let job = match job_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok((node, inputs)) = job else {
                            return;
                        };
                        // A panicking driver is a bug, but it must not hang
                        // the run: report it as that component's failure.
                        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            self.work(&work, node, &inputs)
                        }))
                        .unwrap_or_else(|_| {
                            Done::Failed(
                                node,
                                DriverError::permanent("the driver panicked (a bug in goldenpath)"),
                            )
                        });
                        if done_tx.send(done).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(done_tx);
            let mut interrupted = false;
            loop {
                // Settle every node whose dependencies are settled.
                let mut progressed = true;
                while progressed {
                    progressed = false;
                    for i in 0..n {
                        if results[i].is_some() || dispatched[i] {
                            continue;
                        }
                        let node = &graph.nodes[i];
                        if !node.deps.iter().all(|&d| results[d].is_some()) {
                            continue;
                        }
                        if let Some(r) = self.settle_without_work(&settle, i, &results) {
                            self.emit_settled(&node.name, &r);
                            if r == ComponentResult::Ready {
                                outputs[i] =
                                    Some(fstate.outputs(&node.name).cloned().unwrap_or_default());
                            }
                            results[i] = Some(r);
                            progressed = true;
                            continue;
                        }
                        if self.cancel.load(Ordering::SeqCst) {
                            continue;
                        }
                        // Dispatch.
                        let mut inputs = BTreeMap::new();
                        for (_, d) in &node.needs {
                            if let Some(o) = &outputs[*d] {
                                inputs.insert(graph.nodes[*d].name.clone(), o.clone());
                            }
                        }
                        dispatched[i] = true;
                        running += 1;
                        if job_tx.send((i, inputs)).is_err() {
                            return Err(EngineError::usage("the worker pool stopped", None));
                        }
                    }
                }
                if running == 0 {
                    if self.cancel.load(Ordering::SeqCst) && results.iter().any(Option::is_none) {
                        interrupted = true;
                    }
                    break;
                }
                let Ok(done) = done_rx.recv() else { break };
                running -= 1;
                match done {
                    Done::Applied(i, intent, applied, took) => {
                        totals.added += applied.counts.added;
                        totals.changed += applied.counts.changed;
                        totals.destroyed += applied.counts.destroyed;
                        let action = intent_word(intent).to_string();
                        self.events.emit(&Event::ComponentFinished {
                            component: graph.nodes[i].name.clone(),
                            action: action.clone(),
                            duration_ms: took.as_millis() as u64,
                            added: applied.counts.added,
                            changed: applied.counts.changed,
                            destroyed: applied.counts.destroyed,
                        });
                        outputs[i] = Some(applied.outputs);
                        results[i] = Some(ComponentResult::Applied {
                            action,
                            duration_ms: took.as_millis() as u64,
                        });
                    }
                    Done::Unchanged(i, o) => {
                        self.events.emit(&Event::ComponentUnchanged {
                            component: graph.nodes[i].name.clone(),
                        });
                        outputs[i] = Some(o);
                        results[i] = Some(ComponentResult::Unchanged);
                    }
                    Done::Failed(i, e) => {
                        self.events.emit(&Event::ComponentFailed {
                            component: graph.nodes[i].name.clone(),
                            error: e.message.clone(),
                            hint: e.hint.clone(),
                            refused: e.kind == ErrorKind::Refused,
                        });
                        outputs[i] = None;
                        let error = match &e.hint {
                            Some(h) => format!("{} ({h})", e.message),
                            None => e.message.clone(),
                        };
                        results[i] = Some(if e.kind == ErrorKind::Refused {
                            ComponentResult::Refused { error }
                        } else {
                            ComponentResult::Failed { error }
                        });
                    }
                }
            }
            drop(job_tx);
            Ok(interrupted)
        })?;

        // What an interrupted run never reached still has the state the
        // graph gives it: a skipped component is skipped, not "not started".
        let components: Vec<ComponentOutcome> = graph
            .nodes
            .iter()
            .zip(results)
            .map(|(node, r)| {
                let spec = graph.spec(self.platform, node);
                ComponentOutcome {
                    component: node.name.clone(),
                    plane: spec.plane.value,
                    tier: spec.tier.value,
                    role: node.role.as_str(),
                    result: r.unwrap_or_else(|| match (&node.role, &node.disposition) {
                        (Role::Target, Disposition::Skip(why)) => ComponentResult::Skipped {
                            reason: why.clone(),
                        },
                        (Role::Target, Disposition::Blocked(why)) => ComponentResult::Blocked {
                            reason: why.clone(),
                        },
                        _ => ComponentResult::NotStarted,
                    }),
                }
            })
            .collect();
        let not_started: Vec<String> = components
            .iter()
            .filter(|c| c.result == ComponentResult::NotStarted)
            .map(|c| c.component.clone())
            .collect();
        if interrupted || !not_started.is_empty() {
            self.events.emit(&Event::Interrupted {
                not_started: not_started.clone(),
            });
        }
        let lease_lost = lost.load(Ordering::SeqCst);
        let mut outcome = DeployOutcome {
            schema_version: 1,
            env: env.into(),
            deployment: key.clone(),
            build_id: deployment.build_id().map(|b| b.to_string()),
            reserved: reservation.map(|r| r.new),
            run_id: run_id.into(),
            components,
            interrupted: interrupted
                || (!not_started.is_empty() && self.cancel.load(Ordering::SeqCst)),
            lease_lost,
            outcome: RunOutcome::Succeeded,
            duration_ms: 0,
        };
        outcome.outcome = outcome.settle_outcome();
        let label = outcome.outcome.as_str();
        let (event, exit) = match outcome.outcome {
            RunOutcome::Interrupted => (gp_registry::EventKind::DeployInterrupted, 130),
            RunOutcome::Succeeded => (gp_registry::EventKind::DeploySucceeded, 0),
            RunOutcome::Partial => (gp_registry::EventKind::DeployPartial, 0),
            RunOutcome::Failed => (gp_registry::EventKind::DeployFailed, 1),
        };
        let pending: Vec<&str> = outcome
            .pending()
            .iter()
            .map(|c| c.component.as_str())
            .collect();
        self.record_event(
            env,
            &key,
            run_id,
            event,
            Some(serde_json::json!({"pending": pending, "notStarted": not_started})),
        )?;
        base.end_phase(deploy_phase, exit, Some(totals), None);
        outcome.duration_ms = started.elapsed().as_millis() as u64;
        self.events.emit(&Event::RunFinished {
            outcome: label.into(),
            duration_ms: outcome.duration_ms,
        });
        Ok(outcome)
    }

    /// Decides a node that needs no worker: skipped, blocked, pending, a
    /// ready foundational dependency ([`Settle`], the one decision plan and
    /// status make too). `None` means it must run.
    pub(crate) fn settle_without_work(
        &self,
        settle: &Settle<'_>,
        i: usize,
        results: &[Option<ComponentResult>],
    ) -> Option<ComponentResult> {
        let upstream = |d: usize| match &results[d] {
            Some(ComponentResult::Failed { .. }) | Some(ComponentResult::Refused { .. }) => {
                Upstream::Failed
            }
            Some(ComponentResult::Blocked { .. }) => Upstream::Blocked,
            Some(ComponentResult::Pending { next, .. }) => Upstream::Pending(next.clone()),
            Some(ComponentResult::Skipped { .. }) => Upstream::Skipped,
            Some(ComponentResult::NotStarted) => Upstream::NotStarted,
            _ => Upstream::Clear,
        };
        Some(match settle.settle(i, &upstream) {
            Settled::Ready => ComponentResult::Ready,
            Settled::NotDeployed(w) => ComponentResult::NotDeployed {
                reason: w.reason,
                next: w.next,
            },
            Settled::Skipped(reason) => ComponentResult::Skipped { reason },
            Settled::Blocked(reason) => ComponentResult::Blocked { reason },
            Settled::Pending(w) => ComponentResult::Pending {
                reason: w.reason,
                next: w.next,
            },
            Settled::NotStarted => ComponentResult::NotStarted,
            Settled::Runs { .. } => return None,
        })
    }

    pub(crate) fn emit_settled(&self, name: &str, r: &ComponentResult) {
        let component = name.to_string();
        match r {
            ComponentResult::Ready => self.events.emit(&Event::DependencyReady { component }),
            ComponentResult::Skipped { reason } => self.events.emit(&Event::ComponentSkipped {
                component,
                reason: reason.clone(),
            }),
            ComponentResult::Pending { reason, next } => {
                self.events.emit(&Event::ComponentPending {
                    component,
                    reason: reason.clone(),
                    next: next.clone(),
                })
            }
            ComponentResult::Blocked { reason } => self.events.emit(&Event::ComponentBlocked {
                component,
                reason: reason.clone(),
            }),
            ComponentResult::NotDeployed { reason, next } => {
                self.events.emit(&Event::DependencyNotDeployed {
                    component,
                    reason: reason.clone(),
                    next: next.clone(),
                })
            }
            _ => {}
        }
    }
}
