//! The `goldenpath` binary; everything lives in `gp-cli`.

fn main() -> std::process::ExitCode {
    gp_cli::run()
}
