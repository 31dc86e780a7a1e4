//! Runs every handshake vector in vectors/handshake/ (format in its
//! README.md): each message is parsed whole, one byte at a time and split
//! in two at every point, and all must reach the expected outcome.

use std::collections::BTreeSet;
use std::path::Path;

use rfc6455::frame::Status;
use rfc6455::handshake::{
    Accept, AcceptKey, ClientError, ClientRequest, HandshakeError, Opening, RequestParser,
};
use rfc6455::Limits;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct File<V> {
    group: String,
    vectors: Vec<V>,
}

fn load<V: for<'de> Deserialize<'de>>(group: &str) -> Vec<V> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors/handshake")
        .join(format!("{group}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let file: File<V> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    assert_eq!(file.group, group);
    file.vectors
}

/// A string of characters U+0000-U+00FF as bytes (README: "each character
/// is one byte").
fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("character above U+00FF"))
        .collect()
}

fn message(lines: &Option<Vec<String>>, raw: &Option<String>, after: &Option<String>) -> Vec<u8> {
    let mut bytes = match (lines, raw) {
        (Some(lines), None) => {
            let mut b = Vec::new();
            for line in lines {
                b.extend(latin1(line));
                b.extend_from_slice(b"\r\n");
            }
            b.extend_from_slice(b"\r\n");
            b
        }
        (None, Some(raw)) => latin1(raw),
        _ => panic!("a vector has exactly one of lines and raw"),
    };
    bytes.extend(latin1(after.as_deref().unwrap_or("")));
    bytes
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn key16(s: &str) -> [u8; 16] {
    hex(s).try_into().expect("16 key bytes")
}

fn lines_of(bytes: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(bytes).unwrap();
    let head = text
        .strip_suffix("\r\n\r\n")
        .expect("a head ends with a blank line");
    head.split("\r\n").map(String::from).collect()
}

/// Feeds `input` whole, one byte at a time, and in two pieces split at every
/// point; the first outcome that is not "incomplete" must be the same each
/// time. Returns it.
fn same_whichever_split(input: &[u8], mut run: impl FnMut(&[&[u8]]) -> Value) -> Value {
    let whole = run(&[input]);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(&bytes), whole, "fed one byte at a time");
    for cut in 1..input.len() {
        let (a, b) = input.split_at(cut);
        assert_eq!(run(&[a, b]), whole, "split at {cut}");
    }
    whole
}

// ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct AcceptVector {
    name: String,
    key: String,
    key_bytes: Option<String>,
    accept: String,
}

#[test]
fn accept_keys() {
    let vectors: Vec<AcceptVector> = load("accept-keys");
    for v in &vectors {
        assert_eq!(
            AcceptKey::from_key(v.key.as_bytes()).as_str(),
            v.accept,
            "{}",
            v.name
        );
        if let Some(kb) = &v.key_bytes {
            let mut out = Vec::new();
            let hs = ClientRequest::new("ws://a/", key16(kb))
                .unwrap()
                .write(&mut out)
                .unwrap();
            assert_eq!(hs.expected_accept().as_str(), v.accept, "{}", v.name);
            let line = format!("\r\nSec-WebSocket-Key: {}\r\n", v.key);
            assert!(
                String::from_utf8(out).unwrap().contains(&line),
                "{}",
                v.name
            );
        }
    }
    assert!(
        vectors
            .iter()
            .any(|v| v.key == "dGhlIHNhbXBsZSBub25jZQ=="
                && v.accept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
}

// ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct RequestVector {
    name: String,
    lines: Option<Vec<String>>,
    raw: Option<String>,
    after: Option<String>,
    #[serde(default)]
    limits: Option<LimitsJson>,
    allowed_origins: Option<Vec<String>>,
    #[serde(default)]
    server_protocols: Vec<String>,
    expect: Value,
}

#[derive(Deserialize)]
struct LimitsJson {
    max_header_block: Option<usize>,
    max_headers: Option<usize>,
    max_request_line: Option<usize>,
}

impl RequestVector {
    fn limits(&self) -> Limits {
        let d = Limits::default();
        let Some(l) = &self.limits else { return d };
        Limits {
            max_header_block: l.max_header_block.unwrap_or(d.max_header_block),
            max_headers: l.max_headers.unwrap_or(d.max_headers),
            max_request_line: l.max_request_line.unwrap_or(d.max_request_line),
            ..d
        }
    }

    /// What the server makes of `pieces`, fed as successive reads.
    fn observe(&self, pieces: &[&[u8]]) -> Value {
        let mut parser = RequestParser::new(&self.limits());
        let mut buf = Vec::new();
        for piece in pieces {
            buf.extend_from_slice(piece);
            match parser.parse(&buf) {
                Ok(Status::Incomplete(n)) => assert!(n >= 1),
                Ok(Status::Complete(opening)) => return self.decide(opening),
                Err(e) => return rejected(e),
            }
            assert!(parser.scanned() <= self.limits().max_header_block);
        }
        json!("incomplete")
    }

    fn decide(&self, opening: Opening<'_>) -> Value {
        let consumed = opening.consumed();
        let r = opening.request();
        let ws = match opening {
            Opening::Http(_) => {
                return json!({
                    "http": {"method": r.method(), "path": r.path(), "query": r.query(),
                             "headers": r.headers().len()},
                    "consumed": consumed,
                })
            }
            Opening::WebSocket(ws) => ws,
        };
        if let Some(allowed) = &self.allowed_origins {
            let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
            if let Err(e) = ws.check_origin(&allowed) {
                return rejected(e);
            }
        }
        let preference: Vec<&str> = self.server_protocols.iter().map(String::as_str).collect();
        let selected = ws.select_protocol(&preference);
        let mut response = Vec::new();
        ws.accept(&Accept::new().protocol(selected), &mut response)
            .unwrap();
        let extensions: Vec<Value> = ws
            .extensions()
            .map(|e| {
                let params: Vec<Value> = e.params().map(|p| json!([p.name, p.value])).collect();
                json!({"name": e.name, "params": params})
            })
            .collect();
        json!({
            "websocket": {
                "method": r.method(), "path": ws.path(), "query": ws.query(),
                "headers": r.headers().len(), "key": ws.key(),
                "accept": ws.accept_key().as_str(), "origin": ws.origin(),
                "protocols": ws.protocols().collect::<Vec<_>>(),
                "extensions": extensions, "selected": selected,
                "response": lines_of(&response),
            },
            "consumed": consumed,
        })
    }
}

/// The outcome for a refused request, after checking its response.
fn rejected(e: HandshakeError) -> Value {
    let mut out = Vec::new();
    e.write_response(&mut out);
    let text = String::from_utf8(out).unwrap();
    let status = e.status();
    assert!(
        text.starts_with(&format!("HTTP/1.1 {status} {}\r\n", e.reason())),
        "{text}"
    );
    assert!(text.ends_with(&format!("\r\n\r\n{e}\n")), "{text}");
    assert!(text.contains("\r\nContent-Length: "), "{text}");
    match status {
        405 => assert!(text.contains("\r\nAllow: GET\r\n"), "{text}"),
        426 => assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}"),
        _ => assert!(text.contains("\r\nConnection: close\r\n"), "{text}"),
    }
    json!({"error": format!("{e:?}"), "status": status})
}

fn run_requests(group: &str) -> Vec<RequestVector> {
    let vectors: Vec<RequestVector> = load(group);
    for v in &vectors {
        let input = message(&v.lines, &v.raw, &v.after);
        let got = std::panic::catch_unwind(|| same_whichever_split(&input, |p| v.observe(p)))
            .unwrap_or_else(|_| panic!("{group}: {}: panicked", v.name));
        assert_eq!(got, v.expect, "{group}: {}", v.name);
        if let Some(n) = v.expect.get("consumed").and_then(Value::as_u64) {
            // Every proper prefix of the head is incomplete.
            for end in 0..n as usize {
                assert_eq!(
                    v.observe(&[&input[..end]]),
                    json!("incomplete"),
                    "{}: {end}",
                    v.name
                );
            }
        }
    }
    vectors
}

#[test]
fn valid_requests() {
    let vectors = run_requests("requests-valid");
    let names: BTreeSet<&str> = vectors.iter().map(|v| v.name.as_str()).collect();
    for client in [
        "chromium-156",
        "firefox-128",
        "safari-17",
        "python-websockets-13",
        "node-ws-8",
        "curl-8",
    ] {
        assert!(names.contains(client), "no vector for {client}");
    }
}

#[test]
fn invalid_requests() {
    let vectors = run_requests("requests-invalid");
    assert!(
        vectors.len() >= 30,
        "only {} invalid requests",
        vectors.len()
    );
    let errors: BTreeSet<String> = vectors
        .iter()
        .map(|v| v.expect["error"].as_str().unwrap().to_owned())
        .collect();
    let every = [
        "InvalidHost",
        "MethodNotAllowed",
        "HttpVersionTooOld",
        "InvalidTarget",
        "MissingUpgrade",
        "MissingConnectionUpgrade",
        "MissingKey",
        "DuplicateKey",
        "InvalidKey",
        "UnsupportedVersion",
        "UnexpectedBody",
        "InvalidOrigin",
        "InvalidProtocols",
        "InvalidExtensions",
        "OriginNotAllowed",
        "Http(HeaderBlockTooLarge)",
        "Http(TooManyHeaders)",
        "Http(UriTooLong)",
        "Http(RequestLineTooLong)",
        "Http(MalformedRequestLine)",
        "Http(UnsupportedHttpVersion)",
        "Http(InvalidLineEnding)",
        "Http(ObsoleteFold)",
        "Http(MissingColon)",
        "Http(WhitespaceBeforeColon)",
        "Http(InvalidHeaderName)",
        "Http(InvalidHeaderValue)",
    ];
    for e in every {
        assert!(errors.contains(e), "no invalid request for {e}");
    }
}

// ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct ResponseVector {
    name: String,
    key_bytes: String,
    key: String,
    protocols: Vec<String>,
    lines: Option<Vec<String>>,
    raw: Option<String>,
    after: Option<String>,
    expect: Value,
}

impl ResponseVector {
    fn observe(&self, pieces: &[&[u8]]) -> Value {
        let protocols: Vec<&str> = self.protocols.iter().map(String::as_str).collect();
        let mut request = Vec::new();
        let mut client = ClientRequest::new("ws://a.example/", key16(&self.key_bytes))
            .unwrap()
            .protocols(&protocols)
            .write(&mut request)
            .unwrap();
        let sent = format!("\r\nSec-WebSocket-Key: {}\r\n", self.key);
        assert!(String::from_utf8(request).unwrap().contains(&sent));
        let mut buf = Vec::new();
        for piece in pieces {
            buf.extend_from_slice(piece);
            match client.parse(&buf) {
                Ok(Status::Incomplete(n)) => assert!(n >= 1),
                Ok(Status::Complete(a)) => {
                    return json!({"accepted": {"protocol": a.protocol()}, "consumed": a.consumed()})
                }
                Err(ClientError::Rejected { status, reason }) => {
                    assert_eq!(client.response(&buf).unwrap().status(), status);
                    return json!({"error": "Rejected", "status": status, "reason": reason.as_str()});
                }
                Err(e) => return json!({"error": format!("{e:?}")}),
            }
        }
        json!("incomplete")
    }
}

#[test]
fn responses() {
    let vectors: Vec<ResponseVector> = load("responses");
    for v in &vectors {
        let input = message(&v.lines, &v.raw, &v.after);
        let got = same_whichever_split(&input, |p| v.observe(p));
        assert_eq!(got, v.expect, "responses: {}", v.name);
    }
    assert!(vectors.len() >= 20);
}

// ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct ClientRequestVector {
    name: String,
    url: String,
    key_bytes: String,
    protocols: Vec<String>,
    origin: Option<String>,
    headers: Vec<(String, String)>,
    expect: Value,
}

#[test]
fn client_requests() {
    let vectors: Vec<ClientRequestVector> = load("client-requests");
    for v in &vectors {
        let protocols: Vec<&str> = v.protocols.iter().map(String::as_str).collect();
        let headers: Vec<(&str, &str)> = v
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let got = match ClientRequest::new(&v.url, key16(&v.key_bytes)) {
            Err(e) => json!({"error": format!("{e:?}")}),
            Ok(mut req) => {
                req = req.protocols(&protocols).headers(&headers);
                if let Some(o) = &v.origin {
                    req = req.origin(o);
                }
                let mut out = Vec::new();
                match req.write(&mut out) {
                    Ok(_) => {
                        // The server side accepts what the client writes.
                        let mut parser = RequestParser::default();
                        assert!(
                            matches!(
                                parser.parse(&out),
                                Ok(Status::Complete(Opening::WebSocket(_)))
                            ),
                            "{}: the server refuses it",
                            v.name
                        );
                        json!({"lines": lines_of(&out)})
                    }
                    Err(e) => json!({"error": format!("{e:?}")}),
                }
            }
        };
        assert_eq!(got, v.expect, "client-requests: {}", v.name);
    }
}
