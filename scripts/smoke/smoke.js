// Black-box smoke test of a running messaging service, as a client of the original sees it.
// Usage: node smoke.js <baseUrl>   (scripts/smoke/smoke.sh sets NODE_PATH and checks the inputs)
//
// Tokens: SMOKE_JWT_SECRET (HS256, the service's JWT secret; SMOKE_JWT_ISSUER/_AUDIENCE when the
// service checks them) mints a patient and a doctor with fresh ids; or tokens from the issuer:
// SMOKE_PATIENT_TOKEN + SMOKE_PATIENT_ID and SMOKE_DOCTOR_TOKEN + SMOKE_DOCTOR_ID.
// Prints one line per step and a JSON summary; exits non-zero at the first failed step.
// Never prints a token, a message text, a file name or a presigned URL.
"use strict";
const crypto = require("node:crypto");
const { io } = require("socket.io-client");

const base = (process.argv[2] || "").replace(/\/+$/, "");
const API = `${base}/api/v1/messages`;
const TIMEOUT_MS = Number(process.env.SMOKE_TIMEOUT_MS || 10000);
const PDF = Buffer.from("%PDF-1.4\n" + "1 0 obj << /Type /Catalog >> endobj\n".repeat(40) + "%%EOF\n");

function b64url(data) {
  return Buffer.from(data).toString("base64url");
}

function mint(secret, sub, role, name) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub, role, name, iat: now, exp: now + 600 };
  if (process.env.SMOKE_JWT_ISSUER) claims.iss = process.env.SMOKE_JWT_ISSUER;
  if (process.env.SMOKE_JWT_AUDIENCE) claims.aud = process.env.SMOKE_JWT_AUDIENCE;
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify(claims));
  const sig = crypto.createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

function people() {
  const secret = process.env.SMOKE_JWT_SECRET;
  if (secret) {
    const id = () => crypto.randomBytes(12).toString("hex"); // an ObjectId-shaped user id
    const patient = { id: id(), role: "patient" };
    const doctor = { id: id(), role: "doctor" };
    patient.token = mint(secret, patient.id, "patient", "Smoke Patient");
    doctor.token = mint(secret, doctor.id, "doctor", "Dr Smoke");
    return { patient, doctor };
  }
  const env = (k) => {
    if (!process.env[k]) throw new Error(`set SMOKE_JWT_SECRET, or ${k} (see docs/deploy.md)`);
    return process.env[k];
  };
  return {
    patient: { id: env("SMOKE_PATIENT_ID"), role: "patient", token: env("SMOKE_PATIENT_TOKEN") },
    doctor: { id: env("SMOKE_DOCTOR_ID"), role: "doctor", token: env("SMOKE_DOCTOR_TOKEN") },
  };
}

function check(cond, what) {
  if (!cond) throw new Error(`expectation failed: ${what}`);
}

async function http(method, url, token, body) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = token.startsWith("Bearer ") ? token : `Bearer ${token}`;
  const r = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON: the checks below say so */
  }
  return { status: r.status, json };
}

function listen(token, transports) {
  const socket = io(base, { auth: { token }, transports, reconnection: false, timeout: TIMEOUT_MS });
  const seen = {};
  socket.onAny((event, data) => (seen[event] ||= []).push(data));
  const ready = new Promise((resolve, reject) => {
    socket.on("connect", resolve);
    socket.on("connect_error", (err) => reject(new Error(`connect_error: ${err.message}`)));
  });
  return { socket, seen, ready };
}

function waitFor(c, event, pred) {
  return new Promise((resolve, reject) => {
    const found = (c.seen[event] || []).find(pred);
    if (found) return resolve(found);
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
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

const steps = [];
function ok(step) {
  steps.push(step);
  console.log(`ok  ${step}`);
}

async function main() {
  check(/^https?:\/\/[^/]+/.test(base), "usage: smoke.js <baseUrl>");
  const { patient, doctor } = people();

  const health = await http("GET", `${base}/health`);
  check(health.status === 200 && health.json && health.json.status === "healthy", `health: ${health.status}`);
  ok("health");

  for (const [label, token] of [["missing", null], ["invalid", "not-a-jwt"]]) {
    const r = await http("GET", `${API}/conversations`, token);
    check(r.status === 401, `${label} token: 401 expected, got ${r.status}`);
    check(r.json && typeof r.json.message === "string" && Object.keys(r.json).length === 1,
      `${label} token: body must be {"message": ...}`);
  }
  ok("token refusal is 401 {message}");

  // The recipient must be known to the directory: with minted tokens (no user service), the
  // doctor becomes known by calling the API once, as any signed-in client does.
  const seen = await http("GET", `${API}/conversations`, doctor.token);
  check(seen.status === 200, `doctor's conversations: ${seen.status}`);
  const created = await http("POST", `${API}/conversations`, patient.token,
    { recipientId: doctor.id, recipientType: "doctor" });
  check([200, 201].includes(created.status), `create conversation: ${created.status}`);
  const conversationId = created.json.data.conversationId;
  ok("create conversation");

  // The doctor on long-polling then upgraded (what a browser does), through the same origin.
  const d = listen(doctor.token, ["polling", "websocket"]);
  await d.ready;
  ok("socket.io connect");
  try {
    const sent = await http("POST", `${API}/conversations/${conversationId}/messages`, patient.token,
      { content: "smoke test message", receiverId: doctor.id, messageType: "text" });
    check(sent.status === 201, `send over REST: ${sent.status}`);
    const messageId = sent.json.data.id;
    ok("send over REST");
    await waitFor(d, "new_message", (m) => m && m.id === messageId);
    ok("receive over Socket.IO");

    const grant = await http("POST", `${API}/conversations/${conversationId}/attachments`, patient.token,
      { fileName: "smoke.pdf", mimeType: "application/pdf", fileSize: PDF.length });
    check([200, 201].includes(grant.status), `upload grant: ${grant.status}`);
    const { uploadUrl, fields, key } = grant.json.data;
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append("file", new Blob([PDF], { type: "application/pdf" }), "smoke.pdf");
    const put = await fetch(uploadUrl, { method: "POST", body: form, signal: AbortSignal.timeout(TIMEOUT_MS) });
    check([200, 201, 204].includes(put.status), `presigned upload: ${put.status}`);
    const file = await http("POST", `${API}/conversations/${conversationId}/send-file`, patient.token,
      { key, receiverId: doctor.id, messageType: "document" });
    check(file.status === 201, `send uploaded file: ${file.status}`);
    await waitFor(d, "new_message", (m) => m && m.id === file.json.data.id);
    ok("presigned upload and file message");

    const del = await http("DELETE", `${API}/${messageId}`, patient.token);
    check(del.status === 200, `delete: ${del.status}`);
    await waitFor(d, "message_deleted", (m) => m && m.messageId === messageId);
    ok("delete");
  } finally {
    d.socket.close();
  }
  console.log(JSON.stringify({ ok: true, steps }));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`FAIL ${err.message}`);
    console.log(JSON.stringify({ ok: false, steps, error: err.message }));
    process.exit(1);
  },
);
