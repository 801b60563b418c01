//! The `dns` driver's typed settings: a zone component's and the host
//! records a component publishes.

use super::*;

/// Where the zone is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// An RFC 1035 master file in the state directory (the default).
    Zonefile,
    /// RFC 2136 dynamic update with TSIG.
    Rfc2136,
    /// AWS Route 53.
    Route53,
}

/// Whether goldenpath deletes records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Create, update and delete its own records.
    #[default]
    Sync,
    /// Create and update, never delete.
    UpsertOnly,
}

/// What to do about a record someone else owns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnConflict {
    /// Refuse the apply (exit 3) before changing anything.
    #[default]
    Fail,
    /// Leave it and apply the rest.
    Skip,
}

/// The TSIG key for RFC 2136.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TsigSettings {
    /// The key's name as the server knows it.
    pub key_name: String,
    /// A secret holding the base64 key (`{"secret": ...}` or the text).
    #[serde(default)]
    pub secret: Option<String>,
    /// Or an environment variable holding it.
    #[serde(default)]
    pub secret_env: Option<String>,
}

/// Settings of the zone component.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ZoneSettings {
    /// Where the zone is kept.
    #[serde(default = "zonefile")]
    pub backend: Spanned<BackendKind>,
    /// The zone (default: the platform's).
    #[serde(default)]
    pub zone: Option<Spanned<String>>,
    /// `host:port` of the RFC 2136 server.
    #[serde(default)]
    pub server: Option<Spanned<String>>,
    /// The TSIG key.
    #[serde(default)]
    pub tsig: Option<TsigSettings>,
    /// Record TTL (default 300).
    #[serde(default)]
    pub ttl: Option<u32>,
    /// `sync` or `upsert-only`.
    #[serde(default)]
    pub policy: Policy,
    /// `fail` or `skip`.
    #[serde(default)]
    pub on_conflict: OnConflict,
    /// Address of the zone file's nameserver (default 127.0.0.1).
    #[serde(default)]
    pub nameserver: Option<String>,
    /// The zone file (default `{state}/dns/{zone}.zone`).
    #[serde(default)]
    pub file: Option<String>,
    /// Route 53 hosted zone id (default: the public zone named `zone`).
    #[serde(default)]
    pub hosted_zone_id: Option<String>,
    /// Route 53: the SDK's region (default: the chain's, else us-east-1).
    #[serde(default)]
    pub region: Option<String>,
    /// Route 53: requests per second at most (default 5, the account's
    /// limit).
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    /// Route 53: seconds to wait for a change to be INSYNC (default 300).
    #[serde(default)]
    pub sync_timeout: Option<u64>,
}

pub(crate) fn zonefile() -> Spanned<BackendKind> {
    Spanned::unpositioned(BackendKind::Zonefile)
}

/// One host record the engine asks for.
pub type RecordSpec = gp_driver::HostRecord;

/// The records the engine asks for, for one component's hosts.
pub type RecordsSettings = gp_driver::HostRecords;
