//! Requests' deliveries: the ExternalSecret a database or secret request
//! gives its app, rendered under `requests/{env}/{ID}/` in the GitOps
//! repository, in the API version the platform's External Secrets serves
//! and checked against that CRD; passed through the policy gate,
//! journalled (`gitops-request`), written and committed in one commit —
//! synced with and pushed to the remote first and last when there is one.
//! Withdrawing removes the folder the same way.

use std::collections::BTreeMap;
use std::path::Path;

use gp_core::request::{Delivery, RequestId};
use gp_core::{Contract, Deployment, Platform};
use gp_driver::deliver::{Deliverer, DeliveryCtx, Rendered};
use gp_driver::{Action, Counts, DriverError, PolicySubject, ResourceRef};
use serde_json::json;

use crate::{GitopsDriver, git, gitops_dir, render};

/// The journal's kind of a request's delivered folder.
pub const KIND: &str = "gitops-request";

/// The folder of `request`'s deliveries, derived from the contract (the id
/// must be one: never a path from a file).
fn folder(platform: &Platform, env: &str, request: &str) -> Result<String, DriverError> {
    let id = RequestId::parse(request).ok_or_else(|| {
        DriverError::refused(format!(
            "`{}` is not a request id; nothing was delivered",
            request.escape_debug()
        ))
    })?;
    let contract = Contract::new(platform, env, Deployment::Foundational)
        .map_err(|e| DriverError::configuration(e.to_string()))?;
    Ok(contract.request_gitops_folder(&id))
}

/// One ExternalSecret.
fn external_secret(
    platform: &Platform,
    env: &str,
    request: &str,
    d: &Delivery,
) -> serde_json::Value {
    let version = render::external_secrets_api_version(platform, env);
    let gitops = &platform.spec.gitops;
    let mut spec = json!({
        "refreshInterval": gitops.refresh_interval,
        "secretStoreRef": {"name": gitops.secret_store, "kind": "ClusterSecretStore"},
        "target": {"name": d.target, "creationPolicy": "Owner"},
    });
    if d.keys.is_empty() {
        spec["dataFrom"] = json!([{"extract": {"key": d.remote_key}}]);
    } else {
        spec["data"] = d
            .keys
            .iter()
            .map(|k| json!({"secretKey": k, "remoteRef": {"key": d.remote_key, "property": k}}))
            .collect();
    }
    json!({
        "apiVersion": format!("external-secrets.io/{version}"),
        "kind": "ExternalSecret",
        "metadata": {
            "name": d.name,
            "namespace": d.namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "goldenpath",
                "goldenpath.dev/env": env,
                "goldenpath.dev/request": request,
            },
        },
        "spec": spec,
    })
}

fn read_tree(root: &Path, folder: &str) -> Result<Rendered, DriverError> {
    let mut out = BTreeMap::new();
    let dir = root.join(folder);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(out);
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_file()
            && let Some(name) = p.file_name().and_then(|n| n.to_str())
        {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| DriverError::permanent(format!("cannot read {}: {e}", p.display())))?;
            out.insert(format!("{folder}/{name}"), text);
        }
    }
    Ok(out)
}

impl GitopsDriver {
    /// Commits `folder` (synced first and pushed after, with a remote).
    fn commit_folder(
        platform: &Platform,
        root: &Path,
        folder: &str,
        message: &str,
    ) -> Result<(), DriverError> {
        let gitops = &platform.spec.gitops;
        if !(gitops.git || gitops.remote.is_some()) {
            return Ok(());
        }
        git::ensure_repo(root)?;
        git::commit(root, &[folder], message)?;
        if let Some(remote) = &gitops.remote {
            git::push(root, remote)?;
        }
        Ok(())
    }

    fn sync(platform: &Platform, root: &Path) -> Result<(), DriverError> {
        let gitops = &platform.spec.gitops;
        if let Some(remote) = &gitops.remote {
            git::ensure_repo(root)?;
            git::sync(root, remote)?;
        }
        Ok(())
    }
}

impl Deliverer for GitopsDriver {
    fn render_deliveries(
        &self,
        platform: &Platform,
        env: &str,
        request: &str,
        deliveries: &[Delivery],
    ) -> Result<Rendered, DriverError> {
        let folder = folder(platform, env, request)?;
        let mut files = BTreeMap::new();
        for d in deliveries {
            for (what, name) in [("namespace", &d.namespace), ("name", &d.name)] {
                gp_core::names::check_label(name, name).map_err(|e| {
                    DriverError::configuration(format!(
                        "the ExternalSecret's {what} `{}` is not a Kubernetes name: {e}",
                        name.escape_debug()
                    ))
                })?;
            }
            let es = external_secret(platform, env, request, d);
            let path = format!("{folder}/externalsecret-{}.yaml", d.name);
            crate::schemas::check_external_secret(&es, &path)?;
            files.insert(path, render::yaml(&es)?);
        }
        Ok(files)
    }

    fn deliver(
        &self,
        ctx: &DeliveryCtx<'_>,
        deliveries: &[Delivery],
    ) -> Result<Counts, DriverError> {
        let files = self.render_deliveries(ctx.platform, ctx.env, ctx.request, deliveries)?;
        // The platform's policies see everything before it is written.
        ctx.recorder.check_policy(PolicySubject::Rendered(&files))?;
        let root = gitops_dir(ctx.platform);
        let folder = folder(ctx.platform, ctx.env, ctx.request)?;
        let _lock = git::lock(&root)?;
        Self::sync(ctx.platform, &root)?;
        let before = read_tree(&root, &folder)?;
        let mut counts = Counts::default();
        if before == files {
            return Ok(counts);
        }
        let resource = ResourceRef::new(KIND, &folder);
        let action = if before.is_empty() {
            counts.added += 1;
            Action::Create
        } else {
            counts.changed += 1;
            Action::Update
        };
        ctx.recorder.journalled(action, &resource, || {
            if files.is_empty() {
                remove(&root.join(&folder))
            } else {
                git::write_tree(&root, &files, Some(&folder))
            }
        })?;
        Self::commit_folder(
            ctx.platform,
            &root,
            &folder,
            &format!("goldenpath: deliver request {} in {}", ctx.request, ctx.env),
        )?;
        Ok(counts)
    }

    fn withdraw(&self, ctx: &DeliveryCtx<'_>) -> Result<Counts, DriverError> {
        let root = gitops_dir(ctx.platform);
        let folder = folder(ctx.platform, ctx.env, ctx.request)?;
        let _lock = git::lock(&root)?;
        Self::sync(ctx.platform, &root)?;
        let mut counts = Counts::default();
        if root.join(&folder).exists() {
            ctx.recorder
                .journalled(Action::Destroy, &ResourceRef::new(KIND, &folder), || {
                    remove(&root.join(&folder))
                })?;
            counts.destroyed += 1;
        }
        // Committed whether this run or an interrupted one removed it.
        if root.join(".git").exists() {
            Self::commit_folder(
                ctx.platform,
                &root,
                &folder,
                &format!(
                    "goldenpath: withdraw request {} in {}",
                    ctx.request, ctx.env
                ),
            )?;
        }
        Ok(counts)
    }

    fn delivered(
        &self,
        platform: &Platform,
        env: &str,
        request: &str,
    ) -> Result<Rendered, DriverError> {
        read_tree(&gitops_dir(platform), &folder(platform, env, request)?)
    }
}

fn remove(path: &Path) -> Result<(), DriverError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DriverError::permanent(format!(
            "cannot remove {}: {e}",
            path.display()
        ))),
    }
}
