//! Findings for machines, one home for every command that reports them:
//! SARIF 2.1.0 (code scanning) and GitHub Actions workflow commands
//! (`::error file=F,line=L,col=C,title=RULE::message`). `validate`, `docs
//! check`, `policy check` and the CI commands all write through here.

/// One finding at a place in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// Error or warning.
    pub error: bool,
    /// The file, relative to where the command ran.
    pub file: String,
    /// 1-based line; 0 for the file as a whole.
    pub line: u32,
    /// 1-based column; 0 when not known.
    pub column: u32,
    /// The rule (or check) that found it.
    pub rule: String,
    /// What is wrong.
    pub message: String,
}

/// A rule a tool reports, for SARIF's rule table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Its id.
    pub id: String,
    /// One line.
    pub summary: String,
}

/// The annotations as a SARIF 2.1.0 log of one run of `tool`; `rules`
/// describes the rules (those not named are listed by id).
pub fn sarif(tool: &str, rules: &[Rule], annotations: &[Annotation]) -> serde_json::Value {
    let mut ids: Vec<&str> = annotations.iter().map(|a| a.rule.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let rules: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            let summary = rules
                .iter()
                .find(|r| r.id == *id)
                .map_or(*id, |r| r.summary.as_str());
            serde_json::json!({"id": id, "shortDescription": {"text": summary}})
        })
        .collect();
    let results: Vec<serde_json::Value> = annotations
        .iter()
        .map(|a| {
            let mut location = serde_json::json!({
                "physicalLocation": {
                    "artifactLocation": {"uri": a.file, "uriBaseId": "SRCROOT"},
                }
            });
            if a.line > 0 {
                let mut region = serde_json::json!({"startLine": a.line});
                if a.column > 0 {
                    region["startColumn"] = a.column.into();
                }
                location["physicalLocation"]["region"] = region;
            }
            serde_json::json!({
                "ruleId": a.rule,
                "level": if a.error { "error" } else { "warning" },
                "message": {"text": a.message},
                "locations": [location],
            })
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": tool,
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// A workflow command's message, escaped as the runner reads it.
pub fn github_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value, escaped as the runner reads it.
pub fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One workflow command per annotation, each on its own line.
pub fn github(annotations: &[Annotation]) -> String {
    let mut out = String::new();
    for a in annotations {
        let level = if a.error { "error" } else { "warning" };
        // A finding of no file (a run's error) is annotated on the run.
        let mut props = Vec::new();
        if !a.file.is_empty() {
            props.push(format!("file={}", github_property(&a.file)));
            if a.line > 0 {
                props.push(format!("line={}", a.line));
                if a.column > 0 {
                    props.push(format!("col={}", a.column));
                }
            }
        }
        props.push(format!("title={}", github_property(&a.rule)));
        let props = props.join(",");
        out.push_str(&format!("::{level} {props}::{}\n", github_data(&a.message)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(error: bool, line: u32, column: u32, message: &str) -> Annotation {
        Annotation {
            error,
            file: "dir/a,b:c.yaml".into(),
            line,
            column,
            rule: "r:1".into(),
            message: message.into(),
        }
    }

    #[test]
    fn workflow_commands_escape_what_the_runner_reads() {
        assert_eq!(
            github(&[a(true, 3, 5, "50% bad\nnext")]),
            "::error file=dir/a%2Cb%3Ac.yaml,line=3,col=5,title=r%3A1::50%25 bad%0Anext\n"
        );
        assert_eq!(
            github(&[a(false, 0, 0, "whole file")]),
            "::warning file=dir/a%2Cb%3Ac.yaml,title=r%3A1::whole file\n"
        );
        assert_eq!(
            github(&[a(false, 7, 0, "m")]),
            "::warning file=dir/a%2Cb%3Ac.yaml,line=7,title=r%3A1::m\n"
        );
        assert_eq!(github(&[]), "");
    }

    #[test]
    fn sarif_has_a_result_per_annotation_and_each_rule_once() {
        let log = sarif(
            "goldenpath validate",
            &[Rule {
                id: "r:1".into(),
                summary: "the rule".into(),
            }],
            &[a(true, 3, 5, "m"), a(false, 0, 0, "n")],
        );
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 1);
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["shortDescription"]["text"],
            "the rule"
        );
        let results = run["results"].as_array().unwrap();
        assert_eq!(results[0]["level"], "error");
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["region"]["startColumn"],
            5
        );
        assert_eq!(results[1]["level"], "warning");
        assert!(
            results[1]["locations"][0]["physicalLocation"]
                .get("region")
                .is_none()
        );
    }

    #[test]
    fn a_finding_of_no_file_is_annotated_on_the_run() {
        let mut x = a(true, 3, 4, "boom");
        x.file = String::new();
        assert_eq!(github(&[x]), "::error title=r%3A1::boom\n");
    }
}
