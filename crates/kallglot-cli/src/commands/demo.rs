//! `kallglot demo`: the whole Kallglot flow, offline, against the embedded emulator.

use std::time::Duration;

use kallglot::model::{
    AnalysisPart, CreateAnalysisParams, CreateSessionParams, Language, Mode, Speaker,
};
use kallglot::stream::audio::{Framer, MulawAudio, SAMPLE_RATE_HZ};
use kallglot::{Client, WaitOptions};

use super::stream::stream_frames;
use crate::exit::Failure;
use crate::output;

/// Each synthetic turn lasts this long. The emulator keeps one audio timeline per
/// speaker and scripts an utterance per [`UTTERANCE`] of it: with two alternating
/// speakers, every turn yields a transcript line.
const TURN: Duration = Duration::from_millis(1_000);
const UTTERANCE: Duration = Duration::from_millis(500);
const TURNS: usize = 6;

pub async fn run(speed: f64) -> Result<(), Failure> {
    if !(speed > 0.0 && speed.is_finite()) {
        return Err(Failure::usage("--speed must be a positive number"));
    }
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
    let frames = sample_conversation();
    let ended = stream_frames(&client, &session, frames, speed, false).await?;
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

/// A short synthetic conversation: alternating customer and agent "voices" (harmonic
/// tones with a syllable-rate envelope), 8 kHz μ-law in 100 ms frames. The emulator's
/// transcripts are scripted and paced by the amount of audio, so the sound only has to
/// be plausible, and synthesizing it keeps binary files out of the repository.
fn sample_conversation() -> Vec<(MulawAudio, Speaker)> {
    let mut frames = Vec::new();
    for turn in 0..TURNS {
        let (speaker, pitch) = if turn % 2 == 0 {
            (Speaker::Customer, 140.0)
        } else {
            (Speaker::Agent, 210.0)
        };
        let samples = (TURN.as_secs_f64() * f64::from(SAMPLE_RATE_HZ)) as usize;
        let pcm: Vec<i16> = (0..samples)
            .map(|i| {
                let t = i as f64 / f64::from(SAMPLE_RATE_HZ);
                let syllables = 0.5 - 0.5 * (std::f64::consts::TAU * 4.0 * t).cos();
                let voice: f64 = (1..=5)
                    .map(|h| {
                        (std::f64::consts::TAU * pitch * f64::from(h) * t).sin() / f64::from(h)
                    })
                    .sum();
                (voice * syllables * 6_000.0) as i16
            })
            .collect();
        let audio = MulawAudio::from_pcm16(&pcm, SAMPLE_RATE_HZ).expect("8 kHz audio");
        let mut framer = Framer::default();
        framer.push(&audio);
        while let Some(frame) = framer.next_frame() {
            frames.push((frame, speaker.clone()));
        }
        if let Some(rest) = framer.finish() {
            frames.push((rest, speaker.clone()));
        }
    }
    frames
}
