// Key rotation done in place, as the README's procedure does it: the same
// worker is restarted with new bindings at each step, and every token that
// was live stays valid while its key is listed, and only then.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { claims, ed25519Key, forgeEdDSA, now } from "./support/forge.mjs";
import { newSecret, useWorker } from "./support/worker.mjs";

const kidOf = (token) => JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString()).kid;

describe("rotating Ed25519 keys", () => {
  const one = ed25519Key();
  const two = ed25519Key();
  const worker = useWorker({
    JWT_SECRET: undefined,
    JWT_ALGORITHM: "EdDSA",
    JWT_KIDS: "one",
    JWT_KEY_one: one.d,
  });
  const whoami = async (token) => (await worker.call("GET", "/anon/whoami", { token })).status;
  const kids = async () => (await worker.call("GET", "/.well-known/jwks.json")).body.keys.map((k) => k.kid);

  test("tokens of the old key verify while it is listed, and are refused once it is removed", async () => {
    const fromOne = (await worker.login()).access_token;
    assert.equal(kidOf(fromOne), "one");

    // Step 1: "two" is listed to verify only; "one" still signs.
    await worker.rebind({ JWT_KIDS: "one two", JWT_KEY_two: two.d });
    assert.deepEqual(await kids(), ["one", "two"]);
    assert.equal(kidOf((await worker.login()).access_token), "one");
    assert.equal(await whoami(fromOne), 200);

    // Step 2: "two" signs; "one" verifies only.
    await worker.rebind({ JWT_KIDS: "two one" });
    assert.deepEqual(await kids(), ["two", "one"]);
    const fromTwo = (await worker.login()).access_token;
    assert.equal(kidOf(fromTwo), "two");
    assert.equal(await whoami(fromOne), 200);
    assert.equal(await whoami(fromTwo), 200);

    // An expired token of "one", still within its refresh grace, refreshes
    // while "one" is listed: why step 3 waits for the grace to pass too.
    const expiredFromOne = forgeEdDSA({ alg: "EdDSA", typ: "JWT", kid: "one" }, claims({ exp: now() - 3600 }), one);
    assert.equal((await worker.call("POST", "/anon/refresh", { token: expiredFromOne })).status, 200);

    // Step 3: "one" is removed; its tokens are refused, the new ones are not.
    await worker.rebind({ JWT_KIDS: "two", JWT_KEY_one: undefined });
    const late = await worker.call("POST", "/anon/refresh", { token: expiredFromOne });
    assert.deepEqual([late.status, late.body.detail], [401, "token key id is not known"]);
    assert.deepEqual(await kids(), ["two"]);
    const r = await worker.call("GET", "/anon/whoami", { token: fromOne });
    assert.equal(r.status, 401);
    assert.equal(r.body.detail, "token key id is not known");
    assert.equal(await whoami(fromTwo), 200);
  });
});

describe("moving from the seed's JWT_SECRET to HS256 keys with kid", () => {
  const worker = useWorker();
  const whoami = async (token) => worker.call("GET", "/anon/whoami", { token });

  test("tokens without kid keep working while JWT_SECRET is set, and stop when it is removed", async () => {
    const seedToken = (await worker.login()).access_token;
    assert.equal(kidOf(seedToken), undefined);

    await worker.rebind({ JWT_KIDS: "h1", JWT_KEY_h1: newSecret() });
    const keyed = (await worker.login()).access_token;
    assert.equal(kidOf(keyed), "h1");
    assert.equal((await whoami(seedToken)).status, 200);
    assert.equal((await whoami(keyed)).status, 200);
    assert.deepEqual((await worker.call("GET", "/.well-known/jwks.json")).body, { keys: [] }, "HS256 keys are never published");

    await worker.rebind({ JWT_SECRET: undefined });
    const r = await whoami(seedToken);
    assert.equal(r.status, 401);
    assert.equal(r.body.detail, "token has no key id");
    assert.equal((await whoami(keyed)).status, 200);
  });
});
