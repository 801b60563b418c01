//! The HTTP plumbing of `serve`: extractors that answer as problem
//! documents, problem documents themselves, bounded requests and the
//! headers every response carries.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Shared;

/// axum's `Query`, with a query it cannot read answered as a problem
/// document (400) instead of axum's plain-text rejection.
pub(super) struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S>
    for Query<T>
{
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Response> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|_| {
                problem(
                    StatusCode::BAD_REQUEST,
                    "bad query",
                    "the query string is not one this endpoint takes (see /api/v1/openapi.json)",
                )
            })
    }
}

/// axum's `Path`, with a path it cannot read answered as a problem
/// document (404: nothing lives there).
pub(super) struct Path<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S>
    for Path<T>
{
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Response> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|_| {
                problem(
                    StatusCode::NOT_FOUND,
                    "not found",
                    "nothing lives at this path",
                )
            })
    }
}

/// The most bytes of a query string (the rest is refused, 414).
pub(super) const MAX_QUERY: usize = 2048;

/// Serializes `v`, or a problem.
pub(super) fn json_of<T: serde::Serialize>(v: &T) -> Response {
    let text = serde_json::to_value(v).and_then(|mut v| {
        crate::outputs::with_times(&mut v);
        serde_json::to_string(&v)
    });
    match text {
        Ok(text) => with_type(text, "application/json"),
        Err(_) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the answer cannot be written",
            "a value could not be written as JSON",
        ),
    }
}

/// `f` on a blocking thread; its error as a problem.
pub(super) async fn blocking<T: serde::Serialize + Send + 'static>(
    s: Arc<Shared>,
    f: impl FnOnce(&Shared) -> Result<Option<T>, String> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(move || f(&s)).await {
        Ok(Ok(Some(v))) => json_of(&v),
        Ok(Ok(None)) => problem(
            StatusCode::NOT_FOUND,
            "not found",
            "nothing is recorded there",
        ),
        Ok(Err(why)) => unreadable(&why, "the answer could not be computed from the registry"),
        Err(_) => unreadable("", "the answer could not be computed from the registry"),
    }
}

/// The registry could not answer: a row that does not check out is named
/// (409, with `registry verify` as the next step), anything else is 503
/// without internals.
pub(super) fn unreadable(why: &str, detail: &str) -> Response {
    if why.starts_with("the registry was tampered with") {
        return problem(
            StatusCode::CONFLICT,
            "the registry was tampered with",
            &format!("{why}; nothing was derived from it (run: goldenpath registry verify)"),
        );
    }
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "the registry cannot be read",
        detail,
    )
}

pub(super) fn known_env(s: &Shared, env: &str) -> bool {
    s.platform.environment(env).is_some()
}

pub(super) fn parse_deployment(deployment: &str) -> Option<gp_core::Deployment> {
    match deployment {
        "persistent" => Some(gp_core::Deployment::Persistent),
        "foundational" => Some(gp_core::Deployment::Foundational),
        b => b
            .parse::<gp_core::BuildId>()
            .ok()
            .map(gp_core::Deployment::Ephemeral),
    }
}

pub(super) fn no_such_deployment() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "no such deployment",
        "a deployment is persistent, foundational or a build id (DD-MM-YY-NN)",
    )
}

pub(super) fn html(body: String) -> Response {
    with_type(body, "text/html; charset=utf-8")
}

/// Refuses query strings past [`MAX_QUERY`] bytes and bodies (nothing
/// here takes one).
pub(super) async fn bounded(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if req.uri().query().is_some_and(|q| q.len() > MAX_QUERY) {
        return problem(
            StatusCode::URI_TOO_LONG,
            "query too long",
            "the query string is longer than 2048 bytes",
        );
    }
    let length: usize = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    let limit = if req.method() == axum::http::Method::POST {
        4096
    } else {
        0
    };
    if length > limit || (chunked && limit == 0) {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body too large",
            "a change takes a body (JSON, or a dashboard form) of at most 4 KiB; a read takes none",
        );
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body too large",
            "a change takes a body of at most 4 KiB",
        );
    };
    let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    next.run(req).await
}

/// An RFC 9457 problem document, without internals.
pub(super) fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

pub(super) fn with_type(body: String, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

#[derive(serde::Deserialize)]
pub(super) struct CatalogQuery {
    pub(super) env: Option<String>,
}

/// The environments asked for; `None` when one is not declared.
pub(super) fn envs_of(shared: &Shared, q: &CatalogQuery) -> Option<Vec<String>> {
    match &q.env {
        None => Some(Vec::new()),
        Some(e) if shared.platform.environment(e).is_some() => Some(vec![e.clone()]),
        Some(_) => None,
    }
}

pub(super) fn no_such_environment() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "no such environment",
        "the environment is not declared in the spec",
    )
}

/// Under `/ui/` (and at `/`) a browser is reading: an error answered as a
/// problem document is turned into an HTML page with the same status. The
/// API keeps its problem documents.
pub(super) async fn html_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path();
    let ui = path == "/" || path == "/ui" || path.starts_with("/ui/");
    let r = next.run(req).await;
    let problem = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if !ui || !problem {
        return r;
    }
    let (parts, body) = r.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let text = |k: &str| {
        doc.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let page =
        crate::cmd::dashboard::error_page(parts.status.as_u16(), &text("title"), &text("detail"));
    let mut out = (parts.status, page).into_response();
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // What the problem said of retrying or signing in still holds.
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

pub(super) async fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, "not found", "no such endpoint")
}

/// Security and cache headers on every response.
pub(super) async fn headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// Ends a request (other than the event stream) that runs past
/// [`super::REQUEST_TIMEOUT`].
pub(super) async fn timed(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if req.uri().path() == "/api/v1/events" {
        return next.run(req).await;
    }
    match tokio::time::timeout(super::REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "timed out",
            "the answer took too long",
        ),
    }
}
