//! The conformance suite lives in `tests/`; see `documented.toml`.
