//! The gitops driver's artifacts, for `verify propagation`: every file it
//! rendered for a deployment, and where each must carry the build id (the
//! checks themselves are the contract's: [`gp_core::propagation`]).

use std::path::{Path, PathBuf};

use gp_core::propagation::{Artifact, BuildIdField};
use gp_core::{Contract, Platform};

/// Where a rendered file carries the build id.
pub fn build_id_field(path: &Path, text: &str) -> Option<BuildIdField> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    Some(match name {
        "values.yaml" => BuildIdField {
            pointer: "/global/buildId",
            field: "buildId:",
        },
        "bootstrap-values.yaml" => BuildIdField {
            pointer: "/buildId",
            field: "buildId:",
        },
        // A Kubernetes object: its label.
        _ if text.lines().any(|l| l.starts_with("kind:")) => BuildIdField {
            pointer: "/metadata/labels/goldenpath.dev~1build-id",
            field: "goldenpath.dev/build-id",
        },
        _ => return None,
    })
}

/// One rendered file as an artifact.
pub fn artifact(path: PathBuf, text: String) -> Artifact {
    Artifact {
        build_id_field: build_id_field(&path, &text),
        path,
        text,
    }
}

/// Every file rendered for the deployment of `contract`, under its folder
/// of the GitOps directory.
pub fn artifacts(platform: &Platform, contract: &Contract<'_>) -> Vec<Artifact> {
    let dir = crate::gitops_dir(platform).join(crate::render::deployment_dir(contract));
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|f| std::fs::read_to_string(&f).ok().map(|t| artifact(f, t)))
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}
