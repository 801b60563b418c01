//! Policy evaluation: 200 components' rendered objects (an Application,
//! Helm values, a Namespace and an ExternalSecret each) against the
//! built-in rules plus 20 user rules; and a Terraform plan of 5,000
//! resource changes against the built-in plan rules. Median of 9 runs, in
//! this process (`Runner::InProcess`); with `GP_POLICY_WORKER=path/to/goldenpath`
//! also through the worker process, as a deploy with user rules runs it;
//! with `GP_POLICY_BENCH_SPLIT=1` the built-in set alone per kind of object.
//!
//! `cargo bench -p gp-policy --bench policy`
#![allow(clippy::print_stdout, missing_docs)]

use std::time::Instant;

use gp_core::{Contract, Deployment, Platform};
use gp_policy::{Context, Doc, PolicySet, Runner, Subject};

const RUNS: usize = 9;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn user_rules() -> String {
    let mut s = String::from("# id: house-rules\npackage main\n\n");
    for i in 0..20 {
        s.push_str(&format!(
            "deny contains msg if {{\n\tinput.metadata.labels[\"rule-{i}\"] == \"forbidden\"\n\tmsg := sprintf(\"rule {i}: %s\", [input.metadata.name])\n}}\n\n"
        ));
    }
    s
}

fn manifests() -> Vec<Doc> {
    let mut docs = Vec::new();
    for i in 0..200 {
        let dir = format!("apps/dev/persistent/app{i}");
        let app = format!("app{i}");
        let objects = [
            (
                "application.yaml",
                serde_json::json!({
                    "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                    "metadata": {"name": format!("gp-dev-{app}"), "namespace": "argocd", "labels": {"team": "apps"}},
                    "spec": {"project": "default", "destination": {"server": "https://kubernetes.default.svc", "namespace": app},
                             "source": {"repoURL": "https://charts.example.org", "chart": "app", "targetRevision": "1.0.0"}},
                }),
            ),
            (
                "values.yaml",
                serde_json::json!({
                    "replicas": 2, "image": {"repository": format!("ghcr.io/acme/{app}"), "tag": "1.2.3"},
                    "resources": {"limits": {"cpu": "500m"}, "requests": {"cpu": "100m"}},
                    "ingress": {"enabled": true, "hosts": [{"host": format!("{app}.dev.example.io")}]},
                    "global": {"env": "dev", "host": format!("{app}.dev.example.io")},
                }),
            ),
            (
                "manifests/namespace.yaml",
                serde_json::json!({
                    "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": app, "labels": {"team": "apps"}},
                }),
            ),
            (
                "manifests/externalsecret.yaml",
                serde_json::json!({
                    "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                    "metadata": {"name": format!("{app}-db"), "namespace": app},
                    "spec": {"secretStoreRef": {"name": "goldenpath", "kind": "ClusterSecretStore"},
                             "target": {"name": format!("{app}-db")}, "data": []},
                }),
            ),
        ];
        for (file, input) in objects {
            docs.push(Doc {
                subject: Subject::Manifests,
                file: format!("{dir}/{file}"),
                line: 1,
                component: app.clone(),
                input,
            });
        }
    }
    docs
}

fn plan(tags: &std::collections::BTreeMap<String, String>) -> Doc {
    let changes: Vec<serde_json::Value> = (0..5000)
        .map(|i| {
            serde_json::json!({
                "address": format!("aws_sqs_queue.q[{i}]"), "type": "aws_sqs_queue",
                "change": {"actions": ["create"], "after": {"name": format!("q{i}"), "tags": tags, "tags_all": tags}},
            })
        })
        .collect();
    Doc {
        subject: Subject::Plan,
        file: "queues/apply.tfplan".into(),
        line: 1,
        component: "queues".into(),
        input: gp_policy::redact_plan(&serde_json::json!({"resource_changes": changes})),
    }
}

fn measure(label: &str, runner: &Runner, set: &PolicySet, ctx: &Context, docs: &[Doc]) {
    let mut times = Vec::new();
    let mut findings = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        findings = runner.check(set, ctx, docs.to_vec()).expect("check").len();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let all: Vec<String> = times.iter().map(|t| format!("{t:.1}")).collect();
    println!(
        "{label}: median {:.1} ms of {RUNS} runs ({findings} findings; ms: {})",
        median(times),
        all.join(", ")
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("policy")).expect("mkdir");
    std::fs::write(dir.path().join("policy/house.rego"), user_rules()).expect("write");
    let spec = "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: p\nprefix: gp\ndomain: example.io\nowner: t\npolicy: { paths: [policy] }\nenvironments:\n  dev: {}\ncomponents: []\n";
    std::fs::write(dir.path().join("goldenpath.yaml"), spec).expect("write");
    let p = Platform::load(&dir.path().join("goldenpath.yaml")).expect("spec");
    let c = Contract::new(&p, "dev", Deployment::Persistent).expect("contract");
    let ctx = Context::of(&p, &c);
    let with_user = PolicySet::load(&p).expect("policies");
    let builtin = PolicySet::builtin();
    let docs = manifests();
    let plan = vec![plan(&ctx.tags)];
    let mut runners = vec![("in process", Runner::InProcess)];
    if let Ok(exe) = std::env::var("GP_POLICY_WORKER") {
        runners.push(("worker process", Runner::Child(exe.into())));
    }
    if std::env::var("GP_POLICY_BENCH_SPLIT").is_ok() {
        measure(
            "builtin only, all docs",
            &Runner::InProcess,
            &builtin,
            &ctx,
            &docs,
        );
        for k in 0..4 {
            let some: Vec<Doc> = docs.iter().skip(k).step_by(4).cloned().collect();
            measure(
                &format!("builtin only, doc kind {k}"),
                &Runner::InProcess,
                &builtin,
                &ctx,
                &some,
            );
        }
    }
    for (name, runner) in &runners {
        measure(
            &format!("800 objects of 200 components x built-in + 20 user rules, {name}"),
            runner,
            &with_user,
            &ctx,
            &docs,
        );
        measure(
            &format!("plan of 5,000 resource changes x built-in + 20 user rules, {name}"),
            runner,
            &with_user,
            &ctx,
            &plan,
        );
    }
}
