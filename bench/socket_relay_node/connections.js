// Client side of bench/connections.py: many official socket.io-client sockets in one process.
// Usage: node connections.js <config.json>
//   config: { urls: [..], clients: [{ auth, conversationId? }], concurrency, mode, timeoutMs }
//   mode "idle":  connect every client to urls[0] (websocket), print `CONNECTED {json}`, then
//                 hold them until stdin says `close`.
//   mode "storm": connect every client to urls[0]; print `CONNECTED {json}`. When a socket
//                 drops, it reconnects to a random url of `urls` (as an ALB would spread them),
//                 then `sync`s its conversation after the last seq it saw. Prints `BACK {json}`
//                 once every client that dropped is back and synced; stdin `report` prints
//                 `REPORT {json}` (the message ids each conversation received), `close` exits.
// Every wait is bounded by timeoutMs; loopback urls only (the caller's).
"use strict";
const fs = require("fs");
const readline = require("readline");
const { io } = require("socket.io-client");

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const { urls, clients, mode } = config;
const concurrency = config.concurrency || 50;
const timeoutMs = config.timeoutMs || 120000;
const deadline = Date.now() + timeoutMs;

const state = clients.map(() => ({ socket: null, lastSeq: 0, ids: new Set(), dropped: false, back: false, up: false }));
const syncMs = [];
let syncFailed = 0; // sync calls that timed out, errored or answered ok:false
let firstDrop = null;
let connectErrors = 0;
const connectErrorsBy = {}; // connect_error message (or "timeout") -> count
const reconnectedTo = {}; // url -> sockets reconnected there

function open(i, url) {
  return new Promise((resolve) => {
    const socket = io(url, {
      auth: clients[i].auth, transports: ["websocket"], reconnection: false, forceNew: true, timeout: 10000,
    });
    const done = (ok) => {
      socket.off("connect");
      socket.off("connect_error");
      resolve(ok ? socket : null);
      if (!ok) socket.close();
    };
    socket.once("connect", () => done(true));
    socket.once("connect_error", (err) => {
      const why = (err && err.message) || "unknown";
      connectErrorsBy[why] = (connectErrorsBy[why] || 0) + 1;
      done(false);
    });
  });
}

function track(i, socket) {
  const s = state[i];
  s.socket = socket;
  socket.on("new_message", (m) => {
    s.ids.add(m.id);
    if (m.seq > s.lastSeq) s.lastSeq = m.seq;
  });
  if (mode === "storm") socket.once("disconnect", () => reconnect(i));
}

async function connectAll() {
  const t0 = process.hrtime.bigint();
  let next = 0;
  async function worker() {
    while (next < clients.length && Date.now() < deadline) {
      const i = next++;
      let socket = null;
      for (let attempt = 0; attempt < 5 && !socket; attempt++) {
        socket = await open(i, urls[0]);
        if (!socket) connectErrors++;
      }
      if (socket) track(i, socket);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const connected = state.filter((s) => s.socket && s.socket.connected).length;
  return { connected, seconds, connectErrors };
}

async function reconnect(i) {
  const s = state[i];
  s.dropped = true;
  s.back = false;
  s.up = false;
  if (firstDrop === null) firstDrop = process.hrtime.bigint();
  let delay = 100;
  while (Date.now() < deadline) {
    // As the ALB does: only targets that pass the health check get new connections.
    const live = await healthy();
    const pool = live.length ? live : urls; // none answered in time: try any
    const url = pool[Math.floor(Math.random() * pool.length)];
    const socket = await open(i, url);
    if (socket) {
      if (process.env.CONN_DEBUG) console.error(`reconnected ${i} to ${url}`);
      reconnectedTo[url] = (reconnectedTo[url] || 0) + 1;
      track(i, socket);
      s.up = true;
      checkAllUp();
      const conversationId = clients[i].conversationId;
      let more = true;
      let timeouts = 0;
      for (let page = 0; more && page < 50; page++) {
        const t0 = process.hrtime.bigint();
        let reply;
        try {
          reply = await socket.timeout(30000).emitWithAck("sync", { conversationId, afterSeq: s.lastSeq });
        } catch (err) {
          // Timed out (no ack within 30 s) or dropped again (its disconnect handler reconnects).
          syncFailed++;
          if (process.env.CONN_DEBUG) console.error(`sync ${i} failed: ${err.message}`);
          // As an app would: ask again (twice at most) while the socket is still up.
          if (socket.connected && timeouts++ < 2) {
            page--;
            continue;
          }
          break;
        }
        syncMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (!reply || !reply.ok) {
          syncFailed++;
          if (process.env.CONN_DEBUG) console.error(`sync ${i} refused: ${reply && reply.message}`);
          break;
        }
        for (const m of reply.messages) {
          s.ids.add(m.id);
          if (m.seq > s.lastSeq) s.lastSeq = m.seq;
        }
        more = reply.hasMore === true && reply.messages.length > 0;
      }
      s.back = true;
      if (process.env.CONN_DEBUG) console.error(`synced ${i}`);
      checkAllBack();
      return;
    }
    connectErrors++;
    if (process.env.CONN_DEBUG) console.error(`retry ${i} after failing on ${url}`);
    await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
    delay = Math.min(delay * 2, 1000);
  }
}

// One health round for every reconnecting client at a time (an ALB checks every few seconds).
let health = { at: 0, live: [], pending: null };
async function healthy() {
  if (Date.now() - health.at < 250) return health.live;
  if (!health.pending) {
    health.pending = Promise.all(
      urls.map((u) =>
        fetch(`${u}/health`, { signal: AbortSignal.timeout(2000) })
          .then((r) => (r.ok ? u : null))
          .catch(() => null),
      ),
    ).then((found) => {
      health = { at: Date.now(), live: found.filter(Boolean), pending: null };
      return health.live;
    });
  }
  return health.pending;
}

// Reconnected (socket connected again, before its `sync`): the realtime tier's part of the storm,
// apart from the store that answers the syncs.
let upSeconds = null;
function checkAllUp() {
  if (upSeconds !== null) return;
  const dropped = state.filter((s) => s.dropped);
  if (dropped.some((s) => !s.up)) return;
  upSeconds = Number(process.hrtime.bigint() - firstDrop) / 1e9;
}

let announced = false;
function checkAllBack() {
  if (announced) return;
  const dropped = state.filter((s) => s.dropped);
  if (dropped.length === 0 || dropped.some((s) => !s.back)) return;
  announced = true;
  const seconds = Number(process.hrtime.bigint() - firstDrop) / 1e9;
  const back = {
    dropped: dropped.length, seconds, reconnectedSeconds: upSeconds, connectErrors, connectErrorsBy,
    reconnectedTo, syncFailed,
  };
  console.log(`BACK ${JSON.stringify(back)}`);
}

async function main() {
  const result = await connectAll();
  console.log(`CONNECTED ${JSON.stringify(result)}`);
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    const cmd = line.trim();
    if (cmd === "report") {
      const received = {};
      state.forEach((s, i) => {
        received[clients[i].conversationId || String(i)] = [...s.ids];
      });
      const connected = state.filter((s) => s.socket && s.socket.connected).length;
      console.log(`REPORT ${JSON.stringify({ received, syncMs, syncFailed, connected, connectErrors })}`);
    } else if (cmd === "close") {
      state.forEach((s) => s.socket && s.socket.close());
      process.exit(0);
    }
  });
  setTimeout(() => process.exit(2), timeoutMs).unref();
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
