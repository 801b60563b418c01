//! The policy gate at the engine: a `deny` refuses the component before it
//! writes anything, an override lets through only the rule it names and is
//! recorded, an override of no rule is refused before anything is
//! recorded, and a run without policies (none configured in the engine, or
//! turned off in the spec) has no gate. Observed on disk through the file
//! driver, which checks its manifests as the GitOps driver checks what it
//! renders.

use gp_engine::run::ComponentResult;
use gp_engine::*;

use crate::{HEADER, World};

const B: &str = "23-01-26-01";

fn spec(image: &str, policy: &str) -> String {
    format!(
        "{HEADER}{policy}components:
  - name: web
    plane: disposable
    tier: 1
    driver: file
    settings:
      files: [out]
      manifests: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {{ name: first }}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{ name: web }}
        spec:
          containers:
            - name: web
              image: {image}
              resources: {{ limits: {{ cpu: 100m, memory: 64Mi }}, requests: {{ cpu: 50m, memory: 32Mi }} }}
"
    )
}

fn world(image: &str, policy: &str) -> World {
    World::new(&spec(image, policy))
}

fn deploy(
    w: &World,
    policy: bool,
    overrides: &[(&str, &str)],
) -> Result<DeployOutcome, EngineError> {
    let mut e = w.engine();
    if policy {
        e.policy = Some(gp_policy::Runner::InProcess);
    }
    e.deploy(&DeployRequest {
        today: Some((23, 1, 26)),
        policy_overrides: overrides
            .iter()
            .map(|(rule, reason)| PolicyOverride {
                rule: rule.to_string(),
                reason: reason.to_string(),
            })
            .collect(),
        ..DeployRequest::new(
            "dev",
            DeploymentSelector::Build(gp_core::BuildIdArg::Id(B.parse().unwrap())),
        )
    })
}

fn written(w: &World) -> bool {
    w.exists(&format!("{B}/web-out"))
}

fn result(o: &DeployOutcome) -> &ComponentResult {
    &o.components
        .iter()
        .find(|c| c.component == "web")
        .unwrap()
        .result
}

fn policy_events(w: &World) -> Vec<String> {
    w.registry
        .deployment_events("dev", B)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .filter(|e| e.starts_with("policy"))
        .collect()
}

#[test]
fn a_deny_refuses_the_component_before_it_writes_and_is_recorded() {
    let w = world("nginx:latest", "");
    let o = deploy(&w, true, &[]).unwrap();
    match result(&o) {
        ComponentResult::Refused { error } | ComponentResult::Failed { error } => {
            assert!(error.contains("image-pinned"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!o.succeeded());
    assert!(!written(&w), "nothing written past a deny");
    assert_eq!(policy_events(&w), ["policy_denied"]);
}

#[test]
fn a_pinned_image_passes_the_gate() {
    let w = world("nginx:1.27.3", "");
    let o = deploy(&w, true, &[]).unwrap();
    assert!(o.succeeded(), "{o:?}");
    assert!(written(&w));
}

#[test]
fn an_override_lets_through_only_the_rule_it_names_and_is_recorded() {
    // Another rule named: the deny stands.
    let w = world("nginx:latest", "");
    let o = deploy(&w, true, &[("no-privileged", "not this one")]).unwrap();
    assert!(!o.succeeded());
    assert!(!written(&w));
    // The rule named: through, recorded with its reason.
    let w = world("nginx:latest", "");
    let o = deploy(&w, true, &[("image-pinned", "hotfix, pinned tomorrow")]).unwrap();
    assert!(o.succeeded(), "{o:?}");
    assert!(written(&w));
    let overrides = w.registry.overrides("dev", None).unwrap();
    assert!(
        overrides.iter().any(|o| o.kind == "policy"
            && o.subject == "image-pinned"
            && o.reason == "hotfix, pinned tomorrow"),
        "{overrides:?}"
    );
}

#[test]
fn an_override_of_no_rule_is_refused_before_anything_is_recorded() {
    let w = world("nginx:latest", "");
    let err = deploy(&w, true, &[("image-pined", "typo")]).unwrap_err();
    assert!(
        err.to_string().contains("names no rule `image-pined`"),
        "{err}"
    );
    assert!(
        w.registry.builds("dev").unwrap().is_empty(),
        "no build reserved"
    );
    assert!(w.registry.overrides("dev", None).unwrap().is_empty());
    assert!(!written(&w));
}

#[test]
fn without_policies_in_the_engine_or_in_the_spec_there_is_no_gate() {
    let w = world("nginx:latest", "");
    assert!(deploy(&w, false, &[]).unwrap().succeeded());
    assert!(written(&w));
    // An override is not checked when nothing runs policies.
    let w = world("nginx:latest", "");
    assert!(deploy(&w, false, &[("anything", "x")]).unwrap().succeeded());
    let w = world("nginx:latest", "policy: { enabled: false }\n");
    assert!(deploy(&w, true, &[]).unwrap().succeeded());
    assert!(written(&w));
    assert!(policy_events(&w).is_empty());
}
