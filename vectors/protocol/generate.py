#!/usr/bin/env python3
"""Writes the protocol vectors in this folder (see README.md for the format).

The JSON files are the vectors; this script is how they were written, so that
wire offsets (`by_byte`), masks and the 130-odd UTF-8 cases are computed
rather than typed. Expectations come from RFC 6455 and from the Autobahn
TestSuite case descriptions, never from running our implementation.
Run it from anywhere: `python3 vectors/protocol/generate.py`. Nothing in the
build or the tests runs it.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

OPCODES = {
    "continuation": 0x0,
    "text": 0x1,
    "binary": 0x2,
    "close": 0x8,
    "ping": 0x9,
    "pong": 0xA,
}


# --- payloads ---------------------------------------------------------------

class P:
    """A payload: its bytes, and how the JSON spells it."""

    def __init__(self, data, spec):
        self.data = bytes(data)
        self.spec = spec


def text(s):
    return P(s.encode("utf-8"), s)


def hexp(b):
    return P(b, {"hex": bytes(b).hex()})


def rep(unit, n):
    u = unit.encode("utf-8")
    return P((u * (n // len(u) + 1))[:n], {"repeat": unit, "len": n})


def rep_hex(unit, n):
    return P((unit * (n // len(unit) + 1))[:n], {"repeat_hex": unit.hex(), "len": n})


def close_payload(code, reason="", reason_hex=None):
    spec = {"code": code}
    if reason_hex is not None:
        r = bytes.fromhex(reason_hex)
        spec["reason_hex"] = reason_hex
    else:
        r = reason.encode("utf-8")
        if reason:
            spec["reason"] = reason
    return P(code.to_bytes(2, "big") + r, spec)


EMPTY = P(b"", "")


# --- UTF-8: the well-formed byte sequences of Unicode's table 3-7 -----------

def utf8_first_bad(data):
    """Index of the first byte that no valid UTF-8 text can contain at that
    point, len(data) if the data ends inside a character, or None if valid."""
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        if 0xC2 <= b <= 0xDF:
            ranges = [(0x80, 0xBF)]
        elif b == 0xE0:
            ranges = [(0xA0, 0xBF), (0x80, 0xBF)]
        elif 0xE1 <= b <= 0xEC or 0xEE <= b <= 0xEF:
            ranges = [(0x80, 0xBF), (0x80, 0xBF)]
        elif b == 0xED:
            ranges = [(0x80, 0x9F), (0x80, 0xBF)]
        elif b == 0xF0:
            ranges = [(0x90, 0xBF), (0x80, 0xBF), (0x80, 0xBF)]
        elif 0xF1 <= b <= 0xF3:
            ranges = [(0x80, 0xBF)] * 3
        elif b == 0xF4:
            ranges = [(0x80, 0x8F), (0x80, 0xBF), (0x80, 0xBF)]
        else:
            return i
        for k, (lo, hi) in enumerate(ranges):
            j = i + 1 + k
            if j == n:
                return n
            if not lo <= data[j] <= hi:
                return j
        i += 1 + len(ranges)
    return None


def utf8_valid(data):
    ok = utf8_first_bad(data) is None
    try:
        data.decode("utf-8")
        assert ok, data.hex()
    except UnicodeDecodeError:
        assert not ok, data.hex()
    return ok


# --- frames -----------------------------------------------------------------

def encode_frame(fin, rsv, opcode, mask, payload):
    """rsv uses the Autobahn numbering: 4 = RSV1, 2 = RSV2, 1 = RSV3."""
    out = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    m = 0x80 if mask is not None else 0
    n = len(payload)
    if n < 126:
        out.append(m | n)
    elif n <= 0xFFFF:
        out.append(m | 126)
        out += n.to_bytes(2, "big")
    else:
        out.append(m | 127)
        out += n.to_bytes(8, "big")
    header_len = len(out) + (4 if mask is not None else 0)
    if mask is None:
        out += payload
    else:
        out += mask
        out += bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(out), header_len


class Frame:
    """Where a frame landed in a vector's input."""

    def __init__(self, start, header_len, payload_len):
        self.start = start
        self.header_end = start + header_len
        self.end = start + header_len + payload_len

    def byte(self, k):
        """The input length once the frame's k-th byte (1-based) is in."""
        return self.start + k


class Builder:
    """Collects the steps and expectations of one vector."""

    def __init__(self, role):
        self.role = role
        self.steps = []
        self.wire = bytearray()
        self.frames = 0

    def next_mask(self):
        if self.role != "server":
            return None
        k = self.frames
        return bytes([(0x37 + 53 * k) & 0xFF, (0xFA + 29 * k) & 0xFF,
                      (0x21 + 71 * k) & 0xFF, (0x3D + 11 * k) & 0xFF])

    def frame(self, opcode, payload=EMPTY, fin=True, rsv=0, chop=None, masked=None):
        code = OPCODES[opcode] if isinstance(opcode, str) else opcode
        if masked is None:
            masked = self.role == "server"
        mask = self.next_mask() if masked else None
        if masked and mask is None:
            mask = bytes([0x5A, 0xA5, 0x0F, 0xF0])
        self.frames += 1
        wire, header_len = encode_frame(fin, rsv, code, mask, payload.data)
        step = {}
        if not fin:
            step["fin"] = False
        for bit, name in ((4, "rsv1"), (2, "rsv2"), (1, "rsv3")):
            if rsv & bit:
                step[name] = True
        step["opcode"] = opcode
        if mask is not None:
            step["mask"] = mask.hex()
        if payload.data:
            step["payload"] = payload.spec
        if chop:
            step["chop"] = chop
        self.steps.append(step)
        info = Frame(len(self.wire), header_len, len(payload.data))
        self.wire += wire
        return info

    def raw(self, data, chop=None):
        step = {"raw": bytes(data).hex()}
        if chop:
            step["chop"] = chop
        self.steps.append(step)
        self.wire += data

    def repeat(self, times, build):
        """Steps built by `build(builder)`, repeated `times` times."""
        inner = Builder(self.role)
        inner.frames = self.frames
        build(inner)
        self.steps.append({"repeat": times, "steps": inner.steps})
        self.wire += bytes(inner.wire) * times
        self.frames = inner.frames


# --- vectors ----------------------------------------------------------------

def ev(kind, payload=None, **extra):
    if kind == "close":
        return {"close": {"code": extra.get("code"), "reason": extra.get("reason", "")}}
    if kind == "fragment":
        return {"fragment": {"kind": extra["msg"], "payload": payload.spec, "fin": extra["fin"]}}
    return {kind: payload.spec}


def sent(opcode, payload=None, fin=True, code=None, reason=None):
    s = {"opcode": opcode}
    if not fin:
        s["fin"] = False
    if opcode == "close":
        s["code"] = code
        if reason is not None:
            s["reason"] = reason
    else:
        s["payload"] = payload.spec
    return s


def rep_ev(times, items):
    return {"repeat": times, "items": items}


class Vector:
    def __init__(self, name, description, role="server", **config):
        self.name = name
        self.description = description
        self.role = role
        self.config = config
        self.b = Builder(role)
        self.events = []
        self.sent = []
        self.outcome = None

    # The peer's closing handshake that ends every Autobahn case that did
    # not fail: close 1000, answered with close 1000.
    def peer_closes(self, code=1000):
        self.b.frame("close", close_payload(code))
        self.events.append(ev("close", code=code))
        self.sent.append(sent("close", code=code, reason=""))
        self.outcome = {"state": "closed"}

    def echo(self, kind, payload):
        self.events.append(ev(kind, payload))
        self.sent.append(sent(kind, payload))

    def fail(self, code, error, by_byte):
        self.sent.append(sent("close", code=code))
        self.outcome = {"state": "failed", "code": code, "error": error, "by_byte": by_byte}

    def open(self):
        self.outcome = {"state": "open"}

    def to_json(self):
        assert self.outcome is not None, self.name
        v = {"name": self.name, "description": self.description, "role": self.role}
        if self.config:
            v["config"] = self.config
        v["input"] = self.b.steps
        v["expect"] = {"events": self.events, "sent": self.sent, "outcome": self.outcome}
        return v


GROUPS = []


def group(filename, title):
    vectors = []
    GROUPS.append((filename, title, vectors))
    return vectors


# 1.x: framing ----------------------------------------------------------------

g = group("01-framing.json", "1.x framing: text and binary messages of boundary lengths, echoed")
for kind, sub, payload_of in (("text", 1, lambda n: rep("*", n)),
                              ("binary", 2, lambda n: rep_hex(b"\xfe", n))):
    for i, n in enumerate([0, 125, 126, 127, 128, 65535, 65536, 65536], start=1):
        chopped = i == 8
        v = Vector(f"1.{sub}.{i}",
                   f"{kind} message, payload {n} bytes" + (", wire bytes in chops of 997" if chopped else ""))
        p = payload_of(n)
        v.b.frame(kind, p, chop=[997] if chopped else None)
        v.echo(kind, p)
        v.peer_closes()
        g.append(v)

# 2.x: pings and pongs -----------------------------------------------------------

g = group("02-ping-pong.json", "2.x pings and pongs")


def ping_case(name, desc, payload, chop=None, role="server"):
    v = Vector(name, desc, role=role)
    v.b.frame("ping", payload, chop=chop)
    v.events.append(ev("ping", payload))
    v.sent.append(sent("pong", payload))
    v.peer_closes()
    return v


g.append(ping_case("2.1", "ping without payload, answered by an empty pong", EMPTY))
g.append(ping_case("2.2", "ping with a small text payload", text("Hello, world!")))
g.append(ping_case("2.3", "ping with a small binary payload", hexp(b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff")))
g.append(ping_case("2.4", "ping with a 125-byte payload, the most a control frame may carry",
                   rep_hex(b"\xfe", 125)))
v = Vector("2.5", "ping with a 126-byte payload: control frame too long, 1002 once the length byte is in")
f = v.b.frame("ping", rep_hex(b"\xfe", 126))
v.fail(1002, "control_too_long", f.byte(2))
g.append(v)
g.append(ping_case("2.6", "ping with a 125-byte payload, wire bytes one at a time",
                   rep_hex(b"\xfe", 125), chop=[1]))
v = Vector("2.7", "unsolicited pong without payload: delivered, never answered")
v.b.frame("pong")
v.events.append(ev("pong", EMPTY))
v.peer_closes()
g.append(v)
v = Vector("2.8", "unsolicited pong with payload: delivered, never answered")
v.b.frame("pong", text("unsolicited pong payload"))
v.events.append(ev("pong", text("unsolicited pong payload")))
v.peer_closes()
g.append(v)
v = Vector("2.9", "unsolicited pong, then a ping: only the ping is answered")
v.b.frame("pong", text("unsolicited pong payload"))
v.b.frame("ping", text("ping payload"))
v.events += [ev("pong", text("unsolicited pong payload")), ev("ping", text("ping payload"))]
v.sent.append(sent("pong", text("ping payload")))
v.peer_closes()
g.append(v)
for name, chop in (("2.10", None), ("2.11", [1])):
    v = Vector(name, "10 pings with payloads, each answered in order (output drained after each event)"
               + (", wire bytes one at a time" if chop else ""))
    for k in range(10):
        p = text(f"payload-{k}")
        v.b.frame("ping", p, chop=chop)
        v.events.append(ev("ping", p))
        v.sent.append(sent("pong", p))
    v.peer_closes()
    g.append(v)

# 3.x: reserved bits ----------------------------------------------------------------

g = group("03-reserved-bits.json", "3.x RSV bits without a negotiated extension: fail with 1002")
HELLO = text("Hello, world!")
v = Vector("3.1", "text message with RSV = 1 (RSV3)")
f = v.b.frame("text", HELLO, rsv=1)
v.fail(1002, "reserved_bits", f.byte(1))
g.append(v)
for name, rsv, chop, how in (("3.2", 2, None, ""), ("3.3", 3, None, ", frame by frame"),
                             ("3.4", 4, [1], ", wire bytes one at a time")):
    v = Vector(name, f"text message, then one with RSV = {rsv}, then a ping: the first is echoed, "
               f"the connection fails at the second{how}")
    v.b.frame("text", HELLO, chop=chop)
    f = v.b.frame("text", HELLO, rsv=rsv, chop=chop)
    v.b.frame("ping", chop=chop)
    v.echo("text", HELLO)
    v.fail(1002, "reserved_bits", f.byte(1))
    g.append(v)
v = Vector("3.5", "binary message with RSV = 5 (RSV1 and RSV3)")
f = v.b.frame("binary", hexp(b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"), rsv=5)
v.fail(1002, "reserved_bits", f.byte(1))
g.append(v)
v = Vector("3.6", "ping with RSV = 6 (RSV1 and RSV2): not answered")
f = v.b.frame("ping", HELLO, rsv=6)
v.fail(1002, "reserved_bits", f.byte(1))
g.append(v)
v = Vector("3.7", "close with RSV = 7: not echoed, the connection fails")
f = v.b.frame("close", close_payload(1000), rsv=7)
v.fail(1002, "reserved_bits", f.byte(1))
g.append(v)

# 4.x: reserved opcodes ------------------------------------------------------------

g = group("04-opcodes.json", "4.x reserved opcodes: fail with 1002 at the first byte")
for sub, ops in ((1, [3, 4, 5, 6, 7]), (2, [11, 12, 13, 14, 15])):
    for i, op in enumerate(ops, start=1):
        kind = "non-control" if sub == 1 else "control"
        with_payload = i != 1 and i != 3
        after_text = i >= 3
        desc = (("text message, then " if after_text else "")
                + f"frame with reserved {kind} opcode {op}"
                + (" and a payload" if with_payload else "")
                + (", then a ping: the text is echoed, the ping never answered" if after_text else ""))
        v = Vector(f"4.{sub}.{i}", desc)
        if after_text:
            v.b.frame("text", HELLO)
        f = v.b.frame(op, text("reserved opcode payload") if with_payload else EMPTY)
        if after_text:
            v.b.frame("ping")
            v.echo("text", HELLO)
        v.fail(1002, "reserved_opcode", f.byte(1))
        g.append(v)

# 5.x: fragmentation -------------------------------------------------------------

g = group("05-fragmentation.json", "5.x fragmentation")
FR = [text(f"fragment{k}") for k in range(1, 6)]

for name, op in (("5.1", "ping"), ("5.2", "pong")):
    v = Vector(name, f"{op} in two fragments: control frames may not be fragmented")
    f = v.b.frame(op, FR[0], fin=False)
    v.b.frame("continuation", FR[1])
    v.fail(1002, "fragmented_control", f.byte(1))
    g.append(v)

for name, how, chop in (("5.3", "in one go", None), ("5.4", "frame by frame", None),
                        ("5.5", "wire bytes one at a time", [1])):
    v = Vector(name, f"text message in two fragments, {how}")
    v.b.frame("text", FR[0], fin=False, chop=chop)
    v.b.frame("continuation", FR[1], chop=chop)
    v.echo("text", text("fragment1fragment2"))
    v.peer_closes()
    g.append(v)

for name, how, chop in (("5.6", "in one go", None), ("5.7", "frame by frame", None),
                        ("5.8", "wire bytes one at a time", [1])):
    v = Vector(name, f"text message in two fragments with a ping between them, {how}: "
               "the ping is delivered and answered at once")
    v.b.frame("text", FR[0], fin=False, chop=chop)
    v.b.frame("ping", text("ping payload"), chop=chop)
    v.b.frame("continuation", FR[1], chop=chop)
    v.events.append(ev("ping", text("ping payload")))
    v.sent.append(sent("pong", text("ping payload")))
    v.echo("text", text("fragment1fragment2"))
    v.peer_closes()
    g.append(v)

for base, fin in ((9, True), (12, False)):
    for k, (how, chop) in enumerate((("in one go", None), ("frame by frame", None),
                                     ("wire bytes one at a time", [1]))):
        v = Vector(f"5.{base + k}", f"continuation frame with FIN = {str(fin).lower()} and nothing "
                   f"to continue, then a text message, {how}")
        f = v.b.frame("continuation", text("non-continuation payload"), fin=fin, chop=chop)
        v.b.frame("text", text("Hello, world!"), chop=chop)
        v.fail(1002, "unexpected_continuation", f.header_end)
        g.append(v)

v = Vector("5.15", "text message in two fragments, then a continuation with FIN = false and "
           "nothing to continue, then a text message: the first is echoed")
v.b.frame("text", FR[0], fin=False)
v.b.frame("continuation", FR[1])
f = v.b.frame("continuation", FR[2], fin=False)
v.b.frame("text", FR[3])
v.echo("text", text("fragment1fragment2"))
v.fail(1002, "unexpected_continuation", f.header_end)
g.append(v)

for name, fin in (("5.16", False), ("5.17", True)):
    v = Vector(name, f"twice: continuation with FIN = {str(fin).lower()} and nothing to continue, "
               "then a text message in two fragments")
    first = None
    for _ in range(2):
        f = v.b.frame("continuation", FR[0], fin=fin)
        first = first or f
        v.b.frame("text", FR[1], fin=False)
        v.b.frame("continuation", FR[2])
    v.fail(1002, "unexpected_continuation", first.header_end)
    g.append(v)

v = Vector("5.18", "text message in two fragments whose second frame is a text frame, "
           "not a continuation")
v.b.frame("text", FR[0], fin=False)
f = v.b.frame("text", FR[1])
v.fail(1002, "expected_continuation", f.header_end)
g.append(v)

for name, how in (("5.19", "in one go"), ("5.20", "frame by frame")):
    v = Vector(name, "text message in five fragments with two pings between them, "
               f"{how}: each ping answered before the message completes")
    v.b.frame("text", FR[0], fin=False)
    v.b.frame("continuation", FR[1], fin=False)
    v.b.frame("ping", text("pongme 1!"))
    v.b.frame("continuation", FR[2], fin=False)
    v.b.frame("continuation", FR[3], fin=False)
    v.b.frame("ping", text("pongme 2!"))
    v.b.frame("continuation", FR[4])
    for p in ("pongme 1!", "pongme 2!"):
        v.events.append(ev("ping", text(p)))
        v.sent.append(sent("pong", text(p)))
    v.echo("text", text("fragment1fragment2fragment3fragment4fragment5"))
    v.peer_closes()
    g.append(v)

# 6.x: UTF-8 ----------------------------------------------------------------------

g = group("06-utf8.json", "6.x UTF-8 in text messages: echo valid text, fail invalid text with 1007 "
          "at the first byte that can never be valid")


def readable(data):
    """Text as a JSON string when it is valid and printable, else hex."""
    if utf8_valid(data) and data.decode("utf-8").isprintable():
        return text(data.decode("utf-8"))
    return hexp(data)


def text_message(name, desc, data, cuts=None):
    """A text message carrying `data`, split into frames at `cuts` (payload
    offsets), echoed if valid, failed with 1007 at the first bad byte if not."""
    v = Vector(name, desc)
    bounds = [0] + (cuts or []) + [len(data)]
    frames = []
    for k in range(len(bounds) - 1):
        piece = data[bounds[k]:bounds[k + 1]]
        p = readable(piece)
        last = k == len(bounds) - 2
        f = v.b.frame("text" if k == 0 else "continuation", p, fin=last)
        frames.append((bounds[k], f))
    bad = utf8_first_bad(data)
    if bad is None:
        p = readable(data)
        v.echo("text", p)
        v.peer_closes()
    elif bad == len(data):
        v.fail(1007, "invalid_utf8", frames[-1][1].end)
    else:
        # The frame holding the bad byte, and the byte's position on the wire.
        off, f = [(o, f) for (o, f) in frames if o <= bad][-1]
        v.fail(1007, "invalid_utf8", f.header_end + (bad - off) + 1)
    return v


v = Vector("6.1.1", "empty text message")
v.b.frame("text")
v.echo("text", EMPTY)
v.peer_closes()
g.append(v)
v = Vector("6.1.2", "empty text message in three empty fragments")
v.b.frame("text", fin=False)
v.b.frame("continuation", fin=False)
v.b.frame("continuation")
v.echo("text", EMPTY)
v.peer_closes()
g.append(v)
v = Vector("6.1.3", "text message in three fragments, the first and last empty")
v.b.frame("text", fin=False)
v.b.frame("continuation", text("middle frame payload"), fin=False)
v.b.frame("continuation")
v.echo("text", text("middle frame payload"))
v.peer_closes()
g.append(v)

HELLO_UTF8 = "Hello-µ@ßöäüàá-UTF-8!!".encode("utf-8")
g.append(text_message("6.2.1", "valid UTF-8 text in one frame", HELLO_UTF8))
g.append(text_message("6.2.2", "valid UTF-8 text in two frames, split on a character boundary",
                      HELLO_UTF8, [HELLO_UTF8.index("ü".encode())]))
g.append(text_message("6.2.3", "valid UTF-8 text in one-byte frames, splitting characters",
                      HELLO_UTF8, list(range(1, len(HELLO_UTF8)))))
KOSME = bytes.fromhex("cebae1bdb9cf83cebcceb5")
g.append(text_message("6.2.4", "'κόσμε' in one-byte frames", KOSME, list(range(1, len(KOSME)))))
BAD = bytes.fromhex("cebae1bdb9cf83cebcceb5eda080656469746564")
g.append(text_message("6.3.1", "'κόσμε' + ED A0 80 (a surrogate) + 'edited' in one frame", BAD))
g.append(text_message("6.3.2", "the same invalid text in one-byte frames: fails at the A0 frame",
                      BAD, list(range(1, len(BAD)))))

PART1, PART2, PART3 = KOSME, bytes.fromhex("f4908080"), b"edited"
WHOLE = PART1 + PART2 + PART3
g.append(text_message("6.4.1", "fail fast: 'κόσμε' | F4 90 80 80 (above U+10FFFF) | 'edited' as "
                      "three frames; fails at the 0x90 of frame two, frame three never read",
                      WHOLE, [11, 15]))
g.append(text_message("6.4.2", "fail fast: 'κόσμε' F4 | 90 | 80 80 'edited' as three frames; "
                      "fails on frame two, the lone 0x90", WHOLE, [12, 13]))
for name, cut in (("6.4.3", [11, 15]), ("6.4.4", [12, 13])):
    v = Vector(name, "fail fast: the same invalid text in one frame whose wire bytes arrive in "
               f"three chops (payload cut at {cut[0]} and {cut[1]}); fails inside the second chop")
    p = hexp(WHOLE)
    # One frame, chopped: header + payload[:cut0], then the middle, then the rest.
    wire, header_len = encode_frame(True, 0, 1, v.b.next_mask(), WHOLE)
    f = v.b.frame("text", p, chop=[header_len + cut[0], cut[1] - cut[0], len(WHOLE) - cut[1]])
    v.fail(1007, "invalid_utf8", f.header_end + utf8_first_bad(WHOLE) + 1)
    g.append(v)

# 6.5 - 6.23: the sequences of Markus Kuhn's UTF-8 decoder stress test, as the
# suite numbers them, each a text message of one frame.
SEQ = []
SEQ.append(("Some valid UTF-8 sequences", [
    b"hello\x24world", b"hello\xc2\xa2world", b"hello\xe2\x82\xacworld",
    b"hello\xf0\xa4\xad\xa2world", KOSME]))
SEQ.append(("All prefixes of 'κόσμε'", [KOSME[:i] for i in range(1, len(KOSME) + 1)]))
SEQ.append(("First possible sequence of each length",
            [b"\x00", b"\xc2\x80", b"\xe0\xa0\x80", b"\xf0\x90\x80\x80"]))
SEQ.append(("First possible sequence of length 5 and 6 (beyond U+10FFFF)",
            [b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80"]))
SEQ.append(("Last possible sequence of each length",
            [b"\x7f", b"\xdf\xbf", b"\xef\xbf\xbf", b"\xf4\x8f\xbf\xbf"]))
SEQ.append(("Last possible sequence of length 4, 5 and 6 (beyond U+10FFFF)",
            [b"\xf7\xbf\xbf\xbf", b"\xfb\xbf\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf\xbf"]))
SEQ.append(("Other boundary conditions",
            [b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xef\xbf\xbd", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80"]))
SEQ.append(("Unexpected continuation bytes",
            [b"\x80", b"\xbf", b"\x80\xbf", b"\x80\xbf\x80", b"\x80\xbf\x80\xbf",
             b"\x80\xbf\x80\xbf\x80", b"\x80\xbf\x80\xbf\x80\xbf", bytes(range(0x80, 0xbf))]))
SEQ.append(("Lonely start characters, each followed by a space",
            [b"".join(bytes([c, 0x20]) for c in range(lo, hi))
             for lo, hi in ((0xc0, 0xdf), (0xe0, 0xef), (0xf0, 0xf7), (0xf8, 0xfb), (0xfc, 0xfd))]))
MISSING = [b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xf8\x80\x80\x80", b"\xfc\x80\x80\x80\x80",
           b"\xdf", b"\xef\xbf", b"\xf7\xbf\xbf", b"\xfb\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf"]
SEQ.append(("Sequences with the last continuation byte missing", MISSING))
SEQ.append(("Concatenation of incomplete sequences", [b"".join(MISSING)]))
SEQ.append(("Impossible bytes", [b"\xfe", b"\xff", b"\xfe\xfe\xff\xff"]))
SEQ.append(("Overlong '/'", [b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf",
                             b"\xf8\x80\x80\x80\xaf", b"\xfc\x80\x80\x80\x80\xaf"]))
SEQ.append(("Maximum overlong sequences", [b"\xc1\xbf", b"\xe0\x9f\xbf", b"\xf0\x8f\xbf\xbf",
                                           b"\xf8\x87\xbf\xbf\xbf", b"\xfc\x83\xbf\xbf\xbf\xbf"]))
SEQ.append(("Overlong NUL", [b"\xc0\x80", b"\xe0\x80\x80", b"\xf0\x80\x80\x80",
                             b"\xf8\x80\x80\x80\x80", b"\xfc\x80\x80\x80\x80\x80"]))
SEQ.append(("Single UTF-16 surrogates", [bytes.fromhex(h) for h in (
    "eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf")]))
SEQ.append(("Paired UTF-16 surrogates", [bytes.fromhex(h) for h in (
    "eda080edb080", "eda080edbfbf", "edadbfedb080", "edadbfedbfbf",
    "edae80edb080", "edae80edbfbf", "edafbfedb080", "edafbfedbfbf")]))
NONCHARS = [b"\xef\xbf\xbe", b"\xef\xbf\xbf"]
for z1 in (0xf0, 0xf1, 0xf2, 0xf3, 0xf4):
    for z2 in (0x8f, 0x9f, 0xaf, 0xbf):
        if z1 == 0xf4 and z2 != 0x8f:
            continue  # beyond U+10FFFF
        for z3 in (0xbe, 0xbf):
            zz = bytes([z1, z2, 0xbf, z3])
            if zz not in (b"\xf0\x8f\xbf\xbe", b"\xf0\x8f\xbf\xbf"):  # overlong
                NONCHARS.append(zz)
SEQ.append(("Noncharacters (valid UTF-8)", NONCHARS))
SEQ.append(("Unicode specials (valid UTF-8)", [bytes([0xef, 0xbf, c]) for c in range(0xb9, 0xc0)]))
assert len(SEQ) == 19

for i, (title, seqs) in enumerate(SEQ, start=5):
    for j, data in enumerate(seqs, start=1):
        verdict = "valid" if utf8_valid(data) else "invalid"
        g.append(text_message(f"6.{i}.{j}", f"{title}: {data.hex()} ({verdict})", data))

# Variants: the suite's 6.6.x prefixes of 'κόσμε' again, each in one-byte
# frames; and 'κόσμε' and 6.3.1 split into two frames at every byte.
for j in range(1, len(KOSME) + 1):
    data = KOSME[:j]
    g.append(text_message(f"6.6.{j}/bytes", f"6.6.{j} ({data.hex()}) in one-byte frames",
                          data, list(range(1, len(data)))))
for cut in range(1, len(KOSME)):
    g.append(text_message(f"6.6.11/split@{cut}", f"'κόσμε' in two frames cut at byte {cut}",
                          KOSME, [cut]))
for cut in range(1, len(BAD)):
    g.append(text_message(f"6.3.1/split@{cut}", f"6.3.1's invalid text in two frames cut at byte {cut}",
                          BAD, [cut]))
for name, data, cut in (("6.21.1/split@3", bytes.fromhex("eda080edb080"), 3),
                        ("6.21.8/split@2", bytes.fromhex("edafbfedbfbf"), 2)):
    g.append(text_message(name, f"paired surrogates {data.hex()} in two frames cut at byte {cut}",
                          data, [cut]))

# 7.x: closing -----------------------------------------------------------------------

g = group("07-close.json", "7.x the closing handshake and close payloads")
v = Vector("7.1.1", "text message, then close: echo, then the close echoed")
v.b.frame("text", text("Hello World!"))
v.echo("text", text("Hello World!"))
v.peer_closes()
g.append(v)
v = Vector("7.1.2", "two close frames: one event, one reply; the second close is ignored")
v.peer_closes()
v.b.frame("close", close_payload(1000))
g.append(v)
v = Vector("7.1.3", "close, then a ping: the ping is ignored, never answered")
v.peer_closes()
v.b.frame("ping", text("Hello World!"))
g.append(v)
v = Vector("7.1.4", "close, then a text message: the message is ignored")
v.peer_closes()
v.b.frame("text", text("Hello World!"))
g.append(v)
v = Vector("7.1.5", "first fragment, close, last fragment: the close ends everything")
v.b.frame("text", text("fragment1"), fin=False)
v.peer_closes()
v.b.frame("continuation", text("fragment2"))
g.append(v)
v = Vector("7.1.6", "256 KiB text message, a small one, close, ping: both echoed, then the close; "
           "the ping is ignored")
big = rep("BAsd7&jh23", 256 << 10)
v.b.frame("text", big)
v.b.frame("text", text("Hello World!"))
v.echo("text", big)
v.echo("text", text("Hello World!"))
v.peer_closes()
v.b.frame("ping")
g.append(v)

v = Vector("7.3.1", "close with an empty payload: reported without a code, answered with 1000")
v.b.frame("close")
v.events.append(ev("close", code=None))
v.sent.append(sent("close", code=1000, reason=""))
v.outcome = {"state": "closed"}
g.append(v)
v = Vector("7.3.2", "close with a one-byte payload: 1002")
f = v.b.frame("close", text("a"))
v.fail(1002, "close_one_byte", f.end)
g.append(v)
v = Vector("7.3.3", "close 1000 without reason")
v.peer_closes()
g.append(v)
for name, reason in (("7.3.4", "Hello World!"), ("7.3.5", "*" * 123)):
    v = Vector(name, f"close 1000 with a {len(reason)}-byte reason: reported, code echoed")
    v.b.frame("close", close_payload(1000, reason))
    v.events.append(ev("close", code=1000, reason=reason))
    v.sent.append(sent("close", code=1000, reason=""))
    v.outcome = {"state": "closed"}
    g.append(v)
v = Vector("7.3.6", "close 1000 with a 124-byte reason: the 126-byte payload is too long, 1002")
f = v.b.frame("close", close_payload(1000, "*" * 124))
v.fail(1002, "control_too_long", f.byte(2))
g.append(v)
v = Vector("7.5.1", "close 1000 whose reason is not valid UTF-8: 1007")
f = v.b.frame("close", close_payload(1000, reason_hex="cebae1bdb9cf83cebcceb5eda080656469746564"))
v.fail(1007, "close_invalid_reason", f.end)
g.append(v)
for i, code in enumerate([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999],
                         start=1):
    v = Vector(f"7.7.{i}", f"close with valid code {code}: echoed")
    v.peer_closes(code)
    g.append(v)
for i, code in enumerate([0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999], start=1):
    v = Vector(f"7.9.{i}", f"close with invalid code {code}: 1002")
    f = v.b.frame("close", close_payload(code))
    v.fail(1002, "close_invalid_code", f.end)
    g.append(v)
for i, code in enumerate([5000, 65535], start=1):
    v = Vector(f"7.13.{i}", f"close with code {code}, outside every range: 1002 "
               "(the suite accepts either; we fail)")
    f = v.b.frame("close", close_payload(code))
    v.fail(1002, "close_invalid_code", f.end)
    g.append(v)

# 9.x: large messages, scaled down ------------------------------------------------------

g = group("09-large.json", "9.x large messages and many fragments, sizes scaled down by 16 "
          "(the suite's sizes in each description)")
SCALE = 16


def scaled(n):
    return n // SCALE


for sub, kind, payload_of in ((1, "text", lambda n: rep("BAsd7&jh23", n)),
                              (2, "binary", lambda n: rep_hex(b"\x00\xff\x7f\x80\xfe\x01\xc3", n))):
    for i, size in enumerate([64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20], start=1):
        n = scaled(size)
        v = Vector(f"9.{sub}.{i}", f"{kind} message of {n} bytes (suite: {size})")
        p = payload_of(n)
        v.b.frame(kind, p)
        v.echo(kind, p)
        v.peer_closes()
        g.append(v)

for sub, kind, unit in ((3, "text", lambda n: rep("*", n)), (4, "binary", lambda n: rep_hex(b"\xfe", n))):
    total = scaled(4 << 20)
    for i, frag in enumerate([64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20],
                             start=1):
        size = min(frag, total)
        v = Vector(f"9.{sub}.{i}", f"{kind} message of {total} bytes (suite: 4 MiB) in frames of "
                   f"{size} bytes (suite: {frag})")
        count = total // size

        def build(b, size=size):
            b.frame("continuation", unit(size), fin=False)

        if count == 1:
            v.b.frame(kind, unit(size))
        else:
            v.b.frame(kind, unit(size), fin=False)
            if count > 2:
                v.b.repeat(count - 2, build)
            v.b.frame("continuation", unit(size))
        v.echo(kind, unit(total))
        v.peer_closes()
        g.append(v)

for sub, kind, payload_of in ((5, "text", lambda n: rep("BAsd7&jh23", n)),
                              (6, "binary", lambda n: rep_hex(b"\x00\xff\x7f\x80\xfe\x01\xc3", n))):
    n = scaled(1 << 20)
    for i, chop in enumerate([64, 128, 256, 512, 1024, 2048], start=1):
        v = Vector(f"9.{sub}.{i}", f"{kind} message of {n} bytes (suite: 1 MiB), wire bytes in "
                   f"chops of {chop}")
        p = payload_of(n)
        v.b.frame(kind, p, chop=[chop])
        v.echo(kind, p)
        v.peer_closes()
        g.append(v)

for sub, kind, payload_of in ((7, "text", lambda n: rep("*", n)), (8, "binary", lambda n: rep_hex(b"\xfe", n))):
    for i, size in enumerate([0, 16, 64, 256, 1024, 4096], start=1):
        count = 1000 // 10
        v = Vector(f"9.{sub}.{i}", f"{count} {kind} messages of {size} bytes, each echoed in order "
                   "(suite: 1000, timed)")
        p = payload_of(size)
        v.b.repeat(count, lambda b, p=p: b.frame(kind, p))
        v.events.append(rep_ev(count, [ev(kind, p)]))
        v.sent.append(rep_ev(count, [sent(kind, p)]))
        v.peer_closes()
        g.append(v)

# 10.x: auto-fragmentation --------------------------------------------------------------

g = group("10-misc.json", "10.x miscellaneous")
v = Vector("10.1.1", "64 KiB text message in 1300-byte frames, echoed in 1300-byte frames",
           echo_fragment_size=1300)
n, size = 65536, 1300
count = n // size
v.b.frame("text", rep("*", size), fin=False)
v.b.repeat(count - 1, lambda b: b.frame("continuation", rep("*", size), fin=False))
v.b.frame("continuation", rep("*", n - count * size))
v.events.append(ev("text", rep("*", n)))
v.sent.append(sent("text", rep("*", size), fin=False))
v.sent.append(rep_ev(count - 1, [sent("continuation", rep("*", size), fin=False)]))
v.sent.append(sent("continuation", rep("*", n - count * size)))
v.peer_closes()
g.append(v)

# Client role: a selection of the cases above, with unmasked input -----------------

g = group("20-client.json", "a selection of cases with the roles swapped: we are the client, "
          "input frames are unmasked, our frames masked")
v = Vector("1.1.3", "text message, payload 126 bytes", role="client")
v.b.frame("text", rep("*", 126))
v.echo("text", rep("*", 126))
v.peer_closes()
g.append(v)
v = Vector("1.2.7", "binary message, payload 65536 bytes", role="client")
v.b.frame("binary", rep_hex(b"\xfe", 65536))
v.echo("binary", rep_hex(b"\xfe", 65536))
v.peer_closes()
g.append(v)
g.append(ping_case("2.4", "ping with a 125-byte payload", rep_hex(b"\xfe", 125), role="client"))
v = Vector("3.2", "text, then text with RSV = 2, then ping", role="client")
v.b.frame("text", HELLO)
f = v.b.frame("text", HELLO, rsv=2)
v.b.frame("ping")
v.echo("text", HELLO)
v.fail(1002, "reserved_bits", f.byte(1))
g.append(v)
v = Vector("5.6", "text in two fragments with a ping between", role="client")
v.b.frame("text", FR[0], fin=False)
v.b.frame("ping", text("ping payload"))
v.b.frame("continuation", FR[1])
v.events.append(ev("ping", text("ping payload")))
v.sent.append(sent("pong", text("ping payload")))
v.echo("text", text("fragment1fragment2"))
v.peer_closes()
g.append(v)
v = Vector("5.15", "two fragments, continuation with nothing to continue, text", role="client")
v.b.frame("text", FR[0], fin=False)
v.b.frame("continuation", FR[1])
f = v.b.frame("continuation", FR[2], fin=False)
v.b.frame("text", FR[3])
v.echo("text", text("fragment1fragment2"))
v.fail(1002, "unexpected_continuation", f.header_end)
g.append(v)
v = Vector("6.4.1", "fail fast on the second of three text frames", role="client")
v.b.frame("text", text(PART1.decode()), fin=False)
f = v.b.frame("continuation", hexp(PART2), fin=False)
v.b.frame("continuation", text("edited"))
v.fail(1007, "invalid_utf8", f.header_end + 2)
g.append(v)
v = Vector("7.1.5", "first fragment, close, last fragment", role="client")
v.b.frame("text", text("fragment1"), fin=False)
v.peer_closes()
v.b.frame("continuation", text("fragment2"))
g.append(v)
v = Vector("7.3.2", "close with a one-byte payload", role="client")
f = v.b.frame("close", text("a"))
v.fail(1002, "close_one_byte", f.end)
g.append(v)
v = Vector("7.5.1", "close reason not valid UTF-8", role="client")
f = v.b.frame("close", close_payload(1000, reason_hex="cebae1bdb9cf83cebcceb5eda080656469746564"))
v.fail(1007, "close_invalid_reason", f.end)
g.append(v)
v = Vector("7.9.4", "close with code 1005", role="client")
f = v.b.frame("close", close_payload(1005))
v.fail(1002, "close_invalid_code", f.end)
g.append(v)

# Extras: rules of RFC 6455 and of this crate that the suite has no case for -----------

g = group("30-extra.json", "rules with no Autobahn case: masking direction, length encoding, "
          "limits, auto-pong off, streaming delivery, truncated input")
v = Vector("x.1", "unmasked frame to a server: 1002 once the mask bit is seen")
f = v.b.frame("text", HELLO, masked=False)
v.fail(1002, "unmasked_frame", f.byte(2))
g.append(v)
v = Vector("x.2", "masked frame to a client: 1002 once the mask bit is seen", role="client")
f = v.b.frame("text", HELLO, masked=True)
v.fail(1002, "masked_frame", f.byte(2))
g.append(v)
v = Vector("x.3", "16-bit length field holding 125: not minimal, 1002")
key = v.b.next_mask()
hdr = bytes([0x81, 0xFE, 0x00, 0x7D]) + key
v.b.raw(hdr + bytes(b ^ key[i % 4] for i, b in enumerate(b"*" * 125)))
v.fail(1002, "non_minimal_length", 4)
g.append(v)
v = Vector("x.4", "64-bit length field with its top bit set: 1002")
v.b.raw(bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1]) + bytes(4))
v.fail(1002, "length_msb_set", 10)
g.append(v)
v = Vector("x.5", "frame larger than max_frame_size (100): 1009 from the header alone",
           max_frame_size=100)
f = v.b.frame("binary", rep_hex(b"\x01", 101))
v.fail(1009, "frame_too_large", f.byte(2))
g.append(v)
v = Vector("x.6", "frame of exactly max_frame_size (100): accepted", max_frame_size=100)
v.b.frame("binary", rep_hex(b"\x01", 100))
v.echo("binary", rep_hex(b"\x01", 100))
v.peer_closes()
g.append(v)
v = Vector("x.7", "message over max_message_size (10) across fragments: 1009 at the header of "
           "the fragment that passes it", max_message_size=10)
v.b.frame("binary", rep_hex(b"\x01", 6), fin=False)
f = v.b.frame("continuation", rep_hex(b"\x02", 5))
v.fail(1009, "message_too_large", f.header_end)
g.append(v)
v = Vector("x.8", "message of exactly max_message_size (10) in fragments: accepted",
           max_message_size=10)
v.b.frame("text", text("hello"), fin=False)
v.b.frame("continuation", text("world"))
v.echo("text", text("helloworld"))
v.peer_closes()
g.append(v)
v = Vector("x.9", "more than max_fragments (3) frames in one message, all empty: 1009",
           max_fragments=3)
v.b.frame("binary", fin=False)
v.b.frame("continuation", fin=False)
v.b.frame("continuation", fin=False)
f = v.b.frame("continuation")
v.fail(1009, "too_many_fragments", f.header_end)
g.append(v)
v = Vector("x.10", "auto_pong off: the ping is delivered, nothing is sent", auto_pong=False)
v.b.frame("ping", text("no answer"))
v.events.append(ev("ping", text("no answer")))
v.peer_closes()
g.append(v)
v = Vector("x.11", "streaming delivery: fragments delivered as they come, echoed frame by frame; "
           "a single-frame message still arrives whole", delivery="frames")
v.b.frame("text", text("ab"), fin=False)
v.b.frame("ping", text("p"))
v.b.frame("continuation", text("cd"))
v.b.frame("binary", text("whole"))
v.events.append(ev("fragment", text("ab"), msg="text", fin=False))
v.sent.append(sent("text", text("ab"), fin=False))
v.events.append(ev("ping", text("p")))
v.sent.append(sent("pong", text("p")))
v.events.append(ev("fragment", text("cd"), msg="text", fin=True))
v.sent.append(sent("continuation", text("cd")))
v.echo("binary", hexp(b"whole"))
v.peer_closes()
g.append(v)
v = Vector("x.12", "streaming delivery still fails fast on invalid UTF-8 across fragments",
           delivery="frames")
v.b.frame("text", hexp(b"ok\xce"), fin=False)
f = v.b.frame("continuation", hexp(b"\x41"))
v.events.append(ev("fragment", hexp(b"ok\xce"), msg="text", fin=False))
v.sent.append(sent("text", hexp(b"ok\xce"), fin=False))
v.fail(1007, "invalid_utf8", f.header_end + 1)
g.append(v)
v = Vector("x.13", "input ends inside a frame: no event, still open")
wire, _ = encode_frame(True, 0, 1, v.b.next_mask(), b"Hello, world!")
v.b.raw(wire[:9])
v.open()
g.append(v)
v = Vector("x.14", "text message, then a fragment of a message left open: one echo, still open")
v.b.frame("text", HELLO)
v.b.frame("binary", hexp(b"\x01\x02"), fin=False)
v.echo("text", HELLO)
v.open()
g.append(v)
v = Vector("x.15", "a text fragment, then a frame with reserved opcode 3: 1002")
v.b.frame("text", FR[0], fin=False)
f = v.b.frame(3, FR[1])
v.fail(1002, "reserved_opcode", f.byte(1))
g.append(v)
v = Vector("x.16", "a message ending inside a character ('ok' E2 82): 1007 at its last byte")
v.b.frame("text", text("ok"), fin=False)
f = v.b.frame("continuation", hexp(b"\xe2\x82"))
v.fail(1007, "invalid_utf8", f.end)
g.append(v)
v = Vector("x.17", "close 3000 with a reason that ends inside a character: 1007")
f = v.b.frame("close", close_payload(3000, reason_hex="6f6be282"))
v.fail(1007, "close_invalid_reason", f.end)
g.append(v)
v = Vector("x.18", "ping after a fragment, then the close: pong sent, close echoed, "
           "the open message dropped")
v.b.frame("binary", hexp(b"\x01"), fin=False)
v.b.frame("ping", text("p"))
v.events.append(ev("ping", text("p")))
v.sent.append(sent("pong", text("p")))
v.peer_closes(1001)
g.append(v)


# 40: permessage-deflate (RFC 7692) ------------------------------------------------

g = group("40-deflate.json", "permessage-deflate (RFC 7692): RSV1 rules, compressed messages, "
          "limits on the inflated size, context takeover")

import zlib

NO_TAKEOVER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
TAKEOVER = "permessage-deflate"
QUIET = 1 << 30  # a threshold no echo reaches: echoes go uncompressed


def deflate_cfg(agreed=NO_TAKEOVER, threshold=QUIET, **more):
    return dict(deflate={"agreed": agreed, "threshold": threshold}, **more)


def compress(data, flush_tail=True):
    """Raw DEFLATE with a sync flush; the tail stripped as a sender does."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4] if flush_tail else out


def sent_compressed(opcode, payload):
    s = sent(opcode, payload)
    s["rsv1"] = True
    return s


HELLO_Z = hexp(bytes.fromhex("f248cdc9c90700"))
JSON = ('{"type":"trade","symbol":"BTC-USD","price":"64123.50","size":"0.0123","side":"buy"},' * 6)

v = Vector("x.40.1", "a compressed text message (RFC 7692 7.2.3.1 payload): delivered inflated",
           **deflate_cfg())
v.b.frame("text", HELLO_Z, rsv=4)
v.echo("text", text("Hello"))
v.peer_closes()
g.append(v)

v = Vector("x.40.2", "a compressed binary message", **deflate_cfg())
data = bytes(range(64)) * 8
v.b.frame("binary", hexp(compress(data)), rsv=4)
v.echo("binary", hexp(data))
v.peer_closes()
g.append(v)

v = Vector("x.40.3", "compression is per message: compressed, plain, compressed", **deflate_cfg())
v.b.frame("text", HELLO_Z, rsv=4)
v.b.frame("text", text("plain"))
v.b.frame("text", HELLO_Z, rsv=4)
for t in ("Hello", "plain", "Hello"):
    v.echo("text", text(t))
v.peer_closes()
g.append(v)

v = Vector("x.40.4", "a compressed message in two frames (RFC 7692 7.2.3.1 split): RSV1 on the first only",
           **deflate_cfg())
v.b.frame("text", hexp(bytes.fromhex("f248cd")), fin=False, rsv=4)
v.b.frame("continuation", hexp(bytes.fromhex("c9c90700")))
v.echo("text", text("Hello"))
v.peer_closes()
g.append(v)

v = Vector("x.40.5", "a compressed message in two frames with a ping between them", **deflate_cfg())
v.b.frame("text", hexp(bytes.fromhex("f248cd")), fin=False, rsv=4)
v.b.frame("ping", text("p"))
v.b.frame("continuation", hexp(bytes.fromhex("c9c90700")))
v.events.append(ev("ping", text("p")))
v.sent.append(sent("pong", text("p")))
v.echo("text", text("Hello"))
v.peer_closes()
g.append(v)

v = Vector("x.40.6", "RSV1 on a continuation of a plain message: 1002 once its header is in", **deflate_cfg())
v.b.frame("text", text("Hel"), fin=False)
f = v.b.frame("continuation", text("lo"), rsv=4)
v.fail(1002, "reserved_bits", f.header_end)
g.append(v)

v = Vector("x.40.7", "RSV1 on the second frame of a compressed message: 1002", **deflate_cfg())
v.b.frame("text", hexp(bytes.fromhex("f248cd")), fin=False, rsv=4)
f = v.b.frame("continuation", hexp(bytes.fromhex("c9c90700")), rsv=4)
v.fail(1002, "reserved_bits", f.header_end)
g.append(v)

for op, payload in (("ping", text("p")), ("pong", text("p")), ("close", close_payload(1000))):
    v = Vector(f"x.40.8/{op}", f"RSV1 on a {op}: control frames are never compressed, 1002",
               **deflate_cfg())
    f = v.b.frame(op, payload, rsv=4)
    v.fail(1002, "reserved_bits", f.header_end)
    g.append(v)

for rsv, name in ((2, "rsv2"), (1, "rsv3"), (6, "rsv1+rsv2")):
    v = Vector(f"x.40.9/{name}", f"{name.upper()} on a text message: permessage-deflate defines RSV1 only",
               **deflate_cfg())
    f = v.b.frame("text", HELLO_Z, rsv=rsv)
    v.fail(1002, "reserved_bits", f.byte(1))
    g.append(v)

v = Vector("x.40.10", "compressed text that inflates to invalid UTF-8: 1007", **deflate_cfg())
f = v.b.frame("text", hexp(compress(b"Hello \xce\xba\xff world")), rsv=4)
v.fail(1007, "invalid_utf8", f.end)
g.append(v)

v = Vector("x.40.11", "compressed text in two frames, invalid UTF-8 in the first: fails before the second",
           **deflate_cfg())
z = zlib.compressobj(6, zlib.DEFLATED, -15)
first = z.compress(b"caf\xc3\xa9 \xff and more") + z.flush(zlib.Z_SYNC_FLUSH)
last = z.compress(b" text") + z.flush(zlib.Z_SYNC_FLUSH)
f = v.b.frame("text", hexp(first), fin=False, rsv=4)
v.b.frame("continuation", hexp(last[:-4]))
v.fail(1007, "invalid_utf8", f.end)
g.append(v)

v = Vector("x.40.12", "compressed text that ends inside a character: 1007 at the message's end",
           **deflate_cfg())
f = v.b.frame("text", hexp(compress(b"caf\xc3")), rsv=4)
v.fail(1007, "invalid_utf8", f.end)
g.append(v)

v = Vector("x.40.13", "RSV1 on data that is not DEFLATE (block type 3): 1007", **deflate_cfg())
f = v.b.frame("binary", hexp(b"\xff\xff\xff"), rsv=4)
v.fail(1007, "invalid_compressed_data", f.end)
g.append(v)

v = Vector("x.40.14", "without context takeover a message may not refer to the previous one "
           "(the RFC's second 'Hello'): 1007", **deflate_cfg())
v.b.frame("text", HELLO_Z, rsv=4)
f = v.b.frame("text", hexp(bytes.fromhex("f200110000")), rsv=4)
v.echo("text", text("Hello"))
v.fail(1007, "invalid_compressed_data", f.end)
g.append(v)

v = Vector("x.40.15", "with context takeover it may (RFC 7692 7.2.3.2)", **deflate_cfg(TAKEOVER))
v.b.frame("text", HELLO_Z, rsv=4)
v.b.frame("text", hexp(bytes.fromhex("f200110000")), rsv=4)
v.echo("text", text("Hello"))
v.echo("text", text("Hello"))
v.peer_closes()
g.append(v)

v = Vector("x.40.16", "an empty compressed message: a lone 00 (RFC 7692 7.2.3.6)", **deflate_cfg())
v.b.frame("text", hexp(b"\x00"), rsv=4)
v.echo("text", EMPTY)
v.peer_closes()
g.append(v)

# The compression bomb of vectors/deflate/payloads.json: 4081 bytes, 4 MiB.
bomb_raw = zlib.compressobj(9, zlib.DEFLATED, -15)
BOMB = bomb_raw.compress(b"\0" * (4 << 20)) + bomb_raw.flush(zlib.Z_SYNC_FLUSH)
BOMB = BOMB[:-4]
v = Vector("x.40.17", f"a {len(BOMB)}-byte message that inflates to 4 MiB, 64 KiB limit: 1009 "
           "without holding more than the limit", max_message_size=65536, **deflate_cfg())
f = v.b.frame("binary", hexp(BOMB), rsv=4, chop=[997])
v.fail(1009, "message_too_large", f.end)
g.append(v)

v = Vector("x.40.18", "the same bomb in four frames: 1009 within the first", max_message_size=65536,
           **deflate_cfg())
quarter = len(BOMB) // 4
parts = [BOMB[:quarter], BOMB[quarter:2 * quarter], BOMB[2 * quarter:3 * quarter], BOMB[3 * quarter:]]
f = v.b.frame("binary", hexp(parts[0]), fin=False, rsv=4)
for i, part in enumerate(parts[1:]):
    v.b.frame("continuation", hexp(part), fin=i == 2)
v.fail(1009, "message_too_large", f.end)
g.append(v)

v = Vector("x.40.19", "the bomb within a 4 MiB limit: delivered whole", max_message_size=4 << 20,
           **deflate_cfg())
v.b.frame("binary", hexp(BOMB), rsv=4)
v.echo("binary", rep_hex(b"\x00", 4 << 20))
v.peer_closes()
g.append(v)

v = Vector("x.40.20", "a compressed message in frames, streaming delivery: each frame's inflated bytes "
           "are a fragment", delivery="frames", **deflate_cfg())
z = zlib.compressobj(6, zlib.DEFLATED, -15)
a = z.compress(b"first half, ") + z.flush(zlib.Z_SYNC_FLUSH)
b = z.compress(b"second half") + z.flush(zlib.Z_SYNC_FLUSH)
v.b.frame("text", hexp(a), fin=False, rsv=4)
v.b.frame("continuation", hexp(b[:-4]))
for t, fin in (("first half, ", False), ("second half", True)):
    v.events.append(ev("fragment", text(t), msg="text", fin=fin))
    v.sent.append(sent("text" if not fin else "continuation", text(t), fin=fin))
v.peer_closes()
g.append(v)

v = Vector("x.40.21", "echoes from the threshold up go out compressed: RSV1 on the frame, the payload "
           "inflates to the message", **deflate_cfg(threshold=128))
v.b.frame("text", hexp(compress(JSON.encode())), rsv=4)
v.b.frame("text", HELLO_Z, rsv=4)
v.events.append(ev("text", text(JSON)))
v.sent.append(sent_compressed("text", text(JSON)))
v.echo("text", text("Hello"))
v.peer_closes()
g.append(v)

v = Vector("x.40.22", "the client side: compressed echoes are masked after compressing", role="client",
           **deflate_cfg(threshold=16))
v.b.frame("text", hexp(compress(JSON.encode())), rsv=4)
v.events.append(ev("text", text(JSON)))
v.sent.append(sent_compressed("text", text(JSON)))
v.peer_closes()
g.append(v)

v = Vector("x.40.23", "with context takeover the echoes share one window too", **deflate_cfg(TAKEOVER, 16))
for _ in range(3):
    v.b.frame("text", hexp(compress(JSON.encode())), rsv=4)
    v.events.append(ev("text", text(JSON)))
    v.sent.append(sent_compressed("text", text(JSON)))
v.peer_closes()
g.append(v)

# The RFC's section 7.2.3 frames, byte for byte, as a client receives them.
RFC_FRAMES = [
    ("7.2.3.1", "c107f248cdc9c90700", ["Hello"], NO_TAKEOVER),
    ("7.2.3.1/fragments", "4103f248cd" + "8004c9c90700", ["Hello"], NO_TAKEOVER),
    ("7.2.3.2", "c107f248cdc9c90700" + "c105f200110000", ["Hello", "Hello"], TAKEOVER),
    ("7.2.3.3", "c10b000500faff48656c6c6f00", ["Hello"], NO_TAKEOVER),
    ("7.2.3.4", "c108f348cdc9c907000" + "0", ["Hello"], NO_TAKEOVER),
    ("7.2.3.5", "c10df248050000" + "00ffff" + "cac9c90700", ["Hello"], NO_TAKEOVER),
    ("7.2.3.6", "c10100", [""], NO_TAKEOVER),
]
for name, wire, messages, agreed in RFC_FRAMES:
    v = Vector(f"rfc7692-{name}", f"RFC 7692 section {name.split('/')[0]}: its frames byte for byte",
               role="client", **deflate_cfg(agreed))
    v.b.raw(bytes.fromhex(wire), chop=[1])
    for m in messages:
        v.echo("text", text(m))
    v.peer_closes()
    g.append(v)


# --- output ----------------------------------------------------------------------

def dump(obj, indent=0, width=100):
    """JSON with small values on one line and larger ones opened up."""
    flat = json.dumps(obj, ensure_ascii=False)
    if len(flat) + indent <= width or not isinstance(obj, (list, dict)) or not obj:
        return flat
    pad = " " * (indent + 2)
    if isinstance(obj, list):
        items = [pad + dump(x, indent + 2, width) for x in obj]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    items = [pad + json.dumps(k) + ": " + dump(v, indent + 2, width) for k, v in obj.items()]
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def main():
    total = 0
    seen = set()
    for filename, title, vectors in GROUPS:
        for v in vectors:
            key = (v.role, v.name)
            assert key not in seen, key
            seen.add(key)
        doc = {"title": title, "vectors": [v.to_json() for v in vectors]}
        with open(os.path.join(HERE, filename), "w", encoding="utf-8") as out:
            out.write(dump(doc) + "\n")
        print(f"{filename}: {len(vectors)}")
        total += len(vectors)
    print(f"total: {total}")


if __name__ == "__main__":
    main()
