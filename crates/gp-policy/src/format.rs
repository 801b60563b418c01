//! Findings for machines: SARIF 2.1.0 and GitHub Actions annotations,
//! written by [`gp_core::annotate`].

use gp_core::annotate::{self, Annotation};

use crate::{Finding, Severity};

fn annotations(findings: &[Finding]) -> Vec<Annotation> {
    findings
        .iter()
        .map(|f| Annotation {
            error: f.severity == Severity::Deny && !f.overridden,
            file: f.file.clone(),
            line: u32::try_from(f.line.max(1)).unwrap_or(u32::MAX),
            column: 0,
            rule: f.rule.clone(),
            message: format!("{} [{}]", f.message, f.component),
        })
        .collect()
}

/// SARIF 2.1.0, one result per finding.
pub fn sarif(findings: &[Finding]) -> serde_json::Value {
    annotate::sarif("goldenpath policy", &[], &annotations(findings))
}

/// `::error file=F,line=L,title=RULE::message` per finding (`::warning`
/// for warnings and overridden denials).
pub fn github(findings: &[Finding]) -> String {
    annotate::github(&annotations(findings))
}
