//! Every hint is followed literally. Each scenario runs a command that
//! stops with a hint (or `next:` lines), takes each `goldenpath ...`
//! command the hint names exactly as printed, runs it, and checks that it
//! does what the hint says: no usage error, and the state the hint promised.

use crate::deploy::Platform;

const EXEC: &str = include_str!("fixtures/exec-platform.yaml");

/// The `goldenpath ...` commands a transcript names in its `hint:` and
/// `next:` lines, split as a shell would.
fn hinted(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line
            .strip_prefix("hint: ")
            .or_else(|| line.trim_start().strip_prefix("next: "))
        else {
            continue;
        };
        let mut at = rest;
        while let Some(i) = at.find("goldenpath ") {
            let cmd = &at[i..];
            let end = cmd.find("; ").unwrap_or(cmd.len());
            out.push(words(cmd[..end].trim_end_matches(['.', ')'])));
            at = &cmd[end..];
        }
    }
    out.dedup();
    out
}

/// Shell words: spaces separate, double quotes group.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Runs a hinted command as printed (without the leading `goldenpath`).
fn follow(p: &Platform, cmd: &[String]) -> gp_test::Output {
    assert_eq!(cmd[0], "goldenpath", "{cmd:?}");
    let args: Vec<&str> = cmd[1..].iter().map(String::as_str).collect();
    p.run(&args)
}

/// Runs `args`, expects it to stop with hints, follows every hint, and
/// expects each to succeed.
fn stops_then_hint_works(p: &Platform, args: &[&str], code: i32) -> Vec<Vec<String>> {
    let out = p.run(args);
    assert_eq!(out.code, code, "{args:?}: {}", out.transcript());
    let hints = hinted(&format!("{}\n{}", out.stdout, out.stderr));
    assert!(
        !hints.is_empty(),
        "{args:?} hints no command: {}",
        out.transcript()
    );
    for h in &hints {
        let done = follow(p, h);
        assert_eq!(
            done.code,
            0,
            "hint {h:?} of {args:?}: {}",
            done.transcript()
        );
    }
    hints
}

#[test]
fn the_hints_of_refusals_work_as_printed() {
    let p = Platform::new(EXEC);
    // A build before the foundational plane: one command for all of it.
    let out = p.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let next = hinted(&out.stdout);
    assert_eq!(
        next,
        vec![words("goldenpath deploy --env dev --foundational db")],
        "{}",
        out.stdout
    );
    assert_eq!(follow(&p, &next[0]).code, 0);
    // The persistent deployment's teardown needs --confirm; the hint keeps
    // --persistent.
    p.ok(&["deploy", "--env", "dev", "--persistent"]);
    stops_then_hint_works(&p, &["teardown", "--env", "dev", "--persistent"], 3);
    let status = p.ok(&["status", "--env", "dev", "--persistent"]);
    assert!(status.stdout.contains("torn-down"), "{}", status.stdout);
    // A build nobody deployed: the hints list builds and plan it.
    stops_then_hint_works(
        &p,
        &["status", "--env", "dev", "--build-id", "23-01-26-09"],
        2,
    );
    stops_then_hint_works(
        &p,
        &[
            "builds",
            "show",
            "--env",
            "dev",
            "--build-id",
            "23-01-26-09",
        ],
        2,
    );
    // A foundational teardown: --confirm, then the dependents, then
    // --cascade as the hint spells it.
    let first = p.run(&["teardown", "--env", "dev", "--foundational", "db"]);
    assert_eq!(first.code, 3, "{}", first.transcript());
    let confirm = hinted(&first.stderr);
    assert_eq!(confirm.len(), 1, "{}", first.stderr);
    let second = follow(&p, &confirm[0]);
    assert_eq!(
        second.code,
        3,
        "dependents refuse it: {}",
        second.transcript()
    );
    let cascade = hinted(&second.stderr);
    assert_eq!(cascade.len(), 1, "{}", second.stderr);
    assert!(cascade[0].contains(&"--cascade".to_string()), "{cascade:?}");
    let done = follow(&p, &cascade[0]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    assert!(p.resources().is_empty(), "{:?}", p.resources());
}

#[test]
fn the_hint_of_a_failed_deploy_resumes_it_once_the_cause_is_fixed() {
    let broken = EXEC.replace(
        "apply: sleep \"$${SLOW:-0}\" && touch \"res/$GOLDENPATH_DEPLOYMENT-web\"",
        "apply: test -f fixed && touch \"res/$GOLDENPATH_DEPLOYMENT-web\"",
    );
    assert_ne!(broken, EXEC);
    let p = Platform::new(&broken);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let out = p.run(&["deploy", "--env", "dev", "--build-id", "auto"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let hints: Vec<Vec<String>> = out
        .stderr
        .lines()
        .filter_map(|l| l.split("continue with: ").nth(1))
        .map(words)
        .collect();
    assert_eq!(hints.len(), 1, "{}", out.stderr);
    std::fs::write(p.path().join("fixed"), "").unwrap();
    let done = follow(&p, &hints[0]);
    assert_eq!(done.code, 0, "{}", done.transcript());
}

#[test]
fn the_hint_of_a_held_lease_unlocks_it() {
    let p = Platform::new(EXEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    // A deploy killed mid-way on another machine's behalf: its holder is
    // written as another host's, so it is not taken over.
    let mut child = p.spawn(
        &["deploy", "--env", "dev", "--build-id", "23-01-26-01"],
        "30",
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !p
        .run(&["lease", "list", "--output", "json"])
        .stdout
        .contains("\"held\"")
    {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = p.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    let hint = out
        .stderr
        .lines()
        .find_map(|l| l.split("if that process is gone: ").nth(1))
        .map(words)
        .unwrap_or_else(|| panic!("{}", out.stderr));
    std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    let _ = child.wait();
    let done = follow(&p, &hint);
    assert_eq!(done.code, 0, "{}", done.transcript());
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
}

#[test]
fn words_split_as_a_shell_does() {
    assert_eq!(
        words("goldenpath lease unlock --force --reason \"...\""),
        [
            "goldenpath",
            "lease",
            "unlock",
            "--force",
            "--reason",
            "..."
        ]
    );
    assert_eq!(
        hinted(
            "hint: tear them down first: goldenpath teardown --env dev --foundational db --confirm; or wait\n  next: goldenpath deploy --env dev --foundational db\n"
        ),
        vec![
            words("goldenpath teardown --env dev --foundational db --confirm"),
            words("goldenpath deploy --env dev --foundational db"),
        ]
    );
}
