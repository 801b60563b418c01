use super::*;

const GOOD: &str = "id: RDS-0001
environment: dev
databaseName: orders
username: orders_app
size: small
storageGb: 20
maxStorageGb: 100
owner: team-orders
requester: alice
domain: commerce
risk: low
";

fn load(text: &str) -> Result<Request, InvalidInput> {
    Request::from_source(Path::new("requests/RDS-0001.yaml"), text)
}

fn platform() -> Platform {
    Platform::from_source(
        Path::new("goldenpath.yaml"),
        "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: p\nprefix: goldenpath\ndomain: example.io\nowner: t\nenvironments:\n  dev: {}\n  prod: {}\ncomponents: []\n",
    )
    .unwrap()
}

fn db(r: &Request) -> &DatabaseRequest {
    match &r.body {
        Body::Database(d) => d,
        _ => panic!("not a database request"),
    }
}

#[test]
fn a_good_database_request_loads_with_defaults_and_hashes_its_content() {
    let r = load(GOOD).unwrap();
    assert_eq!(db(&r).backup_retention_days.value, 7);
    assert!(!r.needs_approval());
    let edited = load(&GOOD.replace("storageGb: 20", "storageGb: 30")).unwrap();
    assert_ne!(r.hash, edited.hash);
    let reformatted = load(&GOOD.replace("risk: low", "risk:   low   ")).unwrap();
    assert_eq!(r.hash, reformatted.hash, "formatting is not content");
}

const NESTED: &str = "# the platform's layout
id: RDS-0007
service: postgres
environment: dev
owner: team-orders
requester: alice
metadata:
  title: Orders
  description: the orders service's database
  created: 2026-01-05
spec:
  databaseName: orders
  username: orders_app
  domain: commerce
  multiAz: false
  performanceInsights: true
";

#[test]
fn the_nested_layout_reads_with_the_platforms_defaults_and_routes_by_tier() {
    let r = Request::from_source(Path::new("rds-requests/dev/RDS-0007.yaml"), NESTED).unwrap();
    let q = db(&r);
    assert_eq!(q.id.value, "RDS-0007");
    assert_eq!(q.database_name.start.line, 12, "positions are the file's");
    assert_eq!(
        (
            q.size.value,
            q.storage_gb.value,
            q.max_storage_gb.value,
            q.risk.value
        ),
        (database::Size::Small, 20, 100, database::Risk::Low)
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.route(), Route::SelfServe);
    // A near miss of a known field inside `spec` is an error at its line.
    let err = Request::from_source(Path::new("x.yaml"), &NESTED.replace("multiAz", "multiAZ"))
        .unwrap_err();
    assert_eq!(err.0[0].pos.unwrap().line, 15, "{err}");
    assert!(
        err.0[0].hint.as_deref().unwrap().contains("multiAz"),
        "{err}"
    );
    // A field of no kind is a warning, not an error.
    let r = Request::from_source(
        Path::new("x.yaml"),
        &NESTED.replace(
            "  domain: commerce",
            "  domain: commerce\n  jiraTicket: OPS-1",
        ),
    )
    .unwrap();
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.warnings[0].pos.unwrap().line, 15);
    // Routing by tier.
    let with = |extra: &str| {
        Request::from_source(
            Path::new("x.yaml"),
            &NESTED.replace(
                "  domain: commerce",
                &format!("  domain: commerce\n  {extra}"),
            ),
        )
        .unwrap()
        .route()
    };
    assert_eq!(with("size: large"), Route::Platform);
    assert_eq!(with("risk: access"), Route::Security);
    assert_eq!(with("risk: high"), Route::PlatformAndSecurity);
    assert_eq!(
        with("adopt: true"),
        Route::Platform,
        "adopting needs the platform"
    );
    assert_eq!(
        with("risk: access\n  adopt: true"),
        Route::PlatformAndSecurity
    );
    let prod = Request::from_source(
        Path::new("x.yaml"),
        &NESTED.replace("environment: dev", "environment: prod"),
    )
    .unwrap();
    assert_eq!(prod.route(), Route::PlatformAndSecurity);
}

#[test]
fn files_that_are_no_request_goldenpath_reads_say_why() {
    for (text, want) in [
        ("title: notes\n", "not a request"),
        ("id: OPS-0001\n", "not a request id goldenpath reads"),
        (
            "kind: ConfigMap\nid: X\n",
            "`kind: ConfigMap` is not a request",
        ),
        ("id: X-0001\nservice: dynamodb\n", "a `dynamodb` request"),
        ("- a\n- b\n", "a request is a mapping"),
        ("", "the request is empty"),
    ] {
        let err = Request::from_source(Path::new("f.yaml"), text).unwrap_err();
        assert!(err.0[0].message.contains(want), "{text:?}: {err}");
    }
}

#[test]
fn database_schema_problems_are_positioned_and_sorted() {
    let err = load(
        &GOOD
            .replace("maxStorageGb: 100", "maxStorageGb: 20")
            .replace("orders_app", "Orders"),
    )
    .unwrap_err();
    let lines: Vec<(u32, &str)> = err
        .0
        .iter()
        .map(|d| (d.pos.unwrap().line, d.message.as_str()))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0].0, 4);
    assert!(lines[0].1.starts_with("invalid username `Orders`"));
    assert_eq!(
        lines[1],
        (7, "maxStorageGb (20) must exceed storageGb (20)")
    );
    let err = load(&GOOD.replace("size: small", "size: huge")).unwrap_err();
    assert!(err.0[0].message.contains("unknown value `huge`"), "{err}");
    let err = load(&GOOD.replace("databaseName: orders", "databaseName: pg_orders")).unwrap_err();
    assert!(err.0[0].message.contains("reserved by PostgreSQL"), "{err}");
    let err = load(&format!(
        "kind: DatabaseRequest\n{}",
        GOOD.replace("RDS-0001", "S3-0001")
    ))
    .unwrap_err();
    assert!(err.0[0].message.contains("RDS-NNNN"), "{err}");
    // A file's name need not be its id.
    assert!(Request::from_source(Path::new("RDS-0001-orders.yaml"), GOOD).is_ok());
}

#[test]
fn database_rules_each_refuse_at_their_line() {
    let p = platform();
    assert!(load(GOOD).unwrap().guard(&p).is_empty());
    let dev_large = load(&GOOD.replace("size: small", "size: large")).unwrap();
    let g = dev_large.guard(&p);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].pos.unwrap().line, 5);
    let prod = load(&GOOD.replace("environment: dev", "environment: prod")).unwrap();
    let g: Vec<&str> = prod
        .guard(&p)
        .iter()
        .map(|d| {
            if d.message.contains("14 days") {
                "backups"
            } else if d.message.contains("availability") {
                "multi-az"
            } else {
                "other"
            }
        })
        .collect();
    assert_eq!(g, ["backups", "multi-az"]);
    let prod_ok = load(
        &GOOD
            .replace("environment: dev", "environment: prod")
            .replace(
                "risk: low",
                "risk: low\nbackupRetentionDays: 14\nmultiAz: true",
            ),
    )
    .unwrap();
    assert!(prod_ok.guard(&p).is_empty());
    let nowhere = load(&GOOD.replace("environment: dev", "environment: qa")).unwrap();
    let g = nowhere.guard(&p);
    assert!(g[0].message.contains("`qa` is not declared"), "{:?}", g);
    let platform_ns = load(&GOOD.replace("risk: low", "risk: low\nnamespace: argocd")).unwrap();
    assert!(
        platform_ns.guard(&p)[0]
            .message
            .contains("belongs to the platform")
    );
}

const BUCKET: &str = "---
# the platform's layout
apiVersion: goldenpath.io/v1
kind: S3BucketRequest
metadata:
  id: S3-0001
  owner: team-orders
  requester: alice
  labels: { team: orders }
spec:
  environment: dev
  application: orders
  bucketName: goldenpath-dev-orders-logs
  purpose:
    type: logs
    description: access logs of the orders API
  tags:
    costCenter: cc-042
";

fn bucket(text: &str) -> Result<Request, InvalidInput> {
    Request::from_source(Path::new("requests/S3-0001.yaml"), text)
}

#[test]
fn a_bucket_reads_with_the_purposes_defaults() {
    let r = bucket(BUCKET).unwrap();
    assert_eq!(r.kind(), RequestKind::Bucket);
    assert_eq!(r.id().value, "S3-0001");
    assert_eq!(r.requester(), Some("alice"));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.route(), Route::SelfServe);
    let err = bucket(&BUCKET.replace("bucketName", "bucketNme")).unwrap_err();
    assert_eq!(err.0[0].pos.unwrap().line, 13, "{err}");
    assert!(
        err.0[0].hint.as_deref().unwrap().contains("bucketName"),
        "{err}"
    );
    let r = bucket(&BUCKET.replace(
        "  application: orders",
        "  application: orders\n  ticket: OPS-12",
    ))
    .unwrap();
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.warnings[0].pos.unwrap().line, 13);
    let p = platform();
    let c = crate::Contract::new(&p, "dev", crate::Deployment::Persistent).unwrap();
    let Desired::Bucket(b) = r.desired(&c) else {
        panic!()
    };
    assert_eq!(
        (b.versioning, b.ia_days, b.expire_days, b.block_public),
        (false, Some(30), Some(90), true)
    );
    assert_eq!(b.tags.get(REQUEST_TAG).map(String::as_str), Some("S3-0001"));
}

#[test]
fn bucket_names_follow_the_platforms_rule_and_the_convention_only_warns() {
    let p = platform();
    let named = |n: &str| bucket(&BUCKET.replace("goldenpath-dev-orders-logs", n));
    // Every shape the platform's rule admits is accepted; only the
    // convention's own name gives no warning.
    for (name, warns) in [
        ("goldenpath-dev-orders-logs", false),
        ("goldenpath-dev-order-api-access-logs", true),
        ("goldenpath-dev-orders-audit-2026", true),
        ("goldenpath-dev-o-l", true),
        ("goldenpath-dev-a--b", true),
    ] {
        let r = named(name).unwrap();
        assert!(r.guard(&p).is_empty(), "{name}: {:?}", r.guard(&p));
        let advice = r.advice(&p);
        assert_eq!(!advice.is_empty(), warns, "{name}: {advice:?}");
        if warns {
            assert!(
                advice[0]
                    .hint
                    .as_deref()
                    .unwrap()
                    .contains("goldenpath-dev-orders-logs"),
                "{advice:?}"
            );
        }
    }
    // Generated: every name the platform's pattern admits after
    // `goldenpath-dev-` over letters, digits and hyphens up to five
    // characters that S3 itself allows: the request passes, and warns
    // (with the convention's name) unless it is the convention's name.
    let pattern = regex::Regex::new("^goldenpath-dev-[a-z0-9-]+-[a-z0-9-]+$").unwrap();
    let mut rests = vec![String::new()];
    let mut tried = 0;
    for _ in 0..5 {
        rests = rests
            .iter()
            .flat_map(|r| ['o', '1', '-'].map(|c| format!("{r}{c}")))
            .collect();
        for rest in &rests {
            let name = format!("goldenpath-dev-{rest}");
            if !pattern.is_match(&name) || bucket::s3_name_problem(&name).is_some() {
                continue;
            }
            tried += 1;
            let r = named(&name).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert!(r.guard(&p).is_empty(), "{name}: {:?}", r.guard(&p));
            assert_eq!(r.advice(&p).len(), 1, "{name}");
        }
    }
    assert!(tried > 50, "{tried}");
    // Outside the rule: another prefix, another environment, one part.
    for name in [
        "acme-dev-orders-logs",
        "goldenpath-prod-orders-logs",
        "goldenpath-dev-orders",
    ] {
        let r = named(name).unwrap();
        let g = r.guard(&p);
        assert_eq!(g.len(), 1, "{name}: {g:?}");
        assert!(
            g[0].message.contains("outside the platform's rule"),
            "{g:?}"
        );
    }
    // S3's own rules are the schema (invalid input).
    for name in [
        "Goldenpath-dev-a-b",
        "goldenpath-dev-a-b-",
        "xn--goldenpath-dev-a-b",
    ] {
        assert!(named(name).is_err(), "{name}");
    }
}

#[test]
fn bucket_schema_problems_are_positioned() {
    let err = bucket(
        &BUCKET
            .replace("access logs of the orders API", "logs")
            .replace("S3-0001", "S3-1")
            .replace(
                "  tags:\n    costCenter: cc-042\n",
                "  lifecycle: { transitionToIaDays: 7 }\n  tags: { costCenter: x }\n",
            ),
    )
    .unwrap_err();
    let msgs: Vec<String> = err
        .0
        .iter()
        .map(|d| format!("{}: {}", d.pos.unwrap().line, d.message))
        .collect();
    assert!(
        msgs.iter().any(|m| m.starts_with("6: invalid id `S3-1`")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("16: purpose.description must be 10 to 200")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("transitionToIaDays must be at least 30")),
        "{msgs:?}"
    );
    let err = bucket(&BUCKET.replace("type: logs", "type: videos")).unwrap_err();
    assert!(err.0[0].message.contains("unknown value `videos`"), "{err}");
    assert_eq!(err.0[0].pos.unwrap().line, 15);
    let err = bucket(&BUCKET.replace(
        "costCenter: cc-042",
        "costCenter: cc-042\n    goldenpath:request: S3-0009",
    ))
    .unwrap_err();
    assert!(
        err.0[0].message.contains("never aws: or goldenpath:"),
        "{err}"
    );
}

const SECRET: &str = "apiVersion: goldenpath.io/v1
kind: SecretRequest
metadata:
  id: SEC-0007
  name: stripe-key
  service: payments
  environment: dev
  domain: commerce
spec:
  provider: aws-secrets-manager
  secretType: api-key
  risk: { tier: high }
  rotation: { rotationClass: standard }
  lifecycle: { status: active, recoveryWindowInDays: 7 }
  access:
    namespace: payments
    k8sSecretName: stripe
    readPrincipals: [arn:aws:iam::123456789012:role/payments-api]
  ttlDays: 90
";

#[test]
fn secrets_read_route_and_deliver_an_external_secret() {
    let r = Request::from_source(Path::new("SEC-0007.yaml"), SECRET).unwrap();
    assert_eq!(r.kind(), RequestKind::Secret);
    assert_eq!(r.route(), Route::Security);
    assert_eq!(r.requester(), None);
    assert_eq!(
        r.owner(),
        "payments",
        "the service owns it when no owner is named"
    );
    let p = platform();
    let none = Request::from_source(
        Path::new("x.yaml"),
        &SECRET.replace("rotationClass: standard", "rotationClass: none"),
    )
    .unwrap();
    let g = none.guard(&p);
    assert_eq!(g.len(), 1, "{g:?}");
    assert_eq!(g[0].pos.unwrap().line, 13);
    let wildcard = Request::from_source(
        Path::new("x.yaml"),
        &SECRET.replace("role/payments-api", "role/*"),
    )
    .unwrap_err();
    assert!(
        wildcard.0[0]
            .message
            .contains("wildcards are never allowed"),
        "{wildcard}"
    );
    let c = crate::Contract::new(&p, "dev", crate::Deployment::Persistent).unwrap();
    let d = r.desired(&c);
    assert_eq!(d.name(), "goldenpath/dev/payments/stripe-key");
    let deliveries = d.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        (
            deliveries[0].namespace.as_str(),
            deliveries[0].target.as_str()
        ),
        ("payments", "stripe")
    );
    assert!(deliveries[0].keys.is_empty(), "the whole secret extracted");
    let low_prod = Request::from_source(
        Path::new("x.yaml"),
        &SECRET
            .replace("risk: { tier: high }", "risk: low")
            .replace("environment: dev", "environment: prod"),
    )
    .unwrap();
    assert_eq!(low_prod.route(), Route::Platform);
    let platform_ns = Request::from_source(
        Path::new("x.yaml"),
        &SECRET.replace("namespace: payments", "namespace: kube-system"),
    )
    .unwrap();
    assert!(
        platform_ns.guard(&p)[0]
            .message
            .contains("belongs to the platform")
    );
}

#[test]
fn repositories_read_in_the_catalog_templates_words() {
    let ecr = "kind: EcrRepositoryRequest\nmetadata: { id: ECR-0003, owner: team-payments }\nspec:\n  repositoryName: payments/api\n  scanOnPush: enabled\n  tagImmutability: IMMUTABLE\n  lifecyclePolicy: { keepLast: 25 }\n  risk: { tier: critical }\n";
    let r = Request::from_source(Path::new("ECR-0003.yaml"), ecr).unwrap();
    assert_eq!(r.env(), GLOBAL);
    assert_eq!(r.route(), Route::Security, "critical is high");
    let p = platform();
    let c = crate::Contract::new(&p, "dev", crate::Deployment::Persistent).unwrap();
    let Desired::Repository(d) = r.desired(&c) else {
        panic!()
    };
    assert_eq!((d.scan_on_push, d.immutable, d.keep_last), (true, true, 25));
    let mutable =
        Request::from_source(Path::new("x.yaml"), &ecr.replace("IMMUTABLE", "MUTABLE")).unwrap();
    let g = mutable.guard(&p);
    assert_eq!(g.len(), 1, "a high risk keeps tags immutable: {g:?}");
    let weak = Request::from_source(
        Path::new("x.yaml"),
        &ecr.replace("risk:", "allowWeakening: [tagImmutabilty]\n  risk:"),
    )
    .unwrap_err();
    assert!(weak.0[0].message.contains("cannot weaken"), "{weak}");
}

#[test]
fn every_kind_has_a_schema_and_a_kind_name_it_is_read_by() {
    for k in RequestKind::ALL {
        let s = json_schema(k);
        assert_eq!(s["properties"]["kind"]["enum"][0], k.kind_name());
        assert_eq!(kind::kind_of_name(k.kind_name()), Some(k));
        assert_eq!(RequestKind::parse(k.as_str()), Some(k));
        assert!(k.id_prefix().ends_with('-'));
    }
}

#[test]
fn enums_are_checked_for_every_kind_that_names_an_owner_or_domain() {
    let enums = crate::yaml::parse("domains: [commerce]\nowners: [team-orders]\n")
        .unwrap()
        .unwrap();
    let ok = load(GOOD).unwrap();
    assert!(ok.enum_problems(&enums, Path::new("enums.yaml")).is_empty());
    let bad = load(&GOOD.replace("team-orders", "team-order")).unwrap();
    let p = bad.enum_problems(&enums, Path::new("enums.yaml"));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].hint.as_deref(), Some("did you mean `team-orders`?"));
    let b = bucket(&BUCKET.replace("owner: team-orders", "owner: team-x")).unwrap();
    assert_eq!(b.enum_problems(&enums, Path::new("enums.yaml")).len(), 1);
}
