//! The account's rate limit and credit balance, and the headers that report them.
//!
//! The emulator has one account: every configured key shares one fixed-window rate
//! limit and one credit balance, as keys of one organization share them.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::error::ApiError;

/// A fixed window of `limit` requests. The window opens at the first request after the
/// previous one closed, so an idle emulator always starts with a full allowance.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: u32,
    window: Duration,
    opened: Option<Instant>,
    used: u32,
}

/// The rate-limit figures of one request, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateStatus {
    pub limit: u32,
    pub remaining: u32,
    /// When the window closes (wall clock).
    pub reset_at: DateTime<Utc>,
    /// How long until then.
    pub reset_in: Duration,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            opened: None,
            used: 0,
        }
    }

    /// Counts one request. `Err` carries the figures for the 429.
    pub fn admit(&mut self, now: Instant) -> Result<RateStatus, RateStatus> {
        let opened = match self.opened {
            Some(opened) if now < opened + self.window => opened,
            _ => {
                self.opened = Some(now);
                self.used = 0;
                now
            }
        };
        let reset_in = (opened + self.window).saturating_duration_since(now);
        let status = |used: u32| RateStatus {
            limit: self.limit,
            remaining: self.limit.saturating_sub(used),
            reset_at: Utc::now()
                + chrono::Duration::from_std(reset_in).unwrap_or(chrono::Duration::zero()),
            reset_in,
        };
        if self.used >= self.limit {
            return Err(status(self.used));
        }
        self.used += 1;
        Ok(status(self.used))
    }
}

impl RateStatus {
    /// 429 `rate_limit_exceeded`: `Retry-After` (whole seconds, rounded up) and the exact
    /// fraction in the body's `retry_after`.
    pub fn exceeded(&self) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limit_exceeded",
            format!(
                "Rate limit of {} requests per window exceeded; retry after the window resets.",
                self.limit
            ),
        )
        .retry_after((self.reset_in.as_millis() as f64 / 1000.0).max(0.001))
    }

    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from(crate::time::unix_seconds_ceil(self.reset_at)),
        );
    }
}

/// The credit balance: each successful session create and analysis request costs one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Credits {
    pub remaining: u64,
    pub used: u64,
}

impl Credits {
    pub fn new(balance: u64) -> Self {
        Self {
            remaining: balance,
            used: 0,
        }
    }

    /// Takes one credit, or answers 402 `insufficient_api_credits`.
    pub fn consume(&mut self) -> Result<(), ApiError> {
        if self.remaining == 0 {
            return Err(ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "permission_error",
                "insufficient_api_credits",
                "The organization has no API credits left; top up to continue.",
            ));
        }
        self.remaining -= 1;
        self.used += 1;
        Ok(())
    }

    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("x-api-credits-remaining", HeaderValue::from(self.remaining));
        headers.insert("x-api-credits-used", HeaderValue::from(self.used));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_admits_its_limit_then_refuses_until_it_resets() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(2, Duration::from_secs(10));
        assert_eq!(limiter.admit(start).unwrap().remaining, 1);
        assert_eq!(limiter.admit(start).unwrap().remaining, 0);
        let refused = limiter.admit(start + Duration::from_secs(4)).unwrap_err();
        assert_eq!(refused.reset_in, Duration::from_secs(6));
        let error = refused.exceeded();
        assert_eq!(error.retry_after, Some(6.0));
        assert_eq!(error.code, "rate_limit_exceeded");
        let fresh = limiter.admit(start + Duration::from_secs(10)).unwrap();
        assert_eq!((fresh.limit, fresh.remaining), (2, 1));
    }

    #[test]
    fn credits_run_out_with_a_402() {
        let mut credits = Credits::new(1);
        credits.consume().unwrap();
        assert_eq!(
            credits,
            Credits {
                remaining: 0,
                used: 1
            }
        );
        let error = credits.consume().unwrap_err();
        assert_eq!(
            (error.status.as_u16(), &*error.kind),
            (402, "permission_error")
        );
    }
}
