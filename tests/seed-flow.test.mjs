// The seed's client flow against the real built worker and local KV, plus
// interoperability with the seed's own JWT library.

import assert from "node:assert/strict";
import { test } from "node:test";
import { python, useWorker } from "./support/worker.mjs";

const worker = useWorker();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("the welcome route greets as the seed's did", async () => {
  const r = await worker.call("GET", "/");
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { message: "Welcome to the anonymous session demo!" });
  assert.equal(r.headers.get("content-type"), "application/json");
});

test("login returns the seed's fields plus expires_in, and is not cacheable", async () => {
  const r = await worker.call("POST", "/anon/login");
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), ["access_token", "anon_id", "expires_in", "token_type"]);
  assert.equal(r.body.token_type, "bearer");
  assert.equal(r.body.expires_in, 604800);
  assert.match(r.body.anon_id, UUID);
  assert.equal(r.headers.get("cache-control"), "no-store");
});

test("the seed's client flow: log in, add two actions, list them, log in again", async () => {
  const { access_token: token, anon_id: id } = await worker.login();

  let r = await worker.call("POST", "/items/add_action?action=opened%20the%20app", { token });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {
    anon_id: id,
    message: `Action 'opened the app' recorded for anonymous user ${id}`,
    current_actions: ["opened the app"],
  });

  r = await worker.call("POST", "/items/add_action?action=clicked", { token });
  assert.deepEqual(r.body.current_actions, ["opened the app", "clicked"]);

  r = await worker.call("GET", "/items/my_anonymous_items", { token });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {
    anon_id: id,
    message: `Welcome, anonymous user ${id}!`,
    your_items: [],
    previous_actions: ["opened the app", "clicked"],
  });

  const again = await worker.login();
  assert.notEqual(again.anon_id, id);
  r = await worker.call("GET", "/items/my_anonymous_items", { token: again.access_token });
  assert.deepEqual(r.body.previous_actions, [], "a new id starts with nothing");
});

test("20 parallel add_action calls with one token all land", async () => {
  const { access_token: token } = await worker.login();
  const names = Array.from({ length: 20 }, (_, i) => `parallel-${i}`);
  const results = await Promise.all(
    names.map((name) => worker.call("POST", `/items/add_action?action=${name}`, { token })),
  );
  for (const r of results) assert.equal(r.status, 200);

  const r = await worker.call("GET", "/items/my_anonymous_items", { token });
  assert.equal(r.body.previous_actions.length, 20);
  assert.deepEqual([...r.body.previous_actions].sort(), [...names].sort());
});

test("whoami answers from the token alone", async () => {
  const before = Math.floor(Date.now() / 1000);
  const { access_token: token, anon_id: id } = await worker.login();
  const r = await worker.call("GET", "/anon/whoami", { token });
  assert.equal(r.status, 200);
  assert.equal(r.body.anon_id, id);
  assert.ok(r.body.expires_at >= before + 604800 && r.body.expires_at <= before + 604800 + 5);
});

test("a token minted by the seed's python-jose backend is accepted", async () => {
  const id = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const token = python("mint-seed", worker.secret, id, String(exp));
  const r = await worker.call("GET", "/anon/whoami", { token });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { anon_id: id, expires_at: exp });
});

test("our tokens decode with python-jose and PyJWT, and only with our secret", async () => {
  const { access_token: token, anon_id: id } = await worker.login();
  const decoded = JSON.parse(python("decode", worker.secret, token));
  for (const library of ["python-jose", "pyjwt"]) {
    const claims = decoded[library];
    assert.equal(claims.sub, id, library);
    assert.equal(claims.type, "anonymous", library);
    assert.equal(claims.exp - claims.iat, 604800, library);
  }
  const wrong = JSON.parse(python("decode", "another-secret-of-at-least-32-bytes!!", token));
  assert.ok(wrong["python-jose"].error, "python-jose refuses another secret");
  assert.ok(wrong.pyjwt.error, "PyJWT refuses another secret");
});

test("an action is stored and returned exactly, + meaning a space", async () => {
  const { access_token: token } = await worker.login();
  const cases = [
    ["caf%C3%A9%20%E2%98%95", "café ☕"],
    ["a+b", "a b"],
    ["a%2Bb", "a+b"],
    ["%22quoted%22%20%5Cslash", '"quoted" \\slash'],
  ];
  for (const [encoded] of cases) {
    const r = await worker.call("POST", `/items/add_action?action=${encoded}`, { token });
    assert.equal(r.status, 200, encoded);
  }
  const r = await worker.call("GET", "/items/my_anonymous_items", { token });
  assert.deepEqual(r.body.previous_actions, cases.map(([, decoded]) => decoded));
});

test("unknown paths get 404 JSON and wrong methods 405 JSON with Allow", async () => {
  let r = await worker.call("GET", "/nowhere");
  assert.equal(r.status, 404);
  assert.deepEqual(r.body, { detail: "Not Found" });

  r = await worker.call("GET", "/anon/login");
  assert.equal(r.status, 405);
  assert.equal(r.headers.get("allow"), "POST");
  assert.deepEqual(r.body, { detail: "Method Not Allowed" });

  r = await worker.call("PUT", "/items/my_anonymous_items");
  assert.equal(r.status, 405);
  assert.equal(r.headers.get("allow"), "GET");
});
