#!/usr/bin/env python3
"""Writes the permessage-deflate vectors in this folder (README.md gives the
format).

Expectations come from RFC 7692, never from running our implementation:
the negotiation answers are worked out from sections 7.1.1-7.1.2 (where the
RFC leaves a choice, the vector states the policy README.md describes), the
payloads are the RFC's section 7.2.3 examples byte for byte, and the bombs are
built with Python's zlib and checked here by inflating them.
Run it from anywhere: `python3 vectors/deflate/generate.py`.
"""

import json
import os
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
PD = "permessage-deflate"
BOTH_OFF = f"{PD}; server_no_context_takeover; client_no_context_takeover"


def write(name, doc):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")


# --- negotiation, server side -------------------------------------------------

DEFAULT = {}
TAKEOVER12 = {
    "context_takeover": True,
    "peer_context_takeover": True,
    "max_window_bits": 12,
    "peer_max_window_bits": 12,
}

server = []


def s(name, config, offer, response, note):
    server.append(
        {"name": name, "config": config, "offer": offer, "response": response, "note": note}
    )


s("bare", DEFAULT, PD, BOTH_OFF,
  "no parameters: the server may add server_no_context_takeover (7.1.1.1) and "
  "client_no_context_takeover (7.1.1.2) on its own")
s("chromium", DEFAULT, f"{PD}; client_max_window_bits", BOTH_OFF,
  "Chromium's offer; without context takeover there is no need to set the client's window")
s("client-window-value", DEFAULT, f"{PD}; client_max_window_bits=10",
  f"{BOTH_OFF}; client_max_window_bits=10",
  "a named client window is answered with the same value (7.1.2.2 allows equal or smaller)")
s("server-window-10", DEFAULT, f"{PD}; server_max_window_bits=10",
  f"{BOTH_OFF}; server_max_window_bits=10",
  "a server accepting server_max_window_bits MUST answer with it, at most the offered value (7.1.2.1)")
s("server-window-8", DEFAULT, f"{PD}; server_max_window_bits=8",
  f"{BOTH_OFF}; server_max_window_bits=8",
  "8 is honoured (compressed with 9 bits, whose matches never reach past 256 bytes)")
s("server-window-quoted", DEFAULT, f'{PD}; server_max_window_bits="10"',
  f"{BOTH_OFF}; server_max_window_bits=10", "a quoted value is the same value (RFC 6455 9.1)")
s("server-no-takeover-asked", DEFAULT, f"{PD}; server_no_context_takeover", BOTH_OFF,
  "asked for: MUST be in the response (7.1.1.1)")
s("client-no-takeover-hint", DEFAULT, f"{PD}; client_no_context_takeover", BOTH_OFF,
  "the client's hint; the server may include the parameter (7.1.1.2)")
s("everything", DEFAULT,
  f"{PD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; "
  "client_max_window_bits=9",
  f"{BOTH_OFF}; server_max_window_bits=9; client_max_window_bits=9", "every parameter once")
for name, offer, why in [
    ("unknown-parameter", f"{PD}; foo", "a parameter not defined for offers"),
    ("unknown-parameter-value", f"{PD}; foo=1", "a parameter not defined for offers"),
    ("wrong-case-parameter", f"{PD}; Server_No_Context_Takeover", "parameter names are exact"),
    ("duplicate-flag", f"{PD}; server_no_context_takeover; server_no_context_takeover",
     "the same parameter twice"),
    ("duplicate-window", f"{PD}; client_max_window_bits; client_max_window_bits=10",
     "the same parameter twice, once without a value"),
    ("flag-with-value", f"{PD}; client_no_context_takeover=true", "a value on a flag"),
    ("server-window-without-value", f"{PD}; server_max_window_bits",
     "server_max_window_bits needs a value (7.1.2.1)"),
    ("server-window-7", f"{PD}; server_max_window_bits=7", "below 8"),
    ("server-window-16", f"{PD}; server_max_window_bits=16", "above 15"),
    ("server-window-leading-zero", f"{PD}; server_max_window_bits=09", "a leading zero"),
    ("client-window-16", f"{PD}; client_max_window_bits=16", "above 15"),
    ("client-window-word", f"{PD}; client_max_window_bits=max", "not a number"),
    ("other-extension", "x-webkit-deflate-frame", "no permessage-deflate offer at all"),
]:
    s(name, DEFAULT, offer, None,
      f"{why}: the offer MUST be declined (section 7), and with no other offer the "
      "response names no extension")
s("first-acceptable-offer", DEFAULT,
  f"x-webkit-deflate-frame, {PD}; foo, {PD}; server_max_window_bits=9, {PD}",
  f"{BOTH_OFF}; server_max_window_bits=9",
  "offers are tried in order: the unknown extension and the invalid offer are skipped")
s("autobahn-13.7", DEFAULT,
  f"{PD}; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; "
  f"server_max_window_bits=9, {PD}; client_no_context_takeover; client_max_window_bits; "
  f"server_no_context_takeover, {PD}; client_no_context_takeover; client_max_window_bits",
  f"{BOTH_OFF}; server_max_window_bits=9", "the first of three acceptable offers")
s("takeover-chromium", TAKEOVER12, f"{PD}; client_max_window_bits",
  f"{PD}; server_max_window_bits=12; client_max_window_bits=12",
  "with context takeover the server sets the client's window, which the offer allows")
s("takeover-bare", TAKEOVER12, PD, f"{PD}; server_max_window_bits=12",
  "no client_max_window_bits offered: the server MUST NOT send it (7.1.2.2); the client may use 15 bits")
s("takeover-server-refused", TAKEOVER12, f"{PD}; server_no_context_takeover; client_max_window_bits",
  f"{PD}; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
  "the client forbids the server's takeover; the client's own stays")
s("takeover-client-promise", TAKEOVER12, f"{PD}; client_no_context_takeover; client_max_window_bits",
  f"{PD}; client_no_context_takeover; server_max_window_bits=12",
  "the client promised not to take over: no client window to set")
s("takeover-smaller-windows", TAKEOVER12,
  f"{PD}; server_max_window_bits=10; client_max_window_bits=9",
  f"{PD}; server_max_window_bits=10; client_max_window_bits=9",
  "windows below the server's own are kept")

write("negotiation-server.json", {
    "title": "permessage-deflate offers a server receives, and its answer",
    "vectors": server,
})

# --- negotiation, client side -------------------------------------------------

client = []
DEFAULT_OFFER = (f"{PD}; server_no_context_takeover; client_no_context_takeover; "
                 "client_max_window_bits")


def c(name, config, offer, response, expect, note):
    client.append({"name": name, "config": config, "offer": offer, "response": response,
                   "expect": expect, "note": note})


def ok(send_bits, send_takeover, recv_bits, recv_takeover):
    return {"send": {"window_bits": send_bits, "takeover": send_takeover},
            "recv": {"window_bits": recv_bits, "takeover": recv_takeover}}


c("minimal", DEFAULT, DEFAULT_OFFER, f"{PD}; server_no_context_takeover", ok(15, False, 15, False),
  "the requested server_no_context_takeover is there; no window set: 15 bits")
c("both-flags", DEFAULT, DEFAULT_OFFER, BOTH_OFF, ok(15, False, 15, False), "")
c("server-window", DEFAULT, DEFAULT_OFFER, f"{BOTH_OFF}; server_max_window_bits=9",
  ok(15, False, 9, False), "the server may add server_max_window_bits unasked (7.1.2.1)")
c("client-window-8", DEFAULT, DEFAULT_OFFER, f"{BOTH_OFF}; client_max_window_bits=8",
  ok(8, False, 15, False), "the offer allowed any client window")
c("client-window-quoted", DEFAULT, DEFAULT_OFFER, f'{BOTH_OFF}; client_max_window_bits="10"',
  ok(10, False, 15, False), "")
c("no-extension", DEFAULT, DEFAULT_OFFER, None, {"negotiated": False},
  "a server may always decline: the connection goes on without compression")
for name, response, err, why in [
    ("missing-server-no-takeover", PD, "missing_server_no_context_takeover",
     "asked for, absent (7.1.1.1: MUST)"),
    ("client-window-without-value", f"{PD}; server_no_context_takeover; client_max_window_bits",
     "missing_value", "a response's client_max_window_bits has a value (7.1.2.2)"),
    ("unknown-parameter", f"{PD}; server_no_context_takeover; foo", "unknown",
     "not defined for responses"),
    ("duplicate", f"{PD}; server_no_context_takeover; server_no_context_takeover", "duplicate", ""),
    ("server-window-16", f"{PD}; server_no_context_takeover; server_max_window_bits=16",
     "invalid_value", ""),
    ("accepted-twice", f"{PD}; server_no_context_takeover, {PD}; server_no_context_takeover",
     "repeated", "one offer, one acceptance"),
    ("unoffered-extension", f"{PD}; server_no_context_takeover, x-foo", "unoffered_extension",
     "RFC 6455 4.1: an extension not offered"),
]:
    c(name, DEFAULT, DEFAULT_OFFER, response, {"error": err},
      f"{why}: the client MUST fail the connection (section 7)")
LIMITED = {"peer_context_takeover": True, "peer_max_window_bits": 10}
LIMITED_OFFER = f"{PD}; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits"
c("asked-server-window", LIMITED, LIMITED_OFFER, f"{PD}; server_max_window_bits=10",
  ok(15, False, 10, True), "")
c("smaller-server-window", LIMITED, LIMITED_OFFER, f"{PD}; server_max_window_bits=9",
  ok(15, False, 9, True), "smaller than asked is fine")
c("larger-server-window", LIMITED, LIMITED_OFFER, f"{PD}; server_max_window_bits=11",
  {"error": "window_too_large"}, "more than asked")
c("missing-server-window", LIMITED, LIMITED_OFFER, PD, {"error": "missing_server_max_window_bits"},
  "asked for, absent (7.1.2.1: MUST)")
OWN10 = {"max_window_bits": 10}
OWN10_OFFER = (f"{PD}; server_no_context_takeover; client_no_context_takeover; "
               "client_max_window_bits=10")
c("own-window-kept", OWN10, OWN10_OFFER, f"{BOTH_OFF}", ok(10, False, 15, False),
  "the client's own limit stands when the server sets none")
c("own-window-smaller", OWN10, OWN10_OFFER, f"{BOTH_OFF}; client_max_window_bits=9",
  ok(9, False, 15, False), "")
c("own-window-larger", OWN10, OWN10_OFFER, f"{BOTH_OFF}; client_max_window_bits=11",
  {"error": "window_too_large"}, "more than the offer named (7.1.2.2)")
TAKE = {"context_takeover": True, "peer_context_takeover": True}
c("takeover-both", TAKE, f"{PD}; client_max_window_bits", PD, ok(15, True, 15, True), "")
c("takeover-refused", TAKE, f"{PD}; client_max_window_bits", f"{PD}; client_no_context_takeover",
  ok(15, False, 15, True), "the server may always forbid the client's takeover (7.1.1.2)")

write("negotiation-client.json", {
    "title": "permessage-deflate responses a client receives to its offer, and its verdict",
    "vectors": client,
})

# --- payloads -----------------------------------------------------------------

HELLO = "f248cdc9c90700"
payloads = []


def p(name, takeover, messages, note, window_bits=15, max_message_size=None):
    v = {"name": name, "takeover": takeover, "window_bits": window_bits, "messages": messages,
         "note": note}
    if max_message_size is not None:
        v["max_message_size"] = max_message_size
    payloads.append(v)


p("7.2.3.1", False, [{"payload": [HELLO], "inflated": "Hello", "zlib": True}],
  "'Hello' compressed; zlib at its default level produces exactly these bytes")
p("7.2.3.2", True, [{"payload": [HELLO], "inflated": "Hello", "zlib": True},
                    {"payload": ["f200110000"], "inflated": "Hello", "zlib": True}],
  "the second 'Hello' is one match into the first: context takeover")
p("7.2.3.2/no-takeover", False, [{"payload": [HELLO], "inflated": "Hello"},
                                 {"payload": ["f200110000"], "error": "invalid_data"}],
  "the same second message without context takeover refers before the start of its stream")
p("7.2.3.3", False, [{"payload": ["000500faff48656c6c6f00"], "inflated": "Hello"}],
  "a stored block (no compression)")
p("7.2.3.4", False, [{"payload": ["f348cdc9c9070000"], "inflated": "Hello"}],
  "a block with BFINAL set; the bytes after the final block are ignored")
p("7.2.3.5", False, [{"payload": ["f248050000" + "00ffff" + "cac9c90700"], "inflated": "Hello"}],
  "two blocks in one message")
p("7.2.3.6", False, [{"payload": ["00"], "inflated": "", "zlib": True}],
  "an empty message: a lone 00 (the receiver's tail completes the stored block)")
p("garbage", False, [{"payload": ["ffffff"], "error": "invalid_data"}], "block type 3 is reserved")
p("window-8", True, [{"payload": [HELLO], "inflated": "Hello"},
                     {"payload": ["f200110000"], "inflated": "Hello"}],
  "the RFC's second message fits an 8-bit window", window_bits=8)

# Compression bombs: one dynamic block whose every 0x00 byte is four
# 258-byte matches (1032 bytes out): about 1000:1.
comp = zlib.compressobj(9, zlib.DEFLATED, -15)
raw = comp.compress(b"\0" * (4 << 20)) + comp.flush(zlib.Z_SYNC_FLUSH)
assert raw.endswith(b"\0\0\xff\xff")
raw = raw[:-4]
start = raw.index(b"\0" * 64)
end = start
while raw[end] == 0:
    end += 1
prefix, run, suffix = raw[:start], end - start, raw[end:]


def inflated_len(data):
    d = zlib.decompressobj(-15)
    n, buf = 0, data + b"\0\0\xff\xff"
    while buf:
        n += len(d.decompress(buf, 1 << 24))
        buf = d.unconsumed_tail
    return n


def bomb(extra):
    spec = [prefix.hex(), {"repeat_hex": "00", "len": run + extra}, suffix.hex()]
    data = prefix + b"\0" * (run + extra) + suffix
    return spec, data


spec4, data4 = bomb(0)
assert inflated_len(data4) == 4 << 20
extra = -(-((1 << 30) - (4 << 20)) // 1032)
spec1g, data1g = bomb(extra)
big = inflated_len(data1g)
assert big >= 1 << 30 and big == (4 << 20) + extra * 1032
p("bomb-4mib", False, [{"payload": spec4, "inflated_len": 4 << 20}],
  f"{len(data4)} bytes that inflate to 4 MiB, within a 4 MiB limit")
p("bomb-4mib/limit-1mib", False, [{"payload": spec4, "error": "too_large"}],
  f"{len(data4)} bytes that inflate to 4 MiB, against a 1 MiB limit", max_message_size=1 << 20)
p("bomb-1gib/limit-64mib", False, [{"payload": spec1g, "error": "too_large"}],
  f"{len(data1g)} bytes that inflate to {big} bytes, against the default 64 MiB limit",
  max_message_size=64 << 20)

write("payloads.json", {
    "title": "compressed message payloads (RFC 7692 section 7.2.3 examples, invalid data, bombs)",
    "vectors": payloads,
})
print(f"{len(server)} server, {len(client)} client, {len(payloads)} payload vectors")
