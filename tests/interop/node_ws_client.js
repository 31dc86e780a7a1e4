// Matrix row: the Node `ws` client against URL.
//
//     node node_ws_client.js ws://127.0.0.1:9001/ [deflate]
//     node node_ws_client.js wss://localhost:9443/ CA.pem [deflate]
//
// Offers permessage-deflate (ws's default, with compression of every
// message from 0 bytes up) and checks the server accepted it (with
// `deflate`) or declined it, sends all messages at once (ws queues them) and checks each echo, in
// order, byte for byte and by type; pings with 125 bytes and checks the
// pong; closes with 1000 and checks the server answered 1000.
'use strict';
const WebSocket = require('ws');
const { messages, firstDifference, PING } = require('./payloads.js');

const url = process.argv[2];
const extra = process.argv.slice(3);
const wantDeflate = extra.includes('deflate');
const cafile = extra.find((a) => a !== 'deflate');
const start = Date.now();
const fail = (why) => {
  console.log('FAIL ' + why);
  process.exit(1);
};
setTimeout(() => fail('timed out after 20 s'), 20000).unref();

const expected = messages();
let next = 0;
let pinged = false;
let closing = false;
const options = { maxPayload: 64 << 20, perMessageDeflate: { threshold: 0 } };
if (cafile) options.ca = require('fs').readFileSync(cafile);
const ws = new WebSocket(url, options);
ws.on('open', () => {
  const accepted = ws.extensions.startsWith('permessage-deflate');
  if (accepted !== wantDeflate || (!accepted && ws.extensions !== '')) fail(`server answered extensions: [${ws.extensions}]`);
  console.log(`connected; permessage-deflate offered and ${accepted ? `accepted: ${ws.extensions}` : 'declined'}`);
  for (const [kind, , payload] of expected) ws.send(payload, { binary: kind === 'binary' });
});
ws.on('message', (data, isBinary) => {
  if (next >= expected.length) fail('an unexpected message');
  const [kind, n, payload] = expected[next++];
  const want = kind === 'text' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  if (isBinary !== (kind === 'binary')) fail(`${kind} ${n}: echoed as ${isBinary ? 'binary' : 'text'}`);
  const at = firstDifference(data, want);
  if (at !== -1) fail(`${kind} ${n}: ${data.length} bytes, want ${want.length}; first difference at byte ${at}`);
  console.log(`ok   ${kind.padEnd(6)} ${String(n).padStart(7)} bytes`);
  if (next === expected.length) {
    pinged = true;
    ws.ping(PING);
  }
});
ws.on('pong', (data) => {
  if (!pinged) fail('a pong before the ping');
  if (firstDifference(data, PING) !== -1) fail(`pong payload ${data.toString('hex')} differs from the ping's`);
  console.log('ok   ping/pong with 125 bytes');
  closing = true;
  ws.close(1000, 'done');
});
ws.on('error', (e) => fail(`error: ${e.message}`));
ws.on('close', (code, reason) => {
  if (!closing) fail(`closed early: ${code} ${reason}`);
  if (code !== 1000) fail(`close: server replied ${code} ${reason}, want 1000`);
  console.log(`ok   close: server replied ${code}`);
  console.log(`PASS in ${((Date.now() - start) / 1000).toFixed(2)} s`);
  process.exit(0);
});
