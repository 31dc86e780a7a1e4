// An echo server on the Node `ws` library, for our client's rows.
//
//     node node_ws_server.js      # prints "listening on ws://127.0.0.1:PORT"
//     node node_ws_server.js --tls CERT.pem KEY.pem   # wss:// instead
//
// Binds an ephemeral loopback port, accepts permessage-deflate (every
// message compressed, threshold 0) and echoes text and binary messages with
// their type; ws answers pings and completes the close handshake itself.
// Runs until killed.
'use strict';
const { WebSocketServer } = require('ws');

const options = { perMessageDeflate: { threshold: 0 }, maxPayload: 64 << 20 };
let scheme = 'ws';
if (process.argv[2] === '--tls') {
  const fs = require('fs');
  const https = require('https');
  const server = https.createServer({ cert: fs.readFileSync(process.argv[3]), key: fs.readFileSync(process.argv[4]) });
  server.listen(0, '127.0.0.1', () => console.log(`listening on wss://127.0.0.1:${server.address().port}`));
  options.server = server;
  scheme = 'wss';
} else {
  options.host = '127.0.0.1';
  options.port = 0;
}
const wss = new WebSocketServer(options);
if (scheme === 'ws') wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${wss.address().port}`));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', (e) => console.error('connection error:', e.message));
});
