//! What a request may claim: never a name the platform spec or another
//! request holds. Each claim on an owned name is a positioned refusal
//! naming the owner (exit 3), found by validate, plan, approve and apply
//! before anything is touched; and who asked for a request, for the
//! separation of duties.

use gp_core::Diagnostic;
use gp_core::request::{Body, Request};

use super::events::RequestEventDetail;
use crate::{Engine, EngineError};

/// Someone who asked for a request, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asker {
    /// Who.
    pub who: String,
    /// How, for messages: `asked for`, `wrote`.
    pub role: &'static str,
}

impl Engine<'_> {
    /// Who asked for a request: the `requester` its file names.
    pub fn request_askers(&self, r: &Request) -> Result<Vec<Asker>, EngineError> {
        Ok(r.requester()
            .map(|q| Asker {
                who: q.to_string(),
                role: "asked for",
            })
            .into_iter()
            .collect())
    }

    /// What the request claims that someone else owns: a name a component
    /// of the spec owns (an instance's admin role, its databases and
    /// roles), a name another request applied. Each is a positioned
    /// refusal naming the owner.
    pub fn request_claims(&self, r: &Request) -> Result<Vec<Diagnostic>, EngineError> {
        let at = r.at();
        let mut problems: Vec<Diagnostic> = Vec::new();
        let declared = self.validate()?;
        let applied = self.applied_requests(None)?;
        // What it claims, each by the name the resource will have.
        let secret_path = self
            .request_contract(r)
            .ok()
            .map(|c| r.desired(&c).name().to_string());
        let claims: Vec<(&str, &gp_core::yaml::Spanned<String>, &str, String)> = match &r.body {
            Body::Database(d) => vec![
                (
                    "databaseName",
                    &d.database_name,
                    "database",
                    d.database_name.value.clone(),
                ),
                ("username", &d.username, "role", d.username.value.clone()),
            ],
            Body::Bucket(b) => vec![(
                "bucketName",
                &b.bucket_name,
                "bucket",
                b.bucket_name.value.clone(),
            )],
            Body::Secret(s) => vec![(
                "name",
                &s.name,
                "secret",
                secret_path.unwrap_or_else(|| s.name.value.clone()),
            )],
            Body::Repository(x) => vec![(
                "repositoryName",
                &x.repository_name,
                "repository",
                x.repository_name.value.clone(),
            )],
        };
        for (field, v, kind, name) in claims {
            if let Some(component) = declared.iter().find_map(|(c, val)| {
                val.owned
                    .iter()
                    .any(|(n, k)| *n == name && *k == kind)
                    .then_some(c)
            }) {
                problems.push(
                    at.at(
                        v.start,
                        format!(
                            "`{}` is a {kind} the platform spec owns (component `{component}`); a request can never take it over",
                            v.value
                        ),
                    )
                    .with_hint(format!("choose another {field}")),
                );
                continue;
            }
            let taken = applied.iter().find(|a| {
                a.request != r.id().value
                    && (a.env == r.env() || a.kind != "rds")
                    && a.claims(kind, &name)
            });
            if let Some(other) = taken {
                problems.push(
                    at.at(
                        v.start,
                        format!(
                            "`{}` is a {kind} that request {} created; a request may only adopt what no one else owns",
                            v.value, other.request
                        ),
                    )
                    .with_hint(format!("choose another {field}")),
                );
            }
        }
        Ok(problems)
    }
}

/// A request that was applied: what it holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppliedRequest {
    /// The request.
    pub request: String,
    /// Its kind.
    pub kind: String,
    /// Its environment.
    pub env: String,
    /// The resource (database, bucket, secret path, repository).
    pub resource: String,
    /// A database's role.
    pub role: Option<String>,
    /// A database's instance.
    pub instance: Option<String>,
    /// A database's secret path.
    pub secret_path: Option<String>,
    /// A cloud resource's ARN.
    pub arn: Option<String>,
    /// Whether apply created it.
    pub created: Option<bool>,
    /// The owning team.
    pub owner: String,
    /// Who asked.
    pub requester: String,
    /// Who applied it.
    pub applied_by: String,
    /// When (µs).
    pub at_us: i64,
    /// Its delivered files.
    pub delivered: Vec<String>,
    /// Withdrawn since (its deliveries removed; the resource kept).
    pub withdrawn: bool,
}

impl AppliedRequest {
    /// Whether it holds a `kind` named `name` (`database`, `role`,
    /// `bucket`, `secret`, `repository`).
    pub fn claims(&self, kind: &str, name: &str) -> bool {
        match (self.kind.as_str(), kind) {
            ("rds", "database") => self.resource == name,
            ("rds", "role") => self.role.as_deref() == Some(name),
            ("s3", "bucket") | ("ecr", "repository") | ("secret", "secret") => {
                self.resource == name
            }
            _ => false,
        }
    }
}

impl Engine<'_> {
    /// Every request's latest applied state (of one environment), from the
    /// registry: what it holds, who asked and applied.
    pub fn applied_requests(&self, env: Option<&str>) -> Result<Vec<AppliedRequest>, EngineError> {
        let mut latest: std::collections::BTreeMap<String, AppliedRequest> = Default::default();
        for e in self.request_history(None)? {
            if env.is_some_and(|x| x != e.env) {
                continue;
            }
            match e.detail {
                Some(RequestEventDetail::Applied {
                    resource,
                    instance,
                    role,
                    secret_path,
                    arn,
                    created,
                    owner,
                    requester,
                    delivered,
                    ..
                }) => {
                    latest.insert(
                        e.request.clone(),
                        AppliedRequest {
                            request: e.request,
                            kind: e.kind,
                            env: e.env,
                            resource,
                            role,
                            instance,
                            secret_path,
                            arn,
                            created,
                            owner,
                            requester,
                            applied_by: e.actor,
                            at_us: e.at_us,
                            delivered,
                            withdrawn: false,
                        },
                    );
                }
                Some(RequestEventDetail::Withdrawn { .. }) => {
                    if let Some(a) = latest.get_mut(&e.request) {
                        a.withdrawn = true;
                        a.delivered.clear();
                    }
                }
                _ => {}
            }
        }
        Ok(latest.into_values().collect())
    }
}
