// The worker fails closed when it is misconfigured: it mints nothing and
// accepts nothing, and says what to set.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { claims, forge } from "./support/forge.mjs";
import { useWorker } from "./support/worker.mjs";

describe("without JWT_SECRET", () => {
  const worker = useWorker({ JWT_SECRET: undefined });

  test("login answers 500 naming the secret to set", async () => {
    const r = await worker.call("POST", "/anon/login");
    assert.equal(r.status, 500);
    assert.match(r.body.detail, /JWT_SECRET/);
    assert.match(r.body.detail, /wrangler secret put JWT_SECRET/);
  });

  test("no token is accepted, not even one signed with an empty key", async () => {
    const token = forge({ alg: "HS256" }, claims(), "");
    const r = await worker.call("GET", "/anon/whoami", { token });
    assert.equal(r.status, 500);
    assert.match(r.body.detail, /JWT_SECRET/);
  });

  test("the welcome route still answers", async () => {
    assert.equal((await worker.call("GET", "/")).status, 200);
  });
});

describe("with a JWT_SECRET shorter than 32 bytes", () => {
  const worker = useWorker({ JWT_SECRET: "too-short-secret" });

  test("login answers 500 saying what to set, never the value or its length", async () => {
    const r = await worker.call("POST", "/anon/login");
    assert.equal(r.status, 500);
    assert.equal(
      r.body.detail,
      "server misconfigured: JWT_SECRET is shorter than 32 bytes; set a longer one with `wrangler secret put JWT_SECRET`",
    );
    assert.ok(!r.body.detail.includes("too-short-secret") && !r.body.detail.includes("16"));
  });
});

describe("with DATA_TTL_SECONDS below KV's 60-second minimum", () => {
  const worker = useWorker({ DATA_TTL_SECONDS: "30" });

  test("the worker refuses to start serving tokens", async () => {
    const r = await worker.call("POST", "/anon/login");
    assert.equal(r.status, 500);
    assert.match(r.body.detail, /DATA_TTL_SECONDS must be between 60/);
  });
});

describe("without the KV binding", () => {
  const worker = useWorker({}, { kv: false });

  test("tokens work but the data routes say what to bind", async () => {
    const { access_token: token } = await worker.login();
    assert.equal((await worker.call("GET", "/anon/whoami", { token })).status, 200);
    const r = await worker.call("GET", "/items/my_anonymous_items", { token });
    assert.equal(r.status, 500);
    assert.match(r.body.detail, /ANON_KV/);
  });
});

describe("with JWT_ALGORITHM = EdDSA and a listed key whose secret is not set", () => {
  const worker = useWorker({ JWT_SECRET: undefined, JWT_ALGORITHM: "EdDSA", JWT_KIDS: "k1" });

  test("login, whoami and the JWKS answer 500 naming the secret to set", async () => {
    for (const [method, target] of [["POST", "/anon/login"], ["GET", "/anon/whoami"], ["GET", "/.well-known/jwks.json"]]) {
      const r = await worker.call(method, target, { token: "a.b.c" });
      assert.equal(r.status, 500, target);
      assert.match(r.body.detail, /wrangler secret put JWT_KEY_k1/, target);
    }
  });
});
