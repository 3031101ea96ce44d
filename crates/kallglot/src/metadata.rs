//! Metadata the server reports in response headers: request id, rate limit,
//! credit balance and `Retry-After`.
//!
//! Everything here is read leniently. These headers are informational, may be
//! absent (the API says so for the rate-limit ones) and could be mangled by a
//! proxy; failing a successful request because of a malformed informational
//! header would be far worse than not reporting it. A missing or malformed
//! header therefore becomes `None`, and a malformed one is logged at `debug`
//! level so the problem can still be diagnosed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue};

/// The headers read, by their lowercase names (`HeaderName`s are stored lowercase), in the
/// order of [`Found`]'s slots.
const NAMES: [&str; 7] = [
    "x-request-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-api-credits-remaining",
    "x-api-credits-used",
    "retry-after",
];
const REQUEST_ID: usize = 0;
const RATE_LIMIT_LIMIT: usize = 1;
const RATE_LIMIT_REMAINING: usize = 2;
const RATE_LIMIT_RESET: usize = 3;
const CREDITS_REMAINING: usize = 4;
const CREDITS_USED: usize = 5;
const RETRY_AFTER: usize = 6;

/// The first value of each header of [`NAMES`], found in one pass over a response's
/// headers.
///
/// Seven `HeaderMap::get`s would hash each name and probe the map, seven times per
/// response; one walk over the (few) headers a response has, matching each name by
/// length and bytes, does less. The walk yields a name's values in order, so keeping
/// the first one found is exactly what `get` returns.
struct Found<'a>([Option<&'a HeaderValue>; 7]);

impl<'a> Found<'a> {
    fn scan(headers: &'a HeaderMap) -> Self {
        let mut found = [None; 7];
        for (name, value) in headers {
            let slot = match name.as_str() {
                "x-request-id" => REQUEST_ID,
                "x-ratelimit-limit" => RATE_LIMIT_LIMIT,
                "x-ratelimit-remaining" => RATE_LIMIT_REMAINING,
                "x-ratelimit-reset" => RATE_LIMIT_RESET,
                "x-api-credits-remaining" => CREDITS_REMAINING,
                "x-api-credits-used" => CREDITS_USED,
                "retry-after" => RETRY_AFTER,
                _ => continue,
            };
            found[slot].get_or_insert(value);
        }
        Self(found)
    }

    /// Header `slot` as trimmed, non-empty text, with `parse` applied.
    fn parsed<T>(&self, slot: usize, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        parsed(self.0[slot]?, NAMES[slot], parse)
    }

    /// Header `slot` as a number: `from_digits` applied to a value of plain digits, the
    /// form the API sends, and `parse` applied as by [`parsed`](Self::parsed) to anything
    /// else, or when `from_digits` refuses the number.
    ///
    /// The plain-digit path skips the text check, the trim and the general parser; on such
    /// a value `parse` would give the same result, so either path reads the same.
    fn number<T>(
        &self,
        slot: usize,
        from_digits: impl FnOnce(u64) -> Option<T>,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let raw = self.0[slot]?;
        if let Some(value) = plain_digits(raw).and_then(from_digits) {
            return Some(value);
        }
        parsed(raw, NAMES[slot], parse)
    }
}

/// The value of a header made of 1 to 19 ASCII digits (which cannot overflow a `u64`).
fn plain_digits(raw: &HeaderValue) -> Option<u64> {
    let bytes = raw.as_bytes();
    if bytes.is_empty() || bytes.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

/// Metadata about one HTTP response, taken from its status and headers.
///
/// `Serialize`/`Deserialize` (like [`RateLimit`] and [`Credits`]) for logging it or
/// keeping it with a result; missing fields read as `None`. `retry_after` is serde's
/// `{"secs", "nanos"}` form of a `Duration`, `reset` an RFC 3339 time.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ResponseMeta {
    /// The HTTP status code.
    pub status: u16,
    /// `X-Request-ID`: quote it when contacting support. `None` if absent or
    /// not made of visible ASCII characters.
    pub request_id: Option<String>,
    /// Rate-limit headers; `None` unless at least one of them was readable.
    pub rate_limit: Option<RateLimit>,
    /// Credit headers; `None` unless at least one of them was readable.
    pub credits: Option<Credits>,
    /// `Retry-After`, as a delay from when the response was received.
    ///
    /// Not capped: deciding how long is too long to wait is the retry
    /// policy's job, not the parser's.
    pub retry_after: Option<Duration>,
}

/// The rate-limit window, from the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RateLimit {
    /// `X-RateLimit-Limit`: requests allowed in the current window.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`: requests left in the current window.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset`: when the window resets. The API documents this
    /// as authoritative, so prefer it over guessing from `limit`.
    pub reset: Option<DateTime<Utc>>,
}

/// The organization's credit balance, from the `X-API-Credits-*` headers.
///
/// Signed on purpose: the API declares these as 64-bit integers without
/// ruling out a negative balance (e.g. an overage on a request that was
/// already under way), and an unsigned type would turn such a legitimate
/// value into `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Credits {
    /// `X-API-Credits-Remaining`: credits left after this request.
    pub remaining: Option<i64>,
    /// `X-API-Credits-Used`: credits used in the current billing period.
    pub used: Option<i64>,
}

impl ResponseMeta {
    /// Reads the metadata of a response. `now` is when the response was
    /// received; it turns an HTTP-date `Retry-After` into a delay, and is a
    /// parameter so that this stays deterministic under test.
    pub(crate) fn from_headers(status: u16, headers: &HeaderMap, now: DateTime<Utc>) -> Self {
        let found = Found::scan(headers);
        let rate_limit = RateLimit {
            limit: found.number(RATE_LIMIT_LIMIT, Some, parse_u64),
            remaining: found.number(RATE_LIMIT_REMAINING, Some, parse_u64),
            reset: found.number(RATE_LIMIT_RESET, unix_seconds, parse_unix_seconds),
        };
        let signed = |n: u64| i64::try_from(n).ok();
        let credits = Credits {
            remaining: found.number(CREDITS_REMAINING, signed, parse_i64),
            used: found.number(CREDITS_USED, signed, parse_i64),
        };
        Self {
            status,
            request_id: found.parsed(REQUEST_ID, parse_request_id),
            rate_limit: rate_limit.is_present().then_some(rate_limit),
            credits: credits.is_present().then_some(credits),
            retry_after: found.parsed(RETRY_AFTER, |v| parse_retry_after(v, now)),
        }
    }

    /// Requests left in the current rate-limit window, if reported.
    pub fn rate_limit_remaining(&self) -> Option<u64> {
        self.rate_limit.and_then(|r| r.remaining)
    }

    /// The organization's remaining credits, if reported.
    pub fn credits_remaining(&self) -> Option<i64> {
        self.credits.and_then(|c| c.remaining)
    }
}

impl RateLimit {
    /// Whether any header contributed a value.
    fn is_present(&self) -> bool {
        self.limit.is_some() || self.remaining.is_some() || self.reset.is_some()
    }
}

impl Credits {
    /// Whether any header contributed a value.
    fn is_present(&self) -> bool {
        self.remaining.is_some() || self.used.is_some()
    }
}

/// Parses `Retry-After` into a delay from `now`.
///
/// The API documents whole seconds; HTTP also allows an HTTP-date, and a
/// proxy or future server may send fractional seconds, so both are accepted
/// too. A date in the past means "retry now" and gives zero. Anything else
/// (negative numbers, garbage, values too large for a `Duration`) gives
/// `None`.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Some(delay) = parse_delay_seconds(value) {
        return Some(delay);
    }
    // `parse_from_rfc2822` accepts the IMF-fixdate form HTTP uses
    // (`Wed, 21 Oct 2015 07:28:00 GMT`), including the `GMT` zone name.
    let date = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    // `to_std` fails exactly when the date is before `now`.
    Some((date - now).to_std().unwrap_or(Duration::ZERO))
}

/// Parses `digits` or `digits.digits` as seconds.
///
/// Hand-rolled rather than `f64::from_str`, which would also accept `inf`,
/// `NaN`, exponents and signs.
fn parse_delay_seconds(value: &str) -> Option<Duration> {
    let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match value.split_once('.') {
        None if is_digits(value) => value.parse().ok().map(Duration::from_secs),
        Some((whole, fraction)) if is_digits(whole) && is_digits(fraction) => {
            let seconds: f64 = value.parse().ok()?;
            Duration::try_from_secs_f64(seconds).ok()
        }
        _ => None,
    }
}

/// Reads the value of header `name` as trimmed, non-empty text and applies `parse`.
///
/// A header that is present but unusable is logged (by name only) so that a
/// misbehaving proxy or server can be diagnosed despite the leniency.
fn parsed<T>(raw: &HeaderValue, name: &str, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
    let result = raw
        .to_str()
        .ok()
        // `to_str` admits visible ASCII and tabs only; on such text the ASCII trim removes
        // exactly what `str::trim` would, without its Unicode tables.
        .map(str::trim_ascii)
        .filter(|s| !s.is_empty())
        .and_then(parse);
    if result.is_none() {
        tracing::debug!(header = name, "ignoring malformed response header");
    }
    result
}

fn parse_u64(value: &str) -> Option<u64> {
    value.parse().ok()
}

fn parse_i64(value: &str) -> Option<i64> {
    value.parse().ok()
}

/// A non-negative Unix timestamp in whole seconds, as the API documents.
/// No guessing about milliseconds: a wrong guess would be silently wrong.
fn parse_unix_seconds(value: &str) -> Option<DateTime<Utc>> {
    let seconds: i64 = value.parse().ok()?;
    if seconds < 0 {
        return None;
    }
    DateTime::from_timestamp(seconds, 0)
}

/// [`parse_unix_seconds`] of a value already read as digits.
fn unix_seconds(seconds: u64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(i64::try_from(seconds).ok()?, 0)
}

/// Request ids are opaque tokens; anything outside visible ASCII (such as an
/// embedded space) means the header was mangled, and a mangled id is useless
/// to support.
fn parse_request_id(value: &str) -> Option<String> {
    value
        .bytes()
        .all(|b| b.is_ascii_graphic())
        .then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    /// A fixed "now": 2015-10-21T07:28:00Z.
    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_445_412_480, 0).unwrap()
    }

    /// Builds a header map; names may use any case, as on the wire.
    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn meta(pairs: &[(&str, &str)]) -> ResponseMeta {
        ResponseMeta::from_headers(200, &headers(pairs), now())
    }

    #[test]
    fn the_scan_puts_each_name_in_its_slot() {
        for (slot, name) in NAMES.iter().enumerate() {
            let map = headers(&[("content-type", "application/json"), (name, "7")]);
            let found = Found::scan(&map);
            for (other, value) in found.0.iter().enumerate() {
                assert_eq!(value.is_some(), other == slot, "{name} in slot {other}");
            }
        }
    }

    #[test]
    fn plain_digits_read_as_the_general_parser_reads_them() {
        for text in [
            "0",
            "7",
            "0042",
            "1700000000",
            "999999999999999999",
            "9223372036854775807",
            "9223372036854775808",
            "9999999999999999999",
            "18446744073709551615",
            "+5",
            "-5",
            " 5 ",
            "5a",
            "",
        ] {
            let map = headers(&[
                ("x-ratelimit-limit", text),
                ("x-ratelimit-reset", text),
                ("x-api-credits-remaining", text),
            ]);
            let m = ResponseMeta::from_headers(200, &map, now());
            let general = |t: &str| {
                let t = t.trim();
                (
                    (!t.is_empty()).then(|| parse_u64(t)).flatten(),
                    (!t.is_empty()).then(|| parse_unix_seconds(t)).flatten(),
                    (!t.is_empty()).then(|| parse_i64(t)).flatten(),
                )
            };
            let read = (
                m.rate_limit.and_then(|r| r.limit),
                m.rate_limit.and_then(|r| r.reset),
                m.credits_remaining(),
            );
            assert_eq!(read, general(text), "{text:?}");
        }
    }

    #[test]
    fn a_repeated_header_reads_its_first_value_as_a_lookup_does() {
        let mut map = headers(&[("x-request-id", "req_first")]);
        map.append("x-request-id", HeaderValue::from_static("req_second"));
        map.append("x-ratelimit-remaining", HeaderValue::from_static("oops"));
        map.append("x-ratelimit-remaining", HeaderValue::from_static("5"));
        let m = ResponseMeta::from_headers(200, &map, now());
        assert_eq!(m.request_id.as_deref(), Some("req_first"));
        // The first value is malformed: the header reads as absent, as with `get`.
        assert_eq!(m.rate_limit_remaining(), None);
    }

    #[test]
    fn all_headers_present() {
        let m = ResponseMeta::from_headers(
            429,
            &headers(&[
                ("X-Request-ID", "req_abc123"),
                ("X-RateLimit-Limit", "100"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", "1700000000"),
                ("X-API-Credits-Remaining", "42"),
                ("X-API-Credits-Used", "958"),
                ("Retry-After", "30"),
            ]),
            now(),
        );
        assert_eq!(m.status, 429);
        assert_eq!(m.request_id.as_deref(), Some("req_abc123"));
        assert_eq!(
            m.rate_limit,
            Some(RateLimit {
                limit: Some(100),
                remaining: Some(0),
                reset: DateTime::from_timestamp(1_700_000_000, 0),
            })
        );
        assert_eq!(
            m.credits,
            Some(Credits {
                remaining: Some(42),
                used: Some(958),
            })
        );
        assert_eq!(m.retry_after, Some(Duration::from_secs(30)));
        assert_eq!(m.rate_limit_remaining(), Some(0));
        assert_eq!(m.credits_remaining(), Some(42));
    }

    #[test]
    fn all_headers_missing() {
        let m = ResponseMeta::from_headers(204, &HeaderMap::new(), now());
        assert_eq!(
            m,
            ResponseMeta {
                status: 204,
                ..ResponseMeta::default()
            }
        );
        assert_eq!(m.rate_limit_remaining(), None);
        assert_eq!(m.credits_remaining(), None);
    }

    #[test]
    fn values_are_trimmed() {
        let m = meta(&[
            ("x-request-id", "  req_1\t"),
            ("x-ratelimit-remaining", " 7 "),
            ("x-api-credits-used", "\t3"),
            ("retry-after", " 2 "),
        ]);
        assert_eq!(m.request_id.as_deref(), Some("req_1"));
        assert_eq!(m.rate_limit_remaining(), Some(7));
        assert_eq!(m.credits.unwrap().used, Some(3));
        assert_eq!(m.retry_after, Some(Duration::from_secs(2)));
    }

    #[test]
    fn one_rate_limit_header_is_enough() {
        let m = meta(&[("x-ratelimit-limit", "60")]);
        assert_eq!(
            m.rate_limit,
            Some(RateLimit {
                limit: Some(60),
                remaining: None,
                reset: None,
            })
        );
        assert_eq!(m.credits, None);
    }

    #[test]
    fn one_credits_header_is_enough() {
        let m = meta(&[("x-api-credits-remaining", "5")]);
        assert_eq!(
            m.credits,
            Some(Credits {
                remaining: Some(5),
                used: None,
            })
        );
        assert_eq!(m.rate_limit, None);
    }

    #[test]
    fn negative_credits_are_kept() {
        let m = meta(&[("x-api-credits-remaining", "-3")]);
        assert_eq!(m.credits_remaining(), Some(-3));
    }

    const MALFORMED: [&str; 6] = ["abc", "-1", "99999999999999999999999", "", "1.5", "12 34"];

    #[test]
    fn malformed_rate_limit_headers_are_ignored() {
        for name in [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ] {
            for bad in MALFORMED {
                let m = meta(&[(name, bad)]);
                assert_eq!(m.rate_limit, None, "{name}: {bad:?}");
            }
        }
    }

    #[test]
    fn malformed_credit_headers_are_ignored() {
        for name in ["x-api-credits-remaining", "x-api-credits-used"] {
            // "-1" is a valid (negative) balance, so it is not in this list.
            for bad in MALFORMED.into_iter().filter(|b| *b != "-1") {
                let m = meta(&[(name, bad)]);
                assert_eq!(m.credits, None, "{name}: {bad:?}");
            }
        }
    }

    #[test]
    fn one_malformed_header_does_not_hide_the_others() {
        let m = meta(&[
            ("x-ratelimit-limit", "lots"),
            ("x-ratelimit-remaining", "9"),
        ]);
        assert_eq!(
            m.rate_limit,
            Some(RateLimit {
                limit: None,
                remaining: Some(9),
                reset: None,
            })
        );
    }

    #[test]
    fn non_utf8_headers_are_ignored() {
        let bad = HeaderValue::from_bytes(b"\xff").unwrap();
        let mut map = HeaderMap::new();
        for name in NAMES {
            map.insert(name, bad.clone());
        }
        let m = ResponseMeta::from_headers(200, &map, now());
        assert_eq!(
            m,
            ResponseMeta {
                status: 200,
                ..ResponseMeta::default()
            }
        );
    }

    #[test]
    fn malformed_request_ids_are_ignored() {
        for bad in ["", "   ", "req 1", "req\t1"] {
            assert_eq!(meta(&[("x-request-id", bad)]).request_id, None, "{bad:?}");
        }
        let mut map = HeaderMap::new();
        map.insert(
            NAMES[REQUEST_ID],
            HeaderValue::from_bytes(b"req_\xc3\xa9").unwrap(),
        );
        assert_eq!(
            ResponseMeta::from_headers(200, &map, now()).request_id,
            None
        );
    }

    #[test]
    fn reset_converts_to_timestamp() {
        let m = meta(&[("x-ratelimit-reset", "1700000000")]);
        let reset = m.rate_limit.unwrap().reset.unwrap();
        assert_eq!(reset.to_rfc3339(), "2023-11-14T22:13:20+00:00");
        assert_eq!(reset.timestamp(), 1_700_000_000);
    }

    #[test]
    fn retry_after_whole_seconds() {
        assert_eq!(parse_retry_after("0", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("120", now()),
            Some(Duration::from_secs(120))
        );
    }

    #[test]
    fn retry_after_fractional_seconds() {
        assert_eq!(
            parse_retry_after("1.5", now()),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("0.25", now()),
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn retry_after_http_date() {
        // 90 seconds after `now()`.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:30 GMT", now()),
            Some(Duration::from_secs(90))
        );
        let m = meta(&[("retry-after", "Wed, 21 Oct 2015 07:28:05 GMT")]);
        assert_eq!(m.retry_after, Some(Duration::from_secs(5)));
    }

    #[test]
    fn retry_after_http_date_in_the_past_is_zero() {
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_garbage_is_none() {
        for bad in [
            "",
            "   ",
            "-1",
            "-0.5",
            "+5",
            "soon",
            "1.",
            ".5",
            "1.2.3",
            "1e3",
            "inf",
            "NaN",
            "99999999999999999999999",
            "Wed, 32 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now()), None, "{bad:?}");
        }
    }
}
