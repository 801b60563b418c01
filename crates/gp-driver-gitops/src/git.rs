//! The GitOps directory: a lock for writers, and (optionally) git commits.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use gp_driver::DriverError;

/// An exclusive lock on the GitOps directory for one render or removal.
pub struct Locked {
    _file: fs::File,
}

/// Takes the directory's lock (creating the directory).
pub fn lock(dir: &Path) -> Result<Locked, DriverError> {
    fs::create_dir_all(dir)
        .map_err(|e| DriverError::permanent(format!("cannot create {}: {e}", dir.display())))?;
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(".goldenpath.lock"))
        .map_err(|e| DriverError::permanent(format!("cannot open the GitOps lock: {e}")))?;
    file.lock()
        .map_err(|e| DriverError::permanent(format!("cannot lock {}: {e}", dir.display())))?;
    Ok(Locked { _file: file })
}

/// Environment prefixes git gets beside the base set: its own identity and
/// SSH settings, never goldenpath's keys.
pub const GIT_INHERIT: &[&str] = &[
    "GIT_AUTHOR_*",
    "GIT_COMMITTER_*",
    "GIT_SSH*",
    "SSH_AUTH_SOCK",
];

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output, DriverError> {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0");
    gp_core::child_env::scrub(&mut cmd, GIT_INHERIT);
    cmd.output().map_err(|e| {
        DriverError::configuration(format!("cannot run git: {e}")).with_hint("install git")
    })
}

fn ok(out: std::process::Output, what: &str) -> Result<String, DriverError> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(DriverError::permanent(format!(
            "git {what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Makes `dir` a git repository if it is not one, with a committer
/// identity of its own (a CI job without one must not fail to commit).
pub fn ensure_repo(dir: &Path) -> Result<(), DriverError> {
    // Checked once per process and repository: a deploy renders many
    // components into the same one.
    static READY: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());
    let ready = |d: &Path| READY.lock().is_ok_and(|r| r.iter().any(|p| p == d));
    if dir.join(".git").exists() && ready(dir) {
        return Ok(());
    }
    if !dir.join(".git").exists() {
        ok(git(dir, &["init", "-q"])?, "init")?;
        fs::write(dir.join(".gitignore"), ".goldenpath.lock\n")
            .map_err(|e| DriverError::permanent(format!("cannot write .gitignore: {e}")))?;
    }
    for (key, value) in [
        ("user.name", "goldenpath"),
        ("user.email", "goldenpath@localhost"),
    ] {
        let current = git(dir, &["config", "--get", key])?;
        if !current.status.success() {
            ok(git(dir, &["config", key, value])?, "config")?;
        }
    }
    if let Ok(mut r) = READY.lock() {
        r.push(dir.to_path_buf());
    }
    Ok(())
}

/// Stages `paths` and commits them with `message` if anything changed.
/// Returns whether a commit was made. Call it holding [`lock`].
pub fn commit(dir: &Path, paths: &[&str], message: &str) -> Result<bool, DriverError> {
    // Every goldenpath write to this repository happens under the
    // directory's exclusive lock, so a lock file of git's seen here (the
    // index's, HEAD's, a branch's) was left by a git that died with its
    // goldenpath (SIGKILL mid-commit): remove it, or every later render
    // would fail until someone deletes it by hand.
    for stale in stale_git_locks(&dir.join(".git")) {
        tracing::warn!(
            "removing {} left by an interrupted git commit",
            stale.display()
        );
        fs::remove_file(&stale).map_err(|e| {
            DriverError::permanent(format!("cannot remove the stale {}: {e}", stale.display()))
        })?;
    }
    // `git add` of a path that is gone and untracked fails; a removal that
    // an interrupted run already made on disk is staged with `rm --cached`.
    let mut add = vec!["add", "-A", "--"];
    for p in paths.iter().copied().chain([".gitignore"]) {
        if dir.join(p).exists() {
            add.push(p);
        } else {
            ok(
                git(
                    dir,
                    &["rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", p],
                )?,
                "rm",
            )?;
        }
    }
    if add.len() > 3 {
        ok(git(dir, &add)?, "add")?;
    }
    // Commit straight away (two git processes per render, not three); a
    // commit that fails is checked afterwards for the one harmless reason,
    // nothing staged.
    let committed = git(dir, &["commit", "-q", "--no-verify", "-m", message])?;
    if committed.status.success() {
        return Ok(true);
    }
    if git(dir, &["diff", "--cached", "--quiet"])?.status.success() {
        return Ok(false);
    }
    ok(committed, "commit")?;
    Ok(true)
}

/// Brings the local repository up to the remote's branch before a render
/// (fetch, then rebase what is local onto it); a remote without the branch
/// yet is fine. Call it holding [`lock`].
pub fn sync(dir: &Path, remote: &gp_core::spec::GitopsRemote) -> Result<(), DriverError> {
    let current = git(dir, &["remote", "get-url", "origin"])?;
    if !current.status.success() {
        ok(
            git(dir, &["remote", "add", "origin", &remote.url])?,
            "remote add",
        )?;
    } else if String::from_utf8_lossy(&current.stdout).trim() != remote.url {
        ok(
            git(dir, &["remote", "set-url", "origin", &remote.url])?,
            "remote set-url",
        )?;
    }
    let fetched = git(dir, &["fetch", "-q", "origin", &remote.branch])?;
    if !fetched.status.success() {
        let why = String::from_utf8_lossy(&fetched.stderr);
        if why.contains("couldn't find remote ref") {
            return Ok(());
        }
        return Err(DriverError::retryable(format!(
            "git fetch of {} failed: {}",
            remote.url,
            why.trim()
        )));
    }
    let upstream = format!("origin/{}", remote.branch);
    if commit_count(dir) == 0 {
        // A new local repository: start from the remote's history.
        ok(git(dir, &["reset", "-q", "--hard", &upstream])?, "reset")?;
        return Ok(());
    }
    rebase_onto(dir, &upstream)
}

fn rebase_onto(dir: &Path, upstream: &str) -> Result<(), DriverError> {
    let rebased = git(dir, &["rebase", "-q", "--autostash", upstream])?;
    if rebased.status.success() {
        return Ok(());
    }
    let _ = git(dir, &["rebase", "--abort"]);
    Err(DriverError::permanent(format!(
        "cannot rebase the GitOps repository onto {upstream}: {}",
        String::from_utf8_lossy(&rebased.stderr).trim()
    ))
    .with_hint("two renders changed the same files; resolve it in the GitOps repository"))
}

/// Pushes HEAD to the remote's branch; a push rejected because someone
/// else pushed first is rebased onto theirs and retried (up to 8 times),
/// so two builds rendering at once both land.
pub fn push(dir: &Path, remote: &gp_core::spec::GitopsRemote) -> Result<(), DriverError> {
    let refspec = format!("HEAD:refs/heads/{}", remote.branch);
    let mut last = String::new();
    for attempt in 0..8u32 {
        let pushed = git(dir, &["push", "-q", "origin", &refspec])?;
        if pushed.status.success() {
            return Ok(());
        }
        last = String::from_utf8_lossy(&pushed.stderr).trim().to_string();
        let rejected = last.contains("rejected")
            || last.contains("fetch first")
            || last.contains("non-fast-forward")
            || last.contains("failed to update ref")
            || last.contains("cannot lock ref");
        if !rejected {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(
            50 * u64::from(attempt + 1),
        ));
        let fetched = git(dir, &["fetch", "-q", "origin", &remote.branch])?;
        ok(fetched, "fetch")?;
        rebase_onto(dir, &format!("origin/{}", remote.branch))?;
    }
    Err(DriverError::retryable(format!(
        "git push to {} failed: {last}",
        remote.url
    )))
}

/// The number of commits on HEAD (0 for none), for tests and status.
pub fn commit_count(dir: &Path) -> usize {
    git(dir, &["rev-list", "--count", "HEAD"])
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(0)
}

/// Writes files atomically (each to a temporary sibling, then renamed),
/// skipping files whose content is already right; with `owned`, removes
/// files under that folder that are no longer rendered.
pub fn write_tree(
    root: &Path,
    files: &std::collections::BTreeMap<String, String>,
    owned: Option<&str>,
) -> Result<(), DriverError> {
    let io = |p: &Path, e: std::io::Error| {
        DriverError::permanent(format!("cannot write {}: {e}", p.display()))
    };
    let mut stale: Vec<PathBuf> = Vec::new();
    if let Some(owned) = owned {
        collect(&root.join(owned), &mut stale);
    }
    let mut made: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    for (rel, content) in files {
        let path = root.join(rel);
        stale.retain(|p| p != &path);
        match fs::read(&path) {
            Ok(existing) if existing == content.as_bytes() => continue,
            _ => {}
        }
        if let Some(parent) = path.parent()
            && !made.contains(parent)
        {
            fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            made.insert(parent.to_path_buf());
        }
        let tmp = path.with_extension("gp-tmp");
        fs::write(&tmp, content).map_err(|e| io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
    }
    for p in stale {
        let _ = fs::remove_file(p);
    }
    Ok(())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The lock files a killed `git commit` can leave: `index.lock`,
/// `HEAD.lock`, and a ref's under `refs/` (never anything else).
fn stale_git_locks(git_dir: &Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                walk(&p, out);
            } else if t.is_file() && p.extension().is_some_and(|x| x == "lock") {
                out.push(p);
            }
        }
    }
    let mut out: Vec<std::path::PathBuf> = ["index.lock", "HEAD.lock", "ORIG_HEAD.lock"]
        .iter()
        .map(|n| git_dir.join(n))
        .filter(|p| p.is_file())
        .collect();
    walk(&git_dir.join("refs"), &mut out);
    out
}
