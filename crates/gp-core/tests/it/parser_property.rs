//! The spec parser never panics, whatever it is fed: random bytes, and
//! random mutations of a valid spec (which reach deep into the typed and
//! semantic checks). A small xorshift generator keeps it reproducible.

use std::path::Path;

use gp_core::Platform;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

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
    // Through the file loader (which must refuse invalid UTF-8) ...
    let dir = gp_test::tempdir();
    let path = dir.path().join("goldenpath.yaml");
    std::fs::write(&path, bytes).unwrap();
    let _ = Platform::load(&path);
    // ... and straight from text.
    let text = String::from_utf8_lossy(bytes);
    if let Err(e) = Platform::from_source(Path::new("goldenpath.yaml"), &text) {
        // Rendering the diagnostics must not panic either.
        let _ = e.to_string();
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..300 {
        let len = rng.below(400);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
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
                2 => doc[at] = rng.next() as u8,
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
            let _ = e.to_string();
        }
    }
}
