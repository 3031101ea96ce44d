//! The command line, as clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Try and script the Kallglot API: sessions, recordings, analyses, live streams,
/// webhook verification, and a local emulator.
#[derive(Debug, Parser)]
#[command(name = "kallglot", version, about, propagate_version = true)]
pub struct Cli {
    /// API key (sk_live_… or sk_test_…).
    #[arg(long, env = "KALLGLOT_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,

    /// API base URL (https, or http on loopback for the emulator).
    #[arg(long, env = "KALLGLOT_BASE_URL", global = true)]
    pub base_url: Option<String>,

    /// Print the API's JSON object on stdout instead of a summary.
    #[arg(long, global = true)]
    pub json: bool,

    /// Write tracing to stderr (-v: debug, -vv: trace); secrets are never logged.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
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
    /// Run the whole flow offline against the embedded emulator (no key, no network).
    Demo {
        /// Stream the sample this many times faster than real time (for tests).
        #[arg(long, default_value_t = 1.0, hide = true)]
        speed: f64,
    },
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

/// Session modes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Both parties hear translated speech.
    BidirectionalTranslation,
    /// The agent hears the original plus subtitles.
    AssistiveTranslation,
    /// An autonomous AI voice agent.
    AiAgent,
    /// A voice help desk with AI assistance.
    HelpChatVoice,
}

/// Options of `sessions create` (and of `stream` when it creates the session).
#[derive(Debug, Args)]
pub struct CreateSession {
    /// How the session behaves.
    #[arg(long, value_enum, default_value = "bidirectional-translation")]
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
        /// Where to write the file.
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
        /// The `Kallglot-Signature` header value (t=…,v1=…).
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
        /// Deliver signed webhooks for every session, recording and analysis change here.
        #[arg(long, requires = "webhook_secret_env")]
        webhook_url: Option<String>,
        /// The environment variable holding the webhook signing secret.
        #[arg(long)]
        webhook_secret_env: Option<String>,
    },
}
