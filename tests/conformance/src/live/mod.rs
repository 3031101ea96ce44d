//! The live suite: the conformance scenarios that make sense against a real server, run
//! through the SDK and checked on the wire against the spec.
//!
//! `cargo xtask conformance --live --base-url URL` runs it (the `conformance-live`
//! binary). The key comes from `KALLGLOT_API_KEY` and must be a test key (`sk_test_`):
//! the suite creates a session and an analysis, which cost one credit each, and a live
//! key is refused before any request. The base URL must be `https://`, or `http://` on
//! loopback (the SDK's own rule). What it runs, in order:
//!
//! - every REST operation of the spec, through the SDK and as a raw exchange whose status,
//!   declared headers and body are checked against the spec (`operations/<id>`);
//! - the stream: handshake (`session.ready`), audio, `ping`/`pong`, `session.end`;
//! - the errors the keys can provoke: a wrong key (401 `api_key_invalid`), an unknown id
//!   (404), a body without `mode` (400 `invalid_request`), a reused idempotency key with
//!   another body (400 `idempotency_mismatch`) and, with a restricted key, a missing scope
//!   (403 `insufficient_permissions`);
//! - one row per documented response header, over every response of the run.
//!
//! The restricted key comes from `KALLGLOT_RESTRICTED_API_KEY`: a `sk_test_` key of the
//! same organization without the `sessions:write` scope (it is used to end the suite's
//! own, already ended, session, which is free and harmless if the key can do it after
//! all). Against the emulator (`--emulator`) the suite makes such a key through the
//! emulator's admin API instead, and also provokes a 429 and a 402 with its fault and
//! credit controls; a real server has no such controls, so those rows are not run there.

mod check;
mod scenarios;
mod stream;
mod wire;

pub use check::{Contract, Findings};
pub use wire::{Exchange, Wire};

use crate::report::Row;

/// The environment variable holding the API key.
pub const KEY_VAR: &str = "KALLGLOT_API_KEY";
/// The environment variable holding the optional restricted key.
pub const RESTRICTED_KEY_VAR: &str = "KALLGLOT_RESTRICTED_API_KEY";

/// What the live suite runs against.
#[derive(Clone)]
pub struct Config {
    /// The server's base URL, such as `https://api.kallglot.com`.
    pub base_url: String,
    /// The API key (from [`KEY_VAR`]).
    pub api_key: String,
    /// A key without `sessions:write` (from [`RESTRICTED_KEY_VAR`]), if any.
    pub restricted_key: Option<String>,
    /// The server is the Kallglot emulator: use its admin API for a restricted key, a
    /// 429 and a 402.
    pub emulator: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("emulator", &self.emulator)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads the keys from the environment.
    pub fn from_env(base_url: String, emulator: bool) -> Result<Self, Refusal> {
        let api_key = std::env::var(KEY_VAR)
            .ok()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| Refusal(format!("{KEY_VAR} is not set")))?;
        let restricted_key = std::env::var(RESTRICTED_KEY_VAR)
            .ok()
            .filter(|k| !k.is_empty());
        Ok(Self {
            base_url,
            api_key,
            restricted_key,
            emulator,
        })
    }
}

/// Why the suite refused to run; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused before any request: {}", self.0)
    }
}

/// A checked configuration: test keys only, a base URL the SDK accepts.
pub(crate) struct Checked {
    pub client: kallglot::Client,
    pub key: kallglot::ApiKey,
    pub restricted: Option<kallglot::ApiKey>,
    pub emulator: bool,
}

/// Checks `config` without sending anything.
pub(crate) fn preflight(config: &Config) -> Result<Checked, Refusal> {
    let key = test_key(KEY_VAR, &config.api_key)?;
    let restricted = config
        .restricted_key
        .as_deref()
        .map(|k| test_key(RESTRICTED_KEY_VAR, k))
        .transpose()?;
    let client = kallglot::Client::builder()
        .api_key(key.expose_secret())
        .base_url(&config.base_url)
        .build()
        .map_err(|e| Refusal(format!("the base URL or key is not usable: {e}")))?;
    Ok(Checked {
        client,
        key,
        restricted,
        emulator: config.emulator,
    })
}

fn test_key(var: &str, raw: &str) -> Result<kallglot::ApiKey, Refusal> {
    let key =
        kallglot::ApiKey::new(raw).map_err(|e| Refusal(format!("{var} is not an API key: {e}")))?;
    match key.environment() {
        kallglot::Environment::Test => Ok(key),
        kallglot::Environment::Live => Err(Refusal(format!(
            "{var} is a live key (sk_live_); the live suite creates sessions and spends \
             credits, so it runs only with a test key (sk_test_)"
        ))),
    }
}

/// Runs the live suite. Every row's text is free of the keys and stream tokens used.
pub async fn run(config: &Config) -> Result<Vec<Row>, Refusal> {
    let checked = preflight(config)?;
    let contract = crate::spec_surface::spec()
        .map(Contract::new)
        .map_err(Refusal)?;
    Ok(scenarios::run(checked, contract).await)
}

/// Whether a stream URL may carry a token: `wss://` anywhere, `ws://` only on loopback.
pub fn stream_url_allowed(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("the stream URL is not a URL: {e}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match parsed.scheme() {
        "wss" => Ok(()),
        "ws" if loopback => Ok(()),
        "ws" => Err(format!(
            "the stream URL is plain ws:// to {}: the token would travel unencrypted",
            parsed.host_str().unwrap_or_default()
        )),
        other => Err(format!("the stream URL's scheme is {other}, not ws or wss")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(key: &str, base_url: &str) -> Config {
        Config {
            base_url: base_url.into(),
            api_key: key.into(),
            restricted_key: None,
            emulator: false,
        }
    }

    #[test]
    fn live_keys_are_refused_and_the_refusal_does_not_show_them() {
        for (key, restricted) in [
            ("sk_live_CONFORMANCEsecret01", None),
            (
                "sk_test_CONFORMANCEsecret02",
                Some("sk_live_CONFORMANCEsecret03"),
            ),
        ] {
            let mut c = config(key, "http://127.0.0.1:9");
            c.restricted_key = restricted.map(str::to_string);
            let refusal = preflight(&c).err().expect("a live key is refused");
            assert!(refusal.0.contains("live key"), "{refusal}");
            assert!(
                !refusal.to_string().contains("CONFORMANCEsecret"),
                "{refusal}"
            );
        }
        let refusal = preflight(&config("not-a-key", "http://127.0.0.1:9"))
            .err()
            .unwrap();
        assert!(refusal.0.contains("is not an API key"), "{refusal}");
    }

    #[test]
    fn plain_http_is_refused_unless_on_loopback() {
        let key = "sk_test_CONFORMANCEsecret04";
        for ok in [
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "https://api.kallglot.com",
        ] {
            assert!(preflight(&config(key, ok)).is_ok(), "{ok}");
        }
        // Refused while building the client: nothing is ever dialled.
        for bad in [
            "http://api.kallglot.com",
            "http://10.0.0.1:8080",
            "ftp://127.0.0.1",
        ] {
            let refusal = preflight(&config(key, bad)).err().expect(bad);
            assert!(refusal.0.contains("base URL"), "{refusal}");
        }
    }

    #[test]
    fn stream_urls_carry_tokens_only_encrypted_or_on_loopback() {
        assert!(stream_url_allowed("wss://api.kallglot.com/v1/sessions/s/connect").is_ok());
        assert!(stream_url_allowed("ws://127.0.0.1:9/v1/sessions/s/connect").is_ok());
        assert!(stream_url_allowed("ws://[::1]:9/x").is_ok());
        let refused = stream_url_allowed("ws://api.kallglot.com/v1/sessions/s/connect");
        assert!(refused.unwrap_err().contains("unencrypted"));
        assert!(stream_url_allowed("https://api.kallglot.com/x").is_err());
    }
}
