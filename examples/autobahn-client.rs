//! Drives our blocking client through an Autobahn TestSuite fuzzing server
//! (e.g. `kosoku -m fuzzingserver`): echo every message of every case, then
//! ask for the reports. Used by scripts/autobahn-client.sh.
//!
//!     cargo run --release --example autobahn-client -- ws://127.0.0.1:9001 [AGENT [CA.pem]]
//!
//! With a `wss://` base URL, CA.pem names the CA to trust (feature `tls`).

use std::time::Duration;

use rfc6455::client::{Client, ClientConfig, Error};
use rfc6455::connection::Event;
#[cfg(feature = "deflate")]
use rfc6455::deflate::DeflateConfig;
use rfc6455::CloseCode;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let agent = args.next().unwrap_or_else(|| "rfc6455".to_owned());
    #[allow(unused_mut)]
    let mut config = ClientConfig {
        read_timeout: Some(Duration::from_secs(60)),
        // Groups 12 and 13: offer permessage-deflate, let the server keep
        // its context (so ours is tested to follow it), and promise
        // `client_no_context_takeover`, which the suite's server needs to
        // see before it will ask for it (13.2, 13.5-13.7).
        #[cfg(feature = "deflate")]
        deflate: Some(DeflateConfig {
            peer_context_takeover: true,
            ..DeflateConfig::default()
        }),
        ..ClientConfig::default()
    };
    if let Some(cafile) = args.next() {
        #[cfg(feature = "tls")]
        {
            config.tls = rfc6455::tls::ClientTls::from_ca_file(cafile)?;
        }
        #[cfg(not(feature = "tls"))]
        return Err(format!("CA file {cafile}: built without the tls feature").into());
    }

    let mut counter = Client::connect_with(&format!("{base}/getCaseCount"), &config)?;
    let count: usize = match counter.recv()? {
        Event::Text(t) => t.trim().parse()?,
        other => return Err(format!("unexpected reply to getCaseCount: {other:?}").into()),
    };
    let _ = counter.close(CloseCode::NORMAL, "");
    eprintln!("{count} cases");

    let mut echo = Vec::new();
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        let mut client = match Client::connect_with(&url, &config) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("case {case}: connect: {e}");
                continue;
            }
        };
        loop {
            let text = match client.recv() {
                Ok(Event::Text(t)) => {
                    echo.clear();
                    echo.extend_from_slice(t.as_bytes());
                    true
                }
                Ok(Event::Binary(b)) => {
                    echo.clear();
                    echo.extend_from_slice(b);
                    false
                }
                Ok(Event::Close { .. }) => break,
                Ok(_) => continue,
                Err(Error::Closed(..) | Error::Protocol(_)) => break,
                Err(e) => {
                    eprintln!("case {case}: {e}");
                    break;
                }
            };
            let sent = if text {
                // Valid: it arrived as a text message.
                client.send_text(std::str::from_utf8(&echo).unwrap_or_default())
            } else {
                client.send_binary(&echo)
            };
            if let Err(e) = sent {
                eprintln!("case {case}: send: {e}");
                break;
            }
        }
        // Wait for the server to close TCP after the closing handshake.
        let _ = client.close(CloseCode::NORMAL, "");
    }

    let mut reports =
        Client::connect_with(&format!("{base}/updateReports?agent={agent}"), &config)?;
    let _ = reports.close(CloseCode::NORMAL, "");
    Ok(())
}
