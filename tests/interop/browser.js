// Matrix rows in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core; never a browser download).
//
//     node browser.js test-page    'http://127.0.0.1:PAGE/browser_page.html?ws=ws://127.0.0.1:PORT/'
//     node browser.js builtin-page http://127.0.0.1:PORT
//     node browser.js room         http://127.0.0.1:PORT
//     node browser.js reconnect    path/to/echo-server
//     node browser.js half-open    path/to/echo-server
//     node browser.js back-online  path/to/echo-server
//
// test-page: opens browser_page.html from a static server on loopback
// (scripts/interop.sh runs one on this directory), which exchanges the
// matrix's messages with the ws:// URL given and reports PASS or FAIL in
// #result. (A page Playwright fulfils itself has no loopback address, so
// Chromium's local network access checks block its ws://127.0.0.1.)
// With INTEROP_HOME=DIR in the environment, Chromium runs with DIR as its
// home, whose NSS database (DIR/.pki/nssdb, made by scripts/interop.sh
// with certutil) trusts the test CA, so https:// and wss:// to the test server verify as they
// would for a real site: no certificate errors are ignored.
// builtin-page: loads the echo server's own page at /, checks its title,
// clicks Connect (which stays disabled while connecting) and Send text,
// and waits for the echo in its log, then clicks Close and waits for close
// code 1000.
// room: two pages of the built-in page join the same room; a message sent
// from one appears in the other (not in its sender's), both show 2
// members (GET /topics/ROOM), and a message published with an HTTP POST
// to /publish/ROOM appears in both.
// instances: the same through a round-robin balancer in front of two
// instances sharing Redis (node browser.js instances BALANCER_URL A_URL
// B_URL): the two pages' sockets must land on different instances (the
// second page leaves and joins again until /stats of A and B show one
// member each), each page sees the other's message exactly once, and a
// publish through Redis from another program (POST to one instance) and a
// POST to the other reach both pages.
// reconnect: starts its own echo-server (history on, heartbeat "ping"),
// the page joins a room through /rfc6455.js; the server is killed
// (SIGKILL) and restarted on the same port, messages are published to the
// new server before the page is back (its backoff is fixed at 1.5 s here,
// jitter off, so the order is certain); the page reconnects, is told the
// old ids are of another epoch, and gets those messages once each, in
// order, then the live stream.
// cors: starts its own echo-server with --allow-origin set to the page
// server's origin (node browser.js cors ECHO_SERVER PAGE_SERVER_URL), as a
// Vue dev server on another port would be; a page of that origin joins a
// room with a WebSocket and publishes to it with fetch(): a text POST, a
// JSON POST (which Chromium sends only after a preflight OPTIONS) and GET
// /push. Each must be published and its answer readable by the page.
// half-open: the same page, heartbeat every 0.5 s with a 0.5 s timeout;
// the server is stopped with SIGSTOP (its sockets stay open and silent):
// the heartbeat timeout notices; the next attempt's opening handshake (the
// stopped server's kernel still accepts it) is given up after the same
// timeout; the page reconnects once SIGCONT lets the server answer again.
// back-online: the same page with a fixed 60 s backoff; the server is
// killed and restarted, and the page waits out its delay until the
// browser goes offline and back online (Playwright's network emulation,
// which fires the page's "offline" and "online" events): then it must
// reconnect at once, long before the 60 s.
'use strict';
const { spawn } = require('child_process');
const { chromium } = require('playwright-core');

const [mode, target] = process.argv.slice(2);
const TITLE = 'rfc6455 server';

async function testPage(page) {
  await page.goto(target);
  await page.waitForFunction(() => document.getElementById('result').textContent !== 'PENDING', null,
                             { timeout: 20000 });
  return page.textContent('#result');
}

async function builtinPage(page) {
  const response = await page.goto(`${target}/`);
  if (response.status() !== 200) return `FAIL GET / answered ${response.status()}`;
  const title = await page.title();
  if (title !== TITLE) return `FAIL title ${JSON.stringify(title)}, want ${JSON.stringify(TITLE)}`;
  console.log(`ok   title "${title}"`);
  // Connect stays disabled while the socket is connecting: a second click
  // would open a second socket that the page loses track of.
  const again = await page.evaluate(() => {
    document.getElementById('connect').click();
    return !document.getElementById('connect').disabled;
  });
  if (again) return 'FAIL Connect can be clicked again while connecting';
  await page.waitForFunction(() => document.getElementById('state').textContent === 'open', null, { timeout: 10000 });
  console.log('ok   Connect: disabled while connecting, then state open');
  const sent = await page.inputValue('#text');
  await page.click('#sendText');
  const echo = page.locator('#log .in', { hasText: sent });
  await echo.first().waitFor({ timeout: 10000 });
  console.log(`ok   Send text: echo in the log: ${(await echo.first().textContent()).trim()}`);
  const opened = await page.locator('#log .info', { hasText: 'open, protocol=' }).first().textContent();
  // The echo server accepts Chromium's permessage-deflate offer.
  if (!opened.includes('extensions=[permessage-deflate')) return `FAIL the page reports extensions: ${opened}`;
  const extensions = opened.slice(opened.indexOf('extensions=')).trim();
  await page.click('#close');
  const closed = page.locator('#log div', { hasText: 'closed: code' }).first();
  await closed.waitFor({ timeout: 10000 });
  const closeLine = await closed.textContent();
  if (!/closed: code 1000\b/.test(closeLine) || /not clean/.test(closeLine)) return `FAIL ${closeLine}`;
  console.log(`ok   Close: ${closeLine.trim()}`);
  return `PASS page "${title}" echoed ${JSON.stringify(sent)}, ${extensions}, close 1000`;
}

async function room(page) {
  const ROOM = 'interop room 聊天';
  const second = await page.context().browser().newPage();
  const pages = [page, second];
  for (const [i, p] of pages.entries()) {
    await p.goto(`${target}/`);
    await p.fill('#roomTopic', ROOM);
    await p.click('#join');
    await p.waitForFunction(() => document.getElementById('roomState').textContent === 'open', null,
                            { timeout: 10000 });
    console.log(`ok   page ${i + 1} joined ${JSON.stringify(ROOM)}`);
  }
  await page.fill('#roomText', 'hello from page 1');
  await page.click('#roomSend');
  await second.locator('#roomLog .in', { hasText: 'hello from page 1' }).first().waitFor({ timeout: 10000 });
  console.log('ok   page 2 got page 1\'s message');
  const url = `${target}/publish/${encodeURIComponent(ROOM)}`;
  const response = await fetch(url, { method: 'POST', body: 'hello from curl' });
  const answer = await response.json();
  if (response.status !== 200 || answer.subscribers !== 2 || answer.topic !== ROOM) {
    return `FAIL POST ${url} answered ${response.status} ${JSON.stringify(answer)}`;
  }
  console.log(`ok   POST /publish answered ${JSON.stringify(answer)}`);
  for (const [i, p] of pages.entries()) {
    // The room view counts its members from GET /topics/NAME.
    await p.locator('#roomMembers', { hasText: 'members: 2' }).waitFor({ timeout: 10000 });
    console.log(`ok   page ${i + 1} shows 2 members`);
  }
  for (const [i, p] of pages.entries()) {
    await p.locator('#roomLog .in', { hasText: 'hello from curl' }).first().waitFor({ timeout: 10000 });
    console.log(`ok   page ${i + 1} got the published message`);
  }
  const echoed = await page.locator('#roomLog .in', { hasText: 'hello from page 1' }).count();
  if (echoed !== 0) return 'FAIL the sender got its own room message back';
  console.log('ok   the sender did not get its own message back');
  return `PASS two pages in room ${JSON.stringify(ROOM)} and an HTTP publish`;
}

async function instances(page) {
  const direct = process.argv.slice(4);
  const ROOM = `across instances ${Date.now()}`;
  const second = await page.context().browser().newPage();
  const pages = [page, second];
  const members = () => Promise.all(direct.map(async (u) => (await (await fetch(`${u}/stats`)).json()).subscriptions));
  const join = async (p) => {
    await p.click('#join');
    await p.waitForFunction(() => document.getElementById('roomState').textContent === 'open', null,
                            { timeout: 10000 });
  };
  for (const p of pages) {
    await p.goto(`${target}/`);
    await p.fill('#roomTopic', ROOM);
    await join(p);
  }
  for (let tries = 0; ; tries++) {
    // A member counts once its instance handled the upgrade: wait for 2.
    let counts;
    for (let i = 0; i < 100; i++) {
      counts = await members();
      if (counts.reduce((a, b) => a + b, 0) === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (counts.every((c) => c === 1)) {
      console.log(`ok   the balancer put the pages on different instances (members ${counts})`);
      break;
    }
    if (tries === 8) return `FAIL the balancer never spread the two pages (members ${counts})`;
    await second.click('#leave');
    await second.waitForFunction(() => document.getElementById('roomState').textContent === 'closed');
    // Requests through the balancer between two joins (a page's own, say)
    // can keep the second page's upgrade on the first one's instance turn
    // after turn: every other try, one more request moves the round robin
    // on.
    if (tries % 2 === 0) await fetch(`${target}/stats`);
    await join(second);
  }
  const sends = [[page, second, 'hello from instance one'], [second, page, 'hello from instance two']];
  for (const [from, to, text] of sends) {
    await from.fill('#roomText', text);
    await from.click('#roomSend');
    await to.locator('#roomLog .in', { hasText: text }).first().waitFor({ timeout: 10000 });
    console.log(`ok   "${text}" reached the other page`);
  }
  for (const [i, u] of direct.entries()) {
    const text = `posted to instance ${i + 1}`;
    const response = await fetch(`${u}/publish/${encodeURIComponent(ROOM)}`, { method: 'POST', body: text });
    if (response.status !== 200) return `FAIL POST to instance ${i + 1} answered ${response.status}`;
    for (const p of pages) await p.locator('#roomLog .in', { hasText: text }).first().waitFor({ timeout: 10000 });
    console.log(`ok   "${text}" reached both pages`);
  }
  for (const [i, p] of pages.entries()) {
    const texts = await p.locator('#roomLog .in').allTextContents();
    const seen = texts.filter((t) => /hello from|posted to/.test(t));
    if (seen.length !== 3) return `FAIL page ${i + 1} saw ${JSON.stringify(seen)}, want 3 messages once each`;
  }
  console.log('ok   each page saw the other\'s message and both posts, once each, never its own');
  return `PASS two pages in room ${JSON.stringify(ROOM)} on two instances through Redis`;
}

// Starts `target` (the echo-server binary) on `port` (0: any), resolves
// to { child, port } once it listens.
function startServer(port, extra = []) {
  const child = spawn(target, ['--listen', `127.0.0.1:${port}`, '--threads', '2', '--log', 'warn',
                               '--heartbeat-text', 'ping', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the server did not start')), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /ws:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
}
const servers = [];
// Servers this script started never outlive it (the row's timeout sends
// SIGTERM): a stopped one is continued and killed.
function killServers() {
  for (const child of servers) {
    try {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    } catch (e) {
      // already gone
    }
  }
}
process.on('exit', killServers);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    killServers();
    process.exit(1);
  });
}

function killed(child, signal) {
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill(signal);
  });
}

async function publish(port, room, text) {
  const response = await fetch(`http://127.0.0.1:${port}/publish/${encodeURIComponent(room)}`,
                               { method: 'POST', body: text });
  if (response.status !== 200) throw new Error(`publish answered ${response.status}`);
  return response.json();
}

// The room's received lines, in order, without the time stamp.
async function received(page) {
  return page.$$eval('#roomLog .in', (els) => els.map((e) => e.textContent.replace(/^\S+\s+← /, '')));
}

async function joinRoom(page, port, room, query) {
  await page.goto(`http://127.0.0.1:${port}/?${query}`);
  const beat = await page.getAttribute('meta[name="rfc6455-heartbeat"]', 'content');
  if (beat !== 'ping') throw new Error(`the page was not told the heartbeat: ${JSON.stringify(beat)}`);
  await page.fill('#roomTopic', room);
  await page.click('#join');
  await page.waitForFunction(() => document.getElementById('roomState').textContent === 'open', null,
                             { timeout: 10000 });
}

async function reconnect(page) {
  const ROOM = 'resume room';
  let server = await startServer(0);
  const port = server.port;
  await joinRoom(page, port, ROOM, 'initial=1500&max=1500&jitter=0');
  console.log(`ok   joined ${JSON.stringify(ROOM)} through /rfc6455.js (server on :${port})`);
  for (const m of ['before 1', 'before 2']) await publish(port, ROOM, m);
  await page.locator('#roomLog .in', { hasText: 'before 2' }).first().waitFor({ timeout: 10000 });
  console.log('ok   live messages arrive with their ids');
  await killed(server.child, 'SIGKILL');
  const lostAt = Date.now();
  server = await startServer(port);
  for (const m of ['while away 1', 'while away 2', 'while away 3']) {
    const answer = await publish(port, ROOM, m);
    if (answer.subscribers !== 0) return `FAIL the page was back before the publish: ${JSON.stringify(answer)}`;
  }
  console.log(`ok   server killed and restarted on :${port}; 3 messages published while the page was away`);
  await page.waitForFunction(() => document.getElementById('roomState').textContent === 'open', null,
                             { timeout: 10000 });
  const back = Date.now() - lostAt;
  console.log(`ok   the page reconnected ${back} ms after the kill (backoff 1500 ms)`);
  await page.locator('#roomLog .in', { hasText: 'while away 3' }).first().waitFor({ timeout: 10000 });
  await publish(port, ROOM, 'live again');
  await page.locator('#roomLog .in', { hasText: 'live again' }).first().waitFor({ timeout: 10000 });
  const lines = await received(page);
  const want = ['before 1  #1', 'before 2  #2', 'while away 1  #1', 'while away 2  #2', 'while away 3  #3',
                'live again  #4'];
  if (JSON.stringify(lines) !== JSON.stringify(want)) {
    return `FAIL the room got ${JSON.stringify(lines)}, want ${JSON.stringify(want)}`;
  }
  console.log('ok   missed messages arrived once each, in order, then the live stream');
  const reset = await page.locator('#roomLog .err', { hasText: 'not recovered' }).count();
  if (reset !== 1) return 'FAIL the page was not told that the new server\'s ids are a new epoch';
  console.log('ok   the page was told the history was reset (new epoch)');
  return `PASS kill and restart on :${port}: back after ${back} ms, 3 missed messages in order, no duplicates`;
}

async function cors(page) {
  const pageOrigin = new URL(process.argv[4]).origin;
  const server = await startServer(0, ['--allow-origin', pageOrigin]);
  const base = `http://127.0.0.1:${server.port}`;
  await page.goto(`${pageOrigin}/`);
  const result = await page.evaluate(async (base) => {
    const got = [];
    const ws = new WebSocket(base.replace('http:', 'ws:') + '/topic/cors');
    ws.onmessage = (e) => got.push(e.data);
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('ws error')); });
    const answers = [];
    const tries = [
      [base + '/publish/cors', { method: 'POST', body: 'text' }],
      [base + '/publish/cors', { method: 'POST', body: '{"j":1}', headers: { 'Content-Type': 'application/json' } }],
      [base + '/push?topic=cors&data=push', {}],
    ];
    for (const [url, init] of tries) {
      try {
        const r = await fetch(url, init);
        answers.push(`${r.status} ${(await r.text()).trim()}`);
      } catch (e) {
        answers.push(`threw ${e.message}`);
      }
    }
    for (let i = 0; i < 100 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    ws.close();
    return { answers, got };
  }, base);
  const want = '200 {"topic":"cors","subscribers":1}';
  for (const answer of result.answers) {
    if (answer !== want) return `FAIL a fetch() from ${pageOrigin} got ${JSON.stringify(answer)}, want ${want}`;
  }
  console.log(`ok   fetch() from ${pageOrigin}: text POST, JSON POST (preflighted) and GET /push answered ${want}`);
  if (JSON.stringify(result.got) !== JSON.stringify(['text', '{"j":1}', 'push'])) {
    return `FAIL the room got ${JSON.stringify(result.got)}`;
  }
  console.log('ok   the room got the three messages, in order');
  return `PASS a page of the listed origin ${pageOrigin} published with fetch() and read the answers`;
}

async function halfOpen(page) {
  const ROOM = 'half-open room';
  const server = await startServer(0);
  await joinRoom(page, server.port, ROOM, 'heartbeat=500&timeout=500&initial=200&max=1000');
  console.log(`ok   joined ${JSON.stringify(ROOM)}, heartbeat 500 ms, timeout 500 ms`);
  // Heartbeats flow and are answered (the page stays open past a few).
  await page.waitForTimeout(1500);
  if (await page.textContent('#roomState') !== 'open') return 'FAIL the page dropped a live connection';
  if (await page.locator('#roomLog .in').count() !== 0) return 'FAIL a heartbeat reply reached the room';
  console.log('ok   heartbeats answered for 1.5 s; replies not shown as messages');
  server.child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  try {
    const lost = page.locator('#roomLog .err', { hasText: 'heartbeat timeout' }).first();
    await lost.waitFor({ timeout: 10000 });
    console.log(`ok   SIGSTOP: the heartbeat timeout noticed after ${Date.now() - stoppedAt} ms`);
    const hung = page.locator('#roomLog .err', { hasText: 'connect timeout' }).first();
    await hung.waitFor({ timeout: 10000 });
    console.log(`ok   the next attempt, accepted but never answered, was given up after ${Date.now() - stoppedAt} ms`);
  } finally {
    server.child.kill('SIGCONT');
  }
  await page.waitForFunction(() => document.getElementById('roomState').textContent === 'open', null,
                             { timeout: 10000 });
  console.log('ok   SIGCONT: the page reconnected');
  await publish(server.port, ROOM, 'after the stall');
  await page.locator('#roomLog .in', { hasText: 'after the stall' }).first().waitFor({ timeout: 10000 });
  console.log('ok   and receives again');
  return 'PASS a stopped server was detected by the heartbeat timeout, and the page came back';
}

async function backOnline(page) {
  const ROOM = 'online room';
  let server = await startServer(0);
  const port = server.port;
  await joinRoom(page, port, ROOM, 'initial=60000&max=60000&jitter=0');
  console.log(`ok   joined ${JSON.stringify(ROOM)}, reconnect delay fixed at 60 s`);
  await killed(server.child, 'SIGKILL');
  await page.locator('#roomLog .info', { hasText: 'reconnecting in 60000 ms' }).first()
    .waitFor({ timeout: 10000 });
  server = await startServer(port);
  // Long enough for an attempt to show if the delay were not honoured.
  await page.waitForTimeout(1000);
  if (await page.textContent('#roomState') === 'open') return 'FAIL the page came back before its delay';
  console.log(`ok   server killed and restarted on :${port}; the page waits out its 60 s`);
  const context = page.context();
  await context.setOffline(true);
  await page.waitForTimeout(200);
  const wentOnline = Date.now();
  await context.setOffline(false);
  await page.waitForFunction(() => document.getElementById('roomState').textContent === 'open', null,
                             { timeout: 10000 });
  const back = Date.now() - wentOnline;
  console.log(`ok   back online: the page reconnected after ${back} ms`);
  await publish(port, ROOM, 'after the outage');
  await page.locator('#roomLog .in', { hasText: 'after the outage' }).first().waitFor({ timeout: 10000 });
  console.log('ok   and receives again');
  return `PASS back online, the page reconnected after ${back} ms instead of its 60 s delay`;
}

(async () => {
  const run = { 'test-page': testPage, 'builtin-page': builtinPage, room, instances, reconnect,
                'half-open': halfOpen, 'back-online': backOnline, cors }[mode];
  if (!run || !target) {
    console.error('usage: node browser.js test-page PAGE_URL | builtin-page URL | room URL' +
                  ' | instances BALANCER_URL A_URL B_URL | reconnect ECHO_SERVER | half-open ECHO_SERVER | back-online ECHO_SERVER' +
                  ' | cors ECHO_SERVER PAGE_SERVER_URL');
    process.exit(2);
  }
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    env: process.env.INTEROP_HOME ? { ...process.env, HOME: process.env.INTEROP_HOME } : process.env,
  });
  let verdict;
  try {
    const page = await browser.newPage();
    page.on('console', (m) => console.log(m.text()));
    page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
    verdict = await run(page);
  } catch (e) {
    verdict = `FAIL ${e.message.split('\n')[0]}`;
  } finally {
    await browser.close();
    for (const child of servers) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        await killed(child, 'SIGTERM');
      }
    }
  }
  console.log(verdict);
  process.exit(verdict.startsWith('PASS') ? 0 : 1);
})();
