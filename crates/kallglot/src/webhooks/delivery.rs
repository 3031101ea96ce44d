//! The delivery headers that accompany each webhook attempt.

use chrono::{DateTime, Utc};

use super::{ORIGINAL_TIMESTAMP_HEADER, RETRY_COUNT_HEADER, SIGNATURE_HEADER, WEBHOOK_ID_HEADER};

/// Facts about one delivery attempt, from its `Kallglot-*` headers.
///
/// These headers are documented only in Kallglot's legacy documentation and
/// are **not signed**, so they are read leniently (absent or malformed means
/// `None`) and are fit for logging and metrics, not for security decisions.
/// De-duplicate on the event id, not on [`delivery_id`](Self::delivery_id).
///
/// `Serialize`/`Deserialize`, to keep it with the event in a queue; missing fields read
/// as `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct DeliveryInfo {
    /// `Kallglot-Webhook-Id`: the id of this delivery (e.g. `wh_del_…`).
    pub delivery_id: Option<String>,
    /// `Kallglot-Retry-Count`: how many attempts came before this one (`0` on
    /// the first).
    pub retry_count: Option<u32>,
    /// `Kallglot-Original-Timestamp`: when the event was first created. It
    /// stays the same across retries, unlike the signature's `t`.
    pub original_timestamp: Option<DateTime<Utc>>,
}

impl DeliveryInfo {
    /// Reads the delivery headers from any collection of `(name, value)` pairs, such as
    /// `&http::HeaderMap` (names match case-insensitively). Never fails: each header that
    /// is missing, repeated past its first value, or not parseable reads as `None`.
    ///
    /// ```
    /// use kallglot::webhooks::DeliveryInfo;
    ///
    /// let headers = [("Kallglot-Retry-Count", "2"), ("Content-Type", "application/json")];
    /// let info = DeliveryInfo::from_headers(headers);
    /// assert_eq!(info.retry_count, Some(2));
    /// assert!(info.is_retry());
    /// assert_eq!(info.delivery_id, None);
    /// ```
    pub fn from_headers<I, K, V>(headers: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        Self::from_received(&Received::collect(headers))
    }

    pub(crate) fn from_received(headers: &Received) -> Self {
        let text = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Self {
            delivery_id: text(&headers.webhook_id),
            retry_count: text(&headers.retry_count).and_then(|v| parse_unsigned(&v)),
            original_timestamp: text(&headers.original_timestamp)
                .and_then(|v| parse_unsigned(&v))
                .and_then(|secs| DateTime::from_timestamp(secs, 0)),
        }
    }

    /// Whether this is a retry, i.e. the retry count is known and above zero.
    pub fn is_retry(&self) -> bool {
        self.retry_count.is_some_and(|n| n > 0)
    }
}

/// Plain digits only: `str::parse` alone would also accept a leading `+`,
/// and, for signed targets, negative values that make no sense here.
fn parse_unsigned<T: std::str::FromStr>(raw: &str) -> Option<T> {
    if raw.bytes().all(|b| b.is_ascii_digit()) {
        raw.parse().ok()
    } else {
        None
    }
}

/// The headers a delivery is read from, gathered in one pass over any header collection.
#[derive(Debug, Default)]
pub(crate) struct Received {
    /// Every `Kallglot-Signature` value (more than one is an error).
    pub signatures: Vec<Vec<u8>>,
    pub webhook_id: Option<String>,
    pub retry_count: Option<String>,
    pub original_timestamp: Option<String>,
}

impl Received {
    pub(crate) fn collect<I, K, V>(headers: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let mut received = Self::default();
        for (name, value) in headers {
            let (name, value) = (name.as_ref(), value.as_ref());
            // Header text is visible ASCII (plus space and tab), as `http` reads it; any
            // other byte makes the value unreadable rather than guessed at.
            let first = |slot: &mut Option<String>| {
                let text = value
                    .iter()
                    .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
                if slot.is_none() && text {
                    *slot = Some(String::from_utf8_lossy(value).into_owned());
                }
            };
            if name.eq_ignore_ascii_case(SIGNATURE_HEADER) {
                received.signatures.push(value.to_vec());
            } else if name.eq_ignore_ascii_case(WEBHOOK_ID_HEADER) {
                first(&mut received.webhook_id);
            } else if name.eq_ignore_ascii_case(RETRY_COUNT_HEADER) {
                first(&mut received.retry_count);
            } else if name.eq_ignore_ascii_case(ORIGINAL_TIMESTAMP_HEADER) {
                first(&mut received.original_timestamp);
            }
        }
        received
    }
}
