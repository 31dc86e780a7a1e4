//! permessage-deflate through two connected `Connection`s: every way of
//! sending, both roles, with and without context takeover, under limits.
#![cfg(all(feature = "deflate", feature = "std"))]

use std::num::NonZeroUsize;
use std::time::Duration;

mod common;

use common::deflate::pair;
use common::output::drain;
use rfc6455::connection::{Config, Connection, Delivery, Event, MessageKind, SharedFrame};
use rfc6455::deflate::DeflateConfig;
use rfc6455::frame::{decode_frame, DecodeRules, Role, Status, RSV1};
use rfc6455::{Limits, ProtocolError};

/// Moves everything `from` has queued into `to`, returning the bytes.
fn pipe(from: &mut Connection, to: &mut Connection) -> Vec<u8> {
    let wire = drain(from);
    to.receive(&wire, Duration::ZERO);
    wire
}

#[derive(Debug, PartialEq, Eq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Fragment(MessageKind, Vec<u8>, bool),
}

fn events(conn: &mut Connection) -> Result<Vec<Got>, ProtocolError> {
    let mut out = Vec::new();
    while let Some(e) = conn.next_event()? {
        out.push(match e {
            Event::Text(t) => Got::Text(t.to_owned()),
            Event::Binary(b) => Got::Binary(b.to_vec()),
            Event::Fragment { kind, data, fin } => Got::Fragment(kind, data.to_vec(), fin),
            other => panic!("unexpected {other:?}"),
        });
    }
    Ok(out)
}

/// The RSV1 bits of the frames in `wire`, as the peer of `role` decodes them.
fn rsv1s(wire: &[u8], from: Role) -> Vec<bool> {
    let mut wire = wire.to_vec();
    let rules = DecodeRules {
        allowed_rsv: RSV1,
        max_frame_size: u64::MAX,
        ..DecodeRules::new(match from {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        })
    };
    let mut at = 0;
    let mut out = Vec::new();
    while at < wire.len() {
        let Ok(Status::Complete((f, used))) = decode_frame(&mut wire[at..], &rules) else {
            panic!("bad output");
        };
        out.push(f.header.rsv1);
        at += used;
    }
    out
}

fn json(n: usize) -> String {
    let mut s = String::from("[");
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user_{}\",\"price\":\"{}.{:02}\",\"side\":\"buy\"}},",
            i * 7 % 1000,
            i * 13 % 9000,
            i % 100
        ));
        i += 1;
    }
    s.truncate(n - 1);
    s.push(']');
    s
}

#[test]
fn messages_round_trip_both_ways_compressed() {
    for config in [
        DeflateConfig::default(),
        DeflateConfig::default().context_takeover(12),
        DeflateConfig::default().context_takeover(8),
    ] {
        let (mut server, mut client) = pair(
            config,
            "permessage-deflate; client_max_window_bits",
            Config::default(),
        );
        // Within a 12-bit window (less zlib's 262-byte lookahead), so that a
        // repeat can point at the whole previous message.
        let text = json(3000);
        let mut sizes = Vec::new();
        for round in 0..3 {
            client.send_text(&text).unwrap();
            let wire = pipe(&mut client, &mut server);
            assert_eq!(rsv1s(&wire, Role::Client), [true]);
            sizes.push(wire.len());
            assert_eq!(events(&mut server).unwrap(), [Got::Text(text.clone())]);
            server.send_binary(text.as_bytes()).unwrap();
            server.send_text("short").unwrap(); // under the threshold
            let wire = pipe(&mut server, &mut client);
            assert_eq!(rsv1s(&wire, Role::Server), [true, false], "round {round}");
            assert_eq!(
                events(&mut client).unwrap(),
                [
                    Got::Binary(text.clone().into_bytes()),
                    Got::Text("short".into())
                ]
            );
        }
        assert!(sizes[0] < text.len() / 2, "{config:?}: {sizes:?}");
        if config.context_takeover && config.max_window_bits >= 12 {
            assert!(sizes[1] < sizes[0] / 4, "takeover: {sizes:?}");
        } else if !config.context_takeover {
            assert_eq!(sizes[0], sizes[1]);
        }
    }
}

#[test]
fn a_client_compresses_a_message_once_for_many_connections() {
    for config in [
        DeflateConfig::default(),
        DeflateConfig::default().context_takeover(12),
    ] {
        let offer = "permessage-deflate; client_max_window_bits";
        let (mut server_a, mut client_a) = pair(config, offer, Config::default());
        let (mut server_b, mut client_b) = pair(config, offer, Config::default());
        let text = json(3000);
        let plain = SharedFrame::new(MessageKind::Text, text.as_bytes());
        let key = client_a.shared_compression(text.len()).expect("a key");
        assert_eq!(client_b.shared_compression(text.len()), Some(key));
        let compressed = client_a.compress_shared(&plain).expect("it compresses");
        let mut wires = Vec::new();
        for (client, server) in [
            (&mut client_a, &mut server_a),
            (&mut client_b, &mut server_b),
        ] {
            for _ in 0..2 {
                client.send_shared_compressed(&plain, &compressed).unwrap();
                let wire = pipe(client, server);
                assert_eq!(rsv1s(&wire, Role::Client), [true]);
                assert!(wire.len() < text.len() / 2, "{config:?}: {}", wire.len());
                assert_eq!(events(server).unwrap(), [Got::Text(text.clone())]);
                wires.push(wire);
            }
            // The connection's own compression goes on after it: with
            // takeover its window holds the shared message's text.
            client.send_text(&text).unwrap();
            let wire = pipe(client, server);
            assert_eq!(events(server).unwrap(), [Got::Text(text.clone())]);
            if config.context_takeover {
                assert!(
                    wire.len() < wires[0].len() / 4,
                    "{config:?}: {}",
                    wire.len()
                );
            }
        }
        // One compression, each copy masked with its connection's keys.
        assert!(wires.iter().all(|w| w.len() == wires[0].len()));
        assert_ne!(wires[0], wires[1]);
    }
}

#[test]
fn streamed_and_fragmented_sends_compress_the_message() {
    let config = DeflateConfig::default().context_takeover(15);
    let (mut server, mut client) = pair(config, "permessage-deflate", Config::default());
    let text = json(3000);
    let (a, b) = text.split_at(1000);
    client
        .send_fragment(MessageKind::Text, a.as_bytes(), false)
        .unwrap();
    client
        .send_fragment(MessageKind::Text, b.as_bytes(), false)
        .unwrap();
    client.send_fragment(MessageKind::Text, b"", true).unwrap();
    let wire = pipe(&mut client, &mut server);
    assert_eq!(rsv1s(&wire, Role::Client), [true, false, false]);
    assert_eq!(events(&mut server).unwrap(), [Got::Text(text.clone())]);
    let size = NonZeroUsize::new(100).unwrap();
    server
        .send_message_fragmented(MessageKind::Binary, text.as_bytes(), size)
        .unwrap();
    let wire = pipe(&mut server, &mut client);
    let bits = rsv1s(&wire, Role::Server);
    assert!(
        bits.len() > 1 && bits[0] && bits[1..].iter().all(|b| !b),
        "{bits:?}"
    );
    assert_eq!(
        events(&mut client).unwrap(),
        [Got::Binary(text.clone().into_bytes())]
    );
    // A small first fragment decides: the streamed message goes plain.
    client
        .send_fragment(MessageKind::Text, b"hi", false)
        .unwrap();
    client
        .send_fragment(MessageKind::Text, text.as_bytes(), true)
        .unwrap();
    let wire = pipe(&mut client, &mut server);
    assert_eq!(rsv1s(&wire, Role::Client), [false, false]);
    assert_eq!(
        events(&mut server).unwrap(),
        [Got::Text(format!("hi{text}"))]
    );
}

#[test]
fn incompressible_messages_go_plain() {
    let (mut server, mut client) = pair(
        DeflateConfig::default(),
        "permessage-deflate",
        Config::default(),
    );
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    client.send_binary(&noise).unwrap();
    let wire = pipe(&mut client, &mut server);
    assert_eq!(rsv1s(&wire, Role::Client), [false]);
    assert_eq!(events(&mut server).unwrap(), [Got::Binary(noise)]);
}

#[test]
fn streaming_delivery_hands_out_each_frames_inflated_bytes() {
    let conn = Config {
        delivery: Delivery::Frames,
        ..Config::default()
    };
    let (mut server, mut client) = pair(DeflateConfig::default(), "permessage-deflate", conn);
    let text = json(2000);
    client
        .send_message_fragmented(
            MessageKind::Text,
            text.as_bytes(),
            NonZeroUsize::new(300).unwrap(),
        )
        .unwrap();
    pipe(&mut client, &mut server);
    let got = events(&mut server).unwrap();
    let mut joined = Vec::new();
    for (i, g) in got.iter().enumerate() {
        let Got::Fragment(MessageKind::Text, data, fin) = g else {
            panic!("{g:?}");
        };
        assert_eq!(*fin, i + 1 == got.len());
        joined.extend_from_slice(data);
    }
    assert_eq!(joined, text.as_bytes());
}

#[test]
fn the_limit_holds_on_the_inflated_size_in_every_delivery() {
    for delivery in [Delivery::Messages, Delivery::Frames] {
        let limits = Limits {
            max_message_size: 10_000,
            ..Limits::DEFAULT
        };
        let conn = Config {
            limits,
            delivery,
            ..Config::default()
        };
        // The sender has no such limit.
        let (_, mut client) = pair(
            DeflateConfig::default(),
            "permessage-deflate",
            Config::default(),
        );
        let (mut server, _) = pair(DeflateConfig::default(), "permessage-deflate", conn);
        let zeros = vec![0u8; 1 << 20];
        client
            .send_message_fragmented(MessageKind::Binary, &zeros, NonZeroUsize::new(50).unwrap())
            .unwrap();
        let wire = pipe(&mut client, &mut Connection::server(Config::default()));
        // Level 1 makes about 100:1 of zeros; 50-byte frames add headers.
        assert!(wire.len() < 16 << 10, "{}", wire.len());
        let mut err = None;
        for piece in wire.chunks(16) {
            server.receive(piece, Duration::ZERO);
            match events(&mut server) {
                Ok(_) => assert!(server.heap_bytes() < 64 << 10, "{}", server.heap_bytes()),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert_eq!(err, Some(ProtocolError::MessageTooLarge), "{delivery:?}");
        assert_eq!(server.error(), Some(ProtocolError::MessageTooLarge));
    }
}

#[test]
fn an_idle_connection_holds_only_its_windows() {
    for (config, most) in [
        (DeflateConfig::default(), 1024),
        (
            DeflateConfig::default().context_takeover(12),
            2 * 4096 + 1024,
        ),
    ] {
        let (mut server, mut client) = pair(
            config,
            "permessage-deflate; client_max_window_bits",
            Config::default(),
        );
        let text = json(8000);
        for _ in 0..5 {
            client.send_text(&text).unwrap();
            pipe(&mut client, &mut server);
            assert_eq!(events(&mut server).unwrap().len(), 1);
            server.send_text(&text).unwrap();
            pipe(&mut server, &mut client);
        }
        drop(server.release_idle_buffers());
        assert!(
            server.heap_bytes() <= most,
            "{config:?}: {} bytes held idle",
            server.heap_bytes()
        );
    }
}

#[test]
fn the_message_buffer_goes_back_to_the_driver_once_delivered() {
    let (mut server, mut client) = pair(
        DeflateConfig::default(),
        "permessage-deflate; client_max_window_bits",
        Config::default(),
    );
    let text = json(8000);
    client.send_text(&text).unwrap();
    let wire = client.output().to_vec();
    client.consume_output(wire.len());
    // Half a compressed frame: its inflated start is in the buffer.
    let half = wire.len() / 2;
    server.receive(&wire[..half], Duration::ZERO);
    assert!(server.next_event().unwrap().is_none());
    assert!(server.take_idle_message_buffer().is_none(), "mid-message");
    server.receive(&wire[half..], Duration::ZERO);
    match server.next_event().unwrap() {
        Some(Event::Text(t)) => assert_eq!(t, text),
        other => panic!("{other:?}"),
    }
    // Delivered and not polled past: the buffer holds nothing needed.
    let buf = server
        .take_idle_message_buffer()
        .expect("the inflated message's buffer");
    assert!(buf.is_empty() && buf.capacity() >= text.len());
    assert!(!server.has_message_buffer());
    assert!(server.next_event().unwrap().is_none());
    // Lent back, the next message is put together in it.
    let cap = buf.capacity();
    server.provide_message_buffer(buf);
    client.send_text(&text).unwrap();
    pipe(&mut client, &mut server);
    assert_eq!(events(&mut server).unwrap(), vec![Got::Text(text.clone())]);
    let again = server.take_idle_message_buffer().unwrap();
    assert!(again.capacity() >= cap);
}

/// A connection kept in a thread-local, with a compressed message half
/// received and another half sent when its thread ends: the engine's
/// per-thread pool may be torn down first, and giving the DEFLATE state
/// back to it then must not panic (a panic in a thread-local's
/// destructor aborts the whole process). Run in a child process of this
/// test binary, so that an abort fails this test alone.
#[test]
fn connections_in_thread_locals_end_with_their_thread() {
    use std::cell::RefCell;
    const CHILD: &str = "RFC6455_DEFLATE_THREAD_LOCAL_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "connections_in_thread_locals_end_with_their_thread",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "the child process: {status}");
        return;
    }
    thread_local! {
        static KEPT: RefCell<Vec<Connection>> = const { RefCell::new(Vec::new()) };
    }
    std::thread::spawn(|| {
        // The thread-local is set up (and its destructor registered)
        // before the engine's pool is.
        KEPT.with(|kept| {
            let (mut server, mut client) = pair(
                DeflateConfig::default(),
                "permessage-deflate; client_max_window_bits",
                Config::default(),
            );
            let text = json(8000);
            client.send_text(&text).unwrap();
            let wire = drain(&mut client);
            server.receive(&wire[..wire.len() / 2], Duration::ZERO);
            assert!(server.next_event().unwrap().is_none(), "half a message");
            client
                .send_fragment(MessageKind::Text, text.as_bytes(), false)
                .unwrap();
            kept.borrow_mut().extend([server, client]);
        });
    })
    .join()
    .unwrap();
}
