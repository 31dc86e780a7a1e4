//! Interoperability driver for our blocking client, used by
//! scripts/interop.sh against other people's echo servers (Python
//! `websockets`, Node `ws`) and through reverse proxies.
//!
//!     cargo run --release --example interop-client -- ws://127.0.0.1:9001/ [deflate]
//!     cargo run --release --example interop-client -- wss://localhost:9443/ --cafile ca.pem [deflate]
//!
//! With `deflate` it offers permessage-deflate (no context takeover) and
//! fails unless the server accepts it.
//!
//! It sends text and binary messages of 0, 125, 126, 65 536 and 1 MiB bytes
//! (one at a time, waiting for each echo), a ping with a 125-byte payload,
//! then closes with 1000. Every echoed byte, the message type, the pong's
//! payload and the server's close code are checked. The payloads are the
//! same as tests/interop/payloads.py and payloads.js build, so every row of
//! the matrix exchanges identical bytes. Exits 1 on the first mismatch.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use rfc6455::client::{Client, ClientConfig};
use rfc6455::connection::Event;
use rfc6455::CloseCode;

// 4096: with permessage-deflate, a message compressed as one complete
// stream (it fits the window); 65536 and up are streamed.
const SIZES: [usize; 6] = [0, 125, 126, 4096, 65_536, 1 << 20];

/// `n` bytes of UTF-8: "aé中😀" (1 + 2 + 3 + 4 bytes) repeated, padded with 'x'.
fn text(n: usize) -> String {
    let mut s = "aé中😀".repeat(n / 10);
    s.push_str(&"x".repeat(n % 10));
    s
}

/// `n` bytes that differ from a copy shifted by any multiple of 256.
fn binary(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + (i >> 8)) as u8).collect()
}

fn first_difference(got: &[u8], want: &[u8]) -> String {
    match got.iter().zip(want).position(|(a, b)| a != b) {
        Some(i) => format!(
            "{} bytes, want {}; first difference at byte {i}",
            got.len(),
            want.len()
        ),
        None => format!("{} bytes, want {} (prefix equal)", got.len(), want.len()),
    }
}

/// An event in a few words: a mismatched 1 MiB echo should not print 1 MiB.
fn brief(event: &Event<'_>) -> String {
    match event {
        Event::Text(t) => format!("a text message of {} bytes", t.len()),
        Event::Binary(b) => format!("a binary message of {} bytes", b.len()),
        Event::Fragment { kind, data, fin } => {
            format!("a {kind:?} fragment of {} bytes (fin {fin})", data.len())
        }
        Event::Ping(p) => format!("a ping of {} bytes", p.len()),
        Event::Pong(p) => format!("a pong of {} bytes", p.len()),
        Event::Close { code, reason } => format!("close {code:?} {reason:?}"),
    }
}

fn run(url: &str, cafile: Option<&str>, deflate: bool) -> Result<(), String> {
    #[allow(unused_mut)]
    let mut config = ClientConfig {
        read_timeout: Some(Duration::from_secs(10)),
        #[cfg(feature = "deflate")]
        deflate: deflate.then(rfc6455::deflate::DeflateConfig::default),
        ..ClientConfig::default()
    };
    if let Some(path) = cafile {
        #[cfg(feature = "tls")]
        {
            config.tls = rfc6455::tls::ClientTls::from_ca_file(path).map_err(|e| e.to_string())?;
        }
        #[cfg(not(feature = "tls"))]
        return Err(format!("--cafile {path}: built without the tls feature"));
    }
    let mut client = Client::connect_with(url, &config).map_err(|e| format!("connect: {e}"))?;
    #[cfg(feature = "deflate")]
    match (deflate, client.deflate()) {
        (true, None) => return Err("the server declined permessage-deflate".into()),
        (true, Some(n)) => println!("connected to {url}; permessage-deflate: {}", n.response()),
        (false, _) => println!("connected to {url}"),
    }
    #[cfg(not(feature = "deflate"))]
    if deflate {
        return Err("built without the deflate feature".into());
    } else {
        println!("connected to {url}");
    }

    for n in SIZES {
        let want = text(n);
        client
            .send_text(&want)
            .map_err(|e| format!("send text {n}: {e}"))?;
        match client.recv().map_err(|e| format!("recv text {n}: {e}"))? {
            Event::Text(got) if got == want => println!("ok   text   {n:>7} bytes"),
            Event::Text(got) => {
                return Err(format!(
                    "text {n}: got {}",
                    first_difference(got.as_bytes(), want.as_bytes())
                ))
            }
            other => return Err(format!("text {n}: got {} instead", brief(&other))),
        }

        let want = binary(n);
        client
            .send_binary(&want)
            .map_err(|e| format!("send binary {n}: {e}"))?;
        match client.recv().map_err(|e| format!("recv binary {n}: {e}"))? {
            Event::Binary(got) if got == want => println!("ok   binary {n:>7} bytes"),
            Event::Binary(got) => {
                return Err(format!("binary {n}: got {}", first_difference(got, &want)))
            }
            other => return Err(format!("binary {n}: got {} instead", brief(&other))),
        }
    }

    let ping = binary(125);
    client.ping(&ping).map_err(|e| format!("ping: {e}"))?;
    loop {
        match client
            .recv()
            .map_err(|e| format!("waiting for pong: {e}"))?
        {
            Event::Pong(got) if got == ping => break,
            Event::Pong(got) => return Err(format!("pong: got {}", first_difference(got, &ping))),
            // An unsolicited ping from the server is answered by the client.
            Event::Ping(_) => continue,
            other => return Err(format!("waiting for pong: got {}", brief(&other))),
        }
    }
    println!("ok   ping/pong with 125 bytes");

    let (code, reason) = client
        .close(CloseCode::NORMAL, "done")
        .map_err(|e| format!("close: {e}"))?;
    if code != CloseCode::NORMAL {
        return Err(format!(
            "close: server replied {code} {reason:?}, want 1000"
        ));
    }
    println!("ok   close: server replied {code}");
    Ok(())
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let deflate = args.last().is_some_and(|a| a == "deflate");
    if deflate {
        args.pop();
    }
    let (url, cafile) = match args.as_slice() {
        [url] => (url, None),
        [url, flag, file] if flag == "--cafile" => (url, Some(file.as_str())),
        _ => {
            eprintln!("usage: interop-client ws[s]://HOST:PORT/PATH [--cafile CA.pem] [deflate]");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    match run(url, cafile, deflate) {
        Ok(()) => {
            println!("PASS in {:.2} s", start.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAIL {e}");
            ExitCode::FAILURE
        }
    }
}
