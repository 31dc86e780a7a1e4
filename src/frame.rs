//! Frame headers: decoding and encoding (RFC 6455 section 5.2). No state, no
//! allocation, no copying of payloads.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               | Masking-key, if MASK set to 1 |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//!
//! [`FrameHeader::decode`] reads a header from the front of a borrowed slice
//! and says where the payload starts; the payload stays in the caller's
//! buffer. Every rule of section 5 that a header alone can break is checked
//! here, in wire order, as soon as the byte that breaks it is available, so a
//! bad frame fails before its payload is waited for.
//!
//! Non-minimal length encodings (e.g. 5 written in the 16-bit form) are
//! rejected with [`FrameError::NonMinimalLength`]: the RFC says the minimal
//! form MUST be used, and rejecting the rest makes every accepted frame
//! re-encode to exactly the bytes it came from.

use crate::error::FrameError;
use crate::mask::apply_mask;

/// The most bytes a frame header can take: 2 + 8 (64-bit length) + 4 (mask).
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame (section 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Which end of the connection this endpoint is. It decides which way
/// masking goes: clients mask what they send, servers require it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Accepts connections; receives masked frames, sends unmasked ones.
    Server,
    /// Opens connections; sends masked frames, receives unmasked ones.
    Client,
}

/// A frame's opcode (section 5.2). Reserved values are not representable:
/// decoding them fails with [`FrameError::ReservedOpcode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation = 0x0,
    /// 0x1: the first frame of a UTF-8 text message.
    Text = 0x1,
    /// 0x2: the first frame of a binary message.
    Binary = 0x2,
    /// 0x8: starts or answers the closing handshake.
    Close = 0x8,
    /// 0x9: asks the peer for a pong.
    Ping = 0x9,
    /// 0xA: answers a ping, or a unidirectional heartbeat.
    Pong = 0xA,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for a reserved one.
    pub const fn from_u8(value: u8) -> Option<OpCode> {
        Some(match value {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Close, ping and pong: at most 125 bytes, never fragmented.
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// The RSV1 bit in its wire position in the first header byte.
pub const RSV1: u8 = 0x40;
/// The RSV2 bit in its wire position in the first header byte.
pub const RSV2: u8 = 0x20;
/// The RSV3 bit in its wire position in the first header byte.
pub const RSV3: u8 = 0x10;

/// A decoded or to-be-encoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// This is the final frame of its message.
    pub fin: bool,
    /// Reserved bit 1 (used by permessage-deflate).
    pub rsv1: bool,
    /// Reserved bit 2.
    pub rsv2: bool,
    /// Reserved bit 3.
    pub rsv3: bool,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

/// What the decoder must know about the endpoint and its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeRules {
    /// The role of the endpoint *receiving* the frames.
    pub role: Role,
    /// RSV bits a negotiated extension allows, as a mask of [`RSV1`],
    /// [`RSV2`], [`RSV3`]. Zero when no extension is in use.
    pub allowed_rsv: u8,
    /// Frames announcing a larger payload fail with
    /// [`FrameError::FrameTooLarge`].
    pub max_frame_size: u64,
}

impl DecodeRules {
    /// Rules for `role` with no extensions and the default frame limit.
    pub const fn new(role: Role) -> Self {
        DecodeRules {
            role,
            allowed_rsv: 0,
            max_frame_size: crate::Limits::DEFAULT.max_frame_size,
        }
    }
}

/// The result of a decode that may need more input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// Decoded; the value says how many bytes it took.
    Complete(T),
    /// The input ends too early. At least this many more bytes are needed:
    /// those missing from the first two header bytes, then from the header
    /// (its size is known from the second byte), then, for
    /// [`decode_frame`], from the payload. The figure is exact for the
    /// header from the second byte on, and for the whole frame once the
    /// header is complete.
    Incomplete(usize),
}

impl FrameHeader {
    /// A final, unmasked, RSV-free header.
    pub const fn new(opcode: OpCode, payload_len: u64) -> Self {
        FrameHeader {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// The RSV bits in their wire positions.
    pub const fn rsv_bits(&self) -> u8 {
        (if self.rsv1 { RSV1 } else { 0 })
            | (if self.rsv2 { RSV2 } else { 0 })
            | (if self.rsv3 { RSV3 } else { 0 })
    }

    /// Decodes the header at the front of `buf`.
    ///
    /// Returns the header and its length in bytes (the payload starts right
    /// after it), [`Status::Incomplete`] with the bytes still missing, or the
    /// first rule the header breaks. The payload itself need not be present.
    ///
    /// ```
    /// use rfc6455::frame::{DecodeRules, FrameHeader, OpCode, Role, Status};
    /// // A masked "Hello" from a client (RFC 6455 section 5.7).
    /// let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// let Status::Complete((h, len)) = FrameHeader::decode(&wire, &DecodeRules::new(Role::Server))? else {
    ///     unreachable!()
    /// };
    /// assert_eq!((h.opcode, h.payload_len, len), (OpCode::Text, 5, 6));
    /// assert_eq!(FrameHeader::decode(&wire[..3], &DecodeRules::new(Role::Server))?, Status::Incomplete(3));
    /// # Ok::<(), rfc6455::FrameError>(())
    /// ```
    #[inline]
    pub fn decode(
        buf: &[u8],
        rules: &DecodeRules,
    ) -> Result<Status<(FrameHeader, usize)>, FrameError> {
        let Some(&b0) = buf.first() else {
            return Ok(Status::Incomplete(2));
        };
        let fin = b0 & 0x80 != 0;
        let rsv = b0 & (RSV1 | RSV2 | RSV3);
        let Some(opcode) = OpCode::from_u8(b0 & 0x0f) else {
            return Err(FrameError::ReservedOpcode(b0 & 0x0f));
        };
        if rsv & !rules.allowed_rsv != 0 {
            return Err(FrameError::ReservedBits(rsv & !rules.allowed_rsv));
        }
        if opcode.is_control() && !fin {
            return Err(FrameError::FragmentedControl);
        }
        let Some(&b1) = buf.get(1) else {
            return Ok(Status::Incomplete(1));
        };
        let masked = b1 & 0x80 != 0;
        match (rules.role, masked) {
            (Role::Server, false) => return Err(FrameError::UnmaskedFrame),
            (Role::Client, true) => return Err(FrameError::MaskedFrame),
            _ => {}
        }
        let len7 = b1 & 0x7f;
        if opcode.is_control() && len7 > 125 {
            return Err(FrameError::ControlTooLong);
        }
        let len_bytes = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let header_len = 2 + len_bytes + if masked { 4 } else { 0 };
        if buf.len() < 2 + len_bytes {
            // Until the length is read, only the header's own size is known.
            return Ok(Status::Incomplete(header_len - buf.len()));
        }
        let payload_len = match len7 {
            126 => {
                let n = u16::from_be_bytes([buf[2], buf[3]]);
                if n < 126 {
                    return Err(FrameError::NonMinimalLength);
                }
                u64::from(n)
            }
            127 => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&buf[2..10]);
                let n = u64::from_be_bytes(be);
                if n >> 63 != 0 {
                    return Err(FrameError::LengthMsbSet);
                }
                if n <= u64::from(u16::MAX) {
                    return Err(FrameError::NonMinimalLength);
                }
                n
            }
            n => u64::from(n),
        };
        if payload_len > rules.max_frame_size {
            return Err(FrameError::FrameTooLarge);
        }
        if buf.len() < header_len {
            return Ok(Status::Incomplete(header_len - buf.len()));
        }
        let mask = if masked {
            let mut key = [0u8; 4];
            key.copy_from_slice(&buf[header_len - 4..header_len]);
            Some(key)
        } else {
            None
        };
        let rsv1 = rsv & RSV1 != 0;
        let rsv2 = rsv & RSV2 != 0;
        let rsv3 = rsv & RSV3 != 0;
        let header = FrameHeader {
            fin,
            rsv1,
            rsv2,
            rsv3,
            opcode,
            mask,
            payload_len,
        };
        Ok(Status::Complete((header, header_len)))
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub const fn encoded_len(&self) -> usize {
        let len_bytes = if self.payload_len < 126 {
            0
        } else if self.payload_len <= 0xffff {
            2
        } else {
            8
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Writes the header in its minimal form into `out`, returning the number
    /// of bytes written (2 to 14).
    ///
    /// The header is written as given: encoding a rule-breaking header (a
    /// 200-byte ping, a length with bit 63 set) produces the bytes that
    /// break the rule, which is what tests of a peer's decoder need.
    #[inline]
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        let fin = if self.fin { 0x80 } else { 0 };
        out[0] = fin | self.rsv_bits() | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut at = 2;
        if let Ok(small) = u8::try_from(self.payload_len) {
            if small < 126 {
                out[1] = mask_bit | small;
            } else {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&u16::from(small).to_be_bytes());
                at = 4;
            }
        } else if let Ok(medium) = u16::try_from(self.payload_len) {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&medium.to_be_bytes());
            at = 4;
        } else {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            at = 10;
        }
        if let Some(key) = self.mask {
            out[at..at + 4].copy_from_slice(&key);
            at += 4;
        }
        at
    }

    /// The encoded header as a small owned value, e.g. for a vectored write
    /// of header and payload (`EncodedHeader::io_slices`, with `std`).
    #[inline]
    pub fn to_bytes(&self) -> EncodedHeader {
        let mut bytes = [0u8; MAX_HEADER_LEN];
        let len = self.encode(&mut bytes) as u8; // at most 14
        EncodedHeader { bytes, len }
    }
}

/// An encoded frame header (2 to 14 bytes), stored inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedHeader {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl EncodedHeader {
    /// The header bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Header and payload as two slices for `write_vectored`, so an unmasked
    /// payload goes out without being copied.
    #[cfg(feature = "std")]
    pub fn io_slices<'a>(&'a self, payload: &'a [u8]) -> [std::io::IoSlice<'a>; 2] {
        [
            std::io::IoSlice::new(self.as_bytes()),
            std::io::IoSlice::new(payload),
        ]
    }
}

impl core::ops::Deref for EncodedHeader {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// A whole frame with its payload in plain (unmasked) form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The header. When encoding, `payload_len` must equal `payload.len()`.
    pub header: FrameHeader,
    /// The payload, unmasked.
    pub payload: &'a [u8],
}

/// The output buffer is too small for the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// How many bytes the frame needs.
    pub needed: usize,
}

impl<'a> Frame<'a> {
    /// A final, unmasked frame with this opcode and payload.
    pub fn new(opcode: OpCode, payload: &'a [u8]) -> Self {
        Frame {
            header: FrameHeader::new(opcode, payload.len() as u64),
            payload,
        }
    }

    /// The same frame masked with `key` when sent.
    pub fn masked(mut self, key: [u8; 4]) -> Self {
        self.header.mask = Some(key);
        self
    }

    /// Header plus payload length in bytes.
    pub fn encoded_len(&self) -> usize {
        self.header.encoded_len() + self.payload.len()
    }

    /// Appends the encoded frame to `out`, masking the payload copy with the
    /// header's key if it has one.
    pub fn encode_to_vec(&self, out: &mut alloc::vec::Vec<u8>) {
        debug_assert_eq!(self.header.payload_len, self.payload.len() as u64);
        out.extend_from_slice(&self.header.to_bytes());
        let start = out.len();
        out.extend_from_slice(self.payload);
        if let Some(key) = self.header.mask {
            apply_mask(&mut out[start..], key, 0);
        }
    }

    /// Writes the encoded frame at the front of `out`, returning its length.
    pub fn encode_to_slice(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let needed = self.encoded_len();
        let Some(out) = out.get_mut(..needed) else {
            return Err(BufferTooSmall { needed });
        };
        let header = self.header.to_bytes();
        let (head, body) = out.split_at_mut(header.len());
        head.copy_from_slice(&header);
        body.copy_from_slice(self.payload);
        if let Some(key) = self.header.mask {
            apply_mask(body, key, 0);
        }
        Ok(needed)
    }
}

/// Decodes one whole frame at the front of `buf`, unmasking its payload in
/// place. Returns the frame (payload borrowed from `buf`) and the number of
/// bytes it took, or how many more bytes are needed.
///
/// On success the payload bytes in `buf` are left unmasked; do not decode the
/// same bytes twice.
///
/// ```
/// use rfc6455::frame::{decode_frame, DecodeRules, OpCode, Role, Status};
/// let mut wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let Status::Complete((frame, used)) = decode_frame(&mut wire, &DecodeRules::new(Role::Server))? else {
///     unreachable!()
/// };
/// assert_eq!((frame.header.opcode, frame.payload, used), (OpCode::Text, &b"Hello"[..], 11));
/// # Ok::<(), rfc6455::FrameError>(())
/// ```
pub fn decode_frame<'a>(
    buf: &'a mut [u8],
    rules: &DecodeRules,
) -> Result<Status<(Frame<'a>, usize)>, FrameError> {
    let (header, header_len) = match FrameHeader::decode(buf, rules)? {
        Status::Complete(h) => h,
        Status::Incomplete(n) => return Ok(Status::Incomplete(n)),
    };
    // The limit check in `decode` bounds the length; a length that does not
    // fit this platform's address space can never be complete.
    let Ok(payload_len) = usize::try_from(header.payload_len) else {
        return Err(FrameError::FrameTooLarge);
    };
    let Some(total) = header_len.checked_add(payload_len) else {
        return Err(FrameError::FrameTooLarge);
    };
    if buf.len() < total {
        return Ok(Status::Incomplete(total - buf.len()));
    }
    let payload = &mut buf[header_len..total];
    if let Some(key) = header.mask {
        apply_mask(payload, key, 0);
    }
    Ok(Status::Complete((Frame { header, payload }, total)))
}

/// A ping or pong payload: at most 125 bytes, stored inline, so a control
/// frame that breaks section 5.5 cannot be built.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlPayload {
    len: u8,
    bytes: [u8; MAX_CONTROL_PAYLOAD],
}

impl ControlPayload {
    /// The empty payload.
    pub const EMPTY: ControlPayload = ControlPayload {
        len: 0,
        bytes: [0; MAX_CONTROL_PAYLOAD],
    };

    /// The payload `data`, or `None` if it is longer than 125 bytes.
    pub fn new(data: &[u8]) -> Option<Self> {
        let len = u8::try_from(data.len())
            .ok()
            .filter(|&n| usize::from(n) <= MAX_CONTROL_PAYLOAD)?;
        let mut bytes = [0; MAX_CONTROL_PAYLOAD];
        bytes[..data.len()].copy_from_slice(data);
        Some(ControlPayload { len, bytes })
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Default for ControlPayload {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl core::fmt::Debug for ControlPayload {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("ControlPayload")
            .field(&self.as_bytes())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    const SERVER: DecodeRules = DecodeRules::new(Role::Server);
    const CLIENT: DecodeRules = DecodeRules::new(Role::Client);

    fn header(buf: &[u8], rules: &DecodeRules) -> Result<Status<(FrameHeader, usize)>, FrameError> {
        FrameHeader::decode(buf, rules)
    }

    #[test]
    fn errors_are_found_as_soon_as_their_byte_arrives() {
        assert_eq!(header(&[0x83], &SERVER), Err(FrameError::ReservedOpcode(3)));
        assert_eq!(
            header(&[0xc1], &SERVER),
            Err(FrameError::ReservedBits(RSV1))
        );
        assert_eq!(header(&[0x09], &SERVER), Err(FrameError::FragmentedControl));
        assert_eq!(
            header(&[0x81, 0x05], &SERVER),
            Err(FrameError::UnmaskedFrame)
        );
        assert_eq!(header(&[0x81, 0x85], &CLIENT), Err(FrameError::MaskedFrame));
        assert_eq!(
            header(&[0x89, 0x7e], &CLIENT),
            Err(FrameError::ControlTooLong)
        );
        assert_eq!(
            header(&[0x82, 0x7e, 0x00, 0x7d], &CLIENT),
            Err(FrameError::NonMinimalLength)
        );
        let msb = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(header(&msb, &CLIENT), Err(FrameError::LengthMsbSet));
    }

    #[test]
    fn allowed_rsv_bits_pass() {
        let rules = DecodeRules {
            allowed_rsv: RSV1,
            ..CLIENT
        };
        let Ok(Status::Complete((h, 2))) = header(&[0xc1, 0x00], &rules) else {
            panic!("RSV1 should be accepted")
        };
        assert!(h.rsv1 && !h.rsv2 && !h.rsv3);
        assert_eq!(
            header(&[0xe1, 0x00], &rules),
            Err(FrameError::ReservedBits(RSV2))
        );
    }

    #[test]
    fn frame_limit_is_checked_from_the_header() {
        let rules = DecodeRules {
            max_frame_size: 1000,
            ..CLIENT
        };
        assert_eq!(
            header(&[0x82, 0x7e, 0x03, 0xe9], &rules),
            Err(FrameError::FrameTooLarge)
        );
        assert!(matches!(
            header(&[0x82, 0x7e, 0x03, 0xe8], &rules),
            Ok(Status::Complete(_))
        ));
    }

    #[test]
    fn incomplete_counts_are_exact_once_the_length_is_known() {
        let wire = [0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4];
        assert_eq!(header(&[], &SERVER), Ok(Status::Incomplete(2)));
        assert_eq!(header(&wire[..1], &SERVER), Ok(Status::Incomplete(1)));
        assert_eq!(header(&wire[..2], &SERVER), Ok(Status::Incomplete(6)));
        assert_eq!(header(&wire[..5], &SERVER), Ok(Status::Incomplete(3)));
        let mut buf = wire.to_vec();
        buf.extend_from_slice(&[0; 100]);
        assert_eq!(decode_frame(&mut buf, &SERVER), Ok(Status::Incomplete(156)));
    }

    #[test]
    fn encode_uses_the_minimal_form_at_each_boundary() {
        for (len, header_len) in [
            (0u64, 2),
            (125, 2),
            (126, 4),
            (65535, 4),
            (65536, 10),
            (1 << 40, 10),
        ] {
            let h = FrameHeader::new(OpCode::Binary, len);
            let mut out = [0u8; MAX_HEADER_LEN];
            assert_eq!(h.encode(&mut out), header_len);
            assert_eq!(h.encoded_len(), header_len);
            let rules = DecodeRules {
                max_frame_size: u64::MAX,
                ..CLIENT
            };
            assert_eq!(
                header(&out[..header_len], &rules),
                Ok(Status::Complete((h, header_len)))
            );
        }
    }

    #[test]
    fn frames_round_trip_through_vec_and_slice() {
        let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let frame = Frame::new(OpCode::Binary, &payload).masked([9, 8, 7, 6]);
        let mut v = Vec::new();
        frame.encode_to_vec(&mut v);
        let mut s = [0u8; 400];
        let n = frame.encode_to_slice(&mut s).unwrap();
        assert_eq!(&s[..n], &v[..]);
        assert_eq!(
            frame.encode_to_slice(&mut s[..10]),
            Err(BufferTooSmall { needed: 308 })
        );
        let Ok(Status::Complete((back, used))) = decode_frame(&mut v, &SERVER) else {
            panic!("decode failed")
        };
        assert_eq!((back, used), (frame, 308));
    }

    #[test]
    fn control_payload_caps_at_125() {
        assert!(ControlPayload::new(&[0; 125]).is_some());
        assert!(ControlPayload::new(&[0; 126]).is_none());
        assert_eq!(ControlPayload::new(b"hi").unwrap().as_bytes(), b"hi");
    }
}
