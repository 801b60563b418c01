//! The dns driver against a real BIND and against zone files.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use gp_core::{Contract, Deployment, Platform, RecordType, Secret};
use gp_driver::conformance::{Fixture, MemoryRecorder, check};
use gp_driver::{ComponentCtx, ComponentOutputs, Driver, ErrorKind, Existence, Intent};
use gp_driver_dns::{DnsDriver, RecordSpec, RecordsSettings};
use gp_driver_secrets::{LocalStore, SecretStore};
use gp_test::bind::TestBind;

const ZONE: &str = "example.test";

fn platform(zone_settings: &str, txt_prefix: &str) -> Platform {
    let text = format!(
        "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: gp
domain: {ZONE}
owner: team
dns: {{ txtPrefix: \"{txt_prefix}\" }}
environments:
  dev: {{}}
components:
  - name: dns-zone
    plane: foundational
    tier: 0
    driver: dns
    settings:
{zone_settings}
  - name: web
    plane: disposable
    tier: 1
    driver: exec
    needs: [dns-zone]
    settings: {{ apply: 'true' }}
"
    );
    Platform::from_source(Path::new("goldenpath.yaml"), &text).unwrap()
}

fn rfc2136_settings(bind: &TestBind, policy: &str) -> String {
    format!(
        "      backend: rfc2136\n      server: {}\n      policy: {policy}\n      tsig: {{ keyName: {}, secret: gp/dev/dns-zone/tsig }}\n",
        bind.server(),
        bind.key_name
    )
}

struct World {
    platform: Platform,
    driver: DnsDriver,
    dir: tempfile::TempDir,
}

impl World {
    /// The world over `bind`'s zone, `sync` policy, with the zone's key.
    fn rfc2136(bind: &TestBind) -> World {
        World::new(
            &rfc2136_settings(bind, "sync"),
            "",
            Some((&bind.key_name, &bind.key_b64)),
        )
    }

    fn new(zone_settings: &str, txt_prefix: &str, key: Option<(&str, &str)>) -> World {
        let dir = gp_test::tempdir();
        let store = Arc::new(LocalStore::new(dir.path()));
        if let Some((_, secret)) = key {
            store
                .put(
                    "gp/dev/dns-zone/tsig",
                    &Secret::new(serde_json::json!({"secret": secret}).to_string()),
                    &BTreeMap::new(),
                )
                .unwrap();
        }
        World {
            platform: platform(zone_settings, txt_prefix),
            driver: DnsDriver::new(store),
            dir,
        }
    }

    fn zone_outputs(&self) -> ComponentOutputs {
        let contract = Contract::new(&self.platform, "dev", Deployment::Foundational).unwrap();
        let c = self.platform.component("dns-zone").unwrap();
        let settings = c.settings_node();
        let inputs = BTreeMap::new();
        let rec = MemoryRecorder::default();
        let ctx = ComponentCtx {
            platform: &self.platform,
            contract: &contract,
            component: c,
            settings: &settings,
            inputs: &inputs,
            last: None,
            intent: Intent::Create,
            state_dir: self.dir.path(),
            recorder: &rec,
        };
        self.driver.apply(&ctx).unwrap().outputs
    }

    fn records(&self, contract: &Contract<'_>, hosts: &[(&str, &str)]) -> RecordsSettings {
        RecordsSettings {
            zone: "dns-zone".into(),
            records: hosts
                .iter()
                .map(|(name, target)| {
                    let rtype = RecordType::for_target(target);
                    RecordSpec {
                        name: (*name).into(),
                        fqdn: format!("{name}.{}", contract.host_suffix()),
                        rtype,
                        target: (*target).into(),
                    }
                })
                .collect(),
        }
    }

    /// The dns driver as it publishes `records` (the engine calls its
    /// host-publishing capability).
    fn publisher(&self, records: RecordsSettings) -> gp_driver::PublishHosts<'_> {
        gp_driver::PublishHosts {
            driver: &self.driver,
            records,
        }
    }

    /// Publishes `hosts` for `deployment`; returns what was journalled.
    fn publish(
        &self,
        deployment: Deployment,
        hosts: &[(&str, &str)],
        zone: &ComponentOutputs,
    ) -> Result<(MemoryRecorder, ComponentOutputs), gp_driver::DriverError> {
        let contract = Contract::new(&self.platform, "dev", deployment).unwrap();
        let publisher = self.publisher(self.records(&contract, hosts));
        let settings = gp_core::yaml::Node::empty_map(Default::default());
        let inputs = BTreeMap::from([("dns-zone".to_string(), zone.clone())]);
        let rec = MemoryRecorder::default();
        let out = {
            let ctx = ComponentCtx {
                platform: &self.platform,
                contract: &contract,
                component: self.platform.component("web").unwrap(),
                settings: &settings,
                inputs: &inputs,
                last: None,
                intent: Intent::Create,
                state_dir: self.dir.path(),
                recorder: &rec,
            };
            publisher.apply(&ctx)?.outputs
        };
        Ok((rec, out))
    }

    fn teardown(
        &self,
        deployment: Deployment,
        rec: &MemoryRecorder,
        zone: &ComponentOutputs,
    ) -> Vec<Existence> {
        let contract = Contract::new(&self.platform, "dev", deployment).unwrap();
        let settings = gp_core::yaml::Node::empty_map(Default::default());
        let inputs = BTreeMap::from([("dns-zone".to_string(), zone.clone())]);
        let r2 = MemoryRecorder::default();
        let ctx = ComponentCtx {
            platform: &self.platform,
            contract: &contract,
            component: self.platform.component("web").unwrap(),
            settings: &settings,
            inputs: &inputs,
            last: None,
            intent: Intent::Update,
            state_dir: self.dir.path(),
            recorder: &r2,
        };
        let created = rec.created();
        for r in created.iter().rev() {
            self.driver.destroy(&ctx, r).unwrap();
        }
        created
            .iter()
            .map(|r| self.driver.exists(&ctx, r).unwrap())
            .collect()
    }
}

impl World {
    /// Tears `deployment`'s records down as a teardown does: all of them
    /// handed to the driver at once, journalled through it.
    fn teardown_journalled(
        &self,
        deployment: Deployment,
        rec: &MemoryRecorder,
        zone: &ComponentOutputs,
    ) -> Vec<Result<(), gp_driver::DriverError>> {
        let created = rec.created();
        let (results, before) = self.destroy_journalled(deployment, &created, zone);
        // Every destroy was journalled before, each once.
        assert_eq!(before, (0..created.len()).collect::<Vec<_>>());
        results
    }

    /// The driver's journalled destroy of `resources`, and which of them
    /// were journalled before (sorted).
    fn destroy_journalled(
        &self,
        deployment: Deployment,
        resources: &[gp_driver::ResourceRef],
        zone: &ComponentOutputs,
    ) -> (Vec<Result<(), gp_driver::DriverError>>, Vec<usize>) {
        let contract = Contract::new(&self.platform, "dev", deployment).unwrap();
        let settings = gp_core::yaml::Node::empty_map(Default::default());
        let inputs = BTreeMap::from([("dns-zone".to_string(), zone.clone())]);
        let r2 = MemoryRecorder::default();
        let ctx = ComponentCtx {
            platform: &self.platform,
            contract: &contract,
            component: self.platform.component("web").unwrap(),
            settings: &settings,
            inputs: &inputs,
            last: None,
            intent: Intent::Update,
            state_dir: self.dir.path(),
            recorder: &r2,
        };
        let refs: Vec<&gp_driver::ResourceRef> = resources.iter().collect();
        let journal = Journal::default();
        let results = self.driver.destroy_many_journalled(&ctx, &refs, &journal);
        let mut before = journal.before.lock().unwrap().clone();
        before.sort_unstable();
        (results, before)
    }
}

/// A journal that takes every write and keeps what was journalled before.
#[derive(Default)]
struct Journal {
    before: std::sync::Mutex<Vec<usize>>,
}

impl gp_driver::DestroyJournal for Journal {
    fn after_and_before(
        &self,
        _done: &[usize],
        next: &[usize],
    ) -> Result<(), gp_driver::DriverError> {
        self.before.lock().unwrap().extend(next);
        Ok(())
    }
}

fn build(id: &str) -> Deployment {
    Deployment::Ephemeral(id.parse().unwrap())
}

#[test]
fn builds_and_the_persistent_deployment_share_a_zone_without_touching_each_other() {
    let bind = TestBind::start(ZONE);
    let w = World::rfc2136(&bind);
    let zone = w.zone_outputs();
    let (p_rec, _) = w
        .publish(
            Deployment::Persistent,
            &[("backstage", "10.0.0.1"), ("argocd", "10.0.0.1")],
            &zone,
        )
        .unwrap();
    let (b1, _) = w
        .publish(
            build("23-01-26-01"),
            &[
                ("backstage", "10.1.0.1"),
                ("argocd", "lb-1.elb.example.com"),
            ],
            &zone,
        )
        .unwrap();
    let (_b2, _) = w
        .publish(build("23-01-26-02"), &[("backstage", "10.2.0.1")], &zone)
        .unwrap();
    assert_eq!(
        bind.dig("backstage.b-23-01-26-01.dev.example.test", "A"),
        "10.1.0.1"
    );
    assert_eq!(
        bind.dig("argocd.b-23-01-26-01.dev.example.test", "CNAME"),
        "lb-1.elb.example.com."
    );
    assert_eq!(bind.dig("backstage.dev.example.test", "A"), "10.0.0.1");
    let txt = bind.dig("a-backstage.b-23-01-26-02.dev.example.test", "TXT");
    assert_eq!(
        txt,
        "\"heritage=external-dns,external-dns/owner=gp-dev-23-01-26-02,external-dns/resource=goldenpath/web\""
    );
    assert_eq!(p_rec.created().len(), 2);

    let before = bind.axfr();
    let gone = w.teardown(build("23-01-26-01"), &b1, &zone);
    assert!(gone.iter().all(|e| *e == Existence::Gone), "{gone:?}");
    let after = bind.axfr();
    // Exactly build 1's records and TXTs left; everything else is
    // byte-for-byte what it was.
    let expected: Vec<&str> = before
        .lines()
        .filter(|l| !l.contains("b-23-01-26-01"))
        .collect();
    assert_eq!(after.lines().collect::<Vec<_>>(), expected);
    assert_eq!(
        before
            .lines()
            .filter(|l| l.contains("b-23-01-26-01"))
            .count(),
        4
    );
    // Publishing again is a no-op.
    let (again, _) = w
        .publish(build("23-01-26-02"), &[("backstage", "10.2.0.1")], &zone)
        .unwrap();
    assert!(again.actions.lock().unwrap().is_empty());
}

#[test]
fn a_teardown_deletes_what_the_zone_holds_of_ours_whether_or_not_the_server_refuses_its_first_try()
{
    let bind = TestBind::start(ZONE);
    let w = World::rfc2136(&bind);
    let zone = w.zone_outputs();
    let hosts = [
        ("h0", "10.1.0.1"),
        ("h1", "10.1.0.2"),
        ("h2", "lb.example.com"),
    ];
    let (b1, _) = w.publish(build("23-01-26-01"), &hosts, &zone).unwrap();
    let (b2, _) = w.publish(build("23-01-26-02"), &hosts, &zone).unwrap();
    let (b3, _) = w.publish(build("23-01-26-03"), &hosts, &zone).unwrap();
    let (_p, _) = w
        .publish(Deployment::Persistent, &[("h0", "10.0.0.1")], &zone)
        .unwrap();
    let gone = |before: &str, build: &str| -> Vec<String> {
        before
            .lines()
            .filter(|l| !l.contains(build))
            .map(str::to_string)
            .collect()
    };
    let lines = |axfr: String| -> Vec<String> { axfr.lines().map(str::to_string).collect() };

    // As published: every record and TXT of build 2 goes, nothing else.
    let before = bind.axfr();
    let results = w.teardown_journalled(build("23-01-26-02"), &b2, &zone);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(lines(bind.axfr()), gone(&before, "b-23-01-26-02"));

    // Build 1's h0 also carries our ownership in the legacy format, added
    // behind goldenpath's back: the server refuses the batch as sent, the
    // zone is read, and every record of build 1 goes with that TXT.
    let legacy = bind.dig("a-h0.b-23-01-26-01.dev.example.test", "TXT");
    let out = bind.nsupdate(
        &format!("update add h0.b-23-01-26-01.dev.example.test 300 TXT {legacy}"),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(bind.dig("h0.b-23-01-26-01.dev.example.test", "TXT"), legacy);
    let before = bind.axfr();
    let results = w.teardown_journalled(build("23-01-26-01"), &b1, &zone);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(lines(bind.axfr()), gone(&before, "b-23-01-26-01"));

    // Build 3's h1 now carries another owner's TXT: the server refuses the
    // batch as sent, the zone is read, and what it holds of ours goes;
    // h1, no longer ours, stays.
    let out = bind.nsupdate(
        "update delete a-h1.b-23-01-26-03.dev.example.test TXT\n\
         update add a-h1.b-23-01-26-03.dev.example.test 300 TXT \"heritage=external-dns,external-dns/owner=other-cluster\"",
        None,
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let before = bind.axfr();
    let results = w.teardown_journalled(build("23-01-26-03"), &b3, &zone);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let left: Vec<String> = before
        .lines()
        .filter(|l| !l.contains("b-23-01-26-03") || l.starts_with("h1.") || l.starts_with("a-h1."))
        .map(str::to_string)
        .collect();
    assert_eq!(lines(bind.axfr()), left);
    assert_eq!(
        bind.dig("h1.b-23-01-26-03.dev.example.test", "A"),
        "10.1.0.2"
    );
    assert_eq!(bind.dig("h0.dev.example.test", "A"), "10.0.0.1");
}

/// Every rule a journalled record must pass before anything is journalled
/// or sent, each broken in one row of an otherwise good batch: the whole
/// batch is refused, nothing journalled, the zone untouched.
#[test]
fn a_journalled_record_that_breaks_any_rule_refuses_its_teardown_before_anything_is_sent() {
    let bind = TestBind::start(ZONE);
    let w = World::rfc2136(&bind);
    let zone = w.zone_outputs();
    let hosts = [("h0", "10.1.0.1"), ("h1", "10.1.0.2")];
    let (b1, _) = w.publish(build("23-01-26-01"), &hosts, &zone).unwrap();
    w.publish(build("23-01-26-02"), &hosts, &zone).unwrap();
    let created = b1.created();
    assert_eq!(created.len(), 2);
    let other_owner = "heritage=external-dns,external-dns/owner=gp-dev-23-01-26-02,external-dns/resource=goldenpath/web";
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("type", "NS".into(), "is not a type goldenpath publishes"),
        ("type", "TXT".into(), "is not a type goldenpath publishes"),
        ("type", "SOA".into(), "is not a type goldenpath publishes"),
        ("fqdn", "h0.example.org".into(), "lies outside its zone"),
        (
            "fqdn",
            "example.test".into(),
            "outside the build's own suffix",
        ),
        (
            "fqdn",
            "h0.b-23-01-26-02.dev.example.test".into(),
            "outside the build's own suffix",
        ),
        (
            "txtValue",
            other_owner.into(),
            "is not owned by this deployment",
        ),
        ("txtValue", "".into(), "is not owned by this deployment"),
    ];
    let before = bind.axfr();
    for (field, value, why) in cases {
        let mut forged = created.clone();
        forged[1].data[field] = value.clone();
        let (results, journalled) = w.destroy_journalled(build("23-01-26-01"), &forged, &zone);
        assert!(journalled.is_empty(), "{field}={value}: {journalled:?}");
        for r in &results {
            let e = r.as_ref().expect_err(field);
            assert_eq!(e.kind, ErrorKind::Refused, "{field}={value}: {e}");
            assert!(e.message.contains(why), "{field}={value}: {e}");
        }
        assert_eq!(bind.axfr(), before, "{field}={value}");
    }
    // A zone that is not among the component's inputs: no backend is
    // made for it, whatever the row says of its server.
    let mut forged = created.clone();
    for (i, r) in forged.iter_mut().enumerate() {
        r.data["zone"]["zone"] = "other.test".into();
        r.data["fqdn"] = format!("h{i}.b-23-01-26-01.dev.other.test").into();
    }
    let (results, journalled) = w.destroy_journalled(build("23-01-26-01"), &forged, &zone);
    assert!(journalled.is_empty(), "{journalled:?}");
    for r in &results {
        let e = r.as_ref().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Permanent, "{e}");
        assert!(
            e.message.contains("zone other.test of")
                && e.message.contains("is not among the deployed inputs"),
            "{e}"
        );
    }
    assert_eq!(bind.axfr(), before);
    // The rows as they were: both go.
    let results = w.teardown_journalled(build("23-01-26-01"), &b1, &zone);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(bind.dig("h0.b-23-01-26-01.dev.example.test", "A"), "");
}

/// Names long enough make a batch of 200 changes more than the 65,535
/// bytes one DNS message carries: such a batch goes as smaller messages,
/// for a publish and for a teardown.
#[test]
fn a_batch_too_large_for_one_message_goes_as_several() {
    let bind = TestBind::start(ZONE);
    let w = World::rfc2136(&bind);
    let zone = w.zone_outputs();
    let pad = "x".repeat(52);
    let names: Vec<String> = (0..250).map(|i| format!("h{i:03}-{pad}")).collect();
    let target = format!("{}.{}.example.com", "t".repeat(60), "u".repeat(60));
    let hosts: Vec<(&str, &str)> = names
        .iter()
        .map(|n| (n.as_str(), target.as_str()))
        .collect();
    let before = bind.axfr();
    let (b1, _) = w.publish(build("23-01-26-01"), &hosts, &zone).unwrap();
    let published = bind.axfr();
    assert_eq!(
        published
            .lines()
            .filter(|l| l.contains("b-23-01-26-01"))
            .count(),
        2 * names.len()
    );
    assert_eq!(
        bind.dig(
            &format!("{}.b-23-01-26-01.dev.example.test", names[249]),
            "CNAME"
        ),
        format!("{target}.")
    );
    let results = w.teardown_journalled(build("23-01-26-01"), &b1, &zone);
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    assert_eq!(bind.axfr(), before);
}

#[test]
fn another_owners_record_is_a_conflict_under_both_policies() {
    let bind = TestBind::start(ZONE);
    let theirs = "update add backstage.b-23-01-26-01.dev.example.test 300 A 192.0.2.77\nupdate add a-backstage.b-23-01-26-01.dev.example.test 300 TXT \"heritage=external-dns,external-dns/owner=other-cluster,external-dns/resource=ingress/x/y\"";
    let out = bind.nsupdate(theirs, None);
    assert_eq!(out.code, 0, "{}", out.transcript());
    for policy in ["sync", "upsert-only"] {
        let w = World::new(
            &rfc2136_settings(&bind, policy),
            "",
            Some((&bind.key_name, &bind.key_b64)),
        );
        let zone = w.zone_outputs();
        let before = bind.axfr();
        let err = w
            .publish(
                build("23-01-26-01"),
                &[("backstage", "10.1.0.1"), ("argocd", "10.1.0.1")],
                &zone,
            )
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Refused, "{policy}: {err}");
        assert!(err.message.contains("is owned by other-cluster"), "{err}");
        // Nothing was sent: not even the argocd record that had no conflict.
        assert_eq!(bind.axfr(), before, "{policy}");
        assert_eq!(
            bind.dig("backstage.b-23-01-26-01.dev.example.test", "A"),
            "192.0.2.77"
        );
    }
    // A record without any TXT is someone else's too.
    bind.nsupdate(
        "update add api.b-23-01-26-01.dev.example.test 300 A 192.0.2.8",
        None,
    );
    let w = World::rfc2136(&bind);
    let zone = w.zone_outputs();
    let err = w
        .publish(build("23-01-26-01"), &[("api", "10.1.0.9")], &zone)
        .unwrap_err();
    assert!(err.message.contains("without an ownership TXT"), "{err}");
}

#[test]
fn a_wrong_key_is_refused_clearly_and_a_dead_server_is_retryable() {
    let bind = TestBind::start(ZONE);
    let before = bind.axfr();
    let w = World::new(
        &rfc2136_settings(&bind, "sync"),
        "",
        Some((
            &bind.key_name,
            "c2VjcmV0IHRoYXQgaXMgbm90IHRoZSBzZXJ2ZXIncyBrZXk=",
        )),
    );
    let contract = Contract::new(&w.platform, "dev", Deployment::Foundational).unwrap();
    let c = w.platform.component("dns-zone").unwrap();
    let settings = c.settings_node();
    let inputs = BTreeMap::new();
    let rec = MemoryRecorder::default();
    let ctx = ComponentCtx {
        platform: &w.platform,
        contract: &contract,
        component: c,
        settings: &settings,
        inputs: &inputs,
        last: None,
        intent: Intent::Create,
        state_dir: w.dir.path(),
        recorder: &rec,
    };
    let err = w.driver.apply(&ctx).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Configuration, "{err}");
    assert!(
        err.message
            .contains("the TSIG key goldenpath-test-key is wrong or not allowed"),
        "{err}"
    );
    assert!(
        !err.message.contains("c2VjcmV0"),
        "the key leaked into the message"
    );
    assert_eq!(bind.axfr(), before);

    let dead = "127.0.0.1:9";
    let w = World::new(
        &format!(
            "      backend: rfc2136\n      server: {dead}\n      tsig: {{ keyName: k, secret: gp/dev/dns-zone/tsig }}\n"
        ),
        "",
        Some(("k", &bind.key_b64)),
    );
    let c = w.platform.component("dns-zone").unwrap();
    let settings = c.settings_node();
    let ctx = ComponentCtx {
        platform: &w.platform,
        component: c,
        settings: &settings,
        state_dir: w.dir.path(),
        ..ctx
    };
    let err = w.driver.apply(&ctx).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable, "{err}");
    assert!(
        err.message
            .contains("cannot reach the DNS server 127.0.0.1:9"),
        "{err}"
    );
}

#[test]
fn a_txt_name_overflow_is_refused_before_anything_is_sent() {
    let bind = TestBind::start(ZONE);
    let w = World::new(
        &rfc2136_settings(&bind, "sync"),
        "gp-",
        Some((&bind.key_name, &bind.key_b64)),
    );
    let zone = w.zone_outputs();
    let before = bind.axfr();
    let label = "z".repeat(61);
    let err = w
        .publish(build("23-01-26-01"), &[(&label, "10.0.0.1")], &zone)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Configuration);
    assert!(err.message.contains("ownership TXT name"), "{err}");
    assert_eq!(bind.axfr(), before);
}

#[test]
fn the_zone_file_backend_writes_what_named_checkzone_accepts() {
    let w = World::new("      backend: zonefile\n", "", None);
    let zone = w.zone_outputs();
    w.publish(
        Deployment::Persistent,
        &[("backstage", "10.0.0.1"), ("argocd", "lb.example.com")],
        &zone,
    )
    .unwrap();
    let (b, _) = w
        .publish(build("23-01-26-01"), &[("backstage", "2001:db8::1")], &zone)
        .unwrap();
    let file = std::path::PathBuf::from(zone.values["file"].as_str().unwrap());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("backstage.b-23-01-26-01.dev.example.test. 300 IN AAAA 2001:db8::1"),
        "{text}"
    );
    let out = gp_test::bind::checkzone(ZONE, &file);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let serial = |t: &str| {
        t.lines()
            .find(|l| l.contains(" SOA "))
            .unwrap()
            .split_whitespace()
            .nth(6)
            .unwrap()
            .to_string()
    };
    let s1 = serial(&text);
    let left = w.teardown(build("23-01-26-01"), &b, &zone);
    assert!(!left.is_empty());
    assert!(
        left.iter().all(|e| *e == Existence::Gone),
        "every destroyed record is gone: {left:?}"
    );
    let text2 = std::fs::read_to_string(&file).unwrap();
    assert!(
        serial(&text2).parse::<u64>().unwrap() > s1.parse::<u64>().unwrap(),
        "SOA serial increases"
    );
    assert!(!text2.contains("b-23-01-26-01"));
    assert_eq!(gp_test::bind::checkzone(ZONE, &file).code, 0);
    // A zone file that cannot be read is an error, never an empty zone.
    let (b3, _) = w
        .publish(build("23-01-26-03"), &[("backstage", "2001:db8::3")], &zone)
        .unwrap();
    let kept = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, "this is not a zone file\n").unwrap();
    let (results, journalled) = w.destroy_journalled(build("23-01-26-03"), &b3.created(), &zone);
    assert!(results.iter().all(Result::is_err), "{results:?}");
    assert!(journalled.is_empty(), "{journalled:?}");
    std::fs::write(&file, &kept).unwrap();
    let results = w.teardown_journalled(build("23-01-26-03"), &b3, &zone);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(
        !std::fs::read_to_string(&file)
            .unwrap()
            .contains("b-23-01-26-03")
    );
    // A zone file that is gone holds nothing left to delete: a teardown
    // of its records ends clean.
    let (b2, _) = w
        .publish(build("23-01-26-02"), &[("backstage", "2001:db8::2")], &zone)
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    let results = w.teardown_journalled(build("23-01-26-02"), &b2, &zone);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(!file.exists());
}

fn conformance(w: &World, zone: &ComponentOutputs) {
    let contract = Contract::new(&w.platform, "dev", build("23-01-26-01")).unwrap();
    let publisher = w.publisher(w.records(
        &contract,
        &[("backstage", "10.1.0.1"), ("argocd", "lb.example.com")],
    ));
    let settings = gp_core::yaml::Node::empty_map(Default::default());
    let inputs = BTreeMap::from([("dns-zone".to_string(), zone.clone())]);
    check(
        &publisher,
        &Fixture {
            platform: &w.platform,
            contract: &contract,
            component: w.platform.component("web").unwrap(),
            settings: &settings,
            inputs: &inputs,
            state_dir: w.dir.path().to_path_buf(),
        },
    )
    .unwrap();
}

#[test]
fn conformance_over_rfc2136() {
    let bind = TestBind::start(ZONE);
    let w = World::rfc2136(&bind);
    let zone = w.zone_outputs();
    conformance(&w, &zone);
}

#[test]
fn conformance_on_a_zone_file() {
    let w = World::new("      backend: zonefile\n", "", None);
    let zone = w.zone_outputs();
    conformance(&w, &zone);
}
