//! The `gitops` driver: renders what ArgoCD applies, for one deployment,
//! from the contract.
//!
//! For each `gitops` component: a child `Application` (labels
//! `goldenpath.dev/env`, `goldenpath.dev/build-id`, `goldenpath.dev/tier`,
//! the resources finalizer, automated sync with prune and self-heal), Helm
//! values with `global: {env, lifecycle, buildId, hostSuffix, dnsOwnerId}`
//! and the component's full hostnames, its `Namespace`, and an
//! `ExternalSecret` per secret it reads (`remoteRef.key` the contract's
//! path; a key mapping to a key the secret will not have is refused). An
//! ExternalDNS component (`externalDns: true`) gets `txtOwnerId`,
//! `domainFilters: [zone apex]`, `policy: sync`, `registry: txt`, the TXT
//! prefix, and for a build a filter that only matches the build's suffix.
//! Each deployment also gets the app-of-apps root and its bootstrap values.
//!
//! Every object is validated against the real schemas ([`schemas`]) before
//! it is written; files are written atomically and deterministically, and
//! with `gitops.git: true` committed (nothing to commit, no commit). After
//! each render, the contract's propagation rules check what it wrote. Teardown
//! removes the deployment's folder; the root's finalizer makes ArgoCD
//! remove the rest.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gp_core::{Plane, Platform};
use gp_driver::{
    Action, Applied, ComponentCtx, ComponentOutputs, Counts, Driver, DriverError, Existence,
    Intent, Observation, Presence, ResourceRef, ValidateCtx, Validated, settings_at_apply,
    typed_settings,
};

pub mod deliver;
pub mod git;
pub mod propagation;
pub mod render;
pub mod schemas;

use render::{GitopsComponent, RenderCtx};

/// The GitOps directory of a platform (absolute).
pub fn gitops_dir(platform: &Platform) -> PathBuf {
    let p = platform.base_dir().join(&platform.spec.gitops.path.value);
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
    }
}

/// The driver.
#[derive(Debug, Default)]
pub struct GitopsDriver;

fn render_ctx<'a>(ctx: &'a ComponentCtx<'a>, rds_available: bool) -> RenderCtx<'a> {
    let gitops = &ctx.platform.spec.gitops;
    RenderCtx {
        platform: ctx.platform,
        contract: ctx.contract,
        gitops,
        rds_available,
        repo_url: repo_url(ctx.platform),
    }
}

/// GitOps directories with renders not yet committed and pushed (with a
/// remote), and the commit message.
type Pending =
    std::collections::BTreeMap<std::path::PathBuf, (String, std::collections::BTreeSet<String>)>;

fn pending() -> &'static std::sync::Mutex<Pending> {
    static PENDING: std::sync::OnceLock<std::sync::Mutex<Pending>> = std::sync::OnceLock::new();
    PENDING.get_or_init(Default::default)
}

/// Commits and pushes what this process rendered into GitOps directories
/// with a remote (one commit per run). Called by the engine at the end of a
/// run; callers driving the driver directly call it themselves.
pub fn flush(platform: &gp_core::Platform) -> Result<(), DriverError> {
    let Some(remote) = &platform.spec.gitops.remote else {
        return Ok(());
    };
    let dirs: Vec<(
        std::path::PathBuf,
        (String, std::collections::BTreeSet<String>),
    )> = std::mem::take(&mut *pending().lock().unwrap_or_else(|p| p.into_inner()))
        .into_iter()
        .collect();
    for (dir, (message, paths)) in dirs {
        let _lock = git::lock(&dir)?;
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        git::commit(&dir, &paths, &message)?;
        git::push(&dir, remote)?;
    }
    Ok(())
}

/// The root Application of a deployment (what `kubectl apply -f -` gives a
/// cluster to bootstrap it from the GitOps repository), as YAML.
pub fn root_application(
    platform: &gp_core::Platform,
    contract: &gp_core::Contract<'_>,
) -> Result<String, DriverError> {
    let rc = RenderCtx {
        platform,
        contract,
        gitops: &platform.spec.gitops,
        rds_available: false,
        repo_url: repo_url(platform),
    };
    let files = render::render_root(&rc)?;
    let dir = render::deployment_dir(contract);
    files
        .get(&format!("{dir}/root.yaml"))
        .cloned()
        .ok_or_else(|| DriverError::permanent("the root Application was not rendered"))
}

/// The repository Argo CD pulls: `gitops.repoUrl`, else the remote's URL,
/// else the directory as a `file://` URL.
pub fn repo_url(platform: &gp_core::Platform) -> String {
    let gitops = &platform.spec.gitops;
    gitops
        .repo_url
        .clone()
        .or_else(|| gitops.remote.as_ref().map(|r| r.url.clone()))
        .unwrap_or_else(|| format!("file://{}", gitops_dir(platform).display()))
}

/// Whether every foundational database instance is deployed.
fn rds_available(ctx: &ComponentCtx<'_>) -> bool {
    let dbs: Vec<&str> = ctx
        .platform
        .spec
        .components
        .iter()
        .filter(|c| c.plane.value == Plane::Foundational && c.driver.value == "postgres")
        .map(|c| c.name.value.as_str())
        .collect();
    !dbs.is_empty()
        && dbs
            .iter()
            .all(|c| ctx.recorder.foundational_ready(c) == Some(true))
}

impl GitopsDriver {
    fn render(
        &self,
        ctx: &ComponentCtx<'_>,
    ) -> Result<(render::Files, render::Files), DriverError> {
        let s: GitopsComponent = settings_at_apply(ctx)?;
        let rc = render_ctx(ctx, rds_available(ctx));
        Ok((
            render::render_root(&rc)?,
            render::render_component(&rc, ctx.component, &s, ctx.inputs)?,
        ))
    }

    fn message(ctx: &ComponentCtx<'_>, verb: &str, what: &str) -> String {
        let c = ctx.contract;
        match c.build_id() {
            Some(b) => format!("goldenpath: {verb} {what} in {} build {b}", c.env()),
            None => format!(
                "goldenpath: {verb} {what} in {} {}",
                c.env(),
                c.deployment().key()
            ),
        }
    }
}

fn same(dir: &Path, files: &render::Files) -> bool {
    differing(dir, files, None).is_empty()
}

/// How the files under `dir` differ from `files` (paths relative to
/// `dir`): each one edited or gone, and, with `beside`, each file in that
/// folder that was not rendered. Nothing of a file's content is quoted.
fn differing(dir: &Path, files: &render::Files, beside: Option<&Path>) -> Vec<String> {
    let mut out: Vec<String> = files
        .iter()
        .filter_map(
            |(rel, content)| match std::fs::read_to_string(dir.join(rel)) {
                Ok(t) if t == *content => None,
                Ok(_) => Some(format!("{rel} was edited since it was rendered")),
                Err(_) => Some(format!("{rel} is gone")),
            },
        )
        .collect();
    if let Some(folder) = beside {
        let mut stack = vec![folder.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(dir) {
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    if !files.contains_key(&rel) {
                        out.push(format!("{rel} was added beside the rendered files"));
                    }
                }
            }
        }
    }
    out.sort();
    out
}

impl Driver for GitopsDriver {
    fn run_finished(&self, platform: &gp_core::Platform) -> Result<(), DriverError> {
        flush(platform)
    }

    fn name(&self) -> &'static str {
        "gitops"
    }

    /// A commit Argo CD syncs later: nothing is read back from the
    /// cluster, so an applied component is `delivered`, not `ready`.
    fn observes_readiness(&self) -> bool {
        false
    }

    fn artifacts(&self, ctx: &gp_driver::ArtifactCtx<'_>) -> Vec<gp_core::propagation::Artifact> {
        propagation::artifacts(ctx.platform, ctx.contract)
    }

    fn preflight(&self, ctx: &ValidateCtx<'_>) -> Vec<gp_core::Diagnostic> {
        if gp_driver::find_program("git").is_none() {
            return vec![
                ctx.platform
                    .diagnostic(
                        ctx.component.driver.start,
                        "git is not installed (not on PATH)",
                    )
                    .with_hint("the gitops driver commits what it renders: install git"),
            ];
        }
        Vec::new()
    }

    fn validate(&self, ctx: &ValidateCtx<'_>) -> Result<Validated, Vec<gp_core::Diagnostic>> {
        let s: GitopsComponent = typed_settings(ctx.platform, ctx.settings, true)?;
        let mut problems = Vec::new();
        if ctx.component.plane.value != Plane::Disposable {
            problems.push(ctx.platform.diagnostic(
                ctx.component.plane.start,
                "gitops components are disposable: they render into a deployment",
            ));
        }
        if let Some(ch) = &s.chart
            && (ch.chart.is_empty() == ch.path.is_none())
        {
            problems.push(ctx.platform.diagnostic(
                ctx.settings.get("chart").map_or(ctx.settings.start, |n| n.start),
                "a chart is `chart` (a Helm repository's) or `path` (a folder of a git repository), one of them",
            ));
        }
        let files = s
            .values_files
            .iter()
            .chain(s.environments.values().flat_map(|o| o.values_files.iter()));
        for f in files {
            if !gp_core::spec::stays_inside(f) {
                problems.push(ctx.platform.diagnostic(
                    ctx.settings.start,
                    format!("values file `{f}` leaves the spec's folder: use a relative path without `..`"),
                ));
            }
        }
        for env in s.environments.keys() {
            if ctx.platform.environment(env).is_none() {
                let at = ctx
                    .settings
                    .get("environments")
                    .and_then(|e| e.key(env))
                    .map_or(ctx.settings.start, |k| k.start);
                problems.push(
                    ctx.platform
                        .diagnostic(at, format!("environment `{env}` is not declared")),
                );
            }
        }
        if let Some(v) = &ctx.platform.spec.gitops.external_secrets_api_version
            && !matches!(v.value.as_str(), "v1" | "v1beta1")
        {
            problems.push(ctx.platform.diagnostic(
                v.start,
                format!(
                    "externalSecretsApiVersion is v1 or v1beta1, not `{}`",
                    v.value
                ),
            ));
        }
        if let Err(e) = gp_core::names::check_label(&s.namespace.value, &s.namespace.value) {
            problems.push(
                ctx.platform
                    .diagnostic(s.namespace.start, format!("invalid namespace: {e}")),
            );
        }
        if let Some(v) = &s.values
            && !matches!(v.0.kind, gp_core::yaml::NodeKind::Map(_))
        {
            problems.push(
                ctx.platform
                    .diagnostic(v.0.start, "`values` must be a mapping"),
            );
        }
        if problems.is_empty() {
            Ok(Validated {
                outputs: Some(vec!["path".into(), "application".into()]),
                resources: Vec::new(),
                resource_outputs: None,
                owned: Vec::new(),
            })
        } else {
            Err(problems)
        }
    }

    fn observe(&self, ctx: &ComponentCtx<'_>) -> Result<Observation, DriverError> {
        let dir = gitops_dir(ctx.platform);
        let (root, component) = self.render(ctx)?;
        // A plan asks the deploy's policy gate what it would say of the
        // files about to be committed.
        if ctx.recorder.mode() == gp_driver::RunMode::Plan {
            let mut all = component.clone();
            all.extend(root.iter().map(|(k, v)| (k.clone(), v.clone())));
            ctx.recorder
                .check_policy(gp_driver::PolicySubject::Rendered(&all))?;
        }
        let component_dir = dir
            .join(render::deployment_dir(ctx.contract))
            .join(ctx.name());
        if !component_dir.exists() {
            return Ok(Observation::absent());
        }
        // Each file edited, gone, or added beside them (by hand, or by a
        // spec change since the last render).
        let mut drift = differing(&dir, &component, Some(&component_dir));
        // The deployment's root is one set of files for all its GitOps
        // components: its drift is the drift of one of them (the first
        // that runs here), which writes it, so that plan and deploy name
        // the same one and the others stay unchanged.
        if owns_root(ctx) && !same(&dir, &root) {
            drift.push("the deployment's root or bootstrap values are out of date".into());
        }
        Ok(Observation {
            presence: Presence::Present,
            drift,
            outputs: Some(outputs(ctx)),
            counts: None,
        })
    }

    fn apply(&self, ctx: &ComponentCtx<'_>) -> Result<Applied, DriverError> {
        let dir = gitops_dir(ctx.platform);
        let git = ctx.platform.spec.gitops.git;
        let (root, component) = self.render(ctx)?;
        // The platform's policies see everything before it is written.
        let mut all = component.clone();
        all.extend(root.iter().map(|(k, v)| (k.clone(), v.clone())));
        ctx.recorder
            .check_policy(gp_driver::PolicySubject::Rendered(&all))?;
        let deployment_dir = render::deployment_dir(ctx.contract);
        let component_dir = format!("{deployment_dir}/{}", ctx.name());
        let _lock = git::lock(&dir)?;
        if git {
            git::ensure_repo(&dir)?;
            // Brought up to the remote once per run (the renders of a run
            // are pushed together by `flush`).
            if let Some(remote) = &ctx.platform.spec.gitops.remote
                && !pending()
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains_key(&dir)
            {
                git::sync(&dir, remote)?;
            }
        }
        let mut counts = Counts::default();
        if !dir.join(&deployment_dir).join("root.yaml").exists() {
            let id = ctx.recorder.before(
                Action::Create,
                &ResourceRef::new("gitops-root", &deployment_dir),
            )?;
            git::write_tree(&dir, &root, None)?;
            ctx.recorder.after(&id, None)?;
            counts.added += 1;
        } else if !same(&dir, &root) {
            git::write_tree(&dir, &root, None)?;
            counts.changed += 1;
        }
        let exists = dir.join(&component_dir).exists();
        if !exists || !same(&dir, &component) {
            let action = match ctx.intent {
                Intent::Create => Action::Create,
                Intent::Adopt => Action::Adopt,
                Intent::Update => Action::Update,
            };
            let id = ctx
                .recorder
                .before(action, &ResourceRef::new("gitops-app", &component_dir))?;
            git::write_tree(&dir, &component, exists.then_some(component_dir.as_str()))?;
            ctx.recorder.after(&id, None)?;
            if action == Action::Create {
                counts.added += 1;
            } else {
                counts.changed += 1;
            }
        } else if ctx.intent == Intent::Adopt {
            // Already rendered as it should be, by nobody this journal
            // knows: taken over as it is, and kept by teardown.
            let app = ResourceRef::new("gitops-app", &component_dir);
            ctx.recorder.journalled(Action::Adopt, &app, || Ok(()))?;
        }
        if git {
            if ctx.platform.spec.gitops.remote.is_some() {
                // With a remote, one commit and one push per run: the
                // engine calls `run_finished` when the run ends.
                let mut p = pending().lock().unwrap_or_else(|p| p.into_inner());
                let entry = p.entry(dir.clone()).or_insert_with(|| {
                    (
                        Self::message(ctx, "render", "the deployment"),
                        Default::default(),
                    )
                });
                entry.1.insert(deployment_dir.clone());
            } else {
                git::commit(
                    &dir,
                    &[&deployment_dir],
                    &Self::message(ctx, "render", ctx.name()),
                )?;
            }
        }
        // Check what this render wrote (the rest was checked when it was
        // rendered; `goldenpath verify propagation` checks every driver's
        // artifacts of the deployment).
        let written: Vec<gp_core::propagation::Artifact> = root
            .iter()
            .chain(component.iter())
            .map(|(rel, text)| propagation::artifact(dir.join(rel), text.clone()))
            .collect();
        let findings = gp_core::propagation::check(ctx.platform, ctx.contract, &written);
        if !findings.is_empty() {
            let list: Vec<String> = findings
                .iter()
                .take(10)
                .map(|f| {
                    format!(
                        "{}:{}: {} `{}`",
                        f.file.display(),
                        f.line,
                        f.problem,
                        f.value
                    )
                })
                .collect();
            return Err(DriverError::permanent(format!(
                "propagation check failed after rendering {}:\n{}",
                ctx.name(),
                list.join("\n")
            ))
            .with_hint(format!(
                "goldenpath verify propagation --env {}{}",
                ctx.contract.env(),
                ctx.contract.deployment().flags()
            )));
        }
        Ok(Applied {
            outputs: outputs(ctx),
            counts,
        })
    }

    fn destroy(&self, ctx: &ComponentCtx<'_>, r: &ResourceRef) -> Result<(), DriverError> {
        let target = owned_path(ctx, r)?;
        let dir = gitops_dir(ctx.platform);
        let _lock = git::lock(&dir)?;
        let path = dir.join(&target);
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| {
                DriverError::permanent(format!("cannot remove {}: {e}", path.display()))
            })?;
        }
        // Removing what is already gone is success; the commit records the
        // removal whether this run or an interrupted one deleted the files.
        if ctx.platform.spec.gitops.git && dir.join(".git").exists() {
            let what = if r.kind == "gitops-root" {
                "the deployment".to_string()
            } else {
                ctx.name().to_string()
            };
            if let Some(remote) = &ctx.platform.spec.gitops.remote {
                git::sync(&dir, remote)?;
            }
            git::commit(&dir, &[&target], &Self::message(ctx, "remove", &what))?;
            if let Some(remote) = &ctx.platform.spec.gitops.remote {
                git::push(&dir, remote)?;
            }
        }
        Ok(())
    }

    fn exists(&self, ctx: &ComponentCtx<'_>, r: &ResourceRef) -> Result<Existence, DriverError> {
        let target = owned_path(ctx, r)?;
        Ok(if gitops_dir(ctx.platform).join(target).exists() {
            Existence::Exists
        } else {
            Existence::Gone
        })
    }

    fn noun(&self, _resource: bool) -> &'static str {
        "GitOps app"
    }

    fn deliverer(&self) -> Option<&dyn gp_driver::deliver::Deliverer> {
        Some(self)
    }

    fn resource_kinds(&self) -> &'static [&'static str] {
        &["gitops-root", "gitops-app"]
    }
}

/// The folder a journalled gitops resource stands for, derived from the
/// contract (never taken from the journal): the deployment's folder, or the
/// component's folder in it. A journalled id naming anything else is
/// refused, so a forged row cannot point teardown at another directory.
fn owned_path(ctx: &ComponentCtx<'_>, r: &ResourceRef) -> Result<String, DriverError> {
    let deployment_dir = render::deployment_dir(ctx.contract);
    let expected = match r.kind.as_str() {
        "gitops-root" => deployment_dir,
        "gitops-app" => format!("{deployment_dir}/{}", ctx.name()),
        other => {
            return Err(DriverError::refused(format!(
                "the journal names a `{other}` under `{}`, a kind the gitops driver never creates; nothing was removed",
                ctx.name()
            )));
        }
    };
    if r.id != expected {
        return Err(DriverError::refused(format!(
            "the journal names {r} under `{}`, but this deployment's folder is `{expected}`; nothing was removed",
            ctx.name()
        )));
    }
    Ok(expected)
}

fn outputs(ctx: &ComponentCtx<'_>) -> ComponentOutputs {
    ComponentOutputs {
        values: BTreeMap::from([
            (
                "path".to_string(),
                serde_json::json!(format!(
                    "{}/{}",
                    render::deployment_dir(ctx.contract),
                    ctx.name()
                )),
            ),
            (
                "application".to_string(),
                serde_json::json!(ctx.contract.application_name(ctx.name())),
            ),
        ]),
        resources: BTreeMap::new(),
    }
}

/// Whether `ctx`'s component answers for its deployment's root: the first
/// GitOps component of the spec that runs in the deployment (its mode, its
/// environment's tier limit). A deployment without a mode (the
/// foundational plane) renders no GitOps component.
fn owns_root(ctx: &ComponentCtx<'_>) -> bool {
    let Some(mode) = ctx.contract.deployment().mode() else {
        return true;
    };
    let limit = ctx
        .platform
        .environment(ctx.contract.env())
        .map(|e| match mode {
            gp_core::Mode::Persistent => e.persistent.max_tier.value,
            gp_core::Mode::Ephemeral => e.ephemeral.max_tier.value,
        });
    ctx.platform
        .spec
        .components
        .iter()
        .filter(|c| {
            c.driver.value == "gitops" && c.runs_in(mode) && limit.is_none_or(|l| c.tier.value <= l)
        })
        .map(|c| c.name.value.as_str())
        .next()
        == Some(ctx.name())
}

#[cfg(test)]
mod drift_tests {
    use super::differing;

    #[test]
    fn each_file_edited_gone_or_added_beside_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let comp = root.join("apps/dev/web");
        std::fs::create_dir_all(comp.join("manifests")).unwrap();
        let files: super::render::Files = [
            ("apps/dev/web/values.yaml", "a: 1\n"),
            ("apps/dev/web/application.yaml", "kind: Application\n"),
            ("apps/dev/web/manifests/ns.yaml", "kind: Namespace\n"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in &files {
            std::fs::write(root.join(k), v).unwrap();
        }
        assert!(differing(root, &files, Some(&comp)).is_empty());
        assert!(super::same(root, &files));
        std::fs::write(root.join("apps/dev/web/values.yaml"), "a: 2\n").unwrap();
        std::fs::remove_file(root.join("apps/dev/web/manifests/ns.yaml")).unwrap();
        std::fs::write(comp.join("manifests/extra.yaml"), "x").unwrap();
        // Another component's folder is not this one's business.
        std::fs::create_dir_all(root.join("apps/dev/api")).unwrap();
        std::fs::write(root.join("apps/dev/api/values.yaml"), "x").unwrap();
        assert_eq!(
            differing(root, &files, Some(&comp)),
            [
                "apps/dev/web/manifests/extra.yaml was added beside the rendered files",
                "apps/dev/web/manifests/ns.yaml is gone",
                "apps/dev/web/values.yaml was edited since it was rendered",
            ]
        );
        // Without a folder to look in, only the rendered files count.
        assert_eq!(differing(root, &files, None).len(), 2);
        assert!(!super::same(root, &files));
    }
}
