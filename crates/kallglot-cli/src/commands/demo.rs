//! `kallglot demo`: the whole Kallglot flow, offline, against the embedded emulator.

use std::time::Duration;

use kallglot::model::{
    AnalysisPart, CreateAnalysisParams, CreateSessionParams, Language, Mode, Speaker,
};
use kallglot::stream::PartyChunk;
use kallglot::stream::audio::{Pcm, SAMPLE_RATE_HZ};
use kallglot::{Client, WaitOptions};

use super::stream::{pacing, stream_audio};
use crate::exit::Failure;
use crate::output;

/// Each synthetic turn lasts this long. Both parties stream all the time, as the two
/// legs of a call do (the one not speaking sends silence); the emulator's conversation
/// clock follows that call time and scripts an utterance per [`UTTERANCE`] of it, so
/// every turn yields a transcript line.
const TURN: Duration = Duration::from_millis(1_000);
const UTTERANCE: Duration = TURN;
const TURNS: usize = 6;

pub async fn run(speed: f64) -> Result<(), Failure> {
    let pacing = pacing(speed)?;
    println!("== Kallglot demo: everything runs locally against the embedded emulator ==\n");
    let server = kallglot_mock::MockServer::builder()
        .utterance_duration(UTTERANCE)
        .analysis_delay(Duration::from_millis(300))
        .start()
        .await
        .map_err(|e| Failure::local(format!("cannot start the emulator: {e}")))?;
    println!("emulator   {} (test key, no network)", server.url());
    let client = Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .app_info("kallglot-demo", None)
        .build()?;

    let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
        .languages(Language::EN, Language::ES);
    let session = client.sessions().create(params).await?;
    println!(
        "session    {} created ({} → {})",
        session.id,
        Language::EN,
        Language::ES
    );
    println!("           {}\n", output::figures(session.meta()));

    println!(
        "-- live bilingual transcript ({TURNS} turns of sample audio, streamed in real time) --"
    );
    let (items, total) = sample_conversation()?;
    let ended = stream_audio(&client, &session, items, total, pacing, false).await?;
    println!();
    if !ended {
        return Err(Failure::local(
            "the emulator closed the stream before the session ended",
        ));
    }

    let summary = client.sessions().end(&session.id).await?;
    println!(
        "ended      {} after {:.1} s of audio",
        summary.id,
        summary.duration_seconds.unwrap_or_default()
    );

    let transcript = client.sessions().transcript(&session.id).await?;
    println!();
    output::transcript(&transcript);

    let recordings = client.sessions().recordings(&session.id).await?;
    println!("\nrecordings");
    for recording in &recordings.data {
        output::recording(recording);
        let mut audio = Vec::new();
        let done = client
            .recordings()
            .download(recording.id.clone())
            .to_writer(&mut audio)
            .await?;
        println!(
            "           downloaded {} bytes ({})",
            done.bytes,
            done.content_type.as_deref().unwrap_or("?")
        );
    }

    let include = [
        AnalysisPart::Summary,
        AnalysisPart::Sentiment,
        AnalysisPart::Performance,
    ];
    let created = client
        .analyses()
        .create(&session.id, CreateAnalysisParams::new().include(include))
        .await?;
    let analysis = client
        .analyses()
        .wait(
            created.id.clone(),
            WaitOptions::default().initial_interval(Duration::from_millis(200)),
        )
        .await?;
    println!();
    output::analysis(&analysis);

    println!("\nrate limit and credits (from the last response)");
    println!("           {}", output::figures(analysis.meta()));
    println!(
        "           credits used by this demo: {}",
        server.credits_used()
    );
    server.shutdown().await;
    println!("\ndone.");
    Ok(())
}

/// A short synthetic call: the customer (left channel) and the agent (right) take turns,
/// as harmonic tones with a syllable-rate envelope, while the other channel is silent.
/// It is split into the two parties, 8 kHz. The emulator's transcripts
/// are scripted and paced by the amount of audio, so the sound only has to be plausible,
/// and synthesizing it keeps binary files out of the repository.
fn sample_conversation() -> Result<(Vec<PartyChunk>, Duration), Failure> {
    let per_turn = (TURN.as_secs_f64() * f64::from(SAMPLE_RATE_HZ)) as usize;
    let mut stereo = Vec::with_capacity(2 * per_turn * TURNS);
    for turn in 0..TURNS {
        let (channel, pitch) = if turn % 2 == 0 {
            (0, 140.0)
        } else {
            (1, 210.0)
        };
        for i in 0..per_turn {
            let t = i as f64 / f64::from(SAMPLE_RATE_HZ);
            let syllables = 0.5 - 0.5 * (std::f64::consts::TAU * 4.0 * t).cos();
            let voice: f64 = (1..=5)
                .map(|h| (std::f64::consts::TAU * pitch * f64::from(h) * t).sin() / f64::from(h))
                .sum();
            let sample = (voice * syllables * 6_000.0) as i16;
            let mut frame = [0_i16; 2];
            frame[channel] = sample;
            stereo.extend(frame);
        }
    }
    let local = |e: kallglot::stream::AudioError| Failure::local(e.to_string());
    let call = Pcm::new(stereo, SAMPLE_RATE_HZ, 2).map_err(local)?;
    let items =
        PartyChunk::per_channel(&call, &[Speaker::Customer, Speaker::Agent]).map_err(local)?;
    Ok((items, call.duration()))
}
