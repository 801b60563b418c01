//! Objects from files: every `---` document of a YAML file, a Terraform
//! plan JSON, each with its line and component.

use std::path::Path;

use gp_core::{Diagnostic, InvalidInput};

use crate::{Doc, Subject};

/// The objects of the YAML and JSON files under `root` (paths shown
/// relative to `shown_from`); a file that does not parse is an error at its
/// line and column.
pub fn docs_under(root: &Path, shown_from: &Path) -> Result<Vec<Doc>, InvalidInput> {
    let files = crate::files_under(root)
        .map_err(|e| InvalidInput(vec![Diagnostic::file(root, format!("cannot read it: {e}"))]))?;
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(shown_from)
            .unwrap_or(&f)
            .display()
            .to_string();
        match read_docs(&f, &rel) {
            Ok(d) => docs.extend(d),
            Err(mut e) => problems.append(&mut e.0),
        }
    }
    if problems.is_empty() {
        Ok(docs)
    } else {
        Err(InvalidInput(problems))
    }
}

/// The component of a file shown as `rel`: the rendered layout's, else
/// its first folder, else the file name up to the first dot.
pub fn component_for(rel: &str) -> String {
    let c = crate::component_of(rel);
    if !c.is_empty() {
        return c;
    }
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        [first, _, ..] => (*first).to_string(),
        [file] => file.split('.').next().unwrap_or_default().to_string(),
        [] => String::new(),
    }
}

/// The objects of one file, shown as `rel`.
pub fn read_docs(path: &Path, rel: &str) -> Result<Vec<Doc>, InvalidInput> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InvalidInput(vec![Diagnostic::file(path, format!("cannot read it: {e}"))]))?;
    let component = component_for(rel);
    if path.extension().is_some_and(|x| x == "json") {
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            InvalidInput(vec![Diagnostic::at(
                path,
                &text,
                gp_core::yaml::Pos {
                    line: e.line() as u32,
                    col: e.column() as u32,
                    offset: 0,
                },
                format!("not JSON: {e}"),
            )])
        })?;
        if v.get("resource_changes").is_none() {
            return Ok(Vec::new());
        }
        return Ok(vec![Doc {
            subject: Subject::Plan,
            file: rel.to_string(),
            line: 1,
            component,
            input: crate::redact_plan(&v),
        }]);
    }
    let mut out = Vec::new();
    for (line, chunk) in crate::split_documents(&text) {
        let node = gp_core::yaml::parse(&chunk).map_err(|e| {
            let mut pos = e.pos;
            pos.line += line as u32 - 1;
            InvalidInput(vec![Diagnostic::at(path, &text, pos, e.message)])
        })?;
        if let Some(node) = node {
            out.push(Doc {
                subject: Subject::Manifests,
                file: rel.to_string(),
                line,
                component: component.clone(),
                input: node.to_json(),
            });
        }
    }
    Ok(out)
}
