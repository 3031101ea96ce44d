//! The delivery headers that accompany each webhook attempt.

use chrono::{DateTime, Utc};
use http::HeaderMap;

use super::{ORIGINAL_TIMESTAMP_HEADER, RETRY_COUNT_HEADER, WEBHOOK_ID_HEADER};

/// Facts about one delivery attempt, from its `Kallglot-*` headers.
///
/// These headers are documented only in Kallglot's legacy documentation and
/// are **not signed**, so they are read leniently (absent or malformed means
/// `None`) and are fit for logging and metrics, not for security decisions.
/// De-duplicate on the event id, not on [`delivery_id`](Self::delivery_id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// Reads the delivery headers. Never fails: each header that is missing,
    /// repeated past its first value, or not parseable reads as `None`.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use kallglot::webhooks::DeliveryInfo;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("Kallglot-Retry-Count", "2".parse().unwrap());
    /// let info = DeliveryInfo::from_headers(&headers);
    /// assert_eq!(info.retry_count, Some(2));
    /// assert!(info.is_retry());
    /// assert_eq!(info.delivery_id, None);
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        Self {
            delivery_id: text(WEBHOOK_ID_HEADER).map(str::to_owned),
            retry_count: text(RETRY_COUNT_HEADER).and_then(parse_unsigned),
            original_timestamp: text(ORIGINAL_TIMESTAMP_HEADER)
                .and_then(parse_unsigned)
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
