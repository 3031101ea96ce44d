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
        stale[0].starts_with("crates/kallglot-api/src/types.rs"),
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

#[test]
fn the_types_file_needs_no_http_client() {
    // kallglot-api compiles `types.rs` without its `client` feature (a webhooks-only build
    // of the SDK), so the split must leave every reqwest and progenitor item in `client.rs`.
    let root = spec::workspace_root();
    let spec = spec::load(&root.join(spec::SPEC_PATH)).unwrap();
    let files = codegen::generate(&spec).unwrap();
    let file = |name: &str| {
        files
            .iter()
            .find(|f| f.path.ends_with(name))
            .unwrap_or_else(|| panic!("no {name} generated"))
    };
    let types = &file("types.rs").contents;
    let client = &file("client.rs").contents;
    for runtime in ["reqwest", "progenitor_client"] {
        assert!(!types.contains(runtime), "types.rs mentions {runtime}");
        assert!(client.contains(runtime), "client.rs lost {runtime}");
    }
    assert!(types.contains("pub struct Session {"), "the types moved");
    assert!(client.contains("pub struct Client {"), "the client moved");
    assert!(client.contains("use crate::types;"));
}

#[test]
fn a_file_no_longer_generated_is_reported() {
    // After the split of `generated.rs` into `types.rs` and `client.rs`, a leftover (or
    // one revived by a merge) must fail `--check` rather than sit there unnoticed.
    let root = spec::workspace_root();
    let spec = spec::load(&root.join(spec::SPEC_PATH)).unwrap();
    let files = codegen::generate(&spec).unwrap();
    assert!(codegen::leftover_files(&root, &files).is_empty());

    let scratch = std::env::temp_dir().join(format!("kallglot-codegen-{}", std::process::id()));
    let out = scratch.join(codegen::OUTPUT_DIR);
    std::fs::create_dir_all(out.join("catalogue")).unwrap();
    for file in &files {
        std::fs::write(scratch.join(&file.path), &file.contents).unwrap();
    }
    assert!(codegen::leftover_files(&scratch, &files).is_empty());
    std::fs::write(out.join("generated.rs"), "// old\n").unwrap();
    std::fs::write(out.join("catalogue").join("old.rs"), "// old\n").unwrap();
    let leftovers = codegen::leftover_files(&scratch, &files);
    std::fs::remove_dir_all(&scratch).unwrap();
    assert_eq!(
        leftovers,
        [
            Path::new(codegen::OUTPUT_DIR)
                .join("catalogue")
                .join("old.rs"),
            Path::new(codegen::OUTPUT_DIR).join("generated.rs"),
        ]
    );
}
