//! `goldenpath ci github`: the GitHub Actions workflows a platform needs,
//! generated from its spec — pull request checks and a preview per pull
//! request, the persistent deployment on the default branch, the
//! foundational plane and promotions by hand through approved GitHub
//! environments, requests applied when they merge, and a schedule that
//! reaps expired builds, finds drift and sweeps the previews of closed pull
//! requests.
//! `ci github deployment` writes the Deployments API bodies a workflow
//! posts before a deploy; `ci github release` the release workflow of a
//! goldenpath repository.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::Context;
use crate::exit::{CliError, Code, Reported};

/// `goldenpath ci`.
#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// GitHub Actions: the workflows of this spec (`--out DIR`,
    /// `--check`), the Deployments bodies of a preview (`deployment`), a
    /// release workflow (`release`).
    Github(GithubArgs),
}

/// Arguments of `goldenpath ci github`.
#[derive(Debug, Args)]
pub struct GithubArgs {
    #[command(subcommand)]
    command: Option<GithubCommand>,
    #[command(flatten)]
    workflows: WorkflowArgs,
}

/// What the generated workflows install and where they deploy.
#[derive(Debug, Args, Clone)]
pub struct WorkflowArgs {
    /// Where the workflows go.
    #[arg(long, value_name = "DIR", default_value = ".github/workflows")]
    pub out: PathBuf,
    /// Write nothing; exit 1 when a workflow in --out differs from what
    /// the spec generates (for CI itself).
    #[arg(long)]
    pub check: bool,
    /// The environment pull requests get previews in (default: the
    /// spec's first).
    #[arg(long, value_name = "ENV")]
    pub preview_env: Option<String>,
    /// The repository whose releases the jobs install goldenpath from.
    #[arg(
        long,
        value_name = "OWNER/NAME",
        default_value = "goldenpath-dev/goldenpath"
    )]
    pub release_repo: String,
    /// The goldenpath version the jobs install (default: this one).
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// The SHA-256 of the release archive, checked before it runs
    /// (default: the checksum file published beside it).
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// The branch pushes to which deploy the persistent deployment.
    #[arg(long, value_name = "BRANCH", default_value = "main")]
    pub default_branch: String,
}

#[derive(Debug, Subcommand)]
enum GithubCommand {
    /// Write the request bodies of a pull request's preview deployment
    /// (`deployment.json`, `deployment-status.json`) for `gh api`.
    Deployment(DeploymentArgs),
    /// Print (or write to --out) the release workflow of a goldenpath
    /// repository: stripped binaries with SHA-256 checksums on a tag.
    Release(ReleaseArgs),
}

#[derive(Debug, Args)]
struct DeploymentArgs {
    /// The environment.
    #[arg(long)]
    env: String,
    /// The status to write.
    #[arg(long, value_enum)]
    state: crate::github::DeploymentState,
}

#[derive(Debug, Args)]
struct ReleaseArgs {
    /// Write `release.yaml` here instead of printing it.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Exit 1 when the file in --out differs.
    #[arg(long, requires = "out")]
    check: bool,
}

/// Runs `ci`.
pub fn run(ctx: &Context, c: CiCommand) -> anyhow::Result<()> {
    let CiCommand::Github(a) = c;
    match a.command {
        None => workflows(ctx, &a.workflows),
        Some(GithubCommand::Deployment(d)) => deployment(ctx, &d),
        Some(GithubCommand::Release(r)) => release(ctx, &r),
    }
}

/// Actions every generated workflow uses, pinned by full commit.
const CHECKOUT: &str = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2";
const AWS_CREDENTIALS: &str =
    "aws-actions/configure-aws-credentials@ececac1a45f3b08a01d2dd070d28d111c5fe6722 # v4.1.0";
const CACHE: &str = "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684 # v4.2.3";

/// The release archive of a version for GitHub's Linux runners.
fn archive(version: &str) -> String {
    format!("goldenpath-{version}-x86_64-unknown-linux-gnu.tar.gz")
}

fn workflows(ctx: &Context, a: &WorkflowArgs) -> anyhow::Result<()> {
    let platform = ctx.platform()?;
    let files = generate(platform, &spec_in_repo(ctx)?, a)?;
    write_or_check(ctx, &a.out, &files, a.check)
}

/// The spec's path from the repository's root (the current directory).
fn spec_in_repo(ctx: &Context) -> anyhow::Result<String> {
    let spec = ctx.spec_path()?;
    let spec = std::fs::canonicalize(&spec).unwrap_or(spec);
    let here = std::env::current_dir()?;
    let here = std::fs::canonicalize(&here).unwrap_or(here);
    let rel = spec.strip_prefix(&here).map_err(|_| {
        CliError::invalid(format!(
            "the spec {} is outside this directory",
            spec.display()
        ))
        .hint("run `goldenpath ci github` at the root of the repository that holds the spec")
    })?;
    let rel = rel.to_string_lossy().into_owned();
    if !rel
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
    {
        return Err(CliError::invalid(format!(
            "the spec's path `{rel}` has characters a workflow would have to quote"
        ))
        .into());
    }
    Ok(rel)
}

fn write_or_check(
    ctx: &Context,
    out: &Path,
    files: &[(String, String)],
    check: bool,
) -> anyhow::Result<()> {
    let mut states = Vec::new();
    for (name, text) in files {
        let path = out.join(name);
        let same = std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str());
        let state = match (same, check) {
            (true, _) => "unchanged",
            (false, true) => "differs",
            (false, false) => {
                std::fs::create_dir_all(out)?;
                let tmp = out.join(format!(".{name}.tmp"));
                std::fs::write(&tmp, text)?;
                std::fs::rename(&tmp, &path)?;
                "written"
            }
        };
        states.push(crate::outputs::CiFile {
            path: path.display().to_string(),
            state: state.into(),
        });
    }
    let differ: Vec<String> = states
        .iter()
        .filter(|f| f.state == "differs")
        .map(|f| f.path.clone())
        .collect();
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::CiFilesOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            files: states,
        })?;
    } else if !check {
        let rows: Vec<Vec<String>> = states
            .iter()
            .map(|f| vec![f.path.clone(), f.state.clone()])
            .collect();
        ctx.printer
            .data(&crate::printer::table(&["FILE", "STATE"], &rows))?;
    }
    if !check {
        return Ok(());
    }
    if differ.is_empty() {
        ctx.printer.status(&format!(
            "{} workflow(s) are as the spec generates them",
            files.len()
        ));
        return Ok(());
    }
    if !ctx.printer.is_json() {
        ctx.printer.error(
            &format!(
                "{} workflow(s) differ from what the spec generates",
                differ.len()
            ),
            &differ,
            Some("run `goldenpath ci github` and commit what it writes"),
        );
    }
    Err(Reported(Code::Failed).into())
}

/// A generated workflow's first lines.
fn header(what: &str) -> String {
    format!(
        "# {what}\n# Generated by `goldenpath ci github` from the platform spec: re-run it to\n# update this file, do not edit it by hand (`goldenpath ci github --check`\n# fails when it differs).\n"
    )
}

/// Whose role a job takes: an environment's, or the one an input chose.
#[derive(Clone, Copy)]
enum Target<'e> {
    Env(&'e str),
    Input(&'e str),
}

/// Everything a workflow needs to say about the platform.
struct Plan<'a> {
    spec: &'a str,
    preview_env: String,
    envs: Vec<String>,
    aws: bool,
    region: Option<String>,
    /// Each environment's CI role names, by role.
    role_names: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    requests: Vec<String>,
    docs: bool,
    a: &'a WorkflowArgs,
    version: String,
}

/// The workflows of `platform`, by file name.
pub fn generate(
    platform: &gp_core::Platform,
    spec: &str,
    a: &WorkflowArgs,
) -> anyhow::Result<Vec<(String, String)>> {
    let envs: Vec<String> = platform.environment_names().map(String::from).collect();
    let preview_env = match &a.preview_env {
        Some(e) if envs.contains(e) => e.clone(),
        Some(e) => {
            return Err(
                CliError::invalid(format!("--preview-env names no environment `{e}`"))
                    .hint(format!("the environments are: {}", envs.join(", ")))
                    .into(),
            );
        }
        None => envs
            .first()
            .cloned()
            .ok_or_else(|| CliError::invalid("the spec declares no environment"))?,
    };
    let version = a
        .version
        .clone()
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
    let plain = |s: &str, what: &str| -> anyhow::Result<()> {
        if s.is_empty()
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
        {
            return Err(CliError::invalid(format!("{what} `{s}` is not a plain name")).into());
        }
        Ok(())
    };
    plain(&version, "--version")?;
    plain(&a.release_repo, "--release-repo")?;
    plain(&a.default_branch, "--default-branch")?;
    if let Some(h) = &a.sha256
        && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(CliError::invalid("--sha256 takes the 64 hex digits of a SHA-256").into());
    }
    for e in &envs {
        plain(e, "an environment")?;
    }
    let role_names = envs
        .iter()
        .filter_map(|e| {
            gp_core::Contract::new(platform, e, gp_core::Deployment::Persistent)
                .ok()
                .map(|c| {
                    let names = gp_core::iam::Role::ALL
                        .iter()
                        .map(|r| (r.as_str().to_string(), c.ci_role_name(r.as_str())))
                        .collect();
                    (e.clone(), names)
                })
        })
        .collect();
    let requests: Vec<String> = platform
        .spec
        .requests
        .as_ref()
        .map(|r| r.paths.iter().map(|p| p.value.clone()).collect())
        .filter(|p: &Vec<String>| !p.is_empty())
        .unwrap_or_else(|| vec!["requests/**/*.yaml".into()]);
    let spec_dir = Path::new(spec).parent().unwrap_or(Path::new(""));
    let requests = requests
        .iter()
        .map(|p| {
            let joined = spec_dir.join(p).to_string_lossy().into_owned();
            plain(&joined.replace(['*'], "x"), "a request path").map(|()| joined)
        })
        .collect::<anyhow::Result<Vec<String>>>()?;
    let plan = Plan {
        spec,
        preview_env,
        envs,
        aws: crate::context::uses_aws(platform),
        region: platform.spec.secrets.region.clone(),
        role_names,
        requests,
        docs: platform.spec.docs.is_some(),
        a,
        version,
    };
    Ok(vec![
        ("goldenpath-pull-request.yaml".into(), pull_request(&plan)),
        ("goldenpath-main.yaml".into(), main(&plan)),
        ("goldenpath-foundational.yaml".into(), foundational(&plan)),
        ("goldenpath-schedule.yaml".into(), schedule(&plan)),
    ])
}

impl Plan<'_> {
    /// `env:` of the workflow: the spec, the shared registry, its key.
    fn workflow_env(&self) -> String {
        format!(
            "env:\n  GOLDENPATH_SPEC: {}\n  GOLDENPATH_VERSION: \"{}\"\n",
            self.spec, self.version
        )
    }

    /// The steps every job starts with: the checkout (no credentials left
    /// in it), goldenpath installed, and the job's role in AWS — of
    /// `env`, or of the environment chosen at dispatch (`input`, an
    /// expression).
    fn setup(&self, role: &str, env: Target<'_>, fetch_depth: Option<u32>) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "      - uses: {CHECKOUT}\n        with:\n          persist-credentials: false\n"
        );
        if let Some(d) = fetch_depth {
            let _ = writeln!(s, "          fetch-depth: {d}");
        }
        s.push_str(&self.install());
        if !self.aws {
            return s;
        }
        let region = match &self.region {
            Some(r) => r.clone(),
            None => "${{ vars.AWS_REGION }}".into(),
        };
        let role_name = |e: &str| {
            self.role_names
                .get(e)
                .and_then(|r| r.get(role))
                .cloned()
                .unwrap_or_else(|| format!("{e}-ci-{role}"))
        };
        let role_arn = match env {
            Target::Env(e) => role_name(e),
            Target::Input(expr) => {
                let arms: String = self
                    .envs
                    .iter()
                    .map(|e| {
                        format!(
                            "            {e}) echo \"name={}\" >> \"$GITHUB_OUTPUT\" ;;\n",
                            role_name(e)
                        )
                    })
                    .collect();
                let _ = write!(
                    s,
                    "      - name: The {role} role of the environment\n        id: role\n        env:\n          TARGET_ENV: {expr}\n        run: |\n          case \"$TARGET_ENV\" in\n{arms}            *) echo \"::error::no environment $TARGET_ENV\"; exit 2 ;;\n          esac\n"
                );
                "${{ steps.role.outputs.name }}".to_string()
            }
        };
        let _ = write!(
            s,
            "      - name: AWS credentials for the {role} role (OIDC)\n        uses: {AWS_CREDENTIALS}\n        with:\n          role-to-assume: arn:aws:iam::${{{{ vars.AWS_ACCOUNT_ID }}}}:role/{role_arn}\n          aws-region: {region}\n"
        );
        s
    }

    /// Installs the pinned goldenpath release, its checksum verified; a
    /// cached `cargo install --locked` when the release cannot be had.
    fn install(&self) -> String {
        let archive = archive(&self.version);
        let verify = match &self.a.sha256 {
            Some(h) => {
                format!("            echo \"{h}  {archive}\" | sha256sum --check --strict\n")
            }
            None => format!(
                "            curl --fail --silent --show-error --location --retry 3 --output {archive}.sha256 \"$base/{archive}.sha256\"\n            sha256sum --check --strict {archive}.sha256\n"
            ),
        };
        let version = &self.version;
        let repo = &self.a.release_repo;
        format!(
            "      - name: Cache goldenpath\n        id: goldenpath-cache\n        uses: {CACHE}\n        with:\n          path: ~/.local/goldenpath\n          key: goldenpath-${{{{ runner.os }}}}-{version}\n      - name: Install goldenpath {version}\n        if: steps.goldenpath-cache.outputs.cache-hit != 'true'\n        run: |\n          set -euo pipefail\n          mkdir -p ~/.local/goldenpath/bin\n          cd \"$RUNNER_TEMP\"\n          base=\"https://github.com/{repo}/releases/download/v$GOLDENPATH_VERSION\"\n          if curl --fail --silent --show-error --location --retry 3 --output {archive} \"$base/{archive}\"; then\n{verify}            tar -xzf {archive}\n            install -m 0755 goldenpath ~/.local/goldenpath/bin/goldenpath\n          else\n            echo \"::warning::no release archive for $GOLDENPATH_VERSION; building it with cargo install --locked\"\n            cargo install --locked --root ~/.local/goldenpath --git \"https://github.com/{repo}\" --tag \"v$GOLDENPATH_VERSION\" goldenpath\n          fi\n      - name: Put goldenpath on the PATH\n        run: |\n          echo \"$HOME/.local/goldenpath/bin\" >> \"$GITHUB_PATH\"\n          \"$HOME/.local/goldenpath/bin/goldenpath\" --version\n"
        )
    }

    /// Step `env:` lines of the shared registry (its URL and key are
    /// repository secrets).
    fn registry_env(&self) -> &'static str {
        "          GOLDENPATH_REGISTRY: ${{ secrets.GOLDENPATH_REGISTRY }}\n          GOLDENPATH_REGISTRY_KEY: ${{ secrets.GOLDENPATH_REGISTRY_KEY }}\n"
    }

    fn id_token(&self) -> &'static str {
        if self.aws {
            "      id-token: write # to assume the job's AWS role through OIDC\n"
        } else {
            ""
        }
    }
}

fn pull_request(p: &Plan<'_>) -> String {
    let env = &p.preview_env;
    let registry = p.registry_env();
    let id_token = p.id_token();
    let docs = if p.docs {
        "      - name: Docs check\n        run: goldenpath --output github docs check\n"
    } else {
        ""
    };
    let mut s = header("goldenpath: pull request checks and a preview per pull request.");
    let _ = write!(
        s,
        r#"name: goldenpath pull request
on:
  pull_request:
    types: [opened, synchronize, reopened, closed]
{workflow_env}
permissions: {{}}

# One run at a time per pull request; none is cancelled, so a teardown
# always finishes.
concurrency:
  group: goldenpath-pull-request-${{{{ github.event.pull_request.number }}}}
  cancel-in-progress: false

jobs:
  checks:
    name: Checks and plan
    if: github.event.action != 'closed'
    runs-on: ubuntu-latest
    permissions:
      contents: read # to check out the repository
      pull-requests: write # to comment on the pull request
{id_token}    steps:
{setup_plan}      - name: Validate
        run: goldenpath --output github validate
{docs}      - name: Plan the preview
        env:
{registry}        run: goldenpath --output github plan --env {env} --build-id auto
      - name: Comment on the pull request
        if: always()
        env:
          GH_TOKEN: ${{{{ github.token }}}}
          PR_NUMBER: ${{{{ github.event.pull_request.number }}}}
          REPO: ${{{{ github.repository }}}}
        run: |
          set -euo pipefail
          body="$RUNNER_TEMP/goldenpath/comment.md"
          [ -f "$body" ] || exit 0
          id=$(gh api --paginate "repos/$REPO/issues/$PR_NUMBER/comments" --jq '.[] | select(.body | startswith("{marker}")) | .id' | head -n 1)
          if [ -n "$id" ]; then
            gh api --method PATCH "repos/$REPO/issues/comments/$id" -F "body=@$body" > /dev/null
          else
            gh api --method POST "repos/$REPO/issues/$PR_NUMBER/comments" -F "body=@$body" > /dev/null
          fi

  preview:
    name: Preview
    if: github.event.action != 'closed'
    needs: checks
    runs-on: ubuntu-latest
    permissions:
      contents: read # to check out the repository
      deployments: write # to record the preview as a GitHub Deployment
{id_token}    steps:
{setup_apply}      - name: Write the GitHub deployment's bodies
        run: goldenpath ci github deployment --env {env} --state in_progress
      - name: Start the GitHub deployment
        id: deployment
        env:
          GH_TOKEN: ${{{{ github.token }}}}
          REPO: ${{{{ github.repository }}}}
        run: |
          set -euo pipefail
          id=$(gh api --method POST "repos/$REPO/deployments" --input "$RUNNER_TEMP/goldenpath/deployment.json" --jq .id)
          gh api --method POST "repos/$REPO/deployments/$id/statuses" --input "$RUNNER_TEMP/goldenpath/deployment-status.json" > /dev/null
          echo "id=$id" >> "$GITHUB_OUTPUT"
      - name: Deploy the preview
        id: deploy
        env:
{registry}        run: goldenpath --output github deploy --env {env} --build-id auto
      - name: Write the failure status
        if: always() && steps.deployment.outputs.id != '' && steps.deploy.outcome != 'success'
        run: goldenpath ci github deployment --env {env} --state failure
      - name: Finish the GitHub deployment
        if: always() && steps.deployment.outputs.id != ''
        env:
          GH_TOKEN: ${{{{ github.token }}}}
          REPO: ${{{{ github.repository }}}}
          DEPLOYMENT_ID: ${{{{ steps.deployment.outputs.id }}}}
        run: |
          set -euo pipefail
          gh api --method POST "repos/$REPO/deployments/$DEPLOYMENT_ID/statuses" --input "$RUNNER_TEMP/goldenpath/deployment-status.json" > /dev/null

  teardown:
    name: Tear down the preview
    if: github.event.action == 'closed'
    runs-on: ubuntu-latest
    permissions:
      contents: read # to check out the repository
      deployments: write # to record the preview as a GitHub Deployment
{id_token}    steps:
{setup_teardown}      - name: Tear down the preview
        env:
          PR_NUMBER: ${{{{ github.event.pull_request.number }}}}
{registry}        run: goldenpath --output github teardown --env {env} --pull-request "$PR_NUMBER"
      - name: Mark the GitHub deployments inactive
        if: always()
        env:
          GH_TOKEN: ${{{{ github.token }}}}
          PR_NUMBER: ${{{{ github.event.pull_request.number }}}}
          REPO: ${{{{ github.repository }}}}
        run: |
          set -euo pipefail
          status="$RUNNER_TEMP/goldenpath/deployment-status.json"
          [ -f "$status" ] || exit 0
          gh api --paginate "repos/$REPO/deployments?environment=preview-{env}-pr-$PR_NUMBER" --jq '.[].id' |
            while read -r id; do
              gh api --method POST "repos/$REPO/deployments/$id/statuses" --input "$status" > /dev/null
            done
"#,
        workflow_env = p.workflow_env(),
        setup_plan = p.setup("plan", Target::Env(env), None),
        setup_apply = p.setup("apply", Target::Env(env), None),
        setup_teardown = p.setup("teardown", Target::Env(env), None),
        marker = crate::github::COMMENT_MARKER,
    );
    s
}

fn main(p: &Plan<'_>) -> String {
    let env = &p.preview_env;
    let registry = p.registry_env();
    let id_token = p.id_token();
    let branch = &p.a.default_branch;
    let pathspecs: String = p
        .requests
        .iter()
        .map(|r| format!(" ':(glob){r}'"))
        .collect();
    let choices: String = p
        .envs
        .iter()
        .map(|e| format!("          - {e}\n"))
        .collect();
    let mut s = header(
        "goldenpath: the persistent deployment on the default branch (or, by hand, in any environment), and requests applied when they merge.",
    );
    let _ = write!(
        s,
        r#"name: goldenpath main
on:
  push:
    branches: [{branch}]
  workflow_dispatch:
    inputs:
      env:
        description: The environment whose persistent deployment to deploy
        type: choice
        options:
{choices}{workflow_env}
permissions: {{}}

jobs:
  persistent:
    name: Persistent deployment
    runs-on: ubuntu-latest
    # A promotion goes through the environment's GitHub environment (give
    # it required reviewers in the repository's settings).
    environment: goldenpath-${{{{ inputs.env || '{env}' }}}}
    concurrency:
      group: goldenpath-persistent-${{{{ inputs.env || '{env}' }}}}
      cancel-in-progress: false
    permissions:
      contents: read # to check out the repository
{id_token}    steps:
{setup}      - name: Deploy the persistent deployment
        env:
          TARGET_ENV: ${{{{ inputs.env || '{env}' }}}}
{registry}        run: goldenpath --output github deploy --env "$TARGET_ENV" --persistent

  requests:
    name: Requests
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    concurrency:
      group: goldenpath-requests
      cancel-in-progress: false
    permissions:
      contents: read # to check out the repository
{id_token}    steps:
{setup_requests}      - name: Apply the requests this push changed
        env:
          BEFORE: ${{{{ github.event.before }}}}
          AFTER: ${{{{ github.sha }}}}
{registry}        run: |
          set -euo pipefail
          failed=0
          git diff --name-only --diff-filter=AM "$BEFORE" "$AFTER" --{pathspecs} > "$RUNNER_TEMP/requests.txt" || git ls-files --{pathspecs} > "$RUNNER_TEMP/requests.txt"
          while read -r file; do
            echo "::group::$file"
            goldenpath request apply "$file" || failed=1
            echo "::endgroup::"
          done < "$RUNNER_TEMP/requests.txt"
          exit "$failed"
"#,
        workflow_env = p.workflow_env(),
        setup = p.setup(
            "apply",
            Target::Input(&format!("${{{{ inputs.env || '{env}' }}}}")),
            None
        ),
        setup_requests = p.setup("requests", Target::Env(env), Some(0)),
    );
    s
}

fn foundational(p: &Plan<'_>) -> String {
    let registry = p.registry_env();
    let id_token = p.id_token();
    let choices: String = p
        .envs
        .iter()
        .map(|e| format!("          - {e}\n"))
        .collect();
    let mut s = header(
        "goldenpath: the foundational plane, by hand, through the environment's approved GitHub environment.",
    );
    let _ = write!(
        s,
        r#"name: goldenpath foundational
on:
  workflow_dispatch:
    inputs:
      env:
        description: The environment
        type: choice
        options:
{choices}      components:
        description: Foundational components to deploy, space-separated (all when empty)
        type: string
        default: ""
{workflow_env}
permissions: {{}}

jobs:
  foundational:
    name: Foundational plane
    runs-on: ubuntu-latest
    # Requires approval: give this GitHub environment required reviewers.
    environment: goldenpath-foundational-${{{{ inputs.env }}}}
    concurrency:
      group: goldenpath-foundational-${{{{ inputs.env }}}}
      cancel-in-progress: false
    permissions:
      contents: read # to check out the repository
{id_token}    steps:
{setup}      - name: Deploy the foundational plane
        env:
          TARGET_ENV: ${{{{ inputs.env }}}}
          COMPONENTS: ${{{{ inputs.components }}}}
{registry}        run: |
          set -euo pipefail
          names=()
          for c in $COMPONENTS; do
            case "$c" in
              *[!a-z0-9-]*) echo "::error::not a component name: $c"; exit 2 ;;
            esac
            names+=("$c")
          done
          goldenpath --output github deploy --env "$TARGET_ENV" --foundational "${{names[@]}}"
"#,
        workflow_env = p.workflow_env(),
        setup = p.setup("apply", Target::Input("${{ inputs.env }}"), None),
    );
    s
}

fn schedule(p: &Plan<'_>) -> String {
    let registry = p.registry_env();
    let id_token = p.id_token();
    let env = &p.preview_env;
    let mut jobs = String::new();
    for e in &p.envs {
        let _ = write!(
            jobs,
            r#"  reap-{e}:
    name: Reap {e}
    runs-on: ubuntu-latest
    concurrency:
      group: goldenpath-reap-{e}
      cancel-in-progress: false
    permissions:
      contents: read # to check out the repository
{id_token}    steps:
{setup}      - name: Reap expired builds in {e}
        env:
{registry}        run: goldenpath reap --env {e}

  drift-{e}:
    name: Drift in {e}
    runs-on: ubuntu-latest
    concurrency:
      group: goldenpath-drift-{e}
      cancel-in-progress: false
    permissions:
      contents: read # to check out the repository
{id_token}    steps:
{drift_setup}      - name: What changed outside goldenpath in the foundational plane of {e}
        env:
{registry}        run: goldenpath --output github drift --env {e} --foundational
      - name: What changed outside goldenpath in the persistent deployment of {e}
        if: ${{{{ !cancelled() }}}}
        env:
{registry}        run: goldenpath --output github drift --env {e} --persistent

"#,
            setup = p.setup("reap", Target::Env(e), None),
            drift_setup = p.setup("plan", Target::Env(e), None),
        );
    }
    let mut s = header(
        "goldenpath: on a schedule, expired builds reaped, drift found (a job fails when something changed outside goldenpath: exit 4), and the previews of closed pull requests swept.",
    );
    let _ = write!(
        s,
        r#"name: goldenpath schedule
on:
  schedule:
    - cron: "17 * * * *"
  workflow_dispatch:
{workflow_env}
permissions: {{}}

jobs:
{jobs}  sweep-previews:
    name: Sweep previews
    runs-on: ubuntu-latest
    concurrency:
      group: goldenpath-sweep-{env}
      cancel-in-progress: false
    permissions:
      contents: read # to check out the repository
      pull-requests: read # to list the open pull requests
{id_token}    steps:
{setup}      - name: List the open pull requests
        id: open
        env:
          GH_TOKEN: ${{{{ github.token }}}}
          REPO: ${{{{ github.repository }}}}
        run: |
          set -euo pipefail
          numbers=$(gh api --paginate "repos/$REPO/pulls?state=open&per_page=100" --jq '.[].number' | paste -sd, -)
          echo "numbers=$numbers" >> "$GITHUB_OUTPUT"
      - name: Tear down the previews of pull requests that are closed or gone
        env:
          OPEN: ${{{{ steps.open.outputs.numbers }}}}
{registry}        run: goldenpath builds sweep --env {env} --open-pull-requests "$OPEN"
"#,
        workflow_env = p.workflow_env(),
        setup = p.setup("teardown", Target::Env(env), None),
    );
    s
}

fn deployment(ctx: &Context, d: &DeploymentArgs) -> anyhow::Result<()> {
    ctx.check_env(&d.env)?;
    let pr = crate::github::pull_request().ok_or_else(|| {
        CliError::invalid("no pull request: GITHUB_EVENT_NAME is not pull_request, or GITHUB_EVENT_PATH holds no pull request")
            .hint("run it in a pull request's workflow")
    })?;
    let dir = crate::github::files_dir(&ctx.state_dir()?);
    let run_url = ctx.run_url();
    let description = match d.state {
        crate::github::DeploymentState::InProgress => {
            format!(
                "deploying the preview of pull request #{} in {}",
                pr.number, d.env
            )
        }
        crate::github::DeploymentState::Success => format!("preview of #{} deployed", pr.number),
        crate::github::DeploymentState::Failure => {
            format!("the preview of #{} failed to deploy", pr.number)
        }
        crate::github::DeploymentState::Inactive => format!("preview of #{} torn down", pr.number),
    };
    let mut files = Vec::new();
    for (name, v) in [
        (
            "deployment.json",
            crate::github::deployment_body(&d.env, &pr, None),
        ),
        (
            "deployment-status.json",
            crate::github::status_body(d.state, &description, None, run_url.as_deref()),
        ),
    ] {
        let mut text = serde_json::to_string_pretty(&v)?;
        text.push('\n');
        let path = crate::github::write_file(&dir, name, &text)?;
        files.push(crate::outputs::CiFile {
            path: path.display().to_string(),
            state: "written".into(),
        });
    }
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::CiFilesOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            files,
        })?;
    } else {
        for f in files {
            ctx.printer.data(&f.path)?;
        }
    }
    Ok(())
}

/// The release workflow of a goldenpath repository.
pub fn release_workflow() -> String {
    let mut s =
        header("goldenpath's release: stripped binaries with SHA-256 checksums, on a version tag.");
    let _ = write!(
        s,
        r#"name: release
on:
  push:
    tags: ["v*"]

permissions: {{}}

# One release per tag at a time; a publish is never cancelled.
concurrency:
  group: release-${{{{ github.ref_name }}}}
  cancel-in-progress: false

jobs:
  release:
    name: Release
    runs-on: ubuntu-latest
    permissions:
      contents: write # to publish the release
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - name: Build
        run: cargo build --profile dist --locked -p goldenpath
      - name: Package with its checksum
        env:
          TAG: ${{{{ github.ref_name }}}}
        run: |
          set -euo pipefail
          version="${{TAG#v}}"
          archive="goldenpath-$version-x86_64-unknown-linux-gnu.tar.gz"
          mkdir -p dist
          cp target/dist/goldenpath dist/goldenpath
          strip dist/goldenpath
          tar -C dist -czf "dist/$archive" goldenpath
          (cd dist && sha256sum "$archive" > "$archive.sha256")
          echo "ARCHIVE=$archive" >> "$GITHUB_ENV"
      - name: Publish the release
        env:
          GH_TOKEN: ${{{{ github.token }}}}
          TAG: ${{{{ github.ref_name }}}}
        run: gh release create "$TAG" --verify-tag --title "$TAG" --generate-notes "dist/$ARCHIVE" "dist/$ARCHIVE.sha256"
"#
    );
    s
}

fn release(ctx: &Context, r: &ReleaseArgs) -> anyhow::Result<()> {
    let files = vec![("release.yaml".to_string(), release_workflow())];
    match &r.out {
        Some(out) => write_or_check(ctx, out, &files, r.check),
        None if ctx.printer.is_json() => Err(CliError::invalid(
            "`ci github release` prints a workflow; --output json applies with --out DIR",
        )
        .into()),
        None => Ok(ctx.printer.data(files[0].1.trim_end())?),
    }
}
