//! An axum extractor for verified webhook deliveries.

use axum::extract::{FromRef, FromRequest, Request};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::StatusCode;

use super::{DeliveryInfo, Verifier, WebhookError, WebhookEvent};

/// An axum extractor yielding a verified, parsed webhook delivery.
///
/// It reads the raw body (up to [`Verifier::body_limit`]), verifies the
/// `Kallglot-Signature` header with the [`Verifier`] taken from the router
/// state (through [`FromRef`], so the verifier can be the state itself or a
/// field of it), and parses the event. A failed extraction answers with a
/// [`WebhookRejection`].
///
/// It consumes the body, so it must be the handler's last argument.
///
/// ```
/// use axum::{Router, routing::post};
/// use http::StatusCode;
/// use kallglot::webhooks::{EventType, Verifier, VerifiedWebhook, WebhookSecret};
///
/// async fn webhook(VerifiedWebhook(event, delivery): VerifiedWebhook) -> StatusCode {
///     if event.kind == EventType::SessionEnded {
///         // Hand off to a queue; answer within 30 s.
///     }
///     let _ = delivery.retry_count;
///     StatusCode::NO_CONTENT
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = Verifier::new(WebhookSecret::new("whsec_from_the_portal")?);
/// let app: Router = Router::new()
///     .route("/webhooks/kallglot", post(webhook))
///     .with_state(verifier);
/// # let _ = app;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedWebhook(pub WebhookEvent, pub DeliveryInfo);

/// Why [`VerifiedWebhook`] refused a request.
///
/// As a response it carries only a status and a generic text: the details
/// (available through `Display` and [`error`](Self::error) for your logs)
/// would help someone probing the endpoint. The status is `413` for an
/// oversized body, `401` for a signature or timestamp that does not verify,
/// and `400` otherwise.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The body is larger than the verifier's body limit.
    #[error("webhook body exceeds the {limit} byte limit")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read, e.g. the client disconnected.
    #[error("failed to read the webhook body")]
    BodyUnreadable(#[source] axum::Error),
    /// The delivery failed verification or parsing.
    #[error(transparent)]
    Invalid(WebhookError),
}

impl WebhookRejection {
    /// The verification error, if that is why the request was refused.
    pub fn error(&self) -> Option<&WebhookError> {
        match self {
            Self::Invalid(e) => Some(e),
            _ => None,
        }
    }

    /// The status of the response.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyUnreadable(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
        }
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        // Like axum's own rejections, leave a trace for whoever debugs a
        // misconfigured secret; the message holds no secret material.
        tracing::debug!(target: "kallglot::webhooks", error = %self, "rejected webhook delivery");
        let status = self.status();
        let text = match status {
            StatusCode::UNAUTHORIZED => "webhook signature verification failed",
            StatusCode::PAYLOAD_TOO_LARGE => "webhook payload too large",
            _ => "invalid webhook request",
        };
        (status, text).into_response()
    }
}

impl<S> FromRequest<S> for VerifiedWebhook
where
    S: Send + Sync,
    Verifier: FromRef<S>,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let limit = verifier.max_body_bytes();
        let (parts, body) = req.into_parts();

        // Refuse early when the sender announces an oversized body.
        let announced = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|len| len > limit as u64) {
            return Err(WebhookRejection::BodyTooLarge { limit });
        }

        // Read chunk by chunk so a body without (or lying about) its length
        // is cut off at the limit instead of buffered whole.
        let mut stream = body.into_data_stream();
        let mut buf = Vec::with_capacity(announced.map_or(0, |len| len as usize));
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(WebhookRejection::BodyUnreadable)?;
            if buf.len() + chunk.len() > limit {
                return Err(WebhookRejection::BodyTooLarge { limit });
            }
            buf.extend_from_slice(&chunk);
        }

        verifier
            .verify_request(&parts.headers, &buf)
            .map(|(event, delivery)| Self(event, delivery))
            .map_err(WebhookRejection::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_generic_bodies() {
        let cases = [
            (
                WebhookRejection::BodyTooLarge { limit: 1 },
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                WebhookRejection::Invalid(WebhookError::SignatureMismatch),
                StatusCode::UNAUTHORIZED,
            ),
            (
                WebhookRejection::Invalid(WebhookError::MissingHeader),
                StatusCode::BAD_REQUEST,
            ),
        ];
        for (rejection, status) in cases {
            assert_eq!(rejection.status(), status);
            assert_eq!(rejection.into_response().status(), status);
        }
    }
}
