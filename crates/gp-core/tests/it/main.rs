//! gp-core integration tests: the contract against the naming table, DNS
//! limits, and the spec parser under arbitrary input.

mod contract;
mod formatter;
mod limits;
mod parser_property;
