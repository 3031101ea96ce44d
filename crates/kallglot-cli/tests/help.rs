//! `--help` of every command, as insta snapshots: a change to the interface shows up in
//! review as a change to these files.

mod common;

use common::*;

/// Every command path, the root first.
const COMMANDS: &[&[&str]] = &[
    &[],
    &["sessions"],
    &["sessions", "create"],
    &["sessions", "get"],
    &["sessions", "end"],
    &["sessions", "transcript"],
    &["recordings"],
    &["recordings", "list"],
    &["recordings", "get"],
    &["recordings", "download"],
    &["analysis"],
    &["analysis", "create"],
    &["analysis", "get"],
    &["stream"],
    &["webhooks"],
    &["webhooks", "verify"],
    &["mock"],
    &["mock", "serve"],
    &["demo"],
    &["completion"],
];

#[test]
fn help_of_every_command() {
    for path in COMMANDS {
        let help = ok(bare().args(*path).arg("--help"));
        let name = if path.is_empty() {
            "kallglot".to_string()
        } else {
            format!("kallglot-{}", path.join("-"))
        };
        insta::assert_snapshot!(name, help.stdout);
    }
}

/// The help lists every command there is: a new one needs its snapshot.
#[test]
fn the_snapshot_list_covers_every_command() {
    let listed = |path: &[&str]| -> Vec<String> {
        let help = ok(bare().args(path).arg("--help")).stdout;
        let Some(start) = help.find("Commands:\n") else {
            return Vec::new();
        };
        help[start + "Commands:\n".len()..]
            .lines()
            .take_while(|l| l.starts_with("  "))
            .map(|l| l.split_whitespace().next().unwrap().to_string())
            .filter(|c| c != "help")
            .collect()
    };
    let mut pending: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = pending.pop() {
        let words: Vec<&str> = path.iter().map(String::as_str).collect();
        assert!(
            COMMANDS.contains(&words.as_slice()),
            "no snapshot for {words:?}"
        );
        for child in listed(&words) {
            let mut next = path.clone();
            next.push(child);
            pending.push(next);
        }
    }
}
