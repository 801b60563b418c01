//! The foundation: spec errors, the contract, init, schema, exit codes.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::gp;

const VALID: &str = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
environments:
  dev:
    ephemeral: { maxTier: 1 }
components:
  - name: cluster
    plane: disposable
    tier: 0
    driver: exec
    settings: { apply: 'true' }
  - name: web
    plane: disposable
    tier: 1
    driver: exec
    settings: { apply: 'true' }
    needs: [cluster]
";

/// Runs `validate` on `text` and returns the transcript with the temp dir
/// redacted.
fn validate(text: &str) -> gp_test::Output {
    let dir = gp_test::tempdir();
    let spec = dir.path().join("goldenpath.yaml");
    std::fs::write(&spec, text).unwrap();
    let mut out = gp_test::run(gp().current_dir(dir.path()).args(["validate"]));
    out.stderr = gp_test::redact_dir(&out.stderr, dir.path());
    out
}

#[test]
fn a_valid_spec_validates() {
    let out = validate(VALID);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(
        out.stdout,
        "goldenpath.yaml is valid: 2 component(s), 1 environment(s)\n"
    );
}

#[test]
fn spec_error_yaml_syntax() {
    let out = validate(&VALID.replace("needs: [cluster]", "needs: [cluster"));
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn spec_error_unknown_key() {
    let out = validate(&VALID.replace("    tier: 1\n", "    teir: 1\n"));
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn spec_error_wrong_type() {
    let out = validate(&VALID.replace("    tier: 1\n", "    tier: high\n"));
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn spec_error_tier_that_does_not_exist() {
    let out = validate(&VALID.replace("    tier: 1\n", "    tier: 2.5\n"));
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn spec_error_needs_missing_component() {
    let out = validate(&VALID.replace("needs: [cluster]", "needs: [clustr]"));
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn spec_error_duplicate_component() {
    let out = validate(&VALID.replace("  - name: web", "  - name: cluster"));
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn spec_error_cycle() {
    let text = VALID.replace(
        "    tier: 0\n    driver: exec\n",
        "    tier: 0\n    driver: exec\n    needs: [web]\n",
    );
    let out = validate(&text);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn spec_errors_in_json() {
    let dir = gp_test::tempdir();
    std::fs::write(
        dir.path().join("goldenpath.yaml"),
        VALID.replace("    tier: 1\n", "    teir: 1\n"),
    )
    .unwrap();
    let out = gp_test::run(
        gp().current_dir(dir.path())
            .args(["validate", "--output", "json"]),
    );
    assert_eq!(out.code, 2);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["diagnostics"][0]["line"], 18);
    assert_eq!(v["diagnostics"][0]["column"], 5);
    assert_eq!(v["diagnostics"][0]["hint"], "did you mean `tier`?");
}

#[test]
fn a_missing_spec_is_invalid_input_with_a_hint() {
    let dir = gp_test::tempdir();
    let out = gp_test::run(gp().current_dir(dir.path()).args(["validate"]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("error: no goldenpath.yaml in this directory or any parent directory"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("hint: create one with `goldenpath init`"),
        "{}",
        out.stderr
    );
}

/// The JSON contract of `goldenpath contract`, declared independently of the
/// implementation's types so that a renamed or added field fails here.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct ContractJson {
    schema_version: u32,
    env: String,
    deployment: String,
    build_id: Option<String>,
    lifecycle: String,
    name_prefix: String,
    cluster_name: String,
    irsa_role_suffix: String,
    state_key: String,
    foundational_state_keys: BTreeMap<String, String>,
    host_suffix: String,
    dns_owner_id: String,
    zone: String,
    txt_prefix: String,
    database_secrets: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    hosts: Vec<HostJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct HostJson {
    component: String,
    name: String,
    fqdn: String,
    record_type: String,
    txt_owner_name: String,
    scope: String,
}

#[test]
fn contract_json_reads_back_into_strict_structs() {
    let spec = gp_test::example("golden-v1/goldenpath.yaml");
    let out = gp_test::run(gp().arg("--spec").arg(&spec).args([
        "contract",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.transcript());
    let c: ContractJson = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(c.schema_version, 1);
    assert_eq!(c.cluster_name, "goldenpath-dev-eks-23-01-26-01");
    assert_eq!(c.host_suffix, "b-23-01-26-01.dev.goldenpathidp.io");
    assert_eq!(c.state_key, "envs/dev/builds/23-01-26-01/terraform.tfstate");
    assert_eq!(
        c.database_secrets["backstage"],
        "goldenpath/dev/backstage/postgres"
    );
    assert_eq!(c.tags["BuildId"], "23-01-26-01");
    let backstage = c.hosts.iter().find(|h| h.component == "backstage").unwrap();
    assert_eq!(
        backstage.fqdn,
        "backstage.b-23-01-26-01.dev.goldenpathidp.io"
    );
}

#[test]
fn contract_text_for_both_examples() {
    for example in ["golden-v1", "local"] {
        let spec = gp_test::example(&format!("{example}/goldenpath.yaml"));
        for args in [
            vec!["contract", "--env", "dev"],
            vec!["contract", "--env", "dev", "--build-id", "23-01-26-01"],
        ] {
            let out = gp_test::run(gp().arg("--spec").arg(&spec).args(&args));
            assert_eq!(out.code, 0, "{}", out.transcript());
            assert!(
                out.stdout.contains("cluster name      goldenpath-dev-eks"),
                "{}",
                out.stdout
            );
        }
    }
    let spec = gp_test::example("golden-v1/goldenpath.yaml");
    let out = gp_test::run(gp().arg("--spec").arg(&spec).args([
        "contract",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
    ]));
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn bad_build_ids_exit_2() {
    let spec = gp_test::example("golden-v1/goldenpath.yaml");
    for (bad, says) in [
        ("31-02-26-01", "31-02-2026 is not a calendar date"),
        ("1-01-26-01", "expected DD-MM-YY-NN"),
        ("23-01-2026-01", "expected DD-MM-YY-NN"),
    ] {
        let out = gp_test::run(gp().arg("--spec").arg(&spec).args([
            "contract",
            "--env",
            "dev",
            "--build-id",
            bad,
        ]));
        assert_eq!(out.code, 2, "{bad}: {}", out.transcript());
        assert!(out.stderr.contains(says), "{bad}: {}", out.stderr);
    }
}

#[test]
fn unknown_environment_exits_2_with_the_list() {
    let spec = gp_test::example("golden-v1/goldenpath.yaml");
    let out = gp_test::run(
        gp().arg("--spec")
            .arg(&spec)
            .args(["contract", "--env", "qa"]),
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("declared: dev, test, staging, prod"),
        "{}",
        out.stderr
    );
}

#[test]
fn init_writes_a_valid_example_and_refuses_to_overwrite() {
    let dir = gp_test::tempdir();
    for example in ["local", "golden-v1"] {
        let target = dir.path().join(example);
        let out = gp_test::run(gp().args(["init", "--example", example]).arg(&target));
        assert_eq!(out.code, 0, "{}", out.transcript());
        // Run from the new directory: goldenpath finds its spec there.
        let out = gp_test::run(gp().current_dir(&target).arg("validate"));
        if example == "golden-v1" {
            // The reference platform talks to AWS (Route 53, Secrets
            // Manager, S3 state): this build carries the AWS backends, and
            // validate needs no credentials to pass.
            assert_eq!(out.code, 0, "{}", out.transcript());
            assert!(out.stdout.contains("is valid"), "{}", out.stdout);
        } else {
            assert_eq!(out.code, 0, "{}", out.transcript());
        }
        // A second init refuses and changes nothing.
        std::fs::write(target.join("goldenpath.yaml"), "mine").unwrap();
        let out = gp_test::run(gp().args(["init", "--example", example]).arg(&target));
        assert_eq!(out.code, 2, "{}", out.transcript());
        assert_eq!(
            std::fs::read_to_string(target.join("goldenpath.yaml")).unwrap(),
            "mine"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("local"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".goldenpath-init"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn schema_is_json_schema_for_the_spec() {
    let out = gp_test::run(gp().arg("schema"));
    assert_eq!(out.code, 0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["title"], "goldenpath platform spec");
    let required = v["required"].as_array().unwrap();
    for field in [
        "apiVersion",
        "kind",
        "prefix",
        "domain",
        "environments",
        "components",
    ] {
        assert!(required.iter().any(|r| r == field), "{field} not required");
    }
    assert_eq!(v["additionalProperties"], false);
}

#[test]
fn usage_errors_exit_2_help_and_version_exit_0() {
    assert_eq!(gp_test::run(gp().arg("--no-such-flag")).code, 2);
    assert_eq!(gp_test::run(gp().arg("contract")).code, 2);
    let help = gp_test::run(gp().arg("--help"));
    assert_eq!(help.code, 0);
    assert!(
        help.stdout
            .contains("Exit status: 0 ok, 1 the operation failed, 2 invalid input")
    );
    let version = gp_test::run(gp().arg("--version"));
    assert_eq!(version.code, 0);
    assert!(version.stdout.starts_with("goldenpath "));
}

#[test]
fn completions_are_generated() {
    let out = gp_test::run(gp().args(["completions", "bash"]));
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("_goldenpath"));
}

#[test]
fn environment_overrides_the_spec_and_flags_override_the_environment() {
    // The state directory: default < spec `stateDir` < GOLDENPATH_STATE_DIR
    // < --state-dir, read back through `goldenpath state-dir`.
    let dir = gp_test::tempdir();
    std::fs::write(
        dir.path().join("goldenpath.yaml"),
        format!("{VALID}stateDir: from-spec\n"),
    )
    .unwrap();
    let run = |env: Option<&str>, flag: Option<&str>| {
        let mut cmd = gp();
        cmd.current_dir(dir.path()).arg("state-dir");
        if let Some(e) = env {
            cmd.env("GOLDENPATH_STATE_DIR", e);
        }
        if let Some(f) = flag {
            cmd.args(["--state-dir", f]);
        }
        let out = gp_test::run(&mut cmd);
        assert_eq!(out.code, 0, "{}", out.transcript());
        out.stdout.trim().to_string()
    };
    assert!(run(None, None).ends_with("from-spec"));
    // Relative paths are resolved against the current directory: what the
    // registry records means the same from anywhere.
    let here = dir.path().canonicalize().unwrap();
    assert_eq!(
        run(Some("from-env"), None),
        here.join("from-env").display().to_string()
    );
    assert_eq!(
        run(Some("from-env"), Some("from-flag")),
        here.join("from-flag").display().to_string()
    );
    // Without a spec setting, the default is .goldenpath beside the spec.
    std::fs::write(dir.path().join("goldenpath.yaml"), VALID).unwrap();
    assert!(run(None, None).ends_with(".goldenpath"));
    // Resolving it created nothing.
    assert!(!dir.path().join(".goldenpath").exists());
    assert!(!dir.path().join("from-spec").exists());
}

/// Every `fn NAME` of the workspace's Rust files.
fn functions_of(dir: &std::path::Path, out: &mut std::collections::BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            functions_of(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for piece in text.split("fn ").skip(1) {
                let name: String = piece
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.insert(name);
            }
        }
    }
}

#[test]
fn every_test_the_rule_table_names_exists() {
    let root = gp_test::repo_root();
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let table = doc
        .split("## Where each rule lives")
        .nth(1)
        .and_then(|t| t.split("\n## ").next())
        .unwrap();
    let mut fns = std::collections::BTreeSet::new();
    functions_of(&root.join("crates"), &mut fns);
    let mut named = 0;
    for row in table.lines().filter(|l| l.starts_with("| ")) {
        if row.starts_with("| rule") || row.starts_with("|---") {
            continue;
        }
        let tests = row
            .split_once("Tests: ")
            .unwrap_or_else(|| panic!("a rule without its tests: {row}"))
            .1;
        for (i, piece) in tests.split('`').enumerate() {
            // Every other piece is inside backticks; the name is its last
            // path segment; a glob (`tests::*`) names a module.
            let name = piece.rsplit("::").next().unwrap_or_default();
            let is_test = i % 2 == 1
                && name.contains('_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if is_test {
                assert!(
                    fns.contains(name),
                    "ARCHITECTURE.md names a test that does not exist: {name}"
                );
                named += 1;
            }
        }
    }
    assert!(named > 100, "{named}");
}

#[test]
fn architecture_crate_map_matches_the_workspace() {
    let root = gp_test::repo_root();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let in_map: std::collections::BTreeSet<String> = map
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    let mut on_disk = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let name = manifest
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap()
            .to_string();
        let folder = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name, folder, "crate folders are named like their packages");
        on_disk.insert(name);
    }
    assert_eq!(
        in_map, on_disk,
        "ARCHITECTURE.md's crate map and crates/ differ"
    );
    // The "depends on" column is each crate's workspace dependencies.
    for line in map.lines().filter(|l| l.starts_with("| `")) {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cols[1].trim_matches('`');
        let said: std::collections::BTreeSet<String> = cols[cols.len() - 2]
            .split(',')
            .map(|d| d.split_whitespace().next().unwrap_or_default().to_string())
            .filter(|d| d.starts_with("gp-"))
            .collect();
        let manifest =
            std::fs::read_to_string(root.join("crates").join(name).join("Cargo.toml")).unwrap();
        let deps: std::collections::BTreeSet<String> = manifest
            .split("\n[")
            .find(|sec| sec.starts_with("dependencies]"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(['.', ' ', '=']).next())
            .filter(|d| d.starts_with("gp-"))
            .map(str::to_string)
            .collect();
        let expands =
            |said: &std::collections::BTreeSet<String>| -> std::collections::BTreeSet<String> {
                said.iter()
                    .flat_map(|d| {
                        if d == "gp-driver-*" {
                            on_disk
                                .iter()
                                .filter(|c| c.starts_with("gp-driver-"))
                                .cloned()
                                .collect::<Vec<_>>()
                        } else {
                            vec![d.clone()]
                        }
                    })
                    .collect()
            };
        assert_eq!(expands(&said), deps, "the map's dependencies of {name}");
    }
}

/// Every YAML example the documentation shows parses, and its keys are the
/// spec's: a block of components has only component fields, a block of
/// top-level settings only top-level keys. Each block of components or
/// settings is then validated by goldenpath itself, put into a minimal spec
/// (a missing plane or tier filled in, `needs` outside the block dropped,
/// Terraform roots created), so a wrong key or type in a driver's settings
/// fails here; only problems of the fragment's surroundings (a component
/// the block does not show) are allowed. Every YAML file under examples/
/// parses, and each example's goldenpath.yaml validates.
#[test]
fn every_yaml_example_in_readme_and_examples_is_valid() {
    const TOP: &[&str] = &[
        "apiVersion",
        "kind",
        "project",
        "prefix",
        "domain",
        "owner",
        "stateDir",
        "stateKeys",
        "policy",
        "reaper",
        "dns",
        "secrets",
        "environments",
        "components",
        "gitops",
        "requests",
        "docs",
        "drift",
        "iam",
    ];
    const COMPONENT: &[&str] = &[
        "name",
        "description",
        "plane",
        "tier",
        "protected",
        "modes",
        "driver",
        "needs",
        "hosts",
        "secrets",
        "settings",
    ];
    let readme = std::fs::read_to_string(gp_test::repo_root().join("README.md")).unwrap();
    let mut blocks = 0;
    let mut validated = 0;
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("a closed yaml block");
        let text = &body[..end];
        rest = &body[end + 3..];
        blocks += 1;
        let node = gp_core::yaml::parse(text)
            .unwrap_or_else(|e| panic!("README yaml block {blocks} does not parse: {e:?}\n{text}"))
            .expect("not empty");
        let check_component = |n: &gp_core::yaml::Node| {
            if let gp_core::yaml::NodeKind::Map(entries) = &n.kind {
                for (k, _) in entries {
                    let k = k.as_str().unwrap_or_default();
                    assert!(
                        COMPONENT.contains(&k),
                        "README block {blocks}: `{k}` is no component field\n{text}"
                    );
                }
            }
        };
        // What goes into the minimal spec: top-level settings, components.
        let mut top = serde_json::Map::new();
        let mut components: Vec<serde_json::Value> = Vec::new();
        match &node.kind {
            gp_core::yaml::NodeKind::Seq(items) => {
                items.iter().for_each(check_component);
                components = items.iter().map(|i| i.to_json()).collect();
            }
            gp_core::yaml::NodeKind::Map(entries) => {
                let keys: Vec<&str> = entries.iter().filter_map(|(k, _)| k.as_str()).collect();
                if keys.contains(&"name") && keys.contains(&"driver") {
                    check_component(&node);
                    components.push(node.to_json());
                } else if keys.iter().all(|k| TOP.contains(k)) {
                    if let Some(gp_core::yaml::NodeKind::Seq(items)) =
                        node.get("components").map(|c| &c.kind)
                    {
                        items.iter().for_each(check_component);
                    }
                    if let serde_json::Value::Object(m) = node.to_json() {
                        top = m;
                    }
                    if let Some(serde_json::Value::Array(c)) = top.remove("components") {
                        components = c;
                    }
                } else if node
                    .get("kind")
                    .and_then(|k| k.as_str())
                    .is_some_and(|k| k.ends_with("Request"))
                    || node
                        .get("id")
                        .and_then(|i| i.as_str())
                        .is_some_and(|i| gp_core::request::RequestId::parse(i).is_some())
                {
                    // A request of any kind: it must load as one, without
                    // a warning.
                    let r = gp_core::request::Request::from_source(
                        std::path::Path::new("README.md"),
                        text,
                    )
                    .unwrap_or_else(|e| panic!("README block {blocks}: {e}\n{text}"));
                    assert!(
                        r.warnings.is_empty(),
                        "README block {blocks}: {:?}",
                        r.warnings
                    );
                    continue;
                } else {
                    // A request file or a fragment of one layout.
                    assert!(
                        keys.contains(&"id")
                            || keys.contains(&"databases")
                            || keys.contains(&"server"),
                        "README block {blocks} is neither a spec, components nor a request: {keys:?}"
                    );
                    continue;
                }
            }
            _ => continue,
        }
        let dir = gp_test::tempdir();
        let names: Vec<String> = components
            .iter()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect();
        for c in components.iter_mut() {
            let c = c.as_object_mut().expect("a component is a mapping");
            c.entry("plane").or_insert("disposable".into());
            c.entry("tier").or_insert(1.into());
            if let Some(serde_json::Value::Array(needs)) = c.get_mut("needs") {
                needs.retain(|n| n.as_str().is_some_and(|n| names.iter().any(|x| x == n)));
            }
            if let Some(root) = c
                .get("settings")
                .and_then(|s| s.get("root"))
                .and_then(|r| r.as_str())
            {
                let root = dir.path().join(root);
                std::fs::create_dir_all(&root).unwrap();
                std::fs::write(
                    root.join("main.tf"),
                    "terraform {\n  backend \"local\" {}\n}\n",
                )
                .unwrap();
            }
        }
        let mut spec = serde_json::json!({
            "apiVersion": "goldenpath.dev/v1alpha1",
            "kind": "Platform",
            "project": "demo",
            "prefix": "demo",
            "domain": "example.io",
            "owner": "team",
            "environments": {"dev": {}},
        });
        for (k, v) in top {
            spec[k] = v;
        }
        spec["components"] = serde_json::Value::Array(components);
        std::fs::write(
            dir.path().join("goldenpath.yaml"),
            serde_json::to_string_pretty(&spec).unwrap(),
        )
        .unwrap();
        let out = gp_test::run(gp().current_dir(dir.path()).arg("validate"));
        if out.code != 0 {
            let problems: Vec<&str> = out
                .stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .filter(|l| !(l.contains("no component `") && l.contains("is declared")))
                .filter(|l| !l.contains("does not exist"))
                .collect();
            assert!(
                problems.is_empty(),
                "README block {blocks}, validated in a minimal spec:\n{}\n{}",
                serde_json::to_string_pretty(&spec).unwrap(),
                out.stderr
            );
        }
        validated += 1;
    }
    assert!(validated >= 7, "{validated} blocks validated");
    assert!(blocks >= 7, "{blocks} yaml blocks");
    let mut stack = vec![gp_test::repo_root().join("examples")];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                files += 1;
                let text = std::fs::read_to_string(&p).unwrap();
                gp_core::yaml::parse(&text).unwrap_or_else(|e| panic!("{}: {e:?}", p.display()));
                if p.file_name().is_some_and(|n| n == "goldenpath.yaml") {
                    gp_core::Platform::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                }
            }
        }
    }
    assert!(files >= 2);
}
