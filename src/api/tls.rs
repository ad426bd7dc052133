//! TLS for the gRPC server and the web console: a certificate chain and its private key, read
//! from PEM and checked once, so that a file the server could not use is refused at start with
//! the reason, rather than when the first client connects.
//!
//! The checks are those of tonic's rustls acceptor (the ring provider, as tonic's `tls-ring`
//! feature uses): the chain and the key must be PEM, the key must be one rustls can sign with,
//! and it must belong to the first certificate of the chain. No error message quotes the key.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::{Error as RustlsError, InconsistentKeys, ServerConfig};
use tonic::transport::{Identity, ServerTlsConfig};

/// How long a client may take over the handshake: a connection that never finishes it would
/// otherwise hold a socket for as long as the client likes.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's certificate chain and private key, known to be usable.
///
/// Its `Debug` shows neither: the key is a secret, and the chain is only noise in a log.
#[derive(Clone)]
pub struct TlsIdentity {
    identity: Identity,
    /// The same chain and key for an HTTP/1.1 listener (the web console).
    http: Arc<ServerConfig>,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsIdentity([redacted])")
    }
}

/// Which of the two PEM files a [`TlsError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsFile {
    CertificateChain,
    PrivateKey,
}

/// Why a certificate chain and key cannot be served. `reason` completes a sentence whose subject
/// is the file, e.g. "holds no PEM certificate".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{reason}")]
pub struct TlsError {
    pub file: TlsFile,
    pub reason: String,
}

impl TlsError {
    fn new(file: TlsFile, reason: impl Into<String>) -> Self {
        TlsError {
            file,
            reason: reason.into(),
        }
    }
}

/// Why PEM text could not be read, without the decoder's detail: a base64 error quotes the
/// offending bytes, which in a key file are key material.
fn pem_reason(error: &pem::Error, expected: &str) -> String {
    match error {
        pem::Error::NoItemsFound => format!("holds no {expected}"),
        pem::Error::MissingSectionEnd { .. } => {
            "is not valid PEM: a section has no END line".to_owned()
        }
        pem::Error::IllegalSectionStart { .. } => {
            "is not valid PEM: a BEGIN line is malformed".to_owned()
        }
        pem::Error::Base64Decode(_) => "is not valid PEM: a section is not valid base64".to_owned(),
        pem::Error::SectionTooLarge => {
            "is not valid PEM: a section is larger than 256 MiB".to_owned()
        }
        // Reading from a slice does no I/O, but the enum is open to new kinds of error.
        _ => "is not valid PEM".to_owned(),
    }
}

/// Every certificate in PEM text, of which there must be at least one; or why not.
pub(super) fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_reason(&error, "PEM certificate"))?;
    if certificates.is_empty() {
        return Err(
            "holds no PEM certificate (a `-----BEGIN CERTIFICATE-----` section)".to_owned(),
        );
    }
    Ok(certificates)
}

impl TlsIdentity {
    /// Checks a PEM certificate chain (the server's certificate first, then any intermediates)
    /// and the PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(chain: Vec<u8>, key: Vec<u8>) -> Result<Self, TlsError> {
        let certificates = pem_certificates(&chain)
            .map_err(|reason| TlsError::new(TlsFile::CertificateChain, reason))?;
        let private_key = PrivateKeyDer::from_pem_slice(&key).map_err(|error| {
            TlsError::new(
                TlsFile::PrivateKey,
                pem_reason(
                    &error,
                    "PEM private key (a `-----BEGIN PRIVATE KEY-----`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` section)",
                ),
            )
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let signing_key = provider
            .key_provider
            .load_private_key(private_key.clone_key())
            .map_err(|error| {
                TlsError::new(
                    TlsFile::PrivateKey,
                    format!("holds a private key that cannot be used: {error}"),
                )
            })?;
        match CertifiedKey::new(certificates.clone(), signing_key).keys_match() {
            // `Unknown` means the key cannot tell its public half, so there is nothing to compare.
            Ok(()) | Err(RustlsError::InconsistentKeys(InconsistentKeys::Unknown)) => {}
            Err(RustlsError::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
                return Err(TlsError::new(
                    TlsFile::PrivateKey,
                    "holds a private key that does not belong to the first certificate of the chain (the server's own certificate must come first)",
                ));
            }
            Err(error) => {
                return Err(TlsError::new(
                    TlsFile::CertificateChain,
                    format!(
                        "holds a first certificate that is not a valid X.509 certificate: {error}"
                    ),
                ));
            }
        }
        let mut http = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| {
                builder
                    .with_no_client_auth()
                    .with_single_cert(certificates, private_key)
            })
            .map_err(|error| {
                TlsError::new(
                    TlsFile::PrivateKey,
                    format!("holds a private key that cannot be served: {error}"),
                )
            })?;
        http.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsIdentity {
            identity: Identity::from_pem(chain, key),
            http: Arc::new(http),
        })
    }

    /// The configuration of an HTTP/1.1 listener's TLS acceptor: the same chain and key, with
    /// `http/1.1` offered by ALPN.
    pub fn http_server_config(&self) -> Arc<ServerConfig> {
        self.http.clone()
    }

    /// The configuration of tonic's rustls acceptor.
    pub(super) fn server_config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity.clone())
            .timeout(HANDSHAKE_TIMEOUT)
    }
}
