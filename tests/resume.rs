//! Topic history over loopback, with the bundled application: ids per
//! topic in increasing order on every worker whatever thread publishes,
//! resume with `?since=ID` that replays exactly what was missed (no gap, no
//! duplicate, even while publishers run), what a resume that cannot be
//! honoured is told, and the application heartbeat. Each test starts its
//! own server on an ephemeral port and stops it before returning.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rfc6455::client::{Client, ClientConfig, Error};
use rfc6455::connection::{Event, MessageKind};
use rfc6455::server::app::{App, AppConfig};
use rfc6455::server::{Heartbeat, HistoryLimits, Server, ServerConfig, ServerHandle};
use serde_json::Value;

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

fn start(configure: impl FnOnce(&mut ServerConfig)) -> Running {
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        threads: 2,
        close_timeout: Duration::from_secs(2),
        history: Some(HistoryLimits::default()),
        ..ServerConfig::default()
    };
    configure(&mut config);
    let server = Server::bind(config).expect("bind");
    let addr = server.local_addr();
    let handle = server.handle();
    let app = Arc::new(AppConfig::default());
    let thread = std::thread::spawn(move || server.run(move || App::new(Arc::clone(&app))));
    Running {
        addr,
        handle,
        thread: Some(thread),
    }
}

fn join(server: &Running, path: &str) -> Result<Client, Error> {
    let config = ClientConfig {
        read_timeout: Some(Duration::from_secs(10)),
        ..ClientConfig::default()
    };
    Client::connect_with(&format!("ws://{}{path}", server.addr), &config)
}

fn await_subscriptions(server: &Running, n: usize) {
    for _ in 0..2000 {
        if server.handle.stats().subscriptions == n {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{:?}", server.handle.stats());
}

fn json(c: &mut Client) -> Value {
    match c.recv().expect("recv") {
        Event::Text(t) => serde_json::from_str(t).unwrap_or_else(|e| panic!("{t}: {e}")),
        other => panic!("expected text, got {other:?}"),
    }
}

/// The next data message: (id, data).
fn message(c: &mut Client) -> (u64, String) {
    let v = json(c);
    let id = v["id"].as_u64().unwrap_or_else(|| panic!("no id in {v}"));
    (id, v["data"].as_str().unwrap().to_owned())
}

fn publish(server: &Running, topic: &str, text: &str) -> usize {
    server
        .handle
        .publish(topic, MessageKind::Text, text.as_bytes())
}

#[test]
fn resume_replays_exactly_what_was_missed() {
    let server = start(|_| {});
    let mut c = join(&server, "/topic/news?ids=1").unwrap();
    let hello = json(&mut c);
    assert_eq!(hello["type"], "subscribed");
    assert_eq!(hello["topic"], "news");
    assert_eq!(hello["last"], 0);
    assert!(hello.get("recovered").is_none(), "{hello}");
    let epoch = hello["epoch"].as_str().unwrap().to_owned();
    await_subscriptions(&server, 1);
    for i in 1..=3 {
        publish(&server, "news", &format!("m{i}"));
    }
    for i in 1..=3 {
        assert_eq!(message(&mut c), (i, format!("m{i}")));
    }
    drop(c);
    await_subscriptions(&server, 0);
    // Published while nobody listens: kept all the same.
    for i in 4..=6 {
        assert_eq!(publish(&server, "news", &format!("m{i}")), 0);
    }
    let mut c = join(&server, &format!("/topic/news?since=3&epoch={epoch}")).unwrap();
    let hello = json(&mut c);
    assert_eq!(
        (&hello["recovered"], &hello["last"], &hello["epoch"]),
        (
            &Value::Bool(true),
            &Value::from(6),
            &Value::from(epoch.as_str())
        )
    );
    for i in 4..=6 {
        assert_eq!(message(&mut c), (i, format!("m{i}")));
    }
    await_subscriptions(&server, 1);
    publish(&server, "news", "m7");
    assert_eq!(
        message(&mut c),
        (7, "m7".to_owned()),
        "live after the replay"
    );
    // A plain subscriber of the same topic gets payloads as published.
    let mut plain = join(&server, "/topic/news").unwrap();
    await_subscriptions(&server, 2);
    publish(&server, "news", "m8");
    assert!(matches!(plain.recv().unwrap(), Event::Text("m8")));
    assert_eq!(message(&mut c), (8, "m8".to_owned()));
    // Binary payloads travel as base64 in the tagged form.
    server
        .handle
        .publish("news", MessageKind::Binary, &[0, 1, 255]);
    let v = json(&mut c);
    assert_eq!(
        (v["id"].as_u64(), v["binary"].as_str()),
        (Some(9), Some("AAH/"))
    );
    assert!(matches!(plain.recv().unwrap(), Event::Binary(&[0, 1, 255])));
}

#[test]
fn what_cannot_be_resumed_is_said_and_the_rest_replayed() {
    let server = start(|c| {
        c.history = Some(HistoryLimits {
            max_messages: 3,
            ..HistoryLimits::default()
        })
    });
    for i in 1..=5 {
        publish(&server, "t", &format!("m{i}"));
    }
    let mut c = join(&server, "/topic/t?since=1").unwrap();
    let hello = json(&mut c);
    assert_eq!(
        (&hello["recovered"], &hello["last"]),
        (&Value::Bool(false), &Value::from(5))
    );
    for i in 3..=5 {
        assert_eq!(message(&mut c).0, i);
    }
    // From 2 on, all that is missing is kept.
    let mut c = join(&server, "/topic/t?since=2").unwrap();
    assert_eq!(json(&mut c)["recovered"], true);
    assert_eq!(message(&mut c).0, 3);
    // Another epoch (a restarted server's ids), or an id ahead of the newest.
    for query in ["since=4&epoch=0123456789abcdef", "since=9"] {
        let mut c = join(&server, &format!("/topic/t?{query}")).unwrap();
        assert_eq!(json(&mut c)["recovered"], false, "{query}");
        assert_eq!(message(&mut c).0, 3, "{query}: the whole history follows");
    }
    // since=0: the whole history, recovered only while it starts at 1.
    let mut c = join(&server, "/topic/fresh?since=0").unwrap();
    assert_eq!(json(&mut c)["recovered"], true);
    match join(&server, "/topic/t?since=x") {
        Err(Error::Handshake(e)) => assert!(e.to_string().contains("400"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ids_need_history() {
    let server = start(|c| c.history = None);
    for path in ["/topic/t?ids=1", "/topic/t?since=3"] {
        match join(&server, path) {
            Err(Error::Handshake(e)) => assert!(e.to_string().contains("400"), "{e}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    assert!(join(&server, "/topic/t").is_ok(), "plain rooms still work");
}

/// Two threads publish to one topic while subscribers on both workers
/// listen and others join mid-stream with `since`: every subscriber sees
/// consecutive ids, and a resumed one continues right after its `since`.
#[test]
fn ids_are_in_order_everywhere_and_resume_races_publishers() {
    const EACH: u64 = 400;
    let server = start(|_| {});
    let mut subs: Vec<Client> = (0..4)
        .map(|_| join(&server, "/topic/race?ids=1").unwrap())
        .collect();
    let mut epoch = String::new();
    for c in &mut subs {
        epoch = json(c)["epoch"].as_str().unwrap().to_owned();
    }
    await_subscriptions(&server, 4);
    let publishers: Vec<_> = (0..2)
        .map(|p| {
            let handle = server.handle.clone();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    handle.publish("race", MessageKind::Text, format!("p{p} {i}").as_bytes());
                    if i % 50 == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        })
        .collect();
    // Joiners that resume from what the first subscriber has seen so far.
    let mut seen = 0;
    let mut resumed = Vec::new();
    for _ in 0..3 {
        for _ in 0..60 {
            let (id, _) = message(&mut subs[0]);
            assert_eq!(id, seen + 1, "subscriber 0");
            seen = id;
        }
        let mut c = join(&server, &format!("/topic/race?since={seen}&epoch={epoch}")).unwrap();
        let hello = json(&mut c);
        assert_eq!(hello["recovered"], true, "{hello}");
        resumed.push((seen, c));
    }
    for p in publishers {
        p.join().unwrap();
    }
    let total = 2 * EACH;
    for (since, mut c) in resumed {
        for want in since + 1..=total {
            assert_eq!(message(&mut c).0, want, "resumed after {since}");
        }
    }
    for (n, c) in subs.iter_mut().enumerate() {
        let first = if n == 0 { seen + 1 } else { 1 };
        for want in first..=total {
            assert_eq!(message(c).0, want, "subscriber {n}");
        }
    }
    let stats = server.handle.stats();
    assert_eq!(stats.history_messages, total as usize, "{stats:?}");
}

#[test]
fn the_heartbeat_is_answered_and_never_published() {
    let server = start(|c| {
        c.heartbeat = Some(Heartbeat {
            text: "heartCheck".into(),
            reply: "alive".into(),
            also: vec!["ping".into()],
        })
    });
    let mut echo = join(&server, "/echo").unwrap();
    echo.send_text("heartCheck").unwrap();
    assert!(matches!(echo.recv().unwrap(), Event::Text("alive")));
    echo.send_text("heartCheck!").unwrap();
    assert!(
        matches!(echo.recv().unwrap(), Event::Text("heartCheck!")),
        "only the exact text"
    );
    let mut a = join(&server, "/topic/room").unwrap();
    let mut b = join(&server, "/topic/room").unwrap();
    await_subscriptions(&server, 2);
    a.send_text("heartCheck").unwrap();
    a.send_text("ping").unwrap();
    a.send_text("hi").unwrap();
    assert!(matches!(a.recv().unwrap(), Event::Text("alive")));
    assert!(
        matches!(a.recv().unwrap(), Event::Text("alive")),
        "the other text is answered too"
    );
    assert!(
        matches!(b.recv().unwrap(), Event::Text("hi")),
        "the heartbeat was not published"
    );
    // The counters lag a loop turn behind.
    let mut published = 0;
    for _ in 0..200 {
        published = server.handle.stats().published;
        if published > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(published, 1);
}

/// A raw WebSocket that did the handshake for `path` and reads nothing yet,
/// with a small receive window so that the server's queue for it fills.
fn deaf(server: &Running, path: &str) -> std::net::TcpStream {
    use std::io::{BufRead, BufReader, Write};
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&server.addr.into()).unwrap();
    let mut s: std::net::TcpStream = socket.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    // Read the response head byte by byte: nothing after it is consumed.
    let mut head = BufReader::with_capacity(1, &mut s);
    let mut line = String::new();
    loop {
        line.clear();
        head.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    s
}

/// The ids of the tagged messages on `s` until the server closes it or
/// stays quiet for `quiet`, and the close code if it closed.
fn tagged_ids(mut s: std::net::TcpStream, quiet: Duration) -> (Vec<u64>, Option<u16>) {
    use std::io::Read;
    s.set_read_timeout(Some(quiet)).unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all); // EOF, or quiet for `quiet`
    let (mut ids, mut at) = (Vec::new(), 0);
    while all.len() >= at + 2 {
        let (opcode, len7) = (all[at] & 0x0f, usize::from(all[at + 1] & 0x7f));
        let (len, start) = match len7 {
            126 if all.len() >= at + 4 => (
                usize::from(u16::from_be_bytes([all[at + 2], all[at + 3]])),
                at + 4,
            ),
            127 => panic!("no message here is that large"),
            126 => break,
            n => (n, at + 2),
        };
        let Some(payload) = all.get(start..start + len) else {
            break; // cut off by the quiet read
        };
        match opcode {
            0x1 => {
                let v: Value = serde_json::from_slice(payload).unwrap();
                if let Some(id) = v["id"].as_u64() {
                    ids.push(id);
                }
            }
            0x8 => return (ids, Some(u16::from_be_bytes([payload[0], payload[1]]))),
            _ => {}
        }
        at = start + len;
    }
    (ids, None)
}

/// With the default policy a slow plain subscriber misses messages; one
/// that asked for ids must not miss any unseen (its resume point would
/// jump over them): it is closed instead, so that it resumes.
#[test]
fn a_slow_subscriber_with_ids_is_closed_rather_than_given_a_gap() {
    let server = start(|c| {
        c.slow_subscriber_limit = 64 << 10;
        c.threads = 1;
        // The close is queued behind what the socket buffers hold (a few
        // MiB) and the close timeout runs from then: with 2 s, a loaded
        // machine reading that slowly saw the connection cut before the
        // close frame came.
        c.close_timeout = Duration::from_secs(30);
    });
    let s = deaf(&server, "/topic/firehose?ids=1");
    await_subscriptions(&server, 1);
    let payload = "x".repeat(1000);
    // 20 MiB: more than the kernel's socket buffers hold.
    for _ in 0..20_000 {
        publish(&server, "firehose", &payload);
    }
    // Let the worker take its inbox, then read what the subscriber got.
    std::thread::sleep(Duration::from_millis(200));
    let (ids, close) = tagged_ids(s, Duration::from_secs(2));
    let want: Vec<u64> = (1..=ids.len() as u64).collect();
    assert!(
        ids == want,
        "a gap after {:?}",
        ids.windows(2).find(|w| w[1] != w[0] + 1)
    );
    assert_eq!(close, Some(1013), "{} of 20000, then no close", ids.len());
}

/// A worker whose inbox is full skips a publish (`inbox_dropped`); its
/// subscribers with ids must not miss that message unseen: they are closed
/// where it would have come, so that they resume.
#[test]
fn a_message_a_full_inbox_skips_closes_the_subscribers_with_ids() {
    const MESSAGES: u64 = 2000;
    let server = start(|c| {
        c.threads = 1;
        c.max_inbox_bytes = 1; // one envelope at a time
        c.history = Some(HistoryLimits {
            max_messages: 10_000,
            ..HistoryLimits::default()
        });
    });
    let mut c = join(&server, "/topic/burst?ids=1").unwrap();
    assert_eq!(json(&mut c)["type"], "subscribed");
    await_subscriptions(&server, 1);
    for i in 0..MESSAGES {
        publish(&server, "burst", &format!("m{i}"));
    }
    let mut stats = server.handle.stats();
    for _ in 0..200 {
        if stats.inbox_dropped > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        stats = server.handle.stats();
    }
    assert!(stats.inbox_dropped > 0, "no publish was skipped: {stats:?}");
    let mut last = 0;
    let code = loop {
        match c.recv() {
            Ok(Event::Text(t)) => {
                let v: Value = serde_json::from_str(t).unwrap();
                let id = v["id"].as_u64().unwrap();
                assert_eq!(id, last + 1, "a gap after {last}");
                last = id;
            }
            Ok(Event::Close { code, .. }) => break code.map(u16::from),
            Ok(other) => panic!("{other:?}"),
            Err(e) => panic!("after {last} of {MESSAGES}: {e}"),
        }
    };
    assert_eq!(code, Some(1013), "closed after {last}");
    // It resumes from there: the history has what the inbox skipped.
    let mut c = join(&server, &format!("/topic/burst?since={last}")).unwrap();
    assert_eq!(json(&mut c)["recovered"], true);
    assert_eq!(message(&mut c).0, last + 1);
}

/// Reads until the server's close and returns its code.
fn close_code(c: &mut Client) -> Option<u16> {
    loop {
        match c.recv() {
            Ok(Event::Close { code, .. }) => return code.map(u16::from),
            Ok(_) => {}
            Err(e) => panic!("no close: {e}"),
        }
    }
}

#[test]
fn a_message_too_large_for_the_tagged_form_ends_in_a_reset_not_a_loop() {
    // The plain form of the big message fits a subscriber's output bound,
    // its tagged form (each NUL escaped as six characters) never does.
    let server = start(|c| c.connection.limits.max_output_buffer = 8 << 10);
    let mut tagged = join(&server, "/topic/t?ids=1").unwrap();
    let epoch = json(&mut tagged)["epoch"].as_str().unwrap().to_owned();
    let mut plain = join(&server, "/topic/t").unwrap();
    await_subscriptions(&server, 2);
    publish(&server, "t", "m1");
    assert_eq!(message(&mut tagged), (1, "m1".to_owned()));
    let big = "\0".repeat(4000);
    publish(&server, "t", &big);
    publish(&server, "t", "m3");
    assert!(matches!(plain.recv().unwrap(), Event::Text("m1")));
    assert!(matches!(plain.recv().unwrap(), Event::Text(t) if t == big));
    assert!(matches!(plain.recv().unwrap(), Event::Text("m3")));
    // The tagged subscriber cannot get message 2 without a gap: closed.
    assert_eq!(close_code(&mut tagged), Some(1013));
    // Its resume from 1 cannot be honoured either, ever: it is told so
    // (rather than closed again for as long as message 2 is kept), and
    // gets what it can.
    let mut again = join(&server, &format!("/topic/t?since=1&epoch={epoch}")).unwrap();
    let hello = json(&mut again);
    assert_eq!(
        (&hello["recovered"], &hello["last"]),
        (&Value::Bool(false), &Value::from(3)),
        "{hello}"
    );
    assert_eq!(message(&mut again), (1, "m1".to_owned()));
    assert_eq!(message(&mut again), (3, "m3".to_owned()));
    await_subscriptions(&server, 2);
    publish(&server, "t", "m4");
    assert_eq!(message(&mut again), (4, "m4".to_owned()), "live after it");
    // From 2 on, nothing is missing.
    let mut later = join(&server, &format!("/topic/t?since=2&epoch={epoch}")).unwrap();
    assert_eq!(json(&mut later)["recovered"], true);
    assert_eq!(message(&mut later), (3, "m3".to_owned()));
}
