//! Drives the tokio client through an Autobahn TestSuite fuzzing server
//! (`kosoku -m fuzzingserver`): echo every message of every case, then ask
//! for the reports. Used by scripts/autobahn-client.sh --tokio.
//!
//!     cargo run --release --features tokio --example tokio-autobahn-client -- ws://127.0.0.1:9001 [AGENT]

use std::time::Duration;

use rfc6455::connection::Event;
use rfc6455::tokio::{connect, ClientConfig, Error};
use rfc6455::CloseCode;
use tokio::time::timeout;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let agent = args.next().unwrap_or_else(|| "rfc6455-tokio".to_owned());
    let config = ClientConfig {
        // Groups 12 and 13, as examples/autobahn-client.rs: offer
        // permessage-deflate, let the server keep its context, promise
        // client_no_context_takeover.
        #[cfg(feature = "deflate")]
        deflate: Some(rfc6455::deflate::DeflateConfig {
            peer_context_takeover: true,
            ..rfc6455::deflate::DeflateConfig::default()
        }),
        ..ClientConfig::default()
    };
    let limit = Duration::from_secs(60);

    let mut counter = connect(&format!("{base}/getCaseCount"), &config).await?;
    let count: usize = match timeout(limit, counter.recv()).await?? {
        Event::Text(t) => t.trim().parse()?,
        other => return Err(format!("unexpected reply to getCaseCount: {other:?}").into()),
    };
    let _ = timeout(limit, counter.close(CloseCode::NORMAL, "")).await;
    eprintln!("{count} cases");

    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        let mut ws = match connect(&url, &config).await {
            Ok(ws) => ws,
            Err(e) => {
                eprintln!("case {case}: connect: {e}");
                continue;
            }
        };
        loop {
            let echoed = ws.recv_with(|event, reply| match event {
                Event::Text(t) => reply.send_text(t).map(|()| true),
                Event::Binary(b) => reply.send_binary(b).map(|()| true),
                Event::Close { .. } => Ok(false),
                _ => Ok(true),
            });
            match timeout(limit, echoed).await {
                Ok(Ok(Ok(true))) => {}
                Ok(Ok(Ok(false))) | Ok(Err(Error::Closed(..) | Error::Protocol(_))) => break,
                Ok(Ok(Err(e))) => {
                    eprintln!("case {case}: send: {e}");
                    break;
                }
                Ok(Err(e)) => {
                    eprintln!("case {case}: {e}");
                    break;
                }
                Err(_) => {
                    eprintln!("case {case}: no event within {limit:?}");
                    break;
                }
            }
        }
        // Complete the closing handshake and wait for the server's FIN.
        let _ = timeout(Duration::from_secs(5), ws.close(CloseCode::NORMAL, "")).await;
    }

    let mut reports = connect(&format!("{base}/updateReports?agent={agent}"), &config).await?;
    let _ = timeout(limit, reports.close(CloseCode::NORMAL, "")).await;
    Ok(())
}
