//! `goldenpath serve`: the registry over HTTP, read-only — the JSON API
//! under `/api/v1/` (the CLI's `--output json` shapes: an environment's
//! overview, a deployment's status, builds paged, a build's events,
//! phases, journal, lease and overrides, the registry report, leases, the
//! Backstage catalog), its OpenAPI 3.1 document generated from the same
//! types, Server-Sent Events of what the registry records, the dashboard,
//! the catalog as YAML at one URL for Backstage, and the health endpoints.
//! Changes (an approval, a forced unlock) need a bearer token of a holder
//! in `--tokens` and follow the CLI's rules; without tokens nothing
//! changes and only loopback is listened on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use clap::Args;

use crate::Context;
use crate::exit::CliError;

mod api;
mod auth;
mod cache;
mod http;
mod openapi;
mod ui;

#[cfg(test)]
mod tests;

use api::*;
use auth::{Access, Tokens};
use http::*;
use ui::*;

/// Arguments of `goldenpath serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen (`127.0.0.1:0` picks a free port; the address is
    /// printed). Beyond loopback every request needs a token, so --tokens
    /// or --read-tokens must name at least one.
    #[arg(long, default_value = "127.0.0.1:8480", value_name = "ADDR:PORT")]
    pub listen: String,
    /// Bearer tokens that may change things (approve a request, force-unlock
    /// a lease) and read, one per line: `NAME sha256:HEX`, the SHA-256 of
    /// the token (`printf %s "$TOKEN" | sha256sum`); NAME is who is
    /// recorded. Without it nothing can be changed.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<std::path::PathBuf>,
    /// Tokens that may read, in the same form: with it every page and
    /// endpoint but the health checks needs a token (a bearer token, or the
    /// dashboard's sign-in), on loopback too.
    #[arg(long, value_name = "FILE")]
    pub read_tokens: Option<std::path::PathBuf>,
    /// A name clients reach this server by (`dashboard.example.com`, or
    /// `name:port`), repeatable. A request whose Host header is neither the
    /// listen address nor one of these is refused (421): a web page cannot
    /// rebind its own name to this server and read it.
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// Connections served at once; more are closed as they arrive.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers; a connection idle
    /// between requests for as long is closed too.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub header_timeout: u64,
}

/// How long a request (other than the event stream) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long SIGTERM waits for requests in flight before the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What the handlers share: everything one engine needs, built once.
pub(super) struct Shared {
    /// Who may change things; `None`: nobody.
    tokens: Option<Tokens>,
    /// Who may read, and by which names the server is reached.
    access: Access,
    /// Set at SIGTERM: open event streams end, so the server can stop.
    stopping: std::sync::atomic::AtomicBool,
    platform: gp_core::Platform,
    registry: gp_registry::Registry,
    drivers: gp_driver::DriverSet,
    state_dir: std::path::PathBuf,
    /// Answers kept while the registry stands still.
    pages: cache::Pages,
}

impl Shared {
    /// An engine acting for `actor` (what it records is theirs), telling a
    /// refusal (403) from invalid input (400) and the rest (503).
    fn with_engine_error<T>(
        &self,
        actor: &str,
        f: impl FnOnce(&gp_engine::Engine<'_>) -> Result<T, gp_engine::EngineError>,
    ) -> Result<T, (u16, String)> {
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let mut engine = gp_engine::Engine::new(
            &self.platform,
            &self.registry,
            &self.drivers,
            self.state_dir.clone(),
            &gp_engine::NoEvents,
            &cancel,
        );
        engine.actor = actor.to_string();
        f(&engine).map_err(|e| match &e {
            gp_engine::EngineError::Refused { .. } => (403, e.to_string()),
            gp_engine::EngineError::Invalid(_) | gp_engine::EngineError::Usage { .. } => {
                (400, e.to_string())
            }
            _ => (503, e.to_string()),
        })
    }

    /// Runs `f` with an engine over the shared platform and registry.
    fn with_engine<T>(
        &self,
        f: impl FnOnce(&gp_engine::Engine<'_>) -> Result<T, gp_engine::EngineError>,
    ) -> Result<T, String> {
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let engine = gp_engine::Engine::new(
            &self.platform,
            &self.registry,
            &self.drivers,
            self.state_dir.clone(),
            &gp_engine::NoEvents,
            &cancel,
        );
        f(&engine).map_err(|e| e.to_string())
    }

    fn catalog(&self, envs: &[String]) -> Result<Vec<serde_json::Value>, String> {
        self.with_engine(|e| e.catalog(envs))
    }
}

/// How many of an environment's newest live builds the overview shows
/// with what waits in them.
pub(super) const OVERVIEW_DETAILED: usize = 20;
/// How many of the newest build deploys and teardowns the history page
/// charts.
pub(super) const HISTORY_RUNS: usize = 200;

/// Runs `serve` until SIGTERM or Ctrl-C.
pub fn run(ctx: &Context, a: ServeArgs) -> anyhow::Result<()> {
    let addr: SocketAddr = a.listen.parse().map_err(|_| {
        CliError::invalid(format!("--listen `{}` is not ADDR:PORT", a.listen))
            .hint("e.g. --listen 127.0.0.1:8480")
    })?;
    let tokens = a.tokens.as_deref().map(Tokens::load).transpose()?;
    let readers = a.read_tokens.as_deref().map(Tokens::load).transpose()?;
    for (flag, t, path) in [
        ("--tokens", &tokens, &a.tokens),
        ("--read-tokens", &readers, &a.read_tokens),
    ] {
        if let (Some(t), Some(p)) = (t, path)
            && t.is_empty()
        {
            return Err(CliError::invalid(format!(
                "{flag} {} holds no token: nobody could use this server",
                crate::cmd::shown(p)
            ))
            .hint("one line per holder: NAME sha256:HEX")
            .into());
        }
    }
    let reads_need_token = readers.is_some() || !addr.ip().is_loopback();
    if !addr.ip().is_loopback() && tokens.is_none() && readers.is_none() {
        return Err(CliError::invalid(format!(
            "refusing to listen on {addr} without --tokens or --read-tokens: anyone who can reach it would read the registry"
        ))
        .hint("listen on 127.0.0.1, or give --tokens FILE / --read-tokens FILE")
        .into());
    }
    if a.max_connections == 0 {
        return Err(CliError::invalid("--max-connections must be at least 1").into());
    }
    if !(1..=3600).contains(&a.header_timeout) {
        return Err(CliError::invalid("--header-timeout is 1 to 3600 seconds").into());
    }
    let header_timeout = Duration::from_secs(a.header_timeout);
    let platform = ctx.platform()?.clone();
    ctx.require_registry()?;
    let drivers = ctx.drivers()?;
    let registry = ctx.open_registry_shared()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // The registry is one connection behind a lock: more threads for
        // its reads only add allocator arenas (memory) and no speed.
        .max_blocking_threads(4)
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the server: {e}")))?;
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| CliError::failed(format!("cannot listen on {addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| CliError::failed(format!("cannot listen on {addr}: {e}")))?;
        let shared = Arc::new(Shared {
            tokens,
            access: Access::new(bound, &a.hosts, readers, reads_need_token),
            stopping: std::sync::atomic::AtomicBool::new(false),
            platform,
            registry,
            drivers,
            state_dir: ctx.state_dir()?,
            pages: cache::Pages::default(),
        });
        ctx.printer.status(&format!(
            "listening on http://{bound} (catalog: http://{bound}/catalog/catalog-info.yaml)"
        ));
        serve(
            listener,
            router(shared.clone()),
            &shared,
            a.max_connections,
            header_timeout,
        )
        .await;
        Ok::<(), anyhow::Error>(())
    });
    // Blocking reads still running are not waited for.
    rt.shutdown_timeout(Duration::from_millis(500));
    served
}

/// Every route.
pub(super) fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route("/", get(ui_overview))
        .route("/ui/{env}/{deployment}", get(ui_deployment))
        .route("/ui/{env}/builds/{build}", get(ui_build))
        .route("/ui/{env}/history", get(ui_history))
        .route("/ui/requests", get(ui_requests))
        .route("/ui/leases", get(ui_leases))
        .route("/ui/requests/{id}/approve", axum::routing::post(ui_approve))
        .route(
            "/ui/leases/{env}/{deployment}/unlock",
            axum::routing::post(ui_unlock),
        )
        .route("/ui/sign-in", get(auth::sign_in_page).post(auth::sign_in))
        .route(
            "/assets/style.css",
            get(|| async {
                with_type(
                    crate::cmd::dashboard::STYLE.into(),
                    "text/css; charset=utf-8",
                )
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/environments", get(environments))
        .route("/api/v1/environments/{env}", get(environment))
        .route(
            "/api/v1/environments/{env}/deployments/{deployment}",
            get(deployment),
        )
        .route(
            "/api/v1/environments/{env}/deployments/{deployment}/graph",
            get(graph),
        )
        .route("/api/v1/environments/{env}/builds", get(builds))
        .route("/api/v1/environments/{env}/builds/{build}", get(build))
        .route("/api/v1/environments/{env}/report", get(report))
        .route("/api/v1/environments/{env}/metrics", get(metrics))
        .route("/api/v1/leases", get(leases))
        .route("/api/v1/requests", get(requests))
        .route(
            "/api/v1/requests/{id}/approve",
            axum::routing::post(approve),
        )
        .route(
            "/api/v1/leases/{env}/{deployment}/unlock",
            axum::routing::post(unlock),
        )
        .route("/api/v1/events", get(events))
        .route("/api/v1/resources", get(resources))
        .route("/api/v1/catalog", get(catalog_json))
        .route("/catalog/catalog-info.yaml", get(catalog_yaml))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            cache::kept,
        ))
        .layer(axum::middleware::from_fn(bounded))
        .layer(axum::middleware::from_fn(timed))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            auth::guard,
        ))
        // Outside the guard: its refusals under /ui/ are pages too.
        .layer(axum::middleware::from_fn(html_errors))
        .layer(axum::middleware::from_fn(headers))
        .with_state(shared)
}

/// Accepts connections until SIGTERM or Ctrl-C, at most `max` at once,
/// each with `header_timeout` for its request headers (and so for sitting
/// idle between requests). Then stops accepting, ends the event streams, and
/// gives what is in flight [`SHUTDOWN_GRACE`] to finish.
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shared: &Shared,
    max: usize,
    header_timeout: Duration,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(max));
    let stop = async {
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
    };
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut stop => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, or a connection reset before it
                // was taken: wait a moment rather than spin.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Over the limit the connection is closed at once: held
        // connections never exhaust the server's descriptors.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    shared
        .stopping
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}
