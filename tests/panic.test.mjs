// A panic must cost one request, not the instance: the test-hooks build
// (build-test/, never deployed) has a route that panics.

import assert from "node:assert/strict";
import { test } from "node:test";
import { useWorker } from "./support/worker.mjs";

const worker = useWorker({}, { build: "build-test" });

test("a panic answers 500 and the next request is served normally", async () => {
  const { access_token: token, anon_id: id } = await worker.login();
  await worker.call("POST", "/items/add_action?action=before", { token });

  // The panic aborts the wasm instance before the response promise
  // settles; the runtime answers 500 itself, and the next call gets a fresh
  // instance (worker-build's glue re-instantiates it).
  const panicked = await worker.call("GET", "/__test/panic", { raw: true });
  assert.equal(panicked.status, 500);

  for (let i = 0; i < 3; i++) {
    const r = await worker.call("GET", "/items/my_anonymous_items", { token });
    assert.equal(r.status, 200, `request ${i} after the panic`);
    assert.equal(r.body.anon_id, id);
    assert.deepEqual(r.body.previous_actions, ["before"]);
  }
  const again = await worker.call("GET", "/__test/panic", { raw: true });
  assert.equal(again.status, 500, "a second panic is handled the same way");
  assert.equal((await worker.call("GET", "/")).status, 200);
});
