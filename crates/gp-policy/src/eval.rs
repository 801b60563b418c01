//! The evaluation itself (run by the worker process): every query over
//! every object, or the unit tests.

use crate::{Doc, Finding, Request, Response, Severity, TestResult};

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
    let mut findings = Vec::new();
    for doc in &req.docs {
        let mut data = req.context.clone();
        data["object"] = serde_json::json!({
            "file": doc.file,
            "line": doc.line,
            "component": doc.component,
        });
        engine.clear_data();
        engine.add_data(regorus::Value::from(
            serde_json::json!({ "goldenpath": data }),
        ))?;
        engine.set_input(regorus::Value::from(doc.input.clone()));
        for q in &req.queries {
            if q.subject.is_some_and(|s| s != doc.subject) {
                continue;
            }
            let severity = if q.rule == "warn" {
                Severity::Warn
            } else {
                Severity::Deny
            };
            let value = engine.eval_rule(format!("data.{}.{}", q.package, q.rule))?;
            collect(&value, q, severity, doc, &mut findings)?;
        }
    }
    Ok(Response {
        findings,
        ..Default::default()
    })
}

/// The messages of one rule's value: a set (or array) of strings or of
/// objects with `msg` (an `id` or `rule` key names the rule).
fn collect(
    value: &regorus::Value,
    q: &crate::Query,
    severity: Severity,
    doc: &Doc,
    out: &mut Vec<Finding>,
) -> anyhow_like::Result<()> {
    if *value == regorus::Value::Undefined {
        return Ok(());
    }
    let json: serde_json::Value = serde_json::from_str(&value.to_json_str()?)?;
    let items: Vec<serde_json::Value> = match json {
        serde_json::Value::Array(a) => a,
        serde_json::Value::String(s) if s == "<undefined>" => return Ok(()),
        serde_json::Value::Bool(false) | serde_json::Value::Null => return Ok(()),
        other => vec![other],
    };
    for item in items {
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
    Ok(())
}

/// regorus's errors, and ours, as one boxed error.
mod anyhow_like {
    pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
}
