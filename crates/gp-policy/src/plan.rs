//! A Terraform plan as policies see it: `terraform show -json`, with every
//! value Terraform marks sensitive replaced, and the parts that carry
//! values without marks (variables, the configuration's constants, the
//! prior and planned state) left out.

use serde_json::Value;

/// The text a sensitive value is replaced with.
pub const SENSITIVE: &str = "(sensitive)";

/// Replaces in `value` whatever `marks` (Terraform's `*_sensitive`
/// structure: `true`, or the same shape with `true` at the leaves) marks.
fn redact(value: &mut Value, marks: &Value) {
    match (value, marks) {
        (v, Value::Bool(true)) => *v = Value::String(SENSITIVE.into()),
        (Value::Object(m), Value::Object(mk)) => {
            for (k, sub) in mk {
                if let Some(v) = m.get_mut(k) {
                    redact(v, sub);
                }
            }
        }
        (Value::Array(a), Value::Array(mk)) => {
            for (v, sub) in a.iter_mut().zip(mk) {
                redact(v, sub);
            }
        }
        _ => {}
    }
}

/// The plan policies get: `format_version`, `terraform_version`,
/// `resource_changes` and `output_changes`, sensitive values replaced.
pub fn redact_plan(plan: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in [
        "format_version",
        "terraform_version",
        "applyable",
        "complete",
        "errored",
    ] {
        if let Some(v) = plan.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let mut changes = plan
        .get("resource_changes")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    if let Value::Array(items) = &mut changes {
        for rc in items {
            if let Some(change) = rc.get_mut("change").and_then(|c| c.as_object_mut()) {
                for (v, m) in [("before", "before_sensitive"), ("after", "after_sensitive")] {
                    let marks = change.get(m).cloned().unwrap_or(Value::Null);
                    if let Some(val) = change.get_mut(v) {
                        redact(val, &marks);
                    }
                }
            }
        }
    }
    out.insert("resource_changes".into(), changes);
    let mut outputs = plan
        .get("output_changes")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    if let Value::Object(m) = &mut outputs {
        for (_, change) in m.iter_mut() {
            if let Some(change) = change.as_object_mut() {
                for (v, mk) in [("before", "before_sensitive"), ("after", "after_sensitive")] {
                    let marks = change.get(mk).cloned().unwrap_or(Value::Null);
                    if let Some(val) = change.get_mut(v) {
                        redact(val, &marks);
                    }
                }
            }
        }
    }
    out.insert("output_changes".into(), outputs);
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_values_and_unmarked_parts_never_reach_a_policy() {
        let plan = serde_json::json!({
            "format_version": "1.2",
            "variables": {"db_password": {"value": "hunter2-secret"}},
            "prior_state": {"values": {"x": "hunter2-secret"}},
            "resource_changes": [{
                "address": "aws_db_instance.db",
                "change": {
                    "actions": ["create"],
                    "after": {"password": "hunter2-secret", "tags": {"a": "b"}, "nested": [{"k": "hunter2-secret", "ok": 1}]},
                    "after_sensitive": {"password": true, "nested": [{"k": true}]},
                },
            }],
            "output_changes": {"dsn": {"after": "hunter2-secret", "after_sensitive": true}},
        });
        let out = redact_plan(&plan);
        let text = out.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(
            out["resource_changes"][0]["change"]["after"]["tags"]["a"],
            "b"
        );
        assert_eq!(
            out["resource_changes"][0]["change"]["after"]["nested"][0]["ok"],
            1
        );
    }
}
