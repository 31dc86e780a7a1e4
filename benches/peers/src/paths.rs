//! The same work done by each library, from client bytes in memory.
//!
//! Every path gets the bytes of [`crate::input::client_frames`] (masked
//! binary frames, one message each) and copies them into its own buffer in
//! reads of at most 64 KiB ([`crate::mem::READ`]), as it would from a
//! socket. `tungstenite` and `fastwebsockets` have no public API that takes
//! bytes and gives back unmasked frames without a stream, so they read a
//! [`Duplex`]; `fastwebsockets` is async-only, so its futures are polled
//! once with a no-op waker ([`poll_ready`]): no runtime, no task, no
//! wake-ups, just its code and the `tokio::io` traits.
//!
//! **Decode** (frames in, unmasked payloads out, nothing sent):
//! - [`OursFrames`]: our frame layer, `frame::decode_frame`, after one copy
//!   of the whole input into a buffer; header checks and in-place unmask,
//!   no connection state. No peer exposes this layer.
//! - [`OursReceive`]: our connection, `Connection::read_buf`/`commit_read`
//!   then `next_event` until it needs more; checks every protocol rule
//!   (control frames, continuation order, limits) and delivers messages.
//! - [`TungsteniteReceive`]: tungstenite's `WebSocket::from_raw_socket(..).read()`,
//!   message level. Its frame layer (`FrameSocket::read`) does not unmask,
//!   and its masking code is private, so this is its lowest path that
//!   yields a server's payloads.
//! - [`FastReceive`]: `fastwebsockets::WebSocket::read_frame`, frame level
//!   with auto-pong and auto-close (its frame parser is private).
//!
//! **Echo** (server side: decode every message and send it back; the output
//! bytes are collected, and all three produce the same bytes):
//! - [`OursEcho`]: `next_event_with`, as our server does it: below 4 KiB
//!   `Sender::send_binary` into our output buffer, which is copied out (the
//!   copy a socket write makes) after each read; from 4 KiB on
//!   `Sender::send_message_vectored`, header and payload written straight
//!   out in one vectored write.
//! - [`TungsteniteEcho`]: `read()` then `send()` (write + flush) per
//!   message, as the tokio-tungstenite echo server does: the frame is
//!   formatted into its write buffer and written out.
//! - [`FastEcho`]: `FragmentCollector::read_frame` then `write_frame` per
//!   message, as the fastwebsockets echo server does: it writes every frame
//!   straight to the stream (`write_vectored` of header and payload above
//!   1 KiB), with no buffer of its own. In memory that saves it a copy; on
//!   a socket it costs a system call per frame.

use std::hint::black_box;
use std::time::Duration;

use fastwebsockets::{FragmentCollector, OpCode, Role as FastRole};
use rfc6455::connection::{Config, Connection, Event, MessageKind};
use rfc6455::frame::{decode_frame, DecodeRules, Role, Status};
use tungstenite::protocol::Role as TungsteniteRole;
use tungstenite::Message;

use crate::mem::{poll_ready, Duplex, READ};
use crate::setup::{fastwebsockets_setup, tungstenite_config};

/// Our connection's settings: defaults, with reads as large as the
/// streams' (the read buffer's least room is 16 KiB by default).
pub fn ours_config() -> Config {
    Config {
        read_chunk: READ,
        ..Config::default()
    }
}

/// Our frame layer alone: `decode_frame` over a copy of the input.
#[derive(Debug)]
pub struct OursFrames {
    buf: Vec<u8>,
    rules: DecodeRules,
}

impl Default for OursFrames {
    fn default() -> Self {
        OursFrames {
            buf: Vec::new(),
            rules: DecodeRules::new(Role::Server),
        }
    }
}

impl OursFrames {
    /// Decodes every frame of `wire`; returns the payload bytes.
    pub fn run(&mut self, wire: &[u8]) -> usize {
        self.buf.clear();
        self.buf.extend_from_slice(wire);
        let mut at = 0;
        let mut total = 0;
        while at < self.buf.len() {
            match decode_frame(&mut self.buf[at..], &self.rules) {
                Ok(Status::Complete((frame, used))) => {
                    total += black_box(frame.payload).len();
                    at += used;
                }
                other => panic!("bad input: {other:?}"),
            }
        }
        total
    }
}

/// Copies `wire` into `conn` in reads of at most [`READ`] bytes, calling
/// `after_read` after each.
fn feed(conn: &mut Connection, wire: &[u8], mut after_read: impl FnMut(&mut Connection)) {
    let mut at = 0;
    while at < wire.len() {
        let room = conn.read_buf();
        let n = room.len().min(READ).min(wire.len() - at);
        room[..n].copy_from_slice(&wire[at..at + n]);
        conn.commit_read(n, Duration::ZERO);
        at += n;
        after_read(conn);
    }
}

/// Our connection, receiving only.
#[derive(Debug)]
pub struct OursReceive {
    conn: Connection,
}

impl Default for OursReceive {
    fn default() -> Self {
        OursReceive {
            conn: Connection::server(ours_config()),
        }
    }
}

impl OursReceive {
    /// Receives every message of `wire`; returns the payload bytes.
    pub fn run(&mut self, wire: &[u8]) -> usize {
        let mut total = 0;
        feed(&mut self.conn, wire, |conn| {
            while let Some(event) = conn.next_event().expect("valid input") {
                match event {
                    Event::Binary(data) => total += black_box(data).len(),
                    other => panic!("unexpected {other:?}"),
                }
            }
        });
        total
    }
}

/// Payloads from this size on are echoed the way our server does it (its
/// `direct_write_min` default): `Sender::send_message_vectored` writes the
/// queued output, the header and the payload straight to the transport in
/// one vectored write, without copying the payload into the output buffer.
pub const DIRECT_WRITE_MIN: usize = 4 << 10;

/// Our connection, echoing as our server does: smaller messages are queued
/// in the output buffer, which is copied out after each read; larger ones
/// are written straight out (see [`DIRECT_WRITE_MIN`]).
#[derive(Debug)]
pub struct OursEcho {
    conn: Connection,
    sink: Vec<u8>,
}

impl Default for OursEcho {
    fn default() -> Self {
        OursEcho {
            conn: Connection::server(ours_config()),
            sink: Vec::new(),
        }
    }
}

impl OursEcho {
    /// Echoes every message of `wire`; returns the bytes sent.
    pub fn run(&mut self, wire: &[u8]) -> usize {
        self.sink.clear();
        let sink = &mut self.sink;
        feed(&mut self.conn, wire, |conn| {
            while conn
                .next_event_with(|event, tx| match event {
                    Event::Binary(data) if data.len() >= DIRECT_WRITE_MIN => tx
                        .send_message_vectored(MessageKind::Binary, data, &mut *sink)
                        .expect("in-memory write")
                        .expect("room to echo"),
                    Event::Binary(data) => tx.send_binary(data).expect("room to echo"),
                    other => panic!("unexpected {other:?}"),
                })
                .expect("valid input")
                .is_some()
            {}
            let out = conn.output();
            sink.extend_from_slice(out);
            let n = out.len();
            conn.consume_output(n);
        });
        self.sink.len()
    }

    /// The bytes sent by the last run.
    pub fn output(&self) -> &[u8] {
        &self.sink
    }
}

/// `tungstenite::WebSocket` (server role) over a [`Duplex`].
#[derive(Debug)]
pub struct TungsteniteReceive {
    ws: tungstenite::WebSocket<Duplex>,
    io: Duplex,
}

impl TungsteniteReceive {
    /// A server reading `wire` on every run.
    pub fn new(wire: &[u8]) -> Self {
        let io = Duplex::new(wire);
        let ws = tungstenite::WebSocket::from_raw_socket(
            io.clone(),
            TungsteniteRole::Server,
            Some(tungstenite_config()),
        );
        TungsteniteReceive { ws, io }
    }

    /// Reads `messages` messages; returns the payload bytes.
    pub fn run(&mut self, messages: usize) -> usize {
        self.io.rewind();
        let mut total = 0;
        for _ in 0..messages {
            match self.ws.read().expect("valid input") {
                Message::Binary(data) => total += black_box(data).len(),
                other => panic!("unexpected {other:?}"),
            }
        }
        total
    }
}

/// `tungstenite::WebSocket` (server role) over a [`Duplex`], echoing.
#[derive(Debug)]
pub struct TungsteniteEcho(TungsteniteReceive);

impl TungsteniteEcho {
    /// A server reading `wire` on every run.
    pub fn new(wire: &[u8]) -> Self {
        TungsteniteEcho(TungsteniteReceive::new(wire))
    }

    /// Echoes `messages` messages; returns the bytes sent.
    pub fn run(&mut self, messages: usize) -> usize {
        let TungsteniteReceive { ws, io } = &mut self.0;
        io.rewind();
        for _ in 0..messages {
            let message = ws.read().expect("valid input");
            assert!(message.is_binary(), "unexpected {message:?}");
            ws.send(message).expect("in-memory write");
        }
        io.output_len()
    }

    /// The bytes sent by the last run.
    pub fn output(&self) -> Vec<u8> {
        self.0.io.output()
    }
}

/// `fastwebsockets::WebSocket` (server role) over a [`Duplex`].
pub struct FastReceive {
    ws: fastwebsockets::WebSocket<Duplex>,
    io: Duplex,
}

impl FastReceive {
    /// A server reading `wire` on every run.
    pub fn new(wire: &[u8]) -> Self {
        let io = Duplex::new(wire);
        let mut ws = fastwebsockets::WebSocket::after_handshake(io.clone(), FastRole::Server);
        fastwebsockets_setup(&mut ws);
        FastReceive { ws, io }
    }

    /// Reads `frames` frames; returns the payload bytes.
    pub fn run(&mut self, frames: usize) -> usize {
        self.io.rewind();
        let ws = &mut self.ws;
        poll_ready(async move {
            let mut total = 0;
            for _ in 0..frames {
                let frame = ws.read_frame().await.expect("valid input");
                assert!(frame.fin && frame.opcode == OpCode::Binary);
                total += black_box(&frame.payload[..]).len();
            }
            total
        })
    }
}

/// `fastwebsockets::FragmentCollector` (server role) over a [`Duplex`],
/// echoing.
pub struct FastEcho {
    ws: FragmentCollector<Duplex>,
    io: Duplex,
}

impl FastEcho {
    /// A server reading `wire` on every run.
    pub fn new(wire: &[u8]) -> Self {
        let io = Duplex::new(wire);
        let mut ws = fastwebsockets::WebSocket::after_handshake(io.clone(), FastRole::Server);
        fastwebsockets_setup(&mut ws);
        FastEcho {
            ws: FragmentCollector::new(ws),
            io,
        }
    }

    /// Echoes `messages` messages; returns the bytes sent.
    pub fn run(&mut self, messages: usize) -> usize {
        self.io.rewind();
        let ws = &mut self.ws;
        poll_ready(async move {
            for _ in 0..messages {
                let frame = ws.read_frame().await.expect("valid input");
                assert!(frame.opcode == OpCode::Binary);
                ws.write_frame(frame).await.expect("in-memory write");
            }
        });
        self.io.output_len()
    }

    /// The bytes sent by the last run.
    pub fn output(&self) -> Vec<u8> {
        self.io.output()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{client_frames, expected_echo, POINTS};

    /// Every path reads the whole input, gets every payload, and the echoes
    /// are byte for byte what the client must receive, twice in a row (the
    /// benchmark reuses each path).
    #[test]
    fn paths_agree() {
        for point in POINTS {
            let (size, count) = (point.size, point.count());
            let wire = client_frames(size, count);
            let echo = expected_echo(size, count);
            let payload = point.payload_bytes();

            let mut frames = OursFrames::default();
            let mut receive = OursReceive::default();
            let mut ours = OursEcho::default();
            let mut tung_rx = TungsteniteReceive::new(&wire);
            let mut tung = TungsteniteEcho::new(&wire);
            let mut fast_rx = FastReceive::new(&wire);
            let mut fast = FastEcho::new(&wire);
            for _ in 0..2 {
                assert_eq!(frames.run(&wire), payload, "{}", point.label);
                assert_eq!(receive.run(&wire), payload, "{}", point.label);
                assert_eq!(tung_rx.run(count), payload, "{}", point.label);
                assert_eq!(fast_rx.run(count), payload, "{}", point.label);
                assert_eq!(tung_rx.io.unread() + fast_rx.io.unread(), 0);

                assert_eq!(ours.run(&wire), echo.len(), "{}", point.label);
                assert_eq!(tung.run(count), echo.len(), "{}", point.label);
                assert_eq!(fast.run(count), echo.len(), "{}", point.label);
                assert!(ours.output() == echo, "{}", point.label);
                assert!(tung.output() == echo, "{}", point.label);
                assert!(fast.output() == echo, "{}", point.label);
            }
        }
    }
}
