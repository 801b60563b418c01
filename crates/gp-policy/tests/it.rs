//! The policy set as a spec configures it: the built-in plan rules each
//! violated once, a user folder replacing one rule and adding one, and
//! policy files that do not parse reported at their line and column.
#![allow(missing_docs)]

use gp_core::{Contract, Deployment, Platform};
use gp_policy::{Context, Doc, PolicySet, Runner, Severity, Subject};

const SPEC: &str = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: idp
prefix: gp
domain: example.io
owner: team
POLICY
environments:
  dev: {}
  prod: {}
components:
  - name: db
    plane: foundational
    tier: 0
    driver: terraform
    settings: { root: infra/db, protect: [\"aws_db_instance.*\"] }
";

fn platform(dir: &std::path::Path, policy: &str) -> Result<Platform, gp_core::InvalidInput> {
    let path = dir.join("goldenpath.yaml");
    std::fs::write(&path, SPEC.replace("POLICY\n", policy)).unwrap();
    let p = Platform::load(&path)?;
    PolicySet::load(&p)?;
    Ok(p)
}

fn tags(extra: &[(&str, &str)]) -> serde_json::Value {
    let mut t = serde_json::json!({
        "Environment": "prod", "Lifecycle": "persistent", "ManagedBy": "goldenpath",
        "Owner": "team", "Project": "idp",
    });
    for (k, v) in extra {
        t[*k] = serde_json::json!(v);
    }
    t
}

#[test]
fn each_builtin_plan_rule_violated_once_is_reported_once() {
    let dir = gp_test::tempdir();
    let p = platform(dir.path(), "").unwrap();
    let c = Contract::new(&p, "prod", Deployment::Persistent).unwrap();
    let mut untagged = tags(&[]);
    untagged.as_object_mut().unwrap().remove("Owner");
    let plan = serde_json::json!({
        "format_version": "1.2",
        "resource_changes": [
            {"address": "aws_db_instance.main", "type": "aws_db_instance",
             "change": {"actions": ["delete"], "before": {"deletion_protection": true}, "after": null}},
            {"address": "aws_s3_bucket_public_access_block.logs", "type": "aws_s3_bucket_public_access_block",
             "change": {"actions": ["create"], "after": {"block_public_acls": false, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true}}},
            {"address": "aws_rds_cluster.new", "type": "aws_rds_cluster",
             "change": {"actions": ["create"], "after": {"deletion_protection": false, "tags": tags(&[]), "tags_all": tags(&[])}}},
            {"address": "aws_sqs_queue.jobs", "type": "aws_sqs_queue",
             "change": {"actions": ["create"], "after": {"name": "jobs", "tags": untagged.clone(), "tags_all": untagged}}},
            {"address": "aws_sqs_queue.ok", "type": "aws_sqs_queue",
             "change": {"actions": ["update"], "after": {"name": "ok", "tags": {}, "tags_all": tags(&[])}}},
        ],
    });
    let findings = Runner::InProcess
        .check(
            &PolicySet::load(&p).unwrap(),
            &Context::of(&p, &c),
            vec![Doc {
                subject: Subject::Plan,
                file: "db/apply.tfplan".into(),
                line: 1,
                component: "db".into(),
                input: gp_policy::redact_plan(&plan),
            }],
        )
        .unwrap();
    let mut got: Vec<(String, String)> = findings
        .iter()
        .map(|f| (f.rule.clone(), f.message.clone()))
        .collect();
    got.sort();
    let rules: Vec<&str> = got.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        rules,
        [
            "plan-contract-tags",
            "plan-no-public-bucket",
            "plan-prod-deletion-protection",
            "plan-protected-address"
        ],
        "{got:#?}"
    );
    assert!(got[0].1.contains("aws_sqs_queue.jobs") && got[0].1.contains("Owner"));
    assert!(got[1].1.contains("block_public_acls"));
    assert!(got[2].1.contains("aws_rds_cluster.new"));
    assert!(got[3].1.contains("aws_db_instance.main"));
    // Outside production, the deletion protection rule is quiet.
    let dev = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
    let mut ctx = Context::of(&p, &dev);
    ctx.tags = Context::of(&p, &c).tags;
    let findings = Runner::InProcess
        .check(
            &PolicySet::load(&p).unwrap(),
            &ctx,
            vec![Doc {
                subject: Subject::Plan,
                file: "db/apply.tfplan".into(),
                line: 1,
                component: "db".into(),
                input: gp_policy::redact_plan(&plan),
            }],
        )
        .unwrap();
    assert!(
        !findings
            .iter()
            .any(|f| f.rule == "plan-prod-deletion-protection")
    );
}

#[test]
fn a_user_folder_replaces_one_rule_adds_one_and_turns_one_off() {
    let dir = gp_test::tempdir();
    std::fs::create_dir_all(dir.path().join("policy/nested")).unwrap();
    // The platform's exception: its legacy app runs `latest` on purpose.
    std::fs::write(
        dir.path().join("policy/image_pinned.rego"),
        "package goldenpath.builtin.image_pinned\n\ndeny contains msg if {\n\tsome c in input.spec.containers\n\tendswith(c.image, \":latest\")\n\tdata.goldenpath.object.component != \"legacy\"\n\tmsg := sprintf(\"%s runs latest\", [c.name])\n}\n",
    )
    .unwrap();
    // conftest's convention: package main, messages as objects.
    std::fs::write(
        dir.path().join("policy/nested/main.rego"),
        "# id: no-default-namespace\n# rationale: nothing runs in default\npackage main\n\ndeny contains {\"msg\": sprintf(\"%s is in default\", [input.metadata.name])} if {\n\tinput.metadata.namespace == \"default\"\n}\n\nwarn contains \"a pod without labels\" if {\n\tinput.kind == \"Pod\"\n\tnot input.metadata.labels\n}\n",
    )
    .unwrap();
    let p = platform(
        dir.path(),
        "policy: { paths: [policy], disable: [resources-set] }\n",
    )
    .unwrap();
    let set = PolicySet::load(&p).unwrap();
    let rule = |id: &str| set.rules.iter().find(|r| r.id == id).unwrap();
    assert!(rule("image-pinned").overridden);
    assert_eq!(rule("image-pinned").file, "policy/image_pinned.rego");
    assert!(rule("resources-set").disabled);
    assert_eq!(
        rule("no-default-namespace").rationale,
        "nothing runs in default"
    );
    let c = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
    let pod = |component: &str| Doc {
        subject: Subject::Manifests,
        file: format!("apps/dev/persistent/{component}/manifests/pod.yaml"),
        line: 4,
        component: component.into(),
        input: serde_json::json!({
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]},
        }),
    };
    let findings = Runner::InProcess
        .check(&set, &Context::of(&p, &c), vec![pod("legacy"), pod("web")])
        .unwrap();
    let got: Vec<(&str, &str, Severity, &str)> = findings
        .iter()
        .map(|f| {
            (
                f.component.as_str(),
                f.rule.as_str(),
                f.severity,
                f.message.as_str(),
            )
        })
        .collect();
    // Legacy: latest allowed by the replacement; everyone: the added rule
    // and its warning; no resources finding (disabled).
    assert_eq!(
        got,
        [
            (
                "legacy",
                "no-default-namespace",
                Severity::Deny,
                "p is in default"
            ),
            (
                "legacy",
                "no-default-namespace",
                Severity::Warn,
                "a pod without labels"
            ),
            ("web", "image-pinned", Severity::Deny, "c runs latest"),
            (
                "web",
                "no-default-namespace",
                Severity::Deny,
                "p is in default"
            ),
            (
                "web",
                "no-default-namespace",
                Severity::Warn,
                "a pod without labels"
            ),
        ]
    );
}

#[test]
fn a_policy_that_does_not_parse_is_reported_at_its_line_and_column() {
    let dir = gp_test::tempdir();
    std::fs::create_dir_all(dir.path().join("policy")).unwrap();
    std::fs::write(
        dir.path().join("policy/bad.rego"),
        "package main\n\ndeny contains msg if {\n  input.kind ==\n}\n",
    )
    .unwrap();
    let e = platform(dir.path(), "policy: { paths: [policy] }\n").unwrap_err();
    let text = e.to_string();
    assert!(text.contains("policy/bad.rego:5:1"), "{text}");
    assert!(text.contains("policy does not parse"), "{text}");
    // A disabled id that does not exist is an error at its position too.
    let e = platform(dir.path(), "policy: { disable: [no-such-rule] }\n").unwrap_err();
    assert!(e.to_string().contains("goldenpath.yaml:7:"), "{e}");
    assert!(e.to_string().contains("no rule `no-such-rule`"), "{e}");
}
