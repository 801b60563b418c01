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

/// Parses the `Lock Info:` block of Terraform's lock error.
pub fn parse_lock_info(text: &str) -> Option<LockInfo> {
    if !text.contains("state lock") {
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
