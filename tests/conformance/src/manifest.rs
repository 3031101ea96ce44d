//! `documented.toml`: the documented surface the suite covers, as entry ids.

use std::collections::BTreeMap;

/// The manifest's path.
pub const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/documented.toml");

/// Entry ids (`table/key`, nested tables joined with `.`) and their descriptions.
///
/// Panics with a message naming the entry when the manifest is not what this expects:
/// it is a checked-in file, so a malformed one is a bug to fix, not an input to handle.
pub fn load() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(PATH).expect("documented.toml is readable");
    parse(&text)
}

/// Parses manifest text; see [`load`].
pub fn parse(text: &str) -> BTreeMap<String, String> {
    let table: toml::Table = toml::from_str(text).expect("documented.toml is valid TOML");
    let mut entries = BTreeMap::new();
    walk("", &table, &mut entries);
    entries
}

fn walk(prefix: &str, table: &toml::Table, entries: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        match value {
            toml::Value::Table(inner) => {
                let prefix = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                walk(&prefix, inner, entries);
            }
            toml::Value::String(description) => {
                entries.insert(format!("{prefix}/{key}"), description.clone());
            }
            other => panic!("documented.toml: {prefix}/{key} must be a string, not {other}"),
        }
    }
}

/// The keys of the entries under `table` (for example `error_codes.current`).
pub fn keys<'m>(
    entries: &'m BTreeMap<String, String>,
    table: &'m str,
) -> impl Iterator<Item = &'m str> + 'm {
    entries.keys().filter_map(move |id| {
        id.strip_prefix(table)
            .and_then(|rest| rest.strip_prefix('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_tables_become_dotted_ids() {
        let entries = parse("[a]\nx = \"one\"\n[b.c]\n\"Y-Z\" = \"two\"\n[b.c.d]\nq = \"three\"\n");
        let ids: Vec<&str> = entries.keys().map(String::as_str).collect();
        assert_eq!(ids, ["a/x", "b.c.d/q", "b.c/Y-Z"]);
        assert_eq!(keys(&entries, "b.c").collect::<Vec<_>>(), ["Y-Z"]);
    }
}
