// schemathesis (from PyPI) fuzzes the running worker from its own OpenAPI
// document: no 5xx, and every response must conform to the schema.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { ROOT, useWorker } from "./support/worker.mjs";

const worker = useWorker();

test("GET /openapi.json serves an OpenAPI 3.1 document", async () => {
  const r = await worker.call("GET", "/openapi.json");
  assert.equal(r.status, 200);
  assert.equal(r.body.openapi, "3.1.0");
  assert.ok(r.body.paths["/items/add_action"].post);
});

test("schemathesis finds no server error and no schema violation", async () => {
  const base = await worker.url();
  const { access_token: token } = await worker.login();
  const bin = process.env.SCHEMATHESIS ?? path.join(ROOT, ".venv/bin/schemathesis");
  const examples = process.env.SCHEMATHESIS_EXAMPLES ?? "60";
  // Run it asynchronously: the worker's log lines reach this process through
  // a pipe, and a blocked event loop would let that pipe fill until workerd
  // stalls on its next console write.
  const run = await runToEnd(
    bin,
    [
      "--config-file", path.join(ROOT, "tests/schemathesis.toml"),
      "run", `${base}/openapi.json`,
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
  assert.equal(run.status, 0, `schemathesis failed:\n${run.stdout}\n${run.stderr}`);
  // Show what was covered, so a run that tested nothing cannot pass silently.
  const summary = run.stdout.split("\n").filter((line) => /passed|failed|Operations|Test cases|checks/i.test(line));
  console.log(summary.join("\n"));
  // schemathesis leaves out the document's own path, /openapi.json.
  assert.match(run.stdout, /Tested: 11\b/, "every other operation was tested");
});

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
