"""An echo server on the Python `websockets` library, for our client's rows.

    python py_websockets_server.py      # prints "listening on ws://127.0.0.1:PORT"

Binds an ephemeral loopback port, accepts permessage-deflate (the
library's default), echoes text and binary messages with their type, answers pings and completes the close handshake (the library
does both). Runs until killed.
"""

import asyncio

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    async with serve(echo, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
