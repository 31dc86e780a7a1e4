"""Memory per idle connection with permessage-deflate negotiated and used
once: N connections each offer `permessage-deflate; client_max_window_bits`
(as Chromium does), send one compressed JSON message (tests/abuse) and read
the echo, then stay idle 5 s; the figure is the server's RSS growth per
connection. A fresh server process per call, on 127.0.0.1, killed by PID.

    python3 scripts/deflate_idle_memory.py N LABEL -- CMD...   (PORT in CMD is
    replaced by a free port)

Results and the commands for each server: benches/results/deflate-idle.md.
"""
import asyncio
import os
import socket
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "abuse"))
from abuse import frame, JSON_RECORD, KEY_REQUEST

REQ = KEY_REQUEST[:-2] + b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

async def one(port, sem):
    async with sem:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(REQ)
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101") and b"permessage-deflate" in head.lower(), head
        c = zlib.compressobj(6, zlib.DEFLATED, -12)
        payload = c.compress(JSON_RECORD) + c.flush(zlib.Z_SYNC_FLUSH)
        w.write(frame(1, payload[:-4], rsv1=True))
        b0, b1 = await asyncio.wait_for(r.readexactly(2), 10)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack(">H", await r.readexactly(2))
        body = await r.readexactly(n)
        if b0 & 0x40:
            body = zlib.decompressobj(-15).decompress(body + b"\x00\x00\xff\xff")
        assert body == JSON_RECORD
        return r, w, head

async def main():
    n = int(sys.argv[1]); label = sys.argv[2]; cmd = sys.argv[4:]
    port = free_port()
    cmd = [a.replace("PORT", str(port)) for a in cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port)).close(); break
            except OSError:
                time.sleep(0.05)
        await asyncio.sleep(1)
        before = rss_kib(proc.pid)
        sem = asyncio.Semaphore(100)
        conns = await asyncio.gather(*(one(port, sem) for _ in range(n)))
        await asyncio.sleep(5)
        after = rss_kib(proc.pid)
        ext = [l for l in conns[0][2].split(b"\r\n") if b"xtensions" in l][0].decode()
        print(f"{label}\tconns={n}\tbefore_kib={before}\tafter_kib={after}\tbytes_per_conn={(after-before)*1024/n:.0f}\t{ext}", flush=True)
        for _, w, _ in conns:
            w.transport.abort()
    finally:
        proc.kill(); proc.wait()

asyncio.run(main())
