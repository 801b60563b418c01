//! The dashboard's pages and forms.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::api::{approve_as, unlock_as};
use super::auth::{TokenForm, form_holder};
use super::http::*;
use super::{HISTORY_RUNS, OVERVIEW_DETAILED, Shared};
use crate::cmd::dashboard;

pub(super) async fn ui_overview(State(s): State<Arc<Shared>>) -> Response {
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
                    Ok(id)
                        if !b.imported
                            && i < OVERVIEW_DETAILED
                            && b.status != gp_registry::TAMPERED =>
                    {
                        match s.with_engine(|e| {
                            e.status(&env.value, gp_core::Deployment::Ephemeral(id))
                        }) {
                            Ok(status) => Some(status),
                            // Shown by its status (tampered) alone.
                            Err(why)
                                if !overview.tampered.is_empty()
                                    && why.starts_with("the registry was tampered with") =>
                            {
                                None
                            }
                            Err(why) => return Err(why),
                        }
                    }
                    _ => None,
                });
            }
            envs.push(dashboard::EnvView {
                env: env.value.clone(),
                overview,
                builds,
            });
        }
        Ok::<_, String>(dashboard::overview(&envs, gp_registry::now_us()))
    })
    .await;
    match r {
        Ok(Ok(page)) => html(page),
        Ok(Err(why)) => unreadable(&why, "the overview could not be computed"),
        Err(_) => unreadable("", "the overview could not be computed"),
    }
}

pub(super) async fn ui_deployment(
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
        let graph = crate::cmd::status::graph_output(&s.platform, &env, d, &g);
        let events = s
            .registry
            .deployment_events(&env, &d.key())
            .map_err(|e| e.to_string())?;
        // Enough of the newest runs for each phase's chart, read by a
        // range over the deployment's index.
        let recent = s
            .registry
            .recent_deployment_phases(&env, &d.key(), 40 * dashboard::RUNS_PER_PHASE)
            .map_err(|e| e.to_string())?;
        let facts = dashboard::DeploymentFacts::of(
            &events,
            crate::github::host_urls(&s.platform, &env, d),
            recent,
        );
        Ok::<_, String>(dashboard::deployment(&status, &graph, &facts))
    })
    .await;
    match r {
        Ok(Ok(page)) => html(page),
        Ok(Err(why)) if why.starts_with("the registry was tampered with") => unreadable(&why, ""),
        _ => problem(
            StatusCode::NOT_FOUND,
            "no such deployment",
            "nothing of the spec runs there",
        ),
    }
}

pub(super) async fn ui_history(State(s): State<Arc<Shared>>, Path(env): Path<String>) -> Response {
    if !known_env(&s, &env) {
        return no_such_environment();
    }
    let r = tokio::task::spawn_blocking(move || {
        let r = &s.registry;
        let e = |e: gp_registry::RegistryError| e.to_string();
        // Kept between requests: only rows written since are read.
        let report = gp_registry::report_kept(r, &env, false).map_err(e)?;
        let h = dashboard::History {
            outcomes: dashboard::build_outcomes(&report, "deploy"),
            deploys: r
                .recent_build_phases(&env, "deploy", HISTORY_RUNS)
                .map_err(e)?,
            teardowns: r
                .recent_build_phases(&env, "teardown", HISTORY_RUNS)
                .map_err(e)?,
            slowest: r.slowest_phases(&env, 10).map_err(e)?,
            report,
            per_phase: Vec::new(),
            metrics: {
                let until = gp_registry::now_us();
                let events = r.env_deploy_events(&env, until).map_err(e)?;
                let dir = s.platform.base_dir().to_path_buf();
                Some(gp_registry::delivery_metrics(
                    &env,
                    &events,
                    until - 30 * 86_400_000_000,
                    until,
                    &|sha| crate::cmd::metrics::commit_time(&dir, sha),
                ))
            },
        };
        let mut h = h;
        for phase in dashboard::charted_phases(&h.report) {
            let runs = r
                .recent_build_phases(&env, &phase, HISTORY_RUNS / 2)
                .map_err(e)?;
            h.per_phase.push((phase, runs));
        }
        Ok::<_, String>(dashboard::history(&env, &h))
    })
    .await;
    match r {
        Ok(Ok(page)) => html(page),
        Ok(Err(why)) => unreadable(&why, "the history could not be read"),
        Err(_) => unreadable("", "the history could not be read"),
    }
}

pub(super) async fn ui_build(
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
        let detail = crate::cmd::builds::build_detail(&s.registry, &env, &build, reservation)
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(detail.map(|d| dashboard::build(&d)))
    })
    .await;
    match r {
        Ok(Ok(Some(page))) => html(page),
        Ok(Ok(None)) => problem(
            StatusCode::NOT_FOUND,
            "not found",
            "no such build is recorded",
        ),
        Ok(Err(why)) => unreadable(&why, "the build could not be read"),
        Err(_) => unreadable("", "the build could not be read"),
    }
}

/// An HTML page for what a form's change came to.
pub(super) fn form_outcome<T>(
    title: &str,
    r: Result<T, (u16, String)>,
    done: String,
    back: &str,
) -> Response {
    match r {
        Ok(_) => html(dashboard::outcome(title, true, &done, back)),
        Err((code, why)) => {
            let mut page = html(dashboard::outcome(title, false, &why, back));
            *page.status_mut() =
                StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            page
        }
    }
}

/// `POST /ui/requests/{id}/approve`: the dashboard's approval form.
pub(super) async fn ui_approve(
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
pub(super) async fn ui_unlock(
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

pub(super) async fn ui_requests(State(s): State<Arc<Shared>>) -> Response {
    let r = tokio::task::spawn_blocking(move || {
        let rows = s.with_engine(|e| e.request_rows(None))?;
        Ok::<_, String>(dashboard::requests(&rows, s.tokens.is_some()))
    })
    .await;
    match r {
        Ok(Ok(page)) => html(page),
        Ok(Err(why)) => unreadable(&why, "the requests could not be read"),
        Err(_) => unreadable("", "the requests could not be read"),
    }
}

pub(super) async fn ui_leases(State(s): State<Arc<Shared>>) -> Response {
    let r = tokio::task::spawn_blocking(move || {
        let (leases, _) = s.registry.leases_checked(None).map_err(|e| e.to_string())?;
        Ok::<_, String>(dashboard::leases(&leases, s.tokens.is_some()))
    })
    .await;
    match r {
        Ok(Ok(page)) => html(page),
        Ok(Err(why)) => unreadable(&why, "the leases could not be read"),
        Err(_) => unreadable("", "the leases could not be read"),
    }
}
