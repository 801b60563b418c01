//! Every environment variable goldenpath reads, in one place.
//!
//! Precedence everywhere: built-in default < spec file < environment
//! variable < command-line flag.

use crate::Context;

/// `--spec`: the platform spec file.
pub const SPEC: &str = "GOLDENPATH_SPEC";
/// `--state-dir`: where the registry, secrets and local servers live.
pub const STATE_DIR: &str = "GOLDENPATH_STATE_DIR";
/// `--output`: `text` or `json`.
pub const OUTPUT: &str = "GOLDENPATH_OUTPUT";

/// `--registry`: `postgres://...` for a shared registry, or a SQLite path.
pub const REGISTRY: &str = "GOLDENPATH_REGISTRY";
/// The registry's chain key (at least 32 characters), the same on every
/// runner of a shared registry; a SQLite registry defaults to its key file.
pub const REGISTRY_KEY: &str = "GOLDENPATH_REGISTRY_KEY";
/// Who is acting, recorded in the registry (default: the CI user, git's
/// `user.email`, `login@host`).
pub const ACTOR: &str = "GOLDENPATH_ACTOR";
/// The CI systems' variables naming who started the run, read in order
/// when `GOLDENPATH_ACTOR` is unset: GitHub Actions, GitLab CI, CircleCI,
/// Buildkite, Jenkins (build-user plugin), Azure Pipelines.
pub const CI_ACTORS: &[&str] = &[
    "GITHUB_ACTOR",
    "GITLAB_USER_LOGIN",
    "CIRCLE_USERNAME",
    "BUILDKITE_BUILD_CREATOR_EMAIL",
    "BUILD_USER_ID",
    "BUILD_REQUESTEDFOREMAIL",
];
/// The source commit recorded with deployments and phases.
pub const COMMIT: &str = "GOLDENPATH_COMMIT";
/// The CI run URL recorded with deployments and phases.
pub const RUN_URL: &str = "GOLDENPATH_RUN_URL";
/// Who opened the change a run comes from (a pull request's author): never
/// an approver of a request it brings.
pub const CHANGE_AUTHOR: &str = "GOLDENPATH_CHANGE_AUTHOR";
/// Where `--output github` writes the files a workflow posts.
pub const GITHUB_DIR: &str = "GOLDENPATH_GITHUB_DIR";

/// What each variable does, for `goldenpath env` and the README.
pub const ALL: &[(&str, &str)] = &[
    (
        SPEC,
        "the platform spec file (--spec); default ./goldenpath.yaml",
    ),
    (
        STATE_DIR,
        "the state directory (--state-dir); default `stateDir` in the spec, else .goldenpath/ beside the spec",
    ),
    (OUTPUT, "output format, text or json (--output)"),
    (
        REGISTRY,
        "the registry (--registry): postgres://user:password@host/db for a shared one, or a SQLite file; default registry.db in the state directory",
    ),
    (
        REGISTRY_KEY,
        "the registry's chain key (32+ characters), shared by every runner of a PostgreSQL registry; default for SQLite: registry.key beside registry.db",
    ),
    (
        "GOLDENPATH_SECRETS_KEY",
        "the local secrets store's key (32 bytes, base64); default: the key file in the state directory",
    ),
    (
        ACTOR,
        "who is acting, recorded in the registry; default: the CI user (GITHUB_ACTOR, GITLAB_USER_LOGIN, CIRCLE_USERNAME, BUILDKITE_BUILD_CREATOR_EMAIL, BUILD_USER_ID, BUILD_REQUESTEDFOREMAIL), else git's user.email, else login@hostname",
    ),
    (
        COMMIT,
        "source commit recorded with deployments and phases (else GITHUB_SHA)",
    ),
    (
        RUN_URL,
        "CI run URL recorded with deployments and phases (else GitHub Actions' run URL, else GitLab's CI_JOB_URL)",
    ),
    (
        CHANGE_AUTHOR,
        "who opened the change the run comes from, never an approver of a request it brings (else, in GitHub Actions, the pull request's author from GITHUB_EVENT_PATH)",
    ),
    (
        GITHUB_DIR,
        "where --output github writes the pull request comment body and the GitHub Deployments request bodies (else $RUNNER_TEMP/goldenpath, else the state directory's github/)",
    ),
    ("NO_COLOR", "any non-empty value turns colour off"),
    (
        "RUST_LOG",
        "log filter, overriding -v (e.g. goldenpath=debug)",
    ),
];

/// `goldenpath env`.
pub fn print(ctx: &Context) -> anyhow::Result<()> {
    let vars: Vec<crate::outputs::EnvVar> = ALL
        .iter()
        .map(|(name, description)| crate::outputs::EnvVar {
            name: name.to_string(),
            description: description.to_string(),
            set: std::env::var_os(name).is_some(),
        })
        .collect();
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::EnvOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            variables: vars,
        })?;
    } else {
        let rows: Vec<Vec<String>> = vars
            .iter()
            .map(|v| {
                vec![
                    v.name.to_string(),
                    if v.set { "set" } else { "-" }.to_string(),
                    v.description.to_string(),
                ]
            })
            .collect();
        ctx.printer.data(&crate::printer::table(
            &["VARIABLE", "SET", "MEANING"],
            &rows,
        ))?;
    }
    Ok(())
}
