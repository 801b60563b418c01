//! Small vocabulary types: planes, tiers, modes, deployments.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::build_id::BuildId;

use std::net::IpAddr;

/// Which plane a component lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Plane {
    /// Long-lived: network, the database instance, the DNS zone. Deployed
    /// before any deployment needs it; never created or destroyed by one.
    Foundational,
    /// Deployed per environment (persistent) and per build (ephemeral).
    Disposable,
}

impl fmt::Display for Plane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Plane::Foundational => "foundational",
            Plane::Disposable => "disposable",
        })
    }
}

/// The kind of deployment a disposable component may run in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The environment's long-lived deployment.
    Persistent,
    /// A per-build deployment.
    Ephemeral,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Persistent => "persistent",
            Mode::Ephemeral => "ephemeral",
        })
    }
}

/// A component's tier: 0 cluster viability, 1 delivery plane, 1.5
/// observability, 2 platform experience (needs the database), 3 production
/// identity. Stored as tenths so it orders and hashes exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tier(u8);

impl Tier {
    /// Every tier, lowest first.
    pub const ALL: [Tier; 5] = [Tier(0), Tier(10), Tier(15), Tier(20), Tier(30)];
    /// The highest tier.
    pub const MAX: Tier = Tier(30);

    /// Parses `0`, `1`, `1.5`, `2` or `3`.
    pub fn from_f64(v: f64) -> Option<Tier> {
        Self::ALL
            .into_iter()
            .find(|t| (t.as_f64() - v).abs() < 1e-9)
    }

    /// The tier as a number.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 10.0
    }

    /// What the tier is for.
    pub fn meaning(self) -> &'static str {
        match self.0 {
            0 => "cluster viability",
            10 => "delivery plane",
            15 => "observability",
            20 => "platform experience",
            _ => "production identity",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(10) {
            write!(f, "{}", self.0 / 10)
        } else {
            write!(f, "{}.{}", self.0 / 10, self.0 % 10)
        }
    }
}

impl Serialize for Tier {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_multiple_of(10) {
            s.serialize_u8(self.0 / 10)
        } else {
            s.serialize_f64(self.as_f64())
        }
    }
}

impl<'de> Deserialize<'de> for Tier {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Tier;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tier: 0, 1, 1.5, 2 or 3")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Tier, E> {
                Tier::from_f64(v).ok_or_else(|| {
                    E::custom(format!(
                        "tier {v} does not exist: expected 0, 1, 1.5, 2 or 3"
                    ))
                })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Tier, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Tier, E> {
                self.visit_f64(v as f64)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Tier {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Tier".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "0 cluster viability, 1 delivery plane, 1.5 observability, 2 platform experience, 3 production identity",
            "enum": [0, 1, 1.5, 2, 3]
        })
    }
}

/// One deployment of the disposable plane in an environment, or the
/// foundational plane itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Deployment {
    /// The environment's foundational plane (network, database, zone).
    Foundational,
    /// The persistent deployment (no build id).
    Persistent,
    /// An ephemeral deployment for one build.
    Ephemeral(BuildId),
}

impl Deployment {
    /// The build id, for an ephemeral deployment.
    pub fn build_id(&self) -> Option<BuildId> {
        match self {
            Deployment::Ephemeral(b) => Some(*b),
            _ => None,
        }
    }

    /// The mode a disposable component needs to run here; `None` for the
    /// foundational plane.
    pub fn mode(&self) -> Option<Mode> {
        match self {
            Deployment::Foundational => None,
            Deployment::Persistent => Some(Mode::Persistent),
            Deployment::Ephemeral(_) => Some(Mode::Ephemeral),
        }
    }

    /// The registry's key for this deployment within an environment:
    /// `foundational`, `persistent` or the build id.
    pub fn key(&self) -> String {
        match self {
            Deployment::Foundational => "foundational".into(),
            Deployment::Persistent => "persistent".into(),
            Deployment::Ephemeral(b) => b.to_string(),
        }
    }
}

impl Deployment {
    /// How a command line selects it, with a leading space:
    /// ` --foundational`, ` --persistent`, ` --build-id B`. Every "run this
    /// next" hint builds its flags here.
    pub fn flags(&self) -> String {
        match self {
            Deployment::Foundational => " --foundational".into(),
            Deployment::Persistent => " --persistent".into(),
            Deployment::Ephemeral(b) => format!(" --build-id {b}"),
        }
    }

    /// The deployment of a registry key (`foundational`, `persistent`, a
    /// build id); `None` for anything else.
    pub fn from_key(key: &str) -> Option<Deployment> {
        match key {
            "foundational" => Some(Deployment::Foundational),
            "persistent" => Some(Deployment::Persistent),
            other => other.parse().ok().map(Deployment::Ephemeral),
        }
    }

    /// [`Deployment::flags`] of a registry key (`foundational`,
    /// `persistent`, a build id); a key that is none of them (an imported
    /// history's) selects nothing.
    pub fn flags_of_key(key: &str) -> String {
        match key {
            "foundational" => Deployment::Foundational.flags(),
            "persistent" => Deployment::Persistent.flags(),
            other => match other.parse() {
                Ok(b) => Deployment::Ephemeral(b).flags(),
                Err(_) => String::new(),
            },
        }
    }
}

impl fmt::Display for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deployment::Foundational => f.write_str("foundational plane"),
            Deployment::Persistent => f.write_str("persistent deployment"),
            Deployment::Ephemeral(b) => write!(f, "build {b}"),
        }
    }
}

/// A DNS record type goldenpath manages.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Alias to another name.
    Cname,
}

impl RecordType {
    /// The type a target implies: an IPv4 → A, IPv6 → AAAA, a name → CNAME.
    pub fn for_target(target: &str) -> RecordType {
        match target.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => RecordType::A,
            Ok(IpAddr::V6(_)) => RecordType::Aaaa,
            Err(_) => RecordType::Cname,
        }
    }

    /// The type written as `A`, `AAAA` or `CNAME` (anything else reads as
    /// CNAME).
    pub fn for_type_name(name: &str) -> RecordType {
        match name {
            "A" => RecordType::A,
            "AAAA" => RecordType::Aaaa,
            _ => RecordType::Cname,
        }
    }

    /// Lower-case, as ExternalDNS writes it into TXT names.
    pub fn lower(self) -> &'static str {
        match self {
            RecordType::A => "a",
            RecordType::Aaaa => "aaaa",
            RecordType::Cname => "cname",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_round_trip_and_order() {
        assert_eq!(Tier::from_f64(1.5).unwrap().to_string(), "1.5");
        assert_eq!(Tier::from_f64(2.0).unwrap().to_string(), "2");
        assert!(Tier::from_f64(1.5).unwrap() < Tier::from_f64(2.0).unwrap());
        assert!(Tier::from_f64(2.5).is_none());
        assert_eq!(
            serde_json::to_string(&Tier::from_f64(1.5).unwrap()).unwrap(),
            "1.5"
        );
        assert_eq!(serde_json::to_string(&Tier::MAX).unwrap(), "3");
    }

    #[test]
    fn deployment_keys() {
        assert_eq!(Deployment::Foundational.key(), "foundational");
        assert_eq!(Deployment::Persistent.key(), "persistent");
        assert_eq!(
            Deployment::Ephemeral("23-01-26-01".parse().unwrap()).key(),
            "23-01-26-01"
        );
    }
}
