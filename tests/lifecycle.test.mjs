// The session lifecycle against the built worker and a real local KV
// namespace: silent refresh, the visitor's record, structured actions and
// their pages, "delete my data" with revocation, and sliding expiration.
// Where time matters, the test-hooks build (build-test/) runs on a clock the
// test sets per request (X-Test-Now-Ms), and the expiry of data also on a
// KV clock the test sets (see setKvClock in support/worker.mjs).

import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import { claims, forge, now } from "./support/forge.mjs";
import { useWorker } from "./support/worker.mjs";

const worker = useWorker();
const HS256 = { alg: "HS256", typ: "JWT" };
const DAY = 24 * 3600;

/** A visitor of their own, with a live token. */
async function visitor() {
  const { access_token: token, anon_id: id } = await worker.login();
  return { token, id };
}

/** Seeds `n` actions for `id` straight into KV, in the worker's layout. */
async function seed(id, n, { from = Date.now() - 10_000_000, expirationTtl = 30 * DAY } = {}) {
  const kv = await worker.kv();
  for (let start = 0; start < n; start += 200) {
    const batch = [];
    for (let i = start; i < Math.min(n, start + 200); i++) {
      const t = from + i;
      const meta = { a: `seeded ${i}`, t };
      const key = `a:${id}:${String(t).padStart(13, "0")}-${i.toString(16).padStart(8, "0")}`;
      batch.push(kv.put(key, JSON.stringify(meta), { metadata: meta, expirationTtl }));
    }
    await Promise.all(batch);
  }
}

/** Every key of `id` in KV, with its expiration. */
async function keysOf(id) {
  const kv = await worker.kv();
  const keys = [];
  let cursor;
  do {
    const page = await kv.list({ prefix: `a:${id}:`, cursor });
    keys.push(...page.keys);
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return keys;
}

/** Pages through /v1/actions; returns every action and the page count. */
async function allPages(token, limit) {
  const actions = [];
  let pages = 0;
  let cursor = null;
  do {
    const query = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const r = await worker.call("GET", `/v1/actions?${query}`, { token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body.actions.length <= limit);
    actions.push(...r.body.actions);
    cursor = r.body.next_cursor;
    pages += 1;
  } while (cursor);
  return { actions, pages };
}

describe("silent refresh", () => {
  test("a live token refreshes to a new token for the same visitor", async () => {
    const { token, id } = await visitor();
    const r = await worker.call("POST", "/anon/refresh", { token });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), ["access_token", "anon_id", "expires_in", "token_type"]);
    assert.equal(r.body.anon_id, id);
    assert.equal(r.body.token_type, "bearer");
    const who = await worker.call("GET", "/anon/whoami", { token: r.body.access_token });
    assert.equal(who.body.anon_id, id);
  });

  test("a refresh still checks everything else about the token", async () => {
    const forged = forge(HS256, claims({ exp: now() - DAY }), "not-the-secret");
    assert.equal((await worker.call("POST", "/anon/refresh", { token: forged })).status, 401);
    assert.equal((await worker.call("POST", "/anon/refresh")).status, 401);
  });
});

describe("refresh on a clock the test sets", () => {
  const clocked = useWorker({}, { build: "build-test" });
  const TTL = 604800; // TOKEN_TTL_SECONDS, the default
  const GRACE = 604800; // REFRESH_GRACE_SECONDS, the default
  const LEEWAY = 60;
  const T = 1_800_000_000_000; // Unix ms: minted at this instant
  const E = T / 1000 + TTL; // the token's exp, Unix seconds
  const at = (ms) => ({ headers: { "x-test-now-ms": String(ms) } });

  async function mintAtT() {
    const r = await clocked.call("POST", "/anon/login", at(T));
    assert.equal(r.status, 200);
    return { token: r.body.access_token, id: r.body.anon_id };
  }

  test("a token minted at T expires TOKEN_TTL_SECONDS later, with 60 s of leeway", async () => {
    const { token, id } = await mintAtT();
    const who = await clocked.call("GET", "/anon/whoami", { token, ...at(T) });
    assert.deepEqual(who.body, { anon_id: id, expires_at: E });
    for (const [ms, status] of [
      [E * 1000, 200],
      [(E + LEEWAY) * 1000 - 1, 200],
      [(E + LEEWAY) * 1000, 401],
      [(E + LEEWAY + 1) * 1000, 401],
    ]) {
      const r = await clocked.call("GET", "/anon/whoami", { token, ...at(ms) });
      assert.equal(r.status, status, `exp + ${ms / 1000 - E} s`);
      if (status === 401) assert.deepEqual(r.body, { detail: "token has expired" });
    }
  });

  test("an expired token within its grace refreshes to the same visitor", async () => {
    const { token, id } = await mintAtT();
    // Just past exp (T + ttl + 1 s), and past exp's leeway, where every
    // other route already refuses it.
    for (const [ms, whoami] of [[(E + 1) * 1000, 200], [(E + LEEWAY) * 1000, 401]]) {
      assert.equal((await clocked.call("GET", "/anon/whoami", { token, ...at(ms) })).status, whoami);
      const r = await clocked.call("POST", "/anon/refresh", { token, ...at(ms) });
      assert.equal(r.status, 200, `exp + ${ms / 1000 - E} s`);
      assert.equal(r.body.anon_id, id);
      assert.equal(r.body.expires_in, TTL);
      const fresh = await clocked.call("GET", "/anon/whoami", { token: r.body.access_token, ...at(ms) });
      assert.deepEqual(fresh.body, { anon_id: id, expires_at: ms / 1000 + TTL }, "a new lifetime from the refresh");
    }
  });

  test("a refresh is refused from exp + grace + 60 s on, so the client starts over", async () => {
    const { token, id } = await mintAtT();
    const last = (E + GRACE + LEEWAY) * 1000 - 1;
    const ok = await clocked.call("POST", "/anon/refresh", { token, ...at(last) });
    assert.equal(ok.status, 200, "the last millisecond of grace and leeway");
    assert.equal(ok.body.anon_id, id);
    for (const ms of [(E + GRACE + LEEWAY) * 1000, (E + GRACE + LEEWAY + 1) * 1000]) {
      const r = await clocked.call("POST", "/anon/refresh", { token, ...at(ms) });
      assert.equal(r.status, 401, `exp + grace + ${ms / 1000 - E - GRACE} s`);
      assert.deepEqual(r.body, { detail: "token has expired" });
      assert.equal(r.headers.get("www-authenticate"), 'Bearer error="invalid_token", error_description="token has expired"');
    }
  });

  test("in the grace period a refresh still checks the signature", async () => {
    const forged = forge(HS256, claims({ exp: E }), "not-the-secret");
    const r = await clocked.call("POST", "/anon/refresh", { token: forged, ...at((E + 1) * 1000) });
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { detail: "token signature is invalid" });
  });
});

describe("the clock header outside the test-hooks build", () => {
  test("is ignored: the deployed build mints on its own clock", async () => {
    const before = now();
    const r = await worker.call("POST", "/anon/login", { headers: { "x-test-now-ms": "0" } });
    assert.equal(r.status, 200);
    const who = await worker.call("GET", "/anon/whoami", { token: r.body.access_token });
    assert.equal(who.status, 200, "not minted at 1970");
    assert.ok(who.body.expires_at >= before + 604800 && who.body.expires_at <= now() + 604800);
  });
});

describe("the visitor's record", () => {
  test("shows their first and last activity, their token's expiry and their action count", async () => {
    const before = now();
    const { token, id } = await visitor();
    let r = await worker.call("GET", "/anon/me", { token });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), ["action_count", "anon_id", "created_at", "last_activity_at", "token_expires_at"]);
    assert.equal(r.body.anon_id, id);
    assert.equal(r.body.created_at, null);
    assert.equal(r.body.action_count, 0);
    assert.ok(r.body.token_expires_at >= before + 604800);

    for (const action of ["one", "two"]) {
      await worker.call("POST", `/items/add_action?action=${action}`, { token });
    }
    await worker.call("POST", "/v1/actions", { token, json: { type: "three" } });
    r = await worker.call("GET", "/anon/me", { token });
    assert.equal(r.body.action_count, 3);
    assert.ok(r.body.created_at >= before && r.body.created_at <= now());
    assert.ok(r.body.last_activity_at >= r.body.created_at);
  });
});

describe("structured actions", () => {
  test("are stored with a server time and an id, and answered 201", async () => {
    const { token } = await visitor();
    const before = Date.now();
    const r = await worker.call("POST", "/v1/actions", { token, json: { type: "added to cart", data: { sku: "A-1", qty: 2 } } });
    assert.equal(r.status, 201);
    assert.deepEqual(Object.keys(r.body).sort(), ["data", "id", "recorded_at_ms", "type"]);
    assert.equal(r.body.type, "added to cart");
    assert.deepEqual(r.body.data, { sku: "A-1", qty: 2 });
    assert.ok(r.body.recorded_at_ms >= before && r.body.recorded_at_ms <= Date.now());
    assert.match(r.body.id, /^\d{13}-[0-9a-f]{8}$/);
  });

  test("land in the same store as the seed's query form and list alike", async () => {
    const { token } = await visitor();
    await worker.call("POST", "/items/add_action?action=opened", { token });
    await worker.call("POST", "/v1/actions", { token, json: { type: "clicked", data: [1, "two"] } });
    const seed = await worker.call("GET", "/items/my_anonymous_items", { token });
    assert.deepEqual(seed.body.previous_actions, ["opened", "clicked"]);
    const page = await worker.call("GET", "/v1/actions", { token });
    assert.deepEqual(page.body.actions.map((a) => [a.type, a.data]), [["opened", null], ["clicked", [1, "two"]]]);
    assert.equal(page.body.next_cursor, null);
  });

  test("a bad body gets 415 or 422 saying what is wrong, and nothing is stored", async () => {
    const { token } = await visitor();
    const plain = await worker.call("POST", "/v1/actions", { token, headers: { "content-type": "text/plain" }, body: '{"type":"a"}' });
    assert.deepEqual([plain.status, plain.body], [415, { detail: "Content-Type must be application/json" }]);
    for (const [body, fragment] of [
      ["", "is required"],
      ["{", "not a valid action"],
      ['["a"]', "expected a JSON object"],
      ['{"type":""}', "`type` must not be empty"],
      ['{"type":"a","extra":1}', "unknown field `extra`"],
      [JSON.stringify({ type: "a", data: "x".repeat(1000) }), "at most 900 bytes"],
    ]) {
      const r = await worker.call("POST", "/v1/actions", { token, headers: { "content-type": "application/json" }, body });
      assert.equal(r.status, 422, body.slice(0, 40));
      assert.ok(r.body.detail.includes(fragment), `${body.slice(0, 40)}: ${r.body.detail}`);
    }
    const page = await worker.call("GET", "/v1/actions", { token });
    assert.deepEqual(page.body.actions, []);
  });
});

describe("pages of actions", () => {
  test("a visitor with 5,000 actions pages through all of them: none missing, none repeated, in order", async () => {
    const { token, id } = await visitor();
    await seed(id, 5000);
    for (const limit of [100, 1000]) {
      const { actions, pages } = await allPages(token, limit);
      assert.equal(actions.length, 5000, `limit ${limit}`);
      assert.equal(new Set(actions.map((a) => a.id)).size, 5000, "no id twice");
      const ids = actions.map((a) => a.id);
      assert.deepEqual(ids, [...ids].sort(), "oldest first");
      assert.deepEqual(actions.map((a) => a.type).slice(0, 3), ["seeded 0", "seeded 1", "seeded 2"]);
      assert.ok(pages >= 5000 / limit);
    }
    const seedPage = await worker.call("GET", "/items/my_anonymous_items", { token });
    assert.equal(seedPage.body.previous_actions.length, 1000, "the seed's list is the first 1000");
  });

  test("a cursor that is made up, altered or another visitor's is a 422", async () => {
    const mine = await visitor();
    const theirs = await visitor();
    for (const type of ["a", "b"]) await worker.call("POST", "/v1/actions", { token: mine.token, json: { type } });
    const first = await worker.call("GET", "/v1/actions?limit=1", { token: mine.token });
    const cursor = first.body.next_cursor;
    assert.equal(typeof cursor, "string");
    const altered = (cursor[0] === "A" ? "B" : "A") + cursor.slice(1);
    for (const [token, bad] of [[mine.token, "garbage"], [mine.token, altered], [theirs.token, cursor]]) {
      const r = await worker.call("GET", `/v1/actions?cursor=${encodeURIComponent(bad)}`, { token });
      assert.equal(r.status, 422);
      assert.match(r.body.detail, /`cursor`/);
    }
    for (const query of ["limit=0", "limit=1001", "limit=abc", "order=desc"]) {
      const r = await worker.call("GET", `/v1/actions?${query}`, { token: mine.token });
      assert.equal(r.status, 422, query);
    }
  });
});

describe("delete my data", () => {
  test("erases every key and revokes the visitor's tokens at once, refresh included", async () => {
    const { token, id } = await visitor();
    const other = await visitor();
    await worker.call("POST", "/items/add_action?action=mine", { token });
    await worker.call("POST", "/v1/actions", { token, json: { type: "also mine", data: { x: 1 } } });
    await worker.call("POST", "/items/add_action?action=theirs", { token: other.token });
    const refreshed = (await worker.call("POST", "/anon/refresh", { token })).body.access_token;

    const r = await worker.call("DELETE", "/anon/me", { token });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { anon_id: id, erased: 2, complete: true });

    for (const t of [token, refreshed]) {
      for (const [method, target, options] of [
        ["GET", "/items/my_anonymous_items"],
        ["POST", "/items/add_action?action=again"],
        ["GET", "/v1/actions"],
        ["POST", "/v1/actions", { json: { type: "again" } }],
        ["GET", "/anon/me"],
        ["POST", "/anon/refresh"],
      ]) {
        const refused = await worker.call(method, target, { token: t, ...options });
        assert.equal(refused.status, 401, `${method} ${target}`);
        assert.deepEqual(refused.body, { detail: "this session was erased; start a new one" });
        assert.match(refused.headers.get("www-authenticate"), /error="invalid_token"/);
      }
    }
    const keys = await keysOf(id);
    assert.deepEqual(keys.map((k) => k.name), [`a:${id}:!`], "only the tombstone is left");
    assert.equal(await (await worker.kv()).get(`u:${id}`), null, "the record is gone");
    const theirs = await worker.call("GET", "/items/my_anonymous_items", { token: other.token });
    assert.deepEqual(theirs.body.previous_actions, ["theirs"], "another visitor is untouched");
    const fresh = await worker.login();
    assert.notEqual(fresh.anon_id, id);
  });

  test("a visitor too large for one call is erased over several, revoked from the first", async () => {
    const { token, id } = await visitor();
    await seed(id, 2000);
    const statuses = [];
    let erased = 0;
    for (;;) {
      const r = await worker.call("DELETE", "/anon/me", { token });
      statuses.push(r.status);
      erased += r.body.erased;
      assert.equal((await worker.call("GET", "/v1/actions", { token })).status, 401);
      if (r.body.complete) break;
      assert.ok(statuses.length < 10, "it finishes");
    }
    assert.deepEqual(statuses, [202, 202, 200]);
    assert.equal(erased, 2000);
    assert.deepEqual((await keysOf(id)).map((k) => k.name), [`a:${id}:!`]);
  });

  test("the tombstone lives until every old token is past its refresh grace", async () => {
    const { token, id } = await visitor();
    const before = now();
    await worker.call("DELETE", "/anon/me", { token });
    const [tombstone] = await keysOf(id);
    const lifetime = 604800 + 604800 + 120;
    assert.ok(tombstone.expiration >= before + lifetime && tombstone.expiration <= now() + lifetime + 1);
  });
});

describe("sliding expiration", () => {
  test("every key is written to outlive the configured 30 days by half", async () => {
    const { token, id } = await visitor();
    const before = now();
    await worker.call("POST", "/v1/actions", { token, json: { type: "a" } });
    const [key] = await keysOf(id);
    assert.ok(key.expiration >= before + 45 * DAY && key.expiration <= now() + 45 * DAY + 1);
  });

  test("activity rewrites stale keys with a fresh expiration after the response", async () => {
    const { token, id } = await visitor();
    // Keys written long ago (they expire in two minutes), and a record
    // that says they have never been scanned.
    await seed(id, 30, { expirationTtl: 120 });
    const kv = await worker.kv();
    const t = now() - 40 * DAY;
    await kv.put(`u:${id}`, JSON.stringify({ created_at: t, last_activity_at: t, slid_at: t }), { expirationTtl: 120 });

    const r = await worker.call("POST", "/anon/refresh", { token });
    assert.equal(r.status, 200);
    // The rewrite runs in ctx.waitUntil, after the response: poll for it.
    const deadline = Date.now() + 30_000;
    let keys;
    do {
      keys = await keysOf(id);
      if (keys.every((k) => k.expiration > now() + 44 * DAY)) break;
      await sleep(100);
    } while (Date.now() < deadline);
    assert.equal(keys.length, 30);
    assert.ok(keys.every((k) => k.expiration > now() + 44 * DAY), "all 30 slid forward");
    const record = JSON.parse(await kv.get(`u:${id}`));
    assert.ok(record.slid_at >= now() - 60, "the scan recorded that it finished");
    assert.deepEqual((await allPages(token, 100)).actions.map((a) => a.type).slice(0, 2), ["seeded 0", "seeded 1"]);
    const slid = worker.logs.map((l) => { try { return JSON.parse(l); } catch { return {}; } })
      .find((l) => l.event === "slide" && l.anon_id === id);
    assert.deepEqual([slid.rewritten, slid.complete], [30, true]);
  });
});

describe("expiry of data on a clock the test sets", () => {
  // Both clocks move together: the worker's (X-Test-Now-Ms, what it writes
  // into records and compares with) and the KV namespace's (what it counts
  // a key's expirationTtl from and expires keys against).
  const clocked = useWorker({}, { build: "build-test", kvClock: true });
  const D = 30 * DAY; // DATA_TTL_SECONDS, the default
  const T0 = 1_800_000_000_000; // Unix ms
  const day = (d) => T0 + d * DAY * 1000;

  /** Sets both clocks to `ms`; returns the header that sets the worker's. */
  async function at(ms) {
    await clocked.setKvClock(ms);
    return { "x-test-now-ms": String(ms) };
  }

  /** GET /anon/me for `id` at `ms`, with a token signed for that instant (reading is not activity). */
  async function me(id, ms) {
    const token = forge(HS256, claims({ sub: id, exp: ms / 1000 + 3600 }), clocked.secret);
    const r = await clocked.call("GET", "/anon/me", { token, headers: await at(ms) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  }

  async function keysOf(id) {
    const kv = await clocked.kv();
    const actions = await kv.list({ prefix: `a:${id}:` });
    const record = await kv.list({ prefix: `u:${id}` });
    return [...record.keys, ...actions.keys];
  }

  /** Waits until the visitor's record says they were active at `ms`: the
   * request's own write, or a scan's (which writes it last, after its
   * rewrites) when the request started one. */
  async function recordedActivity(id, ms) {
    const kv = await clocked.kv();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const record = JSON.parse((await kv.get(`u:${id}`)) ?? "null");
      if (record?.last_activity_at === ms / 1000) return record;
      assert.ok(Date.now() < deadline, `record of ${id} never reached ${ms / 1000}: ${JSON.stringify(record)}`);
      await sleep(20);
    }
  }

  test("an inactive visitor's data is kept DATA_TTL_SECONDS and gone by 1.5 times it; an active one's is kept", async () => {
    let headers = await at(day(0));
    const inactive = (await clocked.call("POST", "/anon/login", { headers })).body;
    const active = (await clocked.call("POST", "/anon/login", { headers })).body;
    for (const v of [inactive, active]) {
      const r = await clocked.call("POST", "/v1/actions", { token: v.access_token, headers, json: { type: `day 0 of ${v.anon_id}` } });
      assert.equal(r.status, 201);
      v.action = r.body.id;
    }
    // Written at day 0 on the KV clock, to live 1.5 D from it.
    const written = await keysOf(inactive.anon_id);
    assert.equal(written.length, 2, "the record and the action");
    for (const key of written) assert.equal(key.expiration, day(0) / 1000 + 1.5 * D, key.name);

    // The active visitor refreshes every 5 days until day 60.
    let token = active.access_token;
    for (let d = 5; d <= 60; d += 5) {
      if (d === 45) {
        // The inactive visitor, last active at day 0, around 1.5 D. (Not
        // at its very second: there Miniflare's KV already refuses a get
        // but still lists the key, so the second after is checked.)
        let r = await me(inactive.anon_id, day(45) - 1000);
        assert.deepEqual([r.action_count, r.created_at], [1, day(0) / 1000], "still there a second before 1.5 D");
        r = await me(inactive.anon_id, day(45) + 1000);
        assert.deepEqual([r.action_count, r.created_at, r.last_activity_at], [0, null, null], "gone a second after 1.5 D");
        assert.deepEqual(await keysOf(inactive.anon_id), []);
      }
      headers = await at(day(d));
      const r = await clocked.call("POST", "/anon/refresh", { token, headers });
      assert.equal(r.status, 200, `day ${d}`);
      token = r.body.access_token;
      await recordedActivity(active.anon_id, day(d));
      if (d === 30) {
        // D after their last activity, the inactive visitor's data is all there.
        const kept = await me(inactive.anon_id, day(30));
        assert.deepEqual([kept.action_count, kept.created_at, kept.last_activity_at], [1, day(0) / 1000, day(0) / 1000]);
      }
    }

    // At day 60, long past the 45 days its first write was given, the
    // active visitor still has their day-0 action.
    headers = await at(day(60));
    const page = await clocked.call("GET", "/v1/actions", { token, headers });
    assert.equal(page.status, 200);
    assert.deepEqual(page.body.actions.map((a) => a.id), [active.action]);

    // Then they stop: D after their last activity (day 60) all is kept,
    // and by 1.5 D all is gone.
    let r = await me(active.anon_id, day(60 + 30));
    assert.deepEqual([r.action_count, r.created_at, r.last_activity_at], [1, day(0) / 1000, day(60) / 1000]);
    r = await me(active.anon_id, day(60 + 45) + 1000);
    assert.deepEqual([r.action_count, r.created_at], [0, null]);
    assert.deepEqual(await keysOf(active.anon_id), []);
  });
});

describe("bodies", () => {
  // Over the worker's real socket, where the client declares the length,
  // as browsers and Cloudflare's edge do.
  test("a body declared over 8192 bytes is a 413 on every route, before it is read", async () => {
    const { token } = await visitor();
    const big = "x".repeat(9000);
    for (const [method, target] of [
      ["POST", "/v1/actions"],
      ["POST", "/anon/login"],
      ["POST", "/anon/refresh"],
      ["POST", "/items/add_action?action=a"],
      ["DELETE", "/anon/me"],
      ["POST", "/no/such/route"],
    ]) {
      const r = await worker.call(method, target, { token, headers: { "content-type": "application/json" }, body: big, http: true });
      assert.equal(r.status, 413, `${method} ${target}`);
      assert.deepEqual(r.body, { detail: "the request body must be at most 8192 bytes" });
    }
    const huge = await worker.call("POST", "/anon/login", { body: "x".repeat(200_000), http: true });
    assert.equal(huge.status, 413);
    // The visitor was not erased by the refused DELETE.
    assert.equal((await worker.call("GET", "/v1/actions", { token })).status, 200);
  });

  // Miniflare's dispatchFetch streams a body without declaring its length.
  test("a streamed body with no declared length is cut off at the cap where a body is read", async () => {
    const { token } = await visitor();
    const chunk = new TextEncoder().encode("x".repeat(4096));
    // Three chunks pass the cap; then the stream waits for the answer rather
    // than go on sending, so the worker never has unread bytes that would
    // make the connection reset before the answer is read.
    let sent = 0;
    let release;
    const answered = new Promise((resolve) => (release = resolve));
    const stream = new ReadableStream({
      async pull(controller) {
        if (sent++ < 3) return controller.enqueue(chunk);
        await answered;
        controller.close();
      },
    });
    const r = await worker.call("POST", "/v1/actions", { token, headers: { "content-type": "application/json" }, body: stream });
    release();
    assert.equal(r.status, 413);
    assert.deepEqual(r.body, { detail: "the request body must be at most 8192 bytes" });
  });
});
