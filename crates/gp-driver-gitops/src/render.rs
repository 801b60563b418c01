//! Rendering a deployment's GitOps tree from the contract. Pure: the same
//! inputs give byte-identical files.
//!
//! ```text
//! apps/{env}/persistent/            or apps/{env}/builds/{B}/
//!   root.yaml                       the app-of-apps root Application
//!   bootstrap-values.yaml           {mode, maxTier, env, buildId, rdsAvailable}
//!   {component}/application.yaml    a child Application
//!   {component}/values.yaml         Helm values with `global` from the contract
//!   {component}/manifests/namespace.yaml
//!   {component}/manifests/externalsecret-{name}.yaml
//! ```

mod secrets;

use std::collections::BTreeMap;

use gp_core::spec::GitopsSettings;
use gp_core::{ComponentSpec, Contract, Deployment, Platform, Tier};
use gp_driver::{ComponentOutputs, DriverError};
use serde::Deserialize;
use serde_json::{Value, json};

pub use secrets::external_secrets_api_version;

/// The finalizer that makes deleting an Application delete its resources.
pub const FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// A Helm chart source: a chart of a Helm repository (`chart`), or a chart
/// at a `path` of a git repository.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Chart {
    /// Helm repository or git URL (ArgoCD's spelling).
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Chart name in a Helm repository.
    #[serde(default)]
    pub chart: String,
    /// Or the chart's folder in a git repository
    /// (`gitops/helm/backstage/chart`).
    #[serde(default)]
    pub path: Option<String>,
    /// Version (or the git revision).
    pub target_revision: String,
}

/// What a component changes in one environment.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentOverride {
    /// The chart version there (Keycloak runs another in dev).
    #[serde(default)]
    pub target_revision: Option<String>,
    /// Values files (relative to the spec) merged after the component's.
    #[serde(default)]
    pub values_files: Vec<String>,
    /// Values merged after those.
    #[serde(default)]
    pub values: Option<gp_core::yaml::RawNode>,
}

/// Settings of a `gitops` component.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GitopsComponent {
    /// The namespace its resources go to (rendered as a `Namespace`).
    pub namespace: gp_core::yaml::Spanned<String>,
    /// The Helm chart; without one the Application syncs the rendered
    /// manifests only.
    #[serde(default)]
    pub chart: Option<Chart>,
    /// Values files (relative to the spec, e.g. `values/common.yaml`),
    /// merged in order before `values`.
    #[serde(default)]
    pub values_files: Vec<String>,
    /// Helm values merged under the contract's `global`.
    #[serde(default)]
    pub values: Option<gp_core::yaml::RawNode>,
    /// Per environment: chart version, values files and values.
    #[serde(default)]
    pub environments: BTreeMap<String, EnvironmentOverride>,
    /// This component is ExternalDNS: render its ownership settings.
    #[serde(default)]
    pub external_dns: bool,
    /// Render (and own) its `Namespace` (default: yes, except for the
    /// system namespaces `kube-system`, `kube-public`, `kube-node-lease`
    /// and `default`, which are never rendered).
    #[serde(default)]
    pub create_namespace: Option<bool>,
}

/// Namespaces a cluster has of its own: never rendered, never owned.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["kube-system", "kube-public", "kube-node-lease", "default"];

/// Everything rendering needs besides the component.
pub struct RenderCtx<'a> {
    /// The platform.
    pub platform: &'a Platform,
    /// The deployment's contract.
    pub contract: &'a Contract<'a>,
    /// GitOps settings.
    pub gitops: &'a GitopsSettings,
    /// Whether the foundational database is deployed.
    pub rds_available: bool,
    /// The repo URL ArgoCD pulls.
    pub repo_url: String,
}

/// A rendered tree: path relative to the GitOps directory → content.
pub type Files = BTreeMap<String, String>;

/// `apps/{env}/persistent` or `apps/{env}/builds/{B}`.
pub fn deployment_dir(contract: &Contract<'_>) -> String {
    contract.gitops_folder()
}

/// YAML text of a value.
pub fn yaml(v: &Value) -> Result<String, DriverError> {
    serde_saphyr::to_string(v)
        .map_err(|e| DriverError::permanent(format!("cannot write YAML: {e}")))
}

fn labels(rc: &RenderCtx<'_>, tier: Option<Tier>, component: Option<&str>) -> Value {
    let c = rc.contract;
    let mut l = serde_json::Map::new();
    l.insert("app.kubernetes.io/managed-by".into(), json!("goldenpath"));
    l.insert("goldenpath.dev/env".into(), json!(c.env()));
    l.insert(
        "goldenpath.dev/build-id".into(),
        json!(c.build_id().map(|b| b.to_string()).unwrap_or_default()),
    );
    l.insert(
        "goldenpath.dev/lifecycle".into(),
        json!(c.lifecycle().to_string()),
    );
    if let Some(t) = tier {
        l.insert("goldenpath.dev/tier".into(), json!(t.to_string()));
    }
    if let Some(name) = component {
        l.insert("goldenpath.dev/component".into(), json!(name));
    }
    Value::Object(l)
}

fn sync_policy() -> Value {
    // No CreateNamespace: each app renders its Namespace, so deleting the
    // app (and its finalizer) removes the namespace too.
    json!({"automated": {"prune": true, "selfHeal": true}})
}

/// The highest tier this deployment runs.
pub fn max_tier(platform: &Platform, contract: &Contract<'_>) -> Tier {
    let env = platform.environment(contract.env());
    match (env, contract.deployment()) {
        (Some(e), Deployment::Ephemeral(_)) => e.ephemeral.max_tier.value,
        (Some(e), _) => e.persistent.max_tier.value,
        (None, _) => Tier::MAX,
    }
}

/// The root Application and the bootstrap values.
pub fn render_root(rc: &RenderCtx<'_>) -> Result<Files, DriverError> {
    let c = rc.contract;
    let dir = deployment_dir(c);
    let root = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": c.root_application_name(),
            "namespace": rc.gitops.argocd_namespace,
            "labels": labels(rc, None, None),
            "finalizers": [FINALIZER],
        },
        "spec": {
            "project": rc.gitops.project,
            "source": {
                "repoURL": rc.repo_url,
                "targetRevision": rc.gitops.target_revision,
                "path": dir,
                "directory": {"recurse": true, "include": "*/application.yaml"},
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": rc.gitops.argocd_namespace},
            "syncPolicy": sync_policy(),
        },
    });
    let bootstrap = json!({
        "mode": c.lifecycle().to_string(),
        "maxTier": max_tier(rc.platform, c),
        "env": c.env(),
        "buildId": c.build_id().map(|b| b.to_string()).unwrap_or_default(),
        "rdsAvailable": rc.rds_available,
    });
    crate::schemas::check_application(&root, &format!("{dir}/root.yaml"))?;
    Ok(Files::from([
        (format!("{dir}/root.yaml"), yaml(&root)?),
        (format!("{dir}/bootstrap-values.yaml"), yaml(&bootstrap)?),
    ]))
}

/// Deep-merges `over` into `base` (objects merge; anything else replaces).
pub fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// One component's files: its values, its manifests (the namespace, the
/// ClusterSecretStore, its ExternalSecrets) and its Application.
pub fn render_component(
    rc: &RenderCtx<'_>,
    component: &ComponentSpec,
    settings: &GitopsComponent,
    inputs: &BTreeMap<String, ComponentOutputs>,
) -> Result<Files, DriverError> {
    let r = Rendering {
        rc,
        component,
        settings,
        name: &component.name.value,
        dir: format!("{}/{}", deployment_dir(rc.contract), component.name.value),
        namespace: settings.namespace.value.clone(),
        tier: component.tier.value,
    };
    let mut files = Files::new();
    files.insert(format!("{}/values.yaml", r.dir), r.values()?);
    r.namespace_and_store(&mut files)?;
    r.external_secrets(inputs, &mut files)?;
    r.application(&mut files)?;
    Ok(files)
}

/// One component being rendered.
struct Rendering<'a> {
    rc: &'a RenderCtx<'a>,
    component: &'a ComponentSpec,
    settings: &'a GitopsComponent,
    name: &'a str,
    dir: String,
    namespace: String,
    tier: gp_core::Tier,
}

impl Rendering<'_> {
    /// `values.yaml`.
    fn values(&self) -> Result<String, DriverError> {
        let (rc, component, settings, dir) = (self.rc, self.component, self.settings, &self.dir);
        let c = rc.contract;
        // Values: the contract's globals and hostnames, the component's own
        // values, then the contract again so nothing can hard-code over it.
        let mut hostnames = serde_json::Map::new();
        for h in &component.hosts {
            let rtype = h.record_type();
            let fqdn = c
                .hostname(&h.name.value, rtype)
                .map_err(|e| DriverError::configuration(e.to_string()))?;
            hostnames.insert(h.name.value.clone(), json!(fqdn));
        }
        let global = json!({
            "env": c.env(),
            "lifecycle": c.lifecycle().to_string(),
            "buildId": c.build_id().map(|b| b.to_string()).unwrap_or_default(),
            "hostSuffix": c.host_suffix(),
            "dnsOwnerId": c.dns_owner_id(),
        });
        let mut values = json!({ "global": global.clone() });
        if !hostnames.is_empty() {
            values["hostnames"] = Value::Object(hostnames);
        }
        // The documented order: the component's values files, its values, the
        // environment's values files, the environment's values; the contract's
        // `global` last, so nothing hard-codes over it.
        let env_override = settings.environments.get(c.env());
        let files_of = |list: &[String]| -> Result<Vec<Value>, DriverError> {
            list.iter()
                .map(|f| {
                    if !gp_core::spec::stays_inside(f) {
                        return Err(DriverError::configuration(format!(
                            "values file `{f}` leaves the spec's folder"
                        )));
                    }
                    let path = rc.platform.base_dir().join(f);
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        DriverError::configuration(format!("cannot read the values file {f}: {e}"))
                    })?;
                    Ok(gp_core::yaml::parse(&text)
                        .map_err(|e| {
                            DriverError::configuration(format!("{f}: invalid YAML: {}", e.message))
                        })?
                        .map(|n| n.to_json())
                        .unwrap_or(Value::Null))
                })
                .collect()
        };
        for v in files_of(&settings.values_files)? {
            merge(&mut values, &v);
        }
        if let Some(v) = &settings.values {
            merge(&mut values, &v.0.to_json());
        }
        if let Some(o) = env_override {
            for v in files_of(&o.values_files)? {
                merge(&mut values, &v);
            }
            if let Some(v) = &o.values {
                merge(&mut values, &v.0.to_json());
            }
        }
        merge(&mut values, &json!({ "global": global }));
        if settings.external_dns {
            let apex = rc.platform.zone();
            // The user's domain filters are kept, the zone apex added.
            let mut filters: Vec<Value> = values
                .get("domainFilters")
                .and_then(|a| a.as_array())
                .cloned()
                .unwrap_or_default();
            if !filters.iter().any(|f| f.as_str() == Some(apex)) {
                filters.push(json!(apex));
            }
            let mut dns = json!({
                "txtOwnerId": c.dns_owner_id(),
                "domainFilters": filters,
                "policy": "sync",
                "registry": "txt",
            });
            let prefix = &rc.platform.spec.dns.txt_prefix;
            if !prefix.is_empty() {
                dns["txtPrefix"] = json!(prefix);
            }
            let suffix = &rc.platform.spec.dns.txt_suffix;
            if !suffix.is_empty() {
                dns["txtSuffix"] = json!(suffix);
            }
            let wildcard = &rc.platform.spec.dns.txt_wildcard_replacement;
            let mut args: Vec<Value> = values
                .get("extraArgs")
                .and_then(|a| a.as_array())
                .cloned()
                .unwrap_or_default();
            if !wildcard.is_empty() {
                args.retain(|a| {
                    !a.as_str()
                        .is_some_and(|s| s.starts_with("--txt-wildcard-replacement"))
                });
                args.push(json!(format!("--txt-wildcard-replacement={wildcard}")));
                dns["extraArgs"] = Value::Array(args.clone());
            }
            if c.build_id().is_some() {
                // A build manages only names under its own suffix; the apex
                // stays matchable so ExternalDNS still finds the zone. The
                // user's own arguments are kept (`--aws-zone-type=public`).
                args.retain(|a| {
                    !a.as_str()
                        .is_some_and(|s| s.starts_with("--regex-domain-filter"))
                });
                args.push(json!(format!(
                    "--regex-domain-filter={}",
                    c.build_domain_filter(apex)
                )));
                dns["extraArgs"] = Value::Array(args);
            }
            merge(&mut values, &dns);
            crate::schemas::check_external_dns(&values, &format!("{dir}/values.yaml"))?;
        }
        yaml(&values)
    }

    /// The namespace (never a system one) and, on the component installing
    /// External Secrets with the aws backend, the ClusterSecretStore.
    fn namespace_and_store(&self, files: &mut Files) -> Result<(), DriverError> {
        let (rc, settings, dir, namespace, tier, name) = (
            self.rc,
            self.settings,
            &self.dir,
            &self.namespace,
            self.tier,
            self.name,
        );
        let c = rc.contract;
        // Manifests: the namespace (not a system one), the ClusterSecretStore
        // (on the component installing External Secrets), and one
        // ExternalSecret per secret read.
        let owns_namespace = settings
            .create_namespace
            .unwrap_or(!SYSTEM_NAMESPACES.contains(&namespace.as_str()))
            && !SYSTEM_NAMESPACES.contains(&namespace.as_str());
        if owns_namespace {
            let ns = json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace, "labels": labels(rc, Some(tier), Some(name))},
            });
            files.insert(format!("{dir}/manifests/namespace.yaml"), yaml(&ns)?);
        }
        let es_version = external_secrets_api_version(rc.platform, c.env());
        if settings
            .chart
            .as_ref()
            .is_some_and(|ch| ch.chart == "external-secrets")
            && rc.platform.spec.secrets.backend == gp_core::spec::SecretsBackend::Aws
        {
            // The store every ExternalSecret names, authenticated by the
            // operator's service account (its IRSA role), synced before the
            // apps.
            let mut aws = json!({
                "service": "SecretsManager",
                "auth": {"jwt": {"serviceAccountRef": {"name": "external-secrets", "namespace": namespace}}},
            });
            if let Some(region) = &rc.platform.spec.secrets.region {
                aws["region"] = json!(region);
            }
            let store = json!({
                "apiVersion": format!("external-secrets.io/{es_version}"),
                "kind": "ClusterSecretStore",
                "metadata": {
                    "name": rc.gitops.secret_store,
                    "labels": labels(rc, Some(tier), Some(name)),
                    "annotations": {"argocd.argoproj.io/sync-wave": "-1"},
                },
                "spec": {"provider": {"aws": aws}},
            });
            let path = format!("{dir}/manifests/clustersecretstore.yaml");
            crate::schemas::check_cluster_secret_store(&store, &path)?;
            files.insert(path, yaml(&store)?);
        }
        Ok(())
    }

    fn application(&self, files: &mut Files) -> Result<(), DriverError> {
        let (rc, settings, dir, namespace, tier, name) = (
            self.rc,
            self.settings,
            &self.dir,
            &self.namespace,
            self.tier,
            self.name,
        );
        let c = rc.contract;
        let env_override = settings.environments.get(c.env());
        // The Application.
        let manifests = json!({
            "repoURL": rc.repo_url,
            "targetRevision": rc.gitops.target_revision,
            "path": format!("{dir}/manifests"),
        });
        let mut spec = json!({
            "project": rc.gitops.project,
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "syncPolicy": sync_policy(),
        });
        match &settings.chart {
            Some(chart) => {
                let revision = env_override
                    .and_then(|o| o.target_revision.clone())
                    .unwrap_or_else(|| chart.target_revision.clone());
                let mut source = serde_json::Map::new();
                source.insert("repoURL".into(), json!(chart.repo_url));
                match &chart.path {
                    Some(p) => source.insert("path".into(), json!(p)),
                    None => source.insert("chart".into(), json!(chart.chart)),
                };
                source.insert("targetRevision".into(), json!(revision));
                source.insert(
                    "helm".into(),
                    json!({"valueFiles": [format!("$values/{dir}/values.yaml")]}),
                );
                let source = Value::Object(source);
                spec["sources"] = json!([
                    source,
                    {"repoURL": rc.repo_url, "targetRevision": rc.gitops.target_revision, "ref": "values"},
                    manifests,
                ]);
            }
            None => spec["source"] = manifests,
        }
        let app = json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {
                "name": c.application_name(name),
                "namespace": rc.gitops.argocd_namespace,
                "labels": labels(rc, Some(tier), Some(name)),
                // Lower tiers sync first.
                "annotations": {"argocd.argoproj.io/sync-wave": format!("{}", (tier.as_f64() * 10.0) as i64)},
                "finalizers": [FINALIZER],
            },
            "spec": spec,
        });
        let path = format!("{dir}/application.yaml");
        crate::schemas::check_application(&app, &path)?;
        files.insert(path, yaml(&app)?);
        Ok(())
    }
}
