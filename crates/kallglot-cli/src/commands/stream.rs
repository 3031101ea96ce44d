//! `kallglot stream FILE.wav`: streams a WAV file in real time and prints live transcripts.
//!
//! Ctrl-C stops the audio and ends the session the command created (or the `--session`
//! given, with `--end`); a second Ctrl-C exits at once.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use kallglot::model::{Session, Speaker};
use kallglot::stream::audio::{Pcm, WavReader};
use kallglot::stream::{Event, Pacing, PartyChunk, StreamOptions};
use kallglot::{Client, Response};

use super::{client, create_params};
use crate::cli::{Cli, StreamArgs};
use crate::color::{self, Stream};
use crate::exit::Failure;
use crate::interrupt::{Interrupt, Stop};
use crate::output::{self, errln, outln};

/// The longest file `stream` takes. It is read whole before the session is created (so
/// a bad file costs nothing); this bounds that memory (about 1.4 GB at 48 kHz stereo)
/// and a header claiming days of audio is refused at once.
const MAX_AUDIO: Duration = Duration::from_secs(2 * 60 * 60);

/// Audio goes to the SDK in slices this long, so that Ctrl-C stops it promptly.
const SLICE: Duration = Duration::from_millis(200);

/// After Ctrl-C, how long to wait for the stream's `session.ended` before ending the
/// session over REST regardless.
const END_GRACE: Duration = Duration::from_secs(5);

pub async fn run(cli: &Cli, args: &StreamArgs) -> Result<(), Failure> {
    let pacing = pacing(args.speed)?;
    // The whole file is read and checked before a session is created for it.
    let pcm = read_checked(&args.wav)?;
    if pcm.is_empty() {
        return Err(Failure::local(format!(
            "{}: the WAV file holds no audio",
            args.wav.display()
        )));
    }
    let parties = match &args.split_channels {
        Some(speakers) => {
            let speakers: Vec<Speaker> =
                speakers.iter().map(|s| Speaker::from(s.as_str())).collect();
            // Checked now, on the first instant, rather than after connecting.
            let first = Pcm::new(
                pcm.samples()[..usize::from(pcm.channels())].to_vec(),
                pcm.sample_rate_hz(),
                pcm.channels(),
            )
            .map_err(|e| Failure::local(e.to_string()))?;
            PartyChunk::per_channel(&first, &speakers)
                .map_err(|e| Failure::usage(format!("--split-channels: {e}")))?;
            Parties::Split(speakers)
        }
        None => Parties::Mixed(Speaker::from(args.speaker.as_str())),
    };
    let audio = Audio { pcm, parties };
    let client = client(cli)?;
    let interrupt = Interrupt::install(super::deadline(cli));
    let (session, created): (Response<Session>, bool) = match &args.session {
        Some(id) => {
            let session = client.sessions().retrieve(id.as_str()).await?;
            if session.status.is_ended() {
                return Err(Failure::api(format!(
                    "session {} has ended; it cannot take audio (create one by leaving out --session)",
                    session.id
                )));
            }
            (session, false)
        }
        None => {
            let session = client
                .sessions()
                .create(create_params(&args.create)?)
                .await?;
            (session, true)
        }
    };
    errln!(
        "streaming {:.1} s of audio into session {}",
        audio.pcm.duration().as_secs_f64(),
        session.id
    );
    let plan = Plan {
        pacing,
        progress: true,
        show: if cli.json {
            Show::JsonEvents
        } else {
            Show::Transcript
        },
        end_on_interrupt: created || args.end,
    };
    let outcome = match stream_audio(&client, &session, &audio, &plan, &interrupt).await {
        Ok(outcome) => outcome,
        Err(failure) if created => {
            // A session created for this stream must not keep billing after it failed.
            let _ = client
                .sessions()
                .end(&session.id)
                .deadline(Duration::from_secs(10))
                .await;
            return Err(failure);
        }
        Err(failure) => return Err(failure),
    };
    if let Some(stop) = outcome.stopped {
        return Err(interrupted(&client, &session, stop, plan.end_on_interrupt).await);
    }
    if !outcome.ended {
        errln!("the stream closed before session.ended");
    }
    Ok(())
}

/// Reads the file after checking its header: rate, channels, the size it declares
/// against the file's, and the length against [`MAX_AUDIO`].
fn read_checked(path: &Path) -> Result<Pcm, Failure> {
    let fail = |e: &dyn std::fmt::Display| Failure::local(format!("{}: {e}", path.display()));
    let reader = WavReader::open(path).map_err(|e| fail(&e))?;
    if reader.duration() > MAX_AUDIO {
        return Err(fail(&format!(
            "the header declares {:.1} h of audio; stream takes at most {} h",
            reader.duration().as_secs_f64() / 3600.0,
            MAX_AUDIO.as_secs() / 3600
        )));
    }
    reader.read_to_end().map_err(|e| fail(&e))
}

/// What stopping early leaves behind, as the failure to report: exit 130 after
/// Ctrl-C, 4 after `--timeout`.
pub async fn interrupted(client: &Client, session: &Session, stop: Stop, end: bool) -> Failure {
    let (why, failure): (&str, fn(String) -> Failure) = match stop {
        Stop::CtrlC => ("interrupted", Failure::interrupted),
        Stop::Deadline => ("--timeout passed", Failure::network),
    };
    if !end {
        return failure(format!(
            "{why}; session {id} is still active, as it was given with --session \
             (end it with `kallglot sessions end {id}`, or pass --end next time)",
            id = session.id
        ));
    }
    // The stream ends the session when its audio stops; ending it here as well makes
    // sure it does not keep billing if the stream could not (the call is idempotent).
    match client
        .sessions()
        .end(&session.id)
        .deadline(Duration::from_secs(10))
        .await
    {
        Ok(_) => failure(format!("{why}; session {} ended", session.id)),
        Err(e) => failure(format!(
            "{why}; ending session {} failed: {} (end it with `kallglot sessions end {}`)",
            session.id,
            Failure::from(e).message(),
            session.id
        )),
    }
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

/// Who is heard in the audio.
pub enum Parties {
    /// All channels mixed, as one speaker.
    Mixed(Speaker),
    /// One speaker per channel, in order.
    Split(Vec<Speaker>),
}

/// The audio to stream and whose voices it carries.
pub struct Audio {
    pub pcm: Pcm,
    pub parties: Parties,
}

impl Audio {
    /// The audio in [`SLICE`]-long chunks, every party's side by side.
    fn chunks(&self) -> Result<Vec<PartyChunk>, Failure> {
        let local = |e: kallglot::stream::AudioError| Failure::local(e.to_string());
        let channels = usize::from(self.pcm.channels());
        let per_slice =
            (self.pcm.sample_rate_hz() as usize * SLICE.as_millis() as usize / 1000).max(1);
        let mut chunks = Vec::new();
        for slice in self.pcm.samples().chunks(per_slice * channels) {
            let slice = Pcm::new(
                slice.to_vec(),
                self.pcm.sample_rate_hz(),
                self.pcm.channels(),
            )
            .map_err(local)?;
            match &self.parties {
                Parties::Mixed(speaker) => chunks.push(PartyChunk::new(speaker.clone(), slice)),
                Parties::Split(speakers) => {
                    chunks.extend(PartyChunk::per_channel(&slice, speakers).map_err(local)?)
                }
            }
        }
        Ok(chunks)
    }
}

/// How to stream and what to show.
pub struct Plan {
    pub pacing: Pacing,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// What to print on stdout.
    pub show: Show,
    /// Whether Ctrl-C ends the session (the stream ends it when its audio stops).
    pub end_on_interrupt: bool,
}

/// What the stream prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// The final transcript lines, with translations.
    Transcript,
    /// Every event as one line of JSON.
    JsonEvents,
    /// Nothing.
    Nothing,
}

/// How the stream went.
pub struct Outcome {
    /// `session.ended` arrived.
    pub ended: bool,
    /// Ctrl-C or the deadline stopped it.
    pub stopped: Option<Stop>,
}

/// Streams the audio through the SDK (paced, framed, every party), prints the
/// transcript (or the events, as JSON lines) as it arrives, and stops early on Ctrl-C.
pub async fn stream_audio(
    client: &Client,
    session: &Session,
    audio: &Audio,
    plan: &Plan,
    interrupt: &Interrupt,
) -> Result<Outcome, Failure> {
    let total = audio.pcm.duration();
    let stop = interrupt.clone().stopped();
    let held = interrupt.clone();
    // On Ctrl-C the input stops; it ends (and the SDK ends the session) unless the
    // session must stay, in which case it just stays silent until the process exits.
    let keep = !plan.end_on_interrupt;
    let tail = futures_util::stream::once(async move {
        if keep && held.stop().is_some() {
            std::future::pending::<()>().await;
        }
    })
    .filter_map(|()| std::future::ready(None::<PartyChunk>));
    let input = futures_util::stream::iter(audio.chunks()?)
        .take_until(stop)
        .chain(tail);
    let options = StreamOptions::default().pacing(plan.pacing);
    let mut events = client
        .sessions()
        .stream_audio(session, input, options)
        .await?;
    let bar = if plan.progress {
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
    let speed = match plan.pacing {
        Pacing::Accelerated(speed) => speed,
        _ => 1.0,
    };
    let start = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    let mut outcome = Outcome {
        ended: false,
        stopped: None,
    };
    // Set on Ctrl-C: the stream gets this long to end the session by itself.
    let mut grace: Option<tokio::time::Instant> = None;
    let far = start + Duration::from_secs(365 * 24 * 3600);
    loop {
        let event = tokio::select! {
            // Biased, the stop first: Ctrl-C also ends the input, so the stream's
            // `session.ended` can be ready at the same poll, and a random pick could take
            // it and the close before the stop, leaving the stop unannounced.
            biased;
            stop = interrupt.clone().stopped(), if outcome.stopped.is_none() => {
                outcome.stopped = Some(stop);
                let why = match stop {
                    Stop::CtrlC => "interrupted",
                    Stop::Deadline => "--timeout passed",
                };
                bar.suspend(|| errln!("{why}: stopping the audio…"));
                if !plan.end_on_interrupt {
                    break;
                }
                grace = Some(tokio::time::Instant::now() + END_GRACE);
                continue;
            }
            event = events.next() => event,
            () = tokio::time::sleep_until(grace.unwrap_or(far)), if grace.is_some() => break,
            _ = ticks.tick() => {
                let played = start.elapsed().mul_f64(speed).min(total);
                bar.set_position(played.as_millis() as u64);
                continue;
            }
        };
        let Some(event) = event else { break };
        let event = match event {
            Ok(event) => event,
            // After Ctrl-C the stream may close any way; the session is ended over REST.
            Err(_) if outcome.stopped.is_some() => break,
            Err(e) => {
                bar.finish_and_clear();
                return Err(e.into());
            }
        };
        if plan.show == Show::JsonEvents {
            bar.suspend(|| output::json_line(&event))?;
        }
        match event {
            Event::TranscriptPartial(partial) => bar.set_message(format!(
                "{}…",
                partial.text.chars().take(40).collect::<String>()
            )),
            Event::TranscriptFinal(line) if plan.show == Show::Transcript => bar.suspend(|| {
                let speaker = line
                    .speaker
                    .as_ref()
                    .map_or("?".to_string(), |s| s.to_string());
                let label = color::paint(&format!("[{speaker}]"), color::SPEAKER, Stream::Stdout);
                outln!("{label} {}", line.text)?;
                if let Some(translation) = &line.translation {
                    outln!("    → {}", translation.text)?;
                }
                Ok::<(), Failure>(())
            })?,
            Event::SessionError { code, message, .. } => bar.suspend(|| {
                errln!("stream error {code}: {}", message.unwrap_or_default());
            }),
            Event::SessionEnded { reason, .. } => {
                outcome.ended = true;
                bar.suspend(|| errln!("session ended ({reason})"));
            }
            Event::Reconnected { attempt } => {
                bar.suspend(|| errln!("reconnected (attempt {attempt})"))
            }
            Event::Closed(_) => break,
            _ => {}
        }
    }
    bar.finish_and_clear();
    // A stop that came as the stream closed still counts: it is what ended the input.
    outcome.stopped = outcome.stopped.or(interrupt.stop());
    Ok(outcome)
}
