//! What a driver observes and applies: presence, drift, counts, intent.

use super::*;

/// Is a resource there?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// Nothing of it exists.
    Absent,
    /// It exists.
    Present,
    /// Some of it exists (an interrupted apply).
    Partial,
}

/// What a driver sees of a component.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// Whether it exists.
    pub presence: Presence,
    /// How the live state differs from the desired state; empty when it
    /// matches.
    pub drift: Vec<String>,
    /// Live outputs, when the driver can read them.
    pub outputs: Option<ComponentOutputs>,
    /// Counts of a pending change, when the driver can tell (Terraform).
    pub counts: Option<Counts>,
}

impl Observation {
    /// Nothing there.
    pub fn absent() -> Self {
        Self {
            presence: Presence::Absent,
            drift: Vec::new(),
            outputs: None,
            counts: None,
        }
    }
    /// There, matching.
    pub fn present(outputs: Option<ComponentOutputs>) -> Self {
        Self {
            presence: Presence::Present,
            drift: Vec::new(),
            outputs,
            counts: None,
        }
    }
}

/// Resources added, changed and destroyed by an action.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Counts {
    /// Added.
    pub added: i64,
    /// Changed.
    pub changed: i64,
    /// Destroyed.
    pub destroyed: i64,
}

/// The result of an apply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// What the component now publishes.
    pub outputs: ComponentOutputs,
    /// What changed.
    pub counts: Counts,
}

/// Whether a journalled resource still exists (the orphan check).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Existence {
    /// It exists.
    Exists,
    /// It is gone.
    Gone,
    /// The driver cannot tell (e.g. an exec component without a check).
    Unknown,
}

/// What the engine decided for a component, which the driver journals its
/// main resource as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Nothing of it exists yet.
    Create,
    /// It exists but this deployment did not create it.
    Adopt,
    /// This deployment created or adopted it before.
    Update,
}
