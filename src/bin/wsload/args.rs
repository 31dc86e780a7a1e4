//! Command-line flags, parsed by hand like `echo-server`'s.

use std::time::Duration;

use rfc6455::server::cli::{parse_secs, parse_size, Args};

use crate::payload::Payload;

pub const HELP: &str = "\
wsload: a load generator for WebSocket (RFC 6455) echo and pub/sub servers

Opens N connections (at most --handshakes opening handshakes at a time, so
the server's listen backlog is not overrun), then every connection sends a
masked message of S bytes, waits for its echo, checks every byte of it
against what was sent, and sends the next; with --pipeline D it keeps D
messages in flight. After the warm-up it measures for T seconds, then lets
the echoes in flight come back, closes every connection cleanly and prints
one line on stdout:

    conns=100 size=20 secs=5.00 pipeline=1 threads=1 kind=binary msgs=679864
    rate=135973 mbps=21.76 p50_us=684.0 p99_us=831.5 p999_us=1597.4
    max_us=62895.0 cpu=0.94 errors=0       (one line, wrapped here)

It exits with status 1 on any error: a failed connect or handshake, a
protocol error, a close frame or end of stream from the server, an echo
that differs from the message sent (in content, type or order), or echoes
still missing at the end. Each error is described on stderr.

USAGE:
    wsload ws://HOST:PORT/PATH [OPTIONS]
    wsload wss://HOST:PORT/PATH [--cafile CA.pem] [OPTIONS]
    wsload tcp://HOST:PORT [OPTIONS]
    wsload ws[s]://HOST:PORT/topic/NAME --subscribers N [FAN-OUT OPTIONS]

A tcp:// URL runs the same load over bare TCP against a server that
writes back every byte it reads (the floor under a WebSocket echo): no
handshake, no framing; each message is S bytes and its echo the next S
bytes read, checked byte for byte (kind=tcp; --text does not apply). At
the end each connection shuts down its side and waits for the server's.

OPTIONS:
    --conns N           connections [default: 1]
    --size BYTES        payload bytes of every message [default: 20]
    --secs T            seconds measured, fractions allowed [default: 5]
    --pipeline D        messages in flight per connection [default: 1]
    --text              send text (printable ASCII) instead of binary
    --payload KIND      random (default) or json: text messages cut from
                        JSON-like records, the same bytes in every run
                        (compressible like real traffic); implies --text
    --deflate           offer permessage-deflate (RFC 7692) without context
                        takeover, and fail if the server declines it
    --threads N         event loops, the connections split between them
                        [default: 1]
    --warmup SECS       seconds of load before measuring starts [default: 0]
    --handshakes N      most opening handshakes in flight at once, over all
                        threads [default: 64]
    --churn             measure opening handshakes instead of echoes: every
                        connection connects (TCP, TLS for wss://, the
                        upgrade), closes with a close handshake, and
                        connects again; msgs= counts handshakes completed
                        in the window, p50_us.. their time from connect to
                        the 101, server_ns_per_msg the server's CPU per
                        handshake (and its close)
    --cafile FILE       for wss://: trust the CA certificates in this PEM
                        file instead of Mozilla's roots (the server's name
                        is always verified)
    --idle              hold the connections open without traffic for the
                        window (to measure a server's memory per idle
                        connection); msgs=0 is then no error
    --server-pid PID    also measure this local process's CPU time over the
                        window (the server's): adds server_cpu=,
                        server_ns_per_msg=, server_user_ns_per_msg= and
                        server_kernel_ns_per_msg= before errors=
    -h, --help          print this help

FAN-OUT OPTIONS (see FAN-OUT MODE below; --threads, --size, --secs,
--warmup, --handshakes, --cafile and --server-pid as above):
    --subscribers N     receiving connections; this flag selects the mode
    --publishers P      sending connections [default: 1]
    --rate R            messages per second from each publisher
                        [default: as fast as the window allows]
    --window W          most messages of one publisher that some receiver
                        has not yet received [default: 16]

Sizes take suffixes: 1KiB, 16KiB, 1MiB (also KB, MB for powers of ten).

FIELDS:
    msgs        echoes received and verified within the measured window
    rate        msgs per second
    mbps        payload megabits (10^6) per second, each way
    p50_us ...  round trip of one message in microseconds, from just before
                its write to its echo decoded and checked (with --pipeline,
                this includes waiting behind the messages ahead of it);
                p50, p99, p99.9 and the maximum, to within 1/64
    cpu         CPU time wsload used during the window, in cores
    server_cpu  with --server-pid: the server's CPU time in the window, in
                cores; server_ns_per_msg is that time per echoed message,
                a figure that does not depend on whether wsload saturates;
                server_user_ns_per_msg and server_kernel_ns_per_msg split
                it by the server's utime and stime (/proc/PID/stat); each
                is - when /proc could not tell or msgs=0
    wire_in_per_msg  with --deflate: bytes read from the sockets in the
                window per echo, the server's frames as they came (headers
                included, TCP/IP headers not): over --size, the server's
                compression ratio
    errors      connections that failed

FAN-OUT MODE:
    Opens P publishers, then N subscribers, all on the same URL (P + N
    connections): the server is expected to publish every message one of
    them sends to all the others and never back to the sender (our
    echo-server's /topic/NAME; Bun's ws.publish). A publisher receives the
    other publishers' messages. Each message is binary, --size bytes (at
    least 20): the publisher's number (u32), its sequence number (u64) and
    its send time (u64 nanoseconds on wsload's monotonic clock, which all
    threads share), little-endian, then padding that depends on publisher
    and sequence. Every receiver checks every byte, and per publisher
    that nothing is lost, repeated or out of order.

    As fast as possible does not mean overrunning the server: its
    slow-subscriber policy would then drop messages or subscribers, and
    the run would measure that policy. A publisher may send its message k
    only once every receiver has received its message k-W (--window W),
    so at most W messages per publisher, W x P per receiver, are ever
    queued; W x P x (size + 10) bytes must fit in the server's per-
    connection output limit. With --rate R each publisher sends every
    1/R seconds, still within the window; a message the window held back
    is stamped with the time it was due, so the hold shows in its latency.

    After the window the publishers stop and every message sent is
    awaited, as long as one of them reaches its last receiver at least
    every 5 s; then every connection is closed cleanly and one line is
    printed:

    mode=fanout subscribers=1000 publishers=1 size=64 secs=5.00 window=16
    publish_rate=max threads=1 published=9460 pub_rate=1892 msgs=9460000
    rate=1892000 p50_us=4012.0 p99_us=6106.1 p999_us=6400.5 max_us=7020.0
    lost=0 reordered=0 lossy_subs=0 cpu=0.71 cpu_max=0.71 errors=0
                                               (one line, wrapped here)

    published   messages the publishers sent within the window
    msgs, rate  messages received within the window (every receiver
                counts), and per second: the delivered rate
    p50_us ...  publish to receive: from the send time in the message to
                the receiver decoding it
    lost        messages sent but never received, summed over receivers;
                reordered, those that came after a later one from the
                same publisher; lossy_subs, receivers with either (all
                zero unless a subscriber is slow: any other value exits 1)
    cpu_max     the busiest load thread's CPU in cores; at 0.95 or more
                (or cpu= near the cores wsload may use), wsload is the
                bottleneck, which it also says on stderr: add --threads
                and cores
    server_*    with --server-pid, as in echo mode per delivered message,
                and server_user= and server_sys=, the server's CPU in
                cores split by its user and kernel shares

PINNING:
    Give the server and wsload a core each, the server with one worker
    thread, so neither measures the scheduler:

        taskset -c 0 target/release/echo-server --threads 1 &
        taskset -c 1 target/release/wsload ws://127.0.0.1:9001/ \\
            --conns 100 --size 20 --secs 5 --warmup 1 --server-pid $!

    When cpu= is close to 1.00 per thread, wsload saturates its core and
    the rate is partly its own limit: compare servers by their CPU time per
    message (--server-pid $!), or let wsload batch with --pipeline.

COST:
    One thread by default, no allocation per message: every thread builds
    its payload bytes once and each message is a window into them; a
    connection queues its messages and writes them with one call. Masking
    keys come from splitmix64 seeded once from the OS, not a CSPRNG: the
    RFC asks for unpredictable keys to protect intermediaries from hostile
    scripts, and a load tool sending its own payloads to a server under test
    has no such adversary.
";

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub url: String,
    pub conns: usize,
    pub size: usize,
    pub secs: Duration,
    pub pipeline: usize,
    pub text: bool,
    pub payload: Payload,
    pub deflate: bool,
    pub threads: usize,
    pub warmup: Duration,
    pub handshakes: usize,
    pub server_pid: Option<u32>,
    pub idle: bool,
    /// Handshakes per second instead of echoes.
    pub churn: bool,
    /// For `wss://`: the CA certificates to trust instead of Mozilla's.
    pub cafile: Option<String>,
    /// Fan-out mode: the number of subscribers.
    pub subscribers: Option<usize>,
    pub publishers: usize,
    /// Messages per second from each publisher; `None`: as fast as the
    /// window allows.
    pub rate: Option<f64>,
    pub window: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            url: String::new(),
            conns: 1,
            size: 20,
            secs: Duration::from_secs(5),
            pipeline: 1,
            text: false,
            payload: Payload::Random,
            deflate: false,
            threads: 1,
            warmup: Duration::ZERO,
            handshakes: 64,
            server_pid: None,
            idle: false,
            churn: false,
            cafile: None,
            subscribers: None,
            publishers: 1,
            rate: None,
            window: 16,
        }
    }
}

/// Parses the arguments after the program name; `Ok(None)` means help was
/// asked for.
pub fn parse(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut o = Options::default();
    let mut url = None;
    // Flags of one mode only, to refuse them in the other.
    let (mut echo_only, mut fanout_only) = (None, None);
    let mut args = Args::new(args);
    while let Some(flag) = args.next_flag() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        if matches!(
            flag.as_str(),
            "--conns" | "--pipeline" | "--text" | "--payload" | "--deflate" | "--idle" | "--churn"
        ) {
            echo_only = Some(flag.clone());
        }
        if matches!(flag.as_str(), "--publishers" | "--rate" | "--window") {
            fanout_only = Some(flag.clone());
        }
        let mut value = || args.value(&flag);
        match flag.as_str() {
            "--conns" => o.conns = positive(&flag, &value()?)?,
            "--size" => {
                o.size = usize::try_from(parse_size(&flag, &value()?)?)
                    .map_err(|_| format!("{flag}: too large"))?
            }
            "--secs" => o.secs = parse_secs(&flag, &value()?)?,
            "--pipeline" => o.pipeline = positive(&flag, &value()?)?,
            "--text" => o.text = true,
            "--payload" => o.payload = Payload::parse(&flag, &value()?)?,
            "--deflate" if cfg!(feature = "deflate") => o.deflate = true,
            "--deflate" => return Err("--deflate needs the deflate feature".into()),
            "--idle" => o.idle = true,
            "--churn" => o.churn = true,
            "--cafile" => o.cafile = Some(value()?),
            "--threads" => o.threads = positive(&flag, &value()?)?,
            "--warmup" => o.warmup = parse_secs(&flag, &value()?)?,
            "--handshakes" => o.handshakes = positive(&flag, &value()?)?,
            "--subscribers" => o.subscribers = Some(positive(&flag, &value()?)?),
            "--publishers" => o.publishers = positive(&flag, &value()?)?,
            "--window" => o.window = positive(&flag, &value()?)?,
            "--rate" => {
                let v = value()?;
                let rate = v
                    .parse::<f64>()
                    .ok()
                    .filter(|r| r.is_finite() && *r > 0.0 && *r <= 1e9)
                    .ok_or_else(|| format!("{flag} {v}: not a rate above 0"))?;
                o.rate = Some(rate);
            }
            "--server-pid" => {
                let v = value()?;
                let pid = v
                    .parse()
                    .map_err(|_| format!("{flag} {v}: not a process id"))?;
                o.server_pid = Some(pid);
            }
            _ if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            _ if url.is_none() => url = Some(flag),
            _ => return Err(format!("unexpected argument {flag}")),
        }
    }
    o.url = url.ok_or("a ws://, wss:// or tcp:// URL is required")?;
    if o.payload == Payload::Json {
        o.text = true;
    }
    if o.churn && o.idle {
        return Err("--churn and --idle do not go together".into());
    }
    if o.is_raw() {
        if o.churn {
            return Err("--churn needs a ws:// or wss:// URL".into());
        }
        if o.deflate {
            return Err("--deflate needs a ws:// or wss:// URL".into());
        }
        if o.subscribers.is_some() {
            return Err("fan-out mode (--subscribers) needs a ws:// or wss:// URL".into());
        }
    }
    if o.secs.is_zero() {
        return Err("--secs must be above 0".into());
    }
    match o.subscribers {
        Some(subscribers) => {
            if let Some(flag) = echo_only {
                return Err(format!("{flag} is not a fan-out option"));
            }
            if o.size < crate::fanout::HEADER {
                return Err(format!(
                    "--size {}: fan-out messages carry a {}-byte header",
                    o.size,
                    crate::fanout::HEADER
                ));
            }
            o.conns = subscribers
                .checked_add(o.publishers)
                .ok_or("--subscribers: too many")?;
        }
        None => {
            if let Some(flag) = fanout_only {
                return Err(format!("{flag} needs --subscribers (fan-out mode)"));
            }
        }
    }
    // More threads than connections would leave some idle.
    o.threads = o.threads.min(o.conns);
    Ok(Some(o))
}

impl Options {
    /// A `tcp://` URL: the echo over bare TCP (`raw.rs`).
    pub fn is_raw(&self) -> bool {
        self.url.starts_with("tcp://")
    }
}

fn positive(flag: &str, v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag} {v}: not a whole number above 0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Option<Options>, String> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_set_the_options() {
        let o = parse_strs(&[
            "ws://127.0.0.1:9001/",
            "--conns",
            "100",
            "--size=1KiB",
            "--secs",
            "2.5",
            "--pipeline",
            "16",
            "--text",
            "--threads=2",
            "--warmup",
            "0.5",
            "--handshakes",
            "8",
            "--server-pid=4242",
            "--idle",
            "--cafile",
            "ca.pem",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(o.url, "ws://127.0.0.1:9001/");
        assert_eq!((o.conns, o.size, o.pipeline, o.threads), (100, 1024, 16, 2));
        assert_eq!(o.secs, Duration::from_millis(2500));
        assert_eq!(o.warmup, Duration::from_millis(500));
        assert!(o.text);
        assert_eq!(o.handshakes, 8);
        assert_eq!(o.server_pid, Some(4242));
        assert!(o.idle);
        assert_eq!(o.cafile.as_deref(), Some("ca.pem"));
        assert!(!o.churn);
        let o = parse_strs(&["wss://h/", "--churn"]).unwrap().unwrap();
        assert!(o.churn);
    }

    #[test]
    fn defaults_and_help() {
        let o = parse_strs(&["ws://h/"]).unwrap().unwrap();
        assert_eq!((o.conns, o.size, o.pipeline, o.threads), (1, 20, 1, 1));
        assert!(!o.text);
        assert_eq!(parse_strs(&["--help"]), Ok(None));
        assert_eq!(parse_strs(&["ws://h/", "-h"]), Ok(None));
    }

    #[test]
    fn payload_deflate_and_tcp_urls() {
        let o = parse_strs(&["ws://h/", "--payload", "json"])
            .unwrap()
            .unwrap();
        assert_eq!(o.payload, Payload::Json);
        assert!(o.text, "json payloads are text");
        assert!(!o.deflate);
        assert!(parse_strs(&["ws://h/", "--payload", "xml"]).is_err());
        let deflate = parse_strs(&["ws://h/", "--deflate"]);
        if cfg!(feature = "deflate") {
            assert!(deflate.unwrap().unwrap().deflate);
        } else {
            assert!(deflate.unwrap_err().contains("deflate feature"));
        }
        let o = parse_strs(&["tcp://127.0.0.1:9001", "--conns", "3"])
            .unwrap()
            .unwrap();
        assert!(o.is_raw());
        assert!(!parse_strs(&["ws://h/"]).unwrap().unwrap().is_raw());
        for (bad, says) in [
            (&["tcp://h:1", "--churn"][..], "ws:// or wss://"),
            (&["tcp://h:1", "--subscribers", "3"], "ws:// or wss://"),
            (
                &["ws://h/", "--subscribers", "3", "--payload", "json"],
                "not a fan-out",
            ),
            (&["ws://h/", "--subscribers", "3", "--deflate"], "fan-out"),
        ] {
            let err = parse_strs(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
        if cfg!(feature = "deflate") {
            let err = parse_strs(&["tcp://h:1", "--deflate"]).unwrap_err();
            assert!(err.contains("ws:// or wss://"), "{err}");
        }
    }

    #[test]
    fn threads_never_exceed_connections() {
        let o = parse_strs(&["ws://h/", "--conns", "2", "--threads", "4"])
            .unwrap()
            .unwrap();
        assert_eq!(o.threads, 2);
    }

    #[test]
    fn fanout_flags_select_the_mode() {
        let o = parse_strs(&[
            "ws://h/topic/t",
            "--subscribers",
            "1000",
            "--publishers=2",
            "--rate",
            "100",
            "--window",
            "4",
            "--size",
            "64",
            "--threads",
            "2",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(o.subscribers, Some(1000));
        assert_eq!((o.publishers, o.window, o.size), (2, 4, 64));
        assert_eq!(o.rate, Some(100.0));
        assert_eq!(o.conns, 1002, "subscribers and publishers");
        assert_eq!(o.threads, 2);
        let o = parse_strs(&["ws://h/topic/t", "--subscribers", "3"])
            .unwrap()
            .unwrap();
        assert_eq!((o.publishers, o.window, o.rate), (1, 16, None));
        assert_eq!(parse_strs(&["ws://h/"]).unwrap().unwrap().subscribers, None);
        let o = parse_strs(&[
            "wss://h/topic/t",
            "--subscribers",
            "3",
            "--cafile",
            "ca.pem",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(o.cafile.as_deref(), Some("ca.pem"));
    }

    #[test]
    fn flags_of_the_other_mode_are_refused() {
        for (bad, says) in [
            (&["ws://h/", "--rate", "10"][..], "needs --subscribers"),
            (&["ws://h/", "--window", "10"], "needs --subscribers"),
            (&["ws://h/", "--publishers", "2"], "needs --subscribers"),
            (
                &["ws://h/", "--subscribers", "9", "--pipeline", "4"],
                "not a fan-out",
            ),
            (
                &["ws://h/", "--subscribers", "9", "--conns", "4"],
                "not a fan-out",
            ),
            (
                &["ws://h/", "--subscribers", "9", "--text"],
                "not a fan-out",
            ),
            (
                &["ws://h/", "--subscribers", "9", "--churn"],
                "not a fan-out",
            ),
            (&["ws://h/", "--subscribers", "9", "--size", "19"], "header"),
            (&["ws://h/", "--subscribers", "0"], "above 0"),
            (&["ws://h/", "--subscribers", "9", "--rate", "0"], "rate"),
            (&["ws://h/", "--subscribers", "9", "--rate", "inf"], "rate"),
            (
                &["ws://h/", "--subscribers", "9", "--window", "0"],
                "above 0",
            ),
        ] {
            let err = parse_strs(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn bad_flags_are_reported() {
        for bad in [
            &["--conns", "4"][..], // no URL
            &["ws://h/", "--conns", "0"],
            &["ws://h/", "--pipeline"],
            &["ws://h/", "--size", "12XB"],
            &["ws://h/", "--secs", "0"],
            &["ws://h/", "--secs", "-1"],
            &["ws://h/", "--bogus"],
            &["ws://h/", "--server-pid", "x"],
            &["ws://h/", "ws://other/"],
            &["ws://h/", "--churn", "--idle"],
            &["ws://h/", "--cafile"],
        ] {
            assert!(parse_strs(bad).is_err(), "{bad:?}");
        }
    }
}
