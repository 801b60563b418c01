//! The dashboard `goldenpath serve` draws at `/`: plain HTML with tables
//! and server-side SVG (no script at all, one embedded stylesheet), from
//! the same engine calls as the CLI and the JSON API.
//!
//! - `/`: every environment's foundational plane, persistent deployment and
//!   live builds, green/amber/red with what waits and why;
//! - `/ui/{env}/{deployment}`: its components (state, tier, plane, reason),
//!   the next commands once, the drift found, and its graph drawn as SVG
//!   (layers by dependency with barycentre ordering, arrowheads, states in
//!   colour with a legend);
//! - `/ui/{env}/builds/{build}`: a build's phases, with a chart of each
//!   finished phase's duration (one point per phase);
//! - `/ui/{env}/history`: deploys and teardowns over time, the success
//!   rate, the slowest phases and the registry report;
//! - `/ui/requests`: every request with its state and approvals, and (when
//!   the server holds tokens) a form to approve one with a token;
//! - `/ui/leases`: every deployment's lease, and a form to force-unlock one.

use gp_engine::status::DeploymentStatus;

/// The stylesheet, served at `/assets/style.css`.
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#111;background:#fff}
a{color:#0645ad}a:focus{outline:3px solid #f59e0b}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #999;padding:.3rem .6rem;text-align:left}
.state{font-weight:600;padding:.1rem .4rem;border-radius:.2rem}
.green{background:#d1fae5;color:#064e3b}.amber{background:#fef3c7;color:#78350f}
.red{background:#fee2e2;color:#7f1d1d}.grey{background:#e5e7eb;color:#111827}
svg text{font-size:12px;fill:#111}svg .node{fill:#eef2ff;stroke:#312e81}svg .edge{stroke:#555;fill:none}svg .arrowhead{fill:#555}\nsvg .node.green{fill:#d1fae5;stroke:#064e3b}svg .node.amber{fill:#fef3c7;stroke:#78350f}svg .node.red{fill:#fee2e2;stroke:#7f1d1d}svg .node.grey{fill:#e5e7eb;stroke:#111827}
svg .point{fill:#1d4ed8}svg .axis{stroke:#333}
form.inline{display:flex;gap:.4rem;align-items:center;flex-wrap:wrap;margin:0}
input,button{font:inherit;padding:.2rem .4rem}button{background:#1e3a8a;color:#fff;border:0;border-radius:.2rem}
button:focus,input:focus{outline:3px solid #f59e0b}
.notice{padding:.6rem;border:2px solid #333}";

/// Text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title><link rel=\"stylesheet\" href=\"/assets/style.css\"></head><body><header><nav aria-label=\"goldenpath\"><a href=\"/\">goldenpath</a> · <a href=\"/ui/requests\">Requests</a> · <a href=\"/ui/leases\">Leases</a></nav></header><main><h1>{}</h1>{body}</main></body></html>\n",
        esc(title),
        esc(title)
    )
}

/// The page a browser gets for an error under `/ui/` (the API answers
/// with the problem document itself).
pub fn error_page(status: u16, title: &str, detail: &str) -> String {
    page(
        &format!("{status} {title}"),
        &format!(
            "<p class=\"notice\" role=\"alert\">{}</p><p><a href=\"/\">Back to the overview</a></p>",
            esc(detail)
        ),
    )
}

/// green, amber, red or grey for a deployment's status and what waits.
fn colour(status: &str, pending: usize) -> &'static str {
    match status {
        "live" if pending == 0 => "green",
        "live" | "partial" | "deploying" | "reserved" | "tearing-down" => "amber",
        "failed" | "interrupted" | "teardown-failed" | "tampered" => "red",
        _ => "grey",
    }
}

fn state_word(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// One environment as the overview shows it: its overview, and the status
/// of each live build.
pub struct EnvView {
    /// The environment.
    pub env: String,
    /// Its overview.
    pub overview: gp_engine::status::Overview,
    /// Each live build's status, as `overview.builds` lists them (`None`
    /// for one only imported history knows).
    pub builds: Vec<Option<DeploymentStatus>>,
}

/// The overview of `envs`.
pub fn overview(envs: &[EnvView], now_us: i64) -> String {
    let mut body = String::new();
    for v in envs {
        let (env, o) = (&v.env, &v.overview);
        body.push_str(&format!(
            "<section aria-labelledby=\"env-{e}\"><h2 id=\"env-{e}\">{e}</h2><p><a href=\"/ui/{e}/history\">History of {e}: deploys, teardowns, the slowest phases</a></p><table><caption>Deployments of {e}</caption><thead><tr><th scope=\"col\">deployment</th><th scope=\"col\">status</th><th scope=\"col\">waiting</th><th scope=\"col\">expires</th></tr></thead><tbody>",
            e = esc(env)
        ));
        let rows: Vec<(String, String, &DeploymentStatus, String)> = vec![
            (
                "foundational".into(),
                "foundational plane".into(),
                &o.foundational,
                String::new(),
            ),
            (
                "persistent".into(),
                "persistent deployment".into(),
                &o.persistent,
                String::new(),
            ),
        ];
        for (key, label, s, expires) in &rows {
            body.push_str(&row(env, key, label, s, expires));
        }
        for (b, s) in o.builds.iter().zip(&v.builds) {
            let expires = gp_engine::expiry::time_left(b.expires_us, b.kept.as_deref(), now_us);
            match s {
                Some(s) => body.push_str(&row(
                    env,
                    &b.build_id,
                    &format!("build {}", b.build_id),
                    s,
                    &expires,
                )),
                None => body.push_str(&format!(
                    "<tr><td>build {}</td><td><span class=\"state grey\">{}</span></td><td></td><td></td></tr>",
                    esc(&b.build_id),
                    esc(&b.status)
                )),
            }
        }
        body.push_str("</tbody></table></section>");
    }
    page("Platform overview", &body)
}

fn row(env: &str, key: &str, label: &str, s: &DeploymentStatus, expires: &str) -> String {
    let waiting: Vec<String> = s
        .components
        .iter()
        .filter(|c| c.role == "target" && state_word(&c.state) == "pending")
        .map(|c| {
            format!(
                "<li><strong>{}</strong> pending: {}</li>",
                esc(&c.component),
                esc(c.reason.as_deref().unwrap_or(""))
            )
        })
        .collect();
    format!(
        "<tr><td><a href=\"/ui/{e}/{k}\">{l}</a></td><td><span class=\"state {c}\">{st}</span></td><td>{w}</td><td>{x}</td></tr>",
        e = esc(env),
        k = esc(key),
        l = esc(label),
        c = colour(&s.status, s.pending),
        st = esc(&if s.pending > 0 {
            format!("{}, {} pending", s.status, s.pending)
        } else {
            s.status.clone()
        }),
        w = if waiting.is_empty() {
            String::new()
        } else {
            format!("<ul>{}</ul>", waiting.join(""))
        },
        x = esc(expires)
    )
}

/// The dashboard page of a build's phases: `/ui/{env}/builds/{build}`.
fn build_page(env: &str, build: &str) -> String {
    ["/ui/", &esc(env), "/", "builds", "/", &esc(build)].concat()
}

/// What a deployment page says beside its components: where it answers,
/// who deployed it last and from what.
#[derive(Default)]
pub struct DeploymentFacts {
    /// Its hosts' URLs.
    pub hosts: Vec<String>,
    /// The latest deploy.
    pub deployed: Option<Deployed>,
    /// The newest runs of each of its phases, by phase name, oldest first.
    pub runs: Vec<(String, Vec<gp_registry::Phase>)>,
}

/// Who deployed, when, and from what.
pub struct Deployed {
    /// Who.
    pub by: String,
    /// When (µs).
    pub at_us: i64,
    /// The commit.
    pub commit: Option<String>,
    /// The CI run.
    pub run_url: Option<String>,
    /// The pull request's number.
    pub pull_request: Option<u64>,
}

impl DeploymentFacts {
    /// From a deployment's events (the latest `deploy_started`) and the
    /// contract's hosts.
    pub fn of(
        events: &[gp_registry::DeploymentEvent],
        hosts: Vec<String>,
        recent: Vec<gp_registry::Phase>,
    ) -> Self {
        let deployed = events
            .iter()
            .rev()
            .find(|e| e.event == gp_registry::EventKind::DeployStarted.as_str())
            .map(|e| Deployed {
                by: e.actor.clone(),
                at_us: e.at_us,
                commit: e.commit_sha.clone(),
                run_url: e.run_url.clone(),
                pull_request: gp_registry::PullRequestRef::of_event(e).map(|p| p.number),
            });
        Self {
            hosts,
            deployed,
            runs: per_phase(recent, RUNS_PER_PHASE),
        }
    }
}

/// How many runs of each phase a deployment page charts.
pub const RUNS_PER_PHASE: usize = 20;

/// Finished runs (oldest first) grouped by phase, by phase name, each
/// group the newest `keep` runs, oldest first.
pub fn per_phase(
    runs: Vec<gp_registry::Phase>,
    keep: usize,
) -> Vec<(String, Vec<gp_registry::Phase>)> {
    let mut by: std::collections::BTreeMap<String, Vec<gp_registry::Phase>> =
        std::collections::BTreeMap::new();
    for p in runs {
        by.entry(p.phase.clone()).or_default().push(p);
    }
    by.into_iter()
        .map(|(phase, mut v)| {
            let drop = v.len().saturating_sub(keep);
            v.drain(..drop);
            (phase, v)
        })
        .collect()
}

/// A deployment's page: its components and its graph.
pub fn deployment(
    s: &DeploymentStatus,
    graph: &crate::outputs::GraphOutput,
    facts: &DeploymentFacts,
) -> String {
    let mut body = String::new();
    if let Some(Deployed {
        by,
        at_us: at,
        commit,
        run_url: run,
        pull_request: pr,
    }) = &facts.deployed
    {
        let mut line = format!(
            "Deployed by <strong>{}</strong> at {}",
            esc(by),
            esc(&gp_registry::format_utc(*at))
        );
        if let Some(c) = commit {
            line.push_str(&format!(
                ", commit <code>{}</code>",
                esc(&c.chars().take(12).collect::<String>())
            ));
        }
        if let Some(n) = pr {
            line.push_str(&format!(", pull request #{n}"));
        }
        if let Some(u) = run.as_deref().filter(|u| u.starts_with("https://")) {
            line.push_str(&format!(", <a href=\"{}\">its CI run</a>", esc(u)));
        }
        body.push_str(&format!("<p id=\"deployed\">{line}</p>"));
    }
    if s.expires_us.is_some() || s.kept.is_some() {
        let left =
            gp_engine::expiry::time_left(s.expires_us, s.kept.as_deref(), gp_registry::now_us());
        body.push_str(&format!(
            "<p id=\"expiry\">Expiry: {}</p>",
            esc(&match &s.kept {
                Some(r) => format!("kept ({r})"),
                None => format!(
                    "{left} ({})",
                    s.expires_us
                        .map(gp_registry::format_utc)
                        .unwrap_or_default()
                ),
            })
        ));
    }
    if !facts.hosts.is_empty() {
        body.push_str(&format!(
            "<p>Hosts:</p><ul id=\"hosts\">{}</ul>",
            facts
                .hosts
                .iter()
                .map(|h| format!("<li><a href=\"{0}\">{0}</a></li>", esc(h)))
                .collect::<String>()
        ));
    }
    body.push_str(&format!(
        "<p>Status: <span class=\"state {}\">{}</span></p><table><caption>Components</caption><thead><tr><th scope=\"col\">component</th><th scope=\"col\">state</th><th scope=\"col\">tier</th><th scope=\"col\">plane</th><th scope=\"col\">reason</th></tr></thead><tbody>",
        colour(&s.status, s.pending),
        esc(&s.status)
    ));
    for c in &s.components {
        let st = state_word(&c.state);
        let class = state_class(&st);
        body.push_str(&format!(
            "<tr id=\"component-{}\"><td>{}</td><td><span class=\"state {class}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.component),
            esc(&c.component),
            esc(&st),
            esc(&c.tier.to_string()),
            esc(&state_word(&c.plane)),
            esc(c.reason.as_deref().unwrap_or(""))
        ));
    }
    body.push_str("</tbody></table>");
    // The commands that move it on, each once (several rows wait for the
    // same one).
    let mut next: Vec<&str> = Vec::new();
    for n in s.components.iter().filter_map(|c| c.next.as_deref()) {
        if !next.contains(&n) {
            next.push(n);
        }
    }
    if !next.is_empty() {
        body.push_str(&format!(
            "<h2>Next</h2><ul id=\"next\">{}</ul>",
            next.iter()
                .map(|n| format!("<li><code>{}</code></li>", esc(n)))
                .collect::<String>()
        ));
    }
    // What the latest drift check found since each component's last apply.
    let drifted: Vec<String> = s
        .components
        .iter()
        .filter_map(|c| {
            c.drift.as_ref().map(|d| {
                format!(
                    "<li><strong>{}</strong> (found {}): {}</li>",
                    esc(&c.component),
                    esc(&crate::cmd::when(d.found_us)),
                    esc(&d.differences.join("; "))
                )
            })
        })
        .collect();
    if !drifted.is_empty() {
        body.push_str(&format!(
            "<h2>Drift</h2><p>Changed outside goldenpath since the last apply; a deploy puts it back.</p><ul id=\"drift\">{}</ul>",
            drifted.join("")
        ));
    }
    if let Some(b) = &s.build_id {
        // A dashboard URL, not a derived name.
        let href = build_page(&s.env, b);
        body.push_str(&format!(
            "<p><a href=\"{href}\">Phases and their durations</a></p>"
        ));
    }
    body.push_str("<h2>Graph</h2>");
    let states: Vec<(String, String)> = s
        .components
        .iter()
        .map(|c| (c.component.clone(), state_word(&c.state)))
        .collect();
    body.push_str(&graph_svg(graph, &states));
    if !facts.runs.is_empty() {
        body.push_str(&format!(
            "<h2>Runs per phase</h2><p>The newest {RUNS_PER_PHASE} finished runs of each phase of this deployment.</p>"
        ));
        for (phase, runs) in &facts.runs {
            let points: Vec<(i64, i64)> = runs
                .iter()
                .filter_map(|p| p.duration_ms().map(|d| (p.started_us, d)))
                .collect();
            body.push_str(&format!("<h3>{}</h3>", esc(phase)));
            body.push_str(&runs_chart(&format!("{phase} duration"), &points));
        }
    }
    page(&format!("{} {}", s.env, s.deployment), &body)
}

/// The graph in columns by depth (a component right of what it needs).
/// Where each node goes: its layer (what it needs is to its left, one
/// layer per step of the dependency order) and its place in the layer,
/// ordered by the mean place of its neighbours (barycentre sweeps, left to
/// right and back) so that edges cross less.
fn layered(names: &[&str], edges: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let n = names.len();
    let mut depth = vec![0usize; n];
    for _ in 0..n {
        for &(f, t) in edges {
            depth[f] = depth[f].max(depth[t] + 1);
        }
    }
    let layers = depth.iter().max().map_or(0, |m| m + 1);
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (i, d) in depth.iter().enumerate() {
        order[*d].push(i);
    }
    let place = |order: &Vec<Vec<usize>>| {
        let mut p = vec![0.0f64; n];
        for layer in order {
            for (r, i) in layer.iter().enumerate() {
                p[*i] = r as f64;
            }
        }
        p
    };
    for sweep in 0..4 {
        let p = place(&order);
        let range: Vec<usize> = if sweep % 2 == 0 {
            (1..layers).collect()
        } else {
            (0..layers.saturating_sub(1)).rev().collect()
        };
        for l in range {
            let bary = |i: usize| {
                let near: Vec<f64> = edges
                    .iter()
                    .filter_map(|&(f, t)| {
                        if f == i && depth[t] + 1 == depth[i] && sweep % 2 == 0 {
                            Some(p[t])
                        } else if t == i && depth[f] == depth[i] + 1 && sweep % 2 == 1 {
                            Some(p[f])
                        } else {
                            None
                        }
                    })
                    .collect();
                if near.is_empty() {
                    p[i]
                } else {
                    near.iter().sum::<f64>() / near.len() as f64
                }
            };
            order[l].sort_by(|a, b| bary(*a).total_cmp(&bary(*b)).then(a.cmp(b)));
        }
    }
    let p = place(&order);
    (0..n).map(|i| (depth[i], p[i] as usize)).collect()
}

/// The colour class and the word of a component's state.
fn state_class(state: &str) -> &'static str {
    match state {
        "running" | "ready" | "applied" | "live" => "green",
        // Committed for Argo CD; nothing read back from the cluster.
        "pending" | "deploying" | "delivered" => "amber",
        "failed" | "blocked" | "interrupted" => "red",
        _ => "grey",
    }
}

fn graph_svg(g: &crate::outputs::GraphOutput, states: &[(String, String)]) -> String {
    let names: Vec<&str> = g.nodes.iter().map(|n| n.component.as_str()).collect();
    let edges: Vec<(usize, usize)> = g
        .edges
        .iter()
        .filter_map(|e| {
            Some((
                names.iter().position(|n| *n == e.from)?,
                names.iter().position(|n| *n == e.to)?,
            ))
        })
        .collect();
    let pos = layered(&names, &edges);
    let state_of = |name: &str| {
        states
            .iter()
            .find(|(c, _)| c == name)
            .map_or("unknown", |(_, s)| s.as_str())
    };
    let (w, h, bw, bh) = (200usize, 50usize, 150usize, 30usize);
    let cols = pos.iter().map(|p| p.0 + 1).max().unwrap_or(1);
    let rows = pos.iter().map(|p| p.1 + 1).max().unwrap_or(1);
    // The legend: each state drawn, with its colour.
    let mut seen: Vec<&str> = Vec::new();
    for n in &names {
        let s = state_of(n);
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    let legend_h = 24 * seen.len() + 10;
    let (width, height) = (cols * w + 20, (rows * h + 20).max(legend_h) + legend_h);
    let mut svg = format!(
        "<svg role=\"group\" aria-label=\"dependency graph of {} components: each arrow points from a component to one it needs\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\"><title>dependency graph</title><defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path class=\"arrowhead\" d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>",
        names.len()
    );
    let corner = |i: usize| {
        let (c, r) = pos[i];
        (c * w + 10, r * h + 10)
    };
    // From the left side of the one that needs to the right side of the
    // one needed, curving between the layers (never through a box).
    for &(f, t) in &edges {
        let ((fx, fy), (tx, ty)) = (corner(f), corner(t));
        let (x1, y1, x2, y2) = (fx, fy + bh / 2, tx + bw, ty + bh / 2);
        let mid = (x1 + x2) / 2;
        svg.push_str(&format!(
            "<path class=\"edge\" d=\"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}\" marker-end=\"url(#arrow)\"><title>{} needs {}</title></path>",
            esc(names[f]),
            esc(names[t])
        ));
    }
    for (i, n) in names.iter().enumerate() {
        let (x, y) = corner(i);
        let state = state_of(n);
        svg.push_str(&format!(
            "<a href=\"#component-{id}\"><g><rect class=\"node {class}\" x=\"{x}\" y=\"{y}\" width=\"{bw}\" height=\"{bh}\" rx=\"4\"/><text x=\"{}\" y=\"{}\">{}</text><title>{}: {}</title></g></a>",
            x + 6,
            y + 19,
            esc(n),
            esc(n),
            esc(state),
            id = esc(n),
            class = state_class(state),
        ));
    }
    let top = height - legend_h + 5;
    for (k, s) in seen.iter().enumerate() {
        let y = top + 24 * k;
        svg.push_str(&format!(
            "<g class=\"legend\"><rect class=\"node {}\" x=\"10\" y=\"{y}\" width=\"16\" height=\"16\"/><text x=\"32\" y=\"{}\">{}</text></g>",
            state_class(s),
            y + 13,
            esc(s)
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// A build's page: its phases, and a chart of their durations.
pub fn build(detail: &super::builds::BuildDetail) -> String {
    let finished: Vec<&gp_registry::Phase> = detail
        .phases
        .iter()
        .filter(|p| p.ended_us.is_some())
        .collect();
    let mut body = format!(
        "<p>Status: <span class=\"state {}\">{}</span></p><h2>Phase durations</h2>",
        colour(&detail.status, 0),
        esc(&detail.status)
    );
    let ms = |p: &gp_registry::Phase| (p.ended_us.unwrap_or(p.started_us) - p.started_us) / 1000;
    let max = finished.iter().map(|p| ms(p)).max().unwrap_or(1).max(1);
    let (w, h) = (40 + finished.len().max(1) * 16, 160);
    body.push_str(&format!(
        "<svg role=\"img\" aria-label=\"duration of {} finished phases, longest {} ms\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\"><title>phase durations</title><line class=\"axis\" x1=\"30\" y1=\"140\" x2=\"{}\" y2=\"140\"/><line class=\"axis\" x1=\"30\" y1=\"10\" x2=\"30\" y2=\"140\"/>",
        finished.len(),
        max,
        w - 5
    ));
    for (i, p) in finished.iter().enumerate() {
        let x = 40 + i * 16;
        let y = 140 - (ms(p) * 120 / max);
        body.push_str(&format!(
            "<circle class=\"point\" cx=\"{x}\" cy=\"{y}\" r=\"4\"><title>{}: {} ms</title></circle>",
            esc(&p.phase),
            ms(p)
        ));
    }
    body.push_str("</svg><table><caption>Phases</caption><thead><tr><th scope=\"col\">phase</th><th scope=\"col\">component</th><th scope=\"col\">ms</th><th scope=\"col\">exit</th><th scope=\"col\">result</th></tr></thead><tbody>");
    for p in &finished {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            esc(&p.phase),
            esc(p.component.as_deref().unwrap_or("")),
            ms(p),
            p.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            p.result().as_str(),
            if p.imported.is_some() {
                " (imported)"
            } else {
                ""
            }
        ));
    }
    body.push_str("</tbody></table>");
    page(
        &format!("build {} in {}", detail.build_id, detail.env),
        &body,
    )
}

/// The `p`th percentile (0–100) of sorted `v`, nearest rank.
fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// A line chart of `points` (milliseconds, in time order) with its p50 and
/// p95 drawn across: one `circle.point` per run.
/// A value in seconds for an axis label: whole seconds from 10 s, one
/// decimal below.
fn secs_label(ms: i64) -> String {
    if ms >= 10_000 {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// Runs over time: a point per run (its start on the time axis, its
/// duration on the value axis, each with a title giving both), p50 and p95
/// across, labelled axes with units, ticks and the first and last dates.
fn runs_chart(label: &str, points: &[(i64, i64)]) -> String {
    let mut sorted: Vec<i64> = points.iter().map(|p| p.1).collect();
    sorted.sort_unstable();
    let (p50, p95) = (percentile(&sorted, 50), percentile(&sorted, 95));
    let max = sorted.last().copied().unwrap_or(1).max(1);
    let (left, top, bottom) = (70usize, 20i64, 170i64);
    let (w, h) = (left + 30 + points.len().max(2) * 14, 215usize);
    let y = |ms: i64| bottom - (ms * (bottom - top) / max);
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"{} of {} runs: p50 {} ms, p95 {} ms\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title><line class=\"axis\" x1=\"{left}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\"/><line class=\"axis\" x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{bottom}\"/>",
        esc(label),
        points.len(),
        p50,
        p95,
        esc(label),
        w - 5
    );
    // The value axis: 0, half and the longest, in seconds.
    svg.push_str("<text class=\"axis-title\" x=\"4\" y=\"12\">duration (s)</text>");
    for v in [0, max / 2, max] {
        svg.push_str(&format!(
            "<line class=\"axis tick\" x1=\"{}\" y1=\"{}\" x2=\"{left}\" y2=\"{}\"/><text class=\"tick-label\" x=\"4\" y=\"{}\">{}</text>",
            left - 5,
            y(v),
            y(v),
            y(v) + 4,
            secs_label(v)
        ));
    }
    for (name, v) in [("p50", p50), ("p95", p95)] {
        svg.push_str(&format!(
            "<line class=\"edge {name}\" x1=\"{left}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke-dasharray=\"4 3\"/><text x=\"{2}\" y=\"{3}\">{name} {4}</text>",
            y(v),
            w - 5,
            left + 4,
            y(v) - 3,
            secs_label(v)
        ));
    }
    // The time axis: runs in the order they started, the first and the
    // last run's date under it.
    let x = |i: usize| left + 10 + i * 14;
    for (i, (start, ms)) in points.iter().enumerate() {
        svg.push_str(&format!(
            "<circle class=\"point\" cx=\"{}\" cy=\"{}\" r=\"4\"><title>{}: {ms} ms</title></circle>",
            x(i),
            y(*ms),
            esc(&gp_registry::format_utc(*start))
        ));
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let day = |us: i64| {
            gp_registry::format_utc(us)
                .chars()
                .take(10)
                .collect::<String>()
        };
        svg.push_str(&format!(
            "<text class=\"tick-label\" x=\"{left}\" y=\"{}\">{}</text><text class=\"tick-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            bottom + 16,
            esc(&day(first.0)),
            w - 5,
            bottom + 16,
            esc(&day(last.0))
        ));
    }
    svg.push_str(&format!(
        "<text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">run start (UTC), oldest to newest</text></svg>",
        (left + w) / 2,
        bottom + 38
    ));
    svg
}

/// What an environment's history page draws, each part read with a
/// bound: the newest runs only, counts and the slowest phases from the
/// registry's own queries.
pub struct History {
    /// The newest build deploys, oldest first.
    pub deploys: Vec<gp_registry::Phase>,
    /// The newest build teardowns, oldest first.
    pub teardowns: Vec<gp_registry::Phase>,
    /// How every build deploy ended.
    pub outcomes: gp_registry::Outcomes,
    /// The slowest component phases, slowest first.
    pub slowest: Vec<gp_registry::Phase>,
    /// The registry report of the environment.
    pub report: Vec<gp_registry::PhaseStats>,
    /// The newest runs of the builds' other phases (the most run first).
    pub per_phase: Vec<(String, Vec<gp_registry::Phase>)>,
    /// The delivery metrics of the last 30 days.
    pub metrics: Option<gp_registry::DeliveryMetrics>,
}

/// How many of the builds' other phases the history page charts.
pub const PHASE_CHARTS: usize = 6;

/// The builds' phases the history page charts one by one: every phase of
/// kind `build` in the report but the deploy and the teardown themselves,
/// the most run first, at most [`PHASE_CHARTS`].
pub fn charted_phases(report: &[gp_registry::PhaseStats]) -> Vec<String> {
    let mut v: Vec<&gp_registry::PhaseStats> = report
        .iter()
        .filter(|r| r.kind == "build" && r.phase != "deploy" && r.phase != "teardown")
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.phase.cmp(&b.phase)));
    v.into_iter()
        .take(PHASE_CHARTS)
        .map(|r| r.phase.clone())
        .collect()
}

/// How the runs of `phase` over builds ended, from the report: goldenpath's
/// builds and builds of the older `YYYYMMDD-NN` history (not the persistent
/// deployment, the foundational plane, or history under other names).
pub fn build_outcomes(report: &[gp_registry::PhaseStats], phase: &str) -> gp_registry::Outcomes {
    let mut o = gp_registry::Outcomes::default();
    for s in report
        .iter()
        .filter(|s| s.phase == phase && matches!(s.kind.as_str(), "build" | "legacy"))
    {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        o.runs += n(s.count);
        o.succeeded += n(s.succeeded);
        o.failed += n(s.failed);
        o.aborted += n(s.aborted);
        o.unknown += n(s.unknown);
    }
    o
}

/// An environment's history: deploys and teardowns of builds over time
/// (a point per run, p50 and p95 across), the success rate, the slowest
/// phases, the registry report.
pub fn history(env: &str, h: &History) -> String {
    let ms = |p: &gp_registry::Phase| p.ended_us.map(|e| (e - p.started_us) / 1000);
    let durations = |v: &[gp_registry::Phase]| -> Vec<(i64, i64)> {
        v.iter()
            .filter_map(|p| ms(p).map(|d| (p.started_us, d)))
            .collect()
    };
    let o = h.outcomes;
    let all = o.runs;
    let known = o.known();
    let mut rate = if all == 0 {
        "no deploys yet".to_string()
    } else if known == 0 {
        format!("{all} build deploys, none with a result recorded")
    } else {
        format!(
            "{} of {known} build deploys succeeded ({}%)",
            o.succeeded,
            o.succeeded * 100 / known
        )
    };
    if o.aborted > 0 {
        rate.push_str(&format!("; {} aborted before changing anything", o.aborted));
    }
    if known > 0 && o.unknown > 0 {
        rate.push_str(&format!(
            "; {} with no result recorded, not counted",
            o.unknown
        ));
    }
    let mut body = format!("<p id=\"success-rate\">{}</p>", esc(&rate));
    if let Some(m) = &h.metrics {
        let rows: Vec<(&str, String)> = vec![
            (
                "deployment frequency",
                format!(
                    "{:.2} successful deploys a day ({} in the window)",
                    m.deployment_frequency_per_day, m.succeeded
                ),
            ),
            (
                "lead time for changes",
                format!(
                    "{} (median of {} deploys whose commit's time is known)",
                    m.lead_time_p50_seconds
                        .map(|s| format!("{:.0} s", s))
                        .unwrap_or_else(|| "-".into()),
                    m.lead_time_samples
                ),
            ),
            (
                "change failure rate",
                format!(
                    "{} ({} failed of {} finished; {} aborted and {} unknown left out)",
                    m.change_failure_rate
                        .map(|r| format!("{:.0}%", r * 100.0))
                        .unwrap_or_else(|| "-".into()),
                    m.failed,
                    m.failed + m.succeeded,
                    m.aborted,
                    m.unknown
                ),
            ),
            (
                "time to restore",
                format!(
                    "{} (median of {} restores)",
                    m.time_to_restore_p50_seconds
                        .map(|s| format!("{:.0} s", s))
                        .unwrap_or_else(|| "-".into()),
                    m.time_to_restore_samples
                ),
            ),
        ];
        body.push_str("<h2>Delivery metrics</h2><table id=\"metrics\"><caption>The four keys over the last 30 days, every deployment of the environment</caption><tbody>");
        for (k, v) in rows {
            body.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                esc(k),
                esc(&v)
            ));
        }
        body.push_str("</tbody></table>");
    }
    let newest = |n: usize, of: i64| {
        if i64::try_from(n).unwrap_or(i64::MAX) < of {
            format!(" (the newest {n})")
        } else {
            String::new()
        }
    };
    body.push_str(&format!(
        "<h2>Build deploys{}</h2>",
        newest(h.deploys.len(), all)
    ));
    body.push_str(&runs_chart("deploy duration", &durations(&h.deploys)));
    body.push_str("<h2>Build teardowns</h2>");
    body.push_str(&runs_chart("teardown duration", &durations(&h.teardowns)));
    if !h.per_phase.is_empty() {
        body.push_str("<h2>Duration per phase</h2>");
        for (phase, runs) in &h.per_phase {
            body.push_str(&format!("<h3>{}</h3>", esc(phase)));
            body.push_str(&runs_chart(&format!("{phase} duration"), &durations(runs)));
        }
    }
    body.push_str("<h2>Slowest phases</h2><table><caption>The ten slowest component phases</caption><thead><tr><th scope=\"col\">phase</th><th scope=\"col\">component</th><th scope=\"col\">deployment</th><th scope=\"col\">ms</th></tr></thead><tbody>");
    for p in &h.slowest {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.phase),
            esc(p.component.as_deref().unwrap_or("")),
            esc(&p.deployment),
            ms(p).unwrap_or_default()
        ));
    }
    body.push_str("</tbody></table>");
    body.push_str("<h2>Registry report</h2><table><caption>Every phase by deployment kind: runs, how they ended, the success rate of those with a result, p50 and p95 of goldenpath\'s own successful runs (imported history left out)</caption><thead><tr><th scope=\"col\">phase</th><th scope=\"col\">kind</th><th scope=\"col\">runs</th><th scope=\"col\">succeeded</th><th scope=\"col\">failed</th><th scope=\"col\">aborted</th><th scope=\"col\">unknown</th><th scope=\"col\">success rate (known)</th><th scope=\"col\">p50 s</th><th scope=\"col\">p95 s</th></tr></thead><tbody>");
    let secs = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_default();
    for r in &h.report {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.phase),
            esc(&r.kind),
            r.count,
            r.succeeded,
            r.failed,
            r.aborted,
            r.unknown,
            r.success_rate
                .map(|v| format!("{:.0}%", v * 100.0))
                .unwrap_or_else(|| "-".into()),
            secs(r.p50_seconds),
            secs(r.p95_seconds)
        ));
    }
    body.push_str("</tbody></table>");
    page(&format!("{env} history"), &body)
}

/// A form that posts a token and a reason to `action`; the token goes in
/// the body, never in a URL or a cookie.
fn token_form(action: &str, id: &str, button: &str, reason_required: bool) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{a}\"><label for=\"token-{i}\">Token</label><input type=\"password\" id=\"token-{i}\" name=\"token\" autocomplete=\"off\" required><label for=\"reason-{i}\">Reason</label><input type=\"text\" id=\"reason-{i}\" name=\"reason\" maxlength=\"500\"{r}><button type=\"submit\">{b}</button></form>",
        a = esc(action),
        i = esc(id),
        b = esc(button),
        r = if reason_required { " required" } else { "" }
    )
}

/// The requests page: every request with its state and who approved it;
/// one waiting for approval gets a form when the server takes changes.
pub fn requests(rows: &[gp_engine::requests::RequestRow], takes_changes: bool) -> String {
    use gp_engine::requests::RequestState as S;
    let waiting = rows.iter().filter(|r| r.awaiting_approval).count();
    let mut body = format!(
        "<p id=\"waiting\">{waiting} of {} requests wait for an approval.</p>",
        rows.len()
    );
    if !takes_changes {
        body.push_str("<p>This server takes no changes (started without <code>--tokens</code>): approve with <code>goldenpath request approve</code>.</p>");
    }
    body.push_str("<table><caption>Requests</caption><thead><tr><th scope=\"col\">request</th><th scope=\"col\">kind</th><th scope=\"col\">environment</th><th scope=\"col\">resource</th><th scope=\"col\">state</th><th scope=\"col\">approved by</th><th scope=\"col\">last change</th><th scope=\"col\">at</th><th scope=\"col\">approve</th></tr></thead><tbody>");
    for r in rows {
        let class = match r.status {
            _ if r.awaiting_approval => "amber",
            S::BreaksARule | S::Refused | S::Failed | S::Invalid => "red",
            S::Applied => "green",
            _ => "grey",
        };
        let form = if takes_changes && r.awaiting_approval {
            token_form(
                &["/ui/requests/", &r.request, "/approve"].concat(),
                &r.request,
                &format!("Approve {}", r.request),
                false,
            )
        } else {
            String::new()
        };
        let (last, at) = r
            .last
            .as_ref()
            .map(|l| {
                (
                    format!("{} by {}", l.event, l.by),
                    gp_registry::format_utc(l.at_us),
                )
            })
            .unwrap_or_default();
        body.push_str(&format!(
            "<tr id=\"request-{i}\"><td>{i}</td><td>{}</td><td>{}</td><td>{}</td><td><span class=\"state {class}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{form}</td></tr>",
            esc(&r.kind),
            esc(&r.env),
            esc(&r.resource),
            esc(&r.state),
            esc(&super::request::approvers(r)),
            esc(&last),
            esc(&at),
            i = esc(&r.request)
        ));
    }
    body.push_str("</tbody></table>");
    page("Requests", &body)
}

/// The leases page: each deployment's latest lease; a held one gets a
/// force-unlock form when the server takes changes.
pub fn leases(leases: &[gp_registry::LeaseState], takes_changes: bool) -> String {
    let mut body = String::from(
        "<table><caption>Leases</caption><thead><tr><th scope=\"col\">environment</th><th scope=\"col\">deployment</th><th scope=\"col\">state</th><th scope=\"col\">holder</th><th scope=\"col\">acquired</th><th scope=\"col\">expires</th><th scope=\"col\">ended by</th><th scope=\"col\">unlock</th></tr></thead><tbody>",
    );
    let when = gp_registry::format_utc;
    for l in leases {
        let class = match l.state.as_str() {
            "held" => "amber",
            "force_unlocked" => "red",
            _ => "grey",
        };
        let form = if takes_changes && l.state == "held" {
            let id = format!("{}-{}", l.env, l.deployment);
            token_form(
                &["/ui/leases/", &l.env, "/", &l.deployment, "/unlock"].concat(),
                &id,
                &format!("Force-unlock {} {}", l.env, l.deployment),
                true,
            )
        } else {
            String::new()
        };
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><span class=\"state {class}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{form}</td></tr>",
            esc(&l.env),
            esc(&l.deployment),
            esc(&l.state),
            esc(&l.holder),
            esc(&when(l.acquired_us)),
            esc(&when(l.expires_us)),
            esc(&match (&l.ended_by, &l.reason) {
                (Some(b), Some(r)) => format!("{b}: {r}"),
                (Some(b), None) => b.clone(),
                _ => String::new(),
            }),
        ));
    }
    body.push_str("</tbody></table>");
    page("Leases", &body)
}

/// What a change from a form came to: `ok` or not, in words, with a way
/// back.
pub fn outcome(title: &str, ok: bool, message: &str, back: &str) -> String {
    page(
        title,
        &format!(
            "<p class=\"notice state {}\" role=\"status\" id=\"outcome\">{}</p><p><a href=\"{}\">Back</a></p>",
            if ok { "green" } else { "red" },
            esc(message),
            esc(back)
        ),
    )
}

/// The sign-in page of a server whose reads need a token: the token is
/// posted in the body (never the URL) and kept in an HTTP-only cookie.
pub fn sign_in(message: Option<&str>) -> String {
    page(
        "Sign in",
        &format!(
            "{}<form method=\"post\" action=\"/ui/sign-in\"><p><label for=\"token\">Token</label> <input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"current-password\" required></p><p><button type=\"submit\">Sign in</button></p></form>",
            message
                .map(|m| format!(
                    "<p class=\"notice state red\" role=\"status\" id=\"outcome\">{}</p>",
                    esc(m)
                ))
                .unwrap_or_default()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::{History, history};

    #[test]
    fn build_outcomes_add_up_the_builds_of_one_phase_only() {
        let stat = |phase: &str, kind: &str, n: u64| gp_registry::PhaseStats {
            phase: phase.into(),
            kind: kind.into(),
            count: n,
            succeeded: n / 2,
            failed: 1,
            aborted: 2,
            unknown: n - n / 2 - 3,
            imported: 0,
            success_rate: None,
            p50_seconds: None,
            p95_seconds: None,
            percentile_runs: 0,
        };
        let report = [
            stat("deploy", "build", 10),
            stat("deploy", "legacy", 20),
            stat("deploy", "persistent", 40),
            stat("deploy", "foundational", 80),
            stat("deploy", "other", 160),
            stat("teardown", "build", 320),
        ];
        let o = super::build_outcomes(&report, "deploy");
        assert_eq!(
            o,
            gp_registry::Outcomes {
                runs: 30,
                succeeded: 15,
                failed: 2,
                aborted: 4,
                unknown: 9,
            }
        );
        assert_eq!(super::build_outcomes(&report, "teardown").runs, 320);
        assert_eq!(
            super::build_outcomes(&report, "plan"),
            gp_registry::Outcomes::default()
        );
    }

    /// The page's success-rate paragraph.
    fn page(o: gp_registry::Outcomes) -> String {
        let p = history(
            "dev",
            &History {
                deploys: Vec::new(),
                teardowns: Vec::new(),
                outcomes: o,
                slowest: Vec::new(),
                report: Vec::new(),
                per_phase: Vec::new(),
                metrics: None,
            },
        );
        let start = p.find("<p id=\"success-rate\">").unwrap();
        p[start..start + p[start..].find("</p>").unwrap()].to_string()
    }

    fn row(
        name: &str,
        tier: gp_core::Tier,
        next: Option<&str>,
        drift: Option<&str>,
    ) -> gp_engine::status::ComponentStatus {
        gp_engine::status::ComponentStatus {
            component: name.into(),
            plane: gp_core::Plane::Disposable,
            tier,
            role: "target",
            state: gp_engine::RowState::NotDeployed,
            reason: Some("waits".into()),
            next: next.map(str::to_string),
            outputs: serde_json::Map::new(),
            updated_us: None,
            drift: drift.map(|d| gp_engine::status::DriftFound {
                found_us: 0,
                differences: vec![d.into()],
            }),
        }
    }

    #[test]
    fn a_deployment_page_shows_each_tier_each_next_command_once_and_the_drift_found() {
        let tiers: Vec<gp_core::Tier> = ["0", "1.5"]
            .iter()
            .map(|t| serde_json::from_str(t).unwrap())
            .collect();
        let s = gp_engine::status::DeploymentStatus {
            schema_version: 1,
            env: "dev".into(),
            deployment: "persistent".into(),
            build_id: None,
            status: "not-deployed".into(),
            pending: 0,
            expires_us: None,
            kept: None,
            components: vec![
                row("a", tiers[0], Some("goldenpath deploy --env dev"), None),
                row(
                    "b",
                    tiers[1],
                    Some("goldenpath deploy --env dev"),
                    Some("x.yaml is gone"),
                ),
            ],
        };
        let graph = crate::outputs::GraphOutput {
            schema_version: 1,
            env: "dev".into(),
            deployment: "persistent".into(),
            nodes: Vec::new(),
            edges: Vec::new(),
        };
        let page = super::deployment(&s, &graph, &super::DeploymentFacts::default());
        assert!(
            page.contains("<td>0</td>") && page.contains("<td>1.5</td>"),
            "{page}"
        );
        assert_eq!(
            page.matches("goldenpath deploy --env dev").count(),
            1,
            "{page}"
        );
        assert!(
            page.contains("<ul id=\"drift\"><li><strong>b</strong>"),
            "{page}"
        );
        assert!(page.contains("x.yaml is gone"), "{page}");
    }

    /// Edges that cross between two adjacent layers.
    fn crossings(pos: &[(usize, usize)], edges: &[(usize, usize)]) -> usize {
        let mut n = 0;
        for (i, &(a, b)) in edges.iter().enumerate() {
            for &(c, d) in &edges[i + 1..] {
                if pos[a].0 == pos[c].0 && pos[b].0 == pos[d].0 {
                    let (x, y) = (
                        pos[a].1 as i64 - pos[c].1 as i64,
                        pos[b].1 as i64 - pos[d].1 as i64,
                    );
                    if x * y < 0 {
                        n += 1;
                    }
                }
            }
        }
        n
    }

    #[test]
    fn the_graph_is_layered_by_dependency_and_ordered_to_cross_less() {
        // a, b needed by c, d the other way round: drawn in index order
        // their edges cross; ordered by barycentre they do not.
        let names = ["a", "b", "c", "d"];
        let edges = [(2, 1), (3, 0)];
        let pos = super::layered(&names, &edges);
        assert_eq!((pos[0].0, pos[1].0, pos[2].0, pos[3].0), (0, 0, 1, 1));
        assert_eq!(crossings(&pos, &edges), 0, "{pos:?}");
        // A chain goes left to right, one layer a step.
        let pos = super::layered(&["x", "y", "z"], &[(1, 0), (2, 1)]);
        assert_eq!(pos.iter().map(|p| p.0).collect::<Vec<_>>(), [0, 1, 2]);
        // Every node has its own place in its layer.
        let pos = super::layered(&names, &[(2, 0), (3, 0), (2, 1)]);
        let mut places: Vec<_> = pos.clone();
        places.sort();
        places.dedup();
        assert_eq!(places.len(), 4);
    }

    #[test]
    fn the_graph_has_arrowheads_states_in_colour_a_legend_and_links() {
        let node = |c: &str| crate::outputs::GraphNode {
            component: c.into(),
            plane: gp_core::Plane::Disposable,
            tier: serde_json::from_str("1").unwrap(),
            role: "target".into(),
            disposition: "run".into(),
            reason: None,
        };
        let graph = crate::outputs::GraphOutput {
            schema_version: 1,
            env: "dev".into(),
            deployment: "persistent".into(),
            nodes: vec![node("cluster"), node("app")],
            edges: vec![crate::outputs::GraphEdge {
                from: "app".into(),
                to: "cluster".into(),
                need: "cluster".into(),
            }],
        };
        let svg = super::graph_svg(
            &graph,
            &[
                ("cluster".into(), "ready".into()),
                ("app".into(), "pending".into()),
            ],
        );
        assert!(svg.contains("<marker id=\"arrow\""), "{svg}");
        assert!(
            svg.contains("marker-end=\"url(#arrow)\"><title>app needs cluster</title>"),
            "{svg}"
        );
        assert!(
            svg.contains("class=\"node green\"") && svg.contains("class=\"node amber\""),
            "{svg}"
        );
        assert!(svg.contains("<a href=\"#component-app\">"), "{svg}");
        // The legend names each state drawn, once.
        assert_eq!(svg.matches("<g class=\"legend\">").count(), 2, "{svg}");
        assert!(
            svg.contains(">ready</text>") && svg.contains(">pending</text>"),
            "{svg}"
        );
    }

    #[test]
    fn a_runs_chart_has_labelled_axes_with_units_ticks_dates_and_a_title_per_point() {
        let day = 86_400_000_000i64;
        let t0 = 1_769_000_000_000_000i64;
        let svg = super::runs_chart(
            "deploy duration",
            &[(t0, 4_000), (t0 + day, 30_000), (t0 + 2 * day, 12_500)],
        );
        for text in [
            ">duration (s)</text>",
            ">0.0 s</text>",
            ">15 s</text>",
            ">30 s</text>",
            ">run start (UTC), oldest to newest</text>",
            ">p50 12 s</text>",
        ] {
            assert!(svg.contains(text), "{text}: {svg}");
        }
        let first = gp_registry::format_utc(t0);
        let last = gp_registry::format_utc(t0 + 2 * day);
        assert!(svg.contains(&format!(">{}</text>", &first[..10])), "{svg}");
        assert!(svg.contains(&format!(">{}</text>", &last[..10])), "{svg}");
        assert!(
            svg.contains(&format!("<title>{first}: 4000 ms</title>")),
            "{svg}"
        );
        assert_eq!(svg.matches("class=\"point\"").count(), 3);
        assert_eq!(svg.matches("class=\"axis tick\"").count(), 3);
        // No runs: axes, no point, no date.
        let empty = super::runs_chart("x", &[]);
        assert!(!empty.contains("class=\"point\""));
        assert!(empty.contains(">duration (s)</text>"));
    }

    #[test]
    fn a_deployment_page_says_who_deployed_what_from_where_its_hosts_and_its_expiry() {
        let ev =
            |event: &str, actor: &str, detail: serde_json::Value| gp_registry::DeploymentEvent {
                id: format!("{event}-{actor}"),
                env: "dev".into(),
                deployment: "23-01-26-01".into(),
                run_id: None,
                event: event.into(),
                actor: actor.into(),
                commit_sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
                run_url: Some("https://github.com/acme/shop/actions/runs/4711".into()),
                detail: Some(detail),
                at_us: 1_769_000_000_000_000,
            };
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let events = vec![
            ev("deploy_started", "old", serde_json::json!({})),
            ev(
                "deploy_started",
                "paula",
                serde_json::json!({"pullRequest": {"number": 12, "headSha": sha}}),
            ),
            ev("deploy_succeeded", "paula", serde_json::json!({})),
        ];
        // 25 runs of plan, 3 of apply:db: the newest 20 of plan charted.
        let run = |i: i64, phase: &str| gp_registry::Phase {
            run: format!("r{i}"),
            phase: phase.into(),
            started_us: 1_769_000_000_000_000 + i * 60_000_000,
            ended_us: Some(1_769_000_000_000_000 + i * 60_000_000 + (i + 1) * 1_000_000),
            exit_code: Some(0),
            ..Default::default()
        };
        let recent: Vec<gp_registry::Phase> = (0..28)
            .map(|i| run(i, if i % 9 == 4 { "apply:db" } else { "plan" }))
            .collect();
        let facts = super::DeploymentFacts::of(
            &events,
            vec!["https://backstage.b-23-01-26-01.dev.example.io".into()],
            recent,
        );
        assert_eq!(
            facts
                .runs
                .iter()
                .map(|(p, v)| (p.as_str(), v.len(), v[0].run.as_str()))
                .collect::<Vec<_>>(),
            vec![("apply:db", 3, "r4"), ("plan", 20, "r6")],
            "by name, the newest runs of each, oldest first"
        );
        let s = gp_engine::status::DeploymentStatus {
            schema_version: 1,
            env: "dev".into(),
            deployment: "23-01-26-01".into(),
            build_id: Some("23-01-26-01".into()),
            status: "live".into(),
            pending: 0,
            expires_us: Some(gp_registry::now_us() + 3_600_000_000),
            kept: None,
            components: Vec::new(),
        };
        let graph = crate::outputs::GraphOutput {
            schema_version: 1,
            env: "dev".into(),
            deployment: "23-01-26-01".into(),
            nodes: Vec::new(),
            edges: Vec::new(),
        };
        let page = super::deployment(&s, &graph, &facts);
        for text in [
            "Deployed by <strong>paula</strong>",
            "commit <code>0123456789ab</code>",
            "pull request #12",
            "<a href=\"https://github.com/acme/shop/actions/runs/4711\">its CI run</a>",
            "<a href=\"https://backstage.b-23-01-26-01.dev.example.io\">",
            "<p id=\"expiry\">Expiry: ",
            "<h2>Runs per phase</h2>",
            "<h3>apply:db</h3>",
            "aria-label=\"plan duration",
        ] {
            assert!(page.contains(text), "{text}: {page}");
        }
        // A run URL that is not https is not made a link.
        let mut odd = events.clone();
        odd[1].run_url = Some("javascript:alert(1)".into());
        let page = super::deployment(
            &s,
            &graph,
            &super::DeploymentFacts::of(&odd, Vec::new(), Vec::new()),
        );
        assert!(!page.contains("javascript:"), "{page}");
    }

    #[test]
    fn the_success_rate_counts_only_known_results_and_says_what_it_left_out() {
        let o = |succeeded, failed, aborted, unknown| gp_registry::Outcomes {
            runs: succeeded + failed + aborted + unknown,
            succeeded,
            failed,
            aborted,
            unknown,
        };
        assert!(page(o(0, 0, 0, 0)).contains("no deploys yet"));
        assert!(page(o(0, 0, 0, 3)).contains("3 build deploys, none with a result recorded"));
        let p = page(o(3, 0, 1, 2));
        assert!(p.contains("3 of 4 build deploys succeeded (75%)"), "{p}");
        assert!(p.contains("1 aborted before changing anything"), "{p}");
        assert!(p.contains("2 with no result recorded, not counted"), "{p}");
        let p = page(o(2, 2, 0, 0));
        assert!(p.contains("2 of 4 build deploys succeeded (50%)"), "{p}");
        assert!(!p.contains("aborted") && !p.contains("no result"), "{p}");
    }
}
