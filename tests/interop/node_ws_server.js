// An echo server on the Node `ws` library, for our client's rows.
//
//     node node_ws_server.js      # prints "listening on ws://127.0.0.1:PORT"
//
// Binds an ephemeral loopback port, accepts permessage-deflate (every
// message compressed, threshold 0) and echoes text and binary messages with
// their type; ws answers pings and completes the close handshake itself.
// Runs until killed.
'use strict';
const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 }, maxPayload: 64 << 20 });
wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${wss.address().port}`));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', (e) => console.error('connection error:', e.message));
});
