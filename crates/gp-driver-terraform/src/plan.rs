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
            match actions.as_slice() {
                ["create"] => s.creates.push(address),
                ["update"] => s.updates.push(address),
                ["delete"] => s.deletes.push(address),
                ["delete", "create"] | ["create", "delete"] => s.replaces.push(address),
                _ => {}
            }
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
