//! A structured connection target: the input describes a sequence of
//! frames (messages split into fuzzed fragments with control frames
//! between them, pings, pongs, closes, frames with fuzzed header fields,
//! frames at the size limits), which are encoded and fed to a connection
//! through the same driver as `connection_server`. Arbitrary bytes rarely
//! get past the first header; these reach fragmentation, UTF-8 across
//! frames, the limits and the close handshake in a few steps.
//!
//! Because the frames are known, the events are too: a small reference
//! model, written from RFC 6455 sections 5 and 8, predicts every event and
//! the error or close that ends the connection, and the connection must
//! agree exactly, however the stream is split into reads.

use alloc::string::String;
use alloc::vec::Vec;

use super::connection::{self, End, Owned, Script};
use super::{cut, Input};
use crate::close::CloseCode;
use crate::connection::{Config, Delivery, MessageKind};
use crate::error::{CloseError, FrameError};
use crate::frame::Role;
use crate::ProtocolError;

/// How a frame's payload length is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LenForm {
    Minimal,
    /// The 16-bit form, whatever the length.
    Ext16,
    /// The 64-bit form, whatever the length.
    Ext64,
}

/// One frame as written on the wire.
#[derive(Debug, Clone)]
struct WireFrame {
    /// FIN, RSV and opcode.
    b0: u8,
    masked: bool,
    form: LenForm,
    key: [u8; 4],
    /// Unmasked.
    payload: Vec<u8>,
}

impl WireFrame {
    fn new(fin: bool, opcode: u8, payload: Vec<u8>) -> Self {
        WireFrame {
            b0: (if fin { 0x80 } else { 0 }) | opcode,
            masked: false,
            form: LenForm::Minimal,
            key: [0; 4],
            payload,
        }
    }

    /// The length as the 7-bit field and the extended bytes.
    fn len_fields(&self) -> (u8, Vec<u8>) {
        let len = self.payload.len() as u64;
        match self.form {
            LenForm::Minimal if len < 126 => (len as u8, Vec::new()),
            LenForm::Minimal if len <= 0xffff => (126, (len as u16).to_be_bytes().to_vec()),
            LenForm::Ext16 if len <= 0xffff => (126, (len as u16).to_be_bytes().to_vec()),
            _ => (127, len.to_be_bytes().to_vec()),
        }
    }

    /// Encoded by hand, not with the crate's encoder.
    fn encode(&self, out: &mut Vec<u8>) {
        let (len7, ext) = self.len_fields();
        out.push(self.b0);
        out.push(len7 | if self.masked { 0x80 } else { 0 });
        out.extend_from_slice(&ext);
        if self.masked {
            out.extend_from_slice(&self.key);
        }
        out.extend(
            self.payload
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ if self.masked { self.key[i % 4] } else { 0 }),
        );
    }
}

/// Builds the frames an input describes.
struct Generator<'a> {
    input: Input<'a>,
    role: Role,
    config: Config,
    frames: Vec<WireFrame>,
    bytes: usize,
}

/// Stop generating past this many payload bytes.
const MAX_STREAM: usize = 1 << 18;

/// Close codes worth trying: every valid class and the invalid ones next
/// to them.
const CODES: [u16; 16] = [
    1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000,
];

impl Generator<'_> {
    fn push(&mut self, mut frame: WireFrame) {
        let n = self.frames.len() as u32;
        frame.masked ^= self.role == Role::Server;
        frame.key = [n as u8, 0x37, 0xfa, (n >> 8) as u8];
        self.bytes += frame.payload.len();
        self.frames.push(frame);
    }

    fn payload(&mut self, len: usize, text: bool) -> Vec<u8> {
        let raw = self.input.take(len);
        if text {
            // Valid UTF-8 with multi-byte characters (U+FFFD for each bad
            // sequence).
            String::from_utf8_lossy(raw).into_owned().into_bytes()
        } else {
            raw.to_vec()
        }
    }

    fn item(&mut self) {
        let tag = self.input.u8();
        match tag & 7 {
            0..=2 => self.message(tag),
            3 | 4 => {
                let len = usize::from(self.input.u8()) % 126;
                let payload = self.payload(len, false);
                self.push(WireFrame::new(
                    true,
                    if tag & 7 == 3 { 0x9 } else { 0xa },
                    payload,
                ));
            }
            5 => self.close(tag),
            6 => self.raw(tag),
            _ => self.big(tag),
        }
    }

    /// A data message in 1 to 4 fragments, maybe with a ping inside.
    fn message(&mut self, tag: u8) {
        let text = tag & 8 != 0;
        let raw_text = tag & 0x80 != 0;
        let len = usize::from(self.input.u16()) % 512;
        let payload = self.payload(len, text && !raw_text);
        let pieces = usize::from(tag >> 4) % 4 + 1;
        let mut cuts: Vec<usize> = (1..pieces)
            .map(|_| cut(u16::from(self.input.u8()), payload.len()))
            .collect();
        cuts.sort_unstable();
        cuts.push(payload.len());
        let mut start = 0;
        for (i, &end) in cuts.iter().enumerate() {
            let opcode = match (i, text) {
                (0, true) => 0x1,
                (0, false) => 0x2,
                _ => 0x0,
            };
            let fin = i + 1 == cuts.len();
            self.push(WireFrame::new(fin, opcode, payload[start..end].to_vec()));
            if i == 0 && !fin && tag & 0x40 != 0 {
                self.push(WireFrame::new(true, 0x9, b"mid".to_vec()));
            }
            start = end;
        }
    }

    fn close(&mut self, tag: u8) {
        let pick = self.input.u8();
        let payload = match pick {
            0 => Vec::new(),
            1 => alloc::vec![0x03],
            _ => {
                let code = if pick & 0x80 != 0 {
                    self.input.u16()
                } else {
                    CODES[usize::from(pick) % CODES.len()]
                };
                let len = usize::from(self.input.u8()) % 124;
                let mut reason = self.payload(len, tag & 8 == 0);
                if tag & 8 == 0 {
                    // Keep a lossy reason within 123 bytes, whole characters.
                    let text = String::from_utf8(reason).unwrap_or_default();
                    let mut end = text.len().min(123);
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    reason = text.as_bytes()[..end].to_vec();
                }
                let mut p = code.to_be_bytes().to_vec();
                p.extend_from_slice(&reason);
                p
            }
        };
        self.push(WireFrame::new(true, 0x8, payload));
    }

    /// A frame with fuzzed header fields.
    fn raw(&mut self, tag: u8) {
        let b0 = self.input.u8();
        let len = usize::from(self.input.u8());
        let payload = self.payload(len, false);
        let mut frame = WireFrame::new(false, 0, payload);
        frame.b0 = b0;
        frame.masked = tag & 0x08 != 0; // flips the role's masking
        frame.form = [
            LenForm::Minimal,
            LenForm::Ext16,
            LenForm::Ext64,
            LenForm::Minimal,
        ][usize::from(tag >> 4) & 3];
        self.push(frame);
    }

    /// A binary frame sized around the frame or message limit.
    fn big(&mut self, tag: u8) {
        let limits = self.config.limits;
        let limit = if tag & 8 != 0 {
            limits.max_message_size
        } else {
            limits.max_frame_size
        };
        let delta = i64::from(tag >> 4 & 3) - 1; // -1, 0, +1, +2
        let len = (limit as i64 + delta).max(0) as usize;
        if self.bytes + len > MAX_STREAM {
            return;
        }
        let fin = tag & 0x80 == 0;
        let opcode = if tag & 0x40 != 0 { 0x0 } else { 0x2 };
        self.push(WireFrame::new(fin, opcode, alloc::vec![0x5a; len]));
    }
}

/// The reference model: the events and the end that `frames` call for.
fn model(frames: &[WireFrame], role: Role, config: &Config) -> (Vec<Owned>, Option<End>) {
    let limits = &config.limits;
    let mut events = Vec::new();
    // The open message: kind, bytes so far, frames so far.
    let mut open: Option<(MessageKind, Vec<u8>, u32)> = None;
    let fail = |events: Vec<Owned>, e: ProtocolError| (events, Some(End::Failed(e)));
    for f in frames {
        let fin = f.b0 & 0x80 != 0;
        let rsv = f.b0 & 0x70;
        let opcode = f.b0 & 0x0f;
        let control = opcode & 0x8 != 0;
        let (len7, _) = f.len_fields();
        let len = f.payload.len() as u64;
        // Section 5.2, in wire order.
        let header_error = if !matches!(opcode, 0x0..=0x2 | 0x8..=0xa) {
            Some(FrameError::ReservedOpcode(opcode))
        } else if rsv != 0 {
            Some(FrameError::ReservedBits(rsv))
        } else if control && !fin {
            Some(FrameError::FragmentedControl)
        } else if f.masked != (role == Role::Server) {
            Some(if f.masked {
                FrameError::MaskedFrame
            } else {
                FrameError::UnmaskedFrame
            })
        } else if control && len7 > 125 {
            Some(FrameError::ControlTooLong)
        } else if (len7 == 126 && len < 126) || (len7 == 127 && len <= 0xffff) {
            Some(FrameError::NonMinimalLength)
        } else if len > limits.max_frame_size {
            Some(FrameError::FrameTooLarge)
        } else {
            None
        };
        if let Some(e) = header_error {
            return fail(events, ProtocolError::Frame(e));
        }
        let payload = &f.payload[..];
        match opcode {
            0x9 => events.push(Owned::Ping(payload.to_vec())),
            0xa => events.push(Owned::Pong(payload.to_vec())),
            0x8 => {
                let (code, reason) = match payload {
                    [] => (None, &[][..]),
                    [_] => return fail(events, CloseError::OneBytePayload.into()),
                    [hi, lo, reason @ ..] => (Some(u16::from_be_bytes([*hi, *lo])), reason),
                };
                if let Some(c) = code {
                    if !matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                        return fail(events, CloseError::InvalidCode(c).into());
                    }
                }
                let Ok(reason) = core::str::from_utf8(reason) else {
                    return fail(events, CloseError::InvalidReason.into());
                };
                events.push(Owned::Close(code, reason.into()));
                return (events, Some(End::Closed(code)));
            }
            _ => {
                // Section 5.4: fragmentation, then the limits.
                let (kind, first) = match (opcode, &mut open) {
                    (0x0, None) => return fail(events, ProtocolError::UnexpectedContinuation),
                    (0x0, Some((kind, bytes, count))) => {
                        *count += 1;
                        if *count > limits.max_fragments {
                            return fail(events, ProtocolError::TooManyFragments);
                        }
                        if bytes.len() as u64 + len > limits.max_message_size {
                            return fail(events, ProtocolError::MessageTooLarge);
                        }
                        (*kind, false)
                    }
                    (_, Some(_)) => return fail(events, ProtocolError::ExpectedContinuation),
                    (_, None) => {
                        if len > limits.max_message_size {
                            return fail(events, ProtocolError::MessageTooLarge);
                        }
                        let kind = if opcode == 0x1 {
                            MessageKind::Text
                        } else {
                            MessageKind::Binary
                        };
                        (kind, true)
                    }
                };
                if first && fin {
                    // A whole message in one frame.
                    let event = match kind {
                        MessageKind::Text => match core::str::from_utf8(payload) {
                            Ok(t) => Owned::Text(t.into()),
                            Err(_) => return fail(events, ProtocolError::InvalidUtf8),
                        },
                        MessageKind::Binary => Owned::Binary(payload.to_vec()),
                    };
                    events.push(event);
                    continue;
                }
                let (_, bytes, _) = open.get_or_insert((kind, Vec::new(), 1));
                bytes.extend_from_slice(payload);
                if kind == MessageKind::Text {
                    // Section 8.1: fail as soon as it cannot become valid.
                    match core::str::from_utf8(bytes) {
                        Err(e) if fin || e.error_len().is_some() => {
                            return fail(events, ProtocolError::InvalidUtf8)
                        }
                        _ => {}
                    }
                }
                if config.delivery == Delivery::Frames {
                    events.push(Owned::Fragment {
                        kind,
                        data: payload.to_vec(),
                        fin,
                    });
                }
                if fin {
                    let (kind, bytes, _) = open.take().unwrap_or((kind, Vec::new(), 0));
                    if config.delivery == Delivery::Messages {
                        events.push(match kind {
                            MessageKind::Text => {
                                Owned::Text(String::from_utf8(bytes).unwrap_or_default())
                            }
                            MessageKind::Binary => Owned::Binary(bytes),
                        });
                    }
                }
            }
        }
    }
    (events, None)
}

/// `connection_frames`: a described sequence of frames, encoded and fed
/// to a connection in fuzzed reads; the connection's events and its end
/// must be exactly what the reference model predicts, on top of every
/// invariant `connection_server` checks.
///
/// Input: the driver script (as `connection_server`, without the
/// application close), role (1), frame items.
pub fn fuzz_connection_frames(data: &[u8]) {
    let mut input = Input::new(data);
    let script = Script::parse(&mut input).without_close().without_deflate();
    let role = if input.bool() {
        Role::Client
    } else {
        Role::Server
    };
    let mut generator = Generator {
        input,
        role,
        config: *script.config(),
        frames: Vec::new(),
        bytes: 0,
    };
    while !generator.input.is_empty() && generator.bytes <= MAX_STREAM {
        generator.item();
    }
    let frames = generator.frames;
    let mut stream = Vec::new();
    for f in &frames {
        f.encode(&mut stream);
    }
    let outcome = connection::run(role, &script, &stream);
    let (events, end) = model(&frames, role, script.config());
    assert_eq!(outcome.events, events, "events differ from the model");
    assert_eq!(outcome.end, end, "the end differs from the model");
    // Codes the model cannot send must never be echoed.
    if let Some(End::Closed(Some(code))) = end {
        assert!(CloseCode(code).is_sendable());
    }
}
