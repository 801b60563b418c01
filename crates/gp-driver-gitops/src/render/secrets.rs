//! A component's ExternalSecrets: which API version to render, which keys a
//! source's secrets have, and where each secret lives.

use std::collections::BTreeMap;

use gp_core::{Plane, Platform, Ref};
use gp_driver::{ComponentOutputs, DriverError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Files, RenderCtx, Rendering, labels, yaml};

/// The External Secrets API version to render: `gitops.externalSecretsApiVersion`,
/// else from the chart version of the component installing the
/// `external-secrets` chart (ESO serves `v1` from 0.16 and dropped
/// `v1beta1` in 0.17), else `v1`.
pub fn external_secrets_api_version(platform: &Platform, env: &str) -> &'static str {
    if let Some(v) = &platform.spec.gitops.external_secrets_api_version {
        return if v.value == "v1beta1" {
            "v1beta1"
        } else {
            "v1"
        };
    }
    for c in &platform.spec.components {
        if c.driver.value != "gitops" {
            continue;
        }
        let node = c.settings_node();
        let Some(chart) = node.get("chart") else {
            continue;
        };
        if chart.get("chart").and_then(|n| n.as_str()) != Some("external-secrets") {
            continue;
        }
        // This environment's chart version, else the component's.
        let version = node
            .get("environments")
            .and_then(|e| e.get(env))
            .and_then(|e| e.get("targetRevision"))
            .and_then(|n| n.as_str())
            .or_else(|| chart.get("targetRevision").and_then(|n| n.as_str()))
            .unwrap_or_default();
        let mut parts = version.trim_start_matches('v').split('.');
        let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(1);
        let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        return if major == 0 && minor < 16 {
            "v1beta1"
        } else {
            "v1"
        };
    }
    "v1"
}

/// Keys a source component's secrets have, for checking key mappings.
fn secret_keys(platform: &Platform, from: &Ref) -> Result<Vec<String>, DriverError> {
    let Some(source) = platform.component(&from.component) else {
        return Err(DriverError::configuration(format!(
            "no component `{}`",
            from.component
        )));
    };
    match source.driver.value.as_str() {
        "postgres" => Ok(["username", "password", "host", "port", "dbname", "engine"]
            .map(String::from)
            .to_vec()),
        "secrets" => {
            #[derive(Deserialize)]
            struct S {
                secrets: Vec<Entry>,
            }
            #[derive(Deserialize)]
            struct Entry {
                name: String,
                #[serde(default)]
                generate: Vec<String>,
                #[serde(default)]
                supplied: Vec<String>,
            }
            let node = source.settings_node();
            let s: S = gp_core::yaml::from_node_with_placeholders(&node).map_err(|e| {
                DriverError::configuration(format!(
                    "cannot read {}'s settings: {}",
                    from.component, e.message
                ))
            })?;
            let resource = from.resource.as_deref().unwrap_or_default();
            s.secrets
                .into_iter()
                .find(|e| e.name == resource)
                .map(|e| e.generate.into_iter().chain(e.supplied).collect())
                .ok_or_else(|| {
                    DriverError::configuration(format!(
                        "`{}` has no secret `{resource}`",
                        from.component
                    ))
                })
        }
        other => Err(DriverError::configuration(format!(
            "cannot tell which keys the secrets of `{}` (driver {other}) have",
            from.component
        ))),
    }
}

/// The path a secret lives at: what its component published, else the
/// contract's.
fn secret_path(
    rc: &RenderCtx<'_>,
    from: &Ref,
    inputs: &BTreeMap<String, ComponentOutputs>,
) -> Result<String, DriverError> {
    let resource = from.resource.as_deref().unwrap_or_default();
    if let Some(o) = inputs.get(&from.component)
        && let Some(vals) = o.resources.get(resource)
        && let Some(p) = vals
            .get("secret_path")
            .or_else(|| vals.get("path"))
            .and_then(|p| p.as_str())
    {
        return Ok(p.to_string());
    }
    let source = rc
        .platform
        .component(&from.component)
        .ok_or_else(|| DriverError::configuration(format!("no component `{}`", from.component)))?;
    let c = rc.contract;
    let r = match (source.driver.value.as_str(), source.plane.value) {
        ("postgres", Plane::Foundational) => c.database_secret_path(resource),
        ("postgres", Plane::Disposable) => c.build_database_secret_path(resource),
        _ => c.secret_path(resource),
    };
    r.map_err(|e| DriverError::configuration(e.to_string()))
}

impl Rendering<'_> {
    pub(super) fn external_secrets(
        &self,
        inputs: &BTreeMap<String, ComponentOutputs>,
        files: &mut Files,
    ) -> Result<(), DriverError> {
        let (rc, component, dir, namespace, tier, name) = (
            self.rc,
            self.component,
            &self.dir,
            &self.namespace,
            self.tier,
            self.name,
        );
        let es_version = external_secrets_api_version(rc.platform, rc.contract.env());
        // One ExternalSecret per target Secret: entries naming the same
        // Secret are merged (validation refuses a key filled twice).
        struct Target {
            data: Vec<Value>,
            data_from: Vec<Value>,
            refresh: Option<String>,
            template: Option<Value>,
        }
        let mut targets: BTreeMap<String, Target> = BTreeMap::new();
        for secret in &component.secrets {
            let from = Ref::parse(&secret.from.value).ok_or_else(|| {
                DriverError::configuration(format!("invalid secret source `{}`", secret.from.value))
            })?;
            let available = secret_keys(rc.platform, &from)?;
            let mapping: Vec<(String, String)> = if secret.keys.is_empty() {
                available.iter().map(|k| (k.clone(), k.clone())).collect()
            } else {
                secret
                    .keys
                    .iter()
                    .map(|(k, v)| (k.clone(), v.value.clone()))
                    .collect()
            };
            let mut missing = Vec::new();
            for (k8s_key, key) in &mapping {
                if !available.contains(key) {
                    missing.push(format!("{k8s_key} ← {key}"));
                }
            }
            if !missing.is_empty() {
                let pos = secret
                    .keys
                    .values()
                    .find(|v| !available.contains(&v.value))
                    .map(|v| v.start)
                    .unwrap_or(secret.from.start);
                return Err(DriverError::configuration(format!(
                    "`{name}` maps keys the secret {} will not have: {} (it has: {})",
                    secret.from.value,
                    missing.join(", "),
                    available.join(", ")
                ))
                .with_diagnostics(vec![rc.platform.diagnostic(
                    pos,
                    format!("`{}` has no key for this mapping", secret.from.value),
                )]));
            }
            let k8s_name = secret.target_name();
            let remote = secret_path(rc, &from, inputs)?;
            let entry = targets.entry(k8s_name).or_insert_with(|| Target {
                data: Vec::new(),
                data_from: Vec::new(),
                refresh: None,
                template: None,
            });
            if secret.extract {
                entry.data_from.push(json!({"extract": {"key": remote}}));
            } else {
                entry.data.extend(mapping.iter().map(|(k8s_key, key)| {
                    json!({
                        "secretKey": k8s_key,
                        "remoteRef": {"key": remote, "property": key},
                    })
                }));
            }
            if entry.refresh.is_none() {
                entry.refresh = secret.refresh_interval.clone();
            }
            if entry.template.is_none() {
                entry.template = secret.template.as_ref().map(|t| t.0.to_json());
            }
        }
        for (k8s_name, t) in targets {
            let mut target = json!({"name": k8s_name, "creationPolicy": "Owner"});
            if let Some(template) = t.template {
                target["template"] = template;
            }
            let mut spec = json!({
                "refreshInterval": t.refresh.unwrap_or_else(|| rc.gitops.refresh_interval.clone()),
                "secretStoreRef": {"name": rc.gitops.secret_store, "kind": "ClusterSecretStore"},
                "target": target,
            });
            if !t.data.is_empty() {
                spec["data"] = Value::Array(t.data);
            }
            if !t.data_from.is_empty() {
                spec["dataFrom"] = Value::Array(t.data_from);
            }
            let es = json!({
                "apiVersion": format!("external-secrets.io/{es_version}"),
                "kind": "ExternalSecret",
                "metadata": {"name": k8s_name, "namespace": namespace, "labels": labels(rc, Some(tier), Some(name))},
                "spec": spec,
            });
            let path = format!("{dir}/manifests/externalsecret-{k8s_name}.yaml");
            crate::schemas::check_external_secret(&es, &path)?;
            files.insert(path, yaml(&es)?);
        }
        Ok(())
    }
}
