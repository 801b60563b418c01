//! Finding request files: the globs of `requests.paths` (each must match a
//! file), else `requests/**/*.yaml` beside the spec; reading each through
//! the one reader; ids unique across every kind and file; the enums file
//! their `domain` and `owner` are checked against.

use std::path::{Path, PathBuf};

use gp_core::request::{Request, id};
use gp_core::{Diagnostic, InvalidInput, Platform};

use crate::{Engine, EngineError};

/// One pattern, compiled as the docs gate compiles its globs: `*` within a
/// segment, `**` across segments.
fn glob(pattern: &str) -> Option<globset::GlobMatcher> {
    globset::GlobBuilder::new(pattern.trim_matches('/'))
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// The folder a glob starts in: its segments before the first wildcard.
pub(crate) fn literal_prefix(pattern: &str) -> String {
    pattern
        .split('/')
        .take_while(|seg| !seg.contains(['*', '?', '[', '{']))
        .collect::<Vec<_>>()
        .join("/")
}

/// Files under `base` matching `pattern` (relative, `/`-separated), never
/// following a symlink out of the walk.
fn glob_files(base: &Path, pattern: &str) -> Vec<PathBuf> {
    let Some(matcher) = glob(pattern) else {
        return Vec::new();
    };
    let start = base.join(literal_prefix(pattern));
    if start.is_file() {
        return vec![start];
    }
    let mut out = Vec::new();
    let mut stack = vec![start];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                let rel = path
                    .strip_prefix(base)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                if matcher.is_match(&rel) {
                    out.push(path);
                }
            }
        }
    }
    out
}

/// Whether `relative` (to the spec's folder) is a file `requests.paths`
/// (or the default `requests/**/*.y*ml`) names.
pub(crate) fn is_request_path(platform: &Platform, relative: &str) -> bool {
    let globs: Vec<String> = match platform.spec.requests.as_ref() {
        Some(q) if !q.paths.is_empty() => q.paths.iter().map(|g| g.value.clone()).collect(),
        _ => vec!["requests/**/*.yaml".into(), "requests/**/*.yml".into()],
    };
    globs
        .iter()
        .filter_map(|g| glob(g))
        .any(|m| m.is_match(relative))
}

/// Every request file the spec names: `requests.paths` (each glob must
/// match a file, and stay inside the spec's folder), else
/// `requests/**/*.yaml` (an existing `requests/` folder must hold one).
pub fn request_files(platform: &Platform) -> Result<Vec<PathBuf>, EngineError> {
    let base = platform.base_dir();
    let mut files = Vec::new();
    match platform
        .spec
        .requests
        .as_ref()
        .filter(|q| !q.paths.is_empty())
    {
        Some(q) => {
            let mut problems = Vec::new();
            for g in &q.paths {
                if !gp_core::spec::stays_inside(&g.value) {
                    problems.push(platform.diagnostic(
                        g.start,
                        format!("requests.paths `{}` leaves the spec's folder: use a relative path without `..`", g.value),
                    ));
                    continue;
                }
                let found = glob_files(base, &g.value);
                if found.is_empty() {
                    problems.push(
                        platform
                            .diagnostic(g.start, format!("requests.paths `{}` matches no file", g.value))
                            .with_hint("a configured location must hold its requests; fix the glob or remove it"),
                    );
                }
                files.extend(found);
            }
            if !problems.is_empty() {
                return Err(InvalidInput(problems).into());
            }
        }
        None => {
            let dir = base.join("requests");
            if dir.is_dir() {
                files = glob_files(base, "requests/**/*.yaml");
                files.extend(glob_files(base, "requests/**/*.yml"));
                if files.is_empty() {
                    return Err(EngineError::usage(
                        format!("{} holds no request files (*.yaml)", shown(platform, &dir)),
                        Some("put requests there, or set requests.paths in the spec".into()),
                    ));
                }
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// A path as the user sees it: relative to the spec's folder when inside.
pub(crate) fn shown(platform: &Platform, path: &Path) -> String {
    path.strip_prefix(platform.base_dir())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The id a file holds, read cheaply (no checks beyond the YAML).
fn id_of(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let node = gp_core::yaml::parse(&text).ok().flatten()?;
    gp_core::request::read::file_id(&node).map(str::to_string)
}

/// Every request file, read: each file's request or why it is not one.
pub struct Loaded {
    /// The files that read, in path order.
    pub requests: Vec<Request>,
    /// The files that did not, with why.
    pub invalid: Vec<(PathBuf, InvalidInput)>,
    /// Ids held by more than one file, with the files.
    pub duplicates: Vec<(String, Vec<PathBuf>)>,
}

impl Engine<'_> {
    /// Every request file the spec names.
    pub fn request_files(&self) -> Result<Vec<PathBuf>, EngineError> {
        request_files(self.platform)
    }

    /// Reads one file: [`load`].
    pub fn request_load(&self, path: &Path) -> Result<Request, EngineError> {
        load(self.platform, path)
    }

    /// A request by path or id: [`find`].
    pub fn request_find(&self, arg: &str, any_path: bool) -> Result<Request, EngineError> {
        find(self.platform, arg, any_path)
    }

    /// `domain` and `owner` against the configured enums file.
    pub(crate) fn check_enums(&self, r: &Request) -> Result<(), EngineError> {
        check_enums(self.platform, r)
    }
}

/// Reads one request file (its path shown relative to the spec), checked
/// against its kind's schema and the enums file. Reads only: needs no
/// registry, so bad input is found before one is opened.
pub fn load(platform: &Platform, path: &Path) -> Result<Request, EngineError> {
    let relative = PathBuf::from(shown(platform, path));
    let text = std::fs::read_to_string(path).map_err(|e| {
        InvalidInput(vec![Diagnostic::file(
            &relative,
            format!("cannot read the request: {e}"),
        )])
    })?;
    let r = Request::from_source(&relative, &text)?;
    check_enums(platform, &r)?;
    Ok(r)
}

impl Engine<'_> {
    /// Every request file, read (a file that does not read is kept apart,
    /// with why).
    pub fn requests_loaded(&self) -> Result<Loaded, EngineError> {
        let platform = self.platform;
        let files = request_files(platform)?;
        let mut out = Loaded {
            requests: Vec::new(),
            invalid: Vec::new(),
            duplicates: id::duplicates(
                files
                    .iter()
                    .filter_map(|f| id_of(f).map(|i| (i, PathBuf::from(shown(platform, f))))),
            ),
        };
        for f in &files {
            match load(platform, f) {
                Ok(r) => out.requests.push(r),
                Err(EngineError::Invalid(e)) => out.invalid.push((f.clone(), e)),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// A request by file path or by id. An id is looked up among the files
/// the spec names (a file's name need not be its id); a path must be one
/// of them too, unless `any_path` (the CLI takes any file it is given).
/// Reads only.
pub fn find(platform: &Platform, arg: &str, any_path: bool) -> Result<Request, EngineError> {
    let p = Path::new(arg);
    if p.is_file() {
        let named = std::fs::canonicalize(p)
            .ok()
            .and_then(|c| {
                std::fs::canonicalize(platform.base_dir())
                    .ok()
                    .and_then(|b| c.strip_prefix(b).ok().map(Path::to_path_buf))
            })
            .is_some_and(|rel| is_request_path(platform, &rel.to_string_lossy()));
        if !any_path && !named {
            return Err(EngineError::usage(
                format!("{arg} is not among the request files the spec names"),
                Some("add its folder to requests.paths, or move it under requests/".into()),
            ));
        }
        return load(platform, p);
    }
    let mut found = Vec::new();
    for f in request_files(platform)? {
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if id_of(&f).as_deref() == Some(arg) || (stem == arg && id_of(&f).is_none()) {
            found.push(f);
        }
    }
    match found.as_slice() {
        [one] => load(platform, one),
        [] => Err(EngineError::usage(
            format!("no request file {}", arg.escape_debug()),
            Some(
                "give a path, or the id of a request in requests.paths (default requests/)".into(),
            ),
        )),
        many => Err(EngineError::usage(
            format!(
                "request id {arg} is in {} files: {}",
                many.len(),
                many.iter()
                    .map(|f| shown(platform, f))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some("give each request its own id".into()),
        )),
    }
}

/// `domain` and `owner` against the configured enums file.
pub fn check_enums(platform: &Platform, r: &Request) -> Result<(), EngineError> {
    let Some(enums) = platform
        .spec
        .requests
        .as_ref()
        .and_then(|q| q.enums.as_ref())
    else {
        return Ok(());
    };
    if !gp_core::spec::stays_inside(&enums.value) {
        return Err(InvalidInput(vec![platform.diagnostic(
            enums.start,
            format!(
                "requests.enums `{}` leaves the spec's folder: use a relative path without `..`",
                enums.value
            ),
        )])
        .into());
    }
    let path = platform.base_dir().join(&enums.value);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        InvalidInput(vec![platform.diagnostic(
            enums.start,
            format!("cannot read requests.enums {}: {e}", enums.value),
        )])
    })?;
    let node = gp_core::yaml::parse(&text)
        .map_err(|e| {
            InvalidInput(vec![Diagnostic::at(
                Path::new(&enums.value),
                &text,
                e.pos,
                format!("invalid YAML: {}", e.message),
            )])
        })?
        .unwrap_or_else(|| gp_core::yaml::Node::empty_map(Default::default()));
    let problems = r.enum_problems(&node, Path::new(&enums.value));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(InvalidInput(problems).into())
    }
}
