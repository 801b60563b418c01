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
}

/// DNS settings shared by goldenpath and the ExternalDNS it configures.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsSettings {
    /// The zone apex; defaults to `domain`.
    #[serde(default)]
    pub zone: Option<Spanned<String>>,
    /// ExternalDNS's `--txt-prefix`. May contain `%{record_type}`.
    #[serde(default)]
    pub txt_prefix: String,
    /// ExternalDNS's `--txt-suffix` (may hold `%{record_type}`): the TXT
    /// is `{prefix}{type}-{leftmost}{suffix}.{rest}`.
    #[serde(default)]
    pub txt_suffix: String,
    /// ExternalDNS's `--txt-wildcard-replacement`: what a leading `*`
    /// becomes in a TXT name.
    #[serde(default)]
    pub txt_wildcard_replacement: String,
    /// Also write the legacy-format ownership TXT (`{prefix}{name}`, as
    /// ExternalDNS before 0.12 wrote and 0.14 still writes beside the new
    /// one), for an older ExternalDNS reading the same zone. Read as
    /// ownership either way.
    #[serde(default)]
    pub txt_legacy: bool,
}

/// Terraform state keys (the `key` of every backend; a path under
/// `{state}/tfstate/` for the local one), as templates of `{env}`,
/// `{build}`, `{component}`, `{project}` and `{prefix}`. Checked at
/// validate: relative, no `..`, `{env}` in each, `{build}` in the build's
/// and only there, `{component}` in the foundational one, and no two keys
/// of an environment alike.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StateKeys {
    /// A build's key (default `envs/{env}/builds/{build}/terraform.tfstate`).
    #[serde(default)]
    pub build: Option<Spanned<String>>,
    /// The persistent deployment's key (default `envs/{env}/terraform.tfstate`).
    #[serde(default)]
    pub persistent: Option<Spanned<String>>,
    /// A foundational component's key (default
    /// `envs/{env}-{component}/terraform.tfstate`).
    #[serde(default)]
    pub foundational: Option<Spanned<String>>,
}

/// The default build state key template.
pub const BUILD_STATE_KEY: &str = "envs/{env}/builds/{build}/terraform.tfstate";
/// The default persistent state key template.
pub const PERSISTENT_STATE_KEY: &str = "envs/{env}/terraform.tfstate";
/// The default foundational state key template.
pub const FOUNDATIONAL_STATE_KEY: &str = "envs/{env}-{component}/terraform.tfstate";

impl StateKeys {
    /// The three templates, defaults filled in: build, persistent,
    /// foundational.
    pub fn templates(&self) -> [&str; 3] {
        fn t<'a>(o: &'a Option<Spanned<String>>, d: &'static str) -> &'a str {
            o.as_ref().map_or(d, |s| s.value.as_str())
        }
        [
            t(&self.build, BUILD_STATE_KEY),
            t(&self.persistent, PERSISTENT_STATE_KEY),
            t(&self.foundational, FOUNDATIONAL_STATE_KEY),
        ]
    }
}

/// The GitOps repository the gitops driver renders into.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GitopsSettings {
    /// The directory, relative to the spec (default `gitops`).
    #[serde(default = "gitops_path")]
    pub path: Spanned<String>,
    /// Keep it as a git repository and commit every render.
    #[serde(default)]
    pub git: bool,
    /// The URL ArgoCD pulls the repository from (default: the directory as
    /// a `file://` URL).
    #[serde(default)]
    pub repo_url: Option<String>,
    /// The branch or revision ArgoCD follows (default `HEAD`).
    #[serde(default = "head")]
    pub target_revision: String,
    /// ArgoCD's namespace (default `argocd`).
    #[serde(default = "argocd")]
    pub argocd_namespace: String,
    /// The ArgoCD project (default `default`).
    #[serde(default = "default_project")]
    pub project: String,
    /// The `ClusterSecretStore` ExternalSecrets read from (default
    /// `goldenpath`).
    #[serde(default = "store")]
    pub secret_store: String,
    /// How often ExternalSecrets refresh (default `1h`).
    #[serde(default = "hour")]
    pub refresh_interval: String,
    /// The remote Argo CD pulls from: every render and removal is committed
    /// and pushed there (a rejected push is rebased and retried), and the
    /// Applications reference it.
    #[serde(default)]
    pub remote: Option<GitopsRemote>,
    /// The Argo CD Application name, a template of `{prefix}`, `{env}`,
    /// `{build}` (the build id, empty in the persistent deployment; a `-`
    /// left dangling by it is dropped) and `{component}`. Default
    /// `{prefix}-{env}-{build}-{component}`; the platform's is
    /// `{env}-{component}`.
    #[serde(default)]
    pub application_name: Option<Spanned<String>>,
    /// The External Secrets API version rendered: `v1` or `v1beta1`.
    /// Default: from the chart version of the component that installs the
    /// `external-secrets` chart (before 0.16: `v1beta1`, which 0.17
    /// dropped; else `v1`), `v1` without one.
    #[serde(default)]
    pub external_secrets_api_version: Option<Spanned<String>>,
    /// Hostnames of persistent services a build may refer to, beyond the
    /// hosts of persistent-only components (which are always allowed).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

/// Policy settings: the user's Rego files beside the built-in set, rules
/// turned off, and the facts the built-in rules check against.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicySettings {
    /// Run policies at all during `deploy` (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Files or folders (searched for `*.rego`, `*_test.rego` included)
    /// relative to the spec. A file whose package is a built-in rule's
    /// replaces that rule.
    #[serde(default)]
    pub paths: Vec<Spanned<String>>,
    /// Rule ids turned off (built-in or the user's).
    #[serde(default)]
    pub disable: Vec<Spanned<String>>,
    /// Packages of the user's rules whose `deny`, `violation` and `warn`
    /// count (conftest's `--namespace`; default `main`).
    #[serde(default = "main_namespace")]
    pub namespaces: Vec<String>,
    /// Namespaces an Application may deploy to, beside those of the
    /// spec's gitops components.
    #[serde(default)]
    pub allowed_namespaces: Vec<String>,
    /// Argo CD projects an Application may use (default: `gitops.project`).
    #[serde(default)]
    pub allowed_projects: Vec<String>,
    /// Environments held to production rules (default `prod`).
    #[serde(default = "prod_envs")]
    pub production_environments: Vec<String>,
    /// Stop an evaluation after this long (default `10s`).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// Stop an evaluation that needs more memory than this, in MiB
    /// (default 1024).
    #[serde(default)]
    pub memory_mib: Option<u64>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            paths: Vec::new(),
            disable: Vec::new(),
            namespaces: main_namespace(),
            allowed_namespaces: Vec::new(),
            allowed_projects: Vec::new(),
            production_environments: prod_envs(),
            timeout: None,
            memory_mib: None,
        }
    }
}

fn yes() -> bool {
    true
}
fn main_namespace() -> Vec<String> {
    vec!["main".into()]
}
fn prod_envs() -> Vec<String> {
    vec!["prod".into()]
}

/// Whether a path from the spec stays inside the spec's folder: relative,
/// with no `..` segment (files the spec names are read and may end up in
/// rendered output).
pub fn stays_inside(path: &str) -> bool {
    !path.starts_with('/')
        && !path.starts_with('\\')
        && !path.split(['/', '\\']).any(|seg| seg == "..")
}

/// A GitOps remote.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GitopsRemote {
    /// Its URL (`git@github.com:acme/gitops.git`, `https://...`, a path).
    pub url: String,
    /// The branch (default `main`).
    #[serde(default = "main_branch")]
    pub branch: String,
}

fn main_branch() -> String {
    "main".into()
}

/// Self-service requests: where their files are, the enums their `domain`
/// and `owner` are checked against, and who approves.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequestsSettings {
    /// Globs of request files, relative to the spec (`**` crosses
    /// folders): e.g. `docs/20-contracts/rds-requests/**/*.yaml`. Default
    /// `requests/**/*.yaml`. A configured glob that matches no file is an
    /// error.
    #[serde(default)]
    pub paths: Vec<Spanned<String>>,
    /// An enums file of the platform's shape (top-level keys, each a list),
    /// e.g. `schemas/metadata/enums.yaml`: `domain` (key `domains` or
    /// `domain`) and `owner` (`owners` or `owner`) must be among its values.
    #[serde(default)]
    pub enums: Option<Spanned<String>>,
    /// Approvers by group (`platform`, `security`): who may approve what
    /// routes to the group. Without it, anyone but the requester approves.
    #[serde(default)]
    pub approvers: std::collections::BTreeMap<String, Vec<String>>,
    /// The AWS region bucket, secret and repository requests are applied
    /// in (default: `secrets.region`, else the SDK's chain, `AWS_REGION`).
    #[serde(default)]
    pub region: Option<String>,
}

fn gitops_path() -> Spanned<String> {
    Spanned::unpositioned("gitops".into())
}
fn head() -> String {
    "HEAD".into()
}
fn argocd() -> String {
    "argocd".into()
}
fn default_project() -> String {
    "default".into()
}
fn store() -> String {
    "goldenpath".into()
}
fn hour() -> String {
    "1h".into()
}

impl Default for GitopsSettings {
    fn default() -> Self {
        Self {
            path: gitops_path(),
            git: false,
            repo_url: None,
            target_revision: head(),
            argocd_namespace: argocd(),
            project: default_project(),
            secret_store: store(),
            refresh_interval: hour(),
            external_secrets_api_version: None,
            application_name: None,
            remote: None,
            allowed_hosts: Vec::new(),
        }
    }
}

/// Which secrets store the platform uses.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretsSettings {
    /// `local` (an encrypted file in the state directory, the default) or
    /// `aws` (AWS Secrets Manager).
    #[serde(default)]
    pub backend: SecretsBackend,
    /// AWS region, for the `aws` backend (default: the SDK's chain,
    /// `AWS_REGION` or the profile's).
    #[serde(default)]
    pub region: Option<String>,
    /// The KMS key (id, alias or ARN) new secrets are encrypted with, for
    /// the `aws` backend (default: the account's `aws/secretsmanager` key).
    #[serde(default)]
    pub kms_key_id: Option<String>,
}

/// A secrets backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SecretsBackend {
    /// The local encrypted store.
    #[default]
    Local,
    /// AWS Secrets Manager.
    Aws,
}

/// One environment.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentSpec {
    /// The persistent deployment's policy.
    #[serde(default)]
    pub persistent: DeploymentPolicy,
    /// Policy for every ephemeral (per-build) deployment.
    #[serde(default)]
    pub ephemeral: DeploymentPolicy,
    /// The persistent host suffix, replacing `{env}.{domain}`; e.g. prod
    /// uses the bare domain. Must be the domain or lie under it.
    #[serde(default)]
    pub host_suffix: Option<Spanned<String>>,
}

/// What a kind of deployment may run.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeploymentPolicy {
    /// The highest tier that runs; components above it are skipped.
    #[serde(default = "max_tier")]
    pub max_tier: Spanned<Tier>,
    /// How long an ephemeral build may live, e.g. `24h` or `7d`: its
    /// expiry is set at its reservation, and `goldenpath reap` tears it
    /// down after.
    #[serde(default)]
    pub ttl: Option<Spanned<String>>,
    /// The most `deploy --ttl` and `builds extend` may give a build, from
    /// now (default: `7d`, or the ttl when longer).
    #[serde(default)]
    pub max_ttl: Option<Spanned<String>>,
}

impl DeploymentPolicy {
    /// The ttl in seconds, if set.
    pub fn ttl_s(&self) -> Option<u64> {
        self.ttl.as_ref().and_then(|t| parse_duration(&t.value))
    }

    /// The longest life a build may be given from now, in seconds.
    pub fn max_ttl_s(&self) -> u64 {
        let max = self
            .max_ttl
            .as_ref()
            .and_then(|t| parse_duration(&t.value))
            .unwrap_or(7 * 86_400);
        max.max(self.ttl_s().unwrap_or(0))
    }
}

/// What `goldenpath reap` does before a build expires.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReaperSettings {
    /// Lead times before an expiry at which a notice is recorded and the
    /// command runs, e.g. `[2h, 30m]`.
    #[serde(default)]
    pub notices: Vec<Spanned<String>>,
    /// The notice command (a program and its arguments, relative to the
    /// spec), run with `GOLDENPATH_NOTICE_ENV`, `_BUILD`, `_LEAD_S`,
    /// `_TIME_LEFT_S` and `_EXPIRES_AT` in its environment.
    #[serde(default)]
    pub command: Vec<String>,
}

fn max_tier() -> Spanned<Tier> {
    Spanned::unpositioned(Tier::MAX)
}

impl Default for DeploymentPolicy {
    fn default() -> Self {
        Self {
            max_tier: max_tier(),
            ttl: None,
            max_ttl: None,
        }
    }
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
