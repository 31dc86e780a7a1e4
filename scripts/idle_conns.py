"""Opens N WebSocket connections to a server, completes the handshake on each,
and holds them idle; prints the server's RSS per connection.

usage: idle_conns.py HOST:PORT SERVER_PID N [HOLD_SECS] [--deflate]

With --deflate each connection offers permessage-deflate (as browsers do:
`permessage-deflate; client_max_window_bits`), fails unless the server
accepts it, and exchanges one compressed 1 KiB JSON message with an echo
server before going idle, so that whatever compression state the server
keeps per connection has been created.
"""
import asyncio
import json
import struct
import sys
import zlib


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


REQUEST = (
    "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
)
OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
MESSAGE = json.dumps(
    [{"id": i, "user": f"user{i}", "text": "the quick brown fox jumps over the lazy dog", "likes": i * 7}
     for i in range(12)]
).encode()


def compressed_frame():
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    payload = (c.compress(MESSAGE) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    mask = b"\x01\x02\x03\x04"
    head = bytes([0xC1, 0x80 | 126]) + struct.pack(">H", len(payload)) if len(payload) > 125 else bytes(
        [0xC1, 0x80 | len(payload)])
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def open_one(host, port, sem, deflate):
    async with sem:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(REQUEST.format(host=host, ext=OFFER if deflate else "").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head[:40])
        if deflate:
            if b"permessage-deflate" not in head.lower():
                raise RuntimeError("the server declined permessage-deflate")
            writer.write(compressed_frame())
            b0, b1 = await reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack(">H", await reader.readexactly(2))
            echo = await reader.readexactly(n)
            if b0 & 0x40:
                echo = zlib.decompressobj(-15).decompress(echo + b"\x00\x00\xff\xff")
            if echo != MESSAGE:
                raise RuntimeError("bad echo")
        return reader, writer


async def main(addr, pid, n, hold, deflate):
    host, port = addr.rsplit(":", 1)
    before = rss_kib(pid)
    sem = asyncio.Semaphore(200)
    conns = await asyncio.gather(*(open_one(host, int(port), sem, deflate) for _ in range(n)))
    await asyncio.sleep(hold)  # let the server's idle sweep run
    after = rss_kib(pid)
    per = (after - before) * 1024 / n
    print(f"conns={n} deflate={deflate} rss_before_kib={before} rss_after_kib={after} bytes_per_conn={per:.0f}")
    for _, w in conns:
        w.close()


if __name__ == "__main__":
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if set(flags) - {"--deflate"} or len(args) < 3:
        sys.exit(__doc__)
    asyncio.run(main(args[0], int(args[1]), int(args[2]), float(args[3]) if len(args) > 3 else 3.0,
                     "--deflate" in flags))
