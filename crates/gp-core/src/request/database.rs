//! A database request (`RDS-NNNN`): a database and its login role on an
//! environment's foundational PostgreSQL instance, with its credentials
//! in the secrets store and, for the app, an ExternalSecret.
//!
//! ```yaml
//! id: RDS-0007
//! service: postgres
//! environment: dev
//! owner: team-orders
//! requester: alice
//! metadata: { title: Orders database, created: 2026-01-05 }
//! spec: { databaseName: orders, username: orders_app, domain: commerce }
//! ```
//!
//! The platform's defaults: `size: small`, `storageGb: 20`,
//! `maxStorageGb: 100`, `risk: low`, `backupRetentionDays: 7`, `multiAz`
//! and `performanceInsights` false. Its rules: prod keeps backups 14 days
//! and runs in several zones; dev databases are small. Prod and a high
//! risk need the platform and security groups, a large size the platform
//! group, an access-related risk the security group.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::spec::Platform;
use crate::yaml::Spanned;

use super::kind::{At, Delivery, KindRules, RequestKind, Route, is_reserved_name};

/// Instance size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// The smallest; the only size dev gets.
    Small,
    /// Medium.
    Medium,
    /// Large.
    Large,
    /// Extra large.
    Xlarge,
}

/// Risk profile of a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// None.
    None,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High: the platform and the security group approve.
    High,
    /// Access-related: the security group approves.
    Access,
}

/// A database on a foundational instance, its `metadata` and `spec` read
/// as one.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "goldenpath database request")]
pub struct DatabaseRequest {
    /// `RDS-NNNN`.
    #[schemars(regex(pattern = r"^RDS-[0-9]{4}$"))]
    pub id: Spanned<String>,
    /// `postgres` (the platform's files name the service).
    #[serde(default)]
    pub service: Option<Spanned<String>>,
    /// The environment.
    pub environment: Spanned<String>,
    /// The database.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{2,62}$"))]
    pub database_name: Spanned<String>,
    /// Its login role.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{2,30}$"))]
    pub username: Spanned<String>,
    /// Instance size (default `small`).
    #[serde(default = "small")]
    pub size: Spanned<Size>,
    /// Storage, GB (default 20).
    #[serde(default = "twenty")]
    #[schemars(range(min = 20, max = 500))]
    pub storage_gb: Spanned<u32>,
    /// Storage autoscaling limit, GB; more than `storageGb` (default 100).
    #[serde(default = "hundred")]
    #[schemars(range(min = 20, max = 1000))]
    pub max_storage_gb: Spanned<u32>,
    /// Days of backups (default 7).
    #[serde(default = "seven")]
    #[schemars(range(min = 1, max = 35))]
    pub backup_retention_days: Spanned<u32>,
    /// The owning team.
    pub owner: Spanned<String>,
    /// Who asks.
    pub requester: Spanned<String>,
    /// The business domain.
    pub domain: Spanned<String>,
    /// Risk profile (default `low`).
    #[serde(default = "low")]
    pub risk: Spanned<Risk>,
    /// Multi-AZ (default false; prod needs it).
    #[serde(default)]
    pub multi_az: Option<Spanned<bool>>,
    /// Performance Insights (default false).
    #[serde(default)]
    pub performance_insights: Option<Spanned<bool>>,
    /// The foundational postgres component to put it on (default: the only
    /// one).
    #[serde(default)]
    pub instance: Option<Spanned<String>>,
    /// The app's namespace, where its ExternalSecret goes (default: the
    /// database's name as a Kubernetes name).
    #[serde(default)]
    pub namespace: Option<Spanned<String>>,
    /// Adopt a database and role that exist on the instance and nobody
    /// owns (its password is rotated); needs the platform's approval.
    #[serde(default)]
    pub adopt: Option<Spanned<bool>>,
    /// Settings of an existing database this request may weaken (none for
    /// databases).
    #[serde(default)]
    pub allow_weakening: Vec<Spanned<String>>,
}

/// The fields a database request reads.
pub(crate) const FIELDS: &[&str] = &[
    "id",
    "service",
    "environment",
    "databaseName",
    "username",
    "size",
    "storageGb",
    "maxStorageGb",
    "backupRetentionDays",
    "owner",
    "requester",
    "domain",
    "risk",
    "multiAz",
    "performanceInsights",
    "instance",
    "namespace",
    "adopt",
    "allowWeakening",
];

fn seven() -> Spanned<u32> {
    Spanned::unpositioned(7)
}
fn twenty() -> Spanned<u32> {
    Spanned::unpositioned(20)
}
fn hundred() -> Spanned<u32> {
    Spanned::unpositioned(100)
}
fn small() -> Spanned<Size> {
    Spanned::unpositioned(Size::Small)
}
fn low() -> Spanned<Risk> {
    Spanned::unpositioned(Risk::Low)
}

/// A database as apply makes it.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DesiredDatabase {
    /// The instance component it goes on, when the file names one.
    pub instance: Option<String>,
    /// The database.
    pub database: String,
    /// Its login role.
    pub role: String,
    /// Where its credentials go.
    pub secret_path: String,
    /// The ExternalSecret the app reads them through.
    pub external_secret: Option<Delivery>,
    /// Fields left out that the platform's defaults filled in.
    pub defaulted: Vec<String>,
}

/// A Kubernetes name from a database's: lower case, `_` → `-`, only
/// `[a-z0-9-]`, no leading or trailing `-`, at most 63 characters.
pub fn k8s_name(text: &str) -> String {
    let mut out: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(63);
    out.trim_matches('-').to_string()
}

/// The keys a database's credentials secret holds.
pub const SECRET_KEYS: [&str; 6] = ["username", "password", "host", "port", "dbname", "engine"];

impl KindRules for DatabaseRequest {
    fn kind(&self) -> RequestKind {
        RequestKind::Database
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
    fn domain(&self) -> Option<&Spanned<String>> {
        Some(&self.domain)
    }
    fn resource_name(&self) -> &str {
        &self.database_name.value
    }
    fn adopt(&self) -> Option<&Spanned<bool>> {
        self.adopt.as_ref()
    }
    fn allowed_weakenings(&self) -> &[Spanned<String>] {
        &self.allow_weakening
    }

    fn schema_problems(&self, at: &At<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        if let Some(sv) = &self.service
            && !matches!(sv.value.as_str(), "postgres" | "rds" | "postgresql")
        {
            out.push(at.at(
                sv.start,
                format!("service `{}` is not postgres", sv.value.escape_debug()),
            ));
        }
        let name_ok = |s: &str, max: usize| {
            (3..=max).contains(&s.len())
                && s.as_bytes()[0].is_ascii_lowercase()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        for (field, v, max) in [
            ("databaseName", &self.database_name, 63),
            ("username", &self.username, 31),
        ] {
            if !name_ok(&v.value, max) {
                out.push(at.at(
                    v.start,
                    format!(
                        "invalid {field} `{}`: it must match ^[a-z][a-z0-9_]{{2,{}}}$",
                        v.value.escape_debug(),
                        max - 1
                    ),
                ));
            } else if is_reserved_name(&v.value) {
                out.push(
                    at.at(
                        v.start,
                        format!(
                            "`{}` is reserved by PostgreSQL and can never be requested",
                            v.value
                        ),
                    )
                    .with_hint(format!("choose another {field}")),
                );
            }
        }
        let range = |v: &Spanned<u32>, name: &str, lo: u32, hi: u32| {
            (!(lo..=hi).contains(&v.value)).then(|| {
                at.at(
                    v.start,
                    format!("{name} must be between {lo} and {hi}, found {}", v.value),
                )
            })
        };
        out.extend(range(&self.storage_gb, "storageGb", 20, 500));
        out.extend(range(&self.max_storage_gb, "maxStorageGb", 20, 1000));
        out.extend(range(
            &self.backup_retention_days,
            "backupRetentionDays",
            1,
            35,
        ));
        if self.max_storage_gb.value <= self.storage_gb.value {
            out.push(at.at(
                self.max_storage_gb.start,
                format!(
                    "maxStorageGb ({}) must exceed storageGb ({})",
                    self.max_storage_gb.value, self.storage_gb.value
                ),
            ));
        }
        for (field, v) in [
            ("owner", &self.owner),
            ("requester", &self.requester),
            ("domain", &self.domain),
        ] {
            super::fields::text(&mut out, at, field, v, 128);
        }
        if let Some(ns) = &self.namespace
            && !super::fields::dns_label(&ns.value, 63)
        {
            out.push(at.at(
                ns.start,
                format!(
                    "invalid namespace `{}`: a Kubernetes name",
                    ns.value.escape_debug()
                ),
            ));
        }
        super::fields::weakening_problems(&mut out, at, &self.allow_weakening, &[]);
        out
    }

    fn guard(&self, _platform: &Platform, at: &At<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let env = self.environment.value.as_str();
        if env == "prod" && self.backup_retention_days.value < 14 {
            out.push(
                at.at(
                    self.backup_retention_days.start,
                    format!(
                        "prod databases keep backups at least 14 days; this asks for {}",
                        self.backup_retention_days.value
                    ),
                )
                .with_hint("set backupRetentionDays: 14 or more"),
            );
        }
        if env == "prod" && !self.multi_az.as_ref().is_some_and(|m| m.value) {
            out.push(
                at.at(
                    self.multi_az
                        .as_ref()
                        .map_or(self.environment.start, |m| m.start),
                    "prod databases run in several availability zones",
                )
                .with_hint("set multiAz: true"),
            );
        }
        if env == "dev" && self.size.value != Size::Small {
            out.push(
                at.at(self.size.start, "dev databases must be `small`")
                    .with_hint(
                        "use size: small in dev; larger sizes are for test, staging and prod",
                    ),
            );
        }
        if let Some(ns) = &self.namespace
            && super::fields::PLATFORM_NAMESPACES.contains(&ns.value.as_str())
        {
            out.push(at.at(
                ns.start,
                format!(
                    "namespace `{}` belongs to the platform; an app's credentials go to the app's namespace",
                    ns.value
                ),
            ));
        }
        out
    }

    fn route(&self) -> (Route, &'static str) {
        let large = matches!(self.size.value, Size::Large | Size::Xlarge);
        if self.environment.value == "prod" {
            (Route::PlatformAndSecurity, "it is for prod")
        } else if self.risk.value == Risk::High {
            (Route::PlatformAndSecurity, "its risk is high")
        } else if large {
            (Route::Platform, "its size is large")
        } else if self.risk.value == Risk::Access {
            (Route::Security, "its risk is access-related")
        } else {
            (Route::SelfServe, "it does not")
        }
    }
}

impl DatabaseRequest {
    /// What apply makes, in `contract` (the request's environment), the
    /// platform's defaults filled in and named.
    pub fn desired(&self, contract: &crate::Contract<'_>) -> DesiredDatabase {
        let database = self.database_name.value.clone();
        // The schema admits only names the contract takes.
        let secret_path = contract.database_secret_path(&database).unwrap_or_default();
        let app = k8s_name(&database);
        let namespace = self
            .namespace
            .as_ref()
            .map_or_else(|| app.clone(), |n| n.value.clone());
        let mut defaulted = Vec::new();
        if self.namespace.is_none() {
            defaulted.push(format!("namespace: {namespace} (the database's name)"));
        }
        let name = contract.request_database_external_secret_name(&app);
        DesiredDatabase {
            instance: self.instance.as_ref().map(|i| i.value.clone()),
            role: self.username.value.clone(),
            external_secret: Some(Delivery {
                target: name.clone(),
                name,
                namespace,
                remote_key: secret_path.clone(),
                keys: SECRET_KEYS.iter().map(|k| k.to_string()).collect(),
            }),
            secret_path,
            database,
            defaulted,
        }
    }
}
