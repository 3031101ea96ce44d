//! `--color auto|always|never` and `NO_COLOR`: whether to style what is printed.

use std::io::IsTerminal;
use std::sync::OnceLock;

use anstyle::{AnsiColor, Style};

use crate::cli::ColorArg;

static CHOICE: OnceLock<ColorArg> = OnceLock::new();

/// Where a piece of text goes: `auto` styles only what goes to a terminal.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Records the user's choice; called once, before anything is printed.
pub fn init(choice: ColorArg) {
    let _ = CHOICE.set(choice);
}

/// The choice from the raw arguments, before clap parses them, so that clap's own
/// messages (usage errors, help) follow it too.
pub fn scan_args(args: &[std::ffi::OsString]) -> ColorArg {
    let mut choice = ColorArg::Auto;
    let mut iter = args.iter().map(|a| a.to_string_lossy());
    while let Some(arg) = iter.next() {
        let value = match arg.strip_prefix("--color") {
            Some("") => iter.next().map(|v| v.into_owned()),
            Some(rest) => rest.strip_prefix('=').map(str::to_string),
            None => None,
        };
        choice = match value.as_deref() {
            Some("always") => ColorArg::Always,
            Some("never") => ColorArg::Never,
            Some("auto") => ColorArg::Auto,
            _ => choice,
        };
    }
    choice
}

/// Whether `auto` resolves to color: `NO_COLOR` (set and not empty) turns it off.
fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Whether text for `stream` is styled.
pub fn enabled(stream: Stream) -> bool {
    match CHOICE.get().copied().unwrap_or(ColorArg::Auto) {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            !no_color_env()
                && match stream {
                    Stream::Stdout => std::io::stdout().is_terminal(),
                    Stream::Stderr => std::io::stderr().is_terminal(),
                }
        }
    }
}

/// clap's setting for the same choice.
pub fn clap_choice(choice: ColorArg) -> clap::ColorChoice {
    match choice {
        ColorArg::Always => clap::ColorChoice::Always,
        ColorArg::Never => clap::ColorChoice::Never,
        ColorArg::Auto if no_color_env() => clap::ColorChoice::Never,
        ColorArg::Auto => clap::ColorChoice::Auto,
    }
}

/// `text` in `style` when colors are on for `stream`.
pub fn paint(text: &str, style: Style, stream: Stream) -> String {
    if enabled(stream) {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// Errors.
pub const ERROR: Style = AnsiColor::Red.on_default().bold();
/// Notices of retries and waits.
pub const NOTICE: Style = AnsiColor::Yellow.on_default();
/// Good news: verified, ended.
pub const GOOD: Style = AnsiColor::Green.on_default().bold();
/// Who is speaking.
pub const SPEAKER: Style = AnsiColor::Cyan.on_default().bold();
