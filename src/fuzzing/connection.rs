//! The connection state machine, driven like a real driver would: reads of
//! fuzzer-chosen sizes, events pulled after each read, replies queued while
//! an event is borrowed, output drained (fully, partly or not at all).

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::num::NonZeroUsize;
use core::time::Duration;

use super::Input;
use crate::close::{CloseCode, ClosePayload, CloseReason};
use crate::connection::{
    Config, Connection, Delivery, Event, MessageKind, SendError, Sender, State, MAX_CONTROL_QUEUE,
};
#[cfg(all(feature = "deflate", feature = "std"))]
use crate::deflate::{Decompressor, DeflateConfig, Negotiated, Params};
use crate::frame::{decode_frame, ControlPayload, DecodeRules, FrameHeader, OpCode, Role, Status};
use crate::frame::{MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::{Limits, ProtocolError};

/// The largest close frame: header (with mask) and a 125-byte payload.
const MAX_CLOSE_FRAME: usize = 2 + 4 + MAX_CONTROL_PAYLOAD;

/// The reason our own close frames carry.
const APP_REASON: &str = "fuzz";

/// How the application answers data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Echo {
    None,
    /// `send_message` (and `send_fragment` for fragments).
    Message,
    /// `send_message_fragmented`.
    Fragmented,
    /// `send_message_vectored` straight into the transport (std only;
    /// `send_message` without std).
    Vectored,
}

/// How one run drives the connection.
#[derive(Debug, Clone)]
pub(crate) struct Script<'a> {
    config: Config,
    echo: Echo,
    /// Feed with `receive` rather than `read_buf` + `commit_read`.
    use_receive: bool,
    /// Release idle buffers after each drain (and sometimes hand the read
    /// buffer straight back, as a pool would).
    release_idle: bool,
    /// One op per read, cycled: read size (low 6 bits, times `scale`) and
    /// what to do after it (high 2 bits: drain, drain partly, ping and
    /// drain, don't drain).
    ops: &'a [u8],
    scale: usize,
    /// The read after which the application starts closing.
    close_at: Option<usize>,
    /// permessage-deflate: context takeover, window bits and the send
    /// threshold, as the agreed parameters of both sides.
    deflate: Option<(bool, u8, usize)>,
}

/// Small limits, so that every limit is reached by short inputs.
fn preset(n: u8) -> (Limits, usize) {
    let (frame, message, fragments, output, read_chunk) = match n & 3 {
        0 => (125, 300, 4, 512, 16),
        1 => (1000, 2000, 16, 4096, 64),
        2 => (20, 40, 3, 64, 1),
        // A frame limit past 65535 reaches the 64-bit length form.
        _ => (70_000, 140_000, 64, 1 << 17, 256),
    };
    let limits = Limits {
        max_frame_size: frame,
        max_message_size: message,
        max_fragments: fragments,
        max_output_buffer: output,
        ..Limits::DEFAULT
    };
    (limits, read_chunk)
}

impl<'a> Script<'a> {
    /// Input: flags (1), ops count, scale and permessage-deflate (1), close
    /// point (1), ops.
    pub(crate) fn parse(input: &mut Input<'a>) -> Self {
        let flags = input.u8();
        let shape = input.u8();
        let close_at = input.u8();
        let ops = input.take(usize::from(shape & 7) + 1);
        let (limits, read_chunk) = preset(flags >> 6);
        Script {
            config: Config {
                limits,
                auto_pong: flags & 2 == 0,
                delivery: if flags & 1 != 0 {
                    Delivery::Frames
                } else {
                    Delivery::Messages
                },
                read_chunk,
            },
            echo: [Echo::None, Echo::Message, Echo::Fragmented, Echo::Vectored]
                [usize::from(flags >> 2) & 3],
            use_receive: flags & 0x10 != 0,
            release_idle: flags & 0x20 != 0,
            ops: if ops.is_empty() { &[0x3f] } else { ops },
            scale: if shape & 0x80 != 0 { 16 } else { 1 },
            close_at: (close_at != 0xff).then_some(usize::from(close_at)),
            // 0x08: on; 0x10: context takeover; 0x60: window and threshold.
            deflate: (shape & 0x08 != 0).then(|| {
                let choice = usize::from(shape >> 5) & 3;
                (
                    shape & 0x10 != 0,
                    [15, 8, 9, 12][choice],
                    [0, 16, 128, 1][choice],
                )
            }),
        }
    }

    /// The same script without an application close (the events then
    /// depend on the bytes alone).
    pub(crate) fn without_close(mut self) -> Self {
        self.close_at = None;
        self
    }

    /// The same script without permessage-deflate (for the frame model,
    /// which knows RSV bits only as errors).
    pub(crate) fn without_deflate(mut self) -> Self {
        self.deflate = None;
        self
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }
}

/// An event, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owned {
    Text(String),
    Binary(Vec<u8>),
    Fragment {
        kind: MessageKind,
        data: Vec<u8>,
        fin: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

/// How the connection ended, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The peer's close frame arrived.
    Closed(Option<u16>),
    /// The connection failed.
    Failed(ProtocolError),
}

/// What a run produced.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) events: Vec<Owned>,
    pub(crate) end: Option<End>,
}

/// The close frame the connection must send, decided when it is queued.
#[derive(Debug, Clone, Copy)]
enum ExpectedClose {
    App(u16),
    Echo(u16),
    Fail(ProtocolError),
}

struct Run {
    role: Role,
    config: Config,
    /// permessage-deflate is on: frames may carry RSV1.
    deflate: bool,
    /// The peer's side of it, to inflate what we send.
    #[cfg(all(feature = "deflate", feature = "std"))]
    peer: Option<Negotiated>,
    /// Every byte handed to the transport, in order.
    wire: Vec<u8>,
    events: Vec<Owned>,
    end: Option<End>,
    first_close: Option<ExpectedClose>,
    /// Our streamed message, open after a `send_fragment` without fin.
    app_open: Option<MessageKind>,
    /// The first fragment of a streamed echo failed: skip the rest of that
    /// incoming message (sending its later fragments would make a message
    /// without its start, e.g. text split inside a character).
    skip_stream: bool,
    /// A later fragment of a streamed echo failed: our message has a hole
    /// and can never be finished correctly, so the application stops
    /// sending data for good (continuing it with the next message's
    /// fragments would corrupt it).
    echo_dead: bool,
    /// Ping payloads received, in order.
    pings: Vec<Vec<u8>>,
    /// Pings we sent, in order.
    our_pings: Vec<Vec<u8>>,
    /// A fragmented message being received ([`Delivery::Frames`]): kind,
    /// bytes so far, frames so far.
    incoming: Option<(MessageKind, Vec<u8>, u32)>,
    /// The largest read so far.
    max_read: usize,
    /// Echoes written around the sender's queue, as a server writes them
    /// from its read buffer, waiting for `flush_lane`.
    lane: Vec<(crate::frame::EncodedHeader, Vec<u8>)>,
}

/// `connection_server`: an arbitrary byte stream into a server connection.
/// See [`run`] for the invariants.
pub fn fuzz_connection_server(data: &[u8]) {
    let mut input = Input::new(data);
    let script = Script::parse(&mut input);
    run(Role::Server, &script, input.rest());
}

/// `connection_client`: an arbitrary byte stream into a client connection.
/// See [`run`] for the invariants.
pub fn fuzz_connection_client(data: &[u8]) {
    let mut input = Input::new(data);
    let script = Script::parse(&mut input);
    run(Role::Client, &script, input.rest());
}

fn opposite(role: Role) -> Role {
    match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    }
}

/// Drives a connection of `role` with `stream` as `script` says. Checks:
///
/// - no panic; no event and no error after a close event or an error; the
///   state, `error()` and `peer_close()` agree with what was reported;
/// - every event is within the limits (message, frame, fragment count,
///   control payload) and text is valid UTF-8, across fragments too;
/// - after each read and the events it gave, the unread input is less
///   than one frame at the frame limit (plus the last read once failed),
///   queued output stays within `max_output_buffer` plus the control queue
///   and one close frame, and heap use within a bound derived from the
///   limits: memory does not grow with the stream;
/// - sends fail exactly when they must (`Closed`, `FragmentOpen`);
/// - everything written decodes, with the peer's rules, as whole valid
///   frames: data frames correctly fragmented with text valid UTF-8, pongs
///   answering pings received in order, at most one close frame, last, with
///   the code owed (an echo, the failure's code, or the application's);
/// - at the end of the stream, the close handshake and transport shutdown
///   are reported consistently.
pub(crate) fn run(role: Role, script: &Script<'_>, stream: &[u8]) -> Outcome {
    let config = script.config;
    #[allow(unused_mut)]
    let mut conn = match role {
        Role::Server => Connection::server(config),
        Role::Client => {
            let mut state = 0x1234_5678u32;
            Connection::client(
                config,
                Box::new(move || {
                    state = state.wrapping_mul(0x9e37_79b9).wrapping_add(0x7f4a_7c15);
                    state.to_le_bytes()
                }),
            )
        }
    };
    #[cfg(all(feature = "deflate", feature = "std"))]
    if let Some(n) = negotiated(script, role) {
        conn = conn.with_deflate(&n);
    }
    let mut run = Run {
        role,
        config,
        deflate: script.deflate.is_some(),
        #[cfg(all(feature = "deflate", feature = "std"))]
        peer: negotiated(script, opposite(role)),
        wire: Vec::new(),
        events: Vec::new(),
        end: None,
        first_close: None,
        app_open: None,
        skip_stream: false,
        echo_dead: false,
        pings: Vec::new(),
        our_pings: Vec::new(),
        incoming: None,
        max_read: 0,
        lane: Vec::new(),
    };

    let mut rest = stream;
    let mut reads = 0usize;
    // At most about a thousand reads, however long the stream: fine cuts
    // for short streams, and large frames still cost little.
    let min_read = stream.len() / 1024;
    while !rest.is_empty() {
        let op = script.ops[reads % script.ops.len()];
        reads += 1;
        let now = Duration::from_micros(reads as u64);
        let size = ((usize::from(op & 0x3f) + 1) * script.scale).max(min_read);
        let n = if script.use_receive {
            let n = size.min(rest.len());
            conn.receive(&rest[..n], now);
            n
        } else {
            let room = conn.read_buf();
            assert!(room.len() >= config.read_chunk.max(1), "read_buf too small");
            let n = size.min(rest.len()).min(room.len());
            room[..n].copy_from_slice(&rest[..n]);
            conn.commit_read(n, now);
            n
        };
        rest = &rest[n..];
        run.max_read = run.max_read.max(n);
        assert_eq!(conn.last_received(), Some(now));

        pull_events(&mut conn, &mut run, script, op);
        flush_lane(&mut conn, &mut run, usize::from(op) * 7);

        if script.close_at == Some(reads - 1) {
            let queued = conn.is_close_queued();
            let code = CloseCode(if op & 1 == 0 {
                1000
            } else {
                4000 + u16::from(op)
            });
            let reason = CloseReason::new(APP_REASON).unwrap_or(CloseReason::EMPTY);
            match conn.close(code, reason) {
                Ok(()) => {
                    assert!(!queued, "a second close was accepted");
                    run.first_close.get_or_insert(ExpectedClose::App(code.0));
                }
                Err(e) => assert!(queued && e == SendError::Closed, "close failed: {e:?}"),
            }
        }
        match op >> 6 {
            0 => drain(&mut conn, &mut run, usize::MAX),
            1 => drain(&mut conn, &mut run, usize::from(op & 0x3f)),
            2 => {
                let payload = alloc::vec![op; usize::from(op % 5)];
                let queued = conn.is_close_queued();
                match conn.ping(ControlPayload::new(&payload).unwrap_or_default()) {
                    Ok(()) => {
                        assert!(!queued, "ping after close");
                        run.our_pings.push(payload);
                    }
                    Err(SendError::Closed) => assert!(queued),
                    Err(SendError::Full) => assert!(!queued),
                    Err(e) => panic!("ping: {e:?}"),
                }
                drain(&mut conn, &mut run, usize::MAX);
            }
            _ => {}
        }
        if script.release_idle {
            if let Some(buf) = conn.release_idle_buffers() {
                if op & 1 == 0 {
                    conn.provide_read_buffer(buf);
                }
            }
        }
        check_bounds(&conn, &run);
    }

    flush_lane(&mut conn, &mut run, 0);
    drain(&mut conn, &mut run, usize::MAX);
    assert!(!conn.has_output(), "output left after a full drain");
    check_wire(&run);

    let expected_state = match (run.end, run.first_close) {
        (Some(_), _) => State::Closed,
        (None, Some(_)) => State::Closing,
        (None, None) => State::Open,
    };
    assert_eq!(conn.state(), expected_state);
    assert_eq!(conn.is_close_written(), run.first_close.is_some());
    let shut = expected_state == State::Closed
        && (role == Role::Server || matches!(run.end, Some(End::Failed(_))));
    assert_eq!(conn.should_close_transport(), shut);

    conn.receive_eof();
    assert!(matches!(conn.next_event(), Ok(None)), "event after EOF");
    assert_eq!(conn.state(), State::Closed);
    assert!(conn.should_close_transport());

    Outcome {
        events: run.events,
        end: run.end,
    }
}

/// The script's permessage-deflate, seen from `role`: both directions
/// agreed alike.
#[cfg(all(feature = "deflate", feature = "std"))]
fn negotiated(script: &Script<'_>, role: Role) -> Option<Negotiated> {
    let (takeover, bits, threshold) = script.deflate?;
    let params = Params {
        server_no_context_takeover: !takeover,
        client_no_context_takeover: !takeover,
        server_max_window_bits: Some(bits),
        client_max_window_bits: Some(Some(bits)),
    };
    let config = DeflateConfig {
        context_takeover: takeover,
        threshold,
        ..DeflateConfig::default()
    };
    config.agreed(params, role)
}

/// Pulls events until none is ready, answering them as the script says.
fn pull_events(conn: &mut Connection, run: &mut Run, script: &Script<'_>, op: u8) {
    loop {
        let was_done = run.end.is_some();
        match conn.next_event_with(|event, tx| on_event(run, script, op, event, tx)) {
            Ok(None) => break,
            Ok(Some(())) => {
                assert!(!was_done, "event after the end");
                // A driver may take the message buffer back right after an
                // event, before polling past it, and lend it (or another)
                // later: what comes next must be the same.
                if script.release_idle && op & 2 != 0 {
                    let taken = conn.take_idle_message_buffer();
                    if op & 4 != 0 {
                        conn.provide_message_buffer(
                            taken.unwrap_or_else(|| Vec::with_capacity(64)),
                        );
                    }
                }
            }
            Err(e) => {
                assert!(!was_done, "error after the end: {e:?}");
                run.end = Some(End::Failed(e));
                run.first_close.get_or_insert(ExpectedClose::Fail(e));
                assert_eq!(conn.error(), Some(e));
                assert_eq!(conn.state(), State::Closed);
                assert!(conn.is_close_queued());
            }
        }
        if let Some(End::Closed(code)) = run.end {
            if !was_done {
                assert_eq!(conn.state(), State::Closed, "closed by the peer");
                assert!(conn.is_close_queued(), "no close echo queued");
                let (peer, reason) = conn.peer_close().expect("peer_close");
                assert_eq!(peer.0, code.unwrap_or(CloseCode::NO_STATUS.0));
                assert!(matches!(run.events.last(), Some(Owned::Close(_, r)) if r == reason));
            }
        }
    }
    assert!(run.end.is_none() || conn.state() == State::Closed);
}

fn on_event(run: &mut Run, script: &Script<'_>, op: u8, event: Event<'_>, tx: &mut Sender) {
    assert!(run.end.is_none(), "event after the end: {event:?}");
    let limits = run.config.limits;
    let frames = run.config.delivery == Delivery::Frames;
    match event {
        Event::Text(_) | Event::Binary(_) => {
            assert!(run.incoming.is_none(), "message inside a fragmented one");
        }
        Event::Fragment { kind, data, fin } => {
            assert!(frames, "fragment event with whole-message delivery");
            // An inflated frame is bounded by the message limit alone.
            let bound = if run.deflate {
                limits.max_message_size
            } else {
                limits.max_frame_size
            };
            assert!(data.len() as u64 <= bound);
            let (open_kind, bytes, count) = run.incoming.get_or_insert((kind, Vec::new(), 0));
            assert_eq!(*open_kind, kind, "fragment kind changed");
            *count += 1;
            assert!(
                *count <= limits.max_fragments,
                "too many fragments delivered"
            );
            bytes.extend_from_slice(data);
            assert!(bytes.len() as u64 <= limits.max_message_size);
            if kind == MessageKind::Text {
                let check = core::str::from_utf8(bytes);
                if fin {
                    assert!(check.is_ok(), "fragmented text not UTF-8");
                } else {
                    assert!(check.is_ok() || check.is_err_and(|e| e.error_len().is_none()));
                }
            }
            if fin {
                run.incoming = None;
            }
        }
        Event::Ping(p) | Event::Pong(p) => assert!(p.len() <= MAX_CONTROL_PAYLOAD),
        Event::Close { code, reason } => {
            assert!(code.is_none_or(|c| c.is_valid_on_wire()));
            assert!(code.is_some() || reason.is_empty());
            assert!(reason.len() <= MAX_CONTROL_PAYLOAD - 2);
        }
    }
    let owned = match event {
        Event::Text(t) => {
            assert!(t.len() as u64 <= limits.max_message_size);
            Owned::Text(t.to_string())
        }
        Event::Binary(b) => {
            assert!(b.len() as u64 <= limits.max_message_size);
            Owned::Binary(b.to_vec())
        }
        Event::Fragment { kind, data, fin } => Owned::Fragment {
            kind,
            data: data.to_vec(),
            fin,
        },
        Event::Ping(p) => {
            run.pings.push(p.to_vec());
            Owned::Ping(p.to_vec())
        }
        Event::Pong(p) => Owned::Pong(p.to_vec()),
        Event::Close { code, reason } => {
            let code = code.map(|c| c.0);
            run.end = Some(End::Closed(code));
            run.first_close
                .get_or_insert(ExpectedClose::Echo(code.unwrap_or(1000)));
            Owned::Close(code, reason.to_string())
        }
    };
    run.events.push(owned);

    let (kind, data, fin, streamed) = match event {
        Event::Text(t) => (MessageKind::Text, t.as_bytes(), true, false),
        Event::Binary(b) => (MessageKind::Binary, b, true, false),
        Event::Fragment { kind, data, fin } => (kind, data, fin, true),
        _ => return,
    };
    if script.echo == Echo::None || run.echo_dead {
        return;
    }
    if streamed && run.skip_stream {
        run.skip_stream = !fin;
        return;
    }
    let closed = tx.is_close_queued();
    let open = run.app_open;
    let result = if streamed {
        tx.send_fragment(kind, data, fin)
    } else {
        match script.echo {
            Echo::Fragmented => {
                let size = NonZeroUsize::new(usize::from(op % 16) + 1).unwrap_or(NonZeroUsize::MIN);
                tx.send_message_fragmented(kind, data, size)
            }
            // Written around the queue later, as the server's worker does
            // with echoes from its read buffer.
            Echo::Vectored if op & 0x80 != 0 => {
                if tx.write_around(data.len()) {
                    let header = FrameHeader::new(kind.opcode(), data.len() as u64);
                    run.lane.push((header.to_bytes(), data.to_vec()));
                    Ok(())
                } else {
                    tx.send_message(kind, data)
                }
            }
            // Nothing may overtake the frames waiting to go around.
            Echo::Vectored if !run.lane.is_empty() => tx.send_message(kind, data),
            #[cfg(feature = "std")]
            Echo::Vectored => {
                let mut transport = Transport {
                    wire: &mut run.wire,
                    allowance: usize::from(op) * 3,
                };
                tx.send_message_vectored(kind, data, &mut transport)
                    .expect("the transport never fails")
            }
            _ => tx.send_message(kind, data),
        }
    };
    let fragment_open = if streamed {
        open.is_some_and(|k| k != kind)
    } else {
        open.is_some()
    };
    match result {
        Ok(()) => {
            assert!(
                !closed && !fragment_open,
                "send accepted after close or inside a message"
            );
            if streamed {
                run.app_open = if fin { None } else { Some(kind) };
            }
        }
        Err(SendError::FragmentOpen) => assert!(fragment_open, "FragmentOpen with none open"),
        Err(SendError::Closed) => assert!(closed && !fragment_open, "Closed while open"),
        Err(SendError::Full) => assert!(!closed && !fragment_open),
        Err(e) => panic!("send: {e:?}"),
    }
    if streamed && result.is_err() {
        if open.is_some() {
            run.echo_dead = true;
        } else {
            run.skip_stream = !fin;
        }
    }
}

/// A transport that takes `allowance` bytes, then would block.
#[cfg(feature = "std")]
struct Transport<'w> {
    wire: &'w mut Vec<u8>,
    allowance: usize,
}

#[cfg(feature = "std")]
impl std::io::Write for Transport<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_vectored(&[std::io::IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        if self.allowance == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let mut written = 0;
        for b in bufs {
            let n = b.len().min(self.allowance);
            self.wire.extend_from_slice(&b[..n]);
            self.allowance -= n;
            written += n;
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes the frames noted around the queue, as far as `allowance` goes,
/// and hands the rest back to the sender, ahead of its queue.
fn flush_lane(conn: &mut Connection, run: &mut Run, allowance: usize) {
    if run.lane.is_empty() {
        return;
    }
    let total: usize = run.lane.iter().map(|(h, p)| h.len() + p.len()).sum();
    let written = allowance.min(total);
    let mut left = written;
    for (header, payload) in &run.lane {
        for part in [header.as_bytes(), &payload[..]] {
            let n = part.len().min(left);
            run.wire.extend_from_slice(&part[..n]);
            left -= n;
        }
    }
    let frames = run.lane.iter().map(|(h, p)| (h.as_bytes(), &p[..]));
    conn.sender().queue_unwritten_front(frames, written);
    run.lane.clear();
}

/// Writes up to `budget` bytes of output to the wire.
fn drain(conn: &mut Connection, run: &mut Run, mut budget: usize) {
    while budget > 0 {
        let out = conn.output();
        if out.is_empty() {
            break;
        }
        let n = out.len().min(budget);
        run.wire.extend_from_slice(&out[..n]);
        conn.consume_output(n);
        budget -= n;
    }
}

fn check_bounds(conn: &Connection, run: &Run) {
    let limits = &run.config.limits;
    let max_frame = usize::try_from(limits.max_frame_size).unwrap_or(usize::MAX);
    let frame_wire = MAX_HEADER_LEN + max_frame;
    let buffered = conn.buffered_input_len();
    if run.end.is_none() {
        assert!(
            buffered < frame_wire,
            "{buffered} bytes unread: more than a frame"
        );
    } else {
        assert!(
            buffered <= frame_wire + run.max_read,
            "{buffered} bytes unread"
        );
    }
    let max_output = limits.max_output_buffer;
    let pending = conn.pending_output_len();
    assert!(
        pending <= max_output + MAX_CONTROL_QUEUE + MAX_CLOSE_FRAME,
        "{pending} bytes of output queued"
    );
    let max_message = usize::try_from(limits.max_message_size).unwrap_or(usize::MAX);
    // Buffers grow by doubling, and the output queue reclaims its written
    // front lazily (past 4 KiB or half its length).
    let rx = frame_wire
        + (run.config.read_chunk * crate::connection::READ_CHUNK_GROWTH).max(run.max_read);
    let out = (2 * max_output).max(8192) + max_output + MAX_CLOSE_FRAME;
    // permessage-deflate: both windows' text, and a compressed frame's
    // inflated bytes (within the message limit).
    let deflate = if run.deflate {
        2 * (1 << 15) + 2 * max_message + 1024
    } else {
        0
    };
    let bound = 2 * (rx + max_message + out + MAX_CONTROL_QUEUE) + deflate;
    let heap = conn.heap_bytes();
    assert!(heap <= bound, "{heap} heap bytes, bound {bound}");
}

/// Everything written must be whole, valid frames as the peer decodes
/// them.
fn check_wire(run: &Run) {
    let rules = DecodeRules {
        role: opposite(run.role),
        allowed_rsv: if run.deflate { crate::frame::RSV1 } else { 0 },
        max_frame_size: u64::MAX,
    };
    #[cfg(all(feature = "deflate", feature = "std"))]
    let mut inflate = run.peer.as_ref().map(Decompressor::new);
    let mut wire = run.wire.clone();
    let mut rest = &mut wire[..];
    // The message being sent in fragments: its opcode, its bytes, and
    // whether they are compressed.
    let mut open: Option<(OpCode, Vec<u8>, bool)> = None;
    let mut closes = 0;
    let mut pongs = Vec::new();
    let mut pings = Vec::new();
    while !rest.is_empty() {
        assert_eq!(closes, 0, "frames after the close frame");
        let (frame, used) = match decode_frame(rest, &rules) {
            Ok(Status::Complete(f)) => f,
            other => panic!("output does not decode: {other:?}"),
        };
        let h = frame.header;
        assert!(
            !h.rsv1 || matches!(h.opcode, OpCode::Text | OpCode::Binary),
            "RSV1 on {:?}",
            h.opcode
        );
        match h.opcode {
            OpCode::Text | OpCode::Binary => {
                assert!(open.is_none(), "new message inside a fragmented one");
                open = Some((h.opcode, frame.payload.to_vec(), h.rsv1));
            }
            OpCode::Continuation => {
                let (_, bytes, _) = open.as_mut().expect("continuation with no message");
                bytes.extend_from_slice(frame.payload);
            }
            OpCode::Ping => pings.push(frame.payload.to_vec()),
            OpCode::Pong => pongs.push(frame.payload.to_vec()),
            OpCode::Close => {
                closes += 1;
                let payload = ClosePayload::parse(frame.payload).expect("close payload");
                let code = payload.code.expect("a close code").0;
                match run.first_close.expect("a close frame nobody queued") {
                    ExpectedClose::App(c) => {
                        assert_eq!((code, payload.reason), (c, APP_REASON));
                    }
                    ExpectedClose::Echo(c) => assert_eq!((code, payload.reason), (c, "")),
                    ExpectedClose::Fail(e) => {
                        assert_eq!(code, e.close_code().0);
                        assert_eq!(payload.reason, e.reason());
                    }
                }
            }
        }
        if h.fin && !h.opcode.is_control() {
            let (kind, bytes, compressed) = open.take().expect("a message ends");
            #[cfg(all(feature = "deflate", feature = "std"))]
            let bytes = if compressed {
                let d = inflate.as_mut().expect("RSV1 without permessage-deflate");
                let mut out = Vec::new();
                d.begin();
                d.inflate(&bytes, &mut out, usize::MAX)
                    .and_then(|()| d.finish(&mut out, usize::MAX))
                    .expect("a compressed message inflates");
                out
            } else {
                bytes
            };
            #[cfg(not(all(feature = "deflate", feature = "std")))]
            assert!(!compressed);
            if kind == OpCode::Text {
                assert!(core::str::from_utf8(&bytes).is_ok(), "text not UTF-8");
            }
        }
        rest = &mut rest[used..];
    }
    assert_eq!(
        closes,
        usize::from(run.first_close.is_some()),
        "close frames sent"
    );
    assert_eq!(pings, run.our_pings, "our pings");
    // Each pong answers a ping, in order; newer pings may replace older.
    if !run.config.auto_pong {
        assert!(pongs.is_empty(), "pong without auto_pong");
    }
    let mut received = run.pings.iter();
    for pong in &pongs {
        assert!(received.any(|p| p == pong), "pong {pong:?} answers no ping");
    }
}
