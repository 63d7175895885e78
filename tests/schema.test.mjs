// schemathesis (from PyPI) fuzzes the running worker from its own OpenAPI
// document: no 5xx, and every response must conform to the schema.
//
// DELETE /anon/me erases the visitor and revokes their token on every other
// route, so it runs in a pass of its own, with a visitor of its own: were it
// fuzzed with the same token as the rest, every operation after its first
// call would only ever see 401 "erased".

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { ROOT, useWorker } from "./support/worker.mjs";

const worker = useWorker();

// The routes (as the worker logs them) of every operation but eraseMe.
// schemathesis leaves out the document's own path, /openapi.json.
const LIVE_ROUTES = [
  "welcome", "jwks", "login", "whoami", "refresh", "me",
  "my_items", "add_action", "record_action", "list_actions",
];

test("GET /openapi.json serves an OpenAPI 3.1 document", async () => {
  const r = await worker.call("GET", "/openapi.json");
  assert.equal(r.status, 200);
  assert.equal(r.body.openapi, "3.1.0");
  assert.ok(r.body.paths["/items/add_action"].post);
});

test("schemathesis finds no server error and no schema violation, with a live token", async () => {
  const { access_token: token } = await worker.login();
  const from = worker.logs.length;
  const run = await schemathesis(token, ["--exclude-operation-id", "eraseMe"]);
  assert.equal(run.status, 0, `schemathesis failed:\n${run.stdout}\n${run.stderr}`);
  showSummary(run);
  assert.match(run.stdout, /Tested: 10\b/, "every operation but eraseMe was tested");

  const lines = await requestLinesSince(from);
  // The token stayed live throughout: no request was refused as erased,
  // and each operation was answered with success at least once.
  assert.deepEqual(lines.filter((l) => l.error === "erased"), []);
  assert.equal(lines.filter((l) => l.route === "erase").length, 0, "eraseMe was left to its own pass");
  for (const route of LIVE_ROUTES) {
    assert.ok(lines.some((l) => l.route === route && l.status < 300), `${route} succeeded at least once`);
  }
});

test("schemathesis fuzzes eraseMe in its own pass, with a visitor of its own", async () => {
  const { access_token: token, anon_id: id } = await worker.login();
  for (const type of ["a", "b"]) {
    assert.equal((await worker.call("POST", "/v1/actions", { token, json: { type } })).status, 201);
  }
  const from = worker.logs.length;
  const run = await schemathesis(token, ["--include-operation-id", "eraseMe"]);
  assert.equal(run.status, 0, `schemathesis failed:\n${run.stdout}\n${run.stderr}`);
  showSummary(run);
  assert.match(run.stdout, /Tested: 1\b/, "eraseMe alone was tested");

  const lines = await requestLinesSince(from);
  assert.ok(lines.some((l) => l.route === "erase" && l.status === 200), "an erase succeeded");
  // Besides the schema's own fetch and schemathesis's probe of an unknown
  // path, every request went to DELETE /anon/me.
  const routed = lines.filter((l) => l.route !== undefined && l.route !== "openapi");
  assert.deepEqual([...new Set(routed.map((l) => l.route))], ["erase"]);
  const kv = await worker.kv();
  const left = await kv.list({ prefix: `a:${id}:` });
  assert.deepEqual(left.keys.map((k) => k.name), [`a:${id}:!`], "only the tombstone is left");
});

/** Runs schemathesis against the worker with `token` on every request. */
async function schemathesis(token, selection) {
  const base = await worker.url();
  const bin = process.env.SCHEMATHESIS ?? path.join(ROOT, ".venv/bin/schemathesis");
  const examples = process.env.SCHEMATHESIS_EXAMPLES ?? "60";
  // Run it asynchronously: the worker's log lines reach this process through
  // a pipe, and a blocked event loop would let that pipe fill until workerd
  // stalls on its next console write.
  return runToEnd(
    bin,
    [
      "--config-file", path.join(ROOT, "tests/schemathesis.toml"),
      "run", `${base}/openapi.json`,
      ...selection,
      "--checks", "all",
      "--header", `Authorization: Bearer ${token}`,
      "--max-examples", examples,
      "--workers", "1",
      "--seed", "20261203",
      "--suppress-health-check", "all",
    ],
    { env: { ...process.env, SCHEMATHESIS_TELEMETRY: "false", NO_COLOR: "1" } },
    300_000,
  );
}

/** Shows what was covered, so a run that tested nothing cannot pass silently. */
function showSummary(run) {
  const summary = run.stdout.split("\n").filter((line) => /passed|failed|Operations|Test cases|checks/i.test(line));
  console.log(summary.join("\n"));
}

/**
 * The worker's request log lines from index `from` on. A request with a
 * made-up Ray ID (the worker takes its request id from CF-Ray) marks the end: log
 * lines arrive in order through a pipe, so once its line is here, so is every
 * line before it.
 */
async function requestLinesSince(from) {
  const marker = `${randomBytes(8).toString("hex")}-TST`;
  assert.equal((await worker.call("GET", "/", { headers: { "cf-ray": marker } })).status, 200);
  const parse = () => worker.logs.slice(from).map((l) => { try { return JSON.parse(l); } catch { return {}; } });
  const deadline = Date.now() + 10_000;
  while (!parse().some((l) => l.request_id === marker) && Date.now() < deadline) await sleep(20);
  const lines = parse();
  const end = lines.findIndex((l) => l.request_id === marker);
  assert.ok(end >= 0, "the marker request was logged");
  return lines.slice(0, end).filter((l) => l.event === "request");
}

/** Runs a program to its end without blocking the event loop. */
function runToEnd(bin, args, options, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { ...options, timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}
