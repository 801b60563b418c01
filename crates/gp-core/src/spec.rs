//! The platform spec, `goldenpath.yaml`.
//!
//! Loading reads the file once into a [`yaml::Node`](crate::yaml::Node) tree,
//! types it (unknown keys and wrong types are errors with positions), then
//! checks what types cannot: names, references, planes, cycles. Every problem
//! found is reported, each with its file, line and column.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, InvalidInput};
use crate::model::{Mode, Plane, Tier};
use crate::names;
use crate::yaml::{self, Pos, RawNode, Spanned};

mod check;
mod settings;
pub use settings::*;

/// The `apiVersion` this build of goldenpath reads.
pub const API_VERSION: &str = "goldenpath.dev/v1alpha1";

/// `goldenpath.yaml` as written.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "goldenpath platform spec")]
pub struct PlatformSpec {
    /// Always `goldenpath.dev/v1alpha1`.
    pub api_version: Spanned<String>,
    /// Always `Platform`.
    pub kind: Spanned<String>,
    /// The project, e.g. `goldenpath-idp`; the `Project` tag.
    pub project: Spanned<String>,
    /// The name prefix every derived name starts with, e.g. `goldenpath`.
    pub prefix: Spanned<String>,
    /// The platform's DNS domain, e.g. `goldenpathidp.io`.
    pub domain: Spanned<String>,
    /// The owning team; the `Owner` tag.
    pub owner: Spanned<String>,
    /// Where goldenpath keeps its state, relative to this file (default
    /// `.goldenpath`). `--state-dir` and `GOLDENPATH_STATE_DIR` override it.
    #[serde(default)]
    pub state_dir: Option<Spanned<String>>,
    /// DNS ownership settings shared with ExternalDNS.
    #[serde(default)]
    pub dns: DnsSettings,
    /// Terraform state keys as templates, for a platform whose existing
    /// state is laid out differently from the defaults.
    #[serde(default)]
    pub state_keys: StateKeys,
    /// Where secrets live.
    #[serde(default)]
    pub secrets: SecretsSettings,
    /// Environments, in the order they are promoted through.
    pub environments: IndexMap<Spanned<String>, EnvironmentSpec>,
    /// Every component of both planes.
    pub components: Vec<ComponentSpec>,
    /// Where the gitops driver renders ArgoCD applications.
    #[serde(default)]
    pub gitops: GitopsSettings,
    /// Where self-service request files are and who approves them.
    #[serde(default)]
    pub requests: Option<RequestsSettings>,
    /// Notices before a build expires (`goldenpath reap`).
    #[serde(default)]
    pub reaper: ReaperSettings,
    /// Policies checked before anything reaches the cluster or Terraform
    /// applies (`goldenpath policy`).
    #[serde(default)]
    pub policy: PolicySettings,
    /// Docs-as-code governance settings (`goldenpath docs check`).
    #[serde(default)]
    pub docs: Option<RawNode>,
    /// What `goldenpath drift` leaves out as known noise.
    #[serde(default)]
    pub drift: DriftSettings,
    /// What `goldenpath iam` needs beyond its own tables.
    #[serde(default)]
    pub iam: IamSettings,
}

/// One component of the platform.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComponentSpec {
    /// Unique name: a DNS label (`[a-z0-9-]`, at most 63 bytes).
    pub name: Spanned<String>,
    /// One line saying what it is.
    #[serde(default)]
    pub description: Option<String>,
    /// `foundational` or `disposable`.
    pub plane: Spanned<Plane>,
    /// 0, 1, 1.5, 2 or 3.
    pub tier: Spanned<Tier>,
    /// For disposable components: the deployment kinds it runs in
    /// (default both).
    #[serde(default)]
    pub modes: Option<Spanned<Vec<Mode>>>,
    /// A protected foundational component can only be torn down with
    /// `--break-glass NAME`.
    #[serde(default)]
    pub protected: Spanned<bool>,
    /// The driver that deploys it: `exec`, `postgres`, `secrets`, `dns`,
    /// `terraform`, `gitops`.
    pub driver: Spanned<String>,
    /// The driver's settings. Values may reference outputs of needed
    /// components as `${component.output}`.
    #[serde(default)]
    pub settings: Option<RawNode>,
    /// Components (or `component/resource`, e.g. `rds/backstage`) that must
    /// be deployed first.
    #[serde(default)]
    pub needs: Vec<Spanned<String>>,
    /// Hostnames it serves, relative to the deployment's host suffix.
    #[serde(default)]
    pub hosts: Vec<HostSpec>,
    /// Secrets it reads.
    #[serde(default)]
    pub secrets: Vec<SecretUse>,
}

/// A hostname a component serves.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostSpec {
    /// The name relative to the host suffix, e.g. `backstage`.
    pub name: Spanned<String>,
    /// What the record points at: an IP address (A/AAAA), a hostname
    /// (CNAME), or `${component.output}`.
    #[serde(default)]
    pub target: Option<Spanned<String>>,
    /// The record type, when the target is a reference whose kind is not
    /// known until deploy time; otherwise inferred from the target.
    #[serde(default, rename = "type")]
    pub record_type: Option<crate::model::RecordType>,
}

impl HostSpec {
    /// The record type: explicit, else inferred from a literal target, else
    /// CNAME.
    pub fn record_type(&self) -> crate::model::RecordType {
        use crate::model::RecordType;
        if let Some(t) = self.record_type {
            return t;
        }
        match &self.target {
            Some(t) if !t.value.contains("${") => RecordType::for_target(&t.value),
            _ => RecordType::Cname,
        }
    }
}

/// A secret a component reads, as its pods will see it.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretUse {
    /// `component/resource`, e.g. `rds/backstage` for the backstage
    /// database's credentials.
    pub from: Spanned<String>,
    /// The Kubernetes secret name; defaults to `{component}-{resource}`.
    #[serde(default)]
    pub name: Option<String>,
    /// Kubernetes key ← secret key, e.g. `DB_PASS: password`. Several
    /// entries with the same `name` fill one Secret (a key twice is an
    /// error).
    #[serde(default)]
    pub keys: IndexMap<String, Spanned<String>>,
    /// How often this Secret is refreshed (default `gitops.refreshInterval`).
    #[serde(default)]
    pub refresh_interval: Option<String>,
    /// Take the whole source secret, every key as it is (External Secrets'
    /// `dataFrom.extract`), instead of `keys`.
    #[serde(default)]
    pub extract: bool,
    /// External Secrets' `target.template` for the Secret, as written
    /// (`{type, data: {KEY: "{{ .password }}"}}`).
    #[serde(default)]
    pub template: Option<crate::yaml::RawNode>,
}

impl SecretUse {
    /// The Kubernetes Secret it fills: `name`, else `{component}-{resource}`
    /// with `_` written `-`.
    pub fn target_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| match crate::Ref::parse(&self.from.value) {
                Some(r) => format!(
                    "{}-{}",
                    r.component,
                    r.resource.unwrap_or_default().replace('_', "-")
                ),
                None => self.from.value.replace(['/', '_'], "-"),
            })
    }
}

impl<T: std::hash::Hash> std::hash::Hash for Spanned<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}
impl<T: Eq> Eq for Spanned<T> {}

/// A parsed, checked platform spec and where it came from.
#[derive(Clone, Debug)]
pub struct Platform {
    /// The spec file.
    pub path: PathBuf,
    /// Its text, for quoting lines in later diagnostics.
    pub source: Arc<str>,
    /// What it says.
    pub spec: PlatformSpec,
    index: HashMap<String, usize>,
}

/// A reference to a component or to a resource it publishes, e.g.
/// `rds` or `rds/backstage`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ref {
    /// The component.
    pub component: String,
    /// The resource within it, if any.
    pub resource: Option<String>,
}

impl Ref {
    /// Parses `component` or `component/resource`; a resource may have
    /// segments of its own (`app-secrets/backstage/secrets`, a secret named
    /// `backstage/secrets`).
    pub fn parse(s: &str) -> Option<Ref> {
        let (component, resource) = match s.split_once('/') {
            Some((c, r)) => (c, Some(r)),
            None => (s, None),
        };
        let resource_ok = resource.is_none_or(|r| {
            !r.is_empty()
                && r.as_bytes()[0].is_ascii_lowercase()
                && r.split('/').all(|seg| {
                    !seg.is_empty()
                        && seg.as_bytes()[0].is_ascii_alphanumeric()
                        && seg.bytes().all(|b| {
                            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                        })
                })
        });
        if component.is_empty() || !resource_ok {
            return None;
        }
        Some(Ref {
            component: component.into(),
            resource: resource.map(Into::into),
        })
    }
}

impl std::fmt::Display for Ref {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.resource {
            Some(r) => write!(f, "{}/{}", self.component, r),
            None => f.write_str(&self.component),
        }
    }
}

impl Platform {
    /// Reads and checks a spec file.
    pub fn load(path: &Path) -> Result<Platform, InvalidInput> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Diagnostic::file(path, format!("cannot read the platform spec: {e}"))
                .with_hint("create one with `goldenpath init`, or point at it with --spec PATH")
        })?;
        Self::from_source(path, &text)
    }

    /// Parses and checks spec text; `path` is only used in messages.
    pub fn from_source(path: &Path, text: &str) -> Result<Platform, InvalidInput> {
        let node = yaml::parse(text)
            .map_err(|e| Diagnostic::at(path, text, e.pos, format!("invalid YAML: {}", e.message)))?
            .ok_or_else(|| Diagnostic::file(path, "the platform spec is empty"))?;
        if let Some((pos, c)) = yaml::find_control(&node) {
            return Err(Diagnostic::at(
                path,
                text,
                pos,
                format!("control character {} in a value: escape sequences and NULs are not allowed in the spec", c.escape_unicode()),
            )
            .into());
        }
        let spec: PlatformSpec = yaml::from_node(&node).map_err(|e| {
            let pos = e.pos.unwrap_or(node.start);
            Diagnostic::at(path, text, pos, e.message).with_hint_opt(e.hint)
        })?;
        let mut platform = Platform {
            path: path.to_path_buf(),
            source: Arc::from(text),
            index: HashMap::new(),
            spec,
        };
        let diagnostics = platform.check();
        if diagnostics.is_empty() {
            Ok(platform)
        } else {
            Err(InvalidInput(diagnostics))
        }
    }

    /// A diagnostic at `pos` in the spec file.
    pub fn diagnostic(&self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.path, &self.source, pos, message)
    }

    /// Where a top-level setting is written, by its path of keys
    /// (`["secrets", "backend"]`): the value's position, else the nearest
    /// written parent's, else the file's start.
    pub fn position_of(&self, path: &[&str]) -> Pos {
        let start = Pos {
            line: 1,
            col: 1,
            offset: 0,
        };
        let Ok(Some(root)) = crate::yaml::parse(&self.source) else {
            return start;
        };
        let mut node = &root;
        let mut pos = start;
        for key in path {
            match node.get(key) {
                Some(n) => {
                    pos = n.start;
                    node = n;
                }
                None => break,
            }
        }
        pos
    }

    /// The component called `name`.
    pub fn component(&self, name: &str) -> Option<&ComponentSpec> {
        self.index.get(name).map(|&i| &self.spec.components[i])
    }

    /// The environment called `name`.
    pub fn environment(&self, name: &str) -> Option<&EnvironmentSpec> {
        self.spec
            .environments
            .iter()
            .find(|(k, _)| k.value == name)
            .map(|(_, v)| v)
    }

    /// Environment names in declaration order.
    pub fn environment_names(&self) -> impl Iterator<Item = &str> {
        self.spec.environments.keys().map(|k| k.value.as_str())
    }

    /// The zone apex.
    pub fn zone(&self) -> &str {
        self.spec
            .dns
            .zone
            .as_ref()
            .map(|z| z.value.as_str())
            .unwrap_or(self.spec.domain.value.as_str())
    }

    /// The directory the spec lives in; relative paths in it resolve here.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

impl ComponentSpec {
    /// Whether a disposable component runs in deployments of this mode.
    pub fn runs_in(&self, mode: Mode) -> bool {
        match &self.modes {
            None => true,
            Some(m) => m.value.contains(&mode),
        }
    }

    /// The parsed `needs`.
    pub fn need_refs(&self) -> impl Iterator<Item = (Ref, &Spanned<String>)> {
        self.needs
            .iter()
            .filter_map(|n| Ref::parse(&n.value).map(|r| (r, n)))
    }

    /// The settings subtree, or an empty mapping positioned at the
    /// component.
    pub fn settings_node(&self) -> yaml::Node {
        match &self.settings {
            Some(raw) => raw.0.clone(),
            None => yaml::Node::empty_map(self.name.start),
        }
    }
}

/// "did you mean" for a misspelt name among `candidates`.
pub fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a String>) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The candidate closest to `name`, when one is close enough to be a typo.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    let all: Vec<&'a String> = candidates.collect();
    let best = closest_str(name, all.iter().map(|c| c.as_str()))?;
    all.into_iter().find(|c| c.as_str() == best)
}

/// goldenpath's one typo metric: the candidate with the highest
/// Jaro-Winkler similarity to `name`, when it is above 0.8 (every "did
/// you mean" — the spec's, a request's, a field's, a value's — asks this).
pub fn closest_str<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Parses a duration such as `30m`, `24h` or `7d` into seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&v| v > 0)
}

/// The JSON Schema of `goldenpath.yaml`, for editors.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(PlatformSpec);
    serde_json::to_value(schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
environments:
  dev: {}
components:
  - name: a
    plane: disposable
    tier: 0
    driver: exec
";

    fn load(text: &str) -> Result<Platform, InvalidInput> {
        Platform::from_source(Path::new("goldenpath.yaml"), text)
    }

    #[test]
    fn minimal_spec_loads() {
        let p = load(MINIMAL).unwrap();
        assert_eq!(p.environment_names().collect::<Vec<_>>(), ["dev"]);
        assert_eq!(p.zone(), "example.io");
        assert!(p.component("a").is_some());
    }

    #[test]
    fn cycles_are_named() {
        let text = format!(
            "{MINIMAL}    needs: [c]\n  - name: b\n    plane: disposable\n    tier: 0\n    driver: exec\n    needs: [a]\n  - name: c\n    plane: disposable\n    tier: 0\n    driver: exec\n    needs: [b]\n"
        );
        let err = load(&text).unwrap_err();
        assert!(
            err.0[0]
                .message
                .contains("dependency cycle: a -> c -> b -> a"),
            "{err}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Some(86400));
        assert_eq!(parse_duration("7d"), Some(604800));
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("0h"), None);
        assert_eq!(parse_duration("3w"), None);
    }

    #[test]
    fn refs() {
        assert_eq!(
            Ref::parse("rds/backstage"),
            Some(Ref {
                component: "rds".into(),
                resource: Some("backstage".into())
            })
        );
        assert!(Ref::parse("rds/").is_none());
        assert!(Ref::parse("rds/Bad").is_none());
    }
}
