//! TLS to a server, as libpq's `sslmode` names it, on rustls (ring):
//!
//! - `disable`: plain TCP;
//! - `prefer`: TLS when the server offers it, else plain, no certificate
//!   check (libpq's default);
//! - `require`: TLS or nothing, no certificate check;
//! - `verify-ca`: TLS, the certificate chained to the CA bundle;
//! - `verify-full`: that, and the certificate names the host.
//!
//! The CA bundle is a PEM file (Amazon RDS publishes its global bundle as
//! one); `verify-*` need it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gp_driver::DriverError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error as TlsError, SignatureScheme};
use serde::{Deserialize, Serialize};

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if offered (the default), unverified.
    #[default]
    Prefer,
    /// TLS, unverified.
    Require,
    /// TLS, chained to the CA bundle.
    VerifyCa,
    /// TLS, chained to the CA bundle and naming the host.
    VerifyFull,
}

impl SslMode {
    /// As written in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// How to reach a server over TLS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tls {
    /// The mode.
    pub mode: SslMode,
    /// The CA bundle (PEM).
    pub ca_bundle: Option<PathBuf>,
}

impl Tls {
    /// No TLS (the managed local server listens on loopback only).
    pub fn disabled() -> Tls {
        Tls {
            mode: SslMode::Disable,
            ca_bundle: None,
        }
    }

    /// The connector for `postgres::Config::connect`, or `None` for plain
    /// TCP.
    pub fn connector(
        &self,
    ) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, DriverError> {
        if self.mode == SslMode::Disable {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| DriverError::configuration(format!("TLS: {e}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = match self.mode {
            SslMode::Prefer | SslMode::Require => Arc::new(Unverified { provider }),
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let Some(bundle) = &self.ca_bundle else {
                    return Err(DriverError::configuration(format!(
                        "sslmode {} needs caBundle: the PEM file of the server's CA (for RDS, its global bundle)",
                        self.mode.as_str()
                    )));
                };
                let roots = roots(bundle)?;
                let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| DriverError::configuration(format!("TLS: {e}")))?;
                if self.mode == SslMode::VerifyCa {
                    Arc::new(ChainOnly { inner: webpki })
                } else {
                    webpki
                }
            }
            SslMode::Disable => unreachable!("handled above"),
        };
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
    }
}

/// The certificates of a PEM bundle.
fn roots(path: &Path) -> Result<rustls::RootCertStore, DriverError> {
    use rustls::pki_types::pem::PemObject;
    let mut store = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
        DriverError::configuration(format!("cannot read the CA bundle {}: {e}", path.display()))
    })?;
    for c in certs {
        let c = c.map_err(|e| {
            DriverError::configuration(format!("the CA bundle {} is not PEM: {e}", path.display()))
        })?;
        store.add(c).map_err(|e| {
            DriverError::configuration(format!(
                "a certificate in {} is unusable: {e}",
                path.display()
            ))
        })?;
    }
    if store.is_empty() {
        return Err(DriverError::configuration(format!(
            "the CA bundle {} holds no certificate",
            path.display()
        )));
    }
    Ok(store)
}

/// `prefer` and `require`: encryption without checking who answers, as
/// libpq does in those modes (signatures are still checked).
#[derive(Debug)]
struct Unverified {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to the bundle; the name is not checked.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(TlsError::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
