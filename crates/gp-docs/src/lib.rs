//! Docs-as-code governance for a platform repository: `goldenpath docs
//! check|index|fix`.
//!
//! One pass reads every Markdown file and every folder `metadata.yaml`
//! once, merges folder defaults under each file's front matter (root
//! first; `id` and `title` never inherited; empty values never override),
//! validates the effective metadata against config-driven schemas
//! (`schemas/metadata/<type>.schema.yaml` and `enums.yaml`, or the
//! defaults shipped here), checks Markdown and emoji rules in parallel,
//! then the rules across files: duplicate ids, `relates_to` /
//! `supersedes` / `superseded_by` targets, numbered ADRs and changelog
//! entries, folder sidecars, the ADR index, and with a git range the
//! session-log gate. Every finding has a stable rule id ([`rules`]).
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use gp_core::InvalidInput;
use gp_core::diag::Diagnostic;
use serde::{Deserialize, Serialize};

pub mod baseline;
mod check;
pub mod config;
pub mod fixture;
pub mod frontmatter;
mod git;
pub mod glob;
mod index;
pub mod init;
pub mod rules;
pub mod schema;

pub use config::{Config, Level};

/// One finding.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Path relative to the root, `/`-separated.
    pub file: String,
    /// 1-based line; 0 for the file (or folder) as a whole.
    pub line: u32,
    /// 1-based column; 0 when there is no line.
    pub column: u32,
    /// Rule id.
    pub rule: String,
    /// Error or warning.
    pub level: Level,
    /// What is wrong.
    pub message: String,
}

/// The result of a check.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Report {
    /// Version of this JSON shape.
    pub schema_version: u32,
    /// Markdown files checked.
    pub documents: usize,
    /// Folder metadata files read.
    pub metadata_files: usize,
    /// Findings, by file and position (with a baseline: only those it
    /// does not accept).
    pub findings: Vec<Finding>,
    /// The baseline file used, relative to the root when inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// Findings the baseline accepted.
    #[serde(default)]
    pub baselined: usize,
    /// Baseline entries that no longer occur (`docs baseline` drops them).
    #[serde(default)]
    pub gone: Vec<baseline::Entry>,
}

impl Report {
    /// Findings at error level.
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.level == Level::Error)
            .count()
    }
    /// Findings at warning level.
    pub fn warnings(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.level == Level::Warning)
            .count()
    }
}

/// Why a check could not run (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    /// Configuration or schema files with positioned problems.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// Anything else that makes the input unusable.
    #[error("{0}")]
    Usage(String),
}

/// What to check beyond the files.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// A git range (`BASE..HEAD`) for the session-log gate.
    pub diff: Option<String>,
    /// Schema keywords that are not checked are errors, not warnings.
    pub strict: bool,
    /// Accepted findings, and the file they were read from (as shown).
    pub baseline: Option<(baseline::Baseline, String)>,
}

/// Default schemas for repositories without `schemas/metadata/`.
const DEFAULT_SCHEMAS: &[(&str, &str)] = &[
    (
        "documentation",
        include_str!("../defaults/documentation.schema.yaml"),
    ),
    ("adr", include_str!("../defaults/adr.schema.yaml")),
    (
        "changelog",
        include_str!("../defaults/changelog.schema.yaml"),
    ),
];
const DEFAULT_ENUMS: &str = include_str!("../defaults/enums.yaml");

/// The schemas of `root`: every `<type>.schema.yaml` and
/// `<type>.schema.json` under its schemas folder (subfolders too), or the
/// defaults when it has no such folder; and the keywords they carry that
/// are not checked, as findings (warnings, errors when `strict`).
pub fn load_schemas(
    root: &Path,
    config: &Config,
    strict: bool,
) -> Result<(schema::Schemas, Vec<Finding>), DocsError> {
    let dir = root.join(&config.schemas);
    let mut problems = Vec::new();
    let mut findings = Vec::new();
    let mut out = BTreeMap::new();
    if !dir.is_dir() {
        let enums = gp_core::yaml::parse(DEFAULT_ENUMS).ok().flatten();
        for (ty, text) in DEFAULT_SCHEMAS {
            match schema::parse(
                text,
                Path::new(&format!("(default) {ty}.schema.yaml")),
                enums.as_ref(),
            ) {
                Ok((s, _)) => {
                    out.insert(ty.to_string(), s);
                }
                Err(p) => problems.extend(p),
            }
        }
    } else {
        let enums_path = match &config.enums {
            Some(e) => root.join(e),
            None => dir.join("enums.yaml"),
        };
        let enums = schema::load_enums(&enums_path, &shown(root, &enums_path))
            .map_err(|d| InvalidInput(vec![d]))?;
        let mut files = Vec::new();
        schema_files(&dir, 0, &mut files)
            .map_err(|e| DocsError::Usage(format!("cannot read {}: {e}", dir.display())))?;
        files.sort();
        let level = if strict { Level::Error } else { Level::Warning };
        for (ty, f) in files {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| DocsError::Usage(format!("cannot read {}: {e}", f.display())))?;
            let rel = shown(root, &f);
            let rel_text = rel.to_string_lossy().replace('\\', "/");
            match schema::parse(&text, &rel, enums.as_ref()) {
                Ok((s, warnings)) => {
                    if config.level(rules::SCHEMA_KEYWORD) != Level::Off {
                        findings.extend(warnings.into_iter().map(|w| Finding {
                            file: rel_text.clone(),
                            line: w.pos.line,
                            column: w.pos.col,
                            rule: rules::SCHEMA_KEYWORD.into(),
                            level,
                            message: w.message,
                        }));
                    }
                    match out.entry(ty) {
                        std::collections::btree_map::Entry::Occupied(e) => findings.push(Finding {
                            file: rel_text.clone(),
                            line: 0,
                            column: 0,
                            rule: rules::SCHEMA_KEYWORD.into(),
                            level,
                            message: format!(
                                "a second schema for type `{}`: the first one found is used",
                                e.key()
                            ),
                        }),
                        std::collections::btree_map::Entry::Vacant(e) => {
                            e.insert(s);
                        }
                    }
                }
                Err(p) => problems.extend(p),
            }
        }
    }
    if problems.is_empty() {
        Ok((out, findings))
    } else {
        Err(InvalidInput(problems).into())
    }
}

/// `(type, path)` of the schema files under `dir`, two folder levels deep.
fn schema_files(dir: &Path, depth: usize, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let ft = entry.file_type()?;
        if ft.is_dir() && depth < 2 {
            schema_files(&path, depth + 1, out)?;
            continue;
        }
        if !ft.is_file() {
            continue;
        }
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let ty = name
            .strip_suffix(".schema.yaml")
            .or_else(|| name.strip_suffix(".schema.yml"))
            .or_else(|| name.strip_suffix(".schema.json"));
        if let Some(ty) = ty {
            out.push((ty.to_string(), path));
        }
    }
    Ok(())
}

fn shown(root: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(root).unwrap_or(p).to_path_buf()
}

/// Everything read from the repository, and the per-file results.
struct Pass {
    report: Report,
    facts: Vec<check::DocFacts>,
    /// The documents, each with its text only when `pass` was asked to keep
    /// them.
    docs: Vec<check::Doc>,
    /// The fields a document of type `index` must carry.
    index_required: Vec<String>,
}

/// Reads and checks the repository. `texts`: keep each document's text in
/// [`Pass::docs`] (only `fix` needs them; dropped as soon as a document is
/// checked, a check's memory stays that of a few documents, not of all).
fn pass(root: &Path, config: &Config, strict: bool, texts: bool) -> Result<Pass, DocsError> {
    if !root.is_dir() {
        return Err(DocsError::Usage(format!(
            "{} is not a folder",
            root.display()
        )));
    }
    let (schemas, mut findings) = load_schemas(root, config, strict)?;
    let tree = check::walk(root, config)
        .map_err(|e| DocsError::Usage(format!("cannot read {}: {e}", root.display())))?;
    // Folder defaults, parsed once.
    let mut folders: HashMap<String, gp_core::yaml::Node> = HashMap::new();
    for path in &tree.metadata {
        let r = check::rel(root, path);
        let text = check::read_text(path);
        match frontmatter::parse_metadata(&text) {
            Ok(Some(n)) => {
                folders.insert(r, n);
            }
            Ok(None) => {}
            Err(e) => {
                let (pos, message) = match e {
                    frontmatter::FrontMatterError::Yaml(m, p) => {
                        (Some(p), format!("invalid YAML: {m}"))
                    }
                    frontmatter::FrontMatterError::NotAMapping(p) => (
                        Some(p),
                        "a folder's metadata.yaml must be a mapping".to_string(),
                    ),
                    _ => (None, "unreadable".to_string()),
                };
                if config.level(rules::BAD_FRONT_MATTER) != Level::Off {
                    findings.push(Finding {
                        file: r,
                        line: pos.map_or(0, |p| p.line),
                        column: pos.map_or(0, |p| p.col),
                        rule: rules::BAD_FRONT_MATTER.into(),
                        level: config.level(rules::BAD_FRONT_MATTER),
                        message,
                    });
                }
            }
        }
    }
    // Documents, read and checked in parallel.
    let ctx = check::Context {
        config,
        folders: &folders,
        schemas: &schemas,
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let results = check::in_chunks(&tree.markdown, threads, |p| {
        let mut doc = check::Doc {
            rel: check::rel(root, p),
            text: check::read_text(p),
        };
        let (f, facts) = ctx.check_doc(&doc);
        if !texts {
            doc.text = String::new();
        }
        (doc, f, facts)
    });
    let mut facts = Vec::with_capacity(results.len());
    let mut docs = Vec::with_capacity(results.len());
    for (doc, f, fact) in results {
        findings.extend(f);
        facts.push(fact);
        docs.push(doc);
    }
    ctx.cross(&facts, &mut findings);
    check::sidecars(&ctx, &tree.dirs, &mut findings);
    Ok(Pass {
        report: Report {
            schema_version: 1,
            documents: docs.len(),
            metadata_files: tree.metadata.len(),
            findings,
            baseline: None,
            baselined: 0,
            gone: Vec::new(),
        },
        facts,
        docs,
        index_required: ctx.index_fields().to_vec(),
    })
}

/// Checks the repository at `root`. Never writes.
pub fn check(root: &Path, config: &Config, options: &Options) -> Result<Report, DocsError> {
    let mut p = pass(root, config, options.strict, false)?;
    if let Some(index) = &config.adr.index
        && config.level(rules::INDEX_STALE) != Level::Off
    {
        let existing = check::read_named(&root.join(index))
            .map_err(|e| DocsError::Usage(format!("cannot read {index}: {e}")))?;
        let table = index::table(&config.adr, &p.facts);
        let has_adrs = table.lines().count() > 2;
        let stale = has_adrs
            && index::render(existing.as_deref(), &table, &p.new_index_fields())
                .map_or(true, |fresh| existing.as_deref() != Some(fresh.as_str()));
        if stale {
            p.report.findings.push(Finding {
                file: index.clone(),
                line: 0,
                column: 0,
                rule: rules::INDEX_STALE.into(),
                level: config.level(rules::INDEX_STALE),
                message: "the ADR index is out of date: run goldenpath docs index".into(),
            });
        }
    }
    if let Some(range) = &options.diff {
        let folders = HashMap::new();
        let schemas = BTreeMap::new();
        let ctx = check::Context {
            config,
            folders: &folders,
            schemas: &schemas,
        };
        git::session_gate(root, &ctx, range, &mut p.report.findings)?;
    }
    p.report.findings.sort();
    p.report.findings.dedup();
    if let Some((b, shown)) = &options.baseline {
        let (fresh, accepted, gone) = b.apply(std::mem::take(&mut p.report.findings));
        p.report.findings = fresh;
        p.report.baselined = accepted;
        p.report.gone = gone;
        p.report.baseline = Some(shown.clone());
    }
    Ok(p.report)
}

/// The ADR index: whether it is stale, and (when `write`) rewrites it.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndexOutcome {
    /// The index file, relative to the root.
    pub file: String,
    /// Whether it differed from the ADRs.
    pub stale: bool,
    /// Whether it was written.
    pub written: bool,
    /// ADRs listed.
    pub adrs: usize,
}

/// Regenerates the ADR index (or, with `write: false`, only compares).
pub fn index(root: &Path, config: &Config, write: bool) -> Result<IndexOutcome, DocsError> {
    let Some(file) = config.adr.index.clone() else {
        return Err(DocsError::Usage(
            "no ADR index is configured (adr.index in goldenpath-docs.yaml)".into(),
        ));
    };
    let p = pass(root, config, false, false)?;
    let table = index::table(&config.adr, &p.facts);
    let adrs = table.lines().count().saturating_sub(2);
    let path = root.join(&file);
    let existing = check::read_named(&path)
        .map_err(|e| DocsError::Usage(format!("cannot read {file}: {e}")))?;
    if existing.is_none() && adrs == 0 {
        // Nothing to index: no file is created (an empty index would be a
        // document to maintain, and to check).
        return Ok(IndexOutcome {
            file,
            stale: false,
            written: false,
            adrs,
        });
    }
    let fresh = index::render(existing.as_deref(), &table, &p.new_index_fields())
        .map_err(|field| {
            DocsError::Usage(format!(
                "cannot create {file}: the index type requires `{field}` and no document has a value to copy; create {file} with front matter (id, title, type: index, {field}) and run again"
            ))
        })?;
    let stale = existing.as_deref() != Some(fresh.as_str());
    if stale && write {
        write_atomically(&path, &fresh)?;
    }
    Ok(IndexOutcome {
        file,
        stale,
        written: stale && write,
        adrs,
    })
}

impl Pass {
    /// The front matter of a new index file: every field its type requires,
    /// with the value most ADRs (else most documents) carry; `Err` names a
    /// required field no document has.
    fn new_index_fields(&self) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        for field in &self.index_required {
            if matches!(field.as_str(), "id" | "title" | "type") {
                continue;
            }
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for f in &self.facts {
                if let Some(v) = f.scalars.get(field) {
                    *counts.entry(v.as_str()).or_default() += 1;
                }
            }
            let best = counts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(v, _)| v.to_string())
                .ok_or_else(|| field.clone())?;
            out.push((field.clone(), best));
        }
        Ok(out)
    }
}

/// A file `fix` changed, and what it did.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Fixed {
    /// The file.
    pub file: String,
    /// What was done.
    pub what: String,
}

/// Applies the safe fixes: removes emoji the policy disallows, and
/// regenerates the ADR index. Returns each file changed.
pub fn fix(root: &Path, config: &Config) -> Result<Vec<Fixed>, DocsError> {
    let p = pass(root, config, false, true)?;
    let mut changed = Vec::new();
    if config.level(rules::EMOJI) != Level::Off {
        let globs = config.globs();
        for doc in &p.docs {
            if globs.emoji_exempt.under(&doc.rel) {
                continue;
            }
            let forbidden = globs.emoji_forbidden.under(&doc.rel);
            let bad: Vec<check::Emoji> = check::find_emoji(&doc.text)
                .into_iter()
                .filter(|e| forbidden || !check::allowed(&config.emoji.allowed, &e.text))
                .collect();
            if bad.is_empty() {
                continue;
            }
            let mut text = doc.text.clone();
            for e in bad.iter().rev() {
                let mut end = e.byte + e.len;
                let before_space = e.byte == 0 || text[..e.byte].ends_with([' ', '\n']);
                if before_space && text[end..].starts_with(' ') {
                    end += 1;
                }
                text.replace_range(e.byte..end, "");
            }
            write_atomically(&root.join(&doc.rel), &text)?;
            changed.push(Fixed {
                file: doc.rel.clone(),
                what: format!("removed {} emoji", bad.len()),
            });
        }
    }
    if config.adr.index.is_some() {
        let outcome = index(root, config, true)?;
        if outcome.written {
            changed.push(Fixed {
                file: outcome.file,
                what: format!("regenerated the ADR index ({} ADRs)", outcome.adrs),
            });
        }
    }
    Ok(changed)
}

fn write_atomically(path: &Path, text: &str) -> Result<(), DocsError> {
    let tmp = path.with_extension("goldenpath-tmp");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| DocsError::Usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| DocsError::Usage(format!("cannot write {}: {e}", path.display())))
}

fn annotations(report: &Report) -> Vec<gp_core::annotate::Annotation> {
    report
        .findings
        .iter()
        .map(|f| gp_core::annotate::Annotation {
            error: matches!(f.level, Level::Error),
            file: f.file.clone(),
            line: f.line,
            column: if f.line > 0 { f.column.max(1) } else { 0 },
            rule: f.rule.clone(),
            message: f.message.clone(),
        })
        .collect()
}

/// The report as SARIF 2.1.0.
pub fn sarif(report: &Report) -> serde_json::Value {
    let rules: Vec<gp_core::annotate::Rule> = rules::ALL
        .iter()
        .map(|r| gp_core::annotate::Rule {
            id: r.id.into(),
            summary: r.summary.into(),
        })
        .collect();
    gp_core::annotate::sarif("goldenpath", &rules, &annotations(report))
}

/// The report as GitHub Actions workflow commands, one per finding:
/// `::error file=F,line=L,col=C,title=RULE::message` (`::warning` for
/// warnings), escaped as the runner reads them.
pub fn github(report: &Report) -> String {
    gp_core::annotate::github(&annotations(report))
}

/// A Markdown summary of the report, for `$GITHUB_STEP_SUMMARY`.
pub fn summary_markdown(report: &Report) -> String {
    fn cell(s: &str) -> String {
        s.replace('|', "\\|").replace(['\n', '\r'], " ")
    }
    let mut out = String::from("## goldenpath docs check\n\n");
    out.push_str(&format!(
        "{} document(s), {} folder metadata file(s): **{} error(s)**, {} warning(s)",
        report.documents,
        report.metadata_files,
        report.errors(),
        report.warnings()
    ));
    if let Some(b) = &report.baseline {
        out.push_str(&format!(
            "; {} accepted by the baseline `{}`, {} baseline entr{} no longer found",
            report.baselined,
            cell(b),
            report.gone.len(),
            if report.gone.len() == 1 { "y" } else { "ies" }
        ));
    }
    out.push_str("\n\n");
    if !report.findings.is_empty() {
        out.push_str("| file | line | rule | level | message |\n|---|---|---|---|---|\n");
        for f in report.findings.iter().take(500) {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                cell(&f.file),
                f.line,
                f.rule,
                match f.level {
                    Level::Error => "error",
                    _ => "warning",
                },
                cell(&f.message)
            ));
        }
        if report.findings.len() > 500 {
            out.push_str(&format!(
                "\n{} more not shown.\n",
                report.findings.len() - 500
            ));
        }
    }
    out
}

/// A positioned problem in a configuration file, for callers that report
/// their own.
pub fn diagnostic(file: &Path, message: &str) -> Diagnostic {
    Diagnostic::file(file, message)
}
