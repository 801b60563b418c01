//! `--output json`, command by command: every command the binary has (found
//! by walking its own `--help`, so a new command without a case here fails)
//! prints JSON on stdout, and that JSON validates against the strict schema
//! `goldenpath schema --output-of COMMAND` publishes — no field the schema
//! does not declare, every required one present, camelCase keys.

use std::collections::BTreeMap;

use crate::deploy::Platform;
use crate::requests::Servers;

/// The leaf commands of `goldenpath`, as words (`builds list`).
fn leaf_commands(prefix: &[&str]) -> Vec<String> {
    let mut args: Vec<&str> = prefix.to_vec();
    args.push("--help");
    let help = gp_test::run(crate::gp().args(&args)).stdout;
    let Some(section) = help.split("Commands:\n").nth(1) else {
        return vec![prefix.join(" ")];
    };
    let mut out = Vec::new();
    for line in section.lines() {
        if line.trim().is_empty() {
            break;
        }
        // A command starts two spaces in; wrapped descriptions further.
        if !line.starts_with("  ") || line.starts_with("   ") {
            continue;
        }
        let name = line.split_whitespace().next().unwrap_or_default();
        if name.is_empty() || name == "help" {
            continue;
        }
        let mut sub: Vec<&str> = prefix.to_vec();
        sub.push(name);
        out.extend(leaf_commands(&sub));
    }
    out
}

fn camel_case(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase()) && chars.all(|c| c.is_ascii_alphanumeric())
}

/// Every property name a schema declares, anywhere in it.
fn property_names(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(serde_json::Value::Object(props)) = m.get("properties") {
                out.extend(props.keys().cloned());
            }
            for child in m.values() {
                property_names(child, out);
            }
        }
        serde_json::Value::Array(a) => {
            for child in a {
                property_names(child, out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_command_prints_json_that_its_strict_schema_accepts() {
    // A deployed local platform: foundational plane, one live build, a
    // request, a secret, an exported history.
    let dir = gp_test::tempdir();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let init = gp_test::run(
        crate::gp()
            .args(["init", "--example", "local"])
            .arg(dir.path()),
    );
    assert_eq!(init.code, 0, "{}", init.transcript());
    let p = Platform {
        dir,
        env: Vec::new(),
    };
    let _servers = Servers(p.path().to_path_buf());
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    std::fs::create_dir_all(p.path().join("requests")).unwrap();
    std::fs::write(
        p.path().join("requests/RDS-0001.yaml"),
        "# an app team's request\n---\nid: RDS-0001\nenvironment: dev\ndatabaseName: orders\nusername: orders_app\nsize: small\nstorageGb: 20\nmaxStorageGb: 100\nbackupRetentionDays: 14\nowner: team-orders\nrequester: alice\ndomain: commerce\nrisk: high\n",
    )
    .unwrap();
    p.ok(&["registry", "export", "--out", "history.csv"]);
    let other = gp_test::tempdir();
    let other_dir = other.path().join("new").display().to_string();

    // Each command's arguments (after its words), its stdin, the actor,
    // and the exit status it must have.
    type Case = (Vec<String>, Option<&'static str>, &'static str, i32);
    let mut cases: BTreeMap<&str, Case> = BTreeMap::new();
    let owned = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let mut case = |cmd: &'static str, args: &[&str], code: i32| {
        cases.insert(cmd, (owned(args), None, "tester", code));
    };
    case("validate", &[], 0);
    case(
        "contract",
        &["--env", "dev", "--build-id", "23-01-26-01"],
        0,
    );
    case("schema", &[], 0);
    case("completions", &["bash"], 2);
    case("plan", &["--env", "dev", "--build-id", "23-01-26-01"], 0);
    case("deploy", &["--env", "dev", "--build-id", "23-01-26-02"], 0);
    case("status", &["--env", "dev"], 0);
    case("drift", &["--env", "dev", "--build-id", "23-01-26-01"], 0);
    case("metrics", &["--env", "dev"], 0);
    case(
        "teardown",
        &["--env", "dev", "--build-id", "23-01-26-02"],
        0,
    );
    case("graph", &["--env", "dev", "--build-id", "23-01-26-01"], 0);
    case("builds list", &["--env", "dev"], 0);
    case(
        "builds show",
        &["--env", "dev", "--build-id", "23-01-26-01"],
        0,
    );
    case("registry export", &[], 0);
    case("registry import", &["history.csv"], 0);
    case("registry report", &["--env", "dev"], 0);
    case("registry verify", &[], 0);
    case("registry migrate", &[], 0);
    // A SQLite registry has no roles to grant: the error document.
    case("registry grant-runner", &["gp_runner"], 2);
    case("lease list", &[], 0);
    case(
        "lease unlock",
        &[
            "--env",
            "dev",
            "--build-id",
            "23-01-26-01",
            "--force",
            "--reason",
            "test",
        ],
        0,
    );
    case("request validate", &[], 0);
    case("request plan", &["RDS-0001"], 0);
    case("request list", &[], 0);
    case("request schema", &[], 0);
    case(
        "request new s3",
        &[
            "--env",
            "dev",
            "--application",
            "ledger",
            "--purpose",
            "backups",
            "--description",
            "the ledger's nightly backups",
            "--cost-center",
            "cc-1",
            "--owner",
            "team-ledger",
        ],
        0,
    );
    case(
        "request new secret",
        &[
            "--env",
            "dev",
            "--service",
            "ledger",
            "--name",
            "api-key",
            "--owner",
            "team-ledger",
        ],
        0,
    );
    case(
        "request new ecr",
        &["--repository", "ledger/api", "--owner", "team-ledger"],
        0,
    );
    case(
        "request new rds",
        &[
            "--env",
            "dev",
            "--database",
            "ledger",
            "--username",
            "ledger_app",
            "--owner",
            "team-ledger",
            "--domain",
            "finance",
        ],
        0,
    );
    case("db list", &["--env", "dev"], 0);
    case("owners", &["--env", "dev"], 0);
    case("iam policy", &["--env", "dev", "--role", "apply"], 0);
    case(
        "iam trust",
        &[
            "--repo",
            "acme/platform",
            "--env",
            "dev",
            "--account-id",
            "123456789012",
        ],
        0,
    );
    // A policy that grants nothing this local platform needs in AWS.
    std::fs::write(
        p.path().join("in-use.json"),
        r#"{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}"#,
    )
    .unwrap();
    case(
        "iam check",
        &["--policy", "in-use.json", "--env", "dev", "--role", "apply"],
        0,
    );
    case("resources list", &[], 0);
    case("secret list", &[], 0);
    case("secret get", &["goldenpath/dev/backstage/postgres"], 0);
    case(
        "dns plan",
        &["--env", "dev", "--build-id", "23-01-26-01"],
        0,
    );
    case(
        "dns apply",
        &["--env", "dev", "--build-id", "23-01-26-01"],
        0,
    );
    case("dns list", &["--env", "dev"], 0);
    // No such lock: the error document.
    case(
        "terraform unlock",
        &[
            "--env",
            "dev",
            "--build-id",
            "23-01-26-01",
            "cluster",
            "--lock-id",
            "0000",
            "--reason",
            "test",
        ],
        1,
    );
    case(
        "verify propagation",
        &["--env", "dev", "--build-id", "23-01-26-01"],
        0,
    );
    case("docs baseline", &[], 0);
    case("policy list", &[], 0);
    case("reap", &["--env", "dev", "--dry-run"], 0);
    case(
        "builds sweep",
        &["--env", "dev", "--open-pull-requests", "", "--dry-run"],
        0,
    );
    // Outside a pull request's workflow: the error document.
    case(
        "ci github deployment",
        &["--env", "dev", "--state", "in_progress"],
        2,
    );
    case("ci github release", &["--out", "release-workflow"], 0);
    case("catalog", &["--env", "dev"], 0);
    // A server runs until stopped: the error document of a refused start.
    case("serve", &["--listen", "0.0.0.0:1"], 2);
    case(
        "builds extend",
        &[
            "--env",
            "dev",
            "--build-id",
            "23-01-26-01",
            "--by",
            "1h",
            "--reason",
            "test",
        ],
        0,
    );
    case(
        "builds keep",
        &[
            "--env",
            "dev",
            "--build-id",
            "23-01-26-01",
            "--reason",
            "test",
        ],
        0,
    );
    case(
        "policy check",
        &["--env", "dev", "--build-id", "23-01-26-01"],
        0,
    );
    case("policy test", &["--builtin"], 0);
    case("docs check", &[], 0);
    case("docs init", &[], 0);
    case("docs index", &[], 0);
    case("docs fix", &[], 0);
    case("docs rules", &[], 0);
    case(
        "gitops bootstrap",
        &["--env", "dev", "--build-id", "23-01-26-01"],
        0,
    );
    // No AWS backend in this platform: the sweep has nothing to ask.
    case("orphans", &["--env", "dev"], 2);
    case("env", &[], 0);
    case("state-dir", &[], 0);
    cases.insert(
        "init",
        (
            owned(&["--example", "local", &other_dir]),
            None,
            "tester",
            0,
        ),
    );
    cases.insert(
        "secret put",
        (
            owned(&["goldenpath/dev/tokens/api"]),
            Some("{\"token\": \"t-123\"}"),
            "tester",
            0,
        ),
    );
    cases.insert("request approve", (owned(&["RDS-0001"]), None, "bob", 0));
    cases.insert("request apply", (owned(&["RDS-0001"]), None, "tester", 0));
    cases.insert(
        "request withdraw",
        (owned(&["RDS-0001", "--reason", "done"]), None, "tester", 0),
    );

    let commands = leaf_commands(&[]);
    assert!(commands.len() > 30, "{commands:?}");
    // In the order a person would run them: approve before apply.
    let mut order: Vec<String> = commands.clone();
    order.sort_by_key(|c| match c.as_str() {
        "request withdraw" => 3,
        "request apply" => 2,
        "teardown" => 1,
        _ => 0,
    });
    let mut names = Vec::new();
    for command in &order {
        let (args, stdin, actor, code) = cases
            .get(command.as_str())
            .unwrap_or_else(|| panic!("no JSON case for `{command}`: add one"))
            .clone();
        let mut c = crate::gp();
        c.current_dir(p.path())
            .env("GOLDENPATH_ACTOR", actor)
            .args(command.split(' '))
            .args(&args)
            .args(["--output", "json"]);
        let out = match stdin {
            None => gp_test::run(&mut c),
            Some(text) => {
                use std::io::Write;
                let mut child = c
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
                let o = child.wait_with_output().unwrap();
                gp_test::Output {
                    code: o.status.code().unwrap_or(-1),
                    stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
                }
            }
        };
        assert_eq!(out.code, code, "{command}: {}", out.transcript());
        let schema = gp_test::run(
            crate::gp()
                .args(["schema", "--output-of"])
                .args(command.split(' ')),
        );
        assert_eq!(schema.code, 0, "{command}: {}", schema.transcript());
        let schema: serde_json::Value = serde_json::from_str(&schema.stdout).unwrap();
        property_names(&schema, &mut names);
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("{command}: the schema does not compile: {e}"));
        let documents: Vec<serde_json::Value> = if matches!(command.as_str(), "deploy" | "teardown")
        {
            out.stdout
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{command}: {e}: {l}")))
                .collect()
        } else {
            vec![serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "{command}: stdout is not one JSON document ({e}):\n{}",
                    out.stdout
                )
            })]
        };
        assert!(!documents.is_empty(), "{command}: no JSON");
        for doc in &documents {
            let errors: Vec<String> = validator
                .iter_errors(doc)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{command}: {errors:#?}\n{doc:#}");
        }
        // The schema is strict: an undeclared key is refused (a JSON
        // Schema document, what `schema` prints, is free-form).
        let mut extra = documents.last().unwrap().clone();
        if let Some(m) = extra
            .as_object_mut()
            .filter(|_| !command.ends_with("schema"))
        {
            m.insert("undeclaredKey".into(), serde_json::json!(1));
            assert!(
                !validator.is_valid(&extra),
                "{command}: the schema accepts any key"
            );
        }
    }
    names.sort();
    names.dedup();
    let odd: Vec<&String> = names
        .iter()
        .filter(|n| !camel_case(n) && n.as_str() != "$schema")
        .collect();
    assert!(odd.is_empty(), "keys that are not camelCase: {odd:?}");
}
