//! The emulator's modules form no import circle: each names only modules below it.
//!
//! The graph is read from the sources: a module depends on every `crate::name` it
//! mentions and, in a submodule, on its parent through `super::`. Unit tests (after
//! `#[cfg(test)]`) are left out, as they may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name (`routes::sessions`) → the modules it depends on.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut graph = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap().with_extension("");
        let mut parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
            parts.pop();
        }
        if parts.is_empty() {
            continue; // lib.rs declares the modules; it is the root, not a node.
        }
        let name = parts.join("::");
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let mut deps = BTreeSet::new();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let first: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let nested = rest[first.len()..]
                .strip_prefix("::")
                .map(|r| {
                    r.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .filter(|second| src.join(&first).join(format!("{second}.rs")).exists());
            deps.insert(match nested {
                Some(second) => format!("{first}::{second}"),
                None => first,
            });
        }
        if parts.len() > 1 && code.contains("super::") {
            deps.insert(parts[..parts.len() - 1].join("::"));
        }
        deps.remove(&name);
        graph.insert(name, deps);
    }
    graph
}

/// A cycle through `start`, if there is one.
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    node: &str,
    path: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    for next in graph.get(node).into_iter().flatten() {
        if next == start {
            let mut cycle = path.clone();
            cycle.push(start.to_string());
            return Some(cycle);
        }
        if seen.insert(next.clone()) {
            path.push(next.clone());
            if let Some(cycle) = cycle_from(graph, start, next, path, seen) {
                return Some(cycle);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn the_emulators_modules_form_no_import_circle() {
    let graph = graph();
    assert!(graph.contains_key("pipeline") && graph.contains_key("routes::sessions"));
    for start in graph.keys() {
        let mut path = vec![start.clone()];
        let cycle = cycle_from(&graph, start, start, &mut path, &mut BTreeSet::new());
        assert!(
            cycle.is_none(),
            "import circle: {}",
            cycle.unwrap_or_default().join(" -> ")
        );
    }
}
