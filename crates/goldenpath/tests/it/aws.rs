//! AWS for real, against a local endpoint (moto's server, started per test)
//! reached by the AWS SDK inside goldenpath and by Terraform's S3 backend;
//! every fact is asserted through boto3, an independent client: Secrets
//! Manager (adopt-or-create, tags, KMS key, deletion with and without a
//! recovery window, values never printed or recorded), Route 53 (records
//! and ownership TXTs as ExternalDNS writes them, another owner's record
//! untouched and a conflict refused, batches of at most 1,000 changes,
//! throttling), S3 state with DynamoDB locks (two builds side by side, a
//! stale lock of a killed runner shown and force-unlocked), the tag sweep,
//! and examples/golden-v1 end to end.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use gp_test::moto::Moto;
use serde_json::Value;

use crate::gp;

struct Aws {
    moto: Moto,
    dir: tempfile::TempDir,
}

impl Aws {
    fn new(spec: &str) -> Aws {
        let moto = Moto::start();
        let dir = gp_test::tempdir();
        std::fs::write(dir.path().join("goldenpath.yaml"), spec).unwrap();
        Aws { moto, dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn spec(&self, spec: &str) {
        std::fs::write(self.path().join("goldenpath.yaml"), spec).unwrap();
    }
    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = gp();
        c.current_dir(self.path())
            .env("GOLDENPATH_ACTOR", "tester")
            .args(args);
        self.moto.apply(&mut c);
        c
    }
    fn run(&self, args: &[&str]) -> gp_test::Output {
        gp_test::run(&mut self.cmd(args))
    }
    fn ok(&self, args: &[&str]) -> gp_test::Output {
        let out = self.run(args);
        assert_eq!(out.code, 0, "{args:?}\n{}", out.transcript());
        out
    }
    fn py_json(&self, script: &str) -> Value {
        serde_json::from_str(&self.moto.py(script)).unwrap()
    }
    fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        let mut c = self.cmd(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap()
    }
}

fn kill_group(child: &mut Child) {
    std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    let _ = child.wait();
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    // A deadline, not a delay: on a loaded 2-core runner the deploy's init
    // and plan before the apply can take minutes.
    let deadline = Instant::now() + Duration::from_secs(300);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const SECRETS: &str = "\
apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
secrets: { backend: aws, region: eu-west-2, kmsKeyId: KMS_KEY }
environments:
  dev:
    persistent: { maxTier: 3 }
    ephemeral: { maxTier: 2 }
components:
  - name: app-secrets
    plane: disposable
    tier: 1
    driver: secrets
    settings:
      secrets:
        - name: grafana_admin
          generate: [password]
        - name: signing_key
          generate: [key]
          length: 48
";

const B1: &str = "23-01-26-01";

#[test]
fn secrets_manager_adopts_or_creates_tags_and_deletes_by_lifecycle() {
    let moto = Moto::start();
    let key =
        moto.py("print(boto3.client('kms', endpoint_url=e).create_key()['KeyMetadata']['KeyId'])");
    let key = key.trim();
    let a = Aws {
        dir: {
            let d = gp_test::tempdir();
            std::fs::write(
                d.path().join("goldenpath.yaml"),
                SECRETS.replace("KMS_KEY", key),
            )
            .unwrap();
            d
        },
        moto,
    };
    // One of the build's secrets exists already (made by hand): adopted,
    // its value kept.
    let adopted = format!("demo/dev/builds/{B1}/signing_key");
    a.moto.py(&format!(
        "boto3.client('secretsmanager', endpoint_url=e).create_secret(Name='{adopted}', SecretString=json.dumps({{'key': 'kept-by-hand-value-0123456789abcdef0123'}}))"
    ));
    a.ok(&["validate"]);
    let out = a.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    let created = format!("demo/dev/builds/{B1}/grafana_admin");
    let described = a.py_json(&format!(
        "sm = boto3.client('secretsmanager', endpoint_url=e)\nd = sm.describe_secret(SecretId='{created}')\nv = sm.get_secret_value(SecretId='{created}')['SecretString']\nk = sm.get_secret_value(SecretId='{adopted}')['SecretString']\nprint(json.dumps({{'tags': {{t['Key']: t['Value'] for t in d['Tags']}}, 'kms': d.get('KmsKeyId'), 'value': json.loads(v), 'adopted': json.loads(k), 'versions': len(sm.list_secret_version_ids(SecretId='{created}')['Versions'])}}))"
    ));
    let tags = &described["tags"];
    for (k, v) in [
        ("Environment", "dev"),
        ("Project", "demo"),
        ("ManagedBy", "goldenpath"),
        ("Lifecycle", "ephemeral"),
        ("BuildId", B1),
        ("Component", "app-secrets"),
    ] {
        assert_eq!(tags[k], v, "tag {k}: {described}");
    }
    assert!(
        described["kms"].as_str().unwrap().contains(key),
        "{described}"
    );
    let password = described["value"]["password"].as_str().unwrap().to_string();
    assert!(password.len() >= 32);
    assert_eq!(
        described["adopted"]["key"], "kept-by-hand-value-0123456789abcdef0123",
        "an adopted secret keeps its value"
    );
    // Applying again changes nothing (no new version).
    a.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    let versions = a.py_json(&format!(
        "print(len(boto3.client('secretsmanager', endpoint_url=e).list_secret_version_ids(SecretId='{created}')['Versions']))"
    ));
    assert_eq!(versions, described["versions"]);
    // A tag changed and one removed on Secrets Manager behind goldenpath's
    // back: drift names both (never the value); a deploy puts them back
    // and writes no new version of the value.
    assert_eq!(a.run(&["drift", "--env", "dev", "--build-id", B1]).code, 0);
    a.moto.py(&format!(
        "sm = boto3.client('secretsmanager', endpoint_url=e)\nsm.untag_resource(SecretId='{created}', TagKeys=['Component'])\nsm.tag_resource(SecretId='{created}', Tags=[{{'Key': 'BuildId', 'Value': '99-99-99-99'}}])"
    ));
    let drifted = a.run(&[
        "drift",
        "--env",
        "dev",
        "--build-id",
        B1,
        "--output",
        "json",
    ]);
    assert_eq!(drifted.code, 4, "{}", drifted.transcript());
    assert!(
        drifted
            .stdout
            .contains(&format!("{created}: tag `Component` was removed"))
            && drifted.stdout.contains(&format!(
                "{created}: tag `BuildId` is `99-99-99-99`, not `{B1}`"
            ))
            && !drifted.stdout.contains(&password),
        "{}",
        drifted.stdout
    );
    a.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    assert_eq!(a.run(&["drift", "--env", "dev", "--build-id", B1]).code, 0);
    let retagged = a.py_json(&format!(
        "sm = boto3.client('secretsmanager', endpoint_url=e)\nd = sm.describe_secret(SecretId='{created}')\nprint(json.dumps({{t['Key']: t['Value'] for t in d['Tags']}}))"
    ));
    assert_eq!(retagged["Component"], "app-secrets", "{retagged}");
    assert_eq!(retagged["BuildId"], B1, "{retagged}");
    // A value changed on Secrets Manager behind goldenpath's back: drift
    // names it, compared by digest — neither value is printed —; the
    // adopted secret, unchanged, is not named. A deploy takes the value now
    // held as applied (goldenpath keeps no copy to put back), and drift
    // exits 0.
    let changed = "changed-by-hand-0123456789abcdef0123456789";
    a.moto.py(&format!(
        "boto3.client('secretsmanager', endpoint_url=e).put_secret_value(SecretId='{created}', SecretString=json.dumps({{'password': '{changed}'}}))"
    ));
    let drifted = a.run(&[
        "drift",
        "--env",
        "dev",
        "--build-id",
        B1,
        "--output",
        "json",
    ]);
    assert_eq!(drifted.code, 4, "{}", drifted.transcript());
    assert!(
        drifted.stdout.contains(&format!(
            "{created}: its value changed since goldenpath applied it (compared by digest)"
        )) && !drifted.stdout.contains(&adopted)
            && !drifted.stdout.contains(changed)
            && !drifted.stdout.contains(&password)
            && !drifted.stderr.contains(changed),
        "{}",
        drifted.transcript()
    );
    a.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    assert_eq!(a.run(&["drift", "--env", "dev", "--build-id", B1]).code, 0);
    // A resource policy put on it by hand: drift names it; a deploy takes
    // it as applied (goldenpath sets no policy of its own).
    a.moto.py(&format!(
        "boto3.client('secretsmanager', endpoint_url=e).put_resource_policy(SecretId='{created}', ResourcePolicy=json.dumps({{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Principal': {{'AWS': 'arn:aws:iam::123456789012:root'}}, 'Action': 'secretsmanager:GetSecretValue', 'Resource': '*'}}]}}))"
    ));
    let drifted = a.run(&["drift", "--env", "dev", "--build-id", B1]);
    assert_eq!(drifted.code, 4, "{}", drifted.transcript());
    assert!(
        drifted
            .stdout
            .contains(&format!("{created}: a resource policy was added")),
        "{}",
        drifted.stdout
    );
    a.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    assert_eq!(a.run(&["drift", "--env", "dev", "--build-id", B1]).code, 0);
    a.moto.py(&format!(
        "boto3.client('secretsmanager', endpoint_url=e).delete_resource_policy(SecretId='{created}')"
    ));
    let drifted = a.run(&["drift", "--env", "dev", "--build-id", B1]);
    assert_eq!(drifted.code, 4, "{}", drifted.transcript());
    assert!(
        drifted
            .stdout
            .contains(&format!("{created}: its resource policy was removed")),
        "{}",
        drifted.stdout
    );
    a.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    // The secret commands behave as on the local store.
    let listed = a.ok(&["secret", "list"]).stdout;
    assert!(
        listed.contains(&created) && listed.contains(&adopted),
        "{listed}"
    );
    // (Its value is the one changed by hand above, taken as applied.)
    let got = a.ok(&["secret", "get", &created]).stdout;
    assert!(
        got.contains("password: ***") && !got.contains(changed),
        "{got}"
    );
    let revealed = a
        .ok(&["secret", "get", &created, "--reveal", "--output", "json"])
        .stdout;
    assert!(revealed.contains(changed));
    let mut put = a.cmd(&["secret", "put", "demo/dev/tokens/api"]);
    put.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = put.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"token\": \"tok-0123456789-from-stdin\"}")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(
        a.moto
            .py("print(boto3.client('secretsmanager', endpoint_url=e).get_secret_value(SecretId='demo/dev/tokens/api')['SecretString'])")
            .trim(),
        "{\"token\": \"tok-0123456789-from-stdin\"}"
    );

    // The persistent deployment's secret: created, then deleted by its
    // teardown with the recovery window kept.
    a.ok(&["deploy", "--env", "dev", "--persistent"]);
    a.ok(&["teardown", "--env", "dev", "--persistent", "--confirm"]);
    let persistent = a.py_json(
        "sm = boto3.client('secretsmanager', endpoint_url=e)\nd = sm.describe_secret(SecretId='demo/dev/grafana_admin')\nprint(json.dumps({'deleted': 'DeletedDate' in d, 'listed': [s['Name'] for s in sm.list_secrets()['SecretList']]}))",
    );
    assert_eq!(persistent["deleted"], true, "{persistent}");
    assert!(
        !persistent["listed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "demo/dev/grafana_admin")
    );

    // The build's teardown: what it created goes at once (no recovery
    // window: the name is free again), what it adopted stays.
    let out2 = a.ok(&["teardown", "--env", "dev", "--build-id", B1]);
    assert!(
        out2.stdout.contains("nothing left behind"),
        "{}",
        out2.stdout
    );
    let after = a.py_json(
        "sm = boto3.client('secretsmanager', endpoint_url=e)\nnames = [s['Name'] for s in sm.list_secrets(IncludePlannedDeletion=True)['SecretList']]\nprint(json.dumps(names))");
    let names: Vec<&str> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&created.as_str()),
        "force-deleted: {names:?}"
    );
    assert!(
        names.contains(&adopted.as_str()),
        "adopted stays: {names:?}"
    );
    // A second teardown is not an error and finds nothing.
    a.ok(&["teardown", "--env", "dev", "--build-id", B1]);

    // The password never reached output, logs or the registry.
    for text in [
        &out.stdout,
        &out.stderr,
        &out2.stdout,
        &out2.stderr,
        &listed,
        &got,
    ] {
        assert!(!text.contains(&password));
    }
    for file in walk(&a.path().join(".goldenpath")) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&password),
            "{} holds a secret value",
            file.display()
        );
    }
    let _ = out;
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

const DNS: &str = "\
apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: r53.example.io
owner: team
dns: { txtPrefix: \"\" }
environments:
  dev:
    persistent: { maxTier: 3 }
    ephemeral: { maxTier: 2 }
components:
  - name: dns-zone
    plane: foundational
    tier: 0
    driver: dns
    settings:
      backend: route53
ZONE_ID
  - name: web
    plane: disposable
    tier: 1
    driver: exec
    needs: [dns-zone]
    hosts:
HOSTS
    settings:
      apply: \"true\"
      destroy: \"true\"
";

fn dns_spec(zone_id: Option<&str>, hosts: &[(&str, &str)]) -> String {
    let hosts: String = hosts
        .iter()
        .map(|(n, t)| format!("      - name: {n}\n        target: {t}\n"))
        .collect();
    DNS.replace(
        "ZONE_ID\n",
        &zone_id
            .map(|z| format!("      hostedZoneId: {z}\n"))
            .unwrap_or_default(),
    )
    .replace("HOSTS\n", &hosts)
}

/// The zone's records as boto3 lists them: `name type value` lines.
fn records(a: &Aws, zone: &str) -> Vec<String> {
    let v = a.py_json(&format!(
        "c = boto3.client('route53', endpoint_url=e)\nout = []\nfor p in c.get_paginator('list_resource_record_sets').paginate(HostedZoneId='{zone}'):\n  for r in p['ResourceRecordSets']:\n    if r['Type'] in ('NS', 'SOA'): continue\n    for v in r.get('ResourceRecords', []): out.append(r['Name'] + ' ' + r['Type'] + ' ' + v['Value'])\nprint(json.dumps(sorted(out)))"
    ));
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn make_zone(moto: &Moto) -> String {
    moto.py(
        "c = boto3.client('route53', endpoint_url=e)\nz = c.create_hosted_zone(Name='r53.example.io', CallerReference='t')['HostedZone']['Id'].split('/')[-1]\nc.change_resource_record_sets(HostedZoneId=z, ChangeBatch={'Changes': [\n {'Action': 'CREATE', 'ResourceRecordSet': {'Name': 'grafana.dev.r53.example.io', 'Type': 'CNAME', 'TTL': 60, 'ResourceRecords': [{'Value': 'lb.cluster.net'}]}},\n {'Action': 'CREATE', 'ResourceRecordSet': {'Name': 'cname-grafana.dev.r53.example.io', 'Type': 'TXT', 'TTL': 60, 'ResourceRecords': [{'Value': '\"heritage=external-dns,external-dns/owner=cluster-dev,external-dns/resource=ingress/monitoring/grafana\"'}]}}]})\nprint(z)",
    )
    .trim()
    .to_string()
}

#[test]
fn route53_records_are_written_as_external_dns_writes_them_and_others_are_never_touched() {
    let moto = Moto::start();
    let zone = make_zone(&moto);
    let a = Aws {
        dir: gp_test::tempdir(),
        moto,
    };
    // The zone found by its name (no id in the spec).
    a.spec(&dns_spec(
        None,
        &[("web", "lb.example.net"), ("api", "10.0.0.7")],
    ));
    let before = records(&a, &zone);
    a.ok(&["deploy", "--env", "dev", "--foundational"]);
    a.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    let owner = format!(
        "\"heritage=external-dns,external-dns/owner=demo-dev-{B1},external-dns/resource=goldenpath/web\""
    );
    let now = records(&a, &zone);
    for want in [
        format!("web.b-{B1}.dev.r53.example.io. CNAME lb.example.net."),
        format!("cname-web.b-{B1}.dev.r53.example.io. TXT {owner}"),
        format!("api.b-{B1}.dev.r53.example.io. A 10.0.0.7"),
        format!("a-api.b-{B1}.dev.r53.example.io. TXT {owner}"),
    ] {
        assert!(now.contains(&want), "{want} in {now:#?}");
    }
    for r in &before {
        assert!(now.contains(r), "ExternalDNS's {r} is untouched");
    }
    // Drift reads the hosted zone (on its own thread, while the build's
    // journal is read): in sync, a record changed behind goldenpath's back
    // is drift, and in sync again once it is as published.
    let drift = a.run(&["drift", "--env", "dev", "--build-id", B1]);
    assert_eq!(drift.code, 0, "{}", drift.transcript());
    let set_api = |address: &str| {
        a.moto.py(&format!(
            "boto3.client('route53', endpoint_url=e).change_resource_record_sets(HostedZoneId='{zone}', ChangeBatch={{'Changes': [{{'Action': 'UPSERT', 'ResourceRecordSet': {{'Name': 'api.b-{B1}.dev.r53.example.io', 'Type': 'A', 'TTL': 300, 'ResourceRecords': [{{'Value': '{address}'}}]}}}}]}})"
        ))
    };
    set_api("10.0.0.8");
    let drift = a.run(&["drift", "--env", "dev", "--build-id", B1]);
    assert_eq!(drift.code, 4, "{}", drift.transcript());
    assert!(
        drift
            .stdout
            .contains(&format!("api.b-{B1}.dev.r53.example.io A points elsewhere")),
        "{}",
        drift.transcript()
    );
    set_api("10.0.0.7");
    assert_eq!(records(&a, &zone), now);
    let drift = a.run(&["drift", "--env", "dev", "--build-id", B1]);
    assert_eq!(drift.code, 0, "{}", drift.transcript());
    // The same name as ExternalDNS's record, in the persistent deployment:
    // refused before anything changes (exit 3).
    a.spec(&dns_spec(Some(&zone), &[("grafana", "lb.example.net")]));
    let refused = a.run(&["deploy", "--env", "dev", "--persistent"]);
    assert_eq!(refused.code, 3, "{}", refused.transcript());
    assert!(
        refused.stdout.contains("cluster-dev") || refused.stderr.contains("cluster-dev"),
        "{}",
        refused.transcript()
    );
    assert_eq!(records(&a, &zone), now, "nothing changed");
    // The build's teardown removes exactly its records and TXTs.
    a.spec(&dns_spec(
        Some(&zone),
        &[("web", "lb.example.net"), ("api", "10.0.0.7")],
    ));
    let out = a.ok(&["teardown", "--env", "dev", "--build-id", B1]);
    assert!(out.stdout.contains("nothing left behind"), "{}", out.stdout);
    assert_eq!(records(&a, &zone), before);
}

#[test]
fn route53_with_txt_legacy_gets_both_ownership_txts_and_loses_both_at_teardown() {
    let moto = Moto::start();
    let zone = make_zone(&moto);
    let a = Aws {
        dir: gp_test::tempdir(),
        moto,
    };
    a.spec(&dns_spec(Some(&zone), &[("api", "10.0.0.7")]).replace(
        "dns: { txtPrefix: \"\" }",
        "dns: { txtPrefix: external-dns., txtLegacy: true }",
    ));
    let before = records(&a, &zone);
    a.ok(&["deploy", "--env", "dev", "--foundational"]);
    a.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    let owner = format!(
        "\"heritage=external-dns,external-dns/owner=demo-dev-{B1},external-dns/resource=goldenpath/web\""
    );
    let now = records(&a, &zone);
    for want in [
        format!("api.b-{B1}.dev.r53.example.io. A 10.0.0.7"),
        format!("external-dns.a-api.b-{B1}.dev.r53.example.io. TXT {owner}"),
        format!("external-dns.api.b-{B1}.dev.r53.example.io. TXT {owner}"),
    ] {
        assert!(now.contains(&want), "{want} in {now:#?}");
    }
    a.ok(&["teardown", "--env", "dev", "--build-id", B1]);
    assert_eq!(records(&a, &zone), before);
}

#[test]
fn route53_changes_go_in_batches_of_at_most_1000_and_throttling_is_retried() {
    let moto = Moto::start();
    let zone = make_zone(&moto);
    // Every second request is refused, alternately as `Throttling` and
    // `PriorRequestNotComplete`; only Route 53 traffic goes through the
    // proxy (AWS_ENDPOINT_URL_ROUTE_53), the rest straight to the endpoint.
    let proxy = gp_test::proxy::Proxy::start(
        moto.port(),
        Box::new(|n, _| (n % 2 == 0).then(|| gp_test::proxy::route53_throttled(n % 4 == 0))),
    );
    let a = Aws {
        dir: gp_test::tempdir(),
        moto,
    };
    let hosts: Vec<(String, String)> = (0..600)
        .map(|i| {
            (
                format!("h{i:03}"),
                format!("10.1.{}.{}", i / 250, i % 250 + 1),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = hosts
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    a.spec(&dns_spec(Some(&zone), &refs));
    let run = |args: &[&str]| {
        let mut c = a.cmd(args);
        c.env("AWS_ENDPOINT_URL_ROUTE_53", proxy.url());
        let out = gp_test::run(&mut c);
        assert_eq!(out.code, 0, "{args:?}\n{}", out.transcript());
        out
    };
    run(&["deploy", "--env", "dev", "--foundational"]);
    run(&["deploy", "--env", "dev", "--build-id", B1]);
    assert!(
        proxy.refused.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the proxy throttled"
    );
    let now = records(&a, &zone);
    assert_eq!(now.len(), 2 + 600 * 2, "every record and TXT is there");
    // 1,200 changes (600 records and their TXTs), about 110 characters of
    // values per record and TXT: within Route 53's limits of 1,000 changes
    // and 32,000 characters of values per request, 290 records a request,
    // three ChangeResourceRecordSets requests that went through.
    let seen = proxy.seen.lock().unwrap().clone();
    let changes = seen
        .iter()
        .filter(|(l, refused)| !refused && l.starts_with("POST") && l.contains("/rrset"))
        .count();
    assert_eq!(changes, 3, "{seen:#?}");
    run(&["teardown", "--env", "dev", "--build-id", B1]);
    assert_eq!(records(&a, &zone).len(), 2);
}

const TF_ROOT: &str = r#"terraform {
  backend "s3" {}
}
variable "build_id" { type = string }
variable "tags" { type = map(string) }
variable "delay" {
  type    = number
  default = 0
}
resource "terraform_data" "thing" {
  input = { build = var.build_id, tags = var.tags }
  provisioner "local-exec" {
    command = "sleep ${var.delay}"
  }
}
output "name" { value = "thing-${var.build_id}" }
"#;

const TF: &str = "\
apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
environments:
  dev:
    persistent: { maxTier: 3 }
    ephemeral: { maxTier: 2 }
components:
  - name: thing
    plane: disposable
    tier: 0
    driver: terraform
    settings:
      root: root
      backend:
        s3: { bucket: \"demo-{env}-tfstate\", region: eu-west-2, dynamodbTable: \"demo-{env}-tflock\", usePathStyle: true }
";

fn tf_platform() -> Aws {
    let a = Aws::new(TF);
    std::fs::create_dir_all(a.path().join("root")).unwrap();
    std::fs::write(a.path().join("root/main.tf"), TF_ROOT).unwrap();
    a.moto.py(
        "boto3.client('s3', endpoint_url=e).create_bucket(Bucket='demo-dev-tfstate', CreateBucketConfiguration={'LocationConstraint': 'eu-west-2'})\nboto3.client('dynamodb', endpoint_url=e).create_table(TableName='demo-dev-tflock', KeySchema=[{'AttributeName': 'LockID', 'KeyType': 'HASH'}], AttributeDefinitions=[{'AttributeName': 'LockID', 'AttributeType': 'S'}], BillingMode='PAY_PER_REQUEST')",
    );
    a
}

fn state_objects(a: &Aws) -> Vec<String> {
    let v = a.py_json(
        "print(json.dumps(sorted(o['Key'] for o in boto3.client('s3', endpoint_url=e).list_objects_v2(Bucket='demo-dev-tfstate').get('Contents', []))))",
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn locks(a: &Aws) -> Vec<Value> {
    a.py_json(
        "items = boto3.client('dynamodb', endpoint_url=e).scan(TableName='demo-dev-tflock')['Items']\nprint(json.dumps([json.loads(i['Info']['S']) for i in items if 'Info' in i]))",
    )
    .as_array()
    .unwrap()
    .clone()
}

/// Terraform's lock request reaches DynamoDB and is written, but its
/// answer is lost: the AWS SDK's retry of the same conditional write finds
/// the lock there, and Terraform reports its own lock as someone else's,
/// never to release it. The run that took it releases it and goes on.
#[test]
fn a_lock_whose_answer_was_lost_is_released_by_the_run_that_took_it() {
    let a = tf_platform();
    let once = std::sync::atomic::AtomicBool::new(false);
    let proxy = gp_test::proxy::Proxy::losing(
        a.moto.port(),
        Box::new(move |head, body| {
            head.contains("DynamoDB_20120810.PutItem")
                && String::from_utf8_lossy(body).contains("OperationTypePlan")
                && !once.swap(true, std::sync::atomic::Ordering::SeqCst)
        }),
    );
    let mut deploy = a.cmd(&["deploy", "--env", "dev", "--build-id", B1]);
    deploy.env("AWS_ENDPOINT_URL_DYNAMODB", proxy.url());
    let out = gp_test::run(&mut deploy);
    assert_eq!(
        proxy.lost.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the lock's answer was lost\n{}",
        out.transcript()
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    // Nothing left in the lock table (read with boto3), and the build's
    // state is there.
    assert!(locks(&a).is_empty(), "{:?}", locks(&a));
    assert_eq!(
        state_objects(&a),
        [format!("env:/thing/envs/dev/builds/{B1}/terraform.tfstate")]
    );
    // The release is recorded as a phase of the run.
    let phases = a.ok(&["registry", "export", "--output", "json"]);
    assert!(
        phases.stdout.contains("terraform-release-own-lock"),
        "{}",
        phases.stdout
    );
}

/// The same, for the lock Terraform takes to make a new workspace, which
/// no Terraform command can release in the usual configuration (each needs
/// the workspace's state, made under that lock): the run makes the
/// workspace without the lock (its own lock keeps others out), releases
/// it and goes on; when that fails too, it stops naming the item to
/// delete, and runs once it is gone.
#[test]
fn a_new_workspaces_lock_whose_answer_was_lost_is_released_or_named() {
    use std::sync::atomic::{AtomicBool, Ordering};
    const B2: &str = "23-01-26-02";
    let a = tf_platform();
    let init_lock = |head: &str, body: &[u8]| {
        head.contains("DynamoDB_20120810.PutItem")
            && String::from_utf8_lossy(body).contains("\\\"Operation\\\":\\\"init\\\"")
    };
    let deploy = |build: &str, proxy: Option<&gp_test::proxy::Proxy>| {
        let mut c = a.cmd(&["deploy", "--env", "dev", "--build-id", build]);
        if let Some(p) = proxy {
            c.env("AWS_ENDPOINT_URL_DYNAMODB", p.url());
        }
        gp_test::run(&mut c)
    };
    // Released by the run.
    let once = AtomicBool::new(false);
    let proxy = gp_test::proxy::Proxy::losing(
        a.moto.port(),
        Box::new(move |head, body| init_lock(head, body) && !once.swap(true, Ordering::SeqCst)),
    );
    let out = deploy(B1, Some(&proxy));
    assert_eq!(proxy.lost.load(Ordering::SeqCst), 1);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(locks(&a).is_empty(), "{:?}", locks(&a));
    assert_eq!(
        state_objects(&a),
        [format!("env:/thing/envs/dev/builds/{B1}/terraform.tfstate")]
    );
    let export = a.ok(&["registry", "export", "--output", "json"]);
    assert!(export.stdout.contains("terraform-release-own-lock"));
    // Its release's answer lost as well: named, with the removal.
    let once = AtomicBool::new(false);
    let proxy = gp_test::proxy::Proxy::losing(
        a.moto.port(),
        Box::new(move |head, body| {
            (init_lock(head, body) && !once.swap(true, Ordering::SeqCst))
                || head.contains("DynamoDB_20120810.DeleteItem")
        }),
    );
    let out = deploy(B2, Some(&proxy));
    assert_ne!(out.code, 0, "{}", out.transcript());
    let lock_id = format!("demo-dev-tfstate/env:/thing/envs/dev/builds/{B2}/terraform.tfstate");
    let removal = format!(
        "aws dynamodb delete-item --table-name demo-dev-tflock --key '{{\"LockID\":{{\"S\":\"{lock_id}\"}}}}'"
    );
    assert!(
        out.stderr.contains("lost the answer"),
        "{}",
        out.transcript()
    );
    assert!(out.stderr.contains(&removal), "{}", out.transcript());
    // Removed as the hint says (with boto3), the run goes on.
    a.moto.py(&format!(
        "boto3.client('dynamodb', endpoint_url=e).delete_item(TableName='demo-dev-tflock', Key={{'LockID': {{'S': '{lock_id}'}}}})"
    ));
    let out = deploy(B2, None);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(locks(&a).is_empty(), "{:?}", locks(&a));
}

#[test]
fn terraform_state_in_s3_two_builds_side_by_side_and_a_stale_lock_force_unlocked() {
    let a = tf_platform();
    const B2: &str = "23-01-26-02";
    // A plan only looks: no workspace, no state object, no lock left.
    a.ok(&["plan", "--env", "dev", "--build-id", B1]);
    assert!(state_objects(&a).is_empty(), "{:?}", state_objects(&a));
    assert!(locks(&a).is_empty());
    a.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    // Nor does a plan of what is deployed change a byte of the bucket.
    let bodies = || {
        a.py_json(
            "s3 = boto3.client('s3', endpoint_url=e)\nprint(json.dumps({o['Key']: [o['ETag'], o['Size']] for o in s3.list_objects_v2(Bucket='demo-dev-tfstate').get('Contents', [])}))",
        )
    };
    let deployed = bodies();
    a.ok(&["plan", "--env", "dev", "--build-id", B1]);
    a.ok(&["plan", "--env", "dev", "--build-id", B2]);
    assert_eq!(bodies(), deployed, "a plan changed the state bucket");
    a.ok(&["deploy", "--env", "dev", "--build-id", B2]);
    let objects = state_objects(&a);
    assert_eq!(
        objects,
        vec![
            format!("env:/thing/envs/dev/builds/{B1}/terraform.tfstate"),
            format!("env:/thing/envs/dev/builds/{B2}/terraform.tfstate"),
        ],
        "one state per build under the contract's key"
    );
    // A runner killed in the middle of an apply leaves its lock in DynamoDB.
    std::fs::write(
        a.path().join("root/main.tf"),
        TF_ROOT.replace(
            "input = { build",
            "triggers_replace = [\"changed\"]\n  input = { build",
        ),
    )
    .unwrap();
    let mut child = a.spawn(
        &["deploy", "--env", "dev", "--build-id", B1],
        &[("TF_VAR_delay", "60")],
    );
    // The apply's lock (plan takes and releases one before it).
    wait_until("the apply's state lock", || {
        locks(&a)
            .iter()
            .any(|l| l["Operation"] == "OperationTypeApply")
    });
    kill_group(&mut child);
    let stale = locks(&a);
    assert_eq!(stale.len(), 1, "{stale:?}");
    let id = stale[0]["ID"].as_str().unwrap().to_string();
    // The next run is refused and says whose lock it is and how old.
    let refused = a.run(&["deploy", "--env", "dev", "--build-id", B1]);
    assert_ne!(refused.code, 0);
    let all = refused.transcript();
    assert!(all.contains(&id), "the lock id: {all}");
    assert!(
        all.contains(stale[0]["Who"].as_str().unwrap()),
        "the holder: {all}"
    );
    assert!(all.contains("ago") || all.contains("old"), "its age: {all}");
    // Forced, with a reason, recorded.
    a.ok(&[
        "terraform",
        "unlock",
        "--env",
        "dev",
        "--build-id",
        B1,
        "thing",
        "--lock-id",
        &id,
        "--reason",
        "the runner was killed",
    ]);
    assert!(locks(&a).is_empty(), "the lock item is gone from DynamoDB");
    let shown = a
        .ok(&["builds", "show", "--env", "dev", "--build-id", B1])
        .stdout;
    assert!(shown.contains("force_unlock_succeeded"), "{shown}");
    assert!(shown.contains("the runner was killed"), "{shown}");
    // The resumed deploy finishes; both builds tear down to nothing.
    a.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    a.ok(&["teardown", "--env", "dev", "--build-id", B1]);
    a.ok(&["teardown", "--env", "dev", "--build-id", B2]);
    assert!(state_objects(&a).is_empty(), "{:?}", state_objects(&a));
    assert!(locks(&a).is_empty());
}

#[test]
fn state_at_the_platforms_key_in_s3_is_adopted_and_its_teardown_destroys_it() {
    let a = tf_platform();
    a.spec(&TF.replace(
        "      root: root\n",
        "      root: root\n      stateKey: deployment\n",
    ));
    // The platform's runner applied build B1 before goldenpath, with one
    // root per deployment at exactly the contract's key.
    let key = format!("envs/dev/builds/{B1}/terraform.tfstate");
    let old = a.path().join("old-runner");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("main.tf"), TF_ROOT).unwrap();
    for args in [
        vec![
            "init".to_string(),
            "-input=false".into(),
            "-no-color".into(),
            "-backend-config=bucket=demo-dev-tfstate".into(),
            "-backend-config=region=eu-west-2".into(),
            "-backend-config=use_path_style=true".into(),
            format!("-backend-config=key={key}"),
        ],
        vec![
            "apply".into(),
            "-auto-approve".into(),
            "-no-color".into(),
            "-var".into(),
            format!("build_id={B1}"),
            "-var".into(),
            "tags={}".into(),
        ],
    ] {
        let mut c = std::process::Command::new("terraform");
        c.arg(format!("-chdir={}", old.display())).args(&args);
        a.moto.apply(&mut c);
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(state_objects(&a), vec![key.clone()]);
    let resources_in_state = || {
        a.py_json(&format!(
            "body = boto3.client('s3', endpoint_url=e).get_object(Bucket='demo-dev-tfstate', Key='{key}')['Body'].read()\nprint(json.dumps(len(json.loads(body)['resources'])))"
        ))
    };
    assert_eq!(resources_in_state(), 1);
    let plan = a.ok(&["plan", "--env", "dev", "--build-id", B1]).stdout;
    assert!(
        plan.lines()
            .any(|l| l.starts_with("thing") && l.contains("adopt")),
        "the existing state is adopted, not created: {plan}"
    );
    a.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    assert_eq!(
        state_objects(&a),
        vec![key.clone()],
        "no workspace beside the platform's key"
    );
    let down = a.ok(&[
        "teardown",
        "--env",
        "dev",
        "--build-id",
        B1,
        "--output",
        "json",
    ]);
    let t = crate::proofs::outcome(&down.stdout);
    assert_eq!(t["kept"], serde_json::json!([]), "{t}");
    assert_eq!(resources_in_state(), 0, "the teardown destroyed it");
    assert!(locks(&a).is_empty());
}

#[test]
fn the_tag_sweep_finds_what_was_made_behind_goldenpaths_back() {
    let a = Aws::new(&SECRETS.replace(", kmsKeyId: KMS_KEY", ""));
    a.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    // A controller made a secret for the build, tagged as the contract
    // says; the journal never saw it.
    a.moto.py(&format!(
        "boto3.client('secretsmanager', endpoint_url=e).create_secret(Name='controller/made/it', SecretString='x', Tags=[{{'Key': 'BuildId', 'Value': '{B1}'}}, {{'Key': 'ManagedBy', 'Value': 'goldenpath'}}, {{'Key': 'Environment', 'Value': 'dev'}}, {{'Key': 'Project', 'Value': 'demo'}}])"
    ));
    // Live build: the sweep lists it as live and deletes nothing.
    let live = a.run(&["orphans", "--env", "dev", "--delete", "--output", "json"]);
    assert_eq!(live.code, 0, "{}", live.transcript());
    assert!(live.stdout.contains("\"live\""), "{}", live.stdout);
    // Teardown: its own secrets go, and the sweep lists the other (exit 1).
    let out = a.run(&["teardown", "--env", "dev", "--build-id", B1]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stdout.contains("(tag sweep)") && out.stdout.contains("controller/made/it"),
        "{}",
        out.stdout
    );
    let found = a.run(&["orphans", "--env", "dev"]);
    assert_eq!(found.code, 1, "{}", found.transcript());
    assert!(found.stdout.contains("found"), "{}", found.stdout);
    a.ok(&["orphans", "--env", "dev", "--delete"]);
    let left = a.moto.py(
        "print(json.dumps([s['Name'] for s in boto3.client('secretsmanager', endpoint_url=e).list_secrets(IncludePlannedDeletion=True)['SecretList']]))",
    );
    assert_eq!(left.trim(), "[]", "the swept secret is gone");
    let shown = a
        .ok(&["builds", "show", "--env", "dev", "--build-id", B1])
        .stdout;
    assert!(shown.contains("orphan_deleted"), "{shown}");
    a.ok(&["orphans", "--env", "dev"]);
}

#[test]
fn golden_v1_runs_end_to_end_against_a_local_aws_endpoint_and_leaves_nothing() {
    let dir = gp_test::tempdir();
    let work = dir.path().join("work");
    let out = gp_test::run(
        std::process::Command::new("bash")
            .arg(gp_test::example("golden-v1/local-aws/run.sh"))
            .arg(&work)
            .env("GOLDENPATH", crate::BIN)
            .env("GP_TEST_VENV", gp_test::moto::venv())
            .env("GOLDENPATH_ACTOR", "tester")
            .env_remove("AWS_PROFILE"),
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let tail = &out.stdout[out.stdout.rfind("\n{\n").unwrap() + 1..];
    let inv: Value = serde_json::from_str(tail).unwrap();
    assert_eq!(inv["secrets"], serde_json::json!([]), "{inv}");
    assert_eq!(inv["records"], serde_json::json!([]), "{inv}");
    assert_eq!(inv["locks"], serde_json::json!([]), "{inv}");
    // Foundational secrets keep AWS's recovery window.
    assert_eq!(
        inv["scheduledForDeletion"],
        serde_json::json!([
            "goldenpath/dev/backstage/postgres",
            "goldenpath/dev/keycloak/postgres",
            "goldenpath/dev/rds/admin"
        ])
    );
    // No build state; the vpc's emptied state holds no resource.
    let objects = inv["stateObjects"].as_object().unwrap();
    assert_eq!(objects.len(), 1, "{inv}");
    assert_eq!(
        objects["goldenpath-idp-dev-tfstate/envs/dev-vpc/terraform.tfstate"],
        0
    );
    // The story went through the four services.
    for step in [
        "created   vpc",
        "created   rds",
        "adopted   dns-zone",
        "every artifact carries the contract",
        "orphan check: nothing left behind",
        "registry ok",
    ] {
        assert!(
            out.stdout.contains(step) || out.stderr.contains(step),
            "{step}\n{}",
            out.transcript()
        );
    }
}

#[test]
fn golden_v1_killed_mid_deploy_resumes_after_the_stale_lock_and_tears_down_to_nothing() {
    let a = Aws {
        moto: Moto::start(),
        dir: gp_test::tempdir(),
    };
    let script = gp_test::example("golden-v1/local-aws/local_aws.py");
    let py = |args: &[&str]| {
        let mut c = std::process::Command::new(a.moto.python());
        c.arg(&script).args(args);
        a.moto.apply(&mut c);
        let out = gp_test::run(&mut c);
        assert_eq!(out.code, 0, "{}", out.transcript());
        out.stdout
    };
    py(&["prepare", a.path().to_str().unwrap()]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(a.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let _servers = crate::requests::Servers(a.path().join(".goldenpath/postgres"));
    a.ok(&["deploy", "--env", "dev", "--foundational"]);
    let lock_items = || {
        a.py_json(
            "items = boto3.client('dynamodb', endpoint_url=e).scan(TableName='goldenpath-idp-dev-tflock')['Items']\nprint(json.dumps([json.loads(i['Info']['S']) for i in items if 'Info' in i]))",
        )
        .as_array()
        .unwrap()
        .clone()
    };
    // Killed while the cluster's apply holds the state lock.
    let mut child = a.spawn(
        &["deploy", "--env", "dev", "--build-id", B1],
        &[("TF_VAR_delay", "60")],
    );
    wait_until("the cluster apply's state lock", || {
        lock_items()
            .iter()
            .any(|l| l["Operation"] == "OperationTypeApply")
    });
    kill_group(&mut child);
    let stale = lock_items();
    let id = stale[0]["ID"].as_str().unwrap().to_string();
    let refused = a.run(&["deploy", "--env", "dev", "--build-id", B1]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.transcript().contains(&id),
        "{}",
        refused.transcript()
    );
    a.ok(&[
        "terraform",
        "unlock",
        "--env",
        "dev",
        "--build-id",
        B1,
        "cluster",
        "--lock-id",
        &id,
        "--reason",
        "runner killed mid-apply",
    ]);
    a.ok(&["deploy", "--env", "dev", "--build-id", B1]);
    a.ok(&["verify", "propagation", "--env", "dev", "--build-id", B1]);
    let down = a.ok(&["teardown", "--env", "dev", "--build-id", B1]);
    assert!(
        down.stdout.contains("nothing left behind"),
        "{}",
        down.stdout
    );
    a.ok(&[
        "teardown",
        "--env",
        "dev",
        "--foundational",
        "--confirm",
        "--break-glass",
        "rds",
        "--reason",
        "test: everything goes",
    ]);
    let inv: Value = serde_json::from_str(&py(&["inventory"])).unwrap();
    assert_eq!(inv["secrets"], serde_json::json!([]), "{inv}");
    assert_eq!(inv["records"], serde_json::json!([]), "{inv}");
    assert_eq!(inv["locks"], serde_json::json!([]), "{inv}");
    let objects = inv["stateObjects"].as_object().unwrap();
    assert!(objects.values().all(|n| n == 0), "{inv}");
    assert!(
        objects.keys().all(|k| !k.contains(B1)),
        "no state of the build: {inv}"
    );
}
