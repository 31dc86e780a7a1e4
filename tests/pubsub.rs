//! Topics and publishing in the mio server, over loopback: publish from a
//! handler, from a timer and from another thread reaches subscribers on
//! every worker, in order; unsubscribe and close stop delivery; a
//! subscriber that never reads loses messages or is closed, per the
//! policy, while the others get everything. Each test starts its own
//! server on an ephemeral port and stops it before returning.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rfc6455::client::{Client, ClientConfig};
use rfc6455::connection::{Event, MessageKind};
use rfc6455::server::{
    Context, Handler, Message, Peer, Server, ServerConfig, ServerHandle, SlowSubscriber,
    UpgradeRequest,
};
use rfc6455::CloseCode;

/// A test application: `/t/NAME` subscribes to NAME (several `/t/A/t/B`
/// not needed: one is enough); each connection is greeted with its worker
/// index. Text commands: `pub TOPIC TEXT` publishes (the sender included
/// if subscribed), `others TOPIC TEXT` publishes to the others, `sub
/// TOPIC`, `unsub TOPIC`, `mix TOPIC` sends "a", publishes "b", sends "c",
/// `bye TOPIC TEXT` closes the connection, then publishes (its own copy
/// is refused), `ctx TOPIC TEXT` publishes "from the context" with
/// [`Context::publish`], then TEXT as the connection. With a tick period,
/// worker 0 publishes `tick N` to `tick`.
struct App {
    tick: Option<Duration>,
    ticks: u64,
}

impl Handler for App {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        if let (Some(period), 0) = (self.tick, ctx.worker()) {
            ctx.set_interval(period, 7);
        }
    }

    fn on_open(&mut self, peer: &mut Peer<'_>, request: &UpgradeRequest<'_>) {
        if let Some(topic) = request.path().strip_prefix("/t/") {
            peer.subscribe(topic).unwrap();
        }
        let greeting = format!("worker {}", peer.id().worker);
        peer.send_text(&greeting).unwrap();
    }

    fn on_message(&mut self, peer: &mut Peer<'_>, message: Message<'_>) {
        let Message::Text(text) = message else {
            return;
        };
        let mut words = text.splitn(3, ' ');
        let (verb, topic, rest) = (
            words.next().unwrap_or(""),
            words.next().unwrap_or(""),
            words.next().unwrap_or(""),
        );
        let reply = match verb {
            "pub" => format!(
                "reached {}",
                peer.publish(topic, MessageKind::Text, rest.as_bytes())
            ),
            "others" => format!(
                "reached {}",
                peer.publish_to_others(topic, MessageKind::Text, rest.as_bytes())
            ),
            "sub" => format!("sub {:?}", peer.subscribe(topic)),
            "unsub" => format!("unsub {}", peer.unsubscribe(topic)),
            "mix" => {
                peer.send_text("a").unwrap();
                peer.publish(topic, MessageKind::Text, b"b");
                peer.send_text("c").unwrap();
                return;
            }
            "ctx" => {
                // The worker's publish, then the connection's: in that order.
                peer.context()
                    .publish(topic, MessageKind::Text, b"from the context");
                peer.publish(topic, MessageKind::Text, rest.as_bytes());
                return;
            }
            "bye" => {
                peer.close(CloseCode::NORMAL, "bye").unwrap();
                peer.publish(topic, MessageKind::Text, rest.as_bytes());
                return;
            }
            _ => "?".to_owned(),
        };
        peer.send_text(&reply).unwrap();
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, token: u64) {
        assert_eq!(token, 7);
        self.ticks += 1;
        let text = format!("tick {}", self.ticks);
        ctx.publish("tick", MessageKind::Text, text.as_bytes());
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

fn start(tick: Option<Duration>, configure: impl FnOnce(&mut ServerConfig)) -> Running {
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        threads: 1,
        close_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    configure(&mut config);
    let server = Server::bind(config).expect("bind");
    let addr = server.local_addr();
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.run(move || App { tick, ticks: 0 }));
    Running {
        addr,
        handle,
        thread: Some(thread),
    }
}

fn connect(server: &Running, path: &str) -> (Client, usize) {
    let config = ClientConfig {
        read_timeout: Some(Duration::from_secs(10)),
        ..ClientConfig::default()
    };
    let url = format!("ws://{}{path}", server.addr);
    let mut client = Client::connect_with(&url, &config).expect("connect");
    let greeting = text(&mut client);
    let worker = greeting
        .strip_prefix("worker ")
        .and_then(|w| w.parse().ok())
        .expect("greeting");
    (client, worker)
}

fn text(client: &mut Client) -> String {
    match client.recv().expect("recv") {
        Event::Text(t) => t.to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Subscribers of `path` spread over at least two workers (the kernel
/// picks the worker; a bounded number of tries).
fn spread(server: &Running, path: &str, want: usize) -> Vec<Client> {
    let mut clients = Vec::new();
    let mut workers = BTreeSet::new();
    for _ in 0..200 {
        let (client, worker) = connect(server, path);
        workers.insert(worker);
        clients.push(client);
        if clients.len() >= want && workers.len() >= 2 {
            return clients;
        }
    }
    panic!("all connections landed on workers {workers:?}");
}

/// Waits until the server counts `n` subscriptions (subscribing happens on
/// the workers, after the handshake the client saw).
fn await_subscriptions(server: &Running, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.handle.stats().subscriptions != n {
        assert!(Instant::now() < deadline, "{:?}", server.handle.stats());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_handler_publishes_to_subscribers_on_every_worker_in_order() {
    let server = start(None, |c| c.threads = 4);
    let mut subscribers = spread(&server, "/t/room", 6);
    let (mut publisher, _) = connect(&server, "/plain");
    await_subscriptions(&server, subscribers.len());
    for i in 0..500 {
        publisher.send_text(&format!("pub room m{i}")).unwrap();
    }
    for i in 0..500 {
        assert_eq!(
            text(&mut publisher),
            format!("reached {}", subscribers.len()),
            "{i}"
        );
    }
    for s in &mut subscribers {
        for i in 0..500 {
            assert_eq!(text(s), format!("m{i}"));
        }
    }
    // Workers hand their counters over once per loop turn, each its own:
    // the publishing worker's count may come before the others'.
    let all = 500 * subscribers.len() as u64;
    let stats = settled_stats(&server, |s| s.published == 500 && s.delivered >= all);
    assert_eq!((stats.published, stats.delivered), (500, all), "{stats:?}");
    assert_eq!(stats.dropped_slow, 0);
}

#[test]
fn a_publication_to_a_closing_subscriber_is_counted_as_refused() {
    let server = start(None, |_| {});
    let (mut leaver, _) = connect(&server, "/t/room");
    let (mut stayer, _) = connect(&server, "/t/room");
    await_subscriptions(&server, 2);
    leaver.send_text("bye room last words").unwrap();
    assert_eq!(text(&mut stayer), "last words");
    match leaver.recv().expect("recv") {
        Event::Close { code, .. } => assert_eq!(code, Some(CloseCode::NORMAL)),
        other => panic!("expected the close, got {other:?}"),
    }
    let stats = settled_stats(&server, |s| s.published == 1 && s.refused == 1);
    assert_eq!((stats.delivered, stats.refused), (1, 1), "{stats:?}");
    assert_eq!(stats.dropped_slow, 0);
}

/// The server's counters once `done` holds for them (they lag a turn).
fn settled_stats(
    server: &Running,
    done: impl Fn(&rfc6455::server::Stats) -> bool,
) -> rfc6455::server::Stats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = server.handle.stats();
        if done(&stats) || Instant::now() > deadline {
            return stats;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn another_thread_publishes_through_the_handle_in_order() {
    let server = start(None, |c| c.threads = 3);
    let mut subscribers = spread(&server, "/t/news", 5);
    await_subscriptions(&server, subscribers.len());
    assert_eq!(server.handle.subscribers("news"), subscribers.len());
    assert_eq!(server.handle.subscribers("sport"), 0);
    let handle = server.handle.clone();
    let n = subscribers.len();
    let publisher = std::thread::spawn(move || {
        for i in 0..1000u32 {
            let reached = handle.publish("news", MessageKind::Binary, &i.to_be_bytes());
            assert_eq!(reached, n);
        }
        assert_eq!(handle.publish("sport", MessageKind::Text, b"x"), 0);
    });
    for s in &mut subscribers {
        for i in 0..1000u32 {
            match s.recv().expect("recv") {
                Event::Binary(b) => assert_eq!(b, i.to_be_bytes()),
                other => panic!("{other:?}"),
            }
        }
    }
    publisher.join().unwrap();
    // Counted once per publish, as a handler's are.
    let stats = settled_stats(&server, |s| s.published == 1001);
    assert_eq!(stats.published, 1001, "{stats:?}");
}

#[test]
fn a_timer_publishes_without_a_thread_of_its_own() {
    let server = start(Some(Duration::from_millis(20)), |c| c.threads = 2);
    let mut subscribers = spread(&server, "/t/tick", 2);
    for s in &mut subscribers {
        let mut last = 0;
        for _ in 0..5 {
            let tick: u64 = text(s).strip_prefix("tick ").unwrap().parse().unwrap();
            assert!(tick > last, "ticks in order");
            last = tick;
        }
    }
}

#[test]
fn the_sender_is_included_or_not_and_its_own_sends_keep_their_place() {
    let server = start(None, |_| {});
    let (mut a, _) = connect(&server, "/t/room");
    let (mut b, _) = connect(&server, "/t/room");
    await_subscriptions(&server, 2);
    a.send_text("others room hi").unwrap();
    assert_eq!(text(&mut b), "hi");
    assert_eq!(text(&mut a), "reached 1");
    a.send_text("pub room all").unwrap();
    assert_eq!(text(&mut a), "all", "its own copy first: queued at once");
    assert_eq!(text(&mut a), "reached 2");
    assert_eq!(text(&mut b), "all");
    a.send_text("mix room").unwrap();
    assert_eq!([text(&mut a), text(&mut a), text(&mut a)], ["a", "b", "c"]);
    assert_eq!(text(&mut b), "b");
}

#[test]
fn a_connections_publish_comes_after_what_its_callback_published_before() {
    let server = start(None, |_| {});
    let (mut a, _) = connect(&server, "/t/room");
    let (mut b, _) = connect(&server, "/t/room");
    await_subscriptions(&server, 2);
    a.send_text("ctx room second").unwrap();
    for c in [&mut a, &mut b] {
        assert_eq!(
            [text(c), text(c)],
            ["from the context", "second"],
            "published from one thread: in that order"
        );
    }
}

#[test]
fn unsubscribe_and_close_stop_delivery() {
    let server = start(None, |c| c.threads = 2);
    let (mut a, _) = connect(&server, "/t/room");
    let (mut b, _) = connect(&server, "/t/room");
    let (mut c, _) = connect(&server, "/t/room");
    await_subscriptions(&server, 3);
    b.send_text("unsub room").unwrap();
    assert_eq!(text(&mut b), "unsub true");
    c.close(CloseCode::NORMAL, "").unwrap();
    await_subscriptions(&server, 1);
    assert_eq!(server.handle.publish("room", MessageKind::Text, b"one"), 1);
    assert_eq!(text(&mut a), "one");
    // b hears nothing more: the next thing it gets is its own reply.
    b.send_text("pub elsewhere x").unwrap();
    assert_eq!(text(&mut b), "reached 0");
    b.send_text("sub room").unwrap();
    assert_eq!(text(&mut b), "sub Ok(true)");
    b.send_text("sub room").unwrap();
    assert_eq!(text(&mut b), "sub Ok(false)");
    b.send_text("sub ").unwrap();
    assert_eq!(text(&mut b), "sub Err(Empty)");
}

/// A subscriber that never reads: a raw socket that did the handshake.
fn deaf_subscriber(addr: SocketAddr, topic: &str) -> TcpStream {
    use std::io::Write;
    // A small receive window, so the kernel's buffers fill soon.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut s: TcpStream = socket.into();
    write!(
        s,
        "GET /t/{topic} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    s
}

/// Reads everything until the server closes; returns the close code found
/// in the last frame, if it is a close frame.
fn drain_to_close(mut s: TcpStream) -> Option<u16> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    // The close frame is the last one: 0x88, length, code.
    let at = all
        .windows(2)
        .rposition(|w| w[0] == 0x88 && w[1] >= 2 && w[1] < 126)?;
    Some(u16::from_be_bytes([all[at + 2], all[at + 3]]))
}

/// Published in the slow-subscriber runs: 20 MiB, more than the kernel's
/// socket buffers hold.
const MESSAGES: u32 = 20_000;

fn slow_subscriber_run(policy: SlowSubscriber) -> (rfc6455::server::Stats, Option<u16>) {
    let server = start(None, |c| {
        c.slow_subscriber_limit = 64 << 10;
        c.slow_subscriber = policy;
    });
    let deaf = deaf_subscriber(server.addr, "firehose");
    let (mut reader, _) = connect(&server, "/t/firehose");
    await_subscriptions(&server, 2);
    let payload = vec![b'x'; 1024];
    for i in 0..MESSAGES {
        let mut m = payload.clone();
        m[..4].copy_from_slice(&i.to_be_bytes());
        server.handle.publish("firehose", MessageKind::Binary, &m);
        // Let the reader keep up: the test is about the deaf one.
        if i % 100 == 99 {
            for j in i - 99..=i {
                match reader.recv().expect("recv") {
                    Event::Binary(b) => assert_eq!(b[..4], j.to_be_bytes()),
                    other => panic!("{other:?}"),
                }
            }
        }
    }
    // The reader has everything; the counters settle a turn later.
    let mut stats = server.handle.stats();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = server.handle.stats();
        if now == stats {
            break;
        }
        stats = now;
    }
    // The deaf one's memory on the server stayed bounded by the limit: the
    // socket buffers took some, the queue at most the limit.
    (stats, {
        drop(reader);
        if policy == SlowSubscriber::Close {
            drain_to_close(deaf)
        } else {
            None
        }
    })
}

#[test]
fn a_subscriber_that_never_reads_loses_messages_and_the_others_do_not() {
    let (stats, _) = slow_subscriber_run(SlowSubscriber::Drop);
    assert!(stats.dropped_slow > 0, "{stats:?}");
    assert_eq!(stats.closed_slow, 0);
    // Every message reached the reader; the deaf one got what fit.
    assert_eq!(
        stats.delivered + stats.dropped_slow,
        2 * u64::from(MESSAGES)
    );
}

#[test]
fn a_subscriber_that_never_reads_is_closed_with_1013() {
    let (stats, code) = slow_subscriber_run(SlowSubscriber::Close);
    assert_eq!(stats.closed_slow, 1, "{stats:?}");
    assert_eq!(stats.dropped_slow, 0);
    assert_eq!(code, Some(1013));
}
