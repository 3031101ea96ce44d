//! What the spec says about each operation and value set, as constants.
//!
//! This is the one table of operations in the workspace: the SDK takes its routes,
//! idempotency and scopes from it, and the emulator its router, scopes and fault targets.
//! It is generated from `x-kallglot-*` extensions, parameters and media types in
//! `openapi/kallglot.yaml`, so it cannot drift from the generated client.

/// One operation of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operation {
    /// The spec's operationId, such as `create_session`.
    pub id: &'static str,
    /// The upper-case HTTP method.
    pub method: &'static str,
    /// The path template, such as `/v1/sessions/{id}`.
    pub path: &'static str,
    /// The permission scope the operation needs; `None` when the reference names none.
    pub scope: Option<&'static str>,
    /// Whether the scope is inferred from the reference rather than stated by it.
    pub scope_inferred: bool,
    /// Whether the route honours `Idempotency-Key`.
    pub idempotent: bool,
    /// Credits charged for each success; `None` when the reference gives no figure.
    pub credits: Option<u32>,
    /// Whether the success body is binary (audio) rather than JSON.
    pub binary_response: bool,
    /// The names of its query parameters, in the spec's order.
    pub query: &'static [&'static str],
    /// Whether the spec describes the operation. The reference names some routes
    /// (dial, agents) without describing them; they have no generated method.
    pub described: bool,
}

impl Operation {
    /// An operation the catalogue does not list, such as a raw request to an unknown route
    /// or the stream's upgrade: no scope, no idempotency, no credits.
    pub const fn unlisted(id: &'static str, method: &'static str, path: &'static str) -> Self {
        Self {
            id,
            method,
            path,
            scope: None,
            scope_inferred: false,
            idempotent: false,
            credits: None,
            binary_response: false,
            query: &[],
            described: false,
        }
    }

    /// The path template split into segments, with `None` for a `{parameter}`.
    pub fn segments(&self) -> impl Iterator<Item = Option<&'static str>> + '_ {
        self.path
            .trim_start_matches('/')
            .split('/')
            .map(|s| (!s.starts_with('{')).then_some(s))
    }

    /// Whether `method` and the concrete, already normalised `path` (no query) match
    /// this operation.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if !method.eq_ignore_ascii_case(self.method) {
            return false;
        }
        let mut concrete = path.trim_start_matches('/').split('/');
        let mut template = self.segments();
        loop {
            match (template.next(), concrete.next()) {
                (None, None) => return true,
                (Some(Some(want)), Some(got)) if want == got => {}
                (Some(None), Some(got)) if !got.is_empty() => {}
                _ => return false,
            }
        }
    }

    /// The operation with this operationId.
    pub fn by_id(id: &str) -> Option<&'static Operation> {
        OPERATIONS.iter().find(|op| op.id == id)
    }

    /// The operation that `method` and the normalised `path` address, if any.
    pub fn find(method: &str, path: &str) -> Option<&'static Operation> {
        OPERATIONS.iter().find(|op| op.matches(method, path))
    }
}

/// A value set the API may extend, with its documented values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValueList {
    /// Where the list is in the spec, such as `Session.status`.
    pub location: &'static str,
    /// The current values.
    pub values: &'static [&'static str],
    /// Legacy spellings and the current value each one stands for.
    pub aliases: &'static [(&'static str, &'static str)],
}

#[rustfmt::skip]
mod data;

pub use data::*;
