//! The dashboard in a real browser: headless Chromium (Debian's `chromium`
//! and `chromium-driver`, driven over WebDriver) loads the overview, sees
//! backstage pending with its reason before the foundational plane is
//! deployed and the build green after, opens the build's page and finds a
//! point for each finished phase in its chart. Screenshots are saved under
//! the test's target directory.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::e2e::Local;
use crate::requests::Servers;

const B: &str = "23-01-26-01";

/// One HTTP/1.1 request with an optional JSON body: status and body
/// (chunked bodies decoded).
fn http(addr: &str, method: &str, path: &str, body: Option<&serde_json::Value>) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // Headers, then the body by its length (a server may keep the
    // connection open), or its chunks.
    let mut raw: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the connection closed before the headers");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_lowercase();
    let mut rest: Vec<u8> = raw[head_end + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let length = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    let body = if let Some(n) = length {
        while rest.len() < n {
            let got = s.read(&mut buf).unwrap();
            assert!(got > 0, "the connection closed mid-body");
            rest.extend_from_slice(&buf[..got]);
        }
        String::from_utf8_lossy(&rest[..n]).to_string()
    } else {
        // Chunked until the last chunk, or until the server closes.
        loop {
            if rest.ends_with(b"0\r\n\r\n") {
                break;
            }
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(got) => rest.extend_from_slice(&buf[..got]),
            }
        }
        let text = String::from_utf8_lossy(&rest).to_string();
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&after[..n.min(after.len())]);
            rest = after.get(n + 2..).unwrap_or("");
        }
        out
    };
    (status, body)
}

struct Browser {
    driver: std::process::Child,
    addr: String,
    session: String,
}

impl Browser {
    fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver) on PATH; scripts/test.sh installs it");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"],
            },
        }}});
        let (status, body) = http(&addr, "POST", "/session", Some(&caps));
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let session = v["value"]["sessionId"].as_str().unwrap().to_string();
        Browser {
            driver,
            addr,
            session,
        }
    }
    fn call(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
        let (status, text) = http(
            &self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
        );
        assert_eq!(status, 200, "{method} {path}: {text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["value"].clone()
    }
    fn open(&self, url: &str) {
        self.call("POST", "/url", Some(serde_json::json!({"url": url})));
    }
    /// The WebDriver id of the first element `css` selects.
    fn element(&self, css: &str) -> String {
        let el = self.call(
            "POST",
            "/element",
            Some(serde_json::json!({"using": "css selector", "value": css})),
        );
        el.as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }
    /// Types `text` into the field `css` selects (as a user's keys).
    fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call(
            "POST",
            &format!("/element/{id}/clear"),
            Some(serde_json::json!({})),
        );
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(serde_json::json!({"text": text})),
        );
    }
    /// Clicks what `css` selects.
    fn click(&self, css: &str) {
        let id = self.element(css);
        self.call(
            "POST",
            &format!("/element/{id}/click"),
            Some(serde_json::json!({})),
        );
    }
    /// Waits (up to a minute) until `css` selects something: a form's
    /// answer arrives after the click returns.
    fn wait_for(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.count(css) == 0 {
            assert!(Instant::now() < deadline, "{css} never appeared");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    fn text(&self, css: &str) -> String {
        let id = self.element(css);
        self.call("GET", &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap()
            .to_string()
    }
    fn count(&self, css: &str) -> usize {
        self.call(
            "POST",
            "/elements",
            Some(serde_json::json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .unwrap()
        .len()
    }
    /// The serious and critical violations axe-core (npm, in tests/a11y)
    /// finds on the open page, as `rule: how many nodes`.
    fn axe(&self) -> Vec<String> {
        let path = gp_test::repo_root().join("tests/a11y/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; scripts/prereqs.sh installs axe-core (npm ci --prefix tests/a11y)",
                path.display()
            )
        });
        self.call(
            "POST",
            "/execute/sync",
            Some(serde_json::json!({"script": format!("{source}\nreturn true;"), "args": []})),
        );
        let found = self.call(
            "POST",
            "/execute/async",
            Some(serde_json::json!({
                "script": "const done = arguments[arguments.length - 1];\naxe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id + ': ' + v.nodes.length + ' (' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ') + ')'))).catch(e => done(['axe failed: ' + e]));",
                "args": []
            })),
        );
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }
    fn screenshot(&self, name: &str) {
        let png = self.call("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(
            &self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
fn the_dashboard_in_headless_chromium_shows_what_waits_and_a_build_chart() {
    let l = Local::new();
    let _servers = Servers(l.root().to_path_buf());
    // RDS-0001 (alice's, high risk) waits for an approval by bob.
    let tokens = crate::serve::approvals(&l);
    // A build before the foundational plane: backstage waits for it.
    l.deploy(&["--build-id", B]);
    let (mut server, addr) = crate::serve::start_with(&l, &["--tokens", tokens.to_str().unwrap()]);
    let base = format!("http://{addr}");
    let browser = Browser::start();
    browser.open(&format!("{base}/"));
    let title = browser.text("h1");
    assert_eq!(title, "Platform overview");
    let overview = browser.text("main");
    assert!(
        overview.contains(
            "backstage pending: needs rds/backstage, a foundational database not deployed in dev"
        ),
        "{overview}"
    );
    browser.screenshot("overview-before");
    // The foundational plane, then the build again: green, nothing waits.
    l.deploy(&["--foundational"]);
    l.deploy(&["--build-id", B]);
    browser.open(&format!("{base}/"));
    let row = browser.text(&format!("a[href='/ui/dev/{B}']"));
    assert_eq!(row, format!("build {B}"));
    assert_eq!(
        browser.count("span.state.green"),
        2,
        "the foundational plane and the build"
    );
    assert!(!browser.text("main").contains("backstage pending"));
    browser.screenshot("overview-after");
    // The deployment page: components and the graph.
    browser.open(&format!("{base}/ui/dev/{B}"));
    // A group (its nodes are links), not an image.
    assert!(browser.count("svg[role='group'] rect.node") >= 8);
    // Arrows with heads, nodes coloured by state and linked to their rows,
    // a legend entry per state drawn.
    assert!(browser.count("svg marker#arrow") == 1);
    assert!(browser.count("svg path.edge[marker-end='url(#arrow)']") >= 5);
    assert!(browser.count("svg a rect.node.green") >= 5);
    assert!(browser.count("svg g.legend") >= 1);
    assert!(browser.count("tr[id^='component-']") >= 8);
    // A chart per phase of the deployment's newest runs: deployed twice.
    assert_eq!(
        browser.count("svg[aria-label^='deploy duration'] circle.point"),
        2
    );
    assert!(browser.count("main h3") >= 3, "a chart per phase");
    // An error under /ui/ is a page.
    browser.open(&format!("{base}/ui/nope/persistent"));
    assert!(browser.text("main").contains("404"));
    // The build's page: a point per finished phase.
    browser.open(&format!("{base}/ui/dev/builds/{B}"));
    let shown = l.p.ok(&[
        "builds",
        "show",
        "--env",
        "dev",
        "--build-id",
        B,
        "--output",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let finished = v["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["endedUs"].is_null())
        .count();
    assert!(finished > 5);
    assert_eq!(browser.count("svg circle.point"), finished);
    browser.screenshot("build");
    // The environment's history: a point per build deploy, p50 and p95.
    browser.open(&format!("{base}/ui/dev/history"));
    let deploys = v["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["phase"] == "deploy" && !p["endedUs"].is_null())
        .count();
    assert_eq!(deploys, 2, "deployed twice");
    assert_eq!(
        browser.count("svg[aria-label^='deploy duration'] circle.point"),
        deploys
    );
    // One chart each for deploys and teardowns, and one per other build
    // phase the registry report names (at most six).
    let report =
        l.p.ok(&["registry", "report", "--env", "dev", "--output", "json"]);
    let r: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    let others = r["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "build" && p["phase"] != "deploy" && p["phase"] != "teardown")
        .count()
        .min(6);
    assert!(others > 0, "{r}");
    assert_eq!(browser.count("svg line.p50"), 2 + others, "one per chart");
    assert_eq!(browser.count("main h3"), others);
    assert!(
        browser
            .text("#success-rate")
            .contains("2 of 2 build deploys succeeded")
    );
    browser.screenshot("history");
    // The registry report, as `registry report` gives it.
    let report =
        l.p.ok(&["registry", "report", "--env", "dev", "--output", "json"]);
    let r: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(
        browser.count("table:last-of-type tbody tr"),
        r["phases"].as_array().unwrap().len()
    );
    // Requests: RDS-0001 waits; alice (its requester) is refused in the
    // browser too, bob approves it with his token.
    browser.open(&format!("{base}/ui/requests"));
    assert_eq!(
        browser.text("#waiting"),
        "1 of 1 requests wait for an approval."
    );
    assert!(
        browser
            .text("#request-RDS-0001")
            .contains("awaiting platform, security")
    );
    browser.screenshot("requests-waiting");
    browser.type_into("#token-RDS-0001", "alice-token-0123456789");
    browser.type_into("#reason-RDS-0001", "mine");
    browser.click("#request-RDS-0001 button");
    browser.wait_for("#outcome");
    let refused = browser.text("#outcome");
    assert!(refused.contains("cannot approve it"), "{refused}");
    browser.open(&format!("{base}/ui/requests"));
    browser.type_into("#token-RDS-0001", "bob-token-0123456789");
    browser.type_into("#reason-RDS-0001", "capacity checked");
    browser.click("#request-RDS-0001 button");
    browser.wait_for("#outcome");
    assert_eq!(browser.text("#outcome"), "RDS-0001 approved by bob");
    browser.screenshot("request-approved");
    browser.open(&format!("{base}/ui/requests"));
    assert_eq!(
        browser.text("#waiting"),
        "0 of 1 requests wait for an approval."
    );
    let row = browser.text("#request-RDS-0001");
    assert!(row.contains("bob") && row.contains("approved"), "{row}");
    assert!(
        !row.contains("alice"),
        "a refused approval is no approval: {row}"
    );
    // Recorded as the CLI records it, read back by the CLI.
    let listed = l.p.ok(&["request", "list", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let events: Vec<(&str, &str)> = v["requests"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(events, [("refused", "alice"), ("approved", "bob")], "{v}");
    // Leases: each deploy's lease, released; no unlock form for those.
    browser.open(&format!("{base}/ui/leases"));
    assert!(browser.count("tbody tr") >= 2);
    assert_eq!(browser.count("form"), 0, "nothing is held");
    browser.screenshot("leases");
    // Every page, checked by axe-core: no serious or critical violation.
    for page in [
        "/".to_string(),
        format!("/ui/dev/{B}"),
        "/ui/dev/persistent".to_string(),
        format!("/ui/dev/builds/{B}"),
        "/ui/dev/history".to_string(),
        "/ui/requests".to_string(),
        "/ui/leases".to_string(),
        "/ui/nope/persistent".to_string(),
    ] {
        browser.open(&format!("{base}{page}"));
        let violations = browser.axe();
        assert!(violations.is_empty(), "{page}: {violations:?}");
    }
    drop(browser);
    let _ = server.kill();
    let _ = server.wait();
}
