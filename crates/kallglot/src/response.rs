//! [`Response`]: a decoded result together with the metadata of the HTTP response.

use std::ops::{Deref, DerefMut};

use crate::call::IdempotencyKey;
use crate::metadata::{Credits, RateLimit, ResponseMeta};

/// A successful result plus its response metadata.
///
/// It dereferences to the result, so `session.id` works directly on a
/// `Response<Session>`; [`meta`](Response::meta) gives the request id, rate limit and
/// credits without another call.
///
/// ```
/// # fn show(session: kallglot::Response<kallglot::model::Session>) {
/// println!("session {} ({:?} credits left)", session.id, session.meta().credits_remaining());
/// let owned: kallglot::model::Session = session.into_inner();
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Response<T> {
    data: T,
    meta: ResponseMeta,
    idempotency_key: Option<IdempotencyKey>,
}

impl<T> Response<T> {
    pub(crate) fn new(data: T, meta: ResponseMeta) -> Self {
        Self {
            data,
            meta,
            idempotency_key: None,
        }
    }

    /// A response with the idempotency key the call sent, built in one go (a `Response`
    /// can be hundreds of bytes; setting the key afterwards would move it once more).
    pub(crate) fn from_parts(
        data: T,
        meta: ResponseMeta,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Self {
        Self {
            data,
            meta,
            idempotency_key,
        }
    }

    /// The `Idempotency-Key` the call sent (generated or yours), for writes to routes that
    /// honour one.
    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        self.idempotency_key.as_ref()
    }

    /// The response metadata: status, request id, rate limit, credits.
    pub fn meta(&self) -> &ResponseMeta {
        &self.meta
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.meta.status
    }

    /// The `X-Request-ID` of the response.
    pub fn request_id(&self) -> Option<&str> {
        self.meta.request_id.as_deref()
    }

    /// The `X-RateLimit-*` figures, when the response carried them.
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        self.meta.rate_limit.as_ref()
    }

    /// The `X-API-Credits-*` figures, when the response carried them.
    pub fn credits(&self) -> Option<&Credits> {
        self.meta.credits.as_ref()
    }

    /// The result, without the metadata.
    pub fn into_inner(self) -> T {
        self.data
    }

    /// The result and the metadata, apart.
    pub fn into_parts(self) -> (T, ResponseMeta) {
        (self.data, self.meta)
    }

    /// Transforms the result, keeping the metadata.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            data: f(self.data),
            meta: self.meta,
            idempotency_key: self.idempotency_key,
        }
    }
}

impl<T> Deref for Response<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T> DerefMut for Response<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.data
    }
}
