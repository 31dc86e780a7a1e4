//! Slow, obvious re-implementations used as oracles. They share no code
//! with the parsers they check (only the SHA-1 primitive).

use alloc::string::String;
use alloc::vec::Vec;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut n = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            n |= u32::from(b) << (16 - 8 * i);
        }
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes canonical standard base64 (padding required, no stray bits):
/// the text must be exactly what [`base64_encode`] gives for the result.
pub(crate) fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut bits = Vec::new();
    for (i, &c) in text.iter().enumerate() {
        if c == b'=' {
            if i + 2 < text.len() || text[i..].iter().any(|&p| p != b'=') {
                return None;
            }
            break;
        }
        bits.push(B64.iter().position(|&a| a == c)? as u32);
    }
    let mut out = Vec::new();
    for group in bits.chunks(4) {
        let mut n = 0u32;
        for (i, &v) in group.iter().enumerate() {
            n |= v << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    (base64_encode(&out).as_bytes() == text).then_some(out)
}

/// `Sec-WebSocket-Accept` for a key, by the words of RFC 6455 section 4.2.2.
pub(crate) fn accept_for(key: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let mut concatenated = key.to_vec();
    concatenated.extend_from_slice(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64_encode(&Sha1::digest(&concatenated))
}

/// RFC 9110 token characters.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let Some((&(b' ' | b'\t'), rest)) = s.split_first() {
        s = rest;
    }
    while let Some((&(b' ' | b'\t'), rest)) = s.split_last() {
        s = rest;
    }
    s
}

/// The non-empty, trimmed elements of a comma-separated list.
pub(crate) fn list_items(value: &[u8]) -> Vec<&[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim)
        .filter(|e| !e.is_empty())
        .collect()
}

/// A message head cut into its start line and `(name, value)` header
/// fields, or `None` if it is not a well-formed HTTP/1.1 head ending at the
/// end of `head`.
pub(crate) struct SlowHead<'a> {
    pub(crate) start_line: &'a [u8],
    pub(crate) fields: Vec<(&'a [u8], &'a [u8])>,
}

impl<'a> SlowHead<'a> {
    pub(crate) fn parse(head: &'a [u8]) -> Option<Self> {
        let body = head.strip_suffix(b"\r\n\r\n")?;
        // The head ends at the first blank line.
        if body.windows(4).any(|w| w == b"\r\n\r\n") || body.starts_with(b"\r\n") {
            return None;
        }
        let mut lines = Vec::new();
        let mut rest = body;
        loop {
            match rest.windows(2).position(|w| w == b"\r\n") {
                Some(i) => {
                    lines.push(&rest[..i]);
                    rest = &rest[i + 2..];
                }
                None => {
                    lines.push(rest);
                    break;
                }
            }
        }
        if lines
            .iter()
            .any(|l| l.contains(&b'\r') || l.contains(&b'\n'))
        {
            return None;
        }
        let start_line = lines[0];
        let mut fields = Vec::new();
        for line in &lines[1..] {
            let colon = line.iter().position(|&b| b == b':')?;
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            if !is_token(name) {
                return None;
            }
            if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                return None;
            }
            fields.push((name, trim(value)));
        }
        Some(SlowHead { start_line, fields })
    }

    /// The values of every field named `name`, case-insensitively.
    pub(crate) fn all(&self, name: &str) -> Vec<&'a [u8]> {
        self.fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|&(_, v)| v)
            .collect()
    }

    /// Whether any field named `name` lists `token`, case-insensitively.
    pub(crate) fn lists(&self, name: &str, token: &str) -> bool {
        self.all(name).iter().any(|v| {
            list_items(v)
                .iter()
                .any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
        })
    }

    /// The list elements over every field named `name`.
    pub(crate) fn items(&self, name: &str) -> Vec<&'a [u8]> {
        self.all(name).into_iter().flat_map(list_items).collect()
    }
}

/// The position just past the first blank line (`CRLF CRLF`).
pub(crate) fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        assert_eq!(
            base64_encode(b"the sample nonce"),
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        assert_eq!(
            base64_decode(b"dGhlIHNhbXBsZSBub25jZQ==").as_deref(),
            Some(&b"the sample nonce"[..])
        );
        assert_eq!(base64_decode(b"dGhlIHNhbXBsZSBub25jZR=="), None); // stray bits
        assert_eq!(base64_decode(b"dGhlIHNhbXBsZSBub25jZQ="), None);
        assert_eq!(
            accept_for(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
