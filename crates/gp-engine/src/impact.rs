//! Impact before destruction: what depends on the foundational components
//! a teardown would remove — live and kept builds and the persistent
//! deployment whose graphs need them, and the databases requests made on
//! them. A foundational teardown refuses (exit 3, the dependents listed)
//! while any exists, unless `--cascade` tears them down first, each
//! through its own recorded teardown, in order: builds, the persistent
//! deployment, then the requests (their deliveries withdrawn; their
//! databases go with the instance's own journal).

use std::collections::BTreeSet;

use gp_core::{BuildId, Deployment};
use serde::Serialize;

use crate::graph::{Disposition, Graph, Role};
use crate::{Engine, EngineError};

/// Something that depends on a foundational component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Dependent {
    /// A build that is not torn down.
    Build {
        /// Its id.
        build: String,
        /// Kept past its expiry.
        kept: bool,
        /// The foundational components it needs that would go.
        needs: Vec<String>,
    },
    /// The persistent deployment.
    Persistent {
        /// The foundational components it needs that would go.
        needs: Vec<String>,
    },
    /// A request's database on an instance that would go.
    Request {
        /// The request.
        request: String,
        /// Its database.
        resource: String,
        /// The instance.
        on: String,
    },
}

impl std::fmt::Display for Dependent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dependent::Build { build, kept, needs } => write!(
                f,
                "build {build}{} (needs {})",
                if *kept { ", kept" } else { "" },
                needs.join(", ")
            ),
            Dependent::Persistent { needs } => {
                write!(f, "the persistent deployment (needs {})", needs.join(", "))
            }
            Dependent::Request {
                request,
                resource,
                on,
            } => write!(f, "request {request}'s database {resource} on {on}"),
        }
    }
}

impl Engine<'_> {
    /// The foundational components among `targets` that what runs in
    /// `deployment` needs, directly or through other foundational ones (a
    /// component the deployment skips needs nothing of it).
    fn needs_of(
        &self,
        env: &str,
        deployment: Deployment,
        targets: &BTreeSet<String>,
    ) -> Result<Vec<String>, EngineError> {
        let graph = Graph::build(self.platform, env, deployment, &[])?;
        let mut needed = vec![false; graph.nodes.len()];
        let mut stack: Vec<usize> = graph
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.role == Role::Target && n.disposition == Disposition::Run)
            .map(|(i, _)| i)
            .collect();
        while let Some(i) = stack.pop() {
            for &d in &graph.nodes[i].deps {
                if !needed[d] {
                    needed[d] = true;
                    stack.push(d);
                }
            }
        }
        Ok(graph
            .nodes
            .iter()
            .zip(needed)
            .filter(|(n, needed)| {
                *needed && n.role == Role::Dependency && targets.contains(&n.name)
            })
            .map(|(n, _)| n.name.clone())
            .collect())
    }

    /// What depends on the foundational `targets` of `env`, in the order a
    /// cascade tears it down.
    pub fn dependents(
        &self,
        env: &str,
        targets: &BTreeSet<String>,
    ) -> Result<Vec<Dependent>, EngineError> {
        let mut out = Vec::new();
        for b in self.registry.builds(env)? {
            if b.imported || matches!(b.status.as_str(), "torn-down" | "reserved") {
                continue;
            }
            let Ok(id) = b.build_id.parse::<BuildId>() else {
                continue;
            };
            let needs = self.needs_of(env, Deployment::Ephemeral(id), targets)?;
            if !needs.is_empty() {
                out.push(Dependent::Build {
                    build: b.build_id,
                    kept: b.kept.is_some(),
                    needs,
                });
            }
        }
        let persistent = self.deployment_status(env, &Deployment::Persistent.key())?;
        if !matches!(persistent.as_str(), "not-deployed" | "torn-down") {
            let needs = self.needs_of(env, Deployment::Persistent, targets)?;
            if !needs.is_empty() {
                out.push(Dependent::Persistent { needs });
            }
        }
        // Applied and not torn down since.
        for a in self.applied_requests(Some(env))? {
            if a.kind != "rds" {
                continue;
            }
            if let Some(on) = a.instance.filter(|i| targets.contains(i)) {
                out.push(Dependent::Request {
                    request: a.request,
                    resource: a.resource,
                    on,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependents_say_what_they_are_and_need() {
        let b = Dependent::Build {
            build: "23-01-26-01".into(),
            kept: true,
            needs: vec!["rds".into(), "dns-zone".into()],
        };
        assert_eq!(
            b.to_string(),
            "build 23-01-26-01, kept (needs rds, dns-zone)"
        );
        let r = Dependent::Request {
            request: "RDS-0002".into(),
            resource: "orders".into(),
            on: "rds".into(),
        };
        assert_eq!(r.to_string(), "request RDS-0002's database orders on rds");
        assert_eq!(
            Dependent::Persistent {
                needs: vec!["rds".into()]
            }
            .to_string(),
            "the persistent deployment (needs rds)"
        );
    }
}
