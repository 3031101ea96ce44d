//! The demo login: a password check and the HttpOnly cookie that proves it.
//!
//! A real deployment has its own sign-in; what matters here is that minting stream
//! credentials needs *some* authenticated caller, because each mint creates a (billed)
//! session. The cookie is `HttpOnly` (page scripts cannot read it) and `SameSite=Strict`
//! (another site cannot make the browser send it, which is the CSRF defence for the
//! `POST` routes). Behind TLS, add `Secure`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The cookie that carries a login.
pub const COOKIE_NAME: &str = "kallglot_demo_login";

/// How long a login lasts.
const LOGIN_TTL: Duration = Duration::from_secs(8 * 60 * 60);

/// At most this many logins are remembered (the oldest goes first), so memory stays
/// bounded whoever calls `/login`.
const MAX_LOGINS: usize = 4096;

/// Each mint creates a billed session, so one login gets at most this many a minute
/// (a page retrying a refused token needs a few).
pub(crate) const MINTS_PER_MINUTE: u32 = 20;

/// What a login may do about a mint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mint {
    /// Go ahead.
    Allowed,
    /// No current login: 401.
    NotLoggedIn,
    /// Over [`MINTS_PER_MINUTE`]: 429, try again in this many seconds.
    TooMany { retry_after_secs: u64 },
}

/// One login: when it started, and its mints in the current minute.
#[derive(Debug, Clone, Copy)]
struct Login {
    started: Instant,
    window_started: Instant,
    mints: u32,
}

/// The logins handed out, by their random cookie value.
#[derive(Debug, Default)]
pub(crate) struct Logins {
    issued: Mutex<HashMap<String, Login>>,
}

impl Logins {
    /// Starts a login and returns its cookie value (a random v4 UUID).
    pub fn start(&self) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let now = Instant::now();
        let mut issued = self.lock();
        issued.retain(|_, login| now.duration_since(login.started) < LOGIN_TTL);
        if issued.len() >= MAX_LOGINS
            && let Some(oldest) = issued
                .iter()
                .min_by_key(|(_, login)| login.started)
                .map(|(k, _)| k.clone())
        {
            issued.remove(&oldest);
        }
        let login = Login {
            started: now,
            window_started: now,
            mints: 0,
        };
        issued.insert(id.clone(), login);
        id
    }

    /// Whether the request's login may mint credentials now, counting the mint if so.
    pub fn mint(&self, headers: &HeaderMap) -> Mint {
        self.mint_at(headers, Instant::now())
    }

    fn mint_at(&self, headers: &HeaderMap, now: Instant) -> Mint {
        let mut issued = self.lock();
        let Some(login) = cookie(headers, COOKIE_NAME).and_then(|id| issued.get_mut(id)) else {
            return Mint::NotLoggedIn;
        };
        if now.duration_since(login.started) >= LOGIN_TTL {
            return Mint::NotLoggedIn;
        }
        let window = now.duration_since(login.window_started);
        if window >= Duration::from_secs(60) {
            login.window_started = now;
            login.mints = 0;
        }
        if login.mints >= MINTS_PER_MINUTE {
            let left = Duration::from_secs(60).saturating_sub(window);
            return Mint::TooMany {
                retry_after_secs: left.as_secs_f64().ceil() as u64,
            };
        }
        login.mints += 1;
        Mint::Allowed
    }

    /// Ends the login the request carries, if any.
    pub fn end(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE_NAME) {
            self.lock().remove(id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Login>> {
        // Each update is one map operation: a panicking holder leaves no broken invariant.
        self.issued.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The `Set-Cookie` value for a login.
pub(crate) fn set_cookie(id: &str) -> String {
    format!(
        "{COOKIE_NAME}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        LOGIN_TTL.as_secs()
    )
}

/// The `Set-Cookie` value that removes the login cookie.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Compares a submitted password with the expected one without returning early on the
/// first differing byte, so response timing does not reveal how much of a guess matched.
pub(crate) fn password_matches(submitted: &str, expected: &str) -> bool {
    let (a, b) = (submitted.as_bytes(), expected.as_bytes());
    let mut difference = u8::from(a.len() != b.len());
    for (i, byte) in b.iter().enumerate() {
        difference |= byte ^ a.get(i).copied().unwrap_or(!byte);
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn carrying(id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let cookie = format!("other=1; {COOKIE_NAME}={id}");
        headers.insert(COOKIE, HeaderValue::from_str(&cookie).unwrap());
        headers
    }

    #[test]
    fn a_login_is_recognised_only_by_its_own_cookie() {
        let logins = Logins::default();
        let id = logins.start();
        assert_eq!(logins.mint(&HeaderMap::new()), Mint::NotLoggedIn);
        assert_eq!(logins.mint(&carrying("nope")), Mint::NotLoggedIn);
        let headers = carrying(&id);
        assert_eq!(logins.mint(&headers), Mint::Allowed);
        logins.end(&headers);
        assert_eq!(logins.mint(&headers), Mint::NotLoggedIn);
    }

    #[test]
    fn a_login_mints_a_bounded_number_a_minute_and_expires() {
        let logins = Logins::default();
        let headers = carrying(&logins.start());
        let start = Instant::now();
        for _ in 0..MINTS_PER_MINUTE {
            assert_eq!(logins.mint_at(&headers, start), Mint::Allowed);
        }
        let later = start + Duration::from_secs(45);
        assert_eq!(
            logins.mint_at(&headers, later),
            Mint::TooMany {
                retry_after_secs: 15
            }
        );
        let next_minute = start + Duration::from_secs(60);
        assert_eq!(logins.mint_at(&headers, next_minute), Mint::Allowed);
        assert_eq!(
            logins.mint_at(&headers, start + LOGIN_TTL),
            Mint::NotLoggedIn
        );
    }

    #[test]
    fn logins_stay_bounded() {
        let logins = Logins::default();
        for _ in 0..MAX_LOGINS + 10 {
            logins.start();
        }
        assert_eq!(logins.lock().len(), MAX_LOGINS);
    }

    #[test]
    fn passwords_must_match_exactly() {
        assert!(password_matches("demo", "demo"));
        assert!(!password_matches("dem", "demo"));
        assert!(!password_matches("demo!", "demo"));
        assert!(!password_matches("", "demo"));
        assert!(!password_matches("DEMO", "demo"));
    }
}
