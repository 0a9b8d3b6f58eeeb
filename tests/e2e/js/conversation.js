// One full conversation driven by the official socket.io-client, as a web app would.
// Usage: node conversation.js <baseUrl> <patientToken> <doctorToken> <conversationId> <doctorId>
// Prints one JSON line with what each side saw; exits non-zero on the first failed expectation.
"use strict";
const { io } = require("socket.io-client");

const [base, patientToken, doctorToken, conversationId, doctorId] = process.argv.slice(2);
const TIMEOUT_MS = 5000;

const { client, waitFor, connected, check } = require("./harness")(base, TIMEOUT_MS);

async function main() {
  // A refused handshake explains itself.
  const bad = io(base, { auth: { token: "forged" }, transports: ["websocket"], reconnection: false });
  const refusal = await new Promise((resolve) => bad.on("connect_error", (err) => resolve(err.message)));
  bad.close();
  check(refusal === "Invalid token", `refusal reason, got ${refusal}`);

  const doctor = client(doctorToken);
  await connected(doctor);
  const patient = client(patientToken);
  await connected(patient);
  const online = await waitFor(doctor, "user_online");

  // Send with an acknowledgement and a tempId.
  const ack = await patient.socket.timeout(TIMEOUT_MS).emitWithAck("send_message", {
    conversationId, receiverId: doctorId, messageType: "text", content: "Bonjour docteur", tempId: "temp_123",
  });
  check(ack.ok === true && ack.tempId === "temp_123", "send ack");
  const sent = await waitFor(patient, "message_sent");
  check(sent.messageId === ack.messageId && sent.tempId === "temp_123" && sent.timestamp, "message_sent");
  const received = await waitFor(doctor, "new_message");
  check(received.id === ack.messageId && received.content === "Bonjour docteur", "new_message");
  const delivered = await waitFor(patient, "message_delivered");
  check(delivered.messageId === ack.messageId && delivered.deliveredAt, "message_delivered");

  // Typing, both ways of ending it.
  doctor.socket.emit("typing_start", { conversationId, receiverId: received.senderId });
  const typing = await waitFor(patient, "user_typing");
  check(typing.conversationId === conversationId && "userName" in typing, "user_typing");
  doctor.socket.emit("typing_stop", { conversationId });
  await waitFor(patient, "user_stopped_typing");

  // Read receipts.
  doctor.socket.emit("join_conversation", { conversationId });
  doctor.socket.emit("mark_as_read", { conversationId, messageIds: [ack.messageId] });
  const success = await waitFor(doctor, "mark_as_read_success");
  check(success.messageIds[0] === ack.messageId, "mark_as_read_success");
  const read = await waitFor(patient, "messages_read");
  check(read.readBy && read.readAt && read.messageIds[0] === ack.messageId, "messages_read");

  // Catch-up after a reconnect: everything after seq 0.
  const sync = await doctor.socket.timeout(TIMEOUT_MS).emitWithAck("sync", { conversationId, afterSeq: 0 });
  check(sync.ok && sync.messages.length === 1 && sync.messages[0].seq === 1, "sync");

  // Errors arrive as an `error` event { event, message }.
  patient.socket.emit("send_message", { conversationId: { $ne: null }, content: "x" });
  const error = await waitFor(patient, "error");
  check(error.event === "send_message" && error.message, "error event");

  // Delete through REST: both sides hear it.
  const res = await fetch(`${base}/api/v1/messages/${ack.messageId}`, {
    method: "DELETE", headers: { Authorization: `Bearer ${patientToken}` },
  });
  check(res.status === 200, `delete status ${res.status}`);
  const deletedP = await waitFor(patient, "message_deleted");
  const deletedD = await waitFor(doctor, "message_deleted");
  check(deletedP.messageId === ack.messageId && deletedD.deletedAt, "message_deleted");

  patient.socket.close();
  const offline = await waitFor(doctor, "user_offline");
  doctor.socket.close();
  console.log(JSON.stringify({ refusal, online, sent, delivered, typing, read, deleted: deletedD, offline }));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err.message);
    process.exit(1);
  },
);
