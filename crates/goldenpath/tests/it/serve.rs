//! `goldenpath serve`'s live stream: the events of a deploy run by another
//! process arrive over Server-Sent Events, in the order the registry
//! recorded them, and a reconnect with `Last-Event-ID` resumes after the
//! last one seen; SIGTERM ends open streams and stops the server.

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::e2e::Local;
use crate::requests::Servers;

const B: &str = "23-01-26-01";

/// One server-sent event: id, event, data.
type Sse = (String, String, serde_json::Value);

/// Starts `serve` on a free port: the child and its address.
pub(crate) fn start(l: &Local) -> (std::process::Child, String) {
    start_with(l, &[])
}

/// Starts `serve` on a free port with `extra` arguments.
pub(crate) fn start_with(l: &Local, extra: &[&str]) -> (std::process::Child, String) {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut server =
        l.p.cmd(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    // The address line, after any warning (a superuser's registry, say).
    let mut seen = String::new();
    let mut stderr = std::io::BufReader::new(server.stderr.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("serve stopped before listening: {seen}");
        }
        if let Some(addr) = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
        {
            break addr.to_string();
        }
        seen.push_str(&line);
    };
    (server, addr)
}

/// Opens `/api/v1/events` (with `Last-Event-ID` when given) and sends each
/// event down the channel, from a thread of its own.
fn subscribe(addr: &str, last: Option<&str>) -> mpsc::Receiver<Sse> {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let extra = last
        .map(|id| format!("Last-Event-ID: {id}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{extra}\r\n"
    )
    .unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let reader = std::io::BufReader::new(s);
        let (mut id, mut event) = (String::new(), String::new());
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if let Some(v) = line
                .strip_prefix("id: ")
                .or_else(|| line.strip_prefix("id:"))
            {
                id = v.trim().to_string();
            } else if let Some(v) = line
                .strip_prefix("event: ")
                .or_else(|| line.strip_prefix("event:"))
            {
                event = v.trim().to_string();
            } else if let Some(v) = line
                .strip_prefix("data: ")
                .or_else(|| line.strip_prefix("data:"))
            {
                let data = serde_json::from_str(v.trim()).unwrap_or_default();
                if tx.send((id.clone(), event.clone(), data)).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Events until `done` says one is the last wanted (90 s at most).
fn until(rx: &mpsc::Receiver<Sse>, mut done: impl FnMut(&Sse) -> bool) -> Vec<Sse> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("timed out; so far: {out:#?}"));
        let stop = done(&e);
        out.push(e);
        if stop {
            return out;
        }
    }
}

fn succeeded(e: &Sse) -> bool {
    e.1 == "deployment" && e.2["deployment"] == B && e.2["data"]["event"] == "deploy_succeeded"
}

#[test]
fn a_deploy_in_another_process_streams_live_in_order_and_resumes_from_last_event_id() {
    let l = Local::new();
    let _servers = Servers(l.root().to_path_buf());
    l.deploy(&["--foundational"]);
    let (mut server, addr) = start(&l);
    let rx = subscribe(&addr, None);
    // The deploy runs in a process of its own, after the stream is open.
    l.deploy(&["--build-id", B]);
    let seen = until(&rx, succeeded);
    // In the order recorded: cursors (time, then id) never go back.
    let at = |e: &Sse| e.2["atUs"].as_i64().unwrap();
    for w in seen.windows(2) {
        assert!(
            (at(&w[0]), w[0].0.as_str()) < (at(&w[1]), w[1].0.as_str()),
            "{:?} then {:?}",
            w[0],
            w[1]
        );
    }
    let of_b: Vec<&Sse> = seen.iter().filter(|e| e.2["deployment"] == B).collect();
    let started = of_b
        .iter()
        .position(|e| e.2["data"]["event"] == "deploy_started")
        .expect("deploy_started");
    let phases = of_b.iter().filter(|e| e.1 == "phase").count();
    assert!(phases >= 6, "{phases} phase events of {B}");
    assert!(
        of_b[..started].iter().all(|e| e.1 != "phase"),
        "phases after the start"
    );
    // Resumed after the start: everything after it, nothing before.
    let resume_id = of_b[started].0.clone();
    let rx2 = subscribe(&addr, Some(&resume_id));
    let again = until(&rx2, succeeded);
    let expected: Vec<&str> = seen
        .iter()
        .skip_while(|e| e.0 != resume_id)
        .skip(1)
        .map(|e| e.0.as_str())
        .collect();
    let got: Vec<&str> = again.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(got, expected);
    // A cursor that is not one is refused.
    let (status, _, _) = crate::catalog::http_get(&addr, "/api/v1/events?after=nonsense");
    assert_eq!(status, 400);
    // SIGTERM with two streams open: they end, the server exits cleanly.
    std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A POST with a bearer token (when given) and a JSON body: the status and
/// the body.
fn post(addr: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (
        head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        body.to_string(),
    )
}

pub(crate) fn sha256_hex(text: &str) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(text.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Approvers in the spec (bob for both routes), RDS-0001 requested by
/// alice (high risk: it needs an approval), and a tokens file holding the
/// hashes of alice's, bob's and carol's tokens: its path.
pub(crate) fn approvals(l: &Local) -> std::path::PathBuf {
    let spec_path = l.root().join("goldenpath.yaml");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    std::fs::write(
        &spec_path,
        spec.replacen(
            "components:\n",
            "requests:\n  approvers: { platform: [bob], security: [bob] }\ncomponents:\n",
            1,
        ),
    )
    .unwrap();
    std::fs::create_dir_all(l.root().join("requests")).unwrap();
    std::fs::write(
        l.root().join("requests/RDS-0001.yaml"),
        "id: RDS-0001\nenvironment: dev\ndatabaseName: orders\nusername: orders_app\nsize: small\nowner: team-orders\nrequester: alice\ndomain: commerce\nrisk: high\n",
    )
    .unwrap();
    // Tokens at rest as hashes only.
    let tokens = l.root().join("tokens.txt");
    std::fs::write(
        &tokens,
        format!(
            "# who may change things\nalice sha256:{}\nbob sha256:{}\ncarol sha256:{}\n",
            sha256_hex("alice-token-0123456789"),
            sha256_hex("bob-token-0123456789"),
            sha256_hex("carol-token-0123456789")
        ),
    )
    .unwrap();
    assert!(
        !std::fs::read_to_string(&tokens)
            .unwrap()
            .contains("bob-token")
    );
    tokens
}

#[test]
fn changes_need_a_token_of_an_approver_and_keep_the_separation_of_duties() {
    let l = Local::new();
    let _servers = Servers(l.root().to_path_buf());
    let tokens = approvals(&l);
    l.deploy(&["--foundational"]);
    // A tokens file that is not one: exit 2 at its line.
    let bad = l.root().join("bad-tokens.txt");
    std::fs::write(&bad, "alice hunter2\n").unwrap();
    let out = l.p.run(&["serve", "--tokens", bad.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("bad-tokens.txt:1:1"), "{}", out.stderr);
    let (mut server, addr) = start_with(&l, &["--tokens", tokens.to_str().unwrap()]);
    let approve = "/api/v1/requests/RDS-0001/approve";
    let reason = "{\"reason\": \"capacity checked\"}";
    assert_eq!(post(&addr, approve, None, reason).0, 401, "no token");
    assert_eq!(
        post(&addr, approve, Some("guess"), reason).0,
        401,
        "wrong token"
    );
    let (status, body) = post(&addr, approve, Some("alice-token-0123456789"), reason);
    assert_eq!(status, 403, "the requester approving her own: {body}");
    assert!(body.contains("cannot approve it"), "{body}");
    let (status, body) = post(&addr, approve, Some("carol-token-0123456789"), reason);
    assert_eq!(status, 403, "not an approver: {body}");
    let (status, body) = post(&addr, approve, Some("bob-token-0123456789"), reason);
    assert_eq!(status, 200, "{body}");
    // Recorded like the CLI's: the refusals and the approval, by whom.
    let listed = l.p.ok(&["request", "list", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let events: Vec<(String, String)> = v["requests"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().into(),
                e["actor"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("refused".to_string(), "alice".to_string()),
            ("refused".into(), "carol".into()),
            ("approved".into(), "bob".into()),
        ],
        "{v}"
    );
    // A forced unlock: an approver with a reason.
    let unlock = "/api/v1/leases/dev/foundational/unlock";
    assert_eq!(
        post(&addr, unlock, Some("carol-token-0123456789"), reason).0,
        403
    );
    assert_eq!(
        post(&addr, unlock, Some("bob-token-0123456789"), "{}").0,
        400
    );
    assert_eq!(
        post(&addr, unlock, Some("bob-token-0123456789"), reason).0,
        200
    );
    // Bodies are bounded.
    let big = format!("{{\"reason\": \"{}\"}}", "x".repeat(5000));
    assert_eq!(
        post(&addr, approve, Some("bob-token-0123456789"), &big).0,
        413
    );
    let _ = server.kill();
    let _ = server.wait();
}

/// The API fuzzed from its own OpenAPI document by schemathesis (PyPI,
/// in the test virtual environment): a bounded number of generated cases
/// per operation, over a registry filled by real deploys, with a token so
/// the changes are reached too. No 5xx, no response outside the document
/// (schema, status code, content type).
#[test]
fn the_api_fuzzed_from_its_openapi_document_answers_within_it() {
    let l = Local::new();
    let _servers = Servers(l.root().to_path_buf());
    let tokens = approvals(&l);
    l.deploy(&["--foundational"]);
    l.deploy(&["--build-id", B]);
    let (mut server, addr) = start_with(&l, &["--tokens", tokens.to_str().unwrap()]);
    let st = gp_test::moto::venv().join("bin/schemathesis");
    assert!(
        st.exists(),
        "{} is missing: scripts/prereqs.sh installs schemathesis into the test virtual environment",
        st.display()
    );
    let work = l.root().join("fuzz");
    std::fs::create_dir_all(&work).unwrap();
    let out = std::process::Command::new(&st)
        .current_dir(&work)
        .args([
            "run",
            &format!("http://{addr}/api/v1/openapi.json"),
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            "--max-examples",
            "30",
            "--seed",
            "20261201",
            "--no-color",
            "-H",
            "Authorization: Bearer bob-token-0123456789",
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found failures:\n{text}");
    // It ran every operation and generated cases.
    assert!(text.contains("Tested: 14"), "{text}");
    let generated: u32 = text
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" generated, ")
                .and_then(|(n, _)| n.parse().ok())
        })
        .unwrap_or(0);
    assert!(generated >= 100, "{generated} cases:\n{text}");
    let _ = server.kill();
    let _ = server.wait();
}

/// The same server over a shared PostgreSQL registry: every endpoint
/// answers as its OpenAPI document says, over deploys the CLI recorded
/// there, and a deploy run by another process (another runner, as far as
/// the registry can tell) streams live; the rows are read back with an
/// independent PostgreSQL client.
#[test]
fn over_a_postgresql_registry_every_endpoint_conforms_and_a_deploy_streams_live() {
    let pg = gp_test::postgres::TestPostgres::start();
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    admin.batch_execute("CREATE DATABASE ledger").unwrap();
    let mut l = Local::new();
    l.p.env = vec![
        ("GOLDENPATH_REGISTRY".into(), pg.url_for("ledger")),
        (
            "GOLDENPATH_REGISTRY_KEY".into(),
            "a-shared-registry-key-0123456789abcdef".into(),
        ),
    ];
    let _servers = Servers(l.root().to_path_buf());
    l.deploy(&["--foundational"]);
    let (mut server, addr) = start(&l);
    let rx = subscribe(&addr, None);
    l.deploy(&["--build-id", B]);
    let seen = until(&rx, succeeded);
    assert!(
        seen.iter()
            .any(|e| e.1 == "phase" && e.2["deployment"] == B)
    );
    crate::catalog::conforms(&addr, B);
    // Nothing went to a SQLite file; the rows are in PostgreSQL.
    assert!(!l.state().join("registry.db").exists());
    let mut ledger = postgres::Client::connect(&pg.url_for("ledger"), postgres::NoTls).unwrap();
    let rows = ledger
        .query_one(
            "SELECT COUNT(*) FROM deployment_events WHERE deployment = $1 AND event = 'deploy_succeeded'",
            &[&B],
        )
        .unwrap();
    assert_eq!(rows.get::<_, i64>(0), 1);
    let (_, _, status) =
        crate::catalog::http_get(&addr, &format!("/api/v1/environments/dev/deployments/{B}"));
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["status"], "live", "{v}");
    let _ = server.kill();
    let _ = server.wait();
}
