//! `db list`: the databases on an environment's foundational instances,
//! read live, with their owners, where their credentials are, and who asked
//! for each (a component, a build, a request).

use gp_core::Plane;
use serde::Serialize;

use crate::{Engine, EngineError};

/// One database on an instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseRow {
    /// The instance's component.
    pub instance: String,
    /// The database.
    pub database: String,
    /// Its owner role.
    pub owner: String,
    /// Its credentials' secret path (`-` when none is known).
    pub secret_path: String,
    /// Who asked: a component (with its build), or a request (`-` when no
    /// one did).
    pub asked_by: String,
}

impl Engine<'_> {
    /// Every database on `env`'s foundational instances.
    pub fn databases(&self, env: &str) -> Result<Vec<DatabaseRow>, EngineError> {
        // Who asked: components' outputs (foundational and live builds), and
        // applied requests.
        let mut asked: Vec<(String, String, String)> = Vec::new(); // (database, by, secret)
        let mut deployments = vec!["foundational".to_string(), "persistent".to_string()];
        for b in self.registry.builds(env)? {
            if b.status != "torn-down" && !b.imported {
                deployments.push(b.build_id);
            }
        }
        for key in &deployments {
            let overview = self.component_outputs(env, key)?;
            for (component, outputs) in overview {
                for o in outputs.resources.values() {
                    if let Some(db) = o.get("dbname").and_then(|d| d.as_str()) {
                        let by = if key == "foundational" {
                            component.clone()
                        } else {
                            format!("{component} ({key})")
                        };
                        let secret = o
                            .get("secret_path")
                            .and_then(|s| s.as_str())
                            .unwrap_or_default()
                            .to_string();
                        asked.push((db.to_string(), by, secret));
                    }
                }
            }
        }
        for e in self.applied_requests(Some(env))? {
            if e.kind != "rds" {
                continue;
            }
            asked.retain(|(name, _, _)| *name != e.resource);
            asked.push((
                e.resource.clone(),
                format!("request {}", e.request),
                e.secret_path.clone().unwrap_or_default(),
            ));
        }
        let mut rows = Vec::new();
        for c in &self.platform.spec.components {
            let is_instance = self
                .validate()?
                .get(&c.name.value)
                .is_some_and(|v| v.owned.iter().any(|(_, kind)| *kind == "database"));
            if c.plane.value != Plane::Foundational || !is_instance {
                continue;
            }
            for item in self.inventory(env, &c.name.value)? {
                let name = item["database"].as_str().unwrap_or_default().to_string();
                let owner = item["owner"].as_str().unwrap_or_default().to_string();
                let (by, secret) = asked
                    .iter()
                    .rev()
                    .find(|(d, _, _)| d == &name)
                    .map(|(_, by, s)| (by.clone(), s.clone()))
                    .unwrap_or_else(|| ("-".into(), "-".into()));
                rows.push(DatabaseRow {
                    instance: c.name.value.clone(),
                    database: name,
                    owner,
                    secret_path: secret,
                    asked_by: by,
                });
            }
        }
        Ok(rows)
    }
}
