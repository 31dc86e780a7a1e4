//! wscat: a terminal WebSocket client. Each line of standard input is sent
//! as a text message; whatever arrives is printed.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
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
    --backoff-max SECS       largest ceiling (default 5)
    -h, --help          print this help

Each stdin line becomes a text message; received text is printed as is,
binary as `<binary N bytes: hex...>`, pings, pongs and the close as notes on
stderr. At end of input, wscat prints replies until the server has been
quiet for half a second, then sends close 1000 and waits for the server's.
With --reconnect, losses and reconnects are noted on stderr and lines typed
while disconnected are sent after the reconnect (up to 100).
Once standard output is closed (`wscat URL | head -1`), wscat closes the
connection and exits 0.

EXIT STATUS:
    close code - 1000 for codes 1000..1015 (0 for a normal close, 6 when
    the connection ended without a close), 1 for other close codes, 100 if
    the connection could not be made or failed (an I/O error, a timeout,
    no answer to a keepalive ping) or the command line is wrong; 1 also
    when a line of input is not UTF-8 (a text message must be: neither it
    nor the lines after it are sent).
";

/// The flags followed by a value.
const TAKES_VALUE: [&str; 7] = [
    "--protocol",
    "--origin",
    "--header",
    "--cafile",
    "--keepalive",
    "--backoff-initial",
    "--backoff-max",
];

/// Set when standard input could not be read to its end or a line of it
/// could not be sent: the run fails even if the close is a normal one.
static INPUT_FAILED: AtomicBool = AtomicBool::new(false);

/// A note on standard error. Unlike `eprintln!`, it never panics: when
/// stderr is a closed pipe (`wscat URL 2>&1 | head -1`) the note is lost,
/// not the run.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stderr(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    let status = run();
    if status == ExitCode::SUCCESS && INPUT_FAILED.load(Ordering::Relaxed) {
        return ExitCode::FAILURE;
    }
    status
}

fn run() -> ExitCode {
    let mut url = None;
    let mut config = ClientConfig::default();
    let mut ping = false;
    let mut reconnect = false;
    let mut resume = false;
    let mut backoff = Backoff::default();
    // `--flag=value` is read as `--flag value`, as clap does for
    // echo-server (wscat needs only `std`, so no parser crate).
    let mut args = std::env::args()
        .skip(1)
        .flat_map(|arg| match arg.split_once('=') {
            Some((flag, value)) if TAKES_VALUE.contains(&flag) => {
                vec![flag.to_owned(), value.to_owned()]
            }
            _ => vec![arg],
        });
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                let _ = io::stdout().write_all(HELP.as_bytes());
                return ExitCode::SUCCESS;
            }
            "--protocol" | "--origin" | "--header" | "--cafile" => {
                let Some(value) = args.next() else {
                    note!("wscat: {arg} needs a value");
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
                                note!("wscat: --cafile {e}");
                                return ExitCode::from(100);
                            }
                        }
                        #[cfg(not(feature = "tls"))]
                        {
                            note!("wscat: --cafile: this build lacks the tls feature");
                            return ExitCode::from(100);
                        }
                    }
                    _ => match value.split_once(':') {
                        Some((n, v)) => config
                            .headers
                            .push((n.trim().to_owned(), v.trim().to_owned())),
                        None => {
                            note!("wscat: --header wants 'Name: value'");
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
                    note!("wscat: {arg} needs a number of seconds");
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
                note!("wscat: unexpected argument {arg}; try --help");
                return ExitCode::from(100);
            }
        }
    }
    let Some(url) = url else {
        let _ = io::stderr().write_all(HELP.as_bytes());
        return ExitCode::from(100);
    };
    if resume && !reconnect {
        note!("wscat: --resume goes with --reconnect");
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
        Err(e) => return report(e),
    };
    #[cfg(feature = "deflate")]
    let deflate = client
        .deflate()
        .map(|n| format!(" ({})", n.response()))
        .unwrap_or_default();
    #[cfg(not(feature = "deflate"))]
    let deflate = String::new();
    note!(
        "connected to {url}{}{deflate}",
        client
            .protocol()
            .map(|p| format!(" (protocol {p})"))
            .unwrap_or_default()
    );
    if ping {
        if let Err(e) = client.ping(b"wscat") {
            note!("wscat: {e}");
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
        let printed = match received {
            Ok(Event::Text(t)) => writeln!(stdout, "{t}"),
            Ok(Event::Binary(b)) => print_binary(&mut stdout, b),
            Ok(Event::Ping(p)) => {
                note!("< ping {}", String::from_utf8_lossy(p));
                Ok(())
            }
            Ok(Event::Pong(p)) => {
                note!("< pong {}", String::from_utf8_lossy(p));
                Ok(())
            }
            Ok(Event::Close { code, reason }) => {
                return finish(code.unwrap_or(CloseCode::NO_STATUS), reason);
            }
            Ok(Event::Fragment { .. }) | Err(Error::Timeout) => Ok(()),
            Err(e) => return report(e),
        };
        if let Err(e) = printed.and_then(|()| stdout.flush()) {
            let _ = client.close(CloseCode::GOING_AWAY, "");
            return output_failed(e);
        }
    }
}

/// Standard input, read on its own thread so that the socket can be polled
/// with a short timeout and lines go out promptly. `None` at end of input,
/// and at input that cannot go out (a read error, or a line that is not
/// UTF-8), which is noted and fails the run ([`INPUT_FAILED`]).
fn spawn_stdin() -> mpsc::Receiver<Option<String>> {
    let (lines_tx, lines) = mpsc::channel::<Option<String>>();
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        for n in 1u64.. {
            let mut line = Vec::new();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    note!("wscat: standard input: {e}");
                    INPUT_FAILED.store(true, Ordering::Relaxed);
                    break;
                }
            }
            // Without its "\n" or "\r\n", as BufRead::lines gives it.
            if line.ends_with(b"\n") {
                line.pop();
                if line.ends_with(b"\r") {
                    line.pop();
                }
            }
            let Ok(text) = String::from_utf8(line) else {
                note!("wscat: line {n} of standard input is not UTF-8: neither it nor the rest is sent");
                INPUT_FAILED.store(true, Ordering::Relaxed);
                break;
            };
            if lines_tx.send(Some(text)).is_err() {
                return;
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
                        note!("wscat: line dropped: {e}");
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
        let printed = match received {
            Ok(Incoming::Text(t)) => writeln!(stdout, "{t}"),
            Ok(Incoming::Binary(b)) => print_binary(&mut stdout, &b),
            Ok(Incoming::Tagged { payload, .. }) => match payload {
                Payload::Text(t) => writeln!(stdout, "{t}"),
                Payload::Binary(b) => print_binary(&mut stdout, &b),
            },
            Ok(Incoming::Subscribed {
                topic,
                last,
                recovered,
                ..
            }) => {
                match recovered {
                    None => note!("subscribed to {topic} (newest id {last})"),
                    Some(true) => note!("resumed {topic}: nothing missed"),
                    Some(false) => note!(
                        "resumed {topic}: not recovered (the server restarted, or its history does not reach back): messages may be missing"
                    ),
                }
                Ok(())
            }
            Ok(Incoming::Connected { reconnected }) => {
                let verb = if reconnected {
                    "reconnected"
                } else {
                    "connected"
                };
                note!("{verb} to {url}");
                Ok(())
            }
            Ok(Incoming::Disconnected { error, retry_in }) => {
                note!(
                    "connection lost ({error}); reconnecting in {} ms",
                    retry_in.as_millis()
                );
                Ok(())
            }
            Err(Error::Timeout) => Ok(()),
            Err(e) => return report(e),
        };
        if let Err(e) = printed.and_then(|()| stdout.flush()) {
            let _ = client.close();
            return output_failed(e);
        }
    }
}

fn print_binary(out: &mut impl Write, b: &[u8]) -> io::Result<()> {
    let hex: String = b.iter().take(32).map(|x| format!("{x:02x}")).collect();
    let more = if b.len() > 32 { "..." } else { "" };
    writeln!(out, "<binary {} bytes: {hex}{more}>", b.len())
}

/// Standard output failed (the connection has been closed). A closed pipe
/// means the reader has what it wanted (`wscat URL | head -1`): no note,
/// status 0. Any other error is reported.
fn output_failed(e: io::Error) -> ExitCode {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return ExitCode::SUCCESS;
    }
    note!("wscat: standard output: {e}");
    ExitCode::FAILURE
}

fn finish(code: CloseCode, reason: &str) -> ExitCode {
    note!(
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
    note!("wscat: {e}");
    #[cfg(feature = "tls")]
    if let Error::Tls(tls) = &e {
        use rustls::{CertificateError, Error as TlsError};
        if let Some(TlsError::InvalidCertificate(CertificateError::UnknownIssuer)) =
            tls.downcast_ref()
        {
            note!(
                "wscat: the server's certificate is not signed by a CA wscat trusts (Mozilla's \
                 roots, or --cafile); for a private CA or a self-signed certificate, name its \
                 PEM file with --cafile FILE"
            );
        }
        // webpki's error, inside rustls' CertificateError::Other.
        if tls.to_string().contains("CaUsedAsEndEntity") {
            note!(
                "wscat: the server's certificate is a CA certificate (basicConstraints CA:TRUE, \
                 what `openssl req -x509` makes by default), which is refused as a server's \
                 even with --cafile; make it with -addext basicConstraints=critical,CA:FALSE, \
                 or sign it with a CA of its own (mkcert, or cargo run --example test-certs)"
            );
        }
    }
    match e {
        Error::Closed(code, reason) => finish(code, &reason),
        Error::Protocol(p) => finish(p.close_code(), ""),
        _ => ExitCode::from(100),
    }
}
