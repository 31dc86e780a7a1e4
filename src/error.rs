//! Error types of the codec, each mapped to the close code it calls for.
//!
//! The layers mirror the protocol: [`FrameError`] for a single frame header,
//! [`CloseError`] for a close payload, [`Utf8Error`] for text, and
//! [`ProtocolError`] for everything a connection can fail on, wrapping the
//! others. Every variant names the RFC 6455 rule it enforces. All of them are
//! `Copy` and a few bytes wide, so returning them costs nothing on the hot
//! path (a test pins their sizes).

use core::fmt;

use crate::close::CloseCode;

/// A frame header broke a rule of RFC 6455 section 5.2 (or a limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameError {
    /// The opcode is one of the reserved values 0x3-0x7 or 0xB-0xF
    /// (section 5.2: "If an unknown opcode is received, the receiving
    /// endpoint MUST _Fail the WebSocket Connection_"). Close 1002.
    ReservedOpcode(u8),
    /// An RSV bit is set that no negotiated extension defines (section 5.2:
    /// "MUST be 0 unless an extension is negotiated"). Holds the offending
    /// bits in their wire positions (0x40, 0x20, 0x10). Close 1002.
    ReservedBits(u8),
    /// A control frame has FIN = 0 (section 5.5: "All control frames ...
    /// MUST NOT be fragmented"). Close 1002.
    FragmentedControl,
    /// A control frame's payload is longer than 125 bytes (section 5.5).
    /// Close 1002.
    ControlTooLong,
    /// A 64-bit payload length has its most significant bit set (section
    /// 5.2: "the most significant bit MUST be 0"). Close 1002.
    LengthMsbSet,
    /// The payload length is not in its minimal form, e.g. 5 encoded in 16
    /// bits (section 5.2: "the minimal number of bytes MUST be used").
    /// Rejected so that every accepted frame re-encodes to the same bytes.
    /// Close 1002.
    NonMinimalLength,
    /// The payload is larger than [`Limits::max_frame_size`](crate::Limits),
    /// detected from the header before any payload is read. Close 1009.
    FrameTooLarge,
    /// A server received an unmasked frame (section 5.1: "The server MUST
    /// close the connection upon receiving a frame that is not masked").
    /// Close 1002.
    UnmaskedFrame,
    /// A client received a masked frame (section 5.1: "A client MUST close a
    /// connection if it detects a masked frame"). Close 1002.
    MaskedFrame,
}

impl FrameError {
    /// The close code to send for this error.
    pub const fn close_code(self) -> CloseCode {
        match self {
            FrameError::FrameTooLarge => CloseCode::TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    const fn describe(self) -> &'static str {
        match self {
            FrameError::ReservedOpcode(_) => "reserved opcode",
            FrameError::ReservedBits(_) => "RSV bit set without a negotiated extension",
            FrameError::FragmentedControl => "fragmented control frame",
            FrameError::ControlTooLong => "control frame payload over 125 bytes",
            FrameError::LengthMsbSet => "64-bit payload length with its high bit set",
            FrameError::NonMinimalLength => "payload length not minimally encoded",
            FrameError::FrameTooLarge => "frame larger than the configured maximum",
            FrameError::UnmaskedFrame => "unmasked frame from a client",
            FrameError::MaskedFrame => "masked frame from a server",
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            FrameError::ReservedBits(bits) => write!(f, "{} ({bits:#04x})", self.describe()),
            other => f.write_str(other.describe()),
        }
    }
}

/// Bytes that are not valid UTF-8 (section 8.1). Close 1007.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Utf8Error;

impl Utf8Error {
    /// The close code to send for this error: 1007.
    pub const fn close_code(self) -> CloseCode {
        CloseCode::INVALID_PAYLOAD
    }
}

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

/// A received close payload broke section 5.5.1 or 7.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseError {
    /// The payload is one byte long: too short for a code. Close 1002.
    OneBytePayload,
    /// The payload is longer than 125 bytes (only reachable when parsing a
    /// payload that did not come through the frame decoder). Close 1002.
    PayloadTooLong,
    /// The code is not valid on the wire (section 7.4; e.g. 1005, 999,
    /// 5000). Close 1002.
    InvalidCode(u16),
    /// The reason is not valid UTF-8 (section 5.5.1). Close 1007.
    InvalidReason,
}

impl CloseError {
    /// The close code to send for this error.
    pub const fn close_code(self) -> CloseCode {
        match self {
            CloseError::InvalidReason => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseError::OneBytePayload => f.write_str("close payload of one byte"),
            CloseError::PayloadTooLong => f.write_str("close payload over 125 bytes"),
            CloseError::InvalidCode(c) => write!(f, "invalid close code {c}"),
            CloseError::InvalidReason => f.write_str("close reason is not valid UTF-8"),
        }
    }
}

/// Why a connection failed: the peer broke a rule or passed a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolError {
    /// A frame header was invalid.
    Frame(FrameError),
    /// A close frame's payload was invalid.
    Close(CloseError),
    /// A text message (or a part of one) is not valid UTF-8, or it ended
    /// inside a character (section 8.1). Close 1007.
    InvalidUtf8,
    /// A continuation frame arrived with no fragmented message open
    /// (section 5.4). Close 1002.
    UnexpectedContinuation,
    /// A text or binary frame arrived while a fragmented message was still
    /// open (section 5.4: fragments of one message are not interleaved).
    /// Close 1002.
    ExpectedContinuation,
    /// A message grew past [`Limits::max_message_size`](crate::Limits),
    /// detected from a frame header before its payload is buffered.
    /// Close 1009.
    MessageTooLarge,
    /// A message was split into more than
    /// [`Limits::max_fragments`](crate::Limits) frames. Close 1009.
    TooManyFragments,
    /// A message sent with RSV1 is not valid DEFLATE data, or refers
    /// further back than the negotiated window (RFC 7692 section 7.2.2).
    /// Close 1007: the payload does not fit the message's type.
    InvalidCompressedData,
    /// The decompressor itself failed (no memory). Close 1011.
    DecompressionFailed,
}

impl ProtocolError {
    /// The close code to send for this error.
    pub const fn close_code(self) -> CloseCode {
        match self {
            ProtocolError::Frame(e) => e.close_code(),
            ProtocolError::Close(e) => e.close_code(),
            ProtocolError::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            ProtocolError::UnexpectedContinuation | ProtocolError::ExpectedContinuation => {
                CloseCode::PROTOCOL_ERROR
            }
            ProtocolError::MessageTooLarge | ProtocolError::TooManyFragments => CloseCode::TOO_BIG,
            ProtocolError::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            ProtocolError::DecompressionFailed => CloseCode::INTERNAL_ERROR,
        }
    }

    /// A short reason for the close frame that reports this error.
    pub const fn reason(self) -> &'static str {
        match self {
            ProtocolError::Frame(e) => e.describe(),
            ProtocolError::Close(CloseError::InvalidReason) => "close reason is not valid UTF-8",
            ProtocolError::Close(CloseError::InvalidCode(_)) => "invalid close code",
            ProtocolError::Close(_) => "invalid close payload",
            ProtocolError::InvalidUtf8 => "text message is not valid UTF-8",
            ProtocolError::UnexpectedContinuation => {
                "continuation frame with no message in progress"
            }
            ProtocolError::ExpectedContinuation => {
                "new data frame while a fragmented message is open"
            }
            ProtocolError::MessageTooLarge => "message larger than the configured maximum",
            ProtocolError::TooManyFragments => "message split into too many fragments",
            ProtocolError::InvalidCompressedData => "invalid compressed data",
            ProtocolError::DecompressionFailed => "decompressor failed",
        }
    }
}

impl From<FrameError> for ProtocolError {
    fn from(e: FrameError) -> Self {
        ProtocolError::Frame(e)
    }
}

impl From<CloseError> for ProtocolError {
    fn from(e: CloseError) -> Self {
        ProtocolError::Close(e)
    }
}

impl From<Utf8Error> for ProtocolError {
    fn from(_: Utf8Error) -> Self {
        ProtocolError::InvalidUtf8
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Frame(e) => fmt::Display::fmt(e, f),
            ProtocolError::Close(e) => fmt::Display::fmt(e, f),
            ProtocolError::InvalidUtf8 => f.write_str("text message is not valid UTF-8"),
            ProtocolError::UnexpectedContinuation => {
                f.write_str("continuation frame with no message in progress")
            }
            ProtocolError::ExpectedContinuation => {
                f.write_str("new data frame while a fragmented message is open")
            }
            ProtocolError::MessageTooLarge => {
                f.write_str("message larger than the configured maximum")
            }
            ProtocolError::TooManyFragments => f.write_str("message split into too many fragments"),
            ProtocolError::InvalidCompressedData => f.write_str("invalid compressed data"),
            ProtocolError::DecompressionFailed => f.write_str("decompressor failed"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FrameError {}
#[cfg(feature = "std")]
impl std::error::Error for CloseError {}
#[cfg(feature = "std")]
impl std::error::Error for Utf8Error {}
#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn errors_stay_small() {
        // Returned on the per-frame path: keep them within a register.
        assert!(size_of::<FrameError>() <= 2);
        assert!(size_of::<CloseError>() <= 4);
        assert!(size_of::<ProtocolError>() <= 4);
        assert!(size_of::<Result<(), ProtocolError>>() <= 4);
    }

    #[test]
    fn close_codes_follow_the_rule_broken() {
        assert_eq!(FrameError::FrameTooLarge.close_code(), CloseCode::TOO_BIG);
        assert_eq!(
            FrameError::UnmaskedFrame.close_code(),
            CloseCode::PROTOCOL_ERROR
        );
        assert_eq!(
            ProtocolError::InvalidUtf8.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        assert_eq!(
            ProtocolError::Close(CloseError::InvalidReason).close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        assert_eq!(
            ProtocolError::Close(CloseError::InvalidCode(5)).close_code(),
            CloseCode::PROTOCOL_ERROR
        );
        assert_eq!(
            ProtocolError::TooManyFragments.close_code(),
            CloseCode::TOO_BIG
        );
        assert_eq!(
            ProtocolError::UnexpectedContinuation.close_code(),
            CloseCode::PROTOCOL_ERROR
        );
    }
}
