// Silent refresh and the visitor's record (first part of issue 4), against
// the built worker. Time is controlled through the tokens' own exp, signed
// with the worker's secret.

import assert from "node:assert/strict";
import { test } from "node:test";
import { claims, forge, now } from "./support/forge.mjs";
import { useWorker } from "./support/worker.mjs";

const worker = useWorker();
const HS256 = { alg: "HS256", typ: "JWT" };
const DAY = 24 * 3600;

test("a live token refreshes to a new token for the same visitor", async () => {
  const { access_token: token, anon_id: id } = await worker.login();
  const r = await worker.call("POST", "/anon/refresh", { token });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), ["access_token", "anon_id", "expires_in", "token_type"]);
  assert.equal(r.body.anon_id, id);
  const who = await worker.call("GET", "/anon/whoami", { token: r.body.access_token });
  assert.equal(who.body.anon_id, id);
});

test("an expired token refreshes within the 7-day grace period", async () => {
  const expired = forge(HS256, claims({ exp: now() - DAY }), worker.secret);
  assert.equal((await worker.call("GET", "/anon/whoami", { token: expired })).status, 401);
  const r = await worker.call("POST", "/anon/refresh", { token: expired });
  assert.equal(r.status, 200);
  assert.equal(r.body.anon_id, claims().sub);
});

test("past the grace period a refresh is refused, so the client starts over", async () => {
  const stale = forge(HS256, claims({ exp: now() - 8 * DAY }), worker.secret);
  const r = await worker.call("POST", "/anon/refresh", { token: stale });
  assert.equal(r.status, 401);
  assert.deepEqual(r.body, { detail: "token has expired" });
  assert.match(r.headers.get("www-authenticate"), /error="invalid_token"/);
});

test("a refresh still checks everything else about the token", async () => {
  const forged = forge(HS256, claims({ exp: now() - DAY }), "not-the-secret");
  assert.equal((await worker.call("POST", "/anon/refresh", { token: forged })).status, 401);
  assert.equal((await worker.call("POST", "/anon/refresh")).status, 401);
});

test("the visitor's record shows their first and last activity and their action count", async () => {
  const before = now();
  const { access_token: token, anon_id: id } = await worker.login();
  let r = await worker.call("GET", "/anon/me", { token });
  assert.equal(r.status, 200);
  assert.equal(r.body.anon_id, id);
  assert.equal(r.body.created_at, null);
  assert.equal(r.body.action_count, 0);
  assert.ok(r.body.token_expires_at >= before + 604800);

  for (const action of ["one", "two", "three"]) {
    await worker.call("POST", `/items/add_action?action=${action}`, { token });
  }
  r = await worker.call("GET", "/anon/me", { token });
  assert.equal(r.body.action_count, 3);
  assert.ok(r.body.created_at >= before && r.body.created_at <= now());
  assert.ok(r.body.last_activity_at >= r.body.created_at);
});
