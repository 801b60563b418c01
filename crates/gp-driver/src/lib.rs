//! The driver interface: how goldenpath talks to real systems.
//!
//! A [`Driver`] deploys one kind of component. It
//!
//! - **validates** a component's settings without I/O ([`Driver::validate`]),
//!   returning diagnostics with file, line and column;
//! - **observes** what exists ([`Driver::observe`]);
//! - **applies** the desired state ([`Driver::apply`]), journalling every
//!   resource-level action through the [`Recorder`] *before* it runs and
//!   *after* it finishes, so that a crash leaves a journal from which teardown
//!   can remove exactly what was created;
//! - **destroys** one journalled resource ([`Driver::destroy`]) and reports
//!   whether one still exists ([`Driver::exists`]) for the orphan check.
//!
//! Every operation is idempotent. Errors say whether retrying can help
//! ([`ErrorKind`]); the executor's retry policy reads nothing else.
//! [`conformance`] holds the suite every driver must pass, and [`exec`] the
//! driver that runs commands for steps no other driver covers.
//!
//! ```
//! use gp_driver::{DriverError, ErrorKind};
//! let e = DriverError::retryable("server not answering");
//! assert_eq!(e.kind, ErrorKind::Retryable);
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gp_core::yaml::Node;
use gp_core::{ComponentSpec, Contract, Diagnostic, Platform};
use serde::{Deserialize, Serialize};

pub mod cloud;
pub mod conformance;
pub mod deliver;
pub mod exec;
pub mod process;
pub mod secrets;

mod ctx;
mod driver;
mod error;
mod hosts;
mod observe;
mod recorder;
mod resource;
mod settings;

pub use ctx::*;
pub use driver::*;
pub use error::*;
pub use hosts::*;
pub use observe::*;
pub use recorder::*;
pub use resource::*;
pub use settings::*;
