//! The one HTTP client every connection goes through: REST calls and the stream's
//! WebSocket upgrade alike, so both use the same TLS stack, root store, proxy and user
//! agent.
//!
//! TLS is configured here rather than left to reqwest's defaults. The stack comes from
//! the crate's features:
//! - `native-tls`: the platform's TLS library, with the platform's roots plus any extra
//!   roots the caller trusts. It wins when a rustls feature is on too, since enabling it
//!   next to the default features is how one asks for it (`net/native.rs`).
//! - otherwise rustls with the provider the features name (`rustls-aws-lc`, the default,
//!   or `rustls-ring`; aws-lc-rs when both are on), never rustls's process-wide default,
//!   which depends on whatever else the app links; servers are verified with the
//!   platform's roots plus the extra ones (`net/rustls.rs`).
//!
//! With none of the three, building a client fails with a `ConfigError` that says so.
//! Each stack also supplies the secure random source of the stream's keys and masks.

use std::time::Duration;

use crate::error::ConfigError;

#[cfg(feature = "native-tls")]
mod native;
#[cfg(feature = "native-tls")]
use native as tls;

#[cfg(all(
    not(feature = "native-tls"),
    any(feature = "rustls-aws-lc", feature = "rustls-ring")
))]
mod rustls;
#[cfg(all(
    not(feature = "native-tls"),
    any(feature = "rustls-aws-lc", feature = "rustls-ring")
))]
use self::rustls as tls;

#[cfg(not(any(
    feature = "native-tls",
    feature = "rustls-aws-lc",
    feature = "rustls-ring"
)))]
mod tls {
    //! No TLS stack: every client build fails with [`no_tls`](super::no_tls).

    use super::{ConfigError, SecureRandom};

    pub(super) fn secure_random() -> Result<SecureRandom, ConfigError> {
        Err(super::no_tls())
    }

    pub(super) fn configure(
        _: reqwest::ClientBuilder,
        _: &[Vec<u8>],
    ) -> Result<reqwest::ClientBuilder, ConfigError> {
        Err(super::no_tls())
    }
}

#[cfg_attr(
    any(
        feature = "native-tls",
        feature = "rustls-aws-lc",
        feature = "rustls-ring"
    ),
    allow(dead_code)
)]
fn no_tls() -> ConfigError {
    ConfigError::HttpClient(
        "no TLS stack: enable the `rustls-aws-lc`, `rustls-ring` or `native-tls` feature".into(),
    )
}

/// Where the stream's handshake keys and frame masks come from: the TLS stack's own
/// secure random generator (rustls's provider), or the operating system's (native-tls has
/// none to borrow). RFC 6455 asks for unpredictable masks.
#[derive(Clone, Copy)]
pub(crate) enum SecureRandom {
    /// The rustls crypto provider's generator.
    #[cfg(all(
        not(feature = "native-tls"),
        any(feature = "rustls-aws-lc", feature = "rustls-ring")
    ))]
    Provider(&'static dyn ::rustls::crypto::SecureRandom),
    /// The operating system's generator.
    #[cfg(feature = "native-tls")]
    Os,
}

impl SecureRandom {
    /// Fills `bytes`; fails only when the generator cannot give any.
    #[cfg_attr(not(feature = "stream"), allow(dead_code))]
    #[cfg_attr(
        not(any(
            feature = "native-tls",
            feature = "rustls-aws-lc",
            feature = "rustls-ring"
        )),
        allow(unused_variables)
    )]
    pub(crate) fn fill(self, bytes: &mut [u8]) -> Result<(), NoRandom> {
        match self {
            #[cfg(all(
                not(feature = "native-tls"),
                any(feature = "rustls-aws-lc", feature = "rustls-ring")
            ))]
            Self::Provider(random) => random.fill(bytes).map_err(|_| NoRandom),
            #[cfg(feature = "native-tls")]
            Self::Os => getrandom::fill(bytes).map_err(|_| NoRandom),
        }
    }
}

/// The secure random generator failed.
#[derive(Debug)]
pub(crate) struct NoRandom;

/// The random source of the TLS stack the features select (a caller's own
/// `reqwest::Client` included: its stream masks come from the same place).
pub(crate) fn secure_random() -> Result<SecureRandom, ConfigError> {
    tls::secure_random()
}

/// What the HTTP client is built from.
pub(crate) struct HttpSettings {
    pub user_agent: String,
    pub timeout: Option<Duration>,
    pub connect_timeout: Duration,
    /// PEM bundles of extra trusted root certificates.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// A proxy URL for every connection; `None` leaves reqwest's environment proxy
    /// handling (`HTTPS_PROXY`, `NO_PROXY`, …).
    pub proxy: Option<String>,
}

/// The built client and the random source of its TLS stack (for the stream's masks).
pub(crate) struct Http {
    pub client: reqwest::Client,
    #[cfg_attr(not(feature = "stream"), allow(dead_code))]
    pub random: SecureRandom,
}

impl HttpSettings {
    pub(crate) fn build(self) -> Result<Http, ConfigError> {
        let random = secure_random()?;
        let builder = tls::configure(reqwest::Client::builder(), &self.extra_roots_pem)?;
        // HTTP/1.1 only: the WebSocket upgrade needs it, and it keeps one kind of
        // connection for REST and stream even if another crate enables reqwest's http2.
        let mut builder = builder
            .http1_only()
            .user_agent(self.user_agent)
            .connect_timeout(self.connect_timeout)
            // The API documents no redirects; following one could carry the request to
            // a host that should not see it.
            .redirect(reqwest::redirect::Policy::none())
            // reqwest's own retries only replay HTTP/2 refusals, which an HTTP/1.1-only
            // client never gets; yet its retry layer copies every request (headers and
            // all) in case. The SDK's executor is the one retry layer.
            .retry(reqwest::retry::never().max_retries_per_request(0));
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(proxy) = &self.proxy {
            let proxy = reqwest::Proxy::all(proxy)
                .map_err(|_| ConfigError::InvalidProxy("it is not a valid proxy URL"))?;
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        Ok(Http { client, random })
    }
}

/// The extra trusted roots, each bundle holding at least one certificate.
#[cfg(any(
    feature = "native-tls",
    feature = "rustls-aws-lc",
    feature = "rustls-ring"
))]
fn parse_roots(
    bundles: &[Vec<u8>],
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, ConfigError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    let mut roots = Vec::new();
    for pem in bundles {
        let before = roots.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots.push(cert.map_err(|_| ConfigError::InvalidRootCertificate)?);
        }
        if roots.len() == before {
            return Err(ConfigError::InvalidRootCertificate);
        }
    }
    Ok(roots)
}

#[cfg(all(
    test,
    any(
        feature = "native-tls",
        feature = "rustls-aws-lc",
        feature = "rustls-ring"
    )
))]
mod tests {
    use super::*;

    #[test]
    fn root_bundles_must_hold_certificates() {
        assert_eq!(
            parse_roots(&[b"not a certificate".to_vec()]).unwrap_err(),
            ConfigError::InvalidRootCertificate
        );
        let garbled = b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n";
        assert!(parse_roots(&[garbled.to_vec()]).is_err());
        assert!(parse_roots(&[]).unwrap().is_empty());
    }

    #[test]
    fn the_random_source_gives_fresh_bytes() {
        let random = secure_random().unwrap();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        random.fill(&mut a).unwrap();
        random.fill(&mut b).unwrap();
        assert_ne!(a, [0; 32]);
        assert_ne!(a, b);
    }
}
