//! Field types and checks more than one kind of request shares.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::yaml::Spanned;

use super::kind::At;

/// Namespaces the platform runs in; an app's secret or credentials never
/// go there.
pub const PLATFORM_NAMESPACES: &[&str] = &[
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "default",
    "external-secrets",
    "argocd",
    "external-dns",
    "cert-manager",
];

/// A risk tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RiskTier {
    /// Low.
    Low,
    /// Medium: the security group approves.
    Medium,
    /// High (or `critical`): the security group approves.
    #[serde(alias = "critical")]
    High,
}

impl RiskTier {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskTier::Low => "low",
            RiskTier::Medium => "medium",
            RiskTier::High => "high",
        }
    }
}

/// `risk: {tier: high}`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierMap {
    /// low, medium, high.
    pub tier: Spanned<RiskTier>,
}

/// A risk written as a tier (`risk: high`) or as `risk: {tier: high}`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RiskField {
    /// `risk: high`.
    Tier(RiskTier),
    /// `risk: {tier: high}`.
    Map(TierMap),
}

impl RiskField {
    /// The tier.
    pub fn tier(&self) -> RiskTier {
        match self {
            RiskField::Tier(t) => *t,
            RiskField::Map(m) => m.tier.value,
        }
    }
}

/// The tier of an optional risk field (low when absent).
pub(crate) fn tier_of(risk: Option<&Spanned<RiskField>>) -> RiskTier {
    risk.map_or(RiskTier::Low, |r| r.value.tier())
}

/// A yes or no written as a boolean or as a word (`IMMUTABLE`, `enabled`).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Flag {
    /// `true` or `false`.
    Bool(bool),
    /// A word.
    Word(String),
}

impl Flag {
    /// What it says, if it says yes or no.
    pub fn truth(&self) -> Option<bool> {
        match self {
            Flag::Bool(b) => Some(*b),
            Flag::Word(w) => match w.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "enabled" | "immutable" => Some(true),
                "false" | "no" | "off" | "disabled" | "mutable" => Some(false),
                _ => None,
            },
        }
    }
}

/// Free text that must be there and not too long.
pub(crate) fn text(
    out: &mut Vec<Diagnostic>,
    at: &At<'_>,
    field: &str,
    v: &Spanned<String>,
    max: usize,
) {
    if v.value.trim().is_empty() {
        out.push(at.at(v.start, format!("{field} is empty")));
    } else if v.value.chars().count() > max {
        out.push(at.at(v.start, format!("{field} is longer than {max} characters")));
    }
}

/// Lower-case letters, digits and `-`, starting and ending with a letter
/// or digit, 1 to `max` bytes (a DNS label, a Kubernetes name).
pub(crate) fn dns_label(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An IAM role or user ARN, an account's root, or an account id; never a
/// wildcard.
pub(crate) fn is_principal(s: &str) -> bool {
    let account = |a: &str| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
    if account(s) {
        return true;
    }
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && account(parts[4])
        && (parts[5].starts_with("role/") || parts[5].starts_with("user/") || parts[5] == "root")
        && parts[5].len() <= 512
        && !s.contains(['*', '?', ' ', '"'])
}

/// Checks `allowWeakening` names only settings a kind can weaken.
pub(crate) fn weakening_problems(
    out: &mut Vec<Diagnostic>,
    at: &At<'_>,
    given: &[Spanned<String>],
    known: &[&str],
) {
    for w in given {
        if !known.contains(&w.value.as_str()) {
            let candidates: Vec<String> = known.iter().map(|s| s.to_string()).collect();
            out.push(
                at.at(
                    w.start,
                    format!(
                        "allowWeakening names `{}`, which this kind cannot weaken (it can: {})",
                        w.value.escape_debug(),
                        known.join(", ")
                    ),
                )
                .with_hint_opt(crate::spec::suggest(&w.value, candidates.iter())),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_are_arns_of_roles_users_or_accounts_never_wildcards() {
        for ok in [
            "123456789012",
            "arn:aws:iam::123456789012:role/payments-api",
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::123456789012:root",
            "arn:aws-us-gov:iam::123456789012:role/x",
        ] {
            assert!(is_principal(ok), "{ok}");
        }
        for bad in [
            "12345678901",
            "arn:aws:iam::123456789012:role/*",
            "arn:aws:iam::123456789012:group/admins",
            "arn:aws:s3:::bucket",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:iam::12345678901x:role/x",
            "*",
            "arn:aws:iam::123456789012:role/a b",
        ] {
            assert!(!is_principal(bad), "{bad}");
        }
    }

    #[test]
    fn labels_and_flags() {
        assert!(dns_label("a-1", 63));
        assert!(!dns_label("-a", 63));
        assert!(!dns_label("a-", 63));
        assert!(!dns_label("A", 63));
        assert!(!dns_label("", 63));
        assert!(!dns_label("abcd", 3));
        assert_eq!(Flag::Word("IMMUTABLE".into()).truth(), Some(true));
        assert_eq!(Flag::Word("Disabled".into()).truth(), Some(false));
        assert_eq!(Flag::Word("maybe".into()).truth(), None);
        assert_eq!(Flag::Bool(false).truth(), Some(false));
    }
}
