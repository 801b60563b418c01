//! The GitOps remote: two runners rendering builds at once into clones of
//! one bare repository both land (a rejected push is rebased and retried),
//! a teardown's removal reaches the remote, and `gitops bootstrap` prints
//! the root Application that references it. The remote is read with git
//! itself.

use std::process::Stdio;

use crate::deploy::Platform;

fn spec(remote: &str) -> String {
    format!(
        "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
gitops: {{ path: gitops, git: true, remote: {{ url: \"{remote}\", branch: main }} }}
environments:
  dev: {{ ephemeral: {{ maxTier: 2 }} }}
components:
  - name: web
    plane: disposable
    tier: 1
    driver: gitops
    settings: {{ namespace: web }}
  - name: api
    plane: disposable
    tier: 1
    driver: gitops
    settings: {{ namespace: api }}
"
    )
}

fn remote_files(bare: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(bare)
        .args(["ls-tree", "-r", "--name-only", "main"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn two_runners_push_to_one_remote_and_teardown_removes_from_it() {
    let dir = gp_test::tempdir();
    let bare = dir.path().join("gitops.git");
    let init = std::process::Command::new("git")
        .args(["init", "-q", "--bare", "-b", "main"])
        .arg(&bare)
        .status()
        .unwrap();
    assert!(init.success());
    let url = bare.display().to_string();
    let a = Platform::new(&spec(&url));
    let b = Platform::new(&spec(&url));
    // Both at once, several times (each run renders two components: four
    // pushes racing).
    for round in 1..=2 {
        let b1 = format!("23-01-26-0{}", round * 2 - 1);
        let b2 = format!("23-01-26-0{}", round * 2);
        let mut one = a.cmd(&["deploy", "--env", "dev", "--build-id", &b1]);
        let mut two = b.cmd(&["deploy", "--env", "dev", "--build-id", &b2]);
        let one = one
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let two = two
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let one = one.wait_with_output().unwrap();
        let two = two.wait_with_output().unwrap();
        assert!(
            one.status.success(),
            "{}",
            String::from_utf8_lossy(&one.stderr)
        );
        assert!(
            two.status.success(),
            "{}",
            String::from_utf8_lossy(&two.stderr)
        );
        let files = remote_files(&bare);
        for build in [&b1, &b2] {
            for c in ["web", "api"] {
                let f = format!("apps/dev/builds/{build}/{c}/application.yaml");
                assert!(files.contains(&f), "{f} reached the remote: {files:#?}");
            }
        }
    }
    // A teardown's removal reaches the remote; the other runner's builds stay.
    a.ok(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
    let files = remote_files(&bare);
    assert!(
        !files.iter().any(|f| f.contains("23-01-26-01")),
        "{files:#?}"
    );
    assert!(
        files.iter().any(|f| f.contains("23-01-26-02")),
        "{files:#?}"
    );
    // The root Application a cluster bootstraps from references the remote.
    let out = a.ok(&[
        "gitops",
        "bootstrap",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-03",
        "--output",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let app = &v["application"];
    assert_eq!(app["kind"], "Application");
    assert_eq!(app["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(app["spec"]["source"]["repoURL"], url);
    assert_eq!(app["spec"]["source"]["path"], "apps/dev/builds/23-01-26-03");
    let crd = std::fs::read_to_string(
        gp_test::repo_root()
            .join("crates/gp-driver-gitops/schemas/crds/argoproj.io_applications.yaml"),
    )
    .unwrap();
    let schema = gp_driver_gitops::schemas::crd_schema(&crd, "v1alpha1").unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(app).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let text = a
        .ok(&[
            "gitops",
            "bootstrap",
            "--env",
            "dev",
            "--build-id",
            "23-01-26-03",
        ])
        .stdout;
    assert!(
        text.starts_with("apiVersion: argoproj.io/v1alpha1"),
        "{text}"
    );
}
