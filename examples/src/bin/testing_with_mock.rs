//! Testing your own code with `kallglot-mock`: start the emulator in the test, point your
//! client at it, and inject the failures your code has to survive.
//!
//! `CallDesk` below stands for your application code: it starts a translated call and
//! turns the SDK's errors into the few outcomes your product cares about. The scenarios
//! are ordinary async functions; the `tests` module at the bottom runs them as
//! `#[tokio::test]`s (`cargo test -p kallglot-examples --bin testing_with_mock`), and
//! `main` runs them too, so this file is checked by the examples run as well.
//!
//! With `KALLGLOT_API_KEY` set, `main` also runs the happy path against the real API,
//! with exactly the code the tests exercise. The fault scenarios always run on an
//! emulator of their own: a test should never depend on a shared account's state.

use std::time::Duration;

use kallglot::model::{CreateSessionParams, Language, Mode};
use kallglot::{Client, Error, ErrorCode, RetryPolicy, Scope, SessionId};
use kallglot_examples::{Target, check};
use kallglot_mock::{Fault, KeyConfig, MockServer, catalogue};

// ---- your code -------------------------------------------------------------------------

/// What the product does about a call that could not start.
#[derive(Debug, PartialEq)]
enum CallError {
    /// Tell finance; do not retry.
    OutOfCredits,
    /// The deployment's key cannot do this: page whoever configures it.
    Misconfigured { missing_scope: Option<Scope> },
    /// Kallglot (or the network) is unavailable right now: offer a callback.
    Unavailable,
    /// Anything else, with the request id for support.
    Other(String),
}

impl From<Error> for CallError {
    fn from(error: Error) -> Self {
        match error.code() {
            Some(ErrorCode::InsufficientApiCredits) => Self::OutOfCredits,
            Some(ErrorCode::InsufficientPermissions) => Self::Misconfigured {
                missing_scope: error.as_api().and_then(|api| api.required_scope),
            },
            Some(code) if code.is_auth() => Self::Misconfigured {
                missing_scope: None,
            },
            _ if error.is_retryable() => Self::Unavailable,
            _ => Self::Other(format!(
                "{error} (request {})",
                error.request_id().unwrap_or("-")
            )),
        }
    }
}

/// Starts translated calls.
struct CallDesk {
    client: Client,
}

impl CallDesk {
    async fn start_call(&self, caller: Language, agent: Language) -> Result<SessionId, CallError> {
        let params =
            CreateSessionParams::new(Mode::BidirectionalTranslation).languages(caller, agent);
        let session = self.client.sessions().create(params).await?;
        Ok(session.id.clone())
    }
}

// ---- the scenarios ---------------------------------------------------------------------

type Outcome = Result<(), Box<dyn std::error::Error>>;

/// A desk whose client talks to `emulator`, with `key`. Retries keep their number but
/// back off for milliseconds, and a short deadline makes a stalled API fail the test
/// quickly: tests should not wait like production does.
fn desk(emulator: &MockServer, key: &str) -> Result<CallDesk, Error> {
    let client = Client::builder()
        .api_key(key)
        .base_url(emulator.url())
        .retry_policy(RetryPolicy::default().with_initial_backoff(Duration::from_millis(10)))
        .deadline(Duration::from_millis(300))
        .build()?;
    Ok(CallDesk { client })
}

/// Two 503s in a row are retried by the client: the call starts anyway.
async fn survives_a_brief_outage() -> Outcome {
    let emulator = MockServer::start().await?;
    emulator.faults().inject(
        &catalogue::CREATE_SESSION,
        Fault::status(503, "service_unavailable").times(2),
    );
    let started = desk(&emulator, emulator.api_key())?
        .start_call(Language::ES, Language::EN)
        .await;
    check(started.is_ok(), "the call started despite two 503s")?;
    check(
        emulator.faults().active() == 0,
        "both injected 503s were used",
    )
}

/// A long outage (a proxy's HTML 502 on every attempt) is reported as unavailable.
async fn reports_a_long_outage() -> Outcome {
    let emulator = MockServer::start().await?;
    emulator
        .faults()
        .inject(&catalogue::CREATE_SESSION, Fault::html(502).always());
    let started = desk(&emulator, emulator.api_key())?
        .start_call(Language::ES, Language::EN)
        .await;
    check(
        started == Err(CallError::Unavailable),
        "a long outage means unavailable",
    )
}

/// An API that stalls past the deadline is unavailable too, and in bounded time.
async fn gives_up_on_a_stalled_api() -> Outcome {
    let emulator = MockServer::start().await?;
    emulator.faults().inject(
        &catalogue::CREATE_SESSION,
        Fault::delay(Duration::from_secs(5)).always(),
    );
    let begun = std::time::Instant::now();
    let started = desk(&emulator, emulator.api_key())?
        .start_call(Language::ES, Language::EN)
        .await;
    check(
        started == Err(CallError::Unavailable),
        "a stalled API means unavailable",
    )?;
    check(
        begun.elapsed() < Duration::from_secs(2),
        "the desk gave up at its deadline",
    )
}

/// No credits: the product is told to top up, not to retry.
async fn reports_out_of_credits() -> Outcome {
    let emulator = MockServer::builder().credits(0).start().await?;
    let started = desk(&emulator, emulator.api_key())?
        .start_call(Language::ES, Language::EN)
        .await;
    check(
        started == Err(CallError::OutOfCredits),
        "402 means out of credits",
    )
}

/// A read-only key: the product learns which scope the deployment's key is missing.
async fn names_the_missing_scope() -> Outcome {
    let emulator = MockServer::start().await?;
    let reader = "sk_test_read_only_000000000000";
    emulator.add_key(KeyConfig::test(reader).scopes(["sessions:read"]));
    let started = desk(&emulator, reader)?
        .start_call(Language::ES, Language::EN)
        .await;
    check(
        started
            == Err(CallError::Misconfigured {
                missing_scope: Some(Scope::SessionsWrite),
            }),
        "403 names sessions:write",
    )
}

#[tokio::main]
async fn main() -> Outcome {
    let target = Target::from_env().await?;
    let desk = CallDesk {
        client: target.client.clone(),
    };
    let session = desk
        .start_call(Language::FR, Language::EN)
        .await
        .map_err(|e| format!("{e:?}"))?;
    println!(
        "happy path against {}: started {session}",
        if target.is_emulated() {
            "the emulator"
        } else {
            "the API"
        }
    );
    target.client.sessions().end(session).await?;

    survives_a_brief_outage().await?;
    println!("ok: survives a brief outage");
    reports_a_long_outage().await?;
    println!("ok: reports a long outage");
    gives_up_on_a_stalled_api().await?;
    println!("ok: gives up on a stalled API");
    reports_out_of_credits().await?;
    println!("ok: reports out of credits");
    names_the_missing_scope().await?;
    println!("ok: names the missing scope");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn brief_outage() -> Outcome {
        survives_a_brief_outage().await
    }

    #[tokio::test]
    async fn long_outage() -> Outcome {
        reports_a_long_outage().await
    }

    #[tokio::test]
    async fn stalled_api() -> Outcome {
        gives_up_on_a_stalled_api().await
    }

    #[tokio::test]
    async fn out_of_credits() -> Outcome {
        reports_out_of_credits().await
    }

    #[tokio::test]
    async fn missing_scope() -> Outcome {
        names_the_missing_scope().await
    }
}
