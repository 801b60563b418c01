//! The gitops driver: what it writes, checked from disk against the real
//! schemas, snapshots of the golden-v1 tree, propagation and git behaviour.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gp_core::{Contract, Deployment, Mode, Plane, Platform};
use gp_driver::conformance::MemoryRecorder;
use gp_driver::{ComponentCtx, ComponentOutputs, Driver, ErrorKind, Intent};
use gp_driver_gitops::{GitopsDriver, gitops_dir, propagation};

/// golden-v1 copied into a temporary directory (so renders never touch the
/// repository), with `extra` appended to the spec.
fn golden(extra: &str) -> (tempfile::TempDir, Platform) {
    let dir = gp_test::tempdir();
    let mut spec = std::fs::read_to_string(gp_test::example("golden-v1/goldenpath.yaml")).unwrap();
    spec.push_str(extra);
    std::fs::write(dir.path().join("goldenpath.yaml"), spec).unwrap();
    let p = Platform::load(&dir.path().join("goldenpath.yaml")).unwrap();
    (dir, p)
}

fn rds_outputs() -> ComponentOutputs {
    let mut o = ComponentOutputs::default();
    for app in ["keycloak", "backstage"] {
        o.resources.insert(
            app.into(),
            BTreeMap::from([(
                "secret_path".to_string(),
                serde_json::json!(format!("goldenpath/dev/{app}/postgres")),
            )]),
        );
    }
    o
}

/// Renders every gitops component that runs in `deployment`.
fn render_all(dir: &Path, p: &Platform, deployment: Deployment) -> Vec<MemoryRecorder> {
    let contract = Contract::new(p, "dev", deployment).unwrap();
    let max = match deployment {
        Deployment::Ephemeral(_) => p.environment("dev").unwrap().ephemeral.max_tier.value,
        _ => p.environment("dev").unwrap().persistent.max_tier.value,
    };
    let inputs = BTreeMap::from([("rds".to_string(), rds_outputs())]);
    let mut recs = Vec::new();
    for c in &p.spec.components {
        if c.driver.value != "gitops"
            || c.plane.value != Plane::Disposable
            || c.tier.value > max
            || !c.runs_in(deployment.mode().unwrap_or(Mode::Persistent))
        {
            continue;
        }
        let settings = c.settings_node();
        let rec = MemoryRecorder::default();
        GitopsDriver
            .apply(&ComponentCtx {
                platform: p,
                contract: &contract,
                component: c,
                settings: &settings,
                inputs: &inputs,
                last: None,
                intent: Intent::Create,
                state_dir: &dir.join("state"),
                recorder: &rec,
            })
            .unwrap();
        recs.push(rec);
    }
    recs
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.file_name().unwrap().to_string_lossy().starts_with('.') {
                continue;
            }
            if p.is_dir() {
                walk(&p, out)
            } else {
                out.push(p)
            }
        }
    }
    walk(dir, &mut out);
    out.sort();
    out
}

fn tree(root: &Path, sub: &str) -> String {
    let mut out = String::new();
    for f in files_under(&root.join(sub)) {
        out.push_str(&format!(
            "=== {} ===\n",
            f.strip_prefix(root).unwrap().display()
        ));
        out.push_str(&std::fs::read_to_string(&f).unwrap());
    }
    out
}

fn schema_dir() -> PathBuf {
    gp_test::repo_root().join("crates/gp-driver-gitops/schemas")
}

fn crd(file: &str, version: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(schema_dir().join("crds").join(file)).unwrap();
    let schema = gp_driver_gitops::schemas::crd_schema(&text, version).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn read_json(f: &Path) -> serde_json::Value {
    gp_core::yaml::parse(&std::fs::read_to_string(f).unwrap())
        .unwrap()
        .unwrap()
        .to_json()
}

/// golden-v1 with External Secrets' chart at `chart_version`.
fn golden_with_eso(chart_version: &str) -> (tempfile::TempDir, Platform) {
    let (dir, _) = golden("");
    let spec = std::fs::read_to_string(dir.path().join("goldenpath.yaml"))
        .unwrap()
        .replace(
            "chart: external-secrets, targetRevision: 0.10.4",
            &format!("chart: external-secrets, targetRevision: {chart_version}"),
        );
    assert!(spec.contains(chart_version));
    std::fs::write(dir.path().join("goldenpath.yaml"), spec).unwrap();
    let p = Platform::load(&dir.path().join("goldenpath.yaml")).unwrap();
    (dir, p)
}

/// Renders golden-v1 (with `extra` and `chart_version` of External
/// Secrets) and checks every object against its CRD at the version it is
/// written in; returns the ExternalSecret API version seen.
fn validate_golden(chart_version: &str) -> String {
    let (dir, p) = golden_with_eso(chart_version);
    render_all(
        dir.path(),
        &p,
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    );
    render_all(dir.path(), &p, Deployment::Persistent);
    let apps = crd("argoproj.io_applications.yaml", "v1alpha1");
    let dns_schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(schema_dir().join("helm/external-dns.values.schema.json"))
            .unwrap(),
    )
    .unwrap();
    let dns = jsonschema::validator_for(&dns_schema).unwrap();
    let (mut n_apps, mut n_es, mut n_dns, mut n_store) = (0, 0, 0, 0);
    let mut es_version = String::new();
    for f in files_under(&gitops_dir(&p)) {
        let v = read_json(&f);
        let version = v["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let errors: Vec<String> = match v.get("kind").and_then(|k| k.as_str()) {
            Some("Application") => {
                n_apps += 1;
                assert_eq!(v["apiVersion"], "argoproj.io/v1alpha1");
                assert_eq!(
                    v["metadata"]["finalizers"][0],
                    "resources-finalizer.argocd.argoproj.io"
                );
                apps.iter_errors(&v).map(|e| e.to_string()).collect()
            }
            Some("ExternalSecret") => {
                n_es += 1;
                es_version = version.clone();
                crd("external-secrets.io_externalsecrets.yaml", &version)
                    .iter_errors(&v)
                    .map(|e| e.to_string())
                    .collect()
            }
            Some("ClusterSecretStore") => {
                n_store += 1;
                assert_eq!(v["spec"]["provider"]["aws"]["region"], "eu-west-2");
                assert_eq!(
                    v["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"],
                    "-1"
                );
                crd("external-secrets.io_clustersecretstores.yaml", &version)
                    .iter_errors(&v)
                    .map(|e| e.to_string())
                    .collect()
            }
            _ if f.ends_with("external-dns/values.yaml") => {
                n_dns += 1;
                assert_eq!(
                    v["domainFilters"],
                    serde_json::json!(["goldenpathidp.io"]),
                    "domainFilters is the zone apex"
                );
                assert_eq!(v["policy"], "sync");
                assert_eq!(v["registry"], "txt");
                dns.iter_errors(&v).map(|e| e.to_string()).collect()
            }
            _ => vec![],
        };
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
    }
    // Builds: root + argocd, external-dns, external-secrets, backstage;
    // persistent adds keycloak. One store per deployment (its cluster).
    assert_eq!(n_apps, 5 + 6);
    assert_eq!((n_es, n_dns, n_store), (3, 2, 2));
    es_version
}

#[test]
fn every_rendered_object_validates_against_the_crd_version_its_chart_serves() {
    // golden-v1 pins External Secrets 0.10.4 (v1beta1 only); the platform
    // 0.9.13; 0.16 serves v1, 0.17 drops v1beta1.
    assert_eq!(validate_golden("0.10.4"), "v1beta1");
    assert_eq!(validate_golden("0.9.13"), "v1beta1");
    assert_eq!(validate_golden("0.17.0"), "v1");
    assert_eq!(validate_golden("1.0.0"), "v1");
}

#[test]
fn system_namespaces_are_not_rendered_and_user_extra_args_and_domain_filters_are_kept() {
    let (dir, p) = golden("");
    let spec = std::fs::read_to_string(dir.path().join("goldenpath.yaml"))
        .unwrap()
        .replace(
            "      namespace: external-dns\n      externalDns: true\n",
            "      namespace: kube-system\n      externalDns: true\n      values: { extraArgs: [\"--aws-zone-type=public\"], domainFilters: [internal.goldenpathidp.net] }\n",
        );
    std::fs::write(dir.path().join("goldenpath.yaml"), &spec).unwrap();
    let p2 = Platform::load(&dir.path().join("goldenpath.yaml")).unwrap();
    let _ = p;
    render_all(
        dir.path(),
        &p2,
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    );
    let base = gitops_dir(&p2).join("apps/dev/builds/23-01-26-01/external-dns");
    assert!(
        !base.join("manifests/namespace.yaml").exists(),
        "kube-system is not ours"
    );
    let values = read_json(&base.join("values.yaml"));
    assert_eq!(
        values["extraArgs"],
        serde_json::json!([
            "--aws-zone-type=public",
            "--regex-domain-filter=^(.+\\.)?b-23-01-26-01\\.dev\\.goldenpathidp\\.io$|^goldenpathidp\\.io$"
        ]),
        "{values}"
    );
    assert_eq!(
        values["domainFilters"],
        serde_json::json!(["internal.goldenpathidp.net", "goldenpathidp.io"]),
        "the user's filters kept, the apex added: {values}"
    );
}

#[test]
fn golden_v1_dev_persistent_tree() {
    let (dir, p) = golden("");
    render_all(dir.path(), &p, Deployment::Persistent);
    let text = tree(&gitops_dir(&p), "apps/dev/persistent")
        .replace(&dir.path().display().to_string(), "[DIR]");
    insta::assert_snapshot!(text);
}

#[test]
fn golden_v1_dev_build_tree() {
    let (dir, p) = golden("");
    render_all(
        dir.path(),
        &p,
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    );
    let text = tree(&gitops_dir(&p), "apps/dev/builds/23-01-26-01")
        .replace(&dir.path().display().to_string(), "[DIR]");
    assert!(
        !text.contains("keycloak/application.yaml"),
        "keycloak never runs in a build"
    );
    insta::assert_snapshot!(text);
}

/// The build tree with External Secrets at `chart_version`.
fn build_tree_with_eso(chart_version: &str) -> String {
    let (dir, p) = golden_with_eso(chart_version);
    render_all(
        dir.path(),
        &p,
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    );
    tree(&gitops_dir(&p), "apps/dev/builds/23-01-26-01")
        .replace(&dir.path().display().to_string(), "[DIR]")
}

#[test]
fn golden_v1_dev_build_tree_with_the_platforms_eso_0_9_13() {
    let text = build_tree_with_eso("0.9.13");
    assert!(text.contains("apiVersion: external-secrets.io/v1beta1"));
    assert!(!text.contains("apiVersion: external-secrets.io/v1\n"));
    insta::assert_snapshot!(text);
}

#[test]
fn golden_v1_dev_build_tree_with_eso_0_17() {
    let text = build_tree_with_eso("0.17.0");
    assert!(text.contains("apiVersion: external-secrets.io/v1\n"));
    assert!(!text.contains("v1beta1"));
    insta::assert_snapshot!(text);
}

#[test]
fn propagation_reports_each_injected_fault_with_file_and_line() {
    let (dir, p) = golden("");
    let build = Deployment::Ephemeral("23-01-26-01".parse().unwrap());
    render_all(dir.path(), &p, build);
    let contract = Contract::new(&p, "dev", build).unwrap();
    let root = gitops_dir(&p);
    assert_eq!(
        gp_core::propagation::check(&p, &contract, &propagation::artifacts(&p, &contract)),
        vec![]
    );
    let b = root.join("apps/dev/builds/23-01-26-01");
    // A hard-coded host, a stale build id, and a missing build id.
    let values = b.join("backstage/values.yaml");
    let text = std::fs::read_to_string(&values).unwrap();
    std::fs::write(
        &values,
        format!("{text}app:\n  baseUrl: https://backstage.dev.goldenpathidp.io\n"),
    )
    .unwrap();
    let argocd = b.join("argocd/values.yaml");
    let text = std::fs::read_to_string(&argocd).unwrap();
    std::fs::write(
        &argocd,
        format!("{text}autoscaler:\n  clusterName: goldenpath-dev-eks-22-01-26-04\n"),
    )
    .unwrap();
    let boot = b.join("bootstrap-values.yaml");
    let text = std::fs::read_to_string(&boot)
        .unwrap()
        .replace("buildId: 23-01-26-01", "buildId: \"\"");
    std::fs::write(&boot, text).unwrap();
    let findings =
        gp_core::propagation::check(&p, &contract, &propagation::artifacts(&p, &contract));
    let found: Vec<(String, usize, String)> = findings
        .iter()
        .map(|f| {
            (
                f.file.strip_prefix(&b).unwrap().display().to_string(),
                f.line,
                f.value.clone(),
            )
        })
        .collect();
    let lines = |f: &str| std::fs::read_to_string(b.join(f)).unwrap().lines().count();
    assert!(
        found.contains(&(
            "backstage/values.yaml".into(),
            lines("backstage/values.yaml"),
            "backstage.dev.goldenpathidp.io".into()
        )),
        "{found:?}"
    );
    assert!(
        found.contains(&(
            "argocd/values.yaml".into(),
            lines("argocd/values.yaml"),
            "22-01-26-04".into()
        )),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(f, l, v)| f == "bootstrap-values.yaml" && *l == 4 && v.is_empty()),
        "{found:?}"
    );
    assert_eq!(findings.len(), 3, "{findings:#?}");
}

#[test]
fn a_key_the_database_secret_lacks_is_refused_at_render_time() {
    let (dir, p) = golden("");
    let text = std::fs::read_to_string(dir.path().join("goldenpath.yaml"))
        .unwrap()
        .replace(
            "POSTGRES_PASSWORD: password",
            "POSTGRES_PASSWORD: postgres-password",
        );
    std::fs::write(dir.path().join("goldenpath.yaml"), text).unwrap();
    let p2 = Platform::load(&dir.path().join("goldenpath.yaml")).unwrap();
    drop(p);
    let contract = Contract::new(&p2, "dev", Deployment::Persistent).unwrap();
    let c = p2.component("backstage").unwrap();
    let settings = c.settings_node();
    let inputs = BTreeMap::from([("rds".to_string(), rds_outputs())]);
    let rec = MemoryRecorder::default();
    let err = GitopsDriver
        .apply(&ComponentCtx {
            platform: &p2,
            contract: &contract,
            component: c,
            settings: &settings,
            inputs: &inputs,
            last: None,
            intent: Intent::Create,
            state_dir: &dir.path().join("state"),
            recorder: &rec,
        })
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Configuration);
    assert!(
        err.message
            .contains("POSTGRES_PASSWORD ← postgres-password"),
        "{err}"
    );
    assert!(
        err.message
            .contains("it has: username, password, host, port, dbname, engine"),
        "{err}"
    );
    assert!(
        !gitops_dir(&p2)
            .join("apps/dev/persistent/backstage")
            .exists(),
        "nothing half-written"
    );
}

#[test]
fn rendering_is_deterministic_and_a_second_render_makes_no_commit() {
    let (dir, p) = golden("gitops:\n  git: true\n");
    let build = Deployment::Ephemeral("23-01-26-01".parse().unwrap());
    render_all(dir.path(), &p, build);
    let root = gitops_dir(&p);
    let first = tree(&root, "apps");
    let commits = gp_driver_gitops::git::commit_count(&root);
    assert!(commits >= 1);
    let log = std::process::Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["log", "-1", "--format=%s"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&log.stdout).contains("in dev build 23-01-26-01"),
        "{}",
        String::from_utf8_lossy(&log.stdout)
    );
    let recs = render_all(dir.path(), &p, build);
    assert_eq!(tree(&root, "apps"), first, "byte-identical");
    assert_eq!(
        gp_driver_gitops::git::commit_count(&root),
        commits,
        "no new commit"
    );
    assert!(
        recs.iter().all(|r| r.actions.lock().unwrap().is_empty()),
        "nothing journalled"
    );
}

#[test]
fn a_git_lock_left_by_a_killed_commit_does_not_block_the_next_render() {
    let (dir, p) = golden("gitops:\n  git: true\n");
    render_all(dir.path(), &p, Deployment::Persistent);
    let root = gitops_dir(&p);
    let commits = gp_driver_gitops::git::commit_count(&root);
    // What `git commit` leaves when it is killed mid-way: the index's
    // lock, HEAD's, the branch's.
    let head = std::fs::read_to_string(root.join(".git/HEAD")).unwrap();
    let branch = head.trim().strip_prefix("ref: ").unwrap().to_string();
    let locks = [
        root.join(".git/index.lock"),
        root.join(".git/HEAD.lock"),
        root.join(".git").join(format!("{branch}.lock")),
    ];
    for l in &locks {
        std::fs::write(l, "").unwrap();
    }
    render_all(
        dir.path(),
        &p,
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    );
    assert!(gp_driver_gitops::git::commit_count(&root) > commits);
    for l in &locks {
        assert!(!l.exists(), "{} is left", l.display());
    }
}

#[test]
fn teardown_removes_exactly_the_builds_folder() {
    let (dir, p) = golden("gitops:\n  git: true\n");
    let build = Deployment::Ephemeral("23-01-26-01".parse().unwrap());
    render_all(dir.path(), &p, Deployment::Persistent);
    let recs = render_all(dir.path(), &p, build);
    let root = gitops_dir(&p);
    let persistent_before = tree(&root, "apps/dev/persistent");
    let contract = Contract::new(&p, "dev", build).unwrap();
    let inputs = BTreeMap::new();
    let rec = MemoryRecorder::default();
    let state = dir.path().join("state");
    // Each resource is handed to the driver under its own component, as
    // the engine does.
    let with_ctx = |r: &gp_driver::ResourceRef, f: &mut dyn FnMut(&ComponentCtx<'_>)| {
        let name = match r.kind.as_str() {
            "gitops-app" => r.id.rsplit('/').next().unwrap(),
            _ => "argocd",
        };
        let c = p.component(name).unwrap();
        let settings = c.settings_node();
        let ctx = ComponentCtx {
            platform: &p,
            contract: &contract,
            component: c,
            settings: &settings,
            inputs: &inputs,
            last: None,
            intent: Intent::Update,
            state_dir: &state,
            recorder: &rec,
        };
        f(&ctx);
    };
    let created: Vec<_> = recs.iter().flat_map(|r| r.created()).collect();
    // A forged row naming another deployment's folder, or a path out of
    // the repository, is refused and removes nothing.
    for forged in [
        "apps/dev/persistent",
        "apps/dev/builds/23-01-26-01/../../persistent",
        "/",
    ] {
        let r = gp_driver::ResourceRef::new("gitops-root", forged);
        with_ctx(&r, &mut |ctx| {
            let e = GitopsDriver.destroy(ctx, &r).unwrap_err();
            assert_eq!(e.kind, gp_driver::ErrorKind::Refused, "{e}");
        });
    }
    assert_eq!(tree(&root, "apps/dev/persistent"), persistent_before);
    for r in created.iter().rev() {
        with_ctx(r, &mut |ctx| GitopsDriver.destroy(ctx, r).unwrap());
    }
    // Removing what is already gone is success (a teardown resumed after
    // a crash between the removal and its journal entry).
    for r in created.iter().rev() {
        with_ctx(r, &mut |ctx| GitopsDriver.destroy(ctx, r).unwrap());
    }
    assert!(!root.join("apps/dev/builds/23-01-26-01").exists());
    assert_eq!(tree(&root, "apps/dev/persistent"), persistent_before);
    for r in &created {
        with_ctx(r, &mut |ctx| {
            assert_eq!(
                GitopsDriver.exists(ctx, r).unwrap(),
                gp_driver::Existence::Gone
            )
        });
    }
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["status", "--porcelain"])
        .output()
        .unwrap();
    assert!(
        status.stdout.is_empty(),
        "the removal is committed: {}",
        String::from_utf8_lossy(&status.stdout)
    );
}

/// golden-v1 with the platform's Backstage wiring: one Secret
/// `backstage-secrets` filled from the database secret and from
/// `goldenpath/dev/backstage/secrets`.
fn platform_wiring(extra_key: &str) -> String {
    let spec = std::fs::read_to_string(gp_test::example("golden-v1/goldenpath.yaml")).unwrap();
    spec.replace(
        "    needs: [cluster, argocd, external-secrets, rds/backstage, dns-zone]",
        "    needs: [cluster, argocd, external-secrets, rds/backstage, dns-zone, app-secrets]",
    )
    .replace(
        "      - from: rds/backstage\n        name: backstage-postgres\n        keys: { POSTGRES_HOST: host, POSTGRES_PORT: port, POSTGRES_USER: username, POSTGRES_PASSWORD: password, POSTGRES_DB: dbname }\n",
        &format!("      - from: rds/backstage\n        name: backstage-secrets\n        keys: {{ POSTGRES_USER: username, POSTGRES_PASSWORD: password }}\n      - from: app-secrets/backstage/secrets\n        name: backstage-secrets\n        refreshInterval: 15m\n        keys: {{ GITHUB_TOKEN: token{extra_key} }}\n"),
    ) + "
  - name: app-secrets
    plane: disposable
    tier: 1
    driver: secrets
    settings:
      secrets:
        - name: backstage/secrets
          supplied: [token]
"
}

#[test]
fn two_sources_fill_one_secret_and_a_key_filled_twice_is_refused_at_its_line() {
    let dir = gp_test::tempdir();
    let path = dir.path().join("goldenpath.yaml");
    std::fs::write(&path, platform_wiring("")).unwrap();
    let p = Platform::load(&path).unwrap();
    render_all(dir.path(), &p, Deployment::Persistent);
    let es = read_json(
        &gitops_dir(&p)
            .join("apps/dev/persistent/backstage/manifests/externalsecret-backstage-secrets.yaml"),
    );
    let data: Vec<(String, String, String)> = es["spec"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["secretKey"].as_str().unwrap().to_string(),
                d["remoteRef"]["key"].as_str().unwrap().to_string(),
                d["remoteRef"]["property"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        data,
        [
            (
                "POSTGRES_USER".to_string(),
                "goldenpath/dev/backstage/postgres".to_string(),
                "username".to_string()
            ),
            (
                "POSTGRES_PASSWORD".into(),
                "goldenpath/dev/backstage/postgres".into(),
                "password".into()
            ),
            (
                "GITHUB_TOKEN".into(),
                "goldenpath/dev/backstage/secrets".into(),
                "token".into()
            ),
        ]
    );
    assert_eq!(es["spec"]["refreshInterval"], "15m");
    crd("external-secrets.io_externalsecrets.yaml", "v1beta1");
    // The same key from both: refused when the spec is read, at the second.
    std::fs::write(&path, platform_wiring(", POSTGRES_USER: token")).unwrap();
    let err = Platform::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("key `POSTGRES_USER` of Secret `backstage-secrets` is already filled at line"),
        "{err}"
    );
}

#[test]
fn git_path_charts_and_per_environment_versions_and_values() {
    let dir = gp_test::tempdir();
    let spec = std::fs::read_to_string(gp_test::example("golden-v1/goldenpath.yaml"))
        .unwrap()
        .replace(
            "      chart: { repoURL: https://charts.bitnami.com/bitnami, chart: keycloak, targetRevision: 24.0.0 }\n",
            "      chart: { repoURL: https://charts.bitnami.com/bitnami, chart: keycloak, targetRevision: 24.0.0 }\n      valuesFiles: [values/common.yaml]\n      values: { replicaCount: 2 }\n      environments:\n        dev: { targetRevision: 23.0.0, valuesFiles: [values/dev.yaml], values: { replicaCount: 1 } }\n",
        )
        .replace(
            "      chart: { repoURL: https://backstage.github.io/charts, chart: backstage, targetRevision: 2.3.0 }\n",
            "      chart: { repoURL: https://github.com/acme/platform, path: gitops/helm/backstage/chart, targetRevision: main }\n",
        );
    std::fs::write(dir.path().join("goldenpath.yaml"), spec).unwrap();
    std::fs::create_dir_all(dir.path().join("values")).unwrap();
    std::fs::write(
        dir.path().join("values/common.yaml"),
        "replicaCount: 3\nauth: { adminUser: admin }\nglobal: { env: hard-coded }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("values/dev.yaml"),
        "resources: { requests: { cpu: 100m } }\n",
    )
    .unwrap();
    let p = Platform::load(&dir.path().join("goldenpath.yaml")).unwrap();
    render_all(dir.path(), &p, Deployment::Persistent);
    let base = gitops_dir(&p).join("apps/dev/persistent");
    let kc = read_json(&base.join("keycloak/application.yaml"));
    assert_eq!(
        kc["spec"]["sources"][0]["targetRevision"], "23.0.0",
        "dev's chart version"
    );
    assert_eq!(kc["spec"]["sources"][0]["chart"], "keycloak");
    let values = read_json(&base.join("keycloak/values.yaml"));
    assert_eq!(
        values["replicaCount"], 1,
        "files, values, the env's files, the env's values: {values}"
    );
    assert_eq!(values["auth"]["adminUser"], "admin");
    assert_eq!(values["resources"]["requests"]["cpu"], "100m");
    assert_eq!(values["global"]["env"], "dev", "the contract's global wins");
    let bs = read_json(&base.join("backstage/application.yaml"));
    assert_eq!(
        bs["spec"]["sources"][0]["path"],
        "gitops/helm/backstage/chart"
    );
    assert!(bs["spec"]["sources"][0].get("chart").is_none());
    let apps = crd("argoproj.io_applications.yaml", "v1alpha1");
    for app in [&kc, &bs] {
        let errors: Vec<String> = apps.iter_errors(app).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
}

#[test]
fn a_whole_secret_extracted_through_a_template_validates() {
    let dir = gp_test::tempdir();
    let path = dir.path().join("goldenpath.yaml");
    let spec = platform_wiring("").replace(
        "      - from: rds/keycloak\n",
        "      - from: app-secrets/keycloak/admin\n        name: keycloak-admin-secret\n        extract: true\n        template: { type: Opaque, data: { admin-password: \"{{ .password }}\" } }\n      - from: rds/keycloak\n",
    )
    .replace(
        "    needs: [cluster, argocd, external-secrets, rds/keycloak, dns-zone]",
        "    needs: [cluster, argocd, external-secrets, rds/keycloak, dns-zone, app-secrets]",
    )
    .replace(
        "        - name: backstage/secrets\n          supplied: [token]\n",
        "        - name: backstage/secrets\n          supplied: [token]\n        - name: keycloak/admin\n          generate: [password]\n",
    );
    std::fs::write(&path, &spec).unwrap();
    let p = Platform::load(&path).unwrap();
    render_all(dir.path(), &p, Deployment::Persistent);
    let es =
        read_json(&gitops_dir(&p).join(
            "apps/dev/persistent/keycloak/manifests/externalsecret-keycloak-admin-secret.yaml",
        ));
    assert_eq!(
        es["spec"]["dataFrom"][0]["extract"]["key"],
        "goldenpath/dev/keycloak/admin"
    );
    assert_eq!(
        es["spec"]["target"]["template"]["data"]["admin-password"],
        "{{ .password }}"
    );
    assert!(es["spec"].get("data").is_none());
    let errors: Vec<String> = crd("external-secrets.io_externalsecrets.yaml", "v1beta1")
        .iter_errors(&es)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // `extract` with `keys` is refused when the spec is read.
    std::fs::write(
        &path,
        spec.replace(
            "        extract: true\n",
            "        extract: true\n        keys: { A: password }\n",
        ),
    )
    .unwrap();
    let err = Platform::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("`extract: true` takes the whole secret"),
        "{err}"
    );
}

/// Every finding of the built-in policy set over the rendered tree.
fn builtin_findings(p: &Platform, deployment: Deployment) -> Vec<gp_policy::Finding> {
    let repo = gitops_dir(p);
    let contract = Contract::new(p, "dev", deployment).unwrap();
    let folder = repo.join(gp_driver_gitops::render::deployment_dir(&contract));
    let docs = gp_policy::docs_under(&folder, &repo).unwrap();
    assert!(docs.len() > 10, "{} objects", docs.len());
    gp_policy::Runner::InProcess
        .check(
            &gp_policy::PolicySet::builtin(),
            &gp_policy::Context::of(p, &contract),
            docs,
        )
        .unwrap()
}

#[test]
fn golden_v1_as_rendered_passes_every_builtin_policy() {
    let (dir, p) = golden("");
    for d in [
        Deployment::Persistent,
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    ] {
        render_all(dir.path(), &p, d);
        assert_eq!(builtin_findings(&p, d), vec![], "{d:?}");
    }
}

#[test]
fn golden_v1_with_each_builtin_manifest_rule_violated_once_reports_rule_component_file_line() {
    let (dir, _) = golden("");
    let path = dir.path().join("goldenpath.yaml");
    let spec = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "      chart: { repoURL: https://backstage.github.io/charts, chart: backstage, targetRevision: 2.3.0 }\n",
            "      chart: { repoURL: https://backstage.github.io/charts, chart: backstage, targetRevision: 2.3.0 }\n      values:\n        image: { repository: backstage, tag: latest }\n        ingress: { hosts: [ { host: portal.other.example } ] }\n",
        )
        .replace(
            "      chart: { repoURL: https://charts.bitnami.com/bitnami, chart: keycloak, targetRevision: 24.0.0 }\n",
            "      chart: { repoURL: https://charts.bitnami.com/bitnami, chart: keycloak, targetRevision: 24.0.0 }\n      values: { containerSecurityContext: { privileged: true } }\n",
        )
        .replace(
            "      namespace: external-dns\n      externalDns: true\n",
            "      namespace: external-dns\n      externalDns: true\n      values: { hostNetwork: true }\n",
        );
    std::fs::write(&path, spec).unwrap();
    let p = Platform::load(&path).unwrap();
    render_all(dir.path(), &p, Deployment::Persistent);
    // What a chart's rendered output adds beside goldenpath's files.
    let extra = "apps/dev/persistent/backstage/manifests/extra.yaml";
    std::fs::write(
        gitops_dir(&p).join(extra),
        "# rendered by the chart\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: worker }\nspec:\n  template:\n    spec:\n      volumes: [ { name: host, hostPath: { path: /var/run } } ]\n      containers:\n        - name: worker\n          image: ghcr.io/acme/worker:1.4.2\n          resources: { requests: { cpu: 100m } }\n---\napiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: { name: extra, namespace: backstage }\nspec:\n  secretStoreRef: { name: vault-backend, kind: ClusterSecretStore }\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: { name: extra, namespace: argocd }\nspec:\n  project: default\n  destination: { server: https://kubernetes.default.svc, namespace: kube-system }\n",
    )
    .unwrap();
    let findings = builtin_findings(&p, Deployment::Persistent);
    let values = |c: &str| format!("apps/dev/persistent/{c}/values.yaml");
    let want = [
        ("image-pinned", "backstage", values("backstage"), 1),
        (
            "ingress-host-in-suffix",
            "backstage",
            values("backstage"),
            1,
        ),
        ("no-privileged", "keycloak", values("keycloak"), 1),
        (
            "no-host-namespaces",
            "external-dns",
            values("external-dns"),
            1,
        ),
        ("resources-set", "backstage", extra.to_string(), 3),
        ("no-host-path", "backstage", extra.to_string(), 3),
        ("external-secret-store", "backstage", extra.to_string(), 15),
        (
            "application-destination",
            "backstage",
            extra.to_string(),
            21,
        ),
    ];
    for (rule, component, file, line) in &want {
        let hits: Vec<&gp_policy::Finding> = findings.iter().filter(|f| f.rule == *rule).collect();
        assert_eq!(hits.len(), 1, "{rule} once: {findings:#?}");
        let f = hits[0];
        assert_eq!(
            (f.component.as_str(), f.file.as_str(), f.line),
            (*component, file.as_str(), *line),
            "{f:#?}"
        );
        assert_eq!(f.severity, gp_policy::Severity::Deny);
    }
    assert_eq!(findings.len(), want.len(), "{findings:#?}");
    // Every built-in manifest rule is among them.
    let manifest_rules: Vec<String> = gp_policy::PolicySet::builtin()
        .rules
        .iter()
        .filter(|r| r.subject == Some(gp_policy::Subject::Manifests))
        .map(|r| r.id.clone())
        .collect();
    for r in &manifest_rules {
        assert!(want.iter().any(|w| w.0 == r), "{r} is tested");
    }
}
