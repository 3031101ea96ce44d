//! Loading the OpenAPI document.
//!
//! The spec is read twice over: as a plain JSON value (so the lint can walk any keyword,
//! including `x-` extensions, and report JSON-pointer locations) and as a typed
//! `openapiv3::OpenAPI` (what progenitor consumes).

use std::path::{Path, PathBuf};

/// The OpenAPI document, relative to the workspace root.
pub const SPEC_PATH: &str = "openapi/kallglot.yaml";

/// A loaded spec in both of its forms.
pub struct Spec {
    /// Where it was read from, for messages.
    pub path: PathBuf,
    /// The document as untyped JSON.
    pub json: serde_json::Value,
    /// The document as progenitor's typed model.
    pub typed: openapiv3::OpenAPI,
}

/// Reads and parses the spec at `path`. Every failure names the file and the problem.
pub fn load(path: &Path) -> Result<Spec, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    parse(path, &text)
}

/// Parses spec text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<Spec, String> {
    let json: serde_json::Value = yaml_serde::from_str(text)
        .map_err(|e| format!("{}: not valid YAML: {e}", path.display()))?;
    if !json.is_object() {
        return Err(format!("{}: the document is not a mapping", path.display()));
    }
    let typed: openapiv3::OpenAPI = serde_json::from_value(json.clone())
        .map_err(|e| format!("{}: not an OpenAPI 3.0 document: {e}", path.display()))?;
    Ok(Spec {
        path: path.to_path_buf(),
        json,
        typed,
    })
}

/// The workspace root: the parent of the xtask crate.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
