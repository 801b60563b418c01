//! The Backstage catalog as a projection of what goldenpath knows exists:
//! entities (`backstage.io/v1alpha1`) computed from the spec, the graph and
//! the registry — a Domain for the platform, a System per environment, a
//! Group per owner, a Component per app (gitops) component and a Resource
//! per other component, database and secret path of each deployed
//! deployment (the foundational plane, the persistent deployment, every
//! live build). A torn-down build has no entities.
//!
//! A database a self-service request created is owned by the requesting
//! team, a Group of its own; so is a bucket, secret or repository a request
//! made (a Resource of type `s3-bucket`, `secret` or
//! `container-repository`, annotated with its ARN).
//!
//! Names: `{component}-{env}` for the foundational plane and the persistent
//! deployment, `{component}-{env}-{build}` in a build; lifecycle
//! `foundational`, `persistent` or `ephemeral`; every entity annotated with
//! its goldenpath environment, deployment, build id, expiry and the command
//! that shows it in the registry.

use std::collections::{BTreeMap, BTreeSet};

use gp_core::{Deployment, Plane};
use serde_json::{Value, json};

use crate::state::{ComponentState, DeploymentState};
use crate::{Engine, EngineError};

const API: &str = "backstage.io/v1alpha1";

/// A Backstage entity name: `[A-Za-z0-9]` runs joined by `-`, `_` or `.`,
/// at most 63 characters.
fn entity_name(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            c
        } else {
            '-'
        };
        if matches!(c, '-' | '_' | '.') && (out.is_empty() || out.ends_with(['-', '_', '.'])) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with(['-', '_', '.']) {
        out.pop();
    }
    if out.len() > 63 {
        out.truncate(63);
        while out.ends_with(['-', '_', '.']) {
            out.pop();
        }
    }
    out
}

struct Deployed {
    deployment: Deployment,
    build: Option<String>,
    expires_us: Option<i64>,
    state: DeploymentState,
}

impl Engine<'_> {
    /// Every entity of `envs` (all environments when empty), sorted by kind
    /// and name.
    pub fn catalog(&self, envs: &[String]) -> Result<Vec<Value>, EngineError> {
        let spec = &self.platform.spec;
        let project = entity_name(&spec.project.value);
        let owner = entity_name(&spec.owner.value);
        let group_ref = format!("group:default/{owner}");
        let mut entities: Vec<Value> = vec![
            json!({
                "apiVersion": API, "kind": "Domain",
                "metadata": {"name": project, "description": format!("the {} platform, as goldenpath deploys it", spec.project.value),
                             "annotations": {"goldenpath.io/project": spec.project.value}},
                "spec": {"owner": group_ref},
            }),
            json!({
                "apiVersion": API, "kind": "Group",
                "metadata": {"name": owner, "annotations": {"goldenpath.io/owner": spec.owner.value}},
                "spec": {"type": "team", "children": []},
            }),
        ];
        let wanted: Vec<String> = if envs.is_empty() {
            spec.environments.keys().map(|k| k.value.clone()).collect()
        } else {
            envs.to_vec()
        };
        for env in &wanted {
            if self.platform.environment(env).is_none() {
                return Err(EngineError::usage(
                    format!("environment `{env}` is not declared"),
                    None,
                ));
            }
            let system = entity_name(&format!("{project}-{env}"));
            entities.push(json!({
                "apiVersion": API, "kind": "System",
                "metadata": {"name": system, "description": format!("the {env} environment"),
                             "annotations": {"goldenpath.io/env": env}},
                "spec": {"owner": group_ref, "domain": format!("domain:default/{project}")},
            }));
            let mut deployed = vec![
                Deployed {
                    deployment: Deployment::Foundational,
                    build: None,
                    expires_us: None,
                    state: DeploymentState::load(self.registry, env, "foundational")?,
                },
                Deployed {
                    deployment: Deployment::Persistent,
                    build: None,
                    expires_us: None,
                    state: DeploymentState::load(self.registry, env, "persistent")?,
                },
            ];
            for b in self.registry.builds(env)? {
                if b.imported || b.status == "torn-down" {
                    continue;
                }
                let Ok(id) = b.build_id.parse::<gp_core::BuildId>() else {
                    continue;
                };
                deployed.push(Deployed {
                    deployment: Deployment::Ephemeral(id),
                    build: Some(b.build_id.clone()),
                    expires_us: b.expires_us,
                    state: DeploymentState::load(self.registry, env, &b.build_id)?,
                });
            }
            let foundational_names: BTreeMap<String, String> = deployed[0]
                .state
                .components
                .keys()
                .map(|c| (c.clone(), entity_name(&format!("{c}-{env}"))))
                .collect();
            for d in &deployed {
                self.deployment_entities(
                    env,
                    d,
                    &system,
                    &group_ref,
                    &foundational_names,
                    &mut entities,
                );
            }
            // Databases self-service requests created: owned by the team
            // that asked (a Group of its own), wherever the instance's
            // entity lists them.
            for e in self.applied_requests(Some(env))? {
                let team = entity_name(&e.owner);
                entities.push(json!({
                    "apiVersion": API, "kind": "Group",
                    "metadata": {"name": team, "annotations": {"goldenpath.io/owner": e.owner}},
                    "spec": {"type": "team", "children": []},
                }));
                let team_ref = format!("group:default/{team}");
                // A bucket, secret or repository a request made: a
                // Resource of the team that owns it.
                if e.kind != "rds" {
                    let kind = match e.kind.as_str() {
                        "s3" => "s3-bucket",
                        "secret" => "secret",
                        "ecr" => "container-repository",
                        _ => continue,
                    };
                    let mut annotations = serde_json::Map::new();
                    annotations.insert("goldenpath.io/env".into(), json!(env));
                    annotations.insert("goldenpath.io/request".into(), json!(e.request));
                    annotations.insert("goldenpath.io/resource".into(), json!(e.resource));
                    if let Some(arn) = &e.arn {
                        annotations.insert("goldenpath.io/arn".into(), json!(arn));
                    }
                    entities.push(json!({
                        "apiVersion": API, "kind": "Resource",
                        "metadata": {"name": entity_name(&format!("{}-{}", e.kind, e.resource)), "annotations": annotations},
                        "spec": {"type": kind, "owner": team_ref, "system": system},
                    }));
                    continue;
                }
                let Some(instance) = &e.instance else {
                    continue;
                };
                let db = &e.resource;
                let instance_name = entity_name(&format!("{instance}-{env}"));
                let name = entity_name(&format!("{db}-db-{instance_name}"));
                let mut annotations = serde_json::Map::new();
                annotations.insert("goldenpath.io/env".into(), json!(env));
                annotations.insert("goldenpath.io/request".into(), json!(e.request));
                annotations.insert("goldenpath.io/database".into(), json!(db));
                if let Some(existing) = entities
                    .iter_mut()
                    .find(|x| x["kind"] == "Resource" && x["metadata"]["name"] == name)
                {
                    existing["spec"]["owner"] = json!(team_ref);
                    existing["metadata"]["annotations"]["goldenpath.io/request"] = json!(e.request);
                } else {
                    entities.push(json!({
                        "apiVersion": API, "kind": "Resource",
                        "metadata": {"name": name, "annotations": annotations},
                        "spec": {"type": "database", "owner": team_ref, "system": system,
                                 "dependsOn": [format!("resource:default/{instance_name}")]},
                    }));
                }
            }
        }
        // One entity per kind and name (a Group named twice, say).
        let mut seen = BTreeSet::new();
        entities.retain(|e| {
            seen.insert((
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ))
        });
        entities.sort_by(|a, b| {
            (a["kind"].as_str(), a["metadata"]["name"].as_str())
                .cmp(&(b["kind"].as_str(), b["metadata"]["name"].as_str()))
        });
        Ok(entities)
    }

    #[allow(clippy::too_many_arguments)]
    fn deployment_entities(
        &self,
        env: &str,
        d: &Deployed,
        system: &str,
        group_ref: &str,
        foundational: &BTreeMap<String, String>,
        out: &mut Vec<Value>,
    ) {
        let lifecycle = match d.deployment {
            Deployment::Foundational => "foundational",
            Deployment::Persistent => "persistent",
            Deployment::Ephemeral(_) => "ephemeral",
        };
        let name_of = |component: &str| match &d.build {
            Some(b) => entity_name(&format!("{component}-{env}-{b}")),
            None => entity_name(&format!("{component}-{env}")),
        };
        let mut annotations = serde_json::Map::new();
        annotations.insert("goldenpath.io/env".into(), json!(env));
        annotations.insert("goldenpath.io/deployment".into(), json!(d.deployment.key()));
        annotations.insert(
            "goldenpath.io/registry".into(),
            json!(match &d.build {
                Some(b) => format!("goldenpath builds show --env {env} --build-id {b}"),
                None => format!("goldenpath status --env {env}{}", d.deployment.flags()),
            }),
        );
        if let Some(b) = &d.build {
            annotations.insert("goldenpath.io/build-id".into(), json!(b));
        }
        if let Some(at) = d.expires_us {
            annotations.insert(
                "goldenpath.io/expires-at".into(),
                json!(gp_registry::format_utc(at)),
            );
        }
        for (component, record) in &d.state.components {
            if record.state != ComponentState::Applied {
                continue;
            }
            let Some(spec) = self.platform.component(component) else {
                continue;
            };
            // A foundational component appears once, in its own plane.
            if spec.plane.value == Plane::Foundational && d.deployment != Deployment::Foundational {
                continue;
            }
            let name = name_of(component);
            let mut ann = annotations.clone();
            ann.insert("goldenpath.io/component".into(), json!(component));
            ann.insert("goldenpath.io/driver".into(), json!(spec.driver.value));
            // What it needs: a component of this deployment, or a
            // foundational one (a database of it when named `c/db`).
            let depends: Vec<String> = spec
                .needs
                .iter()
                .filter_map(|n| {
                    let (target, db) = match n.value.split_once('/') {
                        Some((c, db)) => (c, Some(db)),
                        None => (n.value.as_str(), None),
                    };
                    let target_spec = self.platform.component(target)?;
                    let base = if target_spec.plane.value == Plane::Foundational {
                        foundational.get(target)?.clone()
                    } else {
                        name_of(target)
                    };
                    let kind = if target_spec.driver.value == "gitops" && db.is_none() {
                        "component"
                    } else {
                        "resource"
                    };
                    let base = match db {
                        Some(db) => entity_name(&format!("{db}-db-{base}")),
                        None => base,
                    };
                    Some(format!("{kind}:default/{base}"))
                })
                .collect();
            let description = spec
                .description
                .as_ref()
                .cloned()
                .unwrap_or_else(|| format!("{component} ({})", spec.driver.value));
            if spec.driver.value == "gitops" {
                out.push(json!({
                    "apiVersion": API, "kind": "Component",
                    "metadata": {"name": name, "description": description, "annotations": ann},
                    "spec": {"type": "service", "lifecycle": lifecycle, "owner": group_ref,
                             "system": system, "dependsOn": depends},
                }));
                continue;
            }
            let kind = match spec.driver.value.as_str() {
                "postgres" => "database-instance",
                "dns" => "dns-zone",
                "terraform" if component.contains("cluster") => "cluster",
                "terraform" => "terraform-root",
                "secrets" => "secrets",
                _ => "service",
            };
            out.push(json!({
                "apiVersion": API, "kind": "Resource",
                "metadata": {"name": name, "description": description, "annotations": ann},
                "spec": {"type": kind, "owner": group_ref, "system": system, "dependsOn": depends},
            }));
            // A database instance's databases and their secrets.
            if spec.driver.value == "postgres"
                && let Some(outputs) = &record.outputs
            {
                for (db, values) in &outputs.resources {
                    let db_name = entity_name(&format!("{db}-db-{name}"));
                    let mut ann = ann.clone();
                    ann.insert("goldenpath.io/database".into(), json!(db));
                    out.push(json!({
                        "apiVersion": API, "kind": "Resource",
                        "metadata": {"name": db_name, "annotations": ann.clone()},
                        "spec": {"type": "database", "owner": group_ref, "system": system,
                                 "dependsOn": [format!("resource:default/{name}")]},
                    }));
                    if let Some(path) = values.get("secret_path").and_then(|v| v.as_str()) {
                        let mut ann = ann.clone();
                        ann.insert("goldenpath.io/secret-path".into(), json!(path));
                        out.push(json!({
                            "apiVersion": API, "kind": "Resource",
                            "metadata": {"name": entity_name(&format!("secret-{path}")), "annotations": ann},
                            "spec": {"type": "secret", "owner": group_ref, "system": system,
                                     "dependencyOf": [format!("resource:default/{db_name}")]},
                        }));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::entity_name;

    #[test]
    fn entity_names_are_what_backstage_accepts() {
        assert_eq!(entity_name("goldenpath-idp"), "goldenpath-idp");
        assert_eq!(
            entity_name("secret-goldenpath/dev/backstage/postgres"),
            "secret-goldenpath-dev-backstage-postgres"
        );
        assert_eq!(entity_name("--a//b--"), "a-b");
        assert_eq!(entity_name(&"x".repeat(80)).len(), 63);
    }
}
