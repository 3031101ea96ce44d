//! `kallglot stream FILE.wav`: streams a WAV file in real time and prints live transcripts.

use std::time::Duration;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use kallglot::model::{Session, Speaker};
use kallglot::stream::audio::{Pcm, read_wav};
use kallglot::stream::{AudioChunk, Event, Pacing, PartyChunk, StreamOptions};
use kallglot::{Client, Response};

use super::{client, create_params};
use crate::cli::{Cli, StreamArgs};
use crate::exit::Failure;

pub async fn run(cli: &Cli, args: &StreamArgs) -> Result<(), Failure> {
    let pacing = pacing(args.speed)?;
    // The whole file is read and checked before a session is created for it.
    let pcm =
        read_wav(&args.wav).map_err(|e| Failure::local(format!("{}: {e}", args.wav.display())))?;
    let items = match &args.split_channels {
        Some(speakers) => split(&pcm, speakers)?,
        None => vec![PartyChunk::new(
            Speaker::from(args.speaker.as_str()),
            AudioChunk::from(pcm.clone()),
        )],
    };
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
        pcm.duration().as_secs_f64(),
        session.id
    );
    let ended = stream_audio(&client, &session, items, pcm.duration(), pacing, true).await?;
    if !ended {
        eprintln!("the stream closed before session.ended");
    }
    Ok(())
}

/// `--speed` as the SDK's pacing: 1 is real time.
pub fn pacing(speed: f64) -> Result<Pacing, Failure> {
    if !(speed > 0.0 && speed.is_finite()) {
        return Err(Failure::usage("--speed must be a positive number"));
    }
    Ok(if speed == 1.0 {
        Pacing::RealTime
    } else {
        Pacing::Accelerated(speed)
    })
}

/// One party per channel, as `--split-channels` names them.
fn split(pcm: &Pcm, speakers: &[String]) -> Result<Vec<PartyChunk>, Failure> {
    let speakers: Vec<Speaker> = speakers.iter().map(|s| Speaker::from(s.as_str())).collect();
    PartyChunk::per_channel(pcm, &speakers)
        .map_err(|e| Failure::usage(format!("--split-channels: {e}")))
}

/// Streams `items` through the SDK (paced, framed, both parties), prints the transcript
/// as it arrives, and returns whether `session.ended` arrived. `total` is the audio's
/// length, for the progress bar.
pub async fn stream_audio(
    client: &Client,
    session: &Session,
    items: Vec<PartyChunk>,
    total: Duration,
    pacing: Pacing,
    progress: bool,
) -> Result<bool, Failure> {
    let options = StreamOptions::default().pacing(pacing);
    let mut events = client
        .sessions()
        .stream_audio(session, futures_util::stream::iter(items), options)
        .await?;
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
    // The SDK paces the audio, so the position follows the clock.
    let speed = match pacing {
        Pacing::Accelerated(speed) => speed,
        _ => 1.0,
    };
    let start = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    let mut ended = false;
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            _ = ticks.tick() => {
                let played = start.elapsed().mul_f64(speed).min(total);
                bar.set_position(played.as_millis() as u64);
                continue;
            }
        };
        let Some(event) = event else { break };
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
    Ok(ended)
}
