//! What the committed snapshots may contain: no fake secret used by the scenarios, and
//! the full `Debug` of an error in one snapshot only.

mod support;

use support::{KEY, KEY_SECRET, TOKEN, TOKEN_SECRET};

#[test]
fn no_snapshot_contains_a_key_or_token() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots");
    let mut scanned = 0;
    for entry in std::fs::read_dir(&dir).expect("the snapshots directory exists") {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in [
            KEY,
            KEY_SECRET,
            TOKEN,
            TOKEN_SECRET,
            "CONFORMANCEfakeSecret01",
        ] {
            assert!(
                !text.contains(secret),
                "{} contains a secret",
                path.display()
            );
        }
        scanned += 1;
    }
    // The scan must have something to scan: one snapshot per documented entry.
    let manifest = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("documented.toml"),
    )
    .unwrap();
    let entries = manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('[') && l.contains(" = "))
        .count();
    assert_eq!(scanned, entries, "one snapshot per documented entry");
}

#[test]
fn the_scan_would_catch_a_leak() {
    // The fixtures' scrubber is what keeps secrets out; prove it replaces them.
    let leaked = format!("authorization: Bearer {KEY}, token={TOKEN}");
    let scrubbed = support::scrub(&leaked, None);
    assert!(!scrubbed.contains(KEY_SECRET) && !scrubbed.contains(TOKEN_SECRET));
    assert_eq!(
        scrubbed,
        "authorization: Bearer [api key], token=[stream token]"
    );
}

#[test]
fn only_the_dedicated_scenario_dumps_an_error_debug() {
    // Error snapshots show `Display` and the typed fields; a `Debug` dump in each of them
    // would make one new field rewrite them all. One scenario keeps the dump.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots");
    let mut dumps = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the snapshots directory exists") {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("ApiError {") || text.contains("Api(\n") {
            dumps.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    dumps.sort();
    assert_eq!(dumps, ["sdk_output_error_debug.snap"]);
}
