// Checks the browser scripts run inside the demo page (page.evaluate takes the function's source).
"use strict";

// Accessibility checks run in the page: every form control has a label, and every visible text
// has WCAG AA contrast (4.5:1) against the first opaque background behind it.
function a11yProblems() {
  const problems = [];
  for (const el of document.querySelectorAll("input, select, textarea, button")) {
    if (el.closest("[hidden]")) continue;
    const named = el.labels?.length || el.getAttribute("aria-label") || (el.tagName === "BUTTON" && el.textContent.trim());
    if (!named) problems.push(`unlabelled ${el.tagName.toLowerCase()}#${el.id}`);
  }
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el.checkVisibility()) continue;
    const style = getComputedStyle(el);
    if (el.closest(".visually-hidden, .skip")) continue;
    const [a, b] = [lum(rgb(style.color).slice(0, 3)), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} for "${n.textContent.trim().slice(0, 30)}"`);
  }
  return problems;
}

const WAIT = { timeout: 20_000 }; // a bound for a broken page, never a measure

function step(name) {
  process.stderr.write(`- ${name}\n`);
}

// Signs in through the page's development form; the user's id once the socket is connected.
async function signIn(page, base, role, name) {
  await page.goto(base);
  await page.getByLabel("Role").selectOption(role);
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.locator("#dev-form").getByRole("button", { name: "Sign in" }).click();
  await page.waitForFunction(() => document.getElementById("connection").dataset.state === "connected", null, WAIT);
  return (await page.locator("#my-id").textContent()).trim();
}

module.exports = { WAIT, a11yProblems, signIn, step };
