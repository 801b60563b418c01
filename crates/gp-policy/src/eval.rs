//! The evaluation itself (run by the worker process): every query over
//! every object, or the unit tests.

use crate::{Doc, Finding, Request, Response, Severity, Subject, TestResult};

/// Evaluates `req` in this process. Errors (a runtime error in a policy,
/// the time limit) come back in [`Response::error`].
pub fn evaluate(req: &Request) -> Response {
    match run(req) {
        Ok(r) => r,
        Err(e) => {
            let text = e.to_string();
            Response {
                limit: text.contains("time limit") || text.contains("memory limit"),
                error: Some(text),
                ..Default::default()
            }
        }
    }
}

fn engine(req: &Request) -> anyhow_like::Result<regorus::Engine> {
    let mut engine = regorus::Engine::new();
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: std::time::Duration::from_millis(req.timeout_ms.max(1)),
        check_interval: std::num::NonZeroU32::MIN,
    });
    for (path, source) in &req.modules {
        engine.add_policy(path.clone(), source.clone())?;
    }
    Ok(engine)
}

fn run(req: &Request) -> anyhow_like::Result<Response> {
    let mut engine = engine(req)?;
    if !req.tests.is_empty() {
        engine.add_data(regorus::Value::from(serde_json::json!({
            "goldenpath": req.context,
        })))?;
        let mut tests = Vec::new();
        for (query, file) in &req.tests {
            let result = engine.eval_rule(query.clone());
            let (passed, error) = match result {
                Ok(v) => (v == regorus::Value::Bool(true), None),
                Err(e) => {
                    let text = e.to_string();
                    if text.contains("time limit") {
                        return Err(text.into());
                    }
                    (false, Some(text))
                }
            };
            tests.push(TestResult {
                name: query.trim_start_matches("data.").to_string(),
                file: file.clone(),
                passed,
                error,
            });
        }
        return Ok(Response {
            tests,
            ..Default::default()
        });
    }
    // One generated module per subject gathers every rule's messages, so
    // one evaluation per object shares what the rules have in common
    // (the helpers' walks of the object) instead of one per rule.
    for subject in [Subject::Manifests, Subject::Plan] {
        let mut module = format!("package {}\n\n", gather_package(subject));
        for (i, q) in req.queries.iter().enumerate() {
            if q.subject.is_some_and(|s| s != subject) {
                continue;
            }
            module.push_str(&format!(
                "found contains [{i}, m] if {{\n\tsome m in data.{}.{}\n}}\n\n",
                q.package, q.rule
            ));
        }
        module.push_str("found contains [-1, \"\"] if false\n");
        engine.add_policy(format!("gather:{}", subject.as_str()), module)?;
    }
    // The deployment's facts once; each object's own (file, line,
    // component) through `with`, which does not make the engine prepare
    // its modules again as a change of data does.
    engine.add_data(regorus::Value::from(
        serde_json::json!({ "goldenpath": req.context }),
    ))?;
    let mut findings = Vec::new();
    for doc in &req.docs {
        let object = serde_json::json!({
            "file": doc.file,
            "line": doc.line,
            "component": doc.component,
        });
        engine.set_input(regorus::Value::from(doc.input.clone()));
        let results = engine.eval_query(
            format!(
                "x := data.{}.found with data.goldenpath.object as {object}",
                gather_package(doc.subject)
            ),
            false,
        )?;
        let value = results
            .result
            .first()
            .and_then(|r| {
                r.bindings
                    .as_object()
                    .ok()
                    .and_then(|b| b.get(&regorus::Value::from("x")).cloned())
            })
            .unwrap_or(regorus::Value::Undefined);
        let json: serde_json::Value = serde_json::from_str(&value.to_json_str()?)?;
        let mut found: Vec<(usize, serde_json::Value)> = json
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|pair| {
                let i = pair.get(0)?.as_i64()?;
                Some((usize::try_from(i).ok()?, pair.get(1)?.clone()))
            })
            .collect();
        found.sort_by_key(|(i, _)| *i);
        for (i, item) in found {
            let Some(q) = req.queries.get(i) else {
                continue;
            };
            let severity = if q.rule == "warn" {
                Severity::Warn
            } else {
                Severity::Deny
            };
            collect(item, q, severity, doc, &mut findings);
        }
    }
    Ok(Response {
        findings,
        ..Default::default()
    })
}

/// One message of a rule: a string, or an object with `msg` (an `id` or
/// `rule` key names the rule).
fn collect(
    item: serde_json::Value,
    q: &crate::Query,
    severity: Severity,
    doc: &Doc,
    out: &mut Vec<Finding>,
) {
    let (rule, message) = match &item {
        serde_json::Value::String(s) => (q.id.clone(), s.clone()),
        serde_json::Value::Object(m) => (
            m.get("id")
                .or_else(|| m.get("rule"))
                .and_then(|v| v.as_str())
                .map_or_else(|| q.id.clone(), str::to_string),
            m.get("msg")
                .and_then(|v| v.as_str())
                .map_or_else(|| item.to_string(), str::to_string),
        ),
        other => (q.id.clone(), other.to_string()),
    };
    out.push(Finding {
        rule,
        severity,
        message,
        component: doc.component.clone(),
        file: doc.file.clone(),
        line: doc.line,
        overridden: false,
    });
}

fn gather_package(subject: Subject) -> &'static str {
    match subject {
        Subject::Manifests => "goldenpath_gather.manifests",
        Subject::Plan => "goldenpath_gather.plan",
    }
}

/// regorus's errors, and ours, as one boxed error.
mod anyhow_like {
    pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
}
