//! `goldenpath iam`: the IAM of the CI roles the generated workflows
//! assume, derived from the spec — `policy` (what a role's runs call),
//! `trust` (who may assume it: GitHub's OIDC token of one repository, for
//! the jobs that take it) and `check` (a policy in use against the need).
//! Gathering is [`gp_engine::iam`]; the rules are [`gp_core::iam`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use gp_core::iam::Role;

use crate::Context;
use crate::exit::{CliError, Code, Reported};

/// `goldenpath iam`.
#[derive(Debug, Subcommand)]
pub enum IamCommand {
    /// Print the IAM policy (JSON) a CI role needs in an environment:
    /// goldenpath's own AWS calls and what the spec's Terraform roots
    /// need, scoped to the names the contract derives.
    Policy(PolicyArgs),
    /// Print the OIDC trust policy of the CI roles: GitHub's token for one
    /// repository, the branch or GitHub environment of each role's jobs.
    Trust(TrustArgs),
    /// Compare a policy in use with what a role needs: exit 1 when a run
    /// would fail (an action missing, denied, or not on the contract's
    /// names); what it grants beyond need is listed.
    Check(CheckArgs),
}

/// What names a role and what it derives from.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// The role: plan, apply, teardown, reap or requests.
    #[arg(long, value_parser = parse_role)]
    pub role: Role,
    /// The AWS account the ARNs name (default `*`).
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
    /// A saved plan of a Terraform component (`terraform show -json`),
    /// used instead of the types its root declares: exactly what it plans,
    /// scoped to the names it plans. Repeatable.
    #[arg(long, value_name = "COMPONENT=FILE")]
    pub plan: Vec<String>,
}

/// Arguments of `iam policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub role: RoleArgs,
}

/// Arguments of `iam trust`.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// The repository whose workflows assume the roles.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: String,
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// One role (default: every one).
    #[arg(long, value_parser = parse_role)]
    pub role: Option<Role>,
    /// The AWS account holding GitHub's OIDC provider.
    #[arg(long, value_name = "ID")]
    pub account_id: String,
    /// The branch the default-branch jobs run on (as `ci github`).
    #[arg(long, value_name = "BRANCH", default_value = "main")]
    pub default_branch: String,
}

/// Arguments of `iam check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The policy in use: a policy document, or what `aws iam
    /// get-policy-version` or `get-role-policy` prints.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    #[command(flatten)]
    pub role: RoleArgs,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// Runs `iam`.
pub fn run(ctx: &Context, c: IamCommand) -> anyhow::Result<()> {
    match c {
        IamCommand::Policy(a) => policy(ctx, &a.role),
        IamCommand::Trust(a) => trust(ctx, &a),
        IamCommand::Check(a) => check(ctx, &a),
    }
}

/// An account id: twelve digits.
fn account(id: &str) -> anyhow::Result<&str> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(id)
    } else {
        Err(CliError::invalid(format!(
            "--account-id `{}` is not an AWS account id (twelve digits)",
            id.escape_debug()
        ))
        .into())
    }
}

/// What the role needs: validated spec, every driver's grants, the
/// account pinned.
fn need(ctx: &Context, a: &RoleArgs) -> anyhow::Result<Vec<gp_core::iam::Grant>> {
    ctx.check_env(&a.env)?;
    let pinned = a.account_id.as_deref().map(account).transpose()?;
    let mut plans = BTreeMap::new();
    for p in &a.plan {
        let Some((component, file)) = p.split_once('=') else {
            return Err(CliError::invalid(format!(
                "--plan `{}` is not COMPONENT=FILE",
                p.escape_debug()
            ))
            .into());
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| CliError::invalid(format!("cannot read the plan {file}: {e}")))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            CliError::invalid(format!(
                "{file}:{}:{}: not JSON ({e}); save it with `terraform show -json PLANFILE`",
                e.line(),
                e.column()
            ))
        })?;
        plans.insert(component.to_string(), value);
    }
    let platform = ctx.platform()?;
    for c in plans.keys() {
        if !platform
            .spec
            .components
            .iter()
            .any(|x| &x.name.value == c && x.driver.value == "terraform")
        {
            return Err(CliError::invalid(format!(
                "--plan names `{}`, which is no terraform component",
                c.escape_debug()
            ))
            .into());
        }
    }
    let drivers =
        ctx.drivers_with(gp_driver_terraform::TerraformDriver::new().with_plans(plans))?;
    gp_engine::validate(platform, &drivers).map_err(gp_engine::EngineError::from)?;
    let store = ctx.secret_store()?;
    let cloud = crate::cmd::request::cloud(ctx, gp_core::request::RequestKind::Bucket)?;
    let sources = gp_engine::iam::IamSources {
        store: store.as_ref(),
        cloud: cloud.as_deref(),
    };
    let mut grants = gp_engine::iam::role_permissions(platform, &drivers, &sources, &a.env, a.role)
        .map_err(gp_core::InvalidInput)?;
    if let Some(id) = pinned {
        gp_core::iam::pin_account(&mut grants, id);
    }
    Ok(grants)
}

fn policy(ctx: &Context, a: &RoleArgs) -> anyhow::Result<()> {
    let grants = need(ctx, a)?;
    if grants.is_empty() {
        ctx.printer.status(&format!(
            "the {} role calls no AWS API in {}: its policy is empty",
            a.role, a.env
        ));
    }
    let document = gp_core::iam::policy_document(&grants);
    let name = role_name(ctx, &a.env, a.role)?;
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::IamPolicyOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            env: a.env.clone(),
            role: a.role.as_str().into(),
            role_name: name,
            policy: document,
        })?;
        return Ok(());
    }
    ctx.printer
        .data(&format!("{}\n", serde_json::to_string_pretty(&document)?))?;
    Ok(())
}

/// The role's name in the workflows.
fn role_name(ctx: &Context, env: &str, role: Role) -> anyhow::Result<String> {
    Ok(
        gp_core::Contract::new(ctx.platform()?, env, gp_core::Deployment::Persistent)?
            .ci_role_name(role.as_str()),
    )
}

fn trust(ctx: &Context, a: &TrustArgs) -> anyhow::Result<()> {
    ctx.check_env(&a.env)?;
    let id = account(&a.account_id)?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    match a.repo.split_once('/') {
        Some((o, n)) if plain(o) && plain(n) => {}
        _ => {
            return Err(CliError::invalid(format!(
                "--repo `{}` is not OWNER/NAME",
                a.repo.escape_debug()
            ))
            .hint("the repository whose workflows assume the roles, e.g. acme/platform")
            .into());
        }
    }
    if !plain(&a.default_branch.replace('/', "-")) {
        return Err(CliError::invalid(format!(
            "--default-branch `{}` is not a plain branch name",
            a.default_branch.escape_debug()
        ))
        .into());
    }
    let roles: Vec<Role> = match a.role {
        Some(r) => vec![r],
        None => Role::ALL.to_vec(),
    };
    let mut out = Vec::new();
    for r in roles {
        let subjects = r.subjects(&a.repo, &a.default_branch, &a.env);
        out.push(crate::outputs::IamTrustRole {
            env: a.env.clone(),
            role: r.as_str().into(),
            name: role_name(ctx, &a.env, r)?,
            trust: gp_core::iam::trust_document(id, &subjects),
            subjects,
        });
    }
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::IamTrustOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            repo: a.repo.clone(),
            roles: out,
        })?;
        return Ok(());
    }
    let text = if out.len() == 1 {
        serde_json::to_string_pretty(&out[0].trust)?
    } else {
        let by: serde_json::Map<String, serde_json::Value> = out
            .iter()
            .map(|r| (r.name.clone(), r.trust.clone()))
            .collect();
        serde_json::to_string_pretty(&by)?
    };
    ctx.printer.data(&format!("{text}\n"))?;
    Ok(())
}

fn check(ctx: &Context, a: &CheckArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.policy)
        .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", a.policy.display())))?;
    let statements = gp_core::iam::parse_policy(&text).map_err(|e| {
        gp_core::InvalidInput(vec![gp_core::Diagnostic::at(
            &a.policy, &text, e.at, e.message,
        )])
    })?;
    let grants = need(ctx, &a.role)?;
    let c = gp_core::iam::check(&statements, &grants);
    if ctx.printer.is_json() {
        let pair = |(action, resource): &(String, String)| crate::outputs::IamActionOn {
            action: action.clone(),
            resource: resource.clone(),
        };
        ctx.printer.json(&crate::outputs::IamCheckOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            env: a.role.env.clone(),
            role: a.role.role.as_str().into(),
            fails: c.fails(),
            missing: c.missing.iter().map(pair).collect(),
            uncovered: c.uncovered.iter().map(pair).collect(),
            denied: c
                .denied
                .iter()
                .map(|(action, resource, statement)| crate::outputs::IamDenied {
                    action: action.clone(),
                    resource: resource.clone(),
                    statement: statement.clone(),
                })
                .collect(),
            beyond: c
                .beyond
                .iter()
                .map(|(s, p)| crate::outputs::IamBeyond {
                    statement: s.clone(),
                    pattern: p.clone(),
                })
                .collect(),
            wider: c
                .wider
                .iter()
                .map(|(s, p)| crate::outputs::IamBeyond {
                    statement: s.clone(),
                    pattern: p.clone(),
                })
                .collect(),
            conditional: c.conditional.clone(),
        })?;
    } else {
        let mut s = String::new();
        for (action, resource) in &c.missing {
            s.push_str(&format!("missing        {action} on {resource}\n"));
        }
        for (action, resource) in &c.uncovered {
            s.push_str(&format!("not covered    {action} on {resource}\n"));
        }
        for (action, resource, by) in &c.denied {
            s.push_str(&format!(
                "denied         {action} on {resource} (by {by})\n"
            ));
        }
        for (by, p) in &c.beyond {
            s.push_str(&format!("beyond need    {p} (in {by})\n"));
        }
        for (by, p) in &c.wider {
            s.push_str(&format!("wider          {p} (in {by})\n"));
        }
        for by in &c.conditional {
            s.push_str(&format!(
                "condition      {by}: not evaluated (read as met)\n"
            ));
        }
        if !s.is_empty() {
            ctx.printer.data(&s)?;
        }
        let needed: usize = grants
            .iter()
            .map(|g| g.actions.len() * g.resources.len())
            .sum();
        ctx.printer.status(&format!(
            "{}: {} of {needed} needed permission(s) missing, not covered or denied; {} grant(s) beyond need",
            a.policy.display(),
            c.missing.len() + c.uncovered.len() + c.denied.len(),
            c.beyond.len() + c.wider.len()
        ));
    }
    if c.fails() {
        if !ctx.printer.is_json() {
            ctx.printer.error(
                &format!(
                    "a run of the {} role with {} would fail",
                    a.role.role,
                    a.policy.display()
                ),
                &[],
                Some(&format!(
                    "add what is missing: goldenpath iam policy --env {} --role {}",
                    a.role.env, a.role.role
                )),
            );
        }
        return Err(Reported(Code::Failed).into());
    }
    Ok(())
}
