//! Apply 1,000 records (plus their ownership TXTs) to BIND and tear them
//! down: goldenpath's dns driver against `nsupdate` fed the same changes
//! (same prerequisites, same 200-change messages) from one batch file.
//! Median of 5 runs each, side by side on one server.
//!
//! `cargo bench -p gp-driver-dns --bench dns`
#![allow(clippy::print_stdout, missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use gp_core::{Contract, Deployment, Platform, RecordType, Secret};
use gp_driver::conformance::MemoryRecorder;
use gp_driver::{ComponentCtx, ComponentOutputs, Driver, Intent};
use gp_driver_dns::{DnsDriver, RecordSpec, RecordsSettings};
use gp_driver_secrets::{LocalStore, SecretStore};
use gp_test::bind::TestBind;

const N: usize = 1000;
const RUNS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let bind = TestBind::start("example.test");
    let dir = tempfile::tempdir_in(
        std::env::var("GP_BENCH_DIR").unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_string()),
    )
    .expect("tempdir");
    let store = Arc::new(LocalStore::new(dir.path()));
    store
        .put(
            "gp/dev/dns-zone/tsig",
            &Secret::new(serde_json::json!({"secret": bind.key_b64}).to_string()),
            &BTreeMap::new(),
        )
        .expect("key");
    let spec = format!(
        "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: d\nprefix: gp\ndomain: example.test\nowner: t\nenvironments:\n  dev: {{}}\ncomponents:\n  - name: dns-zone\n    plane: foundational\n    tier: 0\n    driver: dns\n    settings: {{ backend: rfc2136, server: '{}', tsig: {{ keyName: {}, secret: gp/dev/dns-zone/tsig }} }}\n  - name: web\n    plane: disposable\n    tier: 1\n    driver: exec\n    needs: [dns-zone]\n    settings: {{ apply: 'true' }}\n",
        bind.server(),
        bind.key_name
    );
    let platform = Platform::from_source(Path::new("goldenpath.yaml"), &spec).expect("spec");
    let driver = DnsDriver::new(store.clone());
    let none = BTreeMap::new();
    let rec = MemoryRecorder::default();
    let fcontract = Contract::new(&platform, "dev", Deployment::Foundational).expect("contract");
    let zone_c = platform.component("dns-zone").expect("zone");
    let zone_settings = zone_c.settings_node();
    let zone: ComponentOutputs = driver
        .apply(&ComponentCtx {
            platform: &platform,
            contract: &fcontract,
            component: zone_c,
            settings: &zone_settings,
            inputs: &none,
            last: None,
            intent: Intent::Create,
            state_dir: dir.path(),
            recorder: &rec,
        })
        .expect("zone")
        .outputs;
    let contract = Contract::new(
        &platform,
        "dev",
        Deployment::Ephemeral("23-01-26-01".parse().expect("id")),
    )
    .expect("contract");
    let hosts: Vec<(String, String)> = (0..N)
        .map(|i| {
            (
                format!("h{i}"),
                format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
            )
        })
        .collect();
    let settings = RecordsSettings {
        zone: "dns-zone".into(),
        records: hosts
            .iter()
            .map(|(n, t)| RecordSpec {
                name: n.clone(),
                fqdn: format!("{n}.{}", contract.host_suffix()),
                rtype: RecordType::A,
                target: t.clone(),
            })
            .collect(),
    };
    let node = gp_core::yaml::Node::from_json(
        &serde_json::to_value(&settings).expect("json"),
        Default::default(),
    );
    let inputs = BTreeMap::from([("dns-zone".to_string(), zone.clone())]);
    let web = platform.component("web").expect("web");

    // The floor: nsupdate, same changes, same prerequisites, same batching.
    let owner = contract.txt_owner_value("web");
    let mut add = format!("server 127.0.0.1 {}\nzone example.test\n", bind.port);
    let mut del = add.clone();
    for (i, r) in settings.records.iter().enumerate() {
        let txt = contract.txt_owner_name(&r.fqdn, RecordType::A);
        add.push_str(&format!(
            "prereq nxrrset {fq} A\nprereq nxrrset {txt} TXT\nupdate add {fq} 300 A {t}\nupdate add {txt} 300 TXT \"{owner}\"\n",
            fq = r.fqdn,
            t = r.target
        ));
        del.push_str(&format!(
            "prereq yxrrset {txt} TXT \"{owner}\"\nupdate delete {fq} A\nupdate delete {txt} TXT\n",
            fq = r.fqdn
        ));
        if (i + 1) % 200 == 0 {
            add.push_str("send\n");
            del.push_str("send\n");
        }
    }
    std::fs::write(dir.path().join("add.txt"), &add).expect("write");
    std::fs::write(dir.path().join("del.txt"), &del).expect("write");
    let nsupdate = |file: &str| {
        let t = Instant::now();
        let out = Command::new(gp_test::bind::tool("nsupdate"))
            .arg("-v")
            .arg("-y")
            .arg(format!("hmac-sha256:{}:{}", bind.key_name, bind.key_b64))
            .arg(dir.path().join(file))
            .output()
            .expect("nsupdate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed().as_secs_f64()
    };

    let (mut f_add, mut f_del, mut g_add, mut g_del) = (vec![], vec![], vec![], vec![]);
    for _ in 0..RUNS {
        f_add.push(nsupdate("add.txt"));
        assert_eq!(
            bind.dig("h999.b-23-01-26-01.dev.example.test", "A"),
            "10.0.3.231"
        );
        f_del.push(nsupdate("del.txt"));
        assert_eq!(bind.dig("h999.b-23-01-26-01.dev.example.test", "A"), "");

        let rec = MemoryRecorder::default();
        let ctx = ComponentCtx {
            platform: &platform,
            contract: &contract,
            component: web,
            settings: &node,
            inputs: &inputs,
            last: None,
            intent: Intent::Create,
            state_dir: dir.path(),
            recorder: &rec,
        };
        let t = Instant::now();
        driver.apply(&ctx).expect("apply");
        g_add.push(t.elapsed().as_secs_f64());
        assert_eq!(
            bind.dig("h999.b-23-01-26-01.dev.example.test", "A"),
            "10.0.3.231"
        );
        let created = rec.created();
        assert_eq!(created.len(), N);
        let t = Instant::now();
        let results = driver.destroy_many(&ctx, &created.iter().collect::<Vec<_>>());
        g_del.push(t.elapsed().as_secs_f64());
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(bind.dig("h999.b-23-01-26-01.dev.example.test", "A"), "");
    }
    let (fa, fd, ga, gd) = (median(f_add), median(f_del), median(g_add), median(g_del));
    println!(
        "dns apply {N} records + {N} TXTs: goldenpath median {ga:.3}s, nsupdate (floor) median {fa:.3}s, ratio {:.2}x (goal <= 1.5x)",
        ga / fa
    );
    println!(
        "dns teardown {N} records + {N} TXTs: goldenpath median {gd:.3}s, nsupdate (floor) median {fd:.3}s, ratio {:.2}x (goal <= 1.5x)",
        gd / fd
    );
}
