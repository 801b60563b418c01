//! The IAM permissions a CI role needs in an environment, gathered in one
//! place from everything its runs call: each component's driver
//! ([`Driver::permissions`]: itself, the secrets store, its backend) for
//! each plane the role reaches ([`Role::reach`]), the zone that publishes
//! a component's host records, the resources and secrets of requests, and
//! the tag sweep. A build's names are derived for a probe build whose id
//! becomes `*`: the policy holds every build, past and future.
//!
//! [`Driver::permissions`]: gp_driver::Driver::permissions

use gp_core::iam::{Access, Grant, Reach, Role};
use gp_core::ownership::PROBES;
use gp_core::{BuildId, ComponentSpec, Contract, Deployment, Diagnostic, Mode, Plane, Platform};
use gp_driver::cloud::CloudResources;
use gp_driver::secrets::SecretStore;
use gp_driver::{DriverSet, ValidateCtx};

/// What the gathering reads beside the spec and the drivers.
pub struct IamSources<'a> {
    /// The secrets store every driver shares.
    pub store: &'a dyn SecretStore,
    /// The cloud requests' resources live in (`None`: no AWS in this
    /// build).
    pub cloud: Option<&'a dyn CloudResources>,
}

/// Everything `role` calls in `env`, merged into statements, with the
/// probe build's id turned into `*`.
pub fn role_permissions(
    platform: &Platform,
    drivers: &DriverSet,
    sources: &IamSources<'_>,
    env: &str,
    role: Role,
) -> Result<Vec<Grant>, Vec<Diagnostic>> {
    let (d, m, y, s) = PROBES[0];
    let probe = BuildId::new(d, m, y, s)
        .map_err(|e| vec![Diagnostic::file(&platform.path, e.to_string())])?;
    let contract_of = |deployment| {
        Contract::new(platform, env, deployment)
            .map_err(|e| vec![Diagnostic::file(&platform.path, e.to_string())])
    };
    let mut grants = Vec::new();
    let mut problems = Vec::new();
    for (reach, access) in role.reach() {
        let (deployment, plane, mode) = match reach {
            Reach::Foundational => (Deployment::Foundational, Plane::Foundational, None),
            Reach::Persistent => (
                Deployment::Persistent,
                Plane::Disposable,
                Some(Mode::Persistent),
            ),
            Reach::Builds => (
                Deployment::Ephemeral(probe),
                Plane::Disposable,
                Some(Mode::Ephemeral),
            ),
            Reach::Requests => {
                let contract = contract_of(Deployment::Persistent)?;
                grants.extend(request_permissions(platform, sources, &contract, *access));
                continue;
            }
            Reach::Sweep => {
                let contract = contract_of(Deployment::Ephemeral(probe))?;
                if let Some(sweep) = drivers.tag_sweep() {
                    grants.extend(sweep.permissions(&contract));
                }
                continue;
            }
        };
        let contract = contract_of(deployment)?;
        for c in platform
            .spec
            .components
            .iter()
            .filter(|c| c.plane.value == plane && mode.is_none_or(|m| c.runs_in(m)))
        {
            match of_component(platform, drivers, c, &contract, *access) {
                Ok(g) => grants.extend(g),
                Err(p) => problems.extend(p),
            }
            // Its host records go through the zone it needs.
            if !c.hosts.is_empty()
                && let Some(zone) = zone_of(platform, drivers, c)
            {
                match of_component(platform, drivers, zone, &contract, *access) {
                    Ok(g) => grants.extend(g),
                    Err(p) => problems.extend(p),
                }
            }
        }
    }
    if !problems.is_empty() {
        problems.dedup_by(|a, b| a.to_string() == b.to_string());
        return Err(problems);
    }
    let id = probe.to_string();
    let compact = id.replace('-', "");
    let any = |s: &str| s.replace(&id, "*").replace(&compact, "*");
    for g in &mut grants {
        g.resources = g.resources.iter().map(|r| any(r)).collect();
        if let Some(c) = &mut g.condition {
            for keys in c.values_mut() {
                for values in keys.values_mut() {
                    for v in values.iter_mut() {
                        *v = any(v);
                    }
                }
            }
        }
    }
    Ok(gp_core::iam::merge(grants))
}

/// One component's permissions in the deployment of `contract`.
fn of_component(
    platform: &Platform,
    drivers: &DriverSet,
    c: &ComponentSpec,
    contract: &Contract<'_>,
    access: Access,
) -> Result<Vec<Grant>, Vec<Diagnostic>> {
    let Some(driver) = drivers.get(&c.driver.value) else {
        return Ok(Vec::new());
    };
    let settings = c.settings_node();
    driver.permissions(
        &ValidateCtx {
            platform,
            component: c,
            settings: &settings,
        },
        contract,
        access,
    )
}

/// The zone among a component's needs that publishes its hosts.
fn zone_of<'p>(
    platform: &'p Platform,
    drivers: &DriverSet,
    c: &ComponentSpec,
) -> Option<&'p ComponentSpec> {
    c.need_refs().find_map(|(r, _)| {
        let dep = platform
            .spec
            .components
            .iter()
            .find(|x| x.name.value == r.component)?;
        drivers
            .get(&dep.driver.value)
            .and_then(|d| d.host_publisher())
            .map(|_| dep)
    })
}

/// Requests' resources (a bucket, secret or repository, through the
/// cloud) and a database request's credentials in the store, beside the
/// admin password of the instance it is made on.
fn request_permissions(
    platform: &Platform,
    sources: &IamSources<'_>,
    contract: &Contract<'_>,
    access: Access,
) -> Vec<Grant> {
    let mut out = Vec::new();
    if let Some(cloud) = sources.cloud {
        out.extend(cloud.permissions(contract, access));
    }
    let probe = "iamprobe";
    if let Ok(p) = contract.database_secret_path(probe) {
        out.extend(sources.store.permissions(&[p.replace(probe, "*")], access));
    }
    let admins: Vec<String> = platform
        .spec
        .components
        .iter()
        .filter(|c| c.driver.value == "postgres" && c.plane.value == Plane::Foundational)
        .map(|c| contract.component_secret_path(&c.name.value, "admin"))
        .collect();
    out.extend(sources.store.permissions(&admins, Access::Read));
    out
}
