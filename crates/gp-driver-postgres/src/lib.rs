//! The `postgres` driver.
//!
//! - [`server`]: a managed local PostgreSQL instance, created with `initdb`
//!   (SCRAM-SHA-256) under goldenpath's state directory and started with
//!   `pg_ctl` on a loopback port. When goldenpath runs as root, the server
//!   runs as an unprivileged user, since PostgreSQL refuses to run as root.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod server;
