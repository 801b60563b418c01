use std::path::Path;

use gp_core::{Contract, ContractError, Deployment, Platform, RecordType};

fn platform(txt_prefix: &str) -> Platform {
    let text = format!(
        "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: gp
domain: example.io
owner: team
dns:
  txtPrefix: \"{txt_prefix}\"
environments:
  dev: {{}}
components: []
"
    );
    Platform::from_source(Path::new("goldenpath.yaml"), &text).unwrap()
}

fn build(p: &Platform) -> Contract<'_> {
    Contract::new(
        p,
        "dev",
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    )
    .unwrap()
}

#[test]
fn a_64_byte_label_is_refused_naming_it_and_the_limit() {
    let p = platform("");
    let label = "x".repeat(64);
    let err = build(&p).hostname(&label, RecordType::A).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&label), "{msg}");
    assert!(
        msg.contains("64 bytes") && msg.contains("at most 63"),
        "{msg}"
    );
    // 63 is fine (for the record itself; the TXT name is another matter).
    assert!(matches!(
        build(&p).hostname(&"x".repeat(63), RecordType::A),
        Err(ContractError::TxtOverflow { .. })
    ));
}

#[test]
fn a_254_byte_name_is_refused_naming_it_and_the_limit() {
    let p = platform("");
    let c = build(&p);
    let suffix_len = c.host_suffix().len(); // b-23-01-26-01.dev.example.io
    // labels of 50 bytes joined by dots, topped up to reach exactly 254.
    let mut relative = String::new();
    while relative.len() + 1 + suffix_len < 254 {
        let room = 254 - (relative.len() + 1 + suffix_len);
        let take = room.min(50);
        if !relative.is_empty() {
            if room < 2 {
                break;
            }
            relative.push('.');
            relative.push_str(&"y".repeat((take - 1).max(1)));
        } else {
            relative.push_str(&"y".repeat(take));
        }
    }
    let fqdn = format!("{relative}.{}", c.host_suffix());
    assert_eq!(fqdn.len(), 254, "test setup");
    let err = c.hostname(&relative, RecordType::A).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&fqdn), "{msg}");
    assert!(
        msg.contains("254 bytes") && msg.contains("at most 253"),
        "{msg}"
    );
}

#[test]
fn a_txt_name_that_overflows_only_because_of_the_prefix_is_refused() {
    // a-{61 bytes} = 63 bytes fits without a prefix...
    let label = "z".repeat(61);
    let plain = platform("");
    assert!(build(&plain).hostname(&label, RecordType::A).is_ok());
    // ...and does not with ExternalDNS's txt prefix `gp-`.
    let prefixed = platform("gp-");
    let err = build(&prefixed)
        .hostname(&label, RecordType::A)
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ContractError::TxtOverflow { .. }), "{msg}");
    assert!(
        msg.contains(&format!("gp-a-{label}.b-23-01-26-01.dev.example.io")),
        "{msg}"
    );
    assert!(
        msg.contains("66 bytes") && msg.contains("limit is 63"),
        "{msg}"
    );
}

#[test]
fn the_record_type_template_goes_into_the_prefix() {
    let p = platform("%{record_type}-owner-");
    let c = build(&p);
    assert_eq!(
        c.txt_owner_name("api.b-23-01-26-01.dev.example.io", RecordType::Cname),
        "cname-owner-api.b-23-01-26-01.dev.example.io"
    );
}

#[test]
fn upper_case_and_underscore_labels_are_refused() {
    let p = platform("");
    for bad in ["Backstage", "back_stage"] {
        let err = build(&p).hostname(bad, RecordType::A).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("label `{bad}`")), "{msg}");
        assert!(msg.contains("lower-case letters, digits and `-`"), "{msg}");
    }
}

#[test]
fn an_ephemeral_host_outside_its_suffix_is_refused() {
    let p = platform("");
    let c = build(&p);
    for outside in [
        "backstage.dev.example.io",
        "backstage.b-23-01-26-02.dev.example.io",
        "b-23-01-26-01.dev.example.io",
    ] {
        let err = c.check_host(outside, RecordType::A).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ContractError::OutsideSuffix { .. }), "{msg}");
        assert!(
            msg.contains(outside) && msg.contains("b-23-01-26-01.dev.example.io"),
            "{msg}"
        );
    }
    assert!(
        c.check_host("api.b-23-01-26-01.dev.example.io", RecordType::A)
            .is_ok()
    );
    // The persistent deployment may publish anywhere under its suffix.
    let persistent = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
    assert!(
        persistent
            .check_host("backstage.dev.example.io", RecordType::A)
            .is_ok()
    );
}

fn platform_with(dns: &str) -> Platform {
    Platform::from_source(
        std::path::Path::new("goldenpath.yaml"),
        &format!(
            "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
dns: {{ {dns} }}
environments:
  dev: {{}}
components: []
"
        ),
    )
    .unwrap()
}

/// The TXT names ExternalDNS's affix name mapper writes (its
/// `registry/txt.go`), case by case: prefix, suffix, `%{record_type}` in
/// either, a wildcard with and without a replacement, the apex, an
/// underscore prefix; and the legacy names it used to write.
#[test]
fn txt_names_match_external_dns_for_every_affix() {
    let cases: &[(&str, &str, RecordType, &str)] = &[
        (
            "txtPrefix: \"\"",
            "api.dev.example.io",
            RecordType::A,
            "a-api.dev.example.io",
        ),
        (
            "txtPrefix: external-dns-",
            "api.dev.example.io",
            RecordType::A,
            "external-dns-a-api.dev.example.io",
        ),
        (
            "txtPrefix: \"_external_dns.\"",
            "api.dev.example.io",
            RecordType::Cname,
            "_external_dns.cname-api.dev.example.io",
        ),
        (
            "txtPrefix: \"%{record_type}-\"",
            "api.dev.example.io",
            RecordType::Cname,
            "cname-api.dev.example.io",
        ),
        (
            "txtPrefix: \"txt-%{record_type}.\"",
            "api.dev.example.io",
            RecordType::Aaaa,
            "txt-aaaa.api.dev.example.io",
        ),
        (
            "txtSuffix: -txt",
            "api.dev.example.io",
            RecordType::A,
            "a-api-txt.dev.example.io",
        ),
        (
            "txtSuffix: \"-%{record_type}\"",
            "api.dev.example.io",
            RecordType::A,
            "api-a.dev.example.io",
        ),
        (
            "txtPrefix: p-, txtSuffix: -s",
            "api.dev.example.io",
            RecordType::A,
            "p-a-api-s.dev.example.io",
        ),
        (
            "txtWildcardReplacement: wildcard",
            "*.apps.example.io",
            RecordType::A,
            "a-wildcard.apps.example.io",
        ),
        (
            "txtPrefix: \"\"",
            "*.apps.example.io",
            RecordType::A,
            "a-*.apps.example.io",
        ),
        (
            "txtPrefix: \"\"",
            "example.io",
            RecordType::A,
            "a-example.io",
        ),
    ];
    for (dns, fqdn, rt, want) in cases {
        let p = platform_with(dns);
        let c = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
        assert_eq!(&c.txt_owner_name(fqdn, *rt), want, "{dns} {fqdn}");
    }
    let legacy: &[(&str, &str, &str)] = &[
        (
            "txtPrefix: \"\"",
            "api.dev.example.io",
            "api.dev.example.io",
        ),
        (
            "txtPrefix: external-dns-",
            "api.dev.example.io",
            "external-dns-api.dev.example.io",
        ),
        (
            "txtSuffix: -txt",
            "api.dev.example.io",
            "api-txt.dev.example.io",
        ),
    ];
    for (dns, fqdn, want) in legacy {
        let p = platform_with(dns);
        let c = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
        assert_eq!(&c.legacy_txt_owner_name(fqdn), want, "{dns} {fqdn}");
    }
    // Underscores pass the TXT name check; a wildcard host is accepted.
    let p = platform_with("txtPrefix: \"_external_dns.\"");
    let c = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
    assert!(c.check_host("api.dev.example.io", RecordType::A).is_ok());
    assert!(c.check_host("*.apps.dev.example.io", RecordType::A).is_ok());
    assert!(c.check_host("a*.dev.example.io", RecordType::A).is_err());
}

fn with_gitops(gitops: &str) -> Result<Platform, gp_core::InvalidInput> {
    Platform::from_source(
        std::path::Path::new("goldenpath.yaml"),
        &format!(
            "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: goldenpath
domain: example.io
owner: team
gitops: {{ {gitops} }}
environments:
  dev: {{}}
components:
  - {{ name: backstage, plane: disposable, tier: 1, driver: gitops, settings: {{ namespace: backstage }} }}
  - {{ name: keycloak, plane: disposable, tier: 1, driver: gitops, settings: {{ namespace: keycloak }} }}
"
        ),
    )
}

#[test]
fn application_names_follow_the_template_and_are_checked() {
    let p = with_gitops("").unwrap();
    let build = Contract::new(
        &p,
        "dev",
        Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
    )
    .unwrap();
    let persistent = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
    assert_eq!(
        build.application_name("backstage"),
        "goldenpath-dev-23-01-26-01-backstage"
    );
    assert_eq!(
        persistent.application_name("backstage"),
        "goldenpath-dev-backstage"
    );
    // The platform's own names.
    let p = with_gitops("applicationName: \"{env}-{component}\"").unwrap();
    let persistent = Contract::new(&p, "dev", Deployment::Persistent).unwrap();
    assert_eq!(persistent.application_name("keycloak"), "dev-keycloak");
    assert_eq!(persistent.root_application_name(), "dev-root");
    // Two components one name, and a name over 63 characters: refused at
    // the template's line.
    let err = with_gitops("applicationName: \"{env}-apps\"")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("would both be the Application `dev-apps`"),
        "{err}"
    );
    assert!(err.contains("goldenpath.yaml:7:"), "{err}");
    let err = with_gitops(&format!(
        "applicationName: \"{}-{{component}}\"",
        "x".repeat(60)
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("is not a valid Kubernetes name"), "{err}");
}
