//! The V1 story end to end on the local example (issue: end to end), with
//! every fact checked in the real systems — PostgreSQL's catalogs, the
//! zone file served by BIND, the secrets store, Terraform's state, the
//! GitOps repository — not only in goldenpath's own output.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::deploy::Platform;
use crate::requests::Servers;

const ZONE: &str = "goldenpath.test";

/// Each component's plan action against what the deploy did with it.
pub(crate) fn plan_is_what_deploy_did(plan: &serde_json::Value, outcome: &serde_json::Value) {
    for item in plan["items"].as_array().unwrap() {
        let c = &item["component"];
        let done = outcome["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| &d["component"] == c)
            .unwrap_or_else(|| panic!("{c} planned, not in the outcome: {outcome}"));
        let did = match done["result"].as_str().unwrap() {
            "applied" => done["action"].as_str().unwrap().to_string(),
            "skipped" => "skip".into(),
            other => other.to_string(),
        };
        assert_eq!(
            item["action"].as_str().unwrap(),
            did,
            "{c}: plan said {} ({}), deploy did {done}",
            item["action"],
            item["details"]
        );
    }
}

pub(crate) struct Local {
    pub(crate) p: Platform,
}

impl Local {
    pub(crate) fn new() -> Local {
        let dir = gp_test::tempdir();
        let out = gp_test::run(
            crate::gp()
                .args(["init", "--example", "local"])
                .arg(dir.path()),
        );
        assert_eq!(out.code, 0, "{}", out.transcript());
        // The managed server runs as another user when tests run as root.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Local {
            p: Platform {
                dir,
                env: Vec::new(),
            },
        }
    }
    pub(crate) fn root(&self) -> &Path {
        self.p.path()
    }
    pub(crate) fn state(&self) -> PathBuf {
        self.root().join(".goldenpath")
    }
    /// Deploys and returns the JSON outcome — after `plan` of the same
    /// deployment, whose every component's action must be what the deploy
    /// then does (plan and deploy decide with the same code).
    pub(crate) fn deploy(&self, args: &[&str]) -> serde_json::Value {
        // The deployment's own flags; what only a deploy takes stays out.
        let mut plan = vec!["plan", "--env", "dev", "--output", "json"];
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match *a {
                "--ttl" | "--parallel" | "--reuse-retired" | "--reason" => {
                    it.next();
                }
                "--resume" | "--require-all" => {}
                other => plan.push(other),
            }
        }
        let planned = self.p.run(&plan);
        assert_eq!(planned.code, 0, "{plan:?}\n{}", planned.transcript());
        let planned: serde_json::Value = serde_json::from_str(&planned.stdout).unwrap();
        let mut full = vec!["deploy", "--env", "dev", "--output", "json"];
        full.extend_from_slice(args);
        let out = self.p.run(&full);
        assert_eq!(out.code, 0, "{full:?}\n{}", out.transcript());
        let last: serde_json::Value =
            serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
        let outcome = last["outcome"].clone();
        plan_is_what_deploy_did(&planned, &outcome);
        outcome
    }
    fn result<'a>(outcome: &'a serde_json::Value, component: &str) -> &'a serde_json::Value {
        outcome["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["component"] == component)
            .unwrap()
    }

    // ---- the real systems ----

    /// Paths in the local secrets store (its file names paths in clear;
    /// values are ciphertext).
    pub(crate) fn secret_paths(&self) -> BTreeSet<String> {
        let file = self.state().join("secrets/store.json");
        let Ok(text) = std::fs::read_to_string(file) else {
            return BTreeSet::new();
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["secrets"]
            .as_object()
            .or_else(|| v.as_object())
            .unwrap()
            .keys()
            .filter(|k| k.contains('/'))
            .cloned()
            .collect()
    }
    pub(crate) fn secret(&self, path: &str) -> serde_json::Value {
        let out = self
            .p
            .ok(&["secret", "get", path, "--reveal", "--output", "json"]);
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()["value"].clone()
    }
    /// An admin connection to the managed instance.
    pub(crate) fn admin(&self) -> postgres::Client {
        let data = self.state().join("postgres/dev-rds/data");
        let port = gp_driver_postgres::server::LocalServer::new(&data)
            .unwrap()
            .running_port()
            .expect("the managed instance runs");
        let admin = self.secret("goldenpath/dev/rds/admin");
        let password = admin["password"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| admin.as_str().unwrap().to_string());
        postgres::Client::connect(
            &format!(
                "host=127.0.0.1 port={port} user=goldenpath_admin password='{password}' dbname=postgres"
            ),
            postgres::NoTls,
        )
        .unwrap()
    }
    pub(crate) fn databases(&self) -> BTreeSet<String> {
        self.admin()
            .query(
                "SELECT datname FROM pg_database WHERE NOT datistemplate",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
    fn roles(&self) -> BTreeSet<String> {
        self.admin()
            .query("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_'", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
    fn zone_file(&self) -> PathBuf {
        self.state().join(format!("dns/{ZONE}.zone"))
    }
    pub(crate) fn zone(&self) -> String {
        std::fs::read_to_string(self.zone_file()).unwrap_or_default()
    }
    /// Resource instances in a build's Terraform state, per workspace;
    /// `None` when the build has no state folder. A state file that cannot
    /// be read or parsed fails the test (Terraform rewrites the file in
    /// place: a read mid-write is retried, never skipped).
    pub(crate) fn tf_resources(&self, build: &str) -> Option<Vec<(String, usize)>> {
        let dir = self.state().join(format!(
            "tfstate/envs/dev/builds/{build}/terraform.tfstate.d"
        ));
        let entries = std::fs::read_dir(&dir).ok()?;
        let mut out = Vec::new();
        for e in entries.flatten() {
            let f = e.path().join("terraform.tfstate");
            let mut tries = 0;
            let v = loop {
                let read = std::fs::read_to_string(&f)
                    .map_err(|e| e.to_string())
                    .and_then(|t| {
                        serde_json::from_str::<serde_json::Value>(&t).map_err(|e| e.to_string())
                    });
                match read {
                    Ok(v) => break v,
                    Err(e) if tries < 50 => {
                        tries += 1;
                        let _ = e;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => panic!("{}: unreadable state: {e}", f.display()),
                }
            };
            out.push((
                e.file_name().to_string_lossy().into_owned(),
                v["resources"].as_array().map_or(0, |r| {
                    r.iter()
                        .map(|x| x["instances"].as_array().map_or(0, |i| i.len()))
                        .sum()
                }),
            ));
        }
        out.sort();
        Some(out)
    }
    /// What git's HEAD of the GitOps repository holds under `build`'s folder.
    fn git_tracked(&self, build: &str) -> Vec<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(self.root().join("gitops"))
            .args(["ls-tree", "-r", "--name-only", "HEAD"])
            .output()
            .unwrap();
        assert!(out.status.success(), "git ls-tree failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains(&format!("builds/{build}/")))
            .map(str::to_string)
            .collect()
    }
    fn git_clean(&self) -> bool {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(self.root().join("gitops"))
            .args(["status", "--porcelain"])
            .output()
            .unwrap();
        out.status.success() && out.stdout.is_empty()
    }
    /// The build's bootstrap values, as YAML text.
    fn bootstrap(&self, build: &str) -> String {
        std::fs::read_to_string(self.gitops_build(build).join("bootstrap-values.yaml")).unwrap()
    }
    /// A build's scratch database (the local example's `build-db`).
    fn scratch_db(build: &str) -> String {
        format!("scratch_b{}", build.replace('-', ""))
    }
    fn scratch_secret(build: &str) -> String {
        format!("goldenpath/dev/builds/{build}/scratch/postgres")
    }
    pub(crate) fn gitops_build(&self, build: &str) -> PathBuf {
        self.root().join(format!("gitops/apps/dev/builds/{build}"))
    }
    fn files_under(dir: &Path) -> BTreeSet<String> {
        fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.insert(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(dir, dir, &mut out);
        out
    }
    fn git_commits(&self) -> usize {
        let out = std::process::Command::new("git")
            .args(["-C"])
            .arg(self.root().join("gitops"))
            .args(["rev-list", "--count", "HEAD"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    }

    /// Whether `build`'s lease is held right now.
    pub(crate) fn lease_held(&self, build: &str) -> bool {
        let out = self.p.run(&["lease", "list", "--output", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        v["leases"].as_array().is_some_and(|ls| {
            ls.iter()
                .any(|x| x["deployment"] == build && x["state"] == "held")
        })
    }

    /// Everything a live build holds, for comparing end states.
    fn build_footprint(&self, build: &str) -> (BTreeSet<String>, Vec<(String, usize)>, usize) {
        let records = self
            .zone()
            .lines()
            .filter(|l| l.contains(&format!("b-{build}.")))
            .count();
        let tf = self
            .tf_resources(build)
            .unwrap_or_else(|| panic!("no Terraform state of live build {build}"));
        assert!(!tf.is_empty(), "no workspace in the state of {build}");
        (Self::files_under(&self.gitops_build(build)), tf, records)
    }

    pub(crate) fn assert_build_gone(&self, build: &str) {
        self.assert_build_gone_but_its_databases(build);
        let compact = build.replace('-', "");
        assert!(
            !self.databases().iter().any(|d| d.contains(&compact)),
            "{:?}",
            self.databases()
        );
        assert!(
            !self.roles().iter().any(|r| r.contains(&compact)),
            "{:?}",
            self.roles()
        );
    }

    /// [`Self::assert_build_gone`] but for the databases (for when the
    /// instance itself is gone).
    pub(crate) fn assert_build_gone_but_its_databases(&self, build: &str) {
        assert!(
            !self.zone().contains(&format!("b-{build}.")),
            "records of {build} left in the zone:\n{}",
            self.zone()
        );
        // The state folder is gone, or holds only empty workspaces.
        let tf = self.tf_resources(build);
        assert!(
            tf.as_ref().is_none_or(|w| w.iter().all(|(_, n)| *n == 0)),
            "terraform state of {build}: {tf:?}"
        );
        assert!(
            !self.gitops_build(build).exists(),
            "gitops folder of {build}"
        );
        // ... and its removal is committed, not only done on disk.
        assert_eq!(self.git_tracked(build), Vec::<String>::new());
        assert!(
            self.git_clean(),
            "uncommitted changes in the GitOps repository"
        );
        assert!(
            !self.secret_paths().iter().any(|p| p.contains(build)),
            "secrets of {build}: {:?}",
            self.secret_paths()
        );
    }
}

/// Polls `ready` until it holds, failing after a minute.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn build_id(outcome: &serde_json::Value) -> String {
    outcome["buildId"].as_str().unwrap().to_string()
}

#[test]
fn the_v1_story_on_one_machine() {
    let l = Local::new();
    let _servers = Servers(l.root().to_path_buf());

    // 1. A build before the foundational plane exists.
    let first = l.deploy(&["--build-id", "auto"]);
    let b = build_id(&first);
    for c in [
        "cluster",
        "irsa",
        "argocd",
        "external-dns",
        "external-secrets",
    ] {
        assert_eq!(
            Local::result(&first, c)["result"],
            "applied",
            "{c}: {first}"
        );
    }
    let backstage = Local::result(&first, "backstage");
    assert_eq!(backstage["result"], "pending");
    assert_eq!(
        backstage["reason"],
        "needs rds/backstage, a foundational database not deployed in dev"
    );
    // One command for everything the build misses of the foundational
    // plane, in dependency order.
    assert_eq!(
        backstage["next"],
        "goldenpath deploy --env dev --foundational rds dns-zone"
    );
    assert_eq!(first["outcome"], "partial", "{first}");
    assert_eq!(Local::result(&first, "keycloak")["result"], "skipped");
    // Nothing about the database was created by the build.
    assert!(!l.state().join("postgres").exists());
    assert!(l.secret_paths().is_empty(), "{:?}", l.secret_paths());
    assert_eq!(Local::result(&first, "build-db")["result"], "pending");
    assert_eq!(
        l.tf_resources(&b).unwrap(),
        [("cluster".to_string(), 1), ("irsa".to_string(), 2)]
    );
    assert!(l.gitops_build(&b).join("argocd").is_dir());
    assert!(!l.gitops_build(&b).join("backstage").exists());
    // The bootstrap values say the database is not there yet.
    assert!(
        l.bootstrap(&b).contains("rdsAvailable: false"),
        "{}",
        l.bootstrap(&b)
    );
    let commits_before = l.git_commits();
    assert!(commits_before >= 3, "{commits_before} commits");

    // 2. The foundational plane: the instance, two databases, their secrets.
    let f = l.deploy(&["--foundational"]);
    assert_eq!(Local::result(&f, "rds")["result"], "applied");
    let dbs = l.databases();
    assert!(
        dbs.contains("keycloak") && dbs.contains("backstage"),
        "{dbs:?}"
    );
    for app in ["keycloak", "backstage"] {
        let c = l.secret(&format!("goldenpath/dev/{app}/postgres"));
        assert_eq!(c["dbname"], app);
        assert_eq!(c["engine"], "postgres");
    }

    // A second build deploys concurrently with step 3 of the first: its
    // IRSA roles take three seconds (a provisioner of the stand-in, for the
    // second build only), and step 3 starts once its cluster is up, so the
    // two runs overlap for certain.
    assert!(b.ends_with("-01"), "{b}");
    let b2 = format!("{}-02", &b[..8]);
    let irsa = l.root().join("terraform/stand-in-irsa/main.tf");
    let text = std::fs::read_to_string(&irsa).unwrap();
    std::fs::write(
        &irsa,
        text.replace(
            "resource \"terraform_data\" \"role\" {\n  for_each = toset(local.roles)\n",
            &format!(
                "resource \"terraform_data\" \"role\" {{\n  for_each = toset(local.roles)\n  provisioner \"local-exec\" {{\n    command = \"sleep ${{var.build_id == \"{b2}\" ? 3 : 0}}\"\n  }}\n"
            ),
        ),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(&irsa)
            .unwrap()
            .contains("local-exec")
    );
    let second =
        l.p.cmd(&[
            "deploy",
            "--env",
            "dev",
            "--build-id",
            "auto",
            "--output",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    wait_for("the second build's cluster", || {
        let show = l.p.run(&[
            "builds",
            "show",
            "--env",
            "dev",
            "--build-id",
            &b2,
            "--output",
            "json",
        ]);
        serde_json::from_str::<serde_json::Value>(&show.stdout)
            .ok()
            .and_then(|v| v["phases"].as_array().cloned())
            .is_some_and(|p| p.iter().any(|x| x["phase"] == "apply:cluster"))
    });

    // 3. The same build again: backstage renders; its record is published.
    let again = l.deploy(&["--build-id", &b]);
    assert_eq!(Local::result(&again, "backstage")["result"], "applied");
    let status = l.p.ok(&[
        "status",
        "--env",
        "dev",
        "--build-id",
        &b,
        "--output",
        "json",
    ]);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["status"], "live");
    for row in status["components"].as_array().unwrap() {
        // What goldenpath observes is ready; what it commits for Argo CD
        // (an Application) is delivered: nothing is read back from the
        // cluster.
        let expected = if row["component"] == "keycloak" {
            "skipped"
        } else if row["outputs"].get("application").is_some() {
            "delivered"
        } else {
            "ready"
        };
        assert_eq!(row["state"], expected, "{row}");
    }
    let secret_manifest =
        std::fs::read_to_string(l.gitops_build(&b).join("backstage/manifests.yaml"))
            .or_else(|_| {
                Local::files_under(&l.gitops_build(&b).join("backstage"))
                    .iter()
                    .map(|f| std::fs::read_to_string(l.gitops_build(&b).join("backstage").join(f)))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| v.join("\n"))
            })
            .unwrap();
    assert!(
        secret_manifest.contains("kind: ExternalSecret"),
        "{secret_manifest}"
    );
    assert!(secret_manifest.contains("goldenpath/dev/backstage/postgres"));
    assert!(l.git_commits() > commits_before);

    let second_out = second.wait_with_output().unwrap();
    assert!(
        second_out.status.success(),
        "{}",
        String::from_utf8_lossy(&second_out.stderr)
    );
    assert_eq!(
        build_id(
            &serde_json::from_str::<serde_json::Value>(
                String::from_utf8_lossy(&second_out.stdout)
                    .lines()
                    .last()
                    .unwrap(),
            )
            .unwrap()["outcome"],
        ),
        b2
    );
    // The registry shows the two runs overlapping: the second build's
    // deploy phase spans the first's third deploy.
    let phases = |build: &str| -> Vec<(i64, i64)> {
        let show = l.p.ok(&[
            "builds",
            "show",
            "--env",
            "dev",
            "--build-id",
            build,
            "--output",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
        v["phases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["phase"] == "deploy")
            .map(|p| {
                (
                    p["startedUs"].as_i64().unwrap(),
                    p["endedUs"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let (s1, e1) = *phases(&b).last().unwrap();
    let (s2, e2) = phases(&b2)[0];
    assert!(
        s2 < e1 && s1 < e2,
        "the builds did not overlap: {s1}..{e1} and {s2}..{e2}"
    );
    // Step 3 found the database: the scratch database of the build, its
    // secret, and the bootstrap values say so.
    assert_eq!(Local::result(&again, "build-db")["result"], "applied");
    let scratch = Local::scratch_db(&b);
    assert!(l.databases().contains(&scratch), "{:?}", l.databases());
    assert!(l.roles().contains(&scratch), "{:?}", l.roles());
    let c = l.secret(&Local::scratch_secret(&b));
    assert_eq!(c["dbname"], scratch.as_str());
    assert!(
        l.bootstrap(&b).contains("rdsAvailable: true"),
        "{}",
        l.bootstrap(&b)
    );
    // Passwords are stored as SCRAM verifiers, and the managed instance
    // accepts nothing weaker.
    let mut admin = l.admin();
    let weak: Vec<String> = admin
        .query(
            "SELECT rolname FROM pg_authid WHERE rolpassword IS NOT NULL AND rolpassword NOT LIKE 'SCRAM-SHA-256$%'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(weak.is_empty(), "roles without a SCRAM verifier: {weak:?}");
    let with_password: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_authid WHERE rolpassword IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(with_password >= 4, "{with_password}");
    let hba = std::fs::read_to_string(l.state().join("postgres/dev-rds/data/pg_hba.conf")).unwrap();
    for line in hba
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let method = line.split_whitespace().last().unwrap();
        assert_eq!(method, "scram-sha-256", "pg_hba.conf allows `{line}`");
    }

    // The records as goldenpath sees them: ours, unchanged.
    let dns_plan = l.p.ok(&["dns", "plan", "--env", "dev", "--build-id", &b]);
    let row = dns_plan
        .stdout
        .lines()
        .find(|r| r.contains(&format!("backstage.b-{b}.dev.{ZONE}")))
        .unwrap_or_else(|| panic!("{}", dns_plan.stdout));
    assert!(row.contains("unchanged"), "{row}");
    let dns_list = l.p.ok(&["dns", "list", "--env", "dev", "--build-id", &b]);
    assert!(
        dns_list
            .stdout
            .lines()
            .any(|r| r.contains(&format!("backstage.b-{b}.dev.{ZONE}"))
                && r.contains(&format!("goldenpath-dev-{b}"))),
        "{}",
        dns_list.stdout
    );

    // 4. Propagation holds, and the hostname resolves from the zone.
    l.p.ok(&["verify", "propagation", "--env", "dev", "--build-id", &b]);
    let host = format!("backstage.b-{b}.dev.{ZONE}");
    {
        let bind = gp_test::bind::TestBind::serve_zone_file(ZONE, &l.zone_file());
        assert_eq!(bind.dig(&host, "A").trim(), "127.0.0.1");
    }
    let footprint = l.build_footprint(&b);

    // A hard-coded host and another build's id in a rendered file are
    // each reported with file and line; exit 1.
    let values = l.gitops_build(&b).join("backstage/values.yaml");
    let original = std::fs::read_to_string(&values).unwrap();
    let lines = original.lines().count();
    std::fs::write(
        &values,
        format!("{original}legacyUrl: https://grafana.dev.{ZONE}/d/1\nimage: app:01-01-26-01\n"),
    )
    .unwrap();
    let bad =
        l.p.run(&["verify", "propagation", "--env", "dev", "--build-id", &b]);
    assert_eq!(bad.code, 1, "{}", bad.transcript());
    let shown = format!("gitops/apps/dev/builds/{b}/backstage/values.yaml");
    assert!(
        bad.stdout.contains(&format!("{shown}:{}:", lines + 1)),
        "{}",
        bad.stdout
    );
    assert!(
        bad.stdout.contains(&format!("grafana.dev.{ZONE}")),
        "{}",
        bad.stdout
    );
    assert!(
        bad.stdout.contains(&format!("{shown}:{}:", lines + 2)),
        "{}",
        bad.stdout
    );
    assert!(bad.stdout.contains("01-01-26-01"), "{}", bad.stdout);
    std::fs::write(&values, original).unwrap();
    // The Terraform driver's artifacts are checked too: a variables file
    // that lost the build id is reported at its line.
    let vars = l
        .state()
        .join(format!("work/dev/{b}/cluster/goldenpath.auto.tfvars.json"));
    let original = std::fs::read_to_string(&vars).unwrap();
    std::fs::write(&vars, original.replace(&format!("\"{b}\""), "\"\"")).unwrap();
    let bad =
        l.p.run(&["verify", "propagation", "--env", "dev", "--build-id", &b]);
    assert_eq!(bad.code, 1, "{}", bad.transcript());
    assert!(
        bad.stdout.contains("goldenpath.auto.tfvars.json:")
            && bad
                .stdout
                .contains(&format!("lacks the build id {b} (build_id)")),
        "{}",
        bad.stdout
    );
    std::fs::write(&vars, original).unwrap();

    // The second build tears down without touching the first.
    l.p.ok(&["teardown", "--env", "dev", "--build-id", &b2]);
    l.assert_build_gone(&b2);
    assert_eq!(l.build_footprint(&b), footprint);

    // SIGKILL during a build's deploy at three points — while Terraform
    // runs the cluster, once the cluster's state holds it, once ArgoCD is
    // rendered — then --resume: the same end state as an uninterrupted
    // build.
    for point in 0..3usize {
        let bk = format!("{}-{:02}", &b[..8], 60 + point);
        let mut child = {
            use std::os::unix::process::CommandExt;
            l.p.cmd(&["deploy", "--env", "dev", "--build-id", &bk])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap()
        };
        wait_for(&format!("kill point {point} of {bk}"), || match point {
            0 => l.lease_held(&bk),
            1 => l
                .tf_resources(&bk)
                .into_iter()
                .flatten()
                .any(|(w, n)| w == "cluster" && n > 0),
            _ => l.gitops_build(&bk).join("argocd").is_dir(),
        });
        std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status()
            .unwrap();
        let _ = child.wait();
        let status = l.p.ok(&["status", "--env", "dev", "--build-id", &bk]);
        assert!(
            status.stdout.contains(": interrupted"),
            "kill point {point} lands mid-deploy:\n{}",
            status.stdout
        );
        let resumed =
            l.p.run(&["deploy", "--env", "dev", "--build-id", &bk, "--resume"]);
        assert_eq!(
            resumed.code,
            0,
            "kill point {point}:\n{}",
            resumed.transcript()
        );
        let (files, tf, records) = l.build_footprint(&bk);
        assert_eq!(files, footprint.0, "kill point {point}");
        assert_eq!(tf, footprint.1, "kill point {point}");
        assert_eq!(records, footprint.2, "kill point {point}");
        l.p.ok(&["teardown", "--env", "dev", "--build-id", &bk]);
        l.assert_build_gone(&bk);
    }

    // 5. Teardown: nothing of the build is left in any system; the
    // foundational databases are untouched.
    let down = l.p.ok(&["teardown", "--env", "dev", "--build-id", &b]);
    assert!(
        down.stdout.contains("orphan check: nothing left behind"),
        "{}",
        down.stdout
    );
    l.assert_build_gone(&b);
    // Every row of the registry still checks out after the teardowns.
    let verify = l.p.ok(&["registry", "verify"]);
    assert!(
        verify.stdout.starts_with("registry ok"),
        "{}",
        verify.stdout
    );
    let dbs = l.databases();
    assert!(
        dbs.contains("keycloak") && dbs.contains("backstage"),
        "{dbs:?}"
    );
    let c = l.secret("goldenpath/dev/backstage/postgres");
    let app = postgres::Client::connect(
        &format!(
            "host=127.0.0.1 port={} user=backstage password='{}' dbname=backstage",
            c["port"],
            c["password"].as_str().unwrap()
        ),
        postgres::NoTls,
    );
    assert!(
        app.is_ok(),
        "the foundational app database still serves its app"
    );

    // 6. The registry as CSV: every phase, with durations and exit codes.
    let csv = l.p.ok(&["registry", "export", "--format", "csv"]).stdout;
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (phase, build, duration, exit) = (
        col("phase"),
        col("build_id"),
        col("duration_seconds"),
        col("exit_code"),
    );
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    for wanted in [
        "deploy",
        "deploy-foundational",
        "teardown",
        "terraform-apply",
        "postgres-initdb",
    ] {
        assert!(
            rows.iter()
                .any(|r| r[phase] == wanted && r[exit] == "0" && !r[duration].is_empty()),
            "phase {wanted} in\n{csv}"
        );
    }
    assert!(
        rows.iter()
            .filter(|r| r[build] == b && r[phase] == "deploy")
            .count()
            >= 2
    );
}

/// Plan says what deploy then does, in the states the story above does not
/// reach: a component whose spec changed, and one a policy refuses.
#[test]
fn plan_is_what_deploy_does_after_a_change_and_under_a_refusal() {
    let l = Local::new();
    let _servers = Servers(l.root().to_path_buf());
    l.deploy(&["--foundational"]);
    let b = build_id(&l.deploy(&["--build-id", "auto"]));
    let spec_path = l.root().join("goldenpath.yaml");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    let with = |values: &str| {
        spec.replace(
            "    settings:\n      namespace: backstage\n",
            &format!("    settings:\n      namespace: backstage\n      values: {values}\n"),
        )
    };
    // Changed: only backstage updates.
    std::fs::write(&spec_path, with("{ replicaCount: 2 }")).unwrap();
    let changed = l.deploy(&["--build-id", &b]);
    assert_eq!(
        Local::result(&changed, "backstage")["action"],
        "update",
        "{changed}"
    );
    assert_eq!(
        Local::result(&changed, "argocd")["result"],
        "unchanged",
        "{changed}"
    );
    // Unchanged again: every component unchanged (plan agrees).
    let again = l.deploy(&["--build-id", &b]);
    assert_eq!(
        Local::result(&again, "backstage")["result"],
        "unchanged",
        "{again}"
    );
    // Refused by a policy: plan says so, and deploy does it.
    std::fs::write(
        &spec_path,
        with("{ image: { repository: backstage, tag: latest } }"),
    )
    .unwrap();
    let planned =
        l.p.run(&["plan", "--env", "dev", "--build-id", &b, "--output", "json"]);
    assert_eq!(planned.code, 0, "{}", planned.transcript());
    let planned: serde_json::Value = serde_json::from_str(&planned.stdout).unwrap();
    let out = l.p.run(&[
        "deploy",
        "--env",
        "dev",
        "--build-id",
        &b,
        "--output",
        "json",
    ]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    let outcome: serde_json::Value =
        serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    plan_is_what_deploy_did(&planned, &outcome["outcome"]);
    assert_eq!(
        Local::result(&outcome["outcome"], "backstage")["result"],
        "refused"
    );
}
