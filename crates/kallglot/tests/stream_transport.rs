//! The stream travels like REST: over the same HTTP client, TLS stack, roots and proxy.
//! With the `native-tls` feature every test here runs over native-tls instead of rustls
//! (CI runs this binary both ways). Against the emulator behind a local TLS front (a test CA trusted through the
//! builder), a local CONNECT proxy, and hostile stream URLs that must be refused before
//! any connection.
//!
//! This binary links rustls with both the aws-lc-rs and ring providers (see the
//! dev-dependencies), like an app whose other dependencies enable `ring`: rustls then
//! cannot pick a process-wide default, and anything relying on one panics.
#![cfg(feature = "stream")]

#[path = "support/net.rs"]
mod net;

use std::time::Duration;

use futures_util::StreamExt;
use kallglot::model::{CreateSessionParams, Language, Mode, StreamCredentials, StreamToken};
use kallglot::stream::{Event, Events, HandshakeRejection, MulawAudio, StreamError, StreamOptions};
use kallglot::{Client, ClientBuilder, Error};
use kallglot_mock::{MockConfig, MockServer};

/// The emulator behind a TLS front, with its stream URLs on the front (`wss://`).
struct TlsEmulator {
    mock: MockServer,
    front: net::TlsFront,
    ca: net::TestCa,
}

impl TlsEmulator {
    async fn start(
        only_from: Option<std::sync::Arc<std::sync::Mutex<Vec<std::net::SocketAddr>>>>,
    ) -> Self {
        let ca = net::TestCa::new();
        let listener = net::bind().await;
        let front_addr = listener.local_addr().unwrap();
        let mut config = MockConfig::default();
        config.public_url = Some(format!("https://{front_addr}"));
        config.utterance_duration = Duration::from_millis(100);
        let mock = MockServer::builder().config(config).start().await.unwrap();
        let front = net::tls_front(listener, ca.server.clone(), mock.addr(), only_from);
        Self { mock, front, ca }
    }

    fn base_url(&self) -> String {
        format!("https://{}", self.front.addr)
    }

    /// A builder for this emulator's host, trusting the test CA.
    fn builder(&self) -> ClientBuilder {
        Client::builder()
            .api_key(self.mock.api_key())
            .base_url(self.base_url())
            .add_root_certificate_pem(&self.ca.ca_pem)
    }
}

async fn create_session(client: &Client) -> kallglot::model::Session {
    client
        .sessions()
        .create(
            CreateSessionParams::new(Mode::BidirectionalTranslation)
                .languages(Language::ES, Language::EN),
        )
        .await
        .unwrap()
        .into_inner()
}

/// Sends 200 ms of audio, ends the session and returns every event.
async fn talk_and_end(sender: kallglot::stream::StreamSender, events: Events) -> Vec<Event> {
    for _ in 0..2 {
        sender
            .send_audio(MulawAudio::from_mulaw_bytes(vec![0x7F; 800]))
            .await
            .unwrap();
    }
    sender.end().await.unwrap();
    let all: Vec<Event> = tokio::time::timeout(Duration::from_secs(60), events.collect::<Vec<_>>())
        .await
        .expect("the stream must end")
        .into_iter()
        .map(|e| e.unwrap())
        .collect();
    assert!(matches!(all.first(), Some(Event::Ready { .. })), "{all:?}");
    assert!(
        matches!(all.last(), Some(Event::Closed(c)) if c.session_ended),
        "{all:?}"
    );
    all
}

#[tokio::test]
async fn wss_connects_with_a_ca_trusted_through_the_builder_and_both_rustls_providers_linked() {
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "no process-wide provider is installed, so nothing may rely on one"
    );
    let emulator = TlsEmulator::start(None).await;
    let client = emulator.builder().build().unwrap();
    let session = create_session(&client).await;
    let url = &session.stream.as_ref().unwrap().url;
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");
    let (sender, events) = client
        .sessions()
        .connect(&session, StreamOptions::default())
        .await
        .unwrap();
    let all = talk_and_end(sender, events).await;
    assert!(
        all.iter().any(|e| matches!(e, Event::TranscriptFinal(_))),
        "{all:?}"
    );
}

/// Whether a handshake came from OpenSSL (native-tls on Linux) rather than rustls: OpenSSL
/// offers CBC cipher suites by default, and rustls implements none.
fn offered_by_openssl(suites: &[String]) -> bool {
    suites.iter().any(|suite| suite.contains("_CBC_"))
}

#[tokio::test]
async fn rest_calls_and_the_stream_use_the_tls_stack_the_features_name() {
    let emulator = TlsEmulator::start(None).await;
    let client = emulator.builder().build().unwrap();
    let session = create_session(&client).await;
    // A connector of its own, so that the upgrade cannot reuse the REST call's pooled
    // connection: each path shows its own handshake.
    let connector = emulator.builder().build_stream_connector().unwrap();
    let (sender, events) = connector
        .connect(session.stream.as_ref().unwrap(), StreamOptions::default())
        .await
        .unwrap();
    talk_and_end(sender, events).await;
    let hellos = emulator.front.offered_suites.lock().unwrap().clone();
    assert_eq!(
        hellos.len(),
        2,
        "one REST connection, one stream: {hellos:?}"
    );
    let native = cfg!(feature = "native-tls");
    for suites in &hellos {
        assert_eq!(
            offered_by_openssl(suites),
            native,
            "native-tls on: {native}; offered: {suites:?}"
        );
    }
}

#[tokio::test]
async fn a_connect_proxy_carries_the_rest_calls_and_the_stream() {
    let proxy = net::connect_proxy().await;
    // The front drops every connection that does not come from the proxy: a stream that
    // dialled directly would fail.
    let emulator = TlsEmulator::start(Some(proxy.outgoing.clone())).await;
    let client = emulator.builder().proxy(proxy.url()).build().unwrap();
    let session = create_session(&client).await;
    let (sender, events) = client
        .sessions()
        .connect(&session, StreamOptions::default())
        .await
        .unwrap();
    talk_and_end(sender, events).await;
    client
        .sessions()
        .retrieve(session.id.clone())
        .await
        .unwrap();
    let tunnels = proxy.tunnels.lock().unwrap().clone();
    assert!(!tunnels.is_empty());
    assert!(
        tunnels
            .iter()
            .all(|t| *t == emulator.front.addr.to_string()),
        "{tunnels:?}"
    );
    assert_eq!(
        *emulator.front.accepted.lock().unwrap() as usize,
        tunnels.len(),
        "every connection the server accepted came through the proxy"
    );
}

#[tokio::test]
async fn a_tls_failure_keeps_its_cause() {
    let emulator = TlsEmulator::start(None).await;
    let session = create_session(&emulator.builder().build().unwrap()).await;
    // Same host, but the test CA is not trusted: the certificate check fails.
    let untrusting = Client::builder()
        .base_url(emulator.base_url())
        .build_stream_connector()
        .unwrap();
    let credentials = session.stream.as_ref().unwrap();
    let err = untrusting
        .connect(credentials, StreamOptions::default())
        .await
        .unwrap_err();
    let Error::Stream(stream_error @ StreamError::Connect { .. }) = &err else {
        panic!("{err:?}");
    };
    let mut chain = vec![stream_error.to_string()];
    let mut source = std::error::Error::source(stream_error);
    while let Some(cause) = source {
        chain.push(cause.to_string());
        source = cause.source();
    }
    let text = chain.join(" | ");
    assert!(
        chain.iter().skip(1).any(|c| c.contains("certificate")),
        "the certificate failure is in the source chain: {text}"
    );
    assert!(!text.contains("invalid data"), "{text}");
    assert!(!text.contains(credentials.token.expose_secret()), "{text}");
    assert!(!format!("{err:?}").contains(credentials.token.expose_secret()));
}

#[tokio::test]
async fn a_refused_upgrade_keeps_status_code_message_and_request_id() {
    let mock = MockServer::start().await.unwrap();
    let client = Client::builder()
        .api_key(mock.api_key())
        .base_url(mock.url())
        .build()
        .unwrap();
    let session = create_session(&client).await;
    let good = session.stream.as_ref().unwrap();
    let forged = StreamCredentials::new(
        good.url.clone(),
        StreamToken::new("kst_test_FORGEDtokenNotValid"),
        good.expires_at,
    );
    let mut forged_session = session.clone();
    forged_session.stream = Some(forged);
    let err = client
        .sessions()
        .connect(&forged_session, StreamOptions::default())
        .await
        .unwrap_err();
    match &err {
        Error::Stream(StreamError::HandshakeRejected {
            status,
            rejection,
            detail,
        }) => {
            assert_eq!(*status, 401);
            assert_eq!(*rejection, HandshakeRejection::Unauthorized);
            assert_eq!(detail.raw_code.as_deref(), Some("invalid_token"));
            assert!(!detail.message.is_empty());
            let id = detail.request_id.as_deref().expect("a request id");
            assert!(id.starts_with("req_"), "{id}");
            let text = err.to_string();
            assert!(
                text.contains("invalid_token") && text.contains(id),
                "{text}"
            );
            assert!(!text.contains("FORGEDtoken"), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

/// A listener that only counts connections.
async fn counting_listener() -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<u32>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = std::sync::Arc::new(std::sync::Mutex::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            *seen.lock().unwrap() += 1;
            drop(tcp);
        }
    });
    (addr, count)
}

fn credentials(url: String) -> StreamCredentials {
    StreamCredentials::new(
        url,
        StreamToken::new("kst_test_MUSTnotTRAVEL"),
        chrono::Utc::now() + chrono::TimeDelta::minutes(5),
    )
}

#[tokio::test]
async fn foreign_hosts_and_clear_text_are_refused_before_any_connection() {
    // Every connection would go to this proxy, so any attempt would be counted, whatever
    // the host (no name is ever resolved: refusals come first).
    let (proxy, proxied) = counting_listener().await;
    let connector = Client::builder()
        .proxy(format!("http://{proxy}"))
        .allow_stream_host("stream.example.com")
        .build_stream_connector()
        .unwrap();
    for (url, expected) in [
        ("wss://attacker.example/v1/sessions/sess_1/connect", "host"),
        (
            "wss://api.kallglot.com.attacker.example/v1/sessions/sess_1/connect",
            "host",
        ),
        (
            "ws://api.kallglot.com/v1/sessions/sess_1/connect",
            "insecure",
        ),
        (
            "ws://stream.example.com/v1/sessions/sess_1/connect",
            "insecure",
        ),
    ] {
        let err = connector
            .connect(&credentials(url.into()), StreamOptions::default())
            .await
            .unwrap_err();
        match (&err, expected) {
            (Error::Stream(StreamError::HostNotAllowed { .. }), "host") => {}
            (Error::Stream(StreamError::InsecureUrl), "insecure") => {}
            _ => panic!("{url}: {err:?}"),
        }
        assert!(!format!("{err} {err:?}").contains("MUSTnotTRAVEL"));
    }
    assert_eq!(*proxied.lock().unwrap(), 0, "nothing was dialled");

    // A loopback server that is neither the API host nor allowed: refused as well, for a
    // client's sessions and for credentials alone.
    let (server, accepted) = counting_listener().await;
    let url = format!("ws://{server}/v1/sessions/sess_1/connect");
    let err = kallglot::stream::connect(&credentials(url.clone()), StreamOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Stream(StreamError::HostNotAllowed { ref host }) if host == "127.0.0.1"),
        "{err:?}"
    );
    // The API on `localhost`, the stream URL on `127.0.0.1`: another host.
    let api = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "sess_1", "object": "session", "status": "active",
            "mode": "bidirectional_translation",
            "stream": {"url": url, "token": "kst_test_MUSTnotTRAVEL",
                       "expires_at": (chrono::Utc::now() + chrono::TimeDelta::minutes(5)).to_rfc3339()},
            "created_at": "2026-03-26T11:00:00Z"
        })))
        .mount(&api)
        .await;
    let rest = Client::builder()
        .api_key("sk_test_FAKEKEY0000000000")
        .base_url(format!("http://localhost:{}", api.address().port()))
        .build()
        .unwrap();
    let session = rest
        .sessions()
        .retrieve("sess_1")
        .await
        .unwrap()
        .into_inner();
    let err = rest
        .sessions()
        .connect(&session, StreamOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Stream(StreamError::HostNotAllowed { .. })),
        "{err:?}"
    );
    assert_eq!(*accepted.lock().unwrap(), 0, "nothing was dialled");
}

#[test]
fn bad_network_settings_fail_the_build() {
    let err = Client::builder()
        .api_key("sk_test_FAKEKEY0000000000")
        .add_root_certificate_pem("not a certificate")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config(kallglot::ConfigError::InvalidRootCertificate)
        ),
        "{err:?}"
    );
    let err = Client::builder()
        .allow_stream_host("evil.example/path")
        .build_stream_connector()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config(kallglot::ConfigError::InvalidStreamHost(_))
        ),
        "{err:?}"
    );
}
