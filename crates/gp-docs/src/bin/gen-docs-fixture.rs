//! Writes the synthetic docs repository of [`gp_docs::fixture`]:
//!
//!     cargo run -p gp-docs --bin gen-docs-fixture -- OUT_DIR [DOCUMENTS AREAS]
//!
//! With `DOCUMENTS AREAS`, the fixture of that size (`docs_baseline`'s is
//! `9619 37`), a disallowed emoji in every second document.
#![allow(clippy::print_stdout, clippy::print_stderr)]

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: gen-docs-fixture OUT_DIR [DOCUMENTS AREAS]");
        std::process::exit(2);
    };
    let out = std::path::Path::new(args.first().unwrap_or_else(|| usage()));
    let summary = match &args[1..] {
        [] => gp_docs::fixture::generate(out),
        [docs, areas] => match (docs.parse(), areas.parse()) {
            (Ok(d), Ok(a)) => gp_docs::fixture::generate_sized(out, d, a, true),
            _ => usage(),
        },
        _ => usage(),
    };
    println!("{summary}");
}
