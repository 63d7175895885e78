// The size budget (issue 8): the files a deployment uploads, gzip level 9
// each, at most 150,000 bytes together. Deterministic for a given build; it
// fails when a change makes the worker grow past the budget.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { ROOT } from "./support/worker.mjs";

const BUDGET = 150_000;
const FILES = ["build/index_bg.wasm", "build/index.js", "build/worker/shim.mjs"];

test(`the deployed worker stays within ${BUDGET} bytes of gzip`, () => {
  const sizes = FILES.map((file) => {
    const bytes = fs.readFileSync(path.join(ROOT, file));
    return [file, bytes.length, gzipSync(bytes, { level: 9 }).length];
  });
  const total = sizes.reduce((sum, [, , gz]) => sum + gz, 0);
  console.log(sizes.map(([f, raw, gz]) => `${f}: ${raw} B raw, ${gz} B gzip`).join("\n"));
  console.log(`total: ${total} B gzip of ${BUDGET}`);
  assert.ok(total <= BUDGET, `${total} B gzip is over the ${BUDGET} B budget`);
});
