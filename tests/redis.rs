//! Several instances of the server sharing topics through a real Redis
//! (feature `redis`): publishes over HTTP, from room members and from
//! other programs (plain `PUBLISH`, envelopes) reach every subscriber of
//! every instance exactly once and in order per publisher; Redis down at
//! start, killed and restarted while publishing; malformed envelopes.
//!
//! Each test starts its own `redis-server` on a free loopback port
//! (`REDIS_SERVER` names the binary; default `redis-server` from PATH) and
//! stops it by its PID. Without a redis-server binary the tests fail: CI
//! installs it (`.ci/run`).
#![cfg(feature = "redis")]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rfc6455::client::{Client, ClientConfig, Error};
use rfc6455::connection::Event;
use rfc6455::server::app::{App, AppConfig};
use rfc6455::server::{RedisConfig, Server, ServerConfig, ServerHandle, Stats};

/// A redis-server of this test, stopped (SIGKILL, by PID) when dropped.
struct Redis {
    port: u16,
    child: Option<Child>,
    dir: std::path::PathBuf,
}

impl Redis {
    fn start() -> Redis {
        Redis::start_on(free_port())
    }

    fn start_on(port: u16) -> Redis {
        let dir = std::env::temp_dir().join(format!("rfc6455-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} (install redis-server): {e}"));
        let redis = Redis {
            port,
            child: Some(child),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis.query(&[b"PING"]).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Runs one command on a fresh connection (the test's own client).
    fn query(&self, args: &[&[u8]]) -> redis::RedisResult<redis::Value> {
        let client = redis::Client::open(self.url())?;
        let mut con = client.get_connection_with_timeout(Duration::from_secs(2))?;
        let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(&mut con)
    }

    /// `redis-cli PUBLISH`, as an operator would type it.
    fn cli_publish(&self, channel: &str, payload: &str) {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "PUBLISH", channel, payload])
            .output()
            .expect("redis-cli (from redis-tools, which redis-server needs)");
        assert!(out.status.success(), "{out:?}");
    }

    fn publish(&self, channel: &str, payload: &[u8]) {
        self.query(&[b"PUBLISH", channel.as_bytes(), payload])
            .expect("PUBLISH");
    }

    /// Instances subscribed to `topic`'s channel.
    fn instances_on(&self, topic: &str) -> i64 {
        let channel = format!("rfc6455:topic:{topic}");
        match self.query(&[b"PUBSUB", b"NUMSUB", channel.as_bytes()]) {
            Ok(redis::Value::Array(v)) => match v.get(1) {
                Some(redis::Value::Int(n)) => *n,
                _ => 0,
            },
            _ => 0,
        }
    }

    fn wait_instances_on(&self, topic: &str, n: i64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.instances_on(topic) != n {
            assert!(Instant::now() < deadline, "{n} instances on {topic}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends a signal (STOP, CONT) to the redis-server.
    fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Instance {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread").expect("server result");
        }
    }
}

fn instance(redis_url: &str) -> Instance {
    instance_with(redis_url, |_| {})
}

fn instance_with(redis_url: &str, configure: impl FnOnce(&mut RedisConfig)) -> Instance {
    instance_of(redis_url, None, configure)
}

/// An instance that keeps topic history: ids come from Redis.
fn instance_with_history(redis_url: &str) -> Instance {
    let history = rfc6455::server::HistoryLimits::default();
    instance_of(redis_url, Some(history), |_| {})
}

fn instance_of(
    redis_url: &str,
    history: Option<rfc6455::server::HistoryLimits>,
    configure: impl FnOnce(&mut RedisConfig),
) -> Instance {
    let mut redis = RedisConfig {
        url: redis_url.to_owned(),
        heartbeat: Duration::from_millis(500),
        timeout: Duration::from_secs(2),
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(400),
        ..RedisConfig::default()
    };
    configure(&mut redis);
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        threads: 2,
        close_timeout: Duration::from_secs(2),
        redis: Some(redis),
        history,
        ..ServerConfig::default()
    };
    let server = Server::bind(config).expect("bind");
    let addr = server.local_addr();
    let handle = server.handle();
    let app = Arc::new(AppConfig::default());
    let thread = std::thread::spawn(move || server.run(move || App::new(Arc::clone(&app))));
    Instance {
        addr,
        handle,
        thread: Some(thread),
    }
}

impl Instance {
    fn stats(&self) -> Stats {
        self.handle.stats()
    }

    fn wait_connected(&self) {
        self.wait(|s| s.broker.connected, "connected to Redis");
    }

    fn wait(&self, mut ok: impl FnMut(&Stats) -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.stats();
            if ok(&s) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: {s:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn join(&self, topic: &str) -> Client {
        self.join_with(topic, "")
    }

    /// Joins `topic` with ids (`?ids=1`) as this instance's only
    /// subscriber: reads the subscribed notice and waits until the
    /// subscription is counted.
    fn join_only_tagged(&self, topic: &str, what: &str) -> Client {
        let mut client = self.join_with(topic, "?ids=1");
        next_json(&mut client).unwrap();
        self.wait(|s| s.subscriptions == 1, what);
        client
    }

    /// Joins `topic` with a query (`?ids=1`, `?since=N&epoch=E`).
    fn join_with(&self, topic: &str, query: &str) -> Client {
        let config = ClientConfig {
            read_timeout: Some(Duration::from_secs(10)),
            ..ClientConfig::default()
        };
        Client::connect_with(&format!("ws://{}/topic/{topic}{query}", self.addr), &config)
            .expect("connect")
    }

    /// POST /publish/TOPIC; returns the status.
    fn post(&self, topic: &str, body: &[u8]) -> u16 {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut request = format!(
            "POST /publish/{topic} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        s.write_all(&request).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let response = String::from_utf8_lossy(&out);
        response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
}

/// A received message: text, or binary shown as `bin:` and hex.
fn next(c: &mut Client) -> Option<String> {
    match c.recv() {
        Ok(Event::Text(t)) => Some(t.to_owned()),
        Ok(Event::Binary(b)) => Some(format!(
            "bin:{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        )),
        Ok(other) => panic!("unexpected {other:?}"),
        // The client reports its read timeout as Error::Timeout.
        Err(Error::Timeout) => None,
        Err(e) => panic!("recv: {e}"),
    }
}

/// Reads until `last` arrives (or the read timeout), returning everything.
fn collect_until(c: &mut Client, last: &str) -> Vec<String> {
    let mut got = Vec::new();
    while let Some(m) = next(c) {
        let done = m == last;
        got.push(m);
        if done {
            return got;
        }
    }
    panic!("{last:?} never came; got {got:?}");
}

/// Checks that `got` holds each of `want` exactly once, in that order
/// relative to each other (other messages may interleave).
fn assert_once_in_order(got: &[String], want: &[String], who: &str) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for m in got {
        *counts.entry(m.as_str()).or_default() += 1;
    }
    for w in want {
        assert_eq!(counts.get(w.as_str()), Some(&1), "{who}: {w:?} in {got:?}");
    }
    let positions: Vec<usize> = want
        .iter()
        .map(|w| got.iter().position(|m| m == w).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|p| p[0] < p[1]),
        "{who}: out of order: {got:?}"
    );
}

#[test]
fn three_instances_share_a_topic_exactly_once_in_order() {
    let redis = Redis::start();
    let instances: Vec<Instance> = (0..3).map(|_| instance(&redis.url())).collect();
    for i in &instances {
        i.wait_connected();
    }
    // Two subscribers on each instance; the second on B also speaks.
    let mut subs: Vec<(String, Client)> = Vec::new();
    for (n, i) in instances.iter().enumerate() {
        for k in 0..2 {
            subs.push((format!("instance {n} sub {k}"), i.join("news")));
        }
    }
    redis.wait_instances_on("news", 3);
    for i in &instances {
        i.wait(|s| s.subscriptions == 2, "two subscriptions");
    }
    const N: usize = 30;
    let http: Vec<String> = (0..N).map(|k| format!("http {k}")).collect();
    let room: Vec<String> = (0..N).map(|k| format!("room {k}")).collect();
    let cli: Vec<String> = (0..N).map(|k| format!("cli {k}")).collect();
    // Three publishers at once: HTTP on instance 0, a room member on
    // instance 1, another program straight into Redis.
    std::thread::scope(|scope| {
        let (a, http) = (&instances[0], &http);
        scope.spawn(move || {
            for m in http {
                assert_eq!(a.post("news", m.as_bytes()), 200);
            }
        });
        let speaker = &mut subs[3].1;
        for m in &room {
            speaker.send_text(m).unwrap();
        }
        for m in &cli {
            redis.cli_publish("rfc6455:topic:news", m);
        }
    });
    // A binary plain payload and an envelope of another program mark the end.
    redis.publish("rfc6455:topic:news", b"\xff\x00\x01");
    redis.publish("rfc6455:topic:news", b"\0rfc6455 kind=text future=1\nend");
    for (who, c) in &mut subs {
        let got = collect_until(c, "end");
        assert_once_in_order(&got, &http, who);
        assert_once_in_order(&got, &cli, who);
        if who == "instance 1 sub 1" {
            assert!(
                !got.iter().any(|m| m.starts_with("room")),
                "{who}: own echo"
            );
        } else {
            assert_once_in_order(&got, &room, who);
        }
        assert_once_in_order(&got, &["bin:ff0001".to_owned()], who);
        assert_eq!(
            got.len(),
            3 * N + 2 - usize::from(who == "instance 1 sub 1") * N
        );
    }
    for i in &instances {
        let b = i.stats().broker;
        assert_eq!((b.dropped, b.malformed, b.local_only), (0, 0, 0), "{b:?}");
        assert_eq!(b.channels, 1, "{b:?}");
    }
    // The last subscriber gone: the instance leaves the channel.
    let (_, c) = subs.remove(0);
    drop(c);
    let (_, c) = subs.remove(0);
    drop(c);
    redis.wait_instances_on("news", 2);
}

#[test]
fn a_publish_after_a_local_subscribe_reaches_it() {
    // The subscription to Redis must be confirmed before this instance's
    // next publish to the topic is sent, or it would not come back here.
    let redis = Redis::start();
    let a = instance(&redis.url());
    a.wait_connected();
    for round in 0..20 {
        let topic = format!("fresh{round}");
        let mut c = a.join(&topic);
        a.wait(|s| s.subscriptions == 1, "subscribed");
        assert_eq!(a.post(&topic, b"first"), 200);
        assert_eq!(next(&mut c).as_deref(), Some("first"), "round {round}");
        drop(c);
        a.wait(|s| s.subscriptions == 0, "unsubscribed");
    }
}

#[test]
fn malformed_envelopes_are_counted_and_not_delivered() {
    let redis = Redis::start();
    let a = instance_with(&redis.url(), |r| r.max_message_bytes = 2);
    a.wait_connected();
    let mut c = a.join("t");
    redis.wait_instances_on("t", 1);
    for bad in [
        &b"\0rfc6455 kind=ping\nx"[..],
        b"\0rfc6455 kind=text\n\xff",
        b"\0rfc6455 no end of line",
        b"\0rfc6455 id=0\nx",
        b"\0rfc6455 kind=text\nlong",
        b"plain but long",
    ] {
        redis.publish("rfc6455:topic:t", bad);
    }
    // The instance's own id exempts nothing: anyone publishing to Redis
    // can write it (it names the instance's control channel).
    let own = match redis.query(&[b"PUBSUB", b"CHANNELS", b"rfc6455:instance:*"]) {
        Ok(redis::Value::Array(v)) => match &v[..] {
            [redis::Value::BulkString(name)] => String::from_utf8(name.clone()).unwrap(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    let id = own.strip_prefix("rfc6455:instance:").unwrap();
    let forged = format!("\0rfc6455 kind=text from={id} seq=999999\nlong");
    redis.publish("rfc6455:topic:t", forged.as_bytes());
    redis.publish("rfc6455:topic:t", b"\0rfc6455 kind=binary id=7\nok");
    assert_eq!(next(&mut c).as_deref(), Some("bin:6f6b"));
    a.wait(
        |s| s.broker.malformed == 7,
        "four malformed, three too large",
    );
}

#[test]
fn redis_down_at_start_then_up() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/0");
    let a = instance(&url);
    let b = instance(&url);
    // Down: the server runs, and publishes reach this instance's own.
    let mut ca = a.join("t");
    let mut cb = b.join("t");
    a.wait(|s| s.subscriptions == 1, "subscribed");
    assert_eq!(a.post("t", b"alone"), 200);
    assert_eq!(next(&mut ca).as_deref(), Some("alone"));
    assert!(!a.stats().broker.connected);
    assert_eq!(a.stats().broker.local_only, 1);
    // Up: both connect and subscribe.
    let redis = Redis::start_on(port);
    a.wait_connected();
    b.wait_connected();
    redis.wait_instances_on("t", 2);
    assert_eq!(a.post("t", b"together"), 200);
    assert_eq!(next(&mut ca).as_deref(), Some("together"));
    assert_eq!(next(&mut cb).as_deref(), Some("together"));
}

#[test]
fn redis_killed_and_restarted_while_publishing() {
    let mut redis = Redis::start();
    let port = redis.port;
    let a = instance(&redis.url());
    let b = instance(&redis.url());
    a.wait_connected();
    b.wait_connected();
    let mut ca = a.join("t");
    let mut cb = b.join("t");
    redis.wait_instances_on("t", 2);
    // Publish from another thread on A throughout; kill Redis midway,
    // start it again, and go on until both are back and a marker passes.
    const N: usize = 400;
    let mut restarted = None;
    for k in 0..N {
        a.handle.publish(
            "t",
            rfc6455::connection::MessageKind::Text,
            format!("m {k}").as_bytes(),
        );
        if k == 100 {
            // Everything so far went through Redis (B has it), then Redis dies.
            a.wait(|s| s.broker.sent == 101, "m 0..=100 sent");
            redis.kill();
            a.wait(|s| !s.broker.connected, "notices the loss");
        }
        if k == 200 {
            restarted = Some(Redis::start_on(port));
            a.wait_connected();
            b.wait_connected();
            restarted.as_ref().unwrap().wait_instances_on("t", 2);
        }
        if k % 50 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    a.handle
        .publish("t", rfc6455::connection::MessageKind::Text, b"end");
    let sent: Vec<String> = (0..N).map(|k| format!("m {k}")).collect();
    // A's own subscriber: every message, once, in order, outage or not.
    let got_a = collect_until(&mut ca, "end");
    assert_once_in_order(&got_a, &sent, "instance A");
    assert_eq!(got_a.len(), N + 1);
    // B's: what Redis carried, once, in order; all of what came after the
    // reconnect.
    let got_b = collect_until(&mut cb, "end");
    let mut seen = std::collections::HashSet::new();
    assert!(got_b.iter().all(|m| seen.insert(m.clone())), "{got_b:?}");
    let indexes: Vec<usize> = got_b
        .iter()
        .filter_map(|m| m.strip_prefix("m ").and_then(|k| k.parse().ok()))
        .collect();
    assert!(indexes.windows(2).all(|w| w[0] < w[1]), "{got_b:?}");
    assert_eq!(indexes[..=100], (0..=100).collect::<Vec<_>>(), "{got_b:?}");
    assert!(indexes.contains(&(N - 1)), "{got_b:?}");
    assert!(got_b.len() < N + 1, "B cannot have heard the outage");
    let s = a.stats().broker;
    assert!(s.reconnects >= 1 && s.local_only >= 1, "{s:?}");
    drop(restarted);
}

#[test]
fn a_stalled_redis_never_blocks_a_publisher() {
    // Redis stopped (SIGSTOP): it accepts bytes and answers nothing. Every
    // publish still answers at once; the queue fills and drops the rest,
    // counted; the silent link is noticed and publishes go local; after
    // SIGCONT the instance reconnects and relays again.
    let redis = Redis::start();
    let a = instance_with(&redis.url(), |r| r.max_queue_bytes = 16 << 10);
    a.wait_connected();
    let mut c = a.join("t");
    redis.wait_instances_on("t", 1);
    redis.signal("STOP");
    let started = Instant::now();
    for k in 0..100 {
        let body = format!("{k:04} {}", "x".repeat(1020));
        let t0 = Instant::now();
        assert_eq!(a.post("t", body.as_bytes()), 200);
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "a publish waited for Redis"
        );
    }
    let s = a.stats().broker;
    assert!(
        started.elapsed() > Duration::from_secs(2) || s.dropped >= 80,
        "a 16 KiB queue holds at most 15 of them: {s:?}"
    );
    a.wait(|s| !s.broker.connected, "the silent link is noticed");
    assert_eq!(a.post("t", b"while stalled"), 200);
    redis.signal("CONT");
    a.wait_connected();
    redis.wait_instances_on("t", 1);
    assert_eq!(a.post("t", b"after"), 200);
    // What the subscriber gets: whatever was queued before the loss
    // (delivered here when it was noticed), the local publish, then the
    // relayed one; never more than was published, never out of order.
    let got = collect_until(&mut c, "after");
    assert!(got.contains(&"while stalled".to_owned()), "{got:?}");
    let numbers: Vec<u32> = got
        .iter()
        .filter_map(|m| m.get(..4).and_then(|n| n.parse().ok()))
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "once each, in order: {numbers:?}"
    );
    assert_eq!(numbers.len() + 2, got.len());
    let s = a.stats().broker;
    assert!(s.dropped > 0 && s.reconnects >= 1, "{s:?}");
}

/// A message in the tagged form, or a notice, as JSON.
fn next_json(c: &mut Client) -> Option<serde_json::Value> {
    next(c).map(|t| serde_json::from_str(&t).unwrap_or_else(|e| panic!("{t:?}: {e}")))
}

/// Reads tagged messages until id `last`: (id, data) pairs, notices
/// skipped (but a `recovered:false` one is an error).
fn tagged_until(c: &mut Client, last: u64) -> Vec<(u64, String)> {
    let mut got = Vec::new();
    while let Some(v) = next_json(c) {
        if v["type"] == "subscribed" {
            assert_ne!(v["recovered"], false, "{v}");
            continue;
        }
        let id = v["id"].as_u64().unwrap_or_else(|| panic!("no id: {v}"));
        got.push((id, v["data"].as_str().unwrap().to_owned()));
        if id == last {
            return got;
        }
    }
    panic!("id {last} never came; got {got:?}");
}

#[test]
fn ids_come_from_redis_and_a_client_resumes_on_any_instance() {
    let redis = Redis::start();
    let a = instance_with_history(&redis.url());
    let b = instance_with_history(&redis.url());
    a.wait_connected();
    b.wait_connected();
    // Ids count in Redis: start the counter elsewhere than 1, as a topic
    // published to before these instances started would.
    redis
        .query(&[
            b"HSET",
            b"rfc6455:ids:news",
            b"epoch",
            b"e0",
            b"last",
            b"40",
        ])
        .unwrap();
    // A subscriber on B, before B has seen an id of the topic.
    let mut on_b = b.join_with("news", "?ids=1");
    let hello = next_json(&mut on_b).unwrap();
    assert_eq!(
        (hello["type"].as_str(), hello["last"].as_u64()),
        (Some("subscribed"), Some(0))
    );
    // One on A too: the publishing instance delivers only what comes back.
    let mut on_a = a.join_with("news", "?ids=1");
    next_json(&mut on_a).unwrap();
    b.wait(|s| s.subscriptions == 1, "subscribed on B");
    a.wait(|s| s.subscriptions == 1, "subscribed on A");
    assert_eq!(a.post("news", b"m41"), 200);
    assert_eq!(a.post("news", b"m42"), 200);
    // B learns the epoch from Redis before the first message.
    let anchor = next_json(&mut on_b).unwrap();
    assert_eq!(anchor["type"], "subscribed", "{anchor}");
    assert_eq!(
        (anchor["epoch"].as_str(), anchor["last"].as_u64()),
        (Some("e0"), Some(40))
    );
    assert!(anchor.get("recovered").is_none(), "{anchor}");
    let want: Vec<(u64, String)> = vec![(41, "m41".into()), (42, "m42".into())];
    assert_eq!(tagged_until(&mut on_b, 42), want);
    assert_eq!(
        tagged_until(&mut on_a, 42),
        want,
        "once each on the publisher"
    );
    drop(on_b);
    // Missed: three from A over HTTP, one from B, one straight through the
    // script by another program (its header names only the kind).
    // A publish answers once queued for Redis: two instances' publishes
    // get ids in the order Redis runs them, so each instance's publishes
    // wait until the other's have come back.
    for m in ["m43", "m44"] {
        assert_eq!(a.post("news", m.as_bytes()), 200);
    }
    a.wait(|s| s.history_messages == 4, "m44 kept on A");
    assert_eq!(b.post("news", b"m45"), 200);
    a.wait(|s| s.history_messages == 5, "m45 kept on A");
    assert_eq!(a.post("news", b"m46"), 200);
    a.wait(|s| s.history_messages == 6, "m46 kept on A");
    redis
        .query(&[
            b"EVAL",
            rfc6455::server::PUBLISH_WITH_ID.as_bytes(),
            b"1",
            b"rfc6455:ids:news",
            b"rfc6455:topic:news",
            b"unused",
            b"3600",
            b" kind=text",
            b"m47",
        ])
        .unwrap();
    let mut all: Vec<(u64, String)> = (41..=47).map(|id| (id, format!("m{id}"))).collect();
    assert_eq!(tagged_until(&mut on_a, 47), all[2..], "live on A");
    for i in [&a, &b] {
        i.wait(|s| s.history_messages == 7, "seven kept");
    }
    // Resume on either instance: exactly the missed ones, in order.
    for (name, i) in [("A", &a), ("B", &b)] {
        let last = all.last().unwrap().0;
        let mut c = i.join_with("news", "?since=42&epoch=e0");
        let hello = next_json(&mut c).unwrap();
        assert_eq!(hello["recovered"], true, "{name}: {hello}");
        assert_eq!(hello["last"], last, "{name}: {hello}");
        assert_eq!(tagged_until(&mut c, last), all[2..], "{name}");
        // Then live, no duplicate and no gap.
        assert_eq!(b.post("news", name.as_bytes()), 200);
        let v = next_json(&mut c).unwrap();
        assert_eq!(v["data"].as_str(), Some(name), "{name}: {v}");
        assert_eq!(v["id"].as_u64(), Some(last + 1), "{name}: {v}");
        all.push((last + 1, name.to_owned()));
        assert_eq!(tagged_until(&mut on_a, last + 1), all[all.len() - 1..]);
        // The next resume may be on the other instance: it must have
        // taken this one from Redis first.
        for i in [&a, &b] {
            i.wait(|s| s.history_messages == all.len(), "the live one kept");
        }
    }
    // Another epoch is refused as such.
    let mut c = b.join_with("news", "?since=42&epoch=other");
    assert_eq!(next_json(&mut c).unwrap()["recovered"], false);
    for i in [&a, &b] {
        let s = i.stats().broker;
        assert_eq!((s.dropped, s.malformed, s.local_only), (0, 0, 0), "{s:?}");
    }
}

#[test]
fn a_resume_ahead_of_an_instance_gets_what_follows_once_it_arrives() {
    let redis = Redis::start();
    let a = instance_with_history(&redis.url());
    a.wait_connected();
    assert_eq!(a.post("news", b"m1"), 200);
    a.wait(|s| s.history_messages == 1, "m1 kept");
    let mut probe = a.join_with("news", "?ids=1");
    let hello = next_json(&mut probe).unwrap();
    assert_eq!(hello["last"], 1, "{hello}");
    let epoch = hello["epoch"].as_str().unwrap().to_owned();
    drop(probe);
    a.wait(|s| s.subscriptions == 0, "the probe gone");
    // The client got 2 and 3 on another instance, quicker than this one:
    // nothing to replay, and 2 and 3 are not sent again when they come.
    let mut c = a.join_with("news", &format!("?since=3&epoch={epoch}"));
    let hello = next_json(&mut c).unwrap();
    assert_eq!(
        (&hello["recovered"], hello["last"].as_u64()),
        (&serde_json::Value::Bool(true), Some(3)),
        "{hello}"
    );
    a.wait(|s| s.subscriptions == 1, "subscribed");
    for m in ["m2", "m3", "m4"] {
        assert_eq!(a.post("news", m.as_bytes()), 200);
    }
    assert_eq!(tagged_until(&mut c, 4), vec![(4, "m4".to_owned())]);
}

#[test]
fn plain_publishes_reach_tagged_subscribers_without_an_id() {
    let redis = Redis::start();
    let a = instance_with_history(&redis.url());
    let b = instance_with_history(&redis.url());
    a.wait_connected();
    b.wait_connected();
    let mut tagged = a.join_with("news", "?ids=1");
    next_json(&mut tagged).unwrap();
    let mut plain = b.join("news");
    a.wait(|s| s.subscriptions == 1, "subscribed on A");
    b.wait(|s| s.subscriptions == 1, "subscribed on B");
    assert_eq!(b.post("news", b"one"), 200);
    let anchor = next_json(&mut tagged).unwrap();
    assert_eq!(anchor["type"], "subscribed");
    let epoch = anchor["epoch"].as_str().unwrap().to_owned();
    assert_eq!(tagged_until(&mut tagged, 1), [(1, "one".to_owned())]);
    // redis-cli PUBLISH: no id, delivered everywhere, kept nowhere.
    redis.cli_publish("rfc6455:topic:news", "from redis-cli");
    let v = next_json(&mut tagged).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"topic": "news", "data": "from redis-cli"})
    );
    assert_eq!(next(&mut plain).as_deref(), Some("one"));
    assert_eq!(next(&mut plain).as_deref(), Some("from redis-cli"));
    assert_eq!(b.post("news", b"two"), 200);
    assert_eq!(tagged_until(&mut tagged, 2), [(2, "two".to_owned())]);
    for i in [&a, &b] {
        i.wait(|s| s.history_messages == 2, "two kept");
    }
    // A resume from before the plain message cannot be exact: said so.
    for (name, i) in [("A", &a), ("B", &b)] {
        let mut c = i.join_with("news", &format!("?since=1&epoch={epoch}"));
        let hello = next_json(&mut c).unwrap();
        assert_eq!(hello["recovered"], false, "{name}: {hello}");
        let mut c = i.join_with("news", &format!("?since=2&epoch={epoch}"));
        let hello = next_json(&mut c).unwrap();
        assert_eq!(hello["recovered"], true, "{name}: {hello}");
    }
}

#[test]
fn a_redis_that_lost_its_ids_starts_a_new_epoch_and_says_so() {
    let mut redis = Redis::start();
    let port = redis.port;
    let a = instance_with_history(&redis.url());
    a.wait_connected();
    let mut tagged = a.join_only_tagged("news", "subscribed");
    for m in ["m1", "m2", "m3"] {
        assert_eq!(a.post("news", m.as_bytes()), 200);
    }
    let anchor = next_json(&mut tagged).unwrap();
    let old = anchor["epoch"].as_str().unwrap().to_owned();
    assert_eq!(tagged_until(&mut tagged, 3).len(), 3);
    // Redis restarts without persistence: its counters are gone.
    redis.kill();
    a.wait(|s| !s.broker.connected, "lost");
    // While it is away: delivered here only, without id, not kept.
    assert_eq!(a.post("news", b"local"), 200);
    let v = next_json(&mut tagged).unwrap();
    assert_eq!(v, serde_json::json!({"topic": "news", "data": "local"}));
    let _redis = Redis::start_on(port);
    a.wait(|s| s.broker.connected, "reconnected");
    // Ids restart at 1 in a new epoch: the tagged subscriber is closed
    // (1012) so that it resumes, and its resume is not recovered.
    assert_eq!(a.post("news", b"n1"), 200);
    let mut closed = None;
    while closed.is_none() {
        match tagged.recv() {
            Ok(Event::Close { code, .. }) => closed = Some(code),
            Ok(Event::Text(t)) => panic!("after the break: {t}"),
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        closed,
        Some(Some(rfc6455::close::CloseCode::SERVICE_RESTART))
    );
    a.wait(|s| s.history_messages == 1, "the new epoch's message");
    let mut c = a.join_with("news", &format!("?since=3&epoch={old}"));
    let hello = next_json(&mut c).unwrap();
    assert_eq!(hello["recovered"], false, "{hello}");
    assert_ne!(hello["epoch"].as_str(), Some(old.as_str()));
    assert_eq!(tagged_until(&mut c, 1), [(1, "n1".to_owned())]);
}

#[test]
fn a_counter_spoiled_in_redis_starts_a_new_epoch_and_publishing_goes_on() {
    let redis = Redis::start();
    let a = instance_with_history(&redis.url());
    a.wait_connected();
    let mut tagged = a.join_only_tagged("news", "subscribed");
    let spoiled: [&[&[u8]]; 4] = [
        &[b"SET", b"rfc6455:ids:news", b"a string"],
        &[b"HSET", b"rfc6455:ids:news", b"epoch", b"e1", b"last", b"x"],
        &[
            b"HSET",
            b"rfc6455:ids:news",
            b"epoch",
            b"has space",
            b"last",
            b"3",
        ],
        &[
            b"HSET",
            b"rfc6455:ids:news",
            b"epoch",
            b"e2",
            b"last",
            b"9007199254740993",
        ],
    ];
    for (n, args) in spoiled.iter().enumerate() {
        redis.query(&[b"DEL", b"rfc6455:ids:news"]).unwrap();
        redis.query(args).unwrap();
        let text = format!("after {n}");
        assert_eq!(a.post("news", text.as_bytes()), 200);
        // A new epoch at id 1: the subscriber is told (anchor or 1012).
        let mut seen = None;
        while seen.is_none() {
            match tagged.recv() {
                Ok(Event::Text(t)) => {
                    let v: serde_json::Value = serde_json::from_str(t).unwrap();
                    if v["data"] == text.as_str() {
                        seen = Some(v["id"].as_u64().unwrap());
                    }
                }
                Ok(Event::Close { .. }) => {
                    tagged = a.join_only_tagged("news", "subscribed again");
                    let text = format!("again {n}");
                    assert_eq!(a.post("news", text.as_bytes()), 200);
                    let v = next_json(&mut tagged).unwrap();
                    assert_eq!(v["data"], text.as_str(), "{v}");
                    seen = v["id"].as_u64();
                }
                Ok(_) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert!(seen.is_some_and(|id| id <= 2), "{n}: {seen:?}");
    }
    let s = a.stats().broker;
    assert_eq!(
        (s.malformed, s.local_only, s.reconnects),
        (0, 0, 0),
        "{s:?}"
    );
}

#[test]
fn a_counter_lua_reads_as_whole_but_hincrby_refuses_does_not_stop_publishing() {
    // PUBLISH_WITH_ID checks `last` with Lua's tonumber, which takes
    // "10.0" (also "1e3", "0x10", " 7") as a whole number below 2^53; the
    // script keeps the counter, and HINCRBY then fails ("hash value is not
    // an integer"). The error fails the whole pipeline: the session ends,
    // the message is delivered here only, without id, and every later
    // publish to the topic does it again. The script's doc says such a
    // counter is replaced (a new epoch) "so that bad data in Redis never
    // stops publishing".
    let redis = Redis::start();
    let a = instance_with_history(&redis.url());
    a.wait_connected();
    let mut tagged = a.join_only_tagged("news", "subscribed");
    redis
        .query(&[
            b"HSET",
            b"rfc6455:ids:news",
            b"epoch",
            b"e1",
            b"last",
            b"10.0",
        ])
        .unwrap();
    assert_eq!(a.post("news", b"spoiled"), 200);
    let v = loop {
        let v = next_json(&mut tagged).expect("the message");
        if v["data"] == "spoiled" {
            break v;
        }
    };
    let s = a.stats().broker;
    assert!(
        v["id"].as_u64().is_some(),
        "delivered without id, here only: {v}; {s:?}"
    );
    assert_eq!((s.local_only, s.reconnects), (0, 0), "{s:?}");
}

#[test]
fn a_publish_redis_refuses_is_delivered_here_not_lost() {
    // Redis at its memory limit refuses the id script (OOM) but not the
    // marker PUBLISH that follows it in the batch. The subscriber thread
    // may read that marker before the publisher thread reads the error:
    // the marker must not count the refused publish as done, or the
    // session's failure finds nothing to deliver here and the local
    // subscribers never get it.
    let redis = Redis::start();
    let a = instance_with_history(&redis.url());
    a.wait_connected();
    let mut tagged = a.join_only_tagged("news", "subscribed");
    redis
        .query(&[b"CONFIG", b"SET", b"maxmemory", b"1"])
        .unwrap();
    for k in 0..10 {
        a.wait_connected();
        let text = format!("refused {k}");
        assert_eq!(a.post("news", text.as_bytes()), 200);
        let v = next_json(&mut tagged)
            .unwrap_or_else(|| panic!("{text} never came: {:?}", a.stats().broker));
        assert_eq!(v, serde_json::json!({"topic": "news", "data": text}));
    }
    // Counted once delivered: a moment after the subscriber may have it.
    a.wait(|s| s.broker.local_only >= 10, "ten delivered here only");
}

#[test]
fn an_ids_ttl_of_duration_max_does_not_stop_publishing() {
    // `Duration::MAX` reads as "never" elsewhere in ServerConfig. Passed
    // as is to EXPIRE (18446744073709551615 s), Redis refuses it ("invalid
    // expire time"): the id script fails after HINCRBY, the batch fails,
    // the session ends, and every publish reaches this instance only,
    // without id, session after session.
    let redis = Redis::start();
    let history = rfc6455::server::HistoryLimits::default();
    let a = instance_of(&redis.url(), Some(history), |r| {
        r.ids_ttl = Duration::MAX;
    });
    a.wait_connected();
    let mut tagged = a.join_only_tagged("news", "subscribed");
    assert_eq!(a.post("news", b"kept"), 200);
    let v = loop {
        let v = next_json(&mut tagged).expect("the message");
        if v["data"] == "kept" {
            break v;
        }
    };
    let s = a.stats().broker;
    assert_eq!(v["id"].as_u64(), Some(1), "{v}; {s:?}");
    assert_eq!((s.local_only, s.reconnects), (0, 0), "{s:?}");
    match redis.query(&[b"TTL", b"rfc6455:ids:news"]) {
        Ok(redis::Value::Int(ttl)) => assert!(ttl > 365 * 24 * 3600, "{ttl}"),
        other => panic!("TTL: {other:?}"),
    }
}

#[test]
fn a_subscribe_slower_than_a_heartbeat_but_within_the_timeout_keeps_the_session() {
    // Redis busy for 1.4 s (a slow command, a fork): a batch's replies
    // may take up to `timeout` (2 s here), and so may a SUBSCRIBE's
    // confirmation, instead of ending the session after one heartbeat
    // (0.5 s here): a reconnect drops what other instances publish
    // meanwhile.
    let redis = Redis::start();
    let a = instance(&redis.url());
    a.wait_connected();
    redis.signal("STOP");
    let mut c = a.join("t");
    a.wait(|s| s.subscriptions == 1, "subscribed here");
    std::thread::sleep(Duration::from_millis(1400));
    redis.signal("CONT");
    redis.wait_instances_on("t", 1);
    assert_eq!(a.post("t", b"after"), 200);
    assert_eq!(next(&mut c).as_deref(), Some("after"));
    let s = a.stats().broker;
    assert_eq!((s.reconnects, s.local_only), (0, 0), "{s:?}");
}
