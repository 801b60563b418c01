//! goldenpath's command line: argument parsing, the commands, the output
//! printer and exit statuses. `main()` in the `goldenpath` binary calls
//! [`run`].
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

mod classify;
mod cmd;
mod context;
pub mod env;
mod examples;
pub mod exit;
pub mod github;
pub mod outputs;
pub mod printer;
mod progress;

pub use context::Context;
use printer::{Output, Printer};

const AFTER_HELP: &str = "\
Exit status: 0 ok, 1 the operation failed, 2 invalid input or usage, 3 refused by a guard.
Environment variables are listed by `goldenpath env`.";

/// A control plane for golden-path internal developer platforms.
///
/// goldenpath reads a platform spec (goldenpath.yaml), derives every name
/// from one contract, and deploys, reports on and tears down the platform's
/// foundational plane and its persistent and per-build deployments.
#[derive(Debug, Parser)]
#[command(name = "goldenpath", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

const GLOBAL: &str = "Global options";

/// Options every command takes (shown under their own heading, and only
/// where they mean something: see [`command`]).
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Output: text, or json (one document, or JSON Lines for a run's
    /// events); sarif for `validate`, `docs check` and `policy check`;
    /// github (annotations, the job summary, step outputs, the pull
    /// request comment and Deployments bodies) for those and `plan`,
    /// `deploy`, `teardown`, `status`, `drift`, `request` and `ci`.
    #[arg(long, global = true, value_enum, env = env::OUTPUT, default_value_t = Output::Text, value_name = "FORMAT", hide_possible_values = true, help_heading = GLOBAL)]
    pub output: Output,
    /// More detail on stderr: -v the steps' output, -vv debug, -vvv trace.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,
    /// The platform spec: a file, or a directory holding goldenpath.yaml.
    /// Default: goldenpath.yaml here or in the nearest parent directory.
    #[arg(long, global = true, env = env::SPEC, value_name = "PATH", help_heading = GLOBAL)]
    pub spec: Option<PathBuf>,
    /// Where goldenpath keeps its state (registry, secrets, local servers).
    /// Default: `stateDir` in the spec, else `.goldenpath/` beside the spec.
    #[arg(long, global = true, env = env::STATE_DIR, value_name = "DIR", help_heading = GLOBAL)]
    pub state_dir: Option<PathBuf>,
    /// The registry: `postgres://...` for a shared one, or a SQLite file.
    /// Default: registry.db in the state directory.
    #[arg(long, global = true, env = env::REGISTRY, hide_env_values = true, value_name = "URL|PATH", help_heading = GLOBAL)]
    pub registry: Option<String>,
}

/// The global options that mean nothing to a command, hidden from its
/// help (still accepted, so a wrapper that always passes them works).
const UNUSED_GLOBALS: &[(&str, &[&str])] = &[
    ("init", &["spec", "state_dir", "registry"]),
    ("schema", &["spec", "state_dir", "registry"]),
    ("completions", &["spec", "state_dir", "registry", "output"]),
    ("env", &["spec", "state_dir", "registry"]),
    ("docs", &["spec", "state_dir", "registry"]),
    ("gitops", &["state_dir", "registry"]),
    ("policy", &["state_dir", "registry"]),
    ("validate", &["state_dir", "registry"]),
    ("contract", &["state_dir", "registry"]),
    ("graph", &["state_dir", "registry"]),
    ("state-dir", &["registry"]),
    ("secret", &["registry"]),
];

/// The command line's definition, with each command showing only the
/// global options it uses.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    for (sub, ids) in UNUSED_GLOBALS {
        for id in *ids {
            let Some(arg) = cmd
                .get_arguments()
                .find(|a| a.get_id().as_str() == *id)
                .cloned()
            else {
                continue;
            };
            // A subcommand's own copy stops clap propagating the visible one.
            cmd = cmd.mut_subcommand(*sub, |s| s.arg(arg.hide(true)));
        }
    }
    cmd
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the platform spec; every problem is reported with file:line:col.
    Validate(cmd::validate::ValidateArgs),
    /// Print every name the contract derives for a deployment.
    Contract(cmd::contract::ContractArgs),
    /// Write a runnable example platform.
    Init(cmd::init::InitArgs),
    /// Print the JSON Schema of goldenpath.yaml.
    Schema(cmd::schema::SchemaArgs),
    /// Print shell completions.
    Completions(cmd::completions::CompletionsArgs),
    /// What a deploy would do, per component: create, adopt, update,
    /// unchanged, skip (why) or blocked (why).
    Plan(cmd::status::PlanArgs),
    /// Deploy a build (--build-id B|auto), the persistent deployment, or the
    /// foundational plane (--foundational [NAMES]).
    Deploy(cmd::deploy::DeployArgs),
    /// What runs, what waits, and why; the next command for anything not
    /// running.
    Status(cmd::status::StatusArgs),
    /// What changed outside goldenpath since it applied each component:
    /// exit 0 nothing, 4 something drifted, 1 a check failed.
    Drift(cmd::drift::DriftArgs),
    /// Delivery metrics of an environment over a window (default the last
    /// 30 days): deployment frequency, lead time for changes, change
    /// failure rate, time to restore.
    Metrics(cmd::metrics::MetricsArgs),
    /// Remove exactly what a deployment created, then check for orphans.
    Teardown(cmd::deploy::TeardownArgs),
    /// Backstage entities computed from what goldenpath deployed: a
    /// System per environment, a Component per app, a Resource per
    /// database, cluster, zone and secret; `--out DIR` for a Location.
    Catalog(cmd::catalog::CatalogArgs),
    /// The registry over HTTP: the JSON API and its OpenAPI document, the
    /// live event stream, the dashboard, the Backstage catalog at one URL;
    /// changes (approvals, unlocks) only with a token from --tokens.
    Serve(cmd::serve::ServeArgs),
    /// Tear down every build whose TTL has passed (not kept, not held by a
    /// live run), after notices at the configured lead times; for a
    /// scheduled CI job.
    Reap(cmd::reap::ReapArgs),
    /// Print a deployment's graph as Mermaid or DOT.
    Graph(cmd::status::GraphArgs),
    /// CI: the GitHub Actions workflows of this spec (pull request checks
    /// and previews, the persistent deployment, the foundational plane,
    /// requests, the reaper and the preview sweep), checked with --check.
    #[command(subcommand)]
    Ci(cmd::ci::CiCommand),
    /// Builds of an environment, from the registry.
    #[command(subcommand)]
    Builds(cmd::builds::BuildsCommand),
    /// The registry: export, import, report, verify.
    #[command(subcommand)]
    Registry(cmd::registry::RegistryCommand),
    /// Deployment leases: who is changing what.
    #[command(subcommand)]
    Lease(cmd::lease::LeaseCommand),
    /// Self-service requests: databases (RDS-NNNN), buckets (S3-NNNN),
    /// secrets (SEC-NNNN), container repositories (ECR-NNNN).
    #[command(subcommand)]
    Request(cmd::request::RequestCommand),
    /// Databases on the foundational instances.
    #[command(subcommand)]
    Db(cmd::db::DbCommand),
    /// Who owns every name of an environment (databases, roles, secret
    /// paths, buckets, repositories): the platform's components, the
    /// persistent deployment, every build, and requests.
    Owners(cmd::owners::OwnersArgs),
    /// IAM of the CI roles, derived from the spec: the policy each role
    /// needs (policy), who may assume it (trust), and a policy in use
    /// checked against the need (check).
    #[command(subcommand)]
    Iam(cmd::iam::IamCommand),
    /// What requests created or adopted: databases, buckets, secrets,
    /// repositories, with who asked and who applied.
    #[command(subcommand)]
    Resources(cmd::request::ResourcesCommand),
    /// The secrets store: list, get (redacted unless --reveal), put (stdin).
    #[command(subcommand)]
    Secret(cmd::secret::SecretCommand),
    /// A deployment's host records (plan, apply) and the zones' owners (list).
    #[command(subcommand)]
    Dns(cmd::dns::DnsCommand),
    /// Terraform state locks: a recorded force-unlock.
    #[command(subcommand)]
    Terraform(cmd::terraform::TerraformCommand),
    /// Checks across the rendered artifacts (propagation of the contract).
    #[command(subcommand)]
    Verify(cmd::verify::VerifyCommand),
    /// The GitOps repository: the root Application a cluster bootstraps from.
    #[command(subcommand)]
    Gitops(cmd::gitops::GitopsCommand),
    /// The orphan sweep: resources still tagged with a build that is gone
    /// (AWS Resource Groups Tagging API); --delete removes secrets.
    Orphans(cmd::orphans::OrphansArgs),
    /// Docs-as-code governance: check front matter, schemas, relations,
    /// ADRs, Markdown and emoji rules; regenerate the ADR index.
    #[command(subcommand)]
    Docs(cmd::docs::DocsCommand),
    /// Policies (Rego) over rendered manifests and Terraform plans: list
    /// the rules, check, run their unit tests.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
    /// The policy evaluation's own process (run by goldenpath, with limits).
    #[command(name = "__policy-worker", hide = true)]
    PolicyWorker {
        /// The request file.
        request: PathBuf,
    },
    /// List the environment variables goldenpath reads.
    Env,
    /// Print the resolved state directory (without creating it).
    StateDir,
}

/// How long a command's process lives, for what the binary tunes before
/// it runs (its allocator: [`run_with`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// Exits when its work is done (every command but `serve`): memory
    /// freed on the way goes back to the system at exit.
    Command,
    /// Runs until stopped (`serve`): memory it no longer uses should go
    /// back to the system while it runs.
    Server,
}

/// The lifetime of a command's process.
fn lifetime(command: &Command) -> Lifetime {
    match command {
        Command::Serve(_) => Lifetime::Server,
        _ => Lifetime::Command,
    }
}

/// Runs the command line and returns the exit status.
pub fn run() -> ExitCode {
    run_with(|_| {})
}

/// [`run`], calling `before` with the command's [`Lifetime`] once the
/// command line is parsed and before the command runs.
pub fn run_with(before: impl FnOnce(Lifetime)) -> ExitCode {
    let parsed = command()
        .try_get_matches()
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 2,
            };
            if code == 0 {
                let _ = e.print();
            } else {
                // A usage error echoes the argument it could not take: sent
                // escaped, as every message is.
                Printer::new(Output::Text).status(e.to_string().trim_end());
            }
            if code == 2 && json_requested() {
                let text = e.to_string();
                let message = text
                    .split("\n\n")
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                let _ = Printer::new(Output::Json).json(&outputs::ErrorOutput {
                    schema_version: outputs::SCHEMA_VERSION,
                    error: outputs::ErrorDetail {
                        code: 2,
                        message,
                        causes: Vec::new(),
                        hint: Some("see: goldenpath help".into()),
                        diagnostics: Vec::new(),
                    },
                });
            }
            return ExitCode::from(code);
        }
    };
    let printer = Printer::new(cli.global.output);
    init_logging(cli.global.verbose);
    let mut ctx = Context::new(cli.global.clone(), printer.clone());
    ctx.read_only = reads_only(&cli.command);
    let lifetime = lifetime(&cli.command);
    before(lifetime);
    let code = match dispatch(&ctx, cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::report(&printer, &e),
    };
    if lifetime == Lifetime::Command {
        ctx.finish_at_exit();
    }
    code
}

/// Whether the command line (or `GOLDENPATH_OUTPUT`) asks for JSON, read
/// without clap: for usage errors, which clap reports before parsing ends.
fn json_requested() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let flag = args.iter().enumerate().any(|(i, a)| {
        a == "--output=json" || (a == "--output" && args.get(i + 1).is_some_and(|v| v == "json"))
    });
    flag || std::env::var(env::OUTPUT).is_ok_and(|v| v == "json")
}

/// Commands that only read: they open the registry read-only, so they
/// create nothing (no `registry.db`, no key) where none exists yet.
fn reads_only(command: &Command) -> bool {
    use cmd::registry::RegistryCommand as R;
    match command {
        Command::Validate(_)
        | Command::Plan(_)
        | Command::Status(_)
        | Command::Graph(_)
        | Command::Metrics(_)
        | Command::Catalog(_)
        | Command::Serve(_) => true,
        Command::Builds(b) => matches!(
            b,
            cmd::builds::BuildsCommand::List(_) | cmd::builds::BuildsCommand::Show(_)
        ),
        Command::Registry(r) => matches!(r, R::Export(_) | R::Report(_)),
        Command::Lease(l) => matches!(l, cmd::lease::LeaseCommand::List(_)),
        Command::Request(r) => matches!(
            r,
            cmd::request::RequestCommand::List(_)
                | cmd::request::RequestCommand::Validate(_)
                | cmd::request::RequestCommand::Schema(_)
        ),
        Command::Db(_)
        | Command::Owners(_)
        | Command::Iam(_)
        | Command::Resources(_)
        | Command::Verify(_)
        | Command::Gitops(_)
        | Command::Policy(_) => true,
        Command::Dns(d) => !matches!(d, cmd::dns::DnsCommand::Apply(_)),
        _ => false,
    }
}

/// Whether a command writes findings as SARIF and GitHub annotations
/// (`--output sarif|github`); every other command refuses those formats.
fn annotates(command: &Command) -> bool {
    matches!(
        command,
        Command::Validate(_)
            | Command::Docs(cmd::docs::DocsCommand::Check(_))
            | Command::Policy(cmd::policy::PolicyCommand::Check(_))
    )
}

/// Whether a command writes for GitHub Actions (`--output github`): the
/// ones that report findings, and those a workflow runs (a job summary,
/// step outputs, the pull request comment, Deployments bodies).
fn writes_for_github(command: &Command) -> bool {
    annotates(command)
        || matches!(
            command,
            Command::Plan(_)
                | Command::Drift(_)
                | Command::Deploy(_)
                | Command::Teardown(_)
                | Command::Status(_)
                | Command::Request(_)
                | Command::Ci(_)
        )
}

fn dispatch(ctx: &Context, command: Command) -> anyhow::Result<()> {
    match ctx.printer.output() {
        Output::Sarif if !annotates(&command) => {
            return Err(exit::CliError::invalid(
                "--output sarif is for the commands that report findings: validate, docs check and policy check",
            )
            .hint("use --output json or text here")
            .into());
        }
        Output::Github if !writes_for_github(&command) => {
            return Err(exit::CliError::invalid(
                "--output github is for validate, docs check, policy check, plan, deploy, teardown, status, request and ci",
            )
            .hint("use --output json or text here")
            .into());
        }
        // Errors and warnings of the commands a workflow runs also reach
        // the pull request as annotations (the checks print their own).
        Output::Github if !annotates(&command) => ctx.printer.annotate_messages(),
        _ => {}
    }
    match command {
        Command::Validate(args) => cmd::validate::run(ctx, args),
        Command::Ci(c) => cmd::ci::run(ctx, c),
        Command::Contract(args) => cmd::contract::run(ctx, args),
        Command::Init(args) => cmd::init::run(ctx, args),
        Command::Schema(args) => cmd::schema::run(ctx, args),
        Command::Completions(args) => cmd::completions::run(ctx, args, self::command()),
        Command::Plan(a) => cmd::status::plan(ctx, a),
        Command::Deploy(a) => cmd::deploy::deploy(ctx, a),
        Command::Status(a) => cmd::status::status(ctx, a),
        Command::Drift(a) => cmd::drift::run(ctx, a),
        Command::Metrics(a) => ctx
            .require_registry()
            .and_then(|()| cmd::metrics::run(ctx, a)),
        Command::Teardown(a) => cmd::deploy::teardown(ctx, a),
        Command::Reap(a) => cmd::reap::run(ctx, a),
        Command::Catalog(a) => cmd::catalog::run(ctx, a),
        Command::Serve(a) => cmd::serve::run(ctx, a),
        Command::Graph(a) => cmd::status::graph(ctx, a),
        Command::Builds(c) => cmd::builds::run(ctx, c),
        Command::Registry(c) => cmd::registry::run(ctx, c),
        Command::Lease(c) => cmd::lease::run(ctx, c),
        Command::Request(c) => cmd::request::run(ctx, c),
        Command::Db(c) => cmd::db::run(ctx, c),
        Command::Resources(c) => cmd::request::run_resources(ctx, c),
        Command::Owners(a) => cmd::owners::run(ctx, a),
        Command::Iam(c) => cmd::iam::run(ctx, c),
        Command::Secret(c) => cmd::secret::run(ctx, c),
        Command::Dns(c) => cmd::dns::run(ctx, c),
        Command::Terraform(c) => cmd::terraform::run(ctx, c),
        Command::Verify(c) => cmd::verify::run(ctx, c),
        Command::Orphans(a) => cmd::orphans::run(ctx, a),
        Command::Gitops(c) => cmd::gitops::run(ctx, c),
        Command::Docs(c) => cmd::docs::run(ctx, c),
        Command::Policy(c) => cmd::policy::run(ctx, c),
        Command::PolicyWorker { request } => {
            let code = gp_policy::worker_main(&request);
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        Command::Env => env::print(ctx),
        Command::StateDir => {
            let dir = ctx.state_dir()?;
            if ctx.printer.is_json() {
                ctx.printer.json(&outputs::StateDirOutput {
                    schema_version: outputs::SCHEMA_VERSION,
                    state_dir: dir.display().to_string(),
                })?;
            } else {
                ctx.printer.data(&dir.display().to_string())?;
            }
            Ok(())
        }
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match verbose {
        // The AWS SDK's own probing (a region from the instance metadata
        // service, say) warns with raw responses; what fails reaches the
        // user as goldenpath's error instead. `-v` shows it.
        0 => "warn,aws_config=error,aws_smithy_runtime=error,aws_smithy_runtime_api=error",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let ansi = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        super::command().debug_assert();
        // Every hidden global names a real command and option.
        let cmd = super::command();
        for (sub, _) in super::UNUSED_GLOBALS {
            assert!(cmd.find_subcommand(sub).is_some(), "{sub}");
        }
    }

    fn parsed(args: &[&str]) -> super::Command {
        let m = super::command()
            .try_get_matches_from(std::iter::once("goldenpath").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        <super::Cli as clap::FromArgMatches>::from_arg_matches(&m)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .command
    }

    #[test]
    fn only_serve_runs_as_a_server() {
        use super::{Lifetime, lifetime};
        assert_eq!(lifetime(&parsed(&["serve"])), Lifetime::Server);
        for args in [
            &["teardown", "--env", "dev", "--build-id", "01-01-26-01"][..],
            &["deploy", "--env", "dev", "--persistent"],
            &["drift", "--env", "dev"],
            &["docs", "check"],
            &["validate"],
            &["reap", "--env", "dev"],
        ] {
            assert_eq!(lifetime(&parsed(args)), Lifetime::Command, "{args:?}");
        }
    }
}
