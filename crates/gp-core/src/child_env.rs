//! The environment a child process gets: an explicit, minimal one.
//!
//! goldenpath holds keys in its own environment (`GOLDENPATH_SECRETS_KEY`,
//! `GOLDENPATH_REGISTRY_KEY`, a registry URL with a password). No child
//! inherits them: every child starts from an empty environment plus the
//! variables a process needs to run at all ([`BASE`]), the ones its driver
//! names (its documented prefixes, e.g. `AWS_` and `TF_` for Terraform), and
//! what the driver sets explicitly.

use std::process::Command;

/// Variables every child gets when they are set: finding programs, the
/// user's home and locale, the temporary directory, TLS trust.
pub const BASE: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// goldenpath's own variables: never passed on, whatever a driver asks.
pub const PRIVATE_PREFIX: &str = "GOLDENPATH_";

/// Whether `name` is one of `inherit`: an exact name (`KUBECONFIG`), or a
/// prefix written with a trailing `*` (`AWS_*`).
pub fn matches(inherit: &[&str], name: &str) -> bool {
    inherit.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *p,
    })
}

/// Replaces `cmd`'s environment with [`BASE`], the current process's
/// variables named by `inherit` (see [`matches`]; never `GOLDENPATH_*`),
/// and the variables already set on `cmd`.
pub fn scrub(cmd: &mut Command, inherit: &[&str]) {
    scrub_from(cmd, inherit, std::env::vars_os());
}

/// [`scrub`] with the parent's environment given.
fn scrub_from(
    cmd: &mut Command,
    inherit: &[&str],
    parent: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) {
    let explicit: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)> = cmd
        .get_envs()
        .map(|(k, v)| (k.to_os_string(), v.map(|v| v.to_os_string())))
        .collect();
    cmd.env_clear();
    for (k, v) in parent {
        let Some(name) = k.to_str() else { continue };
        if name.starts_with(PRIVATE_PREFIX) {
            continue;
        }
        let wanted = BASE.contains(&name) || matches(inherit, name);
        if wanted {
            cmd.env(&k, &v);
        }
    }
    for (k, v) in explicit {
        match v {
            Some(v) => {
                cmd.env(k, v);
            }
            None => {
                cmd.env_remove(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(
        inherit: &[&str],
        parent: &[(&str, &str)],
        explicit: &[(&str, Option<&str>)],
    ) -> Vec<(String, String)> {
        let mut cmd = Command::new("true");
        for (k, v) in explicit {
            match v {
                Some(v) => {
                    cmd.env(k, v);
                }
                None => {
                    cmd.env_remove(k);
                }
            }
        }
        scrub_from(
            &mut cmd,
            inherit,
            parent.iter().map(|(k, v)| (k.into(), v.into())),
        );
        let mut out: Vec<(String, String)> = cmd
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
            .collect();
        out.sort();
        out
    }

    const PARENT: &[(&str, &str)] = &[
        ("PATH", "/bin"),
        ("HOME", "/root"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
        ("KUBECONFIG", "/k"),
        ("KUBECONFIG_EXTRA", "/x"),
        ("GOLDENPATH_SECRETS_KEY", "never"),
        ("GOLDENPATH_REGISTRY_KEY", "never"),
        ("UNRELATED", "u"),
    ];

    #[test]
    fn only_the_base_and_what_is_named_reach_a_child() {
        assert_eq!(
            child(&[], PARENT, &[]),
            [
                ("HOME".to_string(), "/root".to_string()),
                ("PATH".into(), "/bin".into())
            ]
        );
        let named = child(&["KUBECONFIG", "AWS_*"], PARENT, &[]);
        let names: Vec<&str> = named.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "AWS_REGION",
                "AWS_SECRET_ACCESS_KEY",
                "HOME",
                "KUBECONFIG",
                "PATH"
            ]
        );
    }

    #[test]
    fn goldenpaths_own_variables_never_reach_a_child_whatever_is_named() {
        for inherit in [
            &["*"][..],
            &["GOLDENPATH_*"],
            &["GOLDENPATH_SECRETS_KEY"],
            &["G*"],
        ] {
            let env = child(inherit, PARENT, &[]);
            assert!(
                env.iter().all(|(k, _)| !k.starts_with("GOLDENPATH_")),
                "{inherit:?}: {env:?}"
            );
        }
        // `*` names everything else.
        assert!(
            child(&["*"], PARENT, &[])
                .iter()
                .any(|(k, _)| k == "UNRELATED")
        );
    }

    #[test]
    fn what_the_driver_sets_stays_and_what_it_removes_goes() {
        let env = child(
            &[],
            PARENT,
            &[("TF_IN_AUTOMATION", Some("1")), ("HOME", None)],
        );
        assert_eq!(
            env,
            [
                ("PATH".to_string(), "/bin".to_string()),
                ("TF_IN_AUTOMATION".into(), "1".into())
            ]
        );
    }

    #[test]
    fn an_exact_name_is_exact_and_a_star_is_a_prefix() {
        assert!(matches(&["KUBECONFIG"], "KUBECONFIG"));
        assert!(!matches(&["KUBECONFIG"], "KUBECONFIG_EXTRA"));
        assert!(!matches(&["KUBECONFIG"], "KUBE"));
        assert!(matches(&["AWS_*"], "AWS_REGION"));
        assert!(matches(&["AWS_*"], "AWS_"));
        assert!(!matches(&["AWS_*"], "XAWS_REGION"));
        assert!(!matches(&[], "PATH"));
    }

    #[test]
    fn a_real_child_gets_only_the_scrubbed_environment() {
        // cargo runs tests with CARGO_MANIFEST_DIR set; a scrubbed child
        // does not see it, one that names it does.
        assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
        let run = |inherit: &[&str]| {
            let mut cmd = Command::new("env");
            cmd.env("SET_BY_DRIVER", "1");
            scrub(&mut cmd, inherit);
            String::from_utf8(cmd.output().unwrap().stdout).unwrap()
        };
        let out = run(&[]);
        assert!(!out.contains("CARGO_MANIFEST_DIR="), "{out}");
        assert!(out.contains("SET_BY_DRIVER=1"), "{out}");
        assert!(out.lines().any(|l| l.starts_with("PATH=")), "{out}");
        assert!(run(&["CARGO_*"]).contains("CARGO_MANIFEST_DIR="));
    }
}
