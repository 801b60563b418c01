//! Who may do what: the tokens file, bearer tokens and the dashboard's
//! token forms.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Shared;
use super::http::{html, problem};

/// Who holds which token: names and the SHA-256 of their tokens.
pub(super) struct Tokens(pub(super) Vec<(String, [u8; 32])>);

impl Tokens {
    /// Reads a tokens file; a line that is not `NAME sha256:HEX` is invalid
    /// input at its line.
    pub(super) fn load(path: &std::path::Path) -> Result<Tokens, gp_core::InvalidInput> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            gp_core::InvalidInput(vec![gp_core::Diagnostic::file(
                path,
                format!("cannot read the tokens file: {e}"),
            )])
        })?;
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let pos = gp_core::yaml::Pos {
                line: i as u32 + 1,
                col: 1,
                offset: 0,
            };
            let parsed = t.split_once(char::is_whitespace).and_then(|(name, hash)| {
                let hex = hash.trim().strip_prefix("sha256:")?;
                if hex.len() != 64 || name.chars().any(|c| c.is_control()) {
                    return None;
                }
                let mut h = [0u8; 32];
                for (k, b) in h.iter_mut().enumerate() {
                    *b = u8::from_str_radix(hex.get(2 * k..2 * k + 2)?, 16).ok()?;
                }
                Some((name.to_string(), h))
            });
            match parsed {
                Some(e) => out.push(e),
                None => problems.push(gp_core::Diagnostic::at(
                    path,
                    &text,
                    pos,
                    "expected `NAME sha256:HEX` (64 hex digits): the SHA-256 of the token, never the token",
                )),
            }
        }
        if problems.is_empty() {
            Ok(Tokens(out))
        } else {
            Err(gp_core::InvalidInput(problems))
        }
    }

    /// Whether the file named nobody.
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whose token this is (compared in constant time per entry).
    pub(super) fn holder(&self, token: &str) -> Option<&str> {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (name, h) in &self.0 {
            let same = h
                .iter()
                .zip(digest.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
            if same && found.is_none() {
                found = Some(name.as_str());
            }
        }
        found
    }
}

/// The holder of the request's bearer token, or a 401.
pub(super) fn authorised(
    s: &Shared,
    headers: &axum::http::HeaderMap,
) -> Result<String, Box<Response>> {
    let unauthorised = |detail: &str| {
        let mut r = problem(StatusCode::UNAUTHORIZED, "unauthorised", detail);
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        Box::new(r)
    };
    let Some(tokens) = &s.tokens else {
        return Err(unauthorised(
            "this server takes no changes (started without --tokens)",
        ));
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorised("a bearer token is needed"))?;
    tokens
        .holder(token.trim())
        .map(str::to_string)
        .ok_or_else(|| unauthorised("the token is not one this server knows"))
}

/// What a dashboard form posts: the token (in the body, never the URL) and
/// a reason.
#[derive(serde::Deserialize)]
pub(super) struct TokenForm {
    pub(super) token: String,
    #[serde(default)]
    pub(super) reason: Option<String>,
}

/// The holder of a form's token, or the page saying why not (401).
pub(super) fn form_holder(
    s: &Shared,
    form: &TokenForm,
    back: &str,
) -> Result<String, Box<Response>> {
    let refuse = |why: &str| {
        let mut r = html(crate::cmd::dashboard::outcome(
            "Not authorised",
            false,
            why,
            back,
        ));
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        Box::new(r)
    };
    let Some(tokens) = &s.tokens else {
        return Err(refuse(
            "this server takes no changes (started without --tokens)",
        ));
    };
    tokens
        .holder(form.token.trim())
        .map(str::to_string)
        .ok_or_else(|| refuse("the token is not one this server knows"))
}

/// Who may read, and by which names the server is reached.
pub(super) struct Access {
    /// Host headers answered (lower case): `host:port`, or a bare name
    /// answered on any port.
    names: Vec<String>,
    /// Listening on every address: any IP literal on this port is the
    /// listen address.
    any_ip: Option<u16>,
    /// Who may read (besides the holders of change tokens).
    readers: Option<Tokens>,
    /// Whether reads need a token.
    reads_need_token: bool,
}

/// The cookie the dashboard's sign-in keeps the token in.
const COOKIE: &str = "goldenpath_token";

impl Access {
    pub(super) fn new(
        bound: SocketAddr,
        hosts: &[String],
        readers: Option<Tokens>,
        reads_need_token: bool,
    ) -> Access {
        let port = bound.port();
        let mut names: Vec<String> = hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        names.push(bound.to_string());
        if bound.ip().is_loopback() {
            names.push(format!("localhost:{port}"));
        }
        Access {
            names,
            any_ip: bound.ip().is_unspecified().then_some(port),
            readers,
            reads_need_token,
        }
    }

    /// Whether a Host header names this server.
    pub(super) fn host_ok(&self, host: &str) -> bool {
        let h = host.trim().to_ascii_lowercase();
        if self.names.contains(&h) {
            return true;
        }
        // A bare configured name answers on any port.
        let bare = match h.rsplit_once(':') {
            Some((name, port)) if !name.ends_with(']') || h.starts_with('[') => {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    name
                } else {
                    h.as_str()
                }
            }
            _ => h.as_str(),
        };
        if self.names.iter().any(|n| !n.contains(':') && n == bare) {
            return true;
        }
        self.any_ip
            .is_some_and(|port| h.parse::<SocketAddr>().is_ok_and(|a| a.port() == port))
    }

    /// The token a request carries: a bearer token, or the sign-in cookie.
    fn token_of(headers: &axum::http::HeaderMap) -> Option<String> {
        if let Some(t) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            return Some(t.trim().to_string());
        }
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| {
                c.trim()
                    .strip_prefix(COOKIE)?
                    .strip_prefix('=')
                    .map(str::to_string)
            })
    }

    /// Whether `token` may read.
    fn may_read(&self, changers: Option<&Tokens>, token: &str) -> bool {
        self.readers
            .as_ref()
            .is_some_and(|r| r.holder(token).is_some())
            || changers.is_some_and(|c| c.holder(token).is_some())
    }
}

/// Paths answered without a token: the health checks, the sign-in page
/// and its style sheet.
fn open_path(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/readyz" | "/ui/sign-in" | "/assets/style.css"
    )
}

/// Every request: a Host header that names this server (else 421), and,
/// when reads need a token, a token that may read (else 401: the sign-in
/// page for the dashboard, a problem document for the API).
pub(super) async fn guard(
    State(s): State<Arc<Shared>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if !host.is_some_and(|h| s.access.host_ok(h)) {
        return problem(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected request",
            "this server does not answer to that Host; name it with --host when it is reached by a name",
        );
    }
    if s.access.reads_need_token && !open_path(req.uri().path()) {
        let ok = Access::token_of(req.headers())
            .is_some_and(|t| s.access.may_read(s.tokens.as_ref(), &t));
        if !ok {
            if req.uri().path().starts_with("/api/") || req.uri().path().starts_with("/catalog/") {
                let mut r = problem(
                    StatusCode::UNAUTHORIZED,
                    "unauthorised",
                    "reading this server needs a bearer token",
                );
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return r;
            }
            let mut r = html(crate::cmd::dashboard::sign_in(None));
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            return r;
        }
    }
    next.run(req).await
}

/// `GET /ui/sign-in`.
pub(super) async fn sign_in_page() -> Response {
    html(crate::cmd::dashboard::sign_in(None))
}

#[derive(serde::Deserialize)]
pub(super) struct SignInForm {
    token: String,
}

/// `POST /ui/sign-in`: a token that may read is kept in an HTTP-only,
/// same-site cookie, and the overview follows.
pub(super) async fn sign_in(
    State(s): State<Arc<Shared>>,
    form: Result<axum::Form<SignInForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let token = form
        .map(|f| f.0.token.trim().to_string())
        .unwrap_or_default();
    if token.is_empty()
        || token.len() > 512
        || !token.bytes().all(|b| b.is_ascii_graphic())
        || !s.access.may_read(s.tokens.as_ref(), &token)
    {
        let mut r = html(crate::cmd::dashboard::sign_in(Some(
            "the token is not one this server knows",
        )));
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    }
    let mut r = (StatusCode::SEE_OTHER, "").into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(listen: &str, hosts: &[&str]) -> Access {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        Access::new(listen.parse().unwrap(), &hosts, None, false)
    }

    #[test]
    fn a_loopback_server_answers_to_its_address_and_localhost_only() {
        let a = access("127.0.0.1:8480", &[]);
        for ok in ["127.0.0.1:8480", "localhost:8480", "LOCALHOST:8480"] {
            assert!(a.host_ok(ok), "{ok}");
        }
        for bad in [
            "evil.example:8480",
            "127.0.0.1:80",
            "localhost",
            "attacker.127.0.0.1.nip.io:8480",
            "",
        ] {
            assert!(!a.host_ok(bad), "{bad}");
        }
    }

    #[test]
    fn configured_names_answer_with_their_port_or_on_any() {
        let a = access(
            "10.0.0.5:8480",
            &["dash.example.com", "alt.example.com:9000"],
        );
        for ok in [
            "dash.example.com",
            "dash.example.com:443",
            "alt.example.com:9000",
            "10.0.0.5:8480",
        ] {
            assert!(a.host_ok(ok), "{ok}");
        }
        for bad in [
            "alt.example.com",
            "alt.example.com:8480",
            "10.0.0.6:8480",
            "dash.example.com.evil:80",
        ] {
            assert!(!a.host_ok(bad), "{bad}");
        }
    }

    #[test]
    fn every_address_answers_to_any_ip_literal_on_its_port_and_no_other_name() {
        let a = access("0.0.0.0:8480", &[]);
        assert!(a.host_ok("192.168.1.7:8480"));
        assert!(!a.host_ok("192.168.1.7:9999"));
        assert!(!a.host_ok("rebound.evil.example:8480"));
    }

    #[test]
    fn a_token_is_read_from_the_bearer_header_or_the_cookie() {
        let mut h = axum::http::HeaderMap::new();
        assert_eq!(Access::token_of(&h), None);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; goldenpath_token=t1"),
        );
        assert_eq!(Access::token_of(&h).as_deref(), Some("t1"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t2"));
        assert_eq!(Access::token_of(&h).as_deref(), Some("t2"));
    }

    fn tokens(text: &str) -> Result<Tokens, gp_core::InvalidInput> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, text).unwrap();
        Tokens::load(&path)
    }

    fn sha(t: &str) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(t.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn a_tokens_file_holds_names_and_hashes_and_nothing_else() {
        let t = tokens(&format!(
            "# who may change things\n\nalice sha256:{}\n  bob   sha256:{}  \n",
            sha("a-token"),
            sha("b-token")
        ))
        .unwrap();
        assert!(!t.is_empty());
        assert_eq!(t.holder("a-token"), Some("alice"));
        assert_eq!(t.holder("b-token"), Some("bob"));
        assert_eq!(t.holder("c-token"), None);
        assert_eq!(t.holder(""), None);
        // Comments and blank lines only: a file naming nobody.
        assert!(tokens("# nobody\n\n").unwrap().is_empty());
        for bad in [
            "alice a-token\n".to_string(),
            format!("alice sha256:{}\n", &sha("x")[..63]),
            format!("alice sha256:{}zz\n", &sha("x")[..62]),
            format!("sha256:{}\n", sha("x")),
            format!("ali\u{7}ce sha256:{}\n", sha("x")),
        ] {
            let Err(e) = tokens(&bad) else {
                panic!("{bad} was read");
            };
            let e = e.to_string();
            assert!(e.contains("tokens:1:"), "{bad}: {e}");
        }
        let missing = Tokens::load(std::path::Path::new("/nonexistent/tokens"));
        assert!(missing.is_err());
    }

    #[test]
    fn a_hash_differing_anywhere_is_another_token() {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(b"t").into();
        // Two bytes off by the same bit: differences that would cancel out
        // if they were combined by anything but OR.
        let mut twice = digest;
        twice[0] ^= 1;
        twice[1] ^= 1;
        let mut last = digest;
        last[31] ^= 0x80;
        let t = Tokens(vec![
            ("mallory".into(), twice),
            ("eve".into(), last),
            ("alice".into(), digest),
        ]);
        assert_eq!(t.holder("t"), Some("alice"));
    }

    #[test]
    fn the_first_holder_of_a_hash_is_who_is_recorded() {
        let t = tokens(&format!(
            "alice sha256:{0}\nmallory sha256:{0}\n",
            sha("same")
        ))
        .unwrap();
        assert_eq!(t.holder("same"), Some("alice"));
    }

    #[test]
    fn a_reader_or_a_changer_may_read_and_nobody_else() {
        let readers = tokens(&format!("viewer sha256:{}\n", sha("r"))).unwrap();
        let changers = tokens(&format!("bob sha256:{}\n", sha("c"))).unwrap();
        let a = Access::new("127.0.0.1:1".parse().unwrap(), &[], Some(readers), true);
        assert!(a.may_read(Some(&changers), "r"));
        assert!(a.may_read(Some(&changers), "c"));
        assert!(!a.may_read(Some(&changers), "x"));
        assert!(!a.may_read(None, "c"));
        let none = Access::new("127.0.0.1:1".parse().unwrap(), &[], None, true);
        assert!(!none.may_read(None, "r"));
        assert!(none.may_read(Some(&changers), "c"));
    }

    #[test]
    fn only_the_health_checks_and_the_sign_in_are_open() {
        for open in ["/healthz", "/readyz", "/ui/sign-in", "/assets/style.css"] {
            assert!(open_path(open), "{open}");
        }
        for closed in [
            "/",
            "/api/v1/environments",
            "/ui/requests",
            "/healthz/x",
            "/catalog/catalog-info.yaml",
        ] {
            assert!(!open_path(closed), "{closed}");
        }
    }
}
