"""A loopback proxy between plain TCP and TLS, for tools that cannot speak
TLS themselves (kosoku cannot open wss://).

usage:
  tls_proxy.py to-tls   TARGET_PORT --cafile CA.pem [--server-name NAME]
      listens for plain TCP, connects to 127.0.0.1:TARGET_PORT over TLS,
      verifying the server's certificate for NAME (default localhost)
      against CA.pem
  tls_proxy.py from-tls TARGET_PORT --cert CERT.pem --key KEY.pem
      listens for TLS with that certificate, connects to
      127.0.0.1:TARGET_PORT in plain TCP

Prints "listening on 127.0.0.1:PORT" (an ephemeral port) once ready, and
relays bytes both ways unchanged. An end of stream from the plain side
closes the TLS side with close_notify; an end from the TLS side (with or
without close_notify) half-closes the plain side, so the closing order of
the WebSocket peers carries through. Listens on 127.0.0.1 only; every
connection ends when either side does, or after --idle seconds of silence.
"""
import argparse
import asyncio
import ssl
import sys


async def pump(reader, writer, tls_writer, idle):
    """Copies reader to writer until the end of stream, then passes the
    end on: write_eof on plain TCP, close (with close_notify) on TLS."""
    try:
        while True:
            data = await asyncio.wait_for(reader.read(1 << 16), idle)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError, asyncio.TimeoutError, asyncio.IncompleteReadError):
        pass
    try:
        if tls_writer:
            writer.close()
        elif writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError, ssl.SSLError):
        pass


async def relay(client_reader, client_writer, connect, client_is_tls, idle):
    try:
        server_reader, server_writer = await asyncio.wait_for(connect(), 10)
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
        print(f"connect failed: {e}", file=sys.stderr, flush=True)
        client_writer.close()
        return
    await asyncio.gather(
        pump(client_reader, server_writer, not client_is_tls, idle),
        pump(server_reader, client_writer, client_is_tls, idle),
    )
    for w in (client_writer, server_writer):
        try:
            w.close()
            await asyncio.wait_for(w.wait_closed(), 5)
        except (OSError, ssl.SSLError, asyncio.TimeoutError):
            pass


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["to-tls", "from-tls"])
    p.add_argument("target_port", type=int)
    p.add_argument("--cafile")
    p.add_argument("--server-name", default="localhost")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--idle", type=float, default=120)
    a = p.parse_args()

    if a.mode == "to-tls":
        ctx = ssl.create_default_context(cafile=a.cafile)
        ctx.set_alpn_protocols(["http/1.1"])

        def connect():
            return asyncio.open_connection(
                "127.0.0.1", a.target_port, ssl=ctx, server_hostname=a.server_name,
                limit=1 << 20)

        listen_ctx = None
        client_is_tls = False
    else:
        listen_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        listen_ctx.load_cert_chain(a.cert, a.key)
        listen_ctx.set_alpn_protocols(["http/1.1"])

        def connect():
            return asyncio.open_connection("127.0.0.1", a.target_port, limit=1 << 20)

        client_is_tls = True

    server = await asyncio.start_server(
        lambda r, w: relay(r, w, connect, client_is_tls, a.idle),
        "127.0.0.1", 0, ssl=listen_ctx, limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
