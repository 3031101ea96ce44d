//! `cargo xtask`: see `cargo xtask help`.

use std::process::ExitCode;

use xtask::{codegen, lint, schemathesis, spec};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  codegen          lint openapi/kallglot.yaml and regenerate crates/kallglot-api/src/
  codegen --check  fail if the checked-in generated client differs from the spec's output
  lint             only lint the spec
  conformance      run only the conformance suite and print its table of entries
  conformance --live --base-url URL [--emulator]
                   run the live suite against a server (key from KALLGLOT_API_KEY,
                   sk_test_ only; see tests/conformance/src/live/mod.rs)
  schemathesis     run Schemathesis (installed into target/) against `kallglot mock serve`;
                   further arguments go to `schemathesis run`

options:
  --spec PATH      read another spec instead of openapi/kallglot.yaml (with --check and lint)
";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let root = spec::workspace_root();
    let mut spec_path = root.join(spec::SPEC_PATH);
    if let Some(i) = args.iter().position(|a| a == "--spec") {
        let Some(path) = args.get(i + 1).cloned() else {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        };
        spec_path = path.into();
        args.drain(i..=i + 1);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["codegen"] => codegen::write(&root).map(|changed| {
            if changed.is_empty() {
                println!("codegen: the generated client is already up to date");
            }
            for path in changed {
                if root.join(&path).exists() {
                    println!("codegen: wrote {}", path.display());
                } else {
                    println!("codegen: deleted {} (no longer generated)", path.display());
                }
            }
        }),
        ["codegen", "--check"] => codegen::check(&root, &spec_path).map(|()| {
            println!(
                "codegen: the generated client matches {}",
                spec_path.display()
            )
        }),
        ["lint"] => run_lint(&spec_path),
        ["conformance", rest @ ..] => run_conformance(&root, rest),
        ["schemathesis", rest @ ..] => schemathesis::run(&root, rest),
        ["help" | "--help" | "-h"] => {
            print!("{USAGE}");
            Ok(())
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_lint(spec_path: &std::path::Path) -> Result<(), String> {
    let spec = spec::load(spec_path)?;
    let problems = lint::lint(&spec.json);
    if problems.is_empty() {
        println!("lint: {} follows every rule", spec_path.display());
        return Ok(());
    }
    let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    Err(format!(
        "{} rule(s) broken:\n{}",
        problems.len(),
        list.join("\n")
    ))
}

/// Runs the conformance suite, which prints a table of documented entries and their status:
/// the offline suite, or with `--live` the live suite against a server.
fn run_conformance(root: &std::path::Path, args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let (command, rest): (&[&str], &[&str]) = match args {
        ["--live", rest @ ..] => (
            &[
                "run",
                "--quiet",
                "-p",
                "kallglot-conformance",
                "--bin",
                "conformance-live",
                "--",
            ],
            rest,
        ),
        rest => (
            &[
                "test",
                "--quiet",
                "-p",
                "kallglot-conformance",
                "--test",
                "conformance",
                "--",
            ],
            rest,
        ),
    };
    let status = std::process::Command::new(cargo)
        .current_dir(root)
        .args(command)
        .args(rest)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("the conformance suite failed (see the table above)".into())
    }
}
