// Every way a request can fail authentication, checked on status, body and
// WWW-Authenticate header against the real built worker.

import assert from "node:assert/strict";
import { test } from "node:test";
import { claims, forge, now } from "./support/forge.mjs";
import { useWorker } from "./support/worker.mjs";

const worker = useWorker();
const HS256 = { alg: "HS256", typ: "JWT" };
const PROTECTED = [
  ["GET", "/anon/whoami"],
  ["GET", "/items/my_anonymous_items"],
  ["POST", "/items/add_action?action=x"],
];

async function expectRefused(authorization, { status = 401, error, detail }) {
  for (const [method, target] of PROTECTED) {
    const r = await worker.call(method, target, { authorization });
    const label = `${method} ${target} with ${JSON.stringify(authorization)?.slice(0, 60)}`;
    assert.equal(r.status, status, label);
    assert.deepEqual(Object.keys(r.body), ["detail"], label);
    if (detail) assert.equal(r.body.detail, detail, label);
    const challenge = r.headers.get("www-authenticate");
    if (error) {
      assert.equal(challenge, `Bearer error="${error}", error_description="${r.body.detail}"`, label);
    } else {
      assert.equal(challenge, "Bearer", label);
    }
  }
}

test("no Authorization header gets a bare Bearer challenge", async () => {
  await expectRefused(undefined, { detail: "missing Authorization header: send `Authorization: Bearer <token>`" });
});

test("another scheme gets a bare Bearer challenge", async () => {
  await expectRefused("Basic dXNlcjpwYXNz", { detail: "authorization scheme must be Bearer" });
});

test("Bearer with no token is a 401 invalid_request", async () => {
  await expectRefused("Bearer ", { error: "invalid_request", detail: "bearer token is empty" });
  await expectRefused("Bearer", { error: "invalid_request" });
});

test("a one-segment token is invalid", async () => {
  await expectRefused("Bearer abc", { error: "invalid_token", detail: "token is not a well-formed JWT" });
});

test("alg none with an empty signature is refused", async () => {
  const token = forge({ alg: "none", typ: "JWT" }, claims(), "x").replace(/[^.]*$/, "");
  await expectRefused(`Bearer ${token}`, { error: "invalid_token", detail: "token algorithm is not accepted" });
});

test("empty, garbage and wrong-key signatures are refused", async () => {
  const good = forge(HS256, claims(), worker.secret);
  const [h, c] = good.split(".");
  for (const token of [`${h}.${c}.`, `${h}.${c}.Z2FyYmFnZQ`, forge(HS256, claims(), "not-the-secret")]) {
    await expectRefused(`Bearer ${token}`, { error: "invalid_token", detail: "token signature is invalid" });
  }
});

test("every algorithm but exactly HS256 is refused", async () => {
  for (const alg of ["HS512", "RS256", "hs256", "none"]) {
    const token = forge({ alg, typ: "JWT" }, claims(), worker.secret);
    await expectRefused(`Bearer ${token}`, { error: "invalid_token", detail: "token algorithm is not accepted" });
  }
});

test("an expired token is refused once the 60 s leeway has passed", async () => {
  const expired = forge(HS256, claims({ exp: now() - 120 }), worker.secret);
  await expectRefused(`Bearer ${expired}`, { error: "invalid_token", detail: "token has expired" });
  const withinLeeway = forge(HS256, claims({ exp: now() - 20 }), worker.secret);
  const r = await worker.call("GET", "/anon/whoami", { token: withinLeeway });
  assert.equal(r.status, 200);
});

test("a token that is not of type anonymous is refused", async () => {
  const token = forge(HS256, claims({ type: "user" }), worker.secret);
  await expectRefused(`Bearer ${token}`, {
    error: "invalid_token",
    detail: "token is not an anonymous session token",
  });
});

/** Every key in the worker's KV namespace, with its value and metadata. */
async function kvSnapshot() {
  const kv = await worker.kv();
  const entries = [];
  let cursor;
  do {
    const page = await kv.list({ cursor });
    for (const key of page.keys) {
      entries.push({ ...key, value: await kv.get(key.name) });
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return entries;
}

test("a subject that is not a canonical UUID is refused before any KV operation", async () => {
  // Something in KV beforehand, so that a stray write or delete shows.
  const { access_token: live } = await worker.login();
  assert.equal((await worker.call("POST", "/v1/actions", { token: live, json: { type: "kept" } })).status, 201);
  const before = await kvSnapshot();
  assert.equal(before.length, 2, "the action and the visitor's record");

  // Every route that reads or writes KV once the token passes.
  const routes = [
    ...PROTECTED,
    ["POST", "/anon/refresh"],
    ["GET", "/anon/me"],
    ["DELETE", "/anon/me"],
    ["GET", "/v1/actions"],
    ["POST", "/v1/actions", { json: { type: "x" } }],
  ];
  const uppercase = "3F2504E0-4F89-41D3-9A0C-0305E82C3301";
  for (const sub of ["", "..", "../x", "a:b", "x".repeat(600), uppercase, `{${claims().sub}}`]) {
    const token = forge(HS256, claims({ sub }), worker.secret);
    for (const [method, target, options] of routes) {
      const label = `${method} ${target} with sub ${JSON.stringify(sub.slice(0, 12))}`;
      const r = await worker.call(method, target, { token, ...options });
      assert.equal(r.status, 401, label);
      assert.deepEqual(r.body, { detail: "token subject is not an anonymous id" }, label);
      assert.equal(
        r.headers.get("www-authenticate"),
        'Bearer error="invalid_token", error_description="token subject is not an anonymous id"',
        label,
      );
    }
  }
  // Nothing was written, rewritten or deleted. (KV's API cannot show a
  // read; a_sub_that_is_not_a_canonical_uuid_is_refused_before_any_kv_operation
  // in src/handlers/tests.rs counts every operation, reads included.)
  assert.deepEqual(await kvSnapshot(), before);

  const numeric = forge(HS256, claims({ sub: 12345 }), worker.secret);
  await expectRefused(`Bearer ${numeric}`, { error: "invalid_token", detail: "token claims are malformed" });
});

test("a token without exp is refused", async () => {
  const { exp, ...rest } = claims();
  const token = forge(HS256, rest, worker.secret);
  await expectRefused(`Bearer ${token}`, { error: "invalid_token", detail: "token has no expiry" });
});

test("the scheme is case-insensitive and may be followed by several spaces or a tab", async () => {
  const { access_token: token, anon_id: id } = await worker.login();
  for (const authorization of [`bearer ${token}`, `BEARER ${token}`, `Bearer  ${token}`, `Bearer\t${token}`]) {
    const r = await worker.call("GET", "/anon/whoami", { authorization });
    assert.equal(r.status, 200, JSON.stringify(authorization.slice(0, 8)));
    assert.equal(r.body.anon_id, id);
  }
});

test("no response ever echoes the token", async () => {
  const token = forge(HS256, claims({ exp: now() - 3600 }), worker.secret);
  const r = await worker.call("GET", "/anon/whoami", { token });
  const everything = JSON.stringify(r.body) + JSON.stringify([...r.headers]);
  for (const part of token.split(".")) assert.ok(!everything.includes(part));
});
