use gp_core::{Contract, Deployment, Mode, Platform};

fn golden() -> Platform {
    Platform::load(&gp_test::example("golden-v1/goldenpath.yaml")).unwrap()
}

#[test]
fn persistent_dev_matches_the_design_table() {
    let p = golden();
    let c = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
    assert_eq!(c.name_prefix(), "goldenpath-dev");
    assert_eq!(c.cluster_name(), "goldenpath-dev-eks");
    assert_eq!(c.irsa_role_suffix(), "");
    assert_eq!(c.state_key(), "envs/dev/terraform.tfstate");
    assert_eq!(
        c.foundational_state_key("vpc"),
        "envs/dev-vpc/terraform.tfstate"
    );
    assert_eq!(c.host_suffix(), "dev.goldenpathidp.io");
    assert_eq!(c.dns_owner_id(), "goldenpath-dev");
    assert_eq!(
        c.database_secret_path("backstage").unwrap(),
        "goldenpath/dev/backstage/postgres"
    );
    assert_eq!(
        c.build_database_secret_path("backstage").unwrap(),
        "goldenpath/dev/backstage/postgres"
    );
    let tags: Vec<(String, String)> = c.tags().into_iter().collect();
    assert_eq!(
        tags,
        [
            ("Environment", "dev"),
            ("Lifecycle", "persistent"),
            ("ManagedBy", "goldenpath"),
            ("Owner", "platform-team"),
            ("Project", "goldenpath-idp"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
}

#[test]
fn build_23_01_26_01_matches_the_design_table() {
    let p = golden();
    let b = "23-01-26-01".parse().unwrap();
    let c = Contract::new(&p, "dev", Deployment::Ephemeral(b)).unwrap();
    assert_eq!(c.name_prefix(), "goldenpath-dev-23-01-26-01");
    assert_eq!(c.cluster_name(), "goldenpath-dev-eks-23-01-26-01");
    assert_eq!(c.irsa_role_suffix(), "-23-01-26-01");
    assert_eq!(
        c.state_key(),
        "envs/dev/builds/23-01-26-01/terraform.tfstate"
    );
    // Foundational state keys are never per build.
    assert_eq!(
        c.foundational_state_key("vpc"),
        "envs/dev-vpc/terraform.tfstate"
    );
    assert_eq!(c.host_suffix(), "b-23-01-26-01.dev.goldenpathidp.io");
    assert_eq!(c.dns_owner_id(), "goldenpath-dev-23-01-26-01");
    // A database on the foundational instance keeps its persistent path;
    // a per-build database gets the build's.
    assert_eq!(
        c.database_secret_path("backstage").unwrap(),
        "goldenpath/dev/backstage/postgres"
    );
    assert_eq!(
        c.build_database_secret_path("backstage").unwrap(),
        "goldenpath/dev/builds/23-01-26-01/backstage/postgres"
    );
    assert_eq!(
        c.build_database_name("backstage").unwrap(),
        "backstage_b23012601"
    );
    assert_eq!(
        c.component_secret_path("rds", "admin"),
        "goldenpath/dev/rds/admin"
    );
    let tags = c.tags();
    assert_eq!(tags["Lifecycle"], "ephemeral");
    assert_eq!(tags["BuildId"], "23-01-26-01");
    assert_eq!(tags["Project"], "goldenpath-idp");
    assert_eq!(tags["ManagedBy"], "goldenpath");
    assert_eq!(tags.len(), 6);
    assert_eq!(
        c.hostname("backstage", gp_core::RecordType::A).unwrap(),
        "backstage.b-23-01-26-01.dev.goldenpathidp.io"
    );
    assert_eq!(
        c.txt_owner_name(
            "backstage.b-23-01-26-01.dev.goldenpathidp.io",
            gp_core::RecordType::A
        ),
        "a-backstage.b-23-01-26-01.dev.goldenpathidp.io"
    );
}

#[test]
fn prod_drops_the_env_label() {
    let p = golden();
    let c = Contract::new(&p, "prod", Deployment::Persistent).unwrap();
    assert_eq!(c.host_suffix(), "goldenpathidp.io");
    let b = Contract::new(
        &p,
        "prod",
        Deployment::Ephemeral("01-02-26-03".parse().unwrap()),
    )
    .unwrap();
    assert_eq!(b.host_suffix(), "b-01-02-26-03.prod.goldenpathidp.io");
}

#[test]
fn the_view_lists_hosts_of_this_deployment_and_persistent_references() {
    let p = golden();
    let c = Contract::new(
        &p,
        "dev",
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    )
    .unwrap();
    let view = c.view().unwrap();
    let hosts: Vec<(&str, Mode)> = view
        .hosts
        .iter()
        .map(|h| (h.fqdn.as_str(), h.scope))
        .collect();
    assert!(hosts.contains(&(
        "backstage.b-23-01-26-01.dev.goldenpathidp.io",
        Mode::Ephemeral
    )));
    assert!(
        hosts.contains(&("keycloak.dev.goldenpathidp.io", Mode::Persistent)),
        "{hosts:?}"
    );
    assert_eq!(
        view.database_secrets["keycloak"],
        "goldenpath/dev/keycloak/postgres"
    );
}

#[test]
fn unknown_environments_are_named() {
    let p = golden();
    let err = Contract::new(&p, "qa", Deployment::Persistent).unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment `qa` is not declared in the spec (declared: dev, test, staging, prod)"
    );
}

#[test]
fn the_local_example_has_a_contract_too() {
    let p = Platform::load(&gp_test::example("local/goldenpath.yaml")).unwrap();
    let c = Contract::new(
        &p,
        "dev",
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    )
    .unwrap();
    assert_eq!(c.host_suffix(), "b-23-01-26-01.dev.goldenpath.test");
    c.view().unwrap();
}

fn with_state_keys(keys: &str) -> Result<Platform, gp_core::InvalidInput> {
    Platform::from_source(
        std::path::Path::new("goldenpath.yaml"),
        &format!(
            "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: idp
prefix: gp
domain: example.io
owner: team
stateKeys:
{keys}
environments:
  dev: {{}}
  prod: {{}}
components:
  - name: vpc
    plane: foundational
    tier: 0
    driver: exec
    settings: {{ apply: [\"true\"] }}
"
        ),
    )
}

#[test]
fn state_keys_follow_the_spec_templates() {
    let p = with_state_keys(
        "  build: \"{project}/{env}/b/{build}.tfstate\"\n  persistent: \"{project}/{env}/main.tfstate\"\n  foundational: \"{prefix}/{env}/{component}.tfstate\"",
    )
    .unwrap();
    let b = "23-01-26-01".parse().unwrap();
    let build = Contract::new(&p, "prod", Deployment::Ephemeral(b)).unwrap();
    assert_eq!(build.state_key(), "idp/prod/b/23-01-26-01.tfstate");
    assert_eq!(build.foundational_state_key("vpc"), "gp/prod/vpc.tfstate");
    let persistent = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
    assert_eq!(persistent.state_key(), "idp/dev/main.tfstate");
    // Unset templates keep the defaults.
    let p = with_state_keys("  persistent: \"state/{env}.tfstate\"").unwrap();
    let build = Contract::new(&p, "dev", Deployment::Ephemeral(b)).unwrap();
    assert_eq!(
        build.state_key(),
        "envs/dev/builds/23-01-26-01/terraform.tfstate"
    );
}

#[test]
fn a_state_key_template_that_could_collide_or_escape_is_refused_at_its_position() {
    for (keys, says) in [
        (
            "  build: \"envs/{env}/terraform.tfstate\"",
            "must hold {build}",
        ),
        (
            "  persistent: \"envs/{build}/{env}.tfstate\"",
            "only a build's key has",
        ),
        (
            "  foundational: \"envs/{env}/f.tfstate\"",
            "must hold {component}",
        ),
        ("  build: \"builds/{build}.tfstate\"", "must hold {env}"),
        ("  build: \"../{env}/{build}\"", "relative path"),
        ("  build: \"/{env}/{build}\"", "relative path"),
        ("  build: \"{env}//{build}\"", "relative path"),
        ("  build: \"{env}/{build}/{owner}\"", "names `{owner}`"),
        ("  build: \"{env}/{build} x\"", "holds ` `"),
        (
            "  persistent: \"{env}/vpc.tfstate\"\n  foundational: \"{env}/{component}.tfstate\"",
            "would share the state key `dev/vpc.tfstate`",
        ),
    ] {
        let e = with_state_keys(keys)
            .err()
            .unwrap_or_else(|| panic!("{keys}"));
        let text = e.to_string();
        assert!(text.contains(says), "{keys}: {text}");
        assert!(text.contains("goldenpath.yaml:"), "{text}");
        assert!(
            text.contains("stateKeys") || text.contains("share"),
            "{text}"
        );
    }
    // Positioned at the template (line 8, after `stateKeys:` on line 7).
    let e = with_state_keys("  build: \"envs/{env}/x\"").err().unwrap();
    assert!(e.to_string().contains("goldenpath.yaml:8:"), "{e}");
}
