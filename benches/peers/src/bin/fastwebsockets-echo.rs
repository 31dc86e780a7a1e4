//! A fastwebsockets echo server, a peer for our benchmarks.
//!
//! One thread (tokio current-thread runtime), written as fastwebsockets' own
//! `examples/echo_server.rs` is: hyper serves the HTTP/1.1 request, the
//! crate's `upgrade` feature answers the handshake, and a task per socket
//! echoes through a `FragmentCollector` (whole messages; text checked as
//! UTF-8) inside `tokio::task::unconstrained`, as the example does, so
//! tokio's cooperative budget never makes it yield. Auto-pong and
//! auto-close are on; every text and binary message is written back with
//! `write_frame`, which writes each frame to the socket at once (a
//! `writev` of header and payload above 1 KiB). Frames up to 64 MiB.
//!
//! `fastwebsockets-echo [--listen ADDR]`, default 127.0.0.1:9002.

use std::convert::Infallible;

use fastwebsockets::upgrade::{is_upgrade_request, upgrade, UpgradeFut};
use fastwebsockets::{FragmentCollector, OpCode, WebSocketError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rfc6455_peers::setup::{fastwebsockets_setup, listen_addr};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = listen_addr("fastwebsockets-echo");
    let listener = TcpListener::bind(addr).await?;
    eprintln!(
        "fastwebsockets-echo listening on ws://{}/",
        listener.local_addr()?
    );
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream));
            }
            // Out of descriptors, say: keep serving the connections we have.
            Err(e) => eprintln!("fastwebsockets-echo: accept: {e}"),
        }
    }
}

/// HTTP/1.1 on one socket until it upgrades (or fails).
async fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let connection = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service_fn(handshake))
        .with_upgrades();
    // Malformed requests and resets end here; nothing to report.
    let _ = connection.await;
}

/// Answers the upgrade request (400 to anything else) and starts the echo
/// once hyper hands over the socket.
async fn handshake(mut request: Request<Incoming>) -> Result<Response<Empty<Bytes>>, Infallible> {
    if !is_upgrade_request(&request) {
        return Ok(bad_request());
    }
    match upgrade(&mut request) {
        Ok((response, socket)) => {
            tokio::spawn(async move {
                // Protocol errors and resets end the connection; the crate
                // has already sent the close frame it owes, if any.
                let _ = tokio::task::unconstrained(echo(socket)).await;
            });
            Ok(response)
        }
        // No Sec-WebSocket-Key, or a version other than 13.
        Err(_) => Ok(bad_request()),
    }
}

fn bad_request() -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

async fn echo(socket: UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = socket.await?;
    fastwebsockets_setup(&mut ws);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            // The echo of the close frame is already sent (auto-close).
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}
