//! The drivers' costs on the path a deploy really takes: the release
//! binary, the SQLite registry every journal entry goes to, git commits of
//! every render, Terraform run by goldenpath against the same commands run
//! by a shell script. Each pair alternates which side goes first; medians
//! of RUNS pairs (DNS_RUNS for DNS).
//!
//! 1. DNS: `goldenpath deploy` of a component serving 1,000 hosts (1,000 A
//!    records + 1,000 ownership TXTs to BIND over RFC 2136/TSIG, every
//!    record journalled) against `nsupdate` sending the same changes; the
//!    teardown against `nsupdate` deleting them; and `goldenpath drift` of
//!    the deployed build against `dig AXFR` of the zone.
//! 2. GitOps: `goldenpath deploy` of a build of 200 gitops components with
//!    `gitops.git: true` (validated, committed per component), whole process.
//! 3. Terraform: `goldenpath deploy` of one component (a root of 50
//!    `terraform_data`) against a shell script running the commands a
//!    deploy runs (init, workspace, state list, plan, show, apply, output).
//!
//! `cargo bench -p goldenpath --bench real_path` (`GP_BENCH_ONLY=dns`,
//! `gitops` or `terraform` runs one part; `GP_BENCH_WRAP` runs each
//! goldenpath under a profiler or tracer, see `gp`).
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_goldenpath");
const RUNS: usize = 5;
/// DNS runs are short (0.03–0.1 s), of the size of this VM's noise: more
/// pairs for their medians.
const DNS_RUNS: usize = 11;
const HOSTS: usize = 1000;
const APPS: usize = 200;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn gp(dir: &Path, args: &[&str], input: Option<&str>) -> f64 {
    let t = Instant::now();
    // `GP_BENCH_WRAP` runs each goldenpath under a command, `{cmd}` and
    // `{n}` in it replaced by the subcommand and a counter, and
    // `GP_BENCH_BIN` names another binary (a `--profile profiling` build;
    // the bench's own is stripped): `GP_BENCH_WRAP='perf record -q
    // --call-graph=dwarf -o /tmp/{cmd}-{n}.data --'`.
    let bin = std::env::var_os("GP_BENCH_BIN").unwrap_or_else(|| BIN.into());
    let mut command = match std::env::var("GP_BENCH_WRAP") {
        Ok(wrap) if !wrap.trim().is_empty() => {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let words: Vec<String> = wrap
                .split_whitespace()
                .map(|w| w.replace("{cmd}", args[0]).replace("{n}", &n.to_string()))
                .collect();
            let mut c = Command::new(&words[0]);
            c.args(&words[1..]).arg(&bin);
            c
        }
        _ => Command::new(&bin),
    };
    let mut child = command
        .args(args)
        .current_dir(dir)
        .env("GOLDENPATH_ACTOR", "bench")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = input {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    let took = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir_in(
        std::env::var("GP_BENCH_DIR").unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_string()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

const HEADER: &str = "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: bench\nprefix: gp\ndomain: example.test\nowner: t\nenvironments:\n  dev: {}\n";

fn dns() {
    let bind = gp_test::bind::TestBind::start("example.test");
    let dir = workdir();
    let mut spec = format!(
        "{HEADER}components:\n  - name: dns-zone\n    plane: foundational\n    tier: 0\n    driver: dns\n    settings: {{ backend: rfc2136, server: '{}', tsig: {{ keyName: {}, secret: gp/dev/dns-zone/tsig }} }}\n  - name: web\n    plane: disposable\n    tier: 0\n    driver: exec\n    needs: [dns-zone]\n    settings: {{ apply: 'true', destroy: 'true' }}\n    hosts:\n",
        bind.server(),
        bind.key_name
    );
    let target = |i: usize| format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
    for i in 0..HOSTS {
        spec.push_str(&format!(
            "      - {{ name: h{i}, target: {} }}\n",
            target(i)
        ));
    }
    std::fs::write(dir.path().join("goldenpath.yaml"), &spec).unwrap();
    gp(
        dir.path(),
        &["secret", "put", "gp/dev/dns-zone/tsig"],
        Some(&serde_json::json!({"secret": bind.key_b64}).to_string()),
    );
    gp(
        dir.path(),
        &["deploy", "--env", "dev", "--foundational"],
        None,
    );

    // The floor: the same changes, prerequisites and 200-change messages.
    let build = |n: usize| format!("01-01-26-{:02}", n + 1);
    let nsupdate_files = |b: &str| {
        let suffix = format!("b-{b}.dev.example.test");
        let owner = format!(
            "heritage=external-dns,external-dns/owner=gp-dev-{b},external-dns/resource=goldenpath/web"
        );
        let mut add = format!("server 127.0.0.1 {}\nzone example.test\n", bind.port);
        let mut del = add.clone();
        for i in 0..HOSTS {
            let fq = format!("h{i}.{suffix}");
            let txt = format!("a-h{i}.{suffix}");
            add.push_str(&format!(
                "prereq nxrrset {fq} A\nprereq nxrrset {txt} TXT\nupdate add {fq} 300 A {}\nupdate add {txt} 300 TXT \"{owner}\"\n",
                target(i)
            ));
            del.push_str(&format!(
                "prereq yxrrset {txt} TXT \"{owner}\"\nupdate delete {fq} A\nupdate delete {txt} TXT\n"
            ));
            if (i + 1) % 200 == 0 {
                add.push_str("send\n");
                del.push_str("send\n");
            }
        }
        std::fs::write(dir.path().join("add.txt"), &add).unwrap();
        std::fs::write(dir.path().join("del.txt"), &del).unwrap();
    };
    let nsupdate = |file: &str| {
        let t = Instant::now();
        let out = Command::new(gp_test::bind::tool("nsupdate"))
            .arg("-v")
            .arg("-y")
            .arg(format!("hmac-sha256:{}:{}", bind.key_name, bind.key_b64))
            .arg(dir.path().join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed().as_secs_f64()
    };
    let (mut f_add, mut f_del, mut g_add, mut g_del) = (vec![], vec![], vec![], vec![]);
    // Drift of the deployed build (every record compared with what was
    // published) against a zone transfer of the zone with `dig AXFR`.
    let (mut f_axfr, mut g_drift) = (vec![], vec![]);
    let axfr = || {
        let t = Instant::now();
        let out = Command::new(gp_test::bind::tool("dig"))
            .arg("@127.0.0.1")
            .arg("-p")
            .arg(bind.port.to_string())
            .arg("-y")
            .arg(format!("hmac-sha256:{}:{}", bind.key_name, bind.key_b64))
            .arg("example.test")
            .arg("AXFR")
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).lines().count() > 2 * HOSTS);
        t.elapsed().as_secs_f64()
    };
    for run in 0..DNS_RUNS {
        let floor_b = build(2 * run);
        let ours = build(2 * run + 1);
        nsupdate_files(&floor_b);
        let mut floor = || {
            f_add.push(nsupdate("add.txt"));
            assert_eq!(
                bind.dig(&format!("h999.b-{floor_b}.dev.example.test"), "A"),
                "10.0.3.231"
            );
            f_del.push(nsupdate("del.txt"));
        };
        let mut goldenpath = || {
            g_add.push(gp(
                dir.path(),
                &["deploy", "--env", "dev", "--build-id", &ours],
                None,
            ));
            assert_eq!(
                bind.dig(&format!("h999.b-{ours}.dev.example.test"), "A"),
                "10.0.3.231"
            );
            let drift = || {
                gp(
                    dir.path(),
                    &["drift", "--env", "dev", "--build-id", &ours],
                    None,
                )
            };
            if run % 2 == 0 {
                g_drift.push(drift());
                f_axfr.push(axfr());
            } else {
                f_axfr.push(axfr());
                g_drift.push(drift());
            }
            g_del.push(gp(
                dir.path(),
                &["teardown", "--env", "dev", "--build-id", &ours],
                None,
            ));
            assert_eq!(
                bind.dig(&format!("h999.b-{ours}.dev.example.test"), "A"),
                ""
            );
        };
        if run % 2 == 0 {
            floor();
            goldenpath();
        } else {
            goldenpath();
            floor();
        }
    }
    let (fa, fd, ga, gd) = (median(f_add), median(f_del), median(g_add), median(g_del));
    println!(
        "dns deploy of {HOSTS} hosts ({HOSTS} A + {HOSTS} TXT, journalled in SQLite), whole process: goldenpath median {ga:.3}s, nsupdate median {fa:.3}s, ratio {:.2}x (goal <= 1.5x)",
        ga / fa
    );
    println!(
        "dns teardown of the same, whole process: goldenpath median {gd:.3}s, nsupdate median {fd:.3}s, ratio {:.2}x (goal <= 1.5x)",
        gd / fd
    );
    let (fx, gx) = (median(f_axfr), median(g_drift));
    println!(
        "drift of the build ({HOSTS} hosts, every record compared), whole process: goldenpath median {gx:.3}s, dig AXFR of the zone median {fx:.3}s, ratio {:.2}x (goal <= 1.5x)",
        gx / fx
    );
}

fn gitops() {
    let spec = |git: bool| {
        let mut spec = format!("{HEADER}gitops:\n  git: {git}\ncomponents:\n");
        for i in 0..APPS {
            spec.push_str(&format!(
                "  - name: app{i}\n    plane: disposable\n    tier: 1\n    driver: gitops\n    hosts: [ {{ name: app{i} }} ]\n    settings:\n      namespace: app{i}\n      externalDns: {}\n      chart: {{ repoURL: https://charts.example.org, chart: app, targetRevision: 1.0.0 }}\n      values: {{ replicas: 2, resources: {{ limits: {{ cpu: 500m }} }} }}\n",
                i % 20 == 0
            ));
        }
        spec
    };
    let (mut with_git, mut without) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let b = format!("01-01-26-{:02}", run + 1);
        let mut once = |git: bool| {
            let dir = workdir();
            std::fs::write(dir.path().join("goldenpath.yaml"), spec(git)).unwrap();
            let t = gp(
                dir.path(),
                &["deploy", "--env", "dev", "--build-id", &b],
                None,
            );
            if git {
                with_git.push(t)
            } else {
                without.push(t)
            }
        };
        if run % 2 == 0 {
            once(true);
            once(false);
        } else {
            once(false);
            once(true);
        }
    }
    let (g, n) = (median(with_git), median(without));
    println!(
        "gitops deploy of {APPS} components (validated, propagation-checked, journalled in SQLite), whole process: with a git commit per component median {g:.3}s, without git median {n:.3}s (git's share {:.0}%)",
        (g - n) / g * 100.0
    );
}

fn terraform() {
    let mut root = String::from(
        "terraform {\n  backend \"local\" {}\n}\nvariable \"build_id\" { type = string }\n",
    );
    for i in 0..50 {
        root.push_str(&format!(
            "resource \"terraform_data\" \"r{i}\" {{ input = \"${{var.build_id}}-{i}\" }}\n"
        ));
    }
    root.push_str("output \"first\" { value = terraform_data.r0.output }\n");
    let spec = format!(
        "{HEADER}components:\n  - name: cluster\n    plane: disposable\n    tier: 0\n    driver: terraform\n    settings: {{ root: root }}\n"
    );
    // The floor: what a deploy of a new component runs, from a shell.
    let script = r#"set -e
cd "$1"; b="$2"; w="$PWD/floor/$b"; mkdir -p "$w"
export TF_DATA_DIR="$w/.terraform" TF_IN_AUTOMATION=1
printf '{"build_id": "%s"}' "$b" > "$w/vars.json"
terraform -chdir=root init -input=false -no-color "-backend-config=path=$w/terraform.tfstate" "-backend-config=workspace_dir=$w/terraform.tfstate.d" >/dev/null
terraform -chdir=root workspace select -or-create=true -no-color cluster >/dev/null
terraform -chdir=root state list >/dev/null || true
terraform -chdir=root plan -input=false -no-color -json "-out=$w/plan" "-var-file=$w/vars.json" >/dev/null
terraform -chdir=root show -json "$w/plan" >/dev/null
terraform -chdir=root apply -input=false -no-color -json "$w/plan" >/dev/null
terraform -chdir=root output -json >/dev/null
"#;
    let (mut g, mut f) = (vec![], vec![]);
    let dir = workdir();
    std::fs::create_dir_all(dir.path().join("root")).unwrap();
    std::fs::write(dir.path().join("root/main.tf"), &root).unwrap();
    std::fs::write(dir.path().join("goldenpath.yaml"), &spec).unwrap();
    std::fs::write(dir.path().join("floor.sh"), script).unwrap();
    std::fs::write(dir.path().join("terraformrc"), "").unwrap();
    for run in 0..RUNS {
        let b = format!("01-01-26-{:02}", run + 1);
        let floor = || {
            let t = Instant::now();
            let out = Command::new("bash")
                // An empty CLI configuration, as goldenpath gives its children.
                .env("TF_CLI_CONFIG_FILE", dir.path().join("terraformrc"))
                .arg(dir.path().join("floor.sh"))
                .arg(dir.path())
                .arg(&b)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            t.elapsed().as_secs_f64()
        };
        let ours = || {
            gp(
                dir.path(),
                &["deploy", "--env", "dev", "--build-id", &b],
                None,
            )
        };
        if run % 2 == 0 {
            f.push(floor());
            g.push(ours());
        } else {
            g.push(ours());
            f.push(floor());
        }
    }
    let (gm, fm) = (median(g), median(f));
    println!(
        "terraform deploy of one component (50 terraform_data), whole process: goldenpath median {gm:.3}s, the same terraform commands from a shell script median {fm:.3}s, goldenpath's own share {:.0} ms ({:.2}x)",
        (gm - fm) * 1000.0,
        gm / fm
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let only = std::env::var("GP_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "dns" {
        dns();
    }
    if only.is_empty() || only == "gitops" {
        gitops();
    }
    if only.is_empty() || only == "terraform" {
        terraform();
    }
}
