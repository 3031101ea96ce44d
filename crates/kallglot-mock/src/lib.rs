#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod addr;
mod admin;
mod audio_stats;
mod auth;
mod bare_errors;
mod body;
mod config;
mod connection;
mod error;
mod events;
mod extract;
mod faults;
mod fields;
mod idempotency;
mod ids;
mod limits;
mod local_redis;
mod mp3;
mod pipeline;
mod request_id;
mod reset;
mod routes;
mod script;
mod server;
mod state;
mod stream;
mod time;
mod upgrade;
mod webhooks;

pub use audio_stats::AudioStats;
pub use config::{DEFAULT_API_KEY, KeyConfig, MockConfig};
pub use events::{EventKind, EventSink, MockEvent};
pub use faults::{Fault, FaultAction, Faults, Route};
/// The spec's operations and scopes (generated into `kallglot-api` from
/// `openapi/kallglot.yaml`): the emulator's routes, scopes and fault targets.
pub use kallglot_api::catalogue;
pub use local_redis::LocalRedis;
pub use server::{MockServer, MockServerBuilder, serve, serve_with_shutdown};
pub use webhooks::{WebhookConfig, signature_header};
