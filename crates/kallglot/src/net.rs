//! The one HTTP client every connection goes through: REST calls and the stream's
//! WebSocket upgrade alike, so both use the same TLS provider, root store, proxy and user
//! agent.
//!
//! TLS is configured here rather than left to reqwest: reqwest takes rustls's
//! process-wide default provider when one is installed, and what that is depends on
//! whatever else the app links. The SDK names its provider from its features
//! (`rustls-aws-lc`, the default, or `rustls-ring`; aws-lc-rs when both are on) and
//! verifies servers with the platform's roots plus any extra roots the caller trusts.
//! With neither feature, building a client fails with a `ConfigError` that says so.

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::error::ConfigError;

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

/// The built client and the crypto provider it uses (the stream takes its masking
/// randomness from the same provider).
pub(crate) struct Http {
    pub client: reqwest::Client,
    #[cfg_attr(not(feature = "stream"), allow(dead_code))]
    pub provider: Arc<CryptoProvider>,
}

/// The provider every TLS connection of the SDK uses, chosen by the crate's features,
/// whatever else is installed.
pub(crate) fn provider() -> Result<Arc<CryptoProvider>, ConfigError> {
    #[cfg(feature = "rustls-aws-lc")]
    return Ok(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls-aws-lc")))]
    return Ok(Arc::new(rustls::crypto::ring::default_provider()));
    #[cfg(not(any(feature = "rustls-aws-lc", feature = "rustls-ring")))]
    Err(ConfigError::HttpClient(
        "no TLS crypto provider: enable the `rustls-aws-lc` or `rustls-ring` feature".into(),
    ))
}

impl HttpSettings {
    pub(crate) fn build(self) -> Result<Http, ConfigError> {
        let provider = provider()?;
        let roots = parse_roots(&self.extra_roots_pem)?;
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
                .map_err(|e| ConfigError::HttpClient(format!("TLS verifier: {e}")))?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::HttpClient(format!("TLS versions: {e}")))?
            .dangerous()
            // The platform verifier is the safe default (reqwest uses it too); `dangerous`
            // is only rustls's name for plugging in a verifier.
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        // HTTP/1.1 only: the WebSocket upgrade needs it, and it keeps one kind of
        // connection for REST and stream even if another crate enables reqwest's http2.
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .user_agent(self.user_agent)
            .connect_timeout(self.connect_timeout)
            // The API documents no redirects; following one could carry the request to
            // a host that should not see it.
            .redirect(reqwest::redirect::Policy::none());
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
        Ok(Http { client, provider })
    }
}

fn parse_roots(bundles: &[Vec<u8>]) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Test builds always have `rustls-aws-lc` (the emulator, a dev-dependency, uses the
    /// default features); CI checks the `rustls-ring` build separately.
    #[cfg(feature = "rustls-aws-lc")]
    #[test]
    fn the_provider_is_the_one_the_features_name_not_the_process_default() {
        let ours = provider().unwrap();
        let aws_lc = rustls::crypto::aws_lc_rs::default_provider();
        let ring = rustls::crypto::ring::default_provider();
        // The providers' parts are zero-sized statics, told apart by their `Debug`.
        let name = |p: &CryptoProvider| format!("{:?}", p.secure_random);
        assert_eq!(name(&ours), name(&aws_lc));
        assert_ne!(name(&ours), name(&ring));
    }

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
}
