// Forwarding and scheduled messages (issue #16 B) driven by the official socket.io-client.
// Usage: node forward_scheduled.js <baseUrl> <patientToken> <doctorToken> <doctor2Token>
//          <convPatientDoctor> <convDoctorDoctor2>
// The server sends scheduled messages with a short minimum lead (set by the test).
// Prints one JSON line with what each side saw; exits non-zero on the first failed expectation.
"use strict";

const [base, patientToken, doctorToken, doctor2Token, convA, convB] = process.argv.slice(2);
const TIMEOUT_MS = 15000;

const { client, waitFor, connected, check, call } = require("./harness")(base, TIMEOUT_MS);

async function main() {
  const patient = client(patientToken);
  const doctor = client(doctorToken);
  const doctor2 = client(doctor2Token);
  await Promise.all([connected(patient), connected(doctor), connected(doctor2)]);

  // The patient writes to the doctor; the doctor forwards it to a colleague.
  const sent = await call(patient, "send_message", { conversationId: convA, content: "Résultats: HbA1c 7,2 %" });
  check(sent.ok === true, "send ack");
  await waitFor(doctor, "new_message", (m) => m.id === sent.messageId);
  const fwd = await call(doctor, "forward_message", { messageId: sent.messageId, conversationId: convB });
  check(fwd.ok === true && fwd.conversationId === convB && fwd.messageId !== sent.messageId, "forward ack");
  check(fwd.forwardedFrom.messageId === sent.messageId && fwd.forwardedFrom.conversationId === convA, "ack forwardedFrom");
  const got = await waitFor(doctor2, "new_message", (m) => m.id === fwd.messageId);
  check(got.content === "Résultats: HbA1c 7,2 %" && got.conversationId === convB, "new_message forwarded");
  check(got.forwardedFrom.senderId !== got.senderId, "forwardedFrom names the original sender");
  check(got.content === "Résultats: HbA1c 7,2 %" && got.conversationId === convB, "new_message forwarded");
  check(got.forwardedFrom.senderId !== got.senderId, "forwardedFrom names the original sender");

  // Refusal: the patient is not in the target conversation.
  const refused = await call(patient, "forward_message", { messageId: sent.messageId, conversationId: convB });
  check(refused.ok === false && refused.message, "forward refusal ack");
  const error = await waitFor(patient, "error", (e) => e.event === "forward_message");
  check(error.message === refused.message, "forward refusal error event");

  // Scheduled: the ack names the schedule; at its time the doctor gets new_message under
  // that id and the patient's devices scheduled_message_sent.
  const when = new Date(Date.now() + 2000).toISOString();
  const sched = await call(patient, "send_message", {
    conversationId: convA, content: "N'oubliez pas le bilan", scheduledAt: when, tempId: "s-1",
  });
  check(sched.ok === true && sched.scheduledMessageId && sched.tempId === "s-1", "schedule ack");
  check(!(patient.seen.message_sent || []).some((m) => m.tempId === "s-1"), "no message_sent yet");
  const arrived = await waitFor(doctor, "new_message", (m) => m.id === sched.scheduledMessageId);
  check(arrived.content === "N'oubliez pas le bilan" && arrived.forwardedFrom === null, "scheduled arrived");
  const told = await waitFor(patient, "scheduled_message_sent", (m) => m.scheduledMessageId === sched.scheduledMessageId);
  check(told.message.id === sched.scheduledMessageId && told.conversationId === convA, "scheduled_message_sent");

  // Refusal: a time without a zone.
  const naive = await call(patient, "send_message", { conversationId: convA, content: "x", scheduledAt: "2030-01-01T09:00:00" });
  check(naive.ok === false && /time zone/.test(naive.message), "naive scheduledAt refused");

  // The outsider (doctor2) heard nothing of conversation A; the patient nothing of B.
  const leakedTo2 = (doctor2.seen.new_message || []).filter((m) => m.conversationId === convA);
  const leakedToP = (patient.seen.new_message || []).filter((m) => m.conversationId === convB);
  check(leakedTo2.length === 0 && !(doctor2.seen.scheduled_message_sent || []).length, "doctor2 saw nothing of A");
  check(leakedToP.length === 0, "patient saw nothing of B");
  const toDoctor = (doctor.seen.new_message || []).filter((m) => m.id === sched.scheduledMessageId);
  check(toDoctor.length === 1, "scheduled delivered once");

  for (const c of [patient, doctor, doctor2]) c.socket.close();
  console.log(JSON.stringify({ forwarded: got.forwardedFrom, scheduled: sched, arrived: arrived.id, refused: refused.message }));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err.message);
    process.exit(1);
  },
);
