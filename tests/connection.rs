//! Behaviour of the sans-I/O connection, rule by rule.

use std::num::NonZeroUsize;
use std::time::Duration;

use rfc6455::close::{ClosePayload, CloseReason};
use rfc6455::connection::{
    Config, Connection, Delivery, Event, Initiator, MessageKind, SendError, State,
};
use rfc6455::frame::{
    decode_frame, ControlPayload, DecodeRules, Frame, FrameHeader, OpCode, Role, Status,
};
use rfc6455::{CloseCode, Limits, ProtocolError};

mod common;

const T0: Duration = Duration::ZERO;

/// Encodes a frame as a client would send it (masked).
fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut frame = Frame::new(opcode, payload).masked([0x12, 0x34, 0x56, 0x78]);
    frame.header.fin = fin;
    let mut out = Vec::new();
    frame.encode_to_vec(&mut out);
    out
}

/// An owned copy of an event, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Fragment(MessageKind, Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

fn own(event: Event<'_>) -> Got {
    match event {
        Event::Text(t) => Got::Text(t.to_owned()),
        Event::Binary(b) => Got::Binary(b.to_vec()),
        Event::Fragment { kind, data, fin } => Got::Fragment(kind, data.to_vec(), fin),
        Event::Ping(p) => Got::Ping(p.to_vec()),
        Event::Pong(p) => Got::Pong(p.to_vec()),
        Event::Close { code, reason } => Got::Close(code.map(|c| c.0), reason.to_owned()),
    }
}

/// Feeds `bytes` and collects events until more input is needed or an error.
fn feed(conn: &mut Connection, bytes: &[u8]) -> (Vec<Got>, Option<ProtocolError>) {
    conn.receive(bytes, T0);
    drain_events(conn)
}

fn drain_events(conn: &mut Connection) -> (Vec<Got>, Option<ProtocolError>) {
    let mut got = Vec::new();
    loop {
        match conn.next_event() {
            Ok(Some(e)) => got.push(own(e)),
            Ok(None) => return (got, None),
            Err(e) => return (got, Some(e)),
        }
    }
}

/// Drains the connection's output and decodes it as the peer would.
fn sent_frames(conn: &mut Connection) -> Vec<(OpCode, bool, Vec<u8>)> {
    let mut wire = common::output::drain(conn);
    let peer = match conn.role() {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let rules = DecodeRules {
        max_frame_size: u64::MAX,
        ..DecodeRules::new(peer)
    };
    let mut frames = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        match decode_frame(&mut wire[at..], &rules).expect("our output decodes") {
            Status::Complete((f, used)) => {
                frames.push((f.header.opcode, f.header.fin, f.payload.to_vec()));
                at += used;
            }
            Status::Incomplete(_) => panic!("truncated output"),
        }
    }
    frames
}

fn close_code_sent(conn: &mut Connection) -> Option<u16> {
    sent_frames(conn)
        .into_iter()
        .find(|(op, _, _)| *op == OpCode::Close)
        .map(|(_, _, p)| ClosePayload::parse(&p).unwrap().code.map_or(1005, |c| c.0))
}

fn server() -> Connection {
    Connection::server(Config::default())
}

#[test]
fn single_frame_messages_arrive_whole() {
    let mut c = server();
    let mut wire = client_frame(true, OpCode::Text, "héllo".as_bytes());
    wire.extend(client_frame(true, OpCode::Binary, &[0, 1, 2, 255]));
    wire.extend(client_frame(true, OpCode::Text, b""));
    let (got, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    assert_eq!(
        got,
        [
            Got::Text("héllo".into()),
            Got::Binary(vec![0, 1, 2, 255]),
            Got::Text(String::new())
        ]
    );
}

#[test]
fn byte_at_a_time_gives_the_same_events() {
    let mut wire = client_frame(false, OpCode::Text, "Hel".as_bytes());
    wire.extend(client_frame(true, OpCode::Ping, b"p"));
    wire.extend(client_frame(true, OpCode::Continuation, "lo €".as_bytes()));
    wire.extend(client_frame(true, OpCode::Binary, &[7; 300]));
    let mut c = server();
    let mut got = Vec::new();
    for b in &wire {
        let (g, err) = feed(&mut c, std::slice::from_ref(b));
        assert_eq!(err, None);
        got.extend(g);
    }
    assert_eq!(
        got,
        [
            Got::Ping(b"p".to_vec()),
            Got::Text("Hello €".into()),
            Got::Binary(vec![7; 300])
        ]
    );
}

#[test]
fn control_frames_between_fragments_are_delivered_at_once() {
    let mut c = server();
    let (got, _) = feed(&mut c, &client_frame(false, OpCode::Binary, b"ab"));
    assert!(got.is_empty());
    let (got, _) = feed(&mut c, &client_frame(true, OpCode::Ping, b"x"));
    assert_eq!(got, [Got::Ping(b"x".to_vec())]);
    let (got, _) = feed(&mut c, &client_frame(true, OpCode::Continuation, b"cd"));
    assert_eq!(got, [Got::Binary(b"abcd".to_vec())]);
}

#[test]
fn continuation_rules_fail_with_1002() {
    let mut c = server();
    let (_, err) = feed(&mut c, &client_frame(true, OpCode::Continuation, b"x"));
    assert_eq!(err, Some(ProtocolError::UnexpectedContinuation));
    assert_eq!(close_code_sent(&mut c), Some(1002));

    let mut c = server();
    let mut wire = client_frame(false, OpCode::Text, b"a");
    wire.extend(client_frame(true, OpCode::Text, b"b"));
    let (got, err) = feed(&mut c, &wire);
    assert!(got.is_empty());
    assert_eq!(err, Some(ProtocolError::ExpectedContinuation));
    assert_eq!(close_code_sent(&mut c), Some(1002));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.close_initiator(), Some(Initiator::Local));
}

#[test]
fn no_event_after_an_error() {
    let mut c = server();
    let mut wire = client_frame(true, OpCode::Continuation, b"x");
    wire.extend(client_frame(true, OpCode::Text, b"after"));
    let (got, err) = feed(&mut c, &wire);
    assert!(got.is_empty() && err.is_some());
    let (got, err) = feed(&mut c, &client_frame(true, OpCode::Text, b"more"));
    assert_eq!((got, err), (vec![], None));
    assert!(c.should_close_transport() || c.has_output());
}

fn limited(limits: Limits) -> Connection {
    Connection::server(Config {
        limits,
        ..Config::default()
    })
}

#[test]
fn frame_limit_is_enforced_from_the_header() {
    let mut c = limited(Limits {
        max_frame_size: 100,
        ..Limits::DEFAULT
    });
    let wire = client_frame(true, OpCode::Binary, &[0; 101]);
    // Only the header is fed: the error comes before any payload.
    let (_, err) = feed(&mut c, &wire[..8]);
    assert_eq!(
        err,
        Some(ProtocolError::Frame(rfc6455::FrameError::FrameTooLarge))
    );
    assert_eq!(close_code_sent(&mut c), Some(1009));
}

#[test]
fn message_limit_counts_all_fragments() {
    let mut c = limited(Limits {
        max_message_size: 10,
        ..Limits::DEFAULT
    });
    let mut wire = client_frame(false, OpCode::Binary, &[1; 6]);
    wire.extend(client_frame(true, OpCode::Continuation, &[2; 5]));
    let (_, err) = feed(&mut c, &wire[..wire.len() - 5]);
    assert_eq!(err, Some(ProtocolError::MessageTooLarge));
    assert_eq!(close_code_sent(&mut c), Some(1009));
}

#[test]
fn fragment_count_is_capped_including_empty_ones() {
    let mut c = limited(Limits {
        max_fragments: 3,
        ..Limits::DEFAULT
    });
    let mut wire = client_frame(false, OpCode::Binary, b"");
    wire.extend(client_frame(false, OpCode::Continuation, b""));
    wire.extend(client_frame(false, OpCode::Continuation, b""));
    wire.extend(client_frame(true, OpCode::Continuation, b""));
    let (_, err) = feed(&mut c, &wire);
    assert_eq!(err, Some(ProtocolError::TooManyFragments));
    assert_eq!(close_code_sent(&mut c), Some(1009));
}

#[test]
fn invalid_utf8_fails_fast_inside_a_fragment() {
    // Fragment one is fine, fragment two holds an impossible sequence and
    // is not final: the error comes before the message ends.
    let mut c = server();
    let mut wire = client_frame(false, OpCode::Text, "κόσμε".as_bytes());
    wire.extend(client_frame(
        false,
        OpCode::Continuation,
        &[0xce, 0xba, 0xed, 0xa0, 0x80],
    ));
    let (_, err) = feed(&mut c, &wire);
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
    assert_eq!(close_code_sent(&mut c), Some(1007));
}

#[test]
fn invalid_utf8_fails_fast_inside_a_frame_arriving_in_pieces() {
    let mut c = server();
    let mut payload = b"valid ".to_vec();
    payload.extend([0xf4, 0x90, 0x80, 0x80]);
    payload.extend(b"more text to come");
    let wire = client_frame(true, OpCode::Text, &payload);
    let header_len = wire.len() - payload.len();
    let (_, err) = feed(&mut c, &wire[..header_len + 3]);
    assert_eq!(err, None);
    // The next piece holds 0xf4 0x90: never valid, fail now.
    let (_, err) = feed(&mut c, &wire[header_len + 3..header_len + 8]);
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
}

#[test]
fn text_ending_inside_a_character_fails() {
    let mut c = server();
    let mut wire = client_frame(false, OpCode::Text, b"ok");
    wire.extend(client_frame(true, OpCode::Continuation, &[0xe2, 0x82]));
    let (_, err) = feed(&mut c, &wire);
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
}

#[test]
fn a_received_close_is_echoed_and_ends_events() {
    let mut c = server();
    let mut payload = 1001u16.to_be_bytes().to_vec();
    payload.extend(b"bye");
    let mut wire = client_frame(true, OpCode::Close, &payload);
    wire.extend(client_frame(true, OpCode::Text, b"late"));
    let (got, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    assert_eq!(got, [Got::Close(Some(1001), "bye".into())]);
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.close_initiator(), Some(Initiator::Remote));
    assert_eq!(c.peer_close(), Some((CloseCode::GOING_AWAY, "bye")));
    assert!(!c.should_close_transport(), "the echo is not written yet");
    assert_eq!(close_code_sent(&mut c), Some(1001));
    assert!(c.should_close_transport());
    assert_eq!(c.send_text("no"), Err(SendError::Closed));
}

#[test]
fn an_empty_close_is_answered_with_1000() {
    let mut c = server();
    let (got, _) = feed(&mut c, &client_frame(true, OpCode::Close, b""));
    assert_eq!(got, [Got::Close(None, String::new())]);
    assert_eq!(close_code_sent(&mut c), Some(1000));
    assert_eq!(c.peer_close(), Some((CloseCode::NO_STATUS, "")));
}

#[test]
fn bad_close_payloads_fail_with_their_codes() {
    let cases: [(&[u8], u16); 5] = [
        (&[0x03], 1002),
        (&[0x03, 0xed], 1002),                   // 1005 may not be sent
        (&[0x03, 0xe7], 1002),                   // 999
        (&[0x13, 0x88], 1002),                   // 5000
        (&[0x03, 0xe8, 0xce, 0xba, 0xff], 1007), // bad reason
    ];
    for (payload, code) in cases {
        let mut c = server();
        let (got, err) = feed(&mut c, &client_frame(true, OpCode::Close, payload));
        assert!(got.is_empty(), "{payload:x?}");
        assert!(err.is_some(), "{payload:x?}");
        assert_eq!(close_code_sent(&mut c), Some(code), "{payload:x?}");
    }
}

#[test]
fn local_close_then_peer_close() {
    let mut c = server();
    c.send_text("last words").unwrap();
    c.close(CloseCode::GOING_AWAY, CloseReason::new("shutdown").unwrap())
        .unwrap();
    assert_eq!(c.state(), State::Closing);
    assert_eq!(c.close_initiator(), Some(Initiator::Local));
    assert_eq!(
        c.close(CloseCode::NORMAL, CloseReason::EMPTY),
        Err(SendError::Closed)
    );
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 2);
    assert_eq!(
        frames[0].0,
        OpCode::Text,
        "data queued before the close goes first"
    );
    assert_eq!(frames[1].0, OpCode::Close);
    assert!(c.is_close_written());
    // Data from the peer after our close is ignored; its close completes.
    let mut wire = client_frame(true, OpCode::Text, b"ignored");
    wire.extend(client_frame(true, OpCode::Close, &1001u16.to_be_bytes()));
    let (got, _) = feed(&mut c, &wire);
    assert_eq!(got, [Got::Close(Some(1001), String::new())]);
    assert_eq!(c.state(), State::Closed);
    assert!(
        sent_frames(&mut c).is_empty(),
        "a second close is never sent"
    );
    assert!(c.should_close_transport());
}

#[test]
fn close_codes_that_may_not_be_sent_are_refused() {
    let mut c = server();
    for code in [1004, 1005, 1006, 1015, 999, 5000] {
        assert_eq!(
            c.close(CloseCode(code), CloseReason::EMPTY),
            Err(SendError::InvalidCloseCode)
        );
    }
}

#[test]
fn pongs_jump_queued_data_at_a_frame_boundary() {
    let mut c = server();
    c.send_binary(&[1; 1000]).unwrap();
    c.send_binary(&[2; 1000]).unwrap();
    // Part of the first frame goes out, then two pings arrive.
    let first = c.output().len();
    assert!(
        first > 2000,
        "consecutive data frames come out as one slice"
    );
    c.consume_output(10);
    let mut wire = client_frame(true, OpCode::Ping, b"one");
    wire.extend(client_frame(true, OpCode::Ping, b"two"));
    let (got, _) = feed(&mut c, &wire);
    assert_eq!(
        got,
        [Got::Ping(b"one".to_vec()), Got::Ping(b"two".to_vec())]
    );
    // The rest of the frame in flight comes first, then both pongs.
    assert_eq!(c.output().len(), 1004 - 10);
    c.consume_output(994);
    assert_eq!(
        c.output(),
        &[0x8a, 3, b'o', b'n', b'e', 0x8a, 3, b't', b'w', b'o']
    );
    c.consume_output(10);
    let rest = sent_frames(&mut c);
    assert_eq!(rest, [(OpCode::Binary, true, vec![2; 1000])]);
}

#[test]
fn a_ping_flood_costs_bounded_memory_and_the_newest_pong_survives() {
    let mut c = server();
    for i in 0..10_000u32 {
        let payload = [i.to_be_bytes().as_slice(), &[0; 100]].concat();
        feed(&mut c, &client_frame(true, OpCode::Ping, &payload));
        assert!(c.pending_output_len() <= rfc6455::connection::MAX_CONTROL_QUEUE);
    }
    let frames = sent_frames(&mut c);
    assert!(frames.iter().all(|f| f.0 == OpCode::Pong));
    let last = &frames.last().unwrap().2;
    assert_eq!(&last[..4], &9_999u32.to_be_bytes());
}

/// The owed pongs make room for a new one among themselves: a ping the
/// application queued (and was told was accepted) is not thrown out.
#[test]
fn a_ping_flood_does_not_drop_the_applications_own_ping() {
    let mut c = server();
    c.send_binary(&[0; 1000]).unwrap();
    // A frame under way holds the pings and pongs back.
    let out = c.output().len();
    c.consume_output(out - 1);
    c.ping(ControlPayload::new(b"mine").unwrap()).unwrap();
    for i in 0..100u8 {
        feed(&mut c, &client_frame(true, OpCode::Ping, &[i; 125]));
        assert!(c.pending_output_len() <= 1 + rfc6455::connection::MAX_CONTROL_QUEUE);
    }
    let wire = common::output::drain(&mut c);
    let ping = [0x89, 4, b'm', b'i', b'n', b'e'];
    assert!(
        wire.windows(ping.len()).any(|w| w == ping),
        "our ping was dropped"
    );
    // The newest ping is still answered.
    let pong: Vec<u8> = [&[0x8a, 125][..], &[99; 125]].concat();
    assert!(wire.ends_with(&pong));
    // Pings alone cannot fill the queue: a pong always fits.
    let mut c = server();
    while c.ping(ControlPayload::new(&[7; 125]).unwrap()).is_ok() {}
    let before = c.pending_output_len();
    feed(&mut c, &client_frame(true, OpCode::Ping, &[1; 125]));
    assert_eq!(c.pending_output_len(), before + 127);
}

#[test]
fn pongs_are_never_answered_and_auto_pong_can_be_off() {
    let mut c = server();
    let (got, _) = feed(&mut c, &client_frame(true, OpCode::Pong, b"p"));
    assert_eq!(got, [Got::Pong(b"p".to_vec())]);
    assert!(!c.has_output());

    let mut c = Connection::server(Config {
        auto_pong: false,
        ..Config::default()
    });
    let (got, _) = feed(&mut c, &client_frame(true, OpCode::Ping, b"p"));
    assert_eq!(got, [Got::Ping(b"p".to_vec())]);
    assert!(!c.has_output());
}

#[test]
fn output_bound_refuses_data_but_not_owed_replies() {
    let mut c = limited(Limits {
        max_output_buffer: 1000,
        ..Limits::DEFAULT
    });
    c.send_binary(&[0; 900]).unwrap();
    assert_eq!(c.send_binary(&[0; 200]), Err(SendError::Full));
    assert_eq!(c.pending_output_len(), 904);
    feed(&mut c, &client_frame(true, OpCode::Ping, &[9; 125]));
    assert_eq!(c.pending_output_len(), 904 + 127);
    let frames = sent_frames(&mut c);
    assert_eq!(
        frames[0].0,
        OpCode::Pong,
        "owed pong goes first at a boundary"
    );
    assert_eq!(frames[1].2.len(), 900);
    c.send_binary(&[0; 200]).unwrap();
}

#[test]
fn owed_close_follows_data_already_queued() {
    // Echoes of messages received before the close (or before a bad frame)
    // are not lost: the owed close goes last.
    let mut c = server();
    c.send_binary(&[1; 100]).unwrap();
    c.send_binary(&[2; 100]).unwrap();
    assert_eq!(c.output().len(), 204);
    c.consume_output(50);
    feed(
        &mut c,
        &client_frame(true, OpCode::Close, &1000u16.to_be_bytes()),
    );
    let mut wire = Vec::new();
    while !c.output().is_empty() {
        let out = c.output().to_vec();
        c.consume_output(out.len());
        wire.extend(out);
    }
    assert_eq!(wire.len(), 154 + 4);
    assert!(wire[..52].iter().all(|&b| b == 1));
    assert_eq!(&wire[154..], &[0x88, 0x02, 0x03, 0xe8]);
    assert!(c.is_close_written());

    let mut c = server();
    let mut input = client_frame(true, OpCode::Text, b"ok");
    input.extend(client_frame(true, OpCode::Continuation, b"bad"));
    c.receive(&input, T0);
    c.next_event_with(|e, tx| match e {
        Event::Text(t) => tx.send_text(t).unwrap(),
        other => panic!("{other:?}"),
    })
    .unwrap();
    assert!(c.next_event().is_err());
    let frames = sent_frames(&mut c);
    assert_eq!(frames[0], (OpCode::Text, true, b"ok".to_vec()));
    assert_eq!(frames[1].0, OpCode::Close);
}

#[test]
fn fragmented_sends_and_streaming_sends() {
    let mut c = server();
    c.send_message_fragmented(
        MessageKind::Text,
        "abcdefg".as_bytes(),
        NonZeroUsize::new(3).unwrap(),
    )
    .unwrap();
    let frames = sent_frames(&mut c);
    assert_eq!(
        frames,
        [
            (OpCode::Text, false, b"abc".to_vec()),
            (OpCode::Continuation, false, b"def".to_vec()),
            (OpCode::Continuation, true, b"g".to_vec()),
        ]
    );
    c.send_fragment(MessageKind::Binary, b"a", false).unwrap();
    assert_eq!(c.send_binary(b"x"), Err(SendError::FragmentOpen));
    c.ping(ControlPayload::new(b"mid").unwrap()).unwrap();
    c.send_fragment(MessageKind::Binary, b"b", true).unwrap();
    let frames = sent_frames(&mut c);
    let ops: Vec<_> = frames.iter().map(|f| f.0).collect();
    assert_eq!(ops, [OpCode::Ping, OpCode::Binary, OpCode::Continuation]);
}

#[test]
fn streaming_delivery_hands_out_fragments() {
    let mut c = Connection::server(Config {
        delivery: Delivery::Frames,
        ..Config::default()
    });
    let mut wire = client_frame(false, OpCode::Text, "ab".as_bytes());
    wire.extend(client_frame(true, OpCode::Continuation, "c".as_bytes()));
    wire.extend(client_frame(true, OpCode::Binary, b"whole"));
    let (got, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    assert_eq!(
        got,
        [
            Got::Fragment(MessageKind::Text, b"ab".to_vec(), false),
            Got::Fragment(MessageKind::Text, b"c".to_vec(), true),
            Got::Binary(b"whole".to_vec()),
        ]
    );
}

#[test]
fn client_masks_with_supplied_keys_and_rejects_masked_input() {
    let mut counter = 0u8;
    let mut c = Connection::client(
        Config::default(),
        Box::new(move || {
            counter += 1;
            [counter; 4]
        }),
    );
    c.send_text("hi").unwrap();
    c.send_text("hi").unwrap();
    let out = c.output().to_vec();
    assert_eq!(&out[..6], &[0x81, 0x82, 1, 1, 1, 1]);
    assert_eq!(&out[6..8], &[b'h' ^ 1, b'i' ^ 1]);
    assert_eq!(&out[8..14], &[0x81, 0x82, 2, 2, 2, 2]);
    // A server's frames are unmasked; a masked one fails the connection.
    let (_, err) = feed(&mut c, &client_frame(true, OpCode::Text, b"x"));
    assert_eq!(
        err,
        Some(ProtocolError::Frame(rfc6455::FrameError::MaskedFrame))
    );
}

#[test]
fn server_requires_masked_frames() {
    let mut c = server();
    let mut wire = Vec::new();
    Frame::new(OpCode::Text, b"x").encode_to_vec(&mut wire);
    let (_, err) = feed(&mut c, &wire);
    assert_eq!(
        err,
        Some(ProtocolError::Frame(rfc6455::FrameError::UnmaskedFrame))
    );
    assert_eq!(close_code_sent(&mut c), Some(1002));
}

#[test]
fn echo_with_the_event_still_borrowed() {
    let mut c = server();
    c.receive(&client_frame(true, OpCode::Binary, b"echo me"), T0);
    let echoed = c
        .next_event_with(|event, tx| match event {
            Event::Binary(data) => tx.send_binary(data),
            other => panic!("{other:?}"),
        })
        .unwrap();
    assert_eq!(echoed, Some(Ok(())));
    assert_eq!(
        sent_frames(&mut c),
        [(OpCode::Binary, true, b"echo me".to_vec())]
    );
}

#[test]
fn large_frames_are_read_straight_into_place() {
    let mut c = server();
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let wire = client_frame(true, OpCode::Binary, &payload);
    // Header first: the room is a read's worth, not the 200 kB announced
    // (a peer that stalls after a header must not hold its announced
    // length: 16 MiB each, with the default limits).
    c.receive(&wire[..14], T0);
    assert!(c.next_event().unwrap().is_none());
    assert!(c.read_buf().len() < payload.len() / 4);
    // As the bytes come, the room grows: reads that fill it take the
    // payload in a handful of reads, straight into place.
    let (mut at, mut reads) = (14, 0);
    while at < wire.len() {
        let room = c.read_buf();
        let n = room.len().min(wire.len() - at);
        room[..n].copy_from_slice(&wire[at..at + n]);
        c.commit_read(n, T0);
        at += n;
        reads += 1;
    }
    assert!(reads <= 6, "{reads} reads for 200 kB");
    match c.next_event().unwrap() {
        Some(Event::Binary(data)) => assert!(data == &payload[..]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn idle_buffers_can_be_released_and_reused() {
    let mut c = server();
    feed(&mut c, &client_frame(true, OpCode::Text, b"x"));
    let buf = c.release_idle_buffers().expect("nothing buffered");
    assert_eq!(c.heap_bytes(), 0);
    c.provide_read_buffer(buf);
    let (got, _) = feed(&mut c, &client_frame(true, OpCode::Text, b"y"));
    assert_eq!(got, [Got::Text("y".into())]);
    // A partial frame keeps its buffer.
    c.receive(&client_frame(true, OpCode::Text, b"partial")[..4], T0);
    assert!(c.next_event().unwrap().is_none());
    assert!(c.release_idle_buffers().is_none());
}

#[test]
fn last_received_tracks_the_callers_clock() {
    let mut c = server();
    assert_eq!(c.last_received(), None);
    c.receive(b"\x81", Duration::from_secs(5));
    assert_eq!(c.last_received(), Some(Duration::from_secs(5)));
}

#[test]
fn eof_closes_abnormally() {
    let mut c = server();
    c.receive(&client_frame(true, OpCode::Text, b"partial")[..4], T0);
    c.receive_eof();
    assert_eq!(c.state(), State::Closed);
    assert!(c.next_event().unwrap().is_none());
    assert!(c.should_close_transport());
    let _ = FrameHeader::new(OpCode::Text, 0);
}

/// A transport that takes at most `limit` bytes per write.
struct Trickle {
    wire: Vec<u8>,
    limit: usize,
}

impl std::io::Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.limit);
        if n == 0 && !buf.is_empty() {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        self.wire.extend_from_slice(&buf[..n]);
        self.limit -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn vectored_sends_queue_exactly_what_the_transport_left() {
    let payload: Vec<u8> = (0..5000u32).map(|i| (i % 256) as u8).collect();
    for limit in [0, 1, 3, 4, 100, 2000, 2004, 2005, 5003, 5004, 7008, 100_000] {
        let mut c = server();
        c.send_binary(&[9; 2000]).unwrap(); // 2004 bytes queued first
        let mut t = Trickle {
            wire: Vec::new(),
            limit,
        };
        c.send_message_vectored(MessageKind::Binary, &payload, &mut t)
            .unwrap()
            .unwrap();
        // A ping arriving now must wait for the frame in flight.
        c.ping(ControlPayload::new(b"p").unwrap()).unwrap();
        t.limit = usize::MAX;
        while !c.output().is_empty() {
            let out = c.output().to_vec();
            c.consume_output(out.len());
            t.wire.extend(out);
        }
        let rules = DecodeRules::new(Role::Client);
        let mut at = 0;
        let mut frames = Vec::new();
        while at < t.wire.len() {
            let Ok(Status::Complete((f, used))) = decode_frame(&mut t.wire[at..], &rules) else {
                panic!("limit {limit}: bad stream")
            };
            frames.push((f.header.opcode, f.payload.len()));
            at += used;
        }
        let data: Vec<_> = frames
            .iter()
            .filter(|f| f.0 == OpCode::Binary)
            .map(|f| f.1)
            .collect();
        assert_eq!(data, [2000, 5000], "limit {limit}");
        assert_eq!(
            frames.iter().filter(|f| f.0 == OpCode::Ping).count(),
            1,
            "limit {limit}"
        );
    }
}

/// A peer that streams is read in larger reads: each read that fills the
/// room it was offered doubles the least room, up to READ_CHUNK_GROWTH
/// times `read_chunk`. A peer that trickles never grows it.
#[test]
fn read_room_grows_while_reads_fill_it_and_not_otherwise() {
    let config = Config {
        read_chunk: 1024,
        ..Config::default()
    };
    let frame = client_frame(true, OpCode::Binary, &[9; 100]);
    let wire: Vec<u8> = (0..400).flat_map(|_| frame.clone()).collect();
    // Reads of `per_read` bytes at most; the largest room offered.
    let largest_room = |per_read: usize| {
        let mut c = Connection::server(config);
        let mut rest = &wire[..];
        let (mut largest, mut got) = (0, 0);
        while !rest.is_empty() {
            let room = c.read_buf();
            largest = largest.max(room.len());
            let n = room.len().min(rest.len()).min(per_read);
            room[..n].copy_from_slice(&rest[..n]);
            c.commit_read(n, T0);
            rest = &rest[n..];
            while let Some(e) = c.next_event().unwrap() {
                assert_eq!(e, Event::Binary(&[9; 100]));
                got += 1;
            }
        }
        assert_eq!(got, 400);
        largest
    };
    let streaming = largest_room(usize::MAX);
    assert!(
        (4 * 1024..=2 * (4 * 1024 + frame.len())).contains(&streaming),
        "streaming: {streaming}"
    );
    let trickling = largest_room(300);
    assert!(trickling < 4 * 1024, "trickling: {trickling}");
}
