//! Shared frames (a message encoded once for many connections) in a
//! connection's output queue:
//!
//! - a shared frame is the same bytes the connection would encode itself;
//! - any interleaving of own sends, shared frames, pings and pongs, drained
//!   by writes of any size through `output` or `output_vectored` (with a
//!   pong queued between handing out and consuming), gives a valid frame
//!   stream: every data message in the order it was sent, every control
//!   frame whole and in order;
//! - the output bound counts shared frames, and nothing follows a close;
//! - a run of shared frames is their bytes back to back, queued as one
//!   entry, all or none.

use std::io::IoSlice;

use proptest::prelude::*;
use rfc6455::connection::{Config, Connection, MessageKind, SendError, SharedFrame, SharedRun};
use rfc6455::frame::{decode_frame, ControlPayload, DecodeRules, OpCode, Role, Status};
use rfc6455::{CloseCode, CloseReason, Limits};

fn payload(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

/// Decodes frames sent by `sender` as its peer would: (opcode, payload).
fn decode_all(sender: Role, mut wire: Vec<u8>) -> Vec<(OpCode, Vec<u8>)> {
    let peer = match sender {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let rules = DecodeRules {
        role: peer,
        allowed_rsv: 0,
        max_frame_size: u64::MAX,
    };
    let mut frames = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        match decode_frame(&mut wire[at..], &rules) {
            Ok(Status::Complete((frame, used))) => {
                assert!(frame.header.fin, "every frame here is whole");
                frames.push((frame.header.opcode, frame.payload.to_vec()));
                at += used;
            }
            other => panic!("bad frame at {at}: {other:?}"),
        }
    }
    frames
}

#[test]
fn a_shared_frame_is_what_the_connection_would_send() {
    for len in [0, 1, 125, 126, 65535, 65536, 70000] {
        for kind in [MessageKind::Text, MessageKind::Binary] {
            let data = vec![b'a'; len];
            let frame = SharedFrame::new(kind, &data);
            let mut own = Connection::server(Config::default());
            own.send_message(kind, &data).unwrap();
            assert_eq!(frame.as_bytes(), own.output(), "{kind:?} {len}");
            assert_eq!(frame.payload(), &data[..]);
            assert_eq!(frame.kind(), kind);
            assert_eq!(frame.wire_len(), frame.as_bytes().len());
        }
    }
}

#[test]
fn a_client_masks_a_copy_of_a_shared_frame() {
    let frame = SharedFrame::new(MessageKind::Text, b"hello");
    let mut c = Connection::client(Config::default(), Box::new(|| [9, 8, 7, 6]));
    c.send_shared(&frame).unwrap();
    assert_eq!(c.queued_shared_frames(), 0, "copied, not referenced");
    let wire = c.output().to_vec();
    assert_eq!(
        decode_all(Role::Client, wire),
        [(OpCode::Text, b"hello".to_vec())]
    );
}

/// A connection's configuration with at most 1,000 bytes of output.
fn bounded() -> Config {
    Config {
        limits: Limits {
            max_output_buffer: 1000,
            ..Limits::default()
        },
        ..Config::default()
    }
}

#[test]
fn the_output_bound_counts_shared_frames() {
    let config = bounded();
    let mut c = Connection::server(config);
    let frame = SharedFrame::new(MessageKind::Binary, &[0; 300]);
    let mut queued = 0;
    while c.send_shared(&frame).is_ok() {
        queued += 1;
    }
    assert_eq!(
        queued, 2,
        "two of 304 bytes plus overhead fit in 1000, three do not"
    );
    assert_eq!(c.send_binary(&[0; 400]), Err(SendError::Full));
    assert_eq!(c.pending_output_len(), 2 * frame.wire_len());
}

#[test]
fn nothing_follows_a_close_and_the_close_goes_last() {
    let mut c = Connection::server(Config::default());
    let frame = SharedFrame::new(MessageKind::Text, b"news");
    c.send_shared(&frame).unwrap();
    c.send_text("mine").unwrap();
    c.send_shared(&frame).unwrap();
    c.close(CloseCode::NORMAL, CloseReason::truncate("bye"))
        .unwrap();
    assert_eq!(c.send_shared(&frame), Err(SendError::Closed));
    let mut wire = Vec::new();
    while !c.is_close_written() {
        let out = c.output();
        assert!(
            !out.is_empty(),
            "output ran dry before the close was written"
        );
        // One byte at a time: the hardest split.
        wire.push(out[0]);
        c.consume_output(1);
    }
    assert!(!c.has_output());
    let frames = decode_all(Role::Server, wire);
    let opcodes: Vec<OpCode> = frames.iter().map(|f| f.0).collect();
    assert_eq!(
        opcodes,
        [OpCode::Text, OpCode::Text, OpCode::Text, OpCode::Close]
    );
    assert_eq!(frames[1].1, b"mine");
}

#[test]
fn a_run_is_its_frames_back_to_back_in_one_entry() {
    let frames = [
        SharedFrame::new(MessageKind::Text, b"one"),
        SharedFrame::new(MessageKind::Binary, &payload(2, 300)),
        SharedFrame::new(MessageKind::Text, b""),
    ];
    let run = SharedRun::new(&frames);
    let joined: Vec<u8> = frames.iter().flat_map(|f| f.as_bytes()).copied().collect();
    assert_eq!(run.as_bytes(), &joined[..]);
    assert_eq!(run.wire_len(), joined.len());
    assert_eq!(run.frames(), &frames[..]);

    let mut c = Connection::server(Config::default());
    c.send_text("before").unwrap();
    c.send_shared_run(&run).unwrap();
    c.send_text("after").unwrap();
    assert_eq!(c.queued_shared_frames(), 1, "one entry for the run");
    let got = decode_all(Role::Server, drain(&mut c, 4));
    let want = [
        (OpCode::Text, b"before".to_vec()),
        (OpCode::Text, b"one".to_vec()),
        (OpCode::Binary, payload(2, 300)),
        (OpCode::Text, Vec::new()),
        (OpCode::Text, b"after".to_vec()),
    ];
    assert_eq!(got, want);

    let mut c = Connection::server(Config::default());
    c.send_shared_run(&SharedRun::new(&[])).unwrap();
    assert!(!c.has_output(), "an empty run sends nothing");
    c.send_fragment(MessageKind::Text, b"half", false).unwrap();
    assert_eq!(c.send_shared_run(&run), Err(SendError::FragmentOpen));
}

#[test]
fn a_client_masks_each_message_of_a_run() {
    let frames = [
        SharedFrame::new(MessageKind::Text, b"hello"),
        SharedFrame::new(MessageKind::Binary, &payload(1, 200)),
    ];
    let mut c = Connection::client(Config::default(), Box::new(|| [1, 2, 3, 4]));
    c.send_shared_run(&SharedRun::new(&frames)).unwrap();
    assert_eq!(c.queued_shared_frames(), 0, "copied, not referenced");
    let wire = c.output().to_vec();
    assert_eq!(
        decode_all(Role::Client, wire),
        [
            (OpCode::Text, b"hello".to_vec()),
            (OpCode::Binary, payload(1, 200))
        ]
    );
}

#[test]
fn a_run_is_queued_whole_or_not_at_all() {
    let config = bounded();
    let frame = SharedFrame::new(MessageKind::Binary, &[0; 300]);
    let run = SharedRun::new(&[frame.clone(), frame.clone(), frame.clone()]);
    for role in [Role::Server, Role::Client] {
        let mut c = match role {
            Role::Server => Connection::server(config),
            Role::Client => Connection::client(config, Box::new(|| [7; 4])),
        };
        c.send_binary(&[0; 100]).unwrap();
        let before = c.pending_output_len();
        assert_eq!(c.send_shared_run(&run), Err(SendError::Full), "{role:?}");
        assert_eq!(c.pending_output_len(), before, "{role:?}: nothing queued");
        let two = SharedRun::new(&[frame.clone(), frame.clone()]);
        c.send_shared_run(&two).unwrap();
        assert!(
            c.pending_output_len() >= before + two.wire_len(),
            "{role:?}"
        );
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// An own message of this length.
    Send(usize),
    /// One of the shared frames (index into the pool).
    Shared(usize),
    /// A run of the pool's frames from the first index to the second.
    Run(usize, usize),
    Ping(u8),
    Pong(u8),
    /// Write at most this many bytes, vectored into at most `iov` slices
    /// (0: through `output`), then queue a pong before consuming if asked.
    Write {
        max: usize,
        iov: usize,
        pong_between: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop_oneof![0usize..20, 100usize..300, 65530usize..65540].prop_map(Op::Send),
        3 => (0usize..4).prop_map(Op::Shared),
        2 => (0usize..4, 0usize..4).prop_map(|(a, b)| Op::Run(a.min(b), a.max(b))),
        1 => any::<u8>().prop_map(Op::Ping),
        1 => any::<u8>().prop_map(Op::Pong),
        4 => (1usize..4000, 0usize..5, any::<bool>())
            .prop_map(|(max, iov, pong_between)| Op::Write { max, iov, pong_between }),
    ]
}

/// What the peer should see, data and control apart.
#[derive(Default)]
struct Expected {
    data: Vec<(OpCode, Vec<u8>)>,
    control: Vec<(OpCode, Vec<u8>)>,
}

/// Hands out at most `max` bytes the way a write would take them, and
/// returns them (not yet consumed).
fn hand_out(c: &mut Connection, max: usize, iov: usize) -> Vec<u8> {
    let mut taken = Vec::new();
    if iov == 0 {
        let out = c.output();
        taken.extend_from_slice(&out[..out.len().min(max)]);
    } else {
        let mut slices = vec![IoSlice::new(&[]); iov];
        let n = c.output_vectored(&mut slices);
        for s in &slices[..n] {
            let room = max - taken.len();
            taken.extend_from_slice(&s[..s.len().min(room)]);
        }
    }
    taken
}

/// Everything left, written whole through `iov` slices at a time.
fn drain(c: &mut Connection, iov: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    loop {
        let taken = hand_out(c, usize::MAX, iov);
        if taken.is_empty() {
            return wire;
        }
        c.consume_output(taken.len());
        wire.extend_from_slice(&taken);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_interleaving_gives_a_valid_stream_in_order(ops in prop::collection::vec(op(), 1..60)) {
        let pool: Vec<SharedFrame> = (0..4)
            .map(|i| {
                let len = [0, 7, 200, 70_000][i];
                let kind = if i % 2 == 0 { MessageKind::Text } else { MessageKind::Binary };
                let data = if kind == MessageKind::Text { vec![b'p' + i as u8; len] } else { payload(i as u8, len) };
                SharedFrame::new(kind, &data)
            })
            .collect();
        let mut c = Connection::server(Config::default());
        let mut wire = Vec::new();
        let mut expected = Expected::default();
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Send(len) => {
                    let data = payload(i as u8, len);
                    c.send_binary(&data).unwrap();
                    expected.data.push((OpCode::Binary, data));
                }
                Op::Shared(k) => {
                    let frame = &pool[k];
                    c.send_shared(frame).unwrap();
                    let opcode = if frame.kind() == MessageKind::Text { OpCode::Text } else { OpCode::Binary };
                    expected.data.push((opcode, frame.payload().to_vec()));
                }
                Op::Run(a, b) => {
                    c.send_shared_run(&SharedRun::new(&pool[a..=b])).unwrap();
                    for frame in &pool[a..=b] {
                        let opcode = if frame.kind() == MessageKind::Text { OpCode::Text } else { OpCode::Binary };
                        expected.data.push((opcode, frame.payload().to_vec()));
                    }
                }
                Op::Ping(b) => {
                    c.ping(ControlPayload::new(&[b; 3]).unwrap()).unwrap();
                    expected.control.push((OpCode::Ping, vec![b; 3]));
                }
                Op::Pong(b) => {
                    c.pong(ControlPayload::new(&[b]).unwrap()).unwrap();
                    expected.control.push((OpCode::Pong, vec![b]));
                }
                Op::Write { max, iov, pong_between } => {
                    let before = c.pending_output_len();
                    let taken = hand_out(&mut c, max, iov);
                    if pong_between {
                        c.pong(ControlPayload::new(b"between").unwrap()).unwrap();
                        expected.control.push((OpCode::Pong, b"between".to_vec()));
                    }
                    let added = if pong_between { 9 } else { 0 };
                    c.consume_output(taken.len());
                    prop_assert_eq!(c.pending_output_len(), before + added - taken.len());
                    wire.extend_from_slice(&taken);
                }
            }
        }
        // Drain the rest, vectored.
        wire.extend(drain(&mut c, 8));
        prop_assert_eq!(c.pending_output_len(), 0);
        prop_assert_eq!(c.queued_shared_frames(), 0);
        let frames = decode_all(Role::Server, wire);
        let (control, data): (Vec<_>, Vec<_>) = frames
            .into_iter()
            .partition(|(op, _)| matches!(op, OpCode::Ping | OpCode::Pong));
        prop_assert_eq!(data, expected.data);
        prop_assert_eq!(control, expected.control);
    }
}
