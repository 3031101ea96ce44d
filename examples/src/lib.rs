//! What every example shares: a client for the real API when `KALLGLOT_API_KEY` is set,
//! otherwise one for the embedded emulator, which is started here and lives as long as
//! the returned [`Target`].

pub mod browser;

use kallglot::{Client, ClientBuilder};
use kallglot_mock::MockServer;

/// Where an example runs: the real API (from the environment) or the embedded emulator.
pub struct Target {
    /// A client for the chosen server.
    pub client: Client,
    /// The emulator, when no key was set. Examples use it to check their own output
    /// (and a few, to inject faults); against a real server it is `None`.
    pub emulator: Option<MockServer>,
}

impl Target {
    /// The real API when `KALLGLOT_API_KEY` is set (and `KALLGLOT_BASE_URL`, if set),
    /// otherwise a freshly started emulator with its test key.
    pub async fn from_env() -> Result<Self, Box<dyn std::error::Error>> {
        Self::with_emulator(MockServer::builder()).await
    }

    /// Like [`Target::from_env`], with an emulator built from `builder` (for examples that
    /// need other limits or delays).
    pub async fn with_emulator(
        builder: kallglot_mock::MockServerBuilder,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        if std::env::var_os("KALLGLOT_API_KEY").is_some() {
            return Ok(Self {
                client: Client::from_env()?,
                emulator: None,
            });
        }
        let emulator = builder.start().await?;
        let client = client_builder(Some(&emulator)).build()?;
        eprintln!(
            "(KALLGLOT_API_KEY is unset: running against the embedded emulator at {})",
            emulator.url()
        );
        Ok(Self {
            client,
            emulator: Some(emulator),
        })
    }

    /// A builder for another client of the same server with the same key, for examples
    /// that configure a client of their own (retries, an HTTP client, a key source).
    pub fn builder(&self) -> ClientBuilder {
        client_builder(self.emulator.as_ref())
    }

    /// Whether this run is against the embedded emulator (and may assert on its figures).
    pub fn is_emulated(&self) -> bool {
        self.emulator.is_some()
    }
}

/// The emulator's URL and key, or the environment's.
fn client_builder(emulator: Option<&MockServer>) -> ClientBuilder {
    match emulator {
        Some(emulator) => Client::builder()
            .api_key(emulator.api_key())
            .base_url(emulator.url()),
        None => ClientBuilder::from_env(),
    }
}

/// Fails the example (exit code 1) with `message` unless `condition` holds: each example
/// checks its own output, so that CI notices when one stops doing what it says.
pub fn check(condition: bool, message: &str) -> Result<(), Box<dyn std::error::Error>> {
    if condition {
        Ok(())
    } else {
        Err(format!("check failed: {message}").into())
    }
}
