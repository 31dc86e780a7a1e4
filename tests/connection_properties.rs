//! Properties of the sans-I/O connection, and the regressions they found.

use std::time::Duration;

use rfc6455::connection::{Config, Connection, Event, MessageKind, State};
use rfc6455::frame::{Frame, OpCode, MAX_HEADER_LEN};
use rfc6455::{CloseCode, CloseReason, Limits};

const T0: Duration = Duration::ZERO;

/// A frame as a client sends it (masked).
fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut frame = Frame::new(opcode, payload).masked([0x0f, 0x1e, 0x2d, 0x3c]);
    frame.header.fin = fin;
    let mut out = Vec::new();
    frame.encode_to_vec(&mut out);
    out
}

/// An event, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Fragment(MessageKind, Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

fn own(event: &Event<'_>) -> Got {
    match *event {
        Event::Text(t) => Got::Text(t.to_owned()),
        Event::Binary(b) => Got::Binary(b.to_vec()),
        Event::Fragment { kind, data, fin } => Got::Fragment(kind, data.to_vec(), fin),
        Event::Ping(p) => Got::Ping(p.to_vec()),
        Event::Pong(p) => Got::Pong(p.to_vec()),
        Event::Close { code, reason } => Got::Close(code.map(|c| c.0), reason.to_owned()),
    }
}

// --- regressions --------------------------------------------------------------

/// Found by `arbitrary_bytes_never_panic_and_stay_within_limits`: a driver
/// that keeps reading after the connection failed inside a frame (to drain
/// the socket before closing it) made the read buffer's compaction subtract
/// past zero, a panic in debug builds and garbage offsets in release ones.
#[test]
fn reading_on_after_failing_inside_a_frame() {
    let mut conn = Connection::server(Config::default());
    let mut wire = client_frame(true, OpCode::Text, &[b'a'; 1000]);
    wire[8] ^= 0xff; // the first payload byte becomes 0x9e: never valid UTF-8
    conn.receive(&wire[..12], T0);
    assert!(conn.next_event().is_err());
    for _ in 0..1000 {
        let room = conn.read_buf().len();
        conn.commit_read(room.min(100), T0);
        assert_eq!(conn.next_event(), Ok(None));
    }
    // Nothing is held for the dead frame any more.
    assert_eq!(conn.buffered_input_len(), 0);
    assert!(conn.release_idle_buffers().is_some());
}

/// After we send close, the peer's data is discarded, but its UTF-8 is still
/// checked across fragments. The validator was reset after every discarded
/// frame, so a character split across two discarded fragments failed the
/// connection with 1007 and the peer's close was never reported.
#[test]
fn discarded_fragments_may_split_a_character() {
    let mut conn = Connection::server(Config::default());
    conn.receive(&client_frame(false, OpCode::Text, b"a"), T0);
    assert_eq!(conn.next_event(), Ok(None));
    conn.close(CloseCode::GOING_AWAY, CloseReason::EMPTY)
        .unwrap();
    // "κ" is CE BA: the first discarded fragment ends inside it.
    let mut wire = client_frame(false, OpCode::Continuation, &[0xce]);
    wire.extend(client_frame(true, OpCode::Continuation, &[0xba]));
    wire.extend(client_frame(true, OpCode::Close, &1000u16.to_be_bytes()));
    conn.receive(&wire, T0);
    assert_eq!(
        conn.next_event(),
        Ok(Some(Event::Close {
            code: Some(CloseCode::NORMAL),
            reason: ""
        }))
    );
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(conn.error(), None);
}

/// Found by `arbitrary_frames_never_panic_and_stay_within_limits`: buffers
/// grew by `Vec`'s doubling, so a peer could make a connection hold up to
/// twice its limits: the read buffer grew to 2x (header + read) when a
/// header arrived a byte at a time, and the assembly buffer to 2x the
/// message limit when fragments arrived in uneven sizes.
#[test]
fn buffers_grow_no_further_than_the_limits() {
    // Read buffer: a header trickling in, one byte per read.
    let config = Config {
        limits: Limits {
            max_frame_size: 16,
            ..Limits::DEFAULT
        },
        read_chunk: 31,
        ..Config::default()
    };
    let mut conn = Connection::server(config);
    for b in client_frame(true, OpCode::Binary, &[7; 16]) {
        conn.read_buf()[0] = b;
        conn.commit_read(1, T0);
        while conn.next_event().unwrap().is_some() {}
        assert!(
            conn.heap_bytes() <= MAX_HEADER_LEN + 16 + 31,
            "{}",
            conn.heap_bytes()
        );
    }
    // Assembly buffer: 3 + 2 + 2 + 2 bytes of a 9-byte limit.
    let config = Config {
        limits: Limits {
            max_message_size: 9,
            ..Limits::DEFAULT
        },
        read_chunk: 1,
        ..Config::default()
    };
    let mut conn = Connection::server(config);
    let mut wire = client_frame(false, OpCode::Binary, &[1; 3]);
    for last in [false, false, true] {
        wire.extend(client_frame(last, OpCode::Continuation, &[2; 2]));
    }
    conn.receive(&wire, T0);
    let mut got = None;
    while let Some(e) = conn.next_event().unwrap() {
        got = Some(own(&e));
    }
    assert_eq!(got, Some(Got::Binary(vec![1, 1, 1, 2, 2, 2, 2, 2, 2])));
    // `receive` sized the read buffer for the whole input, so measure the
    // assembly alone: all heap bytes but the read buffer's.
    let total = conn.heap_bytes();
    let read_buf = conn.release_idle_buffers().map_or(0, |b| b.capacity());
    assert!(total - read_buf <= 9, "assembly holds {}", total - read_buf);
}
