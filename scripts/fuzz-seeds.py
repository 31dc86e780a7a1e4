#!/usr/bin/env python3
"""Writes fuzz seed corpora from the test vectors.

    scripts/fuzz-seeds.py [VECTORS_DIR] [CORPUS_DIR]

Defaults: vectors/ and fuzz/corpus/ (gitignored). Reads vectors/frames/*.json,
vectors/protocol/*.json, vectors/handshake/*.json and vectors/deflate/*.json
(whichever exist; see
their READMEs for the formats), and adds the built-in seeds of the targets
that have no vectors (envelope, tls_server, app_routes) and writes one file per seed into CORPUS_DIR/<target>/, named by the
SHA-1 of its content as libFuzzer does, so rerunning adds nothing twice.

Each seed is in the input format its target decodes (src/fuzzing/): a few
header bytes choosing roles, limits and cut points, then the vector's bytes.
Python 3, standard library only.
"""

import base64
import hashlib
import json
import pathlib
import struct
import sys

# Seeds are cut here: libFuzzer's default -max_len is 4096, and longer
# inputs only slow it down.
MAX_SEED = 4096

# src/fuzzing/frame.rs FRAME_LIMITS, by index.
FRAME_LIMITS = [16 << 20, 0, 125, 126, 65535, 65536, 1 << 32, (1 << 64) - 1]
RSV_BITS = {"rsv1": 4, "rsv2": 2, "rsv3": 1}  # flag bits -> 0x40, 0x20, 0x10


def byte_string(spec):
    """A frame-vector byte string: hex, or a list of hex and repeat parts."""
    if isinstance(spec, str):
        return bytes.fromhex(spec)
    out = bytearray()
    for part in spec:
        if isinstance(part, str):
            out += bytes.fromhex(part)
        else:
            pattern = bytes.fromhex(part["repeat"])
            n = part["len"]
            out += (pattern * (n // len(pattern) + 1))[:n]
    return bytes(out)


def message(v):
    """A handshake-vector message: `lines` or `raw`, then `after`."""
    if "raw" in v:
        head = v["raw"].encode("latin-1")
    else:
        head = "".join(line + "\r\n" for line in v["lines"]).encode("latin-1") + b"\r\n"
    return head + v.get("after", "").encode("latin-1")


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))["vectors"]


class Corpus:
    def __init__(self, root):
        self.root = root
        self.counts = {}

    def add(self, target, data):
        data = bytes(data[:MAX_SEED])
        d = self.root / target
        d.mkdir(parents=True, exist_ok=True)
        path = d / hashlib.sha1(data).hexdigest()
        if not path.exists():
            path.write_bytes(data)
            self.counts[target] = self.counts.get(target, 0) + 1


def cuts(n, parts):
    return [n * i // parts for i in range(1, parts)]


def frame_seeds(corpus, frames_dir):
    streams = {"server": bytearray(), "client": bytearray()}
    for path in sorted(frames_dir.glob("*.json")):
        for v in load(path):
            wire = byte_string(v["input"])
            flags = sum(RSV_BITS[b] for b in v.get("allowed_rsv", []))
            limit = v.get("max_frame_size", FRAME_LIMITS[0])
            if limit in FRAME_LIMITS:
                flags |= FRAME_LIMITS.index(limit) << 3
            corpus.add("frame_decode", bytes([flags]) + wire)

            role = v["role"]
            expect = v["expect"]
            # Connection streams: each frame alone, under small and large
            # limits, and the valid frames of a role in one stream.
            for conn_flags in (0x04, 0xC5):
                head = bytes([conn_flags, 0x01, 0xFF, 0x3F, 0x05])
                corpus.add("connection_" + role, head + wire)
            frame = expect.get("frame")
            if frame is None:
                continue
            consumed = wire[: expect["consumed"]]
            if frame["opcode"] != 8 and len(streams[role]) + len(consumed) < MAX_SEED:
                streams[role] += consumed
            payload = byte_string(frame["payload"])
            if frame["opcode"] == 1:
                utf8_seed(corpus, payload)
            if frame["opcode"] == 8 and len(payload) > 2:
                utf8_seed(corpus, payload[2:])
            if frame["mask"]:
                key = bytes.fromhex(frame["mask"])
                masked = wire[expect["consumed"] - len(payload) : expect["consumed"]]
                for offset in (0, 3, (1 << 64) - 1):
                    corpus.add(
                        "mask",
                        key + struct.pack("<QHB", offset, len(masked) // 2, 1) + masked,
                    )
            # The structured target: the frame as a raw item (tag 6).
            if len(payload) < 256:
                role_byte = b"\x00" if role == "server" else b"\x01"
                b0 = (0x80 if frame["fin"] else 0) | frame["opcode"]
                b0 |= sum(0x40 >> i for i, r in enumerate(("rsv1", "rsv2", "rsv3")) if frame[r])
                item = bytes([0x06, b0, len(payload)]) + payload
                head = bytes([0x04, 0x01, 0xFF, 0x3F, 0x05])
                corpus.add("connection_frames", head + role_byte + item)
    for role, stream in streams.items():
        for conn_flags in (0x00, 0x05, 0x39, 0xC4):
            head = bytes([conn_flags, 0x02, 0xFF, 0x3F, 0x02, 0x81])
            corpus.add("connection_" + role, head + stream)


def utf8_seed(corpus, data):
    c = cuts(len(data), 3)
    corpus.add("utf8_incremental", bytes([len(c)]) + b"".join(struct.pack("<H", x) for x in c) + data)


def handshake_seeds(corpus, handshake_dir):
    for name in ("requests-valid.json", "requests-invalid.json"):
        path = handshake_dir / name
        if not path.exists():
            continue
        for v in load(path):
            data = message(v)
            a, b = cuts(len(data), 3)
            corpus.add("handshake_request", struct.pack("<BHH", 0, a, b) + data)
            utf8_seed(corpus, data)
    path = handshake_dir / "responses.json"
    if path.exists():
        for v in load(path):
            if "key_bytes" in v:
                key = bytes.fromhex(v["key_bytes"])
            else:
                key = base64.b64decode(v.get("key", "dGhlIHNhbXBsZSBub25jZQ=="))
            if len(key) != 16:
                continue
            protocols = ",".join(v.get("protocols", [])).encode("latin-1")
            data = message(v)
            corpus.add(
                "handshake_response",
                struct.pack("<BH", 0, len(data) // 2) + key + protocols + b"\n" + data,
            )


OPCODES = {"continuation": 0, "text": 1, "binary": 2, "close": 8, "ping": 9, "pong": 10}


def protocol_payload(spec):
    """A protocol-vector payload (vectors/protocol/README.md)."""
    if isinstance(spec, str):
        return spec.encode("utf-8")
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    if "repeat" in spec or "repeat_hex" in spec:
        unit = spec["repeat"].encode("utf-8") if "repeat" in spec else bytes.fromhex(spec["repeat_hex"])
        return (unit * (spec["len"] // len(unit) + 1))[: spec["len"]]
    reason = spec.get("reason", "").encode("utf-8")
    if "reason_hex" in spec:
        reason = bytes.fromhex(spec["reason_hex"])
    return struct.pack(">H", spec["code"]) + reason


def protocol_wire(steps, out):
    """Encodes protocol-vector input steps, stopping past MAX_SEED bytes."""
    for step in steps:
        if len(out) > MAX_SEED:
            return
        if "repeat" in step:
            for _ in range(step["repeat"]):
                protocol_wire(step["steps"], out)
            continue
        if "raw" in step:
            out += bytes.fromhex(step["raw"])
            continue
        payload = protocol_payload(step.get("payload", ""))
        op = step["opcode"]
        b0 = (0x80 if step.get("fin", True) else 0) | (OPCODES[op] if isinstance(op, str) else op)
        b0 |= sum(bit for name, bit in (("rsv1", 0x40), ("rsv2", 0x20), ("rsv3", 0x10)) if step.get(name))
        key = bytes.fromhex(step["mask"]) if step.get("mask") else None
        n = len(payload)
        m = 0x80 if key else 0
        if n < 126:
            out += bytes([b0, m | n])
        elif n < 65536:
            out += bytes([b0, m | 126]) + struct.pack(">H", n)
        else:
            out += bytes([b0, m | 127]) + struct.pack(">Q", n)
        if key:
            out += key
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        out += payload


def protocol_seeds(corpus, protocol_dir):
    for path in sorted(protocol_dir.glob("*.json")):
        for v in load(path):
            wire = bytearray()
            protocol_wire(v["input"], wire)
            config = v.get("config", {})
            flags = 0xC0  # the largest limits preset
            if config.get("delivery") == "frames":
                flags |= 0x01
            if config.get("auto_pong") is False:
                flags |= 0x02
            if config.get("echo", True):
                flags |= 0x04
            head = bytes([flags, 0x02, 0xFF, 0x3F, 0x05, 0x00])
            corpus.add("connection_" + v["role"], head + wire)


def deflate_seeds(corpus, deflate_dir):
    """Negotiation values under a few policies, and compressed payloads
    (src/fuzzing/deflate.rs gives both formats)."""
    for name, key in (("negotiation-server.json", "offer"), ("negotiation-client.json", "response")):
        path = deflate_dir / name
        if not path.exists():
            continue
        for v in load(path):
            value = (v.get(key) or "").encode("latin-1")
            for policy in (0x00, 0x03, 0x3F, 0xE5):
                corpus.add("deflate_negotiation", bytes([policy]) + value)
    path = deflate_dir / "payloads.json"
    if path.exists():
        for v in load(path):
            messages = []
            for m in v["messages"]:
                data = bytearray()
                for part in m["payload"]:
                    if isinstance(part, str):
                        data += bytes.fromhex(part)
                    else:
                        data += bytes.fromhex(part["repeat_hex"]) * part["len"]
                messages.append(bytes(data))
            stream = b"\xfe\xfe".join(messages)
            flags = 1 if v["takeover"] else 0
            bits = v["window_bits"] - 8
            for limit, piece in ((0xFFFF, 0xFF), (0x0100, 7)):
                head = bytes([flags, bits]) + struct.pack("<H", limit) + bytes([piece])
                corpus.add("deflate_inflate", head + stream)
            # Round trip mode: the inflated texts as plaintext.
            texts = [m["inflated"].encode("utf-8") for m in v["messages"] if "inflated" in m]
            if texts:
                head = bytes([flags | 0x62, bits, 0xFF, 0xFF, 0x10])
                corpus.add("deflate_inflate", head + b"\xfe\xfe".join(t * 20 for t in texts))


# ClientHellos from Python's ssl module (OpenSSL) offering http/1.1 by ALPN,
# TLS 1.3 with an x25519 key share, and TLS 1.2 only: the tls_server target's
# way past the first record (the server answers with its whole flight).
CLIENT_HELLO_TLS13 = bytes.fromhex(
    "1603010200010001fc03033ca35433559b64012163ea21054b437a49680f16ee40e19ce1b15e2d6fbdffab20"
    "f832bc3546d56ab836bd47022e34e40c516c70c54c18d9038af9b48c13059b5e0024130213031301c02cc030"
    "c02bc02fcca9cca8c024c028c023c027009f009e006b006700ff0100018f0000000e000c0000096c6f63616c"
    "686f7374000b000403000102000a00160014001d0017001e0019001801000101010201030104002300000010"
    "000b000908687474702f312e310016000000170000000d002a0028040305030603080708080809080a080b08"
    "0408050806040105010601030303010302040205020602002b00050403040303002d00020101003300260024"
    "001d0020d9dd6a7912f7c6d2fdf392e09de626d83533b9745271a2c172d9a7b3d7999d12001500d500000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000"
)
CLIENT_HELLO_TLS12 = bytes.fromhex(
    "16030100be010000ba0303e7fcb7d4abca1a348f3efe03097f421dde918e7cd0bf152fad9aac5060fa09af00"
    "001ec02cc030c02bc02fcca9cca8c024c028c023c027009f009e006b006700ff010000730000000e000c0000"
    "096c6f63616c686f7374000b000403000102000a000c000a001d0017001e00190018002300000010000b0009"
    "08687474702f312e310016000000170000000d002a0028040305030603080708080809080a080b0804080508"
    "06040105010601030303010302040205020602"
)


def tls_seeds(corpus):
    """Ciphertext from a client for src/fuzzing/tls.rs: flags, socket, steps."""
    step = lambda data: struct.pack("<H", len(data)) + data
    eof, write, writable = b"\xff\xff", b"\xfe\xff", b"\xfd\xff"
    ch, ch12 = CLIENT_HELLO_TLS13, CLIENT_HELLO_TLS12
    ccs = bytes.fromhex("140303000101")
    junk_app = bytes.fromhex("1703030020") + bytes(range(32))
    alert = bytes.fromhex("15030300020100")  # close_notify in the clear
    for seed in [
        b"\x06\x00" + step(ch),
        b"\x03\x00" + step(ch12),
        b"\x34\x00" + step(ch[:5]) + step(ch[5:200]) + step(ch[200:]) + write + b"\x64\x00" + eof,
        b"\x16\x01" + step(ch) + step(ccs) + step(junk_app) + eof,
        b"\x00\x06" + write + b"\x00\x01" + step(ch) + writable + step(alert),
        b"\x05\x03" + step(ch + ccs + junk_app),
        b"\x06\x00" + step(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        # A 64 KiB handshake message in 1000-byte records (step 0xfffc
        # repeats a piece): the ciphertext buffer grows past 32 KiB.
        b"\x06\x00" + step(bytes.fromhex("16030303e80100ff00") + bytes(996))
        + b"\xfc\xff" + struct.pack("<HB", 1005, 69) + bytes.fromhex("16030303e8") + bytes(1000),
        # The ClientHello two bytes a record, Interrupted before each, read
        # a byte at a time, written a byte at a time.
        b"\x20\x01"
        + b"".join(step(bytes.fromhex("1603010002") + ch[i : i + 2]) for i in range(5, len(ch), 2)),
        # Flags bit 6: a real client finishes the handshake first; then
        # client writes (0xfffb), server writes (0xfffe), a client close
        # (0xfffa), forged records.
        b"\x46\x00" + b"\xfb\xff\x64\x00" + write + b"\xc8\x00" + b"\xfa\xff",
        b"\x40\x03" + b"\xfb\xff\x00\x80" + write + b"\xff\xff" + writable
        + b"\xfb\xff\x10\x00" + b"\xfa\xff",
        b"\x5b\x06" + b"\xfb\xff\x00\x01" + write + b"\x00\x40" + step(junk_app) + writable,
        b"\x44\x02" + b"\xfb\xff\xff\xff" + b"\xfb\xff\xff\xff" + eof,
    ]:
        corpus.add("tls_server", seed)


def envelope_seeds(corpus):
    """Channel messages as Redis delivers them (src/server/broker/envelope.rs)."""
    magic = b"\0rfc6455"
    for data in [
        b"hello",
        b"\xff\x00binary",
        magic + b"\nplain after an empty header",
        magic + b" kind=text\nhi",
        magic + b" kind=binary epoch=5d1c09a4e7b2f380 id=42 from=3f9c0a17e2d4b851 seq=7"
        + b" skip=0.12.345\n\x00\x01",
        magic + b" future=yes kind=text id=9223372036854775807\n\xc3\xa9",
        magic + b" epoch=e1 id=1\n{\"a\":1}",
        magic + b" seq=18446744073709551615 skip=18446744073709551615.0.1\nx",
    ]:
        corpus.add("envelope", data)


def app_seeds(corpus):
    """Paths, queries and names for src/fuzzing/app.rs: a mode byte, a style byte, text."""
    for mode, text in [
        (0, "/topic/news"),
        (0, "/topic/caf%C3%A9%20bar"),
        (0, "/topic/%E8%81%8A+x"),
        (0, "/topic/%FF%zz%4"),
        (0, "/publish/a%2Fb"),
        (1, "since=12&epoch=ab12"),
        (1, "ids=1&since=0"),
        (1, "ids=maybe&epoch=" + "e" * 65),
        (1, "topic=news&data=hello+world%21"),
        (1, "topic=a&topic=b&data=%C3%A9&x=%FF"),
        (2, "caf\u00e9 \u804a/room?#%"),
    ]:
        corpus.add("app_routes", bytes([mode, 0x5A]) + text.encode())


def main():
    vectors = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "vectors")
    corpus = Corpus(pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else "fuzz/corpus"))
    if (vectors / "frames").is_dir():
        frame_seeds(corpus, vectors / "frames")
    if (vectors / "protocol").is_dir():
        protocol_seeds(corpus, vectors / "protocol")
    if (vectors / "handshake").is_dir():
        handshake_seeds(corpus, vectors / "handshake")
    if (vectors / "deflate").is_dir():
        deflate_seeds(corpus, vectors / "deflate")
    envelope_seeds(corpus)
    tls_seeds(corpus)
    app_seeds(corpus)
    for target, n in sorted(corpus.counts.items()):
        print(f"fuzz-seeds: {target}: {n} new seeds")


if __name__ == "__main__":
    main()
