// Fan-out anchor on Bun (uWebSockets inside): Bun's own pub/sub.
//
//     bun js/fanout-bun.js 127.0.0.1:9401
//
// ws://HOST:PORT/topic/NAME subscribes the connection to NAME, and every
// message it sends (text or binary, kind kept) goes to NAME's other
// subscribers with ws.publish, which skips the sender. Any other path
// echoes, so the same server holds plain connections for the idle-memory
// comparison. Limits are raised as in the echo peers: no compression, no
// idle timeout or pings, 64 MiB messages and backpressure, so that the
// benchmark (which bounds what is in flight) never meets them.
const addr = process.argv[2] ?? '127.0.0.1:9401';
const colon = addr.lastIndexOf(':');
const hostname = addr.slice(0, colon);
const port = Number(addr.slice(colon + 1));
const PREFIX = '/topic/';

const server = Bun.serve({
  hostname,
  port,
  fetch(req, server) {
    const path = new URL(req.url).pathname;
    const topic = path.startsWith(PREFIX) ? decodeURIComponent(path.slice(PREFIX.length)) : null;
    if (server.upgrade(req, { data: { topic } })) return;
    return new Response('a WebSocket endpoint\n', { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    maxPayloadLength: 64 << 20,
    backpressureLimit: 64 << 20,
    closeOnBackpressureLimit: false,
    idleTimeout: 0,
    sendPings: false,
    publishToSelf: false,
    open(ws) {
      if (ws.data.topic !== null) ws.subscribe(ws.data.topic);
    },
    message(ws, message) {
      if (ws.data.topic !== null) ws.publish(ws.data.topic, message);
      else ws.send(message);
    },
  },
});
console.log(`listening on ws://${server.hostname}:${server.port}`);
