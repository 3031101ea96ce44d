//! No committed snapshot contains a fake secret used by the scenarios.

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
