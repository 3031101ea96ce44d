//! `kallglot webhooks verify`: reads a delivery body on stdin and verifies it.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use kallglot::webhooks::{SIGNATURE_HEADER, Verifier, WebhookEvent as Event, WebhookSecret};
use serde::Serialize;

use crate::cli::{Cli, WebhooksCommand};
use crate::color::{self, Stream};
use crate::exit::Failure;
use crate::output::{self, errln, outln};

/// What `verify --json` prints.
#[derive(Serialize)]
struct Verification<'a> {
    verified: bool,
    /// The verified event, as the API sent it.
    event: Option<&'a Event>,
    /// Why it did not verify (never the secret).
    reason: Option<String>,
}

pub fn run(cli: &Cli, command: &WebhooksCommand) -> Result<ExitCode, Failure> {
    let WebhooksCommand::Verify {
        secret_env,
        header,
        tolerance,
    } = command;
    let secret = std::env::var(secret_env)
        .map_err(|_| Failure::usage(format!("the environment variable {secret_env} is not set")))?;
    let secret = WebhookSecret::new(secret)
        .map_err(|_| Failure::usage(format!("the secret in {secret_env} is empty")))?;
    let mut body = Vec::new();
    std::io::stdin()
        .read_to_end(&mut body)
        .map_err(|e| Failure::local(format!("cannot read the body from stdin: {e}")))?;
    let verifier = Verifier::new(secret).tolerance(Duration::from_secs(*tolerance));
    let result = verifier.construct_event(header_value(header), &body);
    if cli.json {
        let (event, reason) = match &result {
            Ok(event) => (Some(event), None),
            Err(e) => (None, Some(e.to_string())),
        };
        output::json(&Verification {
            verified: result.is_ok(),
            event,
            reason,
        })?;
    }
    match result {
        Ok(event) => {
            if !cli.json {
                outln!(
                    "{} {} {} (created {})",
                    color::paint("verified:", color::GOOD, Stream::Stdout),
                    event.kind,
                    event.id.as_str(),
                    event.created_at
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            // Exit 1 means "did not verify"; the reason never includes the secret.
            errln!("not verified: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The header's value, from either the value (`t=…,v1=…`) or the whole line as copied
/// from a log (`Kallglot-Signature: t=…,v1=…`).
fn header_value(header: &str) -> &str {
    let header = header.trim();
    match header.split_once(':') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case(SIGNATURE_HEADER) => value.trim(),
        _ => header,
    }
}
