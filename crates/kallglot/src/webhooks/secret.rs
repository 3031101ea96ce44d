//! The endpoint signing secret, kept out of logs.

use std::fmt;
use std::str::FromStr;

/// The only secret prefix shown when printing: it identifies the kind of value
/// without revealing any of its random part. Kallglot does not document the
/// secret's format, so nothing else is assumed about it.
const KNOWN_PREFIX: &str = "whsec_";

/// A webhook endpoint's signing secret, copied from the Kallglot Portal.
///
/// Kallglot does not document the secret's format, so any non-empty string is
/// accepted and used byte for byte as the HMAC key. Whitespace is significant:
/// a secret read from a file with a trailing newline will not verify anything,
/// so trim such input yourself.
///
/// `Debug` and `Display` never show the secret: they print `whsec_…` when it
/// has that prefix and `[redacted]` otherwise. There is no `Serialize`
/// implementation, so the secret cannot leak through a config dump either.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

/// The error for an empty webhook secret, usually an unset environment
/// variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("webhook signing secret is empty")]
pub struct EmptySecretError;

impl WebhookSecret {
    /// Wraps a signing secret.
    ///
    /// # Errors
    ///
    /// [`EmptySecretError`] if `secret` is empty: an empty HMAC key would let
    /// anyone who guesses that mistake forge deliveries.
    pub fn new(secret: impl Into<String>) -> Result<Self, EmptySecretError> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(EmptySecretError);
        }
        Ok(Self(secret))
    }

    /// The secret itself. The name is meant to stand out in review; do not
    /// log or store the result.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// A form that is safe to log: `whsec_…` or `[redacted]`.
    pub fn redacted(&self) -> &'static str {
        if self.0.starts_with(KNOWN_PREFIX) {
            "whsec_…"
        } else {
            "[redacted]"
        }
    }

    /// The HMAC key bytes.
    pub(crate) fn key(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl FromStr for WebhookSecret {
    type Err = EmptySecretError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecret({})", self.redacted())
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_only() {
        assert_eq!(WebhookSecret::new(""), Err(EmptySecretError));
        for ok in [" ", "x", "whsec_", "whsec_abc", "ünïcödé"] {
            assert_eq!(WebhookSecret::new(ok).unwrap().expose_secret(), ok);
        }
        assert!("".parse::<WebhookSecret>().is_err());
        assert_eq!("abc".parse::<WebhookSecret>().unwrap().key(), b"abc");
    }

    #[test]
    fn printing_never_shows_the_secret() {
        let prefixed = WebhookSecret::new("whsec_TOPSECRET123").unwrap();
        assert_eq!(prefixed.to_string(), "whsec_…");
        assert_eq!(format!("{prefixed:?}"), "WebhookSecret(whsec_…)");
        assert_eq!(format!("{prefixed:#?}"), "WebhookSecret(whsec_…)");

        let bare = WebhookSecret::new("TOPSECRET123").unwrap();
        assert_eq!(bare.to_string(), "[redacted]");
        assert_eq!(format!("{bare:?}"), "WebhookSecret([redacted])");
    }
}
