// The official socket.io-client's transports against the socket tier (issue #19: granian).
// Usage: node transports.js <baseUrl> <token> <mode> <conversationId> <receiverId>
//   mode "default":   the client's own defaults (long-polling first, then the websocket upgrade)
//   mode "websocket": websocket only (what mobile apps configure)
//   mode "reconnect": default options with reconnection; prints "READY" once connected, then
//                     expects the server to go away and come back (the test restarts it)
// Prints one JSON line with what it saw; exits non-zero on the first failed expectation.
"use strict";
const { io } = require("socket.io-client");

const [base, token, mode, conversationId, receiverId] = process.argv.slice(2);
const TIMEOUT_MS = 20000;

function check(cond, what) {
  if (!cond) throw new Error(`expectation failed: ${what}`);
}

function within(promise, what, ms = TIMEOUT_MS) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)),
  ]);
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, resolve));
}

async function send(socket, content) {
  const ack = await socket.timeout(TIMEOUT_MS).emitWithAck("send_message", {
    conversationId, receiverId, messageType: "text", content, tempId: `t_${content}`,
  });
  check(ack.ok === true, `send ack ${JSON.stringify(ack)}`);
  return ack;
}

async function main() {
  const options = { auth: { token } };
  if (mode === "websocket") Object.assign(options, { transports: ["websocket"], reconnection: false });
  if (mode === "default") options.reconnection = false;
  if (mode === "reconnect") Object.assign(options, { reconnectionDelay: 100, reconnectionDelayMax: 500 });
  const socket = io(base, options);
  // The manager opens its engine at once: the first transport, before any upgrade can happen.
  const first = socket.io.engine.transport.name;
  const connectErrors = [];
  socket.on("connect_error", (err) => connectErrors.push(err.message));
  await within(once(socket, "connect"), "connect");
  const seen = { first, connectErrors };
  if (mode === "default") {
    // The upgrade happens after the first exchange; wait for it (bounded).
    if (socket.io.engine.transport.name !== "websocket") {
      await within(once(socket.io.engine, "upgrade"), "upgrade");
    }
    seen.upgraded = socket.io.engine.transport.name;
  }
  if (mode === "reconnect") {
    console.log("READY");
    // Within the task's own bound: a granian task whose drain gets stuck (the known #19 issue
    // the drain test is marked for) is ended by its watchdog at grace + 15 s, which the test
    // accepts (exit 1); its connections close then, and the client must still reconnect.
    const reason = await within(once(socket, "disconnect"), "disconnect", 45000);
    seen.reason = reason;
    // The test starts the next task only after this one has exited: allow for both.
    await within(once(socket, "connect"), "reconnect", 60000).catch((err) => {
      throw new Error(`${err.message}; connect errors: ${connectErrors.join(", ")}`);
    });
    seen.reconnected = true;
  }
  const ack = await send(socket, "hello");
  seen.ack = ack.ok;
  seen.final = socket.io.engine.transport.name;
  socket.close();
  console.log(JSON.stringify(seen));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err.message);
    process.exit(1);
  },
);
