//! The `goldenpath` binary; everything lives in `gp-cli`.

// mimalloc rather than the C library's allocator: a deploy, a teardown or
// a docs check makes and frees many small values (journal rows, YAML and
// JSON nodes), where the C library's allocator spent a fifth of a DNS
// teardown (BENCHMARKS.md, issue 40). The `mimalloc` feature, on by
// default.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gp_cli::run()
}
