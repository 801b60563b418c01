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

use axum::extract::State;
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
    /// Bearer tokens that may change things (approve a request, force-unlock
    /// a lease), one per line: `NAME sha256:HEX`, the SHA-256 of the token
    /// (`printf %s "$TOKEN" | sha256sum`); NAME is who is recorded. Without
    /// it nothing can be changed, and only loopback is listened on.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<std::path::PathBuf>,
}

/// Who holds which token: names and the SHA-256 of their tokens.
struct Tokens(Vec<(String, [u8; 32])>);

impl Tokens {
    /// Reads a tokens file; a line that is not `NAME sha256:HEX` is invalid
    /// input at its line.
    fn load(path: &std::path::Path) -> Result<Tokens, gp_core::InvalidInput> {
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

    /// Whose token this is (compared in constant time per entry).
    fn holder(&self, token: &str) -> Option<&str> {
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

/// axum's `Query`, with a query it cannot read answered as a problem
/// document (400) instead of axum's plain-text rejection.
struct Query<T>(T);

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
struct Path<T>(T);

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

/// What the handlers share: everything one engine needs, built once.
struct Shared {
    /// Who may change things; `None`: nobody.
    tokens: Option<Tokens>,
    /// Set at SIGTERM: open event streams end, so the server can stop.
    stopping: std::sync::atomic::AtomicBool,
    platform: gp_core::Platform,
    registry: gp_registry::Registry,
    drivers: gp_driver::DriverSet,
    state_dir: std::path::PathBuf,
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

/// A problem document (RFC 9457).
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Problem {
    /// Always `about:blank`.
    r#type: String,
    /// What kind of problem.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What happened, without internals.
    detail: String,
}

/// `GET /api/v1/environments/{env}/builds`: one page, newest first.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct BuildsPage {
    /// Version of this shape.
    schema_version: u32,
    /// Environment.
    env: String,
    /// How many builds match.
    total: usize,
    /// The first one's index.
    offset: usize,
    /// At most this many.
    limit: usize,
    /// The page.
    builds: Vec<gp_registry::BuildSummary>,
}

/// `GET /api/v1/environments`.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct EnvironmentsOutput {
    /// Version of this shape.
    schema_version: u32,
    /// In the spec's order.
    environments: Vec<String>,
}

/// How many of an environment's newest live builds the overview shows
/// with what waits in them.
const OVERVIEW_DETAILED: usize = 20;
/// How many of the newest build deploys and teardowns the history page
/// charts.
const HISTORY_RUNS: usize = 200;

/// The most bytes of a query string (the rest is refused, 414).
const MAX_QUERY: usize = 2048;

/// Serializes `v`, or a problem.
fn json_of<T: serde::Serialize>(v: &T) -> Response {
    match serde_json::to_string(v) {
        Ok(text) => with_type(text, "application/json"),
        Err(_) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the answer cannot be written",
            "a value could not be written as JSON",
        ),
    }
}

/// `f` on a blocking thread; its error as a problem.
async fn blocking<T: serde::Serialize + Send + 'static>(
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
        Ok(Err(_)) | Err(_) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the registry cannot be read",
            "the answer could not be computed from the registry",
        ),
    }
}

fn known_env(s: &Shared, env: &str) -> bool {
    s.platform.environment(env).is_some()
}

async fn environments(State(s): State<Arc<Shared>>) -> Response {
    json_of(&EnvironmentsOutput {
        schema_version: 1,
        environments: s
            .platform
            .spec
            .environments
            .keys()
            .map(|k| k.value.clone())
            .collect(),
    })
}

async fn environment(State(s): State<Arc<Shared>>, Path(env): Path<String>) -> Response {
    if !known_env(&s, &env) {
        return no_such_environment();
    }
    blocking(s, move |s| s.with_engine(|e| e.overview(&env)).map(Some)).await
}

async fn deployment(
    State(s): State<Arc<Shared>>,
    Path((env, deployment)): Path<(String, String)>,
) -> Response {
    if !known_env(&s, &env) {
        return no_such_environment();
    }
    let Some(d) = parse_deployment(&deployment) else {
        return no_such_deployment();
    };
    blocking(s, move |s| s.with_engine(|e| e.status(&env, d)).map(Some)).await
}

#[derive(serde::Deserialize)]
struct GraphQuery {
    format: Option<String>,
}

fn parse_deployment(deployment: &str) -> Option<gp_core::Deployment> {
    match deployment {
        "persistent" => Some(gp_core::Deployment::Persistent),
        "foundational" => Some(gp_core::Deployment::Foundational),
        b => b
            .parse::<gp_core::BuildId>()
            .ok()
            .map(gp_core::Deployment::Ephemeral),
    }
}

async fn graph(
    State(s): State<Arc<Shared>>,
    Path((env, deployment)): Path<(String, String)>,
    Query(q): Query<GraphQuery>,
) -> Response {
    if !known_env(&s, &env) {
        return no_such_environment();
    }
    let Some(d) = parse_deployment(&deployment) else {
        return no_such_deployment();
    };
    let g = match gp_engine::Graph::build(&s.platform, &env, d, &[]) {
        Ok(g) => g,
        Err(_) => {
            return problem(
                StatusCode::NOT_FOUND,
                "no graph",
                "nothing of the spec runs in that deployment",
            );
        }
    };
    match q.format.as_deref() {
        None | Some("json") => json_of(&super::status::graph_output(&s.platform, &env, d, &g)),
        Some("mermaid") => with_type(
            gp_engine::graph::render(&g, &s.platform, gp_engine::GraphFormat::Mermaid),
            "text/plain; charset=utf-8",
        ),
        Some("dot") => with_type(
            gp_engine::graph::render(&g, &s.platform, gp_engine::GraphFormat::Dot),
            "text/vnd.graphviz; charset=utf-8",
        ),
        Some(_) => problem(
            StatusCode::BAD_REQUEST,
            "bad format",
            "format is json, mermaid or dot",
        ),
    }
}

fn no_such_deployment() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "no such deployment",
        "a deployment is persistent, foundational or a build id (DD-MM-YY-NN)",
    )
}

#[derive(serde::Deserialize)]
struct PageQuery {
    limit: Option<usize>,
    offset: Option<usize>,
    status: Option<String>,
}

async fn builds(
    State(s): State<Arc<Shared>>,
    Path(env): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    if !known_env(&s, &env) {
        return no_such_environment();
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let offset = q.offset.unwrap_or(0);
    blocking(s, move |s| {
        let all = s.registry.builds(&env).map_err(|e| e.to_string())?;
        let matching: Vec<gp_registry::BuildSummary> = all
            .into_iter()
            .filter(|b| q.status.as_deref().is_none_or(|st| b.status == st))
            .collect();
        Ok(Some(BuildsPage {
            schema_version: 1,
            total: matching.len(),
            env,
            offset,
            limit,
            builds: matching.into_iter().skip(offset).take(limit).collect(),
        }))
    })
    .await
}

async fn build(
    State(s): State<Arc<Shared>>,
    Path((env, build)): Path<(String, String)>,
) -> Response {
    if !known_env(&s, &env) {
        return no_such_environment();
    }
    blocking(s, move |s| {
        let reservation = match build.parse::<gp_core::BuildId>() {
            Ok(b) => s.registry.reservation(&env, b).map_err(|e| e.to_string())?,
            Err(_) => None,
        };
        super::builds::build_detail(&s.registry, &env, &build, reservation)
            .map_err(|e| e.to_string())
    })
    .await
}

#[derive(serde::Deserialize)]
struct ReportQuery {
    since: Option<String>,
}

async fn report(
    State(s): State<Arc<Shared>>,
    Path(env): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Response {
    if !known_env(&s, &env) {
        return no_such_environment();
    }
    let since = match &q.since {
        None => None,
        Some(t) => match gp_registry::parse_utc(t) {
            Some(us) => Some(us),
            None => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "bad since",
                    "since is a date or a time (2026-01-01, 2026-01-01T12:00:00Z)",
                );
            }
        },
    };
    blocking(s, move |s| {
        let phases =
            gp_registry::report(&s.registry, Some(&env), since).map_err(|e| e.to_string())?;
        Ok(Some(crate::outputs::ReportOutput {
            schema_version: 1,
            phases,
        }))
    })
    .await
}

async fn requests(State(s): State<Arc<Shared>>, Query(q): Query<CatalogQuery>) -> Response {
    if q.env.as_deref().is_some_and(|e| !known_env(&s, e)) {
        return no_such_environment();
    }
    blocking(s, move |s| {
        let requests = s
            .with_engine_error("serve", |e| e.request_rows(q.env.as_deref()))
            .map_err(|(_, why)| why)?;
        Ok(Some(crate::outputs::RequestListOutput {
            schema_version: 1,
            requests,
        }))
    })
    .await
}

async fn resources(State(s): State<Arc<Shared>>, Query(q): Query<CatalogQuery>) -> Response {
    if q.env.as_deref().is_some_and(|e| !known_env(&s, e)) {
        return no_such_environment();
    }
    blocking(s, move |s| {
        let resources = s
            .with_engine_error("serve", |e| e.applied_requests(q.env.as_deref()))
            .map_err(|(_, why)| why)?
            .into_iter()
            .map(crate::outputs::ResourceRow::of)
            .collect();
        Ok(Some(crate::outputs::ResourcesOutput {
            schema_version: 1,
            resources,
        }))
    })
    .await
}

async fn leases(State(s): State<Arc<Shared>>) -> Response {
    blocking(s, |s| {
        let leases = s.registry.leases(None).map_err(|e| e.to_string())?;
        Ok(Some(crate::outputs::LeasesOutput {
            schema_version: 1,
            leases,
        }))
    })
    .await
}

/// Every path, its summary and the type it answers with.
fn api() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "/api/v1/environments",
            "The environments of the spec",
            "EnvironmentsOutput",
        ),
        (
            "/api/v1/environments/{env}",
            "An environment at a glance: the foundational plane, the persistent deployment, live builds (status --env E)",
            "Overview",
        ),
        (
            "/api/v1/environments/{env}/deployments/{deployment}",
            "A deployment's components with state, reason and next command (status --env E --build-id B|--persistent|--foundational)",
            "DeploymentStatus",
        ),
        (
            "/api/v1/environments/{env}/deployments/{deployment}/graph",
            "A deployment's graph (graph --output json; format=mermaid|dot for text)",
            "GraphOutput",
        ),
        (
            "/api/v1/environments/{env}/builds",
            "Builds, newest first, paged (limit, offset) and filtered by status",
            "BuildsPage",
        ),
        (
            "/api/v1/environments/{env}/builds/{build}",
            "A build's reservation, events, phases, journal, lease and overrides (builds show)",
            "BuildDetail",
        ),
        (
            "/api/v1/environments/{env}/report",
            "Per phase: runs, success rate, p50/p95 (registry report)",
            "ReportOutput",
        ),
        (
            "/api/v1/leases",
            "Every lease recorded (lease list)",
            "LeasesOutput",
        ),
        (
            "/api/v1/requests",
            "Self-service requests with their state and events (request list)",
            "RequestListOutput",
        ),
        (
            "/api/v1/resources",
            "What requests created or adopted, who asked and who applied (resources list)",
            "ResourcesOutput",
        ),
        (
            "/api/v1/catalog",
            "Backstage entities (catalog --output json)",
            "CatalogOutput",
        ),
    ]
}

/// The OpenAPI 3.1 document, its schemas generated from the same types the
/// handlers answer with.
///
/// The path parameters carry examples from the spec (its first
/// environment, the persistent deployment), so that a client generated
/// from it, or a fuzzer, reaches something that exists.
fn openapi(envs: &[String]) -> serde_json::Value {
    let env_example = envs.first().cloned().unwrap_or_default();
    let example = |name: &str| -> serde_json::Value {
        match name {
            "env" => env_example.clone().into(),
            "deployment" => "persistent".into(),
            _ => serde_json::Value::Null,
        }
    };
    // A path parameter, with its example when there is one.
    let path_param = |name: &str| {
        let mut p = serde_json::json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "maxLength": 64}});
        if !example(name).is_null() {
            p["example"] = example(name);
        }
        p
    };
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas/".into();
    let mut generator = settings.into_generator();
    let refs: std::collections::BTreeMap<&str, serde_json::Value> = [
        (
            "EnvironmentsOutput",
            generator.subschema_for::<EnvironmentsOutput>().to_value(),
        ),
        (
            "Overview",
            generator
                .subschema_for::<gp_engine::status::Overview>()
                .to_value(),
        ),
        (
            "DeploymentStatus",
            generator
                .subschema_for::<gp_engine::status::DeploymentStatus>()
                .to_value(),
        ),
        (
            "BuildsPage",
            generator.subschema_for::<BuildsPage>().to_value(),
        ),
        (
            "GraphOutput",
            generator
                .subschema_for::<crate::outputs::GraphOutput>()
                .to_value(),
        ),
        (
            "BuildDetail",
            generator
                .subschema_for::<super::builds::BuildDetail>()
                .to_value(),
        ),
        (
            "ReportOutput",
            generator
                .subschema_for::<crate::outputs::ReportOutput>()
                .to_value(),
        ),
        (
            "LeasesOutput",
            generator
                .subschema_for::<crate::outputs::LeasesOutput>()
                .to_value(),
        ),
        (
            "RequestListOutput",
            generator
                .subschema_for::<crate::outputs::RequestListOutput>()
                .to_value(),
        ),
        (
            "CatalogOutput",
            generator
                .subschema_for::<crate::outputs::CatalogOutput>()
                .to_value(),
        ),
        (
            "ResourcesOutput",
            generator
                .subschema_for::<crate::outputs::ResourcesOutput>()
                .to_value(),
        ),
        ("Problem", generator.subschema_for::<Problem>().to_value()),
    ]
    .into_iter()
    .collect();
    let mut schemas = serde_json::Map::new();
    for (name, schema) in generator.take_definitions(true) {
        schemas.insert(name, schema);
    }
    let problem_ref = refs["Problem"].clone();
    let mut paths = serde_json::Map::new();
    for (path, summary, ty) in api() {
        let mut params: Vec<serde_json::Value> = Vec::new();
        for name in ["env", "deployment", "build"] {
            if path.contains(&format!("{{{name}}}")) {
                params.push(path_param(name));
            }
        }
        if ty == "BuildsPage" {
            params.push(serde_json::json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}));
            params.push(serde_json::json!({"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}));
            params.push(serde_json::json!({"name": "status", "in": "query", "schema": {"type": "string", "maxLength": 32}}));
        }
        if ty == "GraphOutput" {
            params.push(serde_json::json!({"name": "format", "in": "query", "schema": {"enum": ["json", "mermaid", "dot"]}}));
        }
        if ty == "ReportOutput" {
            params.push(serde_json::json!({"name": "since", "in": "query", "schema": {"type": "string", "maxLength": 32}}));
        }
        if ty == "CatalogOutput" || ty == "RequestListOutput" || ty == "ResourcesOutput" {
            params.push(serde_json::json!({"name": "env", "in": "query", "schema": {"type": "string", "maxLength": 64}}));
        }
        let problem = serde_json::json!({"description": "a problem document", "content": {"application/problem+json": {"schema": problem_ref}}});
        let mut ok = serde_json::json!({"application/json": {"schema": refs[ty]}});
        if ty == "GraphOutput" {
            // format=mermaid and format=dot answer with the graph as text.
            ok["text/plain"] = serde_json::json!({"schema": {"type": "string"}});
            ok["text/vnd.graphviz"] = serde_json::json!({"schema": {"type": "string"}});
        }
        paths.insert(
            path.to_string(),
            serde_json::json!({"get": {
                "summary": summary,
                "parameters": params,
                "responses": {
                    "200": {"description": "OK", "content": ok},
                    "400": problem, "404": problem, "414": problem, "503": problem,
                },
            }}),
        );
    }
    // The changes: a bearer token of a holder in --tokens.
    let approved = generator
        .subschema_for::<crate::outputs::RequestApprovedOutput>()
        .to_value();
    let unlocked = generator.subschema_for::<UnlockOutput>().to_value();
    for (name, schema) in generator.take_definitions(true) {
        schemas.insert(name, schema);
    }
    let reason = serde_json::json!({"required": false, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"reason": {"type": "string", "maxLength": 2048}}}}}});
    let problem = serde_json::json!({"description": "a problem document", "content": {"application/problem+json": {"schema": problem_ref}}});
    for (path, summary, ok, params) in [
        (
            "/api/v1/requests/{id}/approve",
            "Approve a request as the token's holder (never its requester; an approver of its route)",
            approved,
            vec!["id"],
        ),
        (
            "/api/v1/leases/{env}/{deployment}/unlock",
            "Force-unlock a lease, with a reason, as an approver",
            unlocked,
            vec!["env", "deployment"],
        ),
    ] {
        let params: Vec<serde_json::Value> = params.iter().map(|n| path_param(n)).collect();
        paths.insert(
            path.to_string(),
            serde_json::json!({"post": {
                "summary": summary,
                "security": [{"bearer": []}],
                "parameters": params,
                "requestBody": reason,
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": ok}}},
                    "400": problem, "401": problem, "403": problem, "404": problem, "413": problem, "503": problem,
                },
            }}),
        );
    }
    serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "goldenpath", "version": env!("CARGO_PKG_VERSION"),
                 "description": "The goldenpath registry, read-only: the CLI's --output json shapes."},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    })
}

#[derive(serde::Deserialize)]
struct EventsQuery {
    after: Option<String>,
}

/// `GET /api/v1/events`: Server-Sent Events of what the registry records
/// (deployment events and phases, by any process or runner), oldest first,
/// from `after` or `Last-Event-ID` (a cursor a previous event carried), or
/// from the beginning.
async fn events(
    State(s): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let start = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(q.after);
    let cursor = match start {
        None => None,
        Some(c) => match gp_registry::parse_cursor(&c) {
            Some(c) => Some(c),
            None => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "bad cursor",
                    "a cursor is what an event's id said: {atUs}.{id}",
                );
            }
        },
    };
    let stream = futures_util::stream::unfold(
        (s, cursor, std::collections::VecDeque::new()),
        |(s, cursor, mut pending)| async move {
            loop {
                if s.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    return None;
                }
                if let Some(item) = pending.pop_front() {
                    let item: gp_registry::StreamItem = item;
                    let next = gp_registry::parse_cursor(&item.cursor);
                    let ev = Event::default()
                        .id(item.cursor.clone())
                        .event(item.kind.clone())
                        .data(serde_json::to_string(&item).unwrap_or_default());
                    return Some((Ok::<_, std::convert::Infallible>(ev), (s, next, pending)));
                }
                let (s2, c2) = (s.clone(), cursor.clone());
                // Up to half a second ago: a writer that read the clock just
                // before another still lands in order.
                let batch = tokio::task::spawn_blocking(move || {
                    s2.registry
                        .stream_after(c2.as_ref(), gp_registry::now_us() - 500_000, 200)
                })
                .await;
                match batch {
                    Ok(Ok(items)) if !items.is_empty() => pending.extend(items),
                    Ok(Ok(_)) => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
                    _ => return None,
                }
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn html(body: String) -> Response {
    with_type(body, "text/html; charset=utf-8")
}

async fn ui_overview(State(s): State<Arc<Shared>>) -> Response {
    let r = tokio::task::spawn_blocking(move || {
        let mut envs = Vec::new();
        for env in s.platform.spec.environments.keys() {
            let overview = s.with_engine(|e| e.overview(&env.value))?;
            let mut builds = Vec::new();
            // What waits is worked out for the newest builds only: an
            // environment with thousands of live builds still answers at
            // once (the rest show their status).
            for (i, b) in overview.builds.iter().enumerate() {
                builds.push(match b.build_id.parse::<gp_core::BuildId>() {
                    Ok(id) if !b.imported && i < OVERVIEW_DETAILED => Some(s.with_engine(|e| {
                        e.status(&env.value, gp_core::Deployment::Ephemeral(id))
                    })?),
                    _ => None,
                });
            }
            envs.push(super::dashboard::EnvView {
                env: env.value.clone(),
                overview,
                builds,
            });
        }
        Ok::<_, String>(super::dashboard::overview(&envs, gp_registry::now_us()))
    })
    .await;
    match r {
        Ok(Ok(page)) => html(page),
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the registry cannot be read",
            "the overview could not be computed",
        ),
    }
}

async fn ui_deployment(
    State(s): State<Arc<Shared>>,
    Path((env, deployment)): Path<(String, String)>,
) -> Response {
    if !known_env(&s, &env) {
        return no_such_environment();
    }
    let Some(d) = parse_deployment(&deployment) else {
        return no_such_deployment();
    };
    let r = tokio::task::spawn_blocking(move || {
        let status = s.with_engine(|e| e.status(&env, d))?;
        let g = gp_engine::Graph::build(&s.platform, &env, d, &[]).map_err(|e| e.to_string())?;
        let graph = super::status::graph_output(&s.platform, &env, d, &g);
        Ok::<_, String>(super::dashboard::deployment(&status, &graph))
    })
    .await;
    match r {
        Ok(Ok(page)) => html(page),
        _ => problem(
            StatusCode::NOT_FOUND,
            "no such deployment",
            "nothing of the spec runs there",
        ),
    }
}

async fn ui_history(State(s): State<Arc<Shared>>, Path(env): Path<String>) -> Response {
    if !known_env(&s, &env) {
        return no_such_environment();
    }
    let r = tokio::task::spawn_blocking(move || {
        let r = &s.registry;
        let e = |e: gp_registry::RegistryError| e.to_string();
        let h = super::dashboard::History {
            deploys: r
                .recent_build_phases(&env, "deploy", HISTORY_RUNS)
                .map_err(e)?,
            teardowns: r
                .recent_build_phases(&env, "teardown", HISTORY_RUNS)
                .map_err(e)?,
            outcomes: r.build_phase_outcomes(&env, "deploy").map_err(e)?,
            slowest: r.slowest_phases(&env, 10).map_err(e)?,
            report: gp_registry::report(r, Some(&env), None).map_err(e)?,
            per_phase: Vec::new(),
        };
        let mut h = h;
        for phase in super::dashboard::charted_phases(&h.report) {
            let runs = r
                .recent_build_phases(&env, &phase, HISTORY_RUNS / 2)
                .map_err(e)?;
            h.per_phase.push((phase, runs));
        }
        Ok::<_, String>(super::dashboard::history(&env, &h))
    })
    .await;
    match r {
        Ok(Ok(page)) => html(page),
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the registry cannot be read",
            "the history could not be read",
        ),
    }
}

async fn ui_build(
    State(s): State<Arc<Shared>>,
    Path((env, build)): Path<(String, String)>,
) -> Response {
    if !known_env(&s, &env) {
        return no_such_environment();
    }
    let r = tokio::task::spawn_blocking(move || {
        let reservation = match build.parse::<gp_core::BuildId>() {
            Ok(b) => s.registry.reservation(&env, b).map_err(|e| e.to_string())?,
            Err(_) => None,
        };
        let detail = super::builds::build_detail(&s.registry, &env, &build, reservation)
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(detail.map(|d| super::dashboard::build(&d)))
    })
    .await;
    match r {
        Ok(Ok(Some(page))) => html(page),
        Ok(Ok(None)) => problem(
            StatusCode::NOT_FOUND,
            "not found",
            "no such build is recorded",
        ),
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the registry cannot be read",
            "the build could not be read",
        ),
    }
}

/// The holder of the request's bearer token, or a 401.
fn authorised(s: &Shared, headers: &axum::http::HeaderMap) -> Result<String, Box<Response>> {
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

#[derive(serde::Deserialize, Default)]
struct ReasonBody {
    reason: Option<String>,
}

fn reason_of(body: &axum::body::Bytes) -> Result<ReasonBody, Box<Response>> {
    if body.is_empty() {
        return Ok(ReasonBody::default());
    }
    serde_json::from_slice(body).map_err(|_| {
        Box::new(problem(
            StatusCode::BAD_REQUEST,
            "bad body",
            "the body is JSON: {\"reason\": \"...\"}",
        ))
    })
}

/// An approval of request `id` by `actor`, with the CLI's rules (never the
/// requester; an approver of the request's route): what the API and the
/// dashboard's form both call. A refusal is recorded; the error is the
/// HTTP status and why.
async fn approve_as(
    s: Arc<Shared>,
    id: String,
    actor: String,
    reason: Option<String>,
) -> Result<crate::outputs::RequestApprovedOutput, (u16, String)> {
    if id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err((404, "no request has that id".to_string()));
    }
    let r = tokio::task::spawn_blocking(move || {
        s.with_engine_error(&actor, |e| {
            // Only among the files the spec names: never a path.
            let req = e.request_find(&id, false)?;
            let state = e.request_approve(&req, &actor, reason.as_deref())?;
            Ok(crate::outputs::RequestApprovedOutput {
                schema_version: 1,
                request: req.id().value.clone(),
                by: actor.clone(),
                hash: req.hash.clone(),
                needed: req.needs_approval(),
                approved: state.complete(),
                missing: state.missing,
            })
        })
    })
    .await;
    match r {
        Ok(Ok(out)) => Ok(out),
        Ok(Err((code @ (400 | 403 | 404), why))) => Err((code, why)),
        _ => Err((503, "the approval could not be recorded".to_string())),
    }
}

/// `POST /api/v1/requests/{id}/approve`: [`approve_as`] the token's holder;
/// a refusal is answered 403.
async fn approve(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let actor = match authorised(&s, &headers) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let body = match reason_of(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    match approve_as(s, id, actor, body.reason).await {
        Ok(out) => json_of(&out),
        Err((403, why)) => problem(StatusCode::FORBIDDEN, "refused", &why),
        Err((404, why)) => problem(StatusCode::NOT_FOUND, "no such request", &why),
        Err((400, why)) => problem(StatusCode::BAD_REQUEST, "the request is not valid", &why),
        Err(_) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the registry cannot be written",
            "the approval could not be recorded",
        ),
    }
}

/// What `POST .../unlock` answers.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct UnlockOutput {
    /// Version of this shape.
    schema_version: u32,
    /// Environment.
    env: String,
    /// Deployment key.
    deployment: String,
    /// The lease that was ended, if one was held.
    ended: Option<gp_registry::LeaseState>,
}

/// A forced unlock of `env`'s `deployment` by `actor`, who must be one of
/// the spec's approvers, with a reason: what the API and the dashboard's
/// form both call.
async fn unlock_as(
    s: Arc<Shared>,
    env: String,
    deployment: String,
    actor: String,
    reason: Option<String>,
) -> Result<UnlockOutput, (u16, String)> {
    if !known_env(&s, &env) {
        return Err((404, "the spec has no such environment".to_string()));
    }
    if parse_deployment(&deployment).is_none() {
        return Err((404, "no such deployment".to_string()));
    }
    let Some(reason) = reason.filter(|r| !r.trim().is_empty()) else {
        return Err((400, "a forced unlock needs a reason".to_string()));
    };
    let approver = s.platform.spec.requests.as_ref().is_some_and(|q| {
        q.approvers
            .values()
            .flatten()
            .any(|p| gp_engine::requests::same_person(p, &actor))
    });
    if !approver {
        return Err((
            403,
            "only someone of requests.approvers may force-unlock a lease".to_string(),
        ));
    }
    let r = tokio::task::spawn_blocking(move || {
        s.registry
            .lease_force_unlock(&env, &deployment, &actor, &reason)
            .map(|ended| UnlockOutput {
                schema_version: 1,
                env,
                deployment,
                ended,
            })
    })
    .await;
    match r {
        Ok(Ok(out)) => Ok(out),
        _ => Err((503, "the unlock could not be recorded".to_string())),
    }
}

/// `POST /api/v1/leases/{env}/{deployment}/unlock`: [`unlock_as`] the
/// token's holder.
async fn unlock(
    State(s): State<Arc<Shared>>,
    Path((env, deployment)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let actor = match authorised(&s, &headers) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let body = match reason_of(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    match unlock_as(s, env, deployment, actor, body.reason).await {
        Ok(out) => json_of(&out),
        Err((404, why)) if why.contains("environment") => no_such_environment(),
        Err((404, _)) => no_such_deployment(),
        Err((400, _)) => problem(
            StatusCode::BAD_REQUEST,
            "no reason",
            "a forced unlock needs a reason",
        ),
        Err((403, why)) => problem(StatusCode::FORBIDDEN, "refused", &why),
        Err(_) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the registry cannot be written",
            "the unlock could not be recorded",
        ),
    }
}

/// What a dashboard form posts: the token (in the body, never the URL) and
/// a reason.
#[derive(serde::Deserialize)]
struct TokenForm {
    token: String,
    #[serde(default)]
    reason: Option<String>,
}

/// The holder of a form's token, or the page saying why not (401).
fn form_holder(s: &Shared, form: &TokenForm, back: &str) -> Result<String, Box<Response>> {
    let refuse = |why: &str| {
        let mut r = html(super::dashboard::outcome(
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

/// An HTML page for what a form's change came to.
fn form_outcome<T>(title: &str, r: Result<T, (u16, String)>, done: String, back: &str) -> Response {
    match r {
        Ok(_) => html(super::dashboard::outcome(title, true, &done, back)),
        Err((code, why)) => {
            let mut page = html(super::dashboard::outcome(title, false, &why, back));
            *page.status_mut() =
                StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            page
        }
    }
}

/// `POST /ui/requests/{id}/approve`: the dashboard's approval form.
async fn ui_approve(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    form: Result<axum::Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let back = "/ui/requests";
    let Ok(axum::Form(form)) = form else {
        return form_outcome::<()>(
            "Approval",
            Err((400, "the form is incomplete".into())),
            String::new(),
            back,
        );
    };
    let actor = match form_holder(&s, &form, back) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let done = format!("{id} approved by {actor}");
    let r = approve_as(s, id, actor, form.reason.filter(|r| !r.trim().is_empty())).await;
    form_outcome("Approval", r, done, back)
}

/// `POST /ui/leases/{env}/{deployment}/unlock`: the dashboard's unlock form.
async fn ui_unlock(
    State(s): State<Arc<Shared>>,
    Path((env, deployment)): Path<(String, String)>,
    form: Result<axum::Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let back = "/ui/leases";
    let Ok(axum::Form(form)) = form else {
        return form_outcome::<()>(
            "Unlock",
            Err((400, "the form is incomplete".into())),
            String::new(),
            back,
        );
    };
    let actor = match form_holder(&s, &form, back) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let done = format!("the lease of {env} {deployment} was ended by {actor}");
    let r = unlock_as(s, env, deployment, actor, form.reason).await;
    form_outcome("Unlock", r, done, back)
}

async fn ui_requests(State(s): State<Arc<Shared>>) -> Response {
    let r = tokio::task::spawn_blocking(move || {
        let rows = s.with_engine(|e| e.request_rows(None))?;
        Ok::<_, String>(super::dashboard::requests(&rows, s.tokens.is_some()))
    })
    .await;
    match r {
        Ok(Ok(page)) => html(page),
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the registry cannot be read",
            "the requests could not be read",
        ),
    }
}

async fn ui_leases(State(s): State<Arc<Shared>>) -> Response {
    let r = tokio::task::spawn_blocking(move || {
        let leases = s.registry.leases(None).map_err(|e| e.to_string())?;
        Ok::<_, String>(super::dashboard::leases(&leases, s.tokens.is_some()))
    })
    .await;
    match r {
        Ok(Ok(page)) => html(page),
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the registry cannot be read",
            "the leases could not be read",
        ),
    }
}

async fn openapi_json(State(s): State<Arc<Shared>>) -> Response {
    let envs: Vec<String> = s
        .platform
        .spec
        .environments
        .keys()
        .map(|e| e.value.clone())
        .collect();
    json_of(&openapi(&envs))
}

/// Refuses query strings past [`MAX_QUERY`] bytes and bodies (nothing
/// here takes one).
async fn bounded(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
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

/// Runs `serve` until SIGTERM or Ctrl-C.
pub fn run(ctx: &Context, a: ServeArgs) -> anyhow::Result<()> {
    let addr: SocketAddr = a.listen.parse().map_err(|_| {
        CliError::invalid(format!("--listen `{}` is not ADDR:PORT", a.listen))
            .hint("e.g. --listen 127.0.0.1:8480")
    })?;
    if !addr.ip().is_loopback() && a.tokens.is_none() {
        return Err(CliError::invalid(format!(
            "refusing to listen on {addr} without --tokens: anyone who can reach it would read the registry"
        ))
        .hint("listen on 127.0.0.1, or give --tokens FILE")
        .into());
    }
    let tokens = match &a.tokens {
        Some(p) => Some(Tokens::load(p)?),
        None => None,
    };
    let platform = ctx.platform()?.clone();
    let drivers = ctx.drivers()?;
    let registry = ctx.open_registry_shared()?;
    let shared = Arc::new(Shared {
        tokens,
        stopping: std::sync::atomic::AtomicBool::new(false),
        platform,
        registry,
        drivers,
        state_dir: ctx.state_dir()?,
    });
    let app = axum::Router::new()
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
        .route(
            "/assets/style.css",
            get(|| async { with_type(super::dashboard::STYLE.into(), "text/css; charset=utf-8") }),
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
        .layer(axum::middleware::from_fn(bounded))
        .layer(axum::middleware::from_fn(headers))
        .with_state(shared.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // The registry is one connection behind a lock: more threads for
        // its reads only add allocator arenas (memory) and no speed.
        .max_blocking_threads(4)
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
            .with_graceful_shutdown(async move {
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
                shared
                    .stopping
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            })
            .await
            .map_err(|e| CliError::failed(format!("the server stopped: {e}")))?;
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(())
}
