//! A repository request (`ECR-NNNN`): an ECR repository (`team/app` or
//! `app`) with scanning on push, immutable tags and a keep-last-N lifecycle
//! by default. Prod and high-risk repositories must scan and keep their
//! tags immutable; a high risk needs the security group, prod the
//! platform group. A repository that names no environment serves them all
//! (`global`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::spec::Platform;
use crate::yaml::Spanned;

use super::fields::{Flag, RiskField, RiskTier, text, tier_of};
use super::kind::{At, KindRules, RequestKind, Route};

/// `lifecyclePolicy`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcrLifecycle {
    /// Keep the last N images.
    #[serde(default, alias = "keepLastImages", alias = "maxImageCount")]
    pub keep_last: Option<Spanned<u32>>,
}

/// A repository request, its `metadata` and `spec` read as one.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "goldenpath container-registry request")]
pub struct RepositoryRequest {
    /// `ECR-NNNN`.
    pub id: Spanned<String>,
    /// The repository (`team/app` or `app`), as ECR names it.
    #[serde(alias = "name", alias = "repository")]
    pub repository_name: Spanned<String>,
    /// The environment (default: none; a repository serves every one).
    #[serde(default)]
    pub environment: Option<Spanned<String>>,
    /// Scan images on push (default true; prod needs it).
    #[serde(default)]
    pub scan_on_push: Option<Spanned<Flag>>,
    /// Tags cannot be overwritten (default true; prod needs it).
    #[serde(default, alias = "immutableTags")]
    pub tag_immutability: Option<Spanned<Flag>>,
    /// ECR's own form of the same: IMMUTABLE or MUTABLE.
    #[serde(default)]
    pub image_tag_mutability: Option<Spanned<String>>,
    /// Keep the last N images (1 to 1000; default 30).
    #[serde(default, alias = "keepLastImages")]
    pub keep_last: Option<Spanned<u32>>,
    /// `lifecyclePolicy: {keepLast: N}`, as the catalog template writes it.
    #[serde(default, alias = "lifecycle")]
    pub lifecycle_policy: Option<EcrLifecycle>,
    /// Its risk (low, medium, high).
    #[serde(default)]
    pub risk: Option<Spanned<RiskField>>,
    /// The owning team.
    pub owner: Spanned<String>,
    /// Who asks (when absent, whoever applies it is who asked).
    #[serde(default)]
    pub requester: Option<Spanned<String>>,
    /// Adopt a repository that exists and nobody owns; needs the
    /// platform's approval.
    #[serde(default)]
    pub adopt: Option<Spanned<bool>>,
    /// Settings of an adopted repository this request may weaken, by
    /// name: `tagImmutability`, `scanOnPush`, `lifecycle` (a policy that
    /// keeps fewer images than the one there).
    #[serde(default)]
    pub allow_weakening: Vec<Spanned<String>>,
}

/// The fields a repository request reads.
pub(crate) const FIELDS: &[&str] = &[
    "id",
    "repositoryName",
    "name",
    "repository",
    "environment",
    "scanOnPush",
    "tagImmutability",
    "immutableTags",
    "imageTagMutability",
    "keepLast",
    "keepLastImages",
    "lifecyclePolicy",
    "lifecycle",
    "risk",
    "owner",
    "requester",
    "adopt",
    "allowWeakening",
];

/// What a repository request may weaken of an adopted repository.
pub const WEAKENINGS: &[&str] = &["tagImmutability", "scanOnPush", "lifecycle"];

/// A repository as apply makes it.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DesiredRepository {
    /// Its name.
    pub name: String,
    /// Scan on push.
    pub scan_on_push: bool,
    /// Immutable tags.
    pub immutable: bool,
    /// Images kept.
    pub keep_last: u32,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Fields left out that the platform's defaults filled in.
    pub defaulted: Vec<String>,
}

impl RepositoryRequest {
    /// Scan on push, and immutable tags, as asked (both default to on).
    pub fn flags(&self) -> (bool, bool) {
        let scan = self
            .scan_on_push
            .as_ref()
            .is_none_or(|v| v.value.truth() != Some(false));
        let immutable = match (&self.tag_immutability, &self.image_tag_mutability) {
            (Some(t), _) => t.value.truth() != Some(false),
            (None, Some(m)) => m.value == "IMMUTABLE",
            (None, None) => true,
        };
        (scan, immutable)
    }

    fn keep(&self) -> Option<&Spanned<u32>> {
        self.keep_last.as_ref().or(self
            .lifecycle_policy
            .as_ref()
            .and_then(|l| l.keep_last.as_ref()))
    }

    fn high(&self) -> bool {
        tier_of(self.risk.as_ref()) == RiskTier::High
    }
}

impl KindRules for RepositoryRequest {
    fn kind(&self) -> RequestKind {
        RequestKind::Repository
    }
    fn id(&self) -> &Spanned<String> {
        &self.id
    }
    fn environment(&self) -> Option<&Spanned<String>> {
        self.environment.as_ref()
    }
    fn requester(&self) -> Option<&Spanned<String>> {
        self.requester.as_ref()
    }
    fn owner(&self) -> &str {
        &self.owner.value
    }
    fn resource_name(&self) -> &str {
        &self.repository_name.value
    }
    fn adopt(&self) -> Option<&Spanned<bool>> {
        self.adopt.as_ref()
    }
    fn allowed_weakenings(&self) -> &[Spanned<String>] {
        &self.allow_weakening
    }

    fn schema_problems(&self, at: &At<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        text(&mut out, at, "owner", &self.owner, 128);
        if let Some(r) = &self.requester {
            text(&mut out, at, "requester", r, 128);
        }
        let n = &self.repository_name.value;
        let ok = (2..=256).contains(&n.len())
            && n.split('/').all(|seg| {
                !seg.is_empty()
                    && seg.as_bytes()[0].is_ascii_alphanumeric()
                    && seg.as_bytes()[seg.len() - 1].is_ascii_alphanumeric()
                    && seg.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !ok {
            out.push(at.at(self.repository_name.start, format!("invalid repositoryName `{}`: lower-case segments of letters, digits, `.`, `_`, `-`, split by `/`", n.escape_debug())));
        }
        if let Some(k) = self.keep()
            && !(1..=1000).contains(&k.value)
        {
            out.push(at.at(
                k.start,
                format!("keepLast must be 1 to 1000, found {}", k.value),
            ));
        }
        for (field, f) in [
            ("scanOnPush", &self.scan_on_push),
            ("tagImmutability", &self.tag_immutability),
        ] {
            if let Some(f) = f
                && f.value.truth().is_none()
            {
                out.push(at.at(
                    f.start,
                    format!("{field} is true or false (or IMMUTABLE/MUTABLE, enabled/disabled)"),
                ));
            }
        }
        if let Some(m) = &self.image_tag_mutability
            && !matches!(m.value.as_str(), "IMMUTABLE" | "MUTABLE")
        {
            out.push(at.at(
                m.start,
                format!(
                    "imageTagMutability is IMMUTABLE or MUTABLE, found `{}`",
                    m.value.escape_debug()
                ),
            ));
        }
        if let (Some(m), Some(t)) = (&self.image_tag_mutability, &self.tag_immutability)
            && Some(m.value == "IMMUTABLE") != t.value.truth()
        {
            out.push(at.at(t.start, "tagImmutability and imageTagMutability disagree"));
        }
        super::fields::weakening_problems(&mut out, at, &self.allow_weakening, WEAKENINGS);
        out
    }

    fn guard(&self, _platform: &Platform, at: &At<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let prod = self.environment.as_ref().is_some_and(|e| e.value == "prod");
        if !(prod || self.high()) {
            return out;
        }
        let (scan, immutable) = self.flags();
        if !scan {
            out.push(
                at.at(
                    self.scan_on_push
                        .as_ref()
                        .map_or(self.repository_name.start, |v| v.start),
                    "prod and high-risk repositories scan images on push",
                ),
            );
        }
        if !immutable {
            let pos = self
                .tag_immutability
                .as_ref()
                .map(|v| v.start)
                .or(self.image_tag_mutability.as_ref().map(|v| v.start))
                .unwrap_or(self.repository_name.start);
            out.push(at.at(pos, "prod and high-risk repositories have immutable tags"));
        }
        out
    }

    fn route(&self) -> (Route, &'static str) {
        let prod = self.environment.as_ref().is_some_and(|e| e.value == "prod");
        let why = if self.high() {
            "its risk is high"
        } else if prod {
            "it is for prod"
        } else {
            "it does not"
        };
        (Route::of(self.high(), prod), why)
    }
}

impl RepositoryRequest {
    /// What apply makes, the platform's defaults filled in and named.
    pub fn desired(&self) -> DesiredRepository {
        let mut defaulted = Vec::new();
        let (scan, immutable) = self.flags();
        if self.scan_on_push.is_none() {
            defaulted.push("scanOnPush: true (default)".into());
        }
        if self.tag_immutability.is_none() && self.image_tag_mutability.is_none() {
            defaulted.push("tagImmutability: true (default)".into());
        }
        let keep = self.keep().map(|k| k.value).unwrap_or_else(|| {
            defaulted.push("keepLast: 30 (default)".into());
            30
        });
        let mut tags = BTreeMap::new();
        tags.insert(super::kind::REQUEST_TAG.to_string(), self.id.value.clone());
        tags.insert("owner".into(), self.owner.value.clone());
        tags.insert(
            "riskTier".into(),
            tier_of(self.risk.as_ref()).as_str().into(),
        );
        if let Some(e) = &self.environment {
            tags.insert("environment".into(), e.value.clone());
        }
        DesiredRepository {
            name: self.repository_name.value.clone(),
            scan_on_push: scan,
            immutable,
            keep_last: keep,
            tags,
            defaulted,
        }
    }
}
