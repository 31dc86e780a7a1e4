// Fan-out anchor on Node's `ws`: a Set of connections per topic, and a
// loop of client.send over the others, as ws's README broadcasts.
//
//     node js/fanout-node-ws.js 127.0.0.1:9402
//
// ws://HOST:PORT/topic/NAME joins NAME; every message a member sends
// (text or binary, kind kept) goes to every other member. Any other path
// echoes (plain connections for the idle-memory comparison). No
// compression, 64 MiB messages, no client tracking beyond the topics.
'use strict';
const { WebSocketServer, WebSocket } = require('ws');

const addr = process.argv[2] ?? '127.0.0.1:9402';
const colon = addr.lastIndexOf(':');
const host = addr.slice(0, colon);
const port = Number(addr.slice(colon + 1));
const PREFIX = '/topic/';
const topics = new Map();

const wss = new WebSocketServer({ host, port, perMessageDeflate: false, maxPayload: 64 << 20, clientTracking: false });
wss.on('listening', () => console.log(`listening on ws://${host}:${wss.address().port}`));
wss.on('connection', (ws, req) => {
  ws.on('error', (e) => console.error('connection error:', e.message));
  const path = new URL(req.url, 'ws://localhost').pathname;
  if (!path.startsWith(PREFIX)) {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    return;
  }
  const topic = decodeURIComponent(path.slice(PREFIX.length));
  let members = topics.get(topic);
  if (members === undefined) {
    members = new Set();
    topics.set(topic, members);
  }
  members.add(ws);
  ws.on('message', (data, isBinary) => {
    for (const client of members) {
      if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
  ws.on('close', () => {
    members.delete(ws);
    if (members.size === 0) topics.delete(topic);
  });
});
