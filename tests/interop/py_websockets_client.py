"""Matrix row: the Python `websockets` client (sync API) against URL.

    python py_websockets_client.py ws://127.0.0.1:9001/ [deflate]
    python py_websockets_client.py wss://localhost:9443/ CA.pem [deflate]

Offers permessage-deflate (its default) and checks the server accepted it
(with `deflate`) or declined it,
sends each message and checks its echo byte for byte, pings with 125 bytes
and waits for the matching pong, closes with 1000 and checks the server
answered 1000. Exit status 0 only if everything matched.
"""

import ssl
import sys
import time

from websockets.sync.client import connect

from payloads import PING, describe, messages


def main(url: str, cafile: str | None = None, want_deflate: bool = False) -> int:
    start = time.monotonic()
    tls = ssl.create_default_context(cafile=cafile) if url.startswith("wss:") else None
    with connect(url, max_size=None, open_timeout=10, close_timeout=10, ssl=tls) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions")
        accepted = ext is not None and ext.startswith("permessage-deflate")
        if accepted != want_deflate or (ext is not None and not accepted):
            print(f"FAIL server answered Sec-WebSocket-Extensions: {ext}")
            return 1
        print(f"connected; permessage-deflate offered and {'accepted: ' + ext if accepted else 'declined'}")
        for kind, n, want in messages():
            ws.send(want)
            got = ws.recv(timeout=10)
            if got != want or type(got) is not type(want):
                print(f"FAIL {kind} {n}: {describe(got, want)}")
                return 1
            print(f"ok   {kind:<6} {n:>7} bytes")
        # websockets matches a pong to its ping by payload.
        if not ws.ping(PING).wait(10):
            print("FAIL no pong with the ping's 125-byte payload")
            return 1
        print("ok   ping/pong with 125 bytes")
        ws.close(1000, "done")
        rcvd = ws.protocol.close_rcvd
        if rcvd is None or rcvd.code != 1000:
            print(f"FAIL close: server replied {rcvd}, want 1000")
            return 1
        print(f"ok   close: server replied {rcvd.code}")
    print(f"PASS in {time.monotonic() - start:.2f} s")
    return 0


if __name__ == "__main__":
    extra = sys.argv[2:]
    sys.exit(main(sys.argv[1], next((a for a in extra if a != "deflate"), None), "deflate" in extra))
