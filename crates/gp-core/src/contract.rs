//! The contract: every name goldenpath derives, computed in one place from
//! (platform, environment, deployment). Nothing else in the codebase formats
//! these strings.
//!
//! ```
//! use gp_core::{Contract, Deployment, Platform};
//! # let text = "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: goldenpath-idp\nprefix: goldenpath\ndomain: goldenpathidp.io\nowner: platform\nenvironments:\n  dev: {}\ncomponents: []\n";
//! let platform = Platform::from_source("goldenpath.yaml".as_ref(), text).unwrap();
//! let build = Deployment::Ephemeral("23-01-26-01".parse().unwrap());
//! let c = Contract::new(&platform, "dev", build).unwrap();
//! assert_eq!(c.cluster_name(), "goldenpath-dev-eks-23-01-26-01");
//! assert_eq!(c.host_suffix(), "b-23-01-26-01.dev.goldenpathidp.io");
//! assert_eq!(c.state_key(), "envs/dev/builds/23-01-26-01/terraform.tfstate");
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::build_id::BuildId;
pub use crate::model::RecordType;
use crate::model::{Deployment, Mode, Plane};
use crate::names::{self, NameError};
use crate::spec::{ComponentSpec, Platform};

mod dns;
mod view;
pub use view::{ContractView, HostView};

/// Why a name cannot be derived.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContractError {
    /// The environment is not declared.
    #[error("environment `{env}` is not declared in the spec (declared: {declared})")]
    UnknownEnvironment {
        /// What was asked for.
        env: String,
        /// What exists.
        declared: String,
    },
    /// A derived name breaks a DNS limit.
    #[error(transparent)]
    Name(#[from] NameError),
    /// The ExternalDNS ownership TXT name does not fit although the record
    /// name does.
    #[error(
        "ownership TXT name `{txt}` for `{host}` breaks a DNS limit ({reason}); ExternalDNS would create `{host}` without its ownership record"
    )]
    TxtOverflow {
        /// The record.
        host: String,
        /// The TXT name derived from it.
        txt: String,
        /// Which limit.
        reason: String,
    },
    /// An ephemeral deployment tried to publish outside its own suffix.
    #[error(
        "`{host}` is outside build {build}'s own suffix `{suffix}`; an ephemeral deployment may only publish names under it"
    )]
    OutsideSuffix {
        /// The name.
        host: String,
        /// The build.
        build: BuildId,
        /// Its suffix.
        suffix: String,
    },
    /// A database or app name that cannot appear in a secret path.
    #[error("`{0}` cannot name an app: use 3-63 characters of [a-z0-9_], starting with a letter")]
    AppName(String),
    /// A secret name that cannot appear below the deployment's scope.
    #[error(
        "`{0}` cannot name a secret: use segments of [a-z0-9_-] separated by `/`, the first starting with a letter and not `builds`"
    )]
    SecretName(String),
}

/// The names of one deployment of one environment.
#[derive(Clone, Debug)]
pub struct Contract<'p> {
    platform: &'p Platform,
    env: String,
    deployment: Deployment,
    /// The host suffix, worked out once: every host name of the
    /// deployment is made and checked against it.
    suffix: String,
}

impl<'p> Contract<'p> {
    /// The contract for `deployment` of `env`. Checks the host suffix.
    pub fn new(
        platform: &'p Platform,
        env: &str,
        deployment: Deployment,
    ) -> Result<Self, ContractError> {
        if platform.environment(env).is_none() {
            return Err(ContractError::UnknownEnvironment {
                env: env.into(),
                declared: platform.environment_names().collect::<Vec<_>>().join(", "),
            });
        }
        let mut c = Self {
            platform,
            env: env.into(),
            deployment,
            suffix: String::new(),
        };
        c.suffix = match c.build_id() {
            Some(b) => format!("b-{b}.{}.{}", c.env, platform.spec.domain.value),
            None => c.persistent_host_suffix(),
        };
        names::check_name(&c.suffix)?;
        Ok(c)
    }

    /// The platform.
    pub fn platform(&self) -> &'p Platform {
        self.platform
    }

    /// The environment.
    pub fn env(&self) -> &str {
        &self.env
    }

    /// The deployment.
    pub fn deployment(&self) -> Deployment {
        self.deployment
    }

    /// The build id, for an ephemeral deployment.
    pub fn build_id(&self) -> Option<BuildId> {
        self.deployment.build_id()
    }

    fn prefix(&self) -> &str {
        &self.platform.spec.prefix.value
    }

    /// `persistent` or `ephemeral` (the foundational plane is persistent).
    pub fn lifecycle(&self) -> Mode {
        match self.deployment {
            Deployment::Ephemeral(_) => Mode::Ephemeral,
            _ => Mode::Persistent,
        }
    }

    /// `{prefix}-{env}` or `{prefix}-{env}-{B}`.
    pub fn name_prefix(&self) -> String {
        match self.build_id() {
            Some(b) => format!("{}-{}-{b}", self.prefix(), self.env),
            None => format!("{}-{}", self.prefix(), self.env),
        }
    }

    /// The name of a CI role the generated workflows assume:
    /// `{prefix}-{env}-ci-{role}` (one per environment, never per build).
    pub fn ci_role_name(&self, role: &str) -> String {
        format!("{}-{}-ci-{role}", self.prefix(), self.env)
    }

    /// `{prefix}-{env}-eks` or `{prefix}-{env}-eks-{B}`.
    pub fn cluster_name(&self) -> String {
        match self.build_id() {
            Some(b) => format!("{}-{}-eks-{b}", self.prefix(), self.env),
            None => format!("{}-{}-eks", self.prefix(), self.env),
        }
    }

    /// Empty, or `-{B}`.
    pub fn irsa_role_suffix(&self) -> String {
        match self.build_id() {
            Some(b) => format!("-{b}"),
            None => String::new(),
        }
    }

    /// The Terraform state key of the deployment:
    /// `envs/{env}/terraform.tfstate` or
    /// `envs/{env}/builds/{B}/terraform.tfstate`.
    /// (`stateKeys.build` and `stateKeys.persistent` when the spec sets
    /// them.)
    pub fn state_key(&self) -> String {
        let [build, persistent, _] = self.platform.spec.state_keys.templates();
        match self.build_id() {
            Some(_) => self.expand_state_key(build, ""),
            None => self.expand_state_key(persistent, ""),
        }
    }

    /// The state key of a foundational component:
    /// `envs/{env}-{component}/terraform.tfstate` (never per build;
    /// `stateKeys.foundational` when set).
    pub fn foundational_state_key(&self, component: &str) -> String {
        let [_, _, foundational] = self.platform.spec.state_keys.templates();
        self.expand_state_key(foundational, component)
    }

    /// A state key template with this deployment's values.
    fn expand_state_key(&self, template: &str, component: &str) -> String {
        let build = self.build_id().map(|b| b.to_string()).unwrap_or_default();
        template
            .replace("{env}", &self.env)
            .replace("{build}", &build)
            .replace("{component}", component)
            .replace("{project}", &self.platform.spec.project.value)
            .replace("{prefix}", self.prefix())
    }

    /// The state key a component uses in this deployment: the deployment's
    /// for a disposable component, its own for a foundational one.
    pub fn component_state_key(&self, component: &ComponentSpec) -> String {
        match component.plane.value {
            Plane::Foundational => self.foundational_state_key(&component.name.value),
            Plane::Disposable => self.state_key(),
        }
    }

    /// The secret path of a database on the foundational instance:
    /// `{prefix}/{env}/{app}/postgres`.
    pub fn database_secret_path(&self, app: &str) -> Result<String, ContractError> {
        check_app(app)?;
        Ok(format!("{}/{}/{app}/postgres", self.prefix(), self.env))
    }

    /// The secret path of a per-build database:
    /// `{prefix}/{env}/builds/{B}/{app}/postgres`; for the persistent
    /// deployment the same as [`Self::database_secret_path`].
    pub fn build_database_secret_path(&self, app: &str) -> Result<String, ContractError> {
        check_app(app)?;
        Ok(match self.build_id() {
            Some(b) => format!("{}/{}/builds/{b}/{app}/postgres", self.prefix(), self.env),
            None => format!("{}/{}/{app}/postgres", self.prefix(), self.env),
        })
    }

    /// The name of an app's database (and login role) in this deployment:
    /// `{app}` for a database that lives as long as the environment, or
    /// `{app}_b{DDMMYYNN}` for a per-build one, so that builds sharing one
    /// instance never collide.
    pub fn build_database_name(&self, app: &str) -> Result<String, ContractError> {
        check_app(app)?;
        Ok(match self.build_id() {
            Some(b) => format!("{app}_b{}", b.to_string().replace('-', "")),
            None => app.to_string(),
        })
    }

    /// Where a foundational component keeps its own credentials (e.g. the
    /// database instance's admin password): `{prefix}/{env}/{component}/{name}`.
    pub fn component_secret_path(&self, component: &str, name: &str) -> String {
        format!("{}/{}/{component}/{name}", self.prefix(), self.env)
    }

    /// The folder of every build's secrets: `{prefix}/{env}/builds/`.
    pub fn builds_secret_scope(&self) -> String {
        format!("{}/{}/builds/", self.prefix(), self.env)
    }

    /// The bucket a bucket request asks for: `{prefix}-{env}-{app}-{purpose}`
    /// (S3's rules — 3 to 63 characters, lower case, digits and `-` —
    /// are the request's schema).
    pub fn request_bucket_name(&self, app: &str, purpose: &str) -> String {
        format!("{}-{}-{app}-{purpose}", self.prefix(), self.env)
    }

    /// Where a secret request's secret lives: `{prefix}/{env}/{service}/{name}`.
    pub fn request_secret_path(&self, service: &str, name: &str) -> String {
        format!("{}/{}/{service}/{name}", self.prefix(), self.env)
    }

    /// The ExternalSecret that syncs a secret request's secret into its
    /// app's namespace: `{service}-{name}-sync`.
    pub fn request_external_secret_name(&self, service: &str, name: &str) -> String {
        format!("{service}-{name}-sync")
    }

    /// The ExternalSecret (and the Kubernetes Secret it writes) that takes
    /// a requested database's credentials into its app's namespace:
    /// `{app}-postgres`.
    pub fn request_database_external_secret_name(&self, app: &str) -> String {
        format!("{app}-postgres")
    }

    /// The path of a generic secret a component owns:
    /// `{prefix}/{env}/{name}` (or under `builds/{B}/` for a build).
    pub fn secret_path(&self, name: &str) -> Result<String, ContractError> {
        check_secret_name(name)?;
        Ok(match self.build_id() {
            Some(b) => format!("{}/{}/builds/{b}/{name}", self.prefix(), self.env),
            None => format!("{}/{}/{name}", self.prefix(), self.env),
        })
    }

    /// The prefix every secret of this deployment lives under:
    /// `{prefix}/{env}/`, or `{prefix}/{env}/builds/{B}/` for a build.
    pub fn secret_scope(&self) -> String {
        match self.build_id() {
            Some(b) => format!("{}/{}/builds/{b}/", self.prefix(), self.env),
            None => format!("{}/{}/", self.prefix(), self.env),
        }
    }

    /// Whether a secret path belongs to this deployment: under its
    /// [`Self::secret_scope`], without `.` or `..` segments, and — for the
    /// persistent deployment and the foundational plane — not under a
    /// build's `builds/` folder.
    pub fn owns_secret_path(&self, path: &str) -> bool {
        let scope = self.secret_scope();
        let Some(rest) = path.strip_prefix(&scope) else {
            return false;
        };
        !rest.is_empty()
            && rest
                .split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
            && (self.build_id().is_some() || !rest.starts_with("builds/"))
    }

    /// Tags on everything this deployment creates.
    pub fn tags(&self) -> BTreeMap<String, String> {
        let spec = &self.platform.spec;
        let mut tags = BTreeMap::new();
        tags.insert("Environment".into(), self.env.clone());
        tags.insert("Project".into(), spec.project.value.clone());
        tags.insert("ManagedBy".into(), "goldenpath".into());
        tags.insert("Owner".into(), spec.owner.value.clone());
        tags.insert("Lifecycle".into(), self.lifecycle().to_string());
        if let Some(b) = self.build_id() {
            tags.insert("BuildId".into(), b.to_string());
        }
        tags
    }

    /// The tags that find what this deployment left in a cloud (the orphan
    /// sweep): `ManagedBy`, `Environment`, `Project`, and for a build its
    /// `BuildId`. `Owner`, `Lifecycle` and `Component` are left out, so a
    /// resource tagged by a module with fewer tags is still found.
    pub fn sweep_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.tags();
        tags.retain(|k, _| {
            matches!(
                k.as_str(),
                "ManagedBy" | "Environment" | "Project" | "BuildId"
            )
        });
        tags
    }

    /// The Terraform workspace of a component in this deployment: its
    /// name for a disposable component (under the deployment's state key),
    /// none for a foundational one (its own state key).
    pub fn terraform_workspace(&self, component: &ComponentSpec) -> Option<String> {
        (component.plane.value == Plane::Disposable).then(|| component.name.value.clone())
    }

    /// The folder of this deployment in the GitOps repository:
    /// `apps/{env}/persistent` or `apps/{env}/builds/{B}`.
    pub fn gitops_folder(&self) -> String {
        match self.build_id() {
            Some(b) => format!("apps/{}/builds/{b}", self.env),
            None => format!("apps/{}/persistent", self.env),
        }
    }

    /// The folder of a request's deliveries in the GitOps repository:
    /// `requests/{env}/{id}`.
    pub fn request_gitops_folder(&self, request: &crate::request::RequestId) -> String {
        format!("requests/{}/{request}", self.env)
    }

    /// The ExternalDNS domain filter (a regex) of a build: names under the
    /// build's own suffix, and the zone apex so ExternalDNS still finds the
    /// zone.
    pub fn build_domain_filter(&self, apex: &str) -> String {
        let escape = |s: &str| s.replace('.', "\\.");
        format!(
            "^(.+\\.)?{}$|^{}$",
            escape(&self.host_suffix()),
            escape(apex)
        )
    }

    /// The Argo CD Application of a component in this deployment:
    /// The Argo CD Application name of a component: `gitops.applicationName`
    /// (default `{prefix}-{env}-{build}-{component}`, the build part only in
    /// a build), lower case, at most 63 characters (checked by
    /// [`Contract::check_application_names`]).
    pub fn application_name(&self, component: &str) -> String {
        let template = self
            .platform
            .spec
            .gitops
            .application_name
            .as_ref()
            .map(|t| t.value.as_str())
            .unwrap_or("{prefix}-{env}-{build}-{component}");
        let build = self.build_id().map(|b| b.to_string()).unwrap_or_default();
        let name = template
            .replace("{prefix}", self.prefix())
            .replace("{env}", &self.env)
            .replace("{build}", &build)
            .replace("{component}", component);
        // A placeholder left empty leaves no doubled or dangling dash.
        let mut out = String::with_capacity(name.len());
        for part in name.split('-').filter(|p| !p.is_empty()) {
            if !out.is_empty() {
                out.push('-');
            }
            out.push_str(part);
        }
        out
    }

    /// The Application names of `components` in this deployment: each a
    /// valid Kubernetes name (DNS label rules, at most 63 characters), and
    /// no two alike (they share the cluster's Argo CD).
    pub fn check_application_names<'c>(
        &self,
        components: impl IntoIterator<Item = &'c str>,
    ) -> Result<(), String> {
        let mut seen: std::collections::BTreeMap<String, String> = Default::default();
        for c in components.into_iter().chain(std::iter::once("root")) {
            let name = self.application_name(c);
            if let Err(e) = names::check_label(&name, &name) {
                return Err(format!(
                    "the Application name `{name}` of `{c}` is not a valid Kubernetes name: {e}"
                ));
            }
            if let Some(other) = seen.insert(name.clone(), c.to_string()) {
                return Err(format!(
                    "`{other}` and `{c}` would both be the Application `{name}`: put {{component}} in gitops.applicationName"
                ));
            }
        }
        Ok(())
    }

    /// The app-of-apps root Application's name.
    pub fn root_application_name(&self) -> String {
        self.application_name("root")
    }

    /// Tags on a resource a component of this deployment creates (a
    /// secret, a record's owner): the deployment's [`Self::tags`] and the
    /// component. A resource that outlives the build (a database secret on
    /// the foundational instance) is tagged persistent, without the build.
    pub fn resource_tags(&self, component: &str, per_build: bool) -> BTreeMap<String, String> {
        let mut tags = self.tags();
        tags.insert("Component".into(), component.into());
        if !per_build {
            tags.insert("Lifecycle".into(), Mode::Persistent.to_string());
            tags.remove("BuildId");
        }
        tags
    }
}

/// A secret's name below the deployment's scope: segments of
/// `[a-z0-9_-]` separated by `/` (`backstage/secrets`, `github-token`),
/// the first starting with a letter and never `builds` (a build's folder).
fn check_secret_name(name: &str) -> Result<(), ContractError> {
    let first = name.split('/').next().unwrap_or_default();
    let ok = (3..=200).contains(&name.len())
        && name.as_bytes()[0].is_ascii_lowercase()
        && first != "builds"
        && name.split('/').all(|seg| {
            (1..=63).contains(&seg.len())
                && seg.as_bytes()[0].is_ascii_alphanumeric()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(ContractError::SecretName(name.into()))
    }
}

fn check_app(app: &str) -> Result<(), ContractError> {
    let ok = (3..=63).contains(&app.len())
        && app.as_bytes()[0].is_ascii_lowercase()
        && app
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ContractError::AppName(app.into()))
    }
}
