//! The handshake API end to end: server parsing and answering, the client
//! request and response check, URLs, error sizes, and linear work on
//! byte-at-a-time input.

use std::mem::size_of;

use rfc6455::frame::Status;
use rfc6455::handshake::{
    Accept, AcceptKey, BodyError, BodyFraming, BuildError, ClientError, ClientRequest,
    HandshakeError, HttpError, Opening, ReasonPhrase, Reject, RequestParser, UpgradeRequest,
    UrlError, WsUrl,
};
use rfc6455::Limits;

/// The request Chromium 156 sent (shared/TOOLING.md), with a fixed key.
const CHROMIUM: &[u8] = b"GET /?id=42 HTTP/1.1\r\n\
Host: 127.0.0.1:9010\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: http://127.0.0.1:9010\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
\r\n";

fn upgrade<'a>(parser: &'a mut RequestParser, buf: &'a [u8]) -> UpgradeRequest<'a> {
    match parser.parse(buf) {
        Ok(Status::Complete(Opening::WebSocket(ws))) => ws,
        other => panic!("not an upgrade: {other:?}"),
    }
}

fn error(input: &[u8]) -> HandshakeError {
    match RequestParser::default().parse(input) {
        Err(e) => e,
        other => panic!("accepted: {other:?}"),
    }
}

#[test]
fn errors_stay_small() {
    assert_eq!(size_of::<HttpError>(), 1);
    assert_eq!(size_of::<HandshakeError>(), 1);
    assert_eq!(size_of::<Result<(), HandshakeError>>(), 1);
    assert_eq!(size_of::<UrlError>(), 1);
    assert_eq!(size_of::<BuildError>(), 1);
    assert_eq!(size_of::<BodyError>(), 1);
    // Carries a status and an inline reason phrase; the client path only.
    assert!(size_of::<ClientError>() <= 2 + 2 + ReasonPhrase::CAPACITY);
}

#[test]
fn statuses() {
    let cases = [
        (
            HandshakeError::Http(HttpError::UriTooLong),
            414,
            "URI Too Long",
        ),
        (
            HandshakeError::Http(HttpError::TooManyHeaders),
            431,
            "Request Header Fields Too Large",
        ),
        (
            HandshakeError::Http(HttpError::UnsupportedHttpVersion),
            505,
            "HTTP Version Not Supported",
        ),
        (HandshakeError::MissingKey, 400, "Bad Request"),
        (HandshakeError::OriginNotAllowed, 403, "Forbidden"),
        (HandshakeError::MethodNotAllowed, 405, "Method Not Allowed"),
        (HandshakeError::UnsupportedVersion, 426, "Upgrade Required"),
    ];
    for (e, status, reason) in cases {
        assert_eq!((e.status(), e.reason()), (status, reason), "{e:?}");
    }
}

#[test]
fn chromium_request() {
    let mut parser = RequestParser::default();
    let ws = upgrade(&mut parser, CHROMIUM);
    assert_eq!(ws.request().method(), "GET");
    assert_eq!(ws.request().target(), "/?id=42");
    assert_eq!((ws.path(), ws.query()), ("/", Some("id=42")));
    assert_eq!(ws.request().version(), (1, 1));
    assert_eq!(ws.request().headers().len(), 12);
    assert_eq!(ws.request().header("HOST"), Some(&b"127.0.0.1:9010"[..]));
    assert_eq!(ws.origin(), Some("http://127.0.0.1:9010"));
    assert_eq!(ws.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(ws.accept_key().as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(ws.protocols().count(), 0);
    let ext: Vec<_> = ws.extensions().collect();
    assert_eq!(ext.len(), 1);
    assert_eq!(ext[0].name, "permessage-deflate");
    let params: Vec<_> = ext[0].params().map(|p| (p.name, p.value)).collect();
    assert_eq!(params, [("client_max_window_bits", None)]);
    assert_eq!(ws.consumed(), CHROMIUM.len());

    let mut out = Vec::new();
    ws.accept(&Accept::new().server("rfc6455"), &mut out)
        .unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 101 Switching Protocols\r\n\
          Upgrade: websocket\r\n\
          Connection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
          Server: rfc6455\r\n\r\n"
    );
}

#[test]
fn bytes_after_the_head_are_left_alone() {
    let mut buf = CHROMIUM.to_vec();
    buf.extend_from_slice(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    let mut parser = RequestParser::default();
    let ws = upgrade(&mut parser, &buf);
    assert_eq!(
        &buf[ws.consumed()..],
        b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
    );
}

#[test]
fn plain_get_is_not_an_error() {
    let page = b"GET /page.html?x=1 HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\n\r\n";
    let mut parser = RequestParser::default();
    match parser.parse(page) {
        Ok(Status::Complete(Opening::Http(r))) => {
            assert_eq!((r.path(), r.query()), ("/page.html", Some("x=1")));
            assert_eq!(r.consumed(), page.len());
        }
        other => panic!("{other:?}"),
    }
    // A POST with no upgrade is plain HTTP too: the caller decides.
    let post = b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
    let mut parser = RequestParser::default();
    match parser.parse(post) {
        Ok(Status::Complete(Opening::Http(r))) => {
            assert_eq!(r.method(), "POST");
            assert_eq!(&post[r.consumed()..], b"abc");
        }
        other => panic!("{other:?}"),
    }
    // HTTP/1.0 needs no Host.
    let old = b"GET / HTTP/1.0\r\n\r\n";
    assert!(matches!(
        RequestParser::default().parse(old),
        Ok(Status::Complete(Opening::Http(_)))
    ));
}

#[test]
fn one_blank_line_before_the_request_line_is_ignored() {
    // RFC 9112 section 2.2: what a client that ends a POST body with an
    // extra CRLF sends next on a kept-alive connection.
    let next = b"\r\nGET /page HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut parser = RequestParser::default();
    match parser.parse(next) {
        Ok(Status::Complete(Opening::Http(r))) => {
            assert_eq!((r.method(), r.target()), ("GET", "/page"));
            assert_eq!(r.header("Host"), Some(&b"a"[..]));
            assert_eq!(r.consumed(), next.len());
        }
        other => panic!("{other:?}"),
    }
    // And in pieces, the blank line alone first.
    let mut parser = RequestParser::default();
    assert!(matches!(
        parser.parse(&next[..2]),
        Ok(Status::Incomplete(_))
    ));
    assert!(matches!(
        parser.parse(next),
        Ok(Status::Complete(Opening::Http(_)))
    ));
    // A WebSocket upgrade after one too.
    let mut ws = b"\r\n".to_vec();
    ws.extend_from_slice(CHROMIUM);
    assert_eq!(upgrade(&mut RequestParser::default(), &ws).path(), "/");
    // Two are not a request.
    assert_eq!(
        error(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        HandshakeError::Http(HttpError::MalformedRequestLine)
    );
    // The request line's limit counts from after the blank line, and the
    // head's limit still holds (a fuzzer found it overrun by 2).
    let limits = Limits {
        max_header_block: 24,
        max_request_line: 22,
        ..Limits::default()
    };
    let long = b"\r\nGET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n";
    let mut parser = RequestParser::new(&limits);
    assert_eq!(
        parser.parse(long).unwrap_err(),
        HandshakeError::Http(HttpError::HeaderBlockTooLarge)
    );
    assert_eq!(parser.scanned(), 24);
    let limits = Limits {
        max_request_line: 14, // "GET / HTTP/1.1", exactly
        ..Limits::default()
    };
    let mut parser = RequestParser::new(&limits);
    assert!(matches!(
        parser.parse(b"\r\nGET / HTTP/1.1\r\n"),
        Ok(Status::Incomplete(_))
    ));
}

#[test]
fn absolute_form_targets() {
    let req = b"GET http://example.com:80/chat?x HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let mut parser = RequestParser::default();
    let Ok(Status::Complete(o)) = parser.parse(req) else {
        panic!()
    };
    assert_eq!(
        (o.request().path(), o.request().query()),
        ("/chat", Some("x"))
    );
    for (target, path, query) in [
        ("http://a", "/", None),
        ("http://a?x=1", "/", Some("x=1")),
        ("https://a:1/b/c", "/b/c", None),
    ] {
        let req = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
        let mut parser = RequestParser::default();
        let Ok(Status::Complete(o)) = parser.parse(req.as_bytes()) else {
            panic!()
        };
        assert_eq!(
            (o.request().path(), o.request().query()),
            (path, query),
            "{target}"
        );
    }
    let req = b"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let mut parser = RequestParser::default();
    let Ok(Status::Complete(o)) = parser.parse(req) else {
        panic!()
    };
    assert_eq!((o.request().path(), o.request().query()), ("*", None));
}

#[test]
fn origin_and_protocols() {
    let req = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Protocol: v2.chat\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut parser = RequestParser::default();
    let ws = upgrade(&mut parser, req);
    assert_eq!(
        ws.protocols().collect::<Vec<_>>(),
        ["chat", "superchat", "v2.chat"]
    );
    assert_eq!(ws.select_protocol(&["v2.chat", "chat"]), Some("v2.chat"));
    assert_eq!(ws.select_protocol(&["Chat", "mqtt"]), None);
    assert_eq!(ws.check_origin(&["HTTP://EXAMPLE.COM"]), Ok(()));
    let refused = ws.check_origin(&["https://example.com"]).unwrap_err();
    assert_eq!(refused, HandshakeError::OriginNotAllowed);

    let mut out = Vec::new();
    ws.accept(&Accept::new().protocol(Some("superchat")), &mut out)
        .unwrap();
    assert!(out.ends_with(b"Sec-WebSocket-Protocol: superchat\r\n\r\n"));
    let mut out = Vec::new();
    let unoffered = ws.accept(&Accept::new().protocol(Some("mqtt")), &mut out);
    assert_eq!(unoffered, Err(BuildError::UnofferedProtocol));
    let reserved = ws.accept(
        &Accept::new().headers(&[("sec-websocket-accept", "x")]),
        &mut out,
    );
    assert_eq!(reserved, Err(BuildError::ReservedHeader));
    let injected = ws.accept(&Accept::new().headers(&[("X-A", "1\r\nX-B: 2")]), &mut out);
    assert_eq!(injected, Err(BuildError::InvalidHeaderValue));
    assert!(out.is_empty());

    let mut out = Vec::new();
    ws.accept(&Accept::new().headers(&[("Set-Cookie", "a=1")]), &mut out)
        .unwrap();
    assert!(out.ends_with(b"Set-Cookie: a=1\r\n\r\n"));
}

#[test]
fn rejections_are_complete_responses() {
    let mut out = Vec::new();
    HandshakeError::MethodNotAllowed.write_response(&mut out);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "HTTP/1.1 405 Method Not Allowed\r\n\
         Allow: GET\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 33\r\n\
         Connection: close\r\n\r\n\
         a WebSocket upgrade must use GET\n"
    );
    let mut out = Vec::new();
    HandshakeError::UnsupportedVersion
        .reject()
        .server("rfc6455")
        .write(&mut out)
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "HTTP/1.1 426 Upgrade Required\r\n\
         Server: rfc6455\r\n\
         Upgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 33\r\n\
         Connection: Upgrade, close\r\n\r\n\
         Sec-WebSocket-Version must be 13\n"
    );
    let mut out = Vec::new();
    Reject::new(401, "token required")
        .headers(&[("WWW-Authenticate", "Bearer")])
        .write(&mut out)
        .unwrap();
    assert!(out.starts_with(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n"));
}

#[test]
fn a_few_errors() {
    let base = |extra: &str| {
        format!(
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
    };
    assert_eq!(error(base("").as_bytes()), HandshakeError::MissingKey);
    assert_eq!(
        error(
            base("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 1\r\n").as_bytes()
        ),
        HandshakeError::UnexpectedBody
    );
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        HandshakeError::InvalidHost
    );
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        HandshakeError::InvalidHost
    );
    // An invalid Host value is a 400 too (RFC 9112 section 3.2).
    for host in [
        &b"a b/c@d"[..],
        b"\xff\xfe",
        b"h:80x",
        b"[::1",
        b"[]",
        b"h:1:2",
        b"%zz",
    ] {
        let mut head = b"GET /stats HTTP/1.1\r\nHost: ".to_vec();
        head.extend_from_slice(host);
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(error(&head), HandshakeError::InvalidHost, "{host:?}");
    }
}

#[test]
fn host_values_of_every_form_are_accepted() {
    for host in [
        "example.com",
        "example.com:9001",
        "127.0.0.1:9001",
        "[::1]",
        "[::1]:9001",
        "[v1.fe80::a+en1]",
        "xn--caf-dma.example",
        "caf%C3%A9.example",
        "h:",
        "",
    ] {
        let head = format!("GET /stats HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let mut parser = RequestParser::new(&Limits::default());
        match parser.parse(head.as_bytes()) {
            Ok(Status::Complete(Opening::Http(_))) => {}
            other => panic!("{host:?}: {other:?}"),
        }
    }
}

/// A head of about `len` bytes: many headers, or one long one.
fn big_head(len: usize, one_header: bool) -> Vec<u8> {
    let mut head = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    if one_header {
        head.extend_from_slice(b"X-Long: ");
        head.resize(len - 2, b'x');
        head.extend_from_slice(b"\r\n");
    } else {
        while head.len() + 40 <= len {
            head.extend_from_slice(b"X-Filler-Header: 0123456789abcdefghij\r\n");
        }
    }
    head.extend_from_slice(b"\r\n");
    head
}

#[test]
fn byte_at_a_time_is_linear() {
    // CVE-2023-43669: re-scanning a growing buffer costs O(n^2).
    for one_header in [false, true] {
        let limits = Limits {
            max_headers: 1000,
            ..Limits::default()
        };
        let head = big_head(limits.max_header_block - 10, one_header);
        let mut parser = RequestParser::new(&limits);
        let mut done = false;
        for end in 1..=head.len() {
            match parser.parse(&head[..end]) {
                Ok(Status::Incomplete(n)) => {
                    assert!(end + n <= head.len());
                    assert_eq!(parser.scanned(), end);
                }
                Ok(Status::Complete(o)) => {
                    assert_eq!((end, o.consumed()), (head.len(), head.len()));
                    done = true;
                }
                Err(e) => panic!("{e:?} at {end}"),
            }
        }
        assert!(done);
        let examined = parser.bytes_examined();
        assert!(
            examined <= 2 * head.len() as u64,
            "{examined} bytes examined for a {}-byte head",
            head.len()
        );
    }
}

#[test]
fn limits_fail_as_soon_as_they_are_reached() {
    let limits = Limits::default();
    let head = big_head(3 * limits.max_header_block, true);
    let mut parser = RequestParser::new(&limits);
    for end in 1..limits.max_header_block {
        assert!(matches!(
            parser.parse(&head[..end]),
            Ok(Status::Incomplete(_))
        ));
    }
    assert_eq!(
        parser.parse(&head[..limits.max_header_block]).unwrap_err(),
        HandshakeError::Http(HttpError::HeaderBlockTooLarge)
    );
    assert_eq!(parser.scanned(), limits.max_header_block);
    // Whole, the same.
    let mut parser = RequestParser::new(&limits);
    assert_eq!(
        parser.parse(&head).unwrap_err(),
        HandshakeError::Http(HttpError::HeaderBlockTooLarge)
    );
    assert_eq!(parser.scanned(), limits.max_header_block);

    // The request line: 414 in the target, 400 elsewhere.
    let long = "a".repeat(limits.max_request_line);
    let target = format!("GET /{long} HTTP/1.1\r\n\r\n");
    assert_eq!(
        error(target.as_bytes()),
        HandshakeError::Http(HttpError::UriTooLong)
    );
    let method = format!("{long}aa / HTTP/1.1\r\n\r\n");
    assert_eq!(
        error(method.as_bytes()),
        HandshakeError::Http(HttpError::RequestLineTooLong)
    );
    // At the limit exactly: fine.
    let fits = format!(
        "GET /{} HTTP/1.1\r\nHost: a\r\n\r\n",
        &long[..long.len() - 14]
    );
    assert!(RequestParser::default().parse(fits.as_bytes()).is_ok());
    let over = format!(
        "GET /{} HTTP/1.1\r\nHost: a\r\n\r\n",
        &long[..long.len() - 13]
    );
    assert_eq!(
        error(over.as_bytes()),
        HandshakeError::Http(HttpError::UriTooLong)
    );

    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for _ in 0..=limits.max_headers {
        many.extend_from_slice(b"Host: a\r\n");
    }
    assert_eq!(
        error(&many),
        HandshakeError::Http(HttpError::TooManyHeaders)
    );
}

#[test]
fn errors_are_final() {
    let mut buf = b"GET / HTTP/1.1\r\nBad Header: x\r\n".to_vec();
    let mut parser = RequestParser::default();
    let first = parser.parse(&buf).unwrap_err();
    assert_eq!(first, HandshakeError::Http(HttpError::InvalidHeaderName));
    buf.extend_from_slice(b"Host: a\r\n\r\n");
    assert_eq!(parser.parse(&buf).unwrap_err(), first);
}

#[test]
fn parser_reuse() {
    let first = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    let second = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut parser = RequestParser::default();
    assert!(parser.parse(first).is_ok());
    parser.reset();
    let Ok(Status::Complete(o)) = parser.parse(second) else {
        panic!()
    };
    assert_eq!(o.request().path(), "/b");
}

#[test]
fn host_header_leaves_out_the_schemes_default_port() {
    let host_of = |url: &str| {
        let mut out = Vec::new();
        ClientRequest::new(url, [7; 16])
            .unwrap()
            .write(&mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let line = text.lines().find(|l| l.starts_with("Host: ")).unwrap();
        line["Host: ".len()..].to_owned()
    };
    assert_eq!(host_of("ws://a/"), "a");
    assert_eq!(host_of("ws://a:443/"), "a:443");
    assert_eq!(host_of("wss://a/"), "a");
    assert_eq!(host_of("wss://a:80/"), "a:80");
    assert_eq!(host_of("wss://[::1]:9443/"), "[::1]:9443");
}

#[test]
fn urls() {
    let ok: &[(&str, &str, u16, &str, Option<&str>)] = &[
        ("ws://example.com", "example.com", 80, "/", None),
        (
            "WS://Example.com:9001/chat",
            "Example.com",
            9001,
            "/chat",
            None,
        ),
        ("ws://a/b/c?d=e&f", "a", 80, "/b/c", Some("d=e&f")),
        ("ws://a?x", "a", 80, "/", Some("x")),
        ("ws://a:/", "a", 80, "/", None),
        ("ws://127.0.0.1:9001/", "127.0.0.1", 9001, "/", None),
        ("ws://[::1]:9001/x", "::1", 9001, "/x", None),
        ("ws://[2001:db8::7]", "2001:db8::7", 80, "/", None),
        ("ws://a:65535/%20", "a", 65535, "/%20", None),
        ("wss://example.com/", "example.com", 443, "/", None),
        ("WSS://a:", "a", 443, "/", None),
        ("wss://[::1]:9443/x?y", "::1", 9443, "/x", Some("y")),
    ];
    for &(url, host, port, path, query) in ok {
        let u = WsUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e:?}"));
        assert_eq!(
            (u.host(), u.port(), u.path(), u.query()),
            (host, port, path, query),
            "{url}"
        );
        assert_eq!(u.is_secure(), url.to_ascii_lowercase().starts_with("wss:"));
    }
    let bad: &[(&str, UrlError)] = &[
        ("https://example.com/", UrlError::NotWebSocket),
        ("http://example.com/", UrlError::NotWebSocket),
        ("example.com", UrlError::NotWebSocket),
        ("ws://", UrlError::InvalidHost),
        ("ws://:80/", UrlError::InvalidHost),
        ("ws://a b/", UrlError::InvalidHost),
        ("ws://[::1/", UrlError::InvalidHost),
        ("ws://[::1]x/", UrlError::InvalidHost),
        ("ws://[]/", UrlError::InvalidHost),
        // Malformed percent-encoding, an IPv6 literal that is not an
        // address, and an IPvFuture literal (nothing to connect to).
        ("ws://a%zz/", UrlError::InvalidHost),
        ("ws://a%4/", UrlError::InvalidHost),
        ("ws://[1::2::3]/", UrlError::InvalidHost),
        ("ws://[v1.x]/", UrlError::InvalidHost),
        ("ws://a:0/", UrlError::InvalidPort),
        ("ws://a:65536/", UrlError::InvalidPort),
        ("ws://a:+80/", UrlError::InvalidPort),
        ("ws://user@a/", UrlError::Userinfo),
        ("ws://a/#frag", UrlError::Fragment),
        ("ws://a/b c", UrlError::InvalidPath),
        ("ws://a/é", UrlError::InvalidPath),
    ];
    for &(url, err) in bad {
        assert_eq!(WsUrl::parse(url), Err(err), "{url}");
    }
}

#[test]
fn client_request_bytes() {
    let mut out = Vec::new();
    ClientRequest::new("ws://[::1]:9001/chat?room=1", *b"the sample nonce")
        .unwrap()
        .protocols(&["chat", "superchat"])
        .origin("http://example.com")
        .headers(&[("User-Agent", "rfc6455")])
        .write(&mut out)
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "GET /chat?room=1 HTTP/1.1\r\n\
         Host: [::1]:9001\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\n\
         Origin: http://example.com\r\n\
         User-Agent: rfc6455\r\n\r\n"
    );
    let req = ClientRequest::new("ws://a/", [0; 16]).unwrap();
    let mut out = Vec::new();
    assert_eq!(
        req.protocols(&["a b"]).write(&mut out).unwrap_err(),
        BuildError::InvalidProtocol
    );
    assert_eq!(
        req.protocols(&["a", "a"]).write(&mut out).unwrap_err(),
        BuildError::InvalidProtocol
    );
    assert_eq!(
        req.headers(&[("host", "b")]).write(&mut out).unwrap_err(),
        BuildError::ReservedHeader
    );
    assert_eq!(
        req.origin("a\nb").write(&mut out).unwrap_err(),
        BuildError::InvalidHeaderValue
    );
    assert!(out.is_empty());
}

/// The client's request, parsed by the server, answered, and the answer
/// checked by the client: both sides agree, fed in pieces.
#[test]
fn client_and_server_agree() {
    for protocols in [&[][..], &["chat"], &["a", "b", "c"]] {
        let mut request = Vec::new();
        let mut client = ClientRequest::new("ws://localhost:9001/echo?x=1", *b"0123456789abcdef")
            .unwrap()
            .protocols(protocols)
            .origin("http://localhost")
            .write(&mut request)
            .unwrap();
        let mut parser = RequestParser::default();
        let mut response = Vec::new();
        let mut chosen = None;
        for end in 1..=request.len() {
            if let Status::Complete(Opening::WebSocket(ws)) = parser.parse(&request[..end]).unwrap()
            {
                assert_eq!(end, request.len());
                assert_eq!((ws.path(), ws.query()), ("/echo", Some("x=1")));
                assert_eq!(ws.protocols().collect::<Vec<_>>(), protocols);
                chosen = ws.select_protocol(&["c", "chat"]);
                ws.accept(&Accept::new().protocol(chosen), &mut response)
                    .unwrap();
            }
        }
        response.extend_from_slice(b"\x81\x02hi");
        for end in 1..=response.len() {
            match client.parse(&response[..end]).unwrap() {
                Status::Incomplete(n) => assert!(end + n <= response.len() - 4),
                Status::Complete(accepted) => {
                    assert_eq!(accepted.protocol(), chosen);
                    assert_eq!(
                        &response[accepted.consumed()..end],
                        &b"\x81\x02hi"[..end - accepted.consumed()]
                    );
                }
            }
        }
    }
}

#[test]
fn client_sees_refusals() {
    let mut out = Vec::new();
    let mut client = ClientRequest::new("ws://a/", [7; 16])
        .unwrap()
        .write(&mut out)
        .unwrap();
    let refusal = b"HTTP/1.1 302 Found\r\nLocation: ws://b/\r\nContent-Length: 0\r\n\r\n";
    let err = client.parse(refusal).unwrap_err();
    let ClientError::Rejected { status, reason } = err else {
        panic!("{err:?}")
    };
    assert_eq!((status, reason.as_str()), (302, "Found"));
    assert_eq!(err.to_string(), "server refused the upgrade: 302 Found");
    let response = client.response(refusal).unwrap();
    assert_eq!(response.header("location"), Some(&b"ws://b/"[..]));

    let long = ReasonPhrase::new("ééééééééééééééééééééééééé".as_bytes());
    assert_eq!(long.as_str().len(), 32);
    let long = ReasonPhrase::new("aééééééééééééééééééééééééé".as_bytes());
    assert_eq!(long.as_str().len(), 31);
}

#[test]
fn accept_key_matches_the_rfc() {
    let key = AcceptKey::from_key(b"dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(key.to_string(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(key.as_bytes(), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/// The body framing of a plain request with these extra header lines.
fn framing(headers: &str) -> Result<BodyFraming, BodyError> {
    let head = format!("POST /publish/news HTTP/1.1\r\nHost: h\r\n{headers}\r\n");
    let mut parser = RequestParser::default();
    match parser.parse(head.as_bytes()) {
        Ok(Status::Complete(Opening::Http(request))) => request.body_framing(),
        other => panic!("not a plain request: {other:?}"),
    }
}

#[test]
fn body_framing_is_read_strictly() {
    use BodyFraming::{Length, TransferCoded};
    assert_eq!(framing(""), Ok(BodyFraming::None));
    assert_eq!(framing("Content-Length: 0\r\n"), Ok(BodyFraming::None));
    assert_eq!(framing("Content-Length: 5\r\n"), Ok(Length(5)));
    assert_eq!(
        framing("content-length: 5\r\nCONTENT-LENGTH: 5\r\n"),
        Ok(Length(5))
    );
    assert_eq!(framing("Content-Length: 007\r\n"), Ok(Length(7)));
    assert_eq!(
        framing("Content-Length: 99999999999999999999999999\r\n"),
        Ok(Length(u64::MAX)),
        "too large for u64: left to the size limit"
    );
    assert_eq!(framing("Transfer-Encoding: chunked\r\n"), Ok(TransferCoded));
    assert_eq!(
        framing("Transfer-Encoding: gzip, chunked\r\n"),
        Ok(TransferCoded)
    );
    assert_eq!(
        framing("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
        Err(BodyError::NotChunkedLast),
        "the last coding over every header"
    );
    assert_eq!(
        framing("Transfer-Encoding: chunked, gzip\r\n"),
        Err(BodyError::NotChunkedLast)
    );
    assert_eq!(
        framing("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked , \r\n"),
        Ok(TransferCoded)
    );
    for bad in ["-5", "+5", "5, 5", "5 5", "0x10", "5.0", "five"] {
        assert_eq!(
            framing(&format!("Content-Length: {bad}\r\n")),
            Err(BodyError::InvalidContentLength),
            "{bad}"
        );
    }
    assert_eq!(
        framing("Content-Length: 5\r\nContent-Length: 6\r\n"),
        Err(BodyError::ConflictingContentLengths)
    );
    assert_eq!(
        framing("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
        Err(BodyError::LengthWithTransferEncoding)
    );
    assert_eq!(
        framing("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"),
        Err(BodyError::LengthWithTransferEncoding)
    );
    assert_eq!(BodyError::InvalidContentLength.status(), 400);
}
