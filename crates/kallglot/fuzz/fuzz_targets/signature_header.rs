//! Feeds arbitrary bytes to the `Kallglot-Signature` parser and the verifier.
//!
//! Beyond "never panics", it checks the properties a verifier must keep for any
//! input: a parsed header is internally consistent, a header the SDK signed
//! itself always verifies, and the same header never verifies another body.
#![no_main]

use http::{HeaderMap, HeaderValue};
use kallglot::webhooks::{SignatureHeader, Verifier, WebhookError, WebhookSecret, testing};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "whsec_fuzz";
const NOW: i64 = 1_774_522_800;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where the header ends and the body begins, so the
    // fuzzer controls both independently.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(split).min(rest.len());
    let (header_bytes, body) = rest.split_at(split);
    let header = String::from_utf8_lossy(header_bytes);

    let verifier = Verifier::new(WebhookSecret::new(SECRET).unwrap()).with_clock(|| NOW);

    // 1. The parser on its own.
    if let Ok(parsed) = SignatureHeader::parse(&header) {
        assert!(parsed.timestamp() >= 0);
        assert!(!parsed.signatures().is_empty());
        // Parsing is deterministic.
        assert_eq!(SignatureHeader::parse(&header).ok(), Some(parsed));
    }

    // 2. Full verification and parsing; errors must render without panicking.
    if let Err(e) = verifier.construct_event(&header, body) {
        let _ = e.to_string();
        let _ = e.http_status();
    }

    // 3. The raw bytes as an HTTP header (non-UTF-8 included).
    if let Ok(value) = HeaderValue::from_bytes(header_bytes) {
        let mut headers = HeaderMap::new();
        headers.insert("kallglot-signature", value.clone());
        headers.insert("kallglot-retry-count", value.clone());
        headers.insert("kallglot-original-timestamp", value.clone());
        headers.insert("kallglot-webhook-id", value);
        let _ = verifier.verify_request(&headers, body);
    }

    // 4. Round trip: a genuine signature over this body always verifies, and
    //    never for a different body.
    let t = i64::from(u32::from_le_bytes(
        body.get(..4).map_or([0; 4], |b| b.try_into().unwrap()),
    ));
    let signed = testing::sign(SECRET, t, body);
    let at_t = verifier.clone().with_clock(move || t);
    assert!(at_t.verify(&signed, body).is_ok());
    let mut other = body.to_vec();
    other.push(b'!');
    assert!(matches!(
        at_t.verify(&signed, &other),
        Err(WebhookError::SignatureMismatch)
    ));
});
