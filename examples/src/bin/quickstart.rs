//! Quickstart: create a translation session, end it, and read its transcript.
//!
//! `cargo run -p kallglot-examples --bin quickstart` (the embedded emulator), or with
//! `KALLGLOT_API_KEY=sk_test_…` set, against the real API.

use kallglot::model::{CreateSessionParams, Language, Mode};
use kallglot_examples::{Target, check};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_env().await?;
    let client = &target.client;

    let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
        .languages(Language::EN, Language::ES);
    let session = client.sessions().create(params).await?;
    println!(
        "created {} (request {})",
        session.id,
        session.request_id().unwrap_or("-")
    );

    let ended = client.sessions().end(session.id.clone()).await?;
    println!(
        "ended {} after {} s",
        ended.id,
        ended.duration_seconds.unwrap_or_default()
    );

    let transcript = client.sessions().transcript(session.id.clone()).await?;
    println!("transcript has {} turns", transcript.turns.len());

    check(
        ended.id == session.id,
        "the ended session is the one created",
    )?;
    Ok(())
}
