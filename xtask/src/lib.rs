//! Project automation for the Kallglot SDK workspace, run as `cargo xtask <command>`.
//!
//! It is a library too, so that the workspace's tests can check the generated client is
//! current without spawning cargo.

pub mod api_version;
pub mod catalogue;
pub mod codegen;
pub mod lint;
pub mod problem;
pub mod request_rules;
pub mod schemathesis;
pub mod spec;
pub mod validate;
