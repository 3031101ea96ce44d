//! API keys and how they are sent to the server.
//!
//! An [`ApiKey`] is validated once, when it is constructed, so that every
//! later use (building a header, logging, choosing an environment) is
//! infallible. The secret is deliberately hard to print by accident: `Debug`
//! and `Display` only ever show a redacted form, and there is no `Serialize`
//! implementation, so a key cannot leak through logs, panics or a config dump.

use std::fmt;
use std::str::FromStr;

#[cfg(feature = "client")]
use http::header::{AUTHORIZATION, HeaderName, HeaderValue};

/// Prefix of keys that act on real data and spend real credits.
const LIVE_PREFIX: &str = "sk_live_";
/// Prefix of keys for the sandbox environment.
const TEST_PREFIX: &str = "sk_test_";

/// Secrets at most this long are redacted to the prefix alone: showing the
/// last four characters of a very short secret would reveal most of it.
const MIN_SECRET_LEN_FOR_SUFFIX: usize = 8;
/// Number of trailing characters shown by [`ApiKey::redacted`], enough to
/// tell keys apart in logs without making them guessable.
const VISIBLE_SUFFIX_LEN: usize = 4;

/// The environment an API key belongs to, as encoded in its prefix.
///
/// Knowing this client-side lets callers refuse to, say, run a test suite
/// against live data before any request is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// Production: keys starting with `sk_live_`.
    Live,
    /// Sandbox: keys starting with `sk_test_`.
    Test,
}

impl Environment {
    /// The lowercase name of the environment (`"live"` or `"test"`).
    ///
    /// ```
    /// use kallglot::Environment;
    ///
    /// assert_eq!(Environment::Test.as_str(), "test");
    /// assert_eq!(Environment::Live.to_string(), "live");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }

    /// The key prefix that identifies this environment.
    fn prefix(self) -> &'static str {
        match self {
            Self::Live => LIVE_PREFIX,
            Self::Test => TEST_PREFIX,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string was rejected as an API key.
///
/// No variant carries, and no message contains, any part of the rejected
/// string: a near-miss key is still a secret and error messages end up in
/// logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyError {
    /// The key is the empty string, typically an unset environment variable.
    #[error("API key is empty")]
    Empty,
    /// The key starts or ends with whitespace. We do not trim it silently so
    /// that a copy-paste or file-reading mistake is visible where it was made.
    #[error(
        "API key has leading or trailing whitespace (for example a trailing newline); \
         remove it, the key is not trimmed automatically"
    )]
    SurroundingWhitespace,
    /// The key does not start with a recognised prefix.
    #[error("API key must start with `sk_live_` or `sk_test_`")]
    UnknownPrefix,
    /// The key is only a prefix (`sk_live_` or `sk_test_`) with nothing after it.
    #[error("API key consists only of its prefix; the secret part after it is missing")]
    MissingSecret,
    /// The key contains a character that cannot be sent in an HTTP header:
    /// anything other than visible ASCII, including spaces and control
    /// characters.
    #[error(
        "API key contains characters that are not allowed; only visible ASCII \
         characters are permitted (no spaces, control or non-ASCII characters)"
    )]
    InvalidCharacters,
}

/// A validated Kallglot secret API key.
///
/// Beyond its `sk_live_` / `sk_test_` prefix the key format is undocumented,
/// so the rest is treated as opaque: we only require that it is non-empty and
/// can be sent in an HTTP header. Read the secret with
/// [`expose_secret`](Self::expose_secret); every other way of printing the
/// key shows the [`redacted`](Self::redacted) form.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The full key, prefix included, exactly as the server expects it.
    secret: String,
    /// Derived from the prefix at construction time.
    environment: Environment,
}

impl ApiKey {
    /// Validates `key` and wraps it.
    ///
    /// # Errors
    ///
    /// Returns an [`ApiKeyError`] if the key is empty, has surrounding
    /// whitespace, contains characters that cannot go in an HTTP header,
    /// has an unknown prefix, or has nothing after its prefix.
    ///
    /// ```
    /// use kallglot::ApiKey;
    ///
    /// let key = ApiKey::new("sk_test_4eC39HqLyjWDarjtT1zdp7dc")?;
    /// assert!(ApiKey::new("sk_test_4eC39Hq\n").is_err(), "a trailing newline is refused");
    /// assert!(ApiKey::new("pk_test_4eC39HqLyjWD").is_err(), "not a secret key");
    /// # let _ = key;
    /// # Ok::<(), kallglot::ApiKeyError>(())
    /// ```
    pub fn new(key: impl Into<String>) -> Result<Self, ApiKeyError> {
        let secret = key.into();
        let environment = validate(&secret)?;
        Ok(Self {
            secret,
            environment,
        })
    }

    /// The environment the key belongs to, derived from its prefix.
    ///
    /// ```
    /// use kallglot::{ApiKey, Environment};
    ///
    /// let key = ApiKey::new("sk_test_4eC39HqLyjWDarjtT1zdp7dc")?;
    /// assert_eq!(key.environment(), Environment::Test);
    /// # Ok::<(), kallglot::ApiKeyError>(())
    /// ```
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The full key, prefix included.
    ///
    /// This is the only way to read the secret. The name is meant to make
    /// every use stand out in review; do not log or persist the result.
    ///
    /// ```
    /// use kallglot::ApiKey;
    ///
    /// let key = ApiKey::new("sk_test_4eC39HqLyjWDarjtT1zdp7dc")?;
    /// // Only for handing the key to something that must send it, never for logging.
    /// assert_eq!(key.expose_secret(), "sk_test_4eC39HqLyjWDarjtT1zdp7dc");
    /// # Ok::<(), kallglot::ApiKeyError>(())
    /// ```
    pub fn expose_secret(&self) -> &str {
        &self.secret
    }

    /// A form of the key that is safe to log, e.g. `sk_test_…abcd`.
    ///
    /// Shows the prefix and the last four characters of the secret part, so
    /// keys can be told apart. If the secret part is eight characters or
    /// fewer only the prefix is shown (`sk_test_…`), because four characters
    /// would then be most of the secret.
    ///
    /// ```
    /// use kallglot::ApiKey;
    ///
    /// let key = ApiKey::new("sk_live_4eC39HqLyjWDarjtT1zdp7dc")?;
    /// assert_eq!(key.redacted(), "sk_live_…p7dc");
    /// assert_eq!(format!("{key:?}"), format!("ApiKey({})", key.redacted()));
    /// # Ok::<(), kallglot::ApiKeyError>(())
    /// ```
    pub fn redacted(&self) -> String {
        let prefix = self.environment.prefix();
        let rest = &self.secret[prefix.len()..];
        if rest.len() <= MIN_SECRET_LEN_FOR_SUFFIX {
            format!("{prefix}…")
        } else {
            // Byte slicing is safe: validation guarantees ASCII only.
            let suffix = &rest[rest.len() - VISIBLE_SUFFIX_LEN..];
            format!("{prefix}…{suffix}")
        }
    }

    /// The value of the authentication header for `style`, marked sensitive
    /// so that `http`'s own `Debug` output and some middleware redact it.
    #[cfg(feature = "client")]
    pub(crate) fn header_value(&self, style: AuthStyle) -> HeaderValue {
        let raw = match style {
            AuthStyle::Bearer => format!("Bearer {}", self.secret),
            AuthStyle::XApiKey => self.secret.clone(),
        };
        // Cannot fail: construction only admits visible ASCII, which is a
        // subset of what a header value may contain. The error type carries
        // no data, so even this message could not leak the key.
        let mut value = HeaderValue::from_str(&raw)
            .expect("API key was validated to contain only visible ASCII");
        value.set_sensitive(true);
        value
    }
}

/// Checks every rule and returns the environment encoded in the prefix.
///
/// Character validity is checked before the prefix so that, for example, a
/// key preceded by an invisible byte-order mark is reported as containing a
/// bad character rather than as having the wrong prefix, which would be
/// confusing since it looks right when printed.
fn validate(key: &str) -> Result<Environment, ApiKeyError> {
    if key.is_empty() {
        return Err(ApiKeyError::Empty);
    }
    if key.starts_with(char::is_whitespace) || key.ends_with(char::is_whitespace) {
        return Err(ApiKeyError::SurroundingWhitespace);
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiKeyError::InvalidCharacters);
    }
    let environment = if key.starts_with(LIVE_PREFIX) {
        Environment::Live
    } else if key.starts_with(TEST_PREFIX) {
        Environment::Test
    } else {
        return Err(ApiKeyError::UnknownPrefix);
    };
    if key.len() == environment.prefix().len() {
        return Err(ApiKeyError::MissingSecret);
    }
    Ok(environment)
}

impl FromStr for ApiKey {
    type Err = ApiKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.redacted())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Which header carries the API key.
///
/// `Authorization: Bearer <key>` is the documented, preferred form and the
/// default. `X-API-Key: <key>` is a documented alternative for environments
/// (some proxies, gateways) that strip or rewrite `Authorization`. Only one
/// header is ever sent: the server's precedence when both are present is
/// undocumented, so sending both could authenticate with the wrong one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthStyle {
    /// `Authorization: Bearer <key>`.
    #[default]
    Bearer,
    /// `X-API-Key: <key>`.
    XApiKey,
}

impl AuthStyle {
    /// The name of the header this style uses.
    #[cfg(feature = "client")]
    pub(crate) fn header_name(self) -> HeaderName {
        match self {
            Self::Bearer => AUTHORIZATION,
            Self::XApiKey => HeaderName::from_static("x-api-key"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk_test_SECRETsecret123456789";
    const SECRET_PART: &str = "SECRETsecret";

    #[test]
    fn live_prefix_is_live() {
        let key = ApiKey::new("sk_live_abc").unwrap();
        assert_eq!(key.environment(), Environment::Live);
    }

    #[test]
    fn test_prefix_is_test() {
        let key = ApiKey::new("sk_test_abc").unwrap();
        assert_eq!(key.environment(), Environment::Test);
    }

    #[test]
    fn environment_display() {
        assert_eq!(Environment::Live.to_string(), "live");
        assert_eq!(Environment::Test.to_string(), "test");
    }

    #[test]
    fn from_str_matches_new() {
        let parsed: ApiKey = KEY.parse().unwrap();
        assert_eq!(parsed, ApiKey::new(KEY).unwrap());
        assert_eq!(
            "nope".parse::<ApiKey>().unwrap_err(),
            ApiKeyError::UnknownPrefix
        );
    }

    #[test]
    fn expose_secret_returns_whole_key() {
        assert_eq!(ApiKey::new(KEY).unwrap().expose_secret(), KEY);
        assert_eq!(ApiKey::new(String::from(KEY)).unwrap().expose_secret(), KEY);
    }

    #[test]
    fn rejects_empty() {
        assert_eq!(ApiKey::new("").unwrap_err(), ApiKeyError::Empty);
    }

    #[test]
    fn rejects_surrounding_whitespace() {
        for bad in [
            " sk_test_abc",
            "sk_test_abc ",
            "sk_test_abc\n",
            "\tsk_test_abc",
            "sk_test_abc\r\n",
            "   ",
            "sk_test_abc\u{a0}",
        ] {
            assert_eq!(
                ApiKey::new(bad).unwrap_err(),
                ApiKeyError::SurroundingWhitespace,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_unknown_prefix() {
        for bad in [
            "pk_test_abc",
            "sk_prod_abc",
            "SK_TEST_abc",
            "sk_test",
            "abc",
        ] {
            assert_eq!(
                ApiKey::new(bad).unwrap_err(),
                ApiKeyError::UnknownPrefix,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_missing_secret() {
        for bad in ["sk_live_", "sk_test_"] {
            assert_eq!(
                ApiKey::new(bad).unwrap_err(),
                ApiKeyError::MissingSecret,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_invalid_characters() {
        for bad in [
            "sk_test_ab cd",
            "sk_test_ab\0cd",
            "sk_test_ab\x7fcd",
            "sk_test_ab\ncd",
            "sk_test_abé",
            "\u{feff}sk_test_abc",
        ] {
            assert_eq!(
                ApiKey::new(bad).unwrap_err(),
                ApiKeyError::InvalidCharacters,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn error_messages_do_not_echo_the_key() {
        let cases = [
            ("sk_test_SECRETsecret ", ApiKeyError::SurroundingWhitespace),
            ("pk_test_SECRETsecret", ApiKeyError::UnknownPrefix),
            ("sk_test_SECRET secret", ApiKeyError::InvalidCharacters),
        ];
        for (input, expected) in cases {
            let err = ApiKey::new(input).unwrap_err();
            assert_eq!(err, expected);
            let message = err.to_string();
            assert!(!message.contains(SECRET_PART), "{message}");
            assert!(!format!("{err:?}").contains(SECRET_PART));
        }
    }

    #[test]
    fn unknown_prefix_message_lists_accepted_prefixes() {
        let message = ApiKeyError::UnknownPrefix.to_string();
        assert!(message.contains("sk_live_"));
        assert!(message.contains("sk_test_"));
    }

    #[test]
    fn formatting_never_shows_the_secret() {
        let key = ApiKey::new(KEY).unwrap();
        for s in [
            format!("{key:?}"),
            format!("{key:#?}"),
            key.to_string(),
            key.redacted(),
        ] {
            assert!(!s.contains(SECRET_PART), "{s}");
        }
    }

    #[test]
    fn redacted_shows_prefix_and_last_four() {
        let key = ApiKey::new(KEY).unwrap();
        assert_eq!(key.redacted(), "sk_test_…6789");
        assert_eq!(key.to_string(), "sk_test_…6789");
        assert_eq!(format!("{key:?}"), "ApiKey(sk_test_…6789)");
    }

    #[test]
    fn short_secrets_show_only_the_prefix() {
        for (input, expected) in [
            ("sk_live_a", "sk_live_…"),
            ("sk_live_12345678", "sk_live_…"),
            ("sk_test_123456789", "sk_test_…6789"),
        ] {
            let key = ApiKey::new(input).unwrap();
            assert_eq!(key.redacted(), expected, "{input}");
            assert_eq!(format!("{key:?}"), format!("ApiKey({expected})"));
        }
    }

    #[test]
    fn bearer_header() {
        let key = ApiKey::new(KEY).unwrap();
        let value = key.header_value(AuthStyle::Bearer);
        assert!(value.is_sensitive());
        assert_eq!(value.to_str().unwrap(), format!("Bearer {KEY}"));
        assert_eq!(AuthStyle::Bearer.header_name().as_str(), "authorization");
        // The sensitive flag makes `http` redact the value in Debug output.
        assert!(!format!("{value:?}").contains(SECRET_PART));
    }

    #[test]
    fn x_api_key_header() {
        let key = ApiKey::new(KEY).unwrap();
        let value = key.header_value(AuthStyle::XApiKey);
        assert!(value.is_sensitive());
        assert_eq!(value.to_str().unwrap(), KEY);
        assert_eq!(AuthStyle::XApiKey.header_name().as_str(), "x-api-key");
    }

    #[test]
    fn bearer_is_default_style() {
        assert_eq!(AuthStyle::default(), AuthStyle::Bearer);
    }

    #[test]
    fn punctuation_in_secret_is_accepted() {
        // The format is undocumented, so any visible ASCII must be allowed.
        let key = ApiKey::new("sk_live_a-b.c~d+e/f=").unwrap();
        assert_eq!(key.environment(), Environment::Live);
        assert_eq!(
            key.header_value(AuthStyle::XApiKey).to_str().unwrap(),
            "sk_live_a-b.c~d+e/f="
        );
    }
}
