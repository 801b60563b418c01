//! goldenpath's own overhead per Terraform component: wall time of observe
//! and apply (as a deploy runs them) minus the time spent inside the
//! terraform processes it started, for a root of 50 `terraform_data` resources. Also
//! the same for teardown. Median of 7 builds.
//!
//! `cargo bench -p gp-driver-terraform --bench overhead`
#![allow(clippy::print_stdout, missing_docs)]

use std::collections::BTreeMap;
use std::time::Instant;

use gp_core::{Contract, Deployment, Platform};
use gp_driver::conformance::MemoryRecorder;
use gp_driver::{ComponentCtx, Driver, Intent};
use gp_driver_terraform::TerraformDriver;

const RUNS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir_in(
        std::env::var("GP_BENCH_DIR").unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_string()),
    )
    .expect("tempdir");
    std::fs::create_dir_all(dir.path().join("root")).expect("root");
    let mut root = String::from(
        "terraform {\n  backend \"local\" {}\n}\nvariable \"build_id\" { type = string }\n",
    );
    for i in 0..50 {
        root.push_str(&format!(
            "resource \"terraform_data\" \"r{i}\" {{ input = \"${{var.build_id}}-{i}\" }}\n"
        ));
    }
    root.push_str("output \"first\" { value = terraform_data.r0.output }\n");
    std::fs::write(dir.path().join("root/main.tf"), root).expect("write");
    let spec = "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: p\nprefix: gp\ndomain: example.io\nowner: t\nenvironments:\n  dev: {}\ncomponents:\n  - name: fifty\n    plane: disposable\n    tier: 0\n    driver: terraform\n    settings: { root: root }\n";
    std::fs::write(dir.path().join("goldenpath.yaml"), spec).expect("write");
    let platform = Platform::load(&dir.path().join("goldenpath.yaml")).expect("spec");
    let c = platform.component("fifty").expect("component");
    let settings = c.settings_node();
    let inputs = BTreeMap::new();
    let state = dir.path().join("state");
    let (mut deploy, mut deploy_total, mut teardown, mut teardown_total) =
        (vec![], vec![], vec![], vec![]);
    for run in 0..RUNS {
        let contract = Contract::new(
            &platform,
            "dev",
            Deployment::Ephemeral(format!("01-01-26-{:02}", run + 1).parse().expect("id")),
        )
        .expect("contract");
        let driver = TerraformDriver::new();
        let rec = MemoryRecorder::default();
        let mut ctx = ComponentCtx {
            platform: &platform,
            contract: &contract,
            component: c,
            settings: &settings,
            inputs: &inputs,
            last: None,
            intent: Intent::Create,
            state_dir: &state,
            recorder: &rec,
        };
        let t = Instant::now();
        driver.observe(&ctx).expect("observe");
        let applied = driver.apply(&ctx).expect("apply");
        let total = t.elapsed().as_secs_f64();
        assert_eq!(applied.counts.added, 50);
        deploy_total.push(total);
        deploy.push(total - driver.process_time().as_secs_f64());

        let driver = TerraformDriver::new();
        ctx.intent = Intent::Update;
        let t = Instant::now();
        for r in rec.created().iter().rev() {
            driver.destroy(&ctx, r).expect("destroy");
        }
        let total = t.elapsed().as_secs_f64();
        teardown_total.push(total);
        teardown.push(total - driver.process_time().as_secs_f64());
    }
    println!(
        "terraform deploy (observe + apply, 50 resources): goldenpath overhead median {:.1} ms of {:.2} s total (goal < 50 ms)",
        median(deploy) * 1000.0,
        median(deploy_total)
    );
    println!(
        "terraform teardown (destroy, 50 resources): goldenpath overhead median {:.1} ms of {:.2} s total",
        median(teardown) * 1000.0,
        median(teardown_total)
    );
}
