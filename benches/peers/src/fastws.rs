//! fastwebsockets' echo, written as the crate's own `examples/echo_server.rs`
//! is, shared by the plain peer (`fastwebsockets-echo`) and the TLS one
//! (`fastwebsockets-tls-echo`, on tokio-rustls).

use std::convert::Infallible;

use fastwebsockets::upgrade::{is_upgrade_request, upgrade, UpgradeFut};
use fastwebsockets::{FragmentCollector, OpCode, WebSocketError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::setup::fastwebsockets_setup;

/// HTTP/1.1 on one stream (a socket, or TLS over one) until it upgrades
/// (or fails).
pub async fn serve<S>(stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
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
