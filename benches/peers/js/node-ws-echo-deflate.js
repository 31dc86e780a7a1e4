// Node's `ws` package as an echo peer with permessage-deflate on, for
// scripts/bench-deflate.sh:
//
//   node node-ws-echo-deflate.js --listen 127.0.0.1:9006
//
// `perMessageDeflate: true` takes ws's defaults (Node's zlib settings,
// messages under 1 KiB sent uncompressed) and answers the client's offer, so with wsload --deflate neither side keeps
// context between messages. Every message is echoed with its type.
"use strict";
const { WebSocketServer } = require("ws");
const { listenAddr, MAX_MESSAGE } = require("./listen.js");

const { host, port } = listenAddr("node-ws-echo-deflate", "127.0.0.1:9006");
const wss = new WebSocketServer({
  host,
  port,
  perMessageDeflate: true,
  maxPayload: MAX_MESSAGE,
});
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
});
wss.on("listening", () => {
  console.error(`node-ws-echo-deflate listening on ws://${host}:${port}/ (node ${process.version})`);
});
