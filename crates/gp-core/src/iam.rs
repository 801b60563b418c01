//! IAM for the CI roles: what each role's runs call, as [`Grant`]s that
//! each driver, store and backend declares for the names the contract
//! derives; the policy document they make; the OIDC trust policy of a
//! role; and the check of a policy in use against what a role needs.
//!
//! The one home of the rules: which planes a role reaches and how
//! ([`Role::reach`]), IAM's wildcard rules ([`matches`], [`covers`]),
//! and what a policy in use lacks or grants beyond need ([`check`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::yaml::{Node, NodeKind, Pos};

/// A CI role: the jobs of the generated workflows that assume it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Pull request checks (`plan` of the preview) and the scheduled drift
    /// checks: reads only.
    Plan,
    /// Deploys: a pull request's preview, the persistent deployment, the
    /// foundational plane.
    Apply,
    /// A closed pull request's preview torn down; the sweep of previews.
    Teardown,
    /// Expired builds reaped on the schedule.
    Reap,
    /// Requests applied when they merge.
    Requests,
}

/// How a role touches what it reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Reads (plan, observe, drift).
    Read,
    /// Creates and changes (a deploy; Terraform's apply may also replace).
    Write,
    /// Removes (a teardown).
    Delete,
}

/// What a role reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reach {
    /// The environment's foundational plane.
    Foundational,
    /// The persistent deployment.
    Persistent,
    /// Every build.
    Builds,
    /// Self-service requests' resources.
    Requests,
    /// The tag sweep after a build's teardown.
    Sweep,
}

impl Role {
    /// Every role, in the order the docs list them.
    pub const ALL: [Role; 5] = [
        Role::Plan,
        Role::Apply,
        Role::Teardown,
        Role::Reap,
        Role::Requests,
    ];

    /// Its name (`{prefix}-{env}-ci-{name}` in the workflows).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Plan => "plan",
            Role::Apply => "apply",
            Role::Teardown => "teardown",
            Role::Reap => "reap",
            Role::Requests => "requests",
        }
    }

    /// What the role reaches and how: the one table every derivation
    /// reads.
    pub fn reach(self) -> &'static [(Reach, Access)] {
        use Access::{Delete, Read, Write};
        use Reach::{Builds, Foundational, Persistent, Requests, Sweep};
        match self {
            Role::Plan => &[(Foundational, Read), (Persistent, Read), (Builds, Read)],
            Role::Apply => &[
                (Foundational, Read),
                (Foundational, Write),
                (Persistent, Read),
                (Persistent, Write),
                (Builds, Read),
                (Builds, Write),
            ],
            // A teardown reads what it removes (the state, whether a
            // secret is still there) but never a secret's value.
            Role::Teardown | Role::Reap => &[(Builds, Delete), (Sweep, Delete)],
            Role::Requests => &[(Requests, Read), (Requests, Write)],
        }
    }

    /// The subjects of GitHub's OIDC token the generated workflows present
    /// for this role (`repo:OWNER/NAME:…`): a pull request's jobs, the
    /// default branch, or a GitHub environment; never a wildcard.
    pub fn subjects(self, repo: &str, default_branch: &str, env: &str) -> Vec<String> {
        let branch = format!("repo:{repo}:ref:refs/heads/{default_branch}");
        let pr = format!("repo:{repo}:pull_request");
        let environment = |e: String| format!("repo:{repo}:environment:{e}");
        match self {
            // The pull request's checks; the schedule's drift jobs.
            Role::Plan => vec![pr, branch],
            // The preview; the persistent and the foundational jobs run in
            // their GitHub environments.
            Role::Apply => vec![
                pr,
                environment(format!("goldenpath-{env}")),
                environment(format!("goldenpath-foundational-{env}")),
            ],
            // A closed pull request's teardown; the schedule's sweep.
            Role::Teardown => vec![pr, branch],
            Role::Reap | Role::Requests => vec![branch],
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("no role `{s}` (plan, apply, teardown, reap, requests)"))
    }
}

/// Actions on resources, with a statement id that says where they come
/// from (and, for `*`, why they cannot be scoped).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    /// The statement id: letters and digits.
    pub sid: String,
    /// IAM actions (`service:Action`).
    pub actions: BTreeSet<String>,
    /// Resource ARNs or patterns.
    pub resources: BTreeSet<String>,
    /// An IAM condition block, when one narrows it further.
    pub condition: Option<BTreeMap<String, BTreeMap<String, Vec<String>>>>,
}

/// The statement id suffix of a grant whose resource is `*` because the
/// actions name no resource IAM can scope.
pub const NOT_SCOPABLE: &str = "NotScopable";

impl Grant {
    /// `actions` on `resources`.
    pub fn new<A, R>(sid: &str, actions: A, resources: R) -> Grant
    where
        A: IntoIterator,
        A::Item: Into<String>,
        R: IntoIterator,
        R::Item: Into<String>,
    {
        Grant {
            sid: sid.chars().filter(char::is_ascii_alphanumeric).collect(),
            actions: actions.into_iter().map(Into::into).collect(),
            resources: resources.into_iter().map(Into::into).collect(),
            condition: None,
        }
    }

    /// `actions` that IAM cannot scope to a resource: on `*`, with a
    /// statement id that says so.
    pub fn unscoped<A>(sid: &str, actions: A) -> Grant
    where
        A: IntoIterator,
        A::Item: Into<String>,
    {
        Grant::new(&format!("{sid}{NOT_SCOPABLE}"), actions, ["*"])
    }

    /// With a condition `op` on `key` (e.g. `ForAllValues:StringLike`).
    pub fn when(mut self, op: &str, key: &str, values: Vec<String>) -> Grant {
        self.condition
            .get_or_insert_with(BTreeMap::new)
            .entry(op.to_string())
            .or_default()
            .insert(key.to_string(), values);
        self
    }

    /// Every (action, resource) pair it grants.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.actions
            .iter()
            .flat_map(move |a| self.resources.iter().map(move |r| (a.as_str(), r.as_str())))
    }
}

/// Merges grants into statements, never widening one: grants of one id
/// on the same resources (and condition) unite their actions; then grants
/// of one id with the same actions unite their resources (and the values
/// of the same condition keys). Ids that still repeat get a number;
/// sorted by id.
pub fn merge(grants: impl IntoIterator<Item = Grant>) -> Vec<Grant> {
    type Cond = Option<BTreeMap<String, BTreeMap<String, Vec<String>>>>;
    type SameActions = (String, Vec<String>, Vec<(String, String)>);
    let shape = |c: &Cond| -> Vec<(String, String)> {
        c.iter()
            .flat_map(|m| {
                m.iter()
                    .flat_map(|(op, keys)| keys.keys().map(move |k| (op.clone(), k.clone())))
            })
            .collect()
    };
    // Same id, condition and resources: one statement.
    let mut first: BTreeMap<(String, String, Vec<String>), Grant> = BTreeMap::new();
    for g in grants {
        if g.actions.is_empty() || g.resources.is_empty() {
            continue;
        }
        let cond = serde_json::to_string(&g.condition).unwrap_or_default();
        let key = (g.sid.clone(), cond, g.resources.iter().cloned().collect());
        match first.get_mut(&key) {
            Some(m) => m.actions.extend(g.actions),
            None => {
                first.insert(key, g);
            }
        }
    }
    // Same id, actions and condition keys: resources and values united.
    let mut second: BTreeMap<SameActions, Grant> = BTreeMap::new();
    for g in first.into_values() {
        let key = (
            g.sid.clone(),
            g.actions.iter().cloned().collect(),
            shape(&g.condition),
        );
        match second.get_mut(&key) {
            Some(m) => {
                m.resources.extend(g.resources);
                if let (Some(mc), Some(gc)) = (&mut m.condition, g.condition) {
                    for (op, keys) in gc {
                        for (k, values) in keys {
                            let v = mc.entry(op.clone()).or_default().entry(k).or_default();
                            v.extend(values);
                            v.sort();
                            v.dedup();
                        }
                    }
                }
            }
            None => {
                second.insert(key, g);
            }
        }
    }
    let mut out: Vec<Grant> = second.into_values().collect();
    out.sort_by(|a, b| a.sid.cmp(&b.sid));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for g in &mut out {
        let n = seen.entry(g.sid.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            g.sid = format!("{}{}", g.sid, n);
        }
    }
    out
}

/// The policy document (JSON) of merged grants.
pub fn policy_document(grants: &[Grant]) -> Value {
    let statements: Vec<Value> = grants
        .iter()
        .map(|g| {
            let mut s = serde_json::Map::new();
            s.insert("Sid".into(), json!(g.sid));
            s.insert("Effect".into(), json!("Allow"));
            s.insert("Action".into(), json!(g.actions));
            s.insert("Resource".into(), json!(g.resources));
            if let Some(c) = &g.condition {
                s.insert("Condition".into(), json!(c));
            }
            Value::Object(s)
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The OIDC trust policy of a role: GitHub's token, for `sts.amazonaws.com`,
/// with exactly `subjects`.
pub fn trust_document(account: &str, subjects: &[String]) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GitHubActionsOidc",
            "Effect": "Allow",
            "Principal": { "Federated": format!("arn:aws:iam::{account}:oidc-provider/token.actions.githubusercontent.com") },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": subjects,
                }
            }
        }]
    })
}

/// Pins the account of every ARN whose account is `*` (S3's and Route
/// 53's ARNs name none and stay as they are).
pub fn pin_account(grants: &mut [Grant], account: &str) {
    for g in grants {
        g.resources = g
            .resources
            .iter()
            .map(|r| {
                let parts: Vec<&str> = r.splitn(6, ':').collect();
                if parts.len() == 6 && parts[0] == "arn" && parts[4] == "*" {
                    format!(
                        "{}:{}:{}:{}:{account}:{}",
                        parts[0], parts[1], parts[2], parts[3], parts[5]
                    )
                } else {
                    r.clone()
                }
            })
            .collect();
    }
}

/// Whether `pattern` (IAM's `*` and `?`) matches `text` exactly; actions
/// compare without case, resources with it.
pub fn matches(pattern: &str, text: &str, ignore_case: bool) -> bool {
    covers_chars(pattern, text, ignore_case, false)
}

/// Whether every name `needed` (itself a pattern) stands for is matched
/// by `pattern`: a `*` or `?` of `needed` is only matched by a `*` of
/// `pattern`.
pub fn covers(pattern: &str, needed: &str, ignore_case: bool) -> bool {
    covers_chars(pattern, needed, ignore_case, true)
}

fn covers_chars(pattern: &str, text: &str, ignore_case: bool, wild_text: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    // reach[j]: pattern[..i] matches text[..j].
    let mut reach = vec![false; t.len() + 1];
    reach[0] = true;
    for &pc in &p {
        let mut next = vec![false; t.len() + 1];
        match pc {
            '*' => {
                let mut any = false;
                for j in 0..=t.len() {
                    any |= reach[j];
                    next[j] = any;
                }
            }
            _ => {
                for j in 0..t.len() {
                    if !reach[j] {
                        continue;
                    }
                    let tc = t[j];
                    let text_wild = wild_text && (tc == '*' || tc == '?');
                    next[j + 1] = if pc == '?' {
                        !text_wild
                    } else {
                        pc == tc && !text_wild
                    };
                }
            }
        }
        reach = next;
    }
    reach[t.len()]
}

/// One statement of a policy in use, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// Its id, if any.
    pub sid: Option<String>,
    /// `Allow` (`false`: `Deny`).
    pub allow: bool,
    /// `Action` patterns (empty with `NotAction`).
    pub actions: Vec<String>,
    /// `NotAction` patterns.
    pub not_actions: Vec<String>,
    /// `Resource` patterns (empty with `NotResource`).
    pub resources: Vec<String>,
    /// `NotResource` patterns.
    pub not_resources: Vec<String>,
    /// Whether a `Condition` narrows it (not evaluated: read as true).
    pub conditional: bool,
    /// Where it starts.
    pub at: Pos,
}

impl Statement {
    fn action(&self, action: &str) -> bool {
        if self.not_actions.is_empty() {
            self.actions.iter().any(|p| matches(p, action, true))
        } else {
            !self.not_actions.iter().any(|p| matches(p, action, true))
        }
    }

    /// Whether it names `needed` (a pattern) whole.
    fn resource(&self, needed: &str) -> bool {
        if self.not_resources.is_empty() {
            self.resources.iter().any(|p| covers(p, needed, false))
        } else {
            // NotResource: every name of `needed` must be outside each
            // excluded pattern; only a disjoint literal is certain.
            !self
                .not_resources
                .iter()
                .any(|p| covers(p, needed, false) || covers(needed, p, false))
        }
    }

    /// Whether it reaches any name of `needed` (for a Deny).
    fn touches(&self, needed: &str) -> bool {
        if self.not_resources.is_empty() {
            self.resources.iter().any(|p| overlaps(p, needed))
        } else {
            true
        }
    }
}

/// Whether two patterns (IAM's `*` and `?`, case-sensitive) match at
/// least one name in common: a walk over both at once, where a `*` may
/// stand for nothing or take one character the other pattern gives.
fn overlaps(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    // can[j] for row i: a[i..] and b[j..] match a name in common; `next`
    // holds row i + 1 (two rows: memory linear in `b`).
    let mut next = vec![false; m + 1];
    let mut can = vec![false; m + 1];
    for i in (0..=n).rev() {
        for j in (0..=m).rev() {
            if i == n && j == m {
                can[j] = true;
                continue;
            }
            let star_a = i < n && a[i] == '*';
            let star_b = j < m && b[j] == '*';
            // A star stands for nothing, or takes what the other side
            // gives next (a character, or nothing more when that is a star).
            can[j] = (star_a && (next[j] || (j < m && can[j + 1])))
                || (star_b && (can[j + 1] || (i < n && next[j])))
                || (i < n
                    && j < m
                    && !star_a
                    && !star_b
                    && (a[i] == b[j] || a[i] == '?' || b[j] == '?')
                    && next[j + 1]);
        }
        std::mem::swap(&mut next, &mut can);
    }
    next[0]
}

/// The longest action or resource pattern a policy in use may hold (IAM's
/// bound on an ARN).
pub const MAX_PATTERN: usize = 2048;

/// A policy file that cannot be read as a policy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub at: Pos,
}

/// Reads a policy in use: a policy document, or what AWS's CLI prints of
/// one (`get-policy-version`'s `PolicyVersion.Document`, `get-role-policy`'s
/// `PolicyDocument`).
pub fn parse_policy(text: &str) -> Result<Vec<Statement>, PolicyError> {
    if let Err(e) = serde_json::from_str::<Value>(text) {
        return Err(PolicyError {
            message: format!("not JSON: {e}"),
            at: Pos {
                line: u32::try_from(e.line()).unwrap_or(u32::MAX),
                col: u32::try_from(e.column()).unwrap_or(u32::MAX),
                offset: 0,
            },
        });
    }
    let start = Pos {
        line: 1,
        col: 1,
        offset: 0,
    };
    let root = crate::yaml::parse(text)
        .map_err(|e| PolicyError {
            message: e.message,
            at: e.pos,
        })?
        .ok_or(PolicyError {
            message: "an empty document".into(),
            at: start,
        })?;
    let doc = root
        .get("PolicyVersion")
        .and_then(|v| v.get("Document"))
        .or_else(|| root.get("PolicyDocument"))
        .unwrap_or(&root);
    let bad = |n: &Node, m: String| PolicyError {
        message: m,
        at: n.start,
    };
    let Some(st) = doc.get("Statement") else {
        return Err(bad(doc, "a policy document needs `Statement`".into()));
    };
    let items: Vec<&Node> = match &st.kind {
        NodeKind::Seq(v) => v.iter().collect(),
        NodeKind::Map(_) => vec![st],
        NodeKind::Scalar(..) => {
            return Err(bad(
                st,
                "`Statement` is a statement or a list of them".into(),
            ));
        }
    };
    // IAM's own bound on an ARN (and far above any action name): a
    // longer pattern is no policy IAM would take, and the checks below
    // compare patterns pairwise.
    let one = |x: &Node, what: &str| -> Result<String, PolicyError> {
        let s = x
            .as_str()
            .ok_or_else(|| bad(x, format!("`{what}` holds strings")))?;
        if s.chars().count() > MAX_PATTERN {
            return Err(bad(
                x,
                format!("an entry of `{what}` is longer than IAM's {MAX_PATTERN} characters"),
            ));
        }
        Ok(s.to_string())
    };
    let list = |n: Option<&Node>, what: &str| -> Result<Vec<String>, PolicyError> {
        let Some(n) = n else {
            return Ok(Vec::new());
        };
        match &n.kind {
            NodeKind::Scalar(..) => Ok(vec![one(n, what)?]),
            NodeKind::Seq(v) => v.iter().map(|x| one(x, what)).collect(),
            NodeKind::Map(_) => Err(bad(n, format!("`{what}` is a string or a list of them"))),
        }
    };
    let mut out = Vec::new();
    for s in items {
        if !matches!(s.kind, NodeKind::Map(_)) {
            return Err(bad(s, "a statement is an object".into()));
        }
        let allow = match s.get("Effect").and_then(Node::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            _ => {
                return Err(bad(
                    s.get("Effect").unwrap_or(s),
                    "`Effect` is `Allow` or `Deny`".into(),
                ));
            }
        };
        let statement = Statement {
            sid: s.get("Sid").and_then(Node::as_str).map(String::from),
            allow,
            actions: list(s.get("Action"), "Action")?,
            not_actions: list(s.get("NotAction"), "NotAction")?,
            resources: list(s.get("Resource"), "Resource")?,
            not_resources: list(s.get("NotResource"), "NotResource")?,
            conditional: s.get("Condition").is_some(),
            at: s.start,
        };
        if statement.actions.is_empty() && statement.not_actions.is_empty() {
            return Err(bad(s, "a statement needs `Action` or `NotAction`".into()));
        }
        if statement.resources.is_empty() && statement.not_resources.is_empty() {
            return Err(bad(
                s,
                "a statement needs `Resource` or `NotResource`".into(),
            ));
        }
        out.push(statement);
    }
    Ok(out)
}

/// What a policy in use lacks or grants beyond a role's need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Check {
    /// Actions no statement allows on any resource (a run would fail).
    pub missing: Vec<(String, String)>,
    /// Actions allowed, but not on the contract's names (a run would
    /// fail): (action, the resource needed).
    pub uncovered: Vec<(String, String)>,
    /// Actions a Deny takes back: (action, resource, the Deny's id).
    pub denied: Vec<(String, String, String)>,
    /// Allowed actions beyond need: (the statement, the pattern, what it
    /// allows that no grant needs).
    pub beyond: Vec<(String, String)>,
    /// Resources wider than need: (the statement, the pattern).
    pub wider: Vec<(String, String)>,
    /// Statements narrowed by a condition this check does not evaluate.
    pub conditional: Vec<String>,
}

impl Check {
    /// Whether a run with the policy would fail.
    pub fn fails(&self) -> bool {
        !self.missing.is_empty() || !self.uncovered.is_empty() || !self.denied.is_empty()
    }
}

/// Compares a policy in use with what a role needs.
pub fn check(policy: &[Statement], need: &[Grant]) -> Check {
    let mut c = Check::default();
    let label = |s: &Statement| {
        s.sid
            .clone()
            .unwrap_or_else(|| format!("the statement at line {}", s.at.line))
    };
    for g in need {
        for (action, resource) in g.pairs() {
            let allows: Vec<&Statement> = policy
                .iter()
                .filter(|s| s.allow && s.action(action))
                .collect();
            if let Some(d) = policy
                .iter()
                .find(|s| !s.allow && s.action(action) && s.touches(resource))
            {
                c.denied
                    .push((action.to_string(), resource.to_string(), label(d)));
            } else if allows.is_empty() {
                c.missing.push((action.to_string(), resource.to_string()));
            } else if !allows.iter().any(|s| s.resource(resource)) {
                c.uncovered.push((action.to_string(), resource.to_string()));
            }
        }
    }
    let needed_actions: BTreeSet<&str> = need
        .iter()
        .flat_map(|g| g.actions.iter().map(String::as_str))
        .collect();
    for s in policy.iter().filter(|s| s.allow) {
        if s.conditional {
            c.conditional.push(label(s));
        }
        if !s.not_actions.is_empty() {
            c.beyond
                .push((label(s), format!("NotAction {}", s.not_actions.join(", "))));
        }
        for p in &s.actions {
            let used = needed_actions.iter().any(|a| matches(p, a, true));
            if !used || p.contains(['*', '?']) {
                c.beyond.push((label(s), p.clone()));
            }
        }
        // A resource pattern wider than every needed resource it serves.
        let mine: Vec<&Grant> = need
            .iter()
            .filter(|g| g.actions.iter().any(|a| s.action(a)))
            .collect();
        for p in &s.resources {
            let serves: Vec<&str> = mine
                .iter()
                .flat_map(|g| g.resources.iter().map(String::as_str))
                .filter(|r| covers(p, r, false))
                .collect();
            if !serves.is_empty() && !serves.contains(&p.as_str()) && !serves.contains(&"*") {
                c.wider.push((label(s), p.clone()));
            }
        }
    }
    c.missing.sort();
    c.missing.dedup();
    c.uncovered.sort();
    c.uncovered.dedup();
    c.beyond.sort();
    c.beyond.dedup();
    c.wider.sort();
    c.wider.dedup();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_follow_iams_rules() {
        assert!(matches("s3:Get*", "s3:GetObject", true));
        assert!(matches("S3:GET*", "s3:GetObject", true));
        assert!(!matches("S3:GET*", "s3:GetObject", false));
        assert!(!matches("s3:Get*", "s3:PutObject", true));
        assert!(matches("arn:aws:s3:::b/?ey", "arn:aws:s3:::b/key", false));
        assert!(!matches("arn:aws:s3:::b/?ey", "arn:aws:s3:::b/kkey", false));
        assert!(matches("*", "", false));
        assert!(!matches("a", "", false));
        assert!(matches("a*b*c", "aXXbYYc", false));
        assert!(!matches("a*b*c", "aXXbYY", false));
    }

    #[test]
    fn a_pattern_covers_a_pattern_only_with_a_star_where_it_has_one() {
        let needed = "arn:aws:secretsmanager:*:*:secret:gp/dev/*";
        assert!(covers(
            "arn:aws:secretsmanager:*:*:secret:gp/*",
            needed,
            false
        ));
        assert!(covers("*", needed, false));
        assert!(!covers(
            "arn:aws:secretsmanager:*:*:secret:gp/dev/x*",
            needed,
            false
        ));
        assert!(!covers(
            "arn:aws:secretsmanager:eu-west-2:*:secret:gp/dev/*",
            needed,
            false
        ));
        // `?` never stands for a whole `*`.
        assert!(!covers("a?", "a*", false));
        assert!(covers("a?", "ab", false));
    }

    #[test]
    fn merge_unites_without_widening() {
        let m = merge([
            Grant::new("Secrets", ["secretsmanager:GetSecretValue"], ["arn:a"]),
            Grant::new("Secrets", ["secretsmanager:DescribeSecret"], ["arn:a"]),
            Grant::new("Secrets", ["secretsmanager:CreateSecret"], ["arn:b"]),
            Grant::new("Secrets", ["secretsmanager:CreateSecret"], ["arn:c"]),
            Grant::new("Empty", Vec::<String>::new(), ["arn:c"]),
            Grant::new("Names", ["r:C"], ["z"]).when("StringLike", "k", vec!["a".into()]),
            Grant::new("Names", ["r:C"], ["z"]).when("StringLike", "k", vec!["b".into()]),
        ]);
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(m[0].sid, "Names");
        assert_eq!(
            m[0].condition.as_ref().unwrap()["StringLike"]["k"],
            ["a", "b"]
        );
        // Two actions on `arn:a`; CreateSecret on `arn:b` and `arn:c` only.
        let a = m.iter().find(|g| g.resources.contains("arn:a")).unwrap();
        assert_eq!(a.actions.len(), 2);
        assert!(!a.resources.contains("arn:b"));
        let b = m.iter().find(|g| g.resources.contains("arn:b")).unwrap();
        assert_eq!(
            b.actions.iter().collect::<Vec<_>>(),
            ["secretsmanager:CreateSecret"]
        );
        assert!(b.resources.contains("arn:c"));
        assert_ne!(a.sid, b.sid);
        let doc = policy_document(&m);
        assert_eq!(doc["Statement"][0]["Effect"], "Allow");
        assert_eq!(doc["Version"], "2012-10-17");
    }

    #[test]
    fn the_account_is_pinned_where_an_arn_names_one() {
        let mut g = vec![Grant::new(
            "X",
            ["a:B"],
            [
                "arn:aws:secretsmanager:eu-west-2:*:secret:gp/*",
                "arn:aws:s3:::bucket/key",
                "arn:aws:route53:::hostedzone/*",
                "*",
                "arn:aws:iam::*:role/x",
            ],
        )];
        pin_account(&mut g, "123456789012");
        let r: Vec<&str> = g[0].resources.iter().map(String::as_str).collect();
        assert_eq!(
            r,
            [
                "*",
                "arn:aws:iam::123456789012:role/x",
                "arn:aws:route53:::hostedzone/*",
                "arn:aws:s3:::bucket/key",
                "arn:aws:secretsmanager:eu-west-2:123456789012:secret:gp/*",
            ]
        );
    }

    #[test]
    fn an_unscoped_grant_says_so_in_its_id() {
        let g = Grant::unscoped("SecretsManagerList", ["secretsmanager:ListSecrets"]);
        assert_eq!(g.sid, "SecretsManagerListNotScopable");
        assert_eq!(g.resources.iter().collect::<Vec<_>>(), ["*"]);
    }

    #[test]
    fn every_role_has_subjects_of_one_repository_and_never_a_wildcard() {
        for r in Role::ALL {
            let s = r.subjects("acme/platform", "main", "dev");
            assert!(!s.is_empty());
            for x in &s {
                assert!(x.starts_with("repo:acme/platform:"), "{x}");
                assert!(!x.contains('*'), "{x}");
            }
            assert!(!r.reach().is_empty());
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("admin".parse::<Role>().is_err());
        // Only plan reads without writing; only teardown and reap delete.
        assert!(Role::Plan.reach().iter().all(|(_, a)| *a == Access::Read));
        for r in Role::ALL {
            let deletes = r.reach().iter().any(|(_, a)| *a == Access::Delete);
            assert_eq!(deletes, matches!(r, Role::Teardown | Role::Reap), "{r}");
        }
    }

    #[test]
    fn the_trust_names_the_audience_and_the_exact_subjects() {
        let t = trust_document("123456789012", &["repo:a/b:pull_request".into()]);
        let c = &t["Statement"][0]["Condition"]["StringEquals"];
        assert_eq!(
            c["token.actions.githubusercontent.com:aud"],
            "sts.amazonaws.com"
        );
        assert_eq!(
            c["token.actions.githubusercontent.com:sub"][0],
            "repo:a/b:pull_request"
        );
        assert!(
            t["Statement"][0]["Principal"]["Federated"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:iam::123456789012:oidc-provider/")
        );
    }

    fn need() -> Vec<Grant> {
        vec![
            Grant::new(
                "Secrets",
                [
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:CreateSecret",
                ],
                ["arn:aws:secretsmanager:*:*:secret:gp/dev/*"],
            ),
            Grant::unscoped("List", ["secretsmanager:ListSecrets"]),
        ]
    }

    #[test]
    fn a_policy_that_grants_exactly_the_need_passes_with_nothing_beyond() {
        let text = serde_json::to_string_pretty(&policy_document(&merge(need()))).unwrap();
        let p = parse_policy(&text).unwrap();
        let c = check(&p, &need());
        assert!(!c.fails(), "{c:?}");
        assert!(c.beyond.is_empty() && c.wider.is_empty(), "{c:?}");
    }

    #[test]
    fn missing_uncovered_denied_beyond_and_wider_are_each_found() {
        let text = r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"Wide","Effect":"Allow","Action":["secretsmanager:Get*","iam:CreatePolicy"],"Resource":"*"},
          {"Sid":"Narrow","Effect":"Allow","Action":"secretsmanager:CreateSecret","Resource":"arn:aws:secretsmanager:*:*:secret:other/*"},
          {"Sid":"NoList","Effect":"Deny","Action":"secretsmanager:ListSecrets","Resource":"*"},
          {"Effect":"Allow","Action":"secretsmanager:ListSecrets","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}
        ]}"#;
        let p = parse_policy(text).unwrap();
        let c = check(&p, &need());
        assert!(c.fails());
        assert!(c.missing.is_empty(), "{c:?}");
        assert_eq!(
            c.uncovered,
            [(
                "secretsmanager:CreateSecret".to_string(),
                "arn:aws:secretsmanager:*:*:secret:gp/dev/*".to_string()
            )]
        );
        assert_eq!(c.denied.len(), 1);
        assert_eq!(c.denied[0].2, "NoList");
        assert!(
            c.beyond
                .contains(&("Wide".into(), "iam:CreatePolicy".into()))
        );
        assert!(
            c.beyond
                .contains(&("Wide".into(), "secretsmanager:Get*".into()))
        );
        assert!(c.wider.contains(&("Wide".into(), "*".into())));
        assert_eq!(c.conditional, ["the statement at line 5"]);
        // Nothing at all: every action is missing.
        let none = parse_policy(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        )
        .unwrap();
        let c = check(&none, &need());
        assert_eq!(c.missing.len(), 3, "{c:?}");
    }

    #[test]
    fn a_role_prints_and_reads_back_as_its_name() {
        for role in Role::ALL {
            assert_eq!(role.to_string(), role.as_str());
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
        assert_eq!(Role::Teardown.to_string(), "teardown");
        assert!("admin".parse::<Role>().is_err());
    }

    #[test]
    fn a_check_fails_on_each_of_missing_uncovered_and_denied_alone() {
        let pair = ("s3:GetObject".to_string(), "arn:aws:s3:::b/k".to_string());
        assert!(!Check::default().fails());
        let only = |f: fn(&mut Check)| {
            let mut c = Check::default();
            f(&mut c);
            c.fails()
        };
        assert!(only(|c| c
            .missing
            .push(("s3:GetObject".into(), "*".into()))));
        assert!(only(|c| c
            .uncovered
            .push(("s3:GetObject".into(), "arn:aws:s3:::b/k".into()))));
        assert!(only(|c| c.denied.push((
            "s3:GetObject".into(),
            "*".into(),
            "Deny".into()
        ))));
        // What is beyond need, wider or conditional never fails a run.
        let mut c = Check::default();
        c.beyond.push(pair.clone());
        c.wider.push(pair);
        c.conditional.push("Scoped".into());
        assert!(!c.fails());
    }

    #[test]
    fn not_action_allows_the_rest_and_is_beyond_need() {
        let p = parse_policy(
            r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#,
        )
        .unwrap();
        let c = check(&p, &need());
        assert!(!c.fails(), "{c:?}");
        assert_eq!(c.beyond.len(), 1);
        let p = parse_policy(
            r#"{"Statement":[{"Effect":"Allow","NotAction":"secretsmanager:*","Resource":"*"}]}"#,
        )
        .unwrap();
        assert_eq!(check(&p, &need()).missing.len(), 3);
        // NotResource excluding the names needed does not cover them.
        let p = parse_policy(
            r#"{"Statement":[{"Effect":"Allow","Action":"secretsmanager:*","NotResource":"arn:aws:secretsmanager:*:*:secret:gp/*"}]}"#,
        )
        .unwrap();
        let c = check(&p, &need());
        assert_eq!(c.uncovered.len(), 3, "{c:?}");
    }

    #[test]
    fn not_resource_of_a_disjoint_name_allows_the_need_and_of_star_allows_nothing() {
        // Excluding another folder leaves the needed names allowed; only the
        // unscoped listing (on `*`, which the excluded pattern is part of)
        // is not covered.
        let p = parse_policy(
            r#"{"Statement":[{"Effect":"Allow","Action":"secretsmanager:*","NotResource":"arn:aws:secretsmanager:*:*:secret:other/*"}]}"#,
        )
        .unwrap();
        let c = check(&p, &need());
        assert_eq!(
            c.uncovered,
            [("secretsmanager:ListSecrets".to_string(), "*".to_string())],
            "{c:?}"
        );
        let p = parse_policy(
            r#"{"Statement":[{"Effect":"Allow","Action":"secretsmanager:*","NotResource":"*"}]}"#,
        )
        .unwrap();
        assert_eq!(check(&p, &need()).uncovered.len(), 3);
    }

    #[test]
    fn a_deny_takes_back_only_what_its_resources_can_reach() {
        let need = [Grant::new(
            "Secrets",
            ["secretsmanager:GetSecretValue"],
            ["arn:aws:secretsmanager:*:*:secret:gp/dev/*"],
        )];
        let with_deny = |deny: &str| {
            let text = format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}},{{"Sid":"No","Effect":"Deny","Action":"secretsmanager:GetSecretValue",{deny}}}]}}"#
            );
            check(&parse_policy(&text).unwrap(), &need).denied.len()
        };
        // Another service's name: nothing taken back.
        assert_eq!(with_deny(r#""Resource":"arn:aws:s3:::x""#), 0);
        // Another folder: nothing taken back.
        assert_eq!(
            with_deny(r#""Resource":"arn:aws:secretsmanager:us-east-1:1:secret:other/x""#),
            0
        );
        // One secret among the needed names: taken back.
        assert_eq!(
            with_deny(r#""Resource":"arn:aws:secretsmanager:us-east-1:1:secret:gp/dev/x""#),
            1
        );
        // Every name: taken back.
        assert_eq!(with_deny(r#""Resource":"*""#), 1);
        // NotResource is read as reaching the need.
        assert_eq!(with_deny(r#""NotResource":"arn:aws:s3:::x""#), 1);
    }

    #[test]
    fn overlap_agrees_with_searching_every_short_name() {
        // Every pattern of up to three of `a b * ?` against every other:
        // they overlap exactly when some name over `a b` of up to six
        // characters (enough for a witness) matches both.
        fn strings(alphabet: &[char], max: usize) -> Vec<String> {
            let mut all = vec![String::new()];
            let mut last = vec![String::new()];
            for _ in 0..max {
                last = last
                    .iter()
                    .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                    .collect();
                all.extend(last.iter().cloned());
            }
            all
        }
        let patterns = strings(&['a', 'b', '*', '?'], 3);
        let names = strings(&['a', 'b'], 6);
        for p in &patterns {
            for q in &patterns {
                let witness = names
                    .iter()
                    .any(|n| matches(p, n, false) && matches(q, n, false));
                assert_eq!(overlaps(p, q), witness, "{p:?} {q:?}");
            }
        }
    }

    #[test]
    fn two_patterns_overlap_when_some_name_matches_both() {
        assert!(overlaps("a/b*", "a/*"));
        assert!(overlaps("a/*", "a/b*"));
        assert!(overlaps("a/b", "a/b"));
        assert!(overlaps("*", "a/b"));
        assert!(overlaps("a/b", "*"));
        assert!(overlaps("", ""));
        assert!(overlaps("", "*"));
        assert!(!overlaps("", "a"));
        assert!(!overlaps("a", ""));
        assert!(overlaps("a?c", "abc"));
        assert!(overlaps("abc", "a?c"));
        assert!(!overlaps("a?c", "ac"));
        assert!(!overlaps("a/x*", "a/y*"));
        assert!(!overlaps("a/x", "a/y"));
        assert!(!overlaps("a/x", "A/x"));
        // Stars on both sides, at different places.
        assert!(overlaps("arn:*:secret:gp/dev/*", "arn:aws:*:gp/*/x"));
        // (`arn:aws:secret:gp/dev/:other/` matches both.)
        assert!(overlaps("arn:*:secret:gp/dev/*", "arn:aws:*:other/*"));
        assert!(!overlaps(
            "arn:aws:secretsmanager:*:*:secret:gp/dev/*",
            "arn:aws:s3:::*"
        ));
        assert!(overlaps("*x", "x*"));
        assert!(!overlaps("*x", "y"));
        assert!(!overlaps("a*", "b*"));
        assert!(overlaps("*a", "*b*"));
        assert!(!overlaps("*a", "*b"));
        // Agrees with matching wherever one side is a literal.
        for (p, name) in [
            ("a*b", "aXb"),
            ("a*b", "ab"),
            ("a*b", "ba"),
            ("??", "ab"),
            ("??", "a"),
        ] {
            assert_eq!(overlaps(p, name), matches(p, name, false), "{p} {name}");
            assert_eq!(overlaps(name, p), matches(p, name, false), "{name} {p}");
        }
    }

    #[test]
    fn a_pattern_longer_than_iams_bound_is_refused_at_its_place() {
        let at_bound = "a".repeat(MAX_PATTERN);
        let ok = format!(
            r#"{{"Statement":[{{"Effect":"Deny","Action":"s3:*","Resource":"{at_bound}"}}]}}"#
        );
        assert_eq!(
            parse_policy(&ok).unwrap()[0].resources[0].len(),
            MAX_PATTERN
        );
        for (field, other) in [
            ("Resource", "\"Action\":\"s3:*\""),
            ("NotResource", "\"Action\":\"s3:*\""),
            ("Action", "\"Resource\":\"*\""),
            ("NotAction", "\"Resource\":\"*\""),
        ] {
            let long = format!(
                "{{\n\"Statement\":[{{\"Effect\":\"Deny\",{other},\n\"{field}\":[\"x\", \"{}\"]}}]}}",
                "a".repeat(MAX_PATTERN + 1)
            );
            let e = parse_policy(&long).unwrap_err();
            assert!(e.message.contains(field), "{e:?}");
            assert_eq!(
                (e.at.line, e.at.col),
                (3, 10 + field.len() as u32),
                "{field}: {e:?}"
            );
        }
        // At the bound, a pattern against a long name is answered.
        let star = format!("{}*", "a*".repeat(MAX_PATTERN / 2 - 1));
        assert!(overlaps(&star, &"a".repeat(MAX_PATTERN)));
    }

    #[test]
    fn what_the_aws_cli_prints_is_read_and_bad_input_is_positioned() {
        let wrapped = r#"{"PolicyVersion":{"Document":{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]},"VersionId":"v3"}}"#;
        assert_eq!(parse_policy(wrapped).unwrap().len(), 1);
        let role = r#"{"RoleName":"r","PolicyName":"p","PolicyDocument":{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}}"#;
        assert_eq!(parse_policy(role).unwrap().len(), 1);
        let e = parse_policy("{\n  \"Statement\": [\n    {\"Effect\": \"Maybe\", \"Action\": \"s3:*\", \"Resource\": \"*\"}\n  ]\n}").unwrap_err();
        assert_eq!((e.at.line, e.at.col), (3, 16), "{e:?}");
        let e = parse_policy("{\n  \"Statement\": [,]\n}").unwrap_err();
        assert_eq!(e.at.line, 2, "{e:?}");
        assert!(e.message.starts_with("not JSON"));
        let e = parse_policy("{\"Version\": \"2012-10-17\"}").unwrap_err();
        assert!(e.message.contains("Statement"), "{e:?}");
        for (text, what) in [
            (
                r#"{"Statement":[{"Effect":"Allow","Resource":"*"}]}"#,
                "Action",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}"#,
                "Resource",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":{"a":1},"Resource":"*"}]}"#,
                "Action",
            ),
            (r#"{"Statement":"x"}"#, "Statement"),
            (r#"{"Statement":["x"]}"#, "object"),
        ] {
            let e = parse_policy(text).unwrap_err();
            assert!(e.message.contains(what), "{text}: {e:?}");
        }
    }
}
