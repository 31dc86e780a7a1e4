#!/usr/bin/env python3
"""Writes the handshake test vectors in vectors/handshake/*.json.

Usage: python3 vectors/handshake/generate.py   (Python 3.8+, standard library only)

The JSON files are committed; this script is how they are made, so that keys,
Sec-WebSocket-Accept values, consumed byte counts and expected 101 responses
are computed (with hashlib and base64, independently of the Rust crate)
rather than typed. The expected outcome of every vector is stated here by
hand; tests/handshake_vectors.rs checks the crate against it. The output is
deterministic.

The format is described in vectors/handshake/README.md.
"""

import base64
import hashlib
import json
import pathlib

OUT = pathlib.Path(__file__).resolve().parent
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


# RFC 6455 section 1.3, checked before anything is written.
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
assert accept(RFC_KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
assert base64.b64decode(RFC_KEY) == b"the sample nonce"


def key_bytes(name: str) -> bytes:
    """16 fixed, random-looking bytes for a named client."""
    return hashlib.sha256(name.encode()).digest()[:16]


def key_for(name: str) -> str:
    return base64.b64encode(key_bytes(name)).decode()


def head(lines):
    """The bytes of a head given its lines (blank line added)."""
    return "".join(line + "\r\n" for line in lines) + "\r\n"


def response_101(key, protocol=None):
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Accept: " + accept(key),
    ]
    if protocol is not None:
        lines.append("Sec-WebSocket-Protocol: " + protocol)
    return lines


def write(group, description, vectors):
    names = [v["name"] for v in vectors]
    assert len(names) == len(set(names)), f"{group}: duplicate names"
    doc = {"group": group, "description": description, "vectors": vectors}
    path = OUT / f"{group}.json"
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=True) + "\n")
    print(f"{path.name}: {len(vectors)} vectors")


# ---------------------------------------------------------------------------
# accept-keys.json


def accept_keys():
    vectors = [{"name": "rfc-6455-1.3", "note": "RFC 6455 section 1.3",
                "key": RFC_KEY, "accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}]
    for name in ["all-zero", "all-ff", "chromium", "firefox", "safari", "node-ws"]:
        raw = {"all-zero": bytes(16), "all-ff": b"\xff" * 16}.get(name, key_bytes(name))
        key = base64.b64encode(raw).decode()
        vectors.append({"name": name, "key_bytes": raw.hex(), "key": key, "accept": accept(key)})
    write("accept-keys", "Sec-WebSocket-Key to Sec-WebSocket-Accept (RFC 6455 section 4.2.2).",
          vectors)


# ---------------------------------------------------------------------------
# requests-valid.json: opening requests as clients send them.


def ws_expect(lines, *, path, query=None, key, origin=None, protocols=(), extensions=(),
              select=None, after=""):
    """The expected outcome of a valid upgrade request."""
    n_headers = len(lines) - 1
    return {
        "websocket": {
            "method": "GET",
            "path": path,
            "query": query,
            "headers": n_headers,
            "key": key,
            "accept": accept(key),
            "origin": origin,
            "protocols": list(protocols),
            "extensions": [{"name": n, "params": [list(p) for p in ps]} for n, ps in extensions],
            "selected": select,
            "response": response_101(key, select),
        },
        "consumed": len(head(lines).encode("latin-1")),
    }


def valid_requests():
    v = []

    def add(name, note, lines, after="", preference=None, **expect):
        vec = {"name": name, "note": note, "lines": lines}
        if after:
            vec["after"] = after
        if preference is not None:
            vec["server_protocols"] = preference
        vec["expect"] = ws_expect(lines, **expect)
        v.append(vec)

    k = key_for("chromium")
    add("chromium-156", "as Chromium 156 sent it (shared/TOOLING.md), UA shortened to its usual form",
        ["GET /?id=42 HTTP/1.1", "Host: 127.0.0.1:9010", "Connection: Upgrade",
         "Pragma: no-cache", "Cache-Control: no-cache",
         "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "HeadlessChrome/156.0.0.0 Safari/537.36",
         "Upgrade: websocket", "Origin: http://127.0.0.1:9010", "Sec-WebSocket-Version: 13",
         "Accept-Encoding: gzip, deflate, br, zstd", "Accept-Language: en-US,en;q=0.9",
         "Sec-WebSocket-Key: " + k,
         "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"],
        path="/", query="id=42", key=k, origin="http://127.0.0.1:9010",
        extensions=[("permessage-deflate", [("client_max_window_bits", None)])])

    k = key_for("firefox")
    add("firefox-128", "Firefox's header set: Connection: keep-alive, Upgrade; Sec-Fetch-*",
        ["GET /chat HTTP/1.1", "Host: localhost:8080",
         "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
         "Accept: */*", "Accept-Language: en-US,en;q=0.5",
         "Accept-Encoding: gzip, deflate, br, zstd", "Sec-WebSocket-Version: 13",
         "Origin: http://localhost:8080", "Sec-WebSocket-Extensions: permessage-deflate",
         "Sec-WebSocket-Key: " + k, "Connection: keep-alive, Upgrade",
         "Sec-Fetch-Dest: empty", "Sec-Fetch-Mode: websocket", "Sec-Fetch-Site: same-origin",
         "Pragma: no-cache", "Cache-Control: no-cache", "Upgrade: websocket"],
        path="/chat", key=k, origin="http://localhost:8080",
        extensions=[("permessage-deflate", [])])

    k = key_for("safari")
    add("safari-17", "Safari's header set, WebSocket headers first",
        ["GET /chat HTTP/1.1", "Host: localhost:8080",
         "Sec-WebSocket-Extensions: permessage-deflate", "Sec-WebSocket-Key: " + k,
         "Sec-WebSocket-Version: 13", "Upgrade: websocket", "Origin: http://localhost:8080",
         "Accept-Language: en-US,en;q=0.9", "Pragma: no-cache", "Cache-Control: no-cache",
         "User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
         "Accept-Encoding: gzip, deflate", "Connection: Upgrade"],
        path="/chat", key=k, origin="http://localhost:8080",
        extensions=[("permessage-deflate", [])])

    k = key_for("python-websockets")
    add("python-websockets-13", "the Python websockets client: no Origin, deflate offered",
        ["GET / HTTP/1.1", "Host: localhost:8765", "Upgrade: websocket",
         "Connection: Upgrade", "Sec-WebSocket-Key: " + k, "Sec-WebSocket-Version: 13",
         "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
         "User-Agent: Python/3.11 websockets/13.1"],
        path="/", key=k, extensions=[("permessage-deflate", [("client_max_window_bits", None)])])

    k = key_for("node-ws")
    add("node-ws-8", "Node's ws: Host last, no User-Agent",
        ["GET / HTTP/1.1", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: " + k,
         "Connection: Upgrade", "Upgrade: websocket",
         "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
         "Host: localhost:8080"],
        path="/", key=k, extensions=[("permessage-deflate", [("client_max_window_bits", None)])])

    k = key_for("curl")
    add("curl-8", "curl's WebSocket support (8.11+)",
        ["GET /chat HTTP/1.1", "Host: localhost:8080", "User-Agent: curl/8.11.1",
         "Accept: */*", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
         "Sec-WebSocket-Key: " + k, "Connection: Upgrade"],
        path="/chat", key=k)

    k = key_for("tungstenite")
    add("tungstenite-0.24", "Rust's tungstenite: the bare minimum",
        ["GET / HTTP/1.1", "Host: localhost:9001", "Connection: Upgrade",
         "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: " + k],
        path="/", key=k)

    k = key_for("nginx")
    add("nginx-proxied", "relayed by nginx (proxy_set_header Upgrade/Connection): lowercase upgrade",
        ["GET /echo HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket",
         "Connection: upgrade", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: " + k,
         "Origin: http://127.0.0.1:9080", "User-Agent: Python/3.11 websockets/17.4"],
        path="/echo", key=k, origin="http://127.0.0.1:9080")

    add("rfc-6455-1.2", "RFC 6455 section 1.2; the server prefers chat",
        ["GET /chat HTTP/1.1", "Host: server.example.com", "Upgrade: websocket",
         "Connection: Upgrade", "Sec-WebSocket-Key: " + RFC_KEY, "Origin: http://example.com",
         "Sec-WebSocket-Protocol: chat, superchat", "Sec-WebSocket-Version: 13"],
        preference=["chat"],
        path="/chat", key=RFC_KEY, origin="http://example.com",
        protocols=["chat", "superchat"], select="chat")

    k = key_for("lowercase")
    add("lowercase-names", "every name and token lowercase, as HTTP/2 gateways write them",
        ["GET /x HTTP/1.1", "host: a.example", "upgrade: websocket", "connection: upgrade",
         "sec-websocket-key: " + k, "sec-websocket-version: 13",
         "sec-websocket-protocol: mqtt"],
        preference=["mqttv5", "mqtt"], path="/x", key=k, protocols=["mqtt"], select="mqtt")

    k = key_for("mixed")
    add("mixed-case-tokens", "Upgrade: WebSocket and Connection: UPGRADE are the same tokens",
        ["GET / HTTP/1.1", "Host: a", "Upgrade: WebSocket", "Connection: UPGRADE",
         "Sec-WebSocket-Key: " + k, "Sec-WebSocket-Version: 13"],
        path="/", key=k)

    k = key_for("split-lists")
    add("lists-over-several-lines", "Connection and Sec-WebSocket-Protocol repeated; empty list elements",
        ["GET /chat HTTP/1.1", "Host: a", "Upgrade: websocket", "Connection: keep-alive",
         "Connection: , Upgrade,", "Sec-WebSocket-Protocol: v1.chat,, v2.chat",
         "Sec-WebSocket-Protocol: v3.chat", "Sec-WebSocket-Key: " + k,
         "Sec-WebSocket-Version: 13"],
        preference=["v3.chat", "v2.chat"], path="/chat", key=k,
        protocols=["v1.chat", "v2.chat", "v3.chat"], select="v3.chat")

    k = key_for("no-match")
    add("no-common-protocol", "protocols offered, none the server speaks: answered without one",
        ["GET / HTTP/1.1", "Host: a", "Upgrade: websocket", "Connection: Upgrade",
         "Sec-WebSocket-Protocol: soap, wamp", "Sec-WebSocket-Key: " + k,
         "Sec-WebSocket-Version: 13"],
        preference=["chat"], path="/", key=k, protocols=["soap", "wamp"], select=None)

    k = key_for("extensions")
    add("extension-parameters", "two extensions, values bare and quoted, whitespace around = and ;",
        ["GET / HTTP/1.1", "Host: a", "Upgrade: websocket", "Connection: Upgrade",
         "Sec-WebSocket-Key: " + k, "Sec-WebSocket-Version: 13",
         "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits = 10 ;"
         " server_no_context_takeover, x-webkit-deflate-frame",
         "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=\"12\""],
        path="/", key=k,
        extensions=[("permessage-deflate", [("client_max_window_bits", "10"),
                                            ("server_no_context_takeover", None)]),
                    ("x-webkit-deflate-frame", []),
                    ("permessage-deflate", [("server_max_window_bits", "12")])])

    k = key_for("first-frame")
    add("first-frame-in-same-packet", "a masked \"Hello\" right after the head stays for the frame layer",
        ["GET / HTTP/1.1", "Host: a", "Upgrade: websocket", "Connection: Upgrade",
         "Sec-WebSocket-Key: " + k, "Sec-WebSocket-Version: 13"],
        after="\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", path="/", key=k)

    k = key_for("absolute")
    add("absolute-form-target", "an absolute URI as the target (RFC 9112 section 3.2.2)",
        ["GET ws://a.example:8080/chat?room=7 HTTP/1.1", "Host: a.example:8080",
         "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: " + k,
         "Sec-WebSocket-Version: 13"],
        path="/chat", query="room=7", key=k)

    k = key_for("ows")
    add("whitespace-and-obs-text", "tabs and spaces around values, an empty value, UTF-8 in a value",
        ["GET /%E2%82%AC?q=%20 HTTP/1.1", "Host:a", "Upgrade:\twebsocket\t",
         "Connection:   Upgrade  ", "X-Empty:", "X-Name: J\u00c3\u00bcrgen",
         "Sec-WebSocket-Key:  " + k + " ", "Sec-WebSocket-Version: 13",
         "Content-Length: 0"],
        path="/%E2%82%AC", query="q=%20", key=k)

    k = key_for("http12")
    add("http-1.2", "a later HTTP/1 minor version is accepted (section 4.2.1: 1.1 or higher)",
        ["GET / HTTP/1.2", "Host: a", "Upgrade: websocket", "Connection: Upgrade",
         "Sec-WebSocket-Key: " + k, "Sec-WebSocket-Version: 13"],
        path="/", key=k)

    # Plain HTTP: no WebSocket upgrade, handed back to the caller.
    def plain(name, note, lines, method, path, query=None, after=""):
        vec = {"name": name, "note": note, "lines": lines}
        if after:
            vec["after"] = after
        vec["expect"] = {"http": {"method": method, "path": path, "query": query,
                                  "headers": len(lines) - 1},
                         "consumed": len(head(lines).encode("latin-1"))}
        v.append(vec)

    plain("page-load", "Chromium loading the test page: plain GET, served by the caller",
          ["GET /page.html?ws=ws://127.0.0.1:9010/ HTTP/1.1", "Host: 127.0.0.1:9010",
           "Connection: keep-alive", "Upgrade-Insecure-Requests: 1",
           "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "HeadlessChrome/156.0.0.0 Safari/537.36",
           "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
           "Accept-Encoding: gzip, deflate, br, zstd", "Accept-Language: en-US,en;q=0.9"],
          "GET", "/page.html", "ws=ws://127.0.0.1:9010/")
    plain("favicon-http-1.0", "HTTP/1.0 needs no Host", ["GET /favicon.ico HTTP/1.0"],
          "GET", "/favicon.ico")
    plain("h2c-upgrade-ignored", "an upgrade to another protocol is plain HTTP (RFC 9110 7.8: may be ignored)",
          ["GET / HTTP/1.1", "Host: a", "Connection: Upgrade, HTTP2-Settings",
           "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA"], "GET", "/")
    plain("post-with-body", "a POST without upgrade: its body is the caller's",
          ["POST /form HTTP/1.1", "Host: a", "Content-Type: text/plain", "Content-Length: 5"],
          "POST", "/form", after="hello")

    blank_first = ["", "GET / HTTP/1.1"] + GOOD
    expect = ws_expect(blank_first[1:], path="/", key=RFC_KEY)
    expect["consumed"] += 2
    v.append({"name": "empty-line-first",
              "note": "RFC 9112 2.2: a server ignores a blank line before the request line "
                      "(a client's CRLF after a POST body)",
              "lines": blank_first, "expect": expect})

    write("requests-valid",
          "Opening requests as real clients send them, and plain HTTP requests a server hands back.",
          v)


# ---------------------------------------------------------------------------
# requests-invalid.json: each answered with an error status.

GOOD = ["Host: a", "Upgrade: websocket", "Connection: Upgrade",
        "Sec-WebSocket-Key: " + RFC_KEY, "Sec-WebSocket-Version: 13"]


def without(name, lines=GOOD):
    return [l for l in lines if not l.lower().startswith(name.lower() + ":")]


def invalid_requests():
    v = []

    def add(name, note, error, status, lines=None, raw=None, **extra):
        vec = {"name": name, "note": note}
        if lines is not None:
            vec["lines"] = lines
        else:
            vec["raw"] = raw
        vec.update(extra)
        vec["expect"] = {"error": error, "status": status}
        v.append(vec)

    req = lambda *extra, start="GET /chat HTTP/1.1", base=GOOD: [start, *base, *extra]

    # RFC 6455 section 4.2.1, item by item.
    add("post", "item 1: the method must be GET", "MethodNotAllowed", 405,
        req(start="POST /chat HTTP/1.1"))
    add("lowercase-get", "item 1: methods are case-sensitive", "MethodNotAllowed", 405,
        req(start="get /chat HTTP/1.1"))
    add("http-1.0", "item 1: HTTP/1.1 or higher", "HttpVersionTooOld", 400,
        req(start="GET /chat HTTP/1.0"))
    add("asterisk-target", "item 1: the target must be a resource name", "InvalidTarget", 400,
        req(start="GET * HTTP/1.1"))
    add("authority-target", "item 1: the target must be a resource name", "InvalidTarget", 400,
        req(start="GET a.example:80 HTTP/1.1"))
    add("no-host", "item 2; RFC 9112 3.2", "InvalidHost", 400, req(base=without("Host")))
    add("two-hosts", "RFC 9112 3.2: more than one Host", "InvalidHost", 400, req("Host: b"))
    add("no-upgrade", "item 3: WebSocket headers without Upgrade", "MissingUpgrade", 400,
        req(base=without("Upgrade")))
    add("upgrade-h2c", "item 3: Upgrade must hold websocket", "MissingUpgrade", 400,
        req(base=without("Upgrade") + ["Upgrade: h2c"]))
    add("upgrade-websocket-prefix", "item 3: tokens match whole", "MissingUpgrade", 400,
        req(base=without("Upgrade") + ["Upgrade: websockets"]))
    add("no-connection", "item 4", "MissingConnectionUpgrade", 400,
        req(base=without("Connection")))
    add("connection-keep-alive", "item 4: Connection must hold Upgrade", "MissingConnectionUpgrade",
        400, req(base=without("Connection") + ["Connection: keep-alive"]))
    add("connection-upgrade-in-one-token", "item 4: list elements are split on commas only",
        "MissingConnectionUpgrade", 400,
        req(base=without("Connection") + ["Connection: keep-alive Upgrade"]))
    add("no-key", "item 5", "MissingKey", 400, req(base=without("Sec-WebSocket-Key")))
    add("two-keys", "section 11.3.1: the key appears once", "DuplicateKey", 400,
        req("Sec-WebSocket-Key: " + key_for("other")))
    add("key-15-bytes", "item 5: 16 bytes when decoded", "InvalidKey", 400,
        req(base=without("Sec-WebSocket-Key") + ["Sec-WebSocket-Key: " + base64.b64encode(bytes(15)).decode()]))
    add("key-17-bytes", "item 5: 16 bytes when decoded", "InvalidKey", 400,
        req(base=without("Sec-WebSocket-Key") + ["Sec-WebSocket-Key: " + base64.b64encode(bytes(17)).decode()]))
    add("key-unpadded", "item 5: base64 with its padding", "InvalidKey", 400,
        req(base=without("Sec-WebSocket-Key") + ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ"]))
    add("key-stray-bits", "item 5: canonical base64 only", "InvalidKey", 400,
        req(base=without("Sec-WebSocket-Key") + ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR=="]))
    add("key-not-base64", "item 5", "InvalidKey", 400,
        req(base=without("Sec-WebSocket-Key") + ["Sec-WebSocket-Key: the sample nonce!!!!!!!!"]))
    add("key-empty", "item 5", "InvalidKey", 400,
        req(base=without("Sec-WebSocket-Key") + ["Sec-WebSocket-Key:"]))
    add("no-version", "item 6; section 4.4", "UnsupportedVersion", 426,
        req(base=without("Sec-WebSocket-Version")))
    add("version-8", "item 6: hybi-08 and older are not spoken", "UnsupportedVersion", 426,
        req(base=without("Sec-WebSocket-Version") + ["Sec-WebSocket-Version: 8"]))
    add("version-list", "item 6: one version, 13", "UnsupportedVersion", 426,
        req(base=without("Sec-WebSocket-Version") + ["Sec-WebSocket-Version: 13, 8"]))
    add("version-twice", "item 6: one version header", "UnsupportedVersion", 426,
        req("Sec-WebSocket-Version: 13"))
    add("version-only", "a lone Sec-WebSocket-Version makes an upgrade attempt",
        "MissingUpgrade", 400, ["GET / HTTP/1.1", "Host: a", "Sec-WebSocket-Version: 13"])
    add("content-length", "an upgrade request with a body", "UnexpectedBody", 400,
        req("Content-Length: 4"))
    add("transfer-encoding", "an upgrade request with a body", "UnexpectedBody", 400,
        req("Transfer-Encoding: chunked"))
    add("two-origins", "RFC 6454 7: one Origin", "InvalidOrigin", 400,
        req("Origin: http://a", "Origin: http://b"))
    add("protocol-not-token", "section 4.1 item 10: protocols are tokens", "InvalidProtocols", 400,
        req("Sec-WebSocket-Protocol: chat, super chat"))
    add("protocol-separator", "section 4.1 item 10: no separators", "InvalidProtocols", 400,
        req("Sec-WebSocket-Protocol: chat/1.0"))
    add("extension-no-name", "section 9.1 grammar", "InvalidExtensions", 400,
        req("Sec-WebSocket-Extensions: ; client_max_window_bits"))
    add("extension-empty-param", "section 9.1 grammar", "InvalidExtensions", 400,
        req("Sec-WebSocket-Extensions: permessage-deflate;"))
    add("extension-escaped-quote", "section 9.1: quoted values are tokens; escapes refused",
        "InvalidExtensions", 400,
        req('Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits="1\\0"'))
    add("origin-not-allowed", "section 10.2: the server's allow-list", "OriginNotAllowed", 403,
        req("Origin: http://evil.example"), allowed_origins=["http://a", "https://a"])

    # HTTP/1.1 syntax (RFC 9112).
    ok = head(req())
    add("bare-lf", "RFC 9112 2.2: CRLF only", "Http(InvalidLineEnding)", 400,
        raw=ok.replace("\r\n", "\n"))
    add("bare-lf-one-header", "RFC 9112 2.2: CRLF only", "Http(InvalidLineEnding)", 400,
        raw=ok.replace("Host: a\r\n", "Host: a\n"))
    add("bare-lf-end", "RFC 9112 2.2: the blank line too", "Http(InvalidLineEnding)", 400,
        raw=ok[:-2] + "\n")
    add("bare-cr", "RFC 9112 2.2: a bare CR", "Http(InvalidLineEnding)", 400,
        raw=ok.replace("Host: a\r\n", "Host: a\rX: b\r\n"))
    add("obs-fold", "RFC 9112 5.2", "Http(ObsoleteFold)", 400,
        req("X-Folded: one", " two"))
    add("obs-fold-tab", "RFC 9112 5.2", "Http(ObsoleteFold)", 400,
        req("X-Folded: one", "\ttwo"))
    add("space-after-request-line", "RFC 9112 2.2: whitespace before the first header",
        "Http(ObsoleteFold)", 400, ["GET / HTTP/1.1", " Host: a"] + GOOD[1:])
    add("space-before-colon", "RFC 9112 5.1: MUST be rejected", "Http(WhitespaceBeforeColon)", 400,
        ["GET / HTTP/1.1", "Host : a"] + GOOD[1:])
    add("tab-before-colon", "RFC 9112 5.1", "Http(WhitespaceBeforeColon)", 400,
        req("Upgrade\t: websocket"))
    add("missing-colon", "RFC 9112 5", "Http(MissingColon)", 400, req("X-No-Colon"))
    add("empty-name", "RFC 9110 5.1: names are tokens", "Http(InvalidHeaderName)", 400,
        req(": value"))
    add("space-in-name", "RFC 9110 5.1", "Http(InvalidHeaderName)", 400, req("X Y: value"))
    add("control-in-name", "RFC 9110 5.1", "Http(InvalidHeaderName)", 400, req("X\x01Y: value"))
    add("nul-in-value", "RFC 9110 5.5", "Http(InvalidHeaderValue)", 400, req("X: a\x00b"))
    add("escape-in-value", "RFC 9110 5.5", "Http(InvalidHeaderValue)", 400, req("X: \x1b[31m"))
    add("del-in-value", "RFC 9110 5.5", "Http(InvalidHeaderValue)", 400, req("X: a\x7fb"))
    add("double-space", "RFC 9112 3: single spaces", "Http(MalformedRequestLine)", 400,
        req(start="GET  /chat HTTP/1.1"))
    add("trailing-space", "RFC 9112 3", "Http(MalformedRequestLine)", 400,
        req(start="GET /chat HTTP/1.1 "))
    add("no-http-version", "RFC 9112 3: HTTP/0.9 style", "Http(MalformedRequestLine)", 400,
        req(start="GET /chat"))
    add("lowercase-http", "RFC 9112 2.3: HTTP-name is case-sensitive", "Http(MalformedRequestLine)",
        400, req(start="GET /chat http/1.1"))
    add("fragment-in-target", "RFC 9112 3.2: no fragment in a request target",
        "Http(MalformedRequestLine)", 400, req(start="GET /chat#x HTTP/1.1"))
    add("non-ascii-target", "RFC 9112 3.2: targets are ASCII", "Http(MalformedRequestLine)", 400,
        req(start="GET /caf\u00e9 HTTP/1.1"))
    add("two-empty-lines-first", "RFC 9112 2.2: one blank line before the request line is "
        "ignored, not two", "Http(MalformedRequestLine)", 400, ["", "", "GET / HTTP/1.1"] + GOOD)
    add("http-2", "RFC 9110 15.6.6", "Http(UnsupportedHttpVersion)", 505,
        req(start="GET /chat HTTP/2.0"))

    # Limits (Limits::max_request_line, max_header_block, max_headers).
    small = {"max_header_block": 256, "max_headers": 8, "max_request_line": 64}
    add("target-too-long", "max_request_line inside the target: 414", "Http(UriTooLong)", 414,
        req(start="GET /" + "a" * 60 + " HTTP/1.1"), limits=small)
    add("method-too-long", "max_request_line inside the method: 400",
        "Http(RequestLineTooLong)", 400, req(start="X" * 70 + " / HTTP/1.1"), limits=small)
    add("version-too-long", "max_request_line inside the version: 400",
        "Http(RequestLineTooLong)", 400, req(start="GET / HTTP/1.1" + "1" * 60), limits=small)
    add("header-block-too-large", "max_header_block: 431", "Http(HeaderBlockTooLarge)", 431,
        req("X-Big: " + "b" * 200), limits=small)
    add("header-block-unterminated", "no blank line within max_header_block: 431",
        "Http(HeaderBlockTooLarge)", 431, raw=head(req())[:-2] + "X: " + "y" * 300, limits=small)
    add("too-many-headers", "max_headers: 431", "Http(TooManyHeaders)", 431,
        req("A: 1", "B: 2", "C: 3", "D: 4"), limits=small)
    add("header-block-default-limit", "8 KiB by default", "Http(HeaderBlockTooLarge)", 431,
        req("X-Big: " + "b" * 8192))

    write("requests-invalid",
          "Opening requests a server refuses, each with the status it answers.", v)


# ---------------------------------------------------------------------------
# responses.json: the client's check of the server's answer.


def responses():
    v = []

    def add(name, note, lines=None, raw=None, protocols=(), key_name=None, after="", **expect):
        raw_key = b"the sample nonce" if key_name is None else key_bytes(key_name)
        key = base64.b64encode(raw_key).decode()
        vec = {"name": name, "note": note, "key_bytes": raw_key.hex(), "key": key,
               "protocols": list(protocols)}
        if lines is not None:
            lines = [l.replace("{accept}", accept(key)) for l in lines]
            vec["lines"] = lines
            consumed = len(head(lines).encode("latin-1"))
        else:
            vec["raw"] = raw.replace("{accept}", accept(key))
            consumed = None
            assert "error" in expect, "raw vectors are for errors"
        if after:
            vec["after"] = after
        if "error" in expect:
            vec["expect"] = expect
        else:
            vec["expect"] = {"accepted": {"protocol": expect.get("protocol")},
                             "consumed": consumed}
        v.append(vec)

    ok = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
          "Sec-WebSocket-Accept: {accept}"]
    add("rfc-6455-1.3", "RFC 6455 section 1.3", ok + ["Sec-WebSocket-Protocol: chat"],
        protocols=["chat", "superchat"], protocol="chat")
    add("minimal", "no protocol, no extension", ok)
    add("protocols-offered-none-chosen", "the server may choose none", ok, protocols=["chat"])
    add("haproxy-lowercase", "HAProxy lowercases names (shared/TOOLING.md)",
        ["HTTP/1.1 101 Switching Protocols", "upgrade: websocket", "connection: upgrade",
         "sec-websocket-accept: {accept}"], key_name="haproxy")
    add("python-websockets", "as Python websockets answers, with Date and Server",
        ["HTTP/1.1 101 Switching Protocols", "Date: Mon, 01 Jan 2024 00:00:00 GMT",
         "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: {accept}",
         "Server: Python/3.11 websockets/17.4"], key_name="python")
    add("no-reason-phrase", "RFC 9112 4: the reason may be empty", 
        ["HTTP/1.1 101 ", "Upgrade: websocket", "Connection: Upgrade",
         "Sec-WebSocket-Accept: {accept}"])
    add("no-reason-no-space", "status line without its last space, tolerated",
        ["HTTP/1.1 101", "Upgrade: websocket", "Connection: Upgrade",
         "Sec-WebSocket-Accept: {accept}"])
    add("first-frame-in-same-packet", "a text frame \"Hi\" after the head stays for the frame layer",
        ok, after="\x81\x02Hi")
    add("accept-with-whitespace", "OWS around the value is not part of it",
        ok[:3] + ["Sec-WebSocket-Accept: \t{accept}  "])
    add("connection-list", "Connection as a list", ok[:2] + ["Connection: keep-alive, Upgrade"] + ok[3:])

    add("wrong-accept", "section 4.1: the accept must match",
        ok[:3] + ["Sec-WebSocket-Accept: " + accept("x" * 24)], error="AcceptMismatch")
    add("accept-of-the-key-bytes", "computed from the decoded key instead of its base64 text",
        ok[:3] + ["Sec-WebSocket-Accept: " + base64.b64encode(hashlib.sha1(b"the sample nonce" + GUID).digest()).decode()],
        error="AcceptMismatch")
    add("accept-lowercased", "base64 is case-sensitive",
        ok[:3] + ["Sec-WebSocket-Accept: " + accept(RFC_KEY).lower()], error="AcceptMismatch")
    add("two-accepts", "one accept only", ok + ["Sec-WebSocket-Accept: {accept}"],
        error="AcceptMismatch")
    add("no-accept", "section 4.1", ok[:3], error="MissingAccept")
    add("no-upgrade", "section 4.1", [ok[0]] + ok[2:], error="MissingUpgrade")
    add("upgrade-h2c", "section 4.1", [ok[0], "Upgrade: h2c"] + ok[2:], error="MissingUpgrade")
    add("no-connection", "section 4.1", ok[:2] + ok[3:], error="MissingConnectionUpgrade")
    add("protocol-not-offered", "section 4.1", ok + ["Sec-WebSocket-Protocol: superchat"],
        protocols=["chat"], error="UnofferedProtocol")
    add("protocol-none-offered", "section 4.1", ok + ["Sec-WebSocket-Protocol: chat"],
        error="UnofferedProtocol")
    add("protocol-case", "protocols compare exactly", ok + ["Sec-WebSocket-Protocol: Chat"],
        protocols=["chat"], error="UnofferedProtocol")
    add("two-protocols", "section 4.2.2: a single value", ok + ["Sec-WebSocket-Protocol: a, b"],
        protocols=["a", "b"], error="InvalidProtocol")
    add("extension-not-offered", "section 4.1: none was offered",
        ok + ["Sec-WebSocket-Extensions: permessage-deflate"], error="UnofferedExtension")
    add("extension-garbage", "section 9.1 grammar", ok + ["Sec-WebSocket-Extensions: ;;"],
        error="InvalidExtensions")
    add("http-1.0-101", "a 101 needs HTTP/1.1", ["HTTP/1.0 101 Switching Protocols"] + ok[1:],
        error="HttpVersionTooOld")
    add("forbidden", "the server refused: status and reason carried",
        ["HTTP/1.1 403 Forbidden", "Content-Type: text/plain", "Content-Length: 18",
         "Connection: close"], after="origin not allowed", error="Rejected", status=403,
        reason="Forbidden")
    add("upgrade-required", "426 from a server speaking another version",
        ["HTTP/1.1 426 Upgrade Required", "Sec-WebSocket-Version: 8", "Content-Length: 0"],
        error="Rejected", status=426, reason="Upgrade Required")
    add("ok-200", "a web server that ignored the upgrade", ["HTTP/1.1 200 OK",
        "Content-Length: 0"], error="Rejected", status=200, reason="OK")
    add("redirect", "a redirect is not followed", ["HTTP/1.1 301 Moved Permanently",
        "Location: ws://b.example/"], error="Rejected", status=301, reason="Moved Permanently")
    add("long-reason", "the reason is cut to 32 bytes",
        ["HTTP/1.1 503 Service Unavailable Because Of Scheduled Maintenance"],
        error="Rejected", status=503, reason="Service Unavailable Because Of S")
    add("bare-lf", "RFC 9112 2.2", raw=head(ok).replace("\r\n", "\n"),
        error="Http(InvalidLineEnding)")
    add("obs-fold", "RFC 9112 5.2", ok + ["X: a", " b"], error="Http(ObsoleteFold)")
    add("http-2", "RFC 9110 15.6.6", ["HTTP/2.0 101 Switching Protocols"] + ok[1:],
        error="Http(UnsupportedHttpVersion)")
    add("status-not-digits", "RFC 9112 4", ["HTTP/1.1 1O1 Switching Protocols"] + ok[1:],
        error="Http(MalformedStatusLine)")
    add("status-four-digits", "RFC 9112 4", ["HTTP/1.1 1010 Switching Protocols"] + ok[1:],
        error="Http(MalformedStatusLine)")
    add("not-http", "an SSH server on the port", raw="SSH-2.0-OpenSSH_9.2p1\r\n\r\n",
        error="Http(MalformedStatusLine)")

    write("responses",
          "Server responses a client checks (RFC 6455 section 4.1), with the key it sent and the "
          "protocols it offered.", v)


# ---------------------------------------------------------------------------
# client-requests.json: the request a client writes.


def client_requests():
    v = []

    def add(name, note, url, key_raw, lines=None, error=None, protocols=(), origin=None,
            headers=()):
        vec = {"name": name, "note": note, "url": url, "key_bytes": key_raw.hex(),
               "protocols": list(protocols), "origin": origin,
               "headers": [list(h) for h in headers]}
        vec["expect"] = {"lines": lines} if error is None else {"error": error}
        v.append(vec)

    add("rfc-6455-1.2", "the RFC example; header order is this crate's", "ws://server.example.com/chat",
        b"the sample nonce",
        ["GET /chat HTTP/1.1", "Host: server.example.com", "Upgrade: websocket",
         "Connection: Upgrade", "Sec-WebSocket-Key: " + RFC_KEY, "Sec-WebSocket-Version: 13",
         "Sec-WebSocket-Protocol: chat, superchat", "Origin: http://example.com"],
        protocols=["chat", "superchat"], origin="http://example.com")
    k = key_bytes("client-port")
    add("port-and-query", "a port other than 80 goes in Host", "ws://127.0.0.1:9001/runCase?case=1&agent=rfc6455",
        k, ["GET /runCase?case=1&agent=rfc6455 HTTP/1.1", "Host: 127.0.0.1:9001",
            "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: " + base64.b64encode(k).decode(), "Sec-WebSocket-Version: 13"])
    add("default-port-dropped", "port 80 is left out of Host (section 4.1 item 4)",
        "ws://example.com:80", k,
        ["GET / HTTP/1.1", "Host: example.com", "Upgrade: websocket", "Connection: Upgrade",
         "Sec-WebSocket-Key: " + base64.b64encode(k).decode(), "Sec-WebSocket-Version: 13"])
    add("ipv6", "an IPv6 literal keeps its brackets in Host", "ws://[::1]:9001?x", k,
        ["GET /?x HTTP/1.1", "Host: [::1]:9001", "Upgrade: websocket", "Connection: Upgrade",
         "Sec-WebSocket-Key: " + base64.b64encode(k).decode(), "Sec-WebSocket-Version: 13",
         "User-Agent: rfc6455"], headers=[("User-Agent", "rfc6455")])
    add("wss", "the same request over TLS; 443 is wss's default port, left out of Host",
        "wss://example.com:443/feed", k,
        ["GET /feed HTTP/1.1", "Host: example.com", "Upgrade: websocket", "Connection: Upgrade",
         "Sec-WebSocket-Key: " + base64.b64encode(k).decode(), "Sec-WebSocket-Version: 13"])
    add("wss-port-80", "port 80 is not wss's default: it goes in Host", "wss://example.com:80/", k,
        ["GET / HTTP/1.1", "Host: example.com:80", "Upgrade: websocket", "Connection: Upgrade",
         "Sec-WebSocket-Key: " + base64.b64encode(k).decode(), "Sec-WebSocket-Version: 13"])
    add("fragment", "section 3: no fragments", "ws://example.com/#x", k, error="Fragment")
    add("http-scheme", "not a WebSocket URL", "http://example.com/", k, error="NotWebSocket")
    add("reserved-header", "Sec-WebSocket-Key is the handshake's", "ws://a/", k,
        headers=[("sec-websocket-key", "x")], error="ReservedHeader")
    add("header-injection", "CR LF in a value", "ws://a/", k,
        headers=[("X-A", "1\r\nX-B: 2")], error="InvalidHeaderValue")
    add("protocol-not-token", "section 4.1 item 10", "ws://a/", k, protocols=["a b"],
        error="InvalidProtocol")

    write("client-requests", "Opening requests a client writes for a URL, key and options.", v)


if __name__ == "__main__":
    accept_keys()
    valid_requests()
    invalid_requests()
    responses()
    client_requests()
