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
    let explicit: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)> = cmd
        .get_envs()
        .map(|(k, v)| (k.to_os_string(), v.map(|v| v.to_os_string())))
        .collect();
    cmd.env_clear();
    for (k, v) in std::env::vars_os() {
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
