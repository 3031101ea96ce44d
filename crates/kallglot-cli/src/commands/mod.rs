//! One module per command group.

pub mod analysis;
pub mod completion;
pub mod demo;
pub mod mock;
pub mod recordings;
pub mod sessions;
pub mod stream;
pub mod webhooks;

use kallglot::Client;
use kallglot::model::{CreateSessionParams, Language, Metadata, Mode, Routing};

use crate::cli::{Cli, CreateSession, ModeArg};
use crate::config;
use crate::exit::Failure;

/// The client from the flags, the profile and the environment (see [`config::resolve`]).
pub fn client(cli: &Cli) -> Result<Client, Failure> {
    let resolved = config::resolve(
        cli.api_key.as_ref().map(|k| k.0.as_str()),
        cli.base_url.as_deref(),
        cli.profile.as_deref(),
    )?;
    let Some(key) = resolved.api_key else {
        return Err(Failure::usage(
            "no API key: pass --api-key, set KALLGLOT_API_KEY or use a --profile (try `kallglot demo` for an offline run)",
        ));
    };
    let mut builder = Client::builder()
        .api_key_value(key)
        .app_info("kallglot-cli", Some(env!("CARGO_PKG_VERSION")));
    if let Some(url) = resolved.base_url {
        builder = builder.base_url(url);
    }
    if let Some(timeout) = cli.timeout {
        // Each call stops by the command's deadline too, with the SDK's own error; the
        // command as a whole is bounded in main.
        builder = builder.deadline(timeout);
    }
    Ok(builder.build()?)
}

/// When `--timeout` passes: that long after the command started.
pub fn deadline(cli: &Cli) -> Option<tokio::time::Instant> {
    cli.timeout
        .map(|timeout| tokio::time::Instant::from_std(cli.started + timeout))
}

/// Session parameters from the command line.
pub fn create_params(args: &CreateSession) -> Result<CreateSessionParams, Failure> {
    let mode = match args.mode {
        ModeArg::BidirectionalTranslation => Mode::BidirectionalTranslation,
        ModeArg::AssistiveTranslation => Mode::AssistiveTranslation,
        ModeArg::AiAgent => Mode::AiAgent,
        ModeArg::HelpChatVoice => Mode::HelpChatVoice,
    };
    let language = |code: &str| {
        Language::new(code).map_err(|e| Failure::usage(format!("--source/target-language: {e}")))
    };
    let mut params = CreateSessionParams::new(mode);
    if let Some(code) = &args.source_language {
        params = params.source_language(language(code)?);
    }
    if let Some(code) = &args.target_language {
        params = params.target_language(language(code)?);
    }
    if let Some(number) = &args.phone_number {
        params = params.routing(Routing::phone_number(number.clone()));
    } else if let Some(id) = &args.connection_id {
        params = params.routing(Routing::connection(id.clone()));
    } else if args.sip {
        params = params.routing(Routing::sip());
    }
    if !args.metadata.is_empty() {
        let mut metadata = Metadata::new();
        for entry in &args.metadata {
            let Some((key, value)) = entry.split_once('=') else {
                return Err(Failure::usage(format!(
                    "--metadata {entry:?}: expected KEY=VALUE"
                )));
            };
            metadata.insert(key, value);
        }
        params = params.metadata(metadata);
    }
    Ok(params)
}
