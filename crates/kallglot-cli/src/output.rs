//! What the commands print: a short human summary, or the API's JSON with `--json`.

use kallglot::model::{Analysis, Recording, Session, Transcript};
use kallglot::{Response, ResponseMeta};

/// Prints a value on stdout as pretty JSON. The SDK's models serialize as the API's own
/// JSON object, so `--json` shows what the API returned without asking for it again.
pub fn json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        // The models and plain JSON values always serialize; say so if one ever does not.
        Err(e) => eprintln!("error: cannot print the result as JSON: {e}"),
    }
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
pub fn session(session: &Response<Session>) {
    println!("session   {}", session.id);
    println!("status    {}", session.status);
    println!("mode      {}", session.mode);
    let lang = |l: &Option<kallglot::model::Language>| {
        l.as_ref().map_or("auto".to_string(), |l| l.to_string())
    };
    println!(
        "languages {} → {}",
        lang(&session.source_language),
        lang(&session.target_language)
    );
    if let Some(provider) = session.provider.as_ref().and_then(|p| p.name()) {
        println!("provider  {provider}");
    }
    if let Some(phone) = &session.phone_number {
        println!("phone     {phone}");
    }
    if let Some(stream) = &session.stream {
        println!(
            "stream    {} (token expires {})",
            stream.url, stream.expires_at
        );
    }
    println!("created   {}", session.created_at);
    if let Some(ended) = session.ended_at {
        println!("ended     {ended}");
    }
    println!("{}", figures(session.meta()));
}

/// A transcript, turn by turn, with translations.
pub fn transcript(transcript: &Transcript) {
    println!(
        "transcript of {} ({}, {} turns)",
        transcript.session_id,
        transcript.status,
        transcript.turns.len()
    );
    for turn in &transcript.turns {
        println!("  [{}] {}", turn.speaker, turn.text);
        if let Some(t) = &turn.translation {
            println!("        → {}", t.text);
        }
    }
}

/// One recording. The channel is shown only when the API reports it (list items do not).
pub fn recording(recording: &Recording) {
    let channel = recording
        .channel
        .as_ref()
        .map_or(String::new(), |c| format!("  {c} channel"));
    println!(
        "{}  {}  {}  {}s{channel}",
        recording.id,
        recording.status,
        recording.format.as_deref().unwrap_or("?"),
        recording.duration.map_or("?".into(), |d| format!("{d:.1}")),
    );
}

/// An analysis.
pub fn analysis(analysis: &Analysis) {
    println!("analysis  {} ({})", analysis.id, analysis.status);
    if let Some(summary) = &analysis.summary {
        println!("summary   {summary}");
    }
    if let Some(sentiment) = &analysis.sentiment {
        println!(
            "sentiment customer: {}; agent: {}",
            sentiment.customer.as_deref().unwrap_or("?"),
            sentiment.agent.as_deref().unwrap_or("?")
        );
    }
    if let Some(score) = analysis.performance.as_ref().and_then(|p| p.score) {
        println!("score     {score}");
    }
    if let Some(error) = &analysis.error {
        println!("error     {error}");
    }
}
