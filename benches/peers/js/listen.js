// The listen address of a JS peer: `--listen HOST:PORT` or a bare
// `HOST:PORT` as the last argument (scripts/bench-echo.sh appends one).
"use strict";

function listenAddr(name, fallback) {
  const args = process.argv.slice(2);
  let addr = fallback;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--listen") addr = args[++i];
    else if (args[i].startsWith("--listen=")) addr = args[i].slice(9);
    else if (!args[i].startsWith("-")) addr = args[i];
    else {
      console.error(`${name}: unknown argument ${args[i]}`);
      process.exit(2);
    }
  }
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(addr || "");
  if (!m) {
    console.error(`${name}: listen address ${addr} is not HOST:PORT`);
    process.exit(2);
  }
  return { host: m[1], port: Number(m[2]) };
}

// The limits every peer gets (benches/peers/src/setup.rs): messages up to
// 64 MiB, and as much queued output, so no peer closes a connection the
// benchmark keeps busy.
const MAX_MESSAGE = 64 << 20;

module.exports = { listenAddr, MAX_MESSAGE };
