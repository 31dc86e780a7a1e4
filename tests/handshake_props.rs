//! Property tests for the handshake parsers:
//!
//! - any input fed in pieces, split anywhere, reaches the same outcome as
//!   fed whole (valid requests and responses, mutated ones, arbitrary bytes);
//! - no input panics;
//! - limits hold: the parser never scans past `max_header_block`, decides
//!   as soon as that many bytes are present, and bytes past the limit never
//!   change the outcome.

use proptest::prelude::*;
use rfc6455::frame::Status;
use rfc6455::handshake::{ClientHandshake, ClientRequest, Opening, RequestParser};
use rfc6455::Limits;

/// A short summary of what the server made of `buf`.
fn server_outcome(parser: &mut RequestParser, buf: &[u8]) -> Option<String> {
    Some(match parser.parse(buf) {
        Ok(Status::Incomplete(n)) => {
            assert!(n >= 1);
            return None;
        }
        Ok(Status::Complete(Opening::WebSocket(ws))) => {
            let headers: Vec<_> = ws.request().headers().collect();
            let protocols: Vec<_> = ws.protocols().collect();
            let extensions: Vec<_> = ws
                .extensions()
                .map(|e| (e.name, e.params().collect::<Vec<_>>()))
                .collect();
            format!(
                "ws {} {} {:?} {} {:?} {:?} {protocols:?} {extensions:?} {headers:?}",
                ws.consumed(),
                ws.path(),
                ws.query(),
                ws.key(),
                ws.origin(),
                ws.request().version(),
            )
        }
        Ok(Status::Complete(Opening::Http(r))) => {
            let headers: Vec<_> = r.headers().collect();
            format!(
                "http {} {} {} {headers:?}",
                r.consumed(),
                r.method(),
                r.target()
            )
        }
        Err(e) => format!("error {e:?}"),
    })
}

/// Feeds `input` to a fresh parser in pieces ending at `cuts` (then whole),
/// returning the first outcome that is not "incomplete".
fn server_fed(limits: &Limits, input: &[u8], cuts: &[usize]) -> String {
    let mut parser = RequestParser::new(limits);
    let mut ends: Vec<usize> = cuts.iter().map(|&c| c % (input.len() + 1)).collect();
    ends.sort_unstable();
    ends.push(input.len());
    for end in ends {
        let outcome = server_outcome(&mut parser, &input[..end]);
        assert!(parser.scanned() <= limits.max_header_block);
        assert!(parser.bytes_examined() <= 2 * end as u64);
        if let Some(o) = outcome {
            return o;
        }
    }
    "incomplete".to_owned()
}

fn client_outcome(handshake: &mut ClientHandshake, buf: &[u8]) -> Option<String> {
    Some(match handshake.parse(buf) {
        Ok(Status::Incomplete(n)) => {
            assert!(n >= 1);
            return None;
        }
        Ok(Status::Complete(a)) => {
            let headers: Vec<_> = a.response().headers().collect();
            format!("accepted {} {:?} {headers:?}", a.consumed(), a.protocol())
        }
        Err(e) => format!("error {e:?}"),
    })
}

fn client() -> ClientHandshake {
    ClientRequest::new("ws://a.example/", *b"the sample nonce")
        .unwrap()
        .protocols(&["chat", "superchat"])
        .write(&mut Vec::new())
        .unwrap()
}

fn client_fed(input: &[u8], cuts: &[usize]) -> String {
    let mut handshake = client();
    let mut ends: Vec<usize> = cuts.iter().map(|&c| c % (input.len() + 1)).collect();
    ends.sort_unstable();
    ends.push(input.len());
    for end in ends {
        if let Some(o) = client_outcome(&mut handshake, &input[..end]) {
            return o;
        }
    }
    "incomplete".to_owned()
}

/// A name in random letter case.
fn any_case(name: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<bool>(), name.len()).prop_map(move |upper| {
        name.chars()
            .zip(upper)
            .map(|(c, u)| {
                if u {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    })
}

const OWS: &str = "[ \t]{0,2}";

/// Valid upgrade requests: the required headers in random case and order
/// with random whitespace, optional Origin, protocols and extensions,
/// filler headers, and a first frame after the head.
fn valid_request() -> impl Strategy<Value = Vec<u8>> {
    let headers = (
        any_case("Host"),
        any_case("Upgrade"),
        any_case("Connection"),
        any_case("Sec-WebSocket-Key"),
        any_case("Sec-WebSocket-Version"),
        prop_oneof![
            Just("Upgrade"),
            Just("keep-alive, Upgrade"),
            Just("upgrade")
        ],
        proptest::option::of("http://[a-z]{1,8}(:[0-9]{1,4})?"),
        proptest::option::of("[a-z]{1,6}(, ?[a-z.]{1,6}){0,3}"),
        proptest::option::of("permessage-deflate(; ?client_max_window_bits(=1[0-5])?)?"),
        proptest::collection::vec(("X-[A-Za-z-]{1,12}", "[ -~]{0,30}"), 0..8),
        (OWS, OWS),
    );
    (
        "/[a-zA-Z0-9/._-]{0,30}(\\?[a-z0-9=&%]{0,20})?",
        headers,
        any::<proptest::sample::Index>(),
        proptest::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(target, h, shuffle, after)| {
            let (
                host,
                upgrade,
                connection,
                key,
                version,
                conn_value,
                origin,
                protocols,
                ext,
                filler,
                (ows1, ows2),
            ) = h;
            let mut lines = vec![
                format!("{host}:{ows1}a.example{ows2}"),
                format!("{upgrade}: websocket"),
                format!("{connection}:{ows1}{conn_value}"),
                format!("{key}: dGhlIHNhbXBsZSBub25jZQ=={ows2}"),
                format!("{version}: 13"),
            ];
            if let Some(o) = origin {
                lines.push(format!("Origin: {o}"));
            }
            if let Some(p) = protocols {
                lines.push(format!("Sec-WebSocket-Protocol: {p}"));
            }
            if let Some(e) = ext {
                lines.push(format!("Sec-WebSocket-Extensions: {e}"));
            }
            for (n, v) in filler {
                lines.push(format!("{n}: {}", v.trim()));
            }
            let len = lines.len();
            lines.rotate_left(shuffle.index(len));
            let mut bytes = format!("GET {target} HTTP/1.1\r\n").into_bytes();
            for l in lines {
                bytes.extend_from_slice(l.as_bytes());
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"\r\n");
            bytes.extend_from_slice(&after);
            bytes
        })
}

/// Valid 101 responses with random case, optional protocol, filler.
fn valid_response() -> impl Strategy<Value = Vec<u8>> {
    (
        any_case("Upgrade"),
        any_case("Connection"),
        any_case("Sec-WebSocket-Accept"),
        proptest::option::of(prop_oneof![Just("chat"), Just("superchat")]),
        proptest::collection::vec(("X-[A-Za-z-]{1,12}", "[!-~]{0,30}"), 0..6),
        proptest::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(upgrade, connection, accept, protocol, filler, after)| {
            let mut text = format!(
                "HTTP/1.1 101 Switching Protocols\r\n{upgrade}: websocket\r\n\
                 {connection}: Upgrade\r\n{accept}: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            );
            if let Some(p) = protocol {
                text.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
            }
            for (n, v) in filler {
                text.push_str(&format!("{n}: {v}\r\n"));
            }
            text.push_str("\r\n");
            let mut bytes = text.into_bytes();
            bytes.extend_from_slice(&after);
            bytes
        })
}

/// Bytes that break HTTP in interesting ways, for mutations.
const SPICE: &[u8] = b"\r\n \t:,;=\"\x00\x01\x7f\x80\xff/?#";

/// A valid message with a few bytes replaced, inserted or removed.
fn mutated(base: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (
        base,
        proptest::collection::vec(
            (
                any::<proptest::sample::Index>(),
                0..3u8,
                any::<u8>(),
                any::<bool>(),
            ),
            1..4,
        ),
    )
        .prop_map(|(mut bytes, edits)| {
            for (at, op, byte, spicy) in edits {
                let b = if spicy {
                    SPICE[usize::from(byte) % SPICE.len()]
                } else {
                    byte
                };
                let i = at.index(bytes.len() + 1);
                match op {
                    0 if i < bytes.len() => bytes[i] = b,
                    1 => bytes.insert(i, b),
                    _ if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    _ => {}
                }
            }
            bytes
        })
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(any::<usize>(), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_requests_parse_the_same_split_anywhere(input in valid_request(), cuts in cuts()) {
        let limits = Limits::default();
        let whole = server_fed(&limits, &input, &[]);
        prop_assert!(whole.starts_with("ws "), "{}", whole);
        prop_assert_eq!(server_fed(&limits, &input, &cuts), whole);
    }

    #[test]
    fn mutated_requests_parse_the_same_split_anywhere(input in mutated(valid_request()), cuts in cuts()) {
        let limits = Limits::default();
        let whole = server_fed(&limits, &input, &[]);
        prop_assert_eq!(server_fed(&limits, &input, &cuts), whole);
    }

    #[test]
    fn arbitrary_bytes_parse_the_same_split_anywhere(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in cuts(),
    ) {
        let limits = Limits::default();
        let whole = server_fed(&limits, &input, &[]);
        prop_assert_eq!(server_fed(&limits, &input, &cuts), whole);
        let whole = client_fed(&input, &[]);
        prop_assert_eq!(client_fed(&input, &cuts), whole);
    }

    #[test]
    fn valid_responses_parse_the_same_split_anywhere(input in valid_response(), cuts in cuts()) {
        let whole = client_fed(&input, &[]);
        prop_assert!(whole.starts_with("accepted "), "{}", whole);
        prop_assert_eq!(client_fed(&input, &cuts), whole);
    }

    #[test]
    fn mutated_responses_parse_the_same_split_anywhere(input in mutated(valid_response()), cuts in cuts()) {
        let whole = client_fed(&input, &[]);
        prop_assert_eq!(client_fed(&input, &cuts), whole);
    }

    /// Small limits against requests that often pass them: the parser
    /// decides once `max_header_block` bytes are present, and what lies
    /// past the limit never changes its answer.
    #[test]
    fn limits_hold(
        input in prop_oneof![valid_request(), mutated(valid_request())],
        max_header_block in 16usize..400,
        max_headers in 0usize..12,
        max_request_line in 0usize..80,
        cuts in cuts(),
    ) {
        let limits = Limits { max_header_block, max_headers, max_request_line, ..Limits::default() };
        let whole = server_fed(&limits, &input, &cuts);
        if input.len() >= max_header_block {
            prop_assert_ne!(&whole, "incomplete");
            let cut = server_fed(&limits, &input[..max_header_block], &[]);
            prop_assert_eq!(&cut, &whole);
        }
        if whole.starts_with("ws ") || whole.starts_with("http ") {
            let headers = whole.matches("Header {").count();
            prop_assert!(headers <= max_headers);
        }
    }
}
