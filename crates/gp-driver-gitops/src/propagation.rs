//! `verify propagation`: proves the build id reached every artifact of a
//! deployment and that nothing in them is hard-coded.
//!
//! Over the deployment's rendered files and its Terraform variable files:
//! - every artifact of a build carries the build id where the contract puts
//!   it (Application labels, `global.buildId`, bootstrap `buildId`,
//!   `build_id` of the Terraform variables);
//! - no artifact mentions another build's id;
//! - every hostname under the platform's domain lies under the deployment's
//!   suffix, except the persistent services a build may refer to.

use std::path::{Path, PathBuf};

use gp_core::{Contract, Deployment, Mode, Platform};
use serde::Serialize;

/// One problem, where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (the line of the field, or 1 when it is missing).
    pub line: usize,
    /// The offending value.
    pub value: String,
    /// What is wrong.
    pub problem: String,
}

/// Hostnames a deployment may mention outside its own suffix: the
/// persistent hosts of persistent-only components, and configured ones.
pub fn allowed_hosts(platform: &Platform, contract: &Contract<'_>) -> Vec<String> {
    let mut out: Vec<String> = platform.spec.gitops.allowed_hosts.clone();
    for c in &platform.spec.components {
        if !c.runs_in(Mode::Ephemeral) || contract.build_id().is_none() {
            for h in &c.hosts {
                if let Ok(fqdn) = contract.persistent_hostname(&h.name.value) {
                    out.push(fqdn);
                }
            }
        }
    }
    out
}

fn build_ids(line: &str) -> Vec<String> {
    // DD-MM-YY-NN, not part of a longer run of digits and dashes.
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 11 <= b.len() {
        let w = &b[i..i + 11];
        let shape = w.iter().enumerate().all(|(j, c)| {
            if j % 3 == 2 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
        // Inside names (`eks-23-01-26-01`) counts; inside a longer run of
        // digits and dashes (`2026-01-23-01-05`) does not.
        let end = i + 11;
        let before_ok = i == 0
            || !(b[i - 1].is_ascii_digit()
                || (b[i - 1] == b'-' && i >= 2 && b[i - 2].is_ascii_digit()));
        let after_ok = end == b.len()
            || !(b[end].is_ascii_digit()
                || (b[end] == b'-' && end + 1 < b.len() && b[end + 1].is_ascii_digit()));
        if shape && before_ok && after_ok {
            out.push(String::from_utf8_lossy(w).into_owned());
            i += 11;
        } else {
            i += 1;
        }
    }
    out
}

fn hostnames(line: &str, domain: &str) -> Vec<String> {
    let is_host_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    line.split(|c: char| !is_host_char(c))
        .map(|t| t.trim_matches('.').to_ascii_lowercase())
        .filter(|t| t.len() > domain.len() && gp_core::names::is_under(t, domain) && t != domain)
        .collect()
}

/// The Terraform variable files of a deployment.
pub fn tfvars_files(contract: &Contract<'_>, state_dir: &Path) -> Vec<PathBuf> {
    let work = state_dir
        .join("work")
        .join(contract.env())
        .join(contract.deployment().key());
    let mut tfvars = Vec::new();
    collect(&work, &mut tfvars);
    tfvars.retain(|p| {
        p.file_name()
            .is_some_and(|n| n == "goldenpath.auto.tfvars.json")
    });
    tfvars.sort();
    tfvars
}

/// Checks one deployment: every rendered file under its folder in
/// `gitops_dir`, and its Terraform variable files under
/// `{state}/work/{env}/{deployment}/`.
pub fn verify(
    platform: &Platform,
    contract: &Contract<'_>,
    gitops_dir: &Path,
    state_dir: &Path,
) -> Vec<Finding> {
    let dir = gitops_dir.join(crate::render::deployment_dir(contract));
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    if files.is_empty() {
        return vec![Finding {
            file: dir,
            line: 0,
            value: String::new(),
            problem: "no rendered artifacts for this deployment".into(),
        }];
    }
    files.extend(tfvars_files(contract, state_dir));
    let texts: Vec<(PathBuf, String)> = files
        .into_iter()
        .filter_map(|f| std::fs::read_to_string(&f).ok().map(|t| (f, t)))
        .collect();
    verify_texts(platform, contract, &texts)
}

/// Checks files of one deployment given as (path, content).
pub fn verify_texts(
    platform: &Platform,
    contract: &Contract<'_>,
    files: &[(PathBuf, String)],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let domain = platform.spec.domain.value.as_str();
    let suffix = contract.host_suffix();
    let build = contract.build_id().map(|b| b.to_string());
    let allowed = allowed_hosts(platform, contract);
    for (file, text) in files {
        for (n, line) in text.lines().enumerate() {
            if let Some(b) = &build {
                for other in build_ids(line) {
                    if &other != b {
                        findings.push(Finding {
                            file: file.clone(),
                            line: n + 1,
                            value: other,
                            problem: format!("mentions another build's id (this is build {b})"),
                        });
                    }
                }
            }
            for host in hostnames(line, domain) {
                let ours = gp_core::names::is_under(&host, &suffix);
                if !ours && !allowed.contains(&host) {
                    findings.push(Finding {
                        file: file.clone(),
                        line: n + 1,
                        value: host,
                        problem: format!("a hostname outside this deployment's suffix {suffix}"),
                    });
                }
            }
        }
        if let Some(b) = &build {
            check_build_id(file, text, b, &mut findings);
        }
    }
    if contract.deployment() == Deployment::Foundational {
        findings.clear();
    }
    findings
}

/// The fields that must carry the build id, per kind of file.
fn check_build_id(file: &Path, text: &str, build: &str, findings: &mut Vec<Finding>) {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let value = if name.ends_with(".json") {
        serde_json::from_str::<serde_json::Value>(text).ok()
    } else {
        gp_core::yaml::parse(text)
            .ok()
            .flatten()
            .map(|n| n.to_json())
    };
    let Some(v) = value else { return };
    let (pointer, field) = if name == "goldenpath.auto.tfvars.json" {
        ("/build_id", "build_id")
    } else if name == "values.yaml" {
        ("/global/buildId", "buildId:")
    } else if name == "bootstrap-values.yaml" {
        ("/buildId", "buildId:")
    } else if v.get("kind").and_then(|k| k.as_str()).is_some() {
        (
            "/metadata/labels/goldenpath.dev~1build-id",
            "goldenpath.dev/build-id",
        )
    } else {
        return;
    };
    let found = v
        .pointer(pointer)
        .and_then(|x| x.as_str())
        .unwrap_or_default();
    if found != build {
        let line = text
            .lines()
            .position(|l| l.contains(field))
            .map(|i| i + 1)
            .unwrap_or(1);
        findings.push(Finding {
            file: file.to_path_buf(),
            line,
            value: found.to_string(),
            problem: if found.is_empty() {
                format!("lacks the build id {build} ({field})")
            } else {
                format!("carries {found} instead of the build id {build} ({field})")
            },
        });
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_build_ids_and_hosts() {
        assert_eq!(
            build_ids("id: 23-01-26-01 and eks-22-01-26-02"),
            vec!["23-01-26-01", "22-01-26-02"]
        );
        assert_eq!(
            build_ids("123-01-26-01 / 2026-01-23 / 22-01-26-029 / 7-22-01-26-02"),
            Vec::<String>::new()
        );
        assert_eq!(
            hostnames(
                "url: https://argocd.dev.example.io/x, apex example.io",
                "example.io"
            ),
            vec!["argocd.dev.example.io"]
        );
    }
}
