//! `kallglot mock serve`

use std::net::SocketAddr;
use std::time::Duration;

use crate::cli::MockCommand;
use crate::exit::Failure;
use crate::output::{self, outln};

/// What `mock serve --json` prints once listening.
#[derive(serde::Serialize)]
struct Listening<'a> {
    base_url: &'a str,
    /// The emulator's own test key (it guards nothing real).
    api_key: &'a str,
    webhook_url: Option<&'a str>,
}

pub async fn run(command: &MockCommand, json: bool) -> Result<(), Failure> {
    let MockCommand::Serve {
        port,
        credits,
        rate_limit,
        webhook_url,
        webhook_secret_env,
    } = command;
    let mut builder = kallglot_mock::MockServer::builder()
        .port(*port)
        .credits(*credits)
        .rate_limit(*rate_limit, Duration::from_secs(60));
    if let (Some(url), Some(name)) = (webhook_url, webhook_secret_env) {
        let secret = std::env::var(name)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Failure::usage(format!("the environment variable {name} is not set")))?;
        builder = builder.webhook(kallglot_mock::WebhookConfig::new(url.clone(), secret));
    }
    let server = builder
        .start()
        .await
        .map_err(|e| Failure::local(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    let addr: SocketAddr = server.addr();
    if json {
        // One line, so that a script can read it while the emulator keeps running.
        output::json_line(&Listening {
            base_url: &server.url(),
            api_key: server.api_key(),
            webhook_url: webhook_url.as_deref(),
        })?;
    } else {
        outln!("Kallglot emulator listening on {}", server.url())?;
        outln!("  export KALLGLOT_BASE_URL={}", server.url())?;
        outln!("  export KALLGLOT_API_KEY={}", server.api_key())?;
        if let Some(url) = webhook_url {
            outln!("  webhooks are delivered to {url}")?;
        }
        outln!("Press Ctrl-C to stop.")?;
    }
    tracing_log(addr);
    server
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}

fn tracing_log(addr: SocketAddr) {
    tracing::debug!(%addr, "emulator started");
}
