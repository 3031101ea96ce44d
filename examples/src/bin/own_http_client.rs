//! Your own `reqwest::Client` behind a proxy: the SDK sends every REST call and the
//! stream's WebSocket upgrade through the client you built, with your proxy, TLS roots,
//! pool and timeouts.
//!
//! Against the emulator, a tiny forward proxy runs inside the example on a loopback
//! port and records what passes through it, so the example can check that the calls and
//! the upgrade really went through the proxy. Against a real server (`KALLGLOT_API_KEY`
//! set), the client uses `HTTPS_PROXY` / `NO_PROXY` from the environment, as reqwest does
//! by default.
//!
//! When you only need a proxy, `ClientBuilder::proxy(url)` is simpler; bring your own
//! client when you need more of reqwest than the SDK exposes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use kallglot::model::{CreateSessionParams, Language, Mode};
use kallglot::stream::audio::MulawAudio;
use kallglot::stream::{Event, StreamOptions};
use kallglot_examples::{Target, check};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_env().await?;
    let proxy = match target.is_emulated() {
        true => Some(Proxy::start().await?),
        false => None,
    };

    let mut http = reqwest::Client::builder()
        .user_agent("my-backend/1.0")
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        // The API documents no redirects; following one to another host would carry the
        // API key with it.
        .redirect(reqwest::redirect::Policy::none());
    if let Some(proxy) = &proxy {
        http = http.proxy(reqwest::Proxy::all(format!("http://{}", proxy.addr))?);
    }
    let client = target.builder().http_client(http.build()?).build()?;

    let session = client
        .sessions()
        .create(
            CreateSessionParams::new(Mode::BidirectionalTranslation)
                .languages(Language::EN, Language::ES),
        )
        .await?;
    let again = client.sessions().retrieve(session.id.clone()).await?;
    println!("created and retrieved {} through my own client", again.id);

    // The stream's upgrade goes through the same client, so through the proxy too.
    let (sender, mut events) = client
        .sessions()
        .connect(&session, StreamOptions::default())
        .await?;
    sender
        .send_audio(MulawAudio::from_mulaw_bytes(vec![0xFF; 1600]))
        .await?;
    sender.end().await?;
    while let Some(event) = events.next().await {
        if let Event::Closed(closed) = event? {
            println!("stream closed (session ended: {})", closed.session_ended);
            break;
        }
    }

    let Some(proxy) = proxy else {
        return Ok(());
    };
    let seen = proxy.requests();
    println!("the proxy forwarded:");
    for line in &seen {
        println!("  {line}");
    }
    let saw = |method: &str, path: &str| {
        seen.iter()
            .any(|l| l.starts_with(method) && l.ends_with(path))
    };
    check(
        saw("POST", "/v1/sessions"),
        "the create went through the proxy",
    )?;
    check(
        saw("GET", &format!("/v1/sessions/{}", session.id)),
        "the retrieve went through the proxy",
    )?;
    check(
        saw("GET", &format!("/v1/sessions/{}/connect", session.id)),
        "the stream's upgrade went through the proxy",
    )?;
    let agents = proxy.user_agents();
    check(
        agents.len() == seen.len() && agents.iter().all(|ua| ua == "my-backend/1.0"),
        "every request carried my client's User-Agent",
    )?;
    Ok(())
}

/// A minimal HTTP forward proxy for plain `http://` targets on loopback: it reads each
/// connection's first request line to learn the target, then relays bytes both ways and
/// keeps what the client sent, to show what passed through. A real deployment uses a
/// real proxy (Squid, Envoy, a corporate gateway).
struct Proxy {
    addr: SocketAddr,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl Proxy {
    async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let sent = Arc::new(Mutex::new(Vec::new()));
        let record = sent.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, record.clone()));
            }
        });
        Ok(Self { addr, sent })
    }

    /// The request lines seen, with query strings left out (a stream URL's query holds
    /// its token).
    fn requests(&self) -> Vec<String> {
        self.heads()
            .iter()
            .filter_map(|head| head.lines().next())
            .map(|line| {
                let mut parts = line.split(' ');
                let method = parts.next().unwrap_or_default();
                let uri = parts.next().unwrap_or_default();
                let path = uri.split('?').next().unwrap_or_default();
                let path = path
                    .strip_prefix("http://")
                    .and_then(|rest| rest.find('/').map(|at| &rest[at..]))
                    .unwrap_or(path);
                format!("{method} {path}")
            })
            .collect()
    }

    fn user_agents(&self) -> Vec<String> {
        self.heads()
            .iter()
            .flat_map(|head| {
                head.lines()
                    .filter_map(|l| l.split_once(':'))
                    .filter(|(name, _)| name.eq_ignore_ascii_case("user-agent"))
                    .map(|(_, v)| v.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Every request head the clients sent (proxied requests use the absolute URI).
    fn heads(&self) -> Vec<String> {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let text = String::from_utf8_lossy(&sent);
        let mut starts: Vec<usize> = ["GET", "POST", "PUT", "PATCH", "DELETE"]
            .iter()
            .flat_map(|method| {
                text.match_indices(&format!("{method} http://"))
                    .map(|(at, _)| at)
                    .collect::<Vec<_>>()
            })
            .collect();
        starts.sort_unstable();
        starts
            .into_iter()
            .map(|at| {
                let rest = &text[at..];
                rest[..rest.find("\r\n\r\n").unwrap_or(rest.len())].to_string()
            })
            .collect()
    }
}

/// Relays one client connection to the loopback target its first request names.
async fn relay(mut client: TcpStream, record: Arc<Mutex<Vec<u8>>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    // The first request line names the target: "GET http://127.0.0.1:PORT/… HTTP/1.1".
    let target = loop {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if let Some(end) = head.iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&head[..end]).into_owned();
            break line
                .split(' ')
                .nth(1)
                .and_then(|uri| uri.strip_prefix("http://"))
                .and_then(|rest| rest.split('/').next())
                .and_then(|authority| authority.parse::<SocketAddr>().ok());
        }
        if head.len() > 64 * 1024 {
            return;
        }
    };
    // Only loopback targets: this proxy is a demonstration, not an open relay.
    let Some(target) = target.filter(|addr| addr.ip().is_loopback()) else {
        let _ = client
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        let _ = client
            .write_all(
                b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await;
        return;
    };
    record
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend_from_slice(&head);
    if upstream.write_all(&head).await.is_err() {
        return;
    }
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let up = async move {
        loop {
            match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    record
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend_from_slice(&buf[..n]);
                    if upstream_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = upstream_write.shutdown().await;
    };
    let down = async move {
        let _ = tokio::io::copy(&mut upstream_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(up, down);
}
