//! Properties of the sans-I/O connection under arbitrary input, and the
//! regressions they found.

use std::time::Duration;

use rfc6455::connection::{Config, Connection, Event, State};
use rfc6455::frame::{Frame, OpCode};
use rfc6455::{CloseCode, CloseReason};

const T0: Duration = Duration::ZERO;

/// A frame as a client sends it (masked).
fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut frame = Frame::new(opcode, payload).masked([0x0f, 0x1e, 0x2d, 0x3c]);
    frame.header.fin = fin;
    let mut out = Vec::new();
    frame.encode_to_vec(&mut out);
    out
}

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
