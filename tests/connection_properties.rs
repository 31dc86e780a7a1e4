//! Properties of the sans-I/O connection, for both roles:
//!
//! - any sequence of valid messages, fragmented anywhere (empty fragments and
//!   split characters included) with pings between fragments, fed in reads of
//!   any size, gives back exactly those messages, and a pong per ping;
//! - any bytes (alone, or after a valid prefix) never panic, never make the
//!   connection hold more than its limits plus one read, produce no event
//!   after an error or a close event, and never make it send a second close
//!   frame or anything after one.
//!
//! The regressions these properties found are pinned at the end.

use std::time::Duration;

use proptest::prelude::*;
use rfc6455::connection::{Config, Connection, Delivery, Event, MessageKind, State};
use rfc6455::frame::{decode_frame, DecodeRules, Frame, OpCode, Role, Status, MAX_HEADER_LEN};
use rfc6455::{CloseCode, CloseReason, Limits};

mod common;
use common::output::drain_into;

const T0: Duration = Duration::ZERO;

/// `n` cases per property, unless PROPTEST_CASES asks for another number
/// (e.g. a long run: `PROPTEST_CASES=50000 cargo test --release`).
fn cases(n: u32) -> ProptestConfig {
    let config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_some() {
        config
    } else {
        ProptestConfig { cases: n, ..config }
    }
}

// --- building input ---------------------------------------------------------

/// Encodes a frame exactly as given (rule-breaking ones included).
fn encode(fin: bool, rsv: u8, opcode: u8, key: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv & 0x70) | (opcode & 0x0f)];
    let m = if key.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(m | n as u8),
        n if n <= 0xffff => {
            out.push(m | 126);
            out.extend((n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend((n as u64).to_be_bytes());
        }
    }
    match key {
        None => out.extend_from_slice(payload),
        Some(k) => {
            out.extend(k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
    }
    out
}

/// A frame as a client sends it (masked).
fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut frame = Frame::new(opcode, payload).masked([0x0f, 0x1e, 0x2d, 0x3c]);
    frame.header.fin = fin;
    let mut out = Vec::new();
    frame.encode_to_vec(&mut out);
    out
}

/// Masking keys from a seed (any key will do; the peer picks them).
fn keys(seed: u32) -> impl FnMut() -> [u8; 4] {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x.to_le_bytes()
    }
}

fn connection(role: Role, config: Config) -> Connection {
    match role {
        Role::Server => Connection::server(config),
        Role::Client => Connection::client(config, Box::new(keys(7))),
    }
}

fn peer_of(role: Role) -> Role {
    match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    }
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

/// Feeds `wire` the way a driver reads a socket: each read fills at most
/// the room `read_buf` offers and at most the next chunk size (cycling
/// through `chunks`); after each read, `after_read` pulls events.
fn feed_in_reads(
    conn: &mut Connection,
    wire: &[u8],
    chunks: &[usize],
    mut after_read: impl FnMut(&mut Connection) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let mut at = 0;
    for &size in chunks.iter().cycle() {
        if at == wire.len() {
            break;
        }
        let mut chunk = &wire[at..wire.len().min(at + size)];
        at += chunk.len();
        while !chunk.is_empty() {
            let room = conn.read_buf();
            prop_assert!(!room.is_empty(), "read_buf offered no room");
            let n = room.len().min(chunk.len());
            room[..n].copy_from_slice(&chunk[..n]);
            conn.commit_read(n, T0);
            chunk = &chunk[n..];
            after_read(conn)?;
        }
    }
    Ok(())
}

/// Decodes what `role` sent, as its peer would: (opcode, fin, payload).
fn decode_all(
    role: Role,
    mut wire: Vec<u8>,
) -> Result<Vec<(OpCode, bool, Vec<u8>)>, TestCaseError> {
    let rules = DecodeRules {
        max_frame_size: u64::MAX,
        ..DecodeRules::new(peer_of(role))
    };
    let mut frames = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        match decode_frame(&mut wire[at..], &rules) {
            Ok(Status::Complete((f, used))) => {
                frames.push((f.header.opcode, f.header.fin, f.payload.to_vec()));
                at += used;
            }
            Ok(Status::Incomplete(_)) => return Err(TestCaseError::fail("output ends mid-frame")),
            Err(e) => return Err(TestCaseError::fail(format!("output does not decode: {e}"))),
        }
    }
    Ok(frames)
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Server), Just(Role::Client)]
}

/// Read sizes: mostly small, sometimes large.
fn chunks() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![4 => 1..24usize, 1 => 24..5000usize], 1..12)
}

// --- valid messages come back exactly -------------------------------------

/// A message and how it is sent: cut at `cuts` (payload offsets, sorted,
/// repeats and the ends allowed, giving empty fragments), with a ping
/// before any fragment.
#[derive(Debug, Clone)]
struct Planned {
    text: bool,
    data: Vec<u8>,
    cuts: Vec<usize>,
    pings: Vec<Option<Vec<u8>>>,
}

fn planned() -> impl Strategy<Value = Planned> {
    let text = ".{0,40}".prop_map(|s: String| (true, s.into_bytes()));
    let binary = prop::collection::vec(any::<u8>(), 0..200).prop_map(|b| (false, b));
    prop_oneof![text, binary]
        .prop_flat_map(|(text, data)| {
            let len = data.len();
            let cuts = prop::collection::vec(0..=len, 0..5);
            let pings = prop::collection::vec(
                prop::option::weighted(0.3, prop::collection::vec(any::<u8>(), 0..=125)),
                6,
            );
            (Just(text), Just(data), cuts, pings)
        })
        .prop_map(|(text, data, mut cuts, pings)| {
            cuts.sort_unstable();
            Planned {
                text,
                data,
                cuts,
                pings,
            }
        })
}

/// The wire bytes for `messages`, and the events they must produce.
fn plan_wire(role: Role, seed: u32, messages: &[Planned]) -> (Vec<u8>, Vec<Got>) {
    let mut key = keys(seed);
    let mut mask = || match role {
        Role::Server => Some(key()),
        Role::Client => None,
    };
    let (mut wire, mut events) = (Vec::new(), Vec::new());
    for m in messages {
        let bounds: Vec<usize> = std::iter::once(0)
            .chain(m.cuts.iter().copied())
            .chain(std::iter::once(m.data.len()))
            .collect();
        let pieces = bounds.len() - 1;
        for i in 0..pieces {
            if let Some(p) = &m.pings[i] {
                wire.extend(encode(true, 0, 0x9, mask(), p));
                events.push(Got::Ping(p.clone()));
            }
            let opcode = match (i, m.text) {
                (0, true) => 0x1,
                (0, false) => 0x2,
                _ => 0x0,
            };
            let piece = &m.data[bounds[i]..bounds[i + 1]];
            wire.extend(encode(i + 1 == pieces, 0, opcode, mask(), piece));
        }
        events.push(if m.text {
            Got::Text(String::from_utf8(m.data.clone()).expect("planned text is UTF-8"))
        } else {
            Got::Binary(m.data.clone())
        });
    }
    (wire, events)
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn valid_messages_come_back_exactly(
        role in role(),
        messages in prop::collection::vec(planned(), 0..8),
        seed in any::<u32>(),
        chunks in chunks(),
        read_chunk in prop_oneof![1..64usize, Just(16 << 10)],
    ) {
        let (wire, expected) = plan_wire(role, seed, &messages);
        let config = Config { read_chunk, ..Config::default() };
        let mut conn = connection(role, config);
        let mut events = Vec::new();
        let mut out = Vec::new();
        feed_in_reads(&mut conn, &wire, &chunks, |conn| {
            loop {
                match conn.next_event() {
                    Ok(Some(e)) => events.push(own(&e)),
                    Ok(None) => break,
                    Err(e) => return Err(TestCaseError::fail(format!("failed: {e}"))),
                }
                // Drained after every event, so each ping gets its own pong
                // (an unsent pong is replaced by a newer one).
                drain_into(conn, &mut out);
            }
            Ok(())
        })?;
        prop_assert_eq!(&events, &expected);
        let pongs: Vec<_> = decode_all(role, out)?
            .into_iter()
            .map(|(op, fin, payload)| {
                prop_assert_eq!((op, fin), (OpCode::Pong, true));
                Ok(Got::Ping(payload))
            })
            .collect::<Result<_, TestCaseError>>()?;
        let pings: Vec<_> = expected.iter().filter(|e| matches!(e, Got::Ping(_))).cloned().collect();
        prop_assert_eq!(pongs, pings);
        prop_assert_eq!(conn.state(), State::Open);
        prop_assert_eq!(conn.buffered_input_len(), 0);
    }
}

// --- arbitrary input --------------------------------------------------------

/// A frame with any header at all, leaning towards ones that get past the
/// first checks so the deeper rules and the limits are reached.
#[derive(Debug, Clone)]
enum Piece {
    Frame {
        fin: bool,
        rsv: u8,
        opcode: u8,
        right_masking: bool,
        payload: Vec<u8>,
    },
    Raw(Vec<u8>),
}

fn piece() -> impl Strategy<Value = Piece> {
    let opcode = prop_oneof![
        6 => prop::sample::select(vec![0u8, 1, 2, 8, 9, 10]),
        1 => 0..16u8,
    ];
    let payload = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..40),
        3 => ".{0,30}".prop_map(String::into_bytes),
        2 => (prop::sample::select(vec![1000u16, 1001, 1002, 1005, 3000, 4999, 5000, 0]), ".{0,10}")
            .prop_map(|(code, reason)| {
                let mut p = code.to_be_bytes().to_vec();
                p.extend(reason.into_bytes());
                p
            }),
        1 => prop::collection::vec(any::<u8>(), 100..700),
    ];
    let frame = (
        prop::bool::weighted(0.7),
        prop_oneof![9 => Just(0u8), 1 => prop::sample::select(vec![0x10u8, 0x20, 0x40])],
        opcode,
        prop::bool::weighted(0.95),
        payload,
    )
        .prop_map(|(fin, rsv, opcode, right_masking, payload)| Piece::Frame {
            fin,
            rsv,
            opcode,
            right_masking,
            payload,
        });
    prop_oneof![
        9 => frame,
        1 => prop::collection::vec(any::<u8>(), 0..20).prop_map(Piece::Raw),
    ]
}

fn pieces_wire(role: Role, seed: u32, pieces: &[Piece]) -> Vec<u8> {
    let mut key = keys(seed);
    let mut wire = Vec::new();
    for p in pieces {
        match p {
            Piece::Raw(bytes) => wire.extend_from_slice(bytes),
            Piece::Frame {
                fin,
                rsv,
                opcode,
                right_masking,
                payload,
            } => {
                let masked = (role == Role::Server) == *right_masking;
                let k = if masked { Some(key()) } else { None };
                wire.extend(encode(*fin, *rsv, *opcode, k, payload));
            }
        }
    }
    wire
}

fn small_config() -> impl Strategy<Value = Config> {
    (
        0..400u64,
        0..900u64,
        1..6u32,
        1..300usize,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(max_frame_size, max_message_size, max_fragments, read_chunk, frames, auto_pong)| {
                Config {
                    limits: Limits {
                        max_frame_size,
                        max_message_size,
                        max_fragments,
                        ..Limits::DEFAULT
                    },
                    auto_pong,
                    delivery: if frames {
                        Delivery::Frames
                    } else {
                        Delivery::Messages
                    },
                    read_chunk,
                }
            },
        )
}

/// Feeds `wire` and checks, after every read, the invariants that hold for
/// any input whatsoever.
fn check_any_input(
    role: Role,
    config: Config,
    wire: &[u8],
    chunks: &[usize],
) -> Result<(), TestCaseError> {
    let mut conn = connection(role, config);
    let limits = config.limits;
    // A frame being received (header and payload), one read of room (grown
    // while reads filled it), and
    // the assembly of a fragmented message. Nothing is sent but owed control
    // frames, which live inline, so the output queue holds no heap.
    let frame_room = MAX_HEADER_LEN
        + limits.max_frame_size as usize
        + config.read_chunk * rfc6455::connection::READ_CHUNK_GROWTH;
    // Input: one frame plus one read, and the assembly buffer. Output: the
    // (drained) queues keep their capacity: pongs up to the control queue's
    // cap and one close frame, each at most doubled by Vec growth.
    let output_room = 2 * (rfc6455::connection::MAX_CONTROL_QUEUE + 14 + 125);
    let heap_bound = frame_room + limits.max_message_size as usize + output_room;
    let mut ended: Option<String> = None;
    let mut out = Vec::new();
    let mut failure = None;
    feed_in_reads(&mut conn, wire, chunks, |conn| {
        loop {
            match conn.next_event() {
                Ok(Some(e)) => {
                    let got = own(&e);
                    if let Some(why) = &ended {
                        return Err(TestCaseError::fail(format!("{got:?} after {why}")));
                    }
                    if let Got::Close(..) = got {
                        ended = Some(format!("{got:?}"));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    if let Some(why) = &ended {
                        return Err(TestCaseError::fail(format!("error {e} after {why}")));
                    }
                    ended = Some(format!("error {e}"));
                    failure = Some(e);
                    break;
                }
            }
            drain_into(conn, &mut out);
        }
        drain_into(conn, &mut out);
        prop_assert!(
            conn.buffered_input_len() <= frame_room,
            "{} bytes buffered, bound {frame_room}",
            conn.buffered_input_len()
        );
        prop_assert!(
            conn.heap_bytes() <= heap_bound,
            "{} heap bytes, bound {heap_bound}",
            conn.heap_bytes()
        );
        Ok(())
    })?;
    let frames = decode_all(role, out)?;
    let closes: Vec<usize> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| f.0 == OpCode::Close)
        .map(|(i, _)| i)
        .collect();
    prop_assert!(closes.len() <= 1, "{} close frames sent", closes.len());
    if let Some(&i) = closes.first() {
        prop_assert_eq!(i + 1, frames.len(), "a frame was sent after the close");
    }
    if let Some(e) = failure {
        let code = frames
            .last()
            .filter(|f| f.0 == OpCode::Close)
            .map(|f| f.2.clone());
        prop_assert_eq!(
            code,
            Some(e.close_code().0.to_be_bytes().to_vec()).map(|mut c| {
                c.extend(e.reason().as_bytes());
                c
            })
        );
        prop_assert_eq!(conn.state(), State::Closed);
        prop_assert!(conn.should_close_transport());
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(1024))]

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_within_limits(
        role in role(),
        config in small_config(),
        wire in prop::collection::vec(any::<u8>(), 0..3000),
        chunks in chunks(),
    ) {
        check_any_input(role, config, &wire, &chunks)?;
    }

    #[test]
    fn arbitrary_frames_never_panic_and_stay_within_limits(
        role in role(),
        config in small_config(),
        pieces in prop::collection::vec(piece(), 0..24),
        seed in any::<u32>(),
        chunks in chunks(),
    ) {
        check_any_input(role, config, &pieces_wire(role, seed, &pieces), &chunks)?;
    }

    #[test]
    fn arbitrary_bytes_after_valid_messages(
        role in role(),
        messages in prop::collection::vec(planned(), 0..4),
        seed in any::<u32>(),
        tail in prop::collection::vec(any::<u8>(), 0..600),
        chunks in chunks(),
    ) {
        let (mut wire, _) = plan_wire(role, seed, &messages);
        wire.extend(tail);
        check_any_input(role, Config::default(), &wire, &chunks)?;
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
