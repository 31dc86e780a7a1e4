//! Published messages and permessage-deflate in the mio server: a message
//! is compressed once per worker for all the subscribers that negotiated
//! deflate (context takeover or not), goes out plain to the others and
//! under the threshold, and a subscriber with context takeover decodes
//! what it is sent directly after a published message (its window took
//! the published message in). Each test starts its own server on an
//! ephemeral port and stops it before returning.

#![cfg(feature = "deflate")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rfc6455::client::{Client, ClientConfig};
use rfc6455::connection::{Event, MessageKind};
use rfc6455::deflate::DeflateConfig;
use rfc6455::server::{
    Handler, Message, Peer, Server, ServerConfig, ServerHandle, Stats, UpgradeRequest,
};

/// `/t/NAME` subscribes to NAME and greets with "ready". Text commands:
/// `pub TOPIC TEXT` publishes TEXT (replying "reached N"), `echo TEXT`
/// sends TEXT back.
struct App;

impl Handler for App {
    fn on_open(&mut self, peer: &mut Peer<'_>, request: &UpgradeRequest<'_>) {
        if let Some(topic) = request.path().strip_prefix("/t/") {
            peer.subscribe(topic).unwrap();
        }
        peer.send_text("ready").unwrap();
    }

    fn on_message(&mut self, peer: &mut Peer<'_>, message: Message<'_>) {
        let Message::Text(text) = message else {
            return;
        };
        if let Some(rest) = text.strip_prefix("pub ") {
            let (topic, body) = rest.split_once(' ').unwrap_or((rest, ""));
            let n = peer.publish(topic, MessageKind::Text, body.as_bytes());
            peer.send_text(&format!("reached {n}")).unwrap();
        } else if let Some(body) = text.strip_prefix("echo ") {
            peer.send_text(body).unwrap();
        }
    }
}

struct Running {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread").expect("server result");
        }
    }
}

/// One worker, so that the compression count is exact.
fn start(deflate: Option<DeflateConfig>) -> Running {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        threads: 1,
        close_timeout: Duration::from_secs(2),
        deflate,
        ..ServerConfig::default()
    };
    let server = Server::bind(config).expect("bind");
    let addr = server.local_addr();
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.run(|| App));
    Running {
        addr,
        handle,
        thread: Some(thread),
    }
}

fn connect(server: &Running, path: &str, deflate: Option<DeflateConfig>) -> Client {
    let config = ClientConfig {
        read_timeout: Some(Duration::from_secs(10)),
        deflate,
        ..ClientConfig::default()
    };
    let mut client =
        Client::connect_with(&format!("ws://{}{path}", server.addr), &config).expect("connect");
    assert_eq!(text(&mut client), "ready");
    client
}

fn text(client: &mut Client) -> String {
    match client.recv().expect("recv") {
        Event::Text(t) => t.to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

fn settled_stats(server: &Running, done: impl Fn(&Stats) -> bool) -> Stats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = server.handle.stats();
        if done(&stats) || Instant::now() > deadline {
            return stats;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A JSON-like record of about 300 bytes: compresses well, and records
/// share most of their text.
fn record(i: usize) -> String {
    format!(
        "{{\"id\":{i},\"type\":\"quote\",\"symbol\":\"ACME\",\"bid\":{}.{:02},\"ask\":{}.{:02},\
         \"venue\":\"XNAS\",\"flags\":[\"regular\",\"open\"],\"note\":\"the quick brown fox \
         jumps over the lazy dog, the quick brown fox jumps over the lazy dog\",\
         \"seq\":{}}}",
        100 + i % 7,
        i % 100,
        101 + i % 5,
        (i * 7) % 100,
        i * 3
    )
}

/// A raw subscriber that offers permessage-deflate (or not) and reads
/// frames itself, to see RSV1 and the payload length on the wire.
struct Raw(TcpStream);

impl Raw {
    fn connect(addr: SocketAddr, path: &str, offer: bool) -> Raw {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let ext = if offer {
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        } else {
            ""
        };
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert_eq!(head.contains("permessage-deflate"), offer, "{head}");
        let mut raw = Raw(s);
        assert_eq!(raw.frame(), (false, b"ready".to_vec()));
        raw
    }

    /// The next frame (unmasked, as a server sends, final, 16-bit length
    /// at most): RSV1 and the payload as it came.
    fn frame(&mut self) -> (bool, Vec<u8>) {
        let mut h = [0u8; 2];
        self.0.read_exact(&mut h).unwrap();
        assert_eq!(h[0] & 0x80, 0x80, "final");
        let len = match h[1] & 0x7f {
            126 => {
                let mut l = [0u8; 2];
                self.0.read_exact(&mut l).unwrap();
                usize::from(u16::from_be_bytes(l))
            }
            n => usize::from(n),
        };
        let mut payload = vec![0; len];
        self.0.read_exact(&mut payload).unwrap();
        (h[0] & 0x40 != 0, payload)
    }
}

#[test]
fn a_published_message_is_compressed_once_for_all_deflate_subscribers() {
    let server = start(Some(DeflateConfig::default()));
    let mut deflate: Vec<Client> = (0..4)
        .map(|_| connect(&server, "/t/q", Some(DeflateConfig::default())))
        .collect();
    let mut plain = connect(&server, "/t/q", None);
    let mut raw_deflate = Raw::connect(server.addr, "/t/q", true);
    let mut raw_plain = Raw::connect(server.addr, "/t/q", false);
    let mut publisher = connect(&server, "/", Some(DeflateConfig::default()));
    settled_stats(&server, |s| s.subscriptions == 7);

    let n = 50;
    for i in 0..n {
        publisher
            .send_text(&format!("pub q {}", record(i)))
            .unwrap();
        assert_eq!(text(&mut publisher), "reached 7");
    }
    // Under the threshold: plain for everyone, nothing compressed.
    publisher.send_text("pub q short").unwrap();
    assert_eq!(text(&mut publisher), "reached 7");

    for c in deflate.iter_mut().chain([&mut plain]) {
        for i in 0..n {
            assert_eq!(text(c), record(i));
        }
        assert_eq!(text(c), "short");
    }
    for i in 0..n {
        let (rsv1, payload) = raw_deflate.frame();
        assert!(rsv1, "message {i} compressed");
        assert!(payload.len() < record(i).len(), "{}", payload.len());
        assert_eq!(raw_plain.frame(), (false, record(i).into_bytes()));
    }
    assert_eq!(raw_deflate.frame(), (false, b"short".to_vec()));
    assert_eq!(raw_plain.frame(), (false, b"short".to_vec()));

    let stats = settled_stats(&server, |s| s.delivered == 7 * (n as u64 + 1));
    assert_eq!(stats.delivered, 7 * (n as u64 + 1));
    // Once per message for the five deflate subscribers, not five times.
    assert_eq!(stats.compressed, n as u64);
}

#[test]
fn context_takeover_subscribers_share_the_copy_and_keep_their_window_in_step() {
    let server = start(Some(DeflateConfig::default().context_takeover(12)));
    let takeover = DeflateConfig::default().context_takeover(12);
    let mut keep: Vec<Client> = (0..3)
        .map(|_| connect(&server, "/t/q", Some(takeover)))
        .collect();
    for c in &keep {
        let n = c.deflate().expect("negotiated");
        assert!(n.recv().takeover, "the server keeps its window");
    }
    let mut reset = connect(&server, "/t/q", Some(DeflateConfig::default()));
    assert!(!reset.deflate().unwrap().recv().takeover);
    let mut publisher = connect(&server, "/", None);
    settled_stats(&server, |s| s.subscriptions == 4);

    let n = 20;
    for i in 0..n {
        // A direct message, a published one, the same direct message
        // again: the second refers back across the published one, which
        // decodes only if the server's copy of the window has it too.
        for c in keep.iter_mut().chain([&mut reset]) {
            c.send_text(&format!("echo {}", record(1000 + i))).unwrap();
            assert_eq!(text(c), record(1000 + i));
        }
        publisher
            .send_text(&format!("pub q {}", record(i)))
            .unwrap();
        assert_eq!(text(&mut publisher), "reached 4");
        for c in keep.iter_mut().chain([&mut reset]) {
            assert_eq!(text(c), record(i));
            c.send_text(&format!("echo {}", record(1000 + i))).unwrap();
            assert_eq!(text(c), record(1000 + i));
        }
    }
    let stats = settled_stats(&server, |s| s.delivered == 4 * n as u64);
    assert_eq!(stats.delivered, 4 * n as u64);
    // All four compress within 2^12 at level 1. The three that keep their
    // window share one streamed copy per message; the one that resets
    // takes a copy made in one call where the engine can (libdeflate),
    // the same streamed copy where it cannot.
    let keys = if cfg!(feature = "libdeflate") { 2 } else { 1 };
    assert_eq!(stats.compressed, keys * n as u64);
}

#[test]
fn with_deflate_off_published_messages_go_plain() {
    let server = start(None);
    let mut raw = Raw::connect(server.addr, "/t/q", false);
    let mut offered = connect(&server, "/t/q", Some(DeflateConfig::default()));
    assert!(offered.deflate().is_none());
    let mut publisher = connect(&server, "/", None);
    settled_stats(&server, |s| s.subscriptions == 2);
    publisher
        .send_text(&format!("pub q {}", record(1)))
        .unwrap();
    assert_eq!(text(&mut publisher), "reached 2");
    assert_eq!(raw.frame(), (false, record(1).into_bytes()));
    assert_eq!(text(&mut offered), record(1));
    assert_eq!(settled_stats(&server, |s| s.delivered == 2).compressed, 0);
}
