//! Reading what Terraform says: its diagnostics (JSON and text), state
//! locks, and what a root declares.

use super::*;

/// Removes ANSI colour sequences (some commands take no `-no-color`).
pub(crate) fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What a lock holder told Terraform.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockInfo {
    /// Lock id (for force-unlock).
    pub id: String,
    /// Who holds it.
    pub who: String,
    /// What they are doing.
    pub operation: String,
    /// Since when.
    pub created: String,
    /// The state it locks (`bucket/key`; for DynamoDB, the item's
    /// `LockID`).
    pub path: String,
}

/// When Terraform could not release the state lock it took: the error it
/// gives (the line after `Error message:`, or the heading's line).
pub fn release_failure(text: &str) -> Option<String> {
    let at = text.find("Error releasing the state lock")?;
    let rest = &text[at..];
    let message = rest
        .lines()
        .find_map(|l| l.trim().strip_prefix("Error message:").map(str::trim))
        .filter(|m| !m.is_empty())
        .unwrap_or("Error releasing the state lock");
    Some(message.to_string())
}

/// Whether a lock Terraform reports as held is the one this very run took
/// and lost the answer to: the backend wrote it, the answer did not come
/// back, and the AWS SDK's retry of the same conditional write found it
/// there. Terraform then reports its own lock as someone else's and never
/// releases it. It is this run's when it was written on this host (`Who`
/// ends in `@HOST`, as Terraform writes it) at or after the moment this
/// run started and no later than now; another run on this host writing
/// the same state in that window is what goldenpath's deployment lease
/// rules out.
pub fn own_lost_lock(
    lock: &LockInfo,
    host: &str,
    started: std::time::SystemTime,
    now: std::time::SystemTime,
) -> bool {
    let on_this_host = lock
        .who
        .rsplit_once('@')
        .is_some_and(|(_, h)| !h.is_empty() && h == host);
    let Some(created) = lock_created(&lock.created) else {
        return false;
    };
    let started: chrono::DateTime<chrono::Utc> = started.into();
    let now: chrono::DateTime<chrono::Utc> = now.into();
    // Its id goes to `force-unlock` as an argument: Terraform's are UUIDs.
    let id_ok = !lock.id.starts_with('-')
        && !lock.id.is_empty()
        && lock.id.len() <= 64
        && lock.id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    on_this_host && id_ok && created >= started && created <= now
}

/// Terraform's `Created:` (`2026-12-06 17:38:55.288303091 +0000 UTC`).
fn lock_created(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = text.trim();
    let text = text.strip_suffix(" UTC").unwrap_or(text);
    chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f %z")
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// This host's name as Terraform puts it in a lock's `Who`
/// (`/proc/sys/kernel/hostname`, what Go's `os.Hostname` reads).
pub(crate) fn this_host() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// Parses the `Lock Info:` block of Terraform's lock error (`Error
/// acquiring the state lock`, or `failed to lock s3 state` when a new
/// workspace is made).
pub fn parse_lock_info(text: &str) -> Option<LockInfo> {
    if !text.contains("state lock") && !text.contains("Lock Info:") {
        return None;
    }
    let mut info = LockInfo::default();
    for line in text.lines() {
        let line = line.trim_start_matches(['│', ' ', '\t']).trim();
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim().to_string();
            match k.trim() {
                "ID" => info.id = v,
                "Who" => info.who = v,
                "Operation" => info.operation = v,
                "Created" => info.created = v,
                "Path" => info.path = v,
                _ => {}
            }
        }
    }
    (!info.id.is_empty()).then_some(info)
}

/// Errors from `-json` output, as `file:line:col: summary: detail`.
pub(crate) fn json_diagnostics(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("@level").and_then(|l| l.as_str()) == Some("error"))
        .map(|v| {
            let d = v.get("diagnostic").cloned().unwrap_or_default();
            let summary = d
                .get("summary")
                .and_then(|s| s.as_str())
                .unwrap_or_else(|| {
                    v.get("@message")
                        .and_then(|m| m.as_str())
                        .unwrap_or_default()
                });
            let detail = d.get("detail").and_then(|s| s.as_str()).unwrap_or_default();
            let at = d.get("range").map(|r| {
                format!(
                    "{}:{}:{}: ",
                    r.get("filename")
                        .and_then(|f| f.as_str())
                        .unwrap_or_default(),
                    r.pointer("/start/line")
                        .and_then(|x| x.as_u64())
                        .unwrap_or(0),
                    r.pointer("/start/column")
                        .and_then(|x| x.as_u64())
                        .unwrap_or(0)
                )
            });
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            };
            format!("{}{summary}{detail}", at.unwrap_or_default())
        })
        .collect()
}

/// Errors from human output (`init`), as `file:line: summary`.
pub(crate) fn text_diagnostics(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim_start_matches(['│', ' ', '╷', '╵']).trim_end())
        .collect();
    for (i, l) in lines.iter().enumerate() {
        if let Some(summary) = l.strip_prefix("Error: ") {
            let at = lines[i..]
                .iter()
                .take(6)
                .find_map(|x| {
                    let rest = x.trim().strip_prefix("on ")?;
                    let (file, line) = rest.split_once(" line ")?;
                    let line = line.split(|c: char| !c.is_ascii_digit()).next()?;
                    Some(format!("{file}:{line}: "))
                })
                .unwrap_or_default();
            out.push(format!("{at}{summary}"));
        }
    }
    out
}

/// Variables and outputs a root declares, read from its `.tf` and
/// `.tf.json` files.
pub fn declared(root: &Path) -> Option<(BTreeSet<String>, BTreeSet<String>)> {
    let mut vars = BTreeSet::new();
    let mut outputs = BTreeSet::new();
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if name.ends_with(".tf.json") {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                for (key, set) in [("variable", &mut vars), ("output", &mut outputs)] {
                    if let Some(obj) = v.get(key).and_then(|o| o.as_object()) {
                        set.extend(obj.keys().cloned());
                    }
                }
            }
        } else if name.ends_with(".tf") {
            for line in text.lines() {
                let t = line.trim_start();
                for (key, set) in [("variable", &mut vars), ("output", &mut outputs)] {
                    if let Some(rest) = t.strip_prefix(key)
                        && rest.starts_with([' ', '\t', '"'])
                        && let Some(q) = rest.trim_start().strip_prefix('"')
                        && let Some(end) = q.find('"')
                    {
                        set.insert(q[..end].to_string());
                    }
                }
            }
        }
    }
    Some((vars, outputs))
}

pub(crate) fn declares_backend(root: &Path) -> bool {
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x == "tf" || x == "json")
        })
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .any(|t| t.contains("backend \"") || t.contains("\"backend\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_this_runs_only_when_written_on_this_host_while_it_ran() {
        use std::time::{Duration, UNIX_EPOCH};
        // 2026-12-06 17:38:55.288303091 UTC
        let at = UNIX_EPOCH + Duration::new(1_796_578_735, 288_303_091);
        let lock = |who: &str, created: &str| LockInfo {
            id: "5525fd2c".into(),
            who: who.into(),
            operation: "OperationTypePlan".into(),
            created: created.into(),
            path: "b/k".into(),
        };
        let written = "2026-12-06 17:38:55.288303091 +0000 UTC";
        let ours = lock("root@vm", written);
        let second = Duration::from_secs(1);
        assert!(own_lost_lock(&ours, "vm", at - second, at + second));
        // Its bounds are included.
        assert!(own_lost_lock(&ours, "vm", at, at));
        // Written before this run started: another's.
        assert!(!own_lost_lock(
            &ours,
            "vm",
            at + Duration::from_nanos(1),
            at + second
        ));
        // Dated after now (another host's clock ahead): not ours.
        assert!(!own_lost_lock(
            &ours,
            "vm",
            at - second,
            at - Duration::from_nanos(1)
        ));
        // Another host, or no host, or a host that only ends like this one.
        assert!(!own_lost_lock(
            &lock("root@ci-2", written),
            "vm",
            at - second,
            at + second
        ));
        assert!(!own_lost_lock(
            &lock("root", written),
            "vm",
            at - second,
            at + second
        ));
        assert!(!own_lost_lock(
            &lock("root@", written),
            "",
            at - second,
            at + second
        ));
        assert!(!own_lost_lock(
            &lock("root@avm", written),
            "vm",
            at - second,
            at + second
        ));
        // An id that is no UUID is never passed on.
        for id in ["-chdir=/", "", "5525fd2c x", "g525fd2c", &"a".repeat(65)] {
            let l = LockInfo {
                id: id.to_string(),
                ..ours.clone()
            };
            assert!(!own_lost_lock(&l, "vm", at - second, at + second), "{id:?}");
        }
        // A time it cannot read is never its own.
        assert!(!own_lost_lock(
            &lock("root@vm", "yesterday"),
            "vm",
            at - second,
            at + second
        ));
        assert!(!own_lost_lock(
            &lock("root@vm", ""),
            "vm",
            at - second,
            at + second
        ));
        // Another zone's offset is read as such.
        let east = lock("root@vm", "2026-12-06 18:38:55.288303091 +0100 CET");
        assert!(
            !own_lost_lock(&east, "vm", at - second, at + second),
            "an unknown suffix"
        );
        let east = lock("root@vm", "2026-12-06 18:38:55.288303091 +0100");
        assert!(own_lost_lock(&east, "vm", at - second, at + second));
    }

    #[test]
    fn this_host_is_the_name_the_kernel_gives_as_terraform_reads_it() {
        let uname = std::process::Command::new("uname")
            .arg("-n")
            .output()
            .unwrap();
        let name = String::from_utf8(uname.stdout).unwrap().trim().to_string();
        assert!(!name.is_empty());
        assert_eq!(this_host(), Some(name));
    }

    #[test]
    fn the_lock_of_a_new_workspace_is_read_too() {
        let text = "Error: failed to lock s3 state: operation error DynamoDB: PutItem, https response error StatusCode: 400, ConditionalCheckFailedException\nLock Info:\n  ID:        ab-12\n  Path:      b/env:/w/k\n  Operation: init\n  Who:       root@vm\n  Version:   1.11.4\n  Created:   2026-12-06 17:37:19.384349221 +0000 UTC\n  Info:\n";
        let l = parse_lock_info(text).unwrap();
        assert_eq!(
            (l.id.as_str(), l.operation.as_str(), l.who.as_str()),
            ("ab-12", "init", "root@vm")
        );
        assert_eq!(l.created, "2026-12-06 17:37:19.384349221 +0000 UTC");
        assert_eq!(l.path, "b/env:/w/k");
        assert_eq!(parse_lock_info("ID: x"), None);
    }

    #[test]
    fn a_lock_it_could_not_release_is_told_apart_from_a_lock_held() {
        let text = "Error: Error releasing the state lock\n\nError message: failed to retrieve lock info: operation error DynamoDB: DeleteItem, AccessDeniedException\n\nLock Info:\n  ID: 1\n";
        assert_eq!(
            release_failure(text).unwrap(),
            "failed to retrieve lock info: operation error DynamoDB: DeleteItem, AccessDeniedException"
        );
        assert_eq!(
            release_failure("Error acquiring the state lock\nLock Info:\n"),
            None
        );
        assert_eq!(
            release_failure("Error releasing the state lock").unwrap(),
            "Error releasing the state lock"
        );
    }
}
