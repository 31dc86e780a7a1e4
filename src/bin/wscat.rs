//! wscat: a terminal WebSocket client. Each line of standard input is sent
//! as a text message; whatever arrives is printed.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rfc6455::client::{Client, ClientConfig, Error, Keepalive};
use rfc6455::connection::Event;
use rfc6455::reconnect::{Backoff, Incoming, Payload, ReconnectConfig, Reconnecting};
use rfc6455::CloseCode;

const HELP: &str = "\
wscat: send lines of standard input to a WebSocket server, print what comes back

USAGE:
    wscat [OPTIONS] ws://HOST[:PORT][/PATH][?QUERY]
    wscat [OPTIONS] wss://HOST[:PORT][/PATH][?QUERY]

OPTIONS:
    --cafile FILE       trust the CA certificates in this PEM file (for wss://)
                        instead of Mozilla's roots; the server's name is
                        always verified
    --protocol NAME     offer a subprotocol (repeatable)
    --origin ORIGIN     send an Origin header
    --header 'N: V'     send an extra header (repeatable)
    --ping              send a ping after connecting and print the pong
    --deflate           offer permessage-deflate (RFC 7692) without context takeover
    --keepalive SECS    ping after SECS of silence; give up on the connection
                        when nothing comes SECS after the ping
    --reconnect         when the connection is lost, connect again with
                        exponential backoff and full jitter (keepalive 25 s
                        unless --keepalive says otherwise)
    --resume            with --reconnect, for /topic/NAME URLs of a server
                        that keeps history: ask for message ids and, after a
                        reconnect, for what was missed (?since=ID&epoch=E);
                        each message is printed once, in order
    --backoff-initial SECS   ceiling of the first reconnect delay (default 1)
    --backoff-max SECS       largest ceiling (default 30)
    -h, --help          print this help

Each stdin line becomes a text message; received text is printed as is,
binary as `<binary N bytes: hex...>`, pings, pongs and the close as notes on
stderr. At end of input, wscat prints replies until the server has been
quiet for half a second, then sends close 1000 and waits for the server's.
With --reconnect, losses and reconnects are noted on stderr and lines typed
while disconnected are sent after the reconnect (up to 100).

EXIT STATUS:
    close code - 1000 for codes 1000..1015 (0 for a normal close),
    1 for other close codes, 100 if the connection could not be made.
";

fn main() -> ExitCode {
    let mut url = None;
    let mut config = ClientConfig::default();
    let mut ping = false;
    let mut reconnect = false;
    let mut resume = false;
    let mut backoff = Backoff::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "--protocol" | "--origin" | "--header" | "--cafile" => {
                let Some(value) = args.next() else {
                    eprintln!("wscat: {arg} needs a value");
                    return ExitCode::from(100);
                };
                match arg.as_str() {
                    "--protocol" => config.protocols.push(value),
                    "--origin" => config.origin = Some(value),
                    "--cafile" => {
                        #[cfg(feature = "tls")]
                        match rfc6455::tls::ClientTls::from_ca_file(&value) {
                            Ok(tls) => config.tls = tls,
                            Err(e) => {
                                eprintln!("wscat: --cafile {e}");
                                return ExitCode::from(100);
                            }
                        }
                        #[cfg(not(feature = "tls"))]
                        {
                            eprintln!("wscat: --cafile: this build lacks the tls feature");
                            return ExitCode::from(100);
                        }
                    }
                    _ => match value.split_once(':') {
                        Some((n, v)) => config
                            .headers
                            .push((n.trim().to_owned(), v.trim().to_owned())),
                        None => {
                            eprintln!("wscat: --header wants 'Name: value'");
                            return ExitCode::from(100);
                        }
                    },
                }
            }
            "--ping" => ping = true,
            #[cfg(feature = "deflate")]
            "--deflate" => config.deflate = Some(rfc6455::deflate::DeflateConfig::default()),
            "--reconnect" => reconnect = true,
            "--resume" => resume = true,
            "--keepalive" | "--backoff-initial" | "--backoff-max" => {
                let secs = args
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e6);
                let Some(secs) = secs else {
                    eprintln!("wscat: {arg} needs a number of seconds");
                    return ExitCode::from(100);
                };
                let d = Duration::from_secs_f64(secs);
                match arg.as_str() {
                    "--keepalive" => {
                        config.keepalive = Some(Keepalive {
                            interval: d,
                            timeout: d,
                        })
                    }
                    "--backoff-initial" => backoff.initial = d,
                    _ => backoff.max = d,
                }
            }
            _ if url.is_none() && !arg.starts_with('-') => url = Some(arg),
            _ => {
                eprintln!("wscat: unexpected argument {arg}; try --help");
                return ExitCode::from(100);
            }
        }
    }
    let Some(url) = url else {
        eprint!("{HELP}");
        return ExitCode::from(100);
    };
    if resume && !reconnect {
        eprintln!("wscat: --resume goes with --reconnect");
        return ExitCode::from(100);
    }
    if reconnect {
        if config.keepalive.is_none() {
            config.keepalive = Some(Keepalive::default());
        }
        let config = ReconnectConfig {
            client: config,
            backoff,
            resume,
            ..ReconnectConfig::default()
        };
        return run_reconnecting(&url, config, spawn_stdin());
    }
    let mut client = match Client::connect_with(&url, &config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wscat: {e}");
            return ExitCode::from(100);
        }
    };
    #[cfg(feature = "deflate")]
    let deflate = client
        .deflate()
        .map(|n| format!(" ({})", n.response()))
        .unwrap_or_default();
    #[cfg(not(feature = "deflate"))]
    let deflate = String::new();
    eprintln!(
        "connected to {url}{}{deflate}",
        client
            .protocol()
            .map(|p| format!(" (protocol {p})"))
            .unwrap_or_default()
    );
    if ping {
        if let Err(e) = client.ping(b"wscat") {
            eprintln!("wscat: {e}");
        }
    }
    let lines = spawn_stdin();
    let _ = client.set_read_timeout(Some(Duration::from_millis(50)));
    let mut stdout = std::io::stdout();
    // After end of input, replies still in flight are printed until the
    // server has been quiet for this long; then wscat closes.
    let linger = Duration::from_millis(500);
    let mut quiet_since: Option<Instant> = None;
    loop {
        while let Ok(line) = lines.try_recv() {
            match line {
                Some(text) => {
                    if let Err(e) = client.send_text(&text) {
                        return report(e);
                    }
                }
                None => quiet_since = Some(Instant::now()),
            }
        }
        if quiet_since.is_some_and(|t| t.elapsed() >= linger) {
            return match client.close(CloseCode::NORMAL, "") {
                Ok((code, reason)) => finish(code, &reason),
                Err(e) => report(e),
            };
        }
        let received = client.recv();
        if quiet_since.is_some() && !matches!(received, Err(Error::Timeout)) {
            quiet_since = Some(Instant::now());
        }
        match received {
            Ok(Event::Text(t)) => {
                let _ = writeln!(stdout, "{t}");
            }
            Ok(Event::Binary(b)) => print_binary(&mut stdout, b),
            Ok(Event::Ping(p)) => eprintln!("< ping {}", String::from_utf8_lossy(p)),
            Ok(Event::Pong(p)) => eprintln!("< pong {}", String::from_utf8_lossy(p)),
            Ok(Event::Close { code, reason }) => {
                return finish(code.unwrap_or(CloseCode::NO_STATUS), reason);
            }
            Ok(Event::Fragment { .. }) => {}
            Err(Error::Timeout) => {}
            Err(e) => return report(e),
        }
        let _ = stdout.flush();
    }
}

/// Standard input, read on its own thread so that the socket can be polled
/// with a short timeout and lines go out promptly. `None` at end of input.
fn spawn_stdin() -> mpsc::Receiver<Option<String>> {
    let (lines_tx, lines) = mpsc::channel::<Option<String>>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) => {
                    if lines_tx.send(Some(l)).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = lines_tx.send(None);
    });
    lines
}

/// `--reconnect`: the same loop over a [`Reconnecting`] client.
fn run_reconnecting(
    url: &str,
    mut config: ReconnectConfig,
    lines: mpsc::Receiver<Option<String>>,
) -> ExitCode {
    config.client.read_timeout = Some(Duration::from_millis(50));
    let mut client = Reconnecting::new(url, config);
    let mut stdout = std::io::stdout();
    let linger = Duration::from_millis(500);
    let mut quiet_since: Option<Instant> = None;
    loop {
        while let Ok(line) = lines.try_recv() {
            match line {
                Some(text) => {
                    if let Err(e) = client.send_text(&text) {
                        eprintln!("wscat: line dropped: {e}");
                    }
                }
                None => quiet_since = Some(Instant::now()),
            }
        }
        if quiet_since.is_some_and(|t| t.elapsed() >= linger) {
            return match client.close() {
                Ok(()) => finish(CloseCode::NORMAL, ""),
                Err(e) => report(e),
            };
        }
        let received = client.recv();
        if quiet_since.is_some() && !matches!(received, Err(Error::Timeout)) {
            quiet_since = Some(Instant::now());
        }
        match received {
            Ok(Incoming::Text(t)) => {
                let _ = writeln!(stdout, "{t}");
            }
            Ok(Incoming::Binary(b)) => print_binary(&mut stdout, &b),
            Ok(Incoming::Tagged { payload, .. }) => match payload {
                Payload::Text(t) => {
                    let _ = writeln!(stdout, "{t}");
                }
                Payload::Binary(b) => print_binary(&mut stdout, &b),
            },
            Ok(Incoming::Subscribed {
                topic,
                last,
                recovered,
                ..
            }) => match recovered {
                None => eprintln!("subscribed to {topic} (newest id {last})"),
                Some(true) => eprintln!("resumed {topic}: nothing missed"),
                Some(false) => eprintln!(
                    "resumed {topic}: not recovered (the server restarted, or its history does not reach back): messages may be missing"
                ),
            },
            Ok(Incoming::Connected { reconnected }) => {
                let verb = if reconnected {
                    "reconnected"
                } else {
                    "connected"
                };
                eprintln!("{verb} to {url}");
            }
            Ok(Incoming::Disconnected { error, retry_in }) => {
                eprintln!(
                    "connection lost ({error}); reconnecting in {} ms",
                    retry_in.as_millis()
                );
            }
            Err(Error::Timeout) => {}
            Err(e) => return report(e),
        }
        let _ = stdout.flush();
    }
}

fn print_binary(out: &mut impl Write, b: &[u8]) {
    let hex: String = b.iter().take(32).map(|x| format!("{x:02x}")).collect();
    let more = if b.len() > 32 { "..." } else { "" };
    let _ = writeln!(out, "<binary {} bytes: {hex}{more}>", b.len());
}

fn finish(code: CloseCode, reason: &str) -> ExitCode {
    eprintln!(
        "closed: {code}{}",
        if reason.is_empty() {
            String::new()
        } else {
            format!(" {reason}")
        }
    );
    match code.0 {
        1000..=1015 => ExitCode::from((code.0 - 1000) as u8),
        _ => ExitCode::FAILURE,
    }
}

fn report(e: Error) -> ExitCode {
    eprintln!("wscat: {e}");
    match e {
        Error::Closed(code, reason) => finish(code, &reason),
        Error::Protocol(p) => finish(p.close_code(), ""),
        _ => ExitCode::from(100),
    }
}
