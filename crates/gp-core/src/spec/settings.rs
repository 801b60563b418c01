//! The spec's settings blocks: DNS, state keys, GitOps, policies, requests,
//! secrets, environments and their deployment policies.

use super::*;

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

/// What `goldenpath iam` needs beyond its own tables.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IamSettings {
    /// Terraform resource types goldenpath's table does not hold (or holds
    /// otherwise), by type: `aws_sqs_queue: {cfn: [AWS::SQS::Queue]}`.
    #[serde(default)]
    pub terraform_types: std::collections::BTreeMap<String, IamTerraformType>,
}

/// What a Terraform resource type needs in IAM.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IamTerraformType {
    /// CloudFormation types whose handlers' permissions it needs (from
    /// AWS's published resource schemas).
    #[serde(default)]
    pub cfn: Vec<String>,
    /// Or IAM actions, named outright (every access).
    #[serde(default)]
    pub actions: Vec<String>,
    /// An ARN template scoping it to what a saved plan names:
    /// `{attribute}` is the attribute's planned value.
    #[serde(default)]
    pub arn: Option<String>,
}

/// What `goldenpath drift` leaves out.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DriftSettings {
    /// Differences that are known noise: each one matched is counted in
    /// drift's output, never reported as drift.
    #[serde(default)]
    pub ignore: Vec<DriftIgnore>,
}

/// One kind of known noise.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DriftIgnore {
    /// The component it applies to (a glob: `*` any run of characters, `?`
    /// one); every component when left out.
    #[serde(default)]
    pub component: Option<Spanned<String>>,
    /// The difference as drift reports it (a glob: a Terraform address and
    /// attribute, `*CONNECTION LIMIT*`, `*.example.test A *`).
    #[serde(rename = "match")]
    pub matches: Spanned<String>,
    /// Why it is noise, for the reader.
    #[serde(default)]
    pub reason: Option<String>,
}

impl DriftIgnore {
    /// Whether this rule leaves out `difference` of `component`.
    pub fn covers(&self, component: &str, difference: &str) -> bool {
        self.component
            .as_ref()
            .is_none_or(|c| glob_match(&c.value, component))
            && glob_match(&self.matches.value, difference)
    }
}

/// Whether `text` matches `pattern`, whole: `*` stands for any run of
/// characters (none too), `?` for one; everything else for itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // The classic two-pointer match, backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
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

#[cfg(test)]
mod drift_tests {
    use super::{DriftIgnore, glob_match};
    use crate::yaml::Spanned;

    #[test]
    fn globs_match_whole_texts() {
        for (p, t) in [
            ("*", ""),
            ("*", "anything at all"),
            ("a*c", "abbbc"),
            ("a*c", "ac"),
            ("*CONNECTION LIMIT*", "ALTER ROLE x CONNECTION LIMIT 5"),
            ("aws_s3_bucket.*.tags*", "aws_s3_bucket.logs.tags[\"x\"]"),
            ("?b", "ab"),
            ("a*b*c", "a-b-b-c"),
            ("é*", "été"),
        ] {
            assert!(glob_match(p, t), "{p} {t}");
        }
        for (p, t) in [
            ("a", "ab"),
            ("ab", "a"),
            ("a*c", "abd"),
            ("?", ""),
            ("?b", "b"),
            ("*x", "abc"),
            ("", "a"),
        ] {
            assert!(!glob_match(p, t), "{p} {t}");
        }
    }

    #[test]
    fn a_rule_covers_its_component_or_every_one() {
        let rule = |component: Option<&str>, m: &str| DriftIgnore {
            component: component.map(|c| Spanned::unpositioned(c.to_string())),
            matches: Spanned::unpositioned(m.to_string()),
            reason: None,
        };
        let r = rule(Some("rds"), "*CONNECTION LIMIT*");
        assert!(r.covers("rds", "role keycloak: CONNECTION LIMIT 3"));
        assert!(!r.covers("cluster", "role keycloak: CONNECTION LIMIT 3"));
        assert!(!r.covers("rds", "database keycloak is gone"));
        let any = rule(None, "*tags*");
        assert!(any.covers("cluster", "aws_s3_bucket.x.tags changed"));
        assert!(rule(Some("dns-*"), "*").covers("dns-zone", "x"));
    }
}
