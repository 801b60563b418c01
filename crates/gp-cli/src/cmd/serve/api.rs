//! The JSON API under `/api/v1/`, the event stream, the catalog and the
//! health endpoints.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Shared;
use super::auth::authorised;
use super::http::*;
use super::openapi::openapi;

/// A problem document (RFC 9457).
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(super) struct Problem {
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
pub(super) struct BuildsPage {
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
    /// What does not check out against the registry's chain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tampered: Vec<gp_registry::Tampered>,
}

/// `GET /api/v1/environments`.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct EnvironmentsOutput {
    /// Version of this shape.
    schema_version: u32,
    /// In the spec's order.
    environments: Vec<String>,
}

pub(super) async fn environments(State(s): State<Arc<Shared>>) -> Response {
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

pub(super) async fn environment(State(s): State<Arc<Shared>>, Path(env): Path<String>) -> Response {
    if !known_env(&s, &env) {
        return no_such_environment();
    }
    blocking(s, move |s| s.with_engine(|e| e.overview(&env)).map(Some)).await
}

pub(super) async fn deployment(
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
pub(super) struct GraphQuery {
    format: Option<String>,
}

pub(super) async fn graph(
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
        None | Some("json") => json_of(&crate::cmd::status::graph_output(&s.platform, &env, d, &g)),
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

#[derive(serde::Deserialize)]
pub(super) struct PageQuery {
    limit: Option<usize>,
    offset: Option<usize>,
    status: Option<String>,
}

pub(super) async fn builds(
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
        // A build whose rows do not check out is listed as tampered.
        let (all, tampered) = s.with_engine(|e| Ok(e.builds_checked(&env)?))?;
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
            tampered,
        }))
    })
    .await
}

pub(super) async fn build(
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
        crate::cmd::builds::build_detail(&s.registry, &env, &build, reservation)
            .map_err(|e| e.to_string())
    })
    .await
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReportQuery {
    since: Option<String>,
    /// Imported history in the percentiles too (it counts in every other
    /// figure).
    #[serde(default)]
    include_imported: bool,
}

pub(super) async fn report(
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
        // The whole history is kept between requests (only rows written
        // since are read); a window is read as asked.
        let phases = match since {
            None => gp_registry::report_kept(&s.registry, &env, q.include_imported),
            Some(_) => gp_registry::report(&s.registry, Some(&env), since, q.include_imported),
        }
        .map_err(|e| e.to_string())?;
        Ok(Some(crate::outputs::ReportOutput {
            schema_version: 1,
            phases,
        }))
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct MetricsQuery {
    since: Option<String>,
    until: Option<String>,
}

pub(super) async fn metrics(
    State(s): State<Arc<Shared>>,
    Path(env): Path<String>,
    Query(q): Query<MetricsQuery>,
) -> Response {
    if !known_env(&s, &env) {
        return no_such_environment();
    }
    let (since, until) = match crate::cmd::metrics::window(q.since.as_deref(), q.until.as_deref()) {
        Ok(w) => w,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "bad window", &e.message),
    };
    blocking(s, move |s| {
        let events = s
            .registry
            .env_deploy_events(&env, until)
            .map_err(|e| e.to_string())?;
        let dir = s.platform.base_dir().to_path_buf();
        let metrics = gp_registry::delivery_metrics(&env, &events, since, until, &|sha| {
            crate::cmd::metrics::commit_time(&dir, sha)
        });
        Ok(Some(crate::outputs::MetricsOutput {
            schema_version: 1,
            metrics,
        }))
    })
    .await
}

pub(super) async fn requests(
    State(s): State<Arc<Shared>>,
    Query(q): Query<CatalogQuery>,
) -> Response {
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

pub(super) async fn resources(
    State(s): State<Arc<Shared>>,
    Query(q): Query<CatalogQuery>,
) -> Response {
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

pub(super) async fn leases(State(s): State<Arc<Shared>>) -> Response {
    blocking(s, |s| {
        let (leases, tampered) = s.registry.leases_checked(None).map_err(|e| e.to_string())?;
        Ok(Some(crate::outputs::LeasesOutput {
            schema_version: 1,
            leases,
            tampered,
        }))
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct EventsQuery {
    after: Option<String>,
}

/// `GET /api/v1/events`: Server-Sent Events of what the registry records
/// (deployment events and phases, by any process or runner), oldest first,
/// from `after` or `Last-Event-ID` (a cursor a previous event carried), or
/// from the beginning.
pub(super) async fn events(
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

#[derive(serde::Deserialize, Default)]
pub(super) struct ReasonBody {
    reason: Option<String>,
}

pub(super) fn reason_of(body: &axum::body::Bytes) -> Result<ReasonBody, Box<Response>> {
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
pub(super) async fn approve_as(
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
pub(super) async fn approve(
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
pub(super) struct UnlockOutput {
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
pub(super) async fn unlock_as(
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
pub(super) async fn unlock(
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

pub(super) async fn openapi_json(State(s): State<Arc<Shared>>) -> Response {
    let envs: Vec<String> = s
        .platform
        .spec
        .environments
        .keys()
        .map(|e| e.value.clone())
        .collect();
    json_of(&openapi(&envs))
}

pub(super) async fn catalog_json(
    State(s): State<Arc<Shared>>,
    Query(q): Query<CatalogQuery>,
) -> Response {
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

pub(super) async fn catalog_yaml(
    State(s): State<Arc<Shared>>,
    Query(q): Query<CatalogQuery>,
) -> Response {
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

pub(super) async fn readyz(State(s): State<Arc<Shared>>) -> Response {
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
