//! The server's side of the opening handshake: read the request, apply the
//! configured policy and the handler's decision, write the answer.

use std::borrow::Cow;
use std::io::{self, Read};
use std::prelude::rust_2021::*;

use crate::frame::Status;
use crate::handshake::{Accept, Opening, RequestParser, UpgradeRequest};
use crate::limits::Limits;

use super::{ConnId, Handler, ServerConfig};

pub use crate::handshake::Request;

/// Sent to connections refused because the server is full.
pub(crate) const SERVICE_UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 21\r\nConnection: close\r\n\r\n\
too many connections\n";

/// Bytes read per call while the request head arrives.
const HANDSHAKE_READ: usize = 2048;

/// An HTTP response for a plain request or a refused upgrade. Always sent
/// with `Content-Length` and `Connection: close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    content_type: &'static str,
    headers: Vec<(String, String)>,
    body: Cow<'static, [u8]>,
}

impl Response {
    /// A response with a plain-text body.
    pub fn new(status: u16, body: impl Into<Cow<'static, str>>) -> Response {
        let body = match body.into() {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        };
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body,
        }
    }

    /// A 200 response with an HTML body.
    pub fn html(page: &'static str) -> Response {
        Response {
            content_type: "text/html; charset=utf-8",
            ..Response::new(200, page)
        }
    }

    /// 404 Not Found.
    pub fn not_found() -> Response {
        Response::new(404, "not found\n")
    }

    /// 426 Upgrade Required, naming the protocol to upgrade to.
    pub fn upgrade_required() -> Response {
        Response::new(
            426,
            "this is a WebSocket endpoint: connect with a WebSocket client\n",
        )
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    fn write(&self, server: &str, out: &mut Vec<u8>) {
        use std::io::Write;
        let _ = write!(
            out,
            "HTTP/1.1 {} {}\r\nServer: {server}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            // Drop a header that would break the response apart.
            if !(name.contains(['\r', '\n', ':']) || value.contains(['\r', '\n'])) {
                let _ = write!(out, "{name}: {value}\r\n");
            }
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// What a complete (or failed) request head leads to.
pub(crate) enum Outcome {
    /// Read more.
    Incomplete,
    /// The response is in the output buffer; close once it is written.
    Respond,
    /// The 101 is in the output buffer; frames start at `consumed`.
    Upgrade { consumed: usize },
}

/// A connection's request head while it arrives.
pub(crate) struct HandshakeState {
    pub(crate) buf: Vec<u8>,
    parser: RequestParser,
}

impl HandshakeState {
    pub(crate) fn new(limits: &Limits) -> Self {
        HandshakeState {
            buf: Vec::new(),
            parser: RequestParser::new(limits),
        }
    }

    /// One read from the socket onto the end of the buffer.
    pub(crate) fn read_from(&mut self, socket: &mut impl Read) -> io::Result<usize> {
        let old = self.buf.len();
        self.buf.resize(old + HANDSHAKE_READ, 0);
        let result = socket.read(&mut self.buf[old..]);
        self.buf.truncate(old + *result.as_ref().unwrap_or(&0));
        result
    }

    /// Parses what has arrived (resuming where the last call stopped) and,
    /// once the head is complete, answers it into `out`.
    pub(crate) fn advance<H: Handler>(
        &mut self,
        id: ConnId,
        config: &ServerConfig,
        handler: &mut H,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let server = config.server_name.as_str();
        match self.parser.parse(&self.buf) {
            Ok(Status::Incomplete(_)) => Outcome::Incomplete,
            Ok(Status::Complete(Opening::WebSocket(request))) => {
                answer_upgrade(&request, id, config, handler, out)
            }
            Ok(Status::Complete(Opening::Http(request))) => {
                log::debug!(
                    "worker {}: {}: plain {} {}",
                    id.worker,
                    id.slot,
                    request.method(),
                    request.target()
                );
                handler.on_http(id, &request).write(server, out);
                Outcome::Respond
            }
            Err(e) => {
                log::debug!("worker {}: {}: bad handshake: {e}", id.worker, id.slot);
                e.write_response(out);
                Outcome::Respond
            }
        }
    }
}

fn answer_upgrade<H: Handler>(
    request: &UpgradeRequest<'_>,
    id: ConnId,
    config: &ServerConfig,
    handler: &mut H,
    out: &mut Vec<u8>,
) -> Outcome {
    if !config.allowed_origins.is_empty() {
        let allowed: Vec<&str> = config.allowed_origins.iter().map(String::as_str).collect();
        if let Err(e) = request.check_origin(&allowed) {
            log::debug!(
                "worker {}: {}: origin {:?} refused",
                id.worker,
                id.slot,
                request.origin()
            );
            e.write_response(out);
            return Outcome::Respond;
        }
    }
    if let Err(response) = handler.on_upgrade(id, request) {
        response.write(&config.server_name, out);
        return Outcome::Respond;
    }
    let preference: Vec<&str> = config.subprotocols.iter().map(String::as_str).collect();
    let protocol = request.select_protocol(&preference);
    let accept = Accept::new().protocol(protocol).server(&config.server_name);
    if let Err(e) = request.accept(&accept, out) {
        log::warn!("worker {}: {}: cannot write 101: {e}", id.worker, id.slot);
        Response::new(500, "cannot build the handshake response\n").write(&config.server_name, out);
        return Outcome::Respond;
    }
    Outcome::Upgrade {
        consumed: request.consumed(),
    }
}
