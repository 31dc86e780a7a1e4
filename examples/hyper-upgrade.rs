//! A WebSocket endpoint inside a hyper 1 server: hyper serves HTTP/1.1,
//! `/ws` answers the upgrade with this crate's handshake module
//! (`Sec-WebSocket-Accept` and every check of RFC 6455 section 4.2.1), and
//! `hyper::upgrade::on` hands the connection to the tokio driver, which
//! echoes every message. Any other path gets a plain-text page.
//!
//!     cargo run --release --features tokio --example hyper-upgrade -- --listen 127.0.0.1:9001
//!     # then ws://127.0.0.1:9001/ws
//!
//! One thread (tokio's current-thread runtime), like tokio-echo, so the two
//! paths can be compared (scripts/bench-echo.sh).

#[path = "support/args.rs"]
mod args;
#[path = "support/upgrade.rs"]
mod upgrade;

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(args::listen_addr("hyper-upgrade")).await?;
    println!(
        "hyper-upgrade listening on http://{0}/ (WebSocket: ws://{0}/ws)",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("hyper-upgrade: accept: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(route))
                .with_upgrades();
            // Malformed requests and resets end here.
            let _ = connection.await;
        });
    }
}

async fn route(mut request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() != "/ws" {
        return Ok(Response::new(Full::from(
            "a hyper server; WebSocket at /ws\n",
        )));
    }
    let key = match upgrade::accept_key(&request) {
        Ok(key) => key,
        Err(e) => return Ok(upgrade::refusal(e)),
    };
    // The upgrade completes once hyper has sent the 101.
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            upgrade::echo(upgraded).await;
        }
    });
    Ok(upgrade::switching_protocols(&key))
}
