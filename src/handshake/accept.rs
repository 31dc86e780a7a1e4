//! `Sec-WebSocket-Accept`: base64(SHA-1(key + GUID)), computed on the stack.

use core::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The GUID of RFC 6455 section 1.3, appended to the client's key.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A `Sec-WebSocket-Accept` value: 28 base64 characters, held inline.
///
/// ```
/// use rfc6455::handshake::AcceptKey;
/// // RFC 6455 section 1.3.
/// let accept = AcceptKey::from_key(b"dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(accept.as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    /// The accept value for a `Sec-WebSocket-Key` value, as sent (its base64
    /// text, not the decoded bytes). No heap allocation.
    pub fn from_key(key: &[u8]) -> Self {
        let mut sha1 = Sha1::new();
        sha1.update(key);
        sha1.update(GUID.as_bytes());
        let digest = sha1.finalize();
        let mut out = [0; 28];
        // 20 bytes always encode to exactly 28 characters with padding.
        let written = STANDARD.encode_slice(digest, &mut out);
        debug_assert_eq!(written, Ok(28));
        AcceptKey(out)
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        crate::handshake::http::utf8_prefix(&self.0)
    }

    /// The value as bytes.
    pub const fn as_bytes(&self) -> &[u8; 28] {
        &self.0
    }
}

impl fmt::Debug for AcceptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AcceptKey({:?})", self.as_str())
    }
}

impl fmt::Display for AcceptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Encodes a client's 16 random bytes as a `Sec-WebSocket-Key` value.
pub(crate) fn encode_key(key: &[u8; 16]) -> [u8; 24] {
    let mut out = [0; 24];
    let written = STANDARD.encode_slice(key, &mut out);
    debug_assert_eq!(written, Ok(24));
    out
}

/// Whether a `Sec-WebSocket-Key` value is the canonical base64 form of 16
/// bytes: 22 characters, `==`, and no stray bits in the last character.
pub(crate) fn is_valid_key(key: &[u8]) -> bool {
    let mut decoded = [0; 16];
    key.len() == 24 && STANDARD.decode_slice(key, &mut decoded) == Ok(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example() {
        let key = encode_key(b"the sample nonce");
        assert_eq!(&key, b"dGhlIHNhbXBsZSBub25jZQ==");
        assert!(is_valid_key(&key));
        assert_eq!(
            AcceptKey::from_key(&key).as_str(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn keys() {
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZR==")); // stray bits
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ")); // no padding
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=")); // short padding
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25j")); // 15 bytes
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZWFh")); // 18 bytes
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=*"));
    }
}
