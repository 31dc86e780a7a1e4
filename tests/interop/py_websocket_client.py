"""Matrix row: the Python `websocket-client` package against URL.

    python py_websocket_client.py ws://127.0.0.1:9001/

Sends each message and checks its echo byte for byte (and its opcode),
pings with 125 bytes and checks the pong, sends close 1000 and checks the
server's close frame carries 1000. Exit status 0 only if everything matched.
"""

import struct
import sys
import time

import websocket
from websocket import ABNF

from payloads import PING, describe, messages


def main(url: str) -> int:
    start = time.monotonic()
    ws = websocket.create_connection(url, timeout=10)
    print("connected")
    try:
        for kind, n, want in messages():
            if kind == "text":
                ws.send(want, ABNF.OPCODE_TEXT)
            else:
                ws.send_binary(want)
            opcode, data = ws.recv_data()
            got = data.decode() if opcode == ABNF.OPCODE_TEXT else data
            if opcode not in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY) or got != want:
                print(f"FAIL {kind} {n}: opcode {opcode}, {describe(got, want)}")
                return 1
            print(f"ok   {kind:<6} {n:>7} bytes")
        ws.ping(PING)
        opcode, data = ws.recv_data(control_frame=True)
        if opcode != ABNF.OPCODE_PONG or data != PING:
            print(f"FAIL ping: got opcode {opcode}, {describe(data, PING)}")
            return 1
        print("ok   ping/pong with 125 bytes")
        ws.send_close(1000, b"done")
        # recv_frame, not recv_data: the latter would send a second close.
        frame = ws.recv_frame()
        if frame.opcode != ABNF.OPCODE_CLOSE or len(frame.data) < 2:
            print(f"FAIL close: got opcode {frame.opcode} payload {frame.data!r}")
            return 1
        (code,) = struct.unpack("!H", frame.data[:2])
        if code != 1000:
            print(f"FAIL close: server replied {code}, want 1000")
            return 1
        print(f"ok   close: server replied {code}")
        # The server closes TCP after the handshake: expect end of stream.
        ws.sock.settimeout(5)
        if ws.sock.recv(1) != b"":
            print("FAIL data after the server's close frame")
            return 1
    finally:
        ws.shutdown()
    print(f"PASS in {time.monotonic() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
