//! The secrets driver against the conformance suite and its adopt rules.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use gp_core::{Contract, Deployment, Platform, Secret};
use gp_driver::conformance::{Fixture, MemoryRecorder, check};
use gp_driver::{Action, ComponentCtx, Driver, ErrorKind, Intent};
use gp_driver_secrets::{LocalStore, SecretStore, SecretsDriver};

fn platform() -> Platform {
    Platform::from_source(
        Path::new("goldenpath.yaml"),
        "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: gp
domain: example.io
owner: team
environments:
  dev: {}
components:
  - name: app-secrets
    plane: disposable
    tier: 1
    driver: secrets
    settings:
      secrets:
        - name: grafana_admin
          generate: [password]
        - name: signing_key
          generate: [key, salt]
          length: 48
",
    )
    .unwrap()
}

#[test]
fn secrets_driver_passes_the_conformance_suite() {
    let p = platform();
    let dir = gp_test::tempdir();
    let store = Arc::new(LocalStore::new(dir.path()));
    let driver = SecretsDriver::new(store.clone());
    let contract = Contract::new(
        &p,
        "dev",
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    )
    .unwrap();
    let c = p.component("app-secrets").unwrap();
    let settings = c.settings_node();
    let inputs = BTreeMap::new();
    check(
        &driver,
        &Fixture {
            platform: &p,
            contract: &contract,
            component: c,
            settings: &settings,
            inputs: &inputs,
            state_dir: dir.path().to_path_buf(),
        },
    )
    .unwrap();
}

#[test]
fn generated_secrets_land_at_contract_paths_and_existing_ones_are_adopted() {
    let p = platform();
    let dir = gp_test::tempdir();
    let store = Arc::new(LocalStore::new(dir.path()));
    // Someone put one of them already.
    store
        .put(
            "gp/dev/builds/23-01-26-01/grafana_admin",
            &Secret::new("{\"password\":\"chosen-by-a-human-0123456789\"}"),
            &BTreeMap::new(),
        )
        .unwrap();
    let driver = SecretsDriver::new(store.clone());
    let contract = Contract::new(
        &p,
        "dev",
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    )
    .unwrap();
    let c = p.component("app-secrets").unwrap();
    let settings = c.settings_node();
    let inputs = BTreeMap::new();
    let rec = MemoryRecorder::default();
    let ctx = ComponentCtx {
        platform: &p,
        contract: &contract,
        component: c,
        settings: &settings,
        inputs: &inputs,
        last: None,
        intent: Intent::Create,
        state_dir: dir.path(),
        recorder: &rec,
    };
    let applied = driver.apply(&ctx).unwrap();
    let actions: Vec<Action> = rec
        .actions
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(actions, [Action::Adopt, Action::Create]);
    // The adopted value is kept; the created one has both keys, 48 long.
    let kept = store
        .get("gp/dev/builds/23-01-26-01/grafana_admin")
        .unwrap()
        .unwrap();
    assert!(kept.value.expose().contains("chosen-by-a-human"));
    let made = store
        .get("gp/dev/builds/23-01-26-01/signing_key")
        .unwrap()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(made["key"].as_str().unwrap().len(), 48);
    assert_eq!(made["salt"].as_str().unwrap().len(), 48);
    let tags = store
        .get("gp/dev/builds/23-01-26-01/signing_key")
        .unwrap()
        .unwrap()
        .tags;
    assert_eq!(tags["BuildId"], "23-01-26-01");
    assert_eq!(tags["Lifecycle"], "ephemeral");
    assert_eq!(
        applied.outputs.resources["signing_key"]["path"],
        "gp/dev/builds/23-01-26-01/signing_key"
    );
}

#[test]
fn a_secret_a_person_must_supply_says_how() {
    let p = Platform::from_source(
        Path::new("goldenpath.yaml"),
        "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: d\nprefix: gp\ndomain: example.io\nowner: t\nenvironments:\n  dev: {}\ncomponents:\n  - name: s\n    plane: disposable\n    tier: 1\n    driver: secrets\n    settings: { secrets: [ { name: github_token, supplied: [token] } ] }\n",
    )
    .unwrap();
    let dir = gp_test::tempdir();
    let driver = SecretsDriver::new(Arc::new(LocalStore::new(dir.path())));
    let contract = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
    let c = p.component("s").unwrap();
    let settings = c.settings_node();
    let inputs = BTreeMap::new();
    let rec = MemoryRecorder::default();
    let err = driver
        .apply(&ComponentCtx {
            platform: &p,
            contract: &contract,
            component: c,
            settings: &settings,
            inputs: &inputs,
            last: None,
            intent: Intent::Create,
            state_dir: dir.path(),
            recorder: &rec,
        })
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Configuration);
    assert_eq!(
        err.hint.as_deref(),
        Some(
            "goldenpath secret put gp/dev/github_token < file.json   (a JSON object with those keys)"
        )
    );
}

#[test]
fn goldenpaths_tags_changed_by_hand_are_drift_and_apply_puts_them_back_keeping_the_value() {
    let p = platform();
    let dir = gp_test::tempdir();
    let store = Arc::new(LocalStore::new(dir.path()));
    let driver = SecretsDriver::new(store.clone());
    let contract = Contract::new(
        &p,
        "dev",
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    )
    .unwrap();
    let c = p.component("app-secrets").unwrap();
    let settings = c.settings_node();
    let inputs = BTreeMap::new();
    let rec = MemoryRecorder::default();
    let ctx = |last| ComponentCtx {
        platform: &p,
        contract: &contract,
        component: c,
        settings: &settings,
        inputs: &inputs,
        last,
        intent: Intent::Update,
        state_dir: dir.path(),
        recorder: &rec,
    };
    let applied = driver.apply(&ctx(None)).unwrap();
    let last = applied.outputs;
    assert!(driver.observe(&ctx(Some(&last))).unwrap().drift.is_empty());
    let path = "gp/dev/builds/23-01-26-01/signing_key";
    let before = store.get(path).unwrap().unwrap();
    // By hand: goldenpath's BuildId tag changed, its Owner removed, a tag
    // of someone's own added.
    let mut tags = before.tags.clone();
    tags.insert("BuildId".into(), "99-99-99-99".into());
    tags.remove("Owner");
    tags.insert("cost-centre".into(), "42".into());
    store.put(path, &before.value, &tags).unwrap();
    let drift = driver.observe(&ctx(Some(&last))).unwrap().drift;
    assert_eq!(
        drift,
        [
            format!("{path}: tag `BuildId` is `99-99-99-99`, not `23-01-26-01`"),
            format!("{path}: tag `Owner` was removed"),
        ],
        "{drift:?}"
    );
    // A secret this deployment did not create (adopted: its journal has
    // no creation) keeps the tags it has.
    let adopted_rec = MemoryRecorder::default();
    let adopted = ComponentCtx {
        recorder: &adopted_rec,
        ..ctx(Some(&last))
    };
    assert!(driver.observe(&adopted).unwrap().drift.is_empty());
    // Put back: the tags, and nothing of the value.
    driver.apply(&ctx(Some(&last))).unwrap();
    let after = store.get(path).unwrap().unwrap();
    assert_eq!(after.value.expose(), before.value.expose());
    assert_eq!(after.tags["BuildId"], "23-01-26-01");
    assert!(after.tags.contains_key("Owner"));
    assert!(driver.observe(&ctx(Some(&last))).unwrap().drift.is_empty());
}
