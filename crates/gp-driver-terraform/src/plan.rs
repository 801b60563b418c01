//! Terraform's plan as JSON: counts of what it adds, changes and destroys,
//! and the guards (protected addresses, limits) it is checked against.

use super::*;

/// What a plan would do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanSummary {
    /// Addresses created.
    pub creates: Vec<String>,
    /// Updated in place.
    pub updates: Vec<String>,
    /// Deleted.
    pub deletes: Vec<String>,
    /// Replaced (deleted and created).
    pub replaces: Vec<String>,
    /// Root outputs whose value changes (an apply records them).
    pub outputs: Vec<String>,
    /// For each address updated or replaced, the attributes that change
    /// (names only, never values).
    pub attributes: std::collections::BTreeMap<String, Vec<String>>,
    /// What the refresh found changed outside Terraform (`resource_drift`):
    /// each address, `deleted` or the attributes that changed.
    pub outside: Vec<(String, Vec<String>)>,
}

/// The top-level attributes a change's `before` and `after` differ in (one
/// known only after apply counts as changing).
fn changed_attributes(change: &serde_json::Value) -> Vec<String> {
    let obj = |k: &str| change.get(k).and_then(|v| v.as_object());
    let (before, after, unknown) = (obj("before"), obj("after"), obj("after_unknown"));
    let mut keys: std::collections::BTreeSet<&String> = std::collections::BTreeSet::new();
    for m in [before, after, unknown].into_iter().flatten() {
        keys.extend(m.keys());
    }
    keys.into_iter()
        .filter(|k| {
            let b = before.and_then(|m| m.get(*k));
            let a = after.and_then(|m| m.get(*k));
            let u = unknown
                .and_then(|m| m.get(*k))
                .is_some_and(|v| v.as_bool() == Some(true));
            u || b != a
        })
        .map(|k| k.to_string())
        .collect()
}

impl PlanSummary {
    /// Reads `terraform show -json PLAN`.
    pub fn from_json(v: &serde_json::Value) -> PlanSummary {
        let mut s = PlanSummary::default();
        for rc in v
            .get("resource_changes")
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten()
        {
            let address = rc
                .get("address")
                .and_then(|a| a.as_str())
                .unwrap_or_default()
                .to_string();
            let actions: Vec<&str> = rc
                .pointer("/change/actions")
                .and_then(|a| a.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            let changed = rc.get("change").map(changed_attributes).unwrap_or_default();
            match actions.as_slice() {
                ["create"] => s.creates.push(address),
                ["update"] => {
                    s.attributes.insert(address.clone(), changed);
                    s.updates.push(address)
                }
                ["delete"] => s.deletes.push(address),
                ["delete", "create"] | ["create", "delete"] => {
                    s.attributes.insert(address.clone(), changed);
                    s.replaces.push(address)
                }
                _ => {}
            }
        }
        for rd in v
            .get("resource_drift")
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten()
        {
            let address = rd
                .get("address")
                .and_then(|a| a.as_str())
                .unwrap_or_default()
                .to_string();
            let deleted = rd
                .pointer("/change/actions")
                .and_then(|a| a.as_array())
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("delete")));
            let what = if deleted {
                vec!["deleted".to_string()]
            } else {
                rd.get("change").map(changed_attributes).unwrap_or_default()
            };
            s.outside.push((address, what));
        }
        if let Some(outputs) = v.get("output_changes").and_then(|o| o.as_object()) {
            for (name, change) in outputs {
                let noop = change
                    .pointer("/actions")
                    .and_then(|a| a.as_array())
                    .is_some_and(|a| a.iter().all(|x| x.as_str() == Some("no-op")));
                if !noop {
                    s.outputs.push(name.clone());
                }
            }
        }
        s
    }

    /// Counts as the registry records them (a replacement is one add and
    /// one destroy, as Terraform's own summary counts it).
    pub fn counts(&self) -> Counts {
        Counts {
            added: (self.creates.len() + self.replaces.len()) as i64,
            changed: self.updates.len() as i64,
            destroyed: (self.deletes.len() + self.replaces.len()) as i64,
        }
    }

    /// Whether it changes anything.
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty()
            && self.updates.is_empty()
            && self.deletes.is_empty()
            && self.replaces.is_empty()
            && self.outputs.is_empty()
    }
}

/// `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// A guard a plan breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// `protect` or `maxCreate`/`maxChange`/`maxDestroy`.
    pub guard: String,
    /// What exactly.
    pub message: String,
}

/// Evaluates guards on a plan.
pub fn guards(plan: &PlanSummary, protect: &[String], limits: &Limits) -> Vec<Violation> {
    let mut out = Vec::new();
    for address in plan.deletes.iter().chain(&plan.replaces) {
        if let Some(p) = protect.iter().find(|p| glob(p, address)) {
            let what = if plan.replaces.contains(address) {
                "replace"
            } else {
                "delete"
            };
            out.push(Violation {
                guard: "protect".into(),
                message: format!("the plan would {what} {address}, which is protected (`{p}`)"),
            });
        }
    }
    let c = plan.counts();
    for (guard, limit, n, what) in [
        ("maxCreate", limits.max_create, c.added, "create"),
        ("maxChange", limits.max_change, c.changed, "change"),
        ("maxDestroy", limits.max_destroy, c.destroyed, "destroy"),
    ] {
        if let Some(limit) = limit
            && n > i64::from(limit)
        {
            out.push(Violation {
                guard: guard.into(),
                message: format!("the plan would {what} {n} resource(s); {guard} is {limit}"),
            });
        }
    }
    out
}

#[cfg(test)]
mod attribute_tests {
    use super::PlanSummary;

    #[test]
    fn a_plan_names_the_attributes_that_change_and_what_changed_outside_terraform() {
        let v = serde_json::json!({
            "resource_changes": [
                {"address": "terraform_data.cluster", "change": {
                    "actions": ["update"],
                    "before": {"input": {"name": "changed-by-hand"}, "id": "1", "output": "x"},
                    "after": {"input": {"name": "gp-dev"}, "id": "1"},
                    "after_unknown": {"output": true}
                }},
                {"address": "aws_s3_bucket.logs", "change": {
                    "actions": ["delete", "create"],
                    "before": {"bucket": "a", "tags": {"x": "1"}},
                    "after": {"bucket": "b", "tags": {"x": "1"}},
                    "after_unknown": {}
                }},
                {"address": "aws_iam_role.r", "change": {"actions": ["no-op"], "before": {}, "after": {}}},
                {"address": "aws_sqs_queue.q", "change": {"actions": ["create"], "before": null, "after": {"name": "q"}}}
            ],
            "resource_drift": [
                {"address": "aws_s3_bucket.logs", "change": {
                    "actions": ["update"],
                    "before": {"tags": {"Owner": "t"}, "bucket": "a"},
                    "after": {"tags": {}, "bucket": "a"}
                }},
                {"address": "aws_sqs_queue.gone", "change": {"actions": ["delete"], "before": {"name": "g"}, "after": null}}
            ]
        });
        let p = PlanSummary::from_json(&v);
        assert_eq!(p.updates, ["terraform_data.cluster"]);
        assert_eq!(p.attributes["terraform_data.cluster"], ["input", "output"]);
        assert_eq!(p.replaces, ["aws_s3_bucket.logs"]);
        assert_eq!(p.attributes["aws_s3_bucket.logs"], ["bucket"]);
        assert!(
            !p.attributes.contains_key("aws_sqs_queue.q"),
            "a creation lists no attributes"
        );
        assert_eq!(
            p.outside,
            [
                ("aws_s3_bucket.logs".to_string(), vec!["tags".to_string()]),
                (
                    "aws_sqs_queue.gone".to_string(),
                    vec!["deleted".to_string()]
                ),
            ]
        );
        // A plan without drift sections reads as before.
        let empty = PlanSummary::from_json(&serde_json::json!({}));
        assert!(empty.is_empty() && empty.outside.is_empty());
    }
}
