//! A synthetic platform docs repository for the `docs check` benchmark
//! and for trying the rules: 1,000 documents with realistic front matter,
//! 130 folder `metadata.yaml` files, 180 ADRs and 200 changelog entries,
//! with a sprinkling of every kind of violation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::Path;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
    }
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
}

/// Writes the fixture under `root`; returns a one-line summary.
pub fn generate(root: &Path) -> String {
    generate_sized(root, 1000, 16, false)
}

/// The fixture with `documents` documents spread over `areas` areas (each
/// with 7 topic folders and their `metadata.yaml`); `dense` adds a
/// disallowed emoji to every second document, for a large baseline.
pub fn generate_sized(root: &Path, documents: usize, areas: usize, dense: bool) -> String {
    let domains = ["platform", "delivery", "identity", "data", "observability"];
    let owners = ["platform-team", "sre", "app-team"];
    write(
        root,
        "schemas/metadata/enums.yaml",
        "lifecycle: [draft, active, deprecated, archived]\nadr_status: [proposed, accepted, rejected, deprecated, superseded]\ndomains: [platform, delivery, identity, data, observability]\nsecurity:\n  secret_types:\n    values: [none, credentials, keys]\nrisk: [none, low, medium, high]\n",
    );
    let doc_schema = "required: [id, title, type, owner, lifecycle, domain]\nproperties:\n  id: { type: string, pattern: \"^[a-z0-9][a-z0-9-]*$\" }\n  title: { type: string }\n  type: { type: string }\n  owner: { type: string }\n  domain: { type: string, enum_from: domains }\n  lifecycle: { type: string, enum_from: lifecycle }\n  version: { type: [string, number] }\n  date: { type: string, pattern: \"^[0-9]{4}-[0-9]{2}-[0-9]{2}$\" }\n  tags: { type: array, items: { type: string } }\n  relates_to: { type: array }\n  risk_profile:\n    type: object\n    properties:\n      level: { enum_from: risk }\n      secrets: { enum_from: security.secret_types }\n    additionalProperties: false\n  reliability: { type: object, properties: { slo: { type: number, minimum: 90, maximum: 100 } } }\nadditionalProperties: false\n";
    write(
        root,
        "schemas/metadata/documentation.schema.yaml",
        doc_schema,
    );
    write(
        root,
        "schemas/metadata/adr.schema.yaml",
        &doc_schema
            .replace("lifecycle, domain]", "lifecycle, domain, status, date]")
            .replace("  id: { type: string, pattern: \"^[a-z0-9][a-z0-9-]*$\" }", "  id: { type: string }\n  status: { type: string, enum_from: adr_status }\n  supersedes: { type: [array, string] }\n  superseded_by: { type: [array, string] }"),
    );
    write(
        root,
        "schemas/metadata/changelog.schema.yaml",
        &doc_schema.replace(
            "  id: { type: string, pattern: \"^[a-z0-9][a-z0-9-]*$\" }",
            "  id: { type: string }",
        ),
    );
    write(
        root,
        "goldenpath-docs.yaml",
        "sidecars: [docs/areas]\nemoji: { forbiddenIn: [docs/adrs] }\n",
    );
    // 128 folder metadata files in docs/areas/*/*, plus adrs and changelog.
    let mut n_meta = 0;
    write(root, "docs/metadata.yaml", "owner: platform-team\n");
    n_meta += 1;
    write(
        root,
        "docs/adrs/metadata.yaml",
        "type: adr\nowner: platform-team\nlifecycle: active\ndomain: platform\n",
    );
    write(
        root,
        "docs/changelog/entries/metadata.yaml",
        "type: changelog\nowner: platform-team\nlifecycle: active\ndomain: delivery\n",
    );
    n_meta += 2;
    let mut folders = Vec::new();
    for a in 0..areas {
        let area = format!("docs/areas/area-{a:02}");
        // One area lacks its sidecar.
        if a != 7 {
            write(
                root,
                &format!("{area}/metadata.yaml"),
                &format!(
                    "owner: {}\ndomain: {}\nlifecycle: active\ntags: []\n",
                    owners[a % 3],
                    domains[a % 5]
                ),
            );
            n_meta += 1;
        }
        for s in 0..7 {
            let sub = format!("{area}/topic-{s}");
            write(
                root,
                &format!("{sub}/metadata.yaml"),
                &format!(
                    "risk_profile:\n  level: {}\n",
                    ["low", "medium", "none"][s % 3]
                ),
            );
            n_meta += 1;
            folders.push(sub);
        }
    }
    let mut docs = 0;
    let mut ids = Vec::new();
    for i in 0..documents {
        let folder = &folders[i % folders.len()];
        let id = format!("doc-{i:04}");
        let mut fm = String::new();
        let _ = writeln!(fm, "---");
        // Violations: duplicate id, unknown enum, bad pattern, missing field,
        // unknown field, unresolved relation, wrong type, out of range.
        let shown_id = if i % 97 == 5 {
            "doc-0001".to_string()
        } else {
            id.clone()
        };
        let _ = writeln!(fm, "id: {shown_id}");
        if i % 101 != 3 {
            let _ = writeln!(fm, "title: Document {i} about {}", domains[i % 5]);
        }
        let _ = writeln!(fm, "type: documentation");
        let _ = writeln!(fm, "version: 1.0");
        let _ = writeln!(fm, "date: 2026-01-{:02}", 1 + i % 28);
        if i % 89 == 7 {
            let _ = writeln!(fm, "lifecycle: actve");
        }
        if i % 83 == 2 {
            let _ = writeln!(fm, "colour: blue");
        }
        if i % 79 == 4 {
            let _ = writeln!(fm, "tags: not-a-list");
        } else {
            let _ = writeln!(fm, "tags: [{}, docs]", domains[i % 5]);
        }
        let target = if i % 71 == 9 {
            "doc-9999".to_string()
        } else {
            format!("doc-{:04}", (i + 1) % documents)
        };
        let _ = writeln!(fm, "relates_to: [{target}, ADR-{:04}]", 1 + i % 180);
        let _ = writeln!(
            fm,
            "reliability:\n  slo: {}",
            if i % 67 == 1 { "101" } else { "99.9" }
        );
        let _ = writeln!(fm, "<!-- reviewed quarterly -->");
        let _ = writeln!(fm, "---");
        let mut body = format!(
            "\n# Document {i}\n\nSee [the runbook](https://runbooks.example.com/{i}) and `https://in.code/span`.\n\n```sh\ncurl https://example.com/in-a-fence\n```\n"
        );
        if i % 61 == 0 {
            body.push_str("\nA bare link: https://example.com/bare\n");
        }
        if i % 59 == 0 {
            body.push_str("\nShipped 🚀\n");
        }
        if dense && i % 2 == 0 {
            body.push_str("\nOn target 🎯\n");
        }
        for p in 0..20 {
            let _ = writeln!(
                body,
                "\nParagraph {p} of document {i}: the platform's golden path keeps names, tags, state keys and DNS ownership consistent across every environment and build."
            );
        }
        write(root, &format!("{folder}/{id}.md"), &format!("{fm}{body}"));
        ids.push(id);
        docs += 1;
    }
    for n in 1..=180 {
        let slug = format!("decision-{n}");
        let mut fm = format!(
            "---\nid: ADR-{n:04}\ntitle: Decision {n}\nstatus: accepted\ndate: 2025-0{}-1{}\n",
            1 + n % 9,
            n % 10
        );
        if n % 50 == 0 {
            fm = fm.replace(&format!("id: ADR-{n:04}"), &format!("id: ADR-{:04}", n + 1));
        }
        if n == 120 {
            fm.push_str("supersedes: [ADR-0119]\n");
        }
        if n == 119 {
            fm = fm.replace("status: accepted", "status: superseded");
            fm.push_str("superseded_by: [ADR-0120]\n");
        }
        if n == 60 {
            fm.push_str("supersedes: [ADR-0059]\n");
        }
        fm.push_str("---\n\n# Context\n\nWhy.\n\n# Decision\n\nWhat.\n");
        let name = if n == 33 {
            format!("ADR-{n:04}_{slug}.md")
        } else {
            format!("ADR-{n:04}-{slug}.md")
        };
        write(root, &format!("docs/adrs/{name}"), &fm);
        docs += 1;
    }
    write(
        root,
        "docs/adrs/ADR-0007-duplicate-number.md",
        "---\nid: ADR-0007-duplicate-number\ntitle: Another seven\nstatus: proposed\ndate: 2025-02-02\n---\n",
    );
    for n in 1..=200 {
        write(
            root,
            &format!("docs/changelog/entries/CL-{n:04}-change-{n}.md"),
            &format!(
                "---\nid: CL-{n:04}\ntitle: Change {n}\ndate: 2025-03-{:02}\n---\n\nChanged things.\n",
                1 + n % 28
            ),
        );
        docs += 1;
    }
    format!(
        "wrote {} documents (+1 duplicate ADR), {} folder metadata files, 181 ADRs, 200 changelog entries under {}",
        docs,
        n_meta,
        root.display()
    )
}
