//! A WebSocket endpoint in an axum router: `/ws` answers the upgrade with
//! this crate's handshake module (`Sec-WebSocket-Accept` and every check
//! of RFC 6455 section 4.2.1) and hands the upgraded connection
//! (`hyper::upgrade::on`) to the tokio driver, which echoes every message.
//! `/` is an ordinary route.
//!
//!     cargo run --release --features tokio --example axum-upgrade -- --listen 127.0.0.1:9001
//!     # then ws://127.0.0.1:9001/ws
//!
//! One thread (tokio's current-thread runtime), like tokio-echo, so the two
//! paths can be compared (scripts/bench-echo.sh).

#[path = "support/args.rs"]
mod args;
#[path = "support/upgrade.rs"]
mod upgrade;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(args::listen_addr("axum-upgrade")).await?;
    println!(
        "axum-upgrade listening on http://{0}/ (WebSocket: ws://{0}/ws)",
        listener.local_addr()?
    );
    let app = Router::new()
        .route("/", get(|| async { "an axum app; WebSocket at /ws\n" }))
        .route("/ws", get(websocket));
    // Replies must not wait for Nagle's algorithm (axum leaves it on).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

async fn websocket(mut request: Request) -> Response {
    let key = match upgrade::accept_key(&request) {
        Ok(key) => key,
        Err(e) => return upgrade::refusal::<Body>(e),
    };
    // The upgrade completes once the 101 has been sent.
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            upgrade::echo(upgraded).await;
        }
    });
    upgrade::switching_protocols(&key)
}
