//! The one TLS set-up of a function: compiled-in roots verified by rustls on `ring`, for every client
//! it builds: the 2C2P and WeChat client and the AWS SDK's.
//!
//! Nothing is read from the system trust store: loading and parsing it (a bundle and a directory of
//! ~140 files) for each client was two thirds of a cold start. The 2C2P/WeChat client trusts Mozilla's
//! list (`webpki-roots`, ready-made trust anchors, nothing to parse). The AWS SDK only ever talks to
//! AWS endpoints, whose certificates all chain to Amazon Trust Services: it trusts those five roots
//! alone, which it takes as PEM and parses on its first request (5 instead of ~145: a shorter first
//! request, and no other CA can vouch for a DynamoDB endpoint).

use std::sync::{Arc, LazyLock};

use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls::RootCertStore;
use thiserror::Error;

/// The TLS configuration could not be built; the function must not start without it.
#[derive(Debug, Error)]
#[error("the TLS configuration could not be built: {0}")]
pub struct TlsError(String);

/// The roots, as trust anchors ready to use: built once per process, shared by every client.
static ROOTS: LazyLock<Arc<RootCertStore>> =
    LazyLock::new(|| Arc::new(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }));

/// A rustls client configuration on the compiled-in roots, TLS 1.2 and 1.3, no client certificate.
pub fn client_config() -> Result<rustls::ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_root_certificates(Arc::clone(&ROOTS))
        .with_no_client_auth();
    Ok(config)
}

/// The subjects of the roots AWS endpoints chain to (Amazon Trust Services, amazontrust.com/repository):
/// Amazon Root CA 1 to 4, and Starfield Services Root Certificate Authority - G2, which cross-signs them.
/// A root's subject is also its issuer, so its name is in its DER as these bytes.
const AWS_ROOT_NAMES: [&str; 2] = ["Amazon Root CA ", "Starfield Services Root Certificate Authority - G2"];

/// Mozilla's roots that AWS endpoints chain to (see [`AWS_ROOT_NAMES`]), in DER.
fn aws_roots() -> impl Iterator<Item = &'static [u8]> {
    let finders: Vec<_> = AWS_ROOT_NAMES.iter().map(|name| memchr::memmem::Finder::new(name.as_bytes())).collect();
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|cert| cert.as_ref())
        .filter(move |der| finders.iter().any(|finder| finder.find(der).is_some()))
}

/// The AWS SDK's HTTPS client: rustls on `ring` trusting AWS's roots only, never the system store.
/// Building it does no I/O; the SDK makes its connector (and parses the roots) on the first request.
pub fn aws_http_client() -> Result<SharedHttpClient, TlsError> {
    let mut trust = TrustStore::empty().with_native_roots(false);
    for cert in aws_roots() {
        trust.add_pem_certificate(pem(cert));
    }
    let context = TlsContext::builder().with_trust_store(trust).build().map_err(|e| TlsError(e.to_string()))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https())
}

/// One certificate in PEM, as the SDK's trust store takes them.
fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = String::with_capacity(body.len() + body.len() / 64 + 64);
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_uses_the_compiled_in_roots() {
        let config = client_config().map_err(|e| e.to_string());
        assert!(config.is_ok(), "{config:?}");
        assert!(ROOTS.len() > 100, "Mozilla's list has well over 100 roots: {}", ROOTS.len());
    }

    #[test]
    fn the_sdk_roots_are_pem_that_rustls_reads_back() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            let text = pem(cert.as_ref());
            let back = CertificateDer::from_pem_slice(text.as_bytes()).map_err(|e| e.to_string());
            assert_eq!(back.as_ref().map(|c| c.as_ref()), Ok(cert.as_ref()));
        }
    }

    /// The SDK trusts exactly Amazon Trust Services' roots: each one's subject, read by a real X.509
    /// parser (webpki's trust anchor), names Amazon Root CA 1-4 or Starfield Services G2.
    #[test]
    fn the_sdk_trusts_amazon_trust_services_roots_only() {
        use rustls::pki_types::CertificateDer;
        let names: Vec<String> = aws_roots()
            .map(|der| {
                let cert = CertificateDer::from(der);
                let anchor = webpki::anchor_from_trusted_cert(&cert).map_err(|e| format!("{e:?}"));
                let subject = anchor.map(|a| String::from_utf8_lossy(a.subject.as_ref()).into_owned());
                subject.unwrap_or_else(|e| e)
            })
            .collect();
        let wanted = [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ];
        // Each subject ends with its common name; which of the wanted ones it names, if any.
        let mut named: Vec<&str> =
            names.iter().map(|name| wanted.into_iter().find(|want| name.ends_with(want)).unwrap_or(name)).collect();
        named.sort_unstable();
        assert_eq!(named, wanted, "{names:?}");
        // And the SDK builds its client on them.
        assert!(aws_http_client().is_ok());
    }
}
