// Bun's WebSocket server (uWebSockets inside) as an echo peer for our
// benchmarks. Run with the bun binary from @oven/bun-linux-x64:
//
//   node_modules/@oven/bun-linux-x64/bin/bun bun-echo.js --listen 127.0.0.1:9004
//
// Every text and binary message is sent back with `ws.send(message)`, which
// keeps its type; pings are answered and close frames echoed by Bun itself.
// No permessage-deflate, no idle timeout, messages and queued output up to
// 64 MiB (like the Rust peers).
"use strict";
const { listenAddr, MAX_MESSAGE } = require("./listen.js");

const { host, port } = listenAddr("bun-echo", "127.0.0.1:9004");
const server = Bun.serve({
  hostname: host,
  port,
  fetch(req, server) {
    if (server.upgrade(req)) return undefined;
    return new Response("WebSocket echo: upgrade required\n", { status: 426 });
  },
  websocket: {
    message(ws, message) {
      ws.send(message);
    },
    perMessageDeflate: false,
    maxPayloadLength: MAX_MESSAGE,
    backpressureLimit: MAX_MESSAGE,
    closeOnBackpressureLimit: false,
    idleTimeout: 0,
  },
});
console.error(`bun-echo listening on ws://${host}:${server.port}/ (bun ${Bun.version})`);
