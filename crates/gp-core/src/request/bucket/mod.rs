//! A bucket request (`S3-NNNN`): an S3 bucket with the platform's
//! encryption, public-access, versioning, lifecycle and logging rules.
//!
//! The name follows the platform's own rule, `{prefix}-{env}-X-Y` with the
//! request's environment second (`^goldenpath-[a-z]+-[a-z0-9-]+-[a-z0-9-]+$`
//! on the platform goldenpath was modelled on, whose application and
//! purpose parts may hold hyphens themselves) within S3's naming rules; a
//! name that is not exactly `{prefix}-{env}-{application}-{purpose}` is
//! accepted with a warning naming the convention's name. Per purpose the
//! platform's defaults apply: logs unversioned, Standard-IA at 30 days and
//! expired at 90; uploads versioned; backups versioned with Glacier at 90
//! days; a data lake versioned with Standard-IA at 30 days; static assets
//! unversioned (and approved by the platform).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::spec::Platform;
use crate::yaml::Spanned;

use super::fields::text;
use super::kind::{At, KindRules, RequestKind, Route};

mod settings;
pub use settings::*;

/// An S3 bucket request, its `metadata` and `spec` read as one.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "goldenpath bucket request")]
pub struct BucketRequest {
    /// `S3-NNNN`.
    pub id: Spanned<String>,
    /// The environment.
    pub environment: Spanned<String>,
    /// `{prefix}-{env}-X-Y`, by convention
    /// `{prefix}-{env}-{application}-{purpose}`.
    pub bucket_name: Spanned<String>,
    /// What it is for.
    pub purpose: Purpose,
    /// The default storage class objects are written with, as S3 names it
    /// (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, ...); recorded as a tag.
    #[serde(default)]
    pub storage_class: Option<Spanned<String>>,
    /// Encryption (default sse-s3).
    #[serde(default)]
    pub encryption: Option<Encryption>,
    /// Versioning (default: the purpose's).
    #[serde(default)]
    pub versioning: Option<Spanned<bool>>,
    /// blocked (default) or exception-approved.
    #[serde(default)]
    pub public_access: Option<Spanned<PublicAccess>>,
    /// Retention.
    #[serde(default)]
    pub retention_policy: Option<Retention>,
    /// Lifecycle rules (default: the purpose's).
    #[serde(default)]
    pub lifecycle: Option<BucketLifecycle>,
    /// Server access logging.
    #[serde(default)]
    pub access_logging: Option<AccessLogging>,
    /// The size, GB, past which the owner is alerted; recorded as a tag.
    #[serde(default)]
    pub cost_alert_gb: Option<Spanned<u64>>,
    /// Whether the app sets CORS rules on it; recorded as a tag.
    #[serde(default)]
    pub cors_enabled: Option<Spanned<bool>>,
    /// Tags; `costCenter` is required.
    #[serde(default)]
    pub tags: BTreeMap<String, Spanned<String>>,
    /// The owning team.
    pub owner: Spanned<String>,
    /// The application.
    pub application: Spanned<String>,
    /// Who asks.
    pub requester: Spanned<String>,
    /// Adopt a bucket that exists and nobody owns; needs the platform's
    /// approval.
    #[serde(default)]
    pub adopt: Option<Spanned<bool>>,
    /// Settings of an adopted bucket this request may weaken, by name:
    /// `encryption`, `publicAccess`, `versioning`, `lifecycle`.
    #[serde(default)]
    pub allow_weakening: Vec<Spanned<String>>,
}

/// The fields a bucket request reads.
pub(crate) const FIELDS: &[&str] = &[
    "id",
    "environment",
    "bucketName",
    "purpose",
    "storageClass",
    "encryption",
    "versioning",
    "publicAccess",
    "retentionPolicy",
    "lifecycle",
    "accessLogging",
    "costAlertGb",
    "corsEnabled",
    "tags",
    "owner",
    "application",
    "requester",
    "name",
    "adopt",
    "allowWeakening",
];

/// What a bucket request may weaken of an adopted bucket, by name.
pub const WEAKENINGS: &[&str] = &["encryption", "publicAccess", "versioning", "lifecycle"];

/// Whether `name` follows the platform's rule for `env`: `{prefix}-{env}-`
/// then two parts of `[a-z0-9-]` joined by a hyphen.
pub fn follows_platform_rule(name: &str, prefix: &str, env: &str) -> bool {
    let Some(rest) = name
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_prefix(env))
        .and_then(|r| r.strip_prefix('-'))
    else {
        return false;
    };
    !env.is_empty()
        && env.bytes().all(|b| b.is_ascii_lowercase())
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && rest.len() >= 3
        && rest[1..rest.len() - 1].contains('-')
}

impl BucketRequest {
    fn lifecycle_problems(&self, at: &At<'_>, out: &mut Vec<Diagnostic>) {
        let Some(l) = &self.lifecycle else { return };
        if let Some(v) = &l.transition_to_ia_days
            && v.value < 30
        {
            out.push(at.at(v.start, format!("transitionToIaDays must be at least 30 (S3's minimum for Standard-IA), found {}", v.value)));
        }
        if let Some(v) = &l.transition_to_glacier_days
            && v.value < 90
        {
            out.push(at.at(
                v.start,
                format!(
                    "transitionToGlacierDays must be at least 90, found {}",
                    v.value
                ),
            ));
        }
        if let Some(v) = &l.expire_days
            && !(1..=36500).contains(&v.value)
        {
            out.push(at.at(
                v.start,
                format!("expireDays must be 1 to 36500, found {}", v.value),
            ));
        }
        if let (Some(ia), Some(g)) = (&l.transition_to_ia_days, &l.transition_to_glacier_days)
            && g.value <= ia.value
        {
            out.push(at.at(
                g.start,
                format!(
                    "transitionToGlacierDays ({}) must come after transitionToIaDays ({})",
                    g.value, ia.value
                ),
            ));
        }
        let last = l
            .transition_to_glacier_days
            .as_ref()
            .or(l.transition_to_ia_days.as_ref());
        if let (Some(t), Some(e)) = (last, &l.expire_days)
            && e.value <= t.value
        {
            out.push(at.at(
                e.start,
                format!(
                    "expireDays ({}) must come after the last transition ({} days)",
                    e.value, t.value
                ),
            ));
        }
    }
}

/// The storage classes S3 names.
const CLASSES: &[&str] = &[
    "STANDARD",
    "STANDARD_IA",
    "INTELLIGENT_TIERING",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
    "REDUCED_REDUNDANCY",
];

impl KindRules for BucketRequest {
    fn kind(&self) -> RequestKind {
        RequestKind::Bucket
    }
    fn id(&self) -> &Spanned<String> {
        &self.id
    }
    fn environment(&self) -> Option<&Spanned<String>> {
        Some(&self.environment)
    }
    fn requester(&self) -> Option<&Spanned<String>> {
        Some(&self.requester)
    }
    fn owner(&self) -> &str {
        &self.owner.value
    }
    fn resource_name(&self) -> &str {
        &self.bucket_name.value
    }
    fn adopt(&self) -> Option<&Spanned<bool>> {
        self.adopt.as_ref()
    }
    fn allowed_weakenings(&self) -> &[Spanned<String>] {
        &self.allow_weakening
    }

    fn schema_problems(&self, at: &At<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for (f, v) in [
            ("owner", &self.owner),
            ("application", &self.application),
            ("requester", &self.requester),
        ] {
            text(&mut out, at, f, v, 128);
        }
        if let Some(why) = s3_name_problem(&self.bucket_name.value) {
            out.push(at.at(
                self.bucket_name.start,
                format!(
                    "invalid bucketName `{}`: {why}",
                    self.bucket_name.value.escape_debug()
                ),
            ));
        }
        if let Some(t) = self
            .retention_policy
            .as_ref()
            .and_then(|x| x.rationale.as_ref())
        {
            text(&mut out, at, "retentionPolicy.rationale", t, 500);
        }
        let d = &self.purpose.description;
        let len = d.value.chars().count();
        if !(10..=200).contains(&len) {
            out.push(at.at(
                d.start,
                format!("purpose.description must be 10 to 200 characters, found {len}"),
            ));
        }
        self.lifecycle_problems(at, &mut out);
        if let Some(e) = &self.encryption
            && let Some(a) = &e.kms_key_alias
        {
            let name = a.value.strip_prefix("alias/").unwrap_or(&a.value);
            let ok = (1..=250).contains(&name.len())
                && !name.starts_with("aws/")
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b));
            if !ok {
                out.push(at.at(a.start, format!("invalid kmsKeyAlias `{}`: alias/NAME of letters, digits, `/`, `_` and `-` (not an AWS-managed aws/ key)", a.value.escape_debug())));
            }
        }
        if let Some(s) = &self.storage_class {
            let norm = s.value.to_ascii_uppercase().replace('-', "_");
            if !CLASSES.contains(&norm.as_str()) {
                out.push(at.at(
                    s.start,
                    format!(
                        "unknown storageClass `{}` (one of {})",
                        s.value.escape_debug(),
                        CLASSES.join(", ")
                    ),
                ));
            }
        }
        if let Some(a) = &self.access_logging {
            if let Some(t) = &a.target_bucket
                && s3_name_problem(&t.value).is_some()
            {
                out.push(at.at(t.start, "accessLogging.targetBucket is not a bucket name"));
            }
            if a.enabled.value && a.target_bucket.is_none() {
                out.push(
                    at.at(
                        a.enabled.start,
                        "accessLogging is enabled without a targetBucket",
                    )
                    .with_hint("name the bucket the access logs go to"),
                );
            }
        }
        if !self.tags.contains_key("costCenter") {
            out.push(
                at.at(self.id.start, "tags.costCenter is required")
                    .with_hint("add tags: { costCenter: ... }"),
            );
        }
        for (k, v) in &self.tags {
            if k.is_empty()
                || k.len() > 128
                || k.starts_with("aws:")
                || k.starts_with("goldenpath:")
                || v.value.len() > 256
            {
                out.push(at.at(v.start, format!("tag `{}`: keys 1 to 128 characters (never aws: or goldenpath:), values at most 256", k.escape_debug())));
            }
        }
        super::fields::weakening_problems(&mut out, at, &self.allow_weakening, WEAKENINGS);
        out
    }

    fn guard(&self, platform: &Platform, at: &At<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let env = self.environment.value.as_str();
        let strict = matches!(env, "staging" | "prod");
        let prefix = &platform.spec.prefix.value;
        if platform.environment(env).is_some()
            && !follows_platform_rule(&self.bucket_name.value, prefix, env)
        {
            out.push(
                at.at(
                    self.bucket_name.start,
                    format!(
                        "bucketName `{}` is outside the platform's rule: {prefix}-{env}- then two parts joined by a hyphen",
                        self.bucket_name.value
                    ),
                )
                .with_hint(format!(
                    "name it {}",
                    crate::Contract::new(platform, env, crate::Deployment::Persistent)
                        .map(|c| c.request_bucket_name(
                            &self.application.value,
                            self.purpose.kind.value.as_str()
                        ))
                        .unwrap_or_default()
                )),
            );
        }
        let enc = self.encryption.as_ref();
        if strict && enc.is_none_or(|e| e.kind.value != EncryptionType::SseKms) {
            out.push(
                at.at(
                    enc.map_or(self.bucket_name.start, |e| e.kind.start),
                    format!("{env} buckets are encrypted with a KMS key"),
                )
                .with_hint("set encryption: { type: sse-kms, kmsKeyAlias: alias/... }"),
            );
        }
        if let Some(e) = enc
            && e.kind.value == EncryptionType::SseKms
            && e.kms_key_alias.is_none()
        {
            out.push(
                at.at(e.kind.start, "sse-kms needs kmsKeyAlias")
                    .with_hint("name the key: kmsKeyAlias: alias/..."),
            );
        }
        let logging = self.access_logging.as_ref();
        if strict && !logging.is_some_and(|a| a.enabled.value) {
            out.push(
                at.at(
                    logging.map_or(self.bucket_name.start, |a| a.enabled.start),
                    format!("{env} buckets keep access logs"),
                )
                .with_hint("set accessLogging: { enabled: true, targetBucket: ... }"),
            );
        }
        if let Some(ret) = &self.retention_policy {
            let has_lifecycle = self.lifecycle.as_ref().is_some_and(|l| {
                l.expire_days.is_some()
                    || l.transition_to_glacier_days.is_some()
                    || l.transition_to_ia_days.is_some()
            });
            if ret.kind.value != RetentionType::Indefinite && !has_lifecycle {
                out.push(
                    at.at(
                        ret.kind.start,
                        "a time-bounded or compliance-driven retention needs a lifecycle",
                    )
                    .with_hint("set lifecycle: { expireDays: ... } (or its transitions)"),
                );
            }
            if ret.kind.value == RetentionType::ComplianceDriven
                && ret
                    .rationale
                    .as_ref()
                    .is_none_or(|t| t.value.trim().is_empty())
            {
                out.push(at.at(
                    ret.kind.start,
                    "a compliance-driven retention names its rationale (the regulation)",
                ));
            }
        }
        if self.purpose.kind.value == PurposeType::Logs
            && let Some(v) = &self.versioning
            && v.value
        {
            out.push(at.at(
                v.start,
                "log buckets are not versioned (the platform's rule for logs)",
            ));
        }
        out
    }

    fn advice(&self, platform: &Platform, at: &At<'_>) -> Vec<Diagnostic> {
        let env = self.environment.value.as_str();
        let Ok(contract) = crate::Contract::new(platform, env, crate::Deployment::Persistent)
        else {
            return Vec::new();
        };
        let convention =
            contract.request_bucket_name(&self.application.value, self.purpose.kind.value.as_str());
        if self.bucket_name.value == convention
            || !follows_platform_rule(&self.bucket_name.value, &platform.spec.prefix.value, env)
        {
            return Vec::new();
        }
        vec![
            at.at(
                self.bucket_name.start,
                format!(
                    "bucketName `{}` is not the convention {{prefix}}-{{env}}-{{application}}-{{purpose}}",
                    self.bucket_name.value
                ),
            )
            .with_hint(format!("the convention's name is {convention}")),
        ]
    }

    fn route(&self) -> (Route, &'static str) {
        let public = self
            .public_access
            .as_ref()
            .is_some_and(|p| p.value == PublicAccess::ExceptionApproved);
        if public {
            (Route::Platform, "it asks for a public-access exception")
        } else if self.purpose.kind.value == PurposeType::StaticAssets {
            (Route::Platform, "it holds static assets")
        } else if self.environment.value == "prod" {
            (Route::Platform, "it is for prod")
        } else {
            (Route::SelfServe, "it does not")
        }
    }
}

impl BucketRequest {
    /// What apply makes, the platform's defaults filled in and named.
    pub fn desired(&self) -> DesiredBucket {
        let (ver, ia, glacier, expire) = self.purpose.kind.value.defaults();
        let mut defaulted = Vec::new();
        let purpose = self.purpose.kind.value.as_str();
        let versioning = match &self.versioning {
            Some(v) => v.value,
            None => {
                defaulted.push(format!("versioning: {ver} (default for {purpose})"));
                ver
            }
        };
        let (ia_days, glacier_days, expire_days) = match &self.lifecycle {
            Some(l) => (
                l.transition_to_ia_days.as_ref().map(|v| v.value),
                l.transition_to_glacier_days.as_ref().map(|v| v.value),
                l.expire_days.as_ref().map(|v| v.value),
            ),
            None => {
                if ia.is_some() || glacier.is_some() || expire.is_some() {
                    defaulted.push(format!(
                        "lifecycle: {} (default for {purpose})",
                        lifecycle_words(ia, glacier, expire)
                    ));
                }
                (ia, glacier, expire)
            }
        };
        let kms_key = self
            .encryption
            .as_ref()
            .filter(|e| e.kind.value == EncryptionType::SseKms)
            .and_then(|e| e.kms_key_alias.as_ref())
            .map(|a| {
                if a.value.starts_with("alias/") {
                    a.value.clone()
                } else {
                    format!("alias/{}", a.value)
                }
            });
        if self.encryption.is_none() {
            defaulted.push("encryption: sse-s3 (default)".into());
        }
        if self.public_access.is_none() {
            defaulted.push("publicAccess: blocked (default)".into());
        }
        let mut tags: BTreeMap<String, String> = self
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        tags.insert(super::kind::REQUEST_TAG.into(), self.id.value.clone());
        tags.insert("owner".into(), self.owner.value.clone());
        tags.insert("application".into(), self.application.value.clone());
        tags.insert("environment".into(), self.environment.value.clone());
        tags.insert("purpose".into(), purpose.into());
        if let Some(s) = &self.storage_class {
            tags.insert(
                "storageClass".into(),
                s.value.to_ascii_uppercase().replace('-', "_"),
            );
        }
        if let Some(c) = &self.cost_alert_gb {
            tags.insert("costAlertGb".into(), c.value.to_string());
        }
        if let Some(c) = &self.cors_enabled {
            tags.insert("corsEnabled".into(), c.value.to_string());
        }
        if let Some(ret) = &self.retention_policy {
            tags.insert("retention".into(), ret.kind.value.as_str().into());
        }
        DesiredBucket {
            name: self.bucket_name.value.clone(),
            kms_key,
            versioning,
            block_public: self
                .public_access
                .as_ref()
                .is_none_or(|p| p.value == PublicAccess::Blocked),
            ia_days,
            glacier_days,
            expire_days,
            log_target: self
                .access_logging
                .as_ref()
                .filter(|a| a.enabled.value)
                .and_then(|a| a.target_bucket.as_ref())
                .map(|t| t.value.clone()),
            tags,
            defaulted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platforms_rule_admits_hyphens_in_both_parts() {
        for ok in [
            "goldenpath-dev-orders-logs",
            "goldenpath-dev-order-api-access-logs",
            "goldenpath-dev-a-b",
            "goldenpath-dev-a--b",
            "goldenpath-dev-orders-data-lake",
        ] {
            assert!(follows_platform_rule(ok, "goldenpath", "dev"), "{ok}");
        }
        for bad in [
            "goldenpath-dev-orders",
            "goldenpath-prod-orders-logs",
            "acme-dev-orders-logs",
            "goldenpath-dev-",
            "goldenpath-dev-ab",
            "goldenpath-dev-Orders-logs",
            "goldenpathdev-orders-logs",
        ] {
            assert!(!follows_platform_rule(bad, "goldenpath", "dev"), "{bad}");
        }
        assert!(
            !follows_platform_rule("x-dev2-a-b", "x", "dev2"),
            "the platform's env part is letters"
        );
    }

    /// Every name of up to six characters after `{prefix}-{env}-` (over
    /// letters, digits and hyphens), for environments of each shape:
    /// `follows_platform_rule` says yes exactly when the platform's own
    /// pattern matches with the request's environment as its second part.
    #[test]
    fn the_rule_is_the_platforms_pattern_over_every_short_name() {
        let pattern = regex::Regex::new("^goldenpath-([a-z]+)-[a-z0-9-]+-[a-z0-9-]+$").unwrap();
        let alphabet = ['a', '0', '-'];
        let mut rests = vec![String::new()];
        let mut all = Vec::new();
        for _ in 0..6 {
            rests = rests
                .iter()
                .flat_map(|r| alphabet.iter().map(move |c| format!("{r}{c}")))
                .collect();
            all.extend(rests.iter().cloned());
        }
        let mut admitted = 0;
        for env in ["dev", "prod", "e2e", "Dev", "dev-eu"] {
            for rest in &all {
                for name in [
                    format!("goldenpath-{env}-{rest}"),
                    format!("goldenpath-{env}{rest}"),
                ] {
                    let platform = pattern.captures(&name).is_some_and(|c| &c[1] == env);
                    assert_eq!(
                        follows_platform_rule(&name, "goldenpath", env),
                        platform,
                        "{name} for {env}"
                    );
                    admitted += usize::from(platform);
                }
            }
        }
        assert!(admitted > 500, "{admitted}");
    }

    #[test]
    fn s3s_own_rules() {
        assert_eq!(s3_name_problem("goldenpath-dev-a--b"), None);
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "Abc",
            "a.bc",
            "xn--abc",
            "sthree-abc",
            "abc-s3alias",
            "abc--ol-s3",
            &"a".repeat(64),
        ] {
            assert!(s3_name_problem(bad).is_some(), "{bad}");
        }
    }
}
