//! The stream scenario: handshake, audio, `ping`/`pong`, `session.end`.

use std::time::Duration;

use futures_util::StreamExt;
use kallglot::stream::{EndReason, Event, MulawAudio, StreamOptions};

use super::stream_url_allowed;

/// The deadline of each step of the stream.
const STREAM_STEP: Duration = Duration::from_secs(15);

/// The outcome of each step, one per row.
pub(super) struct StreamSteps {
    pub ready: Result<(), String>,
    pub audio: Result<(), String>,
    pub pong: Result<(), String>,
    pub end: Result<(), String>,
    pub ended: Result<(), String>,
}

/// Connects, waits for `session.ready`, sends 2.5 s of μ-law silence, pings, ends.
pub(super) async fn stream_steps(session: &kallglot::model::Session) -> StreamSteps {
    let skipped = |why: &str| Err(format!("not reached: {why}"));
    let mut steps = StreamSteps {
        ready: skipped("connect failed"),
        audio: skipped("connect failed"),
        pong: skipped("connect failed"),
        end: skipped("connect failed"),
        ended: skipped("connect failed"),
    };
    let connected = async {
        let credentials = session
            .stream
            .as_ref()
            .ok_or("the retrieved session has no stream credentials")?;
        stream_url_allowed(&credentials.url)?;
        let options = StreamOptions::default();
        tokio::time::timeout(STREAM_STEP, kallglot::stream::connect(credentials, options))
            .await
            .map_err(|_| "connecting the stream timed out".to_string())?
            .map_err(|e| format!("connecting the stream failed: {e}"))
    }
    .await;
    let (sender, mut events) = match connected {
        Ok(pair) => pair,
        Err(e) => {
            steps.ready = Err(e);
            return steps;
        }
    };
    steps.ready = match next_event(&mut events).await {
        Ok(Event::Ready { .. }) => Ok(()),
        Ok(other) => Err(format!("the first event is not session.ready: {other:?}")),
        Err(e) => Err(e),
    };
    // 2.5 s of μ-law silence in 100 ms frames. Sending waits while the worker's queue is
    // full, so the whole burst has a deadline too.
    let burst = async {
        for _ in 0..25 {
            sender
                .send_audio(MulawAudio::from_mulaw_bytes(vec![0xFF; 800]))
                .await
                .map_err(|e| format!("sending audio failed: {e}"))?;
        }
        Ok::<(), String>(())
    };
    let mut audio = tokio::time::timeout(STREAM_STEP, burst)
        .await
        .unwrap_or_else(|_| Err("sending audio did not finish in time".into()));
    steps.pong = match tokio::time::timeout(STREAM_STEP, sender.ping()).await {
        Ok(Ok(())) => wait_for(&mut events, &mut audio, |e| matches!(e, Event::Pong { .. }))
            .await
            .map(|_| ()),
        Ok(Err(e)) => Err(format!("sending ping failed: {e}")),
        Err(_) => Err("sending ping did not finish in time".into()),
    };
    steps.end = match tokio::time::timeout(STREAM_STEP, sender.end()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("end() failed: {e}")),
        Err(_) => Err("end() did not return in time".into()),
    };
    steps.ended = match wait_for(&mut events, &mut audio, |e| {
        matches!(e, Event::SessionEnded { .. })
    })
    .await
    {
        Ok(Event::SessionEnded { session_id, reason }) => {
            if session_id
                .as_deref()
                .is_some_and(|s| s != session.id.as_str())
            {
                Err(format!("session.ended names session {session_id:?}"))
            } else if reason != EndReason::ExplicitEnd {
                Err(format!(
                    "session.ended gives the reason {reason:?}, not explicit_end"
                ))
            } else {
                Ok(())
            }
        }
        Ok(_) => unreachable!("wait_for returns the matching event"),
        Err(e) => Err(e),
    };
    steps.audio = audio;
    steps
}

async fn next_event(events: &mut kallglot::stream::Events) -> Result<Event, String> {
    match tokio::time::timeout(STREAM_STEP, events.next()).await {
        Ok(Some(Ok(event))) => Ok(event),
        Ok(Some(Err(e))) => Err(format!("the stream failed: {e}")),
        Ok(None) => Err("the stream ended".into()),
        Err(_) => Err(format!("no event within {STREAM_STEP:?}")),
    }
}

/// The next event that `wanted` accepts; a `session.error` on the way fails the audio row
/// (audio is all the suite sends besides ping and end).
async fn wait_for(
    events: &mut kallglot::stream::Events,
    audio: &mut Result<(), String>,
    wanted: impl Fn(&Event) -> bool,
) -> Result<Event, String> {
    loop {
        let event = next_event(events).await?;
        if wanted(&event) {
            return Ok(event);
        }
        if let Event::SessionError { code, message, .. } = &event
            && audio.is_ok()
        {
            *audio = Err(format!(
                "the server answered session.error {code}: {message:?}"
            ));
        }
    }
}
