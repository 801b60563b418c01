//! The session-log gate over a real git diff.

use std::path::Path;
use std::process::Command;

use crate::check::Context;
use crate::config::Level;
use crate::{DocsError, Finding, rules};

fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>, DocsError> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(root).args(args);
    gp_core::child_env::scrub(&mut cmd, &["GIT_*"]);
    let out = cmd
        .output()
        .map_err(|e| DocsError::Usage(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(DocsError::Usage(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

/// A revision as `--diff` may name it: a branch, tag, commit or
/// `HEAD~2`-style expression; never something git would read as an option.
fn check_revision(rev: &str) -> Result<(), DocsError> {
    let ok = !rev.is_empty()
        && !rev.starts_with('-')
        && rev.len() <= 256
        && rev
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/~^@{}-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(DocsError::Usage(format!(
            "`{}` is not a git revision: --diff takes BASE..HEAD, e.g. origin/main..HEAD",
            rev.escape_debug()
        )))
    }
}

/// `BASE..HEAD`, `BASE...HEAD` or `BASE` (against HEAD).
fn range(spec: &str) -> (String, String) {
    if let Some((a, b)) = spec.split_once("...").or_else(|| spec.split_once("..")) {
        let b = if b.is_empty() { "HEAD" } else { b };
        (a.to_string(), b.to_string())
    } else {
        (spec.to_string(), "HEAD".to_string())
    }
}

/// Checks a change: watched paths need a session log; append-only files
/// only grow below their front matter.
pub(crate) fn session_gate(
    root: &Path,
    ctx: &Context<'_>,
    spec: &str,
    out: &mut Vec<Finding>,
) -> Result<(), DocsError> {
    let (base, head) = range(spec);
    check_revision(&base)?;
    check_revision(&head)?;
    let names = git(
        root,
        &[
            "diff",
            "--name-status",
            "-z",
            "--end-of-options",
            &base,
            &head,
            "--",
        ],
    )?;
    let mut changed: Vec<(String, String)> = Vec::new();
    let mut parts = names.split(|b| *b == 0).filter(|p| !p.is_empty());
    while let Some(status) = parts.next() {
        let status = String::from_utf8_lossy(status).to_string();
        let takes_two = status.starts_with('R') || status.starts_with('C');
        let first = parts.next().map(|p| String::from_utf8_lossy(p).to_string());
        let path = if takes_two {
            parts.next().map(|p| String::from_utf8_lossy(p).to_string())
        } else {
            first
        };
        if let Some(p) = path {
            changed.push((status, p));
        }
    }
    let cfg = &ctx.config.session_log;
    // Each list of globs compiled once, not once per changed path.
    let watch = crate::glob::Set::new(&cfg.watch);
    let logs = crate::glob::Set::new(std::slice::from_ref(&cfg.logs));
    let append_only = crate::glob::Set::new(&cfg.append_only);
    let watched: Vec<&str> = changed
        .iter()
        .map(|(_, p)| p.as_str())
        .filter(|p| watch.under(p))
        .collect();
    let logged = changed.iter().any(|(_, p)| logs.matches(p));
    if !watched.is_empty() && !logged && ctx.config.level(rules::SESSION_LOG) != Level::Off {
        let list: Vec<&str> = watched.iter().take(5).copied().collect();
        out.push(Finding {
            file: watched[0].to_string(),
            line: 0,
            column: 0,
            rule: rules::SESSION_LOG.into(),
            level: ctx.config.level(rules::SESSION_LOG),
            message: format!(
                "{base}..{head} changes {}{} but adds no session log ({})",
                list.join(", "),
                if watched.len() > 5 {
                    format!(" and {} more", watched.len() - 5)
                } else {
                    String::new()
                },
                cfg.logs
            ),
        });
    }
    if ctx.config.level(rules::APPEND_ONLY) == Level::Off {
        return Ok(());
    }
    for (status, path) in &changed {
        if !append_only.matches(path) {
            continue;
        }
        let level = ctx.config.level(rules::APPEND_ONLY);
        if status.starts_with('D') || status.starts_with('R') {
            out.push(Finding {
                file: path.clone(),
                line: 0,
                column: 0,
                rule: rules::APPEND_ONLY.into(),
                level,
                message: "an append-only file was deleted or renamed".into(),
            });
            continue;
        }
        if status.starts_with('A') {
            continue;
        }
        let old = String::from_utf8_lossy(&git(
            root,
            &["show", "--end-of-options", &format!("{base}:{path}")],
        )?)
        .to_string();
        let new = String::from_utf8_lossy(&git(
            root,
            &["show", "--end-of-options", &format!("{head}:{path}")],
        )?)
        .to_string();
        let body = |t: &str| -> (String, u32) {
            match crate::frontmatter::split(t) {
                Ok(s) => (s.body.to_string(), s.body_line),
                Err(_) => (t.to_string(), 1),
            }
        };
        let (old_body, _) = body(&old);
        let (new_body, new_line) = body(&new);
        if !new_body.starts_with(&old_body) {
            let differs = old_body
                .lines()
                .zip(new_body.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| new_body.lines().count());
            out.push(Finding {
                file: path.clone(),
                line: new_line + differs as u32,
                column: 1,
                rule: rules::APPEND_ONLY.into(),
                level,
                message: format!(
                    "append-only: {base}..{head} changes existing content below the front matter (only appending is allowed)"
                ),
            });
        }
    }
    Ok(())
}
