//! The echo server: flags in, `rfc6455::server` with the echo handler out.

use std::net::SocketAddr;
use std::process::ExitCode;

use rfc6455::server::cli::{parse_secs, parse_size, Args};
use rfc6455::server::{Echo, Server, ServerConfig};

const HELP: &str = "\
echo-server: a WebSocket (RFC 6455) echo server

Every text and binary message is sent back unchanged, pings are answered,
the close handshake is completed. A plain `GET /` serves a page with a
JavaScript client to try it from a browser.

USAGE:
    echo-server [OPTIONS]

OPTIONS:
    --listen ADDR:PORT          address to listen on, IPv4 or IPv6 ([::1]:9001)
                                [default: 127.0.0.1:9001]
    --threads N                 worker threads, one event loop each
                                [default: one per core]
    --max-connections N         most open connections; more get 503 [default: 10000]
    --max-frame-size BYTES      largest frame accepted (1009 beyond) [default: 16MiB]
    --max-message-size BYTES    largest message accepted (1009 beyond) [default: 64MiB]
    --max-fragments N           most frames per message [default: 65536]
    --handshake-timeout SECS    time to complete the opening handshake [default: 10]
    --idle-timeout SECS         close connections quiet this long (1001) [default: off]
    --ping-interval SECS        ping connections quiet this long; drop those that
                                stay silent another interval (1011) [default: off]
    --close-timeout SECS        wait this long for the peer's close frame [default: 5]
    --send-timeout SECS         drop a connection whose output made no progress
                                this long (a peer that stopped reading); 0 = off
                                [default: 60]
    --allow-origin ORIGIN       allow this Origin (repeatable); none means any (403 else)
    --subprotocol NAME          subprotocol to offer, in preference order (repeatable)
    --high-water BYTES          stop reading a connection with this much output
                                queued [default: 1MiB]
    --read-chunk BYTES          least room offered to each socket read, at most
                                16MiB; a buffer is held only while a connection
                                is busy [default: 16KiB]
    --tls-cert FILE             serve wss:// (and https://) with this certificate
                                chain (PEM, the server's certificate first)
    --tls-key FILE              its private key (PEM: PKCS#8, RSA or EC); SIGHUP
                                reads both files again without a restart
    --log LEVEL                 error, warn, info, debug, trace [default: info,
                                or RUST_LOG]
    -h, --help                  print this help

Sizes take suffixes: 64KiB, 16MiB, 1GiB (also KB, MB, GB for powers of ten).
Durations are seconds, fractions allowed (0.5).

For benchmarks, pin the server and the load generator to different cores:
    taskset -c 0 echo-server --threads 1 &
    taskset -c 1 wsload ws://127.0.0.1:9001/ --conns 100 --size 20 --secs 5
";

/// Largest `--read-chunk`.
const MAX_READ_CHUNK: u64 = 16 << 20;

fn main() -> ExitCode {
    let (mut config, level, tls_files) = match parse_args(std::env::args().skip(1)) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("echo-server: {message}\nTry --help.");
            return ExitCode::from(2);
        }
    };
    Logger::install(level);
    if let Err(message) = load_tls(&mut config, tls_files) {
        eprintln!("echo-server: {message}");
        return ExitCode::FAILURE;
    }
    let server = match Server::bind(config.clone()) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("echo-server: cannot listen on {}: {e}", config.listen);
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
                for signal in signals.forever() {
                    if signal == signal_hook::consts::SIGHUP {
                        reload.run();
                        continue;
                    }
                    log::info!("signal {signal}: shutting down");
                    handle.shutdown();
                    break;
                }
            });
        }
        Err(e) => log::warn!("cannot watch signals: {e}"),
    }
    println!(
        "echo-server listening on {}://{} ({} thread{})",
        if config.is_tls() { "wss" } else { "ws" },
        server.local_addr(),
        config.threads,
        if config.threads == 1 { "" } else { "s" }
    );
    match server.run(|| Echo) {
        Ok(()) => {
            log::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("echo-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The certificate and key files named by `--tls-cert` and `--tls-key`,
/// loaded by `load_tls` once logging is up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct TlsFiles {
    cert: Option<String>,
    key: Option<String>,
}

/// Loads the certificate and key, if asked for.
#[cfg(feature = "tls")]
fn load_tls(config: &mut ServerConfig, files: TlsFiles) -> Result<(), String> {
    match (files.cert, files.key) {
        (None, None) => Ok(()),
        (Some(cert), Some(key)) => {
            let tls = rfc6455::server::tls::ServerTls::from_pem_files(&cert, &key)
                .map_err(|e| format!("TLS: {e}"))?;
            config.tls = Some(tls);
            Ok(())
        }
        _ => Err("--tls-cert and --tls-key go together".to_owned()),
    }
}

#[cfg(not(feature = "tls"))]
fn load_tls(_config: &mut ServerConfig, files: TlsFiles) -> Result<(), String> {
    if files != TlsFiles::default() {
        return Err("--tls-cert/--tls-key: this build lacks the tls feature".to_owned());
    }
    Ok(())
}

/// What SIGHUP does: read the certificate and key again.
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

/// Parses the flags; `Ok(None)` means help was asked for.
fn parse_args(args: impl Iterator<Item = String>) -> Result<Option<Parsed>, String> {
    let mut config = ServerConfig::default();
    let mut tls = TlsFiles::default();
    let mut level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(log::LevelFilter::Info);
    let mut args = Args::new(args);
    while let Some(flag) = args.next_flag() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let mut value = || args.value(&flag);
        let limits = &mut config.connection.limits;
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                config.listen = v
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("--listen {v}: {e}"))?;
            }
            "--threads" => config.threads = parse_count(&flag, &value()?)?.max(1),
            "--max-connections" => config.max_connections = parse_count(&flag, &value()?)?.max(1),
            "--max-frame-size" => limits.max_frame_size = parse_size(&flag, &value()?)?,
            "--max-message-size" => limits.max_message_size = parse_size(&flag, &value()?)?,
            "--max-fragments" => {
                limits.max_fragments =
                    u32::try_from(parse_count(&flag, &value()?)?).unwrap_or(u32::MAX)
            }
            "--handshake-timeout" => config.handshake_timeout = parse_secs(&flag, &value()?)?,
            "--idle-timeout" => config.idle_timeout = Some(parse_secs(&flag, &value()?)?),
            "--ping-interval" => config.ping_interval = Some(parse_secs(&flag, &value()?)?),
            "--close-timeout" => config.close_timeout = parse_secs(&flag, &value()?)?,
            "--send-timeout" => {
                let limit = parse_secs(&flag, &value()?)?;
                config.send_timeout = (!limit.is_zero()).then_some(limit);
            }
            "--allow-origin" => config.allowed_origins.push(value()?),
            "--subprotocol" => config.subprotocols.push(value()?),
            "--high-water" => {
                let v = usize::try_from(parse_size(&flag, &value()?)?).unwrap_or(usize::MAX);
                config.high_water = v;
                config.low_water = v / 4;
            }
            "--read-chunk" => {
                let v = parse_size(&flag, &value()?)?;
                // Each busy connection holds a buffer this large, zero-filled.
                if !(1..=MAX_READ_CHUNK).contains(&v) {
                    return Err(format!("{flag}: 1 byte to 16MiB"));
                }
                config.connection.read_chunk = v as usize;
            }
            "--tls-cert" => tls.cert = Some(value()?),
            "--tls-key" => tls.key = Some(value()?),
            "--log" => {
                let v = value()?;
                level = v.parse().map_err(|_| format!("--log {v}: not a level"))?;
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    // The echo of a whole message must fit the output queue on top of the
    // backlog that stops reading.
    let limits = &mut config.connection.limits;
    let message = usize::try_from(limits.max_message_size).unwrap_or(usize::MAX);
    limits.max_output_buffer = limits.max_output_buffer.max(
        message
            .saturating_add(config.high_water)
            .saturating_add(config.read_budget),
    );
    Ok(Some((config, level, tls)))
}

/// The server's settings, the log level and the TLS files.
type Parsed = (ServerConfig, log::LevelFilter, TlsFiles);

fn parse_count(flag: &str, v: &str) -> Result<usize, String> {
    v.parse()
        .map_err(|_| format!("{flag} {v}: not a whole number"))
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
            eprintln!(
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

    fn parse(args: &[&str]) -> Result<Option<(ServerConfig, log::LevelFilter)>, String> {
        parse_args(args.iter().map(|s| s.to_string())).map(|p| p.map(|(c, l, _)| (c, l)))
    }

    #[test]
    fn flags_set_the_config() {
        let (c, level) = parse(&[
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
            "--log",
            "debug",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.listen, "[::1]:9100".parse().unwrap());
        assert_eq!(c.threads, 3);
        assert_eq!(c.connection.limits.max_message_size, 1 << 20);
        assert_eq!(c.allowed_origins, ["http://a", "http://b"]);
        assert_eq!(c.subprotocols, ["chat"]);
        assert_eq!(c.ping_interval, Some(std::time::Duration::from_millis(500)));
        assert_eq!(c.connection.read_chunk, 64 << 10);
        assert_eq!(c.send_timeout, None);
        assert_eq!(level, log::LevelFilter::Debug);
        assert!(c.connection.limits.max_output_buffer >= (1 << 20) + c.high_water);
    }

    #[test]
    fn bad_flags_are_reported() {
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--threads"]).is_err());
        assert!(parse(&["--listen", "nowhere"]).is_err());
        assert!(parse(&["--idle-timeout", "-1"]).is_err());
        assert!(parse(&["--read-chunk", "0"]).is_err());
        assert!(parse(&["--read-chunk", "100GiB"]).is_err());
        assert_eq!(parse(&["--help"]), Ok(None));
    }

    #[test]
    fn tls_files_go_together() {
        let args = ["--tls-cert", "c.pem", "--tls-key=k.pem"];
        let (mut config, _, files) = parse_args(args.iter().map(|s| s.to_string()))
            .unwrap()
            .unwrap();
        assert_eq!(files.cert.as_deref(), Some("c.pem"));
        assert_eq!(files.key.as_deref(), Some("k.pem"));
        let only_cert = TlsFiles {
            cert: Some("c.pem".into()),
            key: None,
        };
        assert!(load_tls(&mut config, only_cert).is_err());
        assert_eq!(load_tls(&mut config, TlsFiles::default()), Ok(()));
    }
}
