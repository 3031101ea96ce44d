//! Wall-clock timestamps as the API writes them: ISO 8601 UTC with milliseconds and `Z`.

use chrono::{DateTime, SecondsFormat, Utc};

/// The current time.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now()
}

/// `2026-03-26T11:00:04.250Z`.
pub(crate) fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Unix seconds, rounded up (for `X-RateLimit-Reset`: the window is over by then).
pub(crate) fn unix_seconds_ceil(at: DateTime<Utc>) -> i64 {
    let secs = at.timestamp();
    if at.timestamp_subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_reference() {
        let at: DateTime<Utc> = "2026-03-26T11:00:04.25Z".parse().unwrap();
        assert_eq!(iso(at), "2026-03-26T11:00:04.250Z");
        assert_eq!(unix_seconds_ceil(at), at.timestamp() + 1);
        let whole: DateTime<Utc> = "2026-03-26T11:00:04Z".parse().unwrap();
        assert_eq!(unix_seconds_ceil(whole), whole.timestamp());
    }
}
