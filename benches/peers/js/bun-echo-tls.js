// Bun's WebSocket server (uWebSockets inside, BoringSSL for TLS) as a wss://
// echo peer for our TLS benchmark. Run with the bun binary from
// @oven/bun-linux-x64:
//
//   node_modules/@oven/bun-linux-x64/bin/bun bun-echo-tls.js \
//       --tls-cert cert.pem --tls-key key.pem --listen 127.0.0.1:9443
//
// The same echo as bun-echo.js (ws.send(message) keeps the type; pings and
// close frames answered by Bun; no permessage-deflate, no idle timeout,
// messages and queued output up to 64 MiB), served with
// Bun.serve({ tls: { cert, key } }).
"use strict";
const { listenAddr, MAX_MESSAGE } = require("./listen.js");

// --tls-cert and --tls-key are taken out before listen.js reads the rest.
const files = {};
for (const flag of ["--tls-cert", "--tls-key"]) {
  const at = process.argv.indexOf(flag);
  if (at < 0 || at + 1 >= process.argv.length) {
    console.error(`bun-echo-tls: ${flag} FILE is required`);
    process.exit(2);
  }
  files[flag] = process.argv[at + 1];
  process.argv.splice(at, 2);
}

const { host, port } = listenAddr("bun-echo-tls", "127.0.0.1:9443");
const server = Bun.serve({
  hostname: host,
  port,
  tls: { cert: Bun.file(files["--tls-cert"]), key: Bun.file(files["--tls-key"]) },
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
console.error(`bun-echo-tls listening on wss://${host}:${server.port}/ (bun ${Bun.version})`);
