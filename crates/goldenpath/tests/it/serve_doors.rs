//! `goldenpath serve` holds its doors: no listening beyond loopback without
//! a token that works, reads behind a token when asked, a deadline for a
//! request's headers and for an idle connection, a ceiling on connections,
//! a bounded stop whatever clients do, and no answer to a Host it was not
//! started for (DNS rebinding). And the CLI never echoes an argument's
//! control characters raw.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::deploy::Platform;

const EXEC: &str = include_str!("fixtures/exec-platform.yaml");

fn platform() -> Platform {
    let p = Platform::new(EXEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p
}

/// Starts `serve` with `args`; the child and the address it printed.
pub(crate) fn start(p: &Platform, args: &[&str]) -> (Child, String) {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    let mut child = p
        .cmd(&all)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut b = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains(" (catalog") {
        assert_eq!(
            err.read(&mut b).unwrap(),
            1,
            "serve stopped: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.push(b[0]);
    }
    let text = String::from_utf8_lossy(&seen).to_string();
    let addr = text
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    (child, addr)
}

/// One request on a fresh connection: the status and the whole answer.
fn get(addr: &str, host: &str, path: &str, extra: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether the server closed `s` within `within` (reads to end of file).
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    let t = Instant::now();
    loop {
        match s.read(&mut buf) {
            Ok(0) => return t.elapsed() <= within + Duration::from_millis(500),
            Ok(_) => continue,
            Err(_) => return false,
        }
    }
}

#[test]
fn beyond_loopback_a_token_that_works_is_needed() {
    let p = platform();
    let empty = p.path().join("empty.tokens");
    std::fs::write(&empty, "# nobody yet\n\n").unwrap();
    let bad = p.path().join("bad.tokens");
    std::fs::write(&bad, "alice not-a-hash\n").unwrap();
    for args in [
        &["serve", "--listen", "0.0.0.0:0"][..],
        &["serve", "--listen", "0.0.0.0:0", "--tokens", "/dev/null"],
        &[
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--tokens",
            empty.to_str().unwrap(),
        ],
        &[
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--read-tokens",
            empty.to_str().unwrap(),
        ],
        &[
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--tokens",
            "/nonexistent/tokens",
        ],
        &[
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--tokens",
            bad.to_str().unwrap(),
        ],
    ] {
        let out = p.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.transcript());
    }
    // In a directory with no registry there is nothing to serve.
    let fresh = Platform::new(EXEC);
    let out = fresh.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("no registry at"), "{}", out.stderr);
    assert!(!fresh.path().join(".goldenpath/registry.db").exists());
}

#[test]
fn reads_need_a_token_when_asked_and_beyond_loopback() {
    let p = platform();
    let token = "reader-token-0123456789";
    let tokens = p.path().join("read.tokens");
    std::fs::write(
        &tokens,
        format!("viewer sha256:{}\n", crate::serve::sha256_hex(token)),
    )
    .unwrap();
    let (child, addr) = start(
        &p,
        &[
            "--listen",
            "127.0.0.1:0",
            "--read-tokens",
            tokens.to_str().unwrap(),
        ],
    );
    let (code, body) = get(&addr, &addr, "/api/v1/environments", "");
    assert_eq!(code, 401, "{body}");
    assert!(
        body.contains("WWW-Authenticate: Bearer")
            || body.to_lowercase().contains("www-authenticate: bearer"),
        "{body}"
    );
    let (code, body) = get(
        &addr,
        &addr,
        "/api/v1/environments",
        "Authorization: Bearer wrong\r\n",
    );
    assert_eq!(code, 401, "{body}");
    let (code, body) = get(
        &addr,
        &addr,
        "/api/v1/environments",
        &format!("Authorization: Bearer {token}\r\n"),
    );
    assert_eq!(code, 200, "{body}");
    // The dashboard signs in with a form; the cookie then reads.
    let (code, body) = get(&addr, &addr, "/", "");
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("name=\"token\""), "{body}");
    let mut s = TcpStream::connect(&addr).unwrap();
    let form = format!("token={token}");
    write!(
        s,
        "POST /ui/sign-in HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let cookie = answer
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(
        answer.contains("HttpOnly") && answer.contains("SameSite=Strict"),
        "{answer}"
    );
    let (code, body) = get(&addr, &addr, "/", &format!("Cookie: {cookie}\r\n"));
    assert_eq!(code, 200, "{body}");
    // The health checks stay open.
    assert_eq!(get(&addr, &addr, "/healthz", "").0, 200);
    stop(child);
    // Beyond loopback reads need a token without being asked.
    let changers = p.path().join("change.tokens");
    std::fs::write(
        &changers,
        format!("alice sha256:{}\n", crate::serve::sha256_hex(token)),
    )
    .unwrap();
    let (child, any) = start(
        &p,
        &[
            "--listen",
            "0.0.0.0:0",
            "--tokens",
            changers.to_str().unwrap(),
        ],
    );
    let addr = format!("127.0.0.1:{}", any.rsplit(':').next().unwrap());
    assert_eq!(get(&addr, &addr, "/api/v1/environments", "").0, 401);
    assert_eq!(get(&addr, &addr, "/", "").0, 401);
    let bearer = format!("Authorization: Bearer {token}\r\n");
    assert_eq!(get(&addr, &addr, "/api/v1/environments", &bearer).0, 200);
    // Any address of the machine, never a name it was not given.
    assert_eq!(
        get(
            &addr,
            "rebind.attacker.example",
            "/api/v1/environments",
            &bearer
        )
        .0,
        421
    );
    stop(child);
}

#[test]
fn a_host_the_server_was_not_started_for_is_refused() {
    let p = platform();
    let (child, addr) = start(
        &p,
        &["--listen", "127.0.0.1:0", "--host", "dashboard.internal"],
    );
    let port = addr.rsplit(':').next().unwrap();
    for ok in [
        addr.clone(),
        format!("localhost:{port}"),
        "dashboard.internal".into(),
    ] {
        assert_eq!(get(&addr, &ok, "/api/v1/environments", "").0, 200, "{ok}");
    }
    // A page on a name that rebinds to 127.0.0.1 sends its own name.
    for bad in [
        format!("rebind.attacker.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        String::new(),
    ] {
        let (code, body) = get(&addr, &bad, "/api/v1/environments", "");
        assert_eq!(code, 421, "{bad}: {body}");
        let (code, _) = get(&addr, &bad, "/api/v1/events", "");
        assert_eq!(code, 421, "{bad}");
    }
    stop(child);
}

#[test]
fn a_slow_or_idle_client_is_closed_after_the_header_timeout() {
    let p = platform();
    let (child, addr) = start(&p, &["--listen", "127.0.0.1:0", "--header-timeout", "1"]);
    // Half a request line, then nothing.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /api/v1/environments HTTP/1.1\r\nHost: ")
        .unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)),
        "a slow client is closed"
    );
    // A kept-alive connection that sends nothing more.
    let mut idle = TcpStream::connect(&addr).unwrap();
    write!(idle, "GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut first = [0u8; 64];
    assert!(idle.read(&mut first).unwrap() > 0);
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)),
        "an idle connection is closed"
    );
    assert_eq!(get(&addr, &addr, "/healthz", "").0, 200);
    stop(child);
}

#[test]
fn held_connections_past_the_limit_are_closed_and_the_server_still_answers() {
    let p = platform();
    let (child, addr) = start(
        &p,
        &[
            "--listen",
            "127.0.0.1:0",
            "--max-connections",
            "4",
            "--header-timeout",
            "30",
        ],
    );
    let held: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = TcpStream::connect(&addr).unwrap();
    assert!(
        closed_within(&mut extra, Duration::from_secs(3)),
        "past the limit a connection is closed at once"
    );
    drop(held);
    // The slots come back as the held connections go.
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&addr, &addr, "/healthz", "").0 != 200 {
        assert!(Instant::now() < deadline, "the server never answered again");
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(child);
}

#[test]
fn sigterm_stops_the_server_in_bounded_time_whatever_clients_do() {
    let p = platform();
    let (mut child, addr) = start(&p, &["--listen", "127.0.0.1:0", "--header-timeout", "600"]);
    // Half-open requests, an open event stream, and a request body
    // promised and never sent.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(b"GET /api/v1/environments HTTP/1.1\r\nHost: x")
            .unwrap();
        held.push(s);
    }
    let mut events = TcpStream::connect(&addr).unwrap();
    write!(
        events,
        "GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    )
    .unwrap();
    held.push(events);
    let mut body = TcpStream::connect(&addr).unwrap();
    write!(
        body,
        "POST /api/v1/requests/RDS-0001/approve HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\n\r\n{{"
    )
    .unwrap();
    held.push(body);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "serve did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(held);
}

#[test]
fn control_characters_of_an_argument_are_never_echoed_raw() {
    let p = platform();
    for args in [
        &["status", "--env", "dev\u{1b}[2J\nerror: all good"][..],
        &["request", "show", "RDS\u{7}\u{1b}]0;pwned\u{7}"],
        &[
            "builds",
            "show",
            "--env",
            "dev",
            "--build-id",
            "x\ry\u{1b}[31m",
        ],
        &[
            "secret",
            "get",
            "--env",
            "dev",
            "--path",
            "a/\u{1b}[1mb\nerror: forged",
        ],
        &["status", "--output", "te\u{1b}xt"],
    ] {
        let out = p.run(args);
        assert_ne!(out.code, 0, "{args:?}");
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !stream.contains('\u{1b}') && !stream.contains('\u{7}') && !stream.contains('\r'),
                "{args:?}: {stream:?}"
            );
            assert!(
                !stream
                    .lines()
                    .any(|l| l.starts_with("error: all good") || l.starts_with("error: forged")),
                "{args:?}: a forged line: {stream}"
            );
        }
    }
}

/// A POST on a fresh connection: the status.
fn post(addr: &str, path: &str, headers: &str, content_type: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    (
        out.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        out,
    )
}

/// Every row count of the registry: what a change would add to.
fn rows(p: &Platform) -> Vec<(String, i64)> {
    let c = rusqlite::Connection::open(p.path().join(".goldenpath/registry.db")).unwrap();
    let mut st = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    let tables: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    tables
        .into_iter()
        .map(|t| {
            let n = c
                .query_row(&format!("SELECT COUNT(*) FROM \"{t}\""), [], |r| r.get(0))
                .unwrap();
            (t, n)
        })
        .collect()
}

#[test]
fn a_server_without_tokens_changes_nothing_through_any_door() {
    let p = Platform::new(&crate::tampering::spec());
    let _servers = crate::requests::Servers(p.path().to_path_buf());
    crate::tampering::story(&p);
    // Something to change: a request awaiting its approval, a held lease.
    std::fs::write(
        p.path().join("requests/RDS-0003.yaml"),
        crate::tampering::request("RDS-0003", "ledger", "high"),
    )
    .unwrap();
    p.ok(&["request", "plan", "RDS-0003"]);
    crate::tampering::hold_a_lease(&p);
    let token = "approver-token-0123456789";
    let tokens = p.path().join("change.tokens");
    std::fs::write(
        &tokens,
        format!("bob sha256:{}\n", crate::serve::sha256_hex(token)),
    )
    .unwrap();
    // The doors, as a server that takes changes shows them: every POST
    // operation of its API and every form of its dashboard.
    let (with, addr) = start(
        &p,
        &[
            "--listen",
            "127.0.0.1:0",
            "--tokens",
            tokens.to_str().unwrap(),
        ],
    );
    let (_, doc) = get(&addr, &addr, "/api/v1/openapi.json", "");
    let doc: serde_json::Value =
        serde_json::from_str(doc.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let mut api: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, ops)| ops.get("post").is_some())
        .map(|(path, _)| {
            path.replace("{id}", "RDS-0003")
                .replace("{env}", "dev")
                .replace("{deployment}", "persistent")
        })
        .collect();
    api.sort();
    let mut forms = Vec::new();
    for page in ["/ui/requests", "/ui/leases"] {
        let (_, html) = get(&addr, &addr, page, "");
        for action in html.split("method=\"post\" action=\"").skip(1) {
            forms.push(action.split('"').next().unwrap().replace("&#x2F;", "/"));
        }
    }
    stop(with);
    assert!(api.len() >= 2, "{api:?}");
    assert!(
        forms.iter().any(|f| f.contains("/approve")) && forms.iter().any(|f| f.contains("/unlock")),
        "{forms:?}"
    );
    let before = rows(&p);
    let (without, addr) = start(&p, &["--listen", "127.0.0.1:0"]);
    for path in &api {
        for auth in ["", &format!("Authorization: Bearer {token}\r\n")] {
            let (code, body) = post(
                &addr,
                path,
                auth,
                "application/json",
                "{\"reason\": \"because\"}",
            );
            assert!(
                code == 401 || code == 403,
                "POST {path} ({auth:?}) answered {code}: {body}"
            );
        }
    }
    for form in &forms {
        let (code, body) = post(
            &addr,
            form,
            "",
            "application/x-www-form-urlencoded",
            &format!("token={token}&reason=because"),
        );
        assert!(
            code == 401 || code == 403,
            "POST {form} answered {code}: {body}"
        );
    }
    stop(without);
    assert_eq!(rows(&p), before, "nothing was recorded");
    let lease = p.ok(&["lease", "list", "--output", "json"]);
    assert!(lease.stdout.contains("\"held\""), "{}", lease.stdout);
}
