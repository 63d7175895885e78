// Debian's Chromium driven by playwright-core (Playwright's own browser
// download is not reachable here). Each test gets a new context: a fresh
// profile with empty storage.

import { existsSync } from "node:fs";
import { chromium } from "playwright-core";

const EXECUTABLE = process.env.CHROMIUM ?? "/usr/bin/chromium";

export async function launchBrowser() {
  if (!existsSync(EXECUTABLE)) {
    throw new Error(
      `no Chromium at ${EXECUTABLE}: install it (apt-get install chromium; .ci/run does) ` +
        "or set CHROMIUM to a Chromium or Chrome binary",
    );
  }
  // Playwright adds --headless and a fresh --user-data-dir of its own.
  return chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    chromiumSandbox: false,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * A context that records what a test asserts on: every API request the
 * demo makes, with its answer, and every console error or uncaught
 * exception (a CSP violation shows up there too).
 */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 900, height: 900 }, ...options });
  const exchanges = [];
  const problems = [];
  context.on("response", (response) => {
    const url = new URL(response.url());
    if (url.pathname.startsWith("/demo/")) return;
    exchanges.push({ method: response.request().method(), path: url.pathname, status: response.status() });
  });
  context.on("page", (page) => watchPage(page, problems));
  return {
    context,
    exchanges,
    problems,
    count: (method, path) => exchanges.filter((e) => e.method === method && e.path === path).length,
  };
}

function watchPage(page, problems) {
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    // Chromium logs every non-2xx fetch as a console error; the 401 the
    // client recovers from is expected, and is asserted on separately.
    if (/status of 401/.test(message.text())) return;
    problems.push(`console: ${message.text()}`);
  });
}
