// The helpers every scenario script shares: a recording client of the official socket.io-client,
// waits bounded by `timeoutMs`, acknowledged calls and expectations.
// Usage: const { client, waitFor, connected, check, call } = require("./harness")(base, TIMEOUT_MS);
"use strict";
const { io } = require("socket.io-client");

module.exports = function harness(base, timeoutMs) {
  function client(token) {
    const socket = io(base, { auth: { token }, transports: ["websocket"], reconnection: false });
    const seen = {};
    socket.onAny((event, data) => {
      (seen[event] ||= []).push(data);
    });
    return { socket, seen };
  }

  function waitFor(c, event, pred = () => true) {
    return new Promise((resolve, reject) => {
      const found = (c.seen[event] || []).find(pred);
      if (found) return resolve(found);
      const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
      const listener = (data) => {
        if (pred(data)) {
          clearTimeout(timer);
          c.socket.off(event, listener);
          resolve(data);
        }
      };
      c.socket.on(event, listener);
    });
  }

  function connected(c) {
    return new Promise((resolve, reject) => {
      c.socket.on("connect", resolve);
      c.socket.on("connect_error", (err) => reject(new Error(`connect_error: ${err.message}`)));
    });
  }

  function check(cond, what) {
    if (!cond) throw new Error(`expectation failed: ${what}`);
  }

  const call = (c, event, payload) => c.socket.timeout(timeoutMs).emitWithAck(event, payload);

  return { client, waitFor, connected, check, call };
};
