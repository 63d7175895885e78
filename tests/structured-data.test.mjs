// Structured action data through the built worker and a real local KV
// namespace, on every route that reads it back: nesting at and past the
// 128-level cap (src/json.rs), and values returned exactly as they were sent.

import assert from "node:assert/strict";
import { test } from "node:test";
import { useWorker } from "./support/worker.mjs";

const worker = useWorker();

const nestedArrays = (n) => `${"[".repeat(n)}${"]".repeat(n)}`;
const nestedObjects = (n) => `${'{"a":'.repeat(n - 1)}{}${"}".repeat(n - 1)}`;

// Regression: an earlier version let a deep `data` poison the visitor's
// listing, every later read answering 503. Data is now kept as JSON text and
// capped at 128 levels of nesting.
test("data nested up to 128 levels is stored, listed, counted and erased; 129 is a 422", async () => {
  const { access_token: token, anon_id: id } = await worker.login();
  const cases = [
    ["arrays 120", nestedArrays(120)],
    ["arrays 124", nestedArrays(124)],
    ["arrays 126", nestedArrays(126)],
    ["arrays 128", nestedArrays(128)],
    // Objects that deep would not fit the size cap: each level's quoted key
    // counts twice as stored (`{\"a\":`), so 100 levels is about as deep
    // as an object can go within 900 bytes.
    ["objects 100", nestedObjects(100)],
  ];
  for (const [type, data] of cases) {
    const r = await worker.call("POST", "/v1/actions", {
      token,
      headers: { "content-type": "application/json" },
      body: `{"type":"${type}","data":${data}}`,
      raw: true,
    });
    assert.equal(r.status, 201, `${type}: ${r.text.slice(0, 200)}`);
    assert.ok(r.text.includes(`"data":${data}`), `${type}: the answer carries the data as sent`);
  }
  for (const [label, data] of [["arrays 129", nestedArrays(129)], ["objects 129", nestedObjects(129)]]) {
    const r = await worker.call("POST", "/v1/actions", {
      token,
      headers: { "content-type": "application/json" },
      body: `{"type":"${label}","data":${data}}`,
    });
    assert.equal(r.status, 422, label);
    assert.deepEqual(r.body, { detail: "the body is not a valid action: JSON nests deeper than 128 levels" }, label);
  }

  const list = await worker.call("GET", "/v1/actions", { token, raw: true });
  assert.equal(list.status, 200, list.text.slice(0, 300));
  const page = JSON.parse(list.text);
  assert.deepEqual(page.actions.map((a) => a.type), cases.map(([type]) => type), "every deep action is listed, none refused");
  assert.equal(page.next_cursor, null);
  for (const [type, data] of cases) {
    assert.deepEqual(page.actions.find((a) => a.type === type).data, JSON.parse(data), type);
    assert.ok(list.text.includes(`"data":${data}`), `${type}: listed as sent`);
  }

  const items = await worker.call("GET", "/items/my_anonymous_items", { token });
  assert.equal(items.status, 200, JSON.stringify(items.body));
  assert.deepEqual(items.body.previous_actions, cases.map(([type]) => type));

  const me = await worker.call("GET", "/anon/me", { token });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.action_count, cases.length);

  const erased = await worker.call("DELETE", "/anon/me", { token });
  assert.equal(erased.status, 200, JSON.stringify(erased.body));
  assert.deepEqual(erased.body, { anon_id: id, erased: cases.length, complete: true });
});

// JSON.parse here would itself round 12345678901234567890 and
// 9007199254740993, print 1.50 as 1.5 and 1e3 as 1000: so the raw texts are
// compared.
test("structured data comes back byte for byte, on the answer and in the listing", async () => {
  const { access_token: token } = await worker.login();
  const data = '{"big":12345678901234567890,"i":9007199254740993,"f":1.50,"e":1e3,"k":{"z":1,"a":2}}';
  const posted = await worker.call("POST", "/v1/actions", {
    token,
    headers: { "content-type": "application/json" },
    body: `{"type":"exact","data":${data}}`,
    raw: true,
  });
  assert.equal(posted.status, 201, posted.text);
  assert.ok(posted.text.includes(`"data":${data}`), `the POST answer: ${posted.text}`);

  const listed = await worker.call("GET", "/v1/actions", { token, raw: true });
  assert.equal(listed.status, 200, listed.text);
  assert.ok(listed.text.includes(`"data":${data}`), `the listing: ${listed.text}`);
});
