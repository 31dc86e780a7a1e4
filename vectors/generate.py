#!/usr/bin/env python3
"""Writes the frame test vectors in vectors/frames/*.json.

Usage: python3 vectors/generate.py   (Python 3.8+, standard library only)

The JSON files are committed; this script is how they are made, so that
masked bytes, long payloads and the "every byte position" series are computed
rather than typed. It has its own small frame encoder, independent of the
Rust crate, and checks it against the RFC 6455 section 5.7 examples (copied
byte for byte below) before writing anything. The expected outcome of every
vector (frame, header, error, bytes missing) is stated here by hand; the Rust
test `tests/vectors.rs` checks the crate against it. The output is
deterministic: running the script twice gives identical files.

The format is described in vectors/README.md.
"""

import json
import math
import pathlib

OUT = pathlib.Path(__file__).resolve().parent / "frames"

# The receiver's frame limit when a vector does not set max_frame_size.
DEFAULT_MAX_FRAME_SIZE = 1 << 24
# The largest length section 5.2 allows: the 64-bit form with its MSB clear.
MAX_LEN = (1 << 63) - 1
# A limit that lets every legal length through.
NO_LIMIT = MAX_LEN

CLOSE_CODES = {
    "ReservedOpcode": 1002,
    "ReservedBits": 1002,
    "FragmentedControl": 1002,
    "ControlTooLong": 1002,
    "LengthMsbSet": 1002,
    "NonMinimalLength": 1002,
    "FrameTooLarge": 1009,
    "UnmaskedFrame": 1002,
    "MaskedFrame": 1002,
}

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RFC_KEY = bytes.fromhex("37fa213d")


# ---------------------------------------------------------------------------
# Byte strings that may be too long to store: literal parts and repeats.


class Bytes:
    """A byte string made of parts: ("lit", bytes) or ("rep", pattern, len)."""

    def __init__(self, parts=()):
        self.parts = [p for p in parts if part_len(p) > 0]

    def __add__(self, other):
        if isinstance(other, (bytes, bytearray)):
            other = lit(other)
        return Bytes(self.parts + other.parts)

    def __len__(self):
        return sum(part_len(p) for p in self.parts)

    def masked(self, key, offset=0):
        """XOR with the cycling 4-byte key, starting `offset` bytes in."""
        parts = []
        for p in self.parts:
            if p[0] == "lit":
                data = p[1]
                parts.append(("lit", xor(data, key, offset)))
            else:
                _, pattern, n = p
                # Pattern and key line up again after lcm(len, 4) bytes.
                period = math.lcm(len(pattern), 4)
                cycle = pattern * (period // len(pattern))
                parts.append(("rep", xor(cycle, key, offset), n))
            offset += part_len(p)
        return Bytes(parts)

    def prefix(self, n):
        parts = []
        for p in self.parts:
            if n <= 0:
                break
            take = min(n, part_len(p))
            parts.append(("lit", p[1][:take]) if p[0] == "lit" else ("rep", p[1], take))
            n -= take
        return Bytes(parts)

    def materialize(self):
        out = bytearray()
        for p in self.parts:
            if p[0] == "lit":
                out += p[1]
            else:
                _, pattern, n = p
                out += (pattern * (n // len(pattern) + 1))[:n]
        return bytes(out)

    def to_json(self):
        merged = []
        for p in self.parts:
            if p[0] == "lit" and merged and merged[-1][0] == "lit":
                merged[-1] = ("lit", merged[-1][1] + p[1])
            else:
                merged.append(p)
        if all(p[0] == "lit" for p in merged):
            return b"".join(p[1] for p in merged).hex()
        return [
            p[1].hex() if p[0] == "lit" else {"repeat": p[1].hex(), "len": p[2]}
            for p in merged
        ]


def part_len(p):
    return len(p[1]) if p[0] == "lit" else p[2]


def xor(data, key, offset):
    return bytes(b ^ key[(offset + i) % 4] for i, b in enumerate(data))


def lit(data):
    return Bytes([("lit", bytes(data))])


def rep(pattern, n):
    return Bytes([("rep", bytes(pattern), n)])


def h(text):
    """Bytes from hex written with optional spaces."""
    return bytes.fromhex(text.replace(" ", ""))


PATTERN = b"rfc6455"  # 7 bytes: not a multiple of the 4-byte key


def filler(n):
    """An n-byte payload: the pattern, stored literally when short."""
    data = rep(PATTERN, n)
    return lit(data.materialize()) if n <= 16 else data


# ---------------------------------------------------------------------------
# An encoder of its own, written from section 5.2.


def frame(opcode, payload=b"", *, fin=True, rsv=(), mask=None, length=None):
    if isinstance(payload, (bytes, bytearray)):
        payload = lit(payload)
    return {
        "fin": fin,
        "rsv1": "rsv1" in rsv,
        "rsv2": "rsv2" in rsv,
        "rsv3": "rsv3" in rsv,
        "opcode": opcode,
        "mask": mask,
        "payload": payload,
        "payload_len": len(payload) if length is None else length,
    }


def encode_header(f, length_form=None):
    """The header bytes; `length_form` forces 7, 16 or 64 (non-minimal)."""
    b0 = (0x80 if f["fin"] else 0) | f["opcode"]
    b0 |= (0x40 if f["rsv1"] else 0) | (0x20 if f["rsv2"] else 0) | (0x10 if f["rsv3"] else 0)
    n = f["payload_len"]
    form = length_form or (7 if n < 126 else 16 if n < 1 << 16 else 64)
    m = 0x80 if f["mask"] is not None else 0
    if form == 7:
        out = bytes([b0, m | n])
    elif form == 16:
        out = bytes([b0, m | 126]) + n.to_bytes(2, "big")
    else:
        out = bytes([b0, m | 127]) + n.to_bytes(8, "big")
    return out + (f["mask"] or b"")


def encode(f):
    payload = f["payload"]
    if f["mask"] is not None:
        payload = payload.masked(f["mask"])
    return lit(encode_header(f)) + payload


def header_json(f, with_payload):
    out = {k: f[k] for k in ("fin", "rsv1", "rsv2", "rsv3", "opcode")}
    out["mask"] = None if f["mask"] is None else f["mask"].hex()
    if with_payload:
        out["payload"] = f["payload"].to_json()
    else:
        out["payload_len"] = f["payload_len"]
    return out


# ---------------------------------------------------------------------------
# Vector builders. `rules` are role plus the optional max_frame_size and
# allowed_rsv keys, passed through as written.


def vector(name, role, data, expect, note=None, max_frame_size=None, allowed_rsv=None):
    v = {"name": name}
    if note:
        v["note"] = note
    v["role"] = role
    if max_frame_size is not None:
        v["max_frame_size"] = max_frame_size
    if allowed_rsv is not None:
        v["allowed_rsv"] = allowed_rsv
    if isinstance(data, (bytes, bytearray)):
        data = lit(data)
    v["input"] = data.to_json()
    v["expect"] = expect
    return v


def ok(name, role, f, trailing=b"", **kw):
    """A complete frame, optionally followed by bytes that are not part of it."""
    wire = encode(f)
    return vector(
        name,
        role,
        wire + trailing,
        {"frame": header_json(f, True), "consumed": len(wire)},
        **kw,
    )


def header_only(name, role, f, extra=b"", **kw):
    """A header whose payload is too long to store; `extra` payload bytes follow."""
    head = encode_header(f)
    return vector(
        name,
        role,
        lit(head) + extra,
        {"header": header_json(f, False), "header_len": len(head)},
        **kw,
    )


def err(name, role, data, error, **kw):
    return vector(name, role, data, {"error": error, "close_code": CLOSE_CODES[error]}, **kw)


def needed(f, have):
    """Bytes the decoder asks for after `have` bytes of the frame `f`: the
    rest of the first two bytes, then of the header, then of the frame."""
    header_len = len(encode_header(f))
    total = header_len + f["payload_len"]
    for size in (2, header_len, total):
        if have < size:
            return size - have
    raise ValueError("the frame is complete")


def cut(name, role, f, have, **kw):
    """The first `have` bytes of the frame `f`."""
    return vector(name, role, encode(f).prefix(have), {"incomplete": needed(f, have)}, **kw)


# ---------------------------------------------------------------------------
# The groups.


def rfc_examples():
    note = "RFC 6455 section 5.7, byte for byte"
    hello = b"Hello"
    cases = [
        # (name, role, wire bytes as printed in the RFC, frame they encode)
        (
            "single-frame-unmasked-text",
            "client",
            h("81 05 48 65 6c 6c 6f"),
            frame(TEXT, hello),
        ),
        (
            "single-frame-masked-text",
            "server",
            h("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
            frame(TEXT, hello, mask=RFC_KEY),
        ),
        (
            "fragmented-unmasked-text-first",
            "client",
            h("01 03 48 65 6c"),
            frame(TEXT, b"Hel", fin=False),
        ),
        (
            "fragmented-unmasked-text-last",
            "client",
            h("80 02 6c 6f"),
            frame(CONT, b"lo"),
        ),
        (
            "unmasked-ping",
            "client",
            h("89 05 48 65 6c 6c 6f"),
            frame(PING, hello),
        ),
        (
            "masked-pong",
            "server",
            h("8a 85 37 fa 21 3d 7f 9f 4d 51 58"),
            frame(PONG, hello, mask=RFC_KEY),
        ),
    ]
    out = []
    for name, role, wire, f in cases:
        assert encode(f).materialize() == wire, f"encoder disagrees with the RFC on {name}"
        out.append(ok(name, role, f, note=note))
    # The two fragments arrive in one read: the decoder takes the first only.
    first, last = cases[2][3], cases[3][3]
    out.append(
        ok(
            "fragmented-text-both-fragments-in-one-buffer",
            "client",
            first,
            trailing=encode(last).materialize(),
            note="the first frame is consumed; the second waits for the next decode",
        )
    )
    # "256 bytes binary message in a single unmasked frame" and "64KiB binary
    # message in a single unmasked frame": the RFC gives the headers; the
    # payload bytes are ours.
    for name, n, head in [
        ("binary-256-bytes-unmasked", 256, h("82 7e 01 00")),
        ("binary-64-kib-unmasked", 65536, h("82 7f 00 00 00 00 00 01 00 00")),
    ]:
        f = frame(BINARY, rep(bytes(range(256)), n))
        assert encode_header(f) == head
        out.append(ok(name, "client", f, note=note + " (header; the payload bytes are ours)"))
    return out


def lengths():
    out = []
    keys = [h("01 02 03 04"), h("a1 b2 c3 d4"), RFC_KEY]
    for i, n in enumerate([0, 1, 125, 126, 127, 65535, 65536]):
        form = "7-bit" if n < 126 else "16-bit" if n < 65536 else "64-bit"
        out.append(ok(f"len-{n}-unmasked", "client", frame(BINARY, filler(n)), note=f"{form} length"))
        out.append(
            ok(
                f"len-{n}-masked",
                "server",
                frame(BINARY, filler(n), mask=keys[i % len(keys)]),
                note=f"{form} length",
            )
        )
    out.append(
        ok(
            "len-125-followed-by-another-frame",
            "client",
            frame(TEXT, filler(125)),
            trailing=h("88 00"),
            note="consumed stops at the end of the first frame",
        )
    )
    out.append(
        ok("len-0-text-followed-by-another-frame", "client", frame(TEXT), trailing=h("81 00"))
    )
    # Lengths too large to store: header-only vectors.
    big = [
        ("len-2^32-1", (1 << 32) - 1, None),
        ("len-2^32", 1 << 32, None),
        ("len-2^32-masked", 1 << 32, h("de ad be ef")),
        ("len-2^53+1", (1 << 53) + 1, None),
        ("len-2^63-1", MAX_LEN, None),
        ("len-2^63-1-masked", MAX_LEN, h("00 00 00 01")),
    ]
    for name, n, key in big:
        note = None
        if n == (1 << 53) + 1:
            note = "not representable as a double: parse lengths as exact integers"
        if n == MAX_LEN:
            note = "the largest length section 5.2 allows"
        out.append(
            header_only(
                name,
                "server" if key else "client",
                frame(BINARY, mask=key, length=n),
                max_frame_size=NO_LIMIT,
                note=note,
            )
        )
    out.append(
        header_only(
            "len-2^32-with-first-payload-bytes",
            "client",
            frame(BINARY, length=1 << 32),
            extra=h("00 01 02"),
            max_frame_size=NO_LIMIT,
            note="the header decodes whether or not payload follows",
        )
    )
    return out


def masking():
    out = []
    body = b"masking!"
    for name, key in [
        ("zero-key", h("00 00 00 00")),
        ("all-ones-key", h("ff ff ff ff")),
        ("distinct-key-bytes", h("01 02 04 08")),
    ]:
        out.append(ok(f"server-accepts-masked-text-{name}", "server", frame(TEXT, body, mask=key)))
    out.append(
        ok(
            "server-accepts-masked-7-bytes",
            "server",
            frame(BINARY, b"\x00\x11\x22\x33\x44\x55\x66", mask=h("5a 5a a5 a5")),
            note="length not a multiple of the key",
        )
    )
    out.append(
        ok(
            "server-accepts-masked-empty",
            "server",
            frame(BINARY, mask=h("12 34 56 78")),
            note="an empty payload still carries a key",
        )
    )
    out.append(
        ok(
            "server-accepts-masked-continuation",
            "server",
            frame(CONT, b"tail", mask=h("99 88 77 66")),
        )
    )
    out.append(
        ok(
            "server-accepts-masked-200-bytes",
            "server",
            frame(TEXT, rep(b"abc", 200), mask=h("0f 1e 2d 3c")),
            note="16-bit length; a 3-byte pattern against the 4-byte key",
        )
    )
    out.append(ok("client-accepts-unmasked-text", "client", frame(TEXT, body)))
    out.append(ok("client-accepts-unmasked-empty", "client", frame(BINARY)))
    # Wrong direction, rejected at the second byte.
    out.append(err("server-rejects-unmasked-text", "server", encode(frame(TEXT, body)), "UnmaskedFrame"))
    out.append(err("server-rejects-unmasked-empty-ping", "server", h("89 00"), "UnmaskedFrame"))
    out.append(
        err(
            "server-rejects-unmasked-close",
            "server",
            encode(frame(CLOSE, h("03 e8"))),
            "UnmaskedFrame",
        )
    )
    out.append(
        err(
            "server-rejects-unmasked-64-bit-length",
            "server",
            h("82 7f"),
            "UnmaskedFrame",
            note="detected at the second byte, before the length arrives",
        )
    )
    out.append(
        err(
            "client-rejects-masked-text",
            "client",
            encode(frame(TEXT, body, mask=RFC_KEY)),
            "MaskedFrame",
        )
    )
    out.append(
        err(
            "client-rejects-masked-pong",
            "client",
            encode(frame(PONG, b"", mask=h("00 00 00 00"))),
            "MaskedFrame",
            note="a zero key is still a mask",
        )
    )
    out.append(
        err(
            "client-rejects-masked-second-byte-only",
            "client",
            h("81 85"),
            "MaskedFrame",
            note="detected at the second byte, before the key arrives",
        )
    )
    return out


def errors():
    out = []
    for op in list(range(0x3, 0x8)) + list(range(0xB, 0x10)):
        control = "control" if op & 0x8 else "data"
        out.append(
            err(
                f"reserved-opcode-{op:x}",
                "server",
                encode(frame(op, b"x", mask=h("01 02 03 04"))),
                "ReservedOpcode",
                note=f"reserved {control} opcode",
            )
        )
    out.append(err("reserved-opcode-3-first-byte-only", "client", h("83"), "ReservedOpcode"))
    out.append(
        err(
            "reserved-opcode-f-fin-clear-first-byte-only",
            "client",
            h("0f"),
            "ReservedOpcode",
        )
    )
    # The 64-bit length with its most significant bit set.
    out.append(
        err(
            "length-msb-set",
            "client",
            h("82 7f 80 00 00 00 00 00 00 00"),
            "LengthMsbSet",
            max_frame_size=NO_LIMIT,
        )
    )
    out.append(
        err(
            "length-all-ones",
            "server",
            h("82 ff ff ff ff ff ff ff ff ff 01 02 03 04"),
            "LengthMsbSet",
            max_frame_size=(1 << 64) - 1,
            note="rejected even when the limit would allow it",
        )
    )
    # Lengths not in their minimal form.
    for name, role, wire in [
        ("non-minimal-16-bit-0", "client", h("82 7e 00 00")),
        ("non-minimal-16-bit-125", "client", h("82 7e 00 7d")),
        ("non-minimal-16-bit-125-masked", "server", h("82 fe 00 7d 01 02 03 04")),
        ("non-minimal-64-bit-0", "client", h("82 7f 00 00 00 00 00 00 00 00")),
        ("non-minimal-64-bit-125", "client", h("82 7f 00 00 00 00 00 00 00 7d")),
        ("non-minimal-64-bit-126", "client", h("82 7f 00 00 00 00 00 00 00 7e")),
        ("non-minimal-64-bit-65535", "client", h("82 7f 00 00 00 00 00 00 ff ff")),
        (
            "non-minimal-64-bit-65535-masked",
            "server",
            h("82 ff 00 00 00 00 00 00 ff ff 01 02 03 04"),
        ),
    ]:
        out.append(err(name, role, wire, "NonMinimalLength"))
    # A non-minimal empty text frame with its (empty) payload present.
    f = frame(TEXT)
    out.append(
        err(
            "non-minimal-16-bit-0-complete-frame",
            "client",
            encode_header(f, length_form=16),
            "NonMinimalLength",
            note="rejected so every accepted frame re-encodes to its own bytes",
        )
    )
    # Two rules broken: the first in checking order is reported.
    out.append(
        err(
            "precedence-reserved-opcode-before-rsv",
            "client",
            h("c3 00"),
            "ReservedOpcode",
            note="precedence: opcode is checked before the RSV bits",
        )
    )
    out.append(
        err(
            "precedence-rsv-before-fragmented-control",
            "client",
            h("49 00"),
            "ReservedBits",
            note="precedence: RSV bits are checked before FIN on a control frame",
        )
    )
    out.append(
        err(
            "precedence-fragmented-control-before-mask",
            "server",
            h("09 00"),
            "FragmentedControl",
            note="precedence: first-byte rules come before the mask bit",
        )
    )
    out.append(
        err(
            "precedence-mask-before-control-length",
            "client",
            h("89 fe 00 7e 01 02 03 04"),
            "MaskedFrame",
            note="precedence: the mask bit is checked before the control length",
        )
    )
    out.append(
        err(
            "precedence-msb-before-limit",
            "client",
            h("82 7f 80 00 00 00 00 00 00 00"),
            "LengthMsbSet",
            max_frame_size=0,
            note="precedence: the MSB rule comes before the frame limit",
        )
    )
    out.append(
        err(
            "precedence-non-minimal-before-limit",
            "client",
            h("82 7e 00 05"),
            "NonMinimalLength",
            max_frame_size=4,
            note="precedence: the minimal-length rule comes before the frame limit",
        )
    )
    return out


def limits():
    out = []
    for limit, form in [(0, 7), (125, 7), (1000, 16), (65535, 16), (65536, 64)]:
        out.append(
            ok(
                f"limit-{limit}-frame-at-limit",
                "client",
                frame(BINARY, filler(limit)),
                max_frame_size=limit,
                note="the limit is inclusive",
            )
        )
        over = frame(BINARY, length=limit + 1)
        out.append(
            err(
                f"limit-{limit}-frame-one-over",
                "client",
                encode_header(over),
                "FrameTooLarge",
                max_frame_size=limit,
                note="detected from the header; no payload needed",
            )
        )
    out.append(
        err(
            "limit-1000-masked-over-before-key",
            "server",
            h("82 fe 03 e9"),
            "FrameTooLarge",
            max_frame_size=1000,
            note="detected once the length is read, before the masking key arrives",
        )
    )
    at_default = frame(BINARY, length=DEFAULT_MAX_FRAME_SIZE)
    out.append(
        header_only(
            "default-limit-frame-at-limit",
            "client",
            at_default,
            note="no max_frame_size: the default, 16 MiB, applies",
        )
    )
    for name, n, key in [
        ("default-limit-one-over", DEFAULT_MAX_FRAME_SIZE + 1, None),
        ("default-limit-one-over-masked", DEFAULT_MAX_FRAME_SIZE + 1, RFC_KEY),
        ("default-limit-2^32", 1 << 32, None),
        ("default-limit-2^63-1", MAX_LEN, None),
    ]:
        out.append(
            err(
                name,
                "server" if key else "client",
                encode_header(frame(BINARY, length=n, mask=key)),
                "FrameTooLarge",
            )
        )
    return out


def control():
    out = []
    out.append(ok("ping-empty", "client", frame(PING)))
    out.append(ok("ping-125-bytes-masked", "server", frame(PING, filler(125), mask=h("c0 ff ee 00"))))
    out.append(ok("pong-empty-masked", "server", frame(PONG, mask=h("01 01 01 01"))))
    out.append(ok("pong-125-bytes", "client", frame(PONG, filler(125))))
    out.append(ok("close-empty", "client", frame(CLOSE)))
    out.append(ok("close-1000", "client", frame(CLOSE, h("03 e8"))))
    out.append(
        ok(
            "close-1001-with-reason-masked",
            "server",
            frame(CLOSE, h("03 e9") + b"going away", mask=h("aa bb cc dd")),
        )
    )
    out.append(ok("close-125-bytes", "client", frame(CLOSE, h("03 e8") + b"r" * 123)))
    out.append(
        ok(
            "close-one-byte-payload-is-a-valid-frame",
            "client",
            frame(CLOSE, h("03")),
            note="a frame-level vector: the close payload rules (section 5.5.1) apply one layer up",
        )
    )
    out.append(
        ok(
            "ping-between-fragments",
            "client",
            frame(PING, b"hb"),
            trailing=encode(frame(CONT, b"rest")).materialize(),
            note="a control frame may arrive in the middle of a fragmented message",
        )
    )
    for name, role, wire in [
        ("ping-fin-clear", "server", encode(frame(PING, b"p", fin=False, mask=RFC_KEY))),
        ("pong-fin-clear", "client", encode(frame(PONG, fin=False))),
        ("close-fin-clear", "client", encode(frame(CLOSE, h("03 e8"), fin=False))),
        ("close-fin-clear-first-byte-only", "server", h("08")),
    ]:
        out.append(err(name, role, wire, "FragmentedControl"))
    too_long = [
        ("ping-126-bytes", "client", lit(encode_header(frame(PING, length=126))) + filler(126)),
        (
            "close-126-bytes-masked",
            "server",
            encode(frame(CLOSE, h("03 e8") + b"r" * 124, mask=RFC_KEY)),
        ),
        ("pong-65536-bytes-header-only", "client", encode_header(frame(PONG, length=65536))),
        ("ping-16-bit-length-second-byte-only", "client", h("89 7e")),
        ("ping-64-bit-length-second-byte-only", "client", h("89 7f")),
    ]
    for name, role, wire in too_long:
        out.append(err(name, role, wire, "ControlTooLong"))
    out.append(
        err(
            "precedence-pong-125-in-16-bit-form",
            "client",
            h("8a 7e 00 7d"),
            "ControlTooLong",
            note="precedence: also non-minimal, but the control length rule is read first",
        )
    )
    return out


def rsv():
    out = []
    for name, role, bits in [
        ("rsv1-without-extension", "server", ("rsv1",)),
        ("rsv2-without-extension", "client", ("rsv2",)),
        ("rsv3-without-extension", "server", ("rsv3",)),
        ("all-rsv-without-extension", "client", ("rsv1", "rsv2", "rsv3")),
    ]:
        key = RFC_KEY if role == "server" else None
        out.append(err(name, role, encode(frame(TEXT, b"rsv", rsv=bits, mask=key)), "ReservedBits"))
    out.append(err("rsv1-on-ping-without-extension", "client", h("c9 00"), "ReservedBits"))
    out.append(err("rsv2-first-byte-only", "client", h("a2"), "ReservedBits"))
    out.append(
        ok(
            "rsv1-allowed-on-text",
            "server",
            frame(TEXT, b"\xf2\x48\xcd\xc9\xc9\x07\x00", rsv=("rsv1",), mask=h("0a 0b 0c 0d")),
            allowed_rsv=["rsv1"],
            note="as with permessage-deflate; the payload is not inflated at this layer",
        )
    )
    out.append(
        ok(
            "rsv1-allowed-on-continuation",
            "client",
            frame(CONT, b"more", rsv=("rsv1",)),
            allowed_rsv=["rsv1"],
            note="which frames may carry the bit is the extension's business",
        )
    )
    out.append(
        ok(
            "rsv1-allowed-but-not-used",
            "client",
            frame(TEXT, b"plain"),
            allowed_rsv=["rsv1"],
        )
    )
    out.append(
        err(
            "rsv2-with-only-rsv1-allowed",
            "client",
            encode(frame(TEXT, b"x", rsv=("rsv1", "rsv2"))),
            "ReservedBits",
            allowed_rsv=["rsv1"],
        )
    )
    out.append(
        ok(
            "all-rsv-allowed",
            "client",
            frame(BINARY, b"\x01", rsv=("rsv1", "rsv2", "rsv3")),
            allowed_rsv=["rsv1", "rsv2", "rsv3"],
        )
    )
    out.append(
        ok(
            "rsv3-allowed-with-rsv2",
            "server",
            frame(BINARY, b"\x02", rsv=("rsv3",), mask=h("ff 00 ff 00")),
            allowed_rsv=["rsv2", "rsv3"],
        )
    )
    out.append(
        err(
            "rsv1-with-rsv2-and-rsv3-allowed",
            "server",
            encode(frame(BINARY, b"\x02", rsv=("rsv1",), mask=h("ff 00 ff 00"))),
            "ReservedBits",
            allowed_rsv=["rsv2", "rsv3"],
        )
    )
    return out


def incomplete():
    out = []
    out.append(vector("empty-input-server", "server", b"", {"incomplete": 2}))
    out.append(vector("empty-input-client", "client", b"", {"incomplete": 2}))
    # Every prefix of a 7-bit masked frame: first byte, second byte, each key
    # byte, each payload byte.
    hello = frame(TEXT, b"Hello", mask=RFC_KEY)
    for have in range(1, 11):
        out.append(cut(f"masked-7-bit-first-{have}-of-11", "server", hello, have))
    # Every header prefix of a 16-bit unmasked frame, then the payload.
    f16 = frame(BINARY, filler(300))
    for have in [1, 2, 3, 4, 5, 303]:
        out.append(cut(f"unmasked-16-bit-first-{have}-of-304", "client", f16, have))
    # Every header prefix of a 64-bit masked frame (the longest header), then
    # the payload.
    f64 = frame(BINARY, filler(65536), mask=h("11 22 33 44"))
    for have in list(range(1, 15)) + [1000, 65549]:
        out.append(cut(f"masked-64-bit-first-{have}-of-65550", "server", f64, have))
    return out


GROUPS = [
    ("rfc-examples", "The examples of RFC 6455 section 5.7.", rfc_examples),
    (
        "lengths",
        "Every payload length boundary: 7-, 16- and 64-bit forms, masked and not; "
        "lengths up to 2^63-1 as header-only vectors.",
        lengths,
    ),
    ("masking", "Masked frames to a server, unmasked to a client, and the reverse.", masking),
    (
        "errors",
        "Reserved opcodes, 64-bit lengths with the MSB set, non-minimal lengths, "
        "and which rule is reported when two are broken.",
        errors,
    ),
    ("limits", "The receiver's max_frame_size, checked from the header.", limits),
    ("control", "Ping, pong and close: at most 125 bytes, never fragmented.", control),
    ("rsv", "The RSV bits, with and without a negotiated extension.", rsv),
    ("incomplete", "Prefixes of frames, cut at every header byte.", incomplete),
]


def render(group, description, vectors):
    """One key per line, values compact: small diffs, readable files."""
    names = [v["name"] for v in vectors]
    assert len(names) == len(set(names)), f"duplicate names in {group}"
    lines = ["{", f'  "group": {json.dumps(group)},']
    lines.append(f'  "description": {json.dumps(description)},')
    lines.append('  "vectors": [')
    for i, v in enumerate(vectors):
        lines.append("    {")
        items = list(v.items())
        for j, (k, val) in enumerate(items):
            comma = "," if j + 1 < len(items) else ""
            lines.append(f"      {json.dumps(k)}: {json.dumps(val)}{comma}")
        lines.append("    }" + ("," if i + 1 < len(vectors) else ""))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    OUT.mkdir(exist_ok=True)
    total = 0
    for group, description, build in GROUPS:
        vectors = build()
        (OUT / f"{group}.json").write_text(render(group, description, vectors))
        total += len(vectors)
        print(f"{group}: {len(vectors)}")
    print(f"total: {total}")


if __name__ == "__main__":
    main()
