//! The doors at the router, with the crate's own tests: the Host check,
//! the read gate and its sign-in, and who a change token or a form's token
//! makes the actor — asserted through the registry a change writes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use super::auth::{Access, Tokens};
use super::{Shared, router};

const SPEC: &str = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: p
prefix: p
domain: example.io
owner: t
environments:
  dev: {}
requests:
  approvers: { platform: [alice] }
components: []
";

fn sha(t: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(t.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn tokens(dir: &std::path::Path, name: &str, text: &str) -> Tokens {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    Tokens::load(&path).unwrap()
}

/// A reader's token of exactly 512 characters, the longest a sign-in takes.
fn long_token() -> String {
    "r".repeat(512)
}

struct Server {
    _dir: tempfile::TempDir,
    shared: Arc<Shared>,
    rt: tokio::runtime::Runtime,
}

impl Server {
    /// Listening on 127.0.0.1:8480 (not bound: requests are handed to the
    /// router), changers alice (an approver) and bob, a reader.
    fn new(changers: bool, reads_need_token: bool) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let platform =
            gp_core::Platform::from_source(&dir.path().join("goldenpath.yaml"), SPEC).unwrap();
        let registry = gp_registry::Registry::open(&gp_registry::Location::Sqlite(
            dir.path().join("registry.db"),
        ))
        .unwrap();
        let changers = changers.then(|| {
            tokens(
                dir.path(),
                "tokens",
                &format!(
                    "alice sha256:{}\nbob sha256:{}\n",
                    sha("alice-token"),
                    sha("bob-token")
                ),
            )
        });
        // Readers whose tokens a sign-in refuses whatever the file says:
        // too long, with a blank, empty.
        let readers = tokens(
            dir.path(),
            "readers",
            &format!(
                "viewer sha256:{}\nlong sha256:{}\ntoolong sha256:{}\nblank sha256:{}\nempty sha256:{}\n",
                sha("reader-token"),
                sha(&long_token()),
                sha(&"r".repeat(513)),
                sha("r token"),
                sha("")
            ),
        );
        let shared = Arc::new(Shared {
            tokens: changers,
            access: Access::new(
                "127.0.0.1:8480".parse().unwrap(),
                &[],
                Some(readers),
                reads_need_token,
            ),
            stopping: std::sync::atomic::AtomicBool::new(false),
            platform,
            registry,
            drivers: gp_driver::DriverSet::new(),
            state_dir: dir.path().to_path_buf(),
            pages: super::cache::Pages::default(),
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        Server {
            _dir: dir,
            shared,
            rt,
        }
    }

    fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let app = router(self.shared.clone());
        self.rt.block_on(async move {
            let svc = hyper_util::service::TowerToHyperService::new(app);
            let r = hyper::service::Service::call(&svc, req).await.unwrap();
            let (parts, body) = r.into_parts();
            let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            (
                parts.status,
                parts.headers,
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        })
    }

    /// The body of `GET path`, or `None` when no answer came within
    /// `within` (the request waits for something).
    fn get_within(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        within: std::time::Duration,
    ) -> Option<String> {
        let mut r = Request::get(path).header(header::HOST, "127.0.0.1:8480");
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let req = r.body(Body::empty()).unwrap();
        let app = router(self.shared.clone());
        self.rt.block_on(async move {
            let svc = hyper_util::service::TowerToHyperService::new(app);
            let r = tokio::time::timeout(within, hyper::service::Service::call(&svc, req))
                .await
                .ok()?
                .unwrap();
            let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        })
    }

    fn get(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut r = Request::get(path).header(header::HOST, "127.0.0.1:8480");
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        self.send(r.body(Body::empty()).unwrap())
    }

    fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: &str,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut r = Request::post(path)
            .header(header::HOST, "127.0.0.1:8480")
            .header(header::CONTENT_TYPE, content_type);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        self.send(r.body(Body::from(body.to_string())).unwrap())
    }

    /// A lease of the persistent deployment, held by someone gone.
    fn held(&self) {
        self.shared
            .registry
            .lease_acquire("dev", "persistent", "someone else", 600)
            .unwrap();
    }

    /// Who ended the lease, from the registry.
    fn unlocked_by(&self) -> Option<String> {
        let l = self.shared.registry.lease("dev", "persistent").unwrap()?;
        l.ended_by
    }
}

#[test]
fn a_host_the_server_was_not_started_for_is_misdirected() {
    let s = Server::new(true, false);
    let req = |host: &str| {
        Request::get("/healthz")
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        s.send(req("evil.example:8480")).0,
        StatusCode::MISDIRECTED_REQUEST
    );
    assert_eq!(s.send(req("localhost:8480")).0, StatusCode::OK);
    // No Host at all.
    let bare = Request::get("/healthz").body(Body::empty()).unwrap();
    assert_eq!(s.send(bare).0, StatusCode::MISDIRECTED_REQUEST);
}

#[test]
fn without_a_read_gate_everything_reads_and_with_one_only_a_token_reads() {
    let open = Server::new(true, false);
    assert_eq!(open.get("/api/v1/environments", &[]).0, StatusCode::OK);
    assert_eq!(open.get("/", &[]).0, StatusCode::OK);
    let gated = Server::new(true, true);
    let (status, headers, _) = gated.get("/api/v1/environments", &[]);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(
        gated.get("/catalog/catalog-info.yaml", &[]).0,
        StatusCode::UNAUTHORIZED
    );
    // The dashboard answers with the sign-in page.
    let (status, _, page) = gated.get("/", &[]);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        page.contains("sign-in") || page.contains("Sign in"),
        "{page}"
    );
    // Open paths stay open.
    assert_eq!(gated.get("/healthz", &[]).0, StatusCode::OK);
    let (status, _, page) = gated.get("/ui/sign-in", &[]);
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<form") && page.contains("name=\"token\""),
        "{page}"
    );
    // A reader's or a changer's token reads, by bearer or cookie; another
    // does not.
    for h in [
        ("authorization", "Bearer reader-token"),
        ("authorization", "Bearer alice-token"),
        ("cookie", "goldenpath_token=reader-token"),
    ] {
        assert_eq!(
            gated.get("/api/v1/environments", &[h]).0,
            StatusCode::OK,
            "{h:?}"
        );
    }
    assert_eq!(
        gated
            .get("/api/v1/environments", &[("authorization", "Bearer nope")])
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn a_sign_in_keeps_a_readers_token_in_a_strict_cookie_and_refuses_the_rest() {
    let s = Server::new(true, true);
    let form = "application/x-www-form-urlencoded";
    let (status, headers, _) = s.post("/ui/sign-in", &[], form, "token=reader-token");
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/");
    assert_eq!(
        headers[header::SET_COOKIE],
        "goldenpath_token=reader-token; Path=/; HttpOnly; SameSite=Strict"
    );
    // The longest token taken.
    let (status, _, _) = s.post("/ui/sign-in", &[], form, &format!("token={}", long_token()));
    assert_eq!(status, StatusCode::SEE_OTHER);
    for bad in [
        "token=".to_string(),
        "token=nope".to_string(),
        format!("token={}", "r".repeat(513)),
        "token=r-to%07ken".to_string(),
        "token=r%20token".to_string(),
        "other=1".to_string(),
    ] {
        let (status, headers, _) = s.post("/ui/sign-in", &[], form, &bad);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        assert!(headers.get(header::SET_COOKIE).is_none(), "{bad}");
    }
}

#[test]
fn a_change_is_made_as_the_holder_of_the_bearer_token_and_by_nobody_else() {
    let json = "application/json";
    let reason = r#"{"reason": "stuck"}"#;
    let path = "/api/v1/leases/dev/persistent/unlock";
    // Without --tokens: nobody changes anything.
    let s = Server::new(false, false);
    s.held();
    let (status, _, body) = s.post(
        path,
        &[("authorization", "Bearer alice-token")],
        json,
        reason,
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("started without --tokens"), "{body}");
    assert_eq!(s.unlocked_by(), None);
    let s = Server::new(true, false);
    s.held();
    for headers in [
        vec![],
        vec![("authorization", "Bearer nope")],
        vec![("authorization", "alice-token")],
        // A reader's token reads, never changes.
        vec![("authorization", "Bearer reader-token")],
    ] {
        let (status, _, _) = s.post(path, &headers, json, reason);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(s.unlocked_by(), None);
    }
    // Bob holds a token but is no approver: refused as bob.
    let (status, _, _) = s.post(path, &[("authorization", "Bearer bob-token")], json, reason);
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(s.unlocked_by(), None);
    // Alice is: the lease is ended, by alice.
    let (status, _, body) = s.post(
        path,
        &[("authorization", "Bearer alice-token")],
        json,
        reason,
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(s.unlocked_by().as_deref(), Some("alice"));
}

#[test]
fn a_form_change_is_made_as_the_holder_of_the_forms_token() {
    let form = "application/x-www-form-urlencoded";
    let path = "/ui/leases/dev/persistent/unlock";
    let s = Server::new(false, false);
    s.held();
    let (status, _, page) = s.post(path, &[], form, "token=alice-token&reason=stuck");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("started without --tokens"), "{page}");
    let s = Server::new(true, false);
    s.held();
    let (status, _, _) = s.post(path, &[], form, "token=nope&reason=stuck");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = s.post(path, &[], form, "token=bob-token&reason=stuck");
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(s.unlocked_by(), None);
    let (status, _, page) = s.post(path, &[], form, "token=alice-token&reason=stuck");
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("ended by alice"), "{page}");
    assert_eq!(s.unlocked_by().as_deref(), Some("alice"));
}

#[test]
fn errors_under_ui_are_pages_and_the_apis_stay_problem_documents() {
    let s = Server::new(true, false);
    let ct = |h: &axum::http::HeaderMap| {
        h.get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    // Every path of the dashboard that finds nothing: a page with the
    // status, the problem's words, and the way back.
    for path in [
        "/ui/nope",
        "/ui/nope/persistent",
        "/ui/dev/nowhere",
        "/ui/dev/builds/01-01-26-01",
        "/ui/requests/NOPE-1",
    ] {
        let (status, h, body) = s.get(path, &[]);
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(ct(&h).starts_with("text/html"), "{path}: {h:?}");
        assert!(
            body.starts_with("<!doctype html>")
                && body.contains("404 ")
                && body.contains("href=\"/\""),
            "{path}: {body}"
        );
    }
    // The API, and anything outside the dashboard, answers as it did.
    for path in ["/api/v1/environments/nope", "/nowhere"] {
        let (status, h, body) = s.get(path, &[]);
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(ct(&h), "application/problem+json", "{path}");
        assert!(body.starts_with('{'), "{path}: {body}");
    }
    // A page that exists is unchanged.
    let (status, h, _) = s.get("/", &[]);
    assert_eq!(status, StatusCode::OK);
    assert!(ct(&h).starts_with("text/html"));
}

/// A kept answer is served only while the registry stands still: a lease
/// taken by another process shows at once, and a row forged by someone
/// with the file after an answer was kept is named in the next answer
/// (the leases' tampered list), not hidden behind the kept one.
#[test]
fn a_kept_answer_never_hides_a_write_or_a_forged_row_of_another_process() {
    let s = Server::new(false, false);
    let path = "/api/v1/leases";
    let (status, _, before) = s.get(path, &[]);
    assert_eq!(status, StatusCode::OK);
    assert!(!before.contains("runner-2"));
    assert!(s.shared.pages.is_kept(path));
    assert_eq!(s.get(path, &[]).2, before, "kept while nothing changed");
    // Another process takes a lease.
    let db = s._dir.path().join("registry.db");
    let other = gp_registry::Registry::open(&gp_registry::Location::Sqlite(db.clone())).unwrap();
    other
        .lease_acquire("dev", "persistent", "runner-2", 600)
        .unwrap();
    let (status, _, after) = s.get(path, &[]);
    assert_eq!(status, StatusCode::OK);
    assert!(after.contains("runner-2"), "{after}");
    // Someone with the file forges a lease row (no chain MAC).
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "INSERT INTO lease_events (id, env, deployment, lease_id, kind, holder, expires_us, at_us) \
         SELECT 'forged', env, deployment, lease_id, 'release', holder, expires_us, at_us + 1 FROM lease_events LIMIT 1",
    )
    .unwrap();
    let (status, _, body) = s.get(path, &[]);
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(r#""id":"forged","check":"chain-unsealed""#),
        "{body}"
    );
    assert!(!s.shared.pages.is_kept("/api/v1/nothing"));
}

/// What is kept answers a plain `GET`, but never a client asking for a
/// fresh answer, nor a request that changes something; and while a page
/// is derived again, others get the kept one instead of waiting.
#[test]
fn a_kept_answer_goes_to_a_plain_get_only_and_to_others_while_one_derives() {
    let s = Server::new(true, false);
    let generation = s.shared.registry.generation().unwrap().unwrap();
    let path = "/api/v1/leases";
    s.shared
        .pages
        .seed(path, generation, std::time::Duration::ZERO, "kept");
    assert_eq!(s.get(path, &[]).2, "kept");
    for fresh in [
        ("cache-control", "no-cache"),
        ("cache-control", "max-age=0"),
        ("pragma", "no-cache"),
    ] {
        let (status, _, body) = s.get(path, &[fresh]);
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("\"leases\""), "{fresh:?}: {body}");
    }
    // A change is never answered with what is kept under its path.
    let unlock = "/api/v1/leases/dev/persistent/unlock";
    s.shared
        .pages
        .seed(unlock, generation, std::time::Duration::ZERO, "kept");
    let (_, _, body) = s.post(
        unlock,
        &[("authorization", "Bearer alice-token")],
        "application/json",
        r#"{"reason": "stuck"}"#,
    );
    assert_ne!(body, "kept");
    // Older than it may be served, unchanged, while another request
    // derives it: the kept answer, at once.
    let generation = s.shared.registry.generation().unwrap().unwrap();
    s.shared.pages.seed(
        path,
        generation,
        super::cache::FRESH_FOR * 2,
        "kept a while ago",
    );
    let deriving = s.shared.pages.lock_for(path);
    let held = deriving.try_lock().unwrap();
    let soon = std::time::Duration::from_secs(2);
    assert_eq!(
        s.get_within(path, &[], soon).as_deref(),
        Some("kept a while ago")
    );
    // A client asking for a fresh answer waits for the one being derived.
    assert_eq!(
        s.get_within(path, &[("cache-control", "no-cache")], soon / 4),
        None
    );
    drop(held);
    // Nobody derives it: this request does.
    assert!(s.get(path, &[]).2.contains("\"leases\""));
}
