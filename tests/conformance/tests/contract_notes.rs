//! The contract notes `documented.toml` cites live in the repository: every citation
//! resolves to a section of `docs/contract.md`, every API table cites one, and no file
//! points at documentation outside the repository.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The anchors of `docs/contract.md`'s headings, as a Markdown renderer makes them.
fn anchors(notes: &str) -> BTreeSet<String> {
    notes
        .lines()
        .filter_map(|l| l.strip_prefix("## ").or_else(|| l.strip_prefix("### ")))
        .map(|heading| {
            heading
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

/// `(#anchor)` and `docs/contract.md#anchor` citations in `text`.
fn citations(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, _) in text.match_indices('#') {
        let before = &text[..i];
        if before.ends_with('(') || before.ends_with("docs/contract.md") {
            let anchor: String = text[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            found.push(anchor);
        }
    }
    found
}

#[test]
fn every_citation_in_the_manifest_resolves_to_a_section_of_the_notes() {
    let notes = std::fs::read_to_string(root().join("docs/contract.md")).unwrap();
    let manifest =
        std::fs::read_to_string(root().join("tests/conformance/documented.toml")).unwrap();
    let sections = anchors(&notes);
    // Entries and table citations; the header comment only explains the form.
    let cited: Vec<String> = manifest
        .lines()
        .filter(|l| !l.starts_with('#') || l.starts_with("# docs/contract.md#"))
        .flat_map(citations)
        .collect();
    assert!(cited.len() > 40, "{cited:?}");
    let dangling: Vec<&String> = cited.iter().filter(|a| !sections.contains(*a)).collect();
    assert!(
        dangling.is_empty(),
        "citations without a section: {dangling:?} (sections: {sections:?})"
    );
}

#[test]
fn every_api_table_of_the_manifest_cites_the_notes() {
    // Tables that hold SDK behaviour rather than API facts need no citation.
    const NOT_API_FACTS: &[&str] = &["bad_input", "sdk_output"];
    let manifest =
        std::fs::read_to_string(root().join("tests/conformance/documented.toml")).unwrap();
    let mut uncited = Vec::new();
    let mut table = String::new();
    let mut table_cited = false;
    for line in manifest.lines() {
        if let Some(name) = line.strip_prefix('[') {
            table = name.trim_end_matches(']').to_string();
            table_cited = false;
        } else if line.starts_with("# docs/contract.md#") {
            table_cited = true;
        } else if line.contains(" = ")
            && !line.starts_with('#')
            && !table_cited
            && !NOT_API_FACTS.contains(&table.as_str())
            && citations(line).is_empty()
        {
            uncited.push(format!("[{table}] {line}"));
        }
    }
    assert!(
        uncited.is_empty(),
        "entries that cite nothing:\n{}",
        uncited.join("\n")
    );
}

#[test]
fn no_file_points_outside_the_repository_for_the_api_docs() {
    // Built from parts, so this file does not match itself.
    let needles = [
        format!("..{}shared", '/'),
        format!("shared{}api", '/'),
        format!("KALLGLOT_API{}md", '.'),
    ];
    let mut offenders = Vec::new();
    let mut scanned = 0;
    let mut stack = vec![root()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | ".git") {
                    stack.push(path);
                }
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue; // not text
            };
            scanned += 1;
            if needles.iter().any(|n| text.contains(n.as_str())) {
                offenders.push(
                    path.strip_prefix(root())
                        .unwrap_or(&path)
                        .display()
                        .to_string(),
                );
            }
        }
    }
    assert!(scanned > 50, "only {scanned} files scanned");
    assert!(
        offenders.is_empty(),
        "files citing docs outside the repository: {offenders:?}"
    );
}
