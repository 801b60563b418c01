//! Everything the contract derives for one deployment, as `goldenpath
//! contract` shows it.

use super::*;

impl Contract<'_> {
    /// The full view, as `goldenpath contract` prints it. Fails on the first
    /// host that breaks a limit.
    pub fn view(&self) -> Result<ContractView, ContractError> {
        let platform = self.platform;
        let mut foundational_state_keys = BTreeMap::new();
        let mut database_secrets = BTreeMap::new();
        let mut hosts = Vec::new();
        for c in &platform.spec.components {
            if c.plane.value == Plane::Foundational && c.driver.value == "terraform" {
                foundational_state_keys.insert(
                    c.name.value.clone(),
                    self.foundational_state_key(&c.name.value),
                );
            }
            for (r, _) in c.need_refs() {
                let Some(target) = platform.component(&r.component) else {
                    continue;
                };
                let Some(app) = &r.resource else { continue };
                if target.driver.value != "postgres" {
                    continue;
                }
                let path = match target.plane.value {
                    Plane::Foundational => self.database_secret_path(app)?,
                    Plane::Disposable => self.build_database_secret_path(app)?,
                };
                database_secrets.insert(app.clone(), path);
            }
            let runs_here = match (c.plane.value, self.deployment.mode()) {
                (Plane::Disposable, Some(mode)) => c.runs_in(mode),
                _ => false,
            };
            for h in &c.hosts {
                let record = h.record_type();
                if runs_here {
                    let fqdn = self.hostname(&h.name.value, record)?;
                    hosts.push(HostView {
                        component: c.name.value.clone(),
                        name: h.name.value.clone(),
                        txt_owner_name: self.txt_owner_name(&fqdn, record),
                        record_type: record,
                        fqdn,
                        scope: self.lifecycle(),
                    });
                } else if c.plane.value == Plane::Disposable && c.runs_in(Mode::Persistent) {
                    let fqdn = self.persistent_hostname(&h.name.value)?;
                    hosts.push(HostView {
                        component: c.name.value.clone(),
                        name: h.name.value.clone(),
                        txt_owner_name: self.txt_owner_name(&fqdn, record),
                        record_type: record,
                        fqdn,
                        scope: Mode::Persistent,
                    });
                }
            }
        }
        Ok(ContractView {
            schema_version: 1,
            env: self.env.clone(),
            deployment: match self.deployment {
                Deployment::Ephemeral(_) => "ephemeral".into(),
                Deployment::Persistent => "persistent".into(),
                Deployment::Foundational => "foundational".into(),
            },
            build_id: self.build_id().map(|b| b.to_string()),
            lifecycle: self.lifecycle().to_string(),
            name_prefix: self.name_prefix(),
            cluster_name: self.cluster_name(),
            irsa_role_suffix: self.irsa_role_suffix(),
            state_key: self.state_key(),
            foundational_state_keys,
            host_suffix: self.host_suffix(),
            dns_owner_id: self.dns_owner_id(),
            zone: platform.zone().to_string(),
            txt_prefix: platform.spec.dns.txt_prefix.clone(),
            database_secrets,
            tags: self.tags(),
            hosts,
        })
    }
}

/// Everything the contract derives for one deployment; the JSON shape of
/// `goldenpath contract --output json` (`schemaVersion` 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContractView {
    /// Version of this JSON shape.
    pub schema_version: u32,
    /// The environment.
    pub env: String,
    /// `persistent`, `ephemeral` or `foundational`.
    pub deployment: String,
    /// The build id of an ephemeral deployment.
    pub build_id: Option<String>,
    /// `persistent` or `ephemeral`.
    pub lifecycle: String,
    /// Name prefix.
    pub name_prefix: String,
    /// Cluster name.
    pub cluster_name: String,
    /// IRSA role suffix.
    pub irsa_role_suffix: String,
    /// Terraform state key of the deployment.
    pub state_key: String,
    /// State keys of foundational Terraform components.
    pub foundational_state_keys: BTreeMap<String, String>,
    /// Host suffix.
    pub host_suffix: String,
    /// DNS owner id (ExternalDNS `txtOwnerId`).
    pub dns_owner_id: String,
    /// The zone apex.
    pub zone: String,
    /// ExternalDNS TXT prefix.
    pub txt_prefix: String,
    /// Database secret paths by app.
    pub database_secrets: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Hostnames of components that run here, and persistent hosts a build
    /// refers to.
    pub hosts: Vec<HostView>,
}

/// One hostname in a [`ContractView`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostView {
    /// The component serving it.
    pub component: String,
    /// The name relative to the suffix.
    pub name: String,
    /// The full name.
    pub fqdn: String,
    /// The record type.
    pub record_type: RecordType,
    /// The ExternalDNS ownership TXT name.
    pub txt_owner_name: String,
    /// `ephemeral` for this build's own hosts; `persistent` for a
    /// persistent deployment's hosts (and those a build refers to).
    pub scope: Mode,
}
