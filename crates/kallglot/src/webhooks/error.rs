//! Why a webhook delivery was rejected.

use std::fmt;
use std::time::Duration;

/// Why a webhook delivery failed verification or parsing.
///
/// No variant carries, and no message contains, the signing secret or the
/// signature the verifier expected: error messages end up in logs and, in
/// careless handlers, in HTTP responses, where the expected signature would
/// let anyone replay a forged body.
///
/// The variants fall in three groups, which [`http_status`](Self::http_status)
/// maps to a response status:
/// - the request is not a well-formed signed delivery (`400`);
/// - it is well-formed but not authentic or not fresh (`401`);
/// - it is authentic but the body is not an event envelope (`400`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The request has no `Kallglot-Signature` header.
    #[error("missing Kallglot-Signature header")]
    MissingHeader,
    /// The signature header is not a comma-separated list of `key=value`
    /// pairs with at most one `t`.
    #[error("malformed Kallglot-Signature header: {0}")]
    MalformedHeader(MalformedHeader),
    /// The header has no `t` (timestamp) entry.
    #[error("Kallglot-Signature header has no timestamp (`t=`)")]
    MissingTimestamp,
    /// `t` is not a non-negative whole number of seconds that fits in an
    /// `i64` (for example `abc`, `-5`, `1.5` or a 30-digit number).
    #[error("Kallglot-Signature timestamp (`t=`) is not a valid unix time in seconds")]
    InvalidTimestamp,
    /// The header has no `v1` signature entry (other schemes are ignored).
    #[error("Kallglot-Signature header has no `v1` signature")]
    MissingSignature,
    /// A `v1` value contains characters other than hexadecimal digits.
    #[error("Kallglot-Signature `v1` value is not hexadecimal")]
    InvalidSignatureEncoding,
    /// A `v1` value is hexadecimal but not 64 characters (32 bytes) long.
    #[error("Kallglot-Signature `v1` value has {len} hex characters, expected 64")]
    InvalidSignatureLength {
        /// The number of characters received.
        len: usize,
    },
    /// The signature is valid but its timestamp is further from the current
    /// time than the configured tolerance: a replayed delivery, or a clock
    /// that is off on one side.
    #[error(
        "Kallglot-Signature timestamp is {} s {}, beyond the {} s tolerance",
        age_secs.unsigned_abs(),
        if *age_secs >= 0 { "in the past" } else { "in the future" },
        tolerance.as_secs()
    )]
    TimestampOutsideTolerance {
        /// How old the timestamp is in seconds: the current time minus `t`,
        /// negative for a timestamp in the future.
        age_secs: i64,
        /// The tolerance it exceeded.
        tolerance: Duration,
    },
    /// No `v1` value matches the body under any configured secret: the body
    /// was altered (re-serialized JSON counts), the secret is wrong, or the
    /// request is forged.
    #[error("webhook signature does not match the payload")]
    SignatureMismatch,
    /// The signature is valid but the body is not a JSON event envelope.
    #[error("webhook payload is not a valid event envelope: {0}")]
    InvalidPayload(#[source] serde_json::Error),
}

impl WebhookError {
    /// The status a webhook endpoint should answer with: `401 Unauthorized`
    /// for a signature or timestamp that does not verify, `400 Bad Request`
    /// for everything else.
    ///
    /// Any non-2xx answer makes Kallglot retry the delivery later.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::TimestampOutsideTolerance { .. } | Self::SignatureMismatch => 401,
            _ => 400,
        }
    }
}

/// How a `Kallglot-Signature` header is garbled; see
/// [`WebhookError::MalformedHeader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MalformedHeader {
    /// The header value is empty or only whitespace.
    Empty,
    /// Two commas with nothing between them, or a leading or trailing comma.
    EmptyEntry,
    /// An entry has no `=`.
    MissingEquals,
    /// An entry starts with `=`, so it has no key.
    EmptyKey,
    /// `t` appears more than once, so the signed timestamp is ambiguous.
    DuplicateTimestamp,
    /// The request carries more than one `Kallglot-Signature` header.
    MultipleHeaders,
    /// The header value contains bytes other than visible ASCII, spaces and
    /// tabs.
    InvalidCharacters,
}

impl fmt::Display for MalformedHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the value is empty",
            Self::EmptyEntry => "it has an empty entry between commas",
            Self::MissingEquals => "an entry has no `=`",
            Self::EmptyKey => "an entry has no key before `=`",
            Self::DuplicateTimestamp => "`t` appears more than once",
            Self::MultipleHeaders => "the header appears more than once",
            Self::InvalidCharacters => "the value contains non-ASCII or control characters",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_message_says_direction_and_amount() {
        let past = WebhookError::TimestampOutsideTolerance {
            age_secs: 301,
            tolerance: Duration::from_secs(300),
        };
        assert_eq!(
            past.to_string(),
            "Kallglot-Signature timestamp is 301 s in the past, beyond the 300 s tolerance"
        );
        let future = WebhookError::TimestampOutsideTolerance {
            age_secs: -1000,
            tolerance: Duration::from_secs(300),
        };
        assert_eq!(
            future.to_string(),
            "Kallglot-Signature timestamp is 1000 s in the future, beyond the 300 s tolerance"
        );
        let extreme = WebhookError::TimestampOutsideTolerance {
            age_secs: i64::MIN,
            tolerance: Duration::ZERO,
        };
        assert!(
            extreme
                .to_string()
                .contains("9223372036854775808 s in the future")
        );
    }

    #[test]
    fn statuses() {
        assert_eq!(WebhookError::SignatureMismatch.http_status(), 401);
        assert_eq!(WebhookError::MissingHeader.http_status(), 400);
        assert_eq!(
            WebhookError::MalformedHeader(MalformedHeader::Empty).http_status(),
            400
        );
    }
}
