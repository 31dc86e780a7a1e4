// Unit checks of the browser module (src/server/rfc6455.js) under node,
// with a fake WebSocket, so that its logic is pinned without a browser:
// backoff ranges, the resume URL, ids (duplicates dropped, a reset
// reported, ids past 2^53 kept exact), the heartbeat reply kept out of
// the messages, the bounded send queue, the heartbeat timeout on a silent
// link, the close event close() ends with in every state, and waking up
// on the page's "online" and "visibilitychange" events.
//
//     node rfc6455_module.js path/to/rfc6455.js
'use strict';
const assert = require('assert');
const RFC6455 = require(require('path').resolve(process.argv[2]));

class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.last = this;
  }
  send(data) { this.sent.push(data); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen(); }
  receive(data) { this.onmessage({ data }); }
  drop(code) { this.readyState = 3; this.onclose({ code, reason: '', wasClean: false }); }
}

function ok(what) { console.log(`ok   ${what}`); }

// Fake timers for the checks that need no real time: setTimeout and
// clearTimeout are replaced until restore(), and advance(ms) runs what
// falls due, in order.
function fakeClock() {
  const real = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };
  const timers = new Map();
  let t = 0;
  let seq = 0;
  globalThis.setTimeout = (fn, ms) => { timers.set(++seq, { at: t + (ms || 0), fn }); return seq; };
  globalThis.clearTimeout = (id) => { timers.delete(id); };
  return {
    advance(ms) {
      const end = t + ms;
      for (;;) {
        let next = null;
        for (const [id, x] of timers) if (x.at <= end && (!next || x.at < next[1].at)) next = [id, x];
        if (!next) break;
        timers.delete(next[0]);
        t = next[1].at;
        next[1].fn();
      }
      t = end;
    },
    restore() { Object.assign(globalThis, real); },
  };
}

(async () => {
  // Full jitter below the ceiling; the ceiling without jitter.
  const policy = { initial: 1000, max: 5000, factor: 2 };
  for (let attempt = 0; attempt < 8; attempt++) {
    const cap = Math.min(5000, 1000 * 2 ** attempt);
    assert.strictEqual(RFC6455.backoff(attempt, policy, () => 0), 0);
    assert.strictEqual(RFC6455.backoff(attempt, policy, () => 0.999999), cap - 1);
    assert.strictEqual(RFC6455.backoff(attempt, { ...policy, jitter: false }), cap);
  }
  ok('backoff: uniform below min(max, initial * factor^n); the ceiling without jitter');

  const events = [];
  const s = RFC6455.connect('ws://h/topic/a?x=1', {
    WebSocket: FakeSocket, resume: true, queue: 2,
    heartbeat: { message: 'ping', reply: 'pong', interval: 50, timeout: 50 },
    reconnect: { initial: 10, max: 10, factor: 2 },
  });
  for (const name of ['open', 'message', 'subscribed', 'reset', 'close', 'reconnecting']) {
    s.on(name, (...args) => events.push([name, ...args]));
  }
  assert.strictEqual(FakeSocket.last.url, 'ws://h/topic/a?x=1&ids=1');
  assert.strictEqual(s.send('q1'), true);
  assert.strictEqual(s.send('q2'), true);
  assert.strictEqual(s.send('q3'), false, 'the queue is bounded');
  FakeSocket.last.open();
  assert.deepStrictEqual(FakeSocket.last.sent, ['q1', 'q2']);
  ok('resume asks for ids; the send queue is bounded and flushed on open');

  const ws = FakeSocket.last;
  ws.receive('{"type":"subscribed","topic":"a","epoch":"e1","last":4}');
  ws.receive('{"topic":"a","id":5,"data":"five"}');
  ws.receive('{"topic":"a","id":5,"data":"five again"}');
  ws.receive('{"topic":"a","id":6,"binary":"AP8="}');
  const messages = events.filter((e) => e[0] === 'message');
  assert.strictEqual(messages.length, 2, 'a duplicate id is not a message');
  assert.deepStrictEqual([messages[0][1], messages[0][2]], ['five', { topic: 'a', id: 5 }]);
  assert.deepStrictEqual(Array.from(new Uint8Array(messages[1][1])), [0, 255]);
  assert.strictEqual(s.connectUrl(), 'ws://h/topic/a?x=1&since=6&epoch=e1');
  ok('ids: duplicates dropped, binary decoded, the next URL resumes after 6');

  ws.drop(1006);
  const reconnecting = events.find((e) => e[0] === 'reconnecting');
  assert.ok(reconnecting && reconnecting[1].delay < 10, JSON.stringify(reconnecting));
  await new Promise((r) => setTimeout(r, 30));
  assert.notStrictEqual(FakeSocket.last, ws, 'a new socket after the delay');
  assert.strictEqual(FakeSocket.last.url, 'ws://h/topic/a?x=1&since=6&epoch=e1');
  FakeSocket.last.open();
  FakeSocket.last.receive('{"type":"subscribed","topic":"a","epoch":"e2","last":1,"recovered":false}');
  FakeSocket.last.receive('{"topic":"a","id":1,"data":"new epoch"}');
  const reset = events.find((e) => e[0] === 'reset');
  assert.deepStrictEqual(reset[1], { topic: 'a', epoch: 'e2', since: 6 });
  assert.strictEqual(events.filter((e) => e[0] === 'message').pop()[1], 'new epoch');
  ok('reconnect after the delay, with since and epoch; another epoch is a reset, its messages follow');

  // Silence: the heartbeat goes out after 50 ms, nothing answers within
  // 50 ms more, and the link is given up without waiting for a close.
  const silent = FakeSocket.last;
  await new Promise((r) => setTimeout(r, 180));
  assert.ok(silent.sent.includes('ping'), 'a heartbeat was sent');
  // (The attempt that follows never opens: its connect timeout may come next.)
  const closes = events.filter((e) => e[0] === 'close').map((e) => e[1].reason);
  assert.strictEqual(closes[1], 'heartbeat timeout', JSON.stringify(closes));
  ok('a silent link is given up by the heartbeat timeout');
  s.close();

  // close() from a "close" listener (the way to stop on a 1008) is final.
  const stop = RFC6455.connect('ws://h/topic/b', {
    WebSocket: FakeSocket, heartbeat: null, reconnect: { initial: 5, max: 5 },
  });
  stop.on('close', (e) => { if (e.code === 1008) stop.close(); });
  const first = FakeSocket.last;
  first.open();
  first.drop(1008);
  await new Promise((r) => setTimeout(r, 30));
  assert.strictEqual(FakeSocket.last, first, 'no new socket after close() in the listener');
  assert.strictEqual(stop.state, 'closed');
  ok('close() called from a close listener stops the reconnects');

  // A server that accepts and closes at once: the delays grow; a
  // connection that lasted at least `max` starts them over.
  const delays = [];
  const flap = RFC6455.connect('ws://h/topic/c', {
    WebSocket: FakeSocket, heartbeat: null,
    reconnect: { initial: 5, max: 40, factor: 2, jitter: false },
  });
  flap.on('reconnecting', (e) => delays.push(e.delay));
  for (let i = 0; i < 4; i++) {
    FakeSocket.last.open();
    FakeSocket.last.drop(1008);
    await new Promise((r) => setTimeout(r, delays[delays.length - 1] + 40));
  }
  assert.deepStrictEqual(delays, [5, 10, 20, 40]);
  FakeSocket.last.open();
  await new Promise((r) => setTimeout(r, 50));
  FakeSocket.last.drop(1006);
  assert.strictEqual(delays.pop(), 5, 'a connection that lasted starts the delays over');
  flap.close();
  ok('backoff grows while connections close at once, and starts over after one that lasted');

  // A step of the wall clock between the heartbeat and its answer does
  // not kill a live link (the module's clock is monotonic).
  const realNow = Date.now;
  const stepped = RFC6455.connect('ws://h/topic/d', {
    WebSocket: FakeSocket, reconnect: { initial: 1000, max: 1000 },
    heartbeat: { message: 'ping', reply: 'pong', interval: 30, timeout: 100 },
  });
  const stepCloses = [];
  stepped.on('close', (e) => stepCloses.push(e.reason));
  const live = FakeSocket.last;
  live.open();
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(live.sent.includes('ping'), 'a heartbeat was sent');
  Date.now = () => realNow() - 5000;
  live.receive('pong');
  await new Promise((r) => setTimeout(r, 150));
  Date.now = realNow;
  assert.deepStrictEqual(stepCloses, [], 'the live link was kept');
  stepped.close();
  ok('a wall-clock step does not kill a live link');

  // The reply is kept out of the messages only in answer to a heartbeat:
  // a room message that reads like it, unasked for, is a message.
  const chat = RFC6455.connect('ws://h/topic/f', {
    WebSocket: FakeSocket, reconnect: false,
    heartbeat: { message: 'ping', reply: 'pong', interval: 20, timeout: 1000 },
  });
  const said = [];
  chat.on('message', (data) => said.push(data));
  const room = FakeSocket.last;
  room.open();
  room.receive('pong');
  await new Promise((r) => setTimeout(r, 40));
  assert.deepStrictEqual(room.sent.filter((m) => m === 'ping').length, 1, 'one heartbeat');
  room.receive('pong');
  room.receive('pong');
  room.receive('hi');
  assert.deepStrictEqual(said, ['pong', 'pong', 'hi'], 'one reply taken for the one heartbeat');
  chat.close();
  ok('the heartbeat reply is taken only in answer to a heartbeat');

  // An opening handshake that never completes (a stopped server whose
  // kernel still accepts, a proxy whose backend hangs) is given up after
  // the heartbeat timeout, as a silent open link is, and tried again.
  // The first attempt hangs; the next one opens as soon as it is made.
  let attempts = 0;
  class HangsOnce extends FakeSocket {
    constructor(url) {
      super(url);
      if (attempts++ > 0) queueMicrotask(() => this.open());
    }
  }
  const hung = RFC6455.connect('ws://h/topic/e', {
    WebSocket: HangsOnce, reconnect: { initial: 5, max: 5 },
    heartbeat: { message: 'ping', reply: 'pong', interval: 1000, timeout: 40 },
  });
  const hungCloses = [];
  hung.on('close', (e) => hungCloses.push(e.reason));
  const pending = FakeSocket.last;
  await new Promise((r) => setTimeout(r, 150));
  assert.deepStrictEqual(hungCloses, ['connect timeout'], 'given up once, and not once opened');
  assert.strictEqual(pending.onopen, null, 'the hung socket is abandoned');
  assert.notStrictEqual(FakeSocket.last, pending, 'a new attempt after the connect timeout');
  assert.strictEqual(hung.state, 'open');
  hung.close();
  ok('a handshake that never completes is given up after the heartbeat timeout');

  // A URL relative to the page (which browsers' WebSocket takes) works in
  // resume mode too: the resume parameters are added to the resolved URL.
  globalThis.location = { href: 'https://app.example/room/index.html', protocol: 'https:', host: 'app.example' };
  try {
    const relative = RFC6455.connect('/topic/f?x=1', {
      WebSocket: FakeSocket, resume: true, heartbeat: null, reconnect: null,
    });
    assert.strictEqual(FakeSocket.last.url, 'https://app.example/topic/f?x=1&ids=1');
    relative.close();
  } finally {
    delete globalThis.location;
  }
  ok('a relative URL is resolved against the page in resume mode');
  // A URL the constructor refuses (a syntax error, ws:// from an https
  // page) is reported to the listeners added right after connect(), and
  // close() from the error listener stops the attempts.
  let refused = 0;
  class Refuses {
    constructor() {
      refused++;
      throw new SyntaxError('The URL\'s scheme must be either ws or wss');
    }
  }
  const bad = RFC6455.connect('ftp://h/topic/g', {
    WebSocket: Refuses, heartbeat: null, reconnect: { initial: 5, max: 5 },
  });
  const badEvents = [];
  bad.on('error', (e) => { badEvents.push(`error ${e.name}`); bad.close(); });
  bad.on('close', (e) => badEvents.push(`close ${e.code} ${e.willReconnect}`));
  await new Promise((r) => setTimeout(r, 50));
  // The close that close() tells, not the 1006 of the refused attempt.
  assert.deepStrictEqual(badEvents, ['error SyntaxError', 'close 1000 false']);
  assert.strictEqual(refused, 1, 'no attempt after close() in the error listener');
  ok('a URL the constructor refuses is told to listeners added after connect()');
  // No event after close(), even from a listener of the same message: a
  // "subscribed" listener that closes hears no "reset" after it.
  const quit = RFC6455.connect('ws://h/topic/h', { WebSocket: FakeSocket, resume: true, heartbeat: null });
  const quitEvents = [];
  quit.on('subscribed', () => { quitEvents.push('subscribed'); quit.close(); });
  quit.on('reset', () => quitEvents.push('reset'));
  FakeSocket.last.open();
  FakeSocket.last.receive('{"type":"subscribed","topic":"h","epoch":"e9","last":0,"recovered":false}');
  assert.deepStrictEqual(quitEvents, ['subscribed']);
  ok('no reset after close() from a subscribed listener');

  // The app's ?since=0 asks for the whole history on the first connection;
  // once the module has an id of its own, it resumes from that.
  const past = RFC6455.connect('ws://h/topic/i?since=0', { WebSocket: FakeSocket, resume: true, heartbeat: null });
  const pastMessages = [];
  past.on('message', (data, meta) => pastMessages.push([data, meta.id]));
  assert.strictEqual(FakeSocket.last.url, 'ws://h/topic/i?since=0');
  FakeSocket.last.open();
  FakeSocket.last.receive('{"type":"subscribed","topic":"i","epoch":"e3","last":2,"recovered":true}');
  FakeSocket.last.receive('{"topic":"i","id":1,"data":"one"}');
  FakeSocket.last.receive('{"topic":"i","id":2,"data":"two"}');
  assert.deepStrictEqual(pastMessages, [['one', 1], ['two', 2]]);
  assert.strictEqual(past.connectUrl(), 'ws://h/topic/i?since=2&epoch=e3');
  past.close();
  ok('the URL\'s own ?since=0 asks for the history first, then the module resumes from its ids');

  // close() while waiting to reconnect (no socket between two attempts)
  // is told like a close() in any other state, and no attempt follows.
  const clock = fakeClock();
  try {
    const away = RFC6455.connect('ws://h/topic/j', {
      WebSocket: FakeSocket, heartbeat: null, reconnect: { initial: 100, max: 100 },
    });
    const awayCloses = [];
    away.on('close', (e) => awayCloses.push([e.code, e.willReconnect]));
    const gone = FakeSocket.last;
    gone.open();
    gone.drop(1006);
    assert.strictEqual(away.state, 'reconnecting');
    away.close();
    clock.advance(10000);
    assert.strictEqual(FakeSocket.last, gone, 'no attempt after close()');
    assert.strictEqual(away.state, 'closed');
    assert.deepStrictEqual(awayCloses, [[1006, true], [1000, false]], 'close() between attempts is told');
    away.close();
    assert.strictEqual(awayCloses.length, 2, 'a second close() tells nothing');
    // Without reconnect, the server's close is the last event: a close()
    // from its listener adds none.
    const once = RFC6455.connect('ws://h/topic/j2', { WebSocket: FakeSocket, heartbeat: null, reconnect: null });
    const onceCloses = [];
    once.on('close', (e) => { onceCloses.push([e.code, e.willReconnect]); once.close(); });
    FakeSocket.last.open();
    FakeSocket.last.drop(1001);
    assert.deepStrictEqual(onceCloses, [[1001, false]], 'one close event');
    assert.strictEqual(once.state, 'closed');
  } finally {
    clock.restore();
  }
  ok('close() between two attempts emits a last close event and stops the attempts');

  // Ids past 2^53 (u64 on the server, from a broker up to 2^63-1) are
  // rounded by JSON.parse: 2^53+1 reads as 2^53. They are kept exact, so
  // that the next id is not taken for a duplicate and resume asks for
  // the right `since`.
  const big = RFC6455.connect('ws://h/topic/k', {
    WebSocket: FakeSocket, resume: true, heartbeat: null, reconnect: null,
  });
  const bigIds = [];
  big.on('message', (data, meta) => bigIds.push([data, meta.id]));
  FakeSocket.last.open();
  FakeSocket.last.receive('{"type":"subscribed","topic":"k","epoch":"e5","last":9007199254740991}');
  FakeSocket.last.receive('{"topic":"k","id":9007199254740992,"data":"a"}');
  assert.strictEqual(big.connectUrl(), 'ws://h/topic/k?since=9007199254740992&epoch=e5');
  FakeSocket.last.receive('{"topic":"k","id":9007199254740993,"data":"b"}');
  FakeSocket.last.receive('{"topic":"k","id":9007199254740993,"data":"b again"}');
  FakeSocket.last.receive('{"topic":"k","id":9223372036854775807,"binary":"AP8="}');
  assert.deepStrictEqual(bigIds.map(([d, id]) => [typeof d === 'string' ? d : 'bin', id]),
    [['a', '9007199254740992'], ['b', '9007199254740993'], ['bin', '9223372036854775807']]);
  assert.strictEqual(big.connectUrl(), 'ws://h/topic/k?since=9223372036854775807&epoch=e5');
  big.close();
  const late = RFC6455.connect('ws://h/topic/l', {
    WebSocket: FakeSocket, resume: true, heartbeat: null, reconnect: null,
  });
  FakeSocket.last.open();
  FakeSocket.last.receive('{"type":"subscribed","topic":"l","epoch":"e6","last":9007199254740993}');
  assert.strictEqual(late.connectUrl(), 'ws://h/topic/l?since=9007199254740993&epoch=e6');
  late.close();
  ok('ids past 2^53 are kept exact: none dropped as a duplicate, resume asks for the right since');

  // The server answers the heartbeat text whoever sends it and passes it
  // on to no one: the application's send('ping') (queued, then sent) is
  // answered 'pong', which is no room message. Another member's 'pong'
  // still is one.
  const clock2 = fakeClock();
  try {
    const typer = RFC6455.connect('ws://h/topic/m', {
      WebSocket: FakeSocket, reconnect: null,
      heartbeat: { message: 'ping', reply: 'pong', interval: 1000, timeout: 1000 },
    });
    const heard = [];
    typer.on('message', (data) => heard.push(data));
    typer.send('ping');
    const chatty = FakeSocket.last;
    chatty.open();
    typer.send('ping');
    assert.deepStrictEqual(chatty.sent, ['ping', 'ping']);
    chatty.receive('pong');
    chatty.receive('pong');
    chatty.receive('pong');
    assert.deepStrictEqual(heard, ['pong'], 'the replies to the two pings are not messages');
    typer.close();
  } finally {
    clock2.restore();
  }
  ok('the reply to a ping the application sent is not a message');

  // close() with a code the browser's WebSocket refuses (1001: a page may
  // send only 1000 and 3000-4999) throws, as WebSocket's does, but does
  // not leave the socket open behind a module that calls itself closed.
  class Strict extends FakeSocket {
    close(code) {
      if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) {
        throw new Error('InvalidAccessError');
      }
      super.close();
    }
  }
  const leaving = RFC6455.connect('ws://h/topic/n', { WebSocket: Strict, heartbeat: null, reconnect: null });
  const leavingCloses = [];
  leaving.on('close', (e) => leavingCloses.push(e.code));
  const strict = FakeSocket.last;
  strict.open();
  assert.throws(() => leaving.close(1001, 'going away'), /InvalidAccessError/);
  assert.strictEqual(strict.readyState, 3, 'the socket is closed');
  assert.strictEqual(leaving.state, 'closed');
  assert.deepStrictEqual(leavingCloses, [1000], 'the close event tells the code that went out');
  ok('close() with a code WebSocket refuses still closes the socket');

  // The URL's own ?since=ID, recovered with nothing after it yet: the
  // next attempt resumes from ID in the epoch the server named (without
  // the epoch, a restarted server would take ID in its new epoch and skip
  // that epoch's first ids). A reset names the ID it could not resume.
  const own = RFC6455.connect('ws://h/topic/o?since=7', {
    WebSocket: FakeSocket, resume: true, heartbeat: null, reconnect: null,
  });
  FakeSocket.last.open();
  FakeSocket.last.receive('{"type":"subscribed","topic":"o","epoch":"e7","last":7,"recovered":true}');
  assert.strictEqual(own.connectUrl(), 'ws://h/topic/o?since=7&epoch=e7');
  own.close();
  const ownReset = RFC6455.connect('ws://h/topic/p?since=9', {
    WebSocket: FakeSocket, resume: true, heartbeat: null, reconnect: null,
  });
  const ownResets = [];
  ownReset.on('reset', (e) => ownResets.push(e.since));
  FakeSocket.last.open();
  FakeSocket.last.receive('{"type":"subscribed","topic":"p","epoch":"e8","last":3,"recovered":false}');
  assert.deepStrictEqual(ownResets, [9]);
  ownReset.close();
  ok('the URL\'s own ?since=ID, recovered, resumes from ID in the server\'s epoch');
  // Waking up: the page's "online" event (and a hidden tab shown again)
  // makes a socket waiting to reconnect try at once, and an open one
  // send a heartbeat now; once closed for good, the listeners are gone.
  const page = new Map();
  const target = {
    addEventListener(name, fn) { page.set(name, (page.get(name) || []).concat([fn])); },
    removeEventListener(name, fn) { page.set(name, (page.get(name) || []).filter((f) => f !== fn)); },
  };
  const fire = (name) => { for (const fn of page.get(name) || []) fn(); };
  const doc = Object.assign({ visibilityState: 'visible' }, target);
  const saved = { add: globalThis.addEventListener, remove: globalThis.removeEventListener, doc: globalThis.document };
  Object.assign(globalThis, { addEventListener: target.addEventListener, removeEventListener: target.removeEventListener, document: doc });
  const clock3 = fakeClock();
  try {
    const waker = RFC6455.connect('ws://h/topic/w', {
      WebSocket: FakeSocket,
      heartbeat: { message: 'ping', reply: 'pong', interval: 25000, timeout: 1000 },
      reconnect: { initial: 60000, max: 60000, factor: 2, jitter: false },
    });
    const wakerCloses = [];
    waker.on('close', (e) => wakerCloses.push(e.reason));
    const first = FakeSocket.last;
    first.open();
    fire('online');
    assert.deepStrictEqual(first.sent, ['ping'], 'back online: a heartbeat at once');
    fire('online');
    assert.deepStrictEqual(first.sent, ['ping'], 'not a second one while the first is out');
    first.receive('pong');
    clock3.advance(1000);
    assert.strictEqual(waker.state, 'open', 'answered: the link is kept');
    fire('online');
    assert.deepStrictEqual(first.sent, ['ping', 'ping']);
    clock3.advance(1000);
    assert.deepStrictEqual(wakerCloses, ['heartbeat timeout'], 'unanswered: given up after timeout, not interval + timeout');
    assert.strictEqual(waker.state, 'reconnecting');
    assert.strictEqual(FakeSocket.last, first, 'the retry waits its 60 s');
    doc.visibilityState = 'hidden';
    fire('visibilitychange');
    assert.strictEqual(FakeSocket.last, first, 'hidden: still waiting');
    doc.visibilityState = 'visible';
    fire('visibilitychange');
    const second = FakeSocket.last;
    assert.notStrictEqual(second, first, 'shown again: an attempt at once');
    assert.strictEqual(waker.state, 'connecting');
    second.open();
    clock3.advance(60000);
    assert.strictEqual(FakeSocket.last, second, 'the retry timer it replaced does not fire');
    second.drop(1006);
    fire('online');
    assert.notStrictEqual(FakeSocket.last, second, 'back online: an attempt at once');
    waker.close();
    assert.deepStrictEqual([page.get('online').length, page.get('visibilitychange').length], [0, 0],
      'closed for good: no listener left on the page');
    const deaf = RFC6455.connect('ws://h/topic/d', { WebSocket: FakeSocket, online: false });
    assert.strictEqual(page.get('online').length, 0, 'online: false adds none');
    deaf.close();
    const single = RFC6455.connect('ws://h/topic/s', { WebSocket: FakeSocket, reconnect: null });
    FakeSocket.last.drop(1006);
    assert.strictEqual(single.state, 'closed');
    assert.strictEqual(page.get('online').length, 0, 'closed by the peer without reconnect: none left');
  } finally {
    clock3.restore();
    Object.assign(globalThis, { addEventListener: saved.add, removeEventListener: saved.remove, document: saved.doc });
  }
  ok('back online or shown again: a retry at once, a heartbeat now; listeners removed when closed');
  // The heartbeat sent on waking up replaces the one the timer had
  // planned: no second heartbeat while the first is out. Real time here:
  // the module's clock is performance.now(), which the fake clock above
  // does not move, so its regular heartbeat never falls due there.
  Object.assign(globalThis, { addEventListener: target.addEventListener, removeEventListener: target.removeEventListener });
  try {
    const early = RFC6455.connect('ws://h/topic/e', {
      WebSocket: FakeSocket,
      heartbeat: { message: 'ping', reply: 'pong', interval: 40, timeout: 1000 },
    });
    const link = FakeSocket.last;
    link.open();
    await new Promise((r) => setTimeout(r, 20));
    fire('online');
    assert.deepStrictEqual(link.sent, ['ping'], 'back online: a heartbeat at once');
    await new Promise((r) => setTimeout(r, 80));
    assert.deepStrictEqual(link.sent, ['ping'], 'the regular heartbeat, due meanwhile, was not sent too');
    early.close();
  } finally {
    Object.assign(globalThis, { addEventListener: saved.add, removeEventListener: saved.remove });
  }
  ok('a heartbeat sent on waking up replaces the planned one');
  console.log('PASS the module\'s backoff, resume, queue and heartbeat logic');
})().catch((e) => {
  console.log(`FAIL ${e.message}`);
  process.exit(1);
});
