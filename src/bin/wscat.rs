//! wscat: a terminal WebSocket client. Each line of standard input is sent
//! as a text message; whatever arrives is printed.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rfc6455::client::{Client, ClientConfig, Error};
use rfc6455::connection::Event;
use rfc6455::CloseCode;

const HELP: &str = "\
wscat: send lines of standard input to a WebSocket server, print what comes back

USAGE:
    wscat [OPTIONS] ws://HOST[:PORT][/PATH][?QUERY]

OPTIONS:
    --protocol NAME     offer a subprotocol (repeatable)
    --origin ORIGIN     send an Origin header
    --header 'N: V'     send an extra header (repeatable)
    --ping              send a ping after connecting and print the pong
    --deflate           offer permessage-deflate (RFC 7692) without context takeover
    -h, --help          print this help

Each stdin line becomes a text message; received text is printed as is,
binary as `<binary N bytes: hex...>`, pings, pongs and the close as notes on
stderr. At end of input, wscat prints replies until the server has been
quiet for half a second, then sends close 1000 and waits for the server's.

EXIT STATUS:
    close code - 1000 for codes 1000..1015 (0 for a normal close),
    1 for other close codes, 100 if the connection could not be made.
";

fn main() -> ExitCode {
    let mut url = None;
    let mut config = ClientConfig::default();
    let mut ping = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "--protocol" | "--origin" | "--header" => {
                let Some(value) = args.next() else {
                    eprintln!("wscat: {arg} needs a value");
                    return ExitCode::from(100);
                };
                match arg.as_str() {
                    "--protocol" => config.protocols.push(value),
                    "--origin" => config.origin = Some(value),
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
    // Standard input is read on its own thread; the socket is polled with a
    // short timeout so lines go out promptly.
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
            let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
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
            Ok(Event::Binary(b)) => {
                let hex: String = b.iter().take(32).map(|x| format!("{x:02x}")).collect();
                let more = if b.len() > 32 { "..." } else { "" };
                let _ = writeln!(stdout, "<binary {} bytes: {hex}{more}>", b.len());
            }
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
