// A care team (#18) driven by the official socket.io-client: one message reaches every member's
// devices, receipts are per member, typing goes to every other member, and an outsider sees none.
// Usage: node care_team.js <baseUrl> <creatorToken> <patientToken> <colleagueToken> <outsiderToken>
//                          <teamId> <barrierConversationId>
// Prints one JSON line with what was seen; exits non-zero on the first failed expectation.
"use strict";

const [base, creatorToken, patientToken, colleagueToken, outsiderToken, teamId, barrierId] =
  process.argv.slice(2);
const TIMEOUT_MS = 5000;

const { client, waitFor, connected, check } = require("./harness")(base, TIMEOUT_MS);

async function main() {
  const creator = client(creatorToken);
  const patient = client(patientToken);
  const colleague = client(colleagueToken);
  const colleague2 = client(colleagueToken); // a second device of the same member
  const outsider = client(outsiderToken);
  const all = [creator, patient, colleague, colleague2, outsider];
  await Promise.all(all.map(connected));

  // Send without a receiverId: every member's devices get it.
  const ack = await creator.socket.timeout(TIMEOUT_MS).emitWithAck("send_message", {
    conversationId: teamId, messageType: "text", content: "Bonjour l'équipe", tempId: "t-team",
  });
  check(ack.ok === true, `send ack ${JSON.stringify(ack)}`);
  const isIt = (m) => m.id === ack.messageId;
  const got = await Promise.all([patient, colleague, colleague2].map((c) => waitFor(c, "new_message", isIt)));
  check(got.every((m) => !("receiverId" in m) && Array.isArray(m.readBy)), "team new_message shape");
  // A delivery receipt per member.
  const receipts = new Set();
  for (let i = 0; i < 2; i++) {
    const d = await waitFor(creator, "message_delivered", (d) => d.messageId === ack.messageId && !receipts.has(d.userId));
    receipts.add(d.userId);
  }
  check(receipts.size === 2, "one delivery receipt per member");

  // The patient reads: every member's devices hear it.
  const read = await patient.socket.timeout(TIMEOUT_MS).emitWithAck("mark_as_read", { conversationId: teamId });
  check(read.ok && read.messageIds[0] === ack.messageId, "mark_as_read ack");
  const heard = await Promise.all(
    [creator, colleague, colleague2].map((c) => waitFor(c, "messages_read", (r) => r.conversationId === teamId)),
  );
  check(heard.every((r) => r.readBy === got[0].senderId || r.readBy), "messages_read to every member");

  // Typing names no receiver in a team.
  colleague.socket.emit("typing_start", { conversationId: teamId });
  const typing = await Promise.all([creator, patient].map((c) => waitFor(c, "user_typing", (t) => t.conversationId === teamId)));

  // Nobody else: the outsider's next event is a later one-to-one message.
  const later = await creator.socket.timeout(TIMEOUT_MS).emitWithAck("send_message", {
    conversationId: barrierId, content: "after the team's",
  });
  await waitFor(outsider, "new_message", (m) => m.id === later.messageId);
  const outsiderSaw = (outsider.seen.new_message || []).map((m) => m.id);
  check(outsiderSaw.length === 1 && outsiderSaw[0] === later.messageId, `outsider saw ${outsiderSaw}`);
  check(!outsider.seen.messages_read && !outsider.seen.user_typing, "outsider heard no team receipt or typing");

  all.forEach((c) => c.socket.close());
  console.log(JSON.stringify({ message: got[0], receipts: [...receipts], read: heard[0], typing: typing[0] }));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err.message);
    process.exit(1);
  },
);
