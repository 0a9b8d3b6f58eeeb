// A patient and a doctor chat through the demo page (web/) in two Chromium contexts.
// Usage: node chat.js <base url> [screenshot dir]. Prints one JSON line; exits non-zero on failure.
// Every wait is on DOM state with a timeout; nothing sleeps.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { chromium } = require("playwright-core");
const { WAIT, a11yProblems, signIn: signInAt, step } = require("./page_checks");

const [base, shotDir] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
// Generous: the bound only matters when something is broken, and CI machines can be busy.
// A 240x150 PNG drawn in the page (a stand-in for a photo of an X-ray): a real file for the
// server's size, type and magic-byte checks.
function drawPng() {
  const c = document.createElement("canvas");
  c.width = 240;
  c.height = 150;
  const g = c.getContext("2d");
  const grad = g.createRadialGradient(120, 75, 10, 120, 75, 130);
  grad.addColorStop(0, "#e8eef5");
  grad.addColorStop(1, "#1b2733");
  g.fillStyle = grad;
  g.fillRect(0, 0, 240, 150);
  g.strokeStyle = "#f4f7fb";
  g.lineWidth = 6;
  for (let i = 0; i < 5; i++) {
    g.beginPath();
    g.ellipse(120, 30 + i * 24, 70 - i * 4, 9, 0, 0, Math.PI * 2);
    g.stroke();
  }
  return c.toDataURL("image/png").split(",")[1];
}

const signIn = (page, role, name) => signInAt(page, base, role, name);

const mine = (page, text) => page.locator('#messages li[data-mine="true"]', { hasText: text });
const theirs = (page, text) => page.locator('#messages li[data-mine="false"]', { hasText: text });

async function main() {
  if (!base) throw new Error("usage: node chat.js <base url> [screenshot dir]");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const errors = [];
  try {
    // The patient on a phone-sized screen, the doctor on a laptop-sized one.
    const patientCtx = await browser.newContext({ viewport: { width: 390, height: 780 }, locale: "en-US" });
    const doctorCtx = await browser.newContext({ viewport: { width: 1100, height: 720 }, locale: "en-US" });
    const patient = await patientCtx.newPage();
    const doctor = await doctorCtx.newPage();
    for (const [who, page] of [["patient", patient], ["doctor", doctor]]) {
      page.on("console", (m) => { if (m.type() === "error") errors.push(`${who}: ${m.text()}`); });
      page.on("pageerror", (e) => errors.push(`${who}: ${e.message}`));
    }

    step("both sign in through POST /dev/token");
    const doctorId = await signIn(doctor, "doctor", "Dr. Sarah Smith");
    await signIn(patient, "patient", "John Doe");

    step("the patient opens a conversation with the doctor's id");
    await patient.getByLabel("Their user id").fill(doctorId);
    await patient.getByLabel("They are a").selectOption("doctor");
    await patient.getByRole("button", { name: "Open" }).click();
    await patient.locator("#thread-title", { hasText: "Dr. Sarah Smith" }).waitFor(WAIT);
    await patient.locator('#partner-dot[data-online="true"]').waitFor(WAIT);

    step("the patient sends (keyboard: Enter); the doctor's list shows it unread; ticks go delivered");
    await patient.getByLabel("Message", { exact: true }).fill("Bonjour docteur, j'ai mal au dos");
    await patient.getByLabel("Message", { exact: true }).press("Enter");
    const first = mine(patient, "Bonjour docteur");
    await first.locator(".tick").waitFor(WAIT);
    const item = doctor.locator("#conversations .conversation", { hasText: "John Doe" });
    await item.locator(".badge", { hasText: "1" }).waitFor(WAIT);
    await item.locator(".last", { hasText: "Bonjour docteur" }).waitFor(WAIT);
    await patient.locator('#messages li[data-mine="true"][data-status="delivered"]').waitFor(WAIT);

    step("the doctor opens it: read ticks on the patient's side, badge gone");
    await item.click();
    await theirs(doctor, "Bonjour docteur").waitFor(WAIT);
    await patient.locator('#messages li[data-mine="true"][data-status="read"]').waitFor(WAIT);
    await item.locator(".badge").waitFor({ state: "detached", ...WAIT });

    step("the doctor types: the patient sees the typing indicator, then the message");
    await doctor.getByLabel("Message", { exact: true }).pressSequentially("Depuis quand ?");
    await patient.locator("#typing", { hasText: "Dr. Sarah Smith is typing" }).waitFor(WAIT);
    await doctor.getByRole("button", { name: "Send" }).click();
    await theirs(patient, "Depuis quand ?").waitFor(WAIT);
    await patient.waitForFunction(() => document.getElementById("typing").textContent === "", null, WAIT);
    await mine(doctor, "Depuis quand ?").and(doctor.locator('[data-status="read"]')).waitFor(WAIT);

    step("the patient sends an image through the presigned flow; the doctor sees it inline");
    const png = Buffer.from(await patient.evaluate(drawPng), "base64");
    await patient.getByLabel("Attach a file").setInputFiles({ name: "radio.png", mimeType: "image/png", buffer: png });
    const img = doctor.locator('#messages li[data-mine="false"] img.inline-image[alt="radio.png"]');
    await img.waitFor(WAIT);
    await doctor.waitForFunction(
      () => [...document.querySelectorAll("img.inline-image")].some((i) => i.complete && i.naturalWidth === 240),
      null, WAIT,
    );
    await patient.locator('#messages li[data-mine="true"] img.inline-image[alt="radio.png"]').waitFor(WAIT);

    step("a PDF goes as a download link");
    const pdf = Buffer.from("%PDF-1.4\n%test\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n");
    await doctor.getByLabel("Attach a file").setInputFiles({ name: "ordonnance.pdf", mimeType: "application/pdf", buffer: pdf });
    await patient.locator('#messages li[data-mine="false"] a[download="ordonnance.pdf"]').waitFor(WAIT);

    step("accessibility: labels and contrast on both pages");
    for (const page of [patient, doctor]) {
      const problems = await page.evaluate(a11yProblems);
      if (problems.length) throw new Error(`accessibility:\n${problems.join("\n")}`);
    }

    if (shotDir) {
      step(`screenshots into ${shotDir}`);
      fs.mkdirSync(shotDir, { recursive: true });
      await patient.screenshot({ path: path.join(shotDir, "patient-phone.png"), fullPage: true });
      await doctor.screenshot({ path: path.join(shotDir, "doctor-desktop.png") });
    }

    step("markup in a message stays text");
    const attack = 'XSS probe <img src=x onerror="window.__pwned=1"><b>bold</b>';
    await patient.getByLabel("Message", { exact: true }).fill(attack);
    await patient.getByLabel("Message", { exact: true }).press("Enter");
    const shown = theirs(doctor, "XSS probe");
    await shown.waitFor(WAIT);
    if ((await shown.locator(".body p").textContent()) !== attack) throw new Error("message text altered");
    if ((await shown.locator("img, b").count()) !== 0) throw new Error("message markup was rendered");
    if (await doctor.evaluate(() => window.__pwned)) throw new Error("message markup ran script");

    step("search finds the patient's words");
    await doctor.getByLabel("Search messages").fill("dos");
    await doctor.getByRole("button", { name: "Search", exact: true }).click();
    await doctor.locator("#search-results .result", { hasText: "mal au dos" }).waitFor(WAIT);

    step("the doctor deletes a message: it disappears on the patient's side");
    await mine(doctor, "Depuis quand ?").getByRole("button", { name: "Delete this message" }).click();
    await patient.locator('#messages li[data-deleted="true"]', { hasText: "This message was deleted" }).waitFor(WAIT);
    if ((await theirs(patient, "Depuis quand ?").count()) !== 0) throw new Error("deleted text still shown");

    step("a network drop: offline banner, then catch-up by afterSeq once back");
    await patient.evaluate(() => {
      // Drop the link and hold reconnection, so the doctor's message lands while we are away.
      state.socket.io.reconnection(false);
      state.socket.io.engine.close();
    });
    await patient.locator("#offline-banner").waitFor({ state: "visible", ...WAIT });
    await doctor.locator('#partner-dot[data-online="false"]').waitFor(WAIT);
    await doctor.getByLabel("Message", { exact: true }).fill("Message envoyé pendant la coupure");
    await doctor.getByLabel("Message", { exact: true }).press("Enter");
    await mine(doctor, "pendant la coupure").and(doctor.locator('[data-status="sent"]')).waitFor(WAIT);
    await patient.evaluate(() => { state.socket.io.reconnection(true); state.socket.connect(); });
    await theirs(patient, "pendant la coupure").waitFor(WAIT);
    await patient.locator("#offline-banner").waitFor({ state: "hidden", ...WAIT });
    await mine(doctor, "pendant la coupure").and(doctor.locator('[data-status="read"]')).waitFor(WAIT);

    step("older history loads upwards with the before cursor (infinite scroll)");
    const seeded = await patient.evaluate(async () => {
      const c = state.current;
      for (let i = 1; i <= 40; i++) {
        const r = await fetch(`/api/v1/messages/conversations/${c.conversationId}/messages`, {
          method: "POST",
          headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json" },
          body: JSON.stringify({ content: `Historique ${i}`, tempId: `seed_${i}` }),
        });
        if (r.status !== 201) return r.status;
      }
      return 201;
    });
    if (seeded !== 201) throw new Error(`seeding history failed: ${seeded}`);
    await item.click();
    await theirs(doctor, "Historique 40").waitFor(WAIT);
    const firstPage = await doctor.locator("#messages li").count();
    await doctor.locator("#messages").evaluate((box) => { box.scrollTop = 0; box.dispatchEvent(new Event("scroll")); });
    await doctor.waitForFunction((n) => document.querySelectorAll("#messages li").length > n, firstPage, WAIT);
    await theirs(doctor, "Bonjour docteur").waitFor(WAIT);
    const olderCount = await doctor.locator("#messages li").count();

    step("a pasted token (the deployed-service path): the doctor's second device");
    const minted = await fetch(`${base}/dev/token`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ role: "doctor", name: "Dr. Sarah Smith", userId: doctorId }),
    }).then((r) => r.json());
    const tablet = await (await browser.newContext({ viewport: { width: 800, height: 700 } })).newPage();
    tablet.on("console", (m) => { if (m.type() === "error") errors.push(`tablet: ${m.text()}`); });
    tablet.on("pageerror", (e) => errors.push(`tablet: ${e.message}`));
    await tablet.goto(base);
    await tablet.getByLabel("JWT").fill(minted.data.token);
    await tablet.getByRole("button", { name: "Use this token" }).click();
    await tablet.waitForFunction(() => document.getElementById("connection").dataset.state === "connected", null, WAIT);
    if ((await tablet.locator("#my-id").textContent()).trim() !== doctorId) throw new Error("pasted token: wrong id");
    await tablet.locator("#conversations .conversation", { hasText: "John Doe" }).click();
    await patient.getByLabel("Message", { exact: true }).fill("Merci docteur");
    await patient.getByLabel("Message", { exact: true }).press("Enter");
    await theirs(tablet, "Merci docteur").waitFor(WAIT);
    await theirs(doctor, "Merci docteur").waitFor(WAIT);

    step("French labels");
    await patient.getByLabel("Language").selectOption("fr");
    await patient.getByRole("button", { name: "Envoyer" }).waitFor(WAIT);
    await patient.getByLabel("Rechercher dans les messages").waitFor(WAIT);

    if (errors.length) throw new Error(`console errors:\n${errors.join("\n")}`);
    console.log(JSON.stringify({ ok: true, doctorMessages: olderCount }));
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
