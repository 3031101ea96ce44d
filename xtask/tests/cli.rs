//! The `xtask` binary on bad specs: a clear message naming the problem and where it is,
//! a non-zero exit, and never a panic backtrace.

use std::path::PathBuf;
use std::process::Command;

fn temp_spec(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("xtask runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked at"), "xtask panicked: {stderr}");
    assert!(
        !stderr.contains("RUST_BACKTRACE"),
        "xtask printed a backtrace hint: {stderr}"
    );
    (out.status.code().unwrap_or(-1), stderr)
}

const VALID_OPERATION: &str = r##"
      operationId: get_thing
      x-kallglot-scope: null
      x-kallglot-credits: 0
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Thing"}
        "4XX": {$ref: "#/components/responses/Error"}
        "5XX": {$ref: "#/components/responses/Error"}
"##;

const COMPONENTS: &str = r##"
components:
  responses:
    Error:
      description: e
      content:
        application/json:
          schema: {$ref: "#/components/schemas/ErrorEnvelope"}
  schemas:
    Thing: {type: object, properties: {id: {type: string}}}
    Other: {type: object, properties: {name: {type: string}}}
    ErrorEnvelope: {type: object, properties: {error: {type: object}}}
"##;

#[test]
fn the_checked_in_spec_passes_lint_and_check() {
    let (code, stderr) = run(&["lint"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = run(&["codegen", "--check"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn malformed_yaml_names_the_file() {
    let path = temp_spec("broken.yaml", "openapi: 3.0.3\npaths: [unclosed\n");
    let (code, stderr) = run(&["codegen", "--check", "--spec", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("broken.yaml: not valid YAML"), "{stderr}");
}

#[test]
fn a_3_1_spec_is_rejected_by_the_lint() {
    let text = format!(
        "openapi: 3.1.0\ninfo: {{title: t, version: '1'}}\nx-kallglot-scopes: []\npaths:\n  /v1/things:\n    get:{VALID_OPERATION}{COMPONENTS}"
    );
    let path = temp_spec("v31.yaml", &text);
    let (code, stderr) = run(&["lint", "--spec", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("openapi: version 3.1.0 is not supported"),
        "{stderr}"
    );
}

#[test]
fn a_bad_example_is_reported_with_its_location() {
    let op = VALID_OPERATION.replace(
        "schema: {$ref: \"#/components/schemas/Thing\"}",
        "schema: {$ref: \"#/components/schemas/Thing\"}\n              example: {id: 42}",
    );
    let text = format!(
        "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\nx-kallglot-scopes: []\npaths:\n  /v1/things:\n    get:{op}{COMPONENTS}"
    );
    let path = temp_spec("bad-example.yaml", &text);
    let (code, stderr) = run(&["codegen", "--check", "--spec", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("paths./v1/things.get.responses.200.content.application/json.example: example does not match its schema: $.id: expected string, found number"),
        "{stderr}"
    );
}

#[test]
fn a_generator_panic_becomes_a_named_error() {
    // Two different success bodies: the lint allows it, progenitor cannot generate it.
    let op = VALID_OPERATION.replace(
        "        \"4XX\"",
        "        \"201\":\n          description: created\n          content:\n            application/json:\n              schema: {$ref: \"#/components/schemas/Other\"}\n        \"4XX\"",
    );
    let text = format!(
        "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\nx-kallglot-scopes: []\npaths:\n  /v1/things:\n    get:{op}{COMPONENTS}"
    );
    let path = temp_spec("two-successes.yaml", &text);
    let (code, stderr) = run(&["codegen", "--check", "--spec", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("two-successes.yaml: progenitor cannot generate a client")
            && stderr.contains("more than one success body"),
        "{stderr}"
    );
}
