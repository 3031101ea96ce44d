//! TLS through rustls, with the crypto provider the features name.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

use super::{ConfigError, SecureRandom, parse_roots};

/// The provider every TLS connection of the SDK uses, chosen by the crate's features,
/// whatever else is installed: aws-lc-rs when `rustls-aws-lc` is on, else ring.
fn provider() -> Arc<CryptoProvider> {
    #[cfg(feature = "rustls-aws-lc")]
    return Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    #[cfg(not(feature = "rustls-aws-lc"))]
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(super) fn secure_random() -> Result<SecureRandom, ConfigError> {
    Ok(SecureRandom::Provider(provider().secure_random))
}

/// Hands reqwest a rustls configuration: the named provider, the platform verifier with
/// the extra roots, HTTP/1.1 by ALPN.
pub(super) fn configure(
    builder: reqwest::ClientBuilder,
    extra_roots_pem: &[Vec<u8>],
) -> Result<reqwest::ClientBuilder, ConfigError> {
    let provider = provider();
    let roots = parse_roots(extra_roots_pem)?;
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
            .map_err(|e| ConfigError::HttpClient(format!("TLS verifier: {e}")))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::HttpClient(format!("TLS versions: {e}")))?
        .dangerous()
        // The platform verifier is the safe default (reqwest uses it too); `dangerous`
        // is only rustls's name for plugging in a verifier.
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // The WebSocket upgrade needs HTTP/1.1 (see the caller's `http1_only`).
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(builder.tls_backend_preconfigured(tls))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--all-features` test builds take native-tls instead; CI runs this module with the
    /// default features, and checks the `rustls-ring` build separately.
    #[cfg(feature = "rustls-aws-lc")]
    #[test]
    fn the_provider_is_the_one_the_features_name_not_the_process_default() {
        let ours = provider();
        let aws_lc = rustls::crypto::aws_lc_rs::default_provider();
        let ring = rustls::crypto::ring::default_provider();
        // The providers' parts are zero-sized statics, told apart by their `Debug`.
        let name = |p: &CryptoProvider| format!("{:?}", p.secure_random);
        assert_eq!(name(&ours), name(&aws_lc));
        assert_ne!(name(&ours), name(&ring));
    }
}
