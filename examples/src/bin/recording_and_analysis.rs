//! After the call: wait for the recording, download it to a file without holding it in
//! memory, then request an AI analysis and wait for it.
//!
//! `cargo run -p kallglot-examples --bin recording_and_analysis [-- out.mp3]` (the file
//! goes to the temporary directory by default).
//!
//! The wait helpers poll with a jittered, growing interval under a deadline. In a service,
//! prefer the `recording.ready` and `analysis.complete` webhooks (see `webhook_receiver`)
//! and keep polling for scripts and back-office jobs.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use kallglot::WaitOptions;
use kallglot::model::{
    AnalysisPart, AnalysisStatus, CreateAnalysisParams, CreateSessionParams, Language, Mode,
    RecordingStatus,
};
use kallglot::stream::audio::MulawAudio;
use kallglot::stream::{AudioChunk, Event, Pacing, StreamOptions};
use kallglot_examples::{Target, check};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args_os().nth(1).map_or_else(
        || std::env::temp_dir().join(format!("kallglot-recording-{}.mp3", std::process::id())),
        PathBuf::from,
    );
    let emulator = kallglot_mock::MockServer::builder().analysis_delay(Duration::from_millis(300));
    let target = Target::with_emulator(emulator).await?;
    let client = &target.client;

    // A short call: 4 s of audio sent as fast as the connection takes it (a backfill),
    // after which stream_audio ends the session.
    let session = client
        .sessions()
        .create(
            CreateSessionParams::new(Mode::BidirectionalTranslation)
                .languages(Language::EN, Language::DE),
        )
        .await?;
    let call = futures_util::stream::iter([AudioChunk::from(MulawAudio::from_mulaw_bytes(vec![
            0xFF;
            4 * 8000
        ]))]);
    let options = StreamOptions::default().pacing(Pacing::Unpaced);
    let mut events = client
        .sessions()
        .stream_audio(&session, call, options)
        .await?;
    while let Some(event) = events.next().await {
        if let Event::Closed(_) = event? {
            break;
        }
    }
    println!("session {} ended", session.id);

    // Recordings appear once the session has ended and are processed in seconds.
    let wait = WaitOptions::default()
        .timeout(Duration::from_secs(120))
        .initial_interval(Duration::from_millis(200));
    let recordings = client
        .sessions()
        .wait_for_recordings(session.id.clone(), wait)
        .await?;
    let Some(recording) = recordings
        .data
        .iter()
        .find(|r| r.status == RecordingStatus::Ready)
    else {
        return Err(format!(
            "no recording of {} is ready (recording disabled, or failed)",
            session.id
        )
        .into());
    };
    println!(
        "recording {}: {} s of {}",
        recording.id,
        recording.duration.unwrap_or_default(),
        recording.format.as_deref().unwrap_or("audio")
    );

    // Streamed to the file chunk by chunk, with progress.
    let progress = Arc::new(AtomicU64::new(0));
    let seen = progress.clone();
    let downloaded = client
        .recordings()
        .download(recording.id.clone())
        .on_progress(move |bytes| seen.store(bytes, Ordering::Relaxed))
        .to_file(&out)
        .await?;
    println!(
        "downloaded {} bytes ({}) to {} (suggested name {:?})",
        downloaded.bytes,
        downloaded.content_type.as_deref().unwrap_or("?"),
        out.display(),
        downloaded.filename
    );

    // The analysis runs asynchronously: create, then wait for a final status.
    let params =
        CreateAnalysisParams::new().include([AnalysisPart::Summary, AnalysisPart::Sentiment]);
    let pending = client.analyses().create(session.id.clone(), params).await?;
    println!("analysis {} is {}", pending.id, pending.status);
    let analysis = client.analyses().wait(pending.id.clone(), wait).await?;
    match analysis.status {
        AnalysisStatus::Completed => {
            println!("summary: {}", analysis.summary.as_deref().unwrap_or("-"));
            if let Some(sentiment) = &analysis.sentiment {
                println!(
                    "customer sentiment: {}",
                    sentiment.customer.as_deref().unwrap_or("-")
                );
            }
        }
        AnalysisStatus::Failed => println!(
            "the analysis failed: {}",
            analysis.error.as_deref().unwrap_or("no reason given")
        ),
        ref other => println!("the analysis ended as {other}"),
    }

    if target.is_emulated() {
        let file = tokio::fs::read(&out).await?;
        tokio::fs::remove_file(&out).await?;
        check(
            file.len() as u64 == downloaded.bytes,
            "the file holds every byte downloaded",
        )?;
        check(
            progress.load(Ordering::Relaxed) == downloaded.bytes,
            "progress reached the full size",
        )?;
        check(
            file.starts_with(b"ID3"),
            "the recording is an MP3 (ID3 tag first)",
        )?;
        check(
            downloaded.content_type.as_deref() == Some("audio/mpeg"),
            "served as audio/mpeg",
        )?;
        check(
            analysis.status == AnalysisStatus::Completed,
            "the analysis completed",
        )?;
        check(
            analysis.summary.is_some()
                && analysis.sentiment.is_some()
                && analysis.compliance.is_none(),
            "the analysis has exactly the parts asked for",
        )?;
    }
    Ok(())
}
