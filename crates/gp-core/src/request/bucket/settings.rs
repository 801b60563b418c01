//! The settings of a bucket request, and the bucket apply makes.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::yaml::Spanned;

/// What a bucket is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PurposeType {
    /// Logs: no versioning, Standard-IA at 30 days, expired at 90.
    Logs,
    /// Uploads: versioned.
    Uploads,
    /// Backups: versioned, Glacier at 90 days.
    Backups,
    /// A data lake: versioned, Standard-IA at 30 days.
    DataLake,
    /// Static assets: unversioned; needs the platform's approval.
    StaticAssets,
}

impl PurposeType {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            PurposeType::Logs => "logs",
            PurposeType::Uploads => "uploads",
            PurposeType::Backups => "backups",
            PurposeType::DataLake => "data-lake",
            PurposeType::StaticAssets => "static-assets",
        }
    }

    /// The platform's defaults for it: versioning, days to Standard-IA, to
    /// Glacier, to expiry.
    pub fn defaults(self) -> (bool, Option<u32>, Option<u32>, Option<u32>) {
        match self {
            PurposeType::Logs => (false, Some(30), None, Some(90)),
            PurposeType::Uploads => (true, None, None, None),
            PurposeType::Backups => (true, None, Some(90), None),
            PurposeType::DataLake => (true, Some(30), None, None),
            PurposeType::StaticAssets => (false, None, None, None),
        }
    }
}

/// `purpose`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Purpose {
    /// logs, uploads, backups, data-lake, static-assets.
    #[serde(rename = "type")]
    pub kind: Spanned<PurposeType>,
    /// What it holds, 10 to 200 characters.
    pub description: Spanned<String>,
}

/// Server-side encryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EncryptionType {
    /// S3-managed keys (AES-256).
    SseS3,
    /// A KMS key (staging and prod need it).
    SseKms,
}

/// `encryption`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Encryption {
    /// sse-s3 (default) or sse-kms.
    #[serde(rename = "type")]
    pub kind: Spanned<EncryptionType>,
    /// The KMS key's alias (`alias/...` or the bare name); sse-kms needs it.
    #[serde(default)]
    pub kms_key_alias: Option<Spanned<String>>,
}

/// Public access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PublicAccess {
    /// Every public-access block on (the default).
    Blocked,
    /// An approved exception: the blocks are off; needs the platform's
    /// approval.
    ExceptionApproved,
}

/// Retention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RetentionType {
    /// Kept until deleted.
    Indefinite,
    /// Kept for a time: needs a lifecycle.
    TimeBounded,
    /// Kept as a regulation says: needs a lifecycle.
    ComplianceDriven,
}

impl RetentionType {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionType::Indefinite => "indefinite",
            RetentionType::TimeBounded => "time-bounded",
            RetentionType::ComplianceDriven => "compliance-driven",
        }
    }
}

/// `retentionPolicy`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    /// indefinite, time-bounded, compliance-driven.
    #[serde(rename = "type")]
    pub kind: Spanned<RetentionType>,
    /// Why.
    #[serde(default)]
    pub rationale: Option<Spanned<String>>,
}

/// `lifecycle` of a bucket.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketLifecycle {
    /// Days until objects expire (1 to 36500).
    #[serde(default)]
    pub expire_days: Option<Spanned<u32>>,
    /// Days until Standard-IA (at least 30).
    #[serde(default)]
    pub transition_to_ia_days: Option<Spanned<u32>>,
    /// Days until Glacier (at least 90).
    #[serde(default)]
    pub transition_to_glacier_days: Option<Spanned<u32>>,
}

/// `accessLogging`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogging {
    /// On or off (staging and prod need it on).
    pub enabled: Spanned<bool>,
    /// Where the logs go (needed when on).
    #[serde(default)]
    pub target_bucket: Option<Spanned<String>>,
}

/// A bucket as apply makes it.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DesiredBucket {
    /// Its name.
    pub name: String,
    /// `AES256`, or `aws:kms` with the key.
    pub kms_key: Option<String>,
    /// Versioning on.
    pub versioning: bool,
    /// Every public-access block on.
    pub block_public: bool,
    /// Days to Standard-IA.
    pub ia_days: Option<u32>,
    /// Days to Glacier.
    pub glacier_days: Option<u32>,
    /// Days to expiry.
    pub expire_days: Option<u32>,
    /// Where access logs go.
    pub log_target: Option<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Fields left out that the platform's defaults filled in.
    pub defaulted: Vec<String>,
}

/// A lifecycle in words.
pub fn lifecycle_words(ia: Option<u32>, glacier: Option<u32>, expire: Option<u32>) -> String {
    let mut parts = Vec::new();
    if let Some(d) = ia {
        parts.push(format!("Standard-IA at {d} days"));
    }
    if let Some(d) = glacier {
        parts.push(format!("Glacier at {d} days"));
    }
    if let Some(d) = expire {
        parts.push(format!("expire at {d} days"));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// Why S3 refuses a bucket name, if it does: 3 to 63 lower-case letters,
/// digits and hyphens, starting and ending with a letter or digit, none of
/// the prefixes and suffixes S3 keeps for itself.
pub fn s3_name_problem(n: &str) -> Option<&'static str> {
    let shape = (3..=63).contains(&n.len())
        && n.as_bytes()[0].is_ascii_alphanumeric()
        && n.as_bytes()[n.len() - 1].is_ascii_alphanumeric()
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !shape {
        return Some(
            "3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or digit",
        );
    }
    const PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const SUFFIXES: [&str; 4] = ["-s3alias", "--ol-s3", "--x-s3", "--table-s3"];
    if PREFIXES.iter().any(|p| n.starts_with(p)) || SUFFIXES.iter().any(|s| n.ends_with(s)) {
        return Some(
            "a prefix or suffix S3 keeps for itself (xn--, sthree-, -s3alias, --ol-s3...)",
        );
    }
    None
}
