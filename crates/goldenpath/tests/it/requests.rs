//! Database requests, `db list` and `secret` through the binary, against
//! the managed local PostgreSQL the platform's `rds` component creates
//! (SCRAM authentication), and a check that no generated password ever
//! reaches output, logs or the registry.

use crate::deploy::{Platform, timestamps};

const SPEC: &str = include_str!("fixtures/db-platform.yaml");

fn request(id: &str, env: &str, extra: &[(&str, &str)]) -> String {
    let mut fields = vec![
        ("id", id.to_string()),
        ("environment", env.to_string()),
        ("databaseName", "orders".into()),
        ("username", "orders_app".into()),
        ("size", "small".into()),
        ("storageGb", "20".into()),
        ("maxStorageGb", "100".into()),
        ("backupRetentionDays", "14".into()),
        ("owner", "team-orders".into()),
        ("requester", "alice".into()),
        ("domain", "commerce".into()),
        ("risk", "low".into()),
    ];
    for (k, v) in extra {
        match fields.iter_mut().find(|(f, _)| f == k) {
            Some(f) => f.1 = v.to_string(),
            None => fields.push((k, v.to_string())),
        }
    }
    fields.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

/// Stops the managed servers a test started when it ends.
pub(crate) struct Servers(pub std::path::PathBuf);

impl Drop for Servers {
    fn drop(&mut self) {
        let dir = self.0.join(".goldenpath/postgres");
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if let Ok(s) = gp_driver_postgres::server::LocalServer::new(&entry.path().join("data"))
            {
                let _ = s.stop();
            }
        }
    }
}

struct Session {
    p: Platform,
    /// Every stdout and stderr captured, except `secret get --reveal`'s.
    seen: String,
}

impl Session {
    fn new() -> Session {
        let p = Platform::new(SPEC);
        std::fs::create_dir_all(p.path().join("requests")).unwrap();
        Session {
            p,
            seen: String::new(),
        }
    }
    fn write(&self, id: &str, text: &str) {
        std::fs::write(self.p.path().join(format!("requests/{id}.yaml")), text).unwrap();
    }
    fn run(&mut self, args: &[&str]) -> gp_test::Output {
        let out = self.p.run(args);
        self.seen.push_str(&out.stdout);
        self.seen.push_str(&out.stderr);
        out
    }
    fn ok(&mut self, args: &[&str]) -> gp_test::Output {
        let out = self.run(args);
        assert_eq!(out.code, 0, "{args:?}\n{}", out.transcript());
        out
    }
    /// Runs as another actor (an approver).
    fn ok_as(&mut self, actor: &str, args: &[&str]) -> gp_test::Output {
        let mut c = self.p.cmd(args);
        c.env("GOLDENPATH_ACTOR", actor);
        let out = gp_test::run(&mut c);
        self.seen.push_str(&out.stdout);
        self.seen.push_str(&out.stderr);
        assert_eq!(out.code, 0, "{args:?}\n{}", out.transcript());
        out
    }
    /// The stored credentials (not added to what was seen).
    fn credentials(&self, path: &str) -> serde_json::Value {
        let out = self
            .p
            .ok(&["secret", "get", path, "--reveal", "--output", "json"]);
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()["value"].clone()
    }
}

fn connects(c: &serde_json::Value, database: &str, password: &str) -> bool {
    let url = format!(
        "host={} port={} user={} password='{}' dbname={} connect_timeout=5",
        c["host"].as_str().unwrap(),
        c["port"],
        c["username"].as_str().unwrap(),
        password,
        database
    );
    postgres::Client::connect(&url, postgres::NoTls).is_ok()
}

#[test]
fn schema_errors_and_unsafe_names_exit_2_before_anything_runs() {
    let mut s = Session::new();
    s.write(
        "RDS-0001",
        &request(
            "RDS-0001",
            "dev",
            &[("storageGb", "10"), ("maxStorageGb", "5")],
        ),
    );
    let out = s.run(&["request", "validate", "RDS-0001"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("request_schema_errors", out.transcript());

    let long = "a".repeat(64);
    for bad in ["'a\"b'", "'x; drop table y'", "Bad", "é_db", long.as_str()] {
        s.write(
            "RDS-0003",
            &request("RDS-0003", "dev", &[("databaseName", bad)]),
        );
        let out = s.run(&["request", "apply", "RDS-0003"]);
        assert_eq!(out.code, 2, "{bad}: {}", out.transcript());
        assert!(out.stderr.contains("RDS-0003.yaml:3:"), "{}", out.stderr);
        assert!(
            out.stderr.contains("invalid databaseName"),
            "{}",
            out.stderr
        );
    }
    s.write(
        "RDS-0003",
        &request("RDS-0003", "dev", &[("username", "'r\"; drop role x'")]),
    );
    assert_eq!(s.run(&["request", "apply", "RDS-0003"]).code, 2);
    // Nothing started, nothing recorded.
    assert!(!s.p.path().join(".goldenpath/postgres").exists());
    assert!(!s.p.path().join(".goldenpath/registry.db").exists());
}

#[test]
fn requests_provision_databases_with_rules_approvals_and_no_leaked_password() {
    let mut s = Session::new();
    let _servers = Servers(s.p.path().to_path_buf());

    // Platform rules are refusals (exit 3), recorded, nothing changed.
    s.write(
        "RDS-0004",
        &request("RDS-0004", "dev", &[("size", "medium")]),
    );
    let out = s.run(&["request", "apply", "RDS-0004"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    insta::assert_snapshot!("request_refused_dev_size", out.transcript());
    s.write(
        "RDS-0005",
        &request("RDS-0005", "prod", &[("backupRetentionDays", "7")]),
    );
    assert_eq!(s.run(&["request", "validate", "RDS-0005"]).code, 3);

    // The instance, with its two app databases.
    s.ok(&["deploy", "--env", "dev", "--foundational"]);
    let db_list = s.ok(&["db", "list", "--env", "dev"]);
    assert!(db_list.stdout.contains("keycloak"), "{}", db_list.stdout);

    // A high-risk request needs an approval of exactly its content.
    s.write("RDS-0002", &request("RDS-0002", "dev", &[("risk", "high")]));
    let plan = s.ok(&["request", "plan", "RDS-0002"]);
    assert!(
        plan.stdout.contains("required (its risk is high), missing"),
        "{}",
        plan.stdout
    );
    let refused = s.run(&["request", "apply", "RDS-0002"]);
    assert_eq!(refused.code, 3, "{}", refused.transcript());
    assert!(
        refused
            .stderr
            .contains("goldenpath request approve RDS-0002")
    );
    s.ok_as("bob", &["request", "approve", "RDS-0002"]);
    // Changing the request after approval voids the approval.
    s.write(
        "RDS-0002",
        &request("RDS-0002", "dev", &[("risk", "high"), ("storageGb", "30")]),
    );
    assert_eq!(s.run(&["request", "apply", "RDS-0002"]).code, 3);
    s.ok_as("bob", &["request", "approve", "RDS-0002"]);
    let applied = s.ok(&["request", "apply", "RDS-0002"]);
    assert!(
        applied
            .stdout
            .contains("database orders on rds in dev created"),
        "{}",
        applied.stdout
    );
    let again = s.ok(&["request", "apply", "RDS-0002"]);
    assert!(again.stdout.contains("unchanged"), "{}", again.stdout);

    // The secret has the shape apps expect and connects to its database
    // only, with its password only.
    let c = s.credentials("demo/dev/orders/postgres");
    for key in ["username", "password", "host", "port", "dbname", "engine"] {
        assert!(c.get(key).is_some(), "{key} in {c}");
    }
    let password = c["password"].as_str().unwrap().to_string();
    assert!(password.len() >= 32);
    assert!(connects(&c, "orders", &password));
    assert!(
        !connects(&c, "keycloak", &password),
        "another app's database"
    );
    assert!(!connects(&c, "orders", "wrong-password-wrong-password-00"));

    // Re-applying did not rotate it.
    assert_eq!(
        s.credentials("demo/dev/orders/postgres")["password"],
        c["password"]
    );

    // db list: owner, secret, who asked.
    let db_list = s.ok(&["db", "list", "--env", "dev"]);
    let line = db_list
        .stdout
        .lines()
        .find(|l| l.contains(" orders "))
        .unwrap_or_else(|| panic!("{}", db_list.stdout));
    assert!(line.contains("orders_app") && line.contains("demo/dev/orders/postgres"));
    assert!(line.contains("request RDS-0002"), "{line}");
    let listed = s.ok(&["request", "list"]);
    insta::assert_snapshot!("request_list", timestamps(&listed.stdout));

    // secret get without --reveal shows keys only; put reads stdin.
    let redacted = s.ok(&["secret", "get", "demo/dev/orders/postgres"]);
    assert!(redacted.stdout.contains("password: ***"));
    let mut put = s.p.cmd(&["secret", "put", "demo/dev/tokens/api"]);
    put.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = put.spawn().unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        b"{\"token\": \"human-supplied-value-0000\"}\n",
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    s.seen.push_str(&String::from_utf8_lossy(&out.stdout));
    s.seen.push_str(&String::from_utf8_lossy(&out.stderr));
    let listed = s.ok(&["secret", "list"]);
    assert!(listed.stdout.contains("demo/dev/tokens/api"));
    s.ok(&["status", "--env", "dev", "--foundational"]);
    s.ok(&["registry", "export", "--format", "json"]);
    s.ok(&["builds", "list", "--env", "dev"]);
    s.ok(&["-vv", "deploy", "--env", "dev", "--foundational"]);

    // No password anywhere in clear: every output captured, and every file
    // under the state directory — the logs, the registry, the managed
    // server's data directory, its log and bootstrap files, the encrypted
    // store.
    let mut secrets = vec![password, "human-supplied-value-0000".to_string()];
    for app in ["keycloak", "backstage"] {
        secrets.push(
            s.credentials(&format!("demo/dev/{app}/postgres"))["password"]
                .as_str()
                .unwrap()
                .into(),
        );
    }
    secrets.push(
        s.credentials("demo/dev/rds/admin")["password"]
            .as_str()
            .unwrap()
            .into(),
    );
    let mut haystack = s.seen.clone().into_bytes();
    haystack.extend(std::fs::read(s.p.path().join(".goldenpath/registry.db")).unwrap());
    let files = walk(&s.p.path().join(".goldenpath"));
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().contains("/postgres/")),
        "the managed server's files are searched too"
    );
    for f in files {
        haystack.extend(std::fs::read(&f).unwrap_or_default());
    }
    for secret in &secrets {
        assert!(
            !contains(&haystack, secret.as_bytes()),
            "a secret value leaked into output, logs or the registry"
        );
    }

    // Tearing down the protected instance needs --confirm and break-glass.
    let out = s.run(&[
        "teardown",
        "--env",
        "dev",
        "--foundational",
        "rds",
        "--confirm",
    ]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    // Impact before destruction: a request's database is on it. Refused,
    // the dependent named, nothing changed.
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
        "test cleanup",
    ];
    let out = s.run(&glass);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("request RDS-0002's database orders on rds"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--cascade"), "{}", out.stderr);
    assert!(
        connects(&c, "orders", c["password"].as_str().unwrap()),
        "nothing was changed"
    );
    // With --cascade: the request goes first (recorded), then the instance.
    let mut cascade = glass.to_vec();
    cascade.push("--cascade");
    let down = s.ok(&cascade);
    assert!(
        down.stdout
            .contains("torn down first (--cascade): request RDS-0002's database orders on rds"),
        "{}",
        down.stdout
    );
    let list = s.ok(&["request", "list", "--output", "json"]).stdout;
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    let row = v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["request"] == "RDS-0002")
        .unwrap();
    assert_eq!(row["status"], "torn-down", "{row}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
