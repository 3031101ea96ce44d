//! `kallglot webhooks verify`: reads a delivery body on stdin and verifies it.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use kallglot::webhooks::{Verifier, WebhookSecret};

use crate::cli::WebhooksCommand;
use crate::exit::Failure;

pub fn run(command: &WebhooksCommand) -> Result<ExitCode, Failure> {
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
    match verifier.construct_event(header, &body) {
        Ok(event) => {
            println!(
                "verified: {} {} (created {})",
                event.kind,
                event.id.as_str(),
                event.created_at
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            // Exit 1 means "did not verify"; the reason never includes the secret.
            eprintln!("not verified: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
