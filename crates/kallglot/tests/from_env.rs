//! `Client::from_env`: its own test binary, because it changes process environment
//! variables and nothing else here may read them concurrently.

use kallglot::{Client, ConfigError, Environment, Error};

#[test]
fn from_env_reads_the_key_and_optional_base_url() {
    // SAFETY: this binary has a single test, so no other thread reads the environment.
    unsafe {
        std::env::remove_var("KALLGLOT_API_KEY");
        std::env::remove_var("KALLGLOT_BASE_URL");
    }
    assert!(matches!(
        Client::from_env(),
        Err(Error::Config(ConfigError::MissingApiKey))
    ));

    unsafe { std::env::set_var("KALLGLOT_API_KEY", "sk_live_envKEY123456") };
    let client = Client::from_env().unwrap();
    assert_eq!(client.environment(), Environment::Live);
    assert_eq!(client.base_url(), "https://api.kallglot.com");

    unsafe { std::env::set_var("KALLGLOT_BASE_URL", "http://127.0.0.1:4010/") };
    let client = Client::from_env().unwrap();
    assert_eq!(client.base_url(), "http://127.0.0.1:4010");

    unsafe { std::env::set_var("KALLGLOT_API_KEY", " sk_test_padded ") };
    let err = Client::from_env().unwrap_err();
    assert!(matches!(
        err,
        Error::Config(ConfigError::InvalidApiKey(
            kallglot::ApiKeyError::SurroundingWhitespace
        ))
    ));
    assert!(!err.to_string().contains("padded"));
}
