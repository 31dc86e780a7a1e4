//! The server binary: flags in, `rfc6455::server` with the bundled push
//! application (`server::app`) out.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use rfc6455::deflate::{DeflateConfig, Level};
use rfc6455::server::app::{App, AppConfig};
use rfc6455::server::cli::{parse_secs, parse_size};
use rfc6455::server::{
    raise_open_file_limit, Heartbeat, HistoryLimits, Server, ServerConfig, SlowSubscriber,
};

const ABOUT: &str = "\
A WebSocket (RFC 6455) server: echo, chat rooms, and push over HTTP.

  ws://HOST/topic/NAME            join room NAME: what you send goes to the others
  ws://HOST/topic/NAME?since=ID   the same, each message with its id, after
                                  replaying what was missed since ID
  ws://HOST/<any other path>      echo: every message comes back unchanged
  POST /publish/NAME (a body)     publish the body to NAME's subscribers
  GET /push?topic=NAME&data=TEXT  publish TEXT to NAME's subscribers
  GET /topics[/NAME]              the topics with subscribers, and how many
  GET /stats                      counters, as JSON
  GET /metrics                    the same counters for Prometheus
  GET /rfc6455.js                 the browser client: heartbeat, reconnect, resume
  GET /                           a page to try it all from a browser

Publishing answers {\"topic\":NAME,\"subscribers\":N}. It is allowed from
loopback only, unless --publish-token is set (then the token is required
from every address); so is GET /topics. Pings are answered and the close
handshake completed; so is the text heartbeat \"ping\" (with \"pong\", see
--heartbeat-text) on every path.";

const AFTER: &str = "\
Sizes take suffixes: 64KiB, 16MiB, 1GiB (also KB, MB, GB for powers of ten).
Durations are seconds, fractions allowed (0.5).

Examples:
    echo-server --tick 1                      # the time on topic \"clock\" every second
    echo-server --tls-cert fullchain.pem --tls-key privkey.pem   # wss:// and https://
    kill -HUP $(pidof echo-server)            # read the certificate and key again
    curl -d hello http://127.0.0.1:9001/publish/lobby
    echo-server --listen 0.0.0.0:9001 --publish-token \"$(openssl rand -hex 16)\"

For benchmarks, pin the server and the load generator to different cores:
    taskset -c 0 echo-server --threads 1 &
    taskset -c 1 wsload ws://127.0.0.1:9001/ --conns 100 --size 20 --secs 5";

/// Largest `--read-chunk`.
const MAX_READ_CHUNK: u64 = 16 << 20;

#[derive(Debug, Parser)]
#[command(name = "echo-server", version, about = ABOUT, after_help = AFTER)]
struct Flags {
    /// Address to listen on, IPv4 or IPv6 (`[::1]:9001`).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9001")]
    listen: SocketAddr,
    /// Worker threads, one event loop each [default: one per core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
    /// Most open connections; more get 503. The open-file limit (ulimit -n)
    /// is raised to match, as far as the hard limit allows (a warning says
    /// when it falls short).
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Largest frame accepted (1009 beyond).
    #[arg(long, value_name = "BYTES", default_value = "16MiB", value_parser = size)]
    max_frame_size: u64,
    /// Largest message accepted (1009 beyond).
    #[arg(long, value_name = "BYTES", default_value = "64MiB", value_parser = size)]
    max_message_size: u64,
    /// Most frames per message.
    #[arg(long, value_name = "N", default_value_t = 65_536, value_parser = clap::value_parser!(u32).range(1..))]
    max_fragments: u32,
    /// Time to complete the opening handshake (and a plain request's body).
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = positive_secs)]
    handshake_timeout: Duration,
    /// Close connections that sent no message for this long (1001); pings,
    /// pongs and heartbeat texts do not count [default: off].
    #[arg(long, value_name = "SECS", value_parser = positive_secs)]
    idle_timeout: Option<Duration>,
    /// Ping connections quiet this long; drop those that stay silent
    /// another interval (1011): a peer that vanished (a phone out of
    /// range, a NAT that forgot the flow) never says so, and would hold
    /// its slot and a backlog of published messages for good. 0 turns it
    /// off.
    #[arg(long, value_name = "SECS", default_value = "25", value_parser = ping_secs)]
    ping_interval: Duration,
    /// Wait this long for the peer's close frame.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = secs)]
    close_timeout: Duration,
    /// Drop a connection whose output made no progress this long (a peer
    /// that stopped reading); 0 = off.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = secs)]
    send_timeout: Duration,
    /// Allow this Origin (repeatable); none means any (403 else). Once
    /// set, list this server's own origin too (http://HOST:PORT) or its
    /// built-in page cannot connect. Also the origins whose pages may
    /// publish over HTTP (with CORS), besides this server's own.
    #[arg(long = "allow-origin", value_name = "ORIGIN", value_parser = origin)]
    allow_origin: Vec<String>,
    /// Subprotocol to offer, in preference order (repeatable).
    #[arg(long = "subprotocol", value_name = "NAME")]
    subprotocol: Vec<String>,
    /// Stop reading a connection with this much output queued.
    #[arg(long, value_name = "BYTES", default_value = "1MiB", value_parser = size)]
    high_water: u64,
    /// Least room offered to each socket read, at most 16MiB; a buffer is
    /// held only while a connection is busy.
    #[arg(long, value_name = "BYTES", default_value = "16KiB", value_parser = read_chunk)]
    read_chunk: u64,
    /// Room members also get their own messages back.
    #[arg(long)]
    room_echo: bool,
    /// Publish the time (RFC 3339) to topic "clock" at this interval
    /// [default: off]. Members of "clock" may then listen, not send.
    #[arg(long, value_name = "SECS", value_parser = positive_secs)]
    tick: Option<Duration>,
    /// A topic members may join to listen but not send to (closed with
    /// 1008 if they do); HTTP publishing is unchanged. Repeatable.
    #[arg(long, value_name = "NAME")]
    read_only_topic: Vec<String>,
    /// Require "Authorization: Bearer TOKEN" to publish over HTTP, from
    /// every address. Without it only loopback may publish.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "RFC6455_PUBLISH_TOKEN",
        hide_env_values = true
    )]
    publish_token: Option<String>,
    /// What a subscriber that falls behind gets: its messages are dropped
    /// (and counted), or it is closed with 1013.
    #[arg(long, value_enum, value_name = "POLICY", default_value = "drop")]
    slow_subscriber: Policy,
    /// Queued output above which a subscriber is too slow.
    #[arg(long, value_name = "BYTES", default_value = "1MiB", value_parser = size)]
    slow_subscriber_limit: u64,
    /// Largest body of a plain HTTP request (413 beyond). A body is read
    /// only for a publish the request may make; anything else is answered
    /// from its head.
    #[arg(long, value_name = "BYTES", default_value = "1MiB", value_parser = size)]
    max_body: u64,
    /// Longest topic name, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 128)]
    max_topic_len: usize,
    /// Most topics one connection may subscribe to.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_subscriptions: usize,
    /// permessage-deflate (RFC 7692): answer clients' offers (every
    /// browser makes one), or decline them all.
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = on_off, action = clap::ArgAction::Set)]
    deflate: bool,
    /// Keep the compression window across messages, both ways: a better
    /// ratio on similar messages, for 2 x 2^bits bytes per connection.
    /// Without it no connection holds compression state between messages.
    #[arg(long)]
    deflate_context_takeover: bool,
    /// Window of 2^BITS bytes for what this server compresses, and what it
    /// asks of clients that keep their context [default: 15, or 12 with
    /// --deflate-context-takeover].
    #[arg(long, value_name = "BITS", value_parser = clap::value_parser!(u8).range(9..=15))]
    deflate_window_bits: Option<u8>,
    /// Messages shorter than this are sent uncompressed.
    #[arg(long, value_name = "BYTES", default_value = "128", value_parser = size)]
    deflate_threshold: u64,
    /// Compression level for every message, 0 (stored) to 9 (smallest)
    /// [default: 1 under 4 KiB, 4 from 4 KiB].
    #[arg(long, value_name = "LEVEL", value_parser = clap::value_parser!(u8).range(0..=9))]
    deflate_level: Option<u8>,
    /// Serve wss:// (and https://) with this certificate chain: PEM, the
    /// server's certificate first. SIGHUP reads it and the key again.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key: PEM, PKCS#8, RSA or EC.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Messages kept per topic for resume (?since=ID); 0 keeps none but
    /// still gives ids.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    history: usize,
    /// Messages older than this are not replayed; 0 = no age bound.
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = secs)]
    history_age: Duration,
    /// Most bytes of history over all topics (the oldest go first).
    #[arg(long, value_name = "BYTES", default_value = "64MiB", value_parser = size)]
    history_bytes: u64,
    /// Keep no history: no ids, no resume (?ids and ?since get 400), and a
    /// publish takes no per-topic lock.
    #[arg(long, conflicts_with_all = ["history", "history_age", "history_bytes"])]
    no_history: bool,
    /// Answer this text message (an application heartbeat: "ping" is what
    /// /rfc6455.js sends by default, "heartCheck" a common hand-written
    /// one) with --heartbeat-reply; it is never published or echoed. ""
    /// turns it off. Repeatable: the first is the one the built-in page
    /// uses, and with "--heartbeat-text ping --heartbeat-text heartCheck"
    /// both kinds of client are answered. Set only another, and pages
    /// using /rfc6455.js must be given it (its `heartbeat` option), or
    /// their "ping" goes to the room and they reconnect in quiet rooms.
    #[arg(long, value_name = "TEXT", default_value = "ping")]
    heartbeat_text: Vec<String>,
    /// The reply to --heartbeat-text.
    #[arg(long, value_name = "TEXT", default_value = "pong")]
    heartbeat_reply: String,
    /// Share topics with other instances through Redis pub/sub, at
    /// redis://HOST:PORT/DB (USER:PASSWORD@ may come before HOST). Every
    /// publish goes through Redis; each instance delivers to its own
    /// subscribers. With history (the default), ids are assigned in Redis,
    /// so a client resumes on any instance.
    #[cfg(feature = "redis")]
    #[arg(
        long,
        value_name = "URL",
        env = "RFC6455_REDIS_URL",
        hide_env_values = true
    )]
    redis: Option<String>,
    /// The Redis password, replacing the URL's (keep it off the command
    /// line: set the variable).
    #[cfg(feature = "redis")]
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "RFC6455_REDIS_PASSWORD",
        hide_env_values = true,
        requires = "redis"
    )]
    redis_password: Option<String>,
    /// Prefix of the Redis channels: topic NAME is PREFIX:topic:NAME.
    #[cfg(feature = "redis")]
    #[arg(long, value_name = "PREFIX", default_value = "rfc6455")]
    redis_prefix: String,
    /// Most bytes of publishes waiting for Redis; beyond it publishes are
    /// dropped and counted.
    #[cfg(feature = "redis")]
    #[arg(long, value_name = "BYTES", default_value = "16MiB", value_parser = size)]
    redis_queue: u64,
    /// With history: how long a topic's id counter stays in Redis after its
    /// last publish (then the topic starts a new epoch).
    #[cfg(feature = "redis")]
    #[arg(long, value_name = "SECS", default_value = "86400", value_parser = secs)]
    redis_ids_ttl: Duration,
    /// Log level: error, warn, info, debug, trace [default: info, or RUST_LOG].
    #[arg(long, value_name = "LEVEL", value_parser = level)]
    log: Option<log::LevelFilter>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Policy {
    /// Drop the message for that subscriber and count it.
    Drop,
    /// Close that subscriber with 1013 (try again later).
    Close,
}

impl Flags {
    /// Parses `args` as clap does, then refuses what clap cannot say:
    /// permessage-deflate settings with `--deflate off`, which would be
    /// ignored without a word.
    fn try_parse_checked<I, T>(args: I) -> Result<Flags, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::parser::ValueSource;
        use clap::{CommandFactory, FromArgMatches};
        let mut command = Flags::command();
        let matches = command.try_get_matches_from_mut(args)?;
        let flags = Flags::from_arg_matches(&matches)?;
        if !flags.deflate {
            for id in [
                "deflate_context_takeover",
                "deflate_window_bits",
                "deflate_threshold",
                "deflate_level",
            ] {
                if matches.value_source(id) == Some(ValueSource::CommandLine) {
                    let flag = id.replace('_', "-");
                    return Err(command.error(
                        clap::error::ErrorKind::ArgumentConflict,
                        format!("--{flag} has no use with --deflate off"),
                    ));
                }
            }
        }
        Ok(flags)
    }
}

/// The heartbeat of `--heartbeat-text` (the first, the others answered too;
/// "" alone turns it off) and `--heartbeat-reply`.
fn heartbeat(mut texts: Vec<String>, reply: String) -> Option<Heartbeat> {
    texts.retain(|t| !t.is_empty());
    if texts.is_empty() {
        return None;
    }
    let text = texts.remove(0);
    Some(Heartbeat {
        text,
        reply,
        also: texts,
    })
}

fn size(v: &str) -> Result<u64, String> {
    parse_size("size", v)
}

fn secs(v: &str) -> Result<Duration, String> {
    parse_secs("duration", v)
}

/// A wait that must be over 0: a zero handshake or idle timeout would
/// close every connection at once, a zero ping interval close it with 1011
/// after one ping, a zero tick publish once and stop. (Those that can be
/// off are off when left out.)
fn positive_secs(v: &str) -> Result<Duration, String> {
    match secs(v)? {
        d if d.is_zero() => Err("more than 0 seconds".to_owned()),
        d => Ok(d),
    }
}

/// `--ping-interval`: "0" turns it off (zero); any other value is a
/// positive wait, as a tiny one would ping and drop every connection.
fn ping_secs(v: &str) -> Result<Duration, String> {
    if v.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    positive_secs(v)
}

/// An `--allow-origin` value as a browser sends `Origin`
/// (`scheme://host[:port]`, or `null`): it is compared exactly, so `*`
/// or a trailing `/` would refuse every browser without a word.
fn origin(v: &str) -> Result<String, String> {
    if v == "*" {
        return Err(
            "\"*\" is not an origin: leave --allow-origin out to allow every origin".into(),
        );
    }
    if v == "null" {
        return Ok(v.to_owned());
    }
    match v.split_once("://") {
        Some((scheme, authority))
            if !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                && !authority.is_empty()
                && !authority.contains(['/', '?', '#', ' ']) =>
        {
            Ok(v.to_owned())
        }
        _ => Err(format!(
            "an origin is scheme://host[:port] as a browser sends it, with no path or \
             trailing / (such as http://localhost:5173), not {v:?}"
        )),
    }
}

fn level(v: &str) -> Result<log::LevelFilter, String> {
    v.parse()
        .map_err(|_| "error, warn, info, debug or trace".to_owned())
}

fn on_off(v: &str) -> Result<bool, String> {
    match v {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("on or off".to_owned()),
    }
}

fn read_chunk(v: &str) -> Result<u64, String> {
    let n = size(v)?;
    // Each busy connection holds a buffer this large, zero-filled.
    if (1..=MAX_READ_CHUNK).contains(&n) {
        Ok(n)
    } else {
        Err("1 byte to 16MiB".to_owned())
    }
}

/// Raises the open-file limit to what `--max-connections` needs, as far
/// as the hard limit lets it; says so when that is not enough.
fn open_files_for(config: &ServerConfig) {
    let wanted = config.open_files_needed();
    match raise_open_file_limit(wanted) {
        Ok(limit) if !limit.allows(wanted) => log::warn!(
            "--max-connections {} needs about {wanted} open files, and the hard limit allows \
             {} (ulimit -Hn): past about that many connections new clients wait unaccepted; \
             raise the limit (LimitNOFILE= in a systemd unit) or lower --max-connections",
            config.max_connections,
            limit.now.unwrap_or(u64::MAX),
        ),
        Ok(limit) if limit.now != limit.before => log::info!(
            "open-file limit raised from {} to {} for --max-connections {}",
            limit.before.unwrap_or(u64::MAX),
            limit.now.unwrap_or(u64::MAX),
            config.max_connections
        ),
        Ok(_) => {}
        Err(e) => log::debug!("open-file limit left as it is: {e}"),
    }
}

fn main() -> ExitCode {
    let flags = Flags::try_parse_checked(std::env::args_os()).unwrap_or_else(|e| e.exit());
    // RUST_LOG as a plain level only: env_logger's `target=level` lists
    // are not understood, and are said to be ignored.
    let mut unused_rust_log = None;
    let level = flags
        .log
        .unwrap_or_else(|| match std::env::var("RUST_LOG") {
            Ok(v) => v.parse().unwrap_or_else(|_| {
                unused_rust_log = Some(v);
                log::LevelFilter::Info
            }),
            Err(_) => log::LevelFilter::Info,
        });
    let tls_files = flags.tls_cert.clone().zip(flags.tls_key.clone());
    let (mut config, app) = configure(flags);
    Logger::install(level);
    if let Some(v) = unused_rust_log {
        log::warn!("RUST_LOG={v}: not a level (error, warn, info, debug, trace); logging at info");
    }
    open_files_for(&config);
    if let Some((cert, key)) = tls_files {
        if let Err(message) = load_tls(&mut config, &cert, &key) {
            let _ = writeln!(std::io::stderr(), "echo-server: {message}");
            return ExitCode::FAILURE;
        }
    }
    let server = match Server::bind(config.clone()) {
        Ok(server) => server,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "echo-server: cannot listen on {}: {e}",
                config.listen
            );
            return ExitCode::FAILURE;
        }
    };
    let handle = server.handle();
    let signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ]);
    let reload = Reload::new(&config);
    match signals {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                let mut stopping = false;
                for signal in signals.forever() {
                    if signal == signal_hook::consts::SIGHUP {
                        reload.run();
                        continue;
                    }
                    if stopping {
                        // A second Ctrl-C: whoever sent it will not wait
                        // for the clients' closes (up to --close-timeout).
                        log::warn!("signal {signal} again: exiting now");
                        std::process::exit(128 + signal);
                    }
                    log::info!("signal {signal}: shutting down (again to exit at once)");
                    handle.shutdown();
                    stopping = true;
                }
            });
        }
        Err(e) => log::warn!("cannot watch signals: {e}"),
    }
    // Not println!: with stdout a closed pipe the line is lost, not the
    // server.
    let _ = writeln!(
        std::io::stdout(),
        "echo-server listening on {}://{} ({} thread{})",
        if config.is_tls() { "wss" } else { "ws" },
        server.local_addr(),
        config.threads,
        if config.threads == 1 { "" } else { "s" }
    );
    let app = Arc::new(app);
    match server.run(move || App::new(Arc::clone(&app))) {
        Ok(()) => {
            log::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "echo-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the certificate and key named by --tls-cert and --tls-key.
#[cfg(feature = "tls")]
fn load_tls(config: &mut ServerConfig, cert: &PathBuf, key: &PathBuf) -> Result<(), String> {
    let tls = rfc6455::server::tls::ServerTls::from_pem_files(cert, key)
        .map_err(|e| format!("TLS: {e}"))?;
    config.tls = Some(tls);
    Ok(())
}

#[cfg(not(feature = "tls"))]
fn load_tls(_config: &mut ServerConfig, _cert: &PathBuf, _key: &PathBuf) -> Result<(), String> {
    Err("--tls-cert/--tls-key: this build lacks the tls feature".to_owned())
}

/// What SIGHUP does: read the certificate and key files again. New
/// handshakes get them; open connections keep theirs; bad files leave the
/// old ones in place.
struct Reload {
    #[cfg(feature = "tls")]
    tls: Option<rfc6455::server::tls::ServerTls>,
}

impl Reload {
    fn new(_config: &ServerConfig) -> Reload {
        Reload {
            #[cfg(feature = "tls")]
            tls: _config.tls.clone(),
        }
    }

    fn run(&self) {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            match tls.reload() {
                Ok(()) => log::info!("SIGHUP: certificate and key reloaded"),
                Err(e) => log::error!("SIGHUP: reload failed, keeping the old certificate: {e}"),
            }
            return;
        }
        log::info!("SIGHUP: nothing to reload");
    }
}

/// The server's and the application's settings from the flags.
fn configure(f: Flags) -> (ServerConfig, AppConfig) {
    let mut config = ServerConfig {
        listen: f.listen,
        max_connections: usize::try_from(f.max_connections).unwrap_or(usize::MAX),
        handshake_timeout: f.handshake_timeout,
        idle_timeout: f.idle_timeout,
        ping_interval: (!f.ping_interval.is_zero()).then_some(f.ping_interval),
        close_timeout: f.close_timeout,
        send_timeout: (!f.send_timeout.is_zero()).then_some(f.send_timeout),
        allowed_origins: f.allow_origin,
        subprotocols: f.subprotocol,
        slow_subscriber: match f.slow_subscriber {
            Policy::Drop => SlowSubscriber::Drop,
            Policy::Close => SlowSubscriber::Close,
        },
        slow_subscriber_limit: usize::try_from(f.slow_subscriber_limit).unwrap_or(usize::MAX),
        max_body: usize::try_from(f.max_body).unwrap_or(usize::MAX),
        heartbeat: heartbeat(f.heartbeat_text, f.heartbeat_reply),
        history: (!f.no_history).then(|| HistoryLimits {
            max_messages: f.history,
            max_age: (!f.history_age.is_zero()).then_some(f.history_age),
            max_bytes: usize::try_from(f.history_bytes).unwrap_or(usize::MAX),
        }),
        ..ServerConfig::default()
    };
    if let Some(threads) = f.threads {
        config.threads = threads as usize;
    }
    config.deflate = f.deflate.then(|| {
        let base = DeflateConfig {
            level: f.deflate_level.map_or(Level::DEFAULT, Level::fixed),
            threshold: usize::try_from(f.deflate_threshold).unwrap_or(usize::MAX),
            ..DeflateConfig::default()
        };
        match (f.deflate_context_takeover, f.deflate_window_bits) {
            (true, bits) => {
                base.context_takeover(bits.unwrap_or(DeflateConfig::TAKEOVER_WINDOW_BITS))
            }
            (false, Some(bits)) => DeflateConfig {
                max_window_bits: bits,
                ..base
            },
            (false, None) => base,
        }
    });
    config.topics.max_name_len = f.max_topic_len;
    config.topics.max_per_connection = f.max_subscriptions;
    let high_water = usize::try_from(f.high_water).unwrap_or(usize::MAX);
    config.high_water = high_water;
    config.low_water = high_water / 4;
    config.connection.read_chunk = f.read_chunk as usize;
    let limits = &mut config.connection.limits;
    limits.max_frame_size = f.max_frame_size;
    limits.max_message_size = f.max_message_size;
    limits.max_fragments = f.max_fragments;
    // The echo of a whole message must fit the output queue on top of the
    // backlog that stops reading.
    let message = usize::try_from(limits.max_message_size).unwrap_or(usize::MAX);
    limits.max_output_buffer = limits.max_output_buffer.max(
        message
            .saturating_add(config.high_water)
            .saturating_add(config.read_budget),
    );
    #[cfg(feature = "redis")]
    if let Some(url) = f.redis {
        config.redis = Some(rfc6455::server::RedisConfig {
            url,
            password: f.redis_password.filter(|p| !p.is_empty()),
            prefix: f.redis_prefix,
            max_queue_bytes: usize::try_from(f.redis_queue).unwrap_or(usize::MAX),
            ids_ttl: f.redis_ids_ttl,
            // What a client of this instance may publish, by WebSocket or
            // by HTTP.
            max_message_bytes: message.max(config.max_body),
            ..Default::default()
        });
    }
    let app = AppConfig {
        room_echo: f.room_echo,
        tick: f.tick,
        clock_topic: "clock".to_owned(),
        publish_token: f.publish_token.filter(|t| !t.is_empty()),
        read_only_topics: f.read_only_topic,
    };
    (config, app)
}

/// Log lines to stderr: `LEVEL target: message`.
struct Logger;

impl Logger {
    fn install(level: log::LevelFilter) {
        static LOGGER: Logger = Logger;
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(level);
        }
    }
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            // Not eprintln!, which panics when stderr is a closed pipe
            // (`echo-server 2>&1 | head`): the thread that logs (a worker,
            // the signal thread) must go on, the line is lost.
            let _ = writeln!(
                std::io::stderr(),
                "{:5} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(ServerConfig, AppConfig), clap::Error> {
        let args = std::iter::once("echo-server").chain(args.iter().copied());
        Flags::try_parse_checked(args).map(configure)
    }

    #[test]
    fn flags_set_the_config() {
        let (c, app) = parse(&[
            "--listen",
            "[::1]:9100",
            "--threads=3",
            "--max-message-size",
            "1MiB",
            "--allow-origin",
            "http://a",
            "--allow-origin",
            "http://b",
            "--subprotocol",
            "chat",
            "--ping-interval",
            "0.5",
            "--read-chunk",
            "64KiB",
            "--send-timeout",
            "0",
            "--tick",
            "1",
            "--room-echo",
            "--slow-subscriber",
            "close",
            "--publish-token",
            "t0k",
            "--max-body",
            "4KiB",
            "--max-topic-len",
            "16",
            "--heartbeat-text",
            "heartCheck",
            "--history",
            "5",
            "--history-age",
            "0",
            "--read-only-topic",
            "news",
            "--read-only-topic",
            "feed",
        ])
        .unwrap();
        assert_eq!(app.read_only_topics, ["news", "feed"]);
        assert_eq!(c.listen, "[::1]:9100".parse().unwrap());
        assert_eq!(c.threads, 3);
        assert_eq!(c.connection.limits.max_message_size, 1 << 20);
        assert_eq!(c.allowed_origins, ["http://a", "http://b"]);
        let (o, _) = parse(&[
            "--allow-origin",
            "null",
            "--allow-origin",
            "https://[::1]:8443",
        ])
        .unwrap();
        assert_eq!(o.allowed_origins, ["null", "https://[::1]:8443"]);
        assert_eq!(c.subprotocols, ["chat"]);
        assert_eq!(c.ping_interval, Some(Duration::from_millis(500)));
        assert_eq!(c.connection.read_chunk, 64 << 10);
        assert_eq!(c.send_timeout, None);
        assert_eq!(c.slow_subscriber, SlowSubscriber::Close);
        assert_eq!(c.max_body, 4096);
        assert_eq!(c.topics.max_name_len, 16);
        assert!(c.connection.limits.max_output_buffer >= (1 << 20) + c.high_water);
        assert_eq!(app.tick, Some(Duration::from_secs(1)));
        assert!(app.room_echo);
        assert_eq!(app.publish_token.as_deref(), Some("t0k"));
        let h = c.heartbeat.unwrap();
        assert_eq!((h.text.as_str(), h.reply.as_str()), ("heartCheck", "pong"));
        let limits = c.history.unwrap();
        assert_eq!((limits.max_messages, limits.max_age), (5, None));
        assert_eq!(parse(&["--no-history"]).unwrap().0.history, None);
    }

    #[test]
    fn deflate_flags_set_the_policy() {
        let (c, _) = parse(&[]).unwrap();
        assert_eq!(c.deflate, Some(DeflateConfig::default()));
        let (c, _) = parse(&["--deflate", "off"]).unwrap();
        assert_eq!(c.deflate, None);
        let (c, _) = parse(&["--deflate-context-takeover"]).unwrap();
        let d = c.deflate.unwrap();
        assert!(d.context_takeover && d.peer_context_takeover);
        assert_eq!((d.max_window_bits, d.peer_max_window_bits), (12, Some(12)));
        let (c, _) = parse(&[
            "--deflate-window-bits",
            "10",
            "--deflate-threshold",
            "1KiB",
            "--deflate-level",
            "6",
        ])
        .unwrap();
        let d = c.deflate.unwrap();
        assert_eq!(
            (d.max_window_bits, d.threshold, d.level),
            (10, 1024, Level::fixed(6))
        );
        assert!(!d.context_takeover);
        assert!(parse(&["--deflate", "maybe"]).is_err());
        assert!(parse(&["--deflate-window-bits", "8"]).is_err());
        assert!(parse(&["--deflate-level", "10"]).is_err());
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let (c, app) = parse(&[]).unwrap();
        let d = ServerConfig::default();
        assert_eq!(c.listen, d.listen);
        assert_eq!(c.slow_subscriber, SlowSubscriber::Drop);
        assert_eq!(c.send_timeout, d.send_timeout);
        assert_eq!(c.max_body, d.max_body);
        assert_eq!(c.topics, d.topics);
        assert_eq!(app.tick, None);
        assert_eq!(app.publish_token, None);
        assert!(app.read_only_topics.is_empty());
        // Vanished peers are noticed (Socket.IO's 25 s); 0 turns it off.
        assert_eq!(c.ping_interval, Some(Duration::from_secs(25)));
        assert_eq!(c.ping_interval, d.ping_interval, "the library's too");
        let (off, _) = parse(&["--ping-interval", "0"]).unwrap();
        assert_eq!(off.ping_interval, None);
        // The heartbeat /rfc6455.js sends by default.
        assert_eq!(
            c.heartbeat,
            Some(Heartbeat {
                text: "ping".into(),
                reply: "pong".into(),
                also: Vec::new(),
            })
        );
        assert_eq!(c.history, Some(HistoryLimits::default()));
        let (c, _) = parse(&["--heartbeat-text", ""]).unwrap();
        assert_eq!(c.heartbeat, None, "\"\" turns it off");
        let both = ["--heartbeat-text", "ping", "--heartbeat-text", "heartCheck"];
        let h = parse(&both).unwrap().0.heartbeat.unwrap();
        assert_eq!(
            (h.text.as_str(), &h.also[..]),
            ("ping", &["heartCheck".to_owned()][..])
        );
    }

    #[cfg(feature = "redis")]
    #[test]
    fn redis_flags_set_the_relay() {
        let (c, _) = parse(&[]).unwrap();
        assert_eq!(c.redis, None);
        let (c, _) = parse(&[
            "--redis",
            "redis://127.0.0.1:7000/3",
            "--redis-prefix",
            "app1",
            "--redis-queue",
            "1MiB",
            "--redis-password",
            "pw",
            "--redis-ids-ttl",
            "3600",
        ])
        .unwrap();
        assert!(c.history.is_some(), "ids come from Redis");
        let r = c.redis.unwrap();
        assert_eq!(r.url, "redis://127.0.0.1:7000/3");
        assert_eq!(r.prefix, "app1");
        assert_eq!(r.max_queue_bytes, 1 << 20);
        assert_eq!(r.password.as_deref(), Some("pw"));
        assert_eq!(r.ids_ttl, Duration::from_secs(3600));
        assert!(parse(&["--redis-password", "pw"]).is_err(), "needs --redis");
    }

    #[test]
    fn bad_flags_are_reported() {
        for bad in [
            &["--bogus"][..],
            &["--threads"],
            &["--threads", "0"],
            &["--listen", "nowhere"],
            &["--idle-timeout", "-1"],
            &["--read-chunk", "0"],
            &["--read-chunk", "100GiB"],
            &["--slow-subscriber", "sometimes"],
            &["--log", "loud"],
            &["--no-history", "--history", "5"],
            // Zero would time out, ping or tick at once, not turn it off.
            &["--handshake-timeout", "0"],
            &["--idle-timeout", "0"],
            &["--ping-interval", "1e-12"],
            &["--tick", "0"],
            &["--tick", "1e-12"],
            // Every message is at least one frame: 0 refuses them all.
            &["--max-fragments", "0"],
            // Settings for an extension that is off would go unused.
            &["--deflate", "off", "--deflate-level", "6"],
            &["--deflate=off", "--deflate-threshold", "1KiB"],
            &["--deflate-context-takeover", "--deflate", "off"],
            &["--deflate", "off", "--deflate-window-bits", "10"],
            // Compared exactly with Origin: these would refuse every
            // browser (Flask-SocketIO's cors_allowed_origins='*' habit).
            &["--allow-origin", "*"],
            &["--allow-origin", "http://localhost:5173/"],
            &["--allow-origin", "localhost:5173"],
            &["--allow-origin", ""],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tls_files_go_together() {
        let args = ["echo-server", "--tls-cert", "c.pem", "--tls-key=k.pem"];
        let flags = Flags::try_parse_from(args).unwrap();
        assert_eq!(flags.tls_cert, Some(PathBuf::from("c.pem")));
        assert_eq!(flags.tls_key, Some(PathBuf::from("k.pem")));
        assert!(Flags::try_parse_from(["echo-server", "--tls-cert", "c.pem"]).is_err());
        assert!(Flags::try_parse_from(["echo-server", "--tls-key", "k.pem"]).is_err());
        let mut config = ServerConfig::default();
        let missing = load_tls(&mut config, &"/nonexistent/c.pem".into(), &"k.pem".into());
        assert!(missing.unwrap_err().contains("c.pem"));
    }

    #[test]
    fn the_flag_definitions_are_consistent() {
        use clap::CommandFactory;
        Flags::command().debug_assert();
    }
}
