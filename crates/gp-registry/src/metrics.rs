//! Delivery metrics of an environment over a window, from its deployment
//! events (the four keys): deployment frequency, lead time for changes,
//! change failure rate and time to restore. A run is a `deploy_started`
//! and the lifecycle event that ends it; what a run ended as decides what
//! it counts for.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::chain::DEPLOYMENT_EVENTS;
use crate::db::Named;
use crate::deployments::event_row;
use crate::{DeploymentEvent, EventKind, Heads, Registry, RegistryError};

/// The four keys of an environment over a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryMetrics {
    /// Environment.
    pub env: String,
    /// The window's start (µs).
    pub since_us: i64,
    /// The window's end (µs).
    pub until_us: i64,
    /// Deploys that succeeded in the window.
    pub succeeded: u64,
    /// Deploys that failed.
    pub failed: u64,
    /// Deploys that ended partial (something waits on what is outside
    /// them): neither a success nor a failure.
    pub partial: u64,
    /// Deploys that were interrupted (aborted): left out of the failure
    /// rate, counted.
    pub aborted: u64,
    /// Deploys started with no end recorded: left out, counted.
    pub unknown: u64,
    /// Successful deploys per day of the window.
    pub deployment_frequency_per_day: f64,
    /// Median time from a deployed commit's time to its deploy's success,
    /// seconds; none without a deploy whose commit's time is known.
    pub lead_time_p50_seconds: Option<f64>,
    /// How many deploys the lead time was taken over.
    pub lead_time_samples: u64,
    /// `failed / (succeeded + failed)`; none without either.
    pub change_failure_rate: Option<f64>,
    /// Median time from a failed deploy to the next success of the same
    /// deployment, seconds.
    pub time_to_restore_p50_seconds: Option<f64>,
    /// How many restores the time to restore was taken over.
    pub time_to_restore_samples: u64,
}

fn median(mut v: Vec<i64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    let m = if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    };
    Some(m / 1_000_000.0)
}

/// The metrics of `events` (an environment's deployment events, any order)
/// over `[since_us, until_us]`. `commit_time` gives a commit's time (µs)
/// when it is known.
pub fn delivery_metrics(
    env: &str,
    events: &[DeploymentEvent],
    since_us: i64,
    until_us: i64,
    commit_time: &dyn Fn(&str) -> Option<i64>,
) -> DeliveryMetrics {
    let mut by: BTreeMap<&str, Vec<&DeploymentEvent>> = BTreeMap::new();
    for e in events {
        by.entry(e.deployment.as_str()).or_default().push(e);
    }
    let mut m = DeliveryMetrics {
        env: env.into(),
        since_us,
        until_us,
        ..Default::default()
    };
    let (mut leads, mut restores) = (Vec::new(), Vec::new());
    let within = |t: i64| t >= since_us && t <= until_us;
    for evs in by.values_mut() {
        evs.sort_by(|a, b| (a.at_us, &a.id).cmp(&(b.at_us, &b.id)));
        let mut started: Option<&DeploymentEvent> = None;
        let mut failing_since: Option<i64> = None;
        for e in evs.iter() {
            let Some(kind) = EventKind::parse(&e.event) else {
                continue;
            };
            match kind {
                EventKind::DeployStarted => {
                    if let Some(s) = started
                        && within(s.at_us)
                    {
                        m.unknown += 1; // a start never ended
                    }
                    started = Some(e);
                }
                EventKind::DeploySucceeded => {
                    if within(e.at_us) {
                        m.succeeded += 1;
                        if let Some(ct) = started
                            .and_then(|s| s.commit_sha.as_deref())
                            .and_then(commit_time)
                            .filter(|ct| *ct <= e.at_us)
                        {
                            leads.push(e.at_us - ct);
                        }
                        if let Some(f) = failing_since {
                            restores.push(e.at_us - f);
                        }
                    }
                    failing_since = None;
                    started = None;
                }
                EventKind::DeployFailed => {
                    if within(e.at_us) {
                        m.failed += 1;
                        failing_since.get_or_insert(e.at_us);
                    }
                    started = None;
                }
                EventKind::DeployPartial => {
                    if within(e.at_us) {
                        m.partial += 1;
                    }
                    started = None;
                }
                EventKind::DeployInterrupted => {
                    if within(e.at_us) {
                        m.aborted += 1;
                    }
                    started = None;
                }
                _ => {}
            }
        }
        if let Some(s) = started
            && within(s.at_us)
        {
            m.unknown += 1;
        }
    }
    let days = ((until_us - since_us) as f64 / 86_400_000_000.0).max(1.0 / 24.0);
    m.deployment_frequency_per_day = m.succeeded as f64 / days;
    m.lead_time_samples = leads.len() as u64;
    m.lead_time_p50_seconds = median(leads);
    let finished = m.succeeded + m.failed;
    m.change_failure_rate = (finished > 0).then(|| m.failed as f64 / finished as f64);
    m.time_to_restore_samples = restores.len() as u64;
    m.time_to_restore_p50_seconds = median(restores);
    m
}

impl Registry {
    /// Every deployment lifecycle event of `env` up to `until_us`, each
    /// checked against its chain: a tampered stream is an error.
    pub fn env_deploy_events(
        &self,
        env: &str,
        until_us: i64,
    ) -> Result<Vec<DeploymentEvent>, RegistryError> {
        let prefix = format!("{env}\u{1f}");
        let mut out = Vec::new();
        self.streams_trusted(
            &DEPLOYMENT_EVENTS,
            "env = ?",
            &[env.into()],
            Heads::Prefix(&prefix),
            &mut |r| {
                let n = Named(r);
                if n.int("at_us").unwrap_or(0) <= until_us
                    && n.text("event").is_some_and(|e| e.starts_with("deploy_"))
                {
                    out.push(event_row(r));
                }
                Ok(())
            },
        )?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;

    fn ev(dep: &str, event: &str, at_us: i64, commit: Option<&str>) -> DeploymentEvent {
        DeploymentEvent {
            id: format!("{dep}-{event}-{at_us}"),
            env: "dev".into(),
            deployment: dep.into(),
            run_id: None,
            event: event.into(),
            actor: "a".into(),
            commit_sha: commit.map(str::to_string),
            run_url: None,
            detail: None,
            at_us,
        }
    }

    /// A history with known answers.
    #[test]
    fn the_four_keys_of_a_known_history() {
        let t = 1_000 * H;
        let events = vec![
            // persistent: fails, fails again, then succeeds 3 h after the
            // first failure; its commit was made 2 h before the success.
            ev("persistent", "deploy_started", t, Some("c1")),
            ev("persistent", "deploy_failed", t + H, None),
            ev("persistent", "deploy_started", t + 2 * H, Some("c2")),
            ev("persistent", "deploy_failed", t + 3 * H, None),
            ev("persistent", "deploy_started", t + 3 * H, Some("c3")),
            ev("persistent", "deploy_succeeded", t + 4 * H, None),
            // a build: succeeds (commit 4 h before), then is interrupted,
            // then partial, then a start that never ended.
            ev("23-01-26-01", "deploy_started", t, Some("c4")),
            ev("23-01-26-01", "deploy_succeeded", t + H, None),
            ev("23-01-26-01", "deploy_started", t + 5 * H, None),
            ev("23-01-26-01", "deploy_interrupted", t + 6 * H, None),
            ev("23-01-26-01", "deploy_started", t + 7 * H, None),
            ev("23-01-26-01", "deploy_partial", t + 8 * H, None),
            ev("23-01-26-01", "deploy_started", t + 9 * H, None),
            // Outside the window: not counted.
            ev("foundational", "deploy_started", t - 30 * H, None),
            ev("foundational", "deploy_succeeded", t - 29 * H, None),
            // Not a deploy.
            ev("23-01-26-01", "expiry_set", t, None),
        ];
        let commits = |sha: &str| match sha {
            "c3" => Some(t + 2 * H),
            "c4" => Some(t - 3 * H),
            _ => None,
        };
        let m = delivery_metrics("dev", &events, t - H, t + 23 * H, &commits);
        assert_eq!(
            (m.succeeded, m.failed, m.partial, m.aborted, m.unknown),
            (2, 2, 1, 1, 1)
        );
        // 2 successes over one day.
        assert!((m.deployment_frequency_per_day - 2.0).abs() < 1e-9, "{m:?}");
        // Lead times 2 h and 4 h: median 3 h.
        assert_eq!(m.lead_time_samples, 2);
        assert_eq!(m.lead_time_p50_seconds, Some(3.0 * 3600.0));
        assert_eq!(m.change_failure_rate, Some(0.5));
        // One restore: from the first failure (t + 1 h) to the success (t + 4 h).
        assert_eq!(m.time_to_restore_samples, 1);
        assert_eq!(m.time_to_restore_p50_seconds, Some(3.0 * 3600.0));
        // An empty window: nothing to rate.
        let none = delivery_metrics("dev", &events, t + 100 * H, t + 124 * H, &commits);
        assert_eq!((none.succeeded, none.change_failure_rate), (0, None));
        assert_eq!(none.lead_time_p50_seconds, None);
        assert_eq!(none.deployment_frequency_per_day, 0.0);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3_000_000]), Some(3.0));
        assert_eq!(median(vec![4_000_000, 1_000_000, 2_000_000]), Some(2.0));
        assert_eq!(
            median(vec![1_000_000, 2_000_000, 4_000_000, 3_000_000]),
            Some(2.5)
        );
    }
}
