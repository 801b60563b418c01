//! Render a deployment with 200 gitops components (each with a host and an
//! ExternalSecret; every 20th an ExternalDNS), including schema validation
//! of every object and the propagation check after each render. Median of
//! 7 renders into fresh directories; the first includes building the schema
//! validators.
//!
//! Then the same with per-environment values (a values file and inline
//! values for `dev`), and with git on and a local bare remote: every
//! component's render committed and pushed.
//!
//! `cargo bench -p gp-driver-gitops --bench render`
#![allow(clippy::print_stdout, missing_docs)]

use std::collections::BTreeMap;
use std::time::Instant;

use gp_core::{Contract, Deployment, Platform};
use gp_driver::conformance::MemoryRecorder;
use gp_driver::{ComponentCtx, ComponentOutputs, Driver, Intent};
use gp_driver_gitops::GitopsDriver;

const N: usize = 200;
const RUNS: usize = 7;

fn spec(env_values: bool, remote: Option<&str>) -> String {
    let gitops = match remote {
        Some(url) => format!(
            "gitops: {{ path: gitops, git: true, remote: {{ url: \"{url}\", branch: main }} }}\n"
        ),
        None => String::new(),
    };
    let mut s = format!(
        "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: p\nprefix: gp\ndomain: example.io\nowner: t\n{gitops}environments:\n  dev: {{}}\ncomponents:\n  - name: rds\n    plane: foundational\n    tier: 2\n    driver: postgres\n    settings: {{ managed: {{}}, databases: [appdb] }}\n",
    );
    let per_env = if env_values {
        "      valuesFiles: [values/common.yaml]\n      environments:\n        dev: { targetRevision: 1.1.0, valuesFiles: [values/dev.yaml], values: { replicas: 1 } }\n"
    } else {
        ""
    };
    for i in 0..N {
        s.push_str(&format!(
            "  - name: app{i}\n    plane: disposable\n    tier: 1\n    driver: gitops\n    needs: [rds/appdb]\n    hosts: [ {{ name: app{i} }} ]\n    secrets:\n      - from: rds/appdb\n        keys: {{ DB_HOST: host, DB_PASS: password }}\n    settings:\n      namespace: app{i}\n      externalDns: {}\n      chart: {{ repoURL: https://charts.example.org, chart: app, targetRevision: 1.0.0 }}\n      values: {{ replicas: 2, resources: {{ limits: {{ cpu: 500m }} }} }}\n{per_env}",
            i % 20 == 0
        ));
    }
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    measure("plain", false, false);
    measure("per-environment values", true, false);
    measure(
        "per-environment values, git commit and push to a bare remote",
        true,
        true,
    );
}

fn measure(label: &str, env_values: bool, git: bool) {
    let runs = if git { 5 } else { RUNS };
    let mut times = Vec::new();
    let (mut pushes, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let dir = tempfile::tempdir_in(
            std::env::var("GP_BENCH_DIR")
                .unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_string()),
        )
        .expect("tempdir");
        let bare = dir.path().join("remote.git");
        if git {
            let ok = std::process::Command::new("git")
                .args(["init", "-q", "--bare", "-b", "main"])
                .arg(&bare)
                .status()
                .expect("git");
            assert!(ok.success());
        }
        let url = bare.display().to_string();
        std::fs::write(
            dir.path().join("goldenpath.yaml"),
            spec(env_values, git.then_some(url.as_str())),
        )
        .expect("write");
        std::fs::create_dir_all(dir.path().join("values")).expect("values");
        std::fs::write(
            dir.path().join("values/common.yaml"),
            "podLabels: { team: apps }\nresources: { requests: { cpu: 100m } }\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("values/dev.yaml"), "debug: true\n").expect("write");
        let p = Platform::load(&dir.path().join("goldenpath.yaml")).expect("spec");
        let contract = Contract::new(
            &p,
            "dev",
            Deployment::Ephemeral("23-01-26-01".parse().expect("id")),
        )
        .expect("contract");
        let mut rds = ComponentOutputs::default();
        rds.resources.insert(
            "appdb".into(),
            BTreeMap::from([(
                "secret_path".to_string(),
                serde_json::json!("gp/dev/appdb/postgres"),
            )]),
        );
        let inputs = BTreeMap::from([("rds".to_string(), rds)]);
        let state = dir.path().join("state");
        let comps: Vec<_> = p
            .spec
            .components
            .iter()
            .filter(|c| c.driver.value == "gitops")
            .collect();
        let settings: Vec<_> = comps.iter().map(|c| c.settings_node()).collect();
        let render = |contract: &Contract<'_>| {
            for (c, s) in comps.iter().zip(&settings) {
                let rec = MemoryRecorder::default();
                GitopsDriver
                    .apply(&ComponentCtx {
                        platform: &p,
                        contract,
                        component: c,
                        settings: s,
                        inputs: &inputs,
                        last: None,
                        intent: Intent::Create,
                        state_dir: &state,
                        recorder: &rec,
                    })
                    .expect("render");
            }
        };
        // With a remote: the one commit and push of the run.
        let flush = || gp_driver_gitops::flush(&p).expect("push");
        if git {
            // The repository and the remote exist already (a first build
            // rendered and pushed, untimed); the timed run is the next
            // build: 200 new components, one commit, one push.
            render(&contract);
            flush();
            let next = Contract::new(
                &p,
                "dev",
                Deployment::Ephemeral("23-01-26-02".parse().expect("id")),
            )
            .expect("contract");
            let t = Instant::now();
            render(&next);
            let rendered = t.elapsed().as_secs_f64();
            flush();
            times.push(t.elapsed().as_secs_f64());
            pushes.push(t.elapsed().as_secs_f64() - rendered);
            // The baseline, side by side: the same 200 folders as a third
            // build would have them, committed and pushed as git's
            // porcelain does it (`add -A`, `commit`, `push`).
            let repo = dir.path().join("gitops");
            let from = repo.join("apps/dev/builds/23-01-26-02");
            let to = repo.join("apps/dev/builds/23-01-26-03");
            copy_tree(&from, &to);
            let git = |args: &[&str]| {
                let ok = std::process::Command::new("git")
                    .arg("-C")
                    .arg(&repo)
                    .args(args)
                    .status()
                    .expect("git");
                assert!(ok.success(), "git {args:?}");
            };
            let t = Instant::now();
            git(&["add", "-A", "--", "apps/dev/builds/23-01-26-03"]);
            git(&["commit", "-q", "--no-verify", "-m", "baseline"]);
            git(&["push", "-q", "origin", "HEAD:refs/heads/main"]);
            baseline.push(t.elapsed().as_secs_f64());
        } else {
            let t = Instant::now();
            render(&contract);
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let ms = |v: &[f64]| -> String {
        v.iter()
            .map(|t| format!("{:.1}", t * 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "gitops render of {N} components, {label} (validated, propagation-checked): median {:.1} ms of {runs} runs (ms: {})",
        median(times.clone()) * 1000.0,
        ms(&times)
    );
    if git {
        let (ours, theirs) = (median(pushes.clone()), median(baseline.clone()));
        println!(
            "  of which the commit and push: median {:.1} ms (ms: {}); the same folders by `git add -A && git commit && git push`: median {:.1} ms (ms: {}); ratio {:.2}",
            ours * 1000.0,
            ms(&pushes),
            theirs * 1000.0,
            ms(&baseline),
            ours / theirs
        );
    }
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            // As the third build's render would write it: its own id, so
            // no object is shared with the second's.
            let text = std::fs::read_to_string(e.path()).expect("read");
            std::fs::write(dest, text.replace("23-01-26-02", "23-01-26-03")).expect("write");
        }
    }
}
