//! Close codes and close frame payloads (RFC 6455 sections 5.5.1 and 7.4).
//!
//! A close payload is empty, or a two-byte big-endian status code followed by
//! a UTF-8 reason; 125 bytes at most, so the reason holds at most 123. The
//! types here make a payload that breaks those rules impossible to send:
//! [`CloseReason`] cannot exceed 123 bytes or split a character, and
//! [`CloseCode::is_sendable`] tells which codes may go on the wire.

use core::fmt;

use crate::error::CloseError;

/// A close status code (RFC 6455 section 7.4, IANA "WebSocket Close Code
/// Number Registry").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept (e.g. binary only).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1004: reserved; never sent.
    pub const RESERVED: CloseCode = CloseCode(1004);
    /// 1005: reported locally when a close frame carried no code; never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: reported locally when the TCP connection dropped without a
    /// close frame; never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's data did not match its type (e.g. invalid UTF-8).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a generic policy violation.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a frame or message was larger than the endpoint accepts.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: (client) the server did not negotiate a required extension.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: (server) an unexpected condition prevented the request.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (temporary overload).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway received an invalid response upstream.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: reported locally when the TLS handshake failed; never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may appear in a close frame on the wire: 1000-1003,
    /// 1007-1014 and the application ranges 3000-4999. A received close frame
    /// with any other code is a protocol error (1002).
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// Whether this endpoint may send the code: the same set as
    /// [`is_valid_on_wire`](Self::is_valid_on_wire). 1004, 1005, 1006 and
    /// 1015 are for local reporting only.
    pub const fn is_sendable(self) -> bool {
        self.is_valid_on_wire()
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The most reason bytes a close frame can carry: 125 minus the code.
pub const MAX_REASON_LEN: usize = 123;

/// A close reason: valid UTF-8 of at most 123 bytes, stored inline.
///
/// ```
/// use rfc6455::close::CloseReason;
/// assert_eq!(CloseReason::new("bye").unwrap().as_str(), "bye");
/// assert!(CloseReason::new(&"x".repeat(124)).is_none());
/// // Truncation never splits a character: 41 three-byte characters fit.
/// assert_eq!(CloseReason::truncate(&"中".repeat(50)).as_str().len(), 123);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseReason {
    len: u8,
    bytes: [u8; MAX_REASON_LEN],
}

impl CloseReason {
    /// The empty reason.
    pub const EMPTY: CloseReason = CloseReason {
        len: 0,
        bytes: [0; MAX_REASON_LEN],
    };

    /// The reason `text`, or `None` if it is longer than 123 bytes.
    pub fn new(text: &str) -> Option<Self> {
        let len = u8::try_from(text.len())
            .ok()
            .filter(|&n| usize::from(n) <= MAX_REASON_LEN)?;
        let mut bytes = [0; MAX_REASON_LEN];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Some(CloseReason { len, bytes })
    }

    /// The longest prefix of `text` that fits, cut at a character boundary.
    pub fn truncate(text: &str) -> Self {
        let mut end = text.len().min(MAX_REASON_LEN);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        // `end` <= 123 and lies on a char boundary, so `new` succeeds.
        Self::new(&text[..end]).unwrap_or(Self::EMPTY)
    }

    /// The reason text.
    pub fn as_str(&self) -> &str {
        // Only built from &str prefixes cut at char boundaries.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl Default for CloseReason {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl fmt::Debug for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A parsed close frame payload, borrowing its reason from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosePayload<'a> {
    /// The status code, or `None` for an empty payload (reported locally as
    /// [`CloseCode::NO_STATUS`]).
    pub code: Option<CloseCode>,
    /// The reason, empty when absent.
    pub reason: &'a str,
}

impl<'a> ClosePayload<'a> {
    /// Parses and validates a received close payload.
    ///
    /// ```
    /// use rfc6455::close::{ClosePayload, CloseCode};
    /// let p = ClosePayload::parse(b"\x03\xe8bye").unwrap();
    /// assert_eq!((p.code, p.reason), (Some(CloseCode::NORMAL), "bye"));
    /// assert!(ClosePayload::parse(b"\x03").is_err()); // one byte: 1002
    /// ```
    pub fn parse(payload: &'a [u8]) -> Result<Self, CloseError> {
        match payload {
            [] => Ok(ClosePayload {
                code: None,
                reason: "",
            }),
            [_] => Err(CloseError::OneBytePayload),
            [hi, lo, reason @ ..] => {
                if reason.len() > MAX_REASON_LEN {
                    return Err(CloseError::PayloadTooLong);
                }
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_valid_on_wire() {
                    return Err(CloseError::InvalidCode(code.0));
                }
                let reason =
                    crate::utf8::validate(reason).map_err(|_| CloseError::InvalidReason)?;
                Ok(ClosePayload {
                    code: Some(code),
                    reason,
                })
            }
        }
    }
}

/// Writes a close payload (code then reason) into `out`, returning its
/// length. `out` is sized for the largest possible payload.
pub fn encode_close_payload(code: CloseCode, reason: &CloseReason, out: &mut [u8; 125]) -> usize {
    let reason = reason.as_str().as_bytes();
    out[..2].copy_from_slice(&code.0.to_be_bytes());
    out[2..2 + reason.len()].copy_from_slice(reason);
    2 + reason.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_validity_matches_the_registry() {
        let valid = |c: u16| CloseCode(c).is_valid_on_wire();
        for c in 0..=u16::MAX {
            let expected = matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(valid(c), expected, "code {c}");
        }
        for c in [1004, 1005, 1006, 1015, 0, 999, 1016, 2999, 5000, 65535] {
            assert!(!valid(c), "code {c}");
        }
    }

    #[test]
    fn parse_rejects_each_bad_form() {
        assert_eq!(
            ClosePayload::parse(&[0x03]),
            Err(CloseError::OneBytePayload)
        );
        assert_eq!(
            ClosePayload::parse(&[0x03, 0xed]),
            Err(CloseError::InvalidCode(1005))
        );
        assert_eq!(
            ClosePayload::parse(&[0x03, 0xe8, 0xff]),
            Err(CloseError::InvalidReason)
        );
        let long = [b'a'; 126];
        assert_eq!(ClosePayload::parse(&long), Err(CloseError::PayloadTooLong));
        let ok = ClosePayload::parse(&[0x0b, 0xb8]).unwrap();
        assert_eq!(ok.code, Some(CloseCode(3000)));
    }

    #[test]
    fn encode_then_parse_round_trips() {
        let reason = CloseReason::new("going away é").unwrap();
        let mut buf = [0u8; 125];
        let n = encode_close_payload(CloseCode::GOING_AWAY, &reason, &mut buf);
        let p = ClosePayload::parse(&buf[..n]).unwrap();
        assert_eq!(p.code, Some(CloseCode::GOING_AWAY));
        assert_eq!(p.reason, "going away é");
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        let s = "😀".repeat(40); // 160 bytes of 4-byte characters
        let r = CloseReason::truncate(&s);
        assert_eq!(r.as_str().len(), 120);
        assert_eq!(CloseReason::truncate("").as_str(), "");
    }
}
