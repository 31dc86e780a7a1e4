"""An echo server on the Python `websockets` library, for our client's rows.

    python py_websockets_server.py      # prints "listening on ws://127.0.0.1:PORT"
    python py_websockets_server.py --tls CERT.pem KEY.pem   # wss:// instead

Binds an ephemeral loopback port, accepts permessage-deflate (the
library's default), echoes text and binary messages with their type, answers pings and completes the close handshake (the library
does both). Runs until killed.
"""

import asyncio
import ssl
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    tls = None
    if sys.argv[1:2] == ["--tls"]:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(sys.argv[2], sys.argv[3])
    async with serve(echo, "127.0.0.1", 0, max_size=None, ssl=tls) as server:
        port = server.sockets[0].getsockname()[1]
        scheme = "wss" if tls else "ws"
        print(f"listening on {scheme}://127.0.0.1:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
