//! Shared by the hyper and axum examples: the WebSocket upgrade of a
//! request an HTTP server has parsed already, checked and answered by
//! this crate's handshake module, and the echo run over the upgraded
//! connection.
//!
//! The request head is written back out as bytes and read by
//! `RequestParser`, so the upgrade goes through exactly the checks of
//! RFC 6455 section 4.2.1 the crate's own servers apply (method, version,
//! `Upgrade`, `Connection`, the key's form, version 13, `Origin`,
//! subprotocol syntax), and the `Sec-WebSocket-Accept` is the handshake
//! module's. It costs one small buffer per upgrade.

use hyper::header::{HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, UPGRADE};
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use rfc6455::connection::{Config, Connection, Event};
use rfc6455::frame::Status;
use rfc6455::handshake::{HandshakeError, Opening, RequestParser};
use rfc6455::tokio::WebSocket;

/// The `Sec-WebSocket-Accept` value for a valid upgrade request, or the
/// status to refuse it with.
pub fn accept_key<B>(request: &Request<B>) -> Result<String, HandshakeError> {
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(request.method().as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(
        request
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .as_bytes(),
    );
    head.extend_from_slice(match request.version() {
        Version::HTTP_10 => b" HTTP/1.0\r\n",
        _ => b" HTTP/1.1\r\n",
    });
    for (name, value) in request.headers() {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    match RequestParser::default().parse(&head)? {
        Status::Complete(Opening::WebSocket(ws)) => Ok(ws.accept_key().as_str().to_owned()),
        // Not an upgrade request at all, or (impossible: the head is
        // whole) incomplete.
        _ => Err(HandshakeError::MissingUpgrade),
    }
}

/// The 101 for `accept_key`.
pub fn switching_protocols<B: Default>(accept_key: &str) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(value) = HeaderValue::from_str(accept_key) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

/// The refusal for a request that is not a valid upgrade.
pub fn refusal<B: From<&'static str>>(e: HandshakeError) -> Response<B> {
    let mut response = Response::new(B::from(e.description()));
    *response.status_mut() = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    if e == HandshakeError::UnsupportedVersion {
        response
            .headers_mut()
            .insert("Sec-WebSocket-Version", HeaderValue::from_static("13"));
    }
    response
}

/// Echoes every message over the upgraded connection until it closes.
pub async fn echo(upgraded: hyper::upgrade::Upgraded) {
    let conn = Connection::server(Config::default());
    let mut ws = WebSocket::from_connection(TokioIo::new(upgraded), conn);
    while let Ok(true) = ws
        .recv_with(|event, reply| match event {
            Event::Text(text) => reply.send_text(text).is_ok(),
            Event::Binary(data) => reply.send_binary(data).is_ok(),
            Event::Close { .. } => false,
            _ => true,
        })
        .await
    {}
}
