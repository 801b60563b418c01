//! The ownership index of an environment, built in one place: every name
//! the platform's components hold (each driver's [`Driver::holds`], asked
//! for the foundational plane, the persistent deployment and two probe
//! builds — so the per-build names are held for every build, past and
//! future), the folder the contract gives every build's secrets, and
//! every name a request created or adopted (from the
//! registry). Every claim asks it: request validate, plan, approve and
//! apply of every kind, `request new`, and a spec change at `validate`.
//!
//! [`Driver::holds`]: gp_driver::Driver::holds

use gp_core::ownership::{DeploymentKind, Derived, Index, NameKind, Owner, PROBES, Shape};
use gp_core::{BuildId, Contract, Deployment, Plane};
use gp_driver::{HeldName, ValidateCtx};

use crate::{Engine, EngineError};

/// The owner of what a deployment of a disposable component holds.
fn deployment_owner(kind: DeploymentKind) -> Owner {
    match kind {
        DeploymentKind::Builds => Owner::Deployment("every build (past and future)".into()),
        _ => Owner::Deployment("the persistent deployment".into()),
    }
}

impl Engine<'_> {
    /// What a component holds in one deployment.
    fn held_by(
        &self,
        component: &gp_core::ComponentSpec,
        contract: &Contract<'_>,
    ) -> Vec<HeldName> {
        let Some(driver) = self.drivers.get(&component.driver.value) else {
            return Vec::new();
        };
        let settings = component.settings_node();
        driver.holds(
            &ValidateCtx {
                platform: self.platform,
                component,
                settings: &settings,
            },
            contract,
        )
    }

    /// What the platform itself holds in `env`: its components' names and
    /// the contract's folders of secrets.
    pub fn platform_holds(&self, env: &str) -> Result<Index, EngineError> {
        let mut index = Index::default();
        let probes: Vec<BuildId> = PROBES
            .iter()
            .filter_map(|(d, m, y, s)| BuildId::new(*d, *m, *y, *s).ok())
            .collect();
        for c in &self.platform.spec.components {
            let name = c.name.value.as_str();
            if c.plane.value == Plane::Foundational {
                let contract = Contract::new(self.platform, env, Deployment::Foundational)?;
                for h in self.held_by(c, &contract) {
                    index.hold_of(
                        name,
                        h.kind,
                        if h.under {
                            Shape::Under(h.name)
                        } else {
                            Shape::Exact(h.name)
                        },
                        Owner::component(name),
                        format!("{} ({name})", h.what),
                    );
                }
                continue;
            }
            let persistent = Contract::new(self.platform, env, Deployment::Persistent)?;
            for h in self.held_by(c, &persistent) {
                index.hold_of(
                    name,
                    h.kind,
                    if h.under {
                        Shape::Under(h.name)
                    } else {
                        Shape::Exact(h.name)
                    },
                    deployment_owner(DeploymentKind::Persistent),
                    format!("{} ({name})", h.what),
                );
            }
            // Every build: the same names derived for two probe builds,
            // what the build id changed kept as a slot.
            let per_probe: Vec<Vec<HeldName>> = probes
                .iter()
                .map(|b| {
                    Contract::new(self.platform, env, Deployment::Ephemeral(*b))
                        .map(|contract| self.held_by(c, &contract))
                        .unwrap_or_default()
                })
                .collect();
            let (Some(first), Some(second)) = (per_probe.first(), per_probe.get(1)) else {
                continue;
            };
            for (i, h) in first.iter().enumerate() {
                let shape = Shape::per_build(
                    |b| {
                        let list = if Some(&b) == probes.first() {
                            first
                        } else {
                            second
                        };
                        list.get(i).map(|x| x.name.clone())
                    },
                    h.under,
                );
                if let Some(shape) = shape {
                    index.hold_of(
                        name,
                        h.kind,
                        shape,
                        deployment_owner(DeploymentKind::Builds),
                        format!("{} ({name}, in every build)", h.what),
                    );
                }
            }
        }
        // The contract's folder of every build's secrets: whatever a build
        // writes there is the build's.
        index.hold_derived(
            self.platform,
            env,
            DeploymentKind::Foundational,
            Derived {
                kind: NameKind::Secret,
                under: true,
                owner: deployment_owner(DeploymentKind::Builds),
                what: "the folder of every build's secrets".into(),
            },
            |contract| Some(contract.builds_secret_scope()),
        );
        Ok(index)
    }

    /// The whole index of `env`: what the platform holds, then what every
    /// request created or adopted (a bucket or a repository, whose names
    /// are global, in every environment).
    pub fn ownership_index(&self, env: &str) -> Result<Index, EngineError> {
        let mut index = self.platform_holds(env)?;
        for a in self.applied_requests(None)? {
            let global = matches!(a.kind.as_str(), "s3" | "ecr");
            if a.env != env && !global {
                continue;
            }
            let owner = Owner::Request(a.request.clone());
            let what = |w: &str| {
                format!(
                    "{w} request {} {}",
                    a.request,
                    if a.created == Some(false) {
                        "adopted"
                    } else {
                        "created"
                    }
                )
            };
            let mut hold = |kind: NameKind, name: &str, w: &str| {
                index.hold(kind, Shape::Exact(name.to_string()), owner.clone(), what(w));
            };
            match a.kind.as_str() {
                "rds" => {
                    hold(NameKind::Database, &a.resource, "the database");
                    if let Some(r) = &a.role {
                        hold(NameKind::Role, r, "the login role");
                    }
                    if let Some(p) = &a.secret_path {
                        hold(NameKind::Secret, p, "the credentials");
                    }
                }
                "s3" => hold(NameKind::Bucket, &a.resource, "the bucket"),
                "secret" => hold(NameKind::Secret, &a.resource, "the secret"),
                "ecr" => hold(NameKind::Repository, &a.resource, "the repository"),
                _ => {}
            }
        }
        Ok(index)
    }

    /// A spec change at `validate`: every name a component of the spec
    /// would hold that a request holds already, positioned at the
    /// component. Requests came first; the spec must choose other names.
    pub fn spec_claims(&self) -> Result<Vec<gp_core::Diagnostic>, EngineError> {
        let mut out = Vec::new();
        let applied = self.applied_requests(None)?;
        for env in self.platform.environment_names() {
            let platform = self.platform_holds(env)?;
            for a in &applied {
                let global = matches!(a.kind.as_str(), "s3" | "ecr");
                if a.env != env && !global {
                    continue;
                }
                let names: Vec<(NameKind, &str)> = match a.kind.as_str() {
                    "rds" => [
                        Some((NameKind::Database, a.resource.as_str())),
                        a.role.as_deref().map(|r| (NameKind::Role, r)),
                        a.secret_path.as_deref().map(|p| (NameKind::Secret, p)),
                    ]
                    .into_iter()
                    .flatten()
                    .collect(),
                    "s3" => vec![(NameKind::Bucket, a.resource.as_str())],
                    "secret" => vec![(NameKind::Secret, a.resource.as_str())],
                    "ecr" => vec![(NameKind::Repository, a.resource.as_str())],
                    _ => Vec::new(),
                };
                for (kind, name) in names {
                    let Some(held) = platform.owner_of(kind, name) else {
                        continue;
                    };
                    let Some(c) = held
                        .component
                        .as_deref()
                        .and_then(|c| self.platform.component(c))
                    else {
                        continue;
                    };
                    out.push(
                        self.platform
                            .diagnostic(
                                c.name.start,
                                format!(
                                    "`{}` would hold the {} `{name}` in {env} ({}), which request {} holds",
                                    c.name.value,
                                    kind.noun(),
                                    held.what,
                                    a.request
                                ),
                            )
                            .with_hint("a request came first: name it otherwise in the spec"),
                    );
                }
            }
        }
        Ok(out)
    }
}
