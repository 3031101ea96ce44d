//! Local network pieces for transport tests: a TLS front (a test CA and a certificate for
//! 127.0.0.1) forwarding to a plain loopback server, and a CONNECT proxy. All on
//! loopback.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A test certificate authority and a server certificate it signed for `127.0.0.1`.
pub struct TestCa {
    pub ca_pem: String,
    pub server: Arc<rustls::ServerConfig>,
}

impl TestCa {
    pub fn new() -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kallglot test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        // The server names its provider too: with both aws-lc-rs and ring linked, there
        // is no process default to fall back on.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        Self {
            ca_pem: ca.pem(),
            server: Arc::new(server),
        }
    }
}

/// Terminates TLS on a loopback port and forwards the plain bytes to `backend`. When
/// `only_from` is set, connections from any other peer address are dropped (so a test
/// can prove that every connection came through a proxy).
pub struct TlsFront {
    pub addr: SocketAddr,
    pub accepted: Arc<Mutex<u32>>,
    /// The cipher suites each client offered, one list per handshake, by their IANA
    /// names (`TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA`, …): they tell TLS stacks apart.
    pub offered_suites: Arc<Mutex<Vec<Vec<String>>>>,
}

/// A loopback listener for [`tls_front`], bound first so that the backend can be told
/// the front's address.
pub async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

pub fn tls_front(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    backend: SocketAddr,
    only_from: Option<Arc<Mutex<Vec<SocketAddr>>>>,
) -> TlsFront {
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(0));
    let count = accepted.clone();
    let offered_suites = Arc::new(Mutex::new(Vec::new()));
    let offered = offered_suites.clone();
    tokio::spawn(async move {
        while let Ok((tcp, peer)) = listener.accept().await {
            if let Some(allowed) = &only_from
                && !allowed.lock().unwrap().contains(&peer)
            {
                drop(tcp);
                continue;
            }
            *count.lock().unwrap() += 1;
            let config = config.clone();
            let offered = offered.clone();
            tokio::spawn(async move {
                let acceptor = tokio_rustls::LazyConfigAcceptor::new(Default::default(), tcp);
                let Ok(start) = acceptor.await else {
                    return;
                };
                let suites = start
                    .client_hello()
                    .cipher_suites()
                    .iter()
                    .map(|suite| format!("{suite:?}"))
                    .collect();
                offered.lock().unwrap().push(suites);
                let Ok(mut tls) = start.into_stream(config).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsFront {
        addr,
        accepted,
        offered_suites,
    }
}

/// A CONNECT proxy on loopback. It records each tunnel's target and the local address
/// of its outgoing connection.
pub struct Proxy {
    pub addr: SocketAddr,
    pub tunnels: Arc<Mutex<Vec<String>>>,
    pub outgoing: Arc<Mutex<Vec<SocketAddr>>>,
    pub accepted: Arc<Mutex<u32>>,
}

impl Proxy {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

pub async fn connect_proxy() -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tunnels = Arc::new(Mutex::new(Vec::new()));
    let outgoing = Arc::new(Mutex::new(Vec::new()));
    let accepted = Arc::new(Mutex::new(0));
    let (seen, out, count) = (tunnels.clone(), outgoing.clone(), accepted.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            *count.lock().unwrap() += 1;
            let (seen, out) = (seen.clone(), out.clone());
            tokio::spawn(async move {
                let mut client = BufReader::new(tcp);
                let mut line = String::new();
                if client.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                // Skip the rest of the request head.
                loop {
                    let mut header = String::new();
                    if client.read_line(&mut header).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if header == "\r\n" {
                        break;
                    }
                }
                let mut parts = line.split_whitespace();
                let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
                    let _ = client
                        .get_mut()
                        .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                };
                // Loopback targets only: this proxy never reaches out anywhere else.
                let Ok(target_addr) = target.parse::<SocketAddr>() else {
                    return;
                };
                if !target_addr.ip().is_loopback() {
                    return;
                }
                seen.lock().unwrap().push(target.to_string());
                // Bound before connecting, so the address is on record before the
                // target can see the connection.
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
                out.lock().unwrap().push(socket.local_addr().unwrap());
                let Ok(mut upstream) = socket.connect(target_addr).await else {
                    return;
                };
                let mut client = client.into_inner();
                if client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    Proxy {
        addr,
        tunnels,
        outgoing,
        accepted,
    }
}
