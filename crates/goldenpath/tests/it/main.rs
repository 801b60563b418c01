//! End-to-end tests of the `goldenpath` binary.

mod adoption;
mod aws;
mod browser;
mod catalog;
mod ci;
mod deploy;
mod docs;
mod docs_adoption;
mod drift;
mod e2e;
mod foundation;
mod gitops_remote;
mod hints;
mod hostile;
mod iam;
mod json;
mod ownership;
mod policy;
mod proofs;
mod reap;
mod registry;
mod request_delivery;
mod request_files;
mod requests;
mod resources;
mod serve;
mod serve_doors;
mod tampering;
mod terraform;
mod truth;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_goldenpath");

/// A `goldenpath` command with a clean environment.
pub fn gp() -> std::process::Command {
    gp_test::goldenpath(BIN)
}
