//! The conformance suite's shared parts: the manifest of the documented surface
//! (`documented.toml`), the table both suites print, and the live suite that runs against
//! a real server. The offline scenarios live in `tests/conformance.rs`.

pub mod live;
pub mod manifest;
pub mod report;
pub mod spec_surface;
