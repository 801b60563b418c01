//! The contract is the only formatter of derived names: no `format!` in
//! another crate's sources builds a hostname, a state key, a secret path, a
//! tag or an Application name. A name formatted elsewhere drifts from the
//! contract the day one of them changes; this test fails first.

use std::path::{Path, PathBuf};

/// Fragments of a format string (or a call inside `format!`) that mean a
/// derived name is being built by hand.
const FORBIDDEN: &[&str] = &[
    "envs/",
    "builds/",
    ".tfstate",
    "-eks",
    "\"b-",
    "/postgres\"",
    "apps/",
    "-root\"",
    "name_prefix()",
    "host_suffix()",
    "dns_owner_id()",
    "cluster_name()",
    "irsa_role_suffix()",
];

/// Tag names only the contract sets.
const TAGS: &[&str] = &["\"ManagedBy\"", "\"BuildId\"", "\"Lifecycle\""];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Where the `format!(...)` starting `call` ends: its matching `)`, with
/// string literals skipped.
fn call_end(call: &str) -> usize {
    let mut depth = 0;
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in call.char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    call.len()
}

#[test]
fn no_crate_but_the_contract_formats_derived_names() {
    let root = gp_test::repo_root().join("crates");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&root).unwrap().flatten() {
        let src = krate.path().join("src");
        if src.is_dir() {
            sources(&src, &mut files);
        }
    }
    assert!(files.len() > 50, "found the sources: {}", files.len());
    let contract = root.join("gp-core/src/contract.rs");
    let contract_dir = root.join("gp-core/src/contract");
    let mut offences = Vec::new();
    for f in files
        .iter()
        .filter(|f| **f != contract && !f.starts_with(&contract_dir))
    {
        let text = std::fs::read_to_string(f).unwrap();
        // Test code may spell out the names it expects.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        // A `format!` call, possibly over several lines.
        let mut rest = code;
        while let Some(i) = rest.find("format!(") {
            let call = &rest[i..];
            let body = &call[..call_end(call)];
            for bad in FORBIDDEN {
                if body.contains(bad) {
                    let line = code[..code.len() - rest.len() + i].lines().count() + 1;
                    offences.push(format!(
                        "{}:{line}: `{bad}` in {}",
                        f.display(),
                        body.lines().next().unwrap_or_default().trim()
                    ));
                }
            }
            rest = &call[8..];
        }
        for tag in TAGS {
            for (n, l) in code.lines().enumerate() {
                if l.contains(&format!("insert({tag}")) {
                    offences.push(format!("{}:{}: sets the {tag} tag", f.display(), n + 1));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "derived names formatted outside gp_core::Contract:\n{}",
        offences.join("\n")
    );
}
