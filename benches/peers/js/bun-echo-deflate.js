// bun-echo.js with permessage-deflate on (`perMessageDeflate: true`), for
// scripts/bench-deflate.sh:
//
//   node_modules/@oven/bun-linux-x64/bin/bun bun-echo-deflate.js --listen 127.0.0.1:9005
//
// Bun answers the client's offer; with wsload --deflate (no context
// takeover asked for either way) it compresses each message on its own.
// Every message is sent back with `ws.send(message, true)`, which keeps its
// type: Bun compresses only the sends that ask for it (the second
// argument), and with plain `ws.send(message)` the echoes go out
// uncompressed even though the extension was negotiated.
"use strict";
const { listenAddr, MAX_MESSAGE } = require("./listen.js");

const { host, port } = listenAddr("bun-echo-deflate", "127.0.0.1:9005");
const server = Bun.serve({
  hostname: host,
  port,
  fetch(req, server) {
    if (server.upgrade(req)) return undefined;
    return new Response("WebSocket echo: upgrade required\n", { status: 426 });
  },
  websocket: {
    message(ws, message) {
      ws.send(message, true);
    },
    perMessageDeflate: true,
    maxPayloadLength: MAX_MESSAGE,
    backpressureLimit: MAX_MESSAGE,
    closeOnBackpressureLimit: false,
    idleTimeout: 0,
  },
});
console.error(`bun-echo-deflate listening on ws://${host}:${server.port}/ (bun ${Bun.version})`);
