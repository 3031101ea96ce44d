//! One-line notices on stderr for the SDK's retries and pacing waits, so a slow command
//! says why it is slow (`retrying in 2.0 s after 503 (request req_…)`). Nothing is
//! printed when there is nothing to say.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

use crate::color::{self, Stream};
use crate::output::errln;

/// Turns the SDK's `retrying` and `kallglot pacing` events into notices.
pub struct Notices;

/// The fields of one event that a notice uses.
#[derive(Default)]
struct Fields {
    message: String,
    delay_ms: Option<u64>,
    wait_ms: Option<u64>,
    status: Option<u64>,
    attempt: Option<u64>,
    request_id: Option<String>,
    reason: Option<String>,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "delay_ms" => self.delay_ms = Some(value),
            "wait_ms" => self.wait_ms = Some(value),
            "status" => self.status = Some(value),
            "attempt" => self.attempt = Some(value),
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Ok(value) = u64::try_from(value) {
            self.record_u64(field, value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "request_id" => self.request_id = Some(value.to_string()),
            "reason" => self.reason = Some(value.to_string()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

/// `1.5 s` or `250 ms`.
fn duration(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1_000.0)
    }
}

impl Fields {
    fn notice(&self) -> Option<String> {
        let mut text = String::new();
        match self.message.as_str() {
            "retrying" => {
                let _ = write!(text, "retrying in {}", duration(self.delay_ms?));
                match self.status {
                    Some(status) => {
                        let _ = write!(text, " after {status}");
                    }
                    None => text.push_str(" after a network failure"),
                }
                let mut detail = Vec::new();
                if let Some(attempt) = self.attempt {
                    detail.push(format!("attempt {attempt} failed"));
                }
                if let Some(id) = &self.request_id {
                    detail.push(format!("request {id}"));
                }
                if !detail.is_empty() {
                    let _ = write!(text, " ({})", detail.join(", "));
                }
            }
            "kallglot pacing" => {
                let wait = self.wait_ms?;
                let _ = write!(text, "waiting {} for the rate limit", duration(wait));
                if let Some(reason) = &self.reason {
                    let _ = write!(text, " ({reason})");
                }
            }
            _ => return None,
        }
        Some(text)
    }
}

impl<S: tracing::Subscriber> Layer<S> for Notices {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if !event.metadata().target().starts_with("kallglot") {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let Some(text) = fields.notice() {
            errln!(
                "{}",
                color::paint(&format!("note: {text}"), color::NOTICE, Stream::Stderr)
            );
        }
    }
}
