//! The helpers: waiting for a session's transcript and recordings, and walking the pages
//! of its recordings. Polls go through a `ManualClock`, so nothing sleeps for real.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use kallglot::clock::ManualClock;
use kallglot::model::{RecordingListParams, RecordingStatus, TranscriptStatus};
use kallglot::{Client, ConfigError, Error, WaitOptions};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client_for(server: &MockServer) -> (Client, ManualClock) {
    let clock = ManualClock::new();
    let client = Client::builder()
        .api_key("sk_test_HELPERS0123456789")
        .base_url(server.uri())
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    (client, clock)
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn transcript(status: &str) -> Value {
    json!({"object": "transcript", "session_id": "sess_1", "status": status, "turns": []})
}

fn recordings(items: &[(&str, &str)], has_more: Option<bool>) -> Value {
    let data: Vec<Value> = items
        .iter()
        .map(|(id, status)| json!({"id": id, "object": "recording", "status": status}))
        .collect();
    let mut list = json!({"object": "list", "data": data});
    if let Some(more) = has_more {
        list["has_more"] = more.into();
    }
    list
}

fn session(recording_enabled: bool) -> Value {
    json!({"id": "sess_1", "object": "session", "status": "ended",
           "mode": "bidirectional_translation", "recording": {"enabled": recording_enabled},
           "created_at": "2026-03-26T11:00:00Z"})
}

fn options() -> WaitOptions {
    WaitOptions::default()
        .timeout(Duration::from_secs(20))
        .initial_interval(Duration::from_secs(1))
        .max_interval(Duration::from_secs(4))
}

/// Asserts jittered sleeps within the doubling ceilings 1 s, 2 s, 4 s, 4 s…
fn assert_backoff(sleeps: &[Duration], count: usize) {
    assert_eq!(sleeps.len(), count, "{sleeps:?}");
    for (i, sleep) in sleeps.iter().enumerate() {
        let ceiling = Duration::from_secs(1 << i.min(2));
        assert!(*sleep >= ceiling / 2 && *sleep <= ceiling, "{sleeps:?}");
    }
}

async fn paths(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| match r.url.query() {
            Some(q) => format!("{}?{q}", r.url.path()),
            None => r.url.path().to_string(),
        })
        .collect()
}

#[tokio::test]
async fn wait_for_transcript_polls_with_backoff_until_completed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok(transcript("in_progress")))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ok(transcript("complete")))
        .mount(&server)
        .await;
    let (client, clock) = client_for(&server);
    let done = client
        .sessions()
        .wait_for_transcript("sess_1", options())
        .await
        .unwrap();
    assert_eq!(done.status, TranscriptStatus::Completed);
    assert_backoff(&clock.sleeps(), 2);
    assert_eq!(paths(&server).await.len(), 3);
}

#[tokio::test]
async fn wait_for_transcript_gives_up_at_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok(transcript("in_progress")))
        .mount(&server)
        .await;
    let (client, clock) = client_for(&server);
    let err = client
        .sessions()
        .wait_for_transcript("sess_1", options())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WaitTimeout { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "transcript of session sess_1 was still in_progress when the wait deadline passed"
    );
    let total: Duration = clock.sleeps().iter().sum();
    assert!(total <= Duration::from_secs(20), "{total:?}");
}

#[tokio::test]
async fn wait_for_recordings_waits_until_every_recording_is_processed() {
    let server = MockServer::start().await;
    let list = || path("/v1/sessions/sess_1/recordings");
    Mock::given(method("GET"))
        .and(list())
        .respond_with(ok(recordings(&[], None)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(list())
        .respond_with(ok(recordings(
            &[("rec_1", "ready"), ("rec_2", "processing")],
            None,
        )))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(list())
        .respond_with(ok(recordings(
            &[("rec_1", "ready"), ("rec_2", "failed")],
            None,
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/sessions/sess_1"))
        .respond_with(ok(session(true)))
        .mount(&server)
        .await;
    let (client, clock) = client_for(&server);
    let done = client
        .sessions()
        .wait_for_recordings("sess_1", options())
        .await
        .unwrap();
    let statuses: Vec<_> = done.data.iter().map(|r| r.status.clone()).collect();
    assert_eq!(statuses, [RecordingStatus::Ready, RecordingStatus::Failed]);
    assert_backoff(&clock.sleeps(), 3);
    let sent = paths(&server).await;
    // The session is looked up once, after the first empty list.
    assert_eq!(
        sent.iter().filter(|p| *p == "/v1/sessions/sess_1").count(),
        1,
        "{sent:?}"
    );
    assert_eq!(sent.len(), 5, "{sent:?}");
}

#[tokio::test]
async fn wait_for_recordings_of_an_unrecorded_session_returns_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/sessions/sess_1/recordings"))
        .respond_with(ok(recordings(&[], None)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/sessions/sess_1"))
        .respond_with(ok(session(false)))
        .mount(&server)
        .await;
    let (client, clock) = client_for(&server);
    let done = client
        .sessions()
        .wait_for_recordings("sess_1", options())
        .await
        .unwrap();
    assert!(done.data.is_empty());
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn wait_for_recordings_gives_up_at_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/sessions/sess_1/recordings"))
        .respond_with(ok(recordings(&[("rec_1", "processing")], None)))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client
        .sessions()
        .wait_for_recordings("sess_1", options())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "recording list of session sess_1 was still processing (1 of 1 not ready) when the \
         wait deadline passed"
    );
}

#[tokio::test]
async fn the_recordings_stream_follows_has_more_with_the_legacy_cursor() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("limit", "2"))
        .and(query_param_is_missing("starting_after"))
        .respond_with(ok(recordings(
            &[("rec_1", "ready"), ("rec_2", "ready")],
            Some(true),
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("limit", "2"))
        .and(query_param("starting_after", "rec_2"))
        .respond_with(ok(recordings(&[("rec_3", "ready")], Some(false))))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let all: Vec<_> = client
        .sessions()
        .recordings_stream("sess_1", RecordingListParams::new().limit(2))
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["rec_1", "rec_2", "rec_3"]);
    assert_eq!(
        paths(&server).await,
        [
            "/v1/sessions/sess_1/recordings?limit=2",
            "/v1/sessions/sess_1/recordings?limit=2&starting_after=rec_2"
        ]
    );

    // One page is also reachable directly.
    let page = client
        .sessions()
        .list_recordings(
            "sess_1",
            RecordingListParams::new().limit(2).starting_after("rec_2"),
        )
        .await
        .unwrap();
    assert_eq!(page.has_more, Some(false));
}

#[tokio::test]
async fn without_has_more_the_stream_ends_after_one_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok(recordings(&[("rec_1", "ready")], None)))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let all: Vec<_> = client
        .sessions()
        .recordings_stream("sess_1", RecordingListParams::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(paths(&server).await, ["/v1/sessions/sess_1/recordings"]);
}

#[tokio::test]
async fn a_server_ignoring_the_cursor_ends_the_stream_with_an_error_not_a_loop() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok(recordings(
            &[("rec_1", "ready"), ("rec_2", "ready")],
            Some(true),
        )))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let items: Vec<_> = client
        .sessions()
        .recordings_stream("sess_1", RecordingListParams::new())
        .take(10)
        .collect()
        .await;
    // The repeated page is not yielded again: one page of two, then the error.
    assert_eq!(items.len(), 3, "{items:?}");
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    assert!(err.to_string().contains("starting_after"), "{err}");
    assert_eq!(paths(&server).await.len(), 2);

    // A page that says has_more but is empty gives no cursor: the stream ends.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok(recordings(&[], Some(true))))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let items: Vec<_> = client
        .sessions()
        .recordings_stream("sess_1", RecordingListParams::new())
        .collect()
        .await;
    assert!(items.is_empty());
}

#[tokio::test]
async fn a_page_limit_outside_1_to_100_is_refused_before_any_request() {
    let server = MockServer::start().await;
    let (client, _) = client_for(&server);
    for limit in [0, 101, u32::MAX] {
        let err = client
            .sessions()
            .list_recordings("sess_1", RecordingListParams::new().limit(limit))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Config(ConfigError::InvalidRequest(_))),
            "{err:?}"
        );
        let mut stream = client
            .sessions()
            .recordings_stream("sess_1", RecordingListParams::new().limit(limit));
        assert!(stream.next().await.unwrap().is_err());
        assert!(stream.next().await.is_none());
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}
