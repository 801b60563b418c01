//! The terraform driver with the real `terraform` binary and roots made of
//! `terraform_data` only (no provider is downloaded).
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gp_core::{Contract, Deployment, Platform};
use gp_driver::conformance::{Fixture, MemoryRecorder, check};
use gp_driver::{ComponentCtx, ComponentOutputs, Driver, ErrorKind, Intent};
use gp_driver_terraform::TerraformDriver;

const CONTRACT_ROOT: &str = r#"terraform {
  backend "local" {}
}
variable "build_id" { type = string }
variable "deployment_lifecycle" { type = string }
variable "env" { type = string }
variable "name_prefix" { type = string }
variable "cluster_name" { type = string }
variable "host_suffix" { type = string }
variable "dns_owner_id" { type = string }
variable "tags" { type = map(string) }
variable "size" {
  type    = number
  default = 1
}
resource "terraform_data" "cluster" { input = var.cluster_name }
resource "terraform_data" "db" { input = "database" }
output "build_id" { value = var.build_id }
output "lifecycle" { value = var.deployment_lifecycle }
output "env" { value = var.env }
output "name_prefix" { value = var.name_prefix }
output "cluster_name" { value = var.cluster_name }
output "host_suffix" { value = var.host_suffix }
output "dns_owner_id" { value = var.dns_owner_id }
output "tags" { value = var.tags }
output "token" {
  value     = "not-for-the-journal"
  sensitive = true
}
"#;

struct World {
    dir: tempfile::TempDir,
    platform: Platform,
}

impl World {
    fn new(root: &str, settings: &str) -> World {
        let dir = gp_test::tempdir();
        std::fs::create_dir_all(dir.path().join("root")).unwrap();
        std::fs::write(dir.path().join("root/main.tf"), root).unwrap();
        let spec = format!(
            "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: goldenpath-idp
prefix: goldenpath
domain: goldenpathidp.io
owner: platform-team
environments:
  dev: {{}}
components:
  - name: cluster
    plane: disposable
    tier: 0
    driver: terraform
    settings:
      root: root
{settings}"
        );
        let path = dir.path().join("goldenpath.yaml");
        std::fs::write(&path, spec).unwrap();
        let platform = Platform::load(&path).unwrap();
        World { dir, platform }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn apply(
        &self,
        driver: &TerraformDriver,
        d: Deployment,
        last: Option<&ComponentOutputs>,
        rec: &MemoryRecorder,
    ) -> Result<gp_driver::Applied, gp_driver::DriverError> {
        let contract = Contract::new(&self.platform, "dev", d).unwrap();
        let c = self.platform.component("cluster").unwrap();
        let settings = c.settings_node();
        let inputs = BTreeMap::new();
        let state = self.state();
        driver.apply(&ComponentCtx {
            platform: &self.platform,
            contract: &contract,
            component: c,
            settings: &settings,
            inputs: &inputs,
            last,
            intent: if last.is_some() {
                Intent::Update
            } else {
                Intent::Create
            },
            state_dir: &state,
            recorder: rec,
        })
    }

    fn destroy(&self, driver: &TerraformDriver, d: Deployment, rec: &MemoryRecorder) {
        let contract = Contract::new(&self.platform, "dev", d).unwrap();
        let c = self.platform.component("cluster").unwrap();
        let settings = c.settings_node();
        let inputs = BTreeMap::new();
        let state = self.state();
        let ctx = ComponentCtx {
            platform: &self.platform,
            contract: &contract,
            component: c,
            settings: &settings,
            inputs: &inputs,
            last: None,
            intent: Intent::Update,
            state_dir: &state,
            recorder: rec,
        };
        for r in rec.created().iter().rev() {
            driver.destroy(&ctx, r).unwrap();
        }
    }

    /// `terraform state list` of a build's workspace, straight from the file.
    fn state_file(&self, build: &str) -> PathBuf {
        self.state().join(format!(
            "tfstate/envs/dev/builds/{build}/terraform.tfstate.d/cluster/terraform.tfstate"
        ))
    }
}

fn build(id: &str) -> Deployment {
    Deployment::Ephemeral(id.parse().unwrap())
}

fn resources_in(file: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return vec![];
    };
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["resources"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    format!(
                        "{}.{}",
                        r["type"].as_str().unwrap(),
                        r["name"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn two_builds_in_parallel_get_separate_states_and_teardown_touches_one() {
    let w = World::new(CONTRACT_ROOT, "");
    let driver = TerraformDriver::new();
    let (r1, r2) = (MemoryRecorder::default(), MemoryRecorder::default());
    std::thread::scope(|s| {
        let a = s.spawn(|| w.apply(&driver, build("23-01-26-01"), None, &r1).unwrap());
        let b = s.spawn(|| w.apply(&driver, build("23-01-26-02"), None, &r2).unwrap());
        a.join().unwrap();
        b.join().unwrap();
    });
    assert_eq!(
        resources_in(&w.state_file("23-01-26-01")),
        ["terraform_data.cluster", "terraform_data.db"]
    );
    assert_eq!(
        resources_in(&w.state_file("23-01-26-02")),
        ["terraform_data.cluster", "terraform_data.db"]
    );
    // Each build has its own .terraform directory.
    assert!(
        w.state()
            .join("work/dev/23-01-26-01/cluster/.terraform")
            .is_dir()
    );
    assert!(
        w.state()
            .join("work/dev/23-01-26-02/cluster/.terraform")
            .is_dir()
    );
    assert!(
        !w.dir.path().join("root/.terraform").exists(),
        "the root stays clean"
    );
    let before = std::fs::read(w.state_file("23-01-26-02")).unwrap();
    w.destroy(&driver, build("23-01-26-01"), &r1);
    assert!(resources_in(&w.state_file("23-01-26-01")).is_empty());
    assert_eq!(
        std::fs::read(w.state_file("23-01-26-02")).unwrap(),
        before,
        "the other build's state is untouched"
    );
}

#[test]
fn contract_variables_reach_the_root_and_sensitive_outputs_stay_out() {
    let w = World::new(CONTRACT_ROOT, "");
    let driver = TerraformDriver::new();
    let rec = MemoryRecorder::default();
    let applied = w.apply(&driver, build("23-01-26-01"), None, &rec).unwrap();
    let contract = Contract::new(&w.platform, "dev", build("23-01-26-01")).unwrap();
    let view = contract.view().unwrap();
    let o = &applied.outputs.values;
    assert_eq!(o["build_id"], "23-01-26-01");
    assert_eq!(o["lifecycle"], view.lifecycle.as_str());
    assert_eq!(o["env"], "dev");
    assert_eq!(o["name_prefix"], view.name_prefix.as_str());
    assert_eq!(o["cluster_name"], "goldenpath-dev-eks-23-01-26-01");
    assert_eq!(o["host_suffix"], view.host_suffix.as_str());
    assert_eq!(o["dns_owner_id"], view.dns_owner_id.as_str());
    assert_eq!(o["tags"], serde_json::to_value(&view.tags).unwrap());
    assert!(
        !o.contains_key("token"),
        "sensitive outputs are not published"
    );
    // The variables went through a file, never the command line.
    let vars = std::fs::read_to_string(
        w.state()
            .join("work/dev/23-01-26-01/cluster/goldenpath.auto.tfvars.json"),
    )
    .unwrap();
    assert!(vars.contains("goldenpath-dev-eks-23-01-26-01"));
    assert!(
        !vars.contains("irsa_role_suffix"),
        "only declared variables are passed"
    );
    // Phases: init, plan, apply, with exit codes and counts from the plan.
    let phases = rec.phases.lock().unwrap();
    let names: Vec<&str> = phases.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        names,
        ["terraform-init", "terraform-plan", "terraform-apply"]
    );
    assert_eq!(
        phases[2].2,
        Some(gp_driver::Counts {
            added: 2,
            changed: 0,
            destroyed: 0
        })
    );
    assert!(phases.iter().all(|p| p.1 == Some(0)));
}

#[test]
fn undeclared_settings_variables_are_named() {
    let w = World::new(
        CONTRACT_ROOT,
        "      variables: { size: 3, colour: blue }\n",
    );
    let driver = TerraformDriver::new();
    let err = w
        .apply(
            &driver,
            build("23-01-26-01"),
            None,
            &MemoryRecorder::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Configuration);
    assert_eq!(err.diagnostics.len(), 1);
    assert!(
        err.diagnostics[0]
            .message
            .starts_with("`colour` is not a variable of"),
        "{:?}",
        err.diagnostics
    );
    assert_eq!(err.diagnostics[0].pos.map(|p| p.line), Some(16));
}

#[test]
fn removing_a_protected_block_is_refused_until_overridden() {
    let w = World::new(CONTRACT_ROOT, "      protect: [\"terraform_data.db\"]\n");
    let driver = TerraformDriver::new();
    let rec = MemoryRecorder::default();
    let first = w.apply(&driver, build("23-01-26-01"), None, &rec).unwrap();
    // The block is removed from the code: Terraform plans a delete.
    let without_db = CONTRACT_ROOT.replace(
        "resource \"terraform_data\" \"db\" { input = \"database\" }\n",
        "",
    );
    std::fs::write(w.dir.path().join("root/main.tf"), without_db).unwrap();
    let before = std::fs::read(w.state_file("23-01-26-01")).unwrap();
    let refused = MemoryRecorder::default();
    let err = w
        .apply(
            &driver,
            build("23-01-26-01"),
            Some(&first.outputs),
            &refused,
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Refused);
    assert!(
        err.message
            .contains("would delete terraform_data.db, which is protected"),
        "{err}"
    );
    assert_eq!(
        err.hint.as_deref(),
        Some(
            "if this is intended: --override-guard cluster:protect --reason \"...\" (recorded with your name)"
        )
    );
    assert_eq!(
        std::fs::read(w.state_file("23-01-26-01")).unwrap(),
        before,
        "state unchanged"
    );
    assert!(
        refused.actions.lock().unwrap().is_empty(),
        "nothing journalled as applied"
    );
    assert!(
        refused
            .phases
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.0 == "terraform-guard" && p.1 == Some(3))
    );
    // With the override, it goes.
    let mut allowed = MemoryRecorder::default();
    allowed
        .overrides
        .insert("protect".into(), "the database moved to rds".into());
    w.apply(
        &driver,
        build("23-01-26-01"),
        Some(&first.outputs),
        &allowed,
    )
    .unwrap();
    assert_eq!(
        resources_in(&w.state_file("23-01-26-01")),
        ["terraform_data.cluster"]
    );
}

#[test]
fn limits_guard_destroys() {
    let w = World::new(CONTRACT_ROOT, "      limits: { maxDestroy: 0 }\n");
    let driver = TerraformDriver::new();
    let first = w
        .apply(
            &driver,
            build("23-01-26-01"),
            None,
            &MemoryRecorder::default(),
        )
        .unwrap();
    let replaced = CONTRACT_ROOT.replace(
        "resource \"terraform_data\" \"cluster\" { input = var.cluster_name }",
        "resource \"terraform_data\" \"cluster\" {\n  input            = var.cluster_name\n  triggers_replace = \"v2\"\n}",
    );
    std::fs::write(w.dir.path().join("root/main.tf"), replaced).unwrap();
    let err = w
        .apply(
            &driver,
            build("23-01-26-01"),
            Some(&first.outputs),
            &MemoryRecorder::default(),
        )
        .unwrap_err();
    assert!(err.message.contains("maxDestroy is 0"), "{err}");
}

/// Terraform's own summary of a plan, from the `change_summary` line of
/// `terraform plan -json` in the phase's log.
fn terraform_summary(log: &Path) -> (i64, i64, i64) {
    let text = std::fs::read_to_string(log).unwrap();
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains("\"type\":\"change_summary\""))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    (
        v["changes"]["add"].as_i64().unwrap(),
        v["changes"]["change"].as_i64().unwrap(),
        v["changes"]["remove"].as_i64().unwrap(),
    )
}

#[test]
fn recorded_counts_match_terraforms_plan_for_create_change_and_destroy() {
    let w = World::new(CONTRACT_ROOT, "");
    let driver = TerraformDriver::new();
    let log = w
        .state()
        .join("logs/dev/23-01-26-01/run/cluster-terraform-plan.log");
    let counts = |rec: &MemoryRecorder| {
        rec.phases
            .lock()
            .unwrap()
            .iter()
            .find(|p| p.0 == "terraform-plan")
            .unwrap()
            .2
            .unwrap()
    };
    let r = MemoryRecorder::default();
    let a = w.apply(&driver, build("23-01-26-01"), None, &r).unwrap();
    let c = counts(&r);
    assert_eq!((c.added, c.changed, c.destroyed), terraform_summary(&log));
    assert_eq!((c.added, c.changed, c.destroyed), (2, 0, 0));
    // Change: the db's input.
    std::fs::write(
        w.dir.path().join("root/main.tf"),
        CONTRACT_ROOT.replace("input = \"database\"", "input = \"database-v2\""),
    )
    .unwrap();
    let r = MemoryRecorder::default();
    let b = w
        .apply(&driver, build("23-01-26-01"), Some(&a.outputs), &r)
        .unwrap();
    let c = counts(&r);
    assert_eq!((c.added, c.changed, c.destroyed), terraform_summary(&log));
    assert_eq!((c.added, c.changed, c.destroyed), (0, 1, 0));
    // Destroy: the block goes.
    std::fs::write(
        w.dir.path().join("root/main.tf"),
        CONTRACT_ROOT.replace(
            "resource \"terraform_data\" \"db\" { input = \"database\" }\n",
            "",
        ),
    )
    .unwrap();
    let r = MemoryRecorder::default();
    w.apply(&driver, build("23-01-26-01"), Some(&b.outputs), &r)
        .unwrap();
    let c = counts(&r);
    assert_eq!((c.added, c.changed, c.destroyed), terraform_summary(&log));
    assert_eq!((c.added, c.changed, c.destroyed), (0, 0, 1));
}

#[test]
fn a_syntax_error_shows_terraforms_diagnostic_with_file_and_line() {
    let w = World::new(
        "terraform {\n  backend \"local\" {}\n}\nresource \"terraform_data\" \"x\" {\n  input = \n}\n",
        "",
    );
    let driver = TerraformDriver::new();
    let rec = MemoryRecorder::default();
    let err = w
        .apply(&driver, build("23-01-26-01"), None, &rec)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Permanent);
    assert!(err.message.contains("main.tf:5"), "{err}");
    assert!(
        rec.actions.lock().unwrap().is_empty(),
        "nothing recorded as applied"
    );
    assert!(
        rec.phases
            .lock()
            .unwrap()
            .iter()
            .all(|p| p.0 != "terraform-apply")
    );
}

#[test]
fn a_held_lock_is_named_with_its_holder() {
    let w = World::new(CONTRACT_ROOT, "");
    let driver = TerraformDriver::new();
    let first = w
        .apply(
            &driver,
            build("23-01-26-01"),
            None,
            &MemoryRecorder::default(),
        )
        .unwrap();
    // A second terraform holds the lock while it waits for "yes" to a change.
    std::fs::write(
        w.dir.path().join("root/main.tf"),
        CONTRACT_ROOT.replace("input = \"database\"", "input = \"v3\""),
    )
    .unwrap();
    let work = w.state().join("work/dev/23-01-26-01/cluster");
    let mut holder = Command::new("terraform")
        .arg(format!("-chdir={}", w.dir.path().join("root").display()))
        .args(["apply", "-no-color"])
        .arg(format!(
            "-var-file={}",
            work.join("goldenpath.auto.tfvars.json").display()
        ))
        .env("TF_DATA_DIR", work.join(".terraform"))
        .env("TF_WORKSPACE", "cluster")
        .env(
            "TF_CLI_CONFIG_FILE",
            w.state().join("terraform/terraformrc"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it prompts: then it holds the lock.
    let mut out = holder.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    while !seen.contains("Enter a value") {
        let n = std::io::Read::read(&mut out, &mut buf).unwrap();
        assert!(n > 0, "the holder exited: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let err = w
        .apply(
            &driver,
            build("23-01-26-01"),
            Some(&first.outputs),
            &MemoryRecorder::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable);
    assert!(err.message.contains("is locked by"), "{err}");
    assert!(err.message.contains("OperationTypeApply, lock "), "{err}");
    let hint = err.hint.clone().unwrap();
    assert!(
        hint.contains(
            "goldenpath terraform unlock --env dev --build-id 23-01-26-01 cluster --lock-id "
        ),
        "{hint}"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    // Once the holder is gone, the lock is too (the local backend's lock is
    // the holder's own file lock).
    w.apply(
        &driver,
        build("23-01-26-01"),
        Some(&first.outputs),
        &MemoryRecorder::default(),
    )
    .unwrap();
}

#[test]
fn terraform_passes_the_conformance_suite() {
    let w = World::new(CONTRACT_ROOT, "");
    let driver = TerraformDriver::new();
    let contract = Contract::new(&w.platform, "dev", build("23-01-26-01")).unwrap();
    let c = w.platform.component("cluster").unwrap();
    let settings = c.settings_node();
    let inputs = BTreeMap::new();
    check(
        &driver,
        &Fixture {
            platform: &w.platform,
            contract: &contract,
            component: c,
            settings: &settings,
            inputs: &inputs,
            state_dir: w.state(),
        },
    )
    .unwrap();
}

/// A drift check runs Terraform's own question of drift — `plan
/// -refresh-only -detailed-exitcode` (a phase of its own, its exit status
/// recorded) — beside the plan that compares the state with the
/// configuration, which finds a state written by another `terraform
/// apply`; a plain plan runs no refresh-only plan. (`terraform_data` has
/// nothing outside the state to refresh: the refresh-only plan finds
/// nothing here, exit 0; reading its `resource_drift` is unit-tested in
/// `plan.rs`.)
#[test]
fn a_drift_check_runs_a_refresh_only_plan_beside_the_plan() {
    const ROOT: &str = r#"terraform {
  backend "local" {}
}
variable "size" {
  type    = number
  default = 1
}
resource "terraform_data" "sized" { input = var.size }
"#;
    let b = "23-01-26-01";
    let w = World::new(ROOT, "      variables: { size: 1 }\n");
    let driver = TerraformDriver::new();
    let applied = w
        .apply(&driver, build(b), None, &MemoryRecorder::default())
        .unwrap();
    let observe = |drift_check: bool| {
        let contract = Contract::new(&w.platform, "dev", build(b)).unwrap();
        let c = w.platform.component("cluster").unwrap();
        let settings = c.settings_node();
        let inputs = BTreeMap::new();
        let state = w.state();
        let rec = MemoryRecorder::checking_drift(drift_check);
        let drift = driver
            .observe(&ComponentCtx {
                platform: &w.platform,
                contract: &contract,
                component: c,
                settings: &settings,
                inputs: &inputs,
                last: Some(&applied.outputs),
                intent: Intent::Update,
                state_dir: &state,
                recorder: &rec,
            })
            .unwrap()
            .drift;
        let refresh_only: Vec<Option<i32>> = rec
            .phases
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.0 == "terraform-plan-refresh-only")
            .map(|p| p.1)
            .collect();
        (drift, refresh_only)
    };
    assert_eq!(observe(true), (vec![], vec![Some(0)]), "nothing changed");
    assert_eq!(observe(false), (vec![], vec![]), "a plan runs none");

    // Behind goldenpath's back: the same root applied with another input
    // on the build's state.
    let work = gp_test::tempdir();
    std::fs::write(work.path().join("main.tf"), ROOT).unwrap();
    let state = w.state_file(b);
    std::fs::copy(&state, work.path().join("terraform.tfstate")).unwrap();
    for args in [
        vec!["init", "-input=false", "-no-color"],
        vec![
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-var",
            "size=7",
        ],
    ] {
        let out = Command::new("terraform")
            .args(&args)
            .current_dir(work.path())
            .env("TF_IN_AUTOMATION", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "terraform {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::copy(work.path().join("terraform.tfstate"), &state).unwrap();
    let (drift, refresh_only) = observe(true);
    assert_eq!(refresh_only, vec![Some(0)]);
    assert!(
        drift
            .iter()
            .any(|d| d.starts_with("update terraform_data.sized (") && d.contains("input")),
        "{drift:?}"
    );
}
