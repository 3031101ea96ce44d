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

/// The logins handed out, by their random cookie value.
#[derive(Debug, Default)]
pub(crate) struct Logins {
    issued: Mutex<HashMap<String, Instant>>,
}

impl Logins {
    /// Starts a login and returns its cookie value (a random v4 UUID).
    pub fn start(&self) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let now = Instant::now();
        let mut issued = self.lock();
        issued.retain(|_, at| now.duration_since(*at) < LOGIN_TTL);
        if issued.len() >= MAX_LOGINS
            && let Some(oldest) = issued
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone())
        {
            issued.remove(&oldest);
        }
        issued.insert(id.clone(), now);
        id
    }

    /// Whether the request carries the cookie of a current login.
    pub fn is_logged_in(&self, headers: &HeaderMap) -> bool {
        let Some(id) = cookie(headers, COOKIE_NAME) else {
            return false;
        };
        self.lock()
            .get(id)
            .is_some_and(|at| at.elapsed() < LOGIN_TTL)
    }

    /// Ends the login the request carries, if any.
    pub fn end(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE_NAME) {
            self.lock().remove(id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
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

    #[test]
    fn a_login_is_recognised_only_by_its_own_cookie() {
        let logins = Logins::default();
        let id = logins.start();
        let mut headers = HeaderMap::new();
        assert!(!logins.is_logged_in(&headers));
        headers.insert(
            COOKIE,
            HeaderValue::from_static("other=1; kallglot_demo_login=nope"),
        );
        assert!(!logins.is_logged_in(&headers));
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("other=1; {COOKIE_NAME}={id}")).unwrap(),
        );
        assert!(logins.is_logged_in(&headers));
        logins.end(&headers);
        assert!(!logins.is_logged_in(&headers));
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
