//! What a request may claim: never a name the platform spec or another
//! request holds. Each claim on an owned name is a positioned refusal
//! naming the owner (exit 3), found by validate, plan, approve and apply
//! before anything is touched; and who asked for a request, for the
//! separation of duties.

use gp_core::Diagnostic;
use gp_core::ownership::{NameKind, Owner};
use gp_core::request::{Body, Desired, Request};

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

/// Who wrote and changed a file, from git's history (author names and
/// emails); none outside a git repository or without git.
fn authors(dir: &std::path::Path, file: &std::path::Path) -> Vec<String> {
    let mut cmd = std::process::Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args(["log", "--follow", "--format=%an%x1f%ae", "--"])
        .arg(file)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    gp_core::child_env::scrub(&mut cmd, &["GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM"]);
    let Ok(out) = cmd.output() else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    let mut people: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .flat_map(|l| l.split('\u{1f}').map(str::trim).map(str::to_string))
        .filter(|p| !p.is_empty())
        .collect();
    people.sort();
    people.dedup();
    people
}

impl Engine<'_> {
    /// Who asked for a request, for the separation of duties: the
    /// `requester` its file names, everyone who wrote or changed the file
    /// (its commits' authors, by name and email), and in CI the author of
    /// the pull request it came in.
    pub fn request_askers(&self, r: &Request) -> Result<Vec<Asker>, EngineError> {
        let mut out: Vec<Asker> = r
            .requester()
            .map(|q| Asker {
                who: q.to_string(),
                role: "asked for",
            })
            .into_iter()
            .collect();
        for who in authors(self.platform.base_dir(), &r.path) {
            out.push(Asker {
                who,
                role: "wrote or changed the file of",
            });
        }
        if let Some(author) = &self.change_author {
            out.push(Asker {
                who: author.clone(),
                role: "opened the pull request of",
            });
        }
        Ok(out)
    }

    /// What the request claims that someone else owns, asked of the
    /// environment's ownership index: a name the platform holds (a
    /// component's, the persistent deployment's, every build's), or one
    /// another request created or adopted. Each is a positioned refusal
    /// naming the owner.
    pub fn request_claims(&self, r: &Request) -> Result<Vec<Diagnostic>, EngineError> {
        let at = r.at();
        // A repository for every environment is asked of each.
        let envs: Vec<String> = if self.platform.environment(r.env()).is_some() {
            vec![r.env().to_string()]
        } else if r.env() == gp_core::request::GLOBAL {
            self.platform
                .environment_names()
                .map(String::from)
                .collect()
        } else {
            return Ok(Vec::new()); // the guard refuses an undeclared environment
        };
        let desired = self.request_desired(r)?;
        let claims: Vec<(&str, &gp_core::yaml::Spanned<String>, NameKind, String)> =
            match (&r.body, &desired) {
                (Body::Database(d), Desired::Database(x)) => vec![
                    (
                        "databaseName",
                        &d.database_name,
                        NameKind::Database,
                        x.database.clone(),
                    ),
                    ("username", &d.username, NameKind::Role, x.role.clone()),
                    (
                        "databaseName",
                        &d.database_name,
                        NameKind::Secret,
                        x.secret_path.clone(),
                    ),
                ],
                (Body::Bucket(b), _) => vec![(
                    "bucketName",
                    &b.bucket_name,
                    NameKind::Bucket,
                    desired.name().to_string(),
                )],
                (Body::Secret(s), _) => vec![(
                    "name",
                    &s.name,
                    NameKind::Secret,
                    desired.name().to_string(),
                )],
                (Body::Repository(x), _) => vec![(
                    "repositoryName",
                    &x.repository_name,
                    NameKind::Repository,
                    desired.name().to_string(),
                )],
                _ => Vec::new(),
            };
        let mut problems: Vec<Diagnostic> = Vec::new();
        for env in &envs {
            let index = self.ownership_index(env)?;
            for (field, v, kind, name) in &claims {
                let Some(held) = index.owner_of(*kind, name) else {
                    continue;
                };
                if held.owner == Owner::Request(r.id().value.clone()) {
                    continue;
                }
                if problems.iter().any(|p| p.pos == Some(v.start)) {
                    continue;
                }
                problems.push(
                    at.at(
                        v.start,
                        format!(
                            "the {} `{name}` is held by {}: {}; a request can never take it over",
                            kind.noun(),
                            held.owner,
                            held.what
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
                // Its resource went with its instance: it holds nothing.
                Some(RequestEventDetail::TornDown { .. }) => {
                    latest.remove(&e.request);
                }
                _ => {}
            }
        }
        Ok(latest.into_values().collect())
    }
}
