//! `kallglot stream FILE.wav`: streams a WAV file in real time and prints live transcripts.

use std::time::Duration;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use kallglot::model::{Session, Speaker};
use kallglot::stream::audio::{Framer, MulawAudio, Resampler, SAMPLE_RATE_HZ};
use kallglot::stream::{Event, StreamOptions};
use kallglot::{Client, Response};

use super::{client, create_params};
use crate::cli::{Cli, StreamArgs};
use crate::exit::Failure;
use crate::wav;

pub async fn run(cli: &Cli, args: &StreamArgs) -> Result<(), Failure> {
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        return Err(Failure::usage("--speed must be a positive number"));
    }
    let pcm = wav::read(&args.wav).map_err(Failure::local)?;
    let frames = to_frames(&pcm)?;
    let client = client(cli)?;
    let session: Response<Session> = match &args.session {
        Some(id) => client.sessions().retrieve(id.as_str()).await?,
        None => {
            client
                .sessions()
                .create(create_params(&args.create)?)
                .await?
        }
    };
    eprintln!(
        "streaming {:.1} s of audio into session {}",
        pcm.seconds(),
        session.id
    );
    let speaker = Speaker::from(args.speaker.as_str());
    let frames = frames.into_iter().map(|f| (f, speaker.clone())).collect();
    let ended = stream_frames(&client, &session, frames, args.speed, true).await?;
    if !ended {
        eprintln!("the stream closed before session.ended");
    }
    Ok(())
}

/// Resamples to 8 kHz, encodes μ-law and cuts 100 ms frames.
pub fn to_frames(pcm: &wav::Pcm) -> Result<Vec<MulawAudio>, Failure> {
    let mut resampler = Resampler::new(pcm.sample_rate_hz)
        .map_err(|e| Failure::local(format!("the WAV file cannot be used: {e}")))?;
    let mut at_8k = Vec::new();
    resampler.process(&pcm.samples, &mut at_8k);
    resampler.flush(&mut at_8k);
    let audio = MulawAudio::from_pcm16(&at_8k, SAMPLE_RATE_HZ)
        .map_err(|e| Failure::local(e.to_string()))?;
    let mut framer = Framer::default();
    framer.push(&audio);
    let mut frames = Vec::new();
    while let Some(frame) = framer.next_frame() {
        frames.push(frame);
    }
    frames.extend(framer.finish());
    Ok(frames)
}

/// Sends `frames` paced in real time (divided by `speed`), prints the transcript as it
/// arrives, ends the session, and returns whether `session.ended` arrived.
pub async fn stream_frames(
    client: &Client,
    session: &Session,
    frames: Vec<(MulawAudio, Speaker)>,
    speed: f64,
    progress: bool,
) -> Result<bool, Failure> {
    let (sender, mut events) = client
        .sessions()
        .connect(session, StreamOptions::default())
        .await?;
    let total: Duration = frames.iter().map(|(f, _)| f.duration()).sum();
    let bar = if progress {
        let bar = ProgressBar::new(total.as_millis() as u64);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{wide_bar}] {pos}/{len} ms")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message("audio");
        bar
    } else {
        ProgressBar::hidden()
    };
    let feeder_bar = bar.clone();
    let feeder = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let mut sent = Duration::ZERO;
        for (frame, speaker) in frames {
            let length = frame.duration();
            sender.send_audio_as(speaker, frame).await?;
            sent += length;
            feeder_bar.set_position(sent.as_millis() as u64);
            tokio::time::sleep_until(start + sent.div_f64(speed)).await;
        }
        sender.end().await
    });
    let mut ended = false;
    while let Some(event) = events.next().await {
        match event? {
            Event::TranscriptPartial(partial) => bar.set_message(format!(
                "{}…",
                partial.text.chars().take(40).collect::<String>()
            )),
            Event::TranscriptFinal(line) => bar.suspend(|| {
                let speaker = line
                    .speaker
                    .as_ref()
                    .map_or("?".to_string(), |s| s.to_string());
                println!("[{speaker}] {}", line.text);
                if let Some(translation) = &line.translation {
                    println!("    → {}", translation.text);
                }
            }),
            Event::SessionError { code, message, .. } => bar.suspend(|| {
                eprintln!("stream error {code}: {}", message.unwrap_or_default());
            }),
            Event::SessionEnded { reason, .. } => {
                ended = true;
                bar.suspend(|| eprintln!("session ended ({reason})"));
            }
            Event::Reconnected { attempt } => {
                bar.suspend(|| eprintln!("reconnected (attempt {attempt})"))
            }
            Event::Closed(_) => break,
            _ => {}
        }
    }
    bar.finish_and_clear();
    match feeder.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) if ended => tracing::debug!(error = %e, "the feeder stopped after the end"),
        Ok(Err(e)) => return Err(e.into()),
        Err(e) => return Err(Failure::local(format!("the audio feeder failed: {e}"))),
    }
    Ok(ended)
}
