"""Hostile peers against a live server (echo, rooms, HTTP publishing).

usage: abuse.py SERVER_BINARY

Starts the echo server with tight limits, runs each case, and after each one
checks that the server is still up, that a fresh well-behaved client still
gets its echo, and that the server's resident memory stayed under a bound.
Prints one line of figures per case and exits non-zero on any failure.
Everything talks to 127.0.0.1 only, is bounded in time, and the server is
stopped by PID at the end.
"""
import asyncio
import os
import resource
import socket
import struct
import subprocess
import sys
import time

HANDSHAKE_TIMEOUT = 2
FLAGS = [
    "--threads", "1",
    "--handshake-timeout", str(HANDSHAKE_TIMEOUT),
    "--max-frame-size", "256KiB",
    "--max-message-size", "1MiB",
    "--max-fragments", "100000",
    "--high-water", "256KiB",
    "--max-connections", "20000",
    "--close-timeout", "2",
    "--slow-subscriber-limit", "256KiB",
    "--max-body", "64KiB",
    "--log", "error",
]
KEY_REQUEST = (
    "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()
MASK = b"\x11\x22\x33\x44"


def frame(opcode, payload, fin=True, length=None):
    """A masked client frame; `length` overrides the announced length."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return head + MASK + masked


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Server:
    def __init__(self, binary):
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", *FLAGS], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        line = self.proc.stdout.readline()
        self.port = int(line.split("ws://127.0.0.1:")[1].split()[0])
        self.pid = self.proc.pid

    def rss_kib(self):
        return proc_status(self.pid, "VmRSS")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.proc.kill()
        self.proc.wait()


async def handshake(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(KEY_REQUEST)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101"), head[:60]
    return reader, writer


async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack(">H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack(">Q", await reader.readexactly(8))
    return b0 & 0x0F, await reader.readexactly(n)


async def expect_close(reader, code):
    """Reads until the close frame; checks its code and that TCP ends."""
    while True:
        opcode, payload = await asyncio.wait_for(read_frame(reader), 10)
        if opcode == 8:
            got = struct.unpack(">H", payload[:2])[0]
            assert got == code, f"close {got}, expected {code}"
            rest = await asyncio.wait_for(reader.read(), 10)
            assert rest == b"", "bytes after the close frame"
            return


async def healthy(server):
    """The server is up and a fresh client gets its echo."""
    assert server.alive(), "server died"
    reader, writer = await handshake(server.port)
    writer.write(frame(1, b"still alive?"))
    opcode, payload = await asyncio.wait_for(read_frame(reader), 10)
    assert (opcode, payload) == (1, b"still alive?"), (opcode, payload)
    writer.write(frame(8, struct.pack(">H", 1000)))
    await expect_close(reader, 1000)
    writer.close()


async def slowloris(server):
    """500 connections sending a header byte every second."""
    n = 500
    conns = []
    for _ in range(n):
        conns.append(await asyncio.open_connection("127.0.0.1", server.port))
    start = time.monotonic()
    dropped_at = [None] * n

    async def drip(i, reader, writer):
        for byte in KEY_REQUEST[:-4]:
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except (ConnectionError, OSError):
                break
            try:
                data = await asyncio.wait_for(reader.read(1), 1.0)
                if data == b"":
                    break
            except asyncio.TimeoutError:
                continue
            except (ConnectionError, OSError):
                break
        dropped_at[i] = time.monotonic() - start
        writer.close()

    await asyncio.wait_for(asyncio.gather(*(drip(i, r, w) for i, (r, w) in enumerate(conns))), HANDSHAKE_TIMEOUT + 20)
    worst = max(dropped_at)
    assert worst < HANDSHAKE_TIMEOUT + 3, f"slowest drop after {worst:.1f} s"
    return f"conns={n} all_dropped_by_s={worst:.2f} handshake_timeout_s={HANDSHAKE_TIMEOUT}"


async def oversized_head(server):
    """A 1 MiB header block and a 100 KiB request line."""
    results = []
    for name, request, want in [
        ("header_block_1MiB", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n", b"431"),
        ("request_line_100KiB", b"GET /" + b"a" * (100 << 10) + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
    ]:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        start = time.monotonic()
        writer.write(request)
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # the server may close before taking it all
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.split()[1] == want, f"{name}: {head[:40]}"
        try:
            await asyncio.wait_for(reader.read(), 10)  # closed at once
        except (ConnectionError, OSError):
            pass
        results.append(f"{name}={want.decode()} in {1000 * (time.monotonic() - start):.0f}ms")
        writer.close()
    return " ".join(results)


async def huge_frame(server):
    """A frame header announcing 2^62 bytes: 1009 before any payload."""
    reader, writer = await handshake(server.port)
    writer.write(frame(2, b"", length=1 << 62)[:14])
    await expect_close(reader, 1009)
    return "announced=2^62 close=1009"


async def one_byte_fragments(server):
    """A message growing past the 1 MiB limit in 1-byte fragments."""
    reader, writer = await handshake(server.port)
    first = frame(2, b"x", fin=False)
    cont = frame(0, b"x", fin=False)
    writer.write(first + cont * ((1 << 20) + 10))
    try:
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    await expect_close(reader, 1009)
    return "fragments=1048586 close=1009"


async def no_read_flood(server):
    """200 MiB of echo requests from a client that never reads."""
    reader, writer = await handshake(server.port)
    message = frame(2, b"\x5a" * (64 << 10))
    sent = 0
    start = time.monotonic()
    blocked = False
    while sent < 200 << 20 and time.monotonic() - start < 20:
        writer.write(message)
        try:
            await asyncio.wait_for(writer.drain(), 2)
        except asyncio.TimeoutError:
            blocked = True
            break
        sent += len(message)
    rss = server.rss_kib()
    writer.transport.abort()
    assert blocked, "server read 200 MiB without pushing back"
    return f"sent_before_pushback_MiB={sent / (1 << 20):.1f} server_rss_kib={rss}"


async def ping_flood(server):
    """1,000,000 pings without reading the pongs, then a message: the server
    must still be answering on the same connection."""
    reader, writer = await handshake(server.port)
    batch = frame(9, b"ping-payload") * 10000
    start = time.monotonic()
    for _ in range(100):
        writer.write(batch)
        await asyncio.wait_for(writer.drain(), 30)
    writer.write(frame(1, b"after the flood"))
    await asyncio.wait_for(writer.drain(), 30)
    rss = server.rss_kib()
    pongs = 0
    while True:
        opcode, payload = await asyncio.wait_for(read_frame(reader), 30)
        if opcode == 10:
            pongs += 1
            assert payload == b"ping-payload"
        else:
            assert (opcode, payload) == (1, b"after the flood"), (opcode, payload[:20])
            break
    elapsed = time.monotonic() - start
    writer.transport.abort()
    assert pongs <= 1_000_000
    return f"pings=1000000 pongs_received={pongs} secs={elapsed:.1f} server_rss_kib_during={rss}"


async def idle_connections(server):
    """10,000 idle connections after the handshake."""
    n = 10000
    before = server.rss_kib()
    sem = asyncio.Semaphore(200)

    async def one():
        async with sem:
            return await handshake(server.port)

    conns = await asyncio.gather(*(one() for _ in range(n)))
    await asyncio.sleep(3)  # past the server's idle sweep (2 s)
    after = server.rss_kib()
    per = (after - before) * 1024 / n
    for _, w in conns:
        w.transport.abort()
    assert per < 4096, f"{per:.0f} bytes per idle connection"
    return f"conns={n} rss_before_kib={before} rss_after_kib={after} bytes_per_idle_conn={per:.0f}"


async def reset_mid_frame(server):
    """1,000 connections reset (RST) in the middle of a frame."""
    n = 1000
    await asyncio.sleep(1)
    baseline = open_fds(server.pid)
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(KEY_REQUEST)
        socks.append(s)
    for s in socks:
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096)
        s.sendall(frame(2, b"y" * 1000)[:500])  # half a frame
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peak = open_fds(server.pid)
    for s in socks:
        s.close()  # linger 0: RST
    start = time.monotonic()
    while open_fds(server.pid) > baseline and time.monotonic() - start < 10:
        await asyncio.sleep(0.05)
    final = open_fds(server.pid)
    assert final <= baseline, f"fds {final} > baseline {baseline}"
    return f"conns={n} fds_baseline={baseline} fds_peak={peak} fds_after={final} cleanup_ms={1000 * (time.monotonic() - start):.0f}"


def room_request(topic):
    return KEY_REQUEST.replace(b"GET /echo ", b"GET /topic/" + topic.encode() + b" ")


async def http(server, request, timeout=10):
    """Sends a raw request; returns (status, body) once the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(request)
    try:
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    try:
        response = await asyncio.wait_for(reader.read(), timeout)
    except (ConnectionError, OSError):
        response = b""
    writer.close()
    if not response:
        return None, b""
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def stats(server):
    import json
    status, body = await http(server, b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200, status
    return json.loads(body)


async def deaf_subscribers(server):
    """200 subscribers that never read (small receive windows) and one that
    does, while a room member publishes 32 MiB: the reader gets every
    message in order, the deaf ones lose theirs, memory stays bounded."""
    topic = "flood"
    deaf = []
    for _ in range(200):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", server.port))
        s.sendall(room_request(topic))
        deaf.append(s)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(room_request(topic))
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    preader, pwriter = await asyncio.open_connection("127.0.0.1", server.port)
    pwriter.write(room_request(topic))
    await asyncio.wait_for(preader.readuntil(b"\r\n\r\n"), 10)
    deadline = time.monotonic() + 10
    while (await stats(server))["subscriptions"] < 202:
        assert time.monotonic() < deadline, "subscribers did not all join"
        await asyncio.sleep(0.05)
    n, size = 2000, 16 << 10
    peak = 0

    async def publish():
        nonlocal peak
        for i in range(n):
            pwriter.write(frame(2, struct.pack(">I", i) + b"\x5a" * (size - 4)))
            await asyncio.wait_for(pwriter.drain(), 30)
            if i % 100 == 0:
                peak = max(peak, server.rss_kib())

    async def read_all():
        for i in range(n):
            opcode, payload = await asyncio.wait_for(read_frame(reader), 30)
            assert opcode == 2 and struct.unpack(">I", payload[:4])[0] == i, (opcode, payload[:4], i)

    start = time.monotonic()
    await asyncio.gather(publish(), read_all())
    elapsed = time.monotonic() - start
    counts = await stats(server)
    for s in deaf:
        s.close()
    writer.transport.abort()
    pwriter.transport.abort()
    assert counts["dropped_slow"] > 0, counts
    return (f"deaf=200 published={n}x{size >> 10}KiB reader_got_all_in_order secs={elapsed:.1f} "
            f"dropped_slow={counts['dropped_slow']} delivered={counts['delivered']} peak_rss_kib={peak}")


async def hostile_publishers(server):
    """HTTP publishing with lying lengths, chunked and oversized bodies, bad
    topic names, and 500 bodies that trickle: each gets its status or is cut
    off at the handshake timeout, and every descriptor comes back."""
    cases = [
        (b"POST /publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: 1099511627776\r\n\r\n", 413),
        (b"POST /publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n", 413),
        (b"POST /publish/t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411),
        (b"POST /publish/t HTTP/1.1\r\nHost: x\r\n\r\n", 411),
        (b"POST /publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", 400),
        (b"POST /publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", 400),
        (b"POST /publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400),
        (b"POST /publish/" + b"n" * 300 + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx", 400),
        (b"POST /publish/%00 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx", 400),
        (b"POST /publish/%ff HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx", 400),
        (b"GET /push?topic=%00&data=x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"POST /publish/t HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nContent-Length: 1\r\n\r\nx", 403),
        # A body followed by more bytes: the extra is never read as a request.
        (b"POST /publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nxGET /stats HTTP/1.1\r\n\r\n", 200),
    ]
    for request, want in cases:
        status, body = await http(server, request)
        assert status == want, f"{request[:60]!r}: {status} {body[:80]!r}, expected {want}"
    baseline = open_fds(server.pid)
    n = 500
    conns = []
    for _ in range(n):
        r, w = await asyncio.open_connection("127.0.0.1", server.port)
        w.write(b"POST /publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n" + b"x" * 100)
        conns.append((r, w))
    start = time.monotonic()

    async def trickle(r, w):
        while time.monotonic() - start < HANDSHAKE_TIMEOUT + 5:
            try:
                w.write(b"x")
                await w.drain()
                data = await asyncio.wait_for(r.read(1), 0.5)
                if data == b"":
                    return time.monotonic() - start
            except asyncio.TimeoutError:
                continue
            except (ConnectionError, OSError):
                return time.monotonic() - start
        return None

    ends = await asyncio.gather(*(trickle(r, w) for r, w in conns))
    for _, w in conns:
        w.close()
    assert all(e is not None for e in ends), "a trickling body outlived the handshake timeout"
    deadline = time.monotonic() + 10
    while open_fds(server.pid) > baseline and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert open_fds(server.pid) <= baseline
    return f"statuses_ok={len(cases)} trickling_bodies={n} all_cut_by_s={max(ends):.2f} fds_back_to={open_fds(server.pid)}"


async def hostile_resumes(server):
    """Room URLs with bad ids, ages and epochs get 400; an id past every
    other (2^64 - 1) is answered "not recovered"; 300 clients that resume
    the flood topic's whole history and never read cost bounded memory and
    every descriptor comes back."""
    def room(query):
        return KEY_REQUEST.replace(b"GET /echo ", b"GET /topic/flood?" + query + b" ")
    for query in [b"since=-1", b"since=18446744073709551616", b"since=1e3", b"ids=2",
                  b"since=1&epoch=" + b"e" * 65]:
        status, body = await http(server, room(query))
        assert status == 400, f"{query!r}: {status} {body[:80]!r}"
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(room(b"since=18446744073709551615"))
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    opcode, notice = await asyncio.wait_for(read_frame(reader), 10)
    assert opcode == 1 and b'"recovered":false' in notice, notice[:120]
    writer.transport.abort()
    baseline = open_fds(server.pid)
    deaf = []
    for _ in range(300):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", server.port))
        s.sendall(room(b"since=0"))
        deaf.append(s)
    await asyncio.sleep(1)
    peak = server.rss_kib()
    for s in deaf:
        s.close()
    deadline = time.monotonic() + 10
    while open_fds(server.pid) > baseline and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert open_fds(server.pid) <= baseline
    kept = (await stats(server))["history_messages"]
    return f"bad_queries=5 deaf_resumes=300 history_messages={kept} peak_rss_kib={peak}"


CASES = [slowloris, oversized_head, huge_frame, one_byte_fragments, no_read_flood, ping_flood, reset_mid_frame,
         deaf_subscribers, hostile_resumes, hostile_publishers, idle_connections]
RSS_BOUND_KIB = 128 << 10  # 128 MiB, with 10,000 connections open


async def main(binary):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = Server(binary)
    failures = 0
    try:
        await healthy(server)
        for case in CASES:
            name = case.__name__
            try:
                figures = await case(server)
                await healthy(server)
                rss = server.rss_kib()
                assert rss < RSS_BOUND_KIB, f"server RSS {rss} KiB"
                print(f"PASS {name}: {figures} | rss_kib={rss} hwm_kib={proc_status(server.pid, 'VmHWM')}", flush=True)
            except Exception as e:  # report every case, then fail
                failures += 1
                print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
    finally:
        server.stop()
    print(f"{len(CASES) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
