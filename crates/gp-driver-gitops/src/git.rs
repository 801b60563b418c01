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
    // Every goldenpath use of this repository (a commit, a sync, a push)
    // happens under this lock, so a lock file of git's seen now was left
    // by a git that died with its goldenpath (SIGKILL mid-commit, mid-fetch,
    // mid-push): remove it, or every later run would fail until someone
    // deletes it by hand.
    for stale in stale_git_locks(&dir.join(".git")) {
        tracing::warn!("removing {} left by an interrupted git", stale.display());
        fs::remove_file(&stale).map_err(|e| {
            DriverError::permanent(format!("cannot remove the stale {}: {e}", stale.display()))
        })?;
    }
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
    if let Some(made) = commit_import(dir, paths, message)? {
        return Ok(made);
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

/// The ref a commit is built on before it becomes the branch's.
const IMPORT_REF: &str = "refs/goldenpath/import";

/// Commits `paths` as they are on disk through one `git fast-import`: the
/// objects go into one pack (no loose object per file, no scan of the
/// index), which a push then sends without compressing again; the branch
/// moves only if the tree changed and HEAD is still the parent, and the
/// index is brought up to the commit for those paths. `Ok(None)` when this
/// way does not apply (a detached HEAD, a path outside plain names, a
/// special file in the tree): the caller stages and commits the usual way.
/// Everything under `paths` is goldenpath's rendering (no ignore rules
/// apply inside it).
fn commit_import(dir: &Path, paths: &[&str], message: &str) -> Result<Option<bool>, DriverError> {
    use std::io::Write;
    let plain = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
            && p.split('/').all(|s| !s.is_empty() && s != "." && s != "..")
    };
    let branch = git(dir, &["symbolic-ref", "-q", "HEAD"])?;
    if !branch.status.success() {
        return Ok(None);
    }
    let branch = String::from_utf8_lossy(&branch.stdout).trim().to_string();
    let parent = git(dir, &["rev-parse", "-q", "--verify", "HEAD^{commit}"])?;
    let parent = parent
        .status
        .success()
        .then(|| String::from_utf8_lossy(&parent.stdout).trim().to_string());
    // Who, as `git commit` would have it (GIT_AUTHOR_*, GIT_COMMITTER_*,
    // user.name and user.email): `Name <email> seconds zone`.
    let ident = |var: &str| -> Result<String, DriverError> {
        let v = ok(git(dir, &["var", var])?, "var")?.trim().to_string();
        if v.is_empty() || v.contains('\n') {
            return Err(DriverError::permanent(format!("git var {var} is empty")));
        }
        Ok(v)
    };
    let author = ident("GIT_AUTHOR_IDENT")?;
    let committer = ident("GIT_COMMITTER_IDENT")?;
    let mut stream: Vec<u8> = Vec::with_capacity(1 << 20);
    let _ = write!(
        stream,
        "commit {IMPORT_REF}\nauthor {author}\ncommitter {committer}\ndata {}\n{message}\n",
        message.len()
    );
    if let Some(p) = &parent {
        let _ = writeln!(stream, "from {p}");
    }
    let mut files: Vec<(String, PathBuf, bool)> = Vec::new();
    for p in paths.iter().copied().chain([".gitignore"]) {
        if !plain(p) {
            return Ok(None);
        }
        // The path is replaced whole: what is gone on disk goes from git.
        let _ = writeln!(stream, "D {p}");
        let mut stack = vec![(p.to_string(), dir.join(p))];
        while let Some((rel, full)) = stack.pop() {
            let meta = match fs::symlink_metadata(&full) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(DriverError::permanent(format!(
                        "cannot read {}: {e}",
                        full.display()
                    )));
                }
            };
            if meta.is_file() {
                use std::os::unix::fs::PermissionsExt;
                files.push((rel, full, meta.permissions().mode() & 0o111 != 0));
            } else if meta.is_dir() {
                let entries = fs::read_dir(&full).map_err(|e| {
                    DriverError::permanent(format!("cannot read {}: {e}", full.display()))
                })?;
                for e in entries.flatten() {
                    let Some(n) = e.file_name().to_str().map(str::to_string) else {
                        return Ok(None);
                    };
                    let child = format!("{rel}/{n}");
                    if !plain(&child) {
                        return Ok(None);
                    }
                    stack.push((child, e.path()));
                }
            } else {
                return Ok(None);
            }
        }
    }
    for (rel, full, exec) in files {
        let data = fs::read(&full)
            .map_err(|e| DriverError::permanent(format!("cannot read {}: {e}", full.display())))?;
        let mode = if exec { "100755" } else { "100644" };
        let _ = write!(stream, "M {mode} inline {rel}\ndata {}\n", data.len());
        stream.extend_from_slice(&data);
        stream.push(b'\n');
    }
    stream.extend_from_slice(b"done\n");
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args(["fast-import", "--quiet", "--done", "--force"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    gp_core::child_env::scrub(&mut cmd, GIT_INHERIT);
    let mut child = cmd.spawn().map_err(|e| {
        DriverError::configuration(format!("cannot run git: {e}")).with_hint("install git")
    })?;
    let Some(mut stdin) = child.stdin.take() else {
        return Err(DriverError::permanent("git fast-import has no stdin"));
    };
    let writer = std::thread::spawn(move || stdin.write_all(&stream));
    let out = child
        .wait_with_output()
        .map_err(|e| DriverError::permanent(format!("git fast-import: {e}")))?;
    let written = joined(writer);
    ok(out, "fast-import")?;
    written.map_err(|e| DriverError::permanent(format!("git fast-import: {e}")))?;
    let tree = |rev: &str| -> Result<String, DriverError> {
        ok(
            git(dir, &["rev-parse", &format!("{rev}^{{tree}}")])?,
            "rev-parse",
        )
        .map(|t| t.trim().to_string())
    };
    let made = match &parent {
        Some(p) => tree(IMPORT_REF)? != tree(p)?,
        None => true,
    };
    if made {
        // Moves the branch only from the parent seen (nobody moved it).
        let old = parent.clone().unwrap_or_else(|| "0".repeat(40));
        ok(
            git(
                dir,
                &["update-ref", "-m", "goldenpath", &branch, IMPORT_REF, &old],
            )?,
            "update-ref",
        )?;
    }
    ok(git(dir, &["update-ref", "-d", IMPORT_REF])?, "update-ref")?;
    // The index follows HEAD, made or not: goldenpath stages nothing it
    // does not commit, so a run killed after a commit and before this left
    // it behind, and this run (whatever it renders) brings it up.
    ok(git(dir, &["reset", "-q"])?, "reset")?;
    Ok(Some(made))
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

/// Every lock file a killed git can leave in `git_dir`: the index's,
/// HEAD's and the other pseudo-refs', `packed-refs.lock` (a fetch or a
/// `pack-refs`), `config.lock`, `shallow.lock`, the commit graph's and the
/// multi-pack index's, and any ref's or reflog's under `refs/` and `logs/`.
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
    let mut out: Vec<std::path::PathBuf> = [
        "index.lock",
        "HEAD.lock",
        "ORIG_HEAD.lock",
        "FETCH_HEAD.lock",
        "MERGE_HEAD.lock",
        "packed-refs.lock",
        "config.lock",
        "shallow.lock",
        "objects/info/commit-graph.lock",
        "objects/info/commit-graphs/commit-graph-chain.lock",
        "objects/pack/multi-pack-index.lock",
    ]
    .iter()
    .map(|n| git_dir.join(n))
    .filter(|p| p.is_file())
    .collect();
    walk(&git_dir.join("refs"), &mut out);
    walk(&git_dir.join("logs"), &mut out);
    out
}

/// What a writer thread returned; a thread that panicked wrote an unknown
/// part of its stream, an error (never taken as written).
fn joined(writer: std::thread::JoinHandle<std::io::Result<()>>) -> std::io::Result<()> {
    writer
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the writer thread panicked")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_writer_is_joined_as_it_ended_and_a_panic_is_an_error() {
        assert!(super::joined(std::thread::spawn(|| Ok(()))).is_ok());
        let failed = super::joined(std::thread::spawn(|| Err(std::io::Error::other("pipe"))));
        assert_eq!(failed.map_err(|e| e.to_string()), Err("pipe".to_string()));
        let panicked = super::joined(std::thread::spawn(|| -> std::io::Result<()> {
            panic!("a writer that panics")
        }));
        assert_eq!(
            panicked.map_err(|e| e.to_string()),
            Err("the writer thread panicked".to_string())
        );
    }

    use super::*;

    fn status(dir: &Path) -> String {
        ok(git(dir, &["status", "--porcelain"]).unwrap(), "status").unwrap()
    }

    fn tree(dir: &Path) -> String {
        ok(
            git(dir, &["ls-tree", "-r", "--name-only", "HEAD"]).unwrap(),
            "ls-tree",
        )
        .unwrap()
    }

    #[test]
    fn every_lock_a_killed_git_leaves_is_cleared_when_the_directory_is_locked() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        ensure_repo(dir).unwrap();
        fs::write(dir.join("a.yaml"), "a: 1\n").unwrap();
        assert!(commit(dir, &["a.yaml"], "first").unwrap());
        let git_dir = dir.join(".git");
        let head = fs::read_to_string(git_dir.join("HEAD")).unwrap();
        let branch = head.trim().strip_prefix("ref: ").unwrap().to_string();
        fs::create_dir_all(git_dir.join("logs/refs/heads")).unwrap();
        fs::create_dir_all(git_dir.join("objects/info")).unwrap();
        let locks: Vec<PathBuf> = [
            "index.lock",
            "HEAD.lock",
            "packed-refs.lock",
            "config.lock",
            "FETCH_HEAD.lock",
            "objects/info/commit-graph.lock",
            &format!("{branch}.lock"),
            &format!("logs/{branch}.lock"),
        ]
        .iter()
        .map(|n| git_dir.join(n))
        .collect();
        for l in &locks {
            fs::write(l, "").unwrap();
        }
        // A file of ours that only looks like a lock stays.
        fs::write(dir.join("notes.lock"), "mine").unwrap();
        let guard = lock(dir).unwrap();
        for l in &locks {
            assert!(!l.exists(), "{} is left", l.display());
        }
        assert!(dir.join("notes.lock").exists());
        fs::write(dir.join("a.yaml"), "a: 2\n").unwrap();
        assert!(commit(dir, &["a.yaml"], "second").unwrap());
        drop(guard);
    }

    #[test]
    fn commits_through_fast_import_keep_the_index_and_the_tree_true_to_disk() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        ensure_repo(dir).unwrap();
        fs::create_dir_all(dir.join("apps/dev/a/manifests")).unwrap();
        fs::write(dir.join("apps/dev/a/values.yaml"), "x: 1\n").unwrap();
        fs::write(
            dir.join("apps/dev/a/manifests/ns.yaml"),
            "kind: Namespace\n",
        )
        .unwrap();
        assert!(commit(dir, &["apps/dev/a"], "first").unwrap());
        assert_eq!(commit_count(dir), 1);
        assert_eq!(
            tree(dir),
            ".gitignore\napps/dev/a/manifests/ns.yaml\napps/dev/a/values.yaml\n"
        );
        assert_eq!(status(dir), "", "the index matches the commit");
        // Nothing changed: no commit.
        assert!(!commit(dir, &["apps/dev/a"], "again").unwrap());
        assert_eq!(commit_count(dir), 1);
        // A file gone on disk goes from the tree; other paths are untouched.
        fs::create_dir_all(dir.join("apps/dev/b")).unwrap();
        fs::write(dir.join("apps/dev/b/values.yaml"), "y: 2\n").unwrap();
        assert!(commit(dir, &["apps/dev/b"], "b").unwrap());
        fs::remove_file(dir.join("apps/dev/a/manifests/ns.yaml")).unwrap();
        fs::write(dir.join("apps/dev/a/values.yaml"), "x: 2\n").unwrap();
        assert!(commit(dir, &["apps/dev/a"], "second").unwrap());
        assert_eq!(
            tree(dir),
            ".gitignore\napps/dev/a/values.yaml\napps/dev/b/values.yaml\n"
        );
        assert_eq!(status(dir), "");
        let shown = ok(
            git(dir, &["show", "HEAD:apps/dev/a/values.yaml"]).unwrap(),
            "show",
        )
        .unwrap();
        assert_eq!(shown, "x: 2\n");
        // A folder removed whole.
        fs::remove_dir_all(dir.join("apps/dev/b")).unwrap();
        assert!(commit(dir, &["apps/dev/b"], "gone").unwrap());
        assert_eq!(tree(dir), ".gitignore\napps/dev/a/values.yaml\n");
        assert_eq!(status(dir), "");
        assert!(
            !ok(git(dir, &["for-each-ref"]).unwrap(), "refs")
                .unwrap()
                .contains(IMPORT_REF),
            "no import ref left"
        );
    }

    #[test]
    fn an_index_left_behind_by_a_killed_commit_is_brought_up_by_the_next() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        ensure_repo(dir).unwrap();
        fs::create_dir_all(dir.join("apps/b")).unwrap();
        fs::write(dir.join("apps/b/v.yaml"), "x\n").unwrap();
        assert!(commit(dir, &["apps/b"], "b").unwrap());
        fs::remove_dir_all(dir.join("apps/b")).unwrap();
        assert!(commit(dir, &["apps/b"], "gone").unwrap());
        // Killed between the branch moving and the index following it.
        ok(git(dir, &["read-tree", "HEAD~1"]).unwrap(), "read-tree").unwrap();
        assert_ne!(status(dir), "");
        assert!(!commit(dir, &["apps/b"], "again").unwrap());
        assert_eq!(status(dir), "", "the index follows HEAD again");
    }

    #[test]
    fn a_detached_head_or_an_odd_name_falls_back_to_add_and_commit() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        ensure_repo(dir).unwrap();
        fs::create_dir_all(dir.join("apps/x")).unwrap();
        fs::write(dir.join("apps/x/a b.yaml"), "x\n").unwrap();
        assert_eq!(commit_import(dir, &["apps/x"], "m").unwrap(), None);
        assert!(commit(dir, &["apps/x"], "odd name").unwrap());
        assert_eq!(tree(dir), ".gitignore\napps/x/a b.yaml\n");
        ok(git(dir, &["checkout", "-q", "--detach"]).unwrap(), "detach").unwrap();
        fs::write(dir.join("apps/y"), "y\n").unwrap();
        assert_eq!(commit_import(dir, &["apps/y"], "m").unwrap(), None);
        assert!(commit(dir, &["apps/y"], "detached").unwrap());
        assert_eq!(status(dir), "");
        assert_eq!(commit_count(dir), 2);
    }
}
