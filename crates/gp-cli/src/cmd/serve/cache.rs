//! Pages and API answers kept while the registry stands still: a read
//! answered again is served from memory for up to [`FRESH_FOR`] while the
//! registry's generation (SQLite's `data_version` and this server's own
//! writes; see `Registry::generation`) has not moved. Any write — by a
//! run, by this server, or a row forged by someone with the file — moves
//! it, and the next request derives its answer again (checking every row
//! it reads, as always). Times shown relative to now are at most
//! [`FRESH_FOR`] old, or as old as one derivation more: when a kept answer
//! is only older than that, one request derives it again while the others
//! are answered with it. When the registry changed, one request derives
//! the page while others asking for it wait for that one instead of
//! deriving it beside it. On PostgreSQL nothing is kept.
//!
//! Only `GET`s of the dashboard and the API that answered 200 and are
//! derived from the registry and the spec alone are kept ([`keeps`]):
//! never the requests or the catalog (they follow files beside the
//! registry), the event stream or the health checks; it sits inside the
//! read gate, so only a request that may read gets a kept answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

use super::Shared;

/// How long a kept answer is served while nothing changed (times shown
/// relative to now are at most this old, plus one derivation).
pub(super) const FRESH_FOR: Duration = Duration::from_secs(5);
/// The most answers kept, and their most bytes in all.
const KEPT: usize = 128;
const KEPT_BYTES: usize = 32 << 20;
/// An answer larger than this is never kept.
const MAX_BODY: usize = 8 << 20;

struct Kept {
    generation: [i64; 2],
    at: Instant,
    headers: HeaderMap,
    body: Bytes,
}

/// The kept answers, by path and query.
#[derive(Default)]
pub(super) struct Pages {
    kept: Mutex<HashMap<String, Arc<Kept>>>,
    /// One lock per page being derived: who comes second waits for it.
    deriving: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Pages {
    fn fresh(&self, key: &str, generation: [i64; 2], now: Instant) -> Option<Arc<Kept>> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.get(key)
            .filter(|k| k.generation == generation && now.duration_since(k.at) < FRESH_FOR)
            .cloned()
    }

    /// A kept answer of this generation however old: served while the
    /// same page is being derived again.
    fn unchanged(&self, key: &str, generation: [i64; 2]) -> Option<Arc<Kept>> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.get(key)
            .filter(|k| k.generation == generation)
            .cloned()
    }

    fn keep(&self, key: String, page: Kept) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.insert(key, Arc::new(page));
        // Over either bound, the oldest go first.
        let mut bytes: usize = kept.values().map(|k| k.body.len()).sum();
        while kept.len() > KEPT || bytes > KEPT_BYTES {
            let Some(oldest) = kept
                .iter()
                .min_by_key(|(_, k)| k.at)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(k) = kept.remove(&oldest) {
                bytes -= k.body.len();
            }
        }
    }

    /// Keeps `body` for `key` as if derived `age` ago at `generation`.
    #[cfg(test)]
    pub(super) fn seed(&self, key: &str, generation: [i64; 2], age: Duration, body: &str) {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
        self.keep(
            key.to_string(),
            Kept {
                generation,
                at: Instant::now().checked_sub(age).unwrap_or_else(Instant::now),
                headers,
                body: Bytes::from(body.to_string()),
            },
        );
    }

    #[cfg(test)]
    pub(super) fn is_kept(&self, key: &str) -> bool {
        self.kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(key)
    }

    pub(super) fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut deriving = self.deriving.lock().unwrap_or_else(|p| p.into_inner());
        // Locks nobody holds or waits for are dropped as others come.
        deriving.retain(|_, l| Arc::strong_count(l) > 1);
        deriving.entry(key.to_string()).or_default().clone()
    }
}

/// Whether the client asked for an answer derived now (`Cache-Control:
/// no-cache` or `max-age=0`, as a browser's reload sends, or `Pragma:
/// no-cache`): it is derived, and kept for those who come after.
pub(super) fn wants_fresh(headers: &HeaderMap) -> bool {
    let has = |name: axum::http::HeaderName, directives: &[&str]| {
        headers.get_all(name).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|d| directives.contains(&d.trim().to_ascii_lowercase().as_str()))
            })
        })
    };
    has(
        axum::http::header::CACHE_CONTROL,
        &["no-cache", "no-store", "max-age=0"],
    ) || has(axum::http::header::PRAGMA, &["no-cache"])
}

/// Whether a path's `GET` answers are kept: those derived from the
/// registry and the spec alone. Never the requests (their state follows
/// the request files, which are no part of the registry: an edited file
/// shows at once), the catalog (it reads the repository's files too), the
/// event stream, the sign-in or the health checks.
pub(super) fn keeps(path: &str) -> bool {
    (path == "/" || path.starts_with("/ui/") || path.starts_with("/api/v1/"))
        && !matches!(
            path,
            "/api/v1/events"
                | "/api/v1/requests"
                | "/api/v1/catalog"
                | "/ui/requests"
                | "/ui/sign-in"
        )
        && !path.starts_with("/ui/requests/")
        && !path.starts_with("/api/v1/requests/")
}

fn answer(k: &Kept) -> Response {
    let mut r = Response::new(Body::from(k.body.clone()));
    *r.headers_mut() = k.headers.clone();
    r
}

/// The middleware.
pub(super) async fn kept(
    axum::extract::State(s): axum::extract::State<Arc<Shared>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if req.method() != Method::GET || !keeps(req.uri().path()) {
        return next.run(req).await;
    }
    let key = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    // A read of one value on a connection of its own: microseconds, so
    // not worth a blocking thread (the pool is the derivations').
    let generation = match s.registry.generation() {
        Ok(Some(g)) => g,
        // PostgreSQL, or the registry cannot say: derive it.
        _ => return next.run(req).await,
    };
    let asked_fresh = wants_fresh(req.headers());
    if !asked_fresh && let Some(k) = s.pages.fresh(&key, generation, Instant::now()) {
        return answer(&k);
    }
    let lock = s.pages.lock_for(&key);
    // Only older than FRESH_FOR, nothing changed: while one request
    // derives it again, the others are answered with what is kept.
    let _deriving = match lock.clone().try_lock_owned() {
        Ok(held) => held,
        Err(_) if !asked_fresh => {
            if let Some(k) = s.pages.unchanged(&key, generation) {
                return answer(&k);
            }
            lock.clone().lock_owned().await
        }
        Err(_) => lock.clone().lock_owned().await,
    };
    // Derived by whoever held the lock while this request waited.
    if !asked_fresh && let Some(k) = s.pages.fresh(&key, generation, Instant::now()) {
        return answer(&k);
    }
    let at = Instant::now();
    let response = next.run(req).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return super::http::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the answer cannot be sent",
            "the answer is larger than this server sends",
        );
    };
    let page = Kept {
        // The generation read before deriving: a write while it was
        // derived makes the next request derive it again.
        generation,
        at,
        headers: parts.headers.clone(),
        body: body.clone(),
    };
    s.pages.keep(key, page);
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(generation: [i64; 2], at: Instant, bytes: usize) -> Kept {
        Kept {
            generation,
            at,
            headers: HeaderMap::new(),
            body: Bytes::from(vec![b'x'; bytes]),
        }
    }

    #[test]
    fn a_kept_answer_is_fresh_for_its_generation_and_for_fresh_for_only() {
        let pages = Pages::default();
        let t = Instant::now();
        pages.keep("/".into(), page([1, 0], t, 10));
        assert!(pages.fresh("/", [1, 0], t).is_some());
        assert!(pages.fresh("/", [1, 0], t + FRESH_FOR / 2).is_some());
        assert!(pages.fresh("/", [1, 0], t + FRESH_FOR).is_none(), "too old");
        assert!(
            pages.fresh("/", [2, 0], t).is_none(),
            "another process wrote"
        );
        assert!(pages.fresh("/", [1, 1], t).is_none(), "this server wrote");
        assert!(
            pages.fresh("/?page=2", [1, 0], t).is_none(),
            "another query"
        );
    }

    #[test]
    fn an_unchanged_answer_is_one_of_this_generation_however_old() {
        let pages = Pages::default();
        let long_ago = Instant::now();
        pages.keep("/".into(), page([3, 1], long_ago, 10));
        assert!(pages.unchanged("/", [3, 1]).is_some());
        assert!(pages.unchanged("/", [4, 1]).is_none());
        assert!(pages.unchanged("/", [3, 2]).is_none());
        assert!(pages.unchanged("/other", [3, 1]).is_none());
    }

    #[test]
    fn answers_up_to_the_byte_bound_stay_and_past_it_as_many_go_as_needed() {
        let t = Instant::now();
        let pages = Pages::default();
        pages.keep("/a".into(), page([1, 0], t, KEPT_BYTES / 2));
        pages.keep("/b".into(), page([1, 0], t + FRESH_FOR / 8, KEPT_BYTES / 2));
        assert!(pages.fresh("/a", [1, 0], t).is_some(), "exactly the bound");
        assert!(pages.fresh("/b", [1, 0], t).is_some());
        // One more byte than half: both older ones must go.
        pages.keep(
            "/c".into(),
            page([1, 0], t + FRESH_FOR / 4, KEPT_BYTES / 2 + 1),
        );
        assert!(pages.fresh("/a", [1, 0], t).is_none());
        assert!(pages.fresh("/b", [1, 0], t).is_none());
        assert!(pages.fresh("/c", [1, 0], t).is_some());
    }

    #[test]
    fn one_lock_per_page_while_anyone_holds_or_waits_for_it_and_none_after() {
        let pages = Pages::default();
        let held = pages.lock_for("/");
        let again = pages.lock_for("/");
        assert!(
            Arc::ptr_eq(&held, &again),
            "the second request waits for the first"
        );
        let other = pages.lock_for("/ui/leases");
        assert!(!Arc::ptr_eq(&held, &other));
        drop((held, again, other));
        // Nobody holds them: the next request forgets them.
        let _ = pages.lock_for("/api/v1/environments");
        assert_eq!(pages.deriving.lock().unwrap().len(), 1);
    }

    #[test]
    fn the_oldest_answers_go_first_past_either_bound() {
        let pages = Pages::default();
        let t = Instant::now();
        for i in 0..KEPT + 5 {
            pages.keep(
                format!("/{i}"),
                page([1, 0], t + Duration::from_millis(i as u64), 1),
            );
        }
        assert!(pages.fresh("/0", [1, 0], t).is_none());
        assert!(pages.fresh("/4", [1, 0], t).is_none());
        assert!(pages.fresh("/5", [1, 0], t).is_some());
        assert_eq!(pages.kept.lock().unwrap().len(), KEPT);
        // Bytes: two answers of more than half the bound keep one.
        let pages = Pages::default();
        pages.keep("/a".into(), page([1, 0], t, KEPT_BYTES / 2 + 1));
        pages.keep(
            "/b".into(),
            page([1, 0], t + FRESH_FOR / 4, KEPT_BYTES / 2 + 1),
        );
        assert!(pages.fresh("/a", [1, 0], t).is_none());
        assert!(pages.fresh("/b", [1, 0], t).is_some());
    }

    #[test]
    fn a_client_asks_for_a_fresh_answer_with_no_cache_max_age_0_or_pragma() {
        let with = |pairs: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            wants_fresh(&h)
        };
        assert!(with(&[("cache-control", "no-cache")]));
        assert!(with(&[("cache-control", "private, Max-Age=0")]));
        assert!(with(&[("cache-control", "no-store")]));
        assert!(with(&[
            ("cache-control", "max-age=60"),
            ("cache-control", "no-cache")
        ]));
        assert!(with(&[("pragma", "no-cache")]));
        assert!(!with(&[]));
        assert!(!with(&[("cache-control", "max-age=60")]));
        assert!(!with(&[("cache-control", "max-age=00")]));
        assert!(!with(&[("pragma", "something")]));
        assert!(!with(&[("x-cache-control", "no-cache")]));
    }

    #[test]
    fn pages_and_the_api_are_kept_but_never_requests_catalog_events_sign_in_or_health() {
        for kept in [
            "/",
            "/ui/dev/history",
            "/ui/dev/builds/01-01-26-01",
            "/api/v1/environments/dev",
            "/api/v1/openapi.json",
            "/api/v1/leases",
            "/api/v1/resources",
        ] {
            assert!(keeps(kept), "{kept}");
        }
        for not in [
            "/api/v1/events",
            "/ui/sign-in",
            "/healthz",
            "/readyz",
            "/assets/style.css",
            "/uix",
            "/api/v1/requests",
            "/ui/requests",
            "/ui/requests/RDS-0001/approve",
            "/api/v1/catalog",
            "/catalog/catalog-info.yaml",
        ] {
            assert!(!keeps(not), "{not}");
        }
    }
}
