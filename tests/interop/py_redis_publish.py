"""Row 11c of scripts/interop.sh: a Python program (a Flask app, say)
publishes with redis-py, and WebSocket clients on two instances that share
that Redis each receive every message once, in order, text as text and
binary as binary.

    py_redis_publish.py REDIS_URL WS_URL_A WS_URL_B
"""
import asyncio
import sys

import redis
from websockets.asyncio.client import connect

TOPIC = "interop-redis-py"
CHANNEL = "rfc6455:topic:" + TOPIC


async def main(redis_url, urls):
    r = redis.Redis.from_url(redis_url)
    clients = [await connect(f"{u}/topic/{TOPIC}", compression=None) for u in urls]
    # Both instances subscribed in Redis before the first publish: to the
    # topic's channel (without topic history), or to every topic with one
    # pattern (with history, the default: each instance keeps every topic's
    # ids so that a resume works on any of them).
    for _ in range(200):
        channel = dict(r.pubsub_numsub(CHANNEL)).get(CHANNEL.encode(), 0)
        # PUBSUB NUMPAT counts distinct patterns, not subscribers to them.
        pattern = sum(1 for c in r.client_list() if int(c.get("psub", 0)) > 0)
        if channel == len(urls) or pattern >= len(urls):
            break
        await asyncio.sleep(0.02)
    else:
        raise SystemExit("FAIL the instances never subscribed to " + CHANNEL)
    print(f"ok   both instances subscribed to {CHANNEL} (or to its pattern)")
    sent = [f"from redis-py {i} é" for i in range(20)]
    for text in sent:
        r.publish(CHANNEL, text)
    r.publish(CHANNEL, b"\x00rfc6455 kind=binary\nraw")  # the envelope: binary that is UTF-8
    r.publish(CHANNEL, b"\xff\xfe")  # not UTF-8: binary
    want = sent + [b"raw", b"\xff\xfe"]
    for i, ws in enumerate(clients):
        got = [await asyncio.wait_for(ws.recv(), 10) for _ in want]
        if got != want:
            raise SystemExit(f"FAIL instance {i + 1} got {got!r}")
        print(f"ok   instance {i + 1}: {len(want)} messages once, in order, types kept")
        await ws.close()
    print("PASS redis-py publishes reached both instances")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
