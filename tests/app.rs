//! The bundled application (what `echo-server` runs) over loopback: rooms,
//! publishing with POST and GET /push, and everything a bad request gets:
//! 400 for bad topic names and body lengths, 411, 413, 401/403 for
//! publishers, and a body that trickles past the handshake timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rfc6455::client::{Client, ClientConfig};
use rfc6455::connection::Event;
use rfc6455::server::app::{App, AppConfig};
use rfc6455::server::{Server, ServerConfig, ServerHandle};

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

fn start(app: AppConfig, configure: impl FnOnce(&mut ServerConfig)) -> Running {
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        threads: 2,
        close_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    configure(&mut config);
    let server = Server::bind(config).expect("bind");
    let addr = server.local_addr();
    let handle = server.handle();
    let app = Arc::new(app);
    let thread = std::thread::spawn(move || server.run(move || App::new(Arc::clone(&app))));
    Running {
        addr,
        handle,
        thread: Some(thread),
    }
}

fn join(server: &Running, path: &str) -> Client {
    let config = ClientConfig {
        read_timeout: Some(Duration::from_secs(10)),
        ..ClientConfig::default()
    };
    Client::connect_with(&format!("ws://{}{path}", server.addr), &config).expect("connect")
}

fn await_subscriptions(server: &Running, n: usize) {
    await_stats(server, |s| s.subscriptions == n);
}

/// Waits (10 s at most) until the counters, which each worker publishes
/// once per loop turn, satisfy `ok`.
fn await_stats(server: &Running, ok: impl Fn(&rfc6455::server::Stats) -> bool) {
    for _ in 0..2000 {
        if ok(&server.handle.stats()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{:?}", server.handle.stats());
}

fn text(c: &mut Client) -> String {
    match c.recv().expect("recv") {
        Event::Text(t) => t.to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Sends `request` raw and returns the whole response (the server closes).
fn http(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn post(addr: SocketAddr, path: &str, headers: &str, body: &[u8]) -> String {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    http(addr, &request)
}

fn status(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"))
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[test]
fn a_room_hears_its_members_and_http_publishers() {
    let server = start(AppConfig::default(), |_| {});
    let mut a = join(&server, "/topic/lobby");
    let mut b = join(&server, "/topic/lobby");
    let mut echo = join(&server, "/echo");
    await_subscriptions(&server, 2);

    a.send_text("hi from a").unwrap();
    assert_eq!(text(&mut b), "hi from a");
    echo.send_text("ping").unwrap();
    assert_eq!(text(&mut echo), "ping", "other paths still echo");

    let r = post(server.addr, "/publish/lobby", "", b"hello");
    assert_eq!(status(&r), 200, "{r}");
    assert_eq!(body(&r), "{\"topic\":\"lobby\",\"subscribers\":2}\n");
    assert!(r.contains("Content-Type: application/json"), "{r}");
    assert_eq!(
        text(&mut a),
        "hello",
        "a did not get its own message, then this"
    );
    assert_eq!(text(&mut b), "hello");

    let r = post(server.addr, "/publish/lobby", "", &[0xff, 0, 1]);
    assert_eq!(status(&r), 200);
    match a.recv().unwrap() {
        Event::Binary(b) => assert_eq!(b, [0xff, 0, 1], "not UTF-8: binary"),
        other => panic!("{other:?}"),
    }

    let r = http(
        server.addr,
        b"GET /push?topic=lobby&data=time+is+%E2%8C%9A HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(body(&r), "{\"topic\":\"lobby\",\"subscribers\":2}\n", "{r}");
    assert!(matches!(b.recv().unwrap(), Event::Binary(_)));
    assert_eq!(text(&mut b), "time is \u{231a}");
    assert_eq!(text(&mut a), "time is \u{231a}");

    let r = post(server.addr, "/publish/nobody", "", b"x");
    assert_eq!(body(&r), "{\"topic\":\"nobody\",\"subscribers\":0}\n");
    // A worker hands its counters to the others at the end of its loop
    // turn, after it wrote the response: /stats, perhaps served by the
    // other worker, may see the last publish a moment later.
    let deadline = Instant::now() + Duration::from_secs(10);
    let stats = loop {
        let stats = body(&http(
            server.addr,
            b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n",
        ))
        .to_owned();
        if stats.contains("\"published\":5") || Instant::now() >= deadline {
            break stats;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(stats.contains("\"subscriptions\":2"), "{stats}");
    assert!(stats.contains("\"published\":5"), "{stats}");
    assert!(stats.contains("\"refused\":0"), "{stats}");
}

#[test]
fn room_echo_sends_members_their_own_messages() {
    let app = AppConfig {
        room_echo: true,
        ..AppConfig::default()
    };
    let server = start(app, |_| {});
    let mut a = join(&server, "/topic/%E8%81%8A%20room");
    let mut b = join(&server, "/topic/%E8%81%8A%20room");
    await_subscriptions(&server, 2);
    a.send_text("mine").unwrap();
    assert_eq!(text(&mut a), "mine");
    assert_eq!(text(&mut b), "mine");
    let r = post(server.addr, "/publish/%E8%81%8A%20room", "", b"x");
    assert_eq!(
        body(&r),
        "{\"topic\":\"\u{804a} room\",\"subscribers\":2}\n"
    );
}

#[test]
fn members_of_a_read_only_topic_listen_and_are_closed_if_they_send() {
    let app = AppConfig {
        read_only_topics: vec!["feed".to_owned()],
        ..AppConfig::default()
    };
    let server = start(app, |_| {});
    let mut a = join(&server, "/topic/feed");
    let mut b = join(&server, "/topic/feed");
    await_subscriptions(&server, 2);
    a.send_text("forged").unwrap();
    match a.recv().unwrap() {
        Event::Close { code, .. } => assert_eq!(code.map(u16::from), Some(1008)),
        other => panic!("{other:?}"),
    }
    await_subscriptions(&server, 1);
    let r = post(server.addr, "/publish/feed", "", b"news");
    assert_eq!(status(&r), 200, "{r}");
    assert_eq!(
        text(&mut b),
        "news",
        "HTTP publishing goes on; the forged one never came"
    );
    // Another topic is a room as before.
    let mut c = join(&server, "/topic/chat");
    let mut d = join(&server, "/topic/chat");
    await_subscriptions(&server, 3);
    c.send_text("hi").unwrap();
    assert_eq!(text(&mut d), "hi");
}

/// The status a WebSocket upgrade to `path` gets.
fn upgrade_status(addr: SocketAddr, path: &str) -> u16 {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    status(&String::from_utf8_lossy(&head))
}

#[test]
fn bad_topic_names_get_400() {
    let server = start(AppConfig::default(), |c| c.topics.max_name_len = 8);
    for (path, want) in [
        ("/topic/ok", 101),
        ("/topic/", 400),
        ("/topic/%FF%FE", 400),
        ("/topic/a%0Ab", 400),
        ("/topic/123456789", 400),
        ("/topic/%E8%81%8A%E8%81%8A", 101),
        ("/topic/%E8%81%8A%E8%81%8A%E8%81%8A", 400),
    ] {
        assert_eq!(upgrade_status(server.addr, path), want, "{path}");
    }
    for (path, want) in [
        ("/publish/ok", 200),
        ("/publish/", 400),
        ("/publish/%C0", 400),
        ("/publish/a%7Fb", 400),
        ("/publish/123456789", 400),
    ] {
        let r = post(server.addr, path, "", b"x");
        assert_eq!(status(&r), want, "{path}: {r}");
    }
    let r = http(server.addr, b"GET /push?data=x HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&r), 400, "{r}");
    // /push decodes its query as strictly as paths: no U+FFFD stand-ins.
    for query in [
        "topic=%FF&data=x",
        "topic=ok&data=%FF%FE",
        "topic=%4",
        "topic=%zz",
    ] {
        let request = format!("GET /push?{query} HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = http(server.addr, request.as_bytes());
        assert_eq!(status(&r), 400, "{query}: {r}");
    }
    let r = post(server.addr, "/publish/a%zz", "", b"x");
    assert_eq!(status(&r), 400, "{r}");
    let r = http(server.addr, b"GET /publish/ok HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&r), 405, "{r}");
}

#[test]
fn bodies_are_bounded_and_framed_strictly() {
    let server = start(AppConfig::default(), |c| c.max_body = 1000);
    let r = post(server.addr, "/publish/t", "", &[b'x'; 1000]);
    assert_eq!(status(&r), 200, "at the limit: {r}");
    // Refused from the head alone, before any body byte is read.
    let r = http(
        server.addr,
        b"POST /publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n",
    );
    assert_eq!(status(&r), 413, "{r}");
    let r = http(
        server.addr,
        b"POST /publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    );
    assert_eq!(status(&r), 413, "{r}");
    let r = http(
        server.addr,
        b"POST /publish/t HTTP/1.1\r\nHost: x\r\n\r\nabc",
    );
    assert_eq!(status(&r), 411, "no length: {r}");
    let r = http(
        server.addr,
        b"POST /publish/t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert_eq!(status(&r), 411, "chunked: {r}");
    for bad in [
        "Content-Length: -1\r\n",
        "Content-Length: 3, 3\r\n",
        "Content-Length: 3\r\nContent-Length: 4\r\n",
        "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let request = format!("POST /publish/t HTTP/1.1\r\nHost: x\r\n{bad}\r\nabc");
        let r = http(server.addr, request.as_bytes());
        assert_eq!(status(&r), 400, "{bad:?}: {r}");
    }
    // A body sent in pieces is waited for.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(b"POST /publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"def").unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    assert_eq!(status(&r), 200, "{r}");
}

#[test]
fn a_client_expecting_100_continue_hears_it_before_sending_the_body() {
    let server = start(AppConfig::default(), |c| {
        c.handshake_timeout = Duration::from_secs(2)
    });
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"POST /publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n",
    )
    .unwrap();
    // Nothing of the body is sent until the server says so.
    let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut got = vec![0; interim.len()];
    let read = s.read_exact(&mut got);
    assert!(
        read.is_ok(),
        "{read:?} after {:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(got, interim, "{:?}", String::from_utf8_lossy(&got));
    s.write_all(b"abc").unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    assert_eq!(status(&r), 200, "{r}");
    assert!(!r.contains("100 Continue"), "sent once: {r}");
    // HTTP/1.0 has no interim responses: the expectation is ignored.
    let r = http(
        server.addr,
        b"POST /publish/t HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
    );
    assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
}

#[test]
fn a_body_slower_than_the_handshake_timeout_is_cut_off() {
    let server = start(AppConfig::default(), |c| {
        c.handshake_timeout = Duration::from_millis(300)
    });
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"POST /publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        .unwrap();
    // A byte now and then, never the whole body.
    let mut out = Vec::new();
    for _ in 0..20 {
        if s.write_all(b"x").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let closed = s.read_to_end(&mut out);
    assert!(closed.is_ok() || out.is_empty(), "{closed:?}");
    assert!(
        out.is_empty(),
        "no response to a request never finished: {out:?}"
    );
    assert_eq!(server.handle.stats().published, 0);
}

#[test]
fn publishers_need_the_token_when_one_is_set() {
    let app = AppConfig {
        publish_token: Some("s3cret".to_owned()),
        ..AppConfig::default()
    };
    let server = start(app, |_| {});
    let r = post(server.addr, "/publish/t", "", b"x");
    assert_eq!(status(&r), 401, "loopback too: {r}");
    assert!(r.contains("WWW-Authenticate: Bearer"), "{r}");
    let r = post(
        server.addr,
        "/publish/t",
        "Authorization: Bearer wrong\r\n",
        b"x",
    );
    assert_eq!(status(&r), 403, "{r}");
    let r = post(
        server.addr,
        "/publish/t",
        "Authorization: Bearer s3cret\r\n",
        b"x",
    );
    assert_eq!(status(&r), 200, "{r}");
    let r = http(
        server.addr,
        b"GET /push?topic=t&data=x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n",
    );
    assert_eq!(status(&r), 200, "{r}");
}

/// Sends a request head announcing a body it never sends, and returns
/// the response: one answered from the head alone comes at once, one that
/// waits for the body would come only after the handshake timeout (60 s
/// here), past the 10 s read timeout.
fn head_only(addr: SocketAddr, head: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut out = Vec::new();
    let read = s.read_to_end(&mut out);
    assert!(
        read.is_ok(),
        "{read:?} after {:?}",
        String::from_utf8_lossy(&out)
    );
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_request_that_will_be_refused_is_answered_before_its_body() {
    // Each connection of a peer that may not publish would otherwise hold
    // up to max_body bytes until the refusal.
    let app = AppConfig {
        publish_token: Some("s3cret".to_owned()),
        ..AppConfig::default()
    };
    let server = start(app, |c| c.handshake_timeout = Duration::from_secs(60));
    let announced = "Content-Length: 100000\r\n\r\n";
    for (head, want) in [
        ("POST /publish/t HTTP/1.1\r\nHost: x\r\n", 401),
        (
            "POST /publish/t HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n",
            403,
        ),
        (
            "POST /publish/%ff HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n",
            400,
        ),
        (
            "PUT /publish/t HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n",
            405,
        ),
        // Routes that read no body answer as they would with one.
        ("GET / HTTP/1.1\r\nHost: x\r\n", 200),
        ("POST /elsewhere HTTP/1.1\r\nHost: x\r\n", 405),
        (
            "POST /publish/t HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n",
            401,
        ),
    ] {
        let r = head_only(server.addr, &format!("{head}{announced}"));
        assert_eq!(status(&r), want, "{head:?}: {r}");
        assert!(!r.contains("100 Continue"), "{head:?}: {r}");
    }
    assert_eq!(server.handle.stats().published, 0);
    // A publish that will be taken waits for its body, and takes it.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.write_all(
        b"POST /publish/t HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nContent-Length: 3\r\n\r\n",
    )
    .unwrap();
    let mut first = [0u8; 1];
    let early = s.read(&mut first);
    assert!(early.is_err(), "answered before the body: {early:?}");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"abc").unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    assert_eq!(status(&r), 200, "{r}");
    await_stats(&server, |s| s.published == 1);
}

#[test]
fn pages_of_other_sites_cannot_publish_through_a_browser() {
    let server = start(AppConfig::default(), |c| {
        c.allowed_origins = vec!["https://app.example".to_owned()]
    });
    let own = format!("Origin: http://{}\r\n", server.addr);
    for (origin, want) in [
        ("Origin: https://evil.example\r\n", 403),
        ("Origin: null\r\n", 403),
        ("Origin: https://app.example\r\n", 200),
        (own.as_str(), 200),
        ("", 200),
    ] {
        let r = post(server.addr, "/publish/t", origin, b"x");
        assert_eq!(status(&r), want, "{origin:?}: {r}");
    }
    // An <img> on another site sends a GET with no Origin, but says where
    // it comes from in Sec-Fetch-Site.
    for (site, want) in [
        ("cross-site", 403),
        ("same-site", 403),
        ("same-origin", 200),
    ] {
        let request = format!(
            "GET /push?topic=t&data=x HTTP/1.1\r\nHost: {}\r\nSec-Fetch-Site: {site}\r\n\r\n",
            server.addr
        );
        let r = http(server.addr, request.as_bytes());
        assert_eq!(status(&r), want, "{site}: {r}");
    }
    // DNS rebinding: a page of evil.example, its name made to resolve to
    // 127.0.0.1, is same-origin with the server it reaches that way.
    let port = server.addr.port();
    for (host, want) in [
        (format!("evil.example:{port}"), 403),
        (format!("localhost:{port}"), 200),
    ] {
        let request = format!(
            "POST /publish/t HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\n\
             Content-Length: 1\r\n\r\nx"
        );
        let r = http(server.addr, request.as_bytes());
        assert_eq!(status(&r), want, "{host}: {r}");
    }
}

#[test]
fn metrics_show_the_counters_in_the_prometheus_format() {
    let server = start(AppConfig::default(), |_| {});
    let mut a = join(&server, "/topic/lobby");
    let _b = join(&server, "/topic/lobby");
    await_subscriptions(&server, 2);
    let r = post(server.addr, "/publish/lobby", "", b"hello");
    assert_eq!(status(&r), 200, "{r}");
    assert_eq!(text(&mut a), "hello");
    await_stats(&server, |s| s.delivered == 2);
    let r = http(server.addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&r), 200, "{r}");
    assert!(
        r.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{r}"
    );
    let metrics = body(&r);
    for sample in [
        "rfc6455_published_total 1\n",
        "rfc6455_delivered_total 2\n",
        "rfc6455_subscriptions 2\n",
        "# TYPE rfc6455_published_total counter\n",
        "# TYPE rfc6455_connections gauge\n",
    ] {
        assert!(metrics.contains(sample), "{sample:?} in {metrics}");
    }
    assert!(!metrics.contains("redis"), "no relay: {metrics}");
}

#[test]
fn head_gets_the_head_of_get_without_content() {
    let server = start(AppConfig::default(), |_| {});
    for path in ["/", "/stats", "/metrics", "/rfc6455.js"] {
        let get = http(
            server.addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        let head = http(
            server.addr,
            format!("HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        assert_eq!(status(&head), 200, "{head}");
        assert!(!body(&get).is_empty(), "{get}");
        assert_eq!(body(&head), "", "{path}: {head}");
        let length = |r: &str| {
            r.lines()
                .find_map(|l| l.strip_prefix("Content-Length: ").map(str::to_owned))
        };
        assert!(length(&head).is_some(), "{head}");
        if path != "/stats" && path != "/metrics" {
            assert_eq!(length(&head), length(&get), "{path}");
        }
    }
    let r = http(
        server.addr,
        b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(status(&r), 405, "{r}");
    assert!(r.contains("Allow: GET, HEAD\r\n"), "{r}");
    let r = http(server.addr, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&r), 426, "{r}");
    assert!(r.contains("Connection: Upgrade, close\r\n"), "{r}");
    // Refusals to a HEAD have no content either: a request that does not
    // parse (no Host), and a body that is refused.
    for (request, want) in [
        (&b"HEAD / HTTP/1.1\r\n\r\n"[..], 400),
        (
            b"HEAD / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            411,
        ),
    ] {
        let r = http(server.addr, request);
        assert_eq!(status(&r), want, "{r}");
        assert_eq!(body(&r), "", "{r}");
        assert!(r.contains("Content-Length: "), "{r}");
    }
}

#[test]
fn a_blank_line_before_the_next_request_is_ignored() {
    // RFC 9112 section 2.2: some clients end a POST body with an extra
    // CRLF; the request after it still gets its answer.
    let server = start(AppConfig::default(), |_| {});
    let r = http(server.addr, b"\r\nGET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&r), 200, "{r}");
}

/// A page of a listed origin (a Vue dev server on another port, say)
/// publishes with fetch(): the browser shows it the answer only with
/// Access-Control-Allow-Origin, and sends a preflight OPTIONS before a
/// POST with a JSON body or a token. Other origins get neither.
#[test]
fn listed_origins_publish_with_cors() {
    let app = AppConfig {
        publish_token: Some("s3cret".to_owned()),
        ..AppConfig::default()
    };
    let server = start(app, |c| {
        c.allowed_origins = vec!["http://localhost:5173".to_owned()]
    });
    let preflight = |origin: &str| {
        http(
            server.addr,
            format!(
                "OPTIONS /publish/t HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\n\
                 Access-Control-Request-Method: POST\r\n\
                 Access-Control-Request-Headers: authorization, content-type\r\n\r\n",
                server.addr
            )
            .as_bytes(),
        )
    };
    let r = preflight("http://localhost:5173");
    assert_eq!(status(&r), 204, "{r}");
    assert!(
        r.contains("Access-Control-Allow-Origin: http://localhost:5173\r\n"),
        "{r}"
    );
    assert!(
        r.contains("Access-Control-Allow-Methods: POST, GET\r\n"),
        "{r}"
    );
    assert!(
        r.contains("Access-Control-Allow-Headers: Authorization, Content-Type\r\n"),
        "{r}"
    );
    let r = preflight("https://evil.example");
    assert_ne!(status(&r), 204, "{r}");
    assert!(!r.contains("Access-Control-Allow-Origin"), "{r}");

    let listed = "Origin: http://localhost:5173\r\nContent-Type: application/json\r\n";
    let r = post(
        server.addr,
        "/publish/t",
        &format!("{listed}Authorization: Bearer s3cret\r\n"),
        b"{}",
    );
    assert_eq!(status(&r), 200, "{r}");
    assert!(
        r.contains("Access-Control-Allow-Origin: http://localhost:5173\r\n"),
        "{r}"
    );
    assert!(r.contains("Vary: Origin\r\n"), "{r}");
    // A refusal is shown to the page too, so that it can tell why.
    let r = post(server.addr, "/publish/t", listed, b"{}");
    assert_eq!(status(&r), 401, "{r}");
    assert!(r.contains("Access-Control-Allow-Origin"), "{r}");
    let r = http(
        server.addr,
        format!(
            "GET /push?topic=t&data=x HTTP/1.1\r\nHost: {}\r\nOrigin: http://localhost:5173\r\n\
             Authorization: Bearer s3cret\r\n\r\n",
            server.addr
        )
        .as_bytes(),
    );
    assert_eq!(status(&r), 200, "{r}");
    assert!(r.contains("Access-Control-Allow-Origin"), "{r}");
    // Not listed, or not a publish: no CORS headers.
    let r = post(
        server.addr,
        "/publish/t",
        "Origin: https://evil.example\r\nAuthorization: Bearer s3cret\r\n",
        b"x",
    );
    assert_eq!(status(&r), 403, "{r}");
    assert!(!r.contains("Access-Control-Allow-Origin"), "{r}");
    let r = http(
        server.addr,
        format!(
            "GET /stats HTTP/1.1\r\nHost: {}\r\nOrigin: http://localhost:5173\r\n\r\n",
            server.addr
        )
        .as_bytes(),
    );
    assert_eq!(status(&r), 200, "{r}");
    assert!(!r.contains("Access-Control-Allow-Origin"), "{r}");
}

/// HEAD is safe: a link checker's HEAD /push?topic=..&data=.. must not
/// publish (it did, like the GET it mirrors).
#[test]
fn head_on_push_does_not_publish() {
    let server = start(AppConfig::default(), |_| {});
    let mut member = join(&server, "/topic/t");
    await_subscriptions(&server, 1);
    let r = http(
        server.addr,
        b"HEAD /push?topic=t&data=from-head HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(status(&r), 405, "{r}");
    assert!(r.contains("Allow: GET\r\n"), "{r}");
    assert_eq!(body(&r), "", "{r}");
    let r = http(
        server.addr,
        b"GET /push?topic=t&data=from-get HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(status(&r), 200, "{r}");
    assert_eq!(text(&mut member), "from-get", "HEAD published nothing");
    await_stats(&server, |s| s.published >= 1);
    assert_eq!(server.handle.stats().published, 1);
}

fn get(addr: SocketAddr, target: &str, headers: &str) -> String {
    http(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n{headers}\r\n").as_bytes(),
    )
}

#[test]
fn topics_are_counted_over_every_worker_for_publishers() {
    let app = AppConfig {
        publish_token: Some("s3cret".to_owned()),
        ..AppConfig::default()
    };
    let server = start(app, |c| c.threads = 3);
    let auth = "Authorization: Bearer s3cret\r\n";
    // Members on three workers (connections are spread over them).
    let members: Vec<Client> = [
        "/topic/a",
        "/topic/a",
        "/topic/a",
        "/topic/b%20c",
        "/topic/d",
    ]
    .iter()
    .map(|path| join(&server, path))
    .collect();
    await_subscriptions(&server, 5);
    let r = get(server.addr, "/topics", auth);
    assert_eq!(status(&r), 200, "{r}");
    assert!(r.contains("Content-Type: application/json"), "{r}");
    assert_eq!(
        body(&r),
        "{\"total\":3,\"topics\":[{\"topic\":\"a\",\"subscribers\":3},\
         {\"topic\":\"b c\",\"subscribers\":1},{\"topic\":\"d\",\"subscribers\":1}]}\n"
    );
    let r = get(server.addr, "/topics?limit=1", auth);
    assert_eq!(
        body(&r),
        "{\"total\":3,\"topics\":[{\"topic\":\"a\",\"subscribers\":3}]}\n"
    );
    let r = get(server.addr, "/topics?limit=0", auth);
    assert_eq!(body(&r), "{\"total\":3,\"topics\":[]}\n");
    let r = get(server.addr, "/topics/b%20c", auth);
    assert_eq!(body(&r), "{\"topic\":\"b c\",\"subscribers\":1}\n");
    let r = get(server.addr, "/topics/nobody", auth);
    assert_eq!(body(&r), "{\"topic\":\"nobody\",\"subscribers\":0}\n");
    for bad in ["/topics/", "/topics/%ff", "/topics?limit=ten"] {
        let r = get(server.addr, bad, auth);
        assert_eq!(status(&r), 400, "{bad}: {r}");
    }
    // Topic names may be private: the same access as publishing.
    let r = get(server.addr, "/topics", "");
    assert_eq!(status(&r), 401, "{r}");
    let r = get(server.addr, "/topics/a", "Authorization: Bearer wrong\r\n");
    assert_eq!(status(&r), 403, "{r}");
    let r = get(
        server.addr,
        "/topics",
        "Authorization: Bearer s3cret\r\nOrigin: http://evil.example\r\n",
    );
    assert_eq!(status(&r), 403, "{r}");
    // A member who leaves is no longer counted; an empty topic is gone.
    drop(members);
    await_subscriptions(&server, 0);
    let r = get(server.addr, "/topics", auth);
    assert_eq!(body(&r), "{\"total\":0,\"topics\":[]}\n");
}
