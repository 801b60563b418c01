//! Ownership as one ledger, through the binary:
//!
//! - a generated matrix: every name the `local` and `golden-v1` examples
//!   derive — every component's, the persistent deployment's, every
//!   build's (instantiated for several build ids), and every name a request
//!   applied — read from `goldenpath owners`, claimed by a request of every
//!   kind that can name it, each refused at `request validate` (exit 3)
//!   naming its owner. A name the contract derives later is in `owners`
//!   and so covered without a new test;
//! - who asked: an approver who wrote the request file (its git history)
//!   cannot approve it;
//! - impact before destruction: a foundational teardown with live builds
//!   and a request's database on it is refused, listing them; `--cascade`
//!   tears them down first and their registry rows say so.

use std::collections::BTreeMap;

use crate::deploy::Platform;
use crate::e2e::Local;
use crate::requests::Servers;

/// The request files that would claim `name` (of `kind`), one per kind of
/// request that can name it: `(kind prefix, file text with ID for the id)`.
fn claims(kind: &str, name: &str, prefix: &str, env: &str) -> Vec<(&'static str, String)> {
    let db = |database: &str, username: &str| {
        format!(
            "id: ID\nenvironment: {env}\ndatabaseName: {database}\nusername: {username}\nowner: team-x\nrequester: mallory\ndomain: x\n"
        )
    };
    match kind {
        "database" => vec![("RDS-", db(name, "claimer_app"))],
        "role" => vec![("RDS-", db("claimer_db", name))],
        "secret" => {
            // A secret request names {prefix}/{env}/{service}/{name}.
            let parts: Vec<&str> = name.split('/').collect();
            match parts.as_slice() {
                [p, e, service, n] if *p == prefix && *e == env => vec![(
                    "SEC-",
                    format!(
                        "kind: SecretRequest\nmetadata: {{ id: ID, name: {n}, service: {service}, environment: {env}, requester: mallory }}\n"
                    ),
                )],
                _ => Vec::new(),
            }
        }
        "bucket" => vec![(
            "S3-",
            format!(
                "kind: S3BucketRequest\nmetadata: {{ id: ID, owner: team-x, requester: mallory }}\nspec: {{ environment: {env}, application: x, bucketName: {name}, purpose: {{ type: uploads, description: ten characters }}, tags: {{ costCenter: c }} }}\n"
            ),
        )],
        "repository" => vec![(
            "ECR-",
            format!(
                "kind: EcrRepositoryRequest\nmetadata: {{ id: ID, owner: team-x, requester: mallory }}\nspec: {{ repositoryName: {name} }}\n"
            ),
        )],
        _ => Vec::new(),
    }
}

/// Runs the matrix over one platform directory: every example name of
/// every held entry of every environment, claimed. Returns how many claims
/// were tried.
fn matrix(p: &Platform, envs: &[&str]) -> usize {
    let spec = std::fs::read_to_string(p.path().join("goldenpath.yaml")).unwrap();
    let prefix = spec
        .lines()
        .find_map(|l| l.strip_prefix("prefix: "))
        .unwrap()
        .trim()
        .to_string();
    let dir = p.path().join("requests/claims");
    std::fs::create_dir_all(&dir).unwrap();
    let mut tried = 0;
    for env in envs {
        let out = p.ok(&["owners", "--env", env, "--output", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let held = v["held"].as_array().unwrap();
        assert!(!held.is_empty(), "{env}: {v}");
        // id -> (the owner the refusal must name, the entry, its kind)
        let mut expected: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut next: BTreeMap<&str, u32> = BTreeMap::new();
        let mut exercised_entries = 0;
        for h in held {
            let kind = h["kind"].as_str().unwrap();
            let owner = match h["owner"]["kind"].as_str().unwrap() {
                "component" => format!("component `{}`", h["owner"]["name"].as_str().unwrap()),
                "request" => format!("request {}", h["owner"]["name"].as_str().unwrap()),
                _ => h["owner"]["name"].as_str().unwrap().to_string(),
            };
            let mut any = false;
            for name in h["examples"].as_array().unwrap() {
                for (prefix_id, text) in claims(kind, name.as_str().unwrap(), &prefix, env) {
                    let n = next.entry(prefix_id).or_insert(8000);
                    *n += 1;
                    let id = format!("{prefix_id}{n:04}");
                    std::fs::write(dir.join(format!("{id}.yaml")), text.replace("ID", &id))
                        .unwrap();
                    expected.insert(id, (owner.clone(), format!("{kind} {name}")));
                    any = true;
                }
            }
            // Databases and roles are always expressible; so is every
            // secret folder or path of a request's shape.
            if matches!(kind, "database" | "role") {
                assert!(any, "{env}: no request claims {h}");
            }
            exercised_entries += usize::from(any);
        }
        assert!(exercised_entries >= 4, "{env}: {exercised_entries}");
        let out = p.run(&["request", "validate", "--output", "json"]);
        assert_eq!(out.code, 3, "{env}: {}", out.transcript());
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let checks: BTreeMap<String, &serde_json::Value> = v["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["request"].as_str().unwrap().to_string(), c))
            .collect();
        for (id, (owner, what)) in &expected {
            let c = checks
                .get(id)
                .unwrap_or_else(|| panic!("{env}: {id} ({what}) not checked: {v}"));
            assert_eq!(
                c["valid"], true,
                "{env}: {id} ({what}) must reach the claim check: {c}"
            );
            let refused = c["refused"].to_string();
            assert!(
                refused.contains("held by") && refused.contains(owner.as_str()),
                "{env}: {id} claims {what}, owned by {owner}: {c}"
            );
        }
        tried += expected.len();
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    std::fs::remove_dir(&dir).unwrap();
    tried
}

#[test]
fn every_derived_and_applied_name_is_refused_to_every_request_kind_naming_its_owner() {
    // golden-v1: every environment, nothing deployed.
    let dir = gp_test::tempdir();
    let out = gp_test::run(
        crate::gp()
            .args(["init", "--example", "golden-v1"])
            .arg(dir.path().join("g")),
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let g = Platform {
        dir,
        env: Vec::new(),
    };
    let g = Platform {
        env: Vec::new(),
        dir: {
            let d = gp_test::tempdir();
            copy_dir(&g.path().join("g"), d.path());
            d
        },
    };
    let envs: Vec<String> = {
        let spec = std::fs::read_to_string(g.path().join("goldenpath.yaml")).unwrap();
        let platform =
            gp_core::Platform::from_source(std::path::Path::new("goldenpath.yaml"), &spec).unwrap();
        platform.environment_names().map(String::from).collect()
    };
    let tried = matrix(&g, &envs.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(tried >= 8 * envs.len(), "{tried}");
    assert!(
        !g.path().join(".goldenpath/registry.db").exists(),
        "owners and validate create nothing"
    );

    // local: with the foundational plane and a request applied, so the
    // request's names are held too.
    let l = Local::new();
    let _servers = Servers(l.root().to_path_buf());
    l.deploy(&["--foundational"]);
    std::fs::create_dir_all(l.root().join("requests")).unwrap();
    std::fs::write(
        l.root().join("requests/RDS-0100.yaml"),
        "id: RDS-0100\nenvironment: dev\ndatabaseName: ledger\nusername: ledger_app\nowner: team-ledger\nrequester: alice\ndomain: finance\n",
    )
    .unwrap();
    l.p.ok(&["request", "apply", "RDS-0100"]);
    let owners = l.p.ok(&["owners", "--env", "dev"]).stdout;
    for line in [
        "ledger ",
        "ledger_app",
        "goldenpath/dev/ledger/postgres",
        "scratch_b{DDMMYYNN}",
    ] {
        assert!(owners.contains(line), "{line}: {owners}");
    }
    // A spec change that would take what the request holds: refused at
    // validate, at the component, naming the request.
    let spec_path = l.root().join("goldenpath.yaml");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    std::fs::write(
        &spec_path,
        spec.replace(
            "databases: [keycloak, backstage]",
            "databases: [keycloak, backstage, ledger]",
        ),
    )
    .unwrap();
    let out = l.p.run(&["validate"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("`rds` would hold the database `ledger` in dev")
            && out.stderr.contains("which request RDS-0100 holds"),
        "{}",
        out.stderr
    );
    std::fs::write(&spec_path, spec).unwrap();
    l.p.ok(&["validate"]);
    // The applied request's own file is no claim on what it holds.
    std::fs::rename(
        l.root().join("requests/RDS-0100.yaml"),
        l.root().join("RDS-0100.yaml.kept"),
    )
    .unwrap();
    let tried = matrix(&l.p, &["dev"]);
    assert!(tried >= 12, "{tried}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn whoever_wrote_the_request_file_never_approves_it() {
    let p = Platform::new(
        "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: demo\nprefix: demo\ndomain: example.io\nowner: team\nrequests:\n  approvers: { platform: [paula, bob], security: [sam] }\nenvironments:\n  dev: {}\ncomponents: []\n",
    );
    std::fs::create_dir_all(p.path().join("requests")).unwrap();
    // Paula writes a request in alice's name (the `requester` says alice).
    std::fs::write(
        p.path().join("requests/ECR-0001.yaml"),
        "kind: EcrRepositoryRequest\nmetadata: { id: ECR-0001, owner: team-x, requester: alice }\nspec: { repositoryName: x/api, environment: prod }\n",
    )
    .unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .current_dir(p.path())
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .unwrap();
        assert!(ok.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "requests/ECR-0001.yaml"]);
    git(&[
        "-c",
        "user.name=Paula Platform",
        "-c",
        "user.email=paula@example.com",
        "commit",
        "-q",
        "-m",
        "a repository for alice",
    ]);
    let as_actor = |actor: &str, extra: &[(&str, &str)]| {
        let mut c = p.cmd(&["request", "approve", "ECR-0001"]);
        c.env("GOLDENPATH_ACTOR", actor);
        for (k, v) in extra {
            c.env(k, v);
        }
        gp_test::run(&mut c)
    };
    let out = as_actor("paula", &[]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("wrote or changed the file of request ECR-0001"),
        "{}",
        out.stderr
    );
    // In CI, the author of the pull request it came in is one who asked.
    let event = p.path().join("event.json");
    std::fs::write(
        &event,
        "{\"action\": \"opened\", \"pull_request\": {\"number\": 7, \"user\": {\"login\": \"bob\"}}}",
    )
    .unwrap();
    let out = as_actor(
        "bob",
        &[
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ],
    );
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr.contains("opened the pull request of"),
        "{}",
        out.stderr
    );
    // Bob outside that pull request approves (sam is of no group its
    // route needs).
    assert_eq!(as_actor("sam", &[]).code, 3);
    assert_eq!(as_actor("bob", &[]).code, 0);
}

#[test]
fn a_foundational_teardown_lists_what_depends_on_it_and_cascade_takes_it_down_first() {
    let l = Local::new();
    let _servers = Servers(l.root().to_path_buf());
    l.deploy(&["--foundational"]);
    let b1 = "23-01-26-01";
    let b2 = "23-01-26-02";
    l.deploy(&["--build-id", b1]);
    l.deploy(&["--build-id", b2]);
    l.p.ok(&[
        "builds",
        "keep",
        "--env",
        "dev",
        "--build-id",
        b2,
        "--reason",
        "demo",
    ]);
    std::fs::create_dir_all(l.root().join("requests")).unwrap();
    std::fs::write(
        l.root().join("requests/RDS-0001.yaml"),
        "id: RDS-0001\nenvironment: dev\ndatabaseName: ledger\nusername: ledger_app\nnamespace: ledger\nowner: team-ledger\nrequester: alice\ndomain: finance\n",
    )
    .unwrap();
    l.p.ok(&["request", "apply", "RDS-0001"]);
    // The zone: both builds publish in it. Refused, each named; the zone
    // is untouched.
    let zone_before = l.zone();
    let out = l.p.run(&[
        "teardown",
        "--env",
        "dev",
        "--foundational",
        "dns-zone",
        "--confirm",
    ]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    for b in [b1, b2] {
        assert!(out.stderr.contains(&format!("build {b}")), "{}", out.stderr);
    }
    assert!(
        out.stderr.contains(&format!("build {b2}, kept")),
        "{}",
        out.stderr
    );
    assert_eq!(l.zone(), zone_before);
    // The instance, break-glass: the builds (build-db, backstage) and the
    // request's database. Refused without --cascade.
    let glass = [
        "teardown",
        "--env",
        "dev",
        "--foundational",
        "rds",
        "--confirm",
        "--break-glass",
        "rds",
        "--reason",
        "rebuild",
    ];
    let out = l.p.run(&glass);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("request RDS-0001's database ledger on rds"),
        "{}",
        out.stderr
    );
    assert!(l.databases().contains("ledger"), "nothing was changed");
    let mut cascade = glass.to_vec();
    cascade.push("--cascade");
    // The builds' own databases are on the instance: each build's teardown
    // drops them before the instance goes (watched from the registry's
    // journal of each build afterwards).
    let down = l.p.ok(&cascade);
    assert!(
        down.stdout.contains("orphan check: nothing left behind"),
        "{}",
        down.stdout
    );
    for b in [b1, b2] {
        assert!(
            down.stdout
                .contains(&format!("torn down first (--cascade): build {b}")),
            "{}",
            down.stdout
        );
        l.assert_build_gone_but_its_databases(b);
        let shown =
            l.p.ok(&["builds", "show", "--env", "dev", "--build-id", b])
                .stdout;
        assert!(shown.contains("torn"), "{shown}");
    }
    // Their registry rows say torn down.
    let builds =
        l.p.ok(&["builds", "list", "--env", "dev", "--output", "json"])
            .stdout;
    let v: serde_json::Value = serde_json::from_str(&builds).unwrap();
    for b in v["builds"].as_array().unwrap() {
        assert_eq!(b["status"], "torn-down", "{b}");
    }
    let list = l.p.ok(&["request", "list", "--output", "json"]).stdout;
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(v["requests"][0]["status"], "torn-down", "{v}");
    assert!(!l.root().join("gitops/requests/dev/RDS-0001").exists());
    // Nothing depends on the zone any more: it goes without --cascade.
    l.p.ok(&[
        "teardown",
        "--env",
        "dev",
        "--foundational",
        "dns-zone",
        "--confirm",
    ]);
}
