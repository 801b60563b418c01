//! Propagation of the contract into a deployment's artifacts (the files its
//! drivers write: rendered GitOps objects and values, Terraform variables):
//! - every artifact of a build carries the build id where the contract puts
//!   it (each artifact says which field, [`BuildIdField`]);
//! - no artifact mentions another build's id;
//! - every hostname under the platform's domain lies under the deployment's
//!   suffix, except the persistent services a build may refer to.
//!
//! Drivers list their artifacts (`Driver::artifacts`); the engine gathers
//! them and checks them here, so no driver reads another's files.

use std::path::PathBuf;

use serde::Serialize;

use crate::{Contract, Deployment, Mode, Platform};

/// A file a driver wrote for a deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// Where it is.
    pub path: PathBuf,
    /// What it says.
    pub text: String,
    /// Where it must carry the build id (in a build), if anywhere.
    pub build_id_field: Option<BuildIdField>,
}

/// Where an artifact carries the build id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildIdField {
    /// A JSON pointer into the file read as JSON (or YAML).
    pub pointer: &'static str,
    /// The text its line holds, to report the line.
    pub field: &'static str,
}

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
        .filter(|t| t.len() > domain.len() && crate::names::is_under(t, domain) && t != domain)
        .collect()
}

/// Checks the artifacts of one deployment (the foundational plane's never
/// carry a build).
pub fn check(platform: &Platform, contract: &Contract<'_>, artifacts: &[Artifact]) -> Vec<Finding> {
    if contract.deployment() == Deployment::Foundational {
        return Vec::new();
    }
    let mut findings = Vec::new();
    let domain = platform.spec.domain.value.as_str();
    let suffix = contract.host_suffix();
    let build = contract.build_id().map(|b| b.to_string());
    let allowed = allowed_hosts(platform, contract);
    for a in artifacts {
        for (n, line) in a.text.lines().enumerate() {
            if let Some(b) = &build {
                for other in build_ids(line) {
                    if &other != b {
                        findings.push(Finding {
                            file: a.path.clone(),
                            line: n + 1,
                            value: other,
                            problem: format!("mentions another build's id (this is build {b})"),
                        });
                    }
                }
            }
            for host in hostnames(line, domain) {
                let ours = crate::names::is_under(&host, &suffix);
                if !ours && !allowed.contains(&host) {
                    findings.push(Finding {
                        file: a.path.clone(),
                        line: n + 1,
                        value: host,
                        problem: format!("a hostname outside this deployment's suffix {suffix}"),
                    });
                }
            }
        }
        if let (Some(b), Some(field)) = (&build, a.build_id_field) {
            check_build_id(a, field, b, &mut findings);
        }
    }
    findings
}

/// The build id at `field` of `a`.
fn check_build_id(a: &Artifact, field: BuildIdField, build: &str, findings: &mut Vec<Finding>) {
    let is_json = a.path.extension().is_some_and(|x| x == "json");
    let value = if is_json {
        serde_json::from_str::<serde_json::Value>(&a.text).ok()
    } else {
        crate::yaml::parse(&a.text)
            .ok()
            .flatten()
            .map(|n| n.to_json())
    };
    let Some(v) = value else { return };
    let found = v
        .pointer(field.pointer)
        .and_then(|x| x.as_str())
        .unwrap_or_default();
    if found != build {
        let line = a
            .text
            .lines()
            .position(|l| l.contains(field.field))
            .map(|i| i + 1)
            .unwrap_or(1);
        findings.push(Finding {
            file: a.path.clone(),
            line,
            value: found.to_string(),
            problem: if found.is_empty() {
                format!("lacks the build id {build} ({})", field.field)
            } else {
                format!(
                    "carries {found} instead of the build id {build} ({})",
                    field.field
                )
            },
        });
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

    fn golden(extra: &str) -> Platform {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/golden-v1/goldenpath.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replacen("\ncomponents:", &format!("\n{extra}components:"), 1);
        Platform::from_source(&path, &text).unwrap()
    }

    const B: &str = "23-01-26-01";

    fn build(p: &Platform) -> Contract<'_> {
        Contract::new(p, "dev", Deployment::Ephemeral(B.parse().unwrap())).unwrap()
    }

    fn artifact(path: &str, text: &str, field: Option<BuildIdField>) -> Artifact {
        Artifact {
            path: path.into(),
            text: text.into(),
            build_id_field: field,
        }
    }

    const BUILD_ID: BuildIdField = BuildIdField {
        pointer: "/global/buildId",
        field: "buildId:",
    };

    #[test]
    fn a_build_may_name_the_persistent_only_hosts_and_the_configured_ones() {
        let p = golden("gitops: { allowedHosts: [status.example.org] }\n");
        let allowed = allowed_hosts(&p, &build(&p));
        assert_eq!(
            allowed,
            ["status.example.org", "keycloak.dev.goldenpathidp.io"]
        );
        // The persistent deployment may name every persistent host.
        let persistent = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
        let all = allowed_hosts(&p, &persistent);
        assert!(
            all.contains(&"argocd.dev.goldenpathidp.io".to_string()),
            "{all:?}"
        );
        assert!(all.contains(&"keycloak.dev.goldenpathidp.io".to_string()));
    }

    #[test]
    fn build_ids_are_found_at_either_end_and_inside_names_only() {
        assert_eq!(build_ids("23-01-26-01"), ["23-01-26-01"]);
        assert_eq!(build_ids("x23-01-26-01"), ["23-01-26-01"]);
        assert_eq!(build_ids("23-01-26-01x"), ["23-01-26-01"]);
        assert_eq!(build_ids("a-23-01-26-01-b"), ["23-01-26-01"]);
        assert_eq!(
            build_ids("23-01-26-01 23-01-26-02"),
            ["23-01-26-01", "23-01-26-02"]
        );
        // Part of a longer run of digits and dashes, on either side.
        assert!(build_ids("1-23-01-26-01").is_empty());
        assert!(build_ids("123-01-26-01").is_empty());
        assert!(build_ids("23-01-26-01-1").is_empty());
        assert!(build_ids("23-01-26-011").is_empty());
        // A dash at the very end or start is no digit run.
        assert_eq!(build_ids("-23-01-26-01-"), ["23-01-26-01"]);
        // Wrong shape, or too short.
        assert!(build_ids("23-01-26-0").is_empty());
        assert!(build_ids("23_01_26_01").is_empty());
        assert!(build_ids("2301-26-01x").is_empty());
        assert!(build_ids("").is_empty());
    }

    #[test]
    fn hostnames_are_under_the_domain_and_not_the_domain_itself() {
        assert_eq!(hostnames("a.example.io", "example.io"), ["a.example.io"]);
        assert!(hostnames("example.io", "example.io").is_empty());
        assert!(hostnames("notexample.io", "example.io").is_empty());
        assert!(hostnames("a.example.org", "example.io").is_empty());
        assert_eq!(
            hostnames("A.Example.IO. and b.example.io", "example.io"),
            ["a.example.io", "b.example.io"]
        );
    }

    #[test]
    fn a_build_artifact_is_clean_with_its_own_id_its_hosts_and_the_allowed_ones() {
        let p = golden("");
        let c = build(&p);
        let a = artifact(
            "values.yaml",
            &format!(
                "global:\n  buildId: {B}\n  host: backstage.b-{B}.dev.goldenpathidp.io\n  auth: keycloak.dev.goldenpathidp.io\n  apex: goldenpathidp.io\n"
            ),
            Some(BUILD_ID),
        );
        assert_eq!(check(&p, &c, &[a]), []);
    }

    #[test]
    fn another_builds_id_and_a_foreign_host_are_found_at_their_lines() {
        let p = golden("");
        let c = build(&p);
        let a = artifact(
            "dir/values.yaml",
            &format!(
                "global:\n  buildId: {B}\n  old: db-22-01-26-07\n  host: argocd.dev.goldenpathidp.io\n"
            ),
            Some(BUILD_ID),
        );
        let f = check(&p, &c, &[a]);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!((f[0].line, f[0].value.as_str()), (3, "22-01-26-07"));
        assert!(
            f[0].problem
                .contains("another build's id (this is build 23-01-26-01)")
        );
        assert_eq!(
            (f[1].line, f[1].value.as_str()),
            (4, "argocd.dev.goldenpathidp.io")
        );
        assert!(f[1].problem.contains("b-23-01-26-01.dev.goldenpathidp.io"));
        assert_eq!(f[0].file, std::path::PathBuf::from("dir/values.yaml"));
    }

    #[test]
    fn the_build_id_field_must_carry_this_build() {
        let p = golden("");
        let c = build(&p);
        // Missing: at line 1 when the field is not there.
        let f = check(
            &p,
            &c,
            &[artifact("v.yaml", "global: {}\n", Some(BUILD_ID))],
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].line, f[0].value.as_str()), (1, ""));
        assert!(
            f[0].problem
                .contains("lacks the build id 23-01-26-01 (buildId:)")
        );
        // Another value, at its line (a foreign id is also found there).
        let f = check(
            &p,
            &c,
            &[artifact(
                "v.yaml",
                "x: 1\nglobal:\n  buildId: 22-01-26-01\n",
                Some(BUILD_ID),
            )],
        );
        let at_field: Vec<&Finding> = f
            .iter()
            .filter(|f| f.problem.contains("instead of"))
            .collect();
        assert_eq!(at_field.len(), 1, "{f:?}");
        assert_eq!(at_field[0].line, 3);
        assert!(
            at_field[0]
                .problem
                .contains("carries 22-01-26-01 instead of the build id 23-01-26-01")
        );
        // JSON by its extension.
        let json = format!("{{\"global\": {{\"buildId\": \"{B}\"}}}}");
        assert_eq!(
            check(&p, &c, &[artifact("v.json", &json, Some(BUILD_ID))]),
            []
        );
        let f = check(
            &p,
            &c,
            &[artifact("v.json", "{\"global\": {}}", Some(BUILD_ID))],
        );
        assert_eq!(f.len(), 1, "{f:?}");
        // Text that does not parse is not judged by field.
        assert_eq!(
            check(&p, &c, &[artifact("v.json", "not json", Some(BUILD_ID))]),
            []
        );
        // Without a field, nothing is asked of it.
        assert_eq!(check(&p, &c, &[artifact("v.yaml", "a: 1\n", None)]), []);
    }

    #[test]
    fn outside_a_build_no_build_id_is_asked_and_the_foundational_plane_is_not_checked() {
        let p = golden("");
        let persistent = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
        let a = artifact(
            "v.yaml",
            "id: 22-01-26-01\nhost: argocd.dev.goldenpathidp.io\nother: x.prod.goldenpathidp.io\n",
            Some(BUILD_ID),
        );
        let f = check(&p, &persistent, std::slice::from_ref(&a));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].value, "x.prod.goldenpathidp.io");
        let foundational = Contract::new(&p, "dev", Deployment::Foundational).unwrap();
        assert_eq!(check(&p, &foundational, &[a]), []);
    }
}
