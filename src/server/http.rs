//! Plain HTTP on the server's port: requests with a bounded body, and the
//! responses a handler answers with. Every response closes the
//! connection (`Connection: close`): a push server's HTTP side is a
//! publish now and then, not a web server's keep-alive traffic.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::ops::Deref;
use std::prelude::rust_2021::*;

use crate::handshake::{reason_phrase, BodyFraming, Request};

/// A plain HTTP request as a handler sees it: the head, the whole body
/// (at most [`ServerConfig::max_body`](super::ServerConfig::max_body)
/// bytes) and where it came from. Derefs to the head ([`Request`]).
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub(crate) head: &'a Request<'a>,
    pub(crate) body: &'a [u8],
    pub(crate) peer_addr: SocketAddr,
}

impl<'a> HttpRequest<'a> {
    /// The body, empty when there is none.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The address the request comes from.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }
}

impl<'a> Deref for HttpRequest<'a> {
    type Target = Request<'a>;

    fn deref(&self) -> &Request<'a> {
        self.head
    }
}

/// How many body bytes follow a plain request's head, or the response
/// that refuses it: 400 for a length that cannot be trusted (or a
/// transfer coding list not ending in chunked), 411 for chunked or a
/// `POST`/`PUT`/`PATCH` without a length,
/// 413 beyond `max_body`.
pub(crate) fn body_length(request: &Request<'_>, max_body: usize) -> Result<usize, Response> {
    match request.body_framing() {
        Err(e) => Err(Response::new(e.status(), format!("{e}\n"))),
        Ok(BodyFraming::TransferCoded) => Err(Response::new(
            411,
            "send the body with Content-Length: transfer codings (chunked) are not accepted\n",
        )),
        Ok(BodyFraming::None) => {
            if matches!(request.method(), "POST" | "PUT" | "PATCH")
                && request.header("Content-Length").is_none()
            {
                Err(Response::new(411, "a body needs Content-Length\n"))
            } else {
                Ok(0)
            }
        }
        Ok(BodyFraming::Length(n)) => match usize::try_from(n) {
            Ok(n) if n <= max_body => Ok(n),
            _ => Err(Response::new(
                413,
                format!("the body is over the limit of {max_body} bytes\n"),
            )),
        },
    }
}

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
        Response::new(200, page).content_type("text/html; charset=utf-8")
    }

    /// A response with a JSON body (`application/json`).
    pub fn json(status: u16, body: impl Into<Cow<'static, str>>) -> Response {
        Response::new(status, body).content_type("application/json")
    }

    /// Replaces the `Content-Type` (plain UTF-8 text by default).
    pub fn content_type(mut self, content_type: &'static str) -> Response {
        self.content_type = content_type;
        self
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

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub(crate) fn write(&self, server: &str, out: &mut Vec<u8>) {
        self.write_to(server, false, out);
    }

    /// The response to a request of `method`: to a `HEAD`, the same head
    /// without the content (RFC 9110 section 9.3.2).
    pub(crate) fn write_for(&self, method: &str, server: &str, out: &mut Vec<u8>) {
        self.write_to(server, method == "HEAD", out);
    }

    fn write_to(&self, server: &str, head_only: bool, out: &mut Vec<u8>) {
        use std::io::Write;
        // A sender of Upgrade names it in Connection (RFC 9110 section 7.8).
        let upgrade = self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("Upgrade"));
        let _ = write!(
            out,
            "HTTP/1.1 {} {}\r\nServer: {server}\r\n",
            self.status,
            reason_phrase(self.status),
        );
        // A 204 has no content, and no Content-Length either (RFC 9110
        // section 8.6: a server MUST NOT send one).
        let no_content = self.status == 204;
        if !no_content {
            let _ = write!(
                out,
                "Content-Type: {}\r\nContent-Length: {}\r\n",
                self.content_type,
                self.body.len(),
            );
        }
        let _ = write!(
            out,
            "Connection: {}\r\n",
            if upgrade { "Upgrade, close" } else { "close" }
        );
        for (name, value) in &self.headers {
            // Drop a header that would break the response apart.
            if !(name.contains(['\r', '\n', ':']) || value.contains(['\r', '\n'])) {
                let _ = write!(out, "{name}: {value}\r\n");
            }
        }
        out.extend_from_slice(b"\r\n");
        if !(head_only || no_content) {
            out.extend_from_slice(&self.body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(response: &Response, head_only: bool) -> String {
        let mut out = Vec::new();
        response.write_to("s", head_only, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn statuses_get_the_phrases_of_rfc_9110() {
        for (status, phrase) in [
            (200, "OK"),
            (413, "Content Too Large"),
            (414, "URI Too Long"),
            (417, "Expectation Failed"),
            (431, "Request Header Fields Too Large"),
            (505, "HTTP Version Not Supported"),
            (299, "Success"),
            (499, "Client Error"),
        ] {
            let head = written(&Response::new(status, ""), true);
            assert!(
                head.starts_with(&format!("HTTP/1.1 {status} {phrase}\r\n")),
                "{head}"
            );
        }
    }

    #[test]
    fn a_head_answer_has_the_length_but_no_content() {
        let page = Response::new(200, "hello\n");
        let get = written(&page, false);
        let head = written(&page, true);
        assert!(get.ends_with("\r\n\r\nhello\n"), "{get}");
        assert!(head.ends_with("\r\n\r\n"), "{head}");
        assert!(head.contains("Content-Length: 6\r\n"), "{head}");
        assert_eq!(get.len(), head.len() + 6);
    }

    #[test]
    fn a_coding_other_than_chunked_last_is_a_bad_request() {
        let status = |head: &str| {
            let mut parser = crate::handshake::RequestParser::default();
            let Ok(crate::frame::Status::Complete(request)) = parser.parse_http(head.as_bytes())
            else {
                core::panic!("{head}");
            };
            body_length(&request, 100).err().map(|r| r.status())
        };
        let post = |te: &str| status(&format!("POST / HTTP/1.1\r\nHost: x\r\n{te}\r\n"));
        // Chunked last: a length exists but is not known up front: 411.
        assert_eq!(post("Transfer-Encoding: chunked\r\n"), Some(411));
        assert_eq!(post("Transfer-Encoding: gzip, Chunked\r\n"), Some(411));
        assert_eq!(
            post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
            Some(411)
        );
        // Not last, or absent: no length at all (RFC 9112 section 6.3).
        assert_eq!(post("Transfer-Encoding: gzip\r\n"), Some(400));
        assert_eq!(post("Transfer-Encoding: chunked, gzip\r\n"), Some(400));
        assert_eq!(
            post("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
            Some(400)
        );
        assert_eq!(post("Transfer-Encoding: \r\n"), Some(400));
    }

    #[test]
    fn a_204_has_no_content_length() {
        let text = written(&Response::new(204, "").header("Vary", "Origin"), false);
        assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"), "{text}");
        assert!(!text.contains("Content-Length"), "{text}");
        assert!(!text.contains("Content-Type"), "{text}");
        assert!(text.ends_with("\r\nVary: Origin\r\n\r\n"), "{text}");
        // Content given to a 204 by mistake is not sent.
        let text = written(&Response::new(204, "oops"), false);
        assert!(text.ends_with("\r\n\r\n"), "{text}");
    }

    #[test]
    fn a_sender_of_upgrade_names_it_in_connection() {
        let upgrade = written(&Response::upgrade_required(), false);
        assert!(
            upgrade.contains("Connection: Upgrade, close\r\n"),
            "{upgrade}"
        );
        assert!(upgrade.contains("Upgrade: websocket\r\n"), "{upgrade}");
        let plain = written(&Response::not_found(), false);
        assert!(plain.contains("Connection: close\r\n"), "{plain}");
    }
}
