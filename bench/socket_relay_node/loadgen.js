// Load generator of bench/socket_bench.py, on the official socket.io-client.
//
// Node spends far less CPU per message than a Python client, so on a small machine the servers
// under test get the cores. Driven over stdin/stdout, one JSON line each way:
//   stdin:  {"pairs": [{senderUrl, receiverUrl, senderAuth, receiverAuth, conversationId,
//            receiverId}], "inflight": 4, "deflate": false}   then commands, one per line:
//           {"cmd": "closed", "seconds": 10} | {"cmd": "rate", "rate": 1000, "seconds": 10} |
//           {"cmd": "quit"}
//   stdout: {"ready": true} once every socket is connected, then one result line per command.
// Every phase is bounded in time; loopback only (the URLs come from the benchmark).
"use strict";
const readline = require("readline");
const { io } = require("socket.io-client");

const CONTENT = "bench payload of a typical short chat message";
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let stats = null; // the current phase's counters
const sentAt = new Map(); // tempId -> send time (ms)
let seq = 0;

function newStats() {
  return { received: 0, errors: 0, duplicates: 0, latencies: [] };
}

function connect(url, auth, deflate) {
  // deflate: offer permessage-deflate as browsers do (socket.io-client's default threshold).
  const perMessageDeflate = deflate ? { threshold: 1024 } : false;
  const options = { auth, transports: ["websocket"], reconnection: false, timeout: 10000 };
  return new Promise((resolve, reject) => {
    const s = io(url, { ...options, perMessageDeflate });
    s.once("connect", () => resolve(s));
    s.once("connect_error", (err) => reject(new Error(`connect ${url}: ${err.message}`)));
  });
}

async function setup(config) {
  const pairs = [];
  for (const p of config.pairs) {
    const receiver = await connect(p.receiverUrl, p.receiverAuth, config.deflate);
    const sender = await connect(p.senderUrl, p.senderAuth, config.deflate);
    const pair = { ...p, sender, receiver, free: config.inflight, waiter: null };
    receiver.on("new_message", (data) => {
      const t0 = sentAt.get(data.tempId);
      if (t0 === undefined) {
        stats.duplicates += 1;
        return;
      }
      sentAt.delete(data.tempId);
      stats.received += 1;
      stats.latencies.push(now() - t0);
      release(pair);
    });
    sender.on("error", () => {
      stats.errors += 1;
    });
    pairs.push(pair);
  }
  return pairs;
}

function release(pair) {
  pair.free += 1;
  if (pair.waiter) {
    const w = pair.waiter;
    pair.waiter = null;
    w();
  }
}

function send(pair) {
  const tempId = `lg${process.pid}-${++seq}`;
  sentAt.set(tempId, now());
  pair.sender.emit("send_message", {
    conversationId: pair.conversationId,
    receiverId: pair.receiverId,
    messageType: "text",
    content: CONTENT,
    tempId,
  });
}

async function drain(timeoutMs) {
  const deadline = now() + timeoutMs;
  while (sentAt.size > 0 && now() < deadline) await sleep(20);
}

async function closedLoop(pairs, seconds) {
  stats = newStats();
  const stop = now() + seconds * 1000;
  const stopped = sleep(seconds * 1000); // one timer ends every wait of this phase
  const started = now();
  await Promise.all(
    pairs.map(async (pair) => {
      while (now() < stop) {
        if (pair.free === 0) {
          await Promise.race([new Promise((r) => (pair.waiter = r)), stopped]);
          pair.waiter = null;
          continue;
        }
        pair.free -= 1;
        send(pair);
      }
    })
  );
  const elapsed = (now() - started) / 1000;
  const delivered = stats.received;
  await drain(5000);
  const result = { msgs: delivered / elapsed, deliveredTotal: stats.received, errors: stats.errors };
  sentAt.clear();
  for (const pair of pairs) pair.free = pair.inflight;
  return result;
}

function pct(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function fixedRate(pairs, rate, seconds) {
  stats = newStats();
  sentAt.clear();
  const started = now();
  let sent = 0;
  let i = 0;
  while (now() - started < seconds * 1000) {
    const due = Math.floor(((now() - started) / 1000) * rate) - sent;
    for (let k = 0; k < due; k++) send(pairs[i++ % pairs.length]);
    sent += Math.max(due, 0);
    await sleep(2);
  }
  const achieved = sent / ((now() - started) / 1000);
  await drain(10000);
  const lat = stats.latencies.sort((a, b) => a - b);
  return {
    sent,
    achieved,
    received: stats.received,
    lost: sentAt.size,
    errors: stats.errors,
    duplicates: stats.duplicates,
    p50: pct(lat, 0.5),
    p99: pct(lat, 0.99),
    max: lat.length ? lat[lat.length - 1] : null,
  };
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value);
  const config = await next();
  const pairs = await setup(config);
  for (const pair of pairs) pair.inflight = config.inflight;
  console.log(JSON.stringify({ ready: true }));
  for (;;) {
    const command = await next();
    let result;
    if (command.cmd === "closed") result = await closedLoop(pairs, command.seconds);
    else if (command.cmd === "rate") result = await fixedRate(pairs, command.rate, command.seconds);
    else break;
    console.log(JSON.stringify(result));
  }
  for (const pair of pairs) {
    pair.sender.close();
    pair.receiver.close();
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
