// Core-to-core round trip for the benchmark logs: the main thread and a
// worker bounce a counter through one shared cache line, and the median
// nanoseconds per round trip over 9 batches is printed. Run it under
// `taskset -c 0,1`: with two spinning threads on two cores each gets one.
// This machine's two cores are sometimes close (about 115 ns here) and
// sometimes far (about 350 ns), which moves every server's CPU per
// message; the figure lets runs be compared like with like.
'use strict';
const { Worker, isMainThread, workerData } = require('node:worker_threads');

const ROUNDS = 100000;
const BATCHES = 9;
const STOP = 1 << 30;

if (isMainThread) {
  const cell = new Int32Array(new SharedArrayBuffer(64));
  const worker = new Worker(__filename, { workerData: cell.buffer });
  while (Atomics.load(cell, 1) === 0) {}
  const perTrip = [];
  let v = 0;
  for (let b = 0; b < BATCHES; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ROUNDS; i++) {
      Atomics.store(cell, 0, ++v);
      while (Atomics.load(cell, 0) !== -v) {}
    }
    perTrip.push(Number(process.hrtime.bigint() - t0) / ROUNDS);
  }
  Atomics.store(cell, 0, STOP);
  perTrip.sort((x, y) => x - y);
  console.log(perTrip[BATCHES >> 1].toFixed(0));
  worker.terminate();
} else {
  const cell = new Int32Array(workerData);
  Atomics.store(cell, 1, 1);
  for (;;) {
    const v = Atomics.load(cell, 0);
    if (v === STOP) break;
    if (v > 0) Atomics.store(cell, 0, -v);
  }
}
