//! `conformance-live --base-url URL [--emulator]`: the live conformance suite (see
//! `kallglot_conformance::live`). Run it as `cargo xtask conformance --live --base-url URL`.
//!
//! Exit status: 0 when every row passed or was not run, 1 when a row failed, 2 when the
//! suite refused to run (a live key, a plain-http remote URL, a missing key, bad usage).

use std::process::ExitCode;

use kallglot_conformance::live::{self, Config};
use kallglot_conformance::report;

const USAGE: &str = "usage: conformance-live --base-url URL [--emulator]
  the key is read from KALLGLOT_API_KEY (sk_test_ keys only); an optional key without
  sessions:write from KALLGLOT_RESTRICTED_API_KEY";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut base_url = None;
    let mut emulator = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--base-url" => base_url = args.next(),
            "--emulator" => emulator = true,
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(base_url) = base_url else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the runtime starts");
    let rows = runtime.block_on(async {
        let config = Config::from_env(base_url, emulator)?;
        live::run(&config).await
    });
    match rows {
        Ok(rows) => {
            print!("{}", report::render("live conformance", &rows));
            if report::failures(&rows) > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(refusal) => {
            eprintln!("live conformance: {refusal}");
            ExitCode::from(2)
        }
    }
}
