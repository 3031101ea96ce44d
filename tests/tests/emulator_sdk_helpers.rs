//! The SDK's wait and pagination helpers against the emulator: it accepts the legacy
//! cursor parameters on a session's recordings and answers the current list shape.

use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use kallglot::clock::ManualClock;
use kallglot::model::{
    CreateSessionParams, Mode, RecordingListParams, RecordingStatus, TranscriptStatus,
};
use kallglot::{Client, WaitOptions};
use kallglot_mock::MockServer;

#[tokio::test]
async fn waits_and_the_recordings_stream_against_the_emulator() {
    let server = MockServer::start().await.unwrap();
    let client = Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .clock(Arc::new(ManualClock::new()))
        .build()
        .unwrap();
    let session = client
        .sessions()
        .create(CreateSessionParams::new(Mode::BidirectionalTranslation))
        .await
        .unwrap();
    client.sessions().end(session.id.clone()).await.unwrap();
    let options = WaitOptions::default().timeout(Duration::from_secs(30));
    let transcript = client
        .sessions()
        .wait_for_transcript(session.id.clone(), options)
        .await
        .unwrap();
    assert_eq!(transcript.status, TranscriptStatus::Completed);
    let ready = client
        .sessions()
        .wait_for_recordings(session.id.clone(), options)
        .await
        .unwrap();
    assert_eq!(ready.data.len(), 1);
    assert_eq!(ready.data[0].status, RecordingStatus::Ready);

    let params = RecordingListParams::new().limit(1);
    let all: Vec<_> = client
        .sessions()
        .recordings_stream(session.id.clone(), params.clone())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all, ready.data);
    let after = client
        .sessions()
        .list_recordings(session.id.clone(), params.starting_after(all[0].id.clone()))
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
}
