//! `kallglot`: the command-line tool for the Kallglot API.
//!
//! Exit codes: 0 success; 1 a webhook that did not verify; 2 usage or configuration
//! errors; 3 an error answer from the API; 4 a network failure (timeout, connection,
//! stream); 5 a local problem (a file, audio).

mod cli;
mod commands;
mod exit;
mod output;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::Failure;

fn main() -> std::process::ExitCode {
    // A bug must still end in one readable line, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error: {info}");
    }));
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return Failure::local(format!("cannot start the runtime: {e}")).report(),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

async fn run(cli: Cli) -> Result<std::process::ExitCode, Failure> {
    let ok = Ok(std::process::ExitCode::SUCCESS);
    match &cli.command {
        Command::Sessions(command) => commands::sessions::run(&cli, command).await.and(ok),
        Command::Recordings(command) => commands::recordings::run(&cli, command).await.and(ok),
        Command::Analysis(command) => commands::analysis::run(&cli, command).await.and(ok),
        Command::Stream(args) => commands::stream::run(&cli, args).await.and(ok),
        Command::Webhooks(command) => commands::webhooks::run(command),
        Command::Mock(command) => commands::mock::run(command).await.and(ok),
        Command::Demo { speed } => commands::demo::run(*speed).await.and(ok),
    }
}

/// `-v` turns on the SDK's own tracing on stderr. Only the SDK's and the CLI's targets are
/// enabled: they never record secrets, whereas lower layers are not ours to vouch for.
fn init_tracing(verbose: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let level = match verbose {
        0 => return,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let filter = Targets::new()
        .with_target("kallglot", level)
        .with_target("kallglot_cli", level)
        .with_target("kallglot_mock", level);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .init();
}
