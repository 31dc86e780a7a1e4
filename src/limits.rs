//! Every limit the codec enforces, in one place, with its default.
//!
//! A peer controls every length on the wire. Each one is checked against a
//! limit here *before* any memory is reserved for it, so a connection's
//! memory is bounded by these numbers whatever the peer sends.

/// Limits for one connection and its opening handshake.
///
/// The defaults suit a general-purpose server; tighten them for small
/// devices or hostile networks. All sizes are in bytes.
///
/// ```
/// let limits = rfc6455::Limits {
///     max_message_size: 1 << 20,
///     ..rfc6455::Limits::default()
/// };
/// assert_eq!(limits.max_frame_size, 16 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload of a single frame, checked from the frame header
    /// before the payload is buffered. Breach: close 1009. Default 16 MiB.
    pub max_frame_size: u64,
    /// Largest payload of a whole message, summed over its fragments and
    /// checked from each fragment's header. Breach: close 1009. Default 64 MiB.
    /// With permessage-deflate both this and `max_frame_size` apply to the
    /// compressed payload as sent, and this one to the inflated message
    /// too: incompressible data sent compressed right at the limit is a
    /// few bytes over it.
    pub max_message_size: u64,
    /// Most frames one message may be split into, empty continuations
    /// included, so tiny fragments cannot cost more than their bytes.
    /// Breach: close 1009. Default 65 536.
    pub max_fragments: u32,
    /// Bound on bytes queued for sending by the application (data frames).
    /// A send that would pass it fails and hands the message back. Replies
    /// the protocol owes (pong, close) are exempt. Default 64 MiB + 64 KiB:
    /// room for one message of the default largest size and its headers.
    pub max_output_buffer: usize,
    /// Largest HTTP header block of the opening handshake, request or status
    /// line included. Breach: 431. Default 8 KiB.
    pub max_header_block: usize,
    /// Most header fields in the opening handshake. Breach: 431. Default 64.
    pub max_headers: usize,
    /// Longest request line (method, target, version). Breach: 414 when the
    /// target is the long part, else 400. Default 4 KiB.
    pub max_request_line: usize,
}

impl Limits {
    /// The default limits, usable in `const` contexts.
    pub const DEFAULT: Limits = Limits {
        max_frame_size: 16 << 20,
        max_message_size: 64 << 20,
        max_fragments: 65_536,
        max_output_buffer: (64 << 20) + (64 << 10),
        max_header_block: 8 << 10,
        max_headers: 64,
        max_request_line: 4 << 10,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
