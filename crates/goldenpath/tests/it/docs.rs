//! `goldenpath docs`: a fixture repository built here covers every rule
//! and its negative case, including the inheritance corner cases; the
//! session-log gate runs on a real git repository with two commits.

use std::path::Path;

use crate::gp;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

const ENUMS: &str = "\
lifecycle: [draft, active, deprecated]
adr_status: [proposed, accepted, superseded]
versions: ['1.0', '2.0']
security:
  secret_types:
    values: [none, credentials, keys]
";

const DOC_SCHEMA: &str = "\
required: [id, title, owner, lifecycle]
properties:
  id: { type: string, pattern: '^[a-z0-9][a-z0-9-]*$' }
  title: { type: string }
  type: { type: string }
  owner: { type: string }
  lifecycle: { type: string, enum_from: lifecycle }
  version: { enum_from: versions }
  date: { type: string, pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' }
  tags: { type: array, items: { type: string } }
  relates_to: { type: [array, string] }
  priority: { type: integer, minimum: 1, maximum: 5 }
  security:
    type: object
    properties:
      secrets: { type: array, items: { enum_from: security.secret_types } }
    additionalProperties: false
additionalProperties: false
";

const ADR_SCHEMA: &str = "\
required: [id, title, owner, status, date]
properties:
  id: { type: string }
  title: { type: string }
  type: { type: string }
  owner: { type: string }
  lifecycle: { type: string }
  status: { type: string, enum_from: adr_status }
  date: { type: string }
  domain: { type: string }
  supersedes: { type: [array, string] }
  superseded_by: { type: [array, string] }
";

/// The fixture: one file per rule breach, and the cases that must pass.
fn fixture(root: &Path) {
    write(root, "schemas/metadata/enums.yaml", ENUMS);
    write(
        root,
        "schemas/metadata/documentation.schema.yaml",
        DOC_SCHEMA,
    );
    write(root, "schemas/metadata/adr.schema.yaml", ADR_SCHEMA);
    write(
        root,
        "goldenpath-docs.yaml",
        "sidecars: [modules]\nemoji:\n  allowed: ['✅']\n  forbiddenIn: [docs/policies]\nrules:\n  GP-MD-001: warning\n",
    );
    write(
        root,
        "metadata.yaml",
        "owner: platform-team\nlifecycle: active\n",
    );
    // Folder defaults: `id` never inherited; `tags` inherited under an empty local list.
    write(
        root,
        "docs/guides/metadata.yaml",
        "id: not-inherited\ntitle: Not inherited\ntags: [guides]\n",
    );
    write(
        root,
        "docs/guides/good.md",
        "---\nid: good\ntitle: Good\ntags: []\nversion: 1.0\ndate: 2026-01-23\npriority: 3\nrelates_to: [other-guide, ADR-0001]\nsecurity:\n  secrets: [credentials]\n<!-- reviewed: yes -->\n---\n\n# Good\n\nSee <https://example.com/auto>, [a link](https://example.com/link), `https://example.com/code`.\n\n```\nhttps://example.com/fenced\n```\n\nDone ✅\n",
    );
    write(
        root,
        "docs/guides/other-guide.md",
        "---\nid: other\ntitle: Other\n---\nBody.\n",
    );
    write(
        root,
        "docs/guides/no-id.md",
        "---\ntitle: Without an id\n---\n",
    );
    // Breaches, one per file.
    write(root, "docs/no-front-matter.md", "# Just a heading\n");
    write(
        root,
        "docs/bad-yaml.md",
        "---\nid: bad-yaml\ntitle: [unclosed\n---\n",
    );
    write(root, "docs/unterminated.md", "---\nid: unterminated\n");
    write(
        root,
        "docs/missing-owner-folder/metadata.yaml",
        "owner: ~\n",
    );
    write(
        root,
        "docs/wrong-type.md",
        "---\nid: wrong-type\ntitle: T\ntags: solo\npriority: '3'\n---\n",
    );
    write(
        root,
        "docs/bad-enum.md",
        "---\nid: bad-enum\ntitle: T\nlifecycle: actve\nversion: 1.5\nsecurity:\n  secrets: [passwords]\n---\n",
    );
    write(
        root,
        "docs/bad-pattern.md",
        "---\nid: Bad_Pattern\ntitle: T\ndate: 23/01/2026\n---\n",
    );
    write(
        root,
        "docs/out-of-range.md",
        "---\nid: out-of-range\ntitle: T\npriority: 9\n---\n",
    );
    write(
        root,
        "docs/unknown-field.md",
        "---\nid: unknown-field\ntitle: T\nownr: me\nsecurity:\n  vault: x\n---\n",
    );
    write(root, "docs/dup-a.md", "---\nid: dup\ntitle: A\n---\n");
    write(root, "docs/dup-b.md", "---\nid: dup\ntitle: B\n---\n");
    write(
        root,
        "docs/dangling.md",
        "---\nid: dangling\ntitle: T\nrelates_to: [nowhere]\n---\n",
    );
    write(
        root,
        "docs/bare-url.md",
        "---\nid: bare-url\ntitle: T\n---\nVisit https://example.com/bare today.\n",
    );
    write(
        root,
        "docs/emoji.md",
        "---\nid: emoji\ntitle: T\n---\nShipped 🚀 and ✅\n",
    );
    write(
        root,
        "docs/policies/strict.md",
        "---\nid: strict\ntitle: T\n---\nNo emoji here ✅\n",
    );
    write(root, "docs/bad-folder/metadata.yaml", "owner: [unclosed\n");
    // ADRs: the folder sets the type (and so the schema) and the status.
    write(
        root,
        "docs/adrs/metadata.yaml",
        "type: adr\nstatus: accepted\ndomain: platform\n",
    );
    write(
        root,
        "docs/adrs/ADR-0001-use-goldenpath.md",
        "---\nid: ADR-0001\ntitle: Use goldenpath\ndate: 2026-01-02\nsuperseded_by: [ADR-0002-replace-it]\nstatus: superseded\n---\n",
    );
    write(
        root,
        "docs/adrs/ADR-0002-replace-it.md",
        "---\nid: ADR-0002-replace-it\ntitle: Replace it\ndate: 2026-01-03\nsupersedes: [ADR-0001]\n---\n",
    );
    write(
        root,
        "docs/adrs/ADR-0003-one-sided.md",
        "---\nid: ADR-0003\ntitle: One-sided\ndate: 2026-01-04\nsupersedes: [ADR-0002-replace-it]\n---\n",
    );
    write(
        root,
        "docs/adrs/ADR-0004-wrong-number.md",
        "---\nid: ADR-0005\ntitle: Wrong number\ndate: 2026-01-05\n---\n",
    );
    write(
        root,
        "docs/adrs/ADR-0004-same-number.md",
        "---\nid: ADR-0004-same-number\ntitle: Same number\ndate: 2026-01-06\n---\n",
    );
    write(
        root,
        "docs/adrs/adr-6-badly-named.md",
        "---\nid: adr-6\ntitle: Badly named\ndate: 2026-01-07\n---\n",
    );
    write(
        root,
        "docs/adrs/ADR-0007-no-status-schema.md",
        "---\nid: ADR-0007\ntitle: Inherited type selects the ADR schema\n---\n",
    );
    // Sidecars: every module folder needs a metadata.yaml.
    write(root, "modules/vpc/metadata.yaml", "owner: network-team\n");
    write(
        root,
        "modules/vpc/README.md",
        "---\nid: vpc\ntitle: VPC\n---\n",
    );
    write(
        root,
        "modules/eks/README.md",
        "---\nid: eks\ntitle: EKS\n---\n",
    );
}

fn docs(root: &Path, args: &[&str]) -> gp_test::Output {
    gp_test::run(gp().arg("docs").args(args).arg("--root").arg(root))
}

/// The shape `docs check --output json` promises (unknown fields fail).
#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Report {
    schema_version: u32,
    documents: usize,
    metadata_files: usize,
    findings: Vec<Finding>,
    #[serde(default)]
    baseline: Option<String>,
    baselined: usize,
    gone: Vec<serde_json::Value>,
}

#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Finding {
    file: String,
    line: u32,
    column: u32,
    rule: String,
    level: String,
    message: String,
}

fn tree_digest(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if e.file_name() != ".git" {
                    stack.push(p);
                }
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_rule_and_its_negative_case() {
    let dir = gp_test::tempdir();
    let root = dir.path();
    fixture(root);
    let before = tree_digest(root);
    let out = docs(root, &["check"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!("docs_check", out.stdout);
    assert_eq!(tree_digest(root), before, "check never writes");

    // JSON reads back into strict structs.
    let json = docs(root, &["check", "--output", "json"]);
    let report: Report = serde_json::from_str(&json.stdout).unwrap();
    let rules: std::collections::BTreeSet<&str> =
        report.findings.iter().map(|f| f.rule.as_str()).collect();
    for rule in [
        "GP-META-001",
        "GP-META-002",
        "GP-META-003",
        "GP-META-004",
        "GP-META-005",
        "GP-META-006",
        "GP-META-007",
        "GP-META-008",
        "GP-META-009",
        "GP-REL-001",
        "GP-REL-002",
        "GP-NUM-001",
        "GP-NUM-002",
        "GP-NUM-003",
        "GP-SIDECAR-001",
        "GP-MD-001",
        "GP-EMOJI-001",
        "GP-INDEX-001",
    ] {
        assert!(rules.contains(rule), "{rule} has a finding");
    }
    // The negative cases: nothing reported for the good guide or its
    // sibling (URLs in a code span, fence, autolink and link; ✅ allowed;
    // 1.0 and an unquoted date kept as written; relations resolved by id
    // and by file stem; a dotted enum_from; empty local tags).
    for clean in [
        "docs/guides/good.md",
        "docs/guides/other-guide.md",
        "modules/vpc/README.md",
    ] {
        let found: Vec<&Finding> = report.findings.iter().filter(|f| f.file == clean).collect();
        assert!(found.is_empty(), "{clean}: {found:?}");
    }
    // `id` is never inherited.
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.file == "docs/guides/no-id.md" && f.message.contains("required field `id`"))
    );
    // The inherited type selects the ADR schema (status is required there,
    // and inherited here, so ADR-0007 only lacks its date).
    let adr7: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.file == "docs/adrs/ADR-0007-no-status-schema.md")
        .collect();
    assert_eq!(adr7.len(), 1, "{adr7:?}");
    assert!(adr7[0].message.contains("`date`") && adr7[0].message.contains("type `adr`"));
    // A warning-level rule does not fail the run on its own.
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "GP-MD-001" && f.level == "warning")
    );

    // SARIF 2.1.0 with the fields its schema requires.
    let sarif = docs(root, &["check", "--output", "sarif"]);
    let v: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "goldenpath");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), report.findings.len());
    let rule_ids: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for r in results {
        assert!(r["message"]["text"].is_string());
        assert!(rule_ids.contains(&r["ruleId"].as_str().unwrap()));
        assert!(["error", "warning"].contains(&r["level"].as_str().unwrap()));
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"].is_string());
        if let Some(region) = loc.get("region") {
            assert!(region["startLine"].as_u64().unwrap() >= 1);
        }
    }

    // The index: stale until generated, then clean; --check writes nothing.
    let stale = docs(root, &["index", "--check"]);
    assert_eq!(stale.code, 1, "{}", stale.transcript());
    assert!(!root.join("docs/adrs/README.md").exists());
    let written = docs(root, &["index"]);
    assert_eq!(written.code, 0, "{}", written.transcript());
    let index = std::fs::read_to_string(root.join("docs/adrs/README.md")).unwrap();
    insta::assert_snapshot!("adr_index", index);
    assert_eq!(docs(root, &["index", "--check"]).code, 0);

    // fix removes only disallowed emoji and says which files it changed.
    let fixed = docs(root, &["fix"]);
    assert_eq!(fixed.code, 0, "{}", fixed.transcript());
    insta::assert_snapshot!("docs_fix", fixed.stdout);
    assert_eq!(
        std::fs::read_to_string(root.join("docs/emoji.md")).unwrap(),
        "---\nid: emoji\ntitle: T\n---\nShipped and ✅\n"
    );
    let after = docs(root, &["check", "--output", "json"]);
    let after: Report = serde_json::from_str(&after.stdout).unwrap();
    assert!(
        !after
            .findings
            .iter()
            .any(|f| f.rule == "GP-EMOJI-001" || f.rule == "GP-INDEX-001")
    );
}

#[test]
fn bad_configuration_exits_2_with_its_position() {
    let dir = gp_test::tempdir();
    write(
        dir.path(),
        "goldenpath-docs.yaml",
        "rules:\n  GP-NOPE-001: off\nemoji:\n  alowed: []\n",
    );
    let out = docs(dir.path(), &["check"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("goldenpath-docs.yaml:4:3"),
        "{}",
        out.stderr
    );
    write(dir.path(), "goldenpath-docs.yaml", "");
    write(
        dir.path(),
        "schemas/metadata/documentation.schema.yaml",
        "properties:\n  status: { enum_from: missing.key }\n",
    );
    // An enum the enums file lacks is reported at its position: a warning
    // (the gate still runs), an error with --strict.
    let out = docs(dir.path(), &["check"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout.contains(
            "documentation.schema.yaml:2:24 warning GP-SCHEMA-001 enum_from `missing.key`"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(docs(dir.path(), &["check", "--strict"]).code, 1);
    // A schema that is not YAML still stops the check, with its position.
    write(
        dir.path(),
        "schemas/metadata/documentation.schema.yaml",
        "properties:\n  status: { enum: [a, b }\n",
    );
    let out = docs(dir.path(), &["check"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("documentation.schema.yaml:2:"),
        "{}",
        out.stderr
    );
}

/// A file the check finds by name (the enums, the ADR index) that is a
/// named pipe: exit 2 at once, naming it; opened, it would wait for a
/// writer for ever (each run is killed after 60 s and fails).
#[test]
fn a_pipe_named_like_the_enums_or_the_adr_index_exits_2_naming_it() {
    for (config, pipe) in [
        ("", "schemas/metadata/enums.yaml"),
        (
            "adr: { dir: docs/adrs, prefix: ADR, index: docs/adrs/README.md }\n",
            "docs/adrs/README.md",
        ),
    ] {
        let dir = gp_test::tempdir();
        let root = dir.path();
        write(root, "goldenpath-docs.yaml", config);
        write(
            root,
            "schemas/metadata/documentation.schema.yaml",
            "required: [id, title]\n",
        );
        write(
            root,
            "docs/adrs/ADR-0001-first.md",
            "---\nid: ADR-0001\ntitle: First\ntype: adr\n---\n",
        );
        let made = std::process::Command::new("mkfifo")
            .arg(root.join(pipe))
            .status()
            .unwrap();
        assert!(made.success());
        let child = gp()
            .args(["docs", "check", "--root"])
            .arg(root)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id().to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(child.wait_with_output()));
        let out = match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(out) => out.unwrap(),
            Err(_) => {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid])
                    .status();
                panic!("docs check waited on the pipe {pipe}");
            }
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{pipe}: {stderr}");
        assert!(
            stderr.contains(pipe) && stderr.contains("not a regular file"),
            "{pipe}: {stderr}"
        );
    }
}

fn git(root: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_session_log_gate_on_a_real_git_diff() {
    let dir = gp_test::tempdir();
    let root = dir.path();
    write(
        root,
        "goldenpath-docs.yaml",
        "sessionLog:\n  watch: [gitops/**]\n  logs: session_capture/*.md\n  appendOnly: [docs/log.md]\nadr: { dir: docs/adrs, prefix: ADR }\n",
    );
    write(
        root,
        "docs/log.md",
        "---\nid: log\ntitle: Log\nowner: me\nlifecycle: active\n---\nfirst entry\n",
    );
    write(root, "gitops/app.yaml", "a: 1\n");
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "one"]);
    // A change to gitops/ without a session log, and an edit of the
    // append-only log's existing line.
    write(root, "gitops/app.yaml", "a: 2\n");
    write(
        root,
        "docs/log.md",
        "---\nid: log\ntitle: Log\nowner: me\nlifecycle: active\n---\nfirst entry, edited\nsecond entry\n",
    );
    git(root, &["commit", "-q", "-am", "two"]);
    let out = docs(root, &["check", "--diff", "HEAD~1..HEAD"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stdout.contains("GP-SESSION-001"), "{}", out.stdout);
    assert!(
        out.stdout.contains("docs/log.md:7:1 error GP-SESSION-002"),
        "{}",
        out.stdout
    );

    // With a session log and an append-only change that only appends: clean.
    write(root, "gitops/app.yaml", "a: 3\n");
    write(
        root,
        "docs/log.md",
        "---\nid: log\ntitle: Log (renamed)\nowner: me\nlifecycle: active\n---\nfirst entry, edited\nsecond entry\nthird entry\n",
    );
    write(
        root,
        "session_capture/2026-11-26.md",
        "---\nid: s1\ntitle: Session\nowner: me\nlifecycle: active\n---\nnotes\n",
    );
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "three"]);
    let out = docs(root, &["check", "--diff", "HEAD~1..HEAD"]);
    assert_eq!(out.code, 0, "{}", out.transcript());

    // An unknown revision is unusable input.
    assert_eq!(docs(root, &["check", "--diff", "nope..HEAD"]).code, 2);
}
