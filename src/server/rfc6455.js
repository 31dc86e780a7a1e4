// rfc6455.js: a WebSocket client for browsers that stays connected.
//
// Served by the rfc6455 server at GET /rfc6455.js; a classic script with no
// dependencies and no build step, so a page served anywhere can load it:
//
//   <script src="https://push.example/rfc6455.js"></script>
//   <script>
//     const room = RFC6455.connect("wss://push.example/topic/lobby", { resume: true });
//     room.on("message", (data, meta) => show(data, meta && meta.id));
//     room.on("reset", () => reloadState());  // the history could not fill the gap
//     room.send("hello");                      // queued while disconnected
//   </script>
//
// What it does:
// - heartbeat: every `interval` ms of silence it sends `message` (a text the
//   server answers: echo-server --heartbeat-text); if nothing at all arrives
//   within `timeout` ms after that, the link is taken for dead (a half-open
//   TCP connection never reports itself) and replaced. An opening handshake
//   gets `timeout` ms too: a server that was stopped (its kernel still
//   accepts connections) or a proxy whose backend hangs would otherwise
//   leave the socket connecting for minutes. The reply to a heartbeat is
//   not passed on as a message (one per heartbeat sent: a room message
//   that reads the same is still a message). The server answers the
//   heartbeat text whoever sends it and passes it on to no one, so the
//   application's send(message) reaches no room: its reply is not a
//   message either. Time is measured on a monotonic clock, so a step of
//   the wall clock neither kills a live link nor hides a dead one.
// - reconnect: exponential backoff with full jitter (a delay drawn uniformly
//   from 0 to min(max, initial * factor^attempt)), so that a server restart
//   does not bring every client back in the same instant. The attempts
//   start over only after a connection that lasted at least `max` ms: a
//   server that accepts and closes at once (a 1008 for a topic limit, say)
//   sees the delays grow, not a reconnect every `initial` ms. Every
//   close code is retried, 1008 included (this server sends it for a
//   topic limit, which frees up, and to a member that wrote to a
//   read-only topic, who may listen on): to stop on a code, call close()
//   from a "close" listener.
// - resume (`resume: true`): the server sends each message with its topic
//   and id; after a reconnect the module asks for what it missed
//   (?since=ID&epoch=E), so messages arrive once each, in order. If the
//   server's history no longer reaches back, a "reset" event tells the
//   application to resync. A URL with ?since=ID of its own asks for the
//   history after ID on the first connection (?since=0: all it keeps).
//   Ids are numbers; one past 2^53 (Number.MAX_SAFE_INTEGER), which a
//   number cannot hold exactly, is given as a string of its digits.
// - a bounded send queue while disconnected.
// - waking up (`online: true`): when the browser says it is back online,
//   or a hidden tab is shown again, a socket waiting to reconnect tries at
//   once instead of at the end of its delay (a hidden tab's timers may run
//   minutes late), and an open one sends a heartbeat now: a change of
//   network often leaves a link that looks open but is dead, which the
//   timer alone would notice only after interval + timeout.
//
// Events (socket.on(name, fn)): "open" {reconnected, attempt},
// "message" (data, meta: {topic, id} in resume mode, else null),
// "subscribed" {topic, epoch, last, recovered}, "reset" {topic, epoch, since},
// "close" {code, reason, wasClean, willReconnect} (close() ends with one
// whose willReconnect is false, whatever the state it was called in),
// "reconnecting" {attempt, delay}, "error" (an Error).
(function (root) {
  "use strict";

  const DEFAULTS = {
    protocols: undefined,
    // Socket.IO's defaults: 25 s between heartbeats, 20 s to answer.
    heartbeat: { message: "ping", reply: "pong", interval: 25000, timeout: 20000 },
    // Full jitter unless `jitter: false` (then every delay is the ceiling).
    // A 5 s ceiling like Socket.IO's reconnectionDelayMax: the reconnect
    // storm benchmark (benches/results/storm.md) shows why not 30 s.
    reconnect: { initial: 1000, max: 5000, factor: 2, jitter: true },
    resume: false,
    queue: 100,
    // Listen for the page's "online" and "visibilitychange" events.
    online: true,
    binaryType: "arraybuffer",
    // The WebSocket constructor (for runtimes without a global one).
    WebSocket: undefined,
  };

  // Full jitter: uniform in [0, min(max, initial * factor^attempt)).
  // Milliseconds on a monotonic clock (the wall clock can step).
  const now =
    typeof performance !== "undefined" && typeof performance.now === "function"
      ? () => performance.now()
      : () => Date.now();

  function backoff(attempt, policy, random) {
    const cap = Math.min(policy.max, policy.initial * Math.pow(policy.factor, attempt));
    if (policy.jitter === false) return cap;
    return Math.floor((random || Math.random)() * cap);
  }

  // The server's ids are u64 (up to 2^63-1 from a broker), written as JSON
  // numbers, which JSON.parse rounds past 2^53: two ids could read as one
  // (the second dropped as a duplicate) and `since` could name another
  // message. Such an id is kept as its exact decimal digits, read from the
  // text (the only unquoted `"key":` of the flat object), as a string.
  function exactId(text, key, value) {
    if (typeof value !== "number" || Number.isSafeInteger(value)) return value;
    const m = new RegExp('"' + key + '":\\s*(\\d+)').exec(text);
    return m && Number(m[1]) === value ? m[1] : value;
  }

  // Whether id a comes after id b (numbers or decimal strings).
  function after(a, b) {
    const x = String(a);
    const y = String(b);
    return x.length !== y.length ? x.length > y.length : x > y;
  }

  function decodeBase64(text) {
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  class Socket {
    constructor(url, options) {
      const o = Object.assign({}, DEFAULTS, options || {});
      o.heartbeat = o.heartbeat && Object.assign({}, DEFAULTS.heartbeat, o.heartbeat);
      o.reconnect = o.reconnect && Object.assign({}, DEFAULTS.reconnect, o.reconnect);
      this.url = url;
      this.options = o;
      this.state = "connecting";
      this.topic = null;
      this.epoch = null;
      this.lastId = null;
      this._listeners = {};
      this._queue = [];
      this._attempt = 0;
      this._opened = false;
      this._openedAt = null;
      this._ws = null;
      this._timers = {};
      this._lastSeen = 0;
      // Heartbeats sent on this socket and not answered yet: only that
      // many replies are taken for answers, so a room message that reads
      // like one (another member typing "pong") is still a message.
      this._unanswered = 0;
      // When the heartbeat that is out was sent (null: none is out).
      this._beatAt = null;
      this._wakeups = this._listen(o.online);
      this._connect();
    }

    // The page's events that call for a retry or a heartbeat now; what
    // to remove once closed for good. None outside a page (node, workers
    // without `document` hear "online" only).
    _listen(enabled) {
      const added = [];
      if (!enabled) return added;
      const add = (target, name, fn) => {
        if (target && typeof target.addEventListener === "function") {
          target.addEventListener(name, fn);
          added.push([target, name, fn]);
        }
      };
      add(root, "online", () => this._wake());
      const doc = root.document;
      add(doc, "visibilitychange", () => {
        if (doc.visibilityState === "visible") this._wake();
      });
      return added;
    }

    _unlisten() {
      for (const [target, name, fn] of this._wakeups) target.removeEventListener(name, fn);
      this._wakeups = [];
    }

    // Back online, or shown again: a pending attempt is made now (the
    // attempt count is kept, so the delays after it still grow), and an
    // open link is checked with a heartbeat unless one is out already.
    _wake() {
      if (this.state === "reconnecting") {
        clearTimeout(this._timers.retry);
        this.state = "connecting";
        this._connect();
      } else if (this.state === "open" && this._beatAt === null) {
        this._beat(true);
      }
    }

    on(name, fn) {
      (this._listeners[name] || (this._listeners[name] = [])).push(fn);
      return this;
    }

    off(name, fn) {
      const list = this._listeners[name];
      if (list) this._listeners[name] = list.filter((f) => f !== fn);
      return this;
    }

    // Sends now when open; else queues (up to `queue` messages). Returns
    // false if the message was dropped (queue full, or closed for good).
    send(data) {
      if (this.state === "open" && this._ws && this._ws.readyState === 1) {
        this._ws.send(data);
        this._asked(data);
        return true;
      }
      if (this.state === "closed" || this._queue.length >= this.options.queue) return false;
      this._queue.push(data);
      return true;
    }

    // Closes for good: no reconnect. Unless it was closed already, a last
    // "close" event (willReconnect: false) follows in every state, the
    // wait between two attempts included.
    close(code, reason) {
      const was = this.state;
      this.state = "closed";
      this._clearTimers();
      this._unlisten();
      this._queue = [];
      const ws = this._ws;
      this._ws = null;
      let refused = null;
      let sent = { code: code || 1000, reason: reason || "" };
      if (ws && ws.readyState <= 1) {
        try {
          ws.close(sent.code, sent.reason);
        } catch (e) {
          // A code WebSocket does not let a page send (1001, 1008: only
          // 1000 and 3000-4999), or a reason over 123 bytes: thrown as
          // before, but the socket is closed all the same, not left open
          // and untracked; the event tells what went out.
          refused = e;
          ws.close(1000);
          sent = { code: 1000, reason: "" };
        }
      }
      if (was !== "closed") {
        this._emit("close", { code: sent.code, reason: sent.reason, wasClean: true, willReconnect: false });
      }
      if (refused) throw refused;
    }

    // The URL of the next attempt: the resume parameters on top of the
    // user's (which may have its own query, and may be relative to the
    // page, as the WebSocket constructor allows).
    connectUrl() {
      if (!this.options.resume) return this.url;
      const u = new URL(this.url, root.location ? root.location.href : undefined);
      // The app's own ?since=ID (0: all the history keeps) holds until the
      // module has an id of its own.
      const asked = { since: u.searchParams.get("since"), epoch: u.searchParams.get("epoch") };
      for (const k of ["ids", "since", "epoch"]) u.searchParams.delete(k);
      if (this.lastId !== null && this.epoch !== null) {
        u.searchParams.set("since", String(this.lastId));
        u.searchParams.set("epoch", this.epoch);
      } else if (asked.since !== null) {
        u.searchParams.set("since", asked.since);
        if (asked.epoch !== null) u.searchParams.set("epoch", asked.epoch);
      } else {
        u.searchParams.set("ids", "1");
      }
      return u.toString();
    }

    _emit(name, ...args) {
      for (const fn of this._listeners[name] || []) {
        try {
          fn.apply(this, args);
        } catch (e) {
          setTimeout(() => { throw e; });
        }
      }
    }

    _connect() {
      const Impl = this.options.WebSocket || root.WebSocket;
      let ws;
      try {
        ws = new Impl(this.connectUrl(), this.options.protocols);
      } catch (e) {
        // Refused by the constructor (a malformed URL, ws:// from an https
        // page): told on the next turn, so that the listeners added right
        // after connect() hear of the first attempt too.
        setTimeout(() => {
          if (this.state === "closed") return;
          this._emit("error", e);
          this._lost(1006, String(e.message || e), false);
        });
        return;
      }
      ws.binaryType = this.options.binaryType;
      this._ws = ws;
      const hb = this.options.heartbeat;
      if (hb) this._timers.deadline = setTimeout(() => this._abandon(ws, "connect timeout"), hb.timeout);
      ws.onopen = () => {
        if (this._ws !== ws) return;
        clearTimeout(this._timers.deadline);
        const reconnected = this._opened;
        const attempt = this._attempt;
        this._opened = true;
        this._openedAt = now();
        this.state = "open";
        this._lastSeen = now();
        this._unanswered = 0;
        this._beatAt = null;
        this._armHeartbeat();
        const queued = this._queue;
        this._queue = [];
        for (const data of queued) {
          ws.send(data);
          this._asked(data);
        }
        this._emit("open", { reconnected, attempt });
      };
      ws.onmessage = (ev) => {
        if (this._ws !== ws) return;
        this._lastSeen = now();
        this._onData(ev.data);
      };
      ws.onerror = () => {
        if (this._ws === ws) this._emit("error", new Error("WebSocket error"));
      };
      ws.onclose = (ev) => {
        if (this._ws !== ws) return;
        this._lost(ev.code, ev.reason, ev.wasClean);
      };
    }

    _onData(data) {
      const hb = this.options.heartbeat;
      if (hb && hb.reply !== undefined && data === hb.reply && this._unanswered > 0) {
        // The server answers in order: which of two equal texts is taken
        // for the answer does not change what the application gets.
        this._unanswered--;
        return;
      }
      if (this.options.resume && typeof data === "string" && data.charCodeAt(0) === 123) {
        let msg = null;
        try {
          msg = JSON.parse(data);
        } catch (e) {
          msg = null;
        }
        if (msg && msg.type === "subscribed" && typeof msg.epoch === "string") {
          msg.last = exactId(data, "last", msg.last);
          this._subscribed(msg);
          return;
        }
        if (msg && typeof msg.id === "number" && typeof msg.topic === "string") {
          const id = exactId(data, "id", msg.id);
          // A duplicate cannot come from the server; guard anyway.
          if (this.lastId !== null && !after(id, this.lastId)) return;
          this.lastId = id;
          const body = typeof msg.binary === "string" ? decodeBase64(msg.binary) : msg.data;
          this._emit("message", body, { topic: msg.topic, id });
          return;
        }
        if (msg && msg.id === undefined && msg.type === undefined && typeof msg.topic === "string" &&
            (typeof msg.data === "string" || typeof msg.binary === "string")) {
          // A message without id (published plainly through Redis): not
          // kept by the server, so it does not move the resume point.
          const body = typeof msg.binary === "string" ? decodeBase64(msg.binary) : msg.data;
          this._emit("message", body, { topic: msg.topic, id: null });
          return;
        }
      }
      this._emit("message", data, null);
    }

    // The URL's own ?since=ID, as an id (null without one).
    _askedSince() {
      const u = new URL(this.url, root.location ? root.location.href : undefined);
      const asked = u.searchParams.get("since");
      if (asked === null || !/^\d+$/.test(asked)) return null;
      const digits = asked.replace(/^0+(?=\d)/, "");
      return Number.isSafeInteger(Number(digits)) ? Number(digits) : digits;
    }

    _subscribed(msg) {
      const since = this.lastId !== null ? this.lastId : this._askedSince();
      this.topic = msg.topic;
      this.epoch = msg.epoch;
      if (msg.recovered === undefined) {
        this.lastId = msg.last; // a fresh subscription: live from here
      } else if (!msg.recovered) {
        this.lastId = 0; // what follows is all the server kept of this epoch
      } else if (this.lastId === null) {
        // Recovered from the URL's own ?since=ID: the resume point is ID
        // in this epoch, until a message moves it (else the next attempt
        // would ask for ?since=ID in any epoch, and after a restart of
        // the server skip the new epoch's first ids).
        this.lastId = since;
      }
      this._emit("subscribed", { topic: msg.topic, epoch: msg.epoch, last: msg.last, recovered: msg.recovered });
      // A "subscribed" listener may have closed it for good.
      if (msg.recovered === false && this.state !== "closed") {
        this._emit("reset", { topic: msg.topic, epoch: msg.epoch, since });
      }
    }

    // The server answers the heartbeat text whoever sends it, and never
    // passes it on: sent by the application (a chat member typing "ping"),
    // its reply is a heartbeat's too, not a message from the room.
    _asked(data) {
      const hb = this.options.heartbeat;
      if (hb && hb.reply !== undefined && data === hb.message) this._unanswered++;
    }

    _armHeartbeat() {
      const hb = this.options.heartbeat;
      if (!hb) return;
      clearTimeout(this._timers.beat);
      const quiet = now() - this._lastSeen;
      this._timers.beat = setTimeout(() => this._beat(), Math.max(0, hb.interval - quiet));
    }

    // A heartbeat after `interval` ms of silence, or now when `forced`.
    _beat(forced) {
      const hb = this.options.heartbeat;
      const ws = this._ws;
      if (!hb || !ws || this.state !== "open") return;
      if (!forced && now() - this._lastSeen < hb.interval) {
        this._armHeartbeat(); // something arrived meanwhile
        return;
      }
      clearTimeout(this._timers.beat);
      const sentAt = now();
      this._beatAt = sentAt;
      try {
        ws.send(hb.message);
        this._unanswered++;
      } catch (e) {
        // A closing socket: its close event follows.
      }
      this._timers.deadline = setTimeout(() => {
        if (this._ws !== ws) return;
        this._beatAt = null;
        if (this._lastSeen >= sentAt) {
          this._armHeartbeat();
          return;
        }
        this._abandon(ws, "heartbeat timeout");
      }, hb.timeout);
    }

    // Half-open: the close handshake would wait on a peer that does not
    // answer, so the socket is abandoned here and now.
    _abandon(ws, reason) {
      if (this._ws !== ws) return;
      this._ws = null;
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try {
        ws.close(4000, reason);
      } catch (e) {
        // Nothing to do: it is dropped either way.
      }
      this._lost(1006, reason, false);
    }

    _clearTimers() {
      for (const k of Object.keys(this._timers)) clearTimeout(this._timers[k]);
      this._timers = {};
    }

    _lost(code, reason, wasClean) {
      this._clearTimers();
      this._ws = null;
      this._beatAt = null;
      if (this.state === "closed") return;
      const policy = this.options.reconnect;
      const willReconnect = !!policy;
      // A connection that lasted starts the attempts over.
      if (policy && this._openedAt !== null && now() - this._openedAt >= policy.max) {
        this._attempt = 0;
      }
      this._openedAt = null;
      // Closed before the event when for good: a close() from a listener
      // then tells nothing more.
      if (!willReconnect) this.state = "closed";
      this._emit("close", { code, reason, wasClean, willReconnect });
      // A listener may have closed it for good.
      if (this.state === "closed") {
        this._unlisten();
        return;
      }
      const attempt = this._attempt++;
      const delay = backoff(attempt, policy);
      this.state = "reconnecting";
      this._emit("reconnecting", { attempt: attempt + 1, delay });
      if (this.state !== "reconnecting") return;
      this._timers.retry = setTimeout(() => {
        if (this.state !== "reconnecting") return;
        this.state = "connecting";
        this._connect();
      }, delay);
    }
  }

  const api = {
    Socket,
    backoff,
    DEFAULTS,
    // A socket to `url`, connecting at once.
    connect: (url, options) => new Socket(url, options),
    // ws:// or wss:// URL of `path` on the server that served this page.
    url: (path) => (root.location.protocol === "https:" ? "wss://" : "ws://") + root.location.host + path,
  };
  root.RFC6455 = api;
  if (typeof module === "object" && module.exports) module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
