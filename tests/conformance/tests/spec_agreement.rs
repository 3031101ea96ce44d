//! The manifest's error codes and headers agree with `openapi/kallglot.yaml` in both
//! directions: neither side names one the other lacks.

use std::collections::BTreeSet;

use kallglot_conformance::manifest;
use kallglot_conformance::spec_surface::{self, Surface};

/// Request headers the SDK sends on its own account; the spec does not describe them.
const SDK_ONLY_REQUEST_HEADERS: &[&str] = &["User-Agent"];

fn manifest_surface() -> Surface {
    let entries = manifest::load();
    let set = |tables: &[&str]| -> BTreeSet<String> {
        tables
            .iter()
            .flat_map(|t| manifest::keys(&entries, t))
            .map(str::to_string)
            .collect()
    };
    Surface {
        error_codes: set(&["error_codes.current", "error_codes.legacy"]),
        response_headers: set(&["response_headers"]),
        request_headers: set(&["request_headers"])
            .into_iter()
            .filter(|h| !SDK_ONLY_REQUEST_HEADERS.contains(&h.as_str()))
            .collect(),
    }
}

fn disagreement(what: &str, spec: &BTreeSet<String>, manifest: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for only in spec.difference(manifest) {
        out.push(format!(
            "{what} `{only}` is in the spec but not in documented.toml"
        ));
    }
    for only in manifest.difference(spec) {
        out.push(format!(
            "{what} `{only}` is in documented.toml but not in the spec"
        ));
    }
    out
}

fn compare(spec: &Surface, manifest: &Surface) -> Vec<String> {
    let mut problems = disagreement("error code", &spec.error_codes, &manifest.error_codes);
    problems.extend(disagreement(
        "response header",
        &spec.response_headers,
        &manifest.response_headers,
    ));
    problems.extend(disagreement(
        "request header",
        &spec.request_headers,
        &manifest.request_headers,
    ));
    problems
}

#[test]
fn manifest_codes_and_headers_match_the_spec_both_ways() {
    let spec = spec_surface::load().expect("the spec loads");
    let problems = compare(&spec, &manifest_surface());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Guard against an empty comparison passing by accident.
    assert!(spec.error_codes.len() >= 20 && spec.response_headers.len() >= 10);
}

#[test]
fn a_one_sided_entry_is_reported_from_either_side() {
    let spec = spec_surface::load().expect("the spec loads");
    let mut manifest = manifest_surface();
    manifest.error_codes.remove("api_key_invalid");
    manifest.error_codes.insert("made_up_code".into());
    manifest.response_headers.remove("audio/Content-Length");
    manifest.request_headers.insert("X-Extra".into());
    assert_eq!(
        compare(&spec, &manifest),
        [
            "error code `api_key_invalid` is in the spec but not in documented.toml",
            "error code `made_up_code` is in documented.toml but not in the spec",
            "response header `audio/Content-Length` is in the spec but not in documented.toml",
            "request header `X-Extra` is in documented.toml but not in the spec",
        ]
    );
}
