//! GitHub Actions, for `--output github` and `ci github`: what a run reads
//! from the runner (the pull request of the event, the repository, the
//! run) and what it writes for it — the job summary
//! (`$GITHUB_STEP_SUMMARY`), step outputs (`$GITHUB_OUTPUT`), the body of
//! the pull request's one goldenpath comment, and the request bodies of
//! GitHub's Deployments API, as files the workflow posts with `gh api`.
//!
//! Everything read here is input like any other: the event file is
//! bounded and only values of GitHub's shapes are taken from it; what is
//! written is escaped for where it goes.

use std::io::Write;
use std::path::{Path, PathBuf};

use gp_registry::PullRequestRef;

/// The largest job summary GitHub shows (1 MiB per step); what goldenpath
/// appends stays under it.
pub const MAX_SUMMARY: usize = 1 << 20;

/// The largest comment GitHub takes (65,536 characters); the body is cut
/// well before.
pub const MAX_COMMENT: usize = 65_000;

/// The hidden line that finds goldenpath's comment on a pull request
/// again, so each run updates the one comment instead of adding one.
pub const COMMENT_MARKER: &str = "<!-- goldenpath:pull-request -->";

/// The pull request a run is for: from `GITHUB_EVENT_PATH` when
/// `GITHUB_EVENT_NAME` is `pull_request` (or `pull_request_target`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number.
    pub number: u64,
    /// The head commit (not the merge commit `GITHUB_SHA` names).
    pub head_sha: String,
    /// `opened`, `synchronize`, `reopened`, `closed`, ...
    pub action: String,
}

impl PullRequest {
    /// What the registry records.
    pub fn reference(&self) -> PullRequestRef {
        PullRequestRef {
            number: self.number,
            head_sha: self.head_sha.clone(),
        }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The pull request of this run's event, if it is one.
pub fn pull_request() -> Option<PullRequest> {
    let event = var("GITHUB_EVENT_NAME")?;
    if event != "pull_request" && event != "pull_request_target" {
        return None;
    }
    let text = std::fs::read(var("GITHUB_EVENT_PATH")?)
        .ok()
        .filter(|t| t.len() <= 16 << 20)?;
    parse_event(&text)
}

/// A pull request event's number, head commit and action, when each has
/// GitHub's shape.
pub fn parse_event(text: &[u8]) -> Option<PullRequest> {
    let v: serde_json::Value = serde_json::from_slice(text).ok()?;
    let number = v["pull_request"]["number"]
        .as_u64()
        .or_else(|| v["number"].as_u64())
        .filter(|n| *n > 0)?;
    let head_sha = v["pull_request"]["head"]["sha"].as_str()?;
    if head_sha.len() != 40 || !head_sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let action = v["action"]
        .as_str()
        .filter(|a| a.len() <= 32 && a.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .unwrap_or_default();
    Some(PullRequest {
        number,
        head_sha: head_sha.to_ascii_lowercase(),
        action: action.to_string(),
    })
}

/// Where goldenpath writes the files a workflow posts (the comment body,
/// the Deployments request bodies): `GOLDENPATH_GITHUB_DIR`, else
/// `$RUNNER_TEMP/goldenpath`, else `{state}/github`.
pub fn files_dir(state_dir: &Path) -> PathBuf {
    if let Some(d) = var(crate::env::GITHUB_DIR) {
        return PathBuf::from(d);
    }
    if let Some(t) = var("RUNNER_TEMP") {
        return Path::new(&t).join("goldenpath");
    }
    state_dir.join("github")
}

/// Writes `name` under `dir`, creating it.
pub fn write_file(dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Appends Markdown to the job summary, if the runner gives one; what
/// would take the file past [`MAX_SUMMARY`] is cut with a note.
pub fn append_summary(markdown: &str) -> std::io::Result<()> {
    let Some(path) = var("GITHUB_STEP_SUMMARY") else {
        return Ok(());
    };
    let used = std::fs::metadata(&path)
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    let room = MAX_SUMMARY.saturating_sub(used);
    let text = cut(
        markdown,
        room,
        "\n\n_(cut: the summary is limited to 1 MiB)_\n",
    );
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// `text` within `max` bytes, at a character boundary, ending with `note`
/// when cut.
pub fn cut(text: &str, max: usize, note: &str) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub(note.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{note}", &text[..end])
}

/// Sets step outputs, if the runner gives a file for them. Each value is
/// written in the multi-line form with a delimiter it does not contain.
pub fn set_outputs(pairs: &[(&str, String)]) -> std::io::Result<()> {
    let Some(path) = var("GITHUB_OUTPUT") else {
        return Ok(());
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(outputs_text(pairs).as_bytes())
}

/// The `$GITHUB_OUTPUT` text of `pairs`.
pub fn outputs_text(pairs: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        let mut delimiter = String::from("GOLDENPATH_EOF");
        while value.contains(&delimiter) || name.contains(&delimiter) {
            delimiter.push('_');
        }
        out.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
    }
    out
}

/// The body of goldenpath's pull request comment: the marker, then
/// `markdown`, under [`MAX_COMMENT`] characters.
pub fn comment_body(markdown: &str) -> String {
    let body = format!("{COMMENT_MARKER}\n{markdown}");
    cut(
        &body,
        MAX_COMMENT,
        "\n\n_(cut: see the job summary for the rest)_\n",
    )
}

/// Escapes text for a Markdown table cell: no pipe, no line break, no
/// HTML.
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in crate::printer::visible(text).chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' => out.push('\''),
            c => out.push(c),
        }
    }
    out
}

/// A Markdown table.
pub fn md_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for r in rows {
        out.push_str(&format!(
            "| {} |\n",
            r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        ));
    }
    out
}

/// The GitHub environment of a pull request's preview in `env`.
pub fn preview_environment(env: &str, number: u64) -> String {
    format!("preview-{env}-pr-{number}")
}

/// The body of `POST /repos/{owner}/{repo}/deployments` for a pull
/// request's preview: a transient, non-production environment, no merge,
/// no required contexts (the workflow's own checks run beside it).
pub fn deployment_body(env: &str, pr: &PullRequest, build_id: Option<&str>) -> serde_json::Value {
    let mut payload = serde_json::json!({"env": env, "pullRequest": pr.number});
    if let Some(b) = build_id {
        payload["buildId"] = b.into();
    }
    serde_json::json!({
        "ref": pr.head_sha,
        "task": "deploy:preview",
        "auto_merge": false,
        "required_contexts": [],
        "payload": payload,
        "environment": preview_environment(env, pr.number),
        "description": cut(&format!("goldenpath preview of pull request #{} in {env}", pr.number), 140, ""),
        "transient_environment": true,
        "production_environment": false,
    })
}

/// The state of a deployment status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum DeploymentState {
    /// Started.
    InProgress,
    /// Deployed.
    Success,
    /// The deploy failed.
    Failure,
    /// Torn down.
    Inactive,
}

impl DeploymentState {
    /// GitHub's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Inactive => "inactive",
        }
    }
}

/// The body of `POST /repos/{owner}/{repo}/deployments/{id}/statuses`.
pub fn status_body(
    state: DeploymentState,
    description: &str,
    environment_url: Option<&str>,
    log_url: Option<&str>,
) -> serde_json::Value {
    let mut v = serde_json::json!({
        "state": state.as_str(),
        "description": cut(description, 140, ""),
        "auto_inactive": false,
    });
    if let Some(u) = environment_url {
        v["environment_url"] = u.into();
    }
    if let Some(u) = log_url {
        v["log_url"] = u.into();
    }
    v
}

/// The hosts a deployment serves (its own, under its suffix), as https
/// URLs.
pub fn host_urls(
    platform: &gp_core::Platform,
    env: &str,
    deployment: gp_core::Deployment,
) -> Vec<String> {
    let Ok(contract) = gp_core::Contract::new(platform, env, deployment) else {
        return Vec::new();
    };
    let Ok(view) = contract.view() else {
        return Vec::new();
    };
    view.hosts
        .iter()
        .filter(|h| gp_core::names::is_under(&h.fqdn, &view.host_suffix))
        .map(|h| format!("https://{}", h.fqdn))
        .collect()
}

/// The words and detail of a deploy's component result.
pub fn result_words(r: &gp_engine::run::ComponentResult) -> (String, String) {
    use gp_engine::run::ComponentResult as R;
    match r {
        R::Applied {
            action,
            duration_ms,
        } => (
            crate::progress::past(action),
            format!("{:.1}s", *duration_ms as f64 / 1000.0),
        ),
        R::Unchanged => ("unchanged".into(), String::new()),
        R::Ready => ("ready".into(), "foundational".into()),
        R::Skipped { reason } => ("skipped".into(), reason.clone()),
        R::Pending { reason, .. } => ("pending".into(), reason.clone()),
        R::Blocked { reason } => ("blocked".into(), reason.clone()),
        R::NotDeployed { reason, .. } => ("not-deployed".into(), reason.clone()),
        R::Failed { error } => ("failed".into(), error.clone()),
        R::Refused { error } => ("refused".into(), error.clone()),
        R::NotStarted => ("not-started".into(), String::new()),
    }
}

/// What `deploy --output github` leaves for the workflow: the job summary
/// (components, hosts as links, durations, what waits and why), step
/// outputs (`build-id`, `outcome`, `url`, `hosts`), an annotation per
/// failed or refused component, the pull request comment body, and the
/// deployment status body of a pull request's preview. Returns the
/// annotations for stdout.
pub fn report_deploy(
    platform: &gp_core::Platform,
    state_dir: &Path,
    outcome: &gp_engine::DeployOutcome,
    run_url: Option<&str>,
) -> std::io::Result<String> {
    let deployment = gp_core::Deployment::from_key(&outcome.deployment);
    let hosts = deployment
        .map(|d| host_urls(platform, &outcome.env, d))
        .unwrap_or_default();
    let what = match &outcome.build_id {
        Some(b) => format!("build `{b}` in {}", outcome.env),
        None => format!("{} in {}", outcome.deployment, outcome.env),
    };
    let mut md = format!(
        "### goldenpath deploy: {what} — {}\n\n",
        outcome.outcome.as_str()
    );
    let rows: Vec<Vec<String>> = outcome
        .components
        .iter()
        .map(|c| {
            let (result, detail) = result_words(&c.result);
            vec![c.component.clone(), c.tier.to_string(), result, detail]
        })
        .collect();
    md.push_str(&md_table(&["component", "tier", "result", "detail"], &rows));
    if !hosts.is_empty() {
        md.push_str("\n**Hosts:** ");
        md.push_str(
            &hosts
                .iter()
                .map(|h| format!("<{}>", cell(h)))
                .collect::<Vec<_>>()
                .join(", "),
        );
        md.push('\n');
    }
    let next: Vec<&str> = outcome
        .components
        .iter()
        .filter_map(|c| match &c.result {
            gp_engine::run::ComponentResult::Pending { next, .. } => next.as_deref(),
            _ => None,
        })
        .collect();
    if let Some(n) = next.first() {
        md.push_str(&format!("\n**Next:** `{}`\n", cell(n)));
    }
    md.push_str(&format!(
        "\n_{:.1}s{}_\n",
        outcome.duration_ms as f64 / 1000.0,
        run_url
            .map(|u| format!(", [run]({})", cell(u)))
            .unwrap_or_default()
    ));
    append_summary(&md)?;
    set_outputs(&[
        ("build-id", outcome.build_id.clone().unwrap_or_default()),
        ("outcome", outcome.outcome.as_str().to_string()),
        ("url", hosts.first().cloned().unwrap_or_default()),
        (
            "hosts",
            serde_json::to_string(&hosts).unwrap_or_else(|_| "[]".into()),
        ),
    ])?;
    let dir = files_dir(state_dir);
    write_file(&dir, "comment.md", &comment_body(&md))?;
    if let Some(pr) = pull_request() {
        let ok = outcome.succeeded();
        let state = if ok {
            DeploymentState::Success
        } else {
            DeploymentState::Failure
        };
        let body = status_body(
            state,
            &format!("{what}: {}", outcome.outcome.as_str()),
            hosts.first().map(String::as_str),
            run_url,
        );
        write_file(&dir, "deployment-status.json", &pretty(&body))?;
        let created = deployment_body(&outcome.env, &pr, outcome.build_id.as_deref());
        write_file(&dir, "deployment.json", &pretty(&created))?;
    }
    let annotations: Vec<gp_core::annotate::Annotation> = outcome
        .components
        .iter()
        .filter_map(|c| match &c.result {
            gp_engine::run::ComponentResult::Failed { error }
            | gp_engine::run::ComponentResult::Refused { error } => {
                Some(gp_core::annotate::Annotation {
                    error: true,
                    file: String::new(),
                    line: 0,
                    column: 0,
                    rule: format!("goldenpath {}", c.component),
                    message: error.clone(),
                })
            }
            _ => None,
        })
        .collect();
    Ok(gp_core::annotate::github(&annotations))
}

/// What `teardown --output github` leaves: the summary, the `outcome`
/// output, and for a pull request's preview the `inactive` status body.
pub fn report_teardown(
    state_dir: &Path,
    outcome: &gp_engine::TeardownOutcome,
    pr: Option<&PullRequest>,
    run_url: Option<&str>,
) -> std::io::Result<()> {
    let clean = outcome.failed.is_empty() && outcome.orphans.is_empty();
    let mut md = format!(
        "### goldenpath teardown: {} in {} — {}\n\n{} destroyed, {} failed, {} kept (adopted); {}\n",
        cell(&outcome.deployment),
        cell(&outcome.env),
        if clean { "clean" } else { "incomplete" },
        outcome.destroyed.len(),
        outcome.failed.len(),
        outcome.kept.len(),
        if outcome.orphans.is_empty() {
            "nothing left behind".to_string()
        } else {
            format!("{} resource(s) still exist", outcome.orphans.len())
        }
    );
    if let Some(u) = run_url {
        md.push_str(&format!("\n[run]({})\n", cell(u)));
    }
    append_summary(&md)?;
    set_outputs(&[(
        "outcome",
        if clean { "torn-down" } else { "incomplete" }.to_string(),
    )])?;
    if let Some(pr) = pr {
        let body = status_body(
            DeploymentState::Inactive,
            &format!("torn down: pull request #{} is closed", pr.number),
            None,
            run_url,
        );
        write_file(
            &files_dir(state_dir),
            "deployment-status.json",
            &pretty(&body),
        )?;
    }
    Ok(())
}

/// What `teardown --pull-request N --output github` leaves when the pull
/// request has no preview: the summary says so, and its deployment (if
/// any) is still marked `inactive`.
pub fn report_no_preview(
    state_dir: &Path,
    number: u64,
    pr: Option<&PullRequest>,
    run_url: Option<&str>,
) -> std::io::Result<()> {
    append_summary(&format!(
        "### goldenpath teardown: pull request #{number} has no preview build; nothing to tear down\n"
    ))?;
    set_outputs(&[("outcome", "nothing".to_string())])?;
    if pr.is_some_and(|p| p.number == number) {
        let body = status_body(
            DeploymentState::Inactive,
            &format!("pull request #{number} is closed; it had no preview"),
            None,
            run_url,
        );
        write_file(
            &files_dir(state_dir),
            "deployment-status.json",
            &pretty(&body),
        )?;
    }
    Ok(())
}

/// What `plan --output github` leaves: the plan as the summary and the
/// pull request comment body (components, Terraform resource changes,
/// policy refusals).
pub fn report_plan(state_dir: &Path, plan: &gp_engine::Plan) -> std::io::Result<()> {
    let what = match &plan.build_id {
        Some(b) => format!("build `{b}` in {}", plan.env),
        None => format!("{} in {}", plan.deployment, plan.env),
    };
    let mut md = format!("### goldenpath plan: {what}\n\n");
    let rows: Vec<Vec<String>> = plan
        .items
        .iter()
        .map(|i| {
            let mut detail = i.reason.clone().unwrap_or_default();
            for d in &i.details {
                if !detail.is_empty() {
                    detail.push_str("; ");
                }
                detail.push_str(d);
            }
            vec![
                i.component.clone(),
                i.tier.to_string(),
                i.action.to_string(),
                detail,
            ]
        })
        .collect();
    md.push_str(&md_table(&["component", "tier", "action", "detail"], &rows));
    let refused: Vec<&gp_engine::PlanItem> = plan
        .items
        .iter()
        .filter(|i| i.action == gp_engine::PlanAction::Refused)
        .collect();
    if !refused.is_empty() {
        md.push_str(&format!(
            "\n**{} component(s) a deploy would refuse:** {}\n",
            refused.len(),
            refused
                .iter()
                .map(|i| cell(&i.component))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    append_summary(&md)?;
    write_file(&files_dir(state_dir), "comment.md", &comment_body(&md))?;
    Ok(())
}

/// What `status --output github` leaves: the deployment's rows as the
/// job summary, with why each waits and the command that unblocks it.
pub fn report_status(s: &gp_engine::status::DeploymentStatus, title: &str) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = s
        .components
        .iter()
        .map(|c| {
            vec![
                c.component.clone(),
                c.tier.to_string(),
                c.state.as_str().to_string(),
                c.reason.clone().unwrap_or_default(),
                c.next.clone().unwrap_or_default(),
            ]
        })
        .collect();
    append_summary(&format!(
        "### goldenpath status: {}\n\n{}",
        cell(title),
        md_table(&["component", "tier", "state", "why", "next"], &rows)
    ))
}

/// A command's text output as a titled block of the job summary (what it
/// prints cannot close the block early).
pub fn summary_block_text(title: &str, text: &str) -> String {
    let body = crate::printer::visible(text).replace("```", "\u{2035}\u{2035}\u{2035}");
    format!("### {}\n\n```text\n{}\n```\n", cell(title), body.trim_end())
}

/// Appends [`summary_block_text`] to the job summary.
pub fn summary_block(title: &str, text: &str) -> std::io::Result<()> {
    append_summary(&summary_block_text(title, text))
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(number: serde_json::Value, sha: &str, action: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "action": action,
            "number": number,
            "pull_request": {"number": number, "head": {"sha": sha}},
        }))
        .unwrap()
    }

    #[test]
    fn a_pull_request_event_is_read_only_in_githubs_shapes() {
        let sha = "A".repeat(40);
        assert_eq!(
            parse_event(&event(12.into(), &sha, "synchronize")),
            Some(PullRequest {
                number: 12,
                head_sha: "a".repeat(40),
                action: "synchronize".into(),
            })
        );
        for bad in [
            event(0.into(), &sha, "opened"),
            event((-1).into(), &sha, "opened"),
            event("12".into(), &sha, "opened"),
            event(12.into(), &"a".repeat(39), "opened"),
            event(12.into(), &"g".repeat(40), "opened"),
            b"not json".to_vec(),
            b"{}".to_vec(),
        ] {
            assert_eq!(parse_event(&bad), None, "{}", String::from_utf8_lossy(&bad));
        }
        // An action of another shape is dropped, not taken.
        let odd = parse_event(&event(3.into(), &sha, "opened\n::error::x")).unwrap();
        assert_eq!(odd.action, "");
    }

    #[test]
    fn outputs_use_a_delimiter_the_value_does_not_hold() {
        let text = outputs_text(&[
            ("build-id", "23-01-26-01".into()),
            ("evil", "x\nGOLDENPATH_EOF\nbuild-id=forged".into()),
        ]);
        assert_eq!(
            text,
            "build-id<<GOLDENPATH_EOF\n23-01-26-01\nGOLDENPATH_EOF\nevil<<GOLDENPATH_EOF_\nx\nGOLDENPATH_EOF\nbuild-id=forged\nGOLDENPATH_EOF_\n"
        );
    }

    #[test]
    fn a_comment_carries_the_marker_and_fits_githubs_limit() {
        let c = comment_body("hello");
        assert!(c.starts_with(COMMENT_MARKER));
        let huge = comment_body(&"é".repeat(100_000));
        assert!(huge.len() <= MAX_COMMENT, "{}", huge.len());
        assert!(huge.chars().count() < 65_536);
        assert!(huge.ends_with("see the job summary for the rest)_\n"));
    }

    #[test]
    fn a_summary_block_cannot_be_closed_by_what_it_holds() {
        let b = summary_block_text("request | x", "done\n```\n## forged\n");
        assert!(b.starts_with("### request \\| x\n\n```text\ndone\n"), "{b}");
        assert_eq!(b.matches("```").count(), 2, "{b}");
        assert!(b.ends_with("## forged\n```\n"), "{b}");
    }

    #[test]
    fn cells_cannot_break_the_table_or_inject_html() {
        assert_eq!(cell("a|b\nc<script>&`x`"), "a\\|b c&lt;script&gt;&amp;'x'");
        assert_eq!(cell("\u{1b}[2J"), "\\u{1b}[2J");
    }
}
