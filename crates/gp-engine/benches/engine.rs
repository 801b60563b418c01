//! The engine on a generated spec of 1,000 components with random acyclic
//! `needs` (each component needs up to 3 earlier ones), an in-process no-op
//! driver, and a SQLite registry: `plan`, `deploy` (every component applied
//! and journalled: a component bracket and one resource, before and after),
//! and `status`. In-process wall time, median of 5 runs each.
//!
//! `cargo bench -p gp-engine --bench engine`
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use gp_core::{BuildIdArg, Deployment, Platform};
use gp_driver::{
    Action, Applied, ComponentCtx, ComponentOutputs, Counts, Driver, DriverError, DriverSet,
    Observation, ResourceRef, ValidateCtx, Validated,
};
use gp_engine::{DeployRequest, DeploymentSelector, Engine, NoEvents};
use gp_registry::{Location, Registry};

const N: usize = 1000;
const RUNS: usize = 5;

/// Does nothing, but journals like a real driver.
struct Noop;

impl Driver for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }
    fn validate(&self, _ctx: &ValidateCtx<'_>) -> Result<Validated, Vec<gp_core::Diagnostic>> {
        Ok(Validated {
            outputs: Some(vec!["id".into()]),
            resources: Vec::new(),
            resource_outputs: None,
            owned: Vec::new(),
        })
    }
    fn observe(&self, ctx: &ComponentCtx<'_>) -> Result<Observation, DriverError> {
        Ok(match ctx.last {
            Some(o) => Observation::present(Some(o.clone())),
            None => Observation::absent(),
        })
    }
    fn apply(&self, ctx: &ComponentCtx<'_>) -> Result<Applied, DriverError> {
        let r = ResourceRef::new("noop", ctx.name());
        let id = ctx.recorder.before(Action::Create, &r)?;
        ctx.recorder.after(&id, None)?;
        let mut outputs = ComponentOutputs::default();
        outputs
            .values
            .insert("id".into(), serde_json::json!(ctx.name()));
        Ok(Applied {
            outputs,
            counts: Counts {
                added: 1,
                ..Counts::default()
            },
        })
    }
    fn destroy(&self, _ctx: &ComponentCtx<'_>, _r: &ResourceRef) -> Result<(), DriverError> {
        Ok(())
    }
    fn resource_kinds(&self) -> &'static [&'static str] {
        &["noop"]
    }

    fn exists(
        &self,
        _ctx: &ComponentCtx<'_>,
        _r: &ResourceRef,
    ) -> Result<gp_driver::Existence, DriverError> {
        Ok(gp_driver::Existence::Gone)
    }
}

fn spec() -> String {
    let mut s = String::from(
        "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: bench\nprefix: bench\ndomain: example.io\nowner: team\nenvironments:\n  dev:\n    ephemeral: { maxTier: 3 }\n    persistent: { maxTier: 3 }\ncomponents:\n",
    );
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..N {
        let tier = ["0", "1", "1.5", "2", "3"][i * 5 / N];
        s.push_str(&format!(
            "  - name: c{i:04}\n    plane: disposable\n    tier: {tier}\n    driver: noop\n"
        ));
        if i > 0 {
            let k = (next() % 4) as usize;
            let mut needs: Vec<usize> = (0..k).map(|_| (next() as usize) % i).collect();
            needs.sort_unstable();
            needs.dedup();
            // Only components of the same or a lower tier.
            let needs: Vec<String> = needs
                .into_iter()
                .filter(|&n| n * 5 / N <= i * 5 / N)
                .map(|n| format!("c{n:04}"))
                .collect();
            if !needs.is_empty() {
                s.push_str(&format!("    needs: [{}]\n", needs.join(", ")));
            }
        }
    }
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let base = std::env::var_os("GP_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    let dir = tempfile::Builder::new()
        .prefix("gp-bench-engine-")
        .tempdir_in(base)
        .unwrap();
    let path = dir.path().join("goldenpath.yaml");
    std::fs::write(&path, spec()).unwrap();
    let platform = Platform::load(&path).unwrap();
    let drivers = DriverSet::new().with(Arc::new(Noop));
    let cancel = AtomicBool::new(false);
    let (mut plans, mut deploys, mut statuses, mut replans) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS {
        let registry = Registry::open(&Location::Sqlite(
            dir.path().join(format!("registry-{run}.db")),
        ))
        .unwrap();
        let mut engine = Engine::new(
            &platform,
            &registry,
            &drivers,
            dir.path().join("state"),
            &NoEvents,
            &cancel,
        );
        engine.parallel = 4;
        let build = Deployment::Ephemeral("23-01-26-01".parse().unwrap());
        let t = Instant::now();
        let plan = engine.plan("dev", build, &[]).unwrap();
        plans.push(t.elapsed().as_secs_f64());
        assert_eq!(plan.items.len(), N);
        let t = Instant::now();
        let out = engine
            .deploy(&DeployRequest::new(
                "dev",
                DeploymentSelector::Build(BuildIdArg::Id("23-01-26-01".parse().unwrap())),
            ))
            .unwrap();
        deploys.push(t.elapsed().as_secs_f64());
        assert!(out.succeeded(), "{out:?}");
        let t = Instant::now();
        let status = engine.status("dev", build).unwrap();
        statuses.push(t.elapsed().as_secs_f64());
        assert_eq!(status.status, "live");
        // Plan again, over the journal the deploy wrote: all unchanged.
        let t = Instant::now();
        let again = engine.plan("dev", build, &[]).unwrap();
        replans.push(t.elapsed().as_secs_f64());
        assert!(
            again
                .items
                .iter()
                .all(|i| i.action == gp_engine::PlanAction::Unchanged)
        );
        println!(
            "run {}: plan {:.1} ms, deploy {:.1} ms, status {:.1} ms, plan after deploy {:.1} ms",
            run + 1,
            plans[run] * 1e3,
            deploys[run] * 1e3,
            statuses[run] * 1e3,
            replans[run] * 1e3
        );
    }
    println!(
        "{N} components: plan median {:.1} ms, plan after deploy {:.1} ms (goal < 100), deploy median {:.1} ms (goal < 1000), status median {:.1} ms (goal < 100)",
        median(plans) * 1e3,
        median(replans) * 1e3,
        median(deploys) * 1e3,
        median(statuses) * 1e3
    );
}
