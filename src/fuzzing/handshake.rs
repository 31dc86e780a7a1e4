//! The opening handshake: request and response parsers.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::slow::{self, SlowHead};
use super::{cut, Input};
use crate::frame::Status;
use crate::handshake::{
    Accept, BodyError, BodyFraming, ClientError, ClientHandshake, ClientRequest, HandshakeError,
    Opening, Request, RequestParser,
};
use crate::Limits;

/// Handshake limits chosen by two bits each, small ones included so the
/// limit paths are reached.
fn limits(flags: u8) -> Limits {
    Limits {
        max_header_block: [8 << 10, 48, 128, 512][usize::from(flags) & 3],
        max_headers: [64, 0, 2, 5][usize::from(flags >> 2) & 3],
        max_request_line: [4 << 10, 8, 20, 100][usize::from(flags >> 4) & 3],
        ..Limits::DEFAULT
    }
}

/// What a request parse came to, owned, for comparing parses.
#[derive(Debug, PartialEq, Eq)]
enum RequestOutcome {
    Incomplete(usize),
    Error(HandshakeError),
    WebSocket {
        request: RequestSummary,
        key: String,
        accept: String,
        origin: Option<String>,
        protocols: Vec<String>,
        extensions: Vec<String>,
    },
    Http(RequestSummary),
}

#[derive(Debug, PartialEq, Eq)]
struct RequestSummary {
    consumed: usize,
    method: String,
    target: String,
    path: String,
    query: Option<String>,
    version: (u8, u8),
    headers: Vec<(String, Vec<u8>)>,
    body: Result<BodyFraming, BodyError>,
}

fn summarize(r: &Request<'_>) -> RequestSummary {
    RequestSummary {
        consumed: r.consumed(),
        method: r.method().to_string(),
        target: r.target().to_string(),
        path: r.path().to_string(),
        query: r.query().map(ToString::to_string),
        version: r.version(),
        headers: r
            .headers()
            .map(|h| (h.name.to_string(), h.value.to_vec()))
            .collect(),
        body: r.body_framing(),
    }
}

fn request_outcome(parser: &mut RequestParser, buf: &[u8]) -> RequestOutcome {
    match parser.parse(buf) {
        Ok(Status::Incomplete(n)) => RequestOutcome::Incomplete(n),
        Err(e) => RequestOutcome::Error(e),
        Ok(Status::Complete(Opening::Http(r))) => RequestOutcome::Http(summarize(&r)),
        Ok(Status::Complete(Opening::WebSocket(ws))) => RequestOutcome::WebSocket {
            request: {
                let summary = summarize(ws.request());
                // An upgrade with a body is refused, so none gets here.
                assert_eq!(summary.body, Ok(BodyFraming::None), "upgrade with a body");
                summary
            },
            key: ws.key().to_string(),
            accept: ws.accept_key().as_str().to_string(),
            origin: ws.origin().map(ToString::to_string),
            protocols: ws.protocols().map(ToString::to_string).collect(),
            extensions: ws.extensions().map(|e| format!("{e:?}")).collect(),
        },
    }
}

/// `handshake_request`: arbitrary bytes into the server's request parser.
///
/// - fed in three pieces (two cuts; each call gets the whole buffer so
///   far, as the parser's contract says), the result equals the whole
///   buffer's, and an `Incomplete(n)` on the way is a lower bound on the
///   bytes the head still needed;
/// - the parser never scans past `max_header_block` and examines each byte
///   at most twice;
/// - an accepted upgrade is re-checked by slow code (head syntax, one
///   `Host`, `Upgrade`/`Connection` tokens case-insensitively, one key that
///   base64-decodes to 16 bytes, version 13, no body, the accept value per
///   RFC 6455 section 4.2.2), and its 101 is accepted by this crate's
///   client for the same key;
/// - a plain request carries no upgrade attempt; an error's response
///   parses with the error's status.
///
/// Input: limits (1), cuts (2 + 2), request bytes.
pub fn fuzz_handshake_request(data: &[u8]) {
    let mut input = Input::new(data);
    let limits = limits(input.u8());
    let (c1, c2) = (input.u16(), input.u16());
    let buf = input.rest();
    let (mut a, mut b) = (cut(c1, buf.len()), cut(c2, buf.len()));
    if a > b {
        core::mem::swap(&mut a, &mut b);
    }

    let mut parser = RequestParser::new(&limits);
    let whole = request_outcome(&mut parser, buf);
    check_parser_work(&parser, &limits);

    let mut pieces = RequestParser::new(&limits);
    let mut prev = 0;
    for end in [a, b, buf.len()] {
        let part = request_outcome(&mut pieces, &buf[..end]);
        check_parser_work(&pieces, &limits);
        match part {
            RequestOutcome::Incomplete(n) => {
                assert!(n >= 1, "Incomplete(0)");
                assert!(
                    end < buf.len() || whole == part,
                    "whole {whole:?}, piecewise {part:?}"
                );
                let head_len = match &whole {
                    RequestOutcome::WebSocket { request, .. } | RequestOutcome::Http(request) => {
                        Some(request.consumed)
                    }
                    _ => None,
                };
                if let Some(len) = head_len {
                    assert!(end + n <= len, "needs {n} at {end}, head is {len}");
                }
            }
            // Complete or failed: final, and what the whole buffer gives.
            other => {
                assert_eq!(other, whole, "cut at {prev} then {end}");
                break;
            }
        }
        prev = end;
    }

    match &whole {
        RequestOutcome::Incomplete(_) => {
            assert!(slow::head_end(buf).is_none_or(|end| end > limits.max_header_block));
        }
        RequestOutcome::Error(e) => check_rejection(*e),
        RequestOutcome::Http(r) => {
            let head = SlowHead::parse(request_head(&buf[..r.consumed]))
                .expect("accepted head is well formed");
            check_request_head(r, &head, &limits, buf);
            assert!(
                !head.lists("Upgrade", "websocket"),
                "plain request with an upgrade"
            );
            assert!(head.all("Sec-WebSocket-Key").is_empty());
            assert!(head.all("Sec-WebSocket-Version").is_empty());
        }
        RequestOutcome::WebSocket { request, .. } => {
            let head =
                SlowHead::parse(request_head(&buf[..request.consumed])).expect("well-formed head");
            check_request_head(request, &head, &limits, buf);
            check_upgrade(&whole, &head, buf);
        }
    }
}

/// A request head without the one blank line a server ignores before the
/// request line (RFC 9112 section 2.2).
fn request_head(head: &[u8]) -> &[u8] {
    head.strip_prefix(b"\r\n").unwrap_or(head)
}

fn check_parser_work(parser: &RequestParser, limits: &Limits) {
    assert!(
        parser.scanned() <= limits.max_header_block,
        "scanned past the limit"
    );
    assert!(
        parser.bytes_examined() <= 2 * parser.scanned() as u64,
        "examined {} bytes of {}",
        parser.bytes_examined(),
        parser.scanned()
    );
}

/// Checks common to every complete request.
fn check_request_head(r: &RequestSummary, head: &SlowHead<'_>, limits: &Limits, buf: &[u8]) {
    assert_eq!(
        slow::head_end(buf),
        Some(r.consumed),
        "head ends at the first blank line"
    );
    assert!(r.consumed <= limits.max_header_block);
    assert!(head.start_line.len() <= limits.max_request_line);
    let parts: Vec<&[u8]> = head.start_line.split(|&b| b == b' ').collect();
    let [method, target, version] = parts[..] else {
        panic!("request line {:?}", head.start_line)
    };
    assert_eq!(method, r.method.as_bytes());
    assert!(slow::is_token(method));
    assert_eq!(target, r.target.as_bytes());
    assert!(!target.is_empty() && target.iter().all(|&b| b > 0x20 && b < 0x7f && b != b'#'));
    assert_eq!(version, format!("HTTP/1.{}", r.version.1).as_bytes());
    assert!(head.fields.len() <= limits.max_headers);
    let fields: Vec<(String, Vec<u8>)> = head
        .fields
        .iter()
        .map(|(n, v)| (String::from_utf8_lossy(n).into_owned(), v.to_vec()))
        .collect();
    assert_eq!(fields, r.headers, "header fields");
    let hosts = head.all("Host").len();
    assert!(
        hosts == 1 || (hosts == 0 && r.version.1 == 0),
        "{hosts} Host fields"
    );
}

/// Re-checks an accepted upgrade with the slow oracle, then answers it
/// and has the client side check the answer.
fn check_upgrade(outcome: &RequestOutcome, head: &SlowHead<'_>, buf: &[u8]) {
    let RequestOutcome::WebSocket {
        request,
        key,
        accept,
        origin,
        protocols,
        ..
    } = outcome
    else {
        unreachable!()
    };
    assert_eq!(request.method, "GET");
    assert!(request.version.1 >= 1);
    let t = &request.target;
    assert!(t.starts_with('/') || t.split_once("://").is_some_and(|(s, _)| !s.is_empty()));
    assert!(head.lists("Upgrade", "websocket"), "no Upgrade: websocket");
    assert!(
        head.lists("Connection", "upgrade"),
        "no Connection: upgrade"
    );
    let keys = head.all("Sec-WebSocket-Key");
    assert_eq!(keys, [key.as_bytes()], "exactly one key");
    let nonce = slow::base64_decode(key.as_bytes()).expect("key is base64");
    assert_eq!(nonce.len(), 16, "key decodes to 16 bytes");
    assert_eq!(
        head.all("Sec-WebSocket-Version"),
        [&b"13"[..]],
        "version 13"
    );
    assert!(
        head.all("Content-Length").iter().all(|v| *v == b"0"),
        "a body"
    );
    assert!(head.all("Transfer-Encoding").is_empty(), "a body");
    let origins = head.all("Origin");
    assert!(origins.len() <= 1);
    assert_eq!(
        origins.first().copied(),
        origin.as_deref().map(str::as_bytes)
    );
    assert!(origin.as_deref().is_none_or(|o| o.is_ascii()));
    let offered = head.items("Sec-WebSocket-Protocol");
    assert!(
        offered.iter().all(|p| slow::is_token(p)),
        "protocols are tokens"
    );
    let listed: Vec<&[u8]> = protocols.iter().map(|p| p.as_bytes()).collect();
    assert_eq!(listed, offered, "protocols");
    for e in head.items("Sec-WebSocket-Extensions") {
        let name = e.split(|&b| b == b';').next().unwrap_or_default();
        assert!(slow::is_token(name.trim_ascii()), "extension name {e:?}");
    }
    assert_eq!(*accept, slow::accept_for(key.as_bytes()), "accept value");

    // Answer with the first protocol offered; the client must accept it.
    let mut parser = RequestParser::default();
    let Ok(Status::Complete(Opening::WebSocket(ws))) = parser.parse(&buf[..request.consumed])
    else {
        panic!("the head alone parses differently")
    };
    let chosen = ws.protocols().next();
    let mut out = Vec::new();
    ws.accept(&Accept::new().protocol(chosen), &mut out)
        .expect("accept");
    let mut unique: Vec<&str> = Vec::new();
    for p in ws.protocols() {
        if !unique.contains(&p) {
            unique.push(p);
        }
    }
    let mut nonce16 = [0u8; 16];
    nonce16.copy_from_slice(&nonce);
    let mut request_out = Vec::new();
    let mut client = ClientRequest::new("ws://example.com/", nonce16)
        .expect("url")
        .protocols(&unique)
        .write(&mut request_out)
        .expect("client request");
    match client.parse(&out) {
        Ok(Status::Complete(accepted)) => {
            assert_eq!(accepted.consumed(), out.len());
            assert_eq!(accepted.protocol(), chosen);
        }
        other => panic!("client refused our 101: {other:?}"),
    }
}

/// An error's response is a well-formed HTTP response with its status.
fn check_rejection(e: HandshakeError) {
    let mut out = Vec::new();
    e.write_response(&mut out);
    let mut client = client_for([0; 16], &[]);
    match client.parse(&out) {
        Err(ClientError::Rejected { status, .. }) => assert_eq!(status, e.status()),
        other => panic!("response to {e:?} parsed as {other:?}"),
    }
    let response = client.response(&out).expect("response head");
    assert!(response.consumed() <= out.len());
}

fn client_for(key: [u8; 16], protocols: &[&str]) -> ClientHandshake {
    let mut out = Vec::new();
    ClientRequest::new("ws://example.com/chat", key)
        .expect("url")
        .protocols(protocols)
        .write(&mut out)
        .expect("request")
}

/// What a response parse came to, owned.
#[derive(Debug, PartialEq, Eq)]
enum ResponseOutcome {
    Incomplete(usize),
    Error(ClientError),
    Accepted {
        protocol: Option<String>,
        consumed: usize,
        status: u16,
        headers: Vec<(String, Vec<u8>)>,
    },
}

fn response_outcome(hs: &mut ClientHandshake, buf: &[u8]) -> ResponseOutcome {
    match hs.parse(buf) {
        Ok(Status::Incomplete(n)) => ResponseOutcome::Incomplete(n),
        Err(e) => ResponseOutcome::Error(e),
        Ok(Status::Complete(a)) => ResponseOutcome::Accepted {
            protocol: a.protocol().map(ToString::to_string),
            consumed: a.consumed(),
            status: a.response().status(),
            headers: a
                .response()
                .headers()
                .map(|h| (h.name.to_string(), h.value.to_vec()))
                .collect(),
        },
    }
}

/// `handshake_response`: arbitrary bytes into the client's response
/// parser, for a request with a fuzzed key and offered protocols.
///
/// - the request the client writes is one this crate's server accepts,
///   with the same key and protocols;
/// - fed in two pieces, the response parses as it does whole;
/// - an accepted response is re-checked by slow code: status 101, HTTP/1.1
///   or later, `Upgrade`/`Connection` tokens, exactly one
///   `Sec-WebSocket-Accept` equal to the value computed by the RFC's words,
///   no extension, at most one protocol and an offered one;
/// - a rejection reports the status line's code.
///
/// Input: limits (1), cut (2), key (16), offered protocols (comma-separated,
/// up to LF), response bytes.
pub fn fuzz_handshake_response(data: &[u8]) {
    let mut input = Input::new(data);
    let limits = limits(input.u8());
    let raw_cut = input.u16();
    let mut key = [0u8; 16];
    key.iter_mut().for_each(|b| *b = input.u8());
    let protocols_line = input.take_until(b'\n');
    let buf = input.rest();
    let Ok(protocols_text) = core::str::from_utf8(protocols_line) else {
        return;
    };
    let protocols: Vec<&str> = if protocols_text.is_empty() {
        Vec::new()
    } else {
        protocols_text.split(',').collect()
    };

    let mut request = Vec::new();
    let Ok(handshake) = ClientRequest::new("ws://example.com/chat", key)
        .expect("url")
        .protocols(&protocols)
        .limits(limits)
        .write(&mut request)
    else {
        // Only an invalid or repeated protocol is refused.
        assert!(
            protocols
                .iter()
                .enumerate()
                .any(|(i, p)| !slow::is_token(p.as_bytes()) || protocols[..i].contains(p)),
            "valid request refused"
        );
        return;
    };
    let sent_key = slow::base64_encode(&key);
    let mut server = RequestParser::default();
    match server.parse(&request) {
        Ok(Status::Complete(Opening::WebSocket(ws))) => {
            assert_eq!(ws.key(), sent_key);
            assert_eq!(ws.consumed(), request.len());
            assert!(ws.protocols().eq(protocols.iter().copied()));
        }
        other => panic!("our request does not parse: {other:?}"),
    }
    assert_eq!(
        handshake.expected_accept().as_str(),
        slow::accept_for(sent_key.as_bytes())
    );

    let mut whole_hs = handshake.clone();
    let whole = response_outcome(&mut whole_hs, buf);
    let mut pieces = handshake.clone();
    let at = cut(raw_cut, buf.len());
    let part = response_outcome(&mut pieces, &buf[..at]);
    match part {
        ResponseOutcome::Incomplete(n) => {
            assert!(n >= 1);
            if let ResponseOutcome::Accepted { consumed, .. } = whole {
                assert!(at + n <= consumed, "needs {n} at {at}, head is {consumed}");
            }
            assert_eq!(response_outcome(&mut pieces, buf), whole, "cut at {at}");
        }
        other => assert_eq!(other, whole, "cut at {at}"),
    }

    match &whole {
        ResponseOutcome::Incomplete(_) => {
            assert!(slow::head_end(buf).is_none_or(|end| end > limits.max_header_block));
        }
        ResponseOutcome::Error(ClientError::Rejected { status, .. }) => {
            assert_ne!(*status, 101);
            let end = slow::head_end(buf).expect("a rejected head is complete");
            let head = SlowHead::parse(&buf[..end]).expect("well-formed head");
            assert_eq!(&head.start_line[9..12], format!("{status:03}").as_bytes());
            let response = whole_hs
                .response(buf)
                .expect("rejected response is readable");
            assert_eq!(response.status(), *status);
            assert_eq!(response.consumed(), end);
        }
        ResponseOutcome::Error(_) => {}
        ResponseOutcome::Accepted {
            protocol,
            consumed,
            status,
            headers,
        } => {
            assert_eq!(*status, 101);
            assert_eq!(slow::head_end(buf), Some(*consumed));
            assert!(*consumed <= limits.max_header_block);
            let head = SlowHead::parse(&buf[..*consumed]).expect("well-formed head");
            let line = head.start_line;
            assert!(line.starts_with(b"HTTP/1.") && line[7].is_ascii_digit() && line[7] != b'0');
            assert!(line.len() == 12 || line[12] == b' ');
            assert_eq!(&line[8..12], b" 101");
            let fields: Vec<(String, Vec<u8>)> = head
                .fields
                .iter()
                .map(|(n, v)| (String::from_utf8_lossy(n).into_owned(), v.to_vec()))
                .collect();
            assert_eq!(&fields, headers);
            assert!(head.fields.len() <= limits.max_headers);
            assert!(head.lists("Upgrade", "websocket"));
            assert!(head.lists("Connection", "upgrade"));
            let accepts = head.all("Sec-WebSocket-Accept");
            assert_eq!(accepts, [slow::accept_for(sent_key.as_bytes()).as_bytes()]);
            assert!(
                head.items("Sec-WebSocket-Extensions").is_empty(),
                "an extension"
            );
            let selected = head.items("Sec-WebSocket-Protocol");
            assert!(selected.len() <= 1, "several protocols selected");
            assert_eq!(
                selected.first().copied(),
                protocol.as_deref().map(str::as_bytes)
            );
            if let Some(p) = protocol {
                assert!(protocols.contains(&p.as_str()), "unoffered protocol {p}");
            }
        }
    }
}
