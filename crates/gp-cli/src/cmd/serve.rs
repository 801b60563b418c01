//! `goldenpath serve`: the registry over HTTP — so far the Backstage
//! catalog at one URL (always computed from the registry as it is) and the
//! health endpoints. Read-only; loopback only (binding elsewhere needs
//! tokens, which this version does not have yet).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Args;

use crate::Context;
use crate::exit::CliError;

/// Arguments of `goldenpath serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen: a loopback address and port (`127.0.0.1:0` picks a
    /// free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8480", value_name = "ADDR:PORT")]
    pub listen: String,
}

/// What the handlers share: everything one engine needs, built once.
struct Shared {
    platform: gp_core::Platform,
    registry: gp_registry::Registry,
    drivers: gp_driver::DriverSet,
    state_dir: std::path::PathBuf,
}

impl Shared {
    fn catalog(&self, envs: &[String]) -> Result<Vec<serde_json::Value>, String> {
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let engine = gp_engine::Engine::new(
            &self.platform,
            &self.registry,
            &self.drivers,
            self.state_dir.clone(),
            &gp_engine::NoEvents,
            &cancel,
        );
        engine.catalog(envs).map_err(|e| e.to_string())
    }
}

/// An RFC 9457 problem document, without internals.
fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
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

fn with_type(body: String, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

#[derive(serde::Deserialize)]
struct CatalogQuery {
    env: Option<String>,
}

/// The environments asked for; `None` when one is not declared.
fn envs_of(shared: &Shared, q: &CatalogQuery) -> Option<Vec<String>> {
    match &q.env {
        None => Some(Vec::new()),
        Some(e) if shared.platform.environment(e).is_some() => Some(vec![e.clone()]),
        Some(_) => None,
    }
}

fn no_such_environment() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "no such environment",
        "the environment is not declared in the spec",
    )
}

async fn catalog_json(State(s): State<Arc<Shared>>, Query(q): Query<CatalogQuery>) -> Response {
    let Some(envs) = envs_of(&s, &q) else {
        return no_such_environment();
    };
    let r = tokio::task::spawn_blocking(move || s.catalog(&envs)).await;
    match r {
        Ok(Ok(entities)) => with_type(
            serde_json::json!({"schemaVersion": 1, "entities": entities}).to_string(),
            "application/json",
        ),
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the catalog cannot be computed",
            "the registry could not be read",
        ),
    }
}

async fn catalog_yaml(State(s): State<Arc<Shared>>, Query(q): Query<CatalogQuery>) -> Response {
    let Some(envs) = envs_of(&s, &q) else {
        return no_such_environment();
    };
    let r = tokio::task::spawn_blocking(move || s.catalog(&envs)).await;
    let Ok(Ok(entities)) = r else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the catalog cannot be computed",
            "the registry could not be read",
        );
    };
    let mut out = String::new();
    for e in &entities {
        match gp_driver_gitops::render::yaml(e) {
            Ok(y) => {
                out.push_str("---\n");
                out.push_str(&y);
            }
            Err(_) => {
                return problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the catalog cannot be written",
                    "an entity could not be written as YAML",
                );
            }
        }
    }
    with_type(out, "application/yaml")
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    let r = tokio::task::spawn_blocking(move || s.registry.leases(None).map(|_| ())).await;
    match r {
        Ok(Ok(())) => with_type("ready\n".into(), "text/plain; charset=utf-8"),
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready",
            "the registry cannot be reached",
        ),
    }
}

async fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, "not found", "no such endpoint")
}

/// Security and cache headers on every response.
async fn headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// Runs `serve` until SIGTERM or Ctrl-C.
pub fn run(ctx: &Context, a: ServeArgs) -> anyhow::Result<()> {
    let addr: SocketAddr = a.listen.parse().map_err(|_| {
        CliError::invalid(format!("--listen `{}` is not ADDR:PORT", a.listen))
            .hint("e.g. --listen 127.0.0.1:8480")
    })?;
    if !addr.ip().is_loopback() {
        return Err(CliError::invalid(format!(
            "refusing to listen on {addr}: a non-loopback address needs access tokens, which this version of serve does not have"
        ))
        .hint("listen on 127.0.0.1 and put a reverse proxy with authentication in front")
        .into());
    }
    let platform = ctx.platform()?.clone();
    let drivers = ctx.drivers()?;
    let registry = ctx.open_registry_shared()?;
    let shared = Arc::new(Shared {
        platform,
        registry,
        drivers,
        state_dir: ctx.state_dir()?,
    });
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/api/v1/catalog", get(catalog_json))
        .route("/catalog/catalog-info.yaml", get(catalog_yaml))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(headers))
        .with_state(shared);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the server: {e}")))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| CliError::failed(format!("cannot listen on {addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| CliError::failed(format!("cannot listen on {addr}: {e}")))?;
        ctx.printer.status(&format!(
            "listening on http://{bound} (catalog: http://{bound}/catalog/catalog-info.yaml)"
        ));
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let term = async {
                    if let Ok(mut s) =
                        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        s.recv().await;
                    }
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term => {},
                }
            })
            .await
            .map_err(|e| CliError::failed(format!("the server stopped: {e}")))?;
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(())
}
