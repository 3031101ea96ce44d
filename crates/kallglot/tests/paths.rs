//! Ids and raw paths stay inside their route, and configuration errors never echo
//! credentials. Everything runs against a loopback wiremock server.

use kallglot::{Client, ConfigError, Error, Method};
use serde_json::json;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

const KEY: &str = "sk_test_PATHSkey0123456789";

/// A server that answers everything with an ended-session summary, and a client for it.
async fn server() -> (MockServer, Client) {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "sess_1", "object": "session", "status": "ended"
        })))
        .mount(&server)
        .await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .build()
        .unwrap();
    (server, client)
}

fn is_invalid_id(result: &Error) -> bool {
    matches!(result, Error::Config(ConfigError::InvalidId { .. }))
}

#[tokio::test]
async fn ids_that_would_leave_their_segment_are_refused_before_any_request() {
    let (server, client) = server().await;
    for id in ["..", ".", "", "a/b", "../end", "sess_1\n", "\\..", "..\\"] {
        let err = client.sessions().end(id).await.unwrap_err();
        assert!(is_invalid_id(&err), "{id:?}: {err:?}");
        assert!(err.to_string().contains("session id"), "{err}");
        let err = client.sessions().retrieve(id).await.unwrap_err();
        assert!(is_invalid_id(&err), "{id:?}: {err:?}");
        let err = client.sessions().transcript(id).await.unwrap_err();
        assert!(is_invalid_id(&err), "{id:?}: {err:?}");
        let err = client.sessions().recordings(id).await.unwrap_err();
        assert!(is_invalid_id(&err), "{id:?}: {err:?}");
        let err = client.recordings().retrieve(id).await.unwrap_err();
        assert!(is_invalid_id(&err), "{id:?}: {err:?}");
        let err = client
            .recordings()
            .download(id)
            .to_writer(&mut Vec::new())
            .await
            .unwrap_err();
        assert!(is_invalid_id(&err), "{id:?}: {err:?}");
        let err = client.analyses().retrieve(id).await.unwrap_err();
        assert!(is_invalid_id(&err), "{id:?}: {err:?}");
        let err = client
            .analyses()
            .create(id, Default::default())
            .await
            .unwrap_err();
        assert!(is_invalid_id(&err), "{id:?}: {err:?}");
    }
    let sent = server.received_requests().await.unwrap();
    assert!(
        sent.is_empty(),
        "{:?}",
        sent.iter().map(|r| r.url.path()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn other_characters_are_percent_encoded_into_one_segment() {
    let (server, client) = server().await;
    client.sessions().end("a b?c#d%2e%2e").await.unwrap();
    client.sessions().end("...").await.unwrap();
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "/v1/sessions/a%20b%3Fc%23d%252e%252e/end",
            "/v1/sessions/.../end"
        ]
    );
}

#[tokio::test]
async fn raw_dot_segments_are_refused_and_equivalent_spellings_match_their_route() {
    let (server, client) = server().await;
    for hostile in [
        "/v1/sessions/../end",
        "/v1/sessions/%2e%2e/end",
        "/v1/sessions/.%2E/end",
        "/v1/sessions//end",
        "/v1/sessions\\..\\end",
    ] {
        let err = client.request(Method::Post, hostile).await.unwrap_err();
        assert!(
            matches!(err, Error::Config(ConfigError::InvalidPath { .. })),
            "{hostile}: {err:?}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());

    // `%73` is `s`: the route is the keyed `POST /v1/sessions/{id}/end`, so it gets a
    // key, and what is sent is the normalised path that was matched.
    client
        .request(Method::Post, "/v1/%73essions/sess_1/%65nd")
        .await
        .unwrap();
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].url.path(), "/v1/sessions/sess_1/end");
    assert!(sent[0].headers.get("idempotency-key").is_some());
}

#[test]
fn an_invalid_base_url_never_shows_its_credentials_or_a_key_given_in_its_place() {
    for (base_url, secret) in [
        ("https://user:hunter2pass@api.kallglot.com", "hunter2pass"),
        ("http://user:hunter2pass@example.com", "hunter2pass"),
        // The key pasted into the base URL variable.
        ("sk_live_SWAPPEDsecret0123", "SWAPPEDsecret"),
        ("sk_test_SWAPPEDsecret0123", "SWAPPEDsecret"),
    ] {
        let builder = Client::builder().api_key(KEY).base_url(base_url);
        assert!(!format!("{builder:?}").contains(secret), "{builder:?}");
        let err = builder.build().unwrap_err();
        assert!(
            matches!(err, Error::Config(ConfigError::InvalidBaseUrl { .. })),
            "{err:?}"
        );
        for shown in [err.to_string(), format!("{err:?}"), format!("{err:#?}")] {
            assert!(!shown.contains(secret), "{base_url}: {shown}");
        }
    }
}
