//! The spec parser never panics, whatever it is fed: random bytes, and
//! random mutations of a valid spec (which reach deep into the typed and
//! semantic checks). A small xorshift generator keeps it reproducible.

use std::path::Path;

use gp_core::Platform;

use gp_test::Rng;

const SIGNIFICANT: &[&[u8]] = &[
    b":",
    b"-",
    b"- ",
    b"\n",
    b"  ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"&a",
    b"*a",
    b"!",
    b"|",
    b">",
    b"'",
    b"\"",
    b"#",
    b"%",
    b"?",
    b"~",
    b",",
    b"\t",
    b"1.5",
    b"needs: [x]",
    b"\xff",
    b"\xc3",
    b"${",
    b"0x",
    b"---\n",
];

fn check(bytes: &[u8]) {
    // Through the file loader, which refuses invalid UTF-8 and otherwise
    // agrees with loading the text ...
    let dir = gp_test::tempdir();
    let path = dir.path().join("goldenpath.yaml");
    std::fs::write(&path, bytes).unwrap();
    let loaded = Platform::load(&path);
    let text = String::from_utf8_lossy(bytes);
    let parsed = Platform::from_source(Path::new("goldenpath.yaml"), &text);
    match std::str::from_utf8(bytes) {
        Err(_) => assert!(loaded.is_err(), "invalid UTF-8 was accepted"),
        Ok(_) => assert_eq!(
            loaded.is_ok(),
            parsed.is_ok(),
            "the loader and the parser disagree"
        ),
    }
    // ... and every refusal renders with a position (no panic, no empty
    // message).
    if let Err(e) = parsed {
        let shown = e.to_string();
        assert!(!shown.trim().is_empty(), "an empty error");
        assert!(!e.0.is_empty(), "an error without a diagnostic");
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..300 {
        let len = rng.below(400);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        check(&bytes);
    }
}

#[test]
fn mutated_specs_never_panic() {
    let base = std::fs::read(gp_test::example("golden-v1/goldenpath.yaml")).unwrap();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..1500 {
        let mut doc = base.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(doc.len());
            match rng.below(4) {
                0 => {
                    let end = (at + rng.below(40)).min(doc.len());
                    doc.drain(at..end);
                }
                1 => {
                    let piece = SIGNIFICANT[rng.below(SIGNIFICANT.len())];
                    doc.splice(at..at, piece.iter().copied());
                }
                2 => doc[at] = rng.next_u64() as u8,
                _ => {
                    // Duplicate a slice elsewhere: duplicate keys, components.
                    let end = (at + rng.below(200)).min(doc.len());
                    let slice = doc[at..end].to_vec();
                    let to = rng.below(doc.len());
                    doc.splice(to..to, slice);
                }
            }
            if doc.is_empty() {
                break;
            }
        }
        let text = String::from_utf8_lossy(&doc);
        if let Err(e) = Platform::from_source(Path::new("goldenpath.yaml"), &text) {
            assert!(!e.to_string().trim().is_empty(), "an empty error");
            for d in &e.0 {
                assert!(!d.message.is_empty(), "a diagnostic without a message");
            }
        }
    }
}
