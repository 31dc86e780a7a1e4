//! A throwaway PKI for the TLS tests, made with rcgen at run time: a CA and
//! a server certificate it signs. No private key is committed.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A 2048-bit RSA key in PKCS#1 form, committed as a test fixture (ring
/// cannot generate RSA keys). TEST ONLY: it protects nothing.
pub const RSA_PKCS1_PEM: &str = include_str!("../fixtures/tls/rsa-2048-TEST-ONLY-key.pem");

/// A CA and a server certificate for some names, in PEM.
pub struct TestPki {
    pub ca_pem: String,
    /// The server's certificate followed by nothing else (the CA signs it
    /// directly).
    pub cert_pem: String,
    /// The server's key, PKCS#8.
    pub key_pem: String,
    /// The same key as a SEC1 `EC PRIVATE KEY`.
    pub key_sec1_pem: String,
}

/// Paths of a [`TestPki`] written to a directory.
pub struct PkiFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, name.to_owned());
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

impl TestPki {
    /// A new CA (named `ca_name`) and a server certificate for `names`
    /// (DNS names or IP addresses).
    pub fn new(ca_name: &str, names: &[&str]) -> TestPki {
        let ca_key = KeyPair::generate().unwrap();
        let ca = CertifiedIssuer::self_signed(ca_params(ca_name), ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("server"),
        );
        let cert = params.signed_by(&key, &ca).unwrap();
        TestPki {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            key_sec1_pem: sec1_pem(&key.serialize_der()),
        }
    }

    /// A CA and a certificate for `localhost` whose key is the committed
    /// RSA test key ([`RSA_PKCS1_PEM`]); `key_pem` holds it as PKCS#8.
    pub fn rsa_localhost() -> TestPki {
        use base64::Engine;
        let ca_key = KeyPair::generate().unwrap();
        let ca = CertifiedIssuer::self_signed(ca_params("rfc6455 RSA test CA"), ca_key).unwrap();
        let pkcs1 = pem_body(RSA_PKCS1_PEM);
        // PKCS#8: SEQUENCE { 0, { rsaEncryption, NULL }, OCTET STRING pkcs1 }.
        let mut inner = vec![0x02, 0x01, 0x00];
        inner.extend_from_slice(&[
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
            0x00,
        ]);
        inner.extend(der_tlv(0x04, &pkcs1));
        let pkcs8 = der_tlv(0x30, &inner);
        let key = KeyPair::from_pkcs8_der_and_sign_algo(
            &rustls_pki_types_pkcs8(&pkcs8),
            &rcgen::PKCS_RSA_SHA256,
        )
        .unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &ca).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&pkcs8);
        TestPki {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: pem("PRIVATE KEY", &b64),
            key_sec1_pem: String::new(),
        }
    }

    /// One self-signed certificate for `localhost` and `127.0.0.1` that is
    /// also a CA (basicConstraints CA:TRUE), as `openssl req -x509` makes
    /// by default: `ca_pem` and `cert_pem` are the same certificate.
    pub fn self_signed_ca_localhost() -> TestPki {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = params.self_signed(&key).unwrap();
        TestPki {
            ca_pem: cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            key_sec1_pem: sec1_pem(&key.serialize_der()),
        }
    }

    /// The usual one: `localhost` and `127.0.0.1`.
    pub fn localhost() -> TestPki {
        TestPki::new("rfc6455 test CA", &["localhost", "127.0.0.1"])
    }

    /// Writes `ca.pem`, `cert.pem` and `key.pem` into `dir`.
    pub fn write(&self, dir: &Path) -> PkiFiles {
        std::fs::create_dir_all(dir).unwrap();
        let files = PkiFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.ca, &self.ca_pem).unwrap();
        std::fs::write(&files.cert, &self.cert_pem).unwrap();
        std::fs::write(&files.key, &self.key_pem).unwrap();
        files
    }
}

/// A fresh, empty directory under the system's temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rfc6455-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The SEC1 `ECPrivateKey` inside a PKCS#8 document, as PEM: PKCS#8 is
/// SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING key }.
fn sec1_pem(pkcs8: &[u8]) -> String {
    fn header(der: &[u8]) -> (u8, usize, usize) {
        let tag = der[0];
        let (len, at) = match der[1] {
            n if n < 0x80 => (n as usize, 2),
            0x81 => (der[2] as usize, 3),
            0x82 => (((der[2] as usize) << 8) | der[3] as usize, 4),
            _ => panic!("unexpected DER length"),
        };
        (tag, len, at)
    }
    let (tag, _, at) = header(pkcs8);
    assert_eq!(tag, 0x30);
    let mut rest = &pkcs8[at..];
    for expected in [0x02, 0x30] {
        let (tag, len, at) = header(rest);
        assert_eq!(tag, expected);
        rest = &rest[at + len..];
    }
    let (tag, len, at) = header(rest);
    assert_eq!(tag, 0x04);
    let sec1 = &rest[at..at + len];
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(sec1);
    pem("EC PRIVATE KEY", &b64)
}

fn pem(label: &str, b64: &str) -> String {
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// The DER inside a PEM block.
fn pem_body(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap()
}

/// A DER tag-length-value.
fn der_tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = value.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(value);
    out
}

fn rustls_pki_types_pkcs8(
    der: &[u8],
) -> rfc6455::tls::rustls::pki_types::PrivatePkcs8KeyDer<'static> {
    rfc6455::tls::rustls::pki_types::PrivatePkcs8KeyDer::from(der.to_vec())
}
