//! Writes the synthetic docs repository of [`gp_docs::fixture`]:
//!
//!     cargo run -p gp-docs --bin gen-docs-fixture -- OUT_DIR
#![allow(clippy::print_stdout, clippy::print_stderr)]

fn main() {
    let Some(out) = std::env::args().nth(1) else {
        eprintln!("usage: gen-docs-fixture OUT_DIR");
        std::process::exit(2);
    };
    println!("{}", gp_docs::fixture::generate(std::path::Path::new(&out)));
}
