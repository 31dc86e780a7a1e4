"""Fan-out anchor on python `websockets` (asyncio): websockets.broadcast().

    python python/fanout_websockets.py 127.0.0.1:9403

ws://HOST:PORT/topic/NAME joins NAME; every message a member sends (text or
binary, kind kept) is broadcast to the other members. Any other path echoes
(plain connections for the idle-memory comparison). No compression, no
keepalive pings, no message size limit.
"""

import asyncio
import sys
from urllib.parse import unquote, urlsplit

from websockets import broadcast
from websockets.asyncio.server import serve

PREFIX = "/topic/"
topics = {}


async def handler(ws):
    path = urlsplit(ws.request.path).path
    if not path.startswith(PREFIX):
        async for message in ws:
            await ws.send(message)
        return
    topic = unquote(path[len(PREFIX):])
    members = topics.setdefault(topic, set())
    members.add(ws)
    try:
        async for message in ws:
            broadcast((m for m in members if m is not ws), message)
    finally:
        members.discard(ws)
        if not members:
            topics.pop(topic, None)


async def main(addr):
    host, port = addr.rsplit(":", 1)
    async with serve(
        handler, host, int(port), compression=None, max_size=None, ping_interval=None, backlog=1024
    ) as server:
        bound = server.sockets[0].getsockname()
        print(f"listening on ws://{bound[0]}:{bound[1]}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9403"))
