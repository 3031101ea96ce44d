//! Identifiers: ULID-like ids after the documented prefixes, request ids and stream
//! tokens.
//!
//! Ids are `prefix` + 26 Crockford base32 characters: 10 for the millisecond time and 16
//! random, like a ULID, so they sort by creation time as the reference's examples suggest
//! (`sess_01HXYZ…`). Clients must treat them as opaque anyway.

use chrono::Utc;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new ULID-like id with `prefix` (such as `sess_`).
pub(crate) fn new_id(prefix: &str) -> String {
    let millis = Utc::now().timestamp_millis().max(0) as u64;
    let mut out = String::with_capacity(prefix.len() + 26);
    out.push_str(prefix);
    for i in (0..10).rev() {
        out.push(CROCKFORD[((millis >> (i * 5)) & 31) as usize] as char);
    }
    for _ in 0..16 {
        out.push(CROCKFORD[fastrand::usize(..32)] as char);
    }
    out
}

/// A new request id (`req_…`), sent in `X-Request-ID` and in error bodies.
pub(crate) fn request_id() -> String {
    new_id("req_")
}

/// A new stream token: `kst_test_` and 32 random alphanumerics (the emulator is a test
/// environment, so tokens carry the test prefix as live ones carry `kst_live_`).
pub(crate) fn stream_token() -> String {
    let mut token = String::from("kst_test_");
    for _ in 0..32 {
        token.push(fastrand::alphanumeric());
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_prefix_and_a_ulid_body() {
        let id = new_id("sess_");
        assert!(id.starts_with("sess_01"), "{id}");
        assert_eq!(id.len(), 5 + 26);
        assert!(id[5..].bytes().all(|b| CROCKFORD.contains(&b)));
        assert_ne!(new_id("sess_"), new_id("sess_"));
        assert!(request_id().starts_with("req_"));
        let token = stream_token();
        assert!(token.starts_with("kst_test_") && token.len() == 9 + 32);
    }
}
