//! Stream a stereo call recording, one party per channel, in real time, and print the
//! live transcript of both parties.
//!
//! `cargo run -p kallglot-examples --bin stereo_wav [-- call.wav]`. Without a file it
//! writes a 3-second demo recording first (left channel: the agent, right: the customer).
//! Any sample rate works: the SDK resamples to 8 kHz and encodes μ-law itself.
//!
//! [`Sessions::stream_audio`](kallglot::Sessions::stream_audio) paces each party on its
//! own timeline, so the two channels go out side by side, 100 ms frames 100 ms apart, as
//! the API asks of live audio; when the input ends, it ends the session.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kallglot::model::{CreateSessionParams, Language, Mode, Speaker};
use kallglot::stream::audio::WavReader;
use kallglot::stream::{Event, PartyChunk, StreamOptions};
use kallglot_examples::{Target, check};

/// Channel 0 is the agent, channel 1 the customer: the usual layout of a call recording.
const PARTIES: [Speaker; 2] = [Speaker::Agent, Speaker::Customer];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (path, demo) = match std::env::args_os().nth(1) {
        Some(path) => (PathBuf::from(path), false),
        None => (write_demo_recording()?, true),
    };

    // One scripted utterance per second of audio, so 3 s of demo audio give 3 lines.
    let emulator = kallglot_mock::MockServer::builder().utterance_duration(Duration::from_secs(1));
    let target = Target::with_emulator(emulator).await?;
    let client = &target.client;

    let mut wav = WavReader::open(&path)?;
    if wav.channels() != 2 {
        return Err(format!(
            "{} has {} channel(s); this example wants stereo",
            path.display(),
            wav.channels()
        )
        .into());
    }
    let duration = wav.duration();
    let second = usize::try_from(wav.sample_rate_hz())?;
    println!(
        "{}: {:.1} s at {} Hz, 2 channels",
        path.display(),
        duration.as_secs_f64(),
        wav.sample_rate_hz()
    );

    // Read a second at a time, so that a long recording is never in memory whole, and
    // split each second into the parties' 100 ms blocks (agent, customer, agent, …).
    let source = path.display().to_string();
    let seconds = std::iter::from_fn(move || match wav.read_chunk(second) {
        Ok(Some(pcm)) => Some(PartyChunk::per_channel(&pcm, &PARTIES)),
        Ok(None) => None,
        Err(error) => {
            // Stop here: the session ends with the audio sent so far.
            eprintln!("stopped reading {source}: {error}");
            None
        }
    });
    let audio = futures_util::stream::iter(seconds).flat_map(|parties| {
        // per_channel fails only with more parties than channels, ruled out above.
        futures_util::stream::iter(parties.unwrap_or_default())
    });

    let session = client
        .sessions()
        .create(
            CreateSessionParams::new(Mode::BidirectionalTranslation)
                .languages(Language::ES, Language::EN),
        )
        .await?;
    println!("session {}", session.id);

    let started = Instant::now();
    let mut events = client
        .sessions()
        .stream_audio(&session, audio, StreamOptions::default())
        .await?;

    let (mut agent_lines, mut customer_lines, mut ended) = (0, 0, false);
    while let Some(event) = events.next().await {
        match event? {
            Event::TranscriptFinal(line) => {
                let who = line
                    .speaker
                    .as_ref()
                    .map_or("?".to_string(), ToString::to_string);
                match line.speaker {
                    Some(Speaker::Agent) => agent_lines += 1,
                    Some(Speaker::Customer) => customer_lines += 1,
                    _ => {}
                }
                let translation = line.translation.map(|t| t.text).unwrap_or_default();
                println!(
                    "[{:>4.1} s] {who}: {}  →  {translation}",
                    started.elapsed().as_secs_f64(),
                    line.text
                );
            }
            Event::SessionError { code, message, .. } => {
                eprintln!(
                    "the server refused something: {code} {}",
                    message.unwrap_or_default()
                );
            }
            Event::Closed(closed) => {
                ended = closed.session_ended;
                break;
            }
            _ => {}
        }
    }
    let elapsed = started.elapsed();
    if demo {
        std::fs::remove_file(&path)?;
    }
    println!(
        "streamed in {:.1} s; the session ended: {ended}",
        elapsed.as_secs_f64()
    );

    if target.is_emulated() {
        check(
            ended,
            "stream_audio ended the session when the file was done",
        )?;
        check(
            agent_lines > 0 && customer_lines > 0,
            "both parties were transcribed",
        )?;
        // The emulator makes one line per second of the longest party's audio: the two
        // channels went out side by side (3 lines), not one after the other (6).
        let expected = usize::try_from(duration.as_secs())?;
        check(
            agent_lines + customer_lines == expected,
            "the parties were sent side by side, one timeline each",
        )?;
        // Real-time pacing: 3 s of audio cannot have gone out much faster than 3 s.
        check(
            elapsed + Duration::from_millis(500) >= duration,
            "the audio was paced in real time",
        )?;
        let transcript = client.sessions().transcript(session.id.clone()).await?;
        check(
            transcript.turns.len() == agent_lines + customer_lines,
            "the stored transcript has every live line",
        )?;
    }
    Ok(())
}

/// Writes 3 s of 16 kHz stereo: a tone on the left (the agent) and another on the right
/// (the customer), taking turns, the way a two-party call recording looks.
fn write_demo_recording() -> Result<PathBuf, hound::Error> {
    let path = std::env::temp_dir().join(format!("kallglot-demo-call-{}.wav", std::process::id()));
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&path, spec)?;
    for n in 0..3 * spec.sample_rate {
        let t = f64::from(n) / f64::from(spec.sample_rate);
        let agent_speaks = (n / spec.sample_rate).is_multiple_of(2);
        let tone = |hz: f64| (f64::sin(2.0 * std::f64::consts::PI * hz * t) * 8_000.0) as i16;
        let (left, right) = if agent_speaks {
            (tone(220.0), 0)
        } else {
            (0, tone(330.0))
        };
        writer.write_sample(left)?;
        writer.write_sample(right)?;
    }
    writer.finalize()?;
    println!("wrote a demo recording to {}", path.display());
    Ok(path)
}
