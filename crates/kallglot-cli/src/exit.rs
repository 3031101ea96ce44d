//! Failures as one clear line on stderr (and a JSON object under `--json`) with a
//! distinct exit code.

use std::process::ExitCode;

use serde::Serialize;

/// Exit status after Ctrl-C, as shells report a process ended by SIGINT.
pub const INTERRUPTED: u8 = 130;
/// Exit status when stdout was closed, as shells report a process ended by SIGPIPE.
pub const BROKEN_PIPE: u8 = 141;

/// How the command failed: the message to print and the exit code class.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
    api: Option<ApiDetail>,
}

/// What the API said, for the JSON error object.
#[derive(Debug, Serialize)]
struct ApiDetail {
    code: Option<String>,
    status: u16,
    request_id: Option<String>,
}

/// `{"error": …}` under `--json`.
#[derive(Serialize)]
struct ErrorObject<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    /// `usage`, `api`, `network`, `local`, `interrupted`.
    kind: &'static str,
    message: &'a str,
    exit_code: u8,
    code: Option<&'a str>,
    status: Option<u16>,
    request_id: Option<&'a str>,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            api: None,
        }
    }

    /// A usage or configuration problem (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(2, message)
    }

    /// The API's state forbids what was asked (exit 3), found before any request failed.
    pub fn api(message: impl Into<String>) -> Self {
        Self::new(3, message)
    }

    /// The command did not finish in time (exit 4).
    pub fn network(message: impl Into<String>) -> Self {
        Self::new(4, message)
    }

    /// A local problem such as an unreadable file (exit 5).
    pub fn local(message: impl Into<String>) -> Self {
        Self::new(5, message)
    }

    /// Ctrl-C (exit 130); the message says what was cleaned up.
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(INTERRUPTED, message)
    }

    /// Writing the output failed: a closed stdout ends the command quietly (exit 141),
    /// any other error is a local problem.
    pub fn output(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            Self::new(BROKEN_PIPE, String::new())
        } else {
            Self::local(format!("cannot write the output: {error}"))
        }
    }

    /// The message, without the `error:` prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn kind(&self) -> &'static str {
        match self.code {
            2 => "usage",
            3 => "api",
            4 => "network",
            INTERRUPTED => "interrupted",
            _ => "local",
        }
    }

    /// Prints the failure and returns the exit code: one line on stderr, and under
    /// `json` the error object on stdout too, for the script reading it.
    pub fn report(self, json: bool) -> ExitCode {
        if self.code == BROKEN_PIPE {
            return ExitCode::from(self.code);
        }
        crate::output::error_line(&self.message);
        if json {
            let api = self.api.as_ref();
            let object = ErrorObject {
                error: ErrorBody {
                    kind: self.kind(),
                    message: &self.message,
                    exit_code: self.code,
                    code: api.and_then(|a| a.code.as_deref()),
                    status: api.map(|a| a.status),
                    request_id: api.and_then(|a| a.request_id.as_deref()),
                },
            };
            // Nothing more can be done if stdout is gone too; the exit code still tells.
            let _ = crate::output::json(&object);
        }
        ExitCode::from(self.code)
    }
}

impl From<kallglot::Error> for Failure {
    fn from(error: kallglot::Error) -> Self {
        use kallglot::Error as E;
        use kallglot::stream::StreamError as S;
        let code = match &error {
            E::Api(_) | E::Decode(_) | E::WaitTimeout { .. } => 3,
            // The API refused the stream, or the session can no longer take one: the
            // answer is the API's, not the network's.
            E::Stream(
                S::HandshakeRejected { .. } | S::NoStreamCredentials | S::StreamTokenExpired { .. },
            ) => 3,
            E::Timeout { .. } | E::Connection { .. } | E::Stream(_) => 4,
            E::DeadlineExceeded { .. } => 4,
            E::Config(_) => 2,
            _ => 5,
        };
        let api = match &error {
            E::Stream(S::HandshakeRejected { detail, .. }) => Some(&**detail),
            other => other.as_api(),
        };
        let api = api.map(|api| ApiDetail {
            code: api.raw_code.clone(),
            status: api.status,
            request_id: api.request_id.clone(),
        });
        let message = match error.as_api() {
            // code, message and request id first: what support will ask for.
            Some(api) => format!(
                "{} (HTTP {}): {}{}{}",
                api.raw_code.as_deref().unwrap_or("no_error_code"),
                api.status,
                api.message,
                api.required_scope
                    .map(|s| format!(" (needs the {s} scope)"))
                    .unwrap_or_default(),
                api.request_id
                    .as_deref()
                    .map(|id| format!(" [request id {id}]"))
                    .unwrap_or_default(),
            ),
            None => error.to_string(),
        };
        Self {
            code,
            message: message.replace('\n', " "),
            api,
        }
    }
}
