//! Findings for machines: SARIF 2.1.0 and GitHub Actions annotations.

use crate::{Finding, Severity};

/// SARIF 2.1.0, one result per finding.
pub fn sarif(findings: &[Finding]) -> serde_json::Value {
    let mut ids: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let rules: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| serde_json::json!({"id": id, "shortDescription": {"text": id}}))
        .collect();
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "ruleId": f.rule,
                "level": match (f.severity, f.overridden) {
                    (Severity::Deny, false) => "error",
                    _ => "warning",
                },
                "message": {"text": format!("{} [{}]", f.message, f.component)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.file, "uriBaseId": "SRCROOT"},
                        "region": {"startLine": f.line.max(1)},
                    }
                }],
            })
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "goldenpath policy",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// `::error file=F,line=L,title=RULE::message` per finding (`::warning`
/// for warnings), escaped as the runner reads them.
pub fn github(findings: &[Finding]) -> String {
    fn data(s: &str) -> String {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    }
    fn property(s: &str) -> String {
        data(s).replace(':', "%3A").replace(',', "%2C")
    }
    let mut out = String::new();
    for f in findings {
        let level = match (f.severity, f.overridden) {
            (Severity::Deny, false) => "error",
            _ => "warning",
        };
        out.push_str(&format!(
            "::{level} file={},line={},title={}::{}\n",
            property(&f.file),
            f.line.max(1),
            property(&f.rule),
            data(&format!("{} [{}]", f.message, f.component))
        ));
    }
    out
}
