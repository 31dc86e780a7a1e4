"""python-websockets echo peer with its default compression (permessage-
deflate offered answers), for scripts/bench-deflate.sh:

    python py-websockets-echo.py --listen 127.0.0.1:9007

The asyncio server with default settings, except no message size limit
(like the other peers, up to 64 MiB) and no keepalive pings.
"""

import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main(host, port):
    async with serve(echo, host, port, max_size=64 << 20, ping_interval=None) as server:
        import websockets

        print(f"py-websockets-echo listening on ws://{host}:{port}/ (websockets {websockets.__version__})", file=sys.stderr)
        await server.serve_forever()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--listen"]
    host, _, port = args[-1].rpartition(":")
    asyncio.run(main(host, int(port)))
