//! The policy set: the built-in rules, the user's files, what is turned
//! off; every file parsed up front so a syntax error is reported with its
//! file, line and column before anything is evaluated.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gp_core::yaml::Pos;
use gp_core::{Diagnostic, InvalidInput};

use crate::{Query, Subject};

/// The built-in modules: file name and source.
pub const BUILTIN: &[(&str, &str)] = &[
    ("lib.rego", include_str!("../policies/lib.rego")),
    (
        "image_pinned.rego",
        include_str!("../policies/image_pinned.rego"),
    ),
    (
        "resources_set.rego",
        include_str!("../policies/resources_set.rego"),
    ),
    (
        "no_privileged.rego",
        include_str!("../policies/no_privileged.rego"),
    ),
    (
        "no_host_path.rego",
        include_str!("../policies/no_host_path.rego"),
    ),
    (
        "no_host_namespaces.rego",
        include_str!("../policies/no_host_namespaces.rego"),
    ),
    (
        "ingress_host.rego",
        include_str!("../policies/ingress_host.rego"),
    ),
    (
        "external_secret_store.rego",
        include_str!("../policies/external_secret_store.rego"),
    ),
    (
        "application_destination.rego",
        include_str!("../policies/application_destination.rego"),
    ),
    (
        "plan_protected.rego",
        include_str!("../policies/plan_protected.rego"),
    ),
    (
        "plan_public_bucket.rego",
        include_str!("../policies/plan_public_bucket.rego"),
    ),
    (
        "plan_deletion_protection.rego",
        include_str!("../policies/plan_deletion_protection.rego"),
    ),
    (
        "plan_contract_tags.rego",
        include_str!("../policies/plan_contract_tags.rego"),
    ),
    (
        "builtin_test.rego",
        include_str!("../policies/builtin_test.rego"),
    ),
];

/// One rule: a package whose `deny`, `violation` or `warn` count.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Rule {
    /// Its id.
    pub id: String,
    /// Its package.
    pub package: String,
    /// What it checks (`None`: manifests and plans).
    pub subject: Option<Subject>,
    /// Why it exists (the `# rationale:` header).
    pub rationale: String,
    /// The file it is in (`builtin:NAME` for the built-in set).
    pub file: String,
    /// Shipped with goldenpath.
    pub builtin: bool,
    /// Turned off by `policy.disable`.
    pub disabled: bool,
    /// A user file replaces the built-in rule of this package.
    pub overridden: bool,
    /// Its `deny`, `violation` and `warn` rules that exist.
    #[serde(skip)]
    pub rules: Vec<String>,
}

/// A parsed module.
#[derive(Clone, Debug)]
struct Module {
    path: String,
    source: String,
    package: String,
    id: Option<String>,
    subject: Option<Subject>,
    rationale: String,
    builtin: bool,
}

/// Everything a check needs from the spec.
#[derive(Clone, Debug)]
pub struct PolicySet {
    modules: Vec<Module>,
    /// The rules, built-in first, in order.
    pub rules: Vec<Rule>,
    /// Time limit of one evaluation.
    pub timeout: Duration,
    /// Address-space limit of the worker, in bytes.
    pub memory: u64,
}

/// `# key: value` headers before the `package` line, and the package.
fn headers(source: &str) -> (Option<String>, Vec<(String, String)>) {
    let mut out = Vec::new();
    for line in source.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("package ") {
            let pkg = rest.split_whitespace().next().unwrap_or_default();
            return (Some(pkg.to_string()), out);
        }
        if let Some(c) = t.strip_prefix('#')
            && let Some((k, v)) = c.split_once(':')
        {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    (None, out)
}

/// The rule heads a module defines at the top level (`deny contains ...`,
/// `warn if ...`, `test_x if ...`): names starting a line.
pub(crate) fn heads(source: &str) -> BTreeSet<String> {
    source
        .lines()
        .filter(|l| !l.starts_with([' ', '\t', '#', '}']))
        .filter_map(|l| {
            let name: String = l
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// A regorus parse error (`--> FILE:LINE:COL ... error: WHAT`) as a
/// positioned diagnostic.
fn diagnostic(path: &Path, display: &str, source: &str, error: &str) -> Diagnostic {
    let mut pos = Pos {
        line: 1,
        col: 1,
        offset: 0,
    };
    if let Some(i) = error.find(&format!("{display}:")) {
        let rest = &error[i + display.len() + 1..];
        let mut nums = rest
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        if let (Some(l), Some(c)) = (nums.next(), nums.next()) {
            pos.line = l.parse().unwrap_or(1);
            pos.col = c.parse().unwrap_or(1);
        }
    }
    let what = error
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| {
            l.trim_start()
                .trim_start_matches("error:")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|| error.trim().to_string());
    Diagnostic::at(path, source, pos, format!("policy does not parse: {what}"))
}

fn parse(path: &Path, display: &str, source: &str) -> Result<(), Diagnostic> {
    let mut engine = regorus::Engine::new();
    engine
        .add_policy(display.to_string(), source.to_string())
        .map(|_| ())
        .map_err(|e| diagnostic(path, display, source, &e.to_string()))
}

impl PolicySet {
    /// The built-in set alone.
    pub fn builtin() -> PolicySet {
        let modules = BUILTIN
            .iter()
            .map(|(name, source)| {
                let (package, h) = headers(source);
                let get = |k: &str| h.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
                Module {
                    path: format!("builtin:{name}"),
                    source: (*source).to_string(),
                    package: package.unwrap_or_default(),
                    id: get("id"),
                    subject: get("subject").and_then(|s| match s.as_str() {
                        "manifests" => Some(Subject::Manifests),
                        "plan" => Some(Subject::Plan),
                        _ => None,
                    }),
                    rationale: get("rationale").unwrap_or_default(),
                    builtin: true,
                }
            })
            .collect();
        let mut set = PolicySet {
            modules,
            rules: Vec::new(),
            timeout: Duration::from_secs(10),
            memory: 1024 << 20,
        };
        set.index(&[], &BTreeSet::new());
        set
    }

    /// The set a spec configures: the built-in rules, the user's files
    /// (`policy.paths`), with `policy.disable` applied. A file that does
    /// not parse is an error at its line and column.
    pub fn load(platform: &gp_core::Platform) -> Result<PolicySet, InvalidInput> {
        let settings = &platform.spec.policy;
        let base = platform.base_dir();
        let mut set = PolicySet::builtin();
        let mut problems = Vec::new();
        let mut files: Vec<(PathBuf, String)> = Vec::new();
        for p in &settings.paths {
            let full = base.join(&p.value);
            if full.is_dir() {
                let mut stack = vec![full.clone()];
                let mut found = Vec::new();
                while let Some(d) = stack.pop() {
                    let Ok(entries) = std::fs::read_dir(&d) else {
                        continue;
                    };
                    for e in entries.flatten() {
                        let path = e.path();
                        if path.is_dir() {
                            stack.push(path);
                        } else if path.extension().is_some_and(|x| x == "rego") {
                            found.push(path);
                        }
                    }
                }
                found.sort();
                for f in found {
                    let rel = f
                        .strip_prefix(base)
                        .map(|r| r.display().to_string())
                        .unwrap_or_else(|_| f.display().to_string());
                    files.push((f, rel));
                }
            } else if full.is_file() {
                files.push((full, p.value.clone()));
            } else {
                problems.push(platform.diagnostic(
                    p.start,
                    format!("policy.paths: `{}` does not exist", p.value),
                ));
            }
        }
        for (path, display) in files {
            let source = match std::fs::read_to_string(&path) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(Diagnostic::file(&path, format!("cannot read it: {e}")));
                    continue;
                }
            };
            if let Err(d) = parse(&path, &display, &source) {
                problems.push(d);
                continue;
            }
            let (package, h) = headers(&source);
            let get = |k: &str| h.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
            let Some(package) = package else {
                problems.push(Diagnostic::file(&path, "the policy declares no package"));
                continue;
            };
            if package.starts_with("goldenpath.lib") {
                problems.push(Diagnostic::file(
                    &path,
                    format!("the package `{package}` is goldenpath's own helpers; pick another"),
                ));
                continue;
            }
            // A built-in rule's package: the user's file replaces it.
            let replaced: Vec<Module> = set
                .modules
                .iter()
                .filter(|m| m.builtin && m.package == package)
                .cloned()
                .collect();
            set.modules.retain(|m| !(m.builtin && m.package == package));
            let inherited = replaced.first();
            set.modules.push(Module {
                path: display,
                source,
                package,
                id: get("id").or_else(|| inherited.and_then(|m| m.id.clone())),
                subject: match get("subject").as_deref() {
                    Some("manifests") => Some(Subject::Manifests),
                    Some("plan") => Some(Subject::Plan),
                    _ => inherited.and_then(|m| m.subject),
                },
                rationale: get("rationale")
                    .or_else(|| inherited.map(|m| m.rationale.clone()))
                    .unwrap_or_default(),
                builtin: false,
            });
        }
        if let Some(t) = &settings.timeout
            && let Some(secs) = gp_core::spec::parse_duration(&t.value)
        {
            set.timeout = Duration::from_secs(secs);
        }
        if let Some(m) = settings.memory_mib {
            set.memory = m.max(64) << 20;
        }
        let disabled: BTreeSet<String> = settings.disable.iter().map(|d| d.value.clone()).collect();
        set.index(&settings.namespaces, &disabled);
        for d in &settings.disable {
            if !set.rules.iter().any(|r| r.id == d.value) {
                let known: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
                problems.push(
                    platform
                        .diagnostic(d.start, format!("policy.disable: no rule `{}`", d.value))
                        .with_hint(format!("the rules are: {}", known.join(", "))),
                );
            }
        }
        // The whole set together (two files defining one rule differently,
        // an import of a package nobody declares). goldenpath's own rules
        // alone are the same in every run and load together (unit test
        // `builtin_rules_load_together`): checked only with a user's file.
        if problems.is_empty() && !set.only_builtin() {
            problems.extend(load_together(&set.modules));
        }
        if problems.is_empty() {
            Ok(set)
        } else {
            Err(InvalidInput(problems))
        }
    }

    /// Rebuilds the rule list from the modules.
    fn index(&mut self, namespaces: &[String], disabled: &BTreeSet<String>) {
        let mut rules: Vec<Rule> = Vec::new();
        let builtin_packages: BTreeSet<String> = BUILTIN
            .iter()
            .filter(|(_, s)| headers(s).1.iter().any(|(k, _)| k == "id"))
            .filter_map(|(_, s)| headers(s).0)
            .collect();
        for m in &self.modules {
            // A built-in rule has an id; a user's file counts in the
            // configured packages, or replacing a built-in rule.
            let counted = if m.builtin {
                m.id.is_some()
            } else {
                namespaces.contains(&m.package) || builtin_packages.contains(&m.package)
            };
            if !counted {
                continue;
            }
            let names: Vec<String> = heads(&m.source)
                .into_iter()
                .filter(|h| h == "deny" || h == "violation" || h == "warn")
                .collect();
            let id = m.id.clone().unwrap_or_else(|| m.package.clone());
            match rules.iter_mut().find(|r| r.package == m.package) {
                Some(r) => {
                    for n in names {
                        if !r.rules.contains(&n) {
                            r.rules.push(n);
                        }
                    }
                }
                None => rules.push(Rule {
                    disabled: disabled.contains(&id),
                    overridden: !m.builtin && builtin_packages.contains(&m.package),
                    id,
                    package: m.package.clone(),
                    subject: m.subject,
                    rationale: m.rationale.clone(),
                    file: m.path.clone(),
                    builtin: m.builtin,
                    rules: names,
                }),
            }
        }
        rules.sort_by_key(|r| !r.builtin);
        self.rules = rules;
    }

    /// Whether every module is goldenpath's own (no user file).
    pub fn only_builtin(&self) -> bool {
        self.modules.iter().all(|m| m.builtin)
    }

    /// Every module, for the worker.
    pub fn modules(&self) -> Vec<(String, String)> {
        self.modules
            .iter()
            .map(|m| (m.path.clone(), m.source.clone()))
            .collect()
    }

    /// The queries a check evaluates (rules not turned off).
    pub fn queries(&self) -> Vec<Query> {
        self.rules
            .iter()
            .filter(|r| !r.disabled)
            .flat_map(|r| {
                r.rules.iter().map(|name| Query {
                    package: r.package.clone(),
                    rule: name.clone(),
                    subject: r.subject,
                    id: r.id.clone(),
                })
            })
            .collect()
    }

    /// The unit tests (`test_` rules) of every module: the query and the
    /// file.
    pub fn tests(&self, builtin: bool) -> Vec<(String, String)> {
        self.modules
            .iter()
            .filter(|m| builtin || !m.builtin)
            .flat_map(|m| {
                heads(&m.source)
                    .into_iter()
                    .filter(|h| h.starts_with("test_"))
                    .map(|h| (format!("data.{}.{h}", m.package), m.path.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// The YAML documents of a file (split at `---` lines), each with the line
/// it starts on.
pub fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut start = 1;
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_end();
        if t == "---" || t.starts_with("--- ") || t == "..." {
            if !current.trim().is_empty() {
                out.push((start, std::mem::take(&mut current)));
            }
            current.clear();
            start = i + 2;
            continue;
        }
        if current.is_empty() && line.trim().is_empty() {
            start = i + 2;
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    if !current.trim().is_empty() {
        out.push((start, current));
    }
    out
}

/// What does not load when `modules` are loaded into one engine.
fn load_together(modules: &[Module]) -> Vec<Diagnostic> {
    let mut engine = regorus::Engine::new();
    let mut problems = Vec::new();
    for m in modules {
        if let Err(e) = engine.add_policy(m.path.clone(), m.source.clone()) {
            problems.push(Diagnostic::file(
                Path::new(&m.path),
                format!("the policies do not load together: {e}"),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_load_together() {
        let set = PolicySet::builtin();
        assert!(set.only_builtin());
        assert!(!set.modules.is_empty());
        let problems: Vec<String> = load_together(&set.modules)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert!(problems.is_empty(), "{problems:?}");
        // The check itself: a module that does not load is reported, by
        // its path.
        let mut clash = set.modules.clone();
        let mut bad = clash[0].clone();
        bad.path = "broken.rego".into();
        bad.source = "package broken\n\ndeny contains msg if {\n".into();
        bad.builtin = false;
        clash.push(bad);
        let problems = load_together(&clash);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].to_string().contains("broken.rego"),
            "{}",
            problems[0]
        );
    }
}
