//! Errors and retries: what the client retries by itself, and how your code decides what
//! to do with the rest by branching on [`ErrorCode`].
//!
//! Every failure is one `kallglot::Error`. An API error carries the status, an open
//! `ErrorCode` (codes this version does not know arrive as `ErrorCode::Unknown`), the
//! field it concerns, the request id and `Retry-After`. Transient failures (connection
//! errors, timeouts, 429, 5xx) are retried before you see them, and a retried write
//! reuses its `Idempotency-Key`, so it is never applied twice.
//!
//! Against a real server this provokes what a key can provoke (a bad request, an unknown
//! id); against the emulator it also injects outages, a lost answer, a long rate-limit
//! wait and an empty credit balance with `emulator.faults()`.

use std::time::Duration;

use kallglot::model::{CreateAnalysisParams, CreateSessionParams, Language, Mode};
use kallglot::{Client, Error, ErrorCode, RetryPolicy};
use kallglot_examples::{Target, check};
use kallglot_mock::{Fault, catalogue};

/// What the application does next: the decision a real service takes per failure.
#[derive(Debug, PartialEq)]
enum Next {
    /// Try again later (after this long, when the server said), with the same
    /// idempotency key for a write.
    RetryLater(Option<Duration>),
    /// Out of credits: alert someone; retrying will not help.
    TopUp,
    /// The key was refused: rotate it.
    RotateKey,
    /// The request is wrong: fix this field.
    FixRequest(Option<String>),
    /// The key lacks a permission.
    AskForScope,
    /// No such resource.
    NotFound,
    /// The analysis needs the session to have ended first.
    EndSessionFirst,
    /// Anything else: log it with the request id and give up.
    GiveUp,
}

fn decide(error: &Error) -> Next {
    let retry_after = error.as_api().and_then(|api| api.retry_after);
    match error.code() {
        Some(ErrorCode::InsufficientApiCredits) => Next::TopUp,
        Some(ErrorCode::RateLimitExceeded) => Next::RetryLater(retry_after),
        Some(code) if code.is_auth() => Next::RotateKey,
        Some(ErrorCode::InsufficientPermissions) => Next::AskForScope,
        Some(ErrorCode::InvalidRequest) => {
            Next::FixRequest(error.as_api().and_then(|api| api.param.clone()))
        }
        // A code this SDK version has no variant for is still matched by its text.
        Some(code) if code.as_str() == "transcript_not_available" => Next::EndSessionFirst,
        // A code this SDK does not know, or none (a proxy's HTML page, a timeout):
        // fall back on what the status and the error's kind say.
        _ if error.is_not_found() => Next::NotFound,
        _ if error.is_retryable() => Next::RetryLater(retry_after),
        _ => Next::GiveUp,
    }
}

/// Prints a failure the way a log line should: the decision, the code, the request id.
fn report(what: &str, result: Result<impl std::fmt::Debug, Error>) -> Option<Next> {
    match result {
        Ok(_) => {
            println!("{what}: ok");
            None
        }
        Err(error) => {
            let next = decide(&error);
            println!(
                "{what}: {next:?}\n    {error}\n    code {:?}, request id {}",
                error.code().map(ErrorCode::as_str),
                error.request_id().unwrap_or("-"),
            );
            Some(next)
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_env().await?;
    let client = &target.client;

    // 1. A request the API refuses: a mode it does not know. The field is named.
    let bad = CreateSessionParams::new(Mode::from("karaoke")).languages(Language::EN, Language::ES);
    let invalid = report(
        "create with an unknown mode",
        client.sessions().create(bad).await,
    );

    // 2. An id that does not exist.
    let missing = report(
        "retrieve an unknown session",
        client.sessions().retrieve("sess_does_not_exist").await,
    );

    // 3. Analysis before the session ended: a 409 whose code is not in the SDK's list.
    let session = client
        .sessions()
        .create(
            CreateSessionParams::new(Mode::BidirectionalTranslation)
                .languages(Language::EN, Language::ES),
        )
        .await?;
    let early = report(
        "analysis of an active session",
        client
            .analyses()
            .create(session.id.clone(), CreateAnalysisParams::new())
            .await,
    );
    client.sessions().end(session.id.clone()).await?;

    // 4. A network failure: nothing listens on this loopback port any more.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let offline = Client::builder()
        .api_key("sk_test_offline_0123456789")
        .base_url(format!("http://127.0.0.1:{closed}"))
        .max_retries(0)
        .build()?;
    let down = report(
        "a server that is down",
        offline.sessions().retrieve(session.id.clone()).await,
    );

    let Some(emulator) = &target.emulator else {
        return Ok(());
    };
    check(
        invalid == Some(Next::FixRequest(Some("mode".into()))),
        "the bad mode is a request to fix, naming `mode`",
    )?;
    check(
        missing == Some(Next::NotFound),
        "an unknown id is not found",
    )?;
    check(
        early == Some(Next::EndSessionFirst),
        "analysis of an active session waits for its end",
    )?;
    check(
        matches!(down, Some(Next::RetryLater(None))),
        "a connection failure is worth retrying later",
    )?;

    // 5. Two 503s: the client retries with backoff, and the caller never sees them.
    let faults = emulator.faults();
    faults.inject(
        &catalogue::RETRIEVE_SESSION,
        Fault::status(503, "service_unavailable").times(2),
    );
    let sent_before = client.rate_limit_state().sent;
    let outage = report(
        "retrieve through two 503s",
        client.sessions().retrieve(session.id.clone()).await,
    );
    let attempts = client.rate_limit_state().sent - sent_before;
    println!("    ({attempts} attempts)");
    check(
        outage.is_none() && attempts == 3,
        "two 503s were retried away in three attempts",
    )?;

    // 6. The answer to a create is lost on the way back. The retry carries the same
    // Idempotency-Key, the server replays its stored answer, and one session (one
    // credit) is all it costs.
    faults.inject(&catalogue::CREATE_SESSION, Fault::lose_response().times(1));
    let used_before = emulator.credits_used();
    let created = client
        .sessions()
        .create(
            CreateSessionParams::new(Mode::BidirectionalTranslation)
                .languages(Language::EN, Language::FR),
        )
        .await?;
    println!(
        "create through a lost answer: ok, {} (key {:?})",
        created.id,
        created.idempotency_key().map(|k| k.as_str())
    );
    check(
        emulator.credits_used() == used_before + 1,
        "the retried create was applied once",
    )?;

    // 7. Rate limited with a wait longer than this client sits through on your behalf:
    // the error comes back with the wait, and the caller schedules the retry.
    let impatient = target
        .builder()
        .retry_policy(RetryPolicy::default().with_max_retry_after(Duration::from_secs(5)))
        .build()?;
    let id = faults.inject(
        &catalogue::RETRIEVE_SESSION,
        Fault::status(429, "rate_limit_exceeded")
            .retry_after(30)
            .always(),
    );
    let limited = report(
        "retrieve while rate limited for 30 s",
        impatient.sessions().retrieve(session.id.clone()).await,
    );
    faults.remove(id);
    check(
        limited == Some(Next::RetryLater(Some(Duration::from_secs(30)))),
        "a long 429 wait reaches the caller",
    )?;

    // 8. No credits left.
    let balance = emulator.credits();
    emulator.set_credits(0);
    let broke = report(
        "create with no credits",
        client
            .sessions()
            .create(CreateSessionParams::new(Mode::BidirectionalTranslation))
            .await,
    );
    emulator.set_credits(balance);
    check(
        broke == Some(Next::TopUp),
        "402 insufficient_api_credits means topping up",
    )?;
    Ok(())
}
