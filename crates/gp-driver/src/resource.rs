//! Outputs, journalled resources and the actions taken on them.

use super::*;

/// Output values of a component: host, port, secret path, cluster name, ...
pub type Outputs = BTreeMap<String, serde_json::Value>;

/// Everything a component publishes to its dependents: its own outputs and
/// those of the resources within it (e.g. each database of a database
/// instance, referenced as `rds/backstage`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentOutputs {
    /// `${component.key}` values.
    #[serde(default)]
    pub values: Outputs,
    /// `${component/resource.key}` values, by resource name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, Outputs>,
}

impl ComponentOutputs {
    /// Looks up `key` on the component or on one of its resources.
    pub fn get(&self, resource: Option<&str>, key: &str) -> Option<&serde_json::Value> {
        match resource {
            None => self.values.get(key),
            Some(r) => self.resources.get(r).and_then(|o| o.get(key)),
        }
    }
}

/// A resource a driver created or adopted, as journalled: enough to find
/// and destroy it later even if the spec has changed since. Never secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRef {
    /// What kind: `database`, `role`, `secret`, `record`, `state`, `exec`...
    pub kind: String,
    /// Its identity within that kind.
    pub id: String,
    /// Driver-specific, non-secret facts needed to destroy it.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl ResourceRef {
    /// A resource with no extra data.
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            id: id.into(),
            data: serde_json::Value::Null,
        }
    }

    /// Adds destroy data.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }

    /// Marks an adopted resource as the deployment's own from now on: a
    /// build's state found at the build's own key is the build's, and its
    /// teardown removes it. Honoured by teardown for ephemeral builds only.
    pub fn claimed(mut self) -> Self {
        match &mut self.data {
            serde_json::Value::Object(m) => {
                m.insert("claimed".into(), serde_json::Value::Bool(true));
            }
            _ => self.data = serde_json::json!({ "claimed": true }),
        }
        self
    }

    /// Whether [`Self::claimed`] marked it.
    pub fn is_claimed(&self) -> bool {
        self.data.get("claimed").and_then(|v| v.as_bool()) == Some(true)
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

/// What an action does to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Make it; teardown will remove it.
    Create,
    /// Take over something that already exists; teardown leaves it
    /// (unless the resource is [`ResourceRef::claimed`] in a build).
    Adopt,
    /// Change something this deployment created or adopted.
    Update,
    /// Remove it.
    Destroy,
}

impl Action {
    /// The journal's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Adopt => "adopt",
            Action::Update => "update",
            Action::Destroy => "destroy",
        }
    }

    /// Parses [`Action::as_str`].
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "create" => Action::Create,
            "adopt" => Action::Adopt,
            "update" => Action::Update,
            "destroy" => Action::Destroy,
            _ => return None,
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
