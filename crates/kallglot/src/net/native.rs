//! TLS through the platform's library (native-tls: OpenSSL on Linux, Security.framework
//! on macOS, SChannel on Windows), configured through reqwest.
//!
//! The platform verifies servers against its own roots; the extra roots are added to
//! them. As with rustls: TLS 1.2 at least, HTTP/1.1 by ALPN (reqwest asks for it because
//! the caller sets `http1_only`).

use super::{ConfigError, SecureRandom, parse_roots};

pub(super) fn secure_random() -> Result<SecureRandom, ConfigError> {
    Ok(SecureRandom::Os)
}

pub(super) fn configure(
    builder: reqwest::ClientBuilder,
    extra_roots_pem: &[Vec<u8>],
) -> Result<reqwest::ClientBuilder, ConfigError> {
    let roots = parse_roots(extra_roots_pem)?
        .iter()
        .map(|der| reqwest::Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ConfigError::InvalidRootCertificate)?;
    Ok(builder
        .tls_backend_native()
        .tls_version_min(reqwest::tls::Version::TLS_1_2)
        .tls_certs_merge(roots))
}
