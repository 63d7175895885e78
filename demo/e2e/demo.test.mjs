// The demo app in a real browser: headless Chromium against `make dev`.
// Every visit here mints at most twice, six mints in all, so the worker's
// production rate limit (10 mints a minute per IP) is never tripped.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { launchBrowser, newContext } from "./support/browser.mjs";
import { devSecret, startDevServer } from "./support/server.mjs";
import { forgeToken } from "./support/token.mjs";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const STORAGE_KEY = "anon-sessions";
const TTL_SECONDS = 604800; // wrangler.toml's TOKEN_TTL_SECONDS

let server;
let browser;

before(async () => {
  server = await startDevServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Opens the demo and waits for the session to be shown. */
async function openDemo(page) {
  await page.goto(`${server.base}/demo/`);
  return anonId(page);
}

async function anonId(page) {
  return (await page.getByTestId("anon-id").textContent({ timeout: 30_000 })).trim();
}

async function actionTypes(page) {
  await page.getByTestId("action-count").waitFor();
  return page.locator("[data-testid=action] .type").allTextContents();
}

/** Records an action through the form and waits until the count shows it. */
async function addAction(page, name, expectedCount) {
  await page.getByTestId("action-name").fill(name);
  await page.getByTestId("add-action").click();
  await page
    .getByTestId("action-count")
    .filter({ hasText: new RegExp(`^${expectedCount} action`) })
    .waitFor();
}

function assertNoProblems(watch, page) {
  assert.deepEqual(watch.problems, [], "console errors or uncaught exceptions");
  return page.getByTestId("error").count().then((n) => assert.equal(n, 0, "an error is shown"));
}

describe("the demo in a browser", () => {
  test("the first visit shows an id; added actions show; a reload keeps the id and the actions", async () => {
    const watch = await newContext(browser);
    const page = await watch.context.newPage();

    const id = await openDemo(page);
    assert.match(id, UUID);
    await page.getByTestId("no-actions").waitFor();

    await addAction(page, "opened the menu", 1);
    await addAction(page, "clicked buy", 2);
    assert.deepEqual(await actionTypes(page), ["opened the menu", "clicked buy"]);

    await page.reload();
    assert.equal(await anonId(page), id);
    assert.deepEqual(await actionTypes(page), ["opened the menu", "clicked buy"]);
    // The reload reused the stored token: one mint in all.
    assert.equal(watch.count("POST", "/anon/login"), 1);
    await assertNoProblems(watch, page);
    await watch.context.close();
  });

  test("actions page five at a time, forwards and back", async () => {
    const watch = await newContext(browser);
    const page = await watch.context.newPage();
    await openDemo(page);

    const names = ["one", "two", "three", "four", "five", "six", "seven"];
    for (const [i, name] of names.entries()) await addAction(page, name, i + 1);

    assert.deepEqual(await actionTypes(page), names.slice(0, 5));
    await page.getByTestId("next-page").click();
    await page.getByTestId("page-number").filter({ hasText: "Page 2" }).waitFor();
    assert.deepEqual(await actionTypes(page), ["six", "seven"]);
    assert.equal(await page.getByTestId("next-page").isDisabled(), true);

    await page.getByTestId("previous-page").click();
    await page.getByTestId("page-number").filter({ hasText: "Page 1" }).waitFor();
    assert.deepEqual(await actionTypes(page), names.slice(0, 5));
    await assertNoProblems(watch, page);
    await watch.context.close();
  });

  test("two tabs opened at once end up with one id, from one mint", async () => {
    const watch = await newContext(browser);
    const tabs = await Promise.all([watch.context.newPage(), watch.context.newPage()]);

    const ids = await Promise.all(tabs.map((tab) => openDemo(tab)));

    assert.match(ids[0], UUID);
    assert.equal(ids[1], ids[0]);
    assert.equal(watch.count("POST", "/anon/login"), 1);
    for (const tab of tabs) await assertNoProblems(watch, tab);
    await watch.context.close();
  });

  test("a token made to expire is refreshed without the user noticing", async () => {
    const watch = await newContext(browser);
    const page = await watch.context.newPage();
    const id = await openDemo(page);
    await addAction(page, "before expiry", 1);

    // A token for this visitor that expired two minutes ago: past the
    // worker's 60 s leeway, within its refresh grace.
    const now = Math.floor(Date.now() / 1000);
    const expired = forgeToken(await devSecret(), { sub: id, iat: now - TTL_SECONDS - 120, exp: now - 120 });
    const me = await fetch(`${server.base}/anon/me`, { headers: { Authorization: `Bearer ${expired}` } });
    assert.equal(me.status, 401, "the forged token must really be refused");
    assert.match((await me.json()).detail, /expired/);

    const store = (session) =>
      page.evaluate(([key, value]) => localStorage.setItem(key, JSON.stringify(value)), [STORAGE_KEY, session]);
    const stored = { v: 1, anonId: id, accessToken: expired };

    // 1. Expired while the app was closed: the next visit refreshes it before use.
    await store({ ...stored, obtainedAt: (now - TTL_SECONDS - 120) * 1000, refreshAt: (now - 200) * 1000, expiresAt: (now - 120) * 1000 });
    watch.exchanges.length = 0;
    await page.reload();
    assert.equal(await anonId(page), id);
    assert.deepEqual(await actionTypes(page), ["before expiry"]);
    assert.equal(watch.count("POST", "/anon/refresh"), 1);
    assert.equal(watch.count("POST", "/anon/login"), 0);
    assert.equal(watch.exchanges.filter((e) => e.status === 401).length, 0);

    // 2. Expired under the open page (the browser's clock thinks it is
    // fresh): the worker's 401 is answered by a refresh and one retry.
    await store({ ...stored, obtainedAt: Date.now(), refreshAt: Date.now() + 3_600_000, expiresAt: Date.now() + 7_200_000 });
    watch.exchanges.length = 0;
    await addAction(page, "after expiry", 2);
    assert.deepEqual(await actionTypes(page), ["before expiry", "after expiry"]);
    assert.deepEqual(
      watch.exchanges.slice(0, 3).map((e) => `${e.method} ${e.path} ${e.status}`),
      ["POST /v1/actions 401", "POST /anon/refresh 200", "POST /v1/actions 201"],
    );
    assert.equal(await anonId(page), id);
    assert.equal(watch.count("POST", "/anon/login"), 0);
    const kept = await page.evaluate((key) => JSON.parse(localStorage.getItem(key)), STORAGE_KEY);
    assert.equal(kept.anonId, id);
    assert.notEqual(kept.accessToken, expired);
    await assertNoProblems(watch, page);
    await watch.context.close();
  });

  test('"delete my data" leaves a fresh session', async () => {
    const watch = await newContext(browser);
    const page = await watch.context.newPage();
    const id = await openDemo(page);
    await addAction(page, "to be erased", 1);
    const oldToken = await page.evaluate((key) => JSON.parse(localStorage.getItem(key)).accessToken, STORAGE_KEY);

    await page.getByTestId("delete-data").click();
    await page.getByTestId("anon-id").filter({ hasNotText: id }).waitFor();

    const fresh = await anonId(page);
    assert.match(fresh, UUID);
    assert.notEqual(fresh, id);
    await page.getByTestId("no-actions").waitFor();
    assert.match(await page.getByTestId("action-count").textContent(), /^0 actions/);
    // The old token is revoked, not just forgotten.
    const old = await fetch(`${server.base}/anon/me`, { headers: { Authorization: `Bearer ${oldToken}` } });
    assert.equal(old.status, 401);
    // And the fresh session is the one kept.
    await page.reload();
    assert.equal(await anonId(page), fresh);
    assert.equal(watch.count("POST", "/anon/login"), 2);
    await assertNoProblems(watch, page);
    await watch.context.close();
  });

  test("the API stays where it is, and the demo is served with its own CSP", async () => {
    const root = await fetch(`${server.base}/`);
    assert.deepEqual(await root.json(), { message: "Welcome to the anonymous session demo!" });

    const demo = await fetch(`${server.base}/demo/`);
    assert.equal(demo.status, 200);
    assert.match(demo.headers.get("content-type"), /^text\/html/);
    assert.match(demo.headers.get("content-security-policy"), /script-src 'self'/);

    const bare = await fetch(`${server.base}/demo`, { redirect: "manual" });
    assert.equal(bare.status, 307);
    assert.equal(bare.headers.get("location"), "/demo/");

    // Paths under /demo/ that name no file fall through to the worker.
    const missing = await fetch(`${server.base}/demo/nothing-here`);
    assert.equal(missing.status, 404);
    assert.ok((await missing.json()).detail);
  });
});
