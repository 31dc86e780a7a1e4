// uWebSockets.js as an echo peer for our benchmarks, on Node.js 20:
//
//   node uws-echo.js --listen 127.0.0.1:9005
//
// @trufflesuite/uws-js-unofficial ships uWebSockets.js builds that load on
// Debian 12's glibc 2.36 (the official builds need 2.38). Every text and
// binary message is sent back with its type; uWebSockets answers pings and
// echoes close frames itself. No compression, no idle timeout, messages
// and queued output up to 64 MiB (like the Rust peers).
"use strict";
const uWS = require("@trufflesuite/uws-js-unofficial");
const { listenAddr, MAX_MESSAGE } = require("./listen.js");

const { host, port } = listenAddr("uws-echo", "127.0.0.1:9005");
uWS.App()
  .ws("/*", {
    compression: uWS.DISABLED,
    maxPayloadLength: MAX_MESSAGE,
    maxBackpressure: MAX_MESSAGE,
    closeOnBackpressureLimit: false,
    idleTimeout: 0,
    message: (ws, message, isBinary) => {
      ws.send(message, isBinary);
    },
  })
  .any("/*", (res) => {
    res.writeStatus("426 Upgrade Required").end("WebSocket echo: upgrade required\n");
  })
  .listen(host, port, (token) => {
    if (!token) {
      console.error(`uws-echo: cannot listen on ${host}:${port}`);
      process.exit(1);
    }
    console.error(`uws-echo listening on ws://${host}:${port}/`);
  });
