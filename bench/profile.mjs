#!/usr/bin/env node
// Where the time goes: samples workerd with `perf` while wrk loads one
// endpoint of one implementation at a time, and prints, per request, the CPU
// time by category (kernel, workerd's C++, V8, the worker's wasm, JS glue)
// and this worker's hottest wasm and JS functions. BENCHMARKS.md's
// "Where the time goes" comes from this script.
//
//   make build && node bench/profile.mjs        (needs perf: apt-get install linux-perf)
//
// V8 is started with --perf-basic-prof, so JIT-compiled JS and wasm get
// names in /tmp/perf-<pid>.map. This worker is rebuilt for it into
// bench/.out/profile/ours-named with worker-build alone: the same code as
// build/, but with the wasm name section that `make build` strips, so that
// Rust functions have names. perf's own overhead makes every number here
// higher than bench/run.mjs's; compare the columns with each other.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

import {
  BENCH, ROOT, OUT, HOST, log, run, haveCommand, sleep, token, request, check, requireBuild, ensureWrk,
  ensureBenchNodeModules, tools, buildNoopRust, bundlePeers, implementations, workerdConfig, startWorkerd,
  stopWorkerd, seed, useMiniflareShared,
} from "./run.mjs";

const HZ = 1999;
const SECONDS = 5;
const DIR = path.join(OUT, "profile");

function categorize(dso, kind, sym) {
  if (kind === "k" || dso.includes("kernel")) return "kernel (network, scheduling)";
  if (dso.startsWith("[JIT]") || sym.startsWith("JS:")) {
    if (/wasm-to-js|js-to-wasm/.test(sym)) return "wasm↔JS call wrappers";
    if (/\.m?js:\d|node-internal|cloudflare-internal/.test(sym)) return "JavaScript (glue or peer code)";
    return "wasm (the worker's Rust code)";
  }
  if (/^Builtins_Wasm|wasm::/.test(sym)) return "V8's wasm runtime";
  if (sym.startsWith("Builtins_")) return "V8 builtins (JS runtime, interpreter)";
  if (/Scaveng|MarkCompact|Heap::|GCTracer|Sweeper|Marking|Evacuat|MinorMS/.test(sym)) return "V8 garbage collection";
  if (sym.includes("v8::")) return "V8 runtime (API, handles, objects)";
  if (/tcmalloc|TCMalloc|operator new|operator delete/.test(sym)) return "memory allocator";
  if (/workerd::|kj::|capnp::/.test(sym)) return "workerd and kj (HTTP, I/O, API objects)";
  return "other (libc, unresolved)";
}

function report(file) {
  const r = spawnSync("perf", ["report", "-i", file, "--no-children", "--sort", "dso,sym", "-g", "none", "--stdio", "-q", "-n", "--percent-limit", "0"], { maxBuffer: 1 << 28 });
  const rows = [];
  for (const line of r.stdout.toString().split("\n")) {
    const m = /^\s*[\d.]+%\s+(\d+)\s+(\S.*?)\s+\[(.)\]\s+(.*)$/.exec(line);
    if (m) rows.push({ samples: Number(m[1]), dso: m[2].trim(), kind: m[3], sym: m[4].trim() });
  }
  return rows;
}

async function main() {
  if (!haveCommand("perf")) throw new Error("perf is missing: apt-get install -y linux-perf");
  requireBuild();
  ensureWrk();
  ensureBenchNodeModules();
  buildNoopRust();
  fs.rmSync(DIR, { recursive: true, force: true });
  fs.mkdirSync(DIR, { recursive: true });
  bundlePeers();
  useMiniflareShared();

  // This worker again, with function names kept.
  const t = tools();
  const named = path.join(DIR, "ours-named");
  log("building this worker with its wasm name section kept");
  run(t.workerBuild, ["--release", "-d", path.relative(ROOT, named), "."], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, WASM_BINDGEN_BIN: t.wasmBindgen, WASM_OPT_BIN: path.join(ROOT, "node_modules/.bin/wasm-opt"), ESBUILD_BIN: path.join(ROOT, "node_modules/.bin/esbuild") },
  });

  const impls = implementations();
  impls.ours = { ...impls.ours, modules: impls.ours.modules.map(([n, k, f]) => [n, k, path.join(named, path.relative(path.join(ROOT, "build"), f))]) };
  const workers = {};
  for (const id of ["ours", "webcrypto", "jose", "noop-js", "noop-rs"]) workers[id] = { ...impls[id], kv: impls[id].api ? "kv:ns:bench" : undefined };
  workers.seeder = { modules: [["seeder.js", "esModule", path.join(OUT, "peers/seeder.js")]], kv: "kv:ns:bench" };
  const secret = randomBytes(32).toString("base64url");
  const kvDataDir = fs.mkdtempSync(path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : DIR, "anon-sessions-profile-kv-"));
  process.on("exit", () => fs.rmSync(kvDataDir, { recursive: true, force: true }));
  const configFile = path.join(DIR, "workerd.capnp");
  const sockets = Object.keys(workers);
  fs.writeFileSync(configFile, workerdConfig({ dir: DIR, workers, secret, kvDataDir, sockets, v8Flags: ["--perf-basic-prof"] }));
  const server = await startWorkerd(configFile, sockets, { stderrFile: path.join(DIR, "workerd.err") });
  const pid = server.child.pid;
  const port = (id) => server.ports[id].port;

  const visitor = randomUUID();
  await seed(port("seeder"), visitor, 1000, Date.now() - 24 * 3600 * 1000);
  const tok = token(secret, visitor);
  const page = await request(port("ours"), "GET", "/items/my_anonymous_items", { headers: { authorization: `Bearer ${tok}` } });
  check(page.status === 200 && page.json.previous_actions.length === 1000, `ours reads the seeded page: ${page.status}`);
  const post = path.join(DIR, "post.lua");
  fs.writeFileSync(post, 'wrk.method = "POST"\n');
  const auth = ["-H", `Authorization: Bearer ${tok}`];

  const cases = [
    ["no-op JS", "noop-js", "/", []],
    ["no-op Rust", "noop-rs", "/", []],
    ["this worker: whoami", "ours", "/anon/whoami", auth],
    ["WebCrypto: whoami", "webcrypto", "/anon/whoami", auth],
    ["this worker: mint", "ours", "/anon/login", ["-s", post]],
    ["WebCrypto: mint", "webcrypto", "/anon/login", ["-s", post]],
    ["this worker: 1,000-action page", "ours", "/items/my_anonymous_items", auth],
    ["WebCrypto: 1,000-action page", "webcrypto", "/items/my_anonymous_items", auth],
  ];
  const results = [];
  for (const [label, id, target, args] of cases) {
    const url = `http://${HOST}:${port(id)}${target}`;
    spawnSync("wrk", ["-t1", "-c8", "-d2s", ...args, url]); // warm-up
    const data = path.join(DIR, `perf-${id}-${target.replace(/\W+/g, "_")}.data`);
    const perf = spawn("perf", ["record", "-F", String(HZ), "-g", "-p", String(pid), "-o", data, "--", "sleep", String(SECONDS + 2)], { stdio: "ignore" });
    await sleep(1000);
    const out = spawnSync("wrk", ["-t1", "-c8", `-d${SECONDS}s`, ...args, url], { timeout: (SECONDS + 15) * 1000 }).stdout.toString();
    await new Promise((r) => perf.on("exit", r));
    const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
    check(requests > 0, `wrk answered nothing for ${label}`);
    const rows = report(data);
    const perRequest = (samples) => (samples / HZ / requests) * 1e6;
    const byCategory = {};
    for (const row of rows) {
      const c = categorize(row.dso, row.kind, row.sym);
      byCategory[c] = (byCategory[c] ?? 0) + perRequest(row.samples);
    }
    const top = rows.filter((r) => r.sym.startsWith("JS:")).slice(0, 15).map((r) => ({ us: perRequest(r.samples), sym: r.sym.slice(3).replace(/-\d+-(turbofan|liftoff|maglev|sparkplug)$/, "").slice(0, 110) }));
    results.push({ label, byCategory, top, requests });
    log(`${label}: ${requests} requests profiled`);
  }
  await stopWorkerd(server.child);

  const categories = [...new Set(results.flatMap((r) => Object.keys(r.byCategory)))].sort((a, b) => results.reduce((s, r) => s + (r.byCategory[b] ?? 0), 0) - results.reduce((s, r) => s + (r.byCategory[a] ?? 0), 0));
  const lines = [];
  lines.push(`| sampled CPU per request, µs | ${results.map((r) => r.label).join(" | ")} |`);
  lines.push(`|---|${results.map(() => "---|").join("")}`);
  for (const c of categories) lines.push(`| ${c} | ${results.map((r) => (r.byCategory[c] ?? 0).toFixed(1)).join(" | ")} |`);
  lines.push(`| **total** | ${results.map((r) => `**${Object.values(r.byCategory).reduce((a, b) => a + b, 0).toFixed(0)}**`).join(" | ")} |`);
  for (const r of results.filter((x) => x.label.startsWith("this worker"))) {
    lines.push("", `Hottest JIT-compiled functions, ${r.label} (µs per request):`, "");
    for (const f of r.top) lines.push(`- ${f.us.toFixed(1)} \`${f.sym}\``);
  }
  console.log(lines.join("\n"));
  fs.writeFileSync(path.join(DIR, "profile.md"), `${lines.join("\n")}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
