//! A caller's own `reqwest::Client` (`ClientBuilder::http_client`) carries the REST calls
//! and the stream's upgrade: a default header set on it is seen by the server on both,
//! through a recording relay in front of the emulator (loopback only).
#![cfg(feature = "stream")]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use kallglot::model::{CreateSessionParams, Language, Mode, Session};
use kallglot::stream::{StreamError, StreamOptions};
use kallglot::{Client, ClientBuilder, ConfigError, Error};
use kallglot_mock::{MockConfig, MockServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP relay to `upstream` that keeps every byte clients sent.
struct Relay {
    addr: SocketAddr,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl Relay {
    async fn start(listener: TcpListener, upstream: SocketAddr) -> Self {
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let record = sent.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let up = async move {
                        let mut buf = [0u8; 8192];
                        while let Ok(n) = client_read.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            record.lock().unwrap().extend_from_slice(&buf[..n]);
                            if server_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = server_write.shutdown().await;
                    };
                    let down = async move {
                        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                        let _ = client_write.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Self { addr, sent }
    }

    /// The header block of every request whose request line starts with `start`.
    fn requests(&self, start: &str) -> Vec<String> {
        let sent = String::from_utf8_lossy(&self.sent.lock().unwrap()).into_owned();
        sent.match_indices(start)
            .map(|(at, _)| {
                let rest = &sent[at..];
                rest[..rest.find("\r\n\r\n").unwrap_or(rest.len())].to_ascii_lowercase()
            })
            .collect()
    }
}

/// The emulator behind a relay, its stream URLs on the relay.
async fn emulator() -> (MockServer, Relay) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = MockConfig::default();
    config.public_url = Some(format!("http://{}", listener.local_addr().unwrap()));
    config.utterance_duration = Duration::from_millis(100);
    let mock = MockServer::builder().config(config).start().await.unwrap();
    let relay = Relay::start(listener, mock.addr()).await;
    (mock, relay)
}

fn builder(mock: &MockServer, relay: &Relay) -> ClientBuilder {
    Client::builder()
        .api_key(mock.api_key())
        .base_url(format!("http://{}", relay.addr))
}

fn own_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-own-client", "yes".parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .user_agent("my-own-agent/1")
        .build()
        .unwrap()
}

async fn create_session(client: &Client) -> Session {
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

#[tokio::test]
async fn the_callers_client_carries_rest_calls_and_the_stream_upgrade() {
    let (mock, relay) = emulator().await;
    let client = builder(&mock, &relay)
        .http_client(own_client())
        .build()
        .unwrap();
    let session = create_session(&client).await;
    client
        .sessions()
        .retrieve(session.id.clone())
        .await
        .unwrap();
    let (sender, events) = client
        .sessions()
        .connect(&session, StreamOptions::default())
        .await
        .unwrap();
    sender.end().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(30), events.collect::<Vec<_>>())
        .await
        .expect("the stream must end");

    let rest = relay.requests("POST /v1/sessions ");
    let retrieve = relay.requests(&format!("GET /v1/sessions/{} ", session.id));
    let upgrade = relay.requests(&format!("GET /v1/sessions/{}/connect", session.id));
    for (what, requests) in [
        ("create", rest),
        ("retrieve", retrieve),
        ("upgrade", upgrade),
    ] {
        assert_eq!(requests.len(), 1, "{what}: {requests:?}");
        assert!(
            requests[0].contains("\r\nx-own-client: yes"),
            "{what}: {requests:?}"
        );
        assert!(
            requests[0].contains("\r\nuser-agent: my-own-agent/1"),
            "{what}: {requests:?}"
        );
    }
}

#[tokio::test]
async fn without_its_own_client_the_sdk_sends_none_of_those_headers() {
    let (mock, relay) = emulator().await;
    let client = builder(&mock, &relay).build().unwrap();
    create_session(&client).await;
    let rest = relay.requests("POST /v1/sessions ");
    assert_eq!(rest.len(), 1);
    assert!(!rest[0].contains("x-own-client"), "{rest:?}");
    assert!(rest[0].contains("user-agent: kallglot-rust/"), "{rest:?}");
}

#[tokio::test]
async fn a_stream_over_http2_fails_with_a_clear_error_while_rest_works() {
    let (mock, relay) = emulator().await;
    let h2_only = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let client = builder(&mock, &relay).http_client(h2_only).build().unwrap();
    let session = create_session(&client).await;
    let err = client
        .sessions()
        .connect(&session, StreamOptions::default())
        .await
        .unwrap_err();
    let Error::Stream(StreamError::Connect { message, .. }) = &err else {
        panic!("{err:?}");
    };
    assert!(message.contains("HTTP/1.1"), "{message}");
    assert!(message.contains("http2_prior_knowledge"), "{message}");
}

#[test]
fn options_for_the_sdks_own_client_conflict_with_the_callers() {
    let base = || {
        Client::builder()
            .api_key("sk_test_0123456789abcdef")
            .base_url("http://127.0.0.1:9")
            .http_client(reqwest::Client::new())
    };
    assert!(base().build().is_ok());
    let pem = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
    for (builder, option) in [
        (base().proxy("http://127.0.0.1:3128"), "proxy"),
        (
            base().add_root_certificate_pem(pem),
            "add_root_certificate_pem",
        ),
        (
            base().connect_timeout(Duration::from_secs(1)),
            "connect_timeout",
        ),
        (base().app_info("app", None), "app_info"),
    ] {
        match builder.build().unwrap_err() {
            Error::Config(ConfigError::ConflictsWithHttpClient(named)) => {
                assert_eq!(named, option)
            }
            other => panic!("{option}: {other:?}"),
        }
    }
    let debug = format!("{:?}", base().proxy("http://u:hunter2@127.0.0.1:1"));
    assert!(!debug.contains("reqwest::Client {"), "{debug}");
}
