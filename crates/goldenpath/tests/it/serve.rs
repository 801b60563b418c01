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
    let mut server =
        l.p.cmd(&["serve", "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(server.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
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
