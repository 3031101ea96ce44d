//! Authentication and billing errors on every operation: each gives the right typed error
//! and none is retried (exactly one request is sent).

mod support;

use kallglot::model::{CreateAnalysisParams, CreateSessionParams, Mode};
use kallglot::{Client, ErrorCode, Scope};
use serde_json::json;
use support::*;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// (status, type, code): the 401 codes, the 402, and the 403 codes of the reference.
const ERRORS: &[(u16, &str, &str)] = &[
    (401, "authentication_error", "api_key_invalid"),
    (401, "authentication_error", "api_key_expired"),
    (401, "authentication_error", "api_key_revoked"),
    (401, "authentication_error", "api_key_wrong_environment"),
    (402, "permission_error", "insufficient_api_credits"),
    (403, "permission_error", "insufficient_permissions"),
    (403, "permission_error", "organization_inactive"),
];

/// Every operation, by operationId, with the scope the reference gives it.
const OPERATIONS: &[(&str, Scope)] = &[
    ("create_session", Scope::SessionsWrite),
    ("retrieve_session", Scope::SessionsRead),
    ("end_session", Scope::SessionsWrite),
    ("retrieve_session_transcript", Scope::SessionsRead),
    ("list_session_recordings", Scope::RecordingsRead),
    ("retrieve_recording", Scope::RecordingsRead),
    ("download_recording_audio", Scope::RecordingsRead),
    ("create_analysis", Scope::AnalysisWrite),
    ("retrieve_analysis", Scope::AnalysisRead),
];

async fn call(client: &Client, operation: &str) -> kallglot::Error {
    let result = match operation {
        "create_session" => client
            .sessions()
            .create(CreateSessionParams::new(Mode::BidirectionalTranslation))
            .await
            .map(|_| ()),
        "retrieve_session" => client.sessions().retrieve("sess_1").await.map(|_| ()),
        "end_session" => client.sessions().end("sess_1").await.map(|_| ()),
        "retrieve_session_transcript" => client.sessions().transcript("sess_1").await.map(|_| ()),
        "list_session_recordings" => client.sessions().recordings("sess_1").await.map(|_| ()),
        "retrieve_recording" => client.recordings().retrieve("rec_1").await.map(|_| ()),
        "download_recording_audio" => {
            let mut sink = Vec::new();
            client
                .recordings()
                .download("rec_1")
                .to_writer(&mut sink)
                .await
                .map(|_| ())
        }
        "create_analysis" => client
            .analyses()
            .create("sess_1", CreateAnalysisParams::new())
            .await
            .map(|_| ()),
        "retrieve_analysis" => client.analyses().retrieve("anl_1").await.map(|_| ()),
        other => panic!("unknown operation {other}"),
    };
    result.expect_err("the call must fail")
}

#[tokio::test]
async fn auth_and_billing_errors_are_typed_and_never_retried_on_every_operation() {
    let mut checked = 0;
    for &(status, kind, code) in ERRORS {
        for &(operation, scope) in OPERATIONS {
            let server = MockServer::start().await;
            Mock::given(any())
                .respond_with(
                    ResponseTemplate::new(status).set_body_json(json!({"error": {
                    "type": kind, "code": code, "message": "refused",
                    "request_id": "req_matrix"}})),
                )
                .mount(&server)
                .await;
            let err = call(&client(&server), operation).await;
            let context = format!("{operation} / {status} {code}");
            assert_eq!(
                server.received_requests().await.unwrap().len(),
                1,
                "{context}: retried"
            );
            let api = err.as_api().unwrap_or_else(|| panic!("{context}: {err:?}"));
            assert_eq!(api.operation, operation, "{context}");
            assert_eq!(api.status, status, "{context}");
            assert_eq!(api.code, Some(ErrorCode::parse(code)), "{context}");
            assert_eq!(api.request_id.as_deref(), Some("req_matrix"), "{context}");
            assert!(!err.is_retryable(), "{context}");
            assert_eq!(err.is_auth(), status == 401, "{context}");
            assert_eq!(err.is_out_of_credits(), status == 402, "{context}");
            assert_eq!(err.is_permission(), status == 403, "{context}");
            let expected_scope = (code == "insufficient_permissions").then_some(scope);
            assert_eq!(api.required_scope, expected_scope, "{context}");
            assert!(!format!("{err} {err:?}").contains(KEY_SECRET), "{context}");
            checked += 1;
        }
    }
    assert_eq!(checked, ERRORS.len() * OPERATIONS.len());
}
