//! The server's side of the opening handshake: read the request, apply the
//! configured policy and the handler's decision, write the answer.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::prelude::rust_2021::*;
use std::sync::Arc;

use crate::connection::{Config, Connection};
#[cfg(feature = "deflate")]
use crate::deflate::Negotiated;
use crate::frame::Status;
use crate::handshake::{
    list_has, Accept, HandshakeError, Opening, Request, RequestParser, UpgradeRequest,
};
use crate::limits::Limits;

use super::http::{self, HttpRequest, Response};
use super::{ConnId, Context, Handler};

/// Sent to connections refused because the server is full.
pub(crate) const SERVICE_UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 21\r\nConnection: close\r\n\r\n\
too many connections\n";

/// Bytes read per call while the request head arrives.
const HANDSHAKE_READ: usize = 2048;
/// Most bytes read per call while a plain request's body arrives.
const BODY_READ: usize = 16 << 10;

/// What a complete (or failed) request head leads to.
pub(crate) enum Outcome {
    /// Read more.
    Incomplete,
    /// The response is in the output buffer; close once it is written.
    Respond,
    /// The 101 is in the output buffer; frames start at `consumed`.
    Upgrade {
        consumed: usize,
        /// permessage-deflate, if it was negotiated.
        deflate: Deflate,
    },
}

/// What the opening handshake settled about permessage-deflate.
#[cfg(feature = "deflate")]
pub(crate) type Deflate = Option<Negotiated>;
/// What the opening handshake settled about permessage-deflate: nothing,
/// without the feature.
#[cfg(not(feature = "deflate"))]
pub(crate) type Deflate = ();

/// The connection an accepted upgrade opens, with the permessage-deflate
/// it negotiated. The compressors themselves are per worker thread (the
/// engine's pools), not per connection: see [`crate::deflate`].
pub(crate) fn open_connection(config: Config, deflate: &Deflate) -> Connection {
    let conn = Connection::server(config);
    #[cfg(feature = "deflate")]
    if let Some(n) = deflate {
        return conn.with_deflate(n);
    }
    #[cfg(not(feature = "deflate"))]
    let () = deflate;
    conn
}

/// A connection's request (head, then a plain request's body) while it
/// arrives.
pub(crate) struct HandshakeState {
    pub(crate) buf: Vec<u8>,
    parser: RequestParser,
    /// Where a plain request's body ends, once its head is in.
    body_end: Option<usize>,
}

impl HandshakeState {
    pub(crate) fn new(limits: &Limits) -> Self {
        HandshakeState {
            buf: Vec::new(),
            parser: RequestParser::new(limits),
            body_end: None,
        }
    }

    /// One read from the socket onto the end of the buffer: a chunk of the
    /// head, or what remains of the body (never beyond it).
    pub(crate) fn read_from(&mut self, socket: &mut impl Read) -> io::Result<usize> {
        let old = self.buf.len();
        // A body is read in chunks too: memory follows the bytes that came,
        // not the length a peer announced.
        let want = match self.body_end {
            Some(end) => end.saturating_sub(old).clamp(1, BODY_READ),
            None => HANDSHAKE_READ,
        };
        self.buf.resize(old + want, 0);
        let result = socket.read(&mut self.buf[old..]);
        self.buf.truncate(old + *result.as_ref().unwrap_or(&0));
        result
    }

    /// The upgrade request, once [`advance`](Self::advance) has returned
    /// [`Outcome::Upgrade`].
    pub(crate) fn upgrade_request(&mut self) -> Option<UpgradeRequest<'_>> {
        match self.parser.parse(&self.buf) {
            Ok(Status::Complete(Opening::WebSocket(request))) => Some(request),
            _ => None,
        }
    }

    /// Parses what has arrived (resuming where the last call stopped) and,
    /// once the request is complete, answers it into `out`.
    pub(crate) fn advance<H: Handler>(
        &mut self,
        id: ConnId,
        peer_addr: SocketAddr,
        ctx: &mut Context<'_>,
        handler: &mut H,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let config = Arc::clone(&ctx.services.config);
        let server = config.server_name.as_str();
        match self.parser.parse(&self.buf) {
            Ok(Status::Incomplete(_)) => Outcome::Incomplete,
            Ok(Status::Complete(Opening::WebSocket(request))) => {
                answer_upgrade(&request, id, peer_addr, ctx, handler, out)
            }
            Ok(Status::Complete(Opening::Http(request))) => {
                let (len, early) = match http::body_length(&request, config.max_body) {
                    Err(refusal) => (0, Some((refusal, "body refused"))),
                    Ok(len) if len > 0 && self.body_end.is_none() => {
                        // Asked once, before any of the body is read (and
                        // before the 100 Continue).
                        let head = HttpRequest {
                            head: &request,
                            body: &[],
                            peer_addr,
                        };
                        let answer = handler.on_http_head(ctx, &head, len);
                        (len, answer.map(|r| (r, "answered at the head")))
                    }
                    Ok(len) => (len, None),
                };
                if let Some((response, why)) = early {
                    log::debug!(
                        "worker {}: {}: {why}: {}",
                        id.worker,
                        id.slot,
                        response.status()
                    );
                    response.write_for(request.method(), server, out);
                    return Outcome::Respond;
                }
                let (start, end) = (request.consumed(), request.consumed() + len);
                if self.buf.len() < end {
                    // A client that asked to hear first waits for this
                    // before sending the body (RFC 9110 section 10.1.1:
                    // a final status "or an immediate 100 (Continue)").
                    if self.body_end.is_none() && expects_continue(&request) {
                        out.extend_from_slice(CONTINUE);
                    }
                    self.body_end = Some(end);
                    return Outcome::Incomplete;
                }
                log::debug!(
                    "worker {}: {}: plain {} {}",
                    id.worker,
                    id.slot,
                    request.method(),
                    request.target()
                );
                let request = HttpRequest {
                    head: &request,
                    body: &self.buf[start..end],
                    peer_addr,
                };
                let response = handler.on_http(ctx, &request);
                response.write_for(request.method(), server, out);
                Outcome::Respond
            }
            Err(e) => {
                log::debug!("worker {}: {}: bad handshake: {e}", id.worker, id.slot);
                let start = out.len();
                write_refusal(&e, server, out);
                if is_head(&self.buf) {
                    // The same head without content (RFC 9110 section 9.3.2).
                    let head_end = out[start..].windows(4).position(|w| w == b"\r\n\r\n");
                    if let Some(end) = head_end {
                        out.truncate(start + end + 4);
                    }
                }
                Outcome::Respond
            }
        }
    }
}

/// The interim answer to `Expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Whether an HTTP/1.1 request carries `Expect: 100-continue` (the
/// expectation is case-insensitive; an HTTP/1.0 one is ignored, RFC 9110
/// section 10.1.1).
fn expects_continue(request: &Request<'_>) -> bool {
    request.version() >= (1, 1)
        && request
            .headers()
            .filter(|h| h.name.eq_ignore_ascii_case("Expect"))
            .any(|h| list_has(h.value, "100-continue"))
}

/// Whether the request line (after the blank line the parser ignores)
/// names `HEAD`, for a request that failed to parse past it.
fn is_head(buf: &[u8]) -> bool {
    buf.strip_prefix(b"\r\n")
        .unwrap_or(buf)
        .starts_with(b"HEAD ")
}

/// Writes the handshake parser's refusal, named like every other answer
/// of this server (a name the writer refuses is left out).
fn write_refusal(e: &HandshakeError, server: &str, out: &mut Vec<u8>) {
    if e.reject().server(server).write(out).is_err() {
        let _ = e.reject().write(out);
    }
}

fn answer_upgrade<H: Handler>(
    request: &UpgradeRequest<'_>,
    id: ConnId,
    peer_addr: SocketAddr,
    ctx: &mut Context<'_>,
    handler: &mut H,
    out: &mut Vec<u8>,
) -> Outcome {
    let config = Arc::clone(&ctx.services.config);
    if !config.allowed_origins.is_empty() {
        let allowed: Vec<&str> = config.allowed_origins.iter().map(String::as_str).collect();
        if let Err(e) = request.check_origin(&allowed) {
            log::debug!(
                "worker {}: {}: origin {:?} refused",
                id.worker,
                id.slot,
                request.origin()
            );
            write_refusal(&e, &config.server_name, out);
            return Outcome::Respond;
        }
    }
    if let Err(response) = handler.on_upgrade(ctx, id, peer_addr, request) {
        response.write(&config.server_name, out);
        return Outcome::Respond;
    }
    let preference: Vec<&str> = config.subprotocols.iter().map(String::as_str).collect();
    let protocol = request.select_protocol(&preference);
    let accept = Accept::new().protocol(protocol).server(&config.server_name);
    #[cfg(feature = "deflate")]
    let deflate = config
        .deflate
        .as_ref()
        .and_then(|d| d.negotiate(request.extensions()));
    #[cfg(feature = "deflate")]
    let accept = accept.deflate(deflate.as_ref());
    #[cfg(not(feature = "deflate"))]
    let deflate = ();
    if let Err(e) = request.accept(&accept, out) {
        log::warn!("worker {}: {}: cannot write 101: {e}", id.worker, id.slot);
        Response::new(500, "cannot build the handshake response\n").write(&config.server_name, out);
        return Outcome::Respond;
    }
    Outcome::Upgrade {
        consumed: request.consumed(),
        deflate,
    }
}
