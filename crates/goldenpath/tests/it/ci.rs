//! goldenpath in CI: the workflows `ci github` generates pass the field's
//! linters (actionlint, zizmor) for both examples, `--check` finds an
//! edit, and a pull request's life — opened, a push, closed, then a sweep
//! after a close that was missed — is replayed through the generated
//! jobs' own steps, with the event files and variables GitHub sets: the
//! registry (read with SQLite), the build, the job summary, the step
//! outputs, the comment and every Deployments body (checked against
//! GitHub's published REST description) asserted at each step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn venv_bin(name: &str) -> PathBuf {
    let p = gp_test::moto::venv().join("bin").join(name);
    assert!(
        p.exists(),
        "{name} is not installed in the test venv (scripts/test.sh installs it)"
    );
    p
}

fn github_checker() -> PathBuf {
    let dir = gp_test::repo_root().join("tests/github");
    assert!(
        dir.join("node_modules/@octokit/openapi").exists(),
        "GitHub's REST description is not installed: npm ci --prefix tests/github (scripts/test.sh does it)"
    );
    dir.join("check.mjs")
}

/// `node tests/github/check.mjs ARGS`, which must pass.
fn check(args: &[&str]) {
    let out = Command::new("node")
        .arg(github_checker())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check.mjs {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The linters over a directory of workflows: no finding at all.
fn lint(dir: &Path) {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    assert!(!files.is_empty());
    let out = Command::new(venv_bin("actionlint"))
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "actionlint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(venv_bin("zizmor"))
        .args(["--offline", "--persona", "pedantic", "--no-progress"])
        .args(&files)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("No findings to report"),
        "zizmor:\n{text}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            if e.file_name() != ".goldenpath" {
                copy_dir(&e.path(), &target);
            }
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn the_workflows_of_both_examples_pass_actionlint_and_zizmor_and_check_finds_an_edit() {
    for example in ["golden-v1", "local"] {
        let d = gp_test::tempdir();
        copy_dir(&gp_test::example(example), d.path());
        let out = gp_test::run(crate::gp().current_dir(d.path()).args(["ci", "github"]));
        assert_eq!(out.code, 0, "{example}: {}", out.transcript());
        let workflows = d.path().join(".github/workflows");
        lint(&workflows);
        // Generated again: nothing differs.
        let again = gp_test::run(
            crate::gp()
                .current_dir(d.path())
                .args(["ci", "github", "--check"]),
        );
        assert_eq!(again.code, 0, "{example}: {}", again.transcript());
        // Edited by hand: --check fails, naming the file.
        let file = workflows.join("goldenpath-main.yaml");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            text.replace("cancel-in-progress: false", "cancel-in-progress: true"),
        )
        .unwrap();
        let edited = gp_test::run(
            crate::gp()
                .current_dir(d.path())
                .args(["ci", "github", "--check"]),
        );
        assert_eq!(edited.code, 1, "{example}: {}", edited.transcript());
        assert!(
            edited.stderr.contains("goldenpath-main.yaml"),
            "{}",
            edited.transcript()
        );
    }
    // This repository's own release workflow is the one `ci github
    // release` writes, and passes the linters too.
    let root = gp_test::repo_root();
    let out = gp_test::run(crate::gp().current_dir(&root).args([
        "ci",
        "github",
        "release",
        "--out",
        ".github/workflows",
        "--check",
    ]));
    assert_eq!(out.code, 0, "{}", out.transcript());
    let d = gp_test::tempdir();
    std::fs::copy(
        root.join(".github/workflows/release.yaml"),
        d.path().join("release.yaml"),
    )
    .unwrap();
    lint(d.path());
}

const SPEC: &str = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: shop
prefix: shop
domain: shop.example
owner: platform-team
environments:
  dev:
    persistent: { maxTier: 2 }
    ephemeral: { maxTier: 2, ttl: 24h }
components:
  - name: web
    plane: disposable
    tier: 1
    driver: exec
    hosts:
      - name: web
    settings:
      apply: [\"true\"]
";

/// A repository with the spec and its generated workflows, and what the
/// runners of its jobs share: the registry (a repository secret) and the
/// directory the replay keeps each job's files in.
struct Repo {
    dir: tempfile::TempDir,
    registry: PathBuf,
    key: String,
}

/// What one job left: its summary, its steps' outputs, the files it wrote
/// for `gh api`, and the steps it did not run because they call GitHub.
struct Job {
    summary: String,
    outputs: String,
    files: PathBuf,
    skipped: Vec<String>,
    _runner: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let dir = gp_test::tempdir();
        std::fs::write(dir.path().join("goldenpath.yaml"), SPEC).unwrap();
        let out = gp_test::run(crate::gp().current_dir(dir.path()).args(["ci", "github"]));
        assert_eq!(out.code, 0, "{}", out.transcript());
        let registry = dir.path().join("shared-registry.db");
        Repo {
            dir,
            registry,
            key: "k".repeat(48),
        }
    }

    fn workflow(&self, name: &str) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.dir.path().join(".github/workflows").join(name)).unwrap();
        gp_core::yaml::parse(&text).unwrap().unwrap().to_json()
    }

    /// Runs `job` of `workflow` as a runner would, on a fresh checkout:
    /// each step's `run` through bash with the step's `env` (expressions
    /// taken from `ctx`, an unknown one fails the test), skipping `uses`,
    /// the install steps (the binary under test is on PATH) and the steps
    /// that call GitHub's API (`gh`).
    fn run_job(
        &self,
        workflow: &str,
        job: &str,
        event: Option<&Path>,
        ctx: &BTreeMap<&str, String>,
    ) -> Job {
        let w = self.workflow(workflow);
        let runner = gp_test::tempdir();
        let checkout = runner.path().join("work");
        std::fs::create_dir_all(&checkout).unwrap();
        std::fs::copy(
            self.dir.path().join("goldenpath.yaml"),
            checkout.join("goldenpath.yaml"),
        )
        .unwrap();
        let temp = runner.path().join("temp");
        std::fs::create_dir_all(&temp).unwrap();
        let summary = runner.path().join("summary.md");
        let outputs = runner.path().join("outputs");
        let bin_dir = Path::new(crate::BIN).parent().unwrap();
        let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
        let expr = |v: &str| -> String {
            let mut out = String::new();
            let mut rest = v;
            while let Some(i) = rest.find("${{") {
                out.push_str(&rest[..i]);
                let j = rest[i..].find("}}").unwrap() + i;
                let e = rest[i + 3..j].trim();
                out.push_str(
                    ctx.get(e)
                        .unwrap_or_else(|| panic!("the replay does not know `{e}`")),
                );
                rest = &rest[j + 2..];
            }
            out.push_str(rest);
            out
        };
        let mut skipped = Vec::new();
        let workflow_env = w["env"].as_object().cloned().unwrap_or_default();
        for step in w["jobs"][job]["steps"].as_array().unwrap() {
            let name = step["name"].as_str().unwrap_or_default().to_string();
            let Some(run) = step["run"].as_str() else {
                continue; // `uses`: checkout, cache, credentials
            };
            let condition = step["if"].as_str().unwrap_or_default();
            if name.starts_with("Install goldenpath")
                || name == "Put goldenpath on the PATH"
                || run.contains("gh api")
                || condition.contains("steps.")
            {
                skipped.push(name);
                continue;
            }
            let mut cmd = gp_test::goldenpath("bash");
            cmd.args(["-e", "-o", "pipefail", "-c", run])
                .current_dir(&checkout)
                .env("PATH", &path)
                .env("RUNNER_TEMP", &temp)
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("GITHUB_OUTPUT", &outputs)
                .env("GITHUB_SERVER_URL", "https://github.com")
                .env("GITHUB_REPOSITORY", "acme/shop")
                .env("GITHUB_RUN_ID", "4711")
                .env("GITHUB_ACTOR", "ci-bot")
                .env("GITHUB_ACTIONS", "true");
            match event {
                Some(e) => {
                    cmd.env("GITHUB_EVENT_NAME", "pull_request")
                        .env("GITHUB_EVENT_PATH", e);
                }
                None => {
                    cmd.env("GITHUB_EVENT_NAME", "schedule");
                }
            }
            for (k, v) in workflow_env
                .iter()
                .chain(step["env"].as_object().into_iter().flatten())
            {
                cmd.env(k, expr(v.as_str().unwrap()));
            }
            let out = gp_test::run(&mut cmd);
            assert_eq!(
                out.code,
                0,
                "{workflow} {job}: step `{name}` failed:\n{}",
                out.transcript()
            );
        }
        Job {
            summary: std::fs::read_to_string(&summary).unwrap_or_default(),
            outputs: std::fs::read_to_string(&outputs).unwrap_or_default(),
            files: temp.join("goldenpath"),
            skipped,
            _runner: runner,
        }
    }

    fn ctx(&self, pr: u64) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("github.event.pull_request.number", pr.to_string()),
            ("github.token", "token-of-the-run".into()),
            ("github.repository", "acme/shop".into()),
            (
                "secrets.GOLDENPATH_REGISTRY",
                self.registry.display().to_string(),
            ),
            ("secrets.GOLDENPATH_REGISTRY_KEY", self.key.clone()),
            // The sweep's list of open pull requests (what `gh api`
            // answers): none.
            ("steps.open.outputs.numbers", String::new()),
        ])
    }

    /// `(build, event, pull request, head)` of every deploy_started row,
    /// read with SQLite itself.
    fn deploys(&self) -> Vec<(String, u64, String)> {
        let c = rusqlite::Connection::open(&self.registry).unwrap();
        let mut st = c
            .prepare("SELECT deployment, detail FROM deployment_events WHERE event = 'deploy_started' ORDER BY at_us")
            .unwrap();
        st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .map(|(d, detail)| {
                let v: serde_json::Value = serde_json::from_str(&detail).unwrap();
                (
                    d,
                    v["pullRequest"]["number"].as_u64().unwrap_or(0),
                    v["pullRequest"]["headSha"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect()
    }

    fn last_event(&self, build: &str) -> String {
        let c = rusqlite::Connection::open(&self.registry).unwrap();
        c.query_row(
            "SELECT event FROM deployment_events WHERE deployment = ?1 ORDER BY at_us DESC, id DESC LIMIT 1",
            [build],
            |r| r.get(0),
        )
        .unwrap()
    }
}

/// A pull request event GitHub would send (its own example, validated
/// against the webhook schema), written to the runner's event file.
fn event(dir: &Path, action: &str, pr: u64, sha: &str) -> PathBuf {
    let path = dir.join(format!("event-{pr}-{action}-{sha}.json"));
    check(&[
        "event",
        action,
        &pr.to_string(),
        sha,
        path.to_str().unwrap(),
    ]);
    path
}

fn output<'a>(outputs: &'a str, name: &str) -> Option<&'a str> {
    let start = outputs.find(&format!("{name}<<"))?;
    let rest = &outputs[start..];
    let delimiter = rest.lines().next()?.split("<<").nth(1)?;
    rest.lines().nth(1).filter(|v| *v != delimiter)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_pull_requests_life_runs_through_the_generated_jobs() {
    let repo = Repo::new();
    let events = gp_test::tempdir();
    let (a, b) = ("a".repeat(40), "b".repeat(40));
    let pr = "goldenpath-pull-request.yaml";
    // Opened: the checks plan the preview and leave the comment's body.
    let opened = event(events.path(), "opened", 12, &a);
    let checks = repo.run_job(pr, "checks", Some(&opened), &repo.ctx(12));
    assert_eq!(
        checks.skipped,
        [
            "Install goldenpath 0.1.0",
            "Put goldenpath on the PATH",
            "Comment on the pull request"
        ]
    );
    let comment = std::fs::read_to_string(checks.files.join("comment.md")).unwrap();
    assert!(
        comment.starts_with("<!-- goldenpath:pull-request -->\n### goldenpath plan"),
        "{comment}"
    );
    assert!(comment.contains("| web | 1 | create |"), "{comment}");
    assert!(
        checks.summary.contains("### goldenpath plan"),
        "{}",
        checks.summary
    );
    // The preview: deployed, bound to the pull request, the Deployments
    // bodies as GitHub takes them.
    let preview = repo.run_job(pr, "preview", Some(&opened), &repo.ctx(12));
    assert_eq!(
        preview.skipped,
        [
            "Install goldenpath 0.1.0",
            "Put goldenpath on the PATH",
            "Start the GitHub deployment",
            "Write the failure status",
            "Finish the GitHub deployment"
        ]
    );
    let build = output(&preview.outputs, "build-id").unwrap().to_string();
    assert_eq!(output(&preview.outputs, "outcome"), Some("succeeded"));
    let url = format!("https://web.b-{build}.dev.shop.example");
    assert_eq!(output(&preview.outputs, "url"), Some(url.as_str()));
    assert!(
        preview.summary.contains(&format!("<{url}>")),
        "{}",
        preview.summary
    );
    assert!(
        preview.summary.contains("| web | 1 | created |"),
        "{}",
        preview.summary
    );
    let deployment = preview.files.join("deployment.json");
    let status = preview.files.join("deployment-status.json");
    check(&["body", "deployment", deployment.to_str().unwrap()]);
    check(&["body", "status", status.to_str().unwrap()]);
    assert_eq!(json(&deployment)["ref"], a.as_str());
    assert_eq!(json(&deployment)["environment"], "preview-dev-pr-12");
    assert_eq!(json(&status)["state"], "success");
    assert_eq!(json(&status)["environment_url"], url.as_str());
    assert_eq!(
        json(&status)["log_url"],
        "https://github.com/acme/shop/actions/runs/4711"
    );
    assert_eq!(repo.deploys(), [(build.clone(), 12, a.clone())]);
    // A push: the same build, the new head recorded.
    let pushed = event(events.path(), "synchronize", 12, &b);
    let preview = repo.run_job(pr, "preview", Some(&pushed), &repo.ctx(12));
    assert_eq!(output(&preview.outputs, "build-id"), Some(build.as_str()));
    assert_eq!(
        repo.deploys(),
        [
            (build.clone(), 12, a.clone()),
            (build.clone(), 12, b.clone())
        ]
    );
    assert_eq!(
        json(&preview.files.join("deployment.json"))["ref"],
        b.as_str()
    );
    // Closed: torn down, and its deployment marked inactive.
    let closed = event(events.path(), "closed", 12, &b);
    let teardown = repo.run_job(pr, "teardown", Some(&closed), &repo.ctx(12));
    assert_eq!(repo.last_event(&build), "torn_down");
    assert_eq!(output(&teardown.outputs, "outcome"), Some("torn-down"));
    let status = teardown.files.join("deployment-status.json");
    check(&["body", "status", status.to_str().unwrap()]);
    assert_eq!(json(&status)["state"], "inactive");
    // Closed again (a re-run): nothing to tear down, no error.
    let again = repo.run_job(pr, "teardown", Some(&closed), &repo.ctx(12));
    assert_eq!(output(&again.outputs, "outcome"), Some("nothing"));
    // Another pull request whose close was missed: the scheduled sweep
    // tears its preview down.
    let other = event(events.path(), "opened", 13, &a);
    let preview = repo.run_job(pr, "preview", Some(&other), &repo.ctx(13));
    let leaked = output(&preview.outputs, "build-id").unwrap().to_string();
    assert_ne!(leaked, build);
    assert_eq!(repo.last_event(&leaked), "deploy_succeeded");
    let sweep = repo.run_job(
        "goldenpath-schedule.yaml",
        "sweep-previews",
        None,
        &repo.ctx(0),
    );
    assert_eq!(
        sweep.skipped,
        [
            "Install goldenpath 0.1.0",
            "Put goldenpath on the PATH",
            "List the open pull requests"
        ]
    );
    assert_eq!(repo.last_event(&leaked), "torn_down");
    // The scheduled drift check: nothing changed outside goldenpath, and
    // the summary says so per component.
    let drift = repo.run_job("goldenpath-schedule.yaml", "drift-dev", None, &repo.ctx(0));
    assert!(
        drift
            .summary
            .contains("### goldenpath drift: foundational in dev")
            && drift.summary.contains("0 drifted"),
        "{}",
        drift.summary
    );
}

#[test]
fn a_requests_problems_reach_the_pull_request_as_annotations_at_their_line() {
    let repo = Repo::new();
    let dir = repo.dir.path();
    std::fs::create_dir_all(dir.join("requests")).unwrap();
    std::fs::write(
        dir.join("requests/RDS-0001.yaml"),
        "id: RDS-0001\nenvironment: dev\ndatabaseName: Bad Name\nusername: orders_app\nowner: t\nrequester: a\ndomain: d\n",
    )
    .unwrap();
    let out = gp_test::run(
        crate::gp()
            .current_dir(dir)
            .args(["--output", "github", "request", "validate"]),
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
    let annotations: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 1, "{}", out.stdout);
    assert!(
        annotations[0].starts_with(
            "::error file=requests/RDS-0001.yaml,line=3,col=15,title=goldenpath::invalid databaseName `Bad Name`"
        ),
        "{}",
        out.stdout
    );
    assert!(
        !annotations[0].contains("%0A"),
        "one line: {}",
        annotations[0]
    );
    // Generating the workflows says what it did, in JSON too.
    let out = gp_test::run(
        crate::gp()
            .current_dir(dir)
            .args(["ci", "github", "--check", "--output", "json"]),
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    assert!(files.iter().all(|f| f["state"] == "unchanged"), "{v}");
}
