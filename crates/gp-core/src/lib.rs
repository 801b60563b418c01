//! goldenpath's typed model, with no I/O beyond reading the spec file.
//!
//! - [`Platform`]: the platform spec `goldenpath.yaml`, parsed and checked,
//!   every problem reported with file, line and column ([`Diagnostic`]).
//! - [`BuildId`] / [`BuildIdArg`]: `DD-MM-YY-NN` build ids and `auto`.
//! - [`Plane`], [`Tier`], [`Mode`], [`Deployment`]: the vocabulary of the
//!   platform's architecture decisions.
//! - [`Contract`]: every derived name (prefixes, cluster, state keys, hosts,
//!   DNS owner ids, secret paths, tags), computed in one place.
//! - [`yaml`]: the span-keeping YAML layer every loader uses.
//!
//! ```
//! use gp_core::{Contract, Deployment, Platform};
//! let text = "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: demo\nprefix: demo\ndomain: example.io\nowner: team\nenvironments:\n  dev: {}\ncomponents: []\n";
//! let platform = Platform::from_source("goldenpath.yaml".as_ref(), text).unwrap();
//! let contract = Contract::new(&platform, "dev", Deployment::Persistent).unwrap();
//! assert_eq!(contract.host_suffix(), "dev.example.io");
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod annotate;
pub mod build_id;
pub mod child_env;
pub mod contract;
pub mod diag;
pub mod iam;
pub mod model;
pub mod names;
pub mod ownership;
pub mod propagation;
pub mod request;
pub mod secret;
pub mod spec;
pub mod yaml;

pub use build_id::{BuildId, BuildIdArg, BuildIdError};
pub use contract::{Contract, ContractError, ContractView, HostView, RecordType};
pub use diag::{Diagnostic, InvalidInput};
pub use model::{Deployment, Mode, Plane, Tier};
pub use secret::Secret;
pub use spec::{ComponentSpec, DriftIgnore, Platform, PlatformSpec, Ref};

/// Lower-case hex of bytes (digests, MACs).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}
