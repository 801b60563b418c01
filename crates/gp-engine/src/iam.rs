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
        // Each told once, though asked for each deployment it reaches.
        let mut seen = std::collections::BTreeSet::new();
        problems.retain(|p| seen.insert(p.to_string()));
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use gp_core::iam::Access;
    use gp_driver::secrets::{SecretMeta, SecretsError, StoredSecret};
    use gp_driver::{
        Applied, ComponentCtx, Driver, DriverError, Existence, HostPublisher, HostRecords,
        Observation, RecordPlan, ResourceRef, Validated,
    };
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    /// Declares, for each component, one action per access on a name in
    /// its deployment's secret scope, with the deployment's build id in a
    /// condition too; `fail: true` in its settings makes it refuse.
    /// As a zone (`zone`), with `ahead` it notes the outputs of each zone
    /// it is asked to read ahead (`asked`) and hands them back as the read
    /// (the engine's read-ahead tests); without, it reads nothing ahead.
    pub(crate) struct Probe {
        pub(crate) name: &'static str,
        pub(crate) zone: bool,
        pub(crate) ahead: bool,
        pub(crate) asked: std::sync::Mutex<Vec<gp_driver::Outputs>>,
    }

    impl Probe {
        /// A probe that reads nothing ahead.
        pub(crate) fn new(name: &'static str, zone: bool) -> Self {
            Self {
                name,
                zone,
                ahead: false,
                asked: Default::default(),
            }
        }
    }

    impl Driver for Probe {
        fn name(&self) -> &'static str {
            self.name
        }
        fn validate(&self, _: &ValidateCtx<'_>) -> Result<Validated, Vec<Diagnostic>> {
            Ok(Validated {
                outputs: None,
                resources: Vec::new(),
                resource_outputs: None,
                owned: Vec::new(),
            })
        }
        fn observe(&self, _: &ComponentCtx<'_>) -> Result<Observation, DriverError> {
            Ok(Observation::absent())
        }
        fn apply(&self, _: &ComponentCtx<'_>) -> Result<Applied, DriverError> {
            Err(DriverError::permanent("never applied here"))
        }
        fn destroy(&self, _: &ComponentCtx<'_>, _: &ResourceRef) -> Result<(), DriverError> {
            Ok(())
        }
        fn resource_kinds(&self) -> &'static [&'static str] {
            &["probe"]
        }
        fn exists(&self, _: &ComponentCtx<'_>, _: &ResourceRef) -> Result<Existence, DriverError> {
            Ok(Existence::Gone)
        }
        fn permissions(
            &self,
            ctx: &ValidateCtx<'_>,
            contract: &Contract<'_>,
            access: Access,
        ) -> Result<Vec<Grant>, Vec<Diagnostic>> {
            let name = &ctx.component.name.value;
            if ctx.settings.get("fail").is_some() {
                return Err(vec![Diagnostic::file(
                    &ctx.platform.path,
                    format!("{name} cannot say"),
                )]);
            }
            let id = contract
                .build_id()
                .map_or_else(|| "none".to_string(), |b| b.to_string().replace('-', ""));
            Ok(vec![
                Grant::new(
                    "Probe",
                    [format!("probe:{access:?}")],
                    [format!("{}{name}", contract.secret_scope())],
                )
                .when("StringEquals", "probe:Build", vec![id]),
            ])
        }
        fn host_publisher(&self) -> Option<&dyn HostPublisher> {
            self.zone.then_some(self as &dyn HostPublisher)
        }
    }

    impl HostPublisher for Probe {
        fn observe_hosts(
            &self,
            _: &ComponentCtx<'_>,
            _: &HostRecords,
        ) -> Result<Observation, DriverError> {
            Err(DriverError::permanent("not here"))
        }
        fn read_ahead(&self, zone: &gp_driver::Outputs) -> Option<gp_driver::ZoneRead> {
            if !self.ahead {
                return None;
            }
            self.asked.lock().ok()?.push(zone.clone());
            Some(gp_driver::ZoneRead::new(zone.clone()))
        }
        fn publish_hosts(
            &self,
            _: &ComponentCtx<'_>,
            _: &HostRecords,
        ) -> Result<Applied, DriverError> {
            Err(DriverError::permanent("not here"))
        }
        fn plan_hosts(
            &self,
            _: &ComponentCtx<'_>,
            _: &HostRecords,
        ) -> Result<Vec<RecordPlan>, DriverError> {
            Err(DriverError::permanent("not here"))
        }
    }

    /// A store that grants `store:{access}` on the paths it is asked for.
    struct Store;

    impl SecretStore for Store {
        fn get(&self, _: &str) -> Result<Option<StoredSecret>, SecretsError> {
            Err(SecretsError::Unavailable("not here".into()))
        }
        fn put(
            &self,
            _: &str,
            _: &gp_core::Secret,
            _: &BTreeMap<String, String>,
        ) -> Result<bool, SecretsError> {
            Err(SecretsError::Unavailable("not here".into()))
        }
        fn delete(&self, _: &str) -> Result<bool, SecretsError> {
            Err(SecretsError::Unavailable("not here".into()))
        }
        fn list(&self, _: Option<&str>) -> Result<Vec<SecretMeta>, SecretsError> {
            Err(SecretsError::Unavailable("not here".into()))
        }
        fn describe(&self) -> String {
            "probe store".into()
        }
        fn permissions(&self, paths: &[String], access: Access) -> Vec<Grant> {
            vec![Grant::new(
                "Store",
                [format!("store:{access:?}")],
                paths.to_vec(),
            )]
        }
    }

    /// A cloud that grants `cloud:{access}` on the environment's scope.
    struct Cloud;

    impl CloudResources for Cloud {
        fn plan(
            &self,
            _: &gp_core::request::Desired,
        ) -> Result<gp_driver::cloud::CloudPlan, DriverError> {
            Err(DriverError::permanent("not here"))
        }
        fn apply(
            &self,
            _: &gp_core::request::Desired,
            _: &str,
            _: &mut dyn FnMut(&str, bool),
        ) -> Result<gp_driver::cloud::CloudApplied, DriverError> {
            Err(DriverError::permanent("not here"))
        }
        fn permissions(&self, contract: &Contract<'_>, access: Access) -> Vec<Grant> {
            vec![Grant::new(
                "Cloud",
                [format!("cloud:{access:?}")],
                [format!("{}*", contract.secret_scope())],
            )]
        }
    }

    /// A sweep that grants `sweep:Delete` on the build's scope.
    struct Sweep;

    impl gp_driver::TagSweep for Sweep {
        fn tagged(
            &self,
            _: &BTreeMap<String, String>,
        ) -> Result<Vec<gp_driver::TaggedResource>, DriverError> {
            Ok(Vec::new())
        }
        fn delete(&self, _: &gp_driver::TaggedResource) -> Result<(), DriverError> {
            Ok(())
        }
        fn permissions(&self, contract: &Contract<'_>) -> Vec<Grant> {
            vec![Grant::new(
                "Sweep",
                ["sweep:Delete"],
                [format!("{}*", contract.secret_scope())],
            )]
        }
    }

    const SPEC: &str = "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: p\nprefix: p\ndomain: example.io\nowner: t\nenvironments:\n  dev: {}\ncomponents:\n  - { name: zone, plane: foundational, tier: 0, driver: zoned, settings: {} }\n  - { name: rds, plane: foundational, tier: 0, driver: postgres, settings: {} }\n  - { name: web, plane: disposable, tier: 1, driver: probe, needs: [zone], hosts: [{ name: www, target: 10.0.0.1 }], settings: {} }\n  - { name: api, plane: disposable, tier: 1, driver: probe, modes: [persistent], settings: {} }\n  - { name: tool, plane: disposable, tier: 1, driver: nodriver, settings: {} }\n";

    fn platform(extra: &str) -> Platform {
        Platform::from_source(
            std::path::Path::new("goldenpath.yaml"),
            &format!("{SPEC}{extra}"),
        )
        .unwrap()
    }

    fn drivers() -> DriverSet {
        DriverSet::new()
            .with(Arc::new(Probe::new("probe", false)))
            .with(Arc::new(Probe::new("zoned", true)))
            .with_tag_sweep(Arc::new(Sweep))
    }

    /// Every (action, resource) of a role, and every condition value.
    fn of(
        p: &Platform,
        d: &DriverSet,
        cloud: bool,
        role: Role,
    ) -> (BTreeSet<String>, BTreeSet<String>) {
        let sources = IamSources {
            store: &Store,
            cloud: if cloud { Some(&Cloud) } else { None },
        };
        let g = role_permissions(p, d, &sources, "dev", role).unwrap();
        let pairs = g
            .iter()
            .flat_map(|g| g.pairs().map(|(a, r)| format!("{a} {r}")))
            .collect();
        let values = g
            .iter()
            .flat_map(|g| g.condition.iter().flatten())
            .flat_map(|(_, keys)| keys.values().flatten().cloned())
            .collect();
        (pairs, values)
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_role_gathers_the_planes_it_reaches_with_their_access() {
        let p = platform("");
        let d = drivers();
        let (plan, _) = of(&p, &d, true, Role::Plan);
        assert_eq!(
            plan,
            set(&[
                // The foundational plane (the zone; rds has no driver here).
                "probe:Read p/dev/zone",
                // The persistent deployment: web, its zone, api.
                "probe:Read p/dev/web",
                "probe:Read p/dev/api",
                // Every build: web (api is persistent only) and its zone.
                "probe:Read p/dev/builds/*/web",
                "probe:Read p/dev/builds/*/zone",
            ])
        );
        let (apply, _) = of(&p, &d, true, Role::Apply);
        assert!(apply.contains("probe:Write p/dev/zone"), "{apply:?}");
        assert!(
            apply.contains("probe:Write p/dev/builds/*/web"),
            "{apply:?}"
        );
        let (teardown, _) = of(&p, &d, true, Role::Teardown);
        assert_eq!(
            teardown,
            set(&[
                "probe:Delete p/dev/builds/*/web",
                "probe:Delete p/dev/builds/*/zone",
                "sweep:Delete p/dev/builds/*/*",
            ])
        );
        assert_eq!(of(&p, &d, true, Role::Reap).0, teardown);
        let (requests, _) = of(&p, &d, true, Role::Requests);
        assert_eq!(
            requests,
            set(&[
                "cloud:Read p/dev/*",
                "cloud:Write p/dev/*",
                // A database request's credentials, any app.
                "store:Read p/dev/*/postgres",
                "store:Write p/dev/*/postgres",
                // The admin password of the instance it is made on: read.
                "store:Read p/dev/rds/admin",
            ])
        );
        // Without AWS in the build, no cloud; without a sweep, none.
        let (requests, _) = of(&p, &d, false, Role::Requests);
        assert!(!requests.iter().any(|r| r.starts_with("cloud:")));
        let bare = DriverSet::new().with(Arc::new(Probe::new("probe", false)));
        let (teardown, _) = of(&p, &bare, true, Role::Teardown);
        assert_eq!(teardown, set(&["probe:Delete p/dev/builds/*/web"]));
    }

    #[test]
    fn the_probe_builds_id_becomes_a_star_in_names_and_conditions() {
        let p = platform("");
        let (pairs, values) = of(&p, &drivers(), true, Role::Apply);
        let (d, m, y, s) = PROBES[0];
        let id = BuildId::new(d, m, y, s).unwrap().to_string();
        let compact = id.replace('-', "");
        for text in pairs.iter().chain(&values) {
            assert!(!text.contains(&id) && !text.contains(&compact), "{text}");
        }
        // The build's condition value (its compact id) is `*`; the
        // persistent deployment's stays.
        assert_eq!(values, set(&["*", "none"]));
    }

    #[test]
    fn a_component_that_cannot_say_fails_the_role_once() {
        // Disposable: asked for the persistent deployment and for builds,
        // told once.
        let p = platform(
            "  - { name: odd, plane: disposable, tier: 1, driver: probe, settings: { fail: true } }\n  - { name: odder, plane: disposable, tier: 1, driver: probe, settings: { fail: true } }\n",
        );
        let sources = IamSources {
            store: &Store,
            cloud: None,
        };
        let e = role_permissions(&p, &drivers(), &sources, "dev", Role::Plan).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].to_string().contains("odd cannot say"), "{e:?}");
        assert!(e[1].to_string().contains("odder cannot say"), "{e:?}");
        // A role that never reaches it is not stopped by it.
        assert!(role_permissions(&p, &drivers(), &sources, "dev", Role::Requests).is_ok());
        // An unknown environment is an error of the spec.
        assert!(role_permissions(&p, &drivers(), &sources, "nowhere", Role::Plan).is_err());
    }
}
