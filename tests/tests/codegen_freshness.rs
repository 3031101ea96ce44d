//! The checked-in generated client must be exactly what the spec generates.

use std::path::Path;

use xtask::{codegen, spec};

#[test]
fn the_checked_in_client_matches_the_spec() {
    let root = spec::workspace_root();
    if let Err(message) = codegen::check(&root, &root.join(spec::SPEC_PATH)) {
        panic!("{message}");
    }
}

#[test]
fn changing_one_schema_makes_the_client_stale() {
    // Proves the check above can fail: regenerate from an edited copy of the spec and
    // compare it with the files on disk.
    let root = spec::workspace_root();
    let text = std::fs::read_to_string(root.join(spec::SPEC_PATH)).unwrap();
    let edited = text.replacen(
        "        bit_depth:\n          type: integer",
        "        bit_depth:\n          type: number",
        1,
    );
    assert_ne!(text, edited, "the edit must apply");
    let spec = spec::parse(Path::new("edited.yaml"), &edited).unwrap();
    let files = codegen::generate(&spec).unwrap();
    let stale = codegen::stale_files(&root, &files);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(
        stale[0].starts_with("crates/kallglot-api/src/generated.rs"),
        "{stale:?}"
    );
}

#[test]
fn generation_is_deterministic() {
    let root = spec::workspace_root();
    let spec = spec::load(&root.join(spec::SPEC_PATH)).unwrap();
    assert_eq!(
        codegen::generate(&spec).unwrap(),
        codegen::generate(&spec).unwrap()
    );
}
