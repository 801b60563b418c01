//! A pull request's preview: the build a deploy made for it is found again
//! for every push, until it is torn down.

use gp_engine::*;
use gp_registry::PullRequestRef;

use crate::{HEADER, World};

const SPEC: &str = "components:
  - name: svc
    plane: disposable
    tier: 1
    driver: file
    settings: { files: [a] }
";

fn pr(number: u64, sha: char) -> PullRequestRef {
    PullRequestRef {
        number,
        head_sha: sha.to_string().repeat(40),
    }
}

fn deploy(w: &World, build: &str, pull_request: Option<PullRequestRef>) {
    let mut e = w.engine();
    e.pull_request = pull_request;
    let o = e
        .deploy(&DeployRequest {
            today: Some((23, 1, 26)),
            ..DeployRequest::new(
                "dev",
                DeploymentSelector::Build(gp_core::BuildIdArg::Id(build.parse().unwrap())),
            )
        })
        .unwrap();
    assert!(o.succeeded(), "{o:?}");
}

#[test]
fn a_pull_requests_build_is_found_for_every_push_until_it_is_torn_down() {
    let w = World::new(&format!("{HEADER}{SPEC}"));
    let e = w.engine();
    assert_eq!(e.pull_request_build("dev", 12).unwrap(), None);
    deploy(&w, "23-01-26-01", Some(pr(12, 'a')));
    deploy(&w, "23-01-26-02", Some(pr(13, 'b')));
    // A build deployed without a pull request is nobody's preview.
    deploy(&w, "23-01-26-03", None);
    let found = |n| {
        e.pull_request_build("dev", n)
            .unwrap()
            .map(|b| b.to_string())
    };
    assert_eq!(found(12).as_deref(), Some("23-01-26-01"));
    assert_eq!(found(13).as_deref(), Some("23-01-26-02"));
    assert_eq!(found(14), None);
    // The next push: the head recorded is the newest.
    deploy(&w, "23-01-26-01", Some(pr(12, 'c')));
    let (builds, _) = e.builds_checked("dev").unwrap();
    let b = builds.iter().find(|b| b.build_id == "23-01-26-01").unwrap();
    assert_eq!(b.pull_request, Some(pr(12, 'c')));
    assert_eq!(
        builds
            .iter()
            .find(|b| b.build_id == "23-01-26-03")
            .unwrap()
            .pull_request,
        None
    );
    // Torn down: no longer its preview.
    e.teardown(&TeardownRequest {
        env: "dev".into(),
        target: TeardownTarget::Build("23-01-26-01".parse().unwrap()),
        confirm: false,
        break_glass: vec![],
        reason: None,
        overrides: vec![],
        cascade: false,
    })
    .unwrap();
    assert_eq!(found(12), None);
    assert_eq!(found(13).as_deref(), Some("23-01-26-02"));
}

#[test]
fn only_a_recorded_pull_request_of_the_right_shape_counts() {
    let ev = |detail: serde_json::Value, event: &str| gp_registry::DeploymentEvent {
        id: "e".into(),
        env: "dev".into(),
        deployment: "23-01-26-01".into(),
        run_id: None,
        event: event.into(),
        actor: "a".into(),
        commit_sha: None,
        run_url: None,
        detail: Some(detail),
        at_us: 1,
    };
    let good = serde_json::json!({"pullRequest": {"number": 7, "headSha": "f".repeat(40)}});
    assert_eq!(
        PullRequestRef::of_event(&ev(good.clone(), "deploy_started")),
        Some(pr(7, 'f'))
    );
    assert_eq!(
        PullRequestRef::of_event(&ev(good, "deploy_succeeded")),
        None
    );
    for bad in [
        serde_json::json!({"pullRequest": {"number": 0, "headSha": "f".repeat(40)}}),
        serde_json::json!({"pullRequest": {"number": 7, "headSha": "f".repeat(39)}}),
        serde_json::json!({"pullRequest": {"number": 7, "headSha": "g".repeat(40)}}),
        serde_json::json!({"pullRequest": {"number": "7", "headSha": "f".repeat(40)}}),
        serde_json::json!({"pullRequest": 7}),
        serde_json::json!({}),
    ] {
        assert_eq!(
            PullRequestRef::of_event(&ev(bad.clone(), "deploy_started")),
            None,
            "{bad}"
        );
    }
}

#[test]
fn a_sweep_tears_down_only_previews_of_pull_requests_not_open_and_not_held() {
    let w = World::new(&format!("{HEADER}{SPEC}"));
    deploy(&w, "23-01-26-01", Some(pr(12, 'a')));
    deploy(&w, "23-01-26-02", Some(pr(13, 'b')));
    deploy(&w, "23-01-26-03", Some(pr(14, 'c')));
    deploy(&w, "23-01-26-04", None);
    let e = w.engine();
    // A live run holds #14's build (this process, on this host).
    let me = format!(
        "tester pid {} on {} run live",
        std::process::id(),
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
    );
    w.registry
        .lease_acquire("dev", "23-01-26-03", &me, 600)
        .unwrap();
    let open: std::collections::BTreeSet<u64> = [13].into();
    // A dry run says what it would do and does nothing.
    let dry = e.sweep_previews("dev", &open, true).unwrap();
    let actions = |v: &[gp_engine::previews::SweptPreview]| {
        v.iter()
            .map(|s| (s.build_id.clone(), s.pull_request, s.action.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        actions(&dry),
        [
            ("23-01-26-03".to_string(), 14, "held".to_string()),
            ("23-01-26-01".to_string(), 12, "would-tear-down".to_string()),
        ]
    );
    assert!(w.exists("23-01-26-01/svc-a"));
    let swept = e.sweep_previews("dev", &open, false).unwrap();
    assert_eq!(
        actions(&swept),
        [
            ("23-01-26-03".to_string(), 14, "held".to_string()),
            ("23-01-26-01".to_string(), 12, "torn-down".to_string()),
        ]
    );
    assert!(
        !w.exists("23-01-26-01/svc-a"),
        "the closed one's preview is gone"
    );
    assert!(
        w.exists("23-01-26-02/svc-a"),
        "an open pull request's stays"
    );
    assert!(w.exists("23-01-26-03/svc-a"), "a held one stays");
    assert!(
        w.exists("23-01-26-04/svc-a"),
        "a build of no pull request stays"
    );
    // Swept again: nothing more (what is torn down is not swept twice).
    let again = e.sweep_previews("dev", &open, false).unwrap();
    assert_eq!(
        actions(&again),
        [("23-01-26-03".to_string(), 14, "held".to_string())]
    );
    assert!(e.sweep_previews("nope", &open, false).is_err());
}
