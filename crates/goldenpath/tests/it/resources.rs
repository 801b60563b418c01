//! Bucket, secret and repository requests against a local AWS endpoint
//! (moto's server): each kind created, applied again (no change), adopted,
//! refused by its rules (nothing created), approved by the right group
//! only; every fact about what was made is read back through boto3, and
//! the ExternalSecret is checked against its CRD version.

use gp_test::moto::Moto;

use crate::deploy::Platform;

const SPEC: &str = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: golden
prefix: goldenpath
domain: example.io
owner: team-platform
environments:
  dev: {}
  staging: {}
  prod: {}
requests:
  approvers: { platform: [bob], security: [sam] }
components: []
";

fn platform(moto: &Moto) -> Platform {
    let mut p = Platform::new(SPEC);
    p.env = moto
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    std::fs::create_dir_all(p.path().join("requests/dev")).unwrap();
    p
}

fn write(p: &Platform, name: &str, text: &str) {
    std::fs::write(p.path().join("requests").join(name), text).unwrap();
}

fn as_actor(p: &Platform, actor: &str, args: &[&str]) -> gp_test::Output {
    let mut c = p.cmd(args);
    c.env("GOLDENPATH_ACTOR", actor);
    gp_test::run(&mut c)
}

fn json(out: &gp_test::Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.transcript()))
}

const LOGS: &str = "---
# the platform's layout, with a field goldenpath does not read
apiVersion: goldenpath.io/v1
kind: S3BucketRequest
metadata:
  id: S3-0001
  owner: team-orders
  requester: alice
  ticket: OPS-1234
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

fn bucket(moto: &Moto, name: &str) -> serde_json::Value {
    let out = moto.py(&format!(
        "s3 = boto3.client('s3', endpoint_url=e)
b = '{name}'
def get(f, k):
    try:
        return f(Bucket=b)[k]
    except Exception as x:
        return None
print(json.dumps({{
  'enc': get(s3.get_bucket_encryption, 'ServerSideEncryptionConfiguration'),
  'pab': get(s3.get_public_access_block, 'PublicAccessBlockConfiguration'),
  'rules': get(s3.get_bucket_lifecycle_configuration, 'Rules'),
  'versioning': s3.get_bucket_versioning(Bucket=b).get('Status'),
  'tags': {{t['Key']: t['Value'] for t in (get(s3.get_bucket_tagging, 'TagSet') or [])}},
  'logging': s3.get_bucket_logging(Bucket=b).get('LoggingEnabled'),
}}, default=str))"
    ));
    serde_json::from_str(&out).unwrap()
}

fn exists(moto: &Moto, name: &str) -> bool {
    moto.py(&format!(
        "s3 = boto3.client('s3', endpoint_url=e)\nprint(any(b['Name'] == '{name}' for b in s3.list_buckets()['Buckets']))"
    ))
    .trim()
        == "True"
}

#[test]
fn bucket_requests_are_created_adopted_refused_and_approved_by_the_platform_only() {
    let moto = Moto::start();
    let p = platform(&moto);
    write(&p, "dev/S3-0001.yaml", LOGS);
    // validate: valid; the field it does not read is a warning at its line.
    let out = p.run(&["request", "validate", "S3-0001"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stderr.contains("requests/dev/S3-0001.yaml:9:3"),
        "{}",
        out.stderr
    );
    // plan: the purpose's defaults, named; the exact changes.
    let plan = json(&p.ok(&["request", "plan", "S3-0001", "--output", "json"]));
    assert_eq!(plan["kind"], "s3");
    assert_eq!(plan["exists"], false);
    let changes: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(changes[0], "create bucket goldenpath-dev-orders-logs");
    assert!(changes.contains(&"block all public access"), "{changes:?}");
    assert!(
        changes.contains(&"lifecycle rule `goldenpath`: Standard-IA at 30 days, expire at 90 days"),
        "{changes:?}"
    );
    let defaulted = plan["desired"]["defaulted"].to_string();
    assert!(
        defaulted.contains("versioning: false (default for logs)"),
        "{defaulted}"
    );
    assert!(
        !exists(&moto, "goldenpath-dev-orders-logs"),
        "plan creates nothing"
    );
    // apply: created as the contract says, read back through boto3.
    let applied = json(&p.ok(&["request", "apply", "S3-0001", "--output", "json"]));
    assert_eq!(applied["created"], true);
    let b = bucket(&moto, "goldenpath-dev-orders-logs");
    assert_eq!(
        b["enc"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "AES256"
    );
    for k in [
        "BlockPublicAcls",
        "IgnorePublicAcls",
        "BlockPublicPolicy",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(b["pab"][k], true, "{k}: {b}");
    }
    let rule = &b["rules"][0];
    assert_eq!(rule["ID"], "goldenpath");
    assert_eq!(rule["Expiration"]["Days"], 90);
    assert_eq!(rule["Transitions"][0]["StorageClass"], "STANDARD_IA");
    assert_eq!(rule["Transitions"][0]["Days"], 30);
    assert!(b["versioning"].is_null(), "logs are not versioned: {b}");
    assert_eq!(b["tags"]["costCenter"], "cc-042");
    assert_eq!(b["tags"]["goldenpath:request"], "S3-0001");
    // Again: nothing to change.
    let again = json(&p.ok(&["request", "apply", "S3-0001", "--output", "json"]));
    assert_eq!(again["created"], false);
    assert_eq!(again["changes"], serde_json::json!([]));

    // Drift of the foundational plane checks what applied requests made:
    // in sync; then its public access block removed behind goldenpath's
    // back is named (exit 4) without a plan recorded, and `request apply`
    // (its content's approval as before) puts it back. (A lifecycle rule
    // removed is named too, but putting back an expiry would weaken the
    // bucket: that needs `allowWeakening: [lifecycle]`, as for any apply.)
    let drift = |p: &Platform| {
        let out = p.run(&[
            "drift",
            "--env",
            "dev",
            "--foundational",
            "--output",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", out.transcript()));
        (out.code, v)
    };
    let row = |v: &serde_json::Value| {
        v["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["component"] == "request S3-0001")
            .unwrap_or_else(|| panic!("no request row: {v}"))
            .clone()
    };
    let (code, v) = drift(&p);
    assert_eq!(code, 0, "{v}");
    assert_eq!(row(&v)["status"], "in-sync", "{v}");
    let state = |p: &Platform| json(&p.ok(&["request", "list", "--output", "json"])).to_string();
    let before = state(&p);
    moto.py("s3 = boto3.client('s3', endpoint_url=e)
s3.delete_public_access_block(Bucket='goldenpath-dev-orders-logs')");
    let (code, v) = drift(&p);
    assert_eq!(code, 4, "{v}");
    let r = row(&v);
    assert_eq!(r["status"], "drifted", "{v}");
    let diffs = r["differences"].to_string();
    assert!(diffs.contains("block all public access"), "{diffs}");
    assert_eq!(state(&p), before, "drift records no plan of a request");
    p.ok(&["request", "apply", "S3-0001"]);
    let (code, v) = drift(&p);
    assert_eq!(code, 0, "{v}");
    assert_eq!(row(&v)["status"], "in-sync", "{v}");
    // Retagged as another request's behind goldenpath's back: what request
    // plan now refuses is drift, never `in-sync`.
    let before = state(&p);
    moto.py(
        "boto3.client('s3', endpoint_url=e).put_bucket_tagging(Bucket='goldenpath-dev-orders-logs', Tagging={'TagSet': [{'Key': 'goldenpath:request', 'Value': 'S3-0099'}]})",
    );
    let (code, v) = drift(&p);
    assert_eq!(code, 4, "{v}");
    let r = row(&v);
    assert_eq!(r["status"], "drifted", "{v}");
    assert!(
        r["differences"]
            .to_string()
            .contains("request plan refuses it now")
            && r["differences"].to_string().contains("S3-0099"),
        "{r}"
    );
    assert_eq!(state(&p), before, "drift records no refusal of a request");
    moto.py(
        "boto3.client('s3', endpoint_url=e).put_bucket_tagging(Bucket='goldenpath-dev-orders-logs', Tagging={'TagSet': [{'Key': 'goldenpath:request', 'Value': 'S3-0001'}, {'Key': 'costCenter', 'Value': 'cc-042'}]})",
    );

    // Adopted: a backups bucket made by hand, with a rule and a tag of its
    // own, both kept.
    moto.py(
        "s3 = boto3.client('s3', endpoint_url=e)
s3.create_bucket(Bucket='goldenpath-dev-orders-backups', CreateBucketConfiguration={'LocationConstraint': 'eu-west-2'})
s3.put_bucket_tagging(Bucket='goldenpath-dev-orders-backups', Tagging={'TagSet': [{'Key': 'team', 'Value': 'orders'}]})
s3.put_bucket_lifecycle_configuration(Bucket='goldenpath-dev-orders-backups', LifecycleConfiguration={'Rules': [{'ID': 'keep-me', 'Status': 'Enabled', 'Filter': {'Prefix': 'tmp/'}, 'Expiration': {'Days': 3}}]})",
    );
    let backups = LOGS
        .replace("S3-0001", "S3-0002")
        .replace("orders-logs", "orders-backups")
        .replace("type: logs", "type: backups")
        .replace("access logs of", "nightly dumps of");
    write(&p, "dev/orders-backups.yaml", &backups);
    // What nobody owns is adopted only when the request asks (adopt: true),
    // and then only with the platform's approval.
    let out = p.run(&["request", "apply", "S3-0002"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(out.stderr.contains("set adopt: true"), "{}", out.stderr);
    write(
        &p,
        "dev/orders-backups.yaml",
        &backups.replace(
            "  application: orders",
            "  application: orders\n  adopt: true",
        ),
    );
    let plan = json(&p.ok(&["request", "plan", "S3-0002", "--output", "json"]));
    assert_eq!(plan["exists"], true);
    assert_eq!(
        plan["approval"]["missing"],
        serde_json::json!(["platform"]),
        "{plan}"
    );
    let changes = plan["changes"].to_string();
    for setting in [
        "encrypt",
        "versioning enabled",
        "block all public access",
        "lifecycle rule",
        "tags",
    ] {
        assert!(changes.contains(setting), "plan lists {setting}: {changes}");
    }
    let out = p.run(&["request", "apply", "S3-0002"]);
    assert_eq!(
        out.code,
        3,
        "an adoption waits for the platform: {}",
        out.transcript()
    );
    assert!(
        bucket(&moto, "goldenpath-dev-orders-backups")["tags"]["goldenpath:request"].is_null(),
        "nothing was changed"
    );
    assert_eq!(
        as_actor(&p, "bob", &["request", "approve", "S3-0002"]).code,
        0
    );
    let adopted = json(&p.ok(&["request", "apply", "S3-0002", "--output", "json"]));
    assert_eq!(adopted["created"], false);
    let b = bucket(&moto, "goldenpath-dev-orders-backups");
    assert_eq!(b["versioning"], "Enabled", "backups are versioned: {b}");
    let ids: Vec<&str> = b["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["keep-me", "goldenpath"], "{b}");
    assert_eq!(b["rules"][1]["Transitions"][0]["StorageClass"], "GLACIER");
    assert_eq!(b["tags"]["team"], "orders");
    assert_eq!(b["tags"]["goldenpath:request"], "S3-0002");

    // What goldenpath made for the platform is never free, adopt or not;
    // what another request holds neither.
    moto.py(
        "s3 = boto3.client('s3', endpoint_url=e)
s3.create_bucket(Bucket='goldenpath-dev-orders-exports', CreateBucketConfiguration={'LocationConstraint': 'eu-west-2'})
s3.put_bucket_tagging(Bucket='goldenpath-dev-orders-exports', Tagging={'TagSet': [{'Key': 'ManagedBy', 'Value': 'goldenpath'}, {'Key': 'Component', 'Value': 'exports'}, {'Key': 'Environment', 'Value': 'dev'}]})
s3.create_bucket(Bucket='goldenpath-dev-orders-archive', CreateBucketConfiguration={'LocationConstraint': 'eu-west-2'})
s3.put_bucket_encryption(Bucket='goldenpath-dev-orders-archive', ServerSideEncryptionConfiguration={'Rules': [{'ApplyServerSideEncryptionByDefault': {'SSEAlgorithm': 'aws:kms', 'KMSMasterKeyID': 'alias/archive'}}]})",
    );
    let exports = LOGS
        .replace("S3-0001", "S3-0010")
        .replace("orders-logs", "orders-exports")
        .replace(
            "  application: orders",
            "  application: orders\n  adopt: true",
        );
    write(&p, "dev/S3-0010.yaml", &exports);
    assert_eq!(
        as_actor(&p, "bob", &["request", "approve", "S3-0010"]).code,
        0
    );
    let out = p.run(&["request", "apply", "S3-0010"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("made by goldenpath for the platform (Component=exports"),
        "{}",
        out.stderr
    );
    assert_eq!(
        bucket(&moto, "goldenpath-dev-orders-exports")["tags"]
            .as_object()
            .unwrap()
            .len(),
        3,
        "untouched"
    );
    std::fs::remove_file(p.path().join("requests/dev/S3-0010.yaml")).unwrap();
    write(&p, "dev/S3-0008.yaml", &LOGS.replace("S3-0001", "S3-0008"));
    let out = p.run(&["request", "validate", "S3-0008"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr.contains("held by request S3-0001"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(p.path().join("requests/dev/S3-0008.yaml")).unwrap();
    // A change that weakens what is there (an adopted bucket's KMS key
    // traded for S3-managed keys) is refused unless asked for by name, and
    // approved.
    let archive = LOGS
        .replace("S3-0001", "S3-0009")
        .replace("orders-logs", "orders-archive")
        .replace(
            "  application: orders",
            "  application: orders\n  adopt: true",
        );
    write(&p, "dev/S3-0009.yaml", &archive);
    assert_eq!(
        as_actor(&p, "bob", &["request", "approve", "S3-0009"]).code,
        0
    );
    let out = p.run(&["request", "apply", "S3-0009"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr.contains("allowWeakening: [encryption]"),
        "{}",
        out.stderr
    );
    let sse = |b: serde_json::Value| {
        b["enc"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"].clone()
    };
    assert_eq!(
        sse(bucket(&moto, "goldenpath-dev-orders-archive")),
        "aws:kms"
    );
    write(
        &p,
        "dev/S3-0009.yaml",
        &archive.replace(
            "  adopt: true",
            "  adopt: true\n  allowWeakening: [encryption, lifecycle]",
        ),
    );
    assert_eq!(
        p.run(&["request", "apply", "S3-0009"]).code,
        3,
        "the edit needs a new approval"
    );
    assert_eq!(
        as_actor(&p, "bob", &["request", "approve", "S3-0009"]).code,
        0
    );
    p.ok(&["request", "apply", "S3-0009"]);
    assert_eq!(
        sse(bucket(&moto, "goldenpath-dev-orders-archive")),
        "AES256"
    );

    // Refused by the rules: exit 3, nothing created.
    for (id, file, text, why) in [
        (
            "S3-0003",
            "S3-0003.yaml",
            LOGS.replace("S3-0001", "S3-0003")
                .replace("environment: dev", "environment: staging")
                .replace("goldenpath-dev-", "goldenpath-staging-"),
            "staging buckets are encrypted with a KMS key",
        ),
        (
            "S3-0004",
            "S3-0004.yaml",
            LOGS.replace("S3-0001", "S3-0004")
                .replace("goldenpath-dev-orders-logs", "orders-logs-bucket"),
            "outside the platform's rule",
        ),
        (
            "S3-0005",
            "S3-0005.yaml",
            LOGS.replace("S3-0001", "S3-0005")
                .replace("goldenpath-dev-orders-logs", "goldenpath-dev-orders-audit")
                .replace(
                    "  tags:",
                    "  retentionPolicy: { type: compliance-driven, rationale: SOX }\n  tags:",
                )
                .replace("type: logs", "type: uploads"),
            "needs a lifecycle",
        ),
    ] {
        write(&p, file, &text);
        let out = p.run(&["request", "apply", id]);
        assert_eq!(out.code, 3, "{id}: {}", out.transcript());
        assert!(out.stderr.contains(why), "{id}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("requests/{file}:")),
            "{id}: positioned: {}",
            out.stderr
        );
    }
    // Every other rule, each refused at validate (exit 3) at its line.
    let staging = LOGS
        .replace("environment: dev", "environment: staging")
        .replace("goldenpath-dev-", "goldenpath-staging-");
    for (n, text, why) in [
        (
            0,
            staging.replace("  tags:", "  encryption: { type: sse-kms, kmsKeyAlias: alias/orders }\n  tags:"),
            "staging buckets keep access logs",
        ),
        (
            1,
            LOGS.replace("  tags:", "  encryption: { type: sse-kms }\n  tags:"),
            "sse-kms needs kmsKeyAlias",
        ),
        (
            2,
            LOGS.replace("  tags:", "  versioning: true\n  tags:"),
            "log buckets are not versioned",
        ),
        (
            3,
            LOGS.replace("  tags:", "  retentionPolicy: { type: compliance-driven }\n  lifecycle: { expireDays: 400 }\n  tags:"),
            "names its rationale",
        ),
    ] {
        let file = format!("rule-{n}.yaml");
        write(&p, &file, &text.replace("S3-0001", &format!("S3-010{n}")));
        let out = p.run(&["request", "validate", &format!("requests/{file}")]);
        assert_eq!(out.code, 3, "{why}: {}", out.transcript());
        assert!(out.stderr.contains(why), "{why}: {}", out.stderr);
        assert!(out.stderr.contains(&format!("requests/{file}:")), "{}", out.stderr);
        std::fs::remove_file(p.path().join("requests").join(&file)).unwrap();
    }
    assert!(!exists(&moto, "goldenpath-staging-orders-logs"));
    assert!(!exists(&moto, "orders-logs-bucket"));
    assert!(!exists(&moto, "goldenpath-dev-orders-audit"));
    // Bad input: exit 2 at the field's line and column, nothing written.
    write(
        &p,
        "S3-0006.yaml",
        &LOGS
            .replace("S3-0001", "S3-0006")
            .replace("bucketName", "bucketNmae"),
    );
    let out = p.run(&["request", "apply", "S3-0006"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("requests/S3-0006.yaml:13:3"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("bucketName"),
        "did you mean: {}",
        out.stderr
    );

    // Static assets need the platform's approval: the requester and
    // someone of the security group are refused, bob approves.
    write(
        &p,
        "dev/S3-0007.yaml",
        &LOGS
            .replace("S3-0001", "S3-0007")
            .replace("orders-logs", "orders-static-assets")
            .replace("type: logs", "type: static-assets"),
    );
    let out = as_actor(&p, "alice", &["request", "apply", "S3-0007"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("needs an approval (it holds static assets)"),
        "{}",
        out.stderr
    );
    assert!(!exists(&moto, "goldenpath-dev-orders-static-assets"));
    assert_eq!(
        as_actor(&p, "alice", &["request", "approve", "S3-0007"]).code,
        3,
        "her own"
    );
    let sam = as_actor(&p, "sam", &["request", "approve", "S3-0007"]);
    assert_eq!(
        sam.code,
        3,
        "security is not its route: {}",
        sam.transcript()
    );
    assert!(sam.stderr.contains("is not an approver"), "{}", sam.stderr);
    let bob = as_actor(&p, "bob", &["request", "approve", "S3-0007"]);
    assert_eq!(bob.code, 0, "{}", bob.transcript());
    let out = as_actor(&p, "alice", &["request", "apply", "S3-0007"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(exists(&moto, "goldenpath-dev-orders-static-assets"));

    // A bucket tagged for another request is never taken over.
    moto.py(
        "s3 = boto3.client('s3', endpoint_url=e)
s3.create_bucket(Bucket='goldenpath-dev-billing-logs', CreateBucketConfiguration={'LocationConstraint': 'eu-west-2'})
s3.put_bucket_tagging(Bucket='goldenpath-dev-billing-logs', Tagging={'TagSet': [{'Key': 'goldenpath:request', 'Value': 'S3-0999'}]})",
    );
    write(
        &p,
        "dev/S3-0008.yaml",
        &LOGS
            .replace("S3-0001", "S3-0008")
            .replace("orders", "billing"),
    );
    let out = p.run(&["request", "apply", "S3-0008"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr.contains("tagged for request S3-0999"),
        "{}",
        out.stderr
    );
    let b = bucket(&moto, "goldenpath-dev-billing-logs");
    assert!(
        b["enc"].is_null() || b["rules"].is_null(),
        "nothing changed: {b}"
    );
    assert_eq!(b["tags"].as_object().unwrap().len(), 1, "{b}");

    // Listed across kinds, with what was made and who asked.
    let listed = json(&p.ok(&["request", "list", "--output", "json"]));
    let state = |id: &str| {
        listed["requests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["request"] == id)
            .map(|r| {
                (
                    r["kind"].as_str().unwrap().to_string(),
                    r["state"].as_str().unwrap().to_string(),
                )
            })
            .unwrap()
    };
    assert_eq!(state("S3-0001"), ("s3".into(), "applied".into()));
    assert_eq!(state("S3-0003").1, "breaks a rule (request validate)");
    let resources = json(&p.ok(&["resources", "list", "--kind", "s3", "--output", "json"]));
    let rows = resources["resources"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{resources}");
    // The catalog: a Resource per bucket, owned by its team, valid for
    // Backstage's own validator.
    let catalog = p
        .ok(&["catalog", "--env", "dev", "--output", "json"])
        .stdout;
    let scratch = gp_test::tempdir();
    assert_eq!(
        crate::catalog::backstage_problems(scratch.path(), &catalog),
        Vec::<String>::new()
    );
    let v: serde_json::Value = serde_json::from_str(&catalog).unwrap();
    let entity = v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["metadata"]["annotations"]["goldenpath.io/resource"] == "goldenpath-dev-orders-logs"
        })
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(entity["spec"]["type"], "s3-bucket");
    assert_eq!(entity["spec"]["owner"], "group:default/team-orders");
    let row = rows
        .iter()
        .find(|r| r["resource"] == "goldenpath-dev-orders-static-assets")
        .unwrap();
    // Applies take the environment's foundational lease: while another
    // runner holds it, an apply changes nothing and says who holds it.
    let reg = gp_registry::Registry::open(&gp_registry::Location::Sqlite(
        p.path().join(".goldenpath/registry.db"),
    ))
    .unwrap();
    let held = reg
        .lease_acquire("dev", "foundational", "ci@runner-9 pid 4242", 600)
        .unwrap();
    write(
        &p,
        "dev/S3-0009.yaml",
        &LOGS
            .replace("S3-0001", "S3-0009")
            .replace("orders", "search"),
    );
    let out = p.run(&["request", "apply", "S3-0009"]);
    assert_ne!(out.code, 0, "{}", out.transcript());
    assert!(out.stderr.contains("ci@runner-9"), "{}", out.stderr);
    assert!(!exists(&moto, "goldenpath-dev-search-logs"));
    reg.lease_release(&held).unwrap();
    p.ok(&["request", "apply", "S3-0009"]);
    assert!(exists(&moto, "goldenpath-dev-search-logs"));
    assert_eq!(row["requester"], "alice");
    assert_eq!(row["appliedBy"], "alice");
    assert_eq!(
        row["arn"],
        "arn:aws:s3:::goldenpath-dev-orders-static-assets"
    );
}

const SECRET: &str = "apiVersion: goldenpath.io/v1
kind: SecretRequest
metadata:
  id: SEC-0001
  name: stripe-key
  service: payments
  environment: dev
  domain: commerce
spec:
  provider: aws-secrets-manager
  secretType: api-key
  risk: { tier: medium }
  rotation: { rotationClass: standard }
  lifecycle: { status: active, recoveryWindowInDays: 7 }
  access:
    namespace: payments
    k8sSecretName: stripe
    readPrincipals: [arn:aws:iam::123456789012:role/payments-api]
    writePrincipals: [arn:aws:iam::123456789012:role/payments-rotator]
  ttlDays: 90
";

#[test]
fn secret_and_repository_requests_are_applied_with_their_policies() {
    let moto = Moto::start();
    let p = platform(&moto);
    write(&p, "SEC-0001.yaml", SECRET);
    // Medium risk routes to security: no requester in the file, so whoever
    // applies it is who asked, and an approver may not apply it.
    let out = p.run(&["request", "apply", "SEC-0001"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert_eq!(
        as_actor(&p, "bob", &["request", "approve", "SEC-0001"]).code,
        3,
        "platform is not its route"
    );
    assert_eq!(
        as_actor(&p, "sam", &["request", "approve", "SEC-0001"]).code,
        0
    );
    let out = as_actor(&p, "sam", &["request", "apply", "SEC-0001"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(out.stderr.contains("sam approved it"), "{}", out.stderr);
    let plan = json(&p.ok(&["request", "plan", "SEC-0001", "--output", "json"]));
    assert_eq!(plan["resource"], "goldenpath/dev/payments/stripe-key");
    assert!(
        plan["deliveries"]
            .as_object()
            .unwrap()
            .contains_key("requests/dev/SEC-0001/externalsecret-payments-stripe-key-sync.yaml"),
        "{plan}"
    );
    let applied = json(&as_actor(
        &p,
        "carol",
        &["request", "apply", "SEC-0001", "--output", "json"],
    ));
    assert_eq!(applied["created"], true, "{applied}");
    let s: serde_json::Value = serde_json::from_str(&moto.py(
        "sm = boto3.client('secretsmanager', endpoint_url=e)
d = sm.describe_secret(SecretId='goldenpath/dev/payments/stripe-key')
p = sm.get_resource_policy(SecretId='goldenpath/dev/payments/stripe-key')['ResourcePolicy']
print(json.dumps({'tags': {t['Key']: t['Value'] for t in d['Tags']}, 'policy': json.loads(p), 'versions': len(sm.list_secret_version_ids(SecretId=d['ARN'])['Versions'])}))",
    ))
    .unwrap();
    assert_eq!(s["tags"]["goldenpath:request"], "SEC-0001");
    assert_eq!(s["tags"]["riskTier"], "medium");
    assert_eq!(s["tags"]["rotationClass"], "standard");
    assert_eq!(s["tags"]["recoveryWindowInDays"], "7");
    assert_eq!(s["versions"], 0, "no value is ever written by goldenpath");
    let statements = s["policy"]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{s}");
    assert_eq!(
        statements[0]["Principal"]["AWS"][0],
        "arn:aws:iam::123456789012:role/payments-api"
    );
    assert!(
        statements[0]["Action"]
            .to_string()
            .contains("secretsmanager:GetSecretValue")
    );
    assert!(
        !statements[1]["Action"]
            .to_string()
            .contains("GetSecretValue"),
        "writers do not read"
    );
    // The ExternalSecret: the whole secret, in the app's namespace, valid
    // for its CRD version.
    let es_path = p
        .path()
        .join("gitops/requests/dev/SEC-0001/externalsecret-payments-stripe-key-sync.yaml");
    let es = gp_core::yaml::parse(&std::fs::read_to_string(&es_path).unwrap())
        .unwrap()
        .unwrap()
        .to_json();
    assert_eq!(es["apiVersion"], "external-secrets.io/v1");
    assert_eq!(es["metadata"]["namespace"], "payments");
    assert_eq!(es["spec"]["target"]["name"], "stripe");
    assert_eq!(
        es["spec"]["dataFrom"][0]["extract"]["key"],
        "goldenpath/dev/payments/stripe-key"
    );
    gp_driver_gitops::schemas::check_external_secret(&es, "es.yaml").unwrap();
    let again = json(&as_actor(
        &p,
        "carol",
        &["request", "apply", "SEC-0001", "--output", "json"],
    ));
    assert_eq!(again["changes"], serde_json::json!([]), "{again}");
    // Adopted: a secret made by hand (with a value and a tag of its own)
    // gets its tags and policy; its value is left alone.
    moto.py(
        "boto3.client('secretsmanager', endpoint_url=e).create_secret(Name='goldenpath/dev/payments/webhook', SecretString='kept-by-hand-0123456789', Tags=[{'Key': 'team', 'Value': 'payments'}])",
    );
    let webhook = SECRET
        .replace("SEC-0001", "SEC-0003")
        .replace("stripe-key", "webhook")
        .replace("tier: medium", "tier: low");
    write(&p, "SEC-0003.yaml", &webhook);
    // Not without asking to adopt it, and not granting more than it does
    // without asking for that by name.
    let out = p.run(&["request", "apply", "SEC-0003"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(out.stderr.contains("set adopt: true"), "{}", out.stderr);
    assert!(
        out.stderr.contains("allowWeakening: [resourcePolicy]"),
        "{}",
        out.stderr
    );
    write(
        &p,
        "SEC-0003.yaml",
        &webhook.replace(
            "  ttlDays: 90",
            "  ttlDays: 90\n  adopt: true\n  allowWeakening: [resourcePolicy]",
        ),
    );
    assert_eq!(
        p.run(&["request", "apply", "SEC-0003"]).code,
        3,
        "the platform approves"
    );
    assert_eq!(
        as_actor(&p, "bob", &["request", "approve", "SEC-0003"]).code,
        0
    );
    let adopted = json(&p.ok(&["request", "apply", "SEC-0003", "--output", "json"]));
    assert_eq!(adopted["created"], false, "{adopted}");
    let s: serde_json::Value = serde_json::from_str(&moto.py(
        "sm = boto3.client('secretsmanager', endpoint_url=e)
d = sm.describe_secret(SecretId='goldenpath/dev/payments/webhook')
print(json.dumps({'tags': {t['Key']: t['Value'] for t in d['Tags']}, 'value': sm.get_secret_value(SecretId='goldenpath/dev/payments/webhook')['SecretString'], 'policy': 'ResourcePolicy' in sm.get_resource_policy(SecretId='goldenpath/dev/payments/webhook')}))",
    ))
    .unwrap();
    assert_eq!(s["tags"]["team"], "payments");
    assert_eq!(s["tags"]["goldenpath:request"], "SEC-0003");
    assert_eq!(s["value"], "kept-by-hand-0123456789");
    assert_eq!(s["policy"], true);
    // What goldenpath made for the platform (its tags say so) is never
    // adopted, approved or not; its policy stays as it was.
    moto.py(
        "boto3.client('secretsmanager', endpoint_url=e).create_secret(Name='goldenpath/dev/platform/admin', SecretString='platform-only-0123456789', Tags=[{'Key': 'ManagedBy', 'Value': 'goldenpath'}, {'Key': 'Component', 'Value': 'platform'}])",
    );
    write(
        &p,
        "SEC-0004.yaml",
        &SECRET
            .replace("SEC-0001", "SEC-0004")
            .replace("stripe-key", "admin")
            .replace("service: payments", "service: platform")
            .replace("tier: medium", "tier: low")
            .replace(
                "  ttlDays: 90",
                "  ttlDays: 90\n  adopt: true\n  allowWeakening: [resourcePolicy]",
            ),
    );
    assert_eq!(
        as_actor(&p, "bob", &["request", "approve", "SEC-0004"]).code,
        0
    );
    let out = p.run(&["request", "apply", "SEC-0004"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr.contains(
            "made by goldenpath for the platform (Component=platform, ManagedBy=goldenpath)"
        ),
        "{}",
        out.stderr
    );
    let policy = moto.py("print('ResourcePolicy' in boto3.client('secretsmanager', endpoint_url=e).get_resource_policy(SecretId='goldenpath/dev/platform/admin'))");
    assert_eq!(policy.trim(), "False", "no principal was granted anything");
    // A high-risk secret must rotate: refused, nothing created.
    write(
        &p,
        "SEC-0002.yaml",
        &SECRET
            .replace("SEC-0001", "SEC-0002")
            .replace("stripe-key", "card-vault")
            .replace("tier: medium", "tier: high")
            .replace("rotationClass: standard", "rotationClass: none"),
    );
    let out = p.run(&["request", "apply", "SEC-0002"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr.contains("requests/SEC-0002.yaml:13:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("a high-risk secret must rotate"),
        "{}",
        out.stderr
    );
    let names = moto.py("print(json.dumps([s['Name'] for s in boto3.client('secretsmanager', endpoint_url=e).list_secrets()['SecretList']]))");
    assert!(!names.contains("card-vault"), "{names}");

    // Hostile files: a path in a name, an environment that is a path, a
    // wildcard principal, a policy's quote. Each is stopped before any
    // call (exit 2 or 3), nothing is created and nothing is written
    // outside the GitOps tree.
    for (n, (from, to, code)) in [
        ("service: payments", "service: ../../etc", 2),
        ("environment: dev", "environment: ../../../tmp", 3),
        ("role/payments-api", "role/*", 2),
        ("role/payments-api", "role/x\"},{\"Effect\":\"Allow", 2),
        ("namespace: payments", "namespace: kube-system", 3),
        ("secretType: api-key", "secretType: \"$(touch pwned)\"", 2),
        ("ttlDays: 90", "ttlDays: 99999999999999999999999", 2),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("SEC-009{n}");
        write(
            &p,
            &format!("{id}.yaml"),
            &SECRET
                .replace("SEC-0001", &id)
                .replace("stripe-key", &format!("hostile-{n}"))
                .replace(from, to),
        );
        let out = as_actor(&p, "carol", &["request", "apply", &id]);
        assert_eq!(out.code, code, "{to}: {}", out.transcript());
    }
    let names = moto.py("print(json.dumps([s['Name'] for s in boto3.client('secretsmanager', endpoint_url=e).list_secrets()['SecretList']]))");
    assert!(!names.contains("hostile"), "{names}");
    assert!(!p.path().join("gitops/requests/tmp").exists());
    assert!(!p.path().join("pwned").exists());
    // A 10 MB description: refused at its line, quickly, nothing made.
    write(
        &p,
        "S3-0999.yaml",
        &format!(
            "kind: S3BucketRequest\nmetadata: {{ id: S3-0999, owner: o, requester: r }}\nspec:\n  environment: dev\n  application: big\n  bucketName: goldenpath-dev-big-logs\n  purpose: {{ type: logs, description: {} }}\n  tags: {{ costCenter: c }}\n",
            "x".repeat(10 * 1024 * 1024)
        ),
    );
    let out = p.run(&["request", "apply", "S3-0999"]);
    assert_eq!(out.code, 2, "{}", &out.stderr[..out.stderr.len().min(2000)]);
    assert!(
        out.stderr.contains("S3-0999.yaml:7:"),
        "{}",
        &out.stderr[..out.stderr.len().min(2000)]
    );
    assert!(
        out.stderr.len() < 100_000,
        "the error does not echo the value"
    );
    assert!(!std::path::Path::new("/tmp/payments-hostile-1-sync.yaml").exists());

    // A repository from the catalog template's layout.
    write(
        &p,
        "ECR-0001.yaml",
        "kind: EcrRepositoryRequest\nmetadata: { id: ECR-0001, owner: team-payments, requester: alice }\nspec:\n  repositoryName: payments/api\n  scanOnPush: true\n  imageTagMutability: IMMUTABLE\n  lifecyclePolicy: { keepLast: 25 }\n  risk: medium\n",
    );
    let applied = json(&p.ok(&["request", "apply", "ECR-0001", "--output", "json"]));
    assert_eq!(applied["created"], true);
    let r: serde_json::Value = serde_json::from_str(&moto.py(
        "c = boto3.client('ecr', endpoint_url=e)
r = c.describe_repositories(repositoryNames=['payments/api'])['repositories'][0]
pol = json.loads(c.get_lifecycle_policy(repositoryName='payments/api')['lifecyclePolicyText'])
tags = {t['Key']: t['Value'] for t in c.list_tags_for_resource(resourceArn=r['repositoryArn'])['tags']}
print(json.dumps({'scan': r['imageScanningConfiguration']['scanOnPush'], 'mut': r['imageTagMutability'], 'keep': pol['rules'][0]['selection']['countNumber'], 'tags': tags}))",
    ))
    .unwrap();
    assert_eq!(r["scan"], true);
    assert_eq!(r["mut"], "IMMUTABLE");
    assert_eq!(r["keep"], 25);
    assert_eq!(r["tags"]["goldenpath:request"], "ECR-0001");
    let again = json(&p.ok(&["request", "apply", "ECR-0001", "--output", "json"]));
    assert_eq!(again["changes"], serde_json::json!([]), "{again}");
    // Its settings changed behind goldenpath's back: the foundational
    // plane's drift names them on the request's row; `request apply` puts
    // them back.
    let ecr_row = |p: &Platform| {
        let out = p.run(&[
            "drift",
            "--env",
            "dev",
            "--foundational",
            "--output",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", out.transcript()));
        let row = v["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["component"] == "request ECR-0001")
            .unwrap_or_else(|| panic!("no row: {v}"))
            .clone();
        (out.code, row)
    };
    assert_eq!(ecr_row(&p).1["status"], "in-sync");
    moto.py(
        "c = boto3.client('ecr', endpoint_url=e)
c.put_image_scanning_configuration(repositoryName='payments/api', imageScanningConfiguration={'scanOnPush': False})
c.put_image_tag_mutability(repositoryName='payments/api', imageTagMutability='MUTABLE')",
    );
    let (code, row) = ecr_row(&p);
    assert_eq!(code, 4, "{row}");
    assert_eq!(row["status"], "drifted", "{row}");
    assert_eq!(row["differences"].as_array().unwrap().len(), 2, "{row}");
    p.ok(&["request", "apply", "ECR-0001"]);
    assert_eq!(ecr_row(&p).1["status"], "in-sync");
    // Adopted: a repository made by hand with mutable tags is set right.
    moto.py("boto3.client('ecr', endpoint_url=e).create_repository(repositoryName='payments/worker', imageTagMutability='MUTABLE')");
    write(
        &p,
        "ECR-0002.yaml",
        "kind: EcrRepositoryRequest\nmetadata: { id: ECR-0002, owner: team-payments, requester: alice }\nspec: { repositoryName: payments/worker }\n",
    );
    let out = p.run(&["request", "apply", "ECR-0002"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(out.stderr.contains("set adopt: true"), "{}", out.stderr);
    // Adopting it would also expire images (it keeps them all today): asked
    // for by name, and approved by the platform.
    write(
        &p,
        "ECR-0002.yaml",
        "kind: EcrRepositoryRequest\nmetadata: { id: ECR-0002, owner: team-payments, requester: alice }\nspec: { repositoryName: payments/worker, adopt: true, allowWeakening: [lifecycle] }\n",
    );
    assert_eq!(
        as_actor(&p, "bob", &["request", "approve", "ECR-0002"]).code,
        0
    );
    let adopted = json(&p.ok(&["request", "apply", "ECR-0002", "--output", "json"]));
    assert_eq!(adopted["created"], false);
    assert!(
        adopted["changes"].to_string().contains("tags immutable"),
        "{adopted}"
    );
    let m = moto.py("print(boto3.client('ecr', endpoint_url=e).describe_repositories(repositoryNames=['payments/worker'])['repositories'][0]['imageTagMutability'])");
    assert_eq!(m.trim(), "IMMUTABLE");
    // The hostile adoption: an immutable repository made by hand, and a
    // request that would make its tags mutable and keep one image. Refused
    // by name, approved or not; nothing changed.
    moto.py("c = boto3.client('ecr', endpoint_url=e)\nr = c.create_repository(repositoryName='payments/ledger', imageTagMutability='IMMUTABLE', imageScanningConfiguration={'scanOnPush': True})\nc.tag_resource(resourceArn=r['repository']['repositoryArn'], tags=[{'Key': 'owner', 'Value': 'team-ledger'}])");
    write(
        &p,
        "ECR-0004.yaml",
        "kind: EcrRepositoryRequest\nmetadata: { id: ECR-0004, owner: team-payments, requester: alice }\nspec: { repositoryName: payments/ledger, adopt: true, tagImmutability: false, scanOnPush: false, keepLast: 1 }\n",
    );
    assert_eq!(
        as_actor(&p, "bob", &["request", "approve", "ECR-0004"]).code,
        0
    );
    let out = p.run(&["request", "apply", "ECR-0004"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    for setting in ["tagImmutability", "scanOnPush", "lifecycle"] {
        assert!(
            out.stderr.contains(&format!("allowWeakening: [{setting}]")),
            "{setting}: {}",
            out.stderr
        );
    }
    let ledger: serde_json::Value = serde_json::from_str(&moto.py(
        "c = boto3.client('ecr', endpoint_url=e)
r = c.describe_repositories(repositoryNames=['payments/ledger'])['repositories'][0]
tags = {t['Key']: t['Value'] for t in c.list_tags_for_resource(resourceArn=r['repositoryArn'])['tags']}
print(json.dumps({'mut': r['imageTagMutability'], 'tags': tags}))",
    ))
    .unwrap();
    assert_eq!(ledger["mut"], "IMMUTABLE");
    assert_eq!(ledger["tags"]["owner"], "team-ledger", "the owner tag kept");
    // prod repositories are immutable: refused.
    write(
        &p,
        "ECR-0003.yaml",
        "kind: EcrRepositoryRequest\nmetadata: { id: ECR-0003, owner: team-payments, requester: alice }\nspec: { repositoryName: payments/prod-api, environment: prod, tagImmutability: false }\n",
    );
    let out = p.run(&["request", "apply", "ECR-0003"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(out.stderr.contains("immutable tags"), "{}", out.stderr);
    // The schemas are published per kind.
    for kind in ["s3", "secret", "ecr"] {
        let schema: serde_json::Value =
            serde_json::from_str(&p.ok(&["request", "schema", kind]).stdout).unwrap();
        assert!(
            schema["properties"]["spec"]["properties"].is_object(),
            "{kind}: {schema}"
        );
    }
}
