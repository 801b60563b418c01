//! The exec driver against the shared conformance suite, and its contract
//! environment, timeout and outputs.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;

use gp_core::{Contract, Deployment, Platform};
use gp_driver::conformance::{Fixture, MemoryRecorder, check};
use gp_driver::exec::ExecDriver;
use gp_driver::{ComponentCtx, Driver, ErrorKind, Intent};

fn platform(settings: &str) -> Platform {
    let text = format!(
        "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: gp
domain: example.io
owner: team
environments:
  dev: {{}}
components:
  - name: marker
    plane: disposable
    tier: 0
    driver: exec
    settings:
{settings}"
    );
    Platform::from_source(Path::new("goldenpath.yaml"), &text).unwrap()
}

const MARKER: &str = "      apply: mkdir -p \"$GOLDENPATH_STATE_DIR/m\" && echo \"$GOLDENPATH_CLUSTER_NAME\" > \"$GOLDENPATH_STATE_DIR/m/$GOLDENPATH_BUILD_ID\" && echo \"where=$GOLDENPATH_HOST_SUFFIX\" >> \"$GOLDENPATH_OUTPUTS\"
      destroy: rm -f \"$GOLDENPATH_STATE_DIR/m/$GOLDENPATH_BUILD_ID\"
      check: test -f \"$GOLDENPATH_STATE_DIR/m/$GOLDENPATH_BUILD_ID\"
      outputs: [where]
";

#[test]
fn exec_passes_the_conformance_suite() {
    let p = platform(MARKER);
    let contract = Contract::new(
        &p,
        "dev",
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    )
    .unwrap();
    let dir = gp_test::tempdir();
    let component = p.component("marker").unwrap();
    let settings = component.settings_node();
    let inputs = BTreeMap::new();
    let f = Fixture {
        platform: &p,
        contract: &contract,
        component,
        settings: &settings,
        inputs: &inputs,
        state_dir: dir.path().to_path_buf(),
    };
    check(&ExecDriver, &f).unwrap();
}

#[test]
fn exec_sees_the_contract_and_publishes_outputs() {
    let p = platform(MARKER);
    let contract = Contract::new(
        &p,
        "dev",
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    )
    .unwrap();
    let dir = gp_test::tempdir();
    let component = p.component("marker").unwrap();
    let settings = component.settings_node();
    let inputs = BTreeMap::new();
    let rec = MemoryRecorder::default();
    let ctx = ComponentCtx {
        platform: &p,
        contract: &contract,
        component,
        settings: &settings,
        inputs: &inputs,
        last: None,
        intent: Intent::Create,
        state_dir: dir.path(),
        recorder: &rec,
    };
    let applied = ExecDriver.apply(&ctx).unwrap();
    assert_eq!(
        applied.outputs.values["where"],
        "b-23-01-26-01.dev.example.io"
    );
    let written = std::fs::read_to_string(dir.path().join("m/23-01-26-01")).unwrap();
    assert_eq!(written.trim(), "gp-dev-eks-23-01-26-01");
    // The apply is a timed phase with the process's exit code.
    let phases = rec.phases.lock().unwrap();
    assert_eq!(phases[0].0, "exec:marker");
    assert_eq!(phases[0].1, Some(0));
}

#[test]
fn exec_timeouts_kill_the_command_and_are_retryable() {
    let p = platform("      apply: sleep 30\n      timeout: 1s\n");
    let contract = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
    let dir = gp_test::tempdir();
    let component = p.component("marker").unwrap();
    let settings = component.settings_node();
    let inputs = BTreeMap::new();
    let rec = MemoryRecorder::default();
    let ctx = ComponentCtx {
        platform: &p,
        contract: &contract,
        component,
        settings: &settings,
        inputs: &inputs,
        last: None,
        intent: Intent::Create,
        state_dir: dir.path(),
        recorder: &rec,
    };
    let t = std::time::Instant::now();
    let err = ExecDriver.apply(&ctx).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable);
    assert!(err.message.contains("did not finish within 1s"), "{err}");
    assert!(t.elapsed().as_secs() < 20, "the command was not killed");
    // The action is journalled as failed.
    assert!(rec.actions.lock().unwrap()[0].failed);
}

#[test]
fn exec_settings_errors_have_positions() {
    let p = platform("      apply: 'true'\n      timout: 5m\n");
    let component = p.component("marker").unwrap();
    let settings = component.settings_node();
    let err = ExecDriver
        .validate(&gp_driver::ValidateCtx {
            platform: &p,
            component,
            settings: &settings,
        })
        .unwrap_err();
    assert_eq!(err[0].pos.map(|p| (p.line, p.col)), Some((16, 7)));
    assert_eq!(err[0].hint.as_deref(), Some("did you mean `timeout`?"));
}
