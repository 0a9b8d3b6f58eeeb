// Issue #16 part A through the official socket.io-client: edit_message, add_reaction,
// remove_reaction with acks, the events every participant's devices hear, and the refusals.
// Usage: node edits.js <baseUrl> <patientToken> <doctorToken> <outsiderToken> <conversationId>
// Prints one JSON line with what each side saw; exits non-zero on the first failed expectation.
"use strict";

const [base, patientToken, doctorToken, outsiderToken, conversationId] = process.argv.slice(2);
const TIMEOUT_MS = 5000;

const { client, waitFor, connected, check, call } = require("./harness")(base, TIMEOUT_MS);

async function main() {
  const patient = client(patientToken);
  const patientPhone = client(patientToken); // a second device of the same user
  const doctor = client(doctorToken);
  const outsider = client(outsiderToken);
  await Promise.all([patient, patientPhone, doctor, outsider].map(connected));

  const sent = await call(patient, "send_message", {
    conversationId, messageType: "text", content: "J'ai pris 2 comprimés", tempId: "t-edit",
  });
  check(sent.ok, "send ack");
  const messageId = sent.messageId;

  // Edit over the socket: an ack, and every device of both participants hears it.
  const edited = await call(patient, "edit_message", { messageId, content: "J'ai pris 3 comprimés" });
  check(edited.ok && edited.messageId === messageId && edited.editedAt && edited.changed, "edit ack");
  const isEdit = (text) => (d) => d.messageId === messageId && d.content === text;
  for (const c of [patient, patientPhone, doctor]) {
    const heard = await waitFor(c, "message_edited", isEdit("J'ai pris 3 comprimés"));
    check(heard.conversationId === conversationId && heard.editedAt === edited.editedAt, "message_edited");
  }

  // Refusals: the receiver may not edit; an outsider may not react; no emoji, no reaction.
  const notMine = await call(doctor, "edit_message", { messageId, content: "réécrit" });
  check(notMine.ok === false && notMine.message === "You can only edit your own messages", "not sender");
  const notMineError = await waitFor(doctor, "error", (e) => e.event === "edit_message");
  check(notMineError.message === notMine.message, "error event for edit_message");
  const outsiderAck = await call(outsider, "add_reaction", { messageId, emoji: "👍" });
  check(outsiderAck.ok === false && outsiderAck.message, "outsider refused");
  const text = await call(doctor, "add_reaction", { messageId, emoji: "ok" });
  check(text.ok === false && text.message === "emoji must be exactly one emoji", "text refused");
  const markup = await call(doctor, "add_reaction", { messageId, emoji: "<b>👍</b>" });
  check(markup.ok === false, "markup refused");
  const two = await call(doctor, "add_reaction", { messageId, emoji: "👍👍" });
  check(two.ok === false, "two graphemes refused");

  // React and un-react: both participants hear reaction_updated.
  const added = await call(doctor, "add_reaction", { messageId, emoji: "👍🏽" });
  check(added.ok && added.reactions.length === 1 && added.reactions[0].emoji === "👍🏽", "add ack");
  const withThumb = (d) => d.messageId === messageId && d.reactions.length === 1;
  for (const c of [patient, patientPhone, doctor]) {
    const heard = await waitFor(c, "reaction_updated", withThumb);
    check(heard.reactions[0].userIds.length === 1 && heard.conversationId === conversationId, "reaction_updated");
  }
  const removed = await call(doctor, "remove_reaction", { messageId, emoji: "👍🏽" });
  check(removed.ok && removed.reactions.length === 0, "remove ack");
  for (const c of [patient, doctor]) {
    await waitFor(c, "reaction_updated", (d) => d.messageId === messageId && d.reactions.length === 0);
  }

  // An edit through REST reaches the sockets as well (through Redis when the tiers are apart).
  const res = await fetch(`${base}/api/v1/messages/${messageId}`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${patientToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ content: "J'ai pris 3 comprimés à 8 h" }),
  });
  check(res.status === 200, `REST edit status ${res.status}`);
  for (const c of [patient, patientPhone, doctor]) {
    await waitFor(c, "message_edited", isEdit("J'ai pris 3 comprimés à 8 h"));
  }

  // The outsider heard none of it (one more round trip on its own socket first).
  await call(outsider, "sync", { conversationId, afterSeq: 0 });
  check(!outsider.seen.message_edited && !outsider.seen.reaction_updated, "outsider heard nothing");

  for (const c of [patient, patientPhone, doctor, outsider]) c.socket.close();
  console.log(JSON.stringify({ edited, added, removed, outsider: outsiderAck.message }));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err.message);
    process.exit(1);
  },
);
