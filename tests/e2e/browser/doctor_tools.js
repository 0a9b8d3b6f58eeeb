// The #17 features on the demo page (web/): voice and video messages, a doctor's templates and
// response analytics, in two Chromium contexts.
// Usage: node doctor_tools.js <base url> <media dir>. The media dir holds real minimal files the
// Python test made (tests/media_samples.py): note.mp3, clip.webm. Prints one JSON line; exits
// non-zero on failure. Every wait is on DOM state with a timeout; nothing sleeps.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { chromium } = require("playwright-core");
const { WAIT, a11yProblems, signIn: signInAt, step } = require("./page_checks");

const [base, mediaDir] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

const signIn = (page, role, name) => signInAt(page, base, role, name);

const theirs = (page, text) => page.locator('#messages li[data-mine="false"]', { hasText: text });
const sha256 = (buf) => crypto.createHash("sha256").update(buf).digest("hex");

function check(ok, what) {
  if (!ok) throw new Error(what);
}

async function main() {
  if (!base || !mediaDir) throw new Error("usage: node doctor_tools.js <base url> <media dir>");
  const mp3 = fs.readFileSync(path.join(mediaDir, "note.mp3"));
  const webm = fs.readFileSync(path.join(mediaDir, "clip.webm"));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const errors = [];
  const seen = {};
  try {
    const patient = await (await browser.newContext({ viewport: { width: 390, height: 780 }, locale: "en-US" })).newPage();
    const doctor = await (await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: "en-US" })).newPage();
    const logged = [];
    for (const [who, page] of [["patient", patient], ["doctor", doctor]]) {
      page.on("console", (m) => {
        logged.push(m.text());
        if (m.type() === "error") errors.push(`${who}: ${m.text()}`);
      });
      page.on("pageerror", (e) => errors.push(`${who}: ${e.message}`));
    }

    step("a doctor and a patient sign in; only the doctor sees templates and analytics");
    const doctorId = await signIn(doctor, "doctor", "Dr. Claire Martin");
    await signIn(patient, "patient", "Marie Curie");
    await doctor.locator("#templates").waitFor({ state: "visible", ...WAIT });
    await doctor.locator("#analytics").waitFor({ state: "visible", ...WAIT });
    check(!(await patient.locator("#templates").isVisible()), "a patient sees the templates panel");
    check(!(await patient.locator("#analytics").isVisible()), "a patient sees the analytics panel");
    check((await patient.getByRole("button", { name: "Save template" }).count()) === 0 ||
      !(await patient.getByRole("button", { name: "Save template" }).isVisible()), "a patient can save templates");
    seen.patientPanels = false;

    step("the patient writes first (a wait starts)");
    await patient.getByLabel("Their user id").fill(doctorId);
    await patient.getByLabel("They are a").selectOption("doctor");
    await patient.getByRole("button", { name: "Open" }).click();
    await patient.locator("#thread-title", { hasText: "Dr. Claire Martin" }).waitFor(WAIT);
    await patient.getByLabel("Message", { exact: true }).fill("Bonjour, mes résultats sont-ils arrivés ?");
    await patient.getByLabel("Message", { exact: true }).press("Enter");
    const item = doctor.locator("#conversations .conversation", { hasText: "Marie Curie" });
    await item.locator(".last", { hasText: "mes résultats" }).waitFor(WAIT);

    step("the doctor creates, edits and deletes templates");
    const templates = doctor.locator("#template-list");
    const saveTemplate = async (title, content) => {
      await doctor.getByLabel("Title", { exact: true }).fill(title);
      await doctor.getByLabel(/^Text/).fill(content);
      await doctor.getByRole("button", { name: "Save template" }).click();
    };
    await saveTemplate("Résultats", "Bonjour {{patientName}}, vos résultats sont arrivés. {{doctorName}}");
    await templates.locator(".template-title", { hasText: "Résultats" }).waitFor(WAIT);
    await saveTemplate("Brouillon", "À jeter");
    await templates.locator(".template-title", { hasText: "Brouillon" }).waitFor(WAIT);
    await doctor.getByRole("button", { name: "Delete the template Brouillon" }).click();
    await templates.locator(".template-title", { hasText: "Brouillon" }).waitFor({ state: "detached", ...WAIT });
    await doctor.getByRole("button", { name: "Edit the template Résultats" }).click();
    await doctor.getByLabel("Title", { exact: true }).fill("Résultats prêts");
    await doctor.getByRole("button", { name: "Save template" }).click();
    await templates.locator(".template-title", { hasText: "Résultats prêts" }).waitFor(WAIT);
    check((await templates.locator(".template").count()) === 1, "edit or delete left extra templates");
    // The service holds what the page shows.
    const stored = await doctor.evaluate(async () => {
      const r = await fetch("/api/v1/messages/templates", { headers: { Authorization: `Bearer ${state.token}` } });
      return (await r.json()).data.map((x) => x.title);
    });
    check(JSON.stringify(stored) === JSON.stringify(["Résultats prêts"]), `stored templates: ${stored}`);

    step("the doctor sends the template; the patient reads it with the placeholders filled");
    await item.click();
    await theirs(doctor, "mes résultats").waitFor(WAIT);
    await doctor.getByRole("button", { name: "Send the template Résultats prêts in this conversation" }).click();
    const filled = "Bonjour Marie Curie, vos résultats sont arrivés. Dr. Claire Martin";
    await theirs(patient, filled).waitFor(WAIT);
    check((await theirs(patient, "{{").count()) === 0, "a placeholder reached the patient unfilled");
    seen.templateText = (await theirs(patient, filled).locator(".body p").textContent()).trim();

    step("the doctor sends a voice note (a real MP3); the patient's page plays it from the link");
    await doctor.getByLabel("Attach a file").setInputFiles({ name: "note.mp3", mimeType: "audio/mpeg", buffer: mp3 });
    const audio = patient.locator('#messages li[data-mine="false"] audio.inline-media[controls]');
    await audio.waitFor(WAIT);
    const src = await audio.getAttribute("src");
    // The short-lived presigned link of the stored object: signed, and it serves the same bytes
    // inline as audio.
    check(/[?&]X-Amz-Signature=/.test(src) || /[?&]Signature=/.test(src), "the audio src is not a presigned link");
    const served = await fetch(src);
    check(served.ok, `the audio link answered ${served.status}`);
    check(served.headers.get("content-type") === "audio/mpeg", `served as ${served.headers.get("content-type")}`);
    check((served.headers.get("content-disposition") || "").startsWith("inline"), "the audio link is not inline");
    check(sha256(Buffer.from(await served.arrayBuffer())) === sha256(mp3), "the audio link serves other bytes");
    // Chromium reads the file's header through the link: it can play it.
    await patient.waitForFunction(
      () => [...document.querySelectorAll("audio.inline-media")].some((a) => a.readyState >= 1 && a.duration > 0),
      null, WAIT,
    );
    const duration = patient.locator('#messages li[data-mine="false"] .duration');
    await duration.waitFor(WAIT);
    seen.audioDuration = (await duration.textContent()).trim();
    seen.audioSrcSigned = true;
    await doctor.locator('#messages li[data-mine="true"] audio.inline-media').waitFor(WAIT);

    step("the patient sends a short video (a real WebM); the doctor's page shows a player");
    await patient.getByLabel("Attach a file").setInputFiles({ name: "clip.webm", mimeType: "video/webm", buffer: webm });
    const video = doctor.locator('#messages li[data-mine="false"] video.inline-media[controls]');
    await video.waitFor(WAIT);
    check(/Signature=/.test(await video.getAttribute("src")), "the video src is not a presigned link");

    step("the doctor opens the response analytics: today's counts and one reply time");
    await doctor.getByRole("button", { name: "Show the last 30 days" }).click();
    await doctor.locator("#analytics-result").waitFor({ state: "visible", ...WAIT });
    const today = new Date().toISOString().slice(0, 10);
    const row = doctor.locator("#analytics-table tbody tr.day", { hasText: today });
    await row.waitFor(WAIT);
    seen.today = await row.locator("td").allTextContents();
    seen.total = await doctor.locator("#analytics-table tbody tr.total td").allTextContents();
    seen.awaiting = (await doctor.locator("#an-awaiting").textContent()).trim();
    seen.replies = (await doctor.locator("#an-replies").textContent()).trim();
    seen.median = (await doctor.locator("#an-median").textContent()).trim();

    step("accessibility: labels and contrast with the new panels open");
    for (const page of [patient, doctor]) {
      const problems = await page.evaluate(a11yProblems);
      if (problems.length) throw new Error(`accessibility:\n${problems.join("\n")}`);
    }

    step("French labels on the new panels");
    await doctor.getByLabel("Language").selectOption("fr");
    await doctor.getByRole("button", { name: "Enregistrer le modèle" }).waitFor(WAIT);

    // The page logs nothing of what people wrote.
    check(!logged.some((l) => l.includes("résultats") || l.includes("Marie")), "content in the console");
    if (errors.length) throw new Error(`console errors:\n${errors.join("\n")}`);
    console.log(JSON.stringify({ ok: true, ...seen }));
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
