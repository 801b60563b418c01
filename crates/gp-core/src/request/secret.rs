//! A secret request (`SEC-NNNN`): a Secrets Manager secret at
//! `{prefix}/{env}/{service}/{name}` with its tags, a resource policy for
//! the principals it names, and — when it names the app's namespace and
//! Kubernetes Secret — an ExternalSecret that takes it into the cluster.
//! goldenpath never writes its value: the app's owners do.
//!
//! A medium or high tier, or break-glass principals, need the security
//! group; prod needs the platform group too. A high-risk secret must
//! rotate; its ExternalSecret never goes into a namespace of the platform.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::spec::Platform;
use crate::yaml::Spanned;

use super::fields::{
    PLATFORM_NAMESPACES, RiskField, RiskTier, dns_label, is_principal, text, tier_of,
};
use super::kind::{At, Delivery, KindRules, RequestKind, Route};

/// `rotation`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    /// The platform's rotation class (`none` for no rotation).
    pub rotation_class: Spanned<String>,
}

/// `lifecycle` of a secret.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretLifecycle {
    /// active (default), deprecated, ...
    #[serde(default)]
    pub status: Option<Spanned<String>>,
    /// Days Secrets Manager keeps it after a deletion, 7 to 30 (default 30).
    #[serde(default)]
    pub recovery_window_in_days: Option<Spanned<u32>>,
}

/// `access`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretAccess {
    /// The app's namespace.
    #[serde(default)]
    pub namespace: Option<Spanned<String>>,
    /// The Kubernetes Secret the ExternalSecret writes.
    #[serde(default)]
    pub k8s_secret_name: Option<Spanned<String>>,
    /// IAM principals (ARNs) that may read it.
    #[serde(default)]
    pub read_principals: Vec<Spanned<String>>,
    /// IAM principals that may write it.
    #[serde(default)]
    pub write_principals: Vec<Spanned<String>>,
    /// IAM principals for break-glass access (the security group approves).
    #[serde(default)]
    pub break_glass_principals: Vec<Spanned<String>>,
}

/// A secret request, its `metadata` and `spec` read as one.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "goldenpath secret request")]
pub struct SecretRequest {
    /// `SEC-NNNN`.
    pub id: Spanned<String>,
    /// The secret's name (`metadata.name`).
    pub name: Spanned<String>,
    /// The service it belongs to.
    pub service: Spanned<String>,
    /// The environment.
    pub environment: Spanned<String>,
    /// The business domain.
    #[serde(default)]
    pub domain: Option<Spanned<String>>,
    /// The owning team (default: the service).
    #[serde(default)]
    pub owner: Option<Spanned<String>>,
    /// Who asks (when absent, whoever applies it is who asked).
    #[serde(default)]
    pub requester: Option<Spanned<String>>,
    /// `aws-secrets-manager` (the default; the only one applied).
    #[serde(default)]
    pub provider: Option<Spanned<String>>,
    /// What it holds (api-key, database-credentials, ...); a tag.
    #[serde(default)]
    pub secret_type: Option<Spanned<String>>,
    /// Its risk: `{tier: low|medium|high}` (or the tier alone).
    #[serde(default)]
    pub risk: Option<Spanned<RiskField>>,
    /// Its rotation.
    #[serde(default)]
    pub rotation: Option<Rotation>,
    /// Status and recovery window.
    #[serde(default)]
    pub lifecycle: Option<SecretLifecycle>,
    /// Who and what may read and write it.
    #[serde(default)]
    pub access: SecretAccess,
    /// Days it lives before review; a tag.
    #[serde(default)]
    pub ttl_days: Option<Spanned<u32>>,
    /// Adopt a secret that exists and nobody owns; needs the platform's
    /// approval.
    #[serde(default)]
    pub adopt: Option<Spanned<bool>>,
    /// Settings of an adopted secret this request may weaken, by name:
    /// `resourcePolicy` (a policy that grants more than the one there).
    #[serde(default)]
    pub allow_weakening: Vec<Spanned<String>>,
}

/// The fields a secret request reads.
pub(crate) const FIELDS: &[&str] = &[
    "id",
    "name",
    "service",
    "environment",
    "domain",
    "owner",
    "requester",
    "provider",
    "secretType",
    "risk",
    "rotation",
    "lifecycle",
    "access",
    "ttlDays",
    "adopt",
    "allowWeakening",
];

/// What a secret request may weaken of an adopted secret, by name.
pub const WEAKENINGS: &[&str] = &["resourcePolicy"];

/// A secret as apply makes it (never a value: the app's owners write it).
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DesiredSecret {
    /// Its path in Secrets Manager.
    pub name: String,
    /// Days kept after a deletion.
    pub recovery_window_days: u32,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Readers (ARNs).
    pub read: Vec<String>,
    /// Writers.
    pub write: Vec<String>,
    /// Break-glass.
    pub break_glass: Vec<String>,
    /// The ExternalSecret that takes it into the app's namespace.
    pub external_secret: Option<Delivery>,
    /// Fields left out that the platform's defaults filled in.
    pub defaulted: Vec<String>,
}

impl KindRules for SecretRequest {
    fn kind(&self) -> RequestKind {
        RequestKind::Secret
    }
    fn id(&self) -> &Spanned<String> {
        &self.id
    }
    fn environment(&self) -> Option<&Spanned<String>> {
        Some(&self.environment)
    }
    fn requester(&self) -> Option<&Spanned<String>> {
        self.requester.as_ref()
    }
    fn owner(&self) -> &str {
        self.owner
            .as_ref()
            .map_or(&self.service.value, |o| &o.value)
    }
    fn domain(&self) -> Option<&Spanned<String>> {
        self.domain.as_ref()
    }
    fn resource_name(&self) -> &str {
        &self.name.value
    }
    fn adopt(&self) -> Option<&Spanned<bool>> {
        self.adopt.as_ref()
    }
    fn allowed_weakenings(&self) -> &[Spanned<String>] {
        &self.allow_weakening
    }

    fn schema_problems(&self, at: &At<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for (f, v) in [("name", &self.name), ("service", &self.service)] {
            if !dns_label(&v.value, 63) {
                out.push(at.at(
                    v.start,
                    format!(
                        "invalid {f} `{}`: lower-case letters, digits and `-`, at most 63",
                        v.value.escape_debug()
                    ),
                ));
            }
        }
        for (f, v) in [
            ("domain", &self.domain),
            ("owner", &self.owner),
            ("requester", &self.requester),
        ] {
            if let Some(v) = v {
                text(&mut out, at, f, v, 128);
            }
        }
        if let Some(p) = &self.provider
            && !matches!(
                p.value.as_str(),
                "aws-secrets-manager" | "aws" | "secretsmanager" | "secrets-manager"
            )
        {
            out.push(at.at(
                p.start,
                format!(
                    "provider `{}` is not one goldenpath applies (aws-secrets-manager)",
                    p.value.escape_debug()
                ),
            ));
        }
        if let Some(l) = &self.lifecycle
            && let Some(w) = &l.recovery_window_in_days
            && !(7..=30).contains(&w.value)
        {
            out.push(at.at(
                w.start,
                format!(
                    "recoveryWindowInDays must be 7 to 30 (Secrets Manager's range), found {}",
                    w.value
                ),
            ));
        }
        if let Some(t) = &self.ttl_days
            && !(1..=3650).contains(&t.value)
        {
            out.push(at.at(
                t.start,
                format!("ttlDays must be 1 to 3650, found {}", t.value),
            ));
        }
        let access = &self.access;
        if let Some(ns) = &access.namespace
            && !dns_label(&ns.value, 63)
        {
            out.push(at.at(
                ns.start,
                format!("invalid namespace `{}`", ns.value.escape_debug()),
            ));
        }
        if let Some(k) = &access.k8s_secret_name
            && !dns_label(&k.value.replace('.', "-"), 253)
        {
            out.push(at.at(
                k.start,
                format!(
                    "invalid k8sSecretName `{}`: a Kubernetes name",
                    k.value.escape_debug()
                ),
            ));
        }
        if access.k8s_secret_name.is_some() != access.namespace.is_some() {
            let pos = access
                .k8s_secret_name
                .as_ref()
                .or(access.namespace.as_ref())
                .map_or(self.id.start, |v| v.start);
            out.push(at.at(
                pos,
                "access.namespace and access.k8sSecretName go together (the ExternalSecret needs both)",
            ));
        }
        for p in access
            .read_principals
            .iter()
            .chain(&access.write_principals)
            .chain(&access.break_glass_principals)
        {
            if !is_principal(&p.value) {
                out.push(at.at(p.start, format!("`{}` is not an IAM role or user ARN (arn:aws:iam::ACCOUNT:role/NAME) or an account id, and wildcards are never allowed", p.value.escape_debug())));
            }
        }
        if let Some(rot) = &self.rotation
            && !dns_label(&rot.rotation_class.value, 32)
        {
            out.push(at.at(rot.rotation_class.start, "invalid rotationClass"));
        }
        // What becomes a tag: a word, never free text.
        let status = self.lifecycle.as_ref().and_then(|l| l.status.as_ref());
        for (field, v) in [
            ("secretType", self.secret_type.as_ref()),
            ("lifecycle.status", status),
        ] {
            if let Some(v) = v
                && !dns_label(&v.value, 64)
            {
                out.push(at.at(
                    v.start,
                    format!("invalid {field}: lower-case letters, digits and `-`, at most 64"),
                ));
            }
        }
        super::fields::weakening_problems(&mut out, at, &self.allow_weakening, WEAKENINGS);
        out
    }

    fn guard(&self, _platform: &Platform, at: &At<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let rotates = self
            .rotation
            .as_ref()
            .is_some_and(|x| x.rotation_class.value != "none");
        if tier_of(self.risk.as_ref()) == RiskTier::High && !rotates {
            let pos = self
                .rotation
                .as_ref()
                .map(|x| x.rotation_class.start)
                .or(self.risk.as_ref().map(|t| t.start))
                .unwrap_or(self.id.start);
            out.push(
                at.at(pos, "a high-risk secret must rotate")
                    .with_hint("set rotation: { rotationClass: ... } (not none)"),
            );
        }
        if let Some(ns) = &self.access.namespace
            && PLATFORM_NAMESPACES.contains(&ns.value.as_str())
        {
            out.push(at.at(ns.start, format!("namespace `{}` belongs to the platform; an app's secret goes to the app's namespace", ns.value)));
        }
        out
    }

    fn route(&self) -> (Route, &'static str) {
        let prod = self.environment.value == "prod";
        let break_glass = !self.access.break_glass_principals.is_empty();
        let risky = tier_of(self.risk.as_ref()) != RiskTier::Low;
        let why = if break_glass {
            "it grants break-glass access"
        } else if risky {
            "its risk tier is medium or high"
        } else if prod {
            "it is for prod"
        } else {
            "it does not"
        };
        (Route::of(break_glass || risky, prod), why)
    }
}

impl SecretRequest {
    /// What apply makes, in `contract` (the request's environment), the
    /// platform's defaults filled in and named.
    pub fn desired(&self, contract: &crate::Contract<'_>) -> DesiredSecret {
        let mut defaulted = Vec::new();
        let window = self
            .lifecycle
            .as_ref()
            .and_then(|l| l.recovery_window_in_days.as_ref())
            .map(|w| w.value)
            .unwrap_or_else(|| {
                defaulted.push("recoveryWindowInDays: 30 (default)".into());
                30
            });
        let mut tags = BTreeMap::new();
        tags.insert(super::kind::REQUEST_TAG.to_string(), self.id.value.clone());
        tags.insert("owner".into(), self.owner().to_string());
        tags.insert("service".into(), self.service.value.clone());
        tags.insert("environment".into(), self.environment.value.clone());
        tags.insert(
            "riskTier".into(),
            tier_of(self.risk.as_ref()).as_str().into(),
        );
        tags.insert(
            "rotationClass".into(),
            self.rotation
                .as_ref()
                .map_or("none".into(), |x| x.rotation_class.value.clone()),
        );
        if let Some(d) = &self.domain {
            tags.insert("domain".into(), d.value.clone());
        }
        if let Some(t) = &self.secret_type {
            tags.insert("secretType".into(), t.value.clone());
        }
        if let Some(t) = &self.ttl_days {
            tags.insert("ttlDays".into(), t.value.to_string());
        }
        let status = self
            .lifecycle
            .as_ref()
            .and_then(|l| l.status.as_ref())
            .map_or("active".to_string(), |s| s.value.clone());
        tags.insert("lifecycle".into(), status);
        let name = contract.request_secret_path(&self.service.value, &self.name.value);
        let external_secret = match (&self.access.namespace, &self.access.k8s_secret_name) {
            (Some(ns), Some(k)) => Some(Delivery {
                name: contract.request_external_secret_name(&self.service.value, &self.name.value),
                namespace: ns.value.clone(),
                target: k.value.clone(),
                remote_key: name.clone(),
                keys: Vec::new(),
            }),
            _ => None,
        };
        let list = |v: &[Spanned<String>]| v.iter().map(|p| p.value.clone()).collect();
        DesiredSecret {
            name,
            recovery_window_days: window,
            tags,
            read: list(&self.access.read_principals),
            write: list(&self.access.write_principals),
            break_glass: list(&self.access.break_glass_principals),
            external_secret,
            defaulted,
        }
    }
}
