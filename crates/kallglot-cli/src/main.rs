//! `kallglot`: the command-line tool for the Kallglot API.
//!
//! Exit codes: 0 success; 1 a webhook that did not verify; 2 usage or configuration
//! errors; 3 an error answer from the API; 4 a network failure (timeout, connection,
//! stream); 5 a local problem (a file, audio); 130 interrupted; 141 stdout closed.

mod cli;
mod color;
mod commands;
mod config;
mod exit;
mod interrupt;
mod notices;
mod output;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command};
use crate::exit::Failure;

fn main() -> std::process::ExitCode {
    // A bug must still end in one readable line, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        output::error_line(&format!("internal error: {info}"));
    }));
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let choice = color::scan_args(&args);
    let matches = Cli::command()
        .color(color::clap_choice(choice))
        .get_matches_from(args);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    color::init(cli.color);
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return Failure::local(format!("cannot start the runtime: {e}")).report(cli.json);
        }
    };
    let json = cli.json;
    let outcome = runtime.block_on(run_within_timeout(cli));
    // Background tasks (a stream's worker) must not hold the exit up.
    runtime.shutdown_background();
    match outcome {
        Ok(code) => code,
        Err(failure) => failure.report(json),
    }
}

/// The command, bounded by `--timeout` as a whole (each call is bounded by it too).
/// `stream` and `demo` stop by themselves at the deadline, to end the session they
/// started; they get a little longer here for that.
async fn run_within_timeout(cli: Cli) -> Result<std::process::ExitCode, Failure> {
    let Some(deadline) = commands::deadline(&cli) else {
        return run(&cli).await;
    };
    let cleans_up = matches!(cli.command, Command::Stream(_) | Command::Demo(_));
    let bound = if cleans_up {
        deadline + CLEANUP_GRACE
    } else {
        deadline
    };
    match tokio::time::timeout_at(bound, run(&cli)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Failure::network(format!(
            "the command did not finish within --timeout {:?}",
            cli.timeout.unwrap_or_default()
        ))),
    }
}

/// How long past `--timeout` a command that cleans up may take to do so.
const CLEANUP_GRACE: std::time::Duration = std::time::Duration::from_secs(15);

async fn run(cli: &Cli) -> Result<std::process::ExitCode, Failure> {
    let ok = Ok(std::process::ExitCode::SUCCESS);
    match &cli.command {
        Command::Sessions(command) => commands::sessions::run(cli, command).await.and(ok),
        Command::Recordings(command) => commands::recordings::run(cli, command).await.and(ok),
        Command::Analysis(command) => commands::analysis::run(cli, command).await.and(ok),
        Command::Stream(args) => commands::stream::run(cli, args).await.and(ok),
        Command::Webhooks(command) => commands::webhooks::run(cli, command),
        Command::Mock(command) => commands::mock::run(command, cli.json).await.and(ok),
        Command::Demo(args) => commands::demo::run(cli, args).await.and(ok),
        Command::Completion { shell } => commands::completion::run(*shell).and(ok),
    }
}

/// Retry and pacing notices always go to stderr; `-v` adds the SDK's own tracing. Only
/// the SDK's and the CLI's targets are enabled: they never record secrets, whereas
/// lower layers are not ours to vouch for.
fn init_tracing(verbose: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let notices =
        notices::Notices.with_filter(Targets::new().with_target("kallglot", LevelFilter::DEBUG));
    let level = match verbose {
        0 => LevelFilter::OFF,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let filter = Targets::new()
        .with_target("kallglot", level)
        .with_target("kallglot_cli", level)
        .with_target("kallglot_mock", level);
    let verbose = (verbose > 0).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter)
    });
    tracing_subscriber::registry()
        .with(notices)
        .with(verbose)
        .init();
}
