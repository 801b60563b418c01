//! Adopting the docs gate on a repository that already exists: schema files
//! that carry their own metadata, a baseline of today's findings, `docs
//! init` on a repository it has never seen, GitHub annotations, the scoped
//! emoji policy, `.gitignore`.

use std::path::Path;

use serde_json::Value;

use crate::gp;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn docs(root: &Path, args: &[&str]) -> gp_test::Output {
    gp_test::run(gp().arg("docs").args(args).arg("--root").arg(root))
}

fn json(root: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let out = docs(root, &all);
    let v: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.transcript()));
    (out.code, v)
}

fn findings(v: &Value) -> Vec<(String, String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["rule"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A schema the way the platform writes them: its own metadata beside the
/// validation keywords.
const ANNOTATED_SCHEMA: &str = "\
# The platform's documentation schema.
id: SCHEMA-0001
title: Documentation metadata
type: schema
status: active
version: 1.2
description: Front matter every document carries.
$schema: https://json-schema.org/draft/2020-12/schema
$id: https://platform.example/schemas/documentation
x-owner: platform-team
deprecated: false
examples:
  - { id: a, title: A, owner: me }
required: [id, title, owner]
properties:
  id: { type: string, description: the id, examples: [a] }
  title: { type: string, x-ui: wide, deprecated: false }
  owner: { type: string, default: platform-team }
  type: { type: string }
  lifecycle: { type: string, enum: [active, draft], oneOf: [] }
  tags: { type: array, uniqueItems: true, maxItems: 3 }
  frobnicate_me: { type: string, frobnicate: 3 }
";

const RUNBOOK_SCHEMA_JSON: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://platform.example/schemas/runbook.schema.json",
  "title": "Runbook",
  "type": "object",
  "x-review": "quarterly",
  "required": ["id", "title", "owner", "service"],
  "properties": {
    "id": {"type": "string"},
    "title": {"type": "string", "minLength": 3},
    "type": {"type": "string"},
    "owner": {"type": "string"},
    "service": {"type": "string", "pattern": "^[a-z-]+$"}
  },
  "additionalProperties": false
}
"#;

#[test]
fn schema_files_with_their_own_metadata_are_read_and_unknown_keywords_are_warnings() {
    let dir = gp_test::tempdir();
    let root = dir.path();
    write(
        root,
        "schemas/metadata/documentation.schema.yaml",
        ANNOTATED_SCHEMA,
    );
    // A schema one folder deeper, in JSON.
    write(
        root,
        "schemas/metadata/ops/runbook.schema.json",
        RUNBOOK_SCHEMA_JSON,
    );
    write(root, "schemas/metadata/enums.yaml", "lifecycle: [active]\n");
    write(
        root,
        "docs/guide.md",
        "---\nid: guide\ntitle: Guide\nowner: me\nlifecycle: active\ntags: [a, a]\n---\n# Guide\n",
    );
    write(
        root,
        "docs/runbooks/restart.md",
        "---\nid: restart\ntitle: Re\ntype: runbook\nowner: sre\nservice: Keycloak\nextra: 1\n---\n",
    );
    let (code, v) = json(root, &["check"]);
    assert_eq!(code, 1, "{v}");
    let f = findings(&v);
    // The annotations are ignored; the two keywords goldenpath does not
    // check are warnings with their position.
    let schema_findings: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "GP-SCHEMA-001")
        .collect();
    assert_eq!(schema_findings.len(), 2, "{v}");
    assert!(schema_findings.iter().all(|f| f["level"] == "warning"));
    let at: Vec<(u64, u64)> = schema_findings
        .iter()
        .map(|f| (f["line"].as_u64().unwrap(), f["column"].as_u64().unwrap()))
        .collect();
    assert_eq!(at, vec![(20, 53), (22, 34)], "{v}");
    assert!(
        schema_findings[0]["message"]
            .as_str()
            .unwrap()
            .contains("`oneOf` is a JSON Schema keyword goldenpath does not check")
    );
    assert!(
        schema_findings[1]["message"]
            .as_str()
            .unwrap()
            .contains("unknown property keyword `frobnicate`")
    );
    // The rules the schemas do carry are applied, the JSON one's too.
    let rules: Vec<(&str, &str)> = f
        .iter()
        .map(|(file, rule, _)| (file.as_str(), rule.as_str()))
        .collect();
    assert!(
        rules.contains(&("docs/guide.md", "GP-META-005")),
        "{rules:?}"
    );
    for rule in ["GP-META-006", "GP-META-007", "GP-META-008"] {
        assert!(
            rules.contains(&("docs/runbooks/restart.md", rule)),
            "{rule}: {rules:?}"
        );
    }
    // --strict makes the unknown keywords errors.
    let (code, v) = json(root, &["check", "--strict"]);
    assert_eq!(code, 1);
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "GP-SCHEMA-001")
            .all(|f| f["level"] == "error")
    );
    // Only the schema warnings left: exit 0 without --strict, 1 with it.
    write(
        root,
        "docs/guide.md",
        "---\nid: guide\ntitle: Guide\nowner: me\nlifecycle: active\n---\n",
    );
    write(
        root,
        "docs/runbooks/restart.md",
        "---\nid: restart\ntitle: Restart\ntype: runbook\nowner: sre\nservice: keycloak\n---\n",
    );
    assert_eq!(docs(root, &["check"]).code, 0);
    assert_eq!(docs(root, &["check", "--strict"]).code, 1);
}

/// A repository with findings in several files.
fn messy(root: &Path) {
    write(
        root,
        "docs/a.md",
        "---\nid: a\ntitle: A\nowner: me\n---\nSee https://example.com/a and 🚀 here.\n",
    );
    write(root, "docs/b.md", "---\nid: b\ntitle: B\n---\nno owner\n");
    write(root, "docs/c.md", "no front matter\n");
    write(
        root,
        "docs/d.md",
        "---\nid: d\ntitle: D\nowner: me\n---\nclean\n",
    );
}

#[test]
fn a_baseline_fails_only_on_new_findings_and_reports_the_fixed_ones() {
    let dir = gp_test::tempdir();
    let root = dir.path();
    messy(root);
    let (code, all) = json(root, &["check"]);
    assert_eq!(code, 1);
    let before = findings(&all).len();
    assert_eq!(before, 7, "{all}");
    // Nothing was written by check; baseline writes one file.
    assert!(!root.join("goldenpath-docs-baseline.json").exists());
    let out = docs(root, &["baseline"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout.contains("7 entries accepting 7 finding(s)"),
        "{}",
        out.stdout
    );
    let text = std::fs::read_to_string(root.join("goldenpath-docs-baseline.json")).unwrap();
    assert!(!text.contains("\"line\""), "entries carry no line: {text}");
    // Found automatically: exit 0, everything accepted.
    let (code, v) = json(root, &["check"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["baselined"], 7);
    assert_eq!(v["baseline"], "goldenpath-docs-baseline.json");
    assert!(findings(&v).is_empty());
    // Moving lines does not make a finding new.
    write(
        root,
        "docs/a.md",
        "---\nid: a\ntitle: A\nowner: me\n---\n# A\n\nIntro.\n\n🚀 here, and see https://example.com/a\n",
    );
    let (code, v) = json(root, &["check"]);
    assert_eq!(code, 0, "{v}");
    // A new violation: exit 1, only that one reported.
    write(
        root,
        "docs/d.md",
        "---\nid: d\ntitle: D\nowner: me\n---\nclean, but https://example.com/new\n",
    );
    let (code, v) = json(root, &["check"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(
        findings(&v),
        vec![(
            "docs/d.md".to_string(),
            "GP-MD-001".to_string(),
            "bare URL https://example.com/new: write it as <url> or [text](url)".to_string()
        )]
    );
    assert_eq!(v["findings"][0]["line"], 6);
    // A second equal URL in a baselined file is new too.
    write(
        root,
        "docs/d.md",
        "---\nid: d\ntitle: D\nowner: me\n---\nclean\n",
    );
    write(
        root,
        "docs/a.md",
        "---\nid: a\ntitle: A\nowner: me\n---\nSee https://example.com/a and 🚀 here.\nAgain https://example.com/a\n",
    );
    let (code, v) = json(root, &["check"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(findings(&v).len(), 1);
    // A fixed one is reported as gone, so the file can shrink.
    write(
        root,
        "docs/a.md",
        "---\nid: a\ntitle: A\nowner: me\n---\nSee https://example.com/a and 🚀 here.\n",
    );
    write(root, "docs/b.md", "---\nid: b\ntitle: B\nowner: you\n---\n");
    let out = docs(root, &["check"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout.contains("no longer found (1 baseline entry")
            && out
                .stdout
                .contains("docs/b.md GP-META-003 required field `owner` is missing"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "6 accepted by goldenpath-docs-baseline.json, 1 of its entries no longer found"
        ),
        "{}",
        out.stdout
    );
    // Re-running baseline shrinks it.
    assert_eq!(docs(root, &["baseline"]).code, 0);
    let (_, v) = json(root, &["check"]);
    assert_eq!(v["gone"].as_array().unwrap().len(), 0);
    assert_eq!(v["baselined"], 6);
    // --no-baseline shows everything; --baseline FILE reads another file.
    let (code, v) = json(root, &["check", "--no-baseline"]);
    assert_eq!((code, findings(&v).len()), (1, 6));
    let other = dir.path().join("elsewhere.json");
    std::fs::write(&other, "{\"schemaVersion\": 1, \"entries\": []}\n").unwrap();
    let (code, v) = json(root, &["check", "--baseline", other.to_str().unwrap()]);
    assert_eq!((code, findings(&v).len()), (1, 6));
    // A malformed baseline: exit 2 naming the file, line and column.
    std::fs::write(
        &other,
        "{\"schemaVersion\": 1,\n \"entries\": [ {\"file\": 3} ]}\n",
    )
    .unwrap();
    let out = docs(root, &["check", "--baseline", other.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("elsewhere.json:2:"), "{}", out.stderr);
}

/// A repository laid out the way a platform's grows: numbered ADRs one
/// level down, schemas with metadata, enums in another folder, emoji in
/// use, a governance folder, a gitignored build folder, session logs.
fn platform_repo(root: &Path) {
    write(root, ".gitignore", "build/\n*.tmp.md\n");
    write(
        root,
        "build/generated.md",
        "generated, no front matter 🤖 http://x.example\n",
    );
    write(root, "notes.tmp.md", "scratch\n");
    write(root, "schemas/enums.yaml", "lifecycle: [active, draft]\n");
    write(
        root,
        "schemas/metadata/documentation.schema.yaml",
        "id: SCHEMA-DOC\ntitle: Docs\nstatus: active\nversion: 2\nrequired: [id, title, owner]\nproperties:\n  lifecycle: { enum_from: lifecycle }\n",
    );
    write(
        root,
        "schemas/metadata/adr.schema.json",
        r#"{"title": "ADR", "required": ["id", "title", "status"], "properties": {"status": {"enum": ["accepted", "proposed"]}}}"#,
    );
    for n in 1..=3 {
        write(
            root,
            &format!("docs/20-architecture/adrs/ADR-000{n}-choice-{n}.md"),
            &format!(
                "---\nid: ADR-000{n}\ntitle: Choice {n}\ntype: adr\nstatus: accepted\n---\n# Choice\n"
            ),
        );
    }
    write(
        root,
        "docs/20-architecture/adrs/ADR-0004-bad.md",
        "---\nid: ADR-0004\ntitle: Bad\ntype: adr\nstatus: maybe\n---\n✅ done\n",
    );
    write(
        root,
        "docs/changelog/entries/CL-0001-first.md",
        "---\nid: CL-0001\ntitle: First\nowner: me\n---\n",
    );
    write(
        root,
        "docs/guides/start.md",
        "---\nid: start\ntitle: Start\nowner: me\nlifecycle: active\n---\n🚀 Launch ✅ ok\n",
    );
    write(
        root,
        "docs/guides/old.md",
        "---\nid: old\ntitle: Old\n---\n🎉 party\n",
    );
    write(
        root,
        "docs/10-governance/policy.md",
        "---\nid: policy\ntitle: P\nowner: me\n---\n🔒 locked\n",
    );
    write(
        root,
        "session_capture/2026-01-01.md",
        "---\nid: s1\ntitle: S\nowner: me\n---\n",
    );
    std::fs::create_dir_all(root.join(".github/workflows")).unwrap();
    write(root, ".github/workflows/ci.yml", "on: push\n");
    std::fs::create_dir_all(root.join("gitops/apps")).unwrap();
    write(root, "gitops/apps/x.yaml", "a: 1\n");
}

#[test]
fn docs_init_on_a_repository_it_has_never_seen_then_a_baseline_exits_0() {
    let dir = gp_test::tempdir();
    let root = dir.path();
    platform_repo(root);
    // Today: the gate fails on the repository as it is (and cannot find
    // the enums, which is a warning, not a refusal to start).
    let (code, v) = json(root, &["check"]);
    assert_eq!(code, 1, "{v}");
    assert!(
        findings(&v)
            .iter()
            .any(|(_, r, m)| r == "GP-SCHEMA-001" && m.contains("enum_from `lifecycle`")),
        "{v}"
    );
    let out = docs(root, &["init"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    for chosen in [
        "schemas/metadata",
        "schemas/enums.yaml",
        "docs/20-architecture/adrs (ADR-NNNN-slug.md)",
        "docs/changelog/entries (CL-NNNN-slug.md)",
        "session_capture/**/*.md",
    ] {
        assert!(out.stdout.contains(chosen), "{chosen}: {}", out.stdout);
    }
    let config = std::fs::read_to_string(root.join("goldenpath-docs.yaml")).unwrap();
    // The emoji in use where emoji are allowed, none in ADRs, schemas or
    // governance; the watched folders the repository has.
    assert!(
        config.contains("allowed: [\"✅\", \"🎉\", \"🚀\"]"),
        "{config}"
    );
    assert!(
        config.contains(
            "forbiddenIn: [\"docs/10-governance\", \"docs/20-architecture/adrs\", \"schemas\"]"
        ),
        "{config}"
    );
    assert!(
        config.contains(
            "watch: [\".github/workflows/**\", \"gitops/**\", \"docs/20-architecture/adrs/**\"]"
        ),
        "{config}"
    );
    // Not twice without --force.
    let again = docs(root, &["init"]);
    assert_eq!(again.code, 2, "{}", again.transcript());
    assert!(again.stderr.contains("--force"));
    // With the file: the real findings remain (the bad ADR status, the
    // missing owner, emoji in forbidden folders), nothing from build/.
    let (code, v) = json(root, &["check"]);
    assert_eq!(code, 1, "{v}");
    let f = findings(&v);
    assert!(
        f.iter()
            .all(|(file, _, _)| !file.starts_with("build/") && file != "notes.tmp.md"),
        "{f:?}"
    );
    assert!(
        f.iter().any(
            |(file, rule, _)| file == "docs/20-architecture/adrs/ADR-0004-bad.md"
                && rule == "GP-META-005"
        ),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|(file, rule, m)| file == "docs/10-governance/policy.md"
                && rule == "GP-EMOJI-001"
                && m.contains("none are allowed")),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|(file, rule, _)| file == "docs/guides/old.md" && rule == "GP-META-003"),
        "{f:?}"
    );
    assert!(
        !f.iter()
            .any(|(file, rule, _)| file == "docs/guides/start.md" && rule == "GP-EMOJI-001"),
        "{f:?}"
    );
    // Then a baseline, and the next check passes.
    assert_eq!(docs(root, &["baseline"]).code, 0);
    let out = docs(root, &["check"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
}

#[test]
fn the_emoji_policy_has_an_allowed_set_forbidden_folders_and_exempt_files() {
    let dir = gp_test::tempdir();
    let root = dir.path();
    write(
        root,
        "goldenpath-docs.yaml",
        "emoji:\n  allowed: [\"✅\", \"🚀\"]\n  forbiddenIn: [docs/security, \"**/governance\"]\n  exempt: [docs/CHANGELOG.md, docs/legacy/**]\nrules: {GP-META-003: off}\n",
    );
    let fm = "---\nid: x\ntitle: X\n---\n";
    write(root, "docs/guide.md", &format!("{fm}✅ 🚀 ok, 🎉 not\n"));
    write(
        root,
        "docs/security/keys.md",
        &format!("{fm}✅ even this\n"),
    );
    write(
        root,
        "docs/platform/governance/rules.md",
        &format!("{fm}🚀 nope\n"),
    );
    write(root, "docs/CHANGELOG.md", &format!("{fm}🎉🎉 release\n"));
    write(root, "docs/legacy/old.md", &format!("{fm}🦖 old\n"));
    let (code, v) = json(root, &["check"]);
    assert_eq!(code, 1);
    let mut got: Vec<(String, String)> = findings(&v)
        .into_iter()
        .filter(|(_, r, _)| r == "GP-EMOJI-001")
        .map(|(f, _, m)| (f, m))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "docs/guide.md".into(),
                "emoji 🎉 is not in the allowed set (✅ 🚀)".into()
            ),
            (
                "docs/platform/governance/rules.md".into(),
                "emoji 🚀 in a folder where none are allowed".into()
            ),
            (
                "docs/security/keys.md".into(),
                "emoji ✅ in a folder where none are allowed".into()
            ),
        ],
        "{v}"
    );
    // A glob that does not compile is refused with its position.
    write(
        root,
        "goldenpath-docs.yaml",
        "emoji:\n  exempt: [\"docs/[oops\"]\n",
    );
    let out = docs(root, &["check"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("goldenpath-docs.yaml:2:12"),
        "{}",
        out.stderr
    );
}

/// Undoes the workflow-command escaping of the GitHub runner.
fn unescape(s: &str) -> String {
    s.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

#[test]
fn github_annotations_parse_back_to_the_findings_and_a_step_summary_is_written() {
    let dir = gp_test::tempdir();
    let root = dir.path().join("repo");
    messy(&root);
    // A file name and a message with the characters the format escapes.
    write(
        &root,
        "docs/odd, name: 100%.md",
        "---\nid: odd\ntitle: O\nowner: me\n---\nhttps://e.example/a,b%\n",
    );
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = gp_test::run(
        gp().args(["docs", "check", "--output", "github", "--root"])
            .arg(&root)
            .env("GITHUB_STEP_SUMMARY", &summary),
    );
    assert_eq!(out.code, 1, "{}", out.transcript());
    let (_, v) = json(&root, &["check"]);
    let want: Vec<(String, u64, u64, String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_string(),
                f["level"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let re = regex::Regex::new(r"^::(error|warning) ([^:]*)::(.*)$").unwrap();
    let mut got = Vec::new();
    for line in out.stdout.lines().filter(|l| l.starts_with("::")) {
        let c = re
            .captures(line)
            .unwrap_or_else(|| panic!("not a workflow command: {line}"));
        let mut props = std::collections::BTreeMap::new();
        for p in c[2].split(',') {
            let (k, val) = p.split_once('=').unwrap();
            props.insert(k.to_string(), unescape(val));
        }
        let num = |k: &str| props.get(k).map_or(0, |v| v.parse::<u64>().unwrap());
        got.push((
            props["file"].clone(),
            num("line"),
            num("col"),
            props["title"].clone(),
            c[1].to_string(),
            unescape(&c[3]),
        ));
    }
    let norm = |v: Vec<(String, u64, u64, String, String, String)>| {
        let mut v: Vec<_> = v
            .into_iter()
            .map(|(f, l, c, r, lv, m)| (f, l, if l == 0 { 0 } else { c.max(1) }, r, lv, m))
            .collect();
        v.sort();
        v
    };
    assert_eq!(norm(got), norm(want.clone()));
    assert!(want.iter().any(|w| w.0 == "docs/odd, name: 100%.md"));
    let s = std::fs::read_to_string(&summary).unwrap();
    assert!(
        s.starts_with("earlier step\n## goldenpath docs check"),
        "{s}"
    );
    assert!(s.contains("| docs/c.md | 1 | GP-META-001 | error |"), "{s}");
}
