//! `goldenpath docs init`: a `goldenpath-docs.yaml` made from what a
//! repository already has: its schema and enum files, its ADR and changelog
//! folders, the emoji already in use where emoji are allowed, the folders
//! to watch for the session-log gate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::DocsError;
use crate::check::find_emoji;
use crate::config::{Config, FILE};

/// What `init` chose, one line per decision, for the user to read.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Choice {
    /// The configuration key.
    pub key: String,
    /// What was chosen.
    pub value: String,
    /// Why.
    pub why: String,
}

/// The outcome of `init`.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Initialised {
    /// The file written, relative to the root.
    pub file: String,
    /// What was chosen, and why.
    pub choices: Vec<Choice>,
}

/// Whether a folder's name says emoji do not belong in it: governance,
/// security, schemas, ADRs (a numeric prefix such as `10-` ignored).
fn no_emoji_folder(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default().to_lowercase();
    let name =
        name.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '_' || c == '.');
    name.contains("governance")
        || name.contains("security")
        || matches!(name, "schemas" | "schema" | "adrs" | "adr" | "decisions")
}

/// Writes `goldenpath-docs.yaml` at `root` (refuses to overwrite one
/// unless `force`).
pub fn init(root: &Path, force: bool) -> Result<Initialised, DocsError> {
    let target = root.join(FILE);
    if target.exists() && !force {
        return Err(DocsError::Usage(format!(
            "{FILE} already exists at {}: keep it, or pass --force to replace it",
            root.display()
        )));
    }
    let files = list(root)?;
    let defaults = Config::default();
    let mut choices = Vec::new();
    let mut choose = |key: &str, value: String, why: String| {
        choices.push(Choice {
            key: key.into(),
            value,
            why,
        });
    };
    let dirs_of = |pred: &dyn Fn(&str) -> bool| -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for f in &files {
            let (dir, name) = split(f);
            if pred(name) {
                *m.entry(dir.to_string()).or_default() += 1;
            }
        }
        m
    };

    // Schemas: the folder with the most schema files, preferring one about
    // metadata and one with its enums beside it.
    let is_schema = |n: &str| {
        n.ends_with(".schema.yaml") || n.ends_with(".schema.yml") || n.ends_with(".schema.json")
    };
    let is_enums = |n: &str| matches!(n, "enums.yaml" | "enums.yml");
    let enum_dirs = dirs_of(&is_enums);
    let schema_dir = dirs_of(&is_schema)
        .into_iter()
        .max_by_key(|(d, n)| {
            (
                d.contains("metadata") as usize * 5 + enum_dirs.contains_key(d) as usize * 3 + n,
                std::cmp::Reverse(d.clone()),
            )
        })
        .map(|(d, _)| d);
    let mut enums = None;
    match &schema_dir {
        Some(d) => {
            choose(
                "schemas",
                d.clone(),
                "the folder holding the most schema files".into(),
            );
            if !enum_dirs.contains_key(d)
                && let Some(e) = files.iter().find(|f| is_enums(split(f).1))
            {
                enums = Some(e.clone());
                choose(
                    "enums",
                    e.clone(),
                    "the enums file of the repository".into(),
                );
            }
        }
        None => choose(
            "schemas",
            defaults.schemas.clone(),
            "no schema files found: the built-in documentation, adr and changelog schemas apply"
                .into(),
        ),
    }

    // Numbered folders.
    let numbered = regex::Regex::new(r"^([A-Za-z]+)-([0-9]{4})-.+\.md$")
        .map_err(|e| DocsError::Usage(e.to_string()))?;
    let mut by_prefix: BTreeMap<(String, String), usize> = BTreeMap::new();
    for f in &files {
        let (dir, name) = split(f);
        if let Some(c) = numbered.captures(name) {
            *by_prefix
                .entry((dir.to_string(), c[1].to_string()))
                .or_default() += 1;
        }
    }
    let best = |want: &dyn Fn(&str, &str) -> bool| {
        by_prefix
            .iter()
            .filter(|((d, p), _)| want(d, p))
            .max_by_key(|(_, n)| **n)
            .map(|((d, p), _)| (d.clone(), p.clone()))
    };
    let adr = best(&|d, p| p.eq_ignore_ascii_case("adr") || d.to_lowercase().contains("adr"));
    let changelog =
        best(&|d, p| p.eq_ignore_ascii_case("cl") || d.to_lowercase().contains("changelog"));
    let (adr_dir, adr_prefix, adr_index) = match &adr {
        Some((d, p)) => {
            let index = ["README.md", "index.md"]
                .iter()
                .map(|n| {
                    if d.is_empty() {
                        n.to_string()
                    } else {
                        format!("{d}/{n}")
                    }
                })
                .find(|f| files.contains(f));
            choose(
                "adr",
                format!("{d} ({p}-NNNN-slug.md)"),
                match &index {
                    Some(i) => format!("the folder with the most numbered ADRs; index {i}"),
                    None => "the folder with the most numbered ADRs; it has no index file, so none is kept".into(),
                },
            );
            (d.clone(), p.clone(), index)
        }
        None => {
            choose(
                "adr",
                defaults.adr.dir.clone(),
                "no numbered ADRs found: the default folder".into(),
            );
            (
                defaults.adr.dir.clone(),
                defaults.adr.prefix.clone(),
                defaults.adr.index.clone(),
            )
        }
    };
    let (cl_dir, cl_prefix) = match &changelog {
        Some((d, p)) => {
            choose(
                "changelog",
                format!("{d} ({p}-NNNN-slug.md)"),
                "the folder with the most numbered changelog entries".into(),
            );
            (d.clone(), p.clone())
        }
        None => {
            choose(
                "changelog",
                defaults.changelog.dir.clone(),
                "no numbered changelog entries found: the default folder".into(),
            );
            (
                defaults.changelog.dir.clone(),
                defaults.changelog.prefix.clone(),
            )
        }
    };

    // Emoji: none in the ADR, schema, governance and security folders; the
    // allowed set is what is already used everywhere else.
    let all_dirs: BTreeSet<String> = files
        .iter()
        .flat_map(|f| {
            let parts: Vec<&str> = f.split('/').collect();
            (1..parts.len())
                .map(|n| parts[..n].join("/"))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut forbidden: Vec<String> = all_dirs
        .iter()
        .filter(|d| no_emoji_folder(d) || **d == adr_dir)
        .filter(|d| {
            // Only the outermost such folder.
            !all_dirs
                .iter()
                .any(|o| o != *d && d.starts_with(&format!("{o}/")) && no_emoji_folder(o))
        })
        .cloned()
        .collect();
    if let Some(d) = &schema_dir
        && !d.is_empty()
        && !forbidden
            .iter()
            .any(|f| d == f || d.starts_with(&format!("{f}/")))
    {
        forbidden.push(d.clone());
    }
    forbidden.sort();
    forbidden.dedup();
    let forbidden_set = crate::glob::Set::new(&forbidden);
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    for f in files.iter().filter(|f| f.ends_with(".md")) {
        if forbidden_set.under(f) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(f)) else {
            continue;
        };
        for e in find_emoji(&text) {
            *used.entry(e.text).or_default() += 1;
        }
    }
    let mut allowed: Vec<(String, usize)> = used.into_iter().collect();
    allowed.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let allowed: Vec<String> = allowed.into_iter().map(|(e, _)| e).collect();
    choose(
        "emoji.forbiddenIn",
        if forbidden.is_empty() {
            "(none)".into()
        } else {
            forbidden.join(", ")
        },
        "ADR, schema, governance and security folders carry no emoji".into(),
    );
    choose(
        "emoji.allowed",
        format!("{} emoji", allowed.len()),
        "the emoji already used outside those folders".into(),
    );

    // The session-log gate: the default watched folders the repository has.
    let mut watch: Vec<String> = Vec::new();
    for w in &defaults.session_log.watch {
        let top = w.trim_end_matches("/**");
        let top = if top == "docs/adrs" {
            adr_dir.as_str()
        } else {
            top
        };
        if all_dirs.contains(top) {
            watch.push(format!("{top}/**"));
        }
    }
    if !adr_dir.is_empty()
        && all_dirs.contains(&adr_dir)
        && !watch.contains(&format!("{adr_dir}/**"))
    {
        watch.push(format!("{adr_dir}/**"));
    }
    let logs_dir = all_dirs.iter().find(|d| {
        let last = d.rsplit('/').next().unwrap_or_default();
        matches!(
            last,
            "session_capture" | "session-capture" | "session_logs" | "session-logs" | "sessions"
        )
    });
    let logs = match logs_dir {
        Some(d) => format!("{d}/**/*.md"),
        None => defaults.session_log.logs.clone(),
    };
    choose(
        "sessionLog.watch",
        if watch.is_empty() {
            "(none)".into()
        } else {
            watch.join(", ")
        },
        "the default watched folders this repository has".into(),
    );
    choose(
        "sessionLog.logs",
        logs.clone(),
        match logs_dir {
            Some(_) => "the session-log folder found".into(),
            None => "no session-log folder found: the default".into(),
        },
    );

    let mut y = String::new();
    y.push_str("# goldenpath docs configuration, written by `goldenpath docs init`\n");
    y.push_str("# from what this repository had. Review it, then record today's findings\n");
    y.push_str("# with `goldenpath docs baseline` so `docs check` fails only on new ones.\n");
    y.push_str(&format!(
        "schemas: {}\n",
        q(schema_dir.as_deref().unwrap_or(&defaults.schemas))
    ));
    if let Some(e) = &enums {
        y.push_str(&format!("enums: {}\n", q(e)));
    }
    y.push_str("adr:\n");
    y.push_str(&format!(
        "  dir: {}\n  prefix: {}\n",
        q(&adr_dir),
        q(&adr_prefix)
    ));
    match &adr_index {
        Some(i) => y.push_str(&format!("  index: {}\n", q(i))),
        None => y.push_str("  index: null\n"),
    }
    y.push_str(&format!(
        "changelog:\n  dir: {}\n  prefix: {}\n",
        q(&cl_dir),
        q(&cl_prefix)
    ));
    y.push_str("emoji:\n");
    y.push_str(&format!("  allowed: {}\n", list_yaml(&allowed)));
    y.push_str(&format!("  forbiddenIn: {}\n", list_yaml(&forbidden)));
    y.push_str("sessionLog:\n");
    y.push_str(&format!("  watch: {}\n", list_yaml(&watch)));
    y.push_str(&format!("  logs: {}\n", q(&logs)));
    // What we wrote must load.
    let tmp = root.join(format!("{FILE}.goldenpath-tmp"));
    std::fs::write(&tmp, &y)
        .map_err(|e| DocsError::Usage(format!("cannot write {}: {e}", tmp.display())))?;
    if let Err(e) = Config::load(root, Some(&tmp)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(DocsError::Invalid(e));
    }
    std::fs::rename(&tmp, &target)
        .map_err(|e| DocsError::Usage(format!("cannot write {}: {e}", target.display())))?;
    Ok(Initialised {
        file: FILE.into(),
        choices,
    })
}

/// Every file under `root` git would see, relative and `/`-separated.
fn list(root: &Path) -> Result<Vec<String>, DocsError> {
    let defaults = Config::default();
    let mut out = Vec::new();
    for entry in ignore::WalkBuilder::new(root)
        .hidden(false)
        .ignore(false)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|e| e.file_name() != ".git")
        .build()
    {
        let entry =
            entry.map_err(|e| DocsError::Usage(format!("cannot read {}: {e}", root.display())))?;
        if entry.file_type().is_some_and(|t| t.is_file()) {
            let rel = crate::check::rel(root, entry.path());
            if !defaults.excluded(&rel) {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// A YAML double-quoted scalar.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn list_yaml(items: &[String]) -> String {
    format!(
        "[{}]",
        items.iter().map(|i| q(i)).collect::<Vec<_>>().join(", ")
    )
}
