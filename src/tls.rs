//! TLS settings shared by the drivers (feature `tls`): the crypto provider,
//! certificates and keys from PEM files, and the trust a `wss://` client
//! starts from.
//!
//! Everything here builds [rustls](https://docs.rs/rustls) configurations;
//! the codec itself never sees TLS. The blocking [`client`](crate::client)
//! wraps its socket in a rustls client connection when the URL is
//! `wss://`; the mio server runs a rustls server connection between each
//! socket and its WebSocket connection (`server::tls`).
//!
//! The provider is rustls' `aws-lc-rs` one with the `tls-aws-lc` feature
//! (on by default: faster record encryption, a longer build), its `ring`
//! one without. It is passed explicitly to every builder, so a process
//! that also links another provider through some other crate still gets a
//! working configuration rather than rustls' "no process-level provider"
//! panic.
//!
//! ```no_run
//! use rfc6455::client::{Client, ClientConfig};
//! use rfc6455::tls::ClientTls;
//!
//! // A server whose certificate comes from a private CA:
//! let config = ClientConfig {
//!     tls: ClientTls::from_ca_file("ca.pem")?,
//!     ..ClientConfig::default()
//! };
//! let mut client = Client::connect_with("wss://localhost:9443/", &config)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::prelude::rust_2021::*;
use std::string::String;
use std::sync::{Arc, OnceLock};
use std::vec::Vec;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

pub use rustls;

/// The ALPN protocol a WebSocket connection negotiates: the opening
/// handshake is HTTP/1.1 (RFC 6455; WebSockets over HTTP/2 are RFC 8441,
/// which this crate does not speak).
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The crypto provider every configuration here is built with: `aws-lc-rs`
/// with the `tls-aws-lc` feature, `ring` without.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| Arc::new(default_provider())))
}

#[cfg(feature = "tls-aws-lc")]
fn default_provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

#[cfg(not(feature = "tls-aws-lc"))]
fn default_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Why a certificate, key or CA file could not be used.
#[derive(Debug)]
pub enum TlsError {
    /// The file could not be read.
    Io(PathBuf, io::Error),
    /// The file holds no PEM block of the expected kind, or a broken one.
    Pem(PathBuf, String),
    /// rustls refused the material: a key it cannot use, a key that does
    /// not match the certificate, a CA certificate it cannot parse.
    Rustls(PathBuf, rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Io(path, e) => write!(f, "{}: {e}", path.display()),
            TlsError::Pem(path, e) => write!(f, "{}: {e}", path.display()),
            TlsError::Rustls(path, e) => write!(f, "{}: {e}", path.display()),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Io(_, e) => Some(e),
            TlsError::Pem(..) => None,
            TlsError::Rustls(_, e) => Some(e),
        }
    }
}

fn pem_error(path: &Path, e: rustls::pki_types::pem::Error) -> TlsError {
    match e {
        rustls::pki_types::pem::Error::Io(e) => TlsError::Io(path.to_owned(), e),
        other => TlsError::Pem(path.to_owned(), format!("{other:?}")),
    }
}

/// Reads every `CERTIFICATE` block of a PEM file, in order: for a server,
/// its certificate first, then the intermediates.
pub fn load_certs(path: impl AsRef<Path>) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let path = path.as_ref();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(TlsError::Pem(
            path.to_owned(),
            "no CERTIFICATE block".to_owned(),
        ));
    }
    Ok(certs)
}

/// Reads the first private key of a PEM file: PKCS#8 (`PRIVATE KEY`),
/// PKCS#1 RSA (`RSA PRIVATE KEY`) or SEC1 EC (`EC PRIVATE KEY`).
pub fn load_key(path: impl AsRef<Path>) -> Result<PrivateKeyDer<'static>, TlsError> {
    let path = path.as_ref();
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::Pem(
            path.to_owned(),
            "no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block".to_owned(),
        ),
        e => pem_error(path, e),
    })
}

/// A certificate chain and its key from PEM files, checked to belong
/// together, ready for a server to present.
pub fn load_certified_key(
    cert_path: impl AsRef<Path>,
    key_path: impl AsRef<Path>,
) -> Result<CertifiedKey, TlsError> {
    let (cert_path, key_path) = (cert_path.as_ref(), key_path.as_ref());
    let certs = load_certs(cert_path)?;
    let key = load_key(key_path)?;
    // Loaded and matched in two steps (as `CertifiedKey::from_der` does),
    // so that each error names its file: a certificate that does not parse
    // is the certificate file's fault, not the key file's.
    let key = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Rustls(key_path.to_owned(), e))?;
    let certified = CertifiedKey::new(certs, key);
    match certified.keys_match() {
        // A key that cannot say its public key is not checked.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(certified)
        }
        Err(e @ rustls::Error::InvalidCertificate(_)) => {
            Err(TlsError::Rustls(cert_path.to_owned(), e))
        }
        Err(e) => Err(TlsError::Rustls(key_path.to_owned(), e)),
    }
}

/// What a `wss://` client trusts: Mozilla's root certificates by default,
/// the certificates of a CA file instead, or a whole rustls configuration
/// of the caller's (for client certificates, the platform's roots through
/// `rustls-native-certs`, or anything else rustls offers).
///
/// Server names are always verified against the certificate. This type
/// offers no way to turn verification off; a caller who really needs that
/// builds a rustls configuration with rustls' `dangerous()` API and passes
/// it to [`ClientTls::from_config`].
#[derive(Clone, Default)]
pub struct ClientTls {
    /// `None` means the shared configuration with Mozilla's roots.
    config: Option<Arc<rustls::ClientConfig>>,
}

impl ClientTls {
    /// Trusts Mozilla's root certificates (the `webpki-roots` crate), as a
    /// browser would. This is the default.
    pub fn mozilla_roots() -> ClientTls {
        ClientTls { config: None }
    }

    /// Trusts the CA certificates of a PEM file, and nothing else (like
    /// curl's `--cacert`).
    pub fn from_ca_file(path: impl AsRef<Path>) -> Result<ClientTls, TlsError> {
        let path = path.as_ref();
        let mut roots = rustls::RootCertStore::empty();
        for cert in load_certs(path)? {
            roots
                .add(cert)
                .map_err(|e| TlsError::Rustls(path.to_owned(), e))?;
        }
        Ok(ClientTls {
            config: Some(client_config(roots)),
        })
    }

    /// Uses the caller's rustls configuration as it is. Its ALPN list
    /// should offer `http/1.1` or nothing.
    pub fn from_config(config: Arc<rustls::ClientConfig>) -> ClientTls {
        ClientTls {
            config: Some(config),
        }
    }

    /// The rustls configuration connections are made with.
    pub fn config(&self) -> Arc<rustls::ClientConfig> {
        static MOZILLA: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
        match &self.config {
            Some(config) => Arc::clone(config),
            None => Arc::clone(MOZILLA.get_or_init(|| {
                let roots = rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                client_config(roots)
            })),
        }
    }
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.config {
            None => f.write_str("ClientTls(Mozilla roots)"),
            Some(_) => f.write_str("ClientTls(custom)"),
        }
    }
}

/// Equal when both use Mozilla's roots or both share one configuration.
impl PartialEq for ClientTls {
    fn eq(&self, other: &ClientTls) -> bool {
        match (&self.config, &other.config) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for ClientTls {}

fn client_config(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("the provider supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The feature picks the provider: its random source names the library.
    #[test]
    fn the_provider_is_the_one_the_features_choose() {
        let random = format!("{:?}", provider().secure_random);
        let expected = if cfg!(feature = "tls-aws-lc") {
            "AwsLcRs"
        } else {
            "Ring"
        };
        assert!(random.contains(expected), "{random}");
    }
}
