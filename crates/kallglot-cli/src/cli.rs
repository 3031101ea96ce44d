//! The command line, as clap types.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The heading that keeps the options every command takes apart from a command's own.
const GLOBAL: &str = "Global options";

/// Exit codes, listed at the end of `kallglot --help`.
const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    a webhook delivery did not verify
  2    usage or configuration error
  3    the API answered with an error (or refused the stream)
  4    network failure: timeout, connection, stream
  5    local problem: a file, audio
  130  interrupted (Ctrl-C)
  141  stdout was closed (for example by `| head`)

Environment: KALLGLOT_API_KEY, KALLGLOT_BASE_URL, KALLGLOT_PROFILE, NO_COLOR.
Profiles: $XDG_CONFIG_HOME/kallglot/config.toml (default ~/.config/kallglot/config.toml).";

/// Try and script the Kallglot API: sessions, recordings, analyses, live streams,
/// webhook verification, and a local emulator.
#[derive(Debug, Parser)]
#[command(
    name = "kallglot",
    version,
    about,
    propagate_version = true,
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// API key (sk_live_… or sk_test_…) [default: $KALLGLOT_API_KEY, or the profile's].
    #[arg(long, global = true, value_name = "KEY", help_heading = GLOBAL)]
    pub api_key: Option<KeyArg>,

    /// API base URL: https, or http on loopback for the emulator [default:
    /// $KALLGLOT_BASE_URL, or the profile's].
    #[arg(long, global = true, value_name = "URL", help_heading = GLOBAL)]
    pub base_url: Option<String>,

    /// Use this profile from the config file [default: $KALLGLOT_PROFILE].
    #[arg(long, global = true, value_name = "NAME", help_heading = GLOBAL)]
    pub profile: Option<String>,

    /// Print JSON on stdout: the API's objects, one line per event for `stream`, and
    /// errors as an `{"error": …}` object.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Give up when the whole command takes longer than this (e.g. 30, 30s, 500ms, 2m).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration, help_heading = GLOBAL)]
    pub timeout: Option<Duration>,

    /// When to use colors (NO_COLOR in the environment turns `auto` off).
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorArg::Auto, help_heading = GLOBAL)]
    pub color: ColorArg,

    /// Write tracing to stderr (-v: debug, -vv: trace); secrets are never logged.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,

    /// When the command started, for `--timeout`.
    #[arg(skip = std::time::Instant::now())]
    pub started: std::time::Instant,
}

/// `--api-key` as given: checked later, as a [`kallglot::ApiKey`], so that clap never
/// echoes a near-miss key in a usage error, and never shown by `Debug`.
#[derive(Clone)]
pub struct KeyArg(pub String);

impl From<String> for KeyArg {
    fn from(key: String) -> Self {
        Self(key)
    }
}

impl std::fmt::Debug for KeyArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyArg(…)")
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// Colors when writing to a terminal and NO_COLOR is not set.
    Auto,
    /// Always colors.
    Always,
    /// Never colors.
    Never,
}

/// `30`, `30s`, `500ms`, `2m`: seconds unless a unit says otherwise.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (try 30, 30s, 500ms or 2m)"))?;
    let seconds = value * scale;
    if !(seconds > 0.0 && seconds.is_finite() && seconds < 1e9) {
        return Err("the timeout must be a positive duration".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, inspect and end sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// List, inspect and download recordings.
    #[command(subcommand)]
    Recordings(RecordingsCommand),
    /// Request and read post-call analyses.
    #[command(subcommand)]
    Analysis(AnalysisCommand),
    /// Stream a WAV file in real time to a session and print live transcripts.
    Stream(StreamArgs),
    /// Verify webhook deliveries.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Run the local emulator of the Kallglot API.
    #[command(subcommand)]
    Mock(MockCommand),
    /// Run the whole flow: offline against the embedded emulator, or against --base-url.
    Demo(DemoArgs),
    /// Print a shell completion script (e.g. `kallglot completion bash > ~/.kallglot.bash`).
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `kallglot demo …`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stream the sample this many times faster than real time (for tests).
    #[arg(long, default_value_t = 1.0, hide = true)]
    pub speed: f64,
    /// With --base-url and a live key (sk_live_…): run anyway, knowing it uses credits.
    #[arg(long)]
    pub yes: bool,
}

/// `kallglot sessions …`
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Create a session.
    Create(CreateSession),
    /// Show a session.
    Get {
        /// The session id (sess_…).
        id: String,
    },
    /// End a session (safe to repeat).
    End {
        /// The session id (sess_…).
        id: String,
    },
    /// Show a session's transcript.
    Transcript {
        /// The session id (sess_…).
        id: String,
    },
}

/// Session modes, spelled as the API does (`bidirectional_translation`) or in kebab-case.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Both parties hear translated speech.
    #[value(
        name = "bidirectional_translation",
        alias = "bidirectional-translation"
    )]
    BidirectionalTranslation,
    /// The agent hears the original plus subtitles.
    #[value(name = "assistive_translation", alias = "assistive-translation")]
    AssistiveTranslation,
    /// An autonomous AI voice agent.
    #[value(name = "ai_agent", alias = "ai-agent")]
    AiAgent,
    /// A voice help desk with AI assistance.
    #[value(name = "help_chat_voice", alias = "help-chat-voice")]
    HelpChatVoice,
}

/// Options of `sessions create` (and of `stream` when it creates the session).
#[derive(Debug, Args)]
pub struct CreateSession {
    /// How the session behaves (spelled as in the API docs; kebab-case works too).
    #[arg(long, value_enum, default_value = "bidirectional_translation")]
    pub mode: ModeArg,
    /// Party A's language (en, es, de, …).
    #[arg(long)]
    pub source_language: Option<String>,
    /// Party B's language.
    #[arg(long)]
    pub target_language: Option<String>,
    /// Route through this Kallglot-managed number (E.164).
    #[arg(long, group = "routing")]
    pub phone_number: Option<String>,
    /// Route through this external connection (pcon_…).
    #[arg(long, group = "routing")]
    pub connection_id: Option<String>,
    /// Route through SIP (bridge the call to sip:<session_id>@sip.kallglot.com).
    #[arg(long, group = "routing")]
    pub sip: bool,
    /// Metadata entries, as key=value (repeatable).
    #[arg(long = "metadata", value_name = "KEY=VALUE")]
    pub metadata: Vec<String>,
    /// Idempotency key (a UUID is generated when omitted).
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

/// `kallglot recordings …`
#[derive(Debug, Subcommand)]
pub enum RecordingsCommand {
    /// List a session's recordings.
    List {
        /// The session id (sess_…).
        session_id: String,
    },
    /// Show a recording.
    Get {
        /// The recording id (rec_…).
        id: String,
    },
    /// Download a recording's audio.
    Download {
        /// The recording id (rec_…).
        id: String,
        /// Where to write the file (`-` for stdout). An existing file is replaced only
        /// once the download has completed.
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// `kallglot analysis …`
#[derive(Debug, Subcommand)]
pub enum AnalysisCommand {
    /// Request an analysis of an ended session.
    Create {
        /// The session id (sess_…).
        session_id: String,
        /// The analysis profile.
        #[arg(long)]
        profile: Option<String>,
        /// Parts to compute, comma-separated (summary,sentiment,compliance,keywords,performance).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "summary,sentiment,compliance,performance"
        )]
        include: Vec<String>,
        /// Wait until the analysis completes or fails.
        #[arg(long)]
        wait: bool,
    },
    /// Show an analysis.
    Get {
        /// The analysis id (anl_…).
        id: String,
    },
}

/// `kallglot stream …`
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// A WAV file (PCM or float, any common sample rate, mono or stereo).
    pub wav: PathBuf,
    /// Stream into this existing session instead of creating one.
    #[arg(long)]
    pub session: Option<String>,
    /// Who is speaking in the file (all channels mixed into one).
    #[arg(long, default_value = "customer", conflicts_with = "split_channels")]
    pub speaker: String,
    /// Stream each channel as its own party instead, e.g. `agent,customer` for a stereo
    /// call recording with the agent on the left.
    #[arg(long, value_delimiter = ',', value_name = "SPEAKERS")]
    pub split_channels: Option<Vec<String>>,
    /// Play the file this many times faster than real time (1 = real time).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// On Ctrl-C, end the --session given too. A session created here is always ended,
    /// and streaming a file to its end ends the session either way.
    #[arg(long, requires = "session")]
    pub end: bool,
    /// Session options, when a session is created.
    #[command(flatten)]
    pub create: CreateSession,
}

/// `kallglot webhooks …`
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Verify a delivery read from stdin; the exit code says whether it verified.
    Verify {
        /// The environment variable holding the endpoint's signing secret.
        #[arg(long)]
        secret_env: String,
        /// The `Kallglot-Signature` header: its value (t=…,v1=…) or the whole line.
        #[arg(long)]
        header: String,
        /// Allowed age of the signature timestamp, in seconds.
        #[arg(long, default_value_t = 300)]
        tolerance: u64,
    },
}

/// `kallglot mock …`
#[derive(Debug, Subcommand)]
pub enum MockCommand {
    /// Serve the emulator until interrupted.
    Serve {
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 4010)]
        port: u16,
        /// The starting credit balance.
        #[arg(long, default_value_t = 100)]
        credits: u64,
        /// Requests allowed per 60-second window.
        #[arg(long, default_value_t = 1000)]
        rate_limit: u32,
        /// Deliver signed webhooks for every session, recording and analysis change here.
        #[arg(long, requires = "webhook_secret_env")]
        webhook_url: Option<String>,
        /// The environment variable holding the webhook signing secret.
        #[arg(long)]
        webhook_secret_env: Option<String>,
    },
}
