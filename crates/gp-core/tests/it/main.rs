//! gp-core integration tests: the contract against DESIGN.md's table, DNS
//! limits, and the spec parser under arbitrary input.

mod contract;
mod limits;
mod parser_property;
