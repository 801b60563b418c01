//! goldenpath against a local AWS endpoint (moto's server), side by side
//! with boto3 doing the same work, in one run:
//!
//! - 1,000 host records and their ownership TXTs to Route 53: `goldenpath
//!   deploy --build-id B` (the zone listed, each record decided and
//!   journalled, the change batches sent, INSYNC awaited) versus a boto3
//!   script sending the same CREATE batches (at most 1,000 changes and
//!   32,000 characters each) and awaiting INSYNC;
//! - 200 database-style secrets: `goldenpath deploy --build-id B` of a
//!   `secrets` component versus a boto3 loop of `create_secret` with the
//!   same tags.
//!
//! Both sides are timed from process start to exit; each run starts from
//! the same endpoint state (the previous run's records or secrets removed,
//! untimed). Median of RUNS runs each, alternating which goes first. The
//! zone's client-side rate limit is raised to 100 requests per second here
//! (the real limit, 5, is reported as what it would make of the same
//! requests).
//!
//! `cargo bench -p goldenpath --bench aws`
#![allow(clippy::print_stdout, missing_docs)]

use std::process::{Command, Stdio};
use std::time::Instant;

use gp_test::moto::Moto;

const BIN: &str = env!("CARGO_BIN_EXE_goldenpath");
const RUNS: usize = 5;
const RECORDS: usize = 1000;
const SECRETS: usize = 200;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn timed(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed().as_secs_f64()
}

fn main() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let zone = moto
        .py("print(boto3.client('route53', endpoint_url=e).create_hosted_zone(Name='bench.example.io', CallerReference='b')['HostedZone']['Id'].split('/')[-1])")
        .trim()
        .to_string();
    let mut hosts = String::new();
    for i in 0..RECORDS {
        hosts.push_str(&format!(
            "      - name: h{i:04}\n        target: 10.{}.{}.{}\n",
            i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    let mut secrets = String::new();
    for i in 0..SECRETS {
        secrets.push_str(&format!(
            "        - name: app{i:03}_postgres\n          generate: [password]\n"
        ));
    }
    let spec = |with_records: bool| {
        format!(
            "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: bench\nprefix: bench\ndomain: bench.example.io\nowner: team\ndns: {{ txtPrefix: \"\" }}\nsecrets: {{ backend: aws, region: eu-west-2 }}\nenvironments:\n  dev: {{ ephemeral: {{ maxTier: 2 }} }}\ncomponents:\n  - name: dns-zone\n    plane: foundational\n    tier: 0\n    driver: dns\n    settings:\n      backend: route53\n      hostedZoneId: {zone}\n      requestsPerSecond: 100\n{}",
            if with_records {
                format!(
                    "  - name: web\n    plane: disposable\n    tier: 1\n    driver: exec\n    needs: [dns-zone]\n    hosts:\n{hosts}    settings:\n      apply: \"true\"\n      destroy: \"true\"\n"
                )
            } else {
                format!(
                    "  - name: app-secrets\n    plane: disposable\n    tier: 1\n    driver: secrets\n    settings:\n      secrets:\n{secrets}"
                )
            }
        )
    };
    let gp = |args: &[&str]| {
        let mut c = Command::new(BIN);
        c.current_dir(root)
            .env("GOLDENPATH_ACTOR", "bench")
            .args(args);
        moto.apply(&mut c);
        c
    };
    let py = |script: String| {
        let mut c = Command::new(moto.python());
        c.arg("-c").arg(format!(
            "import boto3, json\ne = {:?}\n{script}",
            moto.url()
        ));
        moto.apply(&mut c);
        c
    };

    // ---- Route 53 ----
    std::fs::write(root.join("goldenpath.yaml"), spec(true)).unwrap();
    assert!(
        gp(&["deploy", "--env", "dev", "--foundational"])
            .status()
            .unwrap()
            .success()
    );
    let boto_records = |run: usize, delete: bool| {
        py(format!(
            r#"c = boto3.client('route53', endpoint_url=e)
zone = '{zone}'
changes, batch, chars = [], [], 0
def flush():
    global batch, chars
    if batch:
        r = c.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={{'Changes': batch}})
        i = r['ChangeInfo']['Id']
        while c.get_change(Id=i)['ChangeInfo']['Status'] != 'INSYNC':
            pass
    batch, chars = [], 0
action = 'DELETE' if {delete} else 'CREATE'
for i in range({RECORDS}):
    name = 'h%04d.r{run}.boto.bench.example.io' % i
    value = '10.%d.%d.%d' % (i // 65536, (i // 256) % 256, i % 256)
    txt = '"heritage=external-dns,external-dns/owner=boto-{run},external-dns/resource=goldenpath/web"'
    group = [
        {{'Action': action, 'ResourceRecordSet': {{'Name': name, 'Type': 'A', 'TTL': 300, 'ResourceRecords': [{{'Value': value}}]}}}},
        {{'Action': action, 'ResourceRecordSet': {{'Name': 'a-' + name, 'Type': 'TXT', 'TTL': 300, 'ResourceRecords': [{{'Value': txt}}]}}}},
    ]
    size = len(value) + len(txt)
    if len(batch) + 2 > 1000 or chars + size > 32000:
        flush()
    batch += group
    chars += size
flush()
"#,
            delete = if delete { "True" } else { "False" }
        ))
    };
    let (mut g_rec, mut b_rec) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let build = format!("23-01-26-{:02}", run + 1);
        let g = || {
            let t = timed(&mut gp(&["deploy", "--env", "dev", "--build-id", &build]));
            assert!(
                gp(&["teardown", "--env", "dev", "--build-id", &build])
                    .status()
                    .unwrap()
                    .success()
            );
            t
        };
        let b = || {
            let t = timed(&mut boto_records(run, false));
            assert!(boto_records(run, true).status().unwrap().success());
            t
        };
        if run % 2 == 0 {
            g_rec.push(g());
            b_rec.push(b());
        } else {
            b_rec.push(b());
            g_rec.push(g());
        }
    }
    // One more deploy through a counting proxy: the requests it makes.
    let proxy = gp_test::proxy::Proxy::start(moto.port(), Box::new(|_, _| None));
    let mut counted = gp(&["deploy", "--env", "dev", "--build-id", "23-01-26-99"]);
    counted.env("AWS_ENDPOINT_URL_ROUTE_53", proxy.url());
    assert!(counted.status().unwrap().success());
    let requests = proxy.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        gp(&["teardown", "--env", "dev", "--build-id", "23-01-26-99"])
            .status()
            .unwrap()
            .success()
    );
    let (g, b) = (median(g_rec.clone()), median(b_rec.clone()));
    println!(
        "route53 {RECORDS} records + TXTs: goldenpath median {:.3}s (runs {:?}), boto3 median {:.3}s (runs {:?}), ratio {:.2}; goldenpath made {requests} Route 53 requests: at the real 5 per second, {:.1}s of waiting",
        g,
        g_rec
            .iter()
            .map(|x| (x * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>(),
        b,
        b_rec
            .iter()
            .map(|x| (x * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>(),
        g / b,
        requests as f64 / 5.0
    );

    // ---- Secrets Manager ----
    std::fs::write(root.join("goldenpath.yaml"), spec(false)).unwrap();
    let boto_secrets = |run: usize, delete: bool| {
        py(format!(
            r#"sm = boto3.client('secretsmanager', endpoint_url=e)
tags = [{{'Key': k, 'Value': v}} for k, v in {{'Environment': 'dev', 'Project': 'bench', 'ManagedBy': 'goldenpath', 'Owner': 'team', 'Lifecycle': 'ephemeral', 'BuildId': 'boto-{run}', 'Component': 'app-secrets'}}.items()]
for i in range({SECRETS}):
    name = 'bench/dev/boto/{run}/app%03d_postgres' % i
    if {delete}:
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    else:
        sm.create_secret(Name=name, SecretString=json.dumps({{'password': 'p' * 40}}), Tags=tags)
"#,
            delete = if delete { "True" } else { "False" }
        ))
    };
    let (mut g_sec, mut b_sec) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let build = format!("24-01-26-{:02}", run + 1);
        let g = || {
            let t = timed(&mut gp(&["deploy", "--env", "dev", "--build-id", &build]));
            assert!(
                gp(&["teardown", "--env", "dev", "--build-id", &build])
                    .status()
                    .unwrap()
                    .success()
            );
            t
        };
        let b = || {
            let t = timed(&mut boto_secrets(run, false));
            assert!(boto_secrets(run, true).status().unwrap().success());
            t
        };
        if run % 2 == 0 {
            g_sec.push(g());
            b_sec.push(b());
        } else {
            b_sec.push(b());
            g_sec.push(g());
        }
    }
    let (g, b) = (median(g_sec.clone()), median(b_sec.clone()));
    println!(
        "secrets manager {SECRETS} secrets: goldenpath median {:.3}s (runs {:?}), boto3 median {:.3}s (runs {:?}), ratio {:.2}",
        g,
        g_sec
            .iter()
            .map(|x| (x * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>(),
        b,
        b_sec
            .iter()
            .map(|x| (x * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>(),
        g / b
    );
}
