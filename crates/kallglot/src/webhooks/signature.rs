//! Parsing the `Kallglot-Signature` header and verifying deliveries.

use super::delivery::Received;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use super::error::{MalformedHeader, WebhookError};
use super::{DeliveryInfo, WebhookEvent, WebhookSecret};

/// The default [`Verifier::tolerance`]: five minutes.
///
/// Kallglot documents no replay window. Five minutes absorbs ordinary clock
/// drift and queueing while keeping a captured delivery replayable only
/// briefly. Retries are not affected: each attempt is signed afresh.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The default [`Verifier::body_limit`]: 1 MiB, far above any event envelope,
/// so an oversized body can only be an attack or a misrouted request.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Length of an HMAC-SHA256 output in bytes.
const SIGNATURE_LEN: usize = 32;

/// The parsed `Kallglot-Signature` header: `t=<unix seconds>,v1=<hex>[,...]`.
///
/// Parsing follows Kallglot's rules (split on `,`, then each entry on its
/// first `=`) and is lenient where that is safe:
/// - spaces and tabs around an entry are ignored;
/// - entries with unknown keys (`v0`, `v2`, …) are ignored, whatever their
///   value, so new signature schemes can be added without breaking anyone;
/// - `v1` may appear several times: the sender can sign with an old and a
///   new secret during a rotation, and any match verifies.
///
/// It is strict where leniency would make the signed content ambiguous: a
/// second `t`, an entry without `=` or an empty entry are errors, and every
/// `v1` must be 64 hexadecimal characters (either case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// `t` exactly as received, because the signed payload embeds the
    /// sender's string (`0123` and `123` sign differently).
    timestamp_raw: String,
    /// `t` as a number, for the tolerance check.
    timestamp: i64,
    /// Every `v1` value, decoded.
    signatures: Vec<[u8; SIGNATURE_LEN]>,
}

impl SignatureHeader {
    /// Parses a header value.
    ///
    /// # Errors
    ///
    /// [`WebhookError::MalformedHeader`], [`MissingTimestamp`](WebhookError::MissingTimestamp),
    /// [`InvalidTimestamp`](WebhookError::InvalidTimestamp),
    /// [`MissingSignature`](WebhookError::MissingSignature),
    /// [`InvalidSignatureEncoding`](WebhookError::InvalidSignatureEncoding) or
    /// [`InvalidSignatureLength`](WebhookError::InvalidSignatureLength).
    ///
    /// ```
    /// use kallglot::webhooks::SignatureHeader;
    ///
    /// let v1 = "ab".repeat(32);
    /// let header = SignatureHeader::parse(&format!("t=1700000000,v1={v1},v0=legacy")).unwrap();
    /// assert_eq!(header.timestamp(), 1_700_000_000);
    /// assert_eq!(header.signatures(), [[0xab; 32]]);
    /// ```
    pub fn parse(value: &str) -> Result<Self, WebhookError> {
        let malformed = WebhookError::MalformedHeader;
        if value.trim_matches(is_space).is_empty() {
            return Err(malformed(MalformedHeader::Empty));
        }
        let mut timestamp_raw = None;
        let mut signatures = Vec::new();
        for entry in value.split(',') {
            let entry = entry.trim_matches(is_space);
            if entry.is_empty() {
                return Err(malformed(MalformedHeader::EmptyEntry));
            }
            let (key, val) = entry
                .split_once('=')
                .ok_or(malformed(MalformedHeader::MissingEquals))?;
            match key {
                "" => return Err(malformed(MalformedHeader::EmptyKey)),
                "t" if timestamp_raw.is_some() => {
                    return Err(malformed(MalformedHeader::DuplicateTimestamp));
                }
                "t" => timestamp_raw = Some(val),
                "v1" => signatures.push(decode_signature(val)?),
                // Other schemes and future keys: not ours to judge.
                _ => {}
            }
        }
        let timestamp_raw = timestamp_raw.ok_or(WebhookError::MissingTimestamp)?;
        let timestamp = parse_timestamp(timestamp_raw)?;
        if signatures.is_empty() {
            return Err(WebhookError::MissingSignature);
        }
        Ok(Self {
            timestamp_raw: timestamp_raw.to_owned(),
            timestamp,
            signatures,
        })
    }

    /// The signing time `t`, in unix seconds.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// Every `v1` signature in the header, decoded, in header order.
    pub fn signatures(&self) -> &[[u8; SIGNATURE_LEN]] {
        &self.signatures
    }

    /// Whether any `v1` is the HMAC of this header's `t` and `body` under
    /// `secret`. Constant-time in the signature values.
    fn matches(&self, secret: &WebhookSecret, body: &[u8]) -> bool {
        let expected = compute(secret.key(), &self.timestamp_raw, body);
        // Fold every comparison so the time taken does not depend on which
        // value matched or how many bytes of a wrong one were right.
        let mut any = Choice::from(0);
        for candidate in &self.signatures {
            any |= candidate.ct_eq(&expected);
        }
        any.into()
    }
}

impl FromStr for SignatureHeader {
    type Err = WebhookError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// HTTP optional whitespace.
fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Digits only: no sign, no fraction, no exponent, no whitespace.
fn parse_timestamp(raw: &str) -> Result<i64, WebhookError> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebhookError::InvalidTimestamp);
    }
    raw.parse().map_err(|_| WebhookError::InvalidTimestamp)
}

fn decode_signature(hex_value: &str) -> Result<[u8; SIGNATURE_LEN], WebhookError> {
    // Checked in this order so that garbage is reported as garbage, and a
    // wrong length only for values that otherwise look right.
    if !hex_value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(WebhookError::InvalidSignatureEncoding);
    }
    if hex_value.len() != SIGNATURE_LEN * 2 {
        return Err(WebhookError::InvalidSignatureLength {
            len: hex_value.len(),
        });
    }
    let mut out = [0; SIGNATURE_LEN];
    hex::decode_to_slice(hex_value, &mut out)
        .map_err(|_| WebhookError::InvalidSignatureEncoding)?;
    Ok(out)
}

/// HMAC-SHA256 of `"{timestamp}.{body}"`.
pub(crate) fn compute(key: &[u8], timestamp: &str, body: &[u8]) -> [u8; SIGNATURE_LEN] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// A source of the current unix time in seconds.
type UnixClock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Verifies webhook deliveries against one or more signing secrets.
///
/// Build one at startup and share it: cloning is cheap (one reference count),
/// so it can sit in a web framework's application state.
///
/// A delivery verifies when some `v1` in its header is the HMAC-SHA256 of
/// `"{t}.{raw body}"` under some configured secret, **and** `t` is within the
/// [tolerance](Self::tolerance) of the current time. The signature is checked
/// first, so a [`TimestampOutsideTolerance`](WebhookError::TimestampOutsideTolerance)
/// error always concerns an authentic delivery: a replay, or a clock that is
/// off.
///
/// ```
/// use std::time::Duration;
/// use kallglot::webhooks::{Verifier, WebhookSecret};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = Verifier::new(WebhookSecret::new("whsec_new")?)
///     // Still accept the previous secret while the Portal switches over.
///     .with_secret(WebhookSecret::new("whsec_old")?)
///     .tolerance(Duration::from_secs(120));
///
/// let body = br#"{"id":"evt_1"}"#;
/// let header = kallglot::webhooks::testing::sign("whsec_old", chrono::Utc::now().timestamp(), body);
/// verifier.verify(&header, body)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    secrets: Vec<WebhookSecret>,
    tolerance: Duration,
    clock: UnixClock,
    body_limit: usize,
}

impl Verifier {
    /// A verifier for one secret, with the [default tolerance](DEFAULT_TOLERANCE)
    /// and the system clock.
    pub fn new(secret: WebhookSecret) -> Self {
        Self {
            inner: Arc::new(Inner {
                secrets: vec![secret],
                tolerance: DEFAULT_TOLERANCE,
                clock: Arc::new(|| chrono::Utc::now().timestamp()),
                body_limit: DEFAULT_BODY_LIMIT,
            }),
        }
    }

    /// Also accepts deliveries signed with `secret`.
    ///
    /// Use this to rotate your endpoint's secret without dropping deliveries:
    /// accept both the old and the new secret until the switch is done, then
    /// remove the old one.
    pub fn with_secret(mut self, secret: WebhookSecret) -> Self {
        Arc::make_mut(&mut self.inner).secrets.push(secret);
        self
    }

    /// How far the signature's `t` may be from the current time, in either
    /// direction.
    ///
    /// The bound is **inclusive** and counted in whole seconds (any fraction
    /// of `tolerance` is dropped): with 300 s, a `t` exactly 300 s old or 300 s
    /// ahead passes, 301 s fails. `Duration::ZERO` accepts only the current
    /// second; `Duration::MAX` disables the check, which removes the replay
    /// protection and is meant for tests.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        Arc::make_mut(&mut self.inner).tolerance = tolerance;
        self
    }

    /// Uses `clock`, returning the current unix time in seconds, instead of
    /// the system clock. Meant for tests, or for a host whose clock is known
    /// to be off.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Arc::make_mut(&mut self.inner).clock = Arc::new(clock);
        self
    }

    /// The largest body, in bytes, framework integrations such as
    /// `VerifiedWebhook` (feature `axum`) will read; larger bodies are
    /// refused before being buffered in full. Defaults to
    /// [`DEFAULT_BODY_LIMIT`]. The `verify*` methods themselves take any body
    /// they are given.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.inner).body_limit = bytes;
        self
    }

    /// The configured body limit; see [`body_limit`](Self::body_limit).
    pub fn max_body_bytes(&self) -> usize {
        self.inner.body_limit
    }

    /// Checks that `body` is an authentic, fresh delivery, given the value of
    /// its `Kallglot-Signature` header.
    ///
    /// `body` must be the exact bytes received: JSON that was parsed and
    /// re-serialized will not verify.
    ///
    /// # Errors
    ///
    /// Any header error of [`SignatureHeader::parse`], then
    /// [`WebhookError::SignatureMismatch`] or
    /// [`WebhookError::TimestampOutsideTolerance`].
    pub fn verify(&self, signature_header: &str, body: &[u8]) -> Result<(), WebhookError> {
        let header = SignatureHeader::parse(signature_header)?;
        self.verify_parsed(&header, body)
    }

    /// Like [`verify`](Self::verify), for a header that was already parsed.
    ///
    /// # Errors
    ///
    /// [`WebhookError::SignatureMismatch`] or
    /// [`WebhookError::TimestampOutsideTolerance`].
    pub fn verify_parsed(&self, header: &SignatureHeader, body: &[u8]) -> Result<(), WebhookError> {
        // Every secret is tried even after a match, so the time taken does
        // not reveal which secret signed.
        let mut authentic = false;
        for secret in &self.inner.secrets {
            authentic |= header.matches(secret, body);
        }
        if !authentic {
            return Err(WebhookError::SignatureMismatch);
        }
        self.check_timestamp(header.timestamp())
    }

    fn check_timestamp(&self, timestamp: i64) -> Result<(), WebhookError> {
        let now = (self.inner.clock)();
        // i128 cannot overflow for any pair of i64s.
        let age = i128::from(now) - i128::from(timestamp);
        if age.unsigned_abs() <= u128::from(self.inner.tolerance.as_secs()) {
            Ok(())
        } else {
            Err(WebhookError::TimestampOutsideTolerance {
                age_secs: i64::try_from(age).unwrap_or(if age < 0 { i64::MIN } else { i64::MAX }),
                tolerance: self.inner.tolerance,
            })
        }
    }

    /// Verifies the delivery like [`verify`](Self::verify), then parses the
    /// body as an event.
    ///
    /// # Errors
    ///
    /// Those of [`verify`](Self::verify), then
    /// [`WebhookError::InvalidPayload`]. Unknown event types and extra fields
    /// are not errors.
    pub fn construct_event(
        &self,
        signature_header: &str,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        self.verify(signature_header, body)?;
        serde_json::from_slice(body).map_err(WebhookError::InvalidPayload)
    }

    /// Verifies and parses a delivery given all of its HTTP headers, and reads
    /// the delivery headers too. `headers` is any collection of `(name, value)` pairs:
    /// a `&http::HeaderMap` from any framework built on the `http` crate works as it is.
    ///
    /// # Errors
    ///
    /// [`WebhookError::MissingHeader`] without a `Kallglot-Signature` header,
    /// [`WebhookError::MalformedHeader`] when there are several or the value
    /// is not ASCII, then those of [`construct_event`](Self::construct_event).
    /// The delivery headers never cause an error.
    pub fn verify_request<I, K, V>(
        &self,
        headers: I,
        body: &[u8],
    ) -> Result<(WebhookEvent, DeliveryInfo), WebhookError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let received = Received::collect(headers);
        let value = match received.signatures.as_slice() {
            [] => return Err(WebhookError::MissingHeader),
            [value] => value,
            // A proxy or attacker added one: which one counts is ambiguous.
            _ => {
                return Err(WebhookError::MalformedHeader(
                    MalformedHeader::MultipleHeaders,
                ));
            }
        };
        let value = std::str::from_utf8(value)
            .ok()
            .filter(|v| v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)))
            .ok_or(WebhookError::MalformedHeader(
                MalformedHeader::InvalidCharacters,
            ))?;
        let event = self.construct_event(value, body)?;
        Ok((event, DeliveryInfo::from_received(&received)))
    }
}

impl fmt::Debug for Verifier {
    /// Shows the secrets redacted, so a logged config or state is harmless.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("secrets", &self.inner.secrets)
            .field("tolerance", &self.inner.tolerance)
            .field("body_limit", &self.inner.body_limit)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_unit_SECRET";

    fn verifier(now: i64) -> Verifier {
        Verifier::new(WebhookSecret::new(SECRET).unwrap()).with_clock(move || now)
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn known_vector() {
        // Computed outside Rust, with Python's `hmac` module:
        // hmac.new(b"whsec_test", b'1700000000.{"id":"evt_1"}', hashlib.sha256).hexdigest()
        assert_eq!(
            hex(&compute(b"whsec_test", "1700000000", br#"{"id":"evt_1"}"#)),
            "c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"
        );
    }

    #[test]
    fn timestamp_is_signed_as_received() {
        let body = b"{}";
        let sig = hex(&compute(SECRET.as_bytes(), "0100", body));
        let v = verifier(100);
        v.verify(&format!("t=0100,v1={sig}"), body).unwrap();
        assert!(matches!(
            v.verify(&format!("t=100,v1={sig}"), body),
            Err(WebhookError::SignatureMismatch)
        ));
    }

    #[test]
    fn uppercase_hex_is_accepted() {
        let body = b"{}";
        let sig = hex(&compute(SECRET.as_bytes(), "5", body)).to_uppercase();
        verifier(5).verify(&format!("t=5,v1={sig}"), body).unwrap();
    }

    #[test]
    fn signature_is_checked_before_tolerance() {
        let body = b"{}";
        let wrong = "0".repeat(64);
        // A forged delivery with a stale timestamp reports the forgery.
        assert!(matches!(
            verifier(10_000).verify(&format!("t=1,v1={wrong}"), body),
            Err(WebhookError::SignatureMismatch)
        ));
    }

    #[test]
    fn extreme_clock_values_do_not_overflow() {
        let body = b"{}";
        let t = i64::MAX.to_string();
        let sig = hex(&compute(SECRET.as_bytes(), &t, body));
        let err = verifier(i64::MIN)
            .verify(&format!("t={t},v1={sig}"), body)
            .unwrap_err();
        assert!(matches!(
            err,
            WebhookError::TimestampOutsideTolerance {
                age_secs: i64::MIN,
                ..
            }
        ));
        verifier(i64::MIN)
            .tolerance(Duration::MAX)
            .verify(&format!("t={t},v1={sig}"), body)
            .unwrap();
    }

    #[test]
    fn debug_is_redacted() {
        let v = verifier(0).with_secret(WebhookSecret::new("plainSECRET").unwrap());
        let debug = format!("{v:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(
            debug.contains("whsec_…") && debug.contains("[redacted]"),
            "{debug}"
        );
    }

    #[test]
    fn clones_share_configuration_but_builders_do_not_leak() {
        let a = verifier(0);
        let b = a.clone().tolerance(Duration::from_secs(1));
        assert_eq!(a.inner.tolerance, DEFAULT_TOLERANCE);
        assert_eq!(b.inner.tolerance, Duration::from_secs(1));
        let c = a.clone();
        assert!(Arc::ptr_eq(&a.inner, &c.inner));
        assert_eq!(a.body_limit(10).max_body_bytes(), 10);
    }
}
