//! Live API key rotation: replace the key of a running client by hand, or let the client
//! fetch a fresh one from your secret store when the API says the old one was revoked.
//!
//! - `client.set_api_key(new)` switches this client and all its clones for every request
//!   that starts from then on; requests in flight finish with the key they started with.
//! - An [`ApiKeySource`] (a secret manager, a vault, a rotated file) is asked once for a
//!   new key when a call is refused with `api_key_revoked` or `api_key_expired`, and the
//!   call is sent once more with it.
//!
//! Every new key passes the same checks as the first (its format, and its environment
//! with `expect_environment`), and no key is ever printed: `Debug` shows a redacted form.
//!
//! Against a real server the "vault" holds `KALLGLOT_API_KEY` and the rotation is to the
//! same key; against the emulator, the Portal's part (new keys, revoking old ones) is
//! played by `emulator.add_key`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kallglot::credentials::{ApiKeySource, KeyFuture, KeySourceError};
use kallglot::model::{CreateSessionParams, Language, Mode};
use kallglot::{ApiKey, Environment};
use kallglot_examples::{Target, check};
use kallglot_mock::KeyConfig;

/// A stand-in for a secret manager: it holds the current key, and counts how often the
/// client asked.
#[derive(Debug, Default)]
struct Vault {
    current: Mutex<String>,
    fetches: AtomicUsize,
}

impl Vault {
    fn store(&self, key: &str) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = key.to_string();
    }
}

impl ApiKeySource for Vault {
    fn fetch(&self) -> KeyFuture<'_> {
        Box::pin(async move {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let key = self
                .current
                .lock()
                .map_err(|_| KeySourceError::new("the vault is poisoned"))?
                .clone();
            // A real source would await its secret manager here.
            Ok(ApiKey::new(key)?)
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_env().await?;
    let first_key = match &target.emulator {
        Some(emulator) => emulator.api_key().to_string(),
        None => std::env::var("KALLGLOT_API_KEY")?,
    };
    let vault = Arc::new(Vault::default());
    vault.store(&first_key);

    let client = target
        .builder()
        .expect_environment(Environment::Test)
        .api_key_source(vault.clone())
        .build()?;
    // A clone shares the key: rotating one rotates all.
    let worker = client.clone();
    let session = client
        .sessions()
        .create(
            CreateSessionParams::new(Mode::BidirectionalTranslation)
                .languages(Language::EN, Language::ES),
        )
        .await?;
    println!(
        "created {} with the first key; the client shows it as {client:?}",
        session.id
    );

    // A key for the other environment, or no key at all, is refused; the current key stays.
    let refused = client.set_api_key("sk_live_0123456789abcdef");
    println!(
        "switching to a live key: {}",
        refused
            .as_ref()
            .map_or_else(ToString::to_string, |()| "accepted".into())
    );
    let malformed = client.set_api_key("not a key");
    println!(
        "switching to a malformed key: {}",
        malformed
            .as_ref()
            .map_or_else(ToString::to_string, |()| "accepted".into())
    );

    let Some(emulator) = &target.emulator else {
        // Against a real server: "rotate" to the same key, and carry on.
        client.set_api_key(first_key)?;
        worker.sessions().end(session.id.clone()).await?;
        println!("rotated and ended {}", session.id);
        return Ok(());
    };

    // 1. Rotation by hand: the Portal issues a second key, the app switches to it, then
    //    the first key is revoked. Nothing fails in between.
    let second = "sk_test_rotation_second_0000000001";
    emulator.add_key(KeyConfig::test(second));
    client.set_api_key(second)?;
    vault.store(second);
    emulator.add_key(KeyConfig::test(first_key.as_str()).revoked());
    let retrieved = worker.sessions().retrieve(session.id.clone()).await?;
    println!(
        "after switching by hand, the clone retrieved {}",
        retrieved.id
    );

    // 2. Rotation behind the app's back: the vault gets a third key and the second is
    //    revoked. The next call is refused with api_key_revoked, the client asks the
    //    vault, and sends the call again with the new key.
    let third = "sk_test_rotation_third_00000000002";
    emulator.add_key(KeyConfig::test(third));
    vault.store(third);
    emulator.add_key(KeyConfig::test(second).revoked());
    let ended = worker.sessions().end(session.id.clone()).await?;
    println!(
        "after a revocation, ended {} with the key from the vault",
        ended.id
    );
    let later = client.sessions().transcript(session.id.clone()).await?;
    println!("and later calls use it too ({} turns)", later.turns.len());

    check(
        refused.is_err(),
        "a live key is refused by a client expecting test keys",
    )?;
    check(malformed.is_err(), "a malformed key is refused")?;
    check(
        vault.fetches.load(Ordering::SeqCst) == 1,
        "the vault was asked once, after the revocation",
    )?;
    check(
        !format!("{client:?}").contains("rotation_third"),
        "Debug never shows the key",
    )?;
    Ok(())
}
