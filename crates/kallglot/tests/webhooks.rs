//! Webhook verification, events, delivery headers, de-duplication and the axum
//! extractor, from a user's point of view.
//!
//! Signatures are computed here by a separate implementation, HMAC-SHA256 built by
//! hand from `sha2::Sha256` with the RFC 2104 pads and checked against RFC 4231, so
//! a bug in the SDK's own signing cannot hide itself by agreeing with its own
//! verification.
#![cfg(feature = "webhooks")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use http::{HeaderMap, HeaderValue};
use kallglot::SessionId;
use kallglot::model::SessionStatus;
use kallglot::webhooks::{
    Deduplicator, DeliveryInfo, EventType, InMemoryDeduplicator, MalformedHeader, SignatureHeader,
    Verifier, WebhookError, WebhookEvent, WebhookSecret, testing,
};
use sha2::{Digest, Sha256};

const SECRET: &str = "whsec_INTEGRATION_SECRET_value";
const SECRET_MARKER: &str = "INTEGRATION_SECRET";
const OTHER_SECRET: &str = "rotated-SECOND-secret";
const NOW: i64 = 1_774_522_800; // 2026-03-26T11:00:00Z

const SESSION_ENDED: &str = r#"{"id":"evt_01HXYZ123456789","type":"session.ended","api_version":"v1","created_at":"2026-03-26T11:00:00Z","data":{"id":"sess_01HXYZ123456789","object":"session","status":"ended","duration":245.3}}"#;

// ---------------------------------------------------------------------------
// An independent HMAC-SHA256.

/// HMAC-SHA256 per RFC 2104, written out with the ipad/opad construction.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = block_key.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block_key.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize();
    outer.into()
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

/// The `v1` value for `body` at `t`, computed independently of the SDK.
fn v1(secret: &str, t: &str, body: &[u8]) -> String {
    let mut payload = format!("{t}.").into_bytes();
    payload.extend_from_slice(body);
    to_hex(&hmac_sha256(secret.as_bytes(), &payload))
}

fn header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", v1(secret, &t.to_string(), body))
}

fn verifier_at(now: i64) -> Verifier {
    Verifier::new(WebhookSecret::new(SECRET).unwrap()).with_clock(move || now)
}

fn verifier() -> Verifier {
    verifier_at(NOW)
}

#[test]
fn reference_hmac_matches_rfc_4231() {
    // Test case 2.
    assert_eq!(
        to_hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // Test case 6: a key longer than the block size is hashed first.
    assert_eq!(
        to_hex(&hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

// ---------------------------------------------------------------------------
// Verification.

#[test]
fn valid_delivery_verifies_and_parses() {
    let body = SESSION_ENDED.as_bytes();
    let h = header(SECRET, NOW, body);
    verifier().verify(&h, body).unwrap();
    let event = verifier().construct_event(&h, body).unwrap();
    assert_eq!(event.id, "evt_01HXYZ123456789");
    assert_eq!(event.kind, EventType::SessionEnded);
    assert_eq!(event.api_version, "v1");
    assert_eq!(
        event.created_at,
        Utc.with_ymd_and_hms(2026, 3, 26, 11, 0, 0).unwrap()
    );
}

#[test]
fn sdk_signing_helper_agrees_with_independent_hmac() {
    for body in [
        &b""[..],
        b"{}",
        SESSION_ENDED.as_bytes(),
        "ünï\0\n".as_bytes(),
    ] {
        for secret in [SECRET, "x", &"k".repeat(200)] {
            assert_eq!(testing::sign(secret, NOW, body), header(secret, NOW, body));
            assert_eq!(testing::signature(secret, 0, body), v1(secret, "0", body));
        }
    }
}

#[test]
fn tolerance_is_inclusive_in_both_directions() {
    let body = b"{}";
    let v = verifier();
    for offset in [-300, -299, -1, 0, 1, 299, 300] {
        v.verify(&header(SECRET, NOW + offset, body), body)
            .unwrap_or_else(|e| panic!("offset {offset}: {e}"));
    }
    // Too old.
    match v.verify(&header(SECRET, NOW - 301, body), body) {
        Err(WebhookError::TimestampOutsideTolerance {
            age_secs,
            tolerance,
        }) => {
            assert_eq!(age_secs, 301);
            assert_eq!(tolerance, Duration::from_secs(300));
        }
        other => panic!("{other:?}"),
    }
    // Too far in the future.
    let err = v
        .verify(&header(SECRET, NOW + 301, body), body)
        .unwrap_err();
    assert!(matches!(
        err,
        WebhookError::TimestampOutsideTolerance { age_secs: -301, .. }
    ));
    assert!(err.to_string().contains("301 s in the future"), "{err}");
    // Way out: a day-old replay.
    let err = v
        .verify(&header(SECRET, NOW - 86_400, body), body)
        .unwrap_err();
    assert!(err.to_string().contains("86400 s in the past"), "{err}");
    assert_eq!(err.http_status(), 401);
}

#[test]
fn tolerance_is_configurable_in_whole_seconds() {
    let body = b"{}";
    let tight = verifier().tolerance(Duration::from_millis(10_900));
    tight.verify(&header(SECRET, NOW - 10, body), body).unwrap();
    assert!(tight.verify(&header(SECRET, NOW - 11, body), body).is_err());

    let zero = verifier().tolerance(Duration::ZERO);
    zero.verify(&header(SECRET, NOW, body), body).unwrap();
    assert!(zero.verify(&header(SECRET, NOW + 1, body), body).is_err());
    assert!(zero.verify(&header(SECRET, NOW - 1, body), body).is_err());

    let off = verifier().tolerance(Duration::MAX);
    off.verify(&header(SECRET, 0, body), body).unwrap();
    off.verify(&header(SECRET, i64::MAX, body), body).unwrap();
}

#[test]
fn clock_is_read_on_every_verification() {
    let body = b"{}";
    let now = Arc::new(AtomicU64::new(NOW as u64));
    let handle = Arc::clone(&now);
    let v = Verifier::new(WebhookSecret::new(SECRET).unwrap())
        .with_clock(move || handle.load(Ordering::SeqCst) as i64);
    let h = header(SECRET, NOW, body);
    v.verify(&h, body).unwrap();
    now.fetch_add(300, Ordering::SeqCst);
    v.verify(&h, body).unwrap();
    now.fetch_add(1, Ordering::SeqCst);
    assert!(matches!(
        v.verify(&h, body),
        Err(WebhookError::TimestampOutsideTolerance { age_secs: 301, .. })
    ));
}

#[test]
fn default_clock_is_the_system_clock() {
    let body = b"{}";
    let v = Verifier::new(WebhookSecret::new(SECRET).unwrap());
    let now = Utc::now().timestamp();
    v.verify(&header(SECRET, now, body), body).unwrap();
    assert!(v.verify(&header(SECRET, now - 3600, body), body).is_err());
}

#[test]
fn sender_side_rotation_any_v1_matches() {
    let body = SESSION_ENDED.as_bytes();
    let t = NOW.to_string();
    let good = v1(SECRET, &t, body);
    let stale = v1("old-secret-no-longer-ours", &t, body);
    let v = verifier();
    for h in [
        format!("t={t},v1={stale},v1={good}"),
        format!("t={t},v1={good},v1={stale}"),
        format!("v1={stale},t={t},v1={good}"),
        format!("t={t},v1={good},v1={good}"),
        format!("t={t},v0=deadbeef,v1={good},v2=future-scheme,x=y=z"),
        format!(" t={t} ,\tv1={good} "),
    ] {
        v.verify(&h, body).unwrap_or_else(|e| panic!("{h}: {e}"));
    }
    assert!(matches!(
        v.verify(&format!("t={t},v1={stale},v1={stale}"), body),
        Err(WebhookError::SignatureMismatch)
    ));
}

#[test]
fn receiver_side_rotation_any_secret_matches() {
    let body = SESSION_ENDED.as_bytes();
    let v = verifier().with_secret(WebhookSecret::new(OTHER_SECRET).unwrap());
    v.verify(&header(SECRET, NOW, body), body).unwrap();
    v.verify(&header(OTHER_SECRET, NOW, body), body).unwrap();
    assert!(matches!(
        v.verify(&header("a-third-secret", NOW, body), body),
        Err(WebhookError::SignatureMismatch)
    ));
    // The first verifier alone does not know the second secret.
    assert!(matches!(
        verifier().verify(&header(OTHER_SECRET, NOW, body), body),
        Err(WebhookError::SignatureMismatch)
    ));
}

#[test]
fn altered_bodies_and_timestamps_fail() {
    let compact = SESSION_ENDED;
    let value: serde_json::Value = serde_json::from_str(compact).unwrap();
    let pretty = serde_json::to_string_pretty(&value).unwrap();
    let v = verifier();

    // Signed compact, received re-serialized (and vice versa).
    let h = header(SECRET, NOW, compact.as_bytes());
    for altered in [
        pretty.clone(),
        format!("{compact}\n"),
        compact.replace("245.3", "245.4"),
        compact.replace("evt_", "evt-"),
        String::new(),
    ] {
        assert!(
            matches!(
                v.verify(&h, altered.as_bytes()),
                Err(WebhookError::SignatureMismatch)
            ),
            "{altered}"
        );
    }
    let h = header(SECRET, NOW, pretty.as_bytes());
    v.verify(&h, pretty.as_bytes()).unwrap();
    assert!(matches!(
        v.construct_event(&h, compact.as_bytes()),
        Err(WebhookError::SignatureMismatch)
    ));

    // The same signature under another timestamp, or a re-formatted one.
    let sig = v1(SECRET, &NOW.to_string(), compact.as_bytes());
    for h in [
        format!("t={},v1={sig}", NOW + 1),
        format!("t=0{NOW},v1={sig}"),
    ] {
        assert!(
            matches!(
                v.verify(&h, compact.as_bytes()),
                Err(WebhookError::SignatureMismatch)
            ),
            "{h}"
        );
    }
    // Wrong secret.
    assert!(matches!(
        v.verify(
            &header("whsec_wrong", NOW, compact.as_bytes()),
            compact.as_bytes()
        ),
        Err(WebhookError::SignatureMismatch)
    ));
}

/// A comparable name for every header error, as the error type holds a
/// `serde_json::Error` and so is not `PartialEq`.
fn kind(err: &WebhookError) -> String {
    match err {
        WebhookError::MissingHeader => "MissingHeader".into(),
        WebhookError::MalformedHeader(m) => format!("Malformed({m:?})"),
        WebhookError::MissingTimestamp => "MissingTimestamp".into(),
        WebhookError::InvalidTimestamp => "InvalidTimestamp".into(),
        WebhookError::MissingSignature => "MissingSignature".into(),
        WebhookError::InvalidSignatureEncoding => "InvalidSignatureEncoding".into(),
        WebhookError::InvalidSignatureLength { len } => format!("InvalidSignatureLength({len})"),
        WebhookError::TimestampOutsideTolerance { .. } => "OutsideTolerance".into(),
        WebhookError::SignatureMismatch => "SignatureMismatch".into(),
        WebhookError::InvalidPayload(_) => "InvalidPayload".into(),
        other => format!("other: {other}"),
    }
}

#[test]
fn malformed_headers_each_have_their_error() {
    let good = "a".repeat(64);
    let cases: Vec<(String, &str)> = vec![
        // Garbled structure.
        (String::new(), "Malformed(Empty)"),
        (" \t ".into(), "Malformed(Empty)"),
        (format!("t=1,,v1={good}"), "Malformed(EmptyEntry)"),
        (format!(",t=1,v1={good}"), "Malformed(EmptyEntry)"),
        (format!("t=1,v1={good},"), "Malformed(EmptyEntry)"),
        (format!("t=1, ,v1={good}"), "Malformed(EmptyEntry)"),
        (",".into(), "Malformed(EmptyEntry)"),
        ("garbage".into(), "Malformed(MissingEquals)"),
        (format!("t1,v1={good}"), "Malformed(MissingEquals)"),
        (format!("t=1,v1{good}"), "Malformed(MissingEquals)"),
        (format!("=1,t=1,v1={good}"), "Malformed(EmptyKey)"),
        (
            format!("t=1,t=1,v1={good}"),
            "Malformed(DuplicateTimestamp)",
        ),
        (
            format!("t=1,v1={good},t=2"),
            "Malformed(DuplicateTimestamp)",
        ),
        // Timestamp.
        (format!("v1={good}"), "MissingTimestamp"),
        (format!("T=1,v1={good}"), "MissingTimestamp"),
        (format!("ts=1,v1={good}"), "MissingTimestamp"),
        (format!("t=,v1={good}"), "InvalidTimestamp"),
        (format!("t=abc,v1={good}"), "InvalidTimestamp"),
        (format!("t=-5,v1={good}"), "InvalidTimestamp"),
        (format!("t=+5,v1={good}"), "InvalidTimestamp"),
        (format!("t=1.5,v1={good}"), "InvalidTimestamp"),
        (format!("t=1e9,v1={good}"), "InvalidTimestamp"),
        (format!("t= 1,v1={good}"), "InvalidTimestamp"),
        (format!("t=0x10,v1={good}"), "InvalidTimestamp"),
        (format!("t=١٢٣,v1={good}"), "InvalidTimestamp"),
        (
            format!("t=9223372036854775808,v1={good}"),
            "InvalidTimestamp",
        ),
        (
            format!("t=99999999999999999999999,v1={good}"),
            "InvalidTimestamp",
        ),
        (format!("t=1;v1={good}"), "InvalidTimestamp"),
        // Signature.
        ("t=1".into(), "MissingSignature"),
        ("t=1,v0=abc,v2=def".into(), "MissingSignature"),
        ("t=1,V1=abc".into(), "MissingSignature"),
        ("t=1,v1=".into(), "InvalidSignatureLength(0)"),
        ("t=1,v1=abc".into(), "InvalidSignatureLength(3)"),
        (
            format!("t=1,v1={}", "a".repeat(63)),
            "InvalidSignatureLength(63)",
        ),
        (
            format!("t=1,v1={}", "a".repeat(66)),
            "InvalidSignatureLength(66)",
        ),
        ("t=1,v1=xyz".into(), "InvalidSignatureEncoding"),
        (
            format!("t=1,v1={}g", "a".repeat(63)),
            "InvalidSignatureEncoding",
        ),
        (
            format!("t=1,v1= {}", "a".repeat(64)),
            "InvalidSignatureEncoding",
        ),
        (format!("t=1,v1=sha256={good}"), "InvalidSignatureEncoding"),
        (format!("t=1,v1={good},v1=zz"), "InvalidSignatureEncoding"),
        (format!("t=1,v1={good},v1=ab"), "InvalidSignatureLength(2)"),
    ];
    let v = verifier_at(1);
    for (h, expected) in &cases {
        let parsed = SignatureHeader::parse(h).map(|_| ()).map_err(|e| kind(&e));
        assert_eq!(parsed, Err(expected.to_string()), "parse {h:?}");
        let err = v.verify(h, b"{}").unwrap_err();
        assert_eq!(kind(&err), *expected, "verify {h:?}");
        assert_eq!(err.http_status(), 400, "{h:?}");
        assert!(!err.to_string().contains(SECRET_MARKER));
    }
    // A well-formed header with a wrong signature is a mismatch, not garbled.
    assert_eq!(
        kind(&v.verify(&format!("t=1,v1={good}"), b"{}").unwrap_err()),
        "SignatureMismatch"
    );
}

#[test]
fn parsed_header_exposes_its_parts() {
    let a = "0a".repeat(32);
    let b = "FF".repeat(32);
    let parsed: SignatureHeader = format!("t=42,v1={a},v0=x,v1={b}").parse().unwrap();
    assert_eq!(parsed.timestamp(), 42);
    assert_eq!(parsed.signatures(), [[0x0a; 32], [0xff; 32]]);
    // A parsed header can be verified without parsing again.
    let body = b"{}";
    let h: SignatureHeader = header(SECRET, NOW, body).parse().unwrap();
    verifier().verify_parsed(&h, body).unwrap();
}

// ---------------------------------------------------------------------------
// Events.

fn signed_event(body: &str) -> Result<WebhookEvent, WebhookError> {
    verifier().construct_event(&header(SECRET, NOW, body.as_bytes()), body.as_bytes())
}

#[test]
fn unknown_event_types_and_extra_fields_parse() {
    let event = signed_event(
        r#"{"id":"evt_2","type":"session.teleported","api_version":"v9",
            "created_at":"2026-03-26T11:00:00.123456+02:00","livemode":true,
            "data":{"id":"sess_1","object":"session","nested":{"a":[1,2,3]}},"extra":null}"#,
    )
    .unwrap();
    assert_eq!(event.kind, EventType::Unknown("session.teleported".into()));
    assert!(event.kind.is_unknown());
    assert_eq!(event.api_version, "v9");
    assert_eq!(
        event.created_at.timestamp_millis(),
        Utc.with_ymd_and_hms(2026, 3, 26, 9, 0, 0)
            .unwrap()
            .timestamp_millis()
            + 123
    );
    assert_eq!(event.data.object_id(), Some("sess_1"));
    assert_eq!(event.data.object_type(), Some("session"));
    assert_eq!(event.data.raw()["nested"]["a"][2], 3);
    assert_eq!(event.session_ended(), None);
}

#[test]
fn every_documented_event_type_is_known() {
    let types = [
        ("session.created", EventType::SessionCreated),
        ("session.started", EventType::SessionStarted),
        ("session.ended", EventType::SessionEnded),
        ("transcript.ready", EventType::TranscriptReady),
        ("transcript.segment", EventType::TranscriptSegment),
        ("recording.ready", EventType::RecordingReady),
        ("recording.failed", EventType::RecordingFailed),
        ("analysis.complete", EventType::AnalysisComplete),
        ("analysis.failed", EventType::AnalysisFailed),
        (
            "session.provider.connected",
            EventType::SessionProviderConnected,
        ),
        (
            "session.provider.disconnected",
            EventType::SessionProviderDisconnected,
        ),
    ];
    for (wire, expected) in types {
        let event = signed_event(&format!(
            r#"{{"id":"evt_1","type":"{wire}","api_version":"v1","created_at":"2026-03-26T11:00:00Z","data":{{"id":"x_1"}}}}"#
        ))
        .unwrap();
        assert_eq!(event.kind, expected);
        assert_eq!(event.kind.to_string(), wire);
        assert_eq!(event.data.object_id(), Some("x_1"));
    }
}

#[test]
fn lenient_envelope_fields() {
    // No api_version, no data.
    let event = signed_event(
        r#"{"id":"evt_3","type":"recording.ready","created_at":"2026-03-26T11:00:00Z"}"#,
    )
    .unwrap();
    assert_eq!(event.api_version, "");
    assert!(event.data.raw().is_null());
    assert_eq!(event.data.object_id(), None);

    // Data of an unexpected shape is kept, and helpers say None.
    let event = signed_event(
        r#"{"id":"evt_4","type":"transcript.segment","api_version":"v1","created_at":"2026-03-26T11:00:00Z","data":["x"]}"#,
    )
    .unwrap();
    assert_eq!(event.data.object_id(), None);
    assert_eq!(event.data.raw()[0], "x");

    // Round trip through serde keeps the wire names.
    let back = serde_json::to_value(&event).unwrap();
    assert_eq!(back["type"], "transcript.segment");
    assert_eq!(back["id"], "evt_4");
}

#[test]
fn bodies_that_are_not_an_envelope_are_invalid_payloads() {
    for body in [
        "",
        "not json",
        "[]",
        "null",
        r#"{"id":"evt_1"}"#,
        r#"{"type":"session.ended","created_at":"2026-03-26T11:00:00Z"}"#,
        r#"{"id":"evt_1","type":"session.ended"}"#,
        r#"{"id":"evt_1","type":"session.ended","created_at":"yesterday"}"#,
        r#"{"id":1,"type":"session.ended","created_at":"2026-03-26T11:00:00Z"}"#,
        r#"{"id":"evt_1","type":7,"created_at":"2026-03-26T11:00:00Z"}"#,
        r#"{"id":"evt_1","type":"session.ended","created_at":"2026-03-26T11:00:00Z"} trailing"#,
    ] {
        let err = signed_event(body).unwrap_err();
        assert!(
            matches!(err, WebhookError::InvalidPayload(_)),
            "{body}: {err}"
        );
        assert_eq!(err.http_status(), 400);
        assert!(std::error::Error::source(&err).is_some());
    }
}

#[test]
fn session_ended_typed_view() {
    let event = signed_event(SESSION_ENDED).unwrap();
    let ended = event.session_ended().unwrap();
    assert_eq!(ended.id, SessionId::new("sess_01HXYZ123456789"));
    assert_eq!(ended.status, Some(SessionStatus::Ended));
    assert_eq!(ended.duration, Some(245.3));
    assert_eq!(ended.duration_seconds, None);
    assert_eq!(ended.seconds(), Some(245.3));

    // The REST spelling, an unknown status and extra fields.
    let event = signed_event(
        r#"{"id":"evt_5","type":"session.ended","api_version":"v1","created_at":"2026-03-26T11:00:00Z",
            "data":{"id":"sess_2","status":"archived","duration_seconds":12,"end_reason":"hangup"}}"#,
    )
    .unwrap();
    let ended = event.session_ended().unwrap();
    assert_eq!(
        ended.status,
        Some(SessionStatus::Unknown("archived".into()))
    );
    assert_eq!(ended.duration, None);
    assert_eq!(ended.seconds(), Some(12.0));

    // Without an id there is no typed view, but the event still parses.
    let event = signed_event(
        r#"{"id":"evt_6","type":"session.ended","api_version":"v1","created_at":"2026-03-26T11:00:00Z","data":{"status":"ended"}}"#,
    )
    .unwrap();
    assert_eq!(event.session_ended(), None);
    assert_eq!(event.data.get("status").unwrap(), "ended");
}

#[test]
fn custom_views_through_deserialize() {
    #[derive(serde::Deserialize)]
    struct RecordingView {
        id: String,
        session_id: Option<String>,
    }
    let event = signed_event(
        r#"{"id":"evt_7","type":"recording.ready","api_version":"v1","created_at":"2026-03-26T11:00:00Z","data":{"id":"rec_1","session_id":"sess_1","format":"mp3"}}"#,
    )
    .unwrap();
    let view: RecordingView = event.data.deserialize().unwrap();
    assert_eq!(view.id, "rec_1");
    assert_eq!(view.session_id.as_deref(), Some("sess_1"));
}

// ---------------------------------------------------------------------------
// HeaderMap entry point and delivery headers.

fn delivery_headers(signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("kallglot-signature", signature.parse().unwrap());
    headers.insert("Kallglot-Webhook-Id", "wh_del_01ABC".parse().unwrap());
    headers.insert("Kallglot-Retry-Count", "3".parse().unwrap());
    headers.insert("Kallglot-Original-Timestamp", "1774522000".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    headers
}

#[test]
fn verify_request_reads_all_headers() {
    let body = SESSION_ENDED.as_bytes();
    let headers = delivery_headers(&header(SECRET, NOW, body));
    let (event, delivery) = verifier().verify_request(&headers, body).unwrap();
    assert_eq!(event.id, "evt_01HXYZ123456789");
    assert_eq!(delivery.delivery_id.as_deref(), Some("wh_del_01ABC"));
    assert_eq!(delivery.retry_count, Some(3));
    assert!(delivery.is_retry());
    assert_eq!(
        delivery.original_timestamp,
        Some(Utc.timestamp_opt(1_774_522_000, 0).unwrap())
    );
}

#[test]
fn verify_request_header_failures() {
    let body = SESSION_ENDED.as_bytes();
    let v = verifier();

    let err = v.verify_request(&HeaderMap::new(), body).unwrap_err();
    assert!(matches!(err, WebhookError::MissingHeader));
    assert_eq!(err.http_status(), 400);

    let mut twice = delivery_headers(&header(SECRET, NOW, body));
    twice.append(
        "Kallglot-Signature",
        header(SECRET, NOW, body).parse().unwrap(),
    );
    assert!(matches!(
        v.verify_request(&twice, body),
        Err(WebhookError::MalformedHeader(
            MalformedHeader::MultipleHeaders
        ))
    ));

    let mut opaque = HeaderMap::new();
    opaque.insert(
        "Kallglot-Signature",
        HeaderValue::from_bytes(b"t=1,v1=\xff\xfe").unwrap(),
    );
    assert!(matches!(
        v.verify_request(&opaque, body),
        Err(WebhookError::MalformedHeader(
            MalformedHeader::InvalidCharacters
        ))
    ));

    let headers = delivery_headers(&header(SECRET, NOW, b"other body"));
    assert!(matches!(
        v.verify_request(&headers, body),
        Err(WebhookError::SignatureMismatch)
    ));
}

#[test]
fn delivery_info_is_lenient() {
    assert_eq!(
        DeliveryInfo::from_headers(&HeaderMap::new()),
        DeliveryInfo::default()
    );

    let first = {
        let mut h = HeaderMap::new();
        h.insert("kallglot-retry-count", "0".parse().unwrap());
        DeliveryInfo::from_headers(&h)
    };
    assert_eq!(first.retry_count, Some(0));
    assert!(!first.is_retry());

    for bad in ["", "abc", "-1", "+1", "1.0", "1e3", "99999999999", "0x1"] {
        let mut h = HeaderMap::new();
        h.insert("Kallglot-Retry-Count", bad.parse().unwrap());
        h.insert("Kallglot-Original-Timestamp", bad.parse().unwrap());
        h.insert("Kallglot-Webhook-Id", "   ".parse().unwrap());
        let info = DeliveryInfo::from_headers(&h);
        assert_eq!(info.retry_count, None, "{bad:?}");
        if bad != "99999999999" {
            assert_eq!(info.original_timestamp, None, "{bad:?}");
        }
        assert_eq!(info.delivery_id, None);
        assert!(!info.is_retry());
    }

    // Out of chrono's range.
    let mut h = HeaderMap::new();
    h.insert(
        "Kallglot-Original-Timestamp",
        "99999999999999999".parse().unwrap(),
    );
    assert_eq!(DeliveryInfo::from_headers(&h).original_timestamp, None);

    // Not ASCII.
    let mut h = HeaderMap::new();
    h.insert(
        "Kallglot-Webhook-Id",
        HeaderValue::from_bytes(b"wh_\xff").unwrap(),
    );
    assert_eq!(DeliveryInfo::from_headers(&h).delivery_id, None);
}

// ---------------------------------------------------------------------------
// De-duplication.

#[test]
fn dedup_reports_only_the_first_delivery() {
    let d = InMemoryDeduplicator::new(10);
    assert!(d.is_empty());
    assert!(d.first_delivery("evt_1"));
    assert!(!d.first_delivery("evt_1"));
    assert!(!d.first_delivery("evt_1"));
    assert!(d.first_delivery("evt_2"));
    assert_eq!(d.len(), 2);
}

#[test]
fn dedup_evicts_the_oldest_beyond_capacity() {
    let d = InMemoryDeduplicator::new(3);
    for id in ["a", "b", "c"] {
        assert!(d.first_delivery(id));
    }
    // A repeat does not refresh "a": eviction order is first-seen order.
    assert!(!d.first_delivery("a"));
    assert!(d.first_delivery("d")); // evicts "a"
    assert_eq!(d.len(), 3);
    assert!(!d.first_delivery("b"));
    assert!(!d.first_delivery("c"));
    assert!(!d.first_delivery("d"));
    assert!(d.first_delivery("a")); // forgotten, so new again; evicts "b"
    assert!(d.first_delivery("b"));
    assert_eq!(d.len(), 3);
    assert_eq!(d.capacity(), 3);
}

#[test]
fn dedup_ttl_expires_ids() {
    let base = Instant::now();
    let secs = Arc::new(AtomicU64::new(0));
    let handle = Arc::clone(&secs);
    let d = InMemoryDeduplicator::new(100)
        .with_ttl(Duration::from_secs(3600))
        .with_clock(move || base + Duration::from_secs(handle.load(Ordering::SeqCst)));
    assert!(d.first_delivery("evt_1"));
    secs.store(1800, Ordering::SeqCst);
    assert!(d.first_delivery("evt_2"));
    assert!(!d.first_delivery("evt_1"));
    secs.store(3599, Ordering::SeqCst);
    assert!(!d.first_delivery("evt_1"));
    secs.store(3600, Ordering::SeqCst);
    assert!(d.first_delivery("evt_1"), "expired after the TTL");
    assert!(!d.first_delivery("evt_2"));
    // Expired entries are pruned, not just ignored.
    secs.store(100_000, Ordering::SeqCst);
    assert!(d.first_delivery("evt_3"));
    assert_eq!(d.len(), 1);
}

#[test]
fn dedup_forget_allows_a_retry_through() {
    let d = InMemoryDeduplicator::new(2);
    assert!(d.first_delivery("evt_1"));
    d.forget("evt_1");
    d.forget("never-seen");
    assert!(d.first_delivery("evt_1"));
    assert!(!d.first_delivery("evt_1"));
}

#[test]
fn dedup_is_shareable_and_thread_safe() {
    let d: Arc<dyn Deduplicator> = Arc::new(InMemoryDeduplicator::new(10_000));
    let firsts = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..4 {
            let d = Arc::clone(&d);
            let firsts = Arc::clone(&firsts);
            s.spawn(move || {
                for i in 0..1000 {
                    if d.first_delivery(&format!("evt_{i}")) {
                        firsts.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    assert_eq!(firsts.load(Ordering::SeqCst), 1000);

    // A minimal custom store only needs `first_delivery`.
    struct Never;
    impl Deduplicator for Never {
        fn first_delivery(&self, _: &str) -> bool {
            false
        }
    }
    // Also usable by reference and behind `Arc`, through the blanket impls.
    fn check(d: impl Deduplicator) -> bool {
        d.forget("evt_1");
        d.first_delivery("evt_1")
    }
    let never = Never;
    assert!(!check(&never));
    assert!(!check(Arc::new(Never)));
}

// ---------------------------------------------------------------------------
// Secrets never leak.

#[test]
fn secrets_and_expected_signatures_never_appear_in_output() {
    let secret = WebhookSecret::new(SECRET).unwrap();
    let plain = WebhookSecret::new(OTHER_SECRET).unwrap();
    assert_eq!(secret.to_string(), "whsec_…");
    assert_eq!(format!("{secret:?}"), "WebhookSecret(whsec_…)");
    assert_eq!(plain.to_string(), "[redacted]");
    assert_eq!(format!("{plain:?}"), "WebhookSecret([redacted])");
    assert_eq!(secret.expose_secret(), SECRET);
    assert!(WebhookSecret::new("").is_err());

    let v = Verifier::new(secret).with_secret(plain);
    let debug = format!("{v:?} {v:#?}");
    assert!(
        !debug.contains(SECRET_MARKER) && !debug.contains("SECOND"),
        "{debug}"
    );

    // Every failure path, with the signature the verifier would expect.
    let body = SESSION_ENDED.as_bytes();
    let expected_sig = v1(SECRET, &NOW.to_string(), body);
    let failures = [
        v.verify("", body).unwrap_err(),
        v.verify(&format!("t={NOW},v1={}", "0".repeat(64)), body)
            .unwrap_err(),
        v.verify(&header(SECRET, NOW - 10_000, body), body)
            .unwrap_err(),
        v.verify(&header(SECRET, NOW, body), b"tampered")
            .unwrap_err(),
        v.construct_event(&header(SECRET, NOW, b"nope"), b"nope")
            .unwrap_err(),
    ];
    for err in failures {
        for text in [err.to_string(), format!("{err:?}"), format!("{err:#?}")] {
            assert!(!text.contains(SECRET_MARKER), "{text}");
            assert!(!text.contains("SECOND"), "{text}");
            assert!(!text.contains(&expected_sig), "{text}");
        }
    }
}

// ---------------------------------------------------------------------------
// The axum extractor.

#[cfg(feature = "axum")]
mod axum_extractor {
    use axum::Router;
    use axum::body::Body;
    use axum::extract::{FromRef, FromRequest, Request};
    use axum::response::IntoResponse;
    use axum::routing::post;
    use http::StatusCode;
    use kallglot::webhooks::{VerifiedWebhook, WebhookRejection};

    use super::*;

    fn request(signature: Option<&str>, body: impl Into<Body>) -> Request {
        let mut builder = Request::builder()
            .method("POST")
            .uri("/webhooks")
            .header("content-type", "application/json")
            .header("Kallglot-Webhook-Id", "wh_del_1")
            .header("Kallglot-Retry-Count", "0");
        if let Some(signature) = signature {
            builder = builder.header("Kallglot-Signature", signature);
        }
        builder.body(body.into()).unwrap()
    }

    async fn extract(req: Request) -> Result<VerifiedWebhook, WebhookRejection> {
        VerifiedWebhook::from_request(req, &verifier()).await
    }

    /// Status and body text of a rejection's response.
    async fn response_of(rejection: WebhookRejection) -> (StatusCode, String) {
        let response = rejection.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn accepts_a_valid_delivery() {
        let body = SESSION_ENDED;
        let VerifiedWebhook(event, delivery) =
            extract(request(Some(&header(SECRET, NOW, body.as_bytes())), body))
                .await
                .unwrap();
        assert_eq!(event.kind, EventType::SessionEnded);
        assert_eq!(delivery.delivery_id.as_deref(), Some("wh_del_1"));
        assert_eq!(delivery.retry_count, Some(0));
    }

    #[tokio::test]
    async fn rejections_have_the_right_status_and_a_generic_body() {
        let body = SESSION_ENDED;
        let expected_sig = v1(SECRET, &NOW.to_string(), body.as_bytes());
        let cases = [
            (request(None, body), StatusCode::BAD_REQUEST),
            (request(Some("t=1"), body), StatusCode::BAD_REQUEST),
            (request(Some("garbage"), body), StatusCode::BAD_REQUEST),
            (
                request(Some(&header(SECRET, NOW, b"not json")), "not json"),
                StatusCode::BAD_REQUEST,
            ),
            (
                request(Some(&header("whsec_wrong", NOW, body.as_bytes())), body),
                StatusCode::UNAUTHORIZED,
            ),
            (
                request(Some(&header(SECRET, NOW, body.as_bytes())), "{}"),
                StatusCode::UNAUTHORIZED,
            ),
            (
                request(Some(&header(SECRET, NOW - 301, body.as_bytes())), body),
                StatusCode::UNAUTHORIZED,
            ),
        ];
        for (req, status) in cases {
            let rejection = extract(req).await.unwrap_err();
            assert_eq!(rejection.status(), status, "{rejection}");
            assert!(rejection.error().is_some());
            let (got, text) = response_of(rejection).await;
            assert_eq!(got, status);
            assert!(
                text == "invalid webhook request"
                    || text == "webhook signature verification failed",
                "{text}"
            );
            assert!(!text.contains(SECRET_MARKER) && !text.contains(&expected_sig));
        }
    }

    #[tokio::test]
    async fn oversized_bodies_are_refused() {
        let small = verifier().body_limit(16);
        let big = "x".repeat(17);
        let signed = header(SECRET, NOW, big.as_bytes());

        // Announced by Content-Length.
        let mut req = request(Some(&signed), big.clone());
        req.headers_mut()
            .insert("content-length", HeaderValue::from(17));
        let rejection = VerifiedWebhook::from_request(req, &small)
            .await
            .unwrap_err();
        assert!(matches!(
            rejection,
            WebhookRejection::BodyTooLarge { limit: 16 }
        ));
        assert_eq!(
            response_of(rejection).await.0,
            StatusCode::PAYLOAD_TOO_LARGE
        );

        // Streamed without a length, in chunks.
        let chunks = futures_util::stream::iter(
            ["x".repeat(10), "x".repeat(7)].map(Ok::<_, std::io::Error>),
        );
        let req = request(Some(&signed), Body::from_stream(chunks));
        let rejection = VerifiedWebhook::from_request(req, &small)
            .await
            .unwrap_err();
        assert!(matches!(rejection, WebhookRejection::BodyTooLarge { .. }));

        // Exactly at the limit is read.
        let body = "y".repeat(16);
        let req = request(Some(&header(SECRET, NOW, body.as_bytes())), body);
        let rejection = VerifiedWebhook::from_request(req, &small)
            .await
            .unwrap_err();
        assert!(matches!(
            rejection.error(),
            Some(WebhookError::InvalidPayload(_))
        ));
    }

    #[tokio::test]
    async fn unreadable_bodies_are_bad_requests() {
        let chunks = futures_util::stream::iter([
            Ok("{".to_owned()),
            Err(std::io::Error::other("connection reset")),
        ]);
        let req = request(Some("t=1,v1=00"), Body::from_stream(chunks));
        let rejection = extract(req).await.unwrap_err();
        assert!(matches!(rejection, WebhookRejection::BodyUnreadable(_)));
        assert_eq!(response_of(rejection).await.0, StatusCode::BAD_REQUEST);
    }

    /// Application state holding the verifier among other things.
    #[derive(Clone)]
    struct AppState {
        verifier: Verifier,
        seen: Arc<InMemoryDeduplicator>,
    }

    impl FromRef<AppState> for Verifier {
        fn from_ref(state: &AppState) -> Self {
            state.verifier.clone()
        }
    }

    async fn handler(
        axum::extract::State(state): axum::extract::State<AppState>,
        VerifiedWebhook(event, _): VerifiedWebhook,
    ) -> (StatusCode, String) {
        if state.seen.first_delivery(event.id.as_str()) {
            (StatusCode::OK, format!("processed {}", event.kind))
        } else {
            (StatusCode::OK, "duplicate".to_owned())
        }
    }

    #[tokio::test]
    async fn end_to_end_through_a_router() {
        let app = Router::new()
            .route("/webhooks", post(handler))
            .with_state(AppState {
                verifier: Verifier::new(WebhookSecret::new(SECRET).unwrap()),
                seen: Arc::new(InMemoryDeduplicator::new(100)),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let client = reqwest::Client::new();
        let post = |signature: String, body: &'static str| {
            client
                .post(&url)
                .header("Kallglot-Signature", signature)
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        let now = Utc::now().timestamp();
        let body = SESSION_ENDED;

        let first = post(header(SECRET, now, body.as_bytes()), body)
            .await
            .unwrap();
        assert_eq!(first.status(), 200);
        assert_eq!(first.text().await.unwrap(), "processed session.ended");

        // Kallglot's retry: same event, fresh signature.
        let retry = post(header(SECRET, now + 1, body.as_bytes()), body)
            .await
            .unwrap();
        assert_eq!(retry.text().await.unwrap(), "duplicate");

        let forged = post(header("whsec_guess", now, body.as_bytes()), body)
            .await
            .unwrap();
        assert_eq!(forged.status(), 401);
        assert_eq!(
            forged.text().await.unwrap(),
            "webhook signature verification failed"
        );

        let garbled = post("v1=zz".into(), body).await.unwrap();
        assert_eq!(garbled.status(), 400);

        server.abort();
    }
}
