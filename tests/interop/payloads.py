"""The messages every row of the interoperability matrix exchanges.

Same bytes as payloads.js and examples/interop-client.rs build.
"""

# 4096: with permessage-deflate, a message compressed as one complete
# stream (it fits the window); 65536 and up are streamed.
SIZES = [0, 125, 126, 4096, 65536, 1 << 20]


def text(n: int) -> str:
    """n bytes of UTF-8: "aé中😀" (1 + 2 + 3 + 4 bytes) repeated, padded with 'x'."""
    return "aé中😀" * (n // 10) + "x" * (n % 10)


def binary(n: int) -> bytes:
    """n bytes that differ from a copy shifted by any multiple of 256."""
    return bytes((i * 31 + (i >> 8)) & 0xFF for i in range(n))


def messages():
    """(kind, size, payload) in sending order: text then binary, per size."""
    for n in SIZES:
        yield "text", n, text(n)
        yield "binary", n, binary(n)


PING = binary(125)


def describe(got, want) -> str:
    """Why an echo differs from what was sent."""
    if type(got) is not type(want):
        return f"got {type(got).__name__}, want {type(want).__name__}"
    g = got.encode() if isinstance(got, str) else got
    w = want.encode() if isinstance(want, str) else want
    at = next((i for i, (a, b) in enumerate(zip(g, w)) if a != b), None)
    where = f"first difference at byte {at}" if at is not None else "prefix equal"
    return f"{len(g)} bytes, want {len(w)}; {where}"
