//! Rate-limit pacing and the credits watch: a burst of concurrent calls that stays inside
//! the rate limit, and an alert when the credit balance runs low.
//!
//! The client reads `X-RateLimit-*` from every answer and spreads requests over the
//! window (one pacer for a client and all its clones), so a burst slows down instead of
//! running into 429s. `client.rate_limit_state()` shows what the pacer knows.
//! `client.watch_credits(threshold)` is a `tokio::sync::watch` that changes when the
//! balance falls below the threshold and when it recovers.
//!
//! The emulator here allows 5 requests per 1 s window and starts with 6 credits, so the
//! burst has to be paced and the balance soon falls below 3.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use kallglot::model::{CreateSessionParams, Language, Mode};
use kallglot_examples::{Target, check};

const BURST: usize = 8;
const LOW_CREDITS: i64 = 3;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = kallglot_mock::MockServer::builder()
        .rate_limit(5, Duration::from_secs(1))
        .credits(6);
    let target = Target::with_emulator(emulator).await?;
    let client = &target.client;

    // The alert runs beside the application, the way a service would page someone.
    let mut alerts = client.watch_credits(LOW_CREDITS);
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while alerts.changed().await.is_ok() {
            let alert = *alerts.borrow_and_update();
            if alert.below {
                println!(
                    "  ALERT: credits below {}: {:?} left",
                    alert.threshold, alert.balance
                );
            } else {
                println!(
                    "  credits back above {}: {:?}",
                    alert.threshold, alert.balance
                );
            }
            // (For this example's own check.)
            let _ = seen_tx.send(alert);
        }
    });

    // Four sessions: each costs a credit, the balance falls 6 → 2.
    let mut sessions = Vec::new();
    for _ in 0..4 {
        let session = client
            .sessions()
            .create(
                CreateSessionParams::new(Mode::BidirectionalTranslation)
                    .languages(Language::EN, Language::ES),
            )
            .await?;
        println!(
            "created {}; {:?} credits left",
            session.id,
            session.meta().credits_remaining()
        );
        sessions.push(session.id.clone());
    }

    // A burst of concurrent reads, more than a window allows: the pacer spreads them.
    let started = Instant::now();
    let reads = (0..BURST).map(|i| {
        client
            .sessions()
            .retrieve(sessions[i % sessions.len()].clone())
    });
    let results = join_all(reads).await;
    let failures = results.iter().filter(|r| r.is_err()).count();
    let pacer = client.rate_limit_state();
    println!(
        "{BURST} concurrent reads in {:.1} s, {failures} failed; the pacer held {} of {} attempts for {:?} in all",
        started.elapsed().as_secs_f64(),
        pacer.paced_requests,
        pacer.sent,
        pacer.total_wait
    );
    println!(
        "pacer now: limit {:?}, {:?} left, resets in {:?}",
        pacer.limit, pacer.remaining, pacer.resets_in
    );

    for id in &sessions {
        client.sessions().end(id.clone()).await?;
    }

    let Some(emulator) = &target.emulator else {
        return Ok(());
    };

    // A top-up (done here through the emulator) shows on the next answer, which re-arms
    // the alert.
    emulator.set_credits(50);
    client.sessions().retrieve(sessions[0].clone()).await?;

    check(failures == 0, "no call of the burst failed")?;
    check(pacer.paced_requests > 0, "the pacer held part of the burst")?;
    // Every attempt is counted, retries included: as many as calls means no 429 came back.
    check(
        pacer.sent == (4 + BURST) as u64,
        "no attempt had to be retried",
    )?;
    let mut next_alert = async || {
        tokio::time::timeout(Duration::from_secs(5), seen.recv())
            .await
            .ok()
            .flatten()
    };
    let fell = next_alert().await;
    check(
        fell.is_some_and(|a| a.below && a.balance == Some(2)),
        "the watch fired when the balance fell below 3",
    )?;
    let recovered = next_alert().await;
    check(
        recovered.is_some_and(|a| !a.below && a.falls == 1),
        "and again when it recovered",
    )?;
    Ok(())
}
