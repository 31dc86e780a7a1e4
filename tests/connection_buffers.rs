//! The read and message buffers a driver takes back from a connection and
//! lends to it again (`take_idle_read_buffer`, `take_idle_message_buffer`,
//! `provide_*`, `release_idle_buffers`): whenever a driver does so, the
//! events are the same as without, and an idle connection keeps nothing.
#![cfg(all(feature = "deflate", feature = "std"))]

use std::num::NonZeroUsize;
use std::time::Duration;

mod common;

use common::deflate::pair;
use common::output::drain;
use rfc6455::connection::{Config, Connection, Delivery, Event, MessageKind};
use rfc6455::deflate::DeflateConfig;
use rfc6455::frame::ControlPayload;

#[derive(Debug, PartialEq, Eq, Clone)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Fragment(MessageKind, Vec<u8>, bool),
    Ping(Vec<u8>),
}

fn got(e: Event<'_>) -> Got {
    match e {
        Event::Text(t) => Got::Text(t.to_owned()),
        Event::Binary(b) => Got::Binary(b.to_vec()),
        Event::Fragment { kind, data, fin } => Got::Fragment(kind, data.to_vec(), fin),
        Event::Ping(p) => Got::Ping(p.to_vec()),
        other => panic!("unexpected {other:?}"),
    }
}

fn json(n: usize) -> String {
    let mut s = String::from("[");
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!(
            "{{\"id\":{i},\"name\":\"é€𝄞 user_{}\"}},",
            i * 7 % 1000
        ));
        i += 1;
    }
    while s.len() > n - 1 {
        s.pop();
    }
    s.push(']');
    s
}

/// Every kind of message the question lists, from the client.
fn script(client: &mut Connection) -> Vec<u8> {
    let mut wire = Vec::new();
    let text = json(3000);
    let ping = ControlPayload::new(b"p").unwrap();
    // Fragmented plain text, cut inside multi-byte characters, a ping between.
    let b = text.as_bytes();
    client
        .send_fragment(MessageKind::Text, &b[..1], false)
        .unwrap(); // small: goes plain
    wire.extend(drain(client));
    client.ping(ping).unwrap();
    wire.extend(drain(client));
    let mut i = 1;
    for cut in [77usize, 78, 79, 500, 1201, 1202] {
        client
            .send_fragment(MessageKind::Text, &b[i..cut], false)
            .unwrap();
        i = cut;
        wire.extend(drain(client));
        client.ping(ping).unwrap();
        wire.extend(drain(client));
    }
    client
        .send_fragment(MessageKind::Text, &b[i..], true)
        .unwrap();
    wire.extend(drain(client));
    // Fragmented plain binary with a ping between.
    client
        .send_fragment(MessageKind::Binary, &[1], false)
        .unwrap();
    client.ping(ping).unwrap();
    client
        .send_fragment(MessageKind::Binary, &[2; 300], false)
        .unwrap();
    client
        .send_fragment(MessageKind::Binary, &[3; 5], true)
        .unwrap();
    wire.extend(drain(client));
    // Compressed, streamed in pieces, pings between.
    client
        .send_fragment(MessageKind::Text, &b[..1000], false)
        .unwrap();
    client.ping(ping).unwrap();
    client
        .send_fragment(MessageKind::Text, &b[1000..1003], false)
        .unwrap();
    client.ping(ping).unwrap();
    client
        .send_fragment(MessageKind::Text, &b[1003..], true)
        .unwrap();
    wire.extend(drain(client));
    // Compressed whole and compressed fragmented (one deflate stream cut).
    client.send_text(&text).unwrap();
    client
        .send_message_fragmented(
            MessageKind::Text,
            text.as_bytes(),
            NonZeroUsize::new(37).unwrap(),
        )
        .unwrap();
    client
        .send_message_fragmented(
            MessageKind::Binary,
            text.as_bytes(),
            NonZeroUsize::new(101).unwrap(),
        )
        .unwrap();
    client.send_text("small one").unwrap();
    client.send_binary(b"small bin").unwrap();
    wire.extend(drain(client));
    wire
}

/// Feeds `wire` in `chunk`-byte reads, as the worker does: lend before each
/// read (pool buffers dirty, to see that they are cleared), pull every event,
/// take back once drained, release at some reads.
fn run(delivery: Delivery, chunk: usize, buffer_ops: bool, sweep_every: usize) -> Vec<Got> {
    let conn = Config {
        delivery,
        ..Config::default()
    };
    let (mut server, mut client) = pair(DeflateConfig::default(), "permessage-deflate", conn);
    let wire = script(&mut client);
    let mut pool: Vec<Vec<u8>> = vec![b"GARBAGE".repeat(50); 3];
    let mut read_pool: Vec<Vec<u8>> = Vec::new();
    let mut out = Vec::new();
    for (n, piece) in wire.chunks(chunk).enumerate() {
        if buffer_ops {
            if !server.has_read_buffer() {
                if let Some(b) = read_pool.pop() {
                    server.provide_read_buffer(b);
                }
            }
            if !server.has_message_buffer() {
                if let Some(b) = pool.pop() {
                    server.provide_message_buffer(b);
                }
            }
        }
        server.receive(piece, Duration::ZERO);
        while let Some(e) = server.next_event().unwrap() {
            out.push(got(e));
            if buffer_ops && n % 3 == 0 {
                // As the fuzz target: right after an event.
                if let Some(mut b) = server.take_idle_message_buffer() {
                    b.extend_from_slice(b"DIRTY");
                    pool.push(b);
                }
            }
        }
        if buffer_ops {
            if server.buffered_input_len() == 0 {
                if let Some(b) = server.take_idle_read_buffer() {
                    read_pool.push(b);
                }
                if let Some(mut b) = server.take_idle_message_buffer() {
                    b.extend_from_slice(b"DIRTY");
                    pool.push(b);
                }
            }
            if sweep_every != 0 && n % sweep_every == 0 {
                if let Some(mut b) = server.take_idle_message_buffer() {
                    b.extend_from_slice(b"DIRTY");
                    pool.push(b);
                }
                if let Some(b) = server.release_idle_buffers() {
                    read_pool.push(b);
                }
            }
        }
    }
    out
}

#[test]
fn buffer_ops_change_nothing_delivered() {
    for delivery in [Delivery::Messages, Delivery::Frames] {
        let want = run(delivery, 1 << 20, false, 0);
        assert!(want.len() > 10, "{}", want.len());
        for chunk in [1usize, 2, 3, 5, 7, 13, 64, 200, 1000, 4096] {
            for sweep in [0usize, 1, 2, 5] {
                let have = run(delivery, chunk, true, sweep);
                assert!(
                    have == want,
                    "delivery {delivery:?} chunk {chunk} sweep {sweep}"
                );
            }
        }
    }
}

/// A driver that polls before it borrows (`poll_event`, as the tokio driver
/// and the blocking client do) and takes the message buffer in between.
#[test]
fn poll_event_then_take_idle_message_buffer_keeps_the_ready_message() {
    let mut server = Connection::server(Config::default());
    let mut client = Connection::client(Config::default(), Box::new(|| [9, 8, 7, 6]));
    client
        .send_fragment(MessageKind::Text, b"hello ", false)
        .unwrap();
    client
        .send_fragment(MessageKind::Text, b"world", true)
        .unwrap();
    let wire = drain(&mut client);
    server.receive(&wire, Duration::ZERO);
    assert!(server.poll_event().unwrap());
    let _ = server.take_idle_message_buffer();
    let e = server.next_event().unwrap().map(got);
    assert_eq!(e, Some(Got::Text("hello world".into())));
}

/// Neither hand-back takes a buffer that a message found by `poll_event`
/// was inflated into.
#[test]
fn poll_event_then_giving_buffers_back_keeps_an_inflated_message() {
    type HandBack = (&'static str, fn(&mut Connection));
    let hand_backs: [HandBack; 2] = [
        ("take_idle_message_buffer", |c| {
            drop(c.take_idle_message_buffer())
        }),
        ("release_idle_buffers", |c| drop(c.release_idle_buffers())),
    ];
    for (name, hand_back) in hand_backs {
        let (mut server, mut client) = pair(
            DeflateConfig::default(),
            "permessage-deflate",
            Config::default(),
        );
        let text = json(2000);
        client.send_text(&text).unwrap();
        let wire = drain(&mut client);
        server.receive(&wire, Duration::ZERO);
        assert!(server.poll_event().unwrap());
        hand_back(&mut server);
        let e = server.next_event().unwrap().map(got);
        assert_eq!(e, Some(Got::Text(text)), "{name}");
    }
}

/// The read buffer stays while a single-frame message found by
/// `poll_event` points into it.
#[test]
fn poll_event_then_take_idle_read_buffer_keeps_a_direct_message() {
    let mut server = Connection::server(Config::default());
    let mut client = Connection::client(Config::default(), Box::new(|| [9, 8, 7, 6]));
    client.send_text("hello").unwrap();
    let wire = drain(&mut client);
    server.receive(&wire, Duration::ZERO);
    assert!(server.poll_event().unwrap());
    let _ = server.take_idle_read_buffer();
    let e = server.next_event().unwrap().map(got);
    assert_eq!(e, Some(Got::Text("hello".into())));
}

/// An event found by `poll_event` stays as it was when the driver reads
/// more before it borrows it: the read neither reuses nor moves its bytes
/// from under it (whether the buffer was all used, or is compacted around a
/// frame cut off).
#[test]
fn poll_event_then_reading_more_keeps_the_ready_event() {
    let mut client = Connection::client(Config::default(), Box::new(|| [9, 8, 7, 6]));
    client.send_text("hello").unwrap();
    client
        .ping(ControlPayload::new(b"are you there").unwrap())
        .unwrap();
    client.send_binary(&[5; 300]).unwrap();
    client
        .close(
            rfc6455::CloseCode::NORMAL,
            rfc6455::close::CloseReason::new("bye now").unwrap(),
        )
        .unwrap();
    let wire = drain(&mut client);
    let config = Config {
        read_chunk: 64,
        ..Config::default()
    };
    let mut server = Connection::server(config);
    let mut fed = 0;
    let mut events = Vec::new();
    // Reads of 40 bytes: each ready event sees at least one read before it
    // is taken.
    loop {
        while fed < wire.len() && !server.poll_event().unwrap() {
            let n = 40.min(wire.len() - fed);
            server.receive(&wire[fed..fed + n], Duration::ZERO);
            fed += n;
        }
        if !server.poll_event().unwrap() {
            break;
        }
        let n = 40.min(wire.len() - fed);
        server.receive(&wire[fed..fed + n], Duration::ZERO);
        fed += n;
        match server.next_event().unwrap() {
            Some(Event::Close { code, reason }) => {
                events.push(format!("close {} {reason}", code.unwrap()));
                break;
            }
            Some(e) => events.push(format!("{:?}", got(e))),
            None => unreachable!("an event was ready"),
        }
    }
    assert_eq!(
        events,
        [
            // The ping jumped the client's queued text.
            format!("{:?}", Got::Ping(b"are you there".to_vec())),
            format!("{:?}", Got::Text("hello".into())),
            format!("{:?}", Got::Binary(vec![5; 300])),
            "close 1000 bye now".to_owned(),
        ]
    );
}

/// While a fragmented text message is put together, the buffer it lies in
/// is the connection's message buffer: a driver that lends buffers before
/// every read (asking `has_message_buffer` first) does not give it a
/// second one, and when the message is delivered the one buffer comes
/// back, leaving the connection none.
#[test]
fn a_text_being_assembled_holds_the_message_buffer() {
    let mut server = Connection::server(Config::default());
    let mut client = Connection::client(Config::default(), Box::new(|| [9, 8, 7, 6]));
    let text = "y".repeat(3000);
    client
        .send_fragment(MessageKind::Text, &text.as_bytes()[..1500], false)
        .unwrap();
    client
        .send_fragment(MessageKind::Text, &text.as_bytes()[1500..], true)
        .unwrap();
    let wire = drain(&mut client);
    server.provide_message_buffer(Vec::with_capacity(8192));
    // The first fragment only: the text moves into the lent buffer.
    server.receive(&wire[..1000], Duration::ZERO);
    assert!(server.next_event().unwrap().is_none());
    assert!(server.has_message_buffer(), "the text holds it");
    let held = server.heap_bytes();
    // A lend between two reads, as the server's worker does.
    if !server.has_message_buffer() {
        server.provide_message_buffer(Vec::with_capacity(8192));
    }
    server.provide_message_buffer(Vec::with_capacity(8192));
    assert_eq!(server.heap_bytes(), held, "a second buffer was taken");
    server.receive(&wire[1000..], Duration::ZERO);
    assert_eq!(server.next_event().unwrap().map(got), Some(Got::Text(text)));
    assert!(server.next_event().unwrap().is_none());
    let _ = server.take_idle_read_buffer();
    let taken = server
        .take_idle_message_buffer()
        .expect("the text's buffer");
    assert!(taken.capacity() >= 3000);
    assert!(!server.has_message_buffer());
    assert!(
        server.heap_bytes() < 1000,
        "idle connection holds {} bytes",
        server.heap_bytes()
    );
}

/// A lent buffer that a fragmented text message was put together in comes
/// back too.
#[test]
fn a_lent_buffer_used_for_text_comes_back() {
    let mut server = Connection::server(Config::default());
    let mut client = Connection::client(Config::default(), Box::new(|| [9, 8, 7, 6]));
    server.provide_message_buffer(Vec::with_capacity(8192));
    let text = "x".repeat(3000);
    client
        .send_fragment(MessageKind::Text, &text.as_bytes()[..1500], false)
        .unwrap();
    client
        .send_fragment(MessageKind::Text, &text.as_bytes()[1500..], true)
        .unwrap();
    let wire = drain(&mut client);
    server.receive(&wire, Duration::ZERO);
    assert_eq!(server.next_event().unwrap().map(got), Some(Got::Text(text)));
    assert!(server.next_event().unwrap().is_none());
    let _ = server.take_idle_read_buffer();
    let taken = server
        .take_idle_message_buffer()
        .expect("the text's buffer");
    assert!(taken.is_empty() && taken.capacity() >= 3000);
    assert!(!server.has_message_buffer());
    assert!(
        server.heap_bytes() < 1000,
        "idle connection holds {} bytes",
        server.heap_bytes()
    );
}
