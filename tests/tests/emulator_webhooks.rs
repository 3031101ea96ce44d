//! The whole webhook loop, locally: the emulator signs and delivers events, an axum app
//! verifies them with the SDK's `VerifiedWebhook` extractor.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::post;
use kallglot::model::{CreateSessionParams, Language, Mode};
use kallglot::webhooks::{
    DeliveryInfo, EventType, VerifiedWebhook, Verifier, WebhookEvent, WebhookSecret,
};
use kallglot_mock::{MockServer, WebhookConfig};
use tokio::sync::mpsc;

const SECRET: &str = "whsec_mock_loop_secret";

#[derive(Clone)]
struct Receiver {
    verifier: Verifier,
    received: mpsc::UnboundedSender<(WebhookEvent, DeliveryInfo)>,
    /// Answer 500 to this many deliveries before accepting.
    refuse: Arc<AtomicU32>,
}

impl FromRef<Receiver> for Verifier {
    fn from_ref(state: &Receiver) -> Self {
        state.verifier.clone()
    }
}

async fn hook(
    State(state): State<Receiver>,
    VerifiedWebhook(event, delivery): VerifiedWebhook,
) -> StatusCode {
    let refused = state
        .refuse
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let _ = state.received.send((event, delivery));
    if refused {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

/// Starts the receiving app; returns its URL and the stream of verified deliveries.
async fn receiver(
    secret: &str,
    refuse: u32,
) -> (
    String,
    mpsc::UnboundedReceiver<(WebhookEvent, DeliveryInfo)>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Receiver {
        verifier: Verifier::new(WebhookSecret::new(secret).unwrap()),
        received: tx,
        refuse: Arc::new(AtomicU32::new(refuse)),
    };
    let app = Router::new()
        .route("/hooks/kallglot", post(hook))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/kallglot", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

async fn run_a_session(server: &MockServer) -> String {
    let client = kallglot::Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .build()
        .unwrap();
    let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
        .languages(Language::EN, Language::ES);
    let session = client.sessions().create(params).await.unwrap();
    client.sessions().end(&session.id).await.unwrap();
    session.id.to_string()
}

async fn next(
    rx: &mut mpsc::UnboundedReceiver<(WebhookEvent, DeliveryInfo)>,
) -> (WebhookEvent, DeliveryInfo) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a delivery arrives")
        .expect("the receiver is running")
}

#[tokio::test]
async fn signed_deliveries_verify_with_the_sdk_and_carry_delivery_headers() {
    let (url, mut rx) = receiver(SECRET, 0).await;
    let server = MockServer::builder()
        .webhook(WebhookConfig::new(url, SECRET))
        .start()
        .await
        .unwrap();
    let session_id = run_a_session(&server).await;
    let mut kinds = Vec::new();
    while !(kinds.contains(&EventType::SessionCreated) && kinds.contains(&EventType::SessionEnded))
    {
        let (event, delivery) = next(&mut rx).await;
        assert_eq!(event.api_version, "v1");
        assert!(event.id.as_str().starts_with("evt_"));
        assert_eq!(delivery.retry_count, Some(0));
        assert!(
            delivery
                .delivery_id
                .as_deref()
                .unwrap()
                .starts_with("wh_del_")
        );
        assert!(delivery.original_timestamp.is_some());
        if event.kind == EventType::SessionEnded {
            let ended = event.session_ended().expect("a typed session.ended view");
            assert_eq!(ended.id.as_str(), session_id);
        }
        kinds.push(event.kind);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_refused_delivery_is_retried_with_the_same_ids_and_a_higher_count() {
    let (url, mut rx) = receiver(SECRET, 1).await;
    let config = WebhookConfig::new(url, SECRET)
        .retry_delays([Duration::from_millis(20), Duration::from_millis(20)]);
    let server = MockServer::builder().webhook(config).start().await.unwrap();
    run_a_session(&server).await;
    let (first, first_delivery) = next(&mut rx).await;
    assert_eq!(first_delivery.retry_count, Some(0));
    // Deliveries run concurrently; find the retry of the refused one.
    loop {
        let (event, delivery) = next(&mut rx).await;
        if event.id == first.id {
            assert_eq!(delivery.retry_count, Some(1));
            assert_eq!(delivery.delivery_id, first_delivery.delivery_id);
            assert_eq!(
                delivery.original_timestamp,
                first_delivery.original_timestamp
            );
            break;
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn deliveries_signed_with_another_secret_are_rejected_by_the_extractor() {
    let (url, mut rx) = receiver("whsec_the_receivers_own_secret", 0).await;
    let config = WebhookConfig::new(url, SECRET).retry_delays([]);
    let server = MockServer::builder().webhook(config).start().await.unwrap();
    run_a_session(&server).await;
    // The extractor answers 401 before the handler runs: nothing reaches the handler.
    let outcome = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await;
    assert!(
        outcome.is_err(),
        "an unverifiable delivery reached the handler"
    );
    server.shutdown().await;
}
