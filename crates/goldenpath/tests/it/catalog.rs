//! The Backstage catalog as a projection of goldenpath: the local example's
//! entities validated by Backstage's own `@backstage/catalog-model` (Node.js,
//! `tests/backstage`), every relation against the deployment graph, a
//! torn-down build's entities gone from the catalog and from `--out`, and
//! the catalog served by `goldenpath serve` at one URL, always current.

use crate::e2e::Local;
use crate::requests::Servers;

const B: &str = "23-01-26-01";

/// Backstage's validators over `entities` (as `catalog --output json`
/// prints them): the problems they report.
pub(crate) fn backstage_problems(dir: &std::path::Path, json: &str) -> Vec<String> {
    let validator = gp_test::repo_root().join("tests/backstage");
    assert!(
        validator
            .join("node_modules/@backstage/catalog-model")
            .is_dir(),
        "Backstage's catalog model is not installed: npm ci --prefix tests/backstage (scripts/test.sh does it)"
    );
    let file = dir.join("entities.json");
    std::fs::write(&file, json).unwrap();
    let out = std::process::Command::new("node")
        .arg(validator.join("validate.js"))
        .arg(&file)
        .output()
        .expect("node (Node.js) on PATH");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "the validator answered: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(v["checked"].as_u64().unwrap() > 0);
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

fn entities(l: &Local) -> (String, Vec<serde_json::Value>) {
    let out = l.p.ok(&["catalog", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    (
        out.stdout.clone(),
        v["entities"].as_array().unwrap().clone(),
    )
}

#[test]
fn the_catalog_is_what_backstage_accepts_follows_the_graph_and_forgets_torn_down_builds() {
    let l = Local::new();
    let _servers = Servers(l.root().to_path_buf());
    l.deploy(&["--foundational"]);
    l.deploy(&["--build-id", B]);
    let (json, all) = entities(&l);
    let scratch = gp_test::tempdir();
    assert_eq!(
        backstage_problems(scratch.path(), &json),
        Vec::<String>::new()
    );
    let named = |kind: &str, name: &str| {
        all.iter()
            .find(|e| e["kind"] == kind && e["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind} {name} in {all:#?}"))
            .clone()
    };
    // The platform, the environment, the owner.
    named("Domain", "goldenpath-local");
    named("System", "goldenpath-local-dev");
    named("Group", "platform-team");
    // The build's app, with its expiry and where the registry shows it.
    let app = named("Component", &format!("backstage-dev-{B}"));
    assert_eq!(app["spec"]["lifecycle"], "ephemeral");
    let ann = &app["metadata"]["annotations"];
    assert_eq!(ann["goldenpath.io/build-id"], B);
    assert!(
        ann["goldenpath.io/expires-at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(
        ann["goldenpath.io/registry"],
        format!("goldenpath builds show --env dev --build-id {B}")
    );
    // Foundational resources once, with their databases and secrets.
    assert_eq!(
        named("Resource", "rds-dev")["spec"]["type"],
        "database-instance"
    );
    named("Resource", "backstage-db-rds-dev");
    named("Resource", "secret-goldenpath-dev-backstage-postgres");
    // Every edge of the build's graph is a dependsOn of the entity it
    // starts from, naming the entity it ends at; and nothing more.
    let graph =
        l.p.ok(&["graph", "--env", "dev", "--build-id", B, "--output", "json"]);
    let graph: serde_json::Value = serde_json::from_str(&graph.stdout).unwrap();
    // What runs in the build (keycloak, persistent-only, is skipped).
    let runs: Vec<&str> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["disposition"] == "run")
        .map(|n| n["component"].as_str().unwrap())
        .collect();
    let mut edges: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for e in graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| runs.contains(&e["from"].as_str().unwrap()))
    {
        edges
            .entry(e["from"].as_str().unwrap().to_string())
            .or_default()
            .push((
                e["to"].as_str().unwrap().to_string(),
                e["need"].as_str().unwrap().to_string(),
            ));
    }
    let mut checked = 0;
    for (from, tos) in &edges {
        let entity = all
            .iter()
            .find(|e| e["metadata"]["name"] == format!("{from}-dev-{B}"))
            .unwrap_or_else(|| panic!("an entity for {from}"));
        let depends: Vec<&str> = entity["spec"]["dependsOn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        assert_eq!(depends.len(), tos.len(), "{from}: {depends:?} for {tos:?}");
        for (to, need) in tos {
            let want = match need.split_once('/') {
                Some((_, db)) => format!("/{db}-db-{to}-dev"),
                None => format!("/{to}-dev"),
            };
            assert!(
                depends
                    .iter()
                    .any(|d| d.ends_with(&want) || d.ends_with(&format!("{want}-{B}"))),
                "{from} -> {need}: {depends:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "{checked} edges");
    // A database a self-service request created: the requesting team owns
    // it, a Group of its own; Backstage still accepts every entity.
    std::fs::create_dir_all(l.root().join("requests")).unwrap();
    std::fs::write(
        l.root().join("requests/RDS-0001.yaml"),
        "id: RDS-0001\nenvironment: dev\ndatabaseName: orders\nusername: orders_app\nsize: small\nowner: team-orders\nrequester: alice\ndomain: commerce\nrisk: low\n",
    )
    .unwrap();
    l.p.ok(&["request", "apply", "RDS-0001"]);
    let (json, with_request) = entities(&l);
    assert_eq!(
        backstage_problems(scratch.path(), &json),
        Vec::<String>::new()
    );
    let orders = with_request
        .iter()
        .find(|e| e["kind"] == "Resource" && e["metadata"]["name"] == "orders-db-rds-dev")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(orders["spec"]["owner"], "group:default/team-orders");
    assert_eq!(
        orders["metadata"]["annotations"]["goldenpath.io/request"],
        "RDS-0001"
    );
    assert!(
        with_request
            .iter()
            .any(|e| e["kind"] == "Group" && e["metadata"]["name"] == "team-orders")
    );
    // As files for a Backstage location, then the build torn down.
    let out = l.root().join("catalog");
    l.p.ok(&["catalog", "--out", out.to_str().unwrap()]);
    let location = std::fs::read_to_string(out.join("catalog-info.yaml")).unwrap();
    let app_file = format!("component-backstage-dev-{B}.yaml");
    assert!(location.contains(&format!("./{app_file}")), "{location}");
    assert!(out.join(&app_file).exists());
    l.p.ok(&["teardown", "--env", "dev", "--build-id", B]);
    let (json, after) = entities(&l);
    assert!(
        !after
            .iter()
            .any(|e| e["metadata"]["annotations"]["goldenpath.io/build-id"] == B),
        "{json}"
    );
    assert_eq!(
        backstage_problems(scratch.path(), &json),
        Vec::<String>::new()
    );
    l.p.ok(&["catalog", "--out", out.to_str().unwrap()]);
    assert!(
        !out.join(&app_file).exists(),
        "the torn-down build's file is removed"
    );
    let location = std::fs::read_to_string(out.join("catalog-info.yaml")).unwrap();
    assert!(!location.contains(B), "{location}");
    assert!(out.join("resource-rds-dev.yaml").exists());
}

/// A GET over a plain TCP connection (an HTTP client of its own): the
/// status, the headers and the body.
pub(crate) fn http_get(addr: &str, path: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_lowercase(), body.to_string())
}

/// Every GET of the server's OpenAPI document, with `dev` and `build` for
/// its parameters, answers 200 with a body its schema accepts: the bodies.
pub(crate) fn conforms(addr: &str, build: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    let (status, _, doc) = http_get(addr, "/api/v1/openapi.json");
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut answered = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        if item.get("get").is_none() {
            continue; // a change (tested with tokens in serve.rs)
        }
        let path = template
            .replace("{env}", "dev")
            .replace("{deployment}", build)
            .replace("{build}", build);
        let (status, _, body) = http_get(addr, &path);
        assert_eq!(status, 200, "{path}: {body}");
        let schema = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "components": doc["components"],
        });
        let validator = jsonschema::validator_for(&schema).unwrap();
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{path}: {errors:?}");
        answered += 1;
        bodies.push(body);
    }
    assert!(answered >= 10, "{answered} endpoints");
    bodies
}

#[test]
fn serve_gives_backstage_one_url_that_is_always_current() {
    let l = Local::new();
    let _servers = Servers(l.root().to_path_buf());
    l.deploy(&["--foundational"]);
    l.deploy(&["--build-id", B]);
    // Anywhere but loopback is refused at start: no tokens in this version.
    let open = l.p.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(open.code, 2, "{}", open.transcript());
    let (mut server, addr) = crate::serve::start(&l);
    assert_eq!(http_get(&addr, "/healthz").0, 200);
    assert_eq!(http_get(&addr, "/readyz").0, 200);
    let (status, head, json) = http_get(&addr, "/api/v1/catalog");
    assert_eq!(status, 200);
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    let scratch = gp_test::tempdir();
    assert_eq!(
        backstage_problems(scratch.path(), &json),
        Vec::<String>::new()
    );
    let (status, head, yaml) = http_get(&addr, "/catalog/catalog-info.yaml");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/yaml"), "{head}");
    let served: usize = yaml.matches("\n---\n").count() + usize::from(yaml.starts_with("---\n"));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(served, v["entities"].as_array().unwrap().len());
    assert!(yaml.contains(&format!("name: backstage-dev-{B}")));
    // Every endpoint of the OpenAPI document answers as its schema says.
    let mut bodies = conforms(&addr, B);
    // No secret value is served, by the API or the dashboard: every value
    // of every secret in the store, read back by the CLI, is absent.
    for page in [
        "/".to_string(),
        format!("/ui/dev/{B}"),
        format!("/ui/dev/builds/{B}"),
        "/ui/dev/history".into(),
        "/ui/requests".into(),
        "/ui/leases".into(),
        "/catalog/catalog-info.yaml".into(),
    ] {
        let (status, _, body) = http_get(&addr, &page);
        assert_eq!(status, 200, "{page}");
        bodies.push(body);
    }
    let mut values = Vec::new();
    for path in l.secret_paths() {
        match l.secret(&path) {
            serde_json::Value::String(v) => values.push(format!("{path}#={v}")),
            serde_json::Value::Object(m) => values.extend(
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| format!("{path}#{k}={v}"))),
            ),
            _ => {}
        }
    }
    let values: Vec<(String, String)> = values
        .into_iter()
        .filter_map(|v| {
            v.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        // The secret parts: not a username, host or database name, which
        // the catalog and the contract name in the open.
        .filter(|(k, v)| {
            v.len() >= 12
                && ["password", "token", "key", "secret", "#="]
                    .iter()
                    .any(|s| k.to_lowercase().contains(s))
        })
        .collect();
    assert!(values.len() >= 4, "{} secret values", values.len());
    for (key, v) in &values {
        assert!(
            bodies.iter().all(|b| !b.contains(v.as_str())),
            "the value of {key} was served"
        );
    }
    let (status, _, mermaid) = http_get(
        &addr,
        &format!("/api/v1/environments/dev/deployments/{B}/graph?format=mermaid"),
    );
    assert_eq!(status, 200);
    let cli = l.p.ok(&["graph", "--env", "dev", "--build-id", B]).stdout;
    assert_eq!(mermaid.trim_end(), cli.trim_end(), "the CLI's graph");
    // Paged builds; a missing build, environment or deployment is a 404.
    let (_, _, page) = http_get(&addr, "/api/v1/environments/dev/builds?limit=1&offset=0");
    let page: serde_json::Value = serde_json::from_str(&page).unwrap();
    assert_eq!(page["builds"].as_array().unwrap().len(), 1);
    assert_eq!(page["total"], 1);
    for missing in [
        "/api/v1/environments/nope",
        "/api/v1/environments/dev/builds/01-01-26-09",
        "/api/v1/environments/dev/deployments/sideways",
    ] {
        let (status, head, body) = http_get(&addr, missing);
        assert_eq!(status, 404, "{missing}: {body}");
        assert!(
            head.contains("application/problem+json"),
            "{missing}: {head}"
        );
    }
    // Bounded queries.
    let long = format!("/api/v1/catalog?env={}", "x".repeat(3000));
    assert_eq!(http_get(&addr, &long).0, 414);
    // Always current: the build torn down is gone from the same URL.
    l.p.ok(&["teardown", "--env", "dev", "--build-id", B]);
    let (_, _, yaml) = http_get(&addr, "/catalog/catalog-info.yaml");
    assert!(!yaml.contains(B), "{yaml}");
    // Errors are problem documents without internals.
    let (status, head, body) = http_get(&addr, "/api/v1/nothing");
    assert_eq!(status, 404);
    assert!(head.contains("application/problem+json"), "{head}");
    assert!(body.contains("\"status\":404"), "{body}");
    // SIGTERM stops it cleanly.
    std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
}
