//! Failures as one clear line on stderr and a distinct exit code.

use std::process::ExitCode;

/// How the command failed: the message to print and the exit code class.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// A usage or configuration problem (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    /// A local problem such as an unreadable file (exit 5).
    pub fn local(message: impl Into<String>) -> Self {
        Self {
            code: 5,
            message: message.into(),
        }
    }

    /// Prints the message and returns the exit code.
    pub fn report(self) -> ExitCode {
        eprintln!("error: {}", self.message);
        ExitCode::from(self.code)
    }
}

impl From<kallglot::Error> for Failure {
    fn from(error: kallglot::Error) -> Self {
        use kallglot::Error as E;
        let code = match &error {
            E::Api(_) | E::Decode(_) | E::WaitTimeout { .. } => 3,
            E::Timeout { .. } | E::Connection { .. } | E::Stream(_) => 4,
            E::Config(_) => 2,
            _ => 5,
        };
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
        }
    }
}
