//! One pass over a repository: read every Markdown file and folder
//! `metadata.yaml` once, check files in parallel, then the cross-file rules.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use gp_core::yaml::{Node, NodeKind, Pos, Style};

use crate::config::{Config, Level, NumberedDocs};
use crate::frontmatter::{self, FrontMatterError};
use crate::schema::{Issue, Schema, Schemas};
use crate::{Finding, rules};

mod markdown;
pub(crate) use markdown::*;

/// Where an effective value came from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Origin<'a> {
    /// The document's own front matter.
    Own,
    /// A folder's `metadata.yaml` (relative path).
    Folder(&'a str),
}

/// A document's effective metadata: folder defaults under its own, each
/// field the key and value where they were written.
#[derive(Clone, Debug, Default)]
pub(crate) struct Effective<'a> {
    pub fields: Vec<(&'a str, &'a Node, Origin<'a>)>,
}

impl<'a> Effective<'a> {
    pub fn get(&self, key: &str) -> Option<&(&'a str, &'a Node, Origin<'a>)> {
        self.fields.iter().find(|(k, _, _)| *k == key)
    }
    pub fn text(&self, key: &str) -> Option<&'a str> {
        self.get(key).and_then(|(_, n, _)| n.as_str())
    }
    fn set(&mut self, key: &'a str, value: &'a Node, origin: Origin<'a>) {
        match self.fields.iter_mut().find(|(k, _, _)| *k == key) {
            Some(slot) => {
                slot.1 = value;
                slot.2 = origin;
            }
            None => self.fields.push((key, value, origin)),
        }
    }
}

/// Null, or an empty string, list or map: does not override.
fn is_empty(n: &Node) -> bool {
    match &n.kind {
        NodeKind::Scalar(s, Style::Plain) => n.is_null() || s.is_empty(),
        NodeKind::Scalar(s, _) => s.is_empty(),
        NodeKind::Seq(v) => v.is_empty(),
        NodeKind::Map(v) => v.is_empty(),
    }
}

/// Merges folder defaults (root first) and the document's own fields.
pub(crate) fn effective<'a>(
    folders: &[(&'a str, &'a Node)],
    own: Option<&'a Node>,
) -> Effective<'a> {
    let mut e = Effective::default();
    for (rel, node) in folders {
        if let NodeKind::Map(entries) = &node.kind {
            for (k, v) in entries {
                let key = k.as_str().unwrap_or_default();
                if key == "id" || key == "title" || is_empty(v) {
                    continue;
                }
                e.set(key, v, Origin::Folder(rel));
            }
        }
    }
    if let Some(NodeKind::Map(entries)) = own.map(|n| &n.kind) {
        for (k, v) in entries {
            let key = k.as_str().unwrap_or_default();
            if is_empty(v) && e.get(key).is_some() {
                continue;
            }
            e.set(key, v, Origin::Own);
        }
    }
    e
}

/// What the cross-file rules need of one document.
#[derive(Clone, Debug, Default)]
pub(crate) struct DocFacts {
    pub rel: String,
    pub stem: String,
    pub id: Option<(String, Pos)>,
    pub title: Option<String>,
    pub status: Option<String>,
    pub date: Option<String>,
    pub domain: Option<String>,
    /// (field, target, position as reported in this file)
    pub relations: Vec<(String, String, Pos, Option<String>)>,
    pub has_front_matter: bool,
    /// The scalar fields of its effective metadata (own or inherited) that
    /// a new ADR index takes: [`Context::index_fields`].
    pub scalars: BTreeMap<String, String>,
}

/// A read Markdown file.
pub(crate) struct Doc {
    pub rel: String,
    pub text: String,
}

pub(crate) struct Context<'a> {
    pub config: &'a Config,
    pub folders: &'a HashMap<String, Node>,
    pub schemas: &'a Schemas,
}

impl Context<'_> {
    /// The fields a document of type `index` must carry (its schema's, else
    /// the configured defaults): what a new ADR index's front matter is
    /// made of.
    pub fn index_fields(&self) -> &[String] {
        self.schemas
            .get("index")
            .map_or(self.config.default_required.as_slice(), |s| {
                s.required.as_slice()
            })
    }

    fn finding(
        &self,
        rule: &'static str,
        file: &str,
        pos: Option<Pos>,
        message: String,
    ) -> Option<Finding> {
        let level = self.config.level(rule);
        (level != Level::Off).then(|| Finding {
            file: file.to_string(),
            line: pos.map_or(0, |p| p.line),
            column: pos.map_or(0, |p| p.col),
            rule: rule.to_string(),
            level,
            message,
        })
    }

    /// The folder `metadata.yaml`s above `rel`, root first.
    fn ancestors<'x>(&'x self, rel: &str) -> Vec<(&'x str, &'x Node)> {
        let mut out = Vec::new();
        // The root, then the folder before each `/`, into one key.
        let mut key = String::with_capacity(rel.len() + "/metadata.yaml".len());
        for dir in std::iter::once("").chain(rel.match_indices('/').map(|(i, _)| &rel[..i])) {
            key.clear();
            if !dir.is_empty() {
                key.push_str(dir);
                key.push('/');
            }
            key.push_str("metadata.yaml");
            if let Some((k, node)) = self.folders.get_key_value(&key) {
                out.push((k.as_str(), node));
            }
        }
        out
    }

    /// Checks one document; returns its findings and facts.
    pub fn check_doc(&self, doc: &Doc) -> (Vec<Finding>, DocFacts) {
        let mut out = Vec::new();
        let stem = Path::new(&doc.rel)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let mut facts = DocFacts {
            rel: doc.rel.clone(),
            stem,
            ..DocFacts::default()
        };
        let first = Pos {
            line: 1,
            col: 1,
            offset: 0,
        };
        let split = match frontmatter::split(&doc.text) {
            Ok(s) => Some(s),
            Err(e) => {
                let (rule, pos, message) = match e {
                    FrontMatterError::Missing => (
                        rules::NO_FRONT_MATTER,
                        first,
                        "no front matter: the file must start with a `---` line".to_string(),
                    ),
                    FrontMatterError::Unterminated => (
                        rules::BAD_FRONT_MATTER,
                        first,
                        "the front matter has no closing `---` line".to_string(),
                    ),
                    FrontMatterError::Yaml(m, pos) => (
                        rules::BAD_FRONT_MATTER,
                        pos,
                        format!("invalid YAML in the front matter: {m}"),
                    ),
                    FrontMatterError::NotAMapping(pos) => (
                        rules::BAD_FRONT_MATTER,
                        pos,
                        "the front matter must be a mapping of fields".to_string(),
                    ),
                };
                out.extend(self.finding(rule, &doc.rel, Some(pos), message));
                None
            }
        };
        let (body, body_line) = match &split {
            Some(s) => (s.body, s.body_line),
            None if doc.text.starts_with("---") => ("", 1),
            None => (doc.text.as_str(), 1),
        };
        if let Some(s) = &split {
            facts.has_front_matter = true;
            let folders = self.ancestors(&doc.rel);
            let eff = effective(&folders, s.meta.as_ref());
            self.check_meta(doc, &eff, &mut out);
            if let Some((_, n, Origin::Own)) = eff.get("id")
                && let Some(id) = n.as_str()
            {
                facts.id = Some((id.to_string(), n.start));
            }
            facts.title = eff.text("title").map(str::to_string);
            facts.status = eff.text("status").map(str::to_string);
            facts.date = eff.text("date").map(str::to_string);
            facts.domain = eff.text("domain").map(str::to_string);
            let index_fields = self.index_fields();
            for (k, n, _) in &eff.fields {
                if let Some(v) = n.as_str()
                    && index_fields.iter().any(|f| f == k)
                {
                    facts.scalars.insert(k.to_string(), v.to_string());
                }
            }
            for field in ["relates_to", "supersedes", "superseded_by"] {
                if let Some((_, n, origin)) = eff.get(field) {
                    let items: Vec<&Node> = match &n.kind {
                        NodeKind::Seq(v) => v.iter().collect(),
                        NodeKind::Scalar(..) if !n.is_null() => vec![n],
                        _ => Vec::new(),
                    };
                    for item in items {
                        if let Some(t) = item.as_str() {
                            let (pos, note) = located(item.start, origin);
                            facts
                                .relations
                                .push((field.to_string(), t.to_string(), pos, note));
                        }
                    }
                }
            }
        }
        self.check_body(&doc.rel, body, body_line, &mut out);
        self.check_emoji(&doc.rel, &doc.text, &mut out);
        (out, facts)
    }

    fn check_meta(&self, doc: &Doc, eff: &Effective, out: &mut Vec<Finding>) {
        let ty = eff.text("type").unwrap_or("documentation");
        let fallback;
        let schema: &Schema = match self.schemas.get(ty) {
            Some(s) => s,
            None => {
                fallback = Schema {
                    required: self.config.default_required.clone(),
                    properties: Vec::new(),
                    additional: true,
                };
                &fallback
            }
        };
        let at = Node {
            kind: NodeKind::Map(Vec::new()),
            start: Pos {
                line: 1,
                col: 1,
                offset: 0,
            },
            end: Pos::default(),
        };
        let keys: Vec<Node> = eff
            .fields
            .iter()
            .map(|(k, v, _)| Node {
                kind: NodeKind::Scalar(k.to_string(), Style::Plain),
                start: v.start,
                end: v.start,
            })
            .collect();
        let mut issues: Vec<Issue> = Vec::new();
        schema.check_map(
            &at,
            keys.iter().zip(eff.fields.iter().map(|(_, v, _)| *v)),
            "",
            &mut issues,
        );
        for issue in issues {
            // Issues on inherited values point at the document, naming the
            // folder file the value came from.
            let origin = eff
                .fields
                .iter()
                .find(|(_, v, _)| contains(v, issue.pos))
                .map(|(_, _, o)| *o)
                .unwrap_or(Origin::Own);
            let (pos, note) = located(issue.pos, &origin);
            let mut message = issue.message;
            if let Some(n) = note {
                message.push_str(&format!(" (inherited from {n})"));
            }
            if issue.rule == rules::REQUIRED {
                message.push_str(&format!(" for type `{ty}`"));
            }
            out.extend(self.finding(issue.rule, &doc.rel, Some(pos), message));
        }
    }

    fn check_body(&self, rel: &str, body: &str, first_line: u32, out: &mut Vec<Finding>) {
        if self.config.level(rules::BARE_URL) == Level::Off {
            return;
        }
        for (line, col, url) in bare_urls(body) {
            out.extend(self.finding(
                rules::BARE_URL,
                rel,
                Some(Pos {
                    line: first_line + line - 1,
                    col,
                    offset: 0,
                }),
                format!("bare URL {url}: write it as <url> or [text](url)"),
            ));
        }
    }

    fn check_emoji(&self, rel: &str, text: &str, out: &mut Vec<Finding>) {
        if self.config.level(rules::EMOJI) == Level::Off {
            return;
        }
        let globs = self.config.globs();
        if globs.emoji_exempt.under(rel) {
            return;
        }
        let forbidden = globs.emoji_forbidden.under(rel);
        for e in find_emoji(text) {
            let allowed = !forbidden && allowed(&self.config.emoji.allowed, &e.text);
            if !allowed {
                out.extend(self.finding(
                    rules::EMOJI,
                    rel,
                    Some(Pos {
                        line: e.line,
                        col: e.col,
                        offset: 0,
                    }),
                    if forbidden {
                        format!("emoji {} in a folder where none are allowed", e.text)
                    } else {
                        format!(
                            "emoji {} is not in the allowed set ({})",
                            e.text,
                            self.config.emoji.allowed.join(" ")
                        )
                    },
                ));
            }
        }
    }

    /// Rules across documents.
    pub fn cross(&self, facts: &[DocFacts], out: &mut Vec<Finding>) {
        // Duplicate ids.
        let mut by_id: BTreeMap<&str, Vec<&DocFacts>> = BTreeMap::new();
        for f in facts {
            if let Some((id, _)) = &f.id {
                by_id.entry(id).or_default().push(f);
            }
        }
        for (id, docs) in &by_id {
            if docs.len() > 1 {
                for d in docs {
                    let others: Vec<&str> = docs
                        .iter()
                        .filter(|o| o.rel != d.rel)
                        .map(|o| o.rel.as_str())
                        .collect();
                    out.extend(self.finding(
                        rules::DUPLICATE_ID,
                        &d.rel,
                        d.id.as_ref().map(|(_, p)| *p),
                        format!("id `{id}` is also used by {}", others.join(", ")),
                    ));
                }
            }
        }
        // Relations.
        let mut names: HashMap<&str, &DocFacts> = HashMap::new();
        for f in facts {
            names.entry(f.stem.as_str()).or_insert(f);
        }
        for f in facts {
            if let Some((id, _)) = &f.id {
                names.insert(id.as_str(), f);
            }
        }
        let refers = |doc: &DocFacts, field: &str, target: &DocFacts| {
            doc.relations.iter().any(|(fld, t, _, _)| {
                fld == field
                    && (Some(t.as_str()) == target.id.as_ref().map(|(i, _)| i.as_str())
                        || *t == target.stem)
            })
        };
        for f in facts {
            for (field, target, pos, note) in &f.relations {
                let suffix = note
                    .as_ref()
                    .map(|n| format!(" (inherited from {n})"))
                    .unwrap_or_default();
                match names.get(target.as_str()) {
                    None => out.extend(self.finding(
                        rules::UNRESOLVED,
                        &f.rel,
                        Some(*pos),
                        format!(
                            "{field} target `{target}` is not a document id or file stem{suffix}"
                        ),
                    )),
                    Some(t) => {
                        let (back, verb) = match field.as_str() {
                            "supersedes" => ("superseded_by", "supersedes"),
                            "superseded_by" => ("supersedes", "is superseded by"),
                            _ => continue,
                        };
                        if !refers(t, back, f) {
                            out.extend(self.finding(
                                rules::SUPERSEDES,
                                &f.rel,
                                Some(*pos),
                                format!(
                                    "this document {verb} `{target}`, but {} does not list it in {back}",
                                    t.rel
                                ),
                            ));
                        }
                    }
                }
            }
        }
        // Numbered documents.
        for numbered in [&self.config.adr, &self.config.changelog] {
            self.numbered(numbered, facts, out);
        }
    }

    fn numbered(&self, n: &NumberedDocs, facts: &[DocFacts], out: &mut Vec<Finding>) {
        let dir = n.dir.trim_end_matches('/');
        let pattern = regex_for(&n.prefix);
        let mut numbers: BTreeMap<u32, Vec<&DocFacts>> = BTreeMap::new();
        for f in facts {
            let Some(name) = f.rel.strip_prefix(&format!("{dir}/")) else {
                continue;
            };
            if name.contains('/')
                || name.eq_ignore_ascii_case("README.md")
                || n.index.as_deref() == Some(f.rel.as_str())
            {
                continue;
            }
            let Some(caps) = pattern.captures(name) else {
                out.extend(self.finding(
                    rules::NUMBERED_NAME,
                    &f.rel,
                    None,
                    format!("`{name}` is not named {}-NNNN-slug.md", n.prefix),
                ));
                continue;
            };
            let number: u32 = caps[1].parse().unwrap_or(0);
            numbers.entry(number).or_default().push(f);
            let short = format!("{}-{}", n.prefix, &caps[1]);
            match &f.id {
                Some((id, pos)) if *id != short && *id != f.stem => {
                    let id_number = id
                        .strip_prefix(&format!("{}-", n.prefix))
                        .map(|r| r.chars().take(4).collect::<String>());
                    let message = match id_number {
                        Some(num) if num.len() == 4 && num != caps[1] => format!(
                            "id `{id}` has number {num}, but the file is number {}",
                            &caps[1]
                        ),
                        _ => format!("id `{id}` must be `{short}` or `{}`", f.stem),
                    };
                    out.extend(self.finding(rules::NUMBERED_ID, &f.rel, Some(*pos), message));
                }
                _ => {}
            }
        }
        for (number, docs) in numbers {
            if docs.len() > 1 {
                let all: Vec<&str> = docs.iter().map(|d| d.rel.as_str()).collect();
                for d in &docs {
                    out.extend(self.finding(
                        rules::NUMBERED_DUPLICATE,
                        &d.rel,
                        None,
                        format!(
                            "{}-{number:04} is used by {} files: {}",
                            n.prefix,
                            docs.len(),
                            all.join(", ")
                        ),
                    ));
                }
            }
        }
    }
}

pub(crate) fn regex_for(prefix: &str) -> regex::Regex {
    regex::Regex::new(&format!(
        "^{}-([0-9]{{4}})-[a-z0-9]+(?:-[a-z0-9]+)*\\.md$",
        regex::escape(prefix)
    ))
    .unwrap_or_else(|_| regex::Regex::new("^$").unwrap_or_else(|_| unreachable!()))
}

fn contains(n: &Node, pos: Pos) -> bool {
    (n.start.line, n.start.col) <= (pos.line, pos.col)
        && ((pos.line, pos.col) < (n.end.line, n.end.col) || n.start == pos)
}

/// Where to report a value: its own position, or the document's first
/// line with a note naming the folder file.
fn located(pos: Pos, origin: &Origin) -> (Pos, Option<String>) {
    match origin {
        Origin::Own => (pos, None),
        Origin::Folder(rel) => (
            Pos {
                line: 1,
                col: 1,
                offset: 0,
            },
            Some(format!("{rel}:{}:{}", pos.line, pos.col)),
        ),
    }
}

/// Folders each of whose direct subfolders must hold a metadata.yaml.
pub(crate) fn sidecars(ctx: &Context<'_>, dirs: &BTreeSet<String>, out: &mut Vec<Finding>) {
    if ctx.config.sidecars.is_empty() {
        return;
    }
    // Each folder's direct subfolders, in order, found once (not every
    // folder scanned for each matching one); each pattern compiled once
    // (a glob is a regular expression to build, not a string compare).
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for sub in dirs {
        if let Some((parent, name)) = sub.rsplit_once('/')
            && !name.is_empty()
        {
            children.entry(parent).or_default().push(sub);
        }
    }
    for pattern in &ctx.config.sidecars {
        let set = crate::glob::Set::new(std::slice::from_ref(pattern));
        for dir in dirs.iter().filter(|d| set.matches(d)) {
            for sub in children.get(dir.as_str()).into_iter().flatten() {
                if !ctx.folders.contains_key(&format!("{sub}/metadata.yaml")) {
                    out.extend(ctx.finding(
                        rules::SIDECAR,
                        sub,
                        None,
                        format!("folder {sub} has no metadata.yaml (required in every subfolder of {dir})"),
                    ));
                }
            }
        }
    }
}

/// Makes a relative, `/`-separated path.
pub(crate) fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// The order of [`Path`]'s `Ord` (folder by folder) for the walk's paths,
/// as one comparison of bytes: a separator sorts before any other byte, as
/// the end of a component does.
fn path_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    let byte = |&c: &u8| {
        if std::path::is_separator(c as char) {
            0
        } else {
            c
        }
    };
    let (a, b) = (
        a.as_os_str().as_encoded_bytes(),
        b.as_os_str().as_encoded_bytes(),
    );
    a.iter().map(byte).cmp(b.iter().map(byte))
}

/// `each` of `items`, in `threads` chunks: the first on this thread, each
/// other on a thread of its own; the results in the items' order. A chunk
/// whose thread panicked panics here, so its items are never left out of a
/// pass that goes on as if they had been checked.
pub(crate) fn in_chunks<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    each: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let size = items.len().div_ceil(threads.max(1)).max(1);
    let all = |chunk: &[T]| chunk.iter().map(&each).collect::<Vec<R>>();
    std::thread::scope(|s| {
        let mut chunks = items.chunks(size);
        let first = chunks.next().unwrap_or_default();
        let handles: Vec<_> = chunks
            .map(|chunk| {
                let all = &all;
                s.spawn(move || all(chunk))
            })
            .collect();
        let mut out = all(first);
        for h in handles {
            match h.join() {
                Ok(v) => out.extend(v),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// A file's text; empty when it cannot be read or is not UTF-8 (a
/// Markdown file then has no front matter, which is reported). Read into a
/// buffer this thread keeps, without asking the file's size first: of the
/// five system calls `std::fs::read_to_string` makes per file, the size
/// (`statx`) was one, on a check that reads every document.
pub(crate) fn read_text(path: &Path) -> String {
    use std::io::Read;
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    BUF.with_borrow_mut(|buf| {
        let mut n = 0;
        loop {
            if n == buf.len() {
                buf.resize((buf.len() * 2).max(64 * 1024), 0);
            }
            match file.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return String::new(),
            }
        }
        std::str::from_utf8(&buf[..n])
            .map(str::to_string)
            .unwrap_or_default()
    })
}

/// A file the check finds by its name in the repository (the enums, the
/// ADR index): its text, or `None` when nothing has that name. Anything
/// but a regular file (or a link to one) of that name is an error, never
/// opened: opening a named pipe waits for a writer, for ever.
pub(crate) fn read_named(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
        Ok(m) if !m.is_file() => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )),
        Ok(_) => std::fs::read_to_string(path).map(Some),
    }
}

/// Everything under `root` the check reads.
pub(crate) struct Tree {
    pub markdown: Vec<PathBuf>,
    pub metadata: Vec<PathBuf>,
    pub dirs: BTreeSet<String>,
}

pub(crate) fn walk(root: &Path, config: &Config) -> std::io::Result<Tree> {
    let real_root = root.canonicalize()?;
    let globs = config.globs().clone();
    let filter_globs = globs.clone();
    let filter_root = root.to_path_buf();
    // ripgrep's walker: `.gitignore` files (also outside a git checkout)
    // and `.git/info/exclude` are honoured; the user's global excludes are
    // not, so every machine sees the same files.
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .ignore(false)
        .git_global(false)
        .git_ignore(true)
        .git_exclude(true)
        .require_git(false)
        .follow_links(false)
        // A folder the filter refuses is not entered, so every entry seen
        // has passed it with each of its folders: only the entry's own path
        // is matched (`Set::under` would match each of its folders again).
        // Files are matched below, where their path is made once for both
        // globs.
        .filter_entry(move |e| {
            e.file_name() != ".git"
                && (e.file_type().is_some_and(|t| !t.is_dir())
                    || !filter_globs.exclude.matches(&rel(&filter_root, e.path())))
        })
        .build();
    let mut tree = Tree {
        markdown: Vec::new(),
        metadata: Vec::new(),
        dirs: BTreeSet::new(),
    };
    for entry in walker {
        let entry = entry.map_err(|e| {
            e.into_io_error()
                .unwrap_or_else(|| std::io::Error::other("the folder walk failed"))
        })?;
        if entry.depth() == 0 {
            continue;
        }
        let path = entry.path();
        let Some(mut ft) = entry.file_type() else {
            continue;
        };
        if ft.is_symlink() {
            // A link is followed only to a file inside the root: never
            // out of it, and never into a folder (no loops).
            match path.canonicalize() {
                Ok(target) if target.starts_with(&real_root) && target.is_file() => {
                    match std::fs::metadata(&target) {
                        Ok(m) => ft = m.file_type(),
                        Err(_) => continue,
                    }
                }
                _ => continue,
            }
        }
        let r = rel(root, path);
        if ft.is_dir() {
            tree.dirs.insert(r);
        } else if !ft.is_file() {
            // A named pipe, socket or device is no document, whatever its
            // name: opening a pipe would wait for a writer, for ever.
            continue;
        } else if globs.exclude.matches(&r) {
            continue;
        } else if entry.file_name() == "metadata.yaml" {
            tree.metadata.push(entry.into_path());
        } else if globs.include.matches(&r) {
            tree.markdown.push(entry.into_path());
        }
    }
    tree.markdown.sort_by(|a, b| path_order(a, b));
    tree.metadata.sort_by(|a, b| path_order(a, b));
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_chunks_gives_each_result_in_order_for_every_length_and_thread_count() {
        for threads in 0..=9 {
            for len in 0..=40usize {
                let items: Vec<usize> = (0..len).collect();
                let out = in_chunks(&items, threads, |i| i * 3 + 1);
                let want: Vec<usize> = items.iter().map(|i| i * 3 + 1).collect();
                assert_eq!(out, want, "{len} items on {threads} threads");
            }
        }
    }

    #[test]
    fn in_chunks_panics_when_any_chunk_panics_never_leaving_it_out() {
        // The item that panics in the first chunk (this thread), in a
        // middle one and in the last (threads of their own).
        for bad in [0usize, 7, 19] {
            let items: Vec<usize> = (0..20).collect();
            let caught = std::panic::catch_unwind(|| {
                in_chunks(&items, 4, |&i| {
                    assert_ne!(i, bad, "a document this check cannot read");
                    i
                })
            });
            assert!(caught.is_err(), "item {bad}'s panic was swallowed");
        }
    }

    /// The sidecar findings (folder, message) for `patterns` over `dirs`,
    /// `with_meta` the folders that hold a metadata.yaml.
    fn sidecar_findings(patterns: &[&str], dirs: &[&str], with_meta: &[&str]) -> Vec<String> {
        let mut config = Config::default();
        config.sidecars = patterns.iter().map(|s| s.to_string()).collect();
        let node = gp_core::yaml::parse("owner: x\n").unwrap().unwrap();
        let folders: HashMap<String, Node> = with_meta
            .iter()
            .map(|d| (format!("{d}/metadata.yaml"), node.clone()))
            .collect();
        let schemas = Schemas::default();
        let ctx = Context {
            config: &config,
            folders: &folders,
            schemas: &schemas,
        };
        let dirs: BTreeSet<String> = dirs.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        sidecars(&ctx, &dirs, &mut out);
        assert!(out.iter().all(|f| f.rule == rules::SIDECAR));
        out.into_iter().map(|f| f.file).collect()
    }

    #[test]
    fn every_direct_subfolder_of_a_matching_folder_needs_a_metadata_file() {
        let dirs = [
            "modules",
            "modules/eks",
            "modules/eks/inner",
            "modules/rds",
            "modules/vpc",
            "modules-old",
            "modules-old/x",
            "other",
            "other/y",
        ];
        // A subfolder without one is named; one with it is not; a
        // grandchild, the folder itself, a folder whose name only begins
        // like it and an unmatched folder's subfolders are not asked.
        assert_eq!(
            sidecar_findings(&["modules"], &dirs, &["modules/rds"]),
            vec!["modules/eks", "modules/vpc"]
        );
        assert_eq!(
            sidecar_findings(
                &["modules"],
                &dirs,
                &["modules/eks", "modules/rds", "modules/vpc"]
            ),
            Vec::<String>::new()
        );
        // A glob: each folder it matches, in order.
        assert_eq!(
            sidecar_findings(&["modules*"], &dirs, &["modules/rds"]),
            vec!["modules/eks", "modules/vpc", "modules-old/x"]
        );
        assert_eq!(
            sidecar_findings(&["*/eks"], &dirs, &[]),
            vec!["modules/eks/inner"]
        );
        // Two patterns: each folder's findings under each.
        assert_eq!(
            sidecar_findings(&["other", "modules/eks"], &dirs, &[]),
            vec!["other/y", "modules/eks/inner"]
        );
        // No pattern, or one matching nothing: nothing asked.
        assert!(sidecar_findings(&[], &dirs, &[]).is_empty());
        assert!(sidecar_findings(&["nowhere"], &dirs, &[]).is_empty());
    }

    #[test]
    fn paths_sort_as_paths_do_across_every_pair_of_names() {
        // Names around the separator's byte: ones that sort before `/`
        // as bytes (`-`, `.`, ` `, `!`) and after it, prefixes, deeper
        // paths, and text beyond ASCII.
        let parts = [
            "a", "a-b", "a.b", "a b", "a!", "ab", "a0", "b", "é", "a/b", "a/b/c", "a-b/c",
        ];
        let mut paths: Vec<PathBuf> = Vec::new();
        for x in parts {
            paths.push(PathBuf::from(x));
            for y in parts {
                paths.push(Path::new(x).join(y));
            }
        }
        for a in &paths {
            for b in &paths {
                assert_eq!(
                    path_order(a, b),
                    a.cmp(b),
                    "{} against {}",
                    a.display(),
                    b.display()
                );
            }
        }
    }

    #[test]
    fn the_walk_leaves_out_an_excluded_folder_file_and_ignored_path_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "docs/a.md",
            "docs/drafts/b.md",
            "docs/drafts/deep/c.md",
            "docs/keep/d.md",
            "docs/keep/skip.md",
            "docs/keep/metadata.yaml",
            "docs/gen/e.md",
            "other/f.md",
            "other/ignored.md",
            "other/metadata.yaml",
        ] {
            std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            std::fs::write(root.join(f), "x").unwrap();
        }
        // Links to a file inside the root: one kept, one whose own path is
        // excluded (files are matched in the walk's loop, folders by its
        // filter: both sides are here).
        std::os::unix::fs::symlink(root.join("docs/a.md"), root.join("docs/link.md")).unwrap();
        std::os::unix::fs::symlink(root.join("docs/a.md"), root.join("docs/skip.md")).unwrap();
        // A named pipe with a document's name: never listed (the check
        // would wait on it for ever).
        let fifo = std::process::Command::new("mkfifo")
            .arg(root.join("docs/pipe.md"))
            .arg(root.join("docs/metadata.yaml"))
            .status()
            .unwrap();
        assert!(fifo.success());
        std::fs::write(root.join(".gitignore"), "ignored.md\n/docs/gen/\n").unwrap();
        let mut config = Config::default();
        config.exclude = vec![
            "docs/drafts".into(),
            "**/skip.md".into(),
            "other/metadata.yaml".into(),
        ];
        let tree = walk(root, &config).unwrap();
        let rels = |v: &[PathBuf]| v.iter().map(|p| rel(root, p)).collect::<Vec<_>>();
        assert_eq!(
            rels(&tree.markdown),
            ["docs/a.md", "docs/keep/d.md", "docs/link.md", "other/f.md"]
        );
        assert_eq!(rels(&tree.metadata), ["docs/keep/metadata.yaml"]);
        assert_eq!(
            tree.dirs.iter().map(String::as_str).collect::<Vec<_>>(),
            ["docs", "docs/keep", "other"]
        );
        // Each path the walk keeps is one the configuration does not
        // exclude, and each it leaves out (but the ignored ones) is.
        for p in tree.markdown.iter().chain(&tree.metadata) {
            assert!(!config.excluded(&rel(root, p)));
        }
        for gone in [
            "docs/drafts/b.md",
            "docs/drafts/deep/c.md",
            "docs/keep/skip.md",
            "docs/skip.md",
            "other/metadata.yaml",
        ] {
            assert!(config.excluded(gone), "{gone}");
        }
    }

    #[test]
    fn read_text_gives_each_file_its_own_whole_text_whatever_was_read_before() {
        let dir = tempfile::tempdir().unwrap();
        let big: String = (0..30_000).map(|i| format!("{i:06}\n")).collect();
        assert!(
            big.len() > 2 * 64 * 1024,
            "larger than the first buffer twice"
        );
        std::fs::write(dir.path().join("big.md"), &big).unwrap();
        std::fs::write(dir.path().join("small.md"), "---\nid: a\n---\n").unwrap();
        std::fs::write(dir.path().join("empty.md"), "").unwrap();
        // In this order on one thread: each after a longer one, so a byte
        // left in the thread's buffer would show.
        assert_eq!(read_text(&dir.path().join("big.md")), big);
        assert_eq!(read_text(&dir.path().join("small.md")), "---\nid: a\n---\n");
        assert_eq!(read_text(&dir.path().join("empty.md")), "");
        assert_eq!(read_text(&dir.path().join("big.md")), big);
    }

    #[test]
    fn read_named_reads_a_file_or_a_link_to_one_is_none_for_nothing_and_refuses_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let at = |n: &str| d.path().join(n);
        std::fs::write(at("enums.yaml"), "a: [b]\n").unwrap();
        std::os::unix::fs::symlink(at("enums.yaml"), at("link.yaml")).unwrap();
        std::fs::create_dir(at("folder.yaml")).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(at("pipe.yaml"))
            .status()
            .unwrap();
        assert!(fifo.success());
        for (name, want) in [
            ("enums.yaml", Ok(Some("a: [b]\n".to_string()))),
            ("link.yaml", Ok(Some("a: [b]\n".to_string()))),
            ("missing.yaml", Ok(None)),
            ("folder.yaml", Err("not a regular file".to_string())),
            // Returns at once: a pipe opened for reading would wait here.
            ("pipe.yaml", Err("not a regular file".to_string())),
        ] {
            let got = read_named(&at(name)).map_err(|e| e.to_string());
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn read_text_is_empty_for_a_missing_file_a_folder_and_bytes_that_are_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ok.md"), "text").unwrap();
        std::fs::write(dir.path().join("latin1.md"), b"caf\xe9\n").unwrap();
        assert_eq!(read_text(&dir.path().join("ok.md")), "text");
        // Opening fails.
        assert_eq!(read_text(&dir.path().join("missing.md")), "");
        // Opening succeeds, reading fails.
        assert_eq!(read_text(dir.path()), "");
        // Read, but not text.
        assert_eq!(read_text(&dir.path().join("latin1.md")), "");
        assert_eq!(read_text(&dir.path().join("ok.md")), "text");
    }
}
