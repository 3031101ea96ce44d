//! What the commands print: a short human summary, or the API's JSON with `--json`.
//!
//! Everything goes through [`outln!`] and [`errln!`], never `println!`: those panic when
//! stdout is closed (`| head`), whereas here a closed stdout ends the command quietly
//! and a closed stderr is ignored.

use std::io::Write;

use kallglot::model::{Analysis, Recording, Session, Transcript};
use kallglot::{Response, ResponseMeta};

use crate::color::{self, Stream};
use crate::exit::Failure;

/// `println!` that returns a [`Failure`] instead of panicking.
macro_rules! outln {
    () => {
        $crate::output::write_out(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// `eprintln!` that never panics: with stderr gone there is nobody left to tell.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::write_err(format_args!($($arg)*))
    };
}
pub(crate) use errln;

/// One line on stdout.
pub fn write_out(args: std::fmt::Arguments<'_>) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(Failure::output)
}

/// One line on stderr.
pub fn write_err(args: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// `error: …` on stderr.
pub fn error_line(message: &str) {
    errln!(
        "{} {message}",
        color::paint("error:", color::ERROR, Stream::Stderr)
    );
}

/// Prints a value on stdout as pretty JSON. The SDK's models serialize as the API's own
/// JSON object, so `--json` shows what the API returned without asking for it again.
pub fn json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::local(format!("cannot print the result as JSON: {e}")))?;
    outln!("{text}")
}

/// Prints a value as one line of JSON (NDJSON, for streams of events).
pub fn json_line(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string(value)
        .map_err(|e| Failure::local(format!("cannot print the event as JSON: {e}")))?;
    outln!("{text}")
}

/// One line of rate-limit and credit figures, when the response had them.
pub fn figures(meta: &ResponseMeta) -> String {
    let mut parts = Vec::new();
    if let Some(id) = &meta.request_id {
        parts.push(format!("request {id}"));
    }
    if let Some(rate) = &meta.rate_limit {
        let limit = rate.limit.map_or("?".into(), |l| l.to_string());
        let remaining = rate.remaining.map_or("?".into(), |r| r.to_string());
        let mut text = format!("rate limit {remaining}/{limit} left");
        if let Some(reset) = rate.reset {
            text.push_str(&format!(" (resets {})", reset.format("%H:%M:%S UTC")));
        }
        parts.push(text);
    }
    if let Some(credits) = &meta.credits {
        let remaining = credits.remaining.map_or("?".into(), |r| r.to_string());
        let used = credits.used.map_or("?".into(), |u| u.to_string());
        parts.push(format!("credits {remaining} left, {used} used"));
    }
    parts.join(" · ")
}

/// A session, without its stream token.
pub fn session(session: &Response<Session>) -> Result<(), Failure> {
    outln!("session   {}", session.id)?;
    outln!("status    {}", session.status)?;
    outln!("mode      {}", session.mode)?;
    let lang = |l: &Option<kallglot::model::Language>| {
        l.as_ref().map_or("auto".to_string(), |l| l.to_string())
    };
    outln!(
        "languages {} → {}",
        lang(&session.source_language),
        lang(&session.target_language)
    )?;
    if let Some(provider) = session.provider.as_ref().and_then(|p| p.name()) {
        outln!("provider  {provider}")?;
    }
    if let Some(phone) = &session.phone_number {
        outln!("phone     {phone}")?;
    }
    if let Some(stream) = &session.stream {
        outln!(
            "stream    {} (token expires {})",
            stream.url,
            stream.expires_at
        )?;
    }
    outln!("created   {}", session.created_at)?;
    if let Some(ended) = session.ended_at {
        outln!("ended     {ended}")?;
    }
    outln!("{}", figures(session.meta()))
}

/// A transcript, turn by turn, with translations.
pub fn transcript(transcript: &Transcript) -> Result<(), Failure> {
    outln!(
        "transcript of {} ({}, {} turns)",
        transcript.session_id,
        transcript.status,
        transcript.turns.len()
    )?;
    for turn in &transcript.turns {
        outln!("  [{}] {}", turn.speaker, turn.text)?;
        if let Some(t) = &turn.translation {
            outln!("        → {}", t.text)?;
        }
    }
    Ok(())
}

/// One recording. The channel is shown only when the API reports it (list items do not).
pub fn recording(recording: &Recording) -> Result<(), Failure> {
    let channel = recording
        .channel
        .as_ref()
        .map_or(String::new(), |c| format!("  {c} channel"));
    outln!(
        "{}  {}  {}  {}s{channel}",
        recording.id,
        recording.status,
        recording.format.as_deref().unwrap_or("?"),
        recording.duration.map_or("?".into(), |d| format!("{d:.1}")),
    )
}

/// An analysis.
pub fn analysis(analysis: &Analysis) -> Result<(), Failure> {
    outln!("analysis  {} ({})", analysis.id, analysis.status)?;
    if let Some(summary) = &analysis.summary {
        outln!("summary   {summary}")?;
    }
    if let Some(sentiment) = &analysis.sentiment {
        outln!(
            "sentiment customer: {}; agent: {}",
            sentiment.customer.as_deref().unwrap_or("?"),
            sentiment.agent.as_deref().unwrap_or("?")
        )?;
    }
    if let Some(score) = analysis.performance.as_ref().and_then(|p| p.score) {
        outln!("score     {score}")?;
    }
    if let Some(error) = &analysis.error {
        outln!("error     {error}")?;
    }
    Ok(())
}
