"""Opens N WebSocket connections to a server, completes the handshake on each,
and holds them idle; prints the server's RSS per connection.

usage: idle_conns.py HOST:PORT SERVER_PID N [HOLD_SECS]
"""
import asyncio
import sys


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


REQUEST = (
    "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


async def open_one(host, port, sem):
    async with sem:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(REQUEST.format(host=host).encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head[:40])
        return reader, writer


async def main(addr, pid, n, hold):
    host, port = addr.rsplit(":", 1)
    before = rss_kib(pid)
    sem = asyncio.Semaphore(200)
    conns = await asyncio.gather(*(open_one(host, int(port), sem) for _ in range(n)))
    await asyncio.sleep(hold)  # let the server's idle sweep run
    after = rss_kib(pid)
    per = (after - before) * 1024 / n
    print(f"conns={n} rss_before_kib={before} rss_after_kib={after} bytes_per_conn={per:.0f}")
    for _, w in conns:
        w.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 3.0))
