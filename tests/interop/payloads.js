// The messages every row of the interoperability matrix exchanges: the same
// bytes as payloads.py and examples/interop-client.rs build. Plain script so
// the browser test page can load it too (it sets globalThis.interopPayloads).
'use strict';
(function (root) {
  // 4096: with permessage-deflate, a message compressed as one complete
  // stream (it fits the window); 65536 and up are streamed.
  const SIZES = [0, 125, 126, 4096, 65536, 1 << 20];

  // n bytes of UTF-8: "aé中😀" (1 + 2 + 3 + 4 bytes) repeated, padded with 'x'.
  const text = (n) => 'aé中😀'.repeat(Math.floor(n / 10)) + 'x'.repeat(n % 10);

  // n bytes that differ from a copy shifted by any multiple of 256.
  const binary = (n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
    return b;
  };

  // [kind, size, payload] in sending order: text then binary, per size.
  const messages = () => SIZES.flatMap((n) => [['text', n, text(n)], ['binary', n, binary(n)]]);

  // Index of the first differing byte, or -1 when equal (length included).
  const firstDifference = (got, want) => {
    const n = Math.min(got.length, want.length);
    for (let i = 0; i < n; i++) if (got[i] !== want[i]) return i;
    return got.length === want.length ? -1 : n;
  };

  const api = { SIZES, text, binary, messages, firstDifference, PING: binary(125) };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.interopPayloads = api;
})(typeof globalThis !== 'undefined' ? globalThis : this);
