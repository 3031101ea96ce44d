//! `kallglot demo`: the whole Kallglot flow, offline against the embedded emulator, or
//! against the server given with `--base-url` (or `--profile`).

use std::time::Duration;

use kallglot::model::{
    Analysis, AnalysisPart, CreateAnalysisParams, CreateSessionParams, EndedSession, Language,
    Mode, Recording, Speaker, Transcript,
};
use kallglot::stream::audio::{Pcm, SAMPLE_RATE_HZ};
use kallglot::{Client, WaitOptions};
use serde::Serialize;

use super::stream::{Audio, Parties, Plan, Show, interrupted, pacing, stream_audio};
use crate::cli::{Cli, DemoArgs};
use crate::config;
use crate::exit::Failure;
use crate::interrupt::Interrupt;
use crate::output::{self, outln};

/// Each synthetic turn lasts this long. Both parties stream all the time, as the two
/// legs of a call do (the one not speaking sends silence); the emulator's conversation
/// clock follows that call time and scripts an utterance per [`UTTERANCE`] of it, so
/// every turn yields a transcript line.
const TURN: Duration = Duration::from_millis(1_000);
const UTTERANCE: Duration = TURN;
const TURNS: usize = 6;

/// What `demo --json` prints: the API's objects from the flow's own calls.
#[derive(Serialize)]
struct Summary<'a> {
    /// `emulator` or the base URL.
    target: &'a str,
    ended: &'a EndedSession,
    transcript: &'a Transcript,
    recordings: Vec<DownloadedRecording<'a>>,
    analysis: &'a Analysis,
    /// Credits the flow used, when the emulator counts them.
    credits_used: Option<u64>,
}

#[derive(Serialize)]
struct DownloadedRecording<'a> {
    recording: &'a Recording,
    downloaded_bytes: u64,
}

/// Where the demo runs.
enum Target {
    Embedded(kallglot_mock::MockServer),
    Remote(String),
}

pub async fn run(cli: &Cli, args: &DemoArgs) -> Result<(), Failure> {
    let pacing = pacing(args.speed)?;
    let human = !cli.json;
    // Prints a line of the human story; under --json only the summary is printed.
    macro_rules! say {
        ($($arg:tt)*) => {
            if human { outln!($($arg)*)?; }
        };
    }
    let (target, client) = target(cli, args).await?;
    match &target {
        Target::Embedded(server) => {
            say!("== Kallglot demo: everything runs locally against the embedded emulator ==\n");
            say!("emulator   {} (test key, no network)", server.url());
        }
        Target::Remote(url) => say!("== Kallglot demo against {url} ==\n"),
    }
    let interrupt = Interrupt::install(super::deadline(cli));

    let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
        .languages(Language::EN, Language::ES);
    let session = client.sessions().create(params).await?;
    say!(
        "session    {} created ({} → {})",
        session.id,
        Language::EN,
        Language::ES
    );
    say!("           {}\n", output::figures(session.meta()));

    say!("-- live bilingual transcript ({TURNS} turns of sample audio, streamed in real time) --");
    let plan = Plan {
        pacing,
        progress: true,
        // Under --json the transcript is part of the summary, not printed line by line.
        show: if human {
            Show::Transcript
        } else {
            Show::Nothing
        },
        end_on_interrupt: true,
    };
    let audio = sample_conversation()?;
    let streamed = stream_audio(&client, &session, &audio, &plan, &interrupt).await?;
    if let Some(stop) = streamed.stopped {
        let failure = interrupted(&client, &session, stop, true).await;
        if let Target::Embedded(server) = target {
            server.shutdown().await;
        }
        return Err(failure);
    }
    say!();
    if !streamed.ended {
        return Err(Failure::local(
            "the server closed the stream before the session ended",
        ));
    }

    let ended = client.sessions().end(&session.id).await?;
    say!(
        "ended      {} after {:.1} s of audio",
        ended.id,
        ended.duration_seconds.unwrap_or_default()
    );

    let transcript = client.sessions().transcript(&session.id).await?;
    if human {
        outln!()?;
        output::transcript(&transcript)?;
    }

    let recordings = client.sessions().recordings(&session.id).await?;
    say!("\nrecordings");
    let mut downloads = Vec::new();
    for recording in &recordings.data {
        if human {
            output::recording(recording)?;
        }
        let mut audio = Vec::new();
        let done = client
            .recordings()
            .download(recording.id.clone())
            .to_writer(&mut audio)
            .await?;
        say!(
            "           downloaded {} bytes ({})",
            done.bytes,
            done.content_type.as_deref().unwrap_or("?")
        );
        downloads.push(DownloadedRecording {
            recording,
            downloaded_bytes: done.bytes,
        });
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
    if human {
        outln!()?;
        output::analysis(&analysis)?;
    }

    let credits_used = match &target {
        Target::Embedded(server) => Some(server.credits_used()),
        Target::Remote(_) => None,
    };
    say!("\nrate limit and credits (from the last response)");
    say!("           {}", output::figures(analysis.meta()));
    if let Some(used) = credits_used {
        say!("           credits used by this demo: {used}");
    }
    if cli.json {
        let target_name = match &target {
            Target::Embedded(_) => "emulator",
            Target::Remote(url) => url.as_str(),
        };
        output::json(&Summary {
            target: target_name,
            ended: &ended,
            transcript: &transcript,
            recordings: downloads,
            analysis: &analysis,
            credits_used,
        })?;
    }
    if let Target::Embedded(server) = target {
        server.shutdown().await;
    }
    say!("\ndone.");
    Ok(())
}

/// The embedded emulator, or with `--base-url`/`--profile` that server and the key for
/// it (a live key only with `--yes`, as the demo spends real credits).
async fn target(cli: &Cli, args: &DemoArgs) -> Result<(Target, Client), Failure> {
    if cli.base_url.is_some() || cli.profile.is_some() {
        let resolved = config::resolve(
            cli.api_key.as_ref().map(|k| k.0.as_str()),
            cli.base_url.as_deref(),
            cli.profile.as_deref(),
        )?;
        let url = resolved
            .base_url
            .clone()
            .unwrap_or_else(|| "the API".into());
        match &resolved.api_key {
            None => {
                return Err(Failure::usage(
                    "demo --base-url needs an API key for that server (--api-key or KALLGLOT_API_KEY)",
                ));
            }
            Some(key) if key.environment() == kallglot::Environment::Live && !args.yes => {
                return Err(Failure::usage(
                    "that is a live key: the demo would create a real session and spend credits; pass --yes to go ahead",
                ));
            }
            Some(_) => {}
        }
        return Ok((Target::Remote(url), super::client(cli)?));
    }
    let server = kallglot_mock::MockServer::builder()
        .utterance_duration(UTTERANCE)
        .analysis_delay(Duration::from_millis(300))
        .start()
        .await
        .map_err(|e| Failure::local(format!("cannot start the emulator: {e}")))?;
    let client = Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .app_info("kallglot-demo", None)
        .build()?;
    Ok((Target::Embedded(server), client))
}

/// A short synthetic call: the customer (left channel) and the agent (right) take turns,
/// as harmonic tones with a syllable-rate envelope, while the other channel is silent.
/// It is split into the two parties, 8 kHz. The emulator's transcripts
/// are scripted and paced by the amount of audio, so the sound only has to be plausible,
/// and synthesizing it keeps binary files out of the repository.
fn sample_conversation() -> Result<Audio, Failure> {
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
    let call = Pcm::new(stereo, SAMPLE_RATE_HZ, 2)
        .map_err(|e: kallglot::stream::AudioError| Failure::local(e.to_string()))?;
    Ok(Audio {
        pcm: call,
        parties: Parties::Split(vec![Speaker::Customer, Speaker::Agent]),
    })
}
