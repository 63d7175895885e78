#!/usr/bin/env node
// The side-by-side benchmark of issue 8: this worker against a `jose`
// worker, a WebCrypto worker, a no-op JavaScript worker (the ceiling) and
// no-op workers-rs workers, all on workerd itself, with no Node proxy in
// front. Writes the results into BENCHMARKS.md.
//
//   make build && node bench/run.mjs          (what `make bench` runs)
//
// Options (flags or environment variables):
//   --rounds N        BENCH_ROUNDS        rounds, each runs every cell once (10)
//   --duration S      BENCH_DURATION      seconds per cell per round, whole (3)
//   --connections C   BENCH_CONNECTIONS   wrk connections, one wrk thread (8)
//   --startup-runs N  BENCH_STARTUP_RUNS  cold starts per implementation (5)
//   --pool N          BENCH_POOL          visitors per implementation for add_action (4000)
//   --out FILE        BENCH_OUT           markdown file to update (BENCHMARKS.md);
//                                         "-" prints only
//   --only a,b        BENCH_ONLY          only these implementations' load cells
//                                         (ours, jose, webcrypto, noop-js, noop-rs,
//                                         noop-rs-event); for quick checks
//   --kv-full-scan    BENCH_KV_FULL_SCAN=1  keep Miniflare's KV list query as
//                                         it ships (a scan of the whole namespace)
//
// It assumes `make build` has produced build/ and that node_modules exists
// (npm ci in the project root). It installs what else it needs: wrk (apt-get,
// when missing), bench/node_modules (npm ci --prefix bench), and the no-op
// workers-rs peer (worker-build, as the Makefile pins it). Every request
// goes to 127.0.0.1; every load run is bounded by wrk's -d and a kill timer.

import { spawn, spawnSync, execFileSync } from "node:child_process";
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import http from "node:http";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH, "..");
const OUT = path.join(BENCH, ".out");
const HOST = "127.0.0.1";

// ---------------------------------------------------------------- options

function option(flag, env, fallback) {
  const i = process.argv.indexOf(flag);
  if (i !== -1 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  return process.env[env] ?? fallback;
}
function intOption(flag, env, fallback, min, max) {
  const v = Number(option(flag, env, String(fallback)));
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new Error(`${flag} (${env}) must be a whole number from ${min} to ${max}`);
  }
  return v;
}

const ROUNDS = intOption("--rounds", "BENCH_ROUNDS", 10, 1, 100);
const DURATION = intOption("--duration", "BENCH_DURATION", 3, 1, 60);
const CONNECTIONS = intOption("--connections", "BENCH_CONNECTIONS", 8, 1, 256);
const STARTUP_RUNS = intOption("--startup-runs", "BENCH_STARTUP_RUNS", 5, 1, 50);
const POOL = intOption("--pool", "BENCH_POOL", 4000, 1, 100000);
const OUT_FILE = option("--out", "BENCH_OUT", path.join(ROOT, "BENCHMARKS.md"));
const ONLY = option("--only", "BENCH_ONLY", "").split(",").filter(Boolean);
const KV_SCAN = process.argv.includes("--kv-full-scan") || process.env.BENCH_KV_FULL_SCAN === "1";

const log = (...args) => console.error("[bench]", ...args);

// ---------------------------------------------------------------- helpers

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status}`);
}

function haveCommand(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmtInt = (n) => Math.round(n).toLocaleString("en-US");
const fmtRatio = (r) => `${r.toFixed(2)}×`;
const fmtBytes = (n) => `${fmtInt(n)} B (${(n / 1024).toFixed(1)} KiB)`;

function b64url(value) {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
}

/** An HS256 token with the worker's claims, signed here with the shared secret. */
function token(secret, sub, ttl = 24 * 3600) {
  const now = Math.floor(Date.now() / 1000);
  const signed = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ exp: now + ttl, iat: now, sub, type: "anonymous" })}`;
  return `${signed}.${createHmac("sha256", secret).update(signed).digest("base64url")}`;
}

/** One request to 127.0.0.1; resolves to { status, body }. */
function request(port, method, target, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, method, path: target, headers, agent: false, timeout: 30000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`timeout: ${method} ${target}`)));
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function check(condition, what) {
  if (!condition) throw new Error(`sanity check failed: ${what}`);
}

// ---------------------------------------------------------------- set-up

function requireBuild() {
  for (const f of ["build/worker/shim.mjs", "build/index.js", "build/index_bg.wasm"]) {
    if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`${f} is missing: run \`make build\` first`);
  }
  for (const f of ["node_modules/.bin/workerd", "node_modules/.bin/esbuild", "node_modules/miniflare/package.json"]) {
    if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`${f} is missing: run \`npm ci\` in ${ROOT} first`);
  }
}

function ensureWrk() {
  if (haveCommand("wrk")) return;
  log("wrk is missing: installing it with apt-get");
  const asRoot = process.getuid?.() === 0;
  const apt = (...args) => run(asRoot ? "apt-get" : "sudo", asRoot ? args : ["apt-get", ...args], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  apt("update", "-qq");
  apt("install", "-y", "-qq", "wrk");
}

function ensureBenchNodeModules() {
  const lock = JSON.parse(fs.readFileSync(path.join(BENCH, "package-lock.json"), "utf8"));
  const want = lock.packages["node_modules/jose"].version;
  const have = (() => {
    try {
      return JSON.parse(fs.readFileSync(path.join(BENCH, "node_modules/jose/package.json"), "utf8")).version;
    } catch {
      return undefined;
    }
  })();
  if (have === want) return;
  log(`installing bench npm packages (jose ${want}) with npm ci --prefix bench`);
  run("npm", ["ci", "--prefix", BENCH, "--no-audit", "--no-fund"], { cwd: ROOT });
}

/** The tool paths the Makefile pins; read from it so they stay in step. */
function tools() {
  const makefile = fs.readFileSync(path.join(ROOT, "Makefile"), "utf8");
  const workerBuildVersion = /^WORKER_BUILD_VERSION\s*:=\s*(\S+)/m.exec(makefile)?.[1] ?? "0.8.7";
  const toolsDir = process.env.TOOLS ?? path.join(os.homedir(), ".cache/anon-sessions-tools");
  const lock = fs.readFileSync(path.join(BENCH, "noop-rs/Cargo.lock"), "utf8");
  const bindgenVersion = /name = "wasm-bindgen"\nversion = "([^"]+)"/.exec(lock)?.[1];
  if (!bindgenVersion) throw new Error("wasm-bindgen not found in bench/noop-rs/Cargo.lock");
  return {
    toolsDir,
    workerBuild: path.join(toolsDir, `worker-build-${workerBuildVersion}`, "bin/worker-build"),
    workerBuildVersion,
    wasmBindgen: path.join(toolsDir, `wasm-bindgen-${bindgenVersion}`, "bin/wasm-bindgen"),
    bindgenVersion,
  };
}

function cargoInstall(crate, version, root) {
  // As the Makefile does: --locked first, then unlocked if a locked
  // dependency has been yanked.
  const base = ["install", crate, "--version", `=${version}`, "--root", root];
  const r = spawnSync("cargo", [...base, "--locked"], { stdio: "inherit" });
  if (r.status !== 0) run("cargo", base);
}

/** Builds the no-op workers-rs peer twice: plain export, and #[event(fetch)]. */
function buildNoopRust() {
  const t = tools();
  if (!fs.existsSync(t.workerBuild)) cargoInstall("worker-build", t.workerBuildVersion, path.dirname(path.dirname(t.workerBuild)));
  if (!fs.existsSync(t.wasmBindgen)) cargoInstall("wasm-bindgen-cli", t.bindgenVersion, path.dirname(path.dirname(t.wasmBindgen)));
  const crate = path.join(BENCH, "noop-rs");
  const sources = ["Cargo.toml", "Cargo.lock", "src/lib.rs"].map((f) => fs.statSync(path.join(crate, f)).mtimeMs);
  const newest = Math.max(...sources);
  const env = {
    ...process.env,
    WASM_BINDGEN_BIN: t.wasmBindgen,
    WASM_OPT_BIN: path.join(ROOT, "node_modules/.bin/wasm-opt"),
    ESBUILD_BIN: path.join(ROOT, "node_modules/.bin/esbuild"),
  };
  const shim = path.join(crate, "object-shim.js");
  const builds = [
    ["build-plain", "index_bg.wasm", [], {}],
    ["build-event", "index_bg.wasm", ["--features", "event"], {}],
    ["build-objshim", "worker/index.wasm", [], { CUSTOM_SHIM: shim }],
  ];
  const newestWithShim = Math.max(newest, fs.statSync(shim).mtimeMs);
  for (const [dir, wasmName, extra, extraEnv] of builds) {
    const wasm = path.join(crate, dir, wasmName);
    if (fs.existsSync(wasm) && fs.statSync(wasm).mtimeMs > newestWithShim) continue;
    log(`building the no-op workers-rs peer (${dir}) with worker-build`);
    run(t.workerBuild, ["--release", "-d", dir, ".", ...extra], { cwd: crate, env: { ...env, ...extraEnv }, stdio: ["ignore", "ignore", "inherit"] });
  }
}

/** Bundles the JavaScript peers with the project's esbuild, as wrangler would. */
function bundlePeers() {
  const outDir = path.join(OUT, "peers");
  fs.mkdirSync(outDir, { recursive: true });
  for (const name of ["jose", "webcrypto", "noop", "seeder", "kv-counter"]) {
    run(path.join(ROOT, "node_modules/.bin/esbuild"), [
      path.join(BENCH, "peers", `${name}.mjs`),
      "--bundle",
      "--format=esm",
      "--platform=neutral",
      "--target=es2022",
      `--outfile=${path.join(outDir, `${name}.js`)}`,
      "--log-level=warning",
    ], { cwd: BENCH });
  }
}

// ---------------------------------------------------------------- workerd config

const miniflareWorkers = path.join(ROOT, "node_modules/miniflare/dist/src/workers");

/**
 * Miniflare's KV lists a prefix with `WHERE substr(key, 1, length(:prefix))
 * = :prefix`, which SQLite cannot answer from the key index: every list
 * scans the whole namespace. Production KV lists a prefix as a range. So
 * the benchmark adds the equivalent range bounds (the substr test stays),
 * and a list then costs what its page costs, as it does in production.
 * Returns the path of the module to embed as "miniflare:shared".
 */
function miniflareShared() {
  const original = path.join(miniflareWorkers, "shared/index.worker.js");
  if (KV_SCAN) return { file: original, patched: false };
  const text = fs.readFileSync(original, "utf8");
  const needle = "WHERE substr(key, 1, length(:prefix)) = :prefix";
  if (text.split(needle).length !== 2) {
    log("warning: Miniflare's KV list query has changed; using it unpatched (lists scan the whole namespace)");
    return { file: original, patched: false };
  }
  const file = path.join(OUT, "miniflare-shared.worker.js");
  fs.writeFileSync(file, text.replace(needle, "WHERE key >= :prefix AND key < (:prefix || char(1114111)) AND substr(key, 1, length(:prefix)) = :prefix"));
  return { file, patched: true };
}
let sharedModule;
function useMiniflareShared() {
  sharedModule = miniflareShared();
  return sharedModule;
}
const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"))?.[1] ?? "2026-04-20";

/** The implementations under test: their modules, and whether they use KV. */
function implementations() {
  const rs = (dir) => [
    ["worker/shim.mjs", "esModule", path.join(dir, "worker/shim.mjs")],
    ["index.js", "esModule", path.join(dir, "index.js")],
    ["index_bg.wasm", "wasm", path.join(dir, "index_bg.wasm")],
  ];
  const js = (name) => [[`${name}.js`, "esModule", path.join(OUT, "peers", `${name}.js`)]];
  return {
    ours: { label: "this worker (Rust)", modules: rs(path.join(ROOT, "build")), api: true },
    jose: { label: "JS + jose", modules: js("jose"), api: true },
    webcrypto: { label: "JS + WebCrypto", modules: js("webcrypto"), api: true },
    "noop-js": { label: "no-op JS", modules: js("noop"), api: false },
    "noop-rs": { label: "no-op Rust, plain export", modules: rs(path.join(BENCH, "noop-rs/build-plain")), api: false },
    "noop-rs-event": { label: "no-op Rust, #[event(fetch)]", modules: rs(path.join(BENCH, "noop-rs/build-event")), api: false },
    "noop-rs-objshim": {
      label: "no-op Rust, plain export, plain-object shim",
      modules: [
        ["worker/shim.mjs", "esModule", path.join(BENCH, "noop-rs/build-objshim/worker/shim.mjs")],
        ["worker/index.wasm", "wasm", path.join(BENCH, "noop-rs/build-objshim/worker/index.wasm")],
      ],
      api: false,
    },
  };
}

const capnpString = (s) => JSON.stringify(s);

/**
 * A workerd config in capnp text. `workers` maps a service name to
 * { modules, kv }, where kv names the service behind ANON_KV. Each worker
 * gets its own socket on 127.0.0.1 (port 0: workerd picks one and reports
 * it on the control fd). The KV services are Miniflare's own KV
 * implementation (the same one `wrangler dev` uses), run inside this
 * workerd: an entry worker per namespace, a Durable Object per namespace
 * backed by SQLite, and a disk directory for its blobs.
 */
function workerdConfig({ dir, workers, secret, kvDataDir, sockets, v8Flags = [] }) {
  const rel = (p) => capnpString(path.relative(dir, p));
  const services = [];
  for (const [name, w] of Object.entries(workers)) {
    const modules = w.modules.map(([mname, kind, file]) => `(name = ${capnpString(mname)}, ${kind} = embed ${rel(file)})`);
    const bindings = [];
    if (w.api) {
      bindings.push(`(name = "JWT_SECRET", text = ${capnpString(secret)})`);
      bindings.push(`(name = "TOKEN_TTL_SECONDS", text = "604800")`);
      bindings.push(`(name = "DATA_TTL_SECONDS", text = "2592000")`);
    }
    if (w.kv) bindings.push(`(name = "ANON_KV", kvNamespace = ${capnpString(w.kv)})`);
    for (const [bname, service] of Object.entries(w.services ?? {})) bindings.push(`(name = ${capnpString(bname)}, service = ${capnpString(service)})`);
    services.push(`    (name = ${capnpString(name)}, worker = (
      modules = [${modules.join(", ")}],
      compatibilityDate = ${capnpString(w.compatibilityDate ?? compatibilityDate)},
      bindings = [${bindings.join(", ")}],
    ))`);
  }
  services.push(`    (name = "kv:ns:bench", worker = (
      compatibilityDate = "2023-07-24",
      modules = [(name = "object-entry.worker.js", esModule = embed ${rel(path.join(miniflareWorkers, "shared/object-entry.worker.js"))})],
      bindings = [
        (name = "MINIFLARE_NAMESPACE", text = "bench"),
        (name = "MINIFLARE_OBJECT", durableObjectNamespace = (serviceName = "kv:ns", className = "KVNamespaceObject")),
      ],
    ))`);
  services.push(`    (name = "kv:ns", worker = (
      compatibilityDate = "2023-07-24",
      compatibilityFlags = ["nodejs_compat", "experimental"],
      modules = [(name = "namespace.worker.js", esModule = embed ${rel(path.join(miniflareWorkers, "kv/namespace.worker.js"))})],
      durableObjectNamespaces = [(className = "KVNamespaceObject", uniqueKey = "miniflare-KVNamespaceObject")],
      durableObjectStorage = (localDisk = "kv:storage"),
      bindings = [(name = "MINIFLARE_BLOBS", service = "kv:storage")],
    ))`);
  services.push(`    (name = "kv:storage", disk = (path = ${capnpString(kvDataDir)}, writable = true))`);
  const socketLines = sockets.map((s) => `    (name = ${capnpString(s)}, address = "${HOST}:0", http = (), service = ${capnpString(s)})`);
  return `# Generated by bench/run.mjs; do not edit.
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (${v8Flags.length ? `\n  v8Flags = [${v8Flags.map(capnpString).join(", ")}],` : ""}
  services = [
${services.join(",\n")},
  ],
  sockets = [
${socketLines.join(",\n")},
  ],
  extensions = [(modules = [
    (name = "miniflare:shared", esModule = embed ${rel(sharedModule.file)}),
    (name = "miniflare:zod", esModule = embed ${rel(path.join(miniflareWorkers, "shared/zod.worker.js"))}),
  ])],
);
`;
}

const WORKERD = fs.realpathSync(path.join(ROOT, "node_modules/.bin/workerd"));
const running = new Set();

/**
 * Starts workerd on a config file; resolves when every socket listens, with
 * the ports and the times (ms since spawn) at which they did.
 */
function startWorkerd(configFile, sockets, { stderrFile, cwd } = {}) {
  const t0 = performance.now();
  const errFd = stderrFile ? fs.openSync(stderrFile, "a") : "ignore";
  // stdout carries the workers' console.log lines: discarded, so that
  // logging costs the same small write for every implementation.
  const child = spawn(WORKERD, ["serve", "--experimental", "--control-fd=3", configFile], {
    stdio: ["ignore", "ignore", errFd, "pipe"],
    cwd: cwd ?? path.dirname(configFile),
  });
  if (typeof errFd === "number") fs.closeSync(errFd);
  running.add(child);
  child.on("exit", () => running.delete(child));
  return new Promise((resolve, reject) => {
    const ports = {};
    let buffer = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("workerd did not listen within 60 s"));
    }, 60000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`workerd exited with ${code} before listening${stderrFile ? `; see ${stderrFile}` : ""}`));
    });
    child.stdio[3].on("data", (chunk) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const msg = JSON.parse(line);
          if (msg.event === "listen") ports[msg.socket] = { port: msg.port, at: performance.now() - t0 };
        } catch {
          // not a control message
        }
      }
      if (sockets.every((s) => ports[s])) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        child.on("exit", () => running.delete(child));
        resolve({ child, t0, ports });
      }
    });
  });
}

async function stopWorkerd(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    for (const child of running) child.kill("SIGKILL");
    process.exit(130);
  });
}
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

// ---------------------------------------------------------------- measurements

function sizes(impls) {
  const rows = [];
  const gz = (file) => gzipSync(fs.readFileSync(file), { level: 9 }).length;
  for (const [id, impl] of Object.entries(impls)) {
    let raw = 0;
    let gzip = 0;
    const parts = [];
    for (const [name, , file] of impl.modules) {
      const r = fs.statSync(file).size;
      const g = gz(file);
      raw += r;
      gzip += g;
      parts.push({ name, raw: r, gzip: g });
    }
    rows.push({ id, label: impl.label, raw, gzip, parts });
  }
  return rows;
}

/** Cold starts: workerd process start to first answered request, per implementation. */
async function startupTimes(impls, secret) {
  const results = {};
  const dir = path.join(OUT, "startup");
  fs.mkdirSync(dir, { recursive: true });
  for (const id of ["ours", "noop-rs", "noop-rs-event", "noop-js", "webcrypto", "jose"]) {
    const impl = impls[id];
    const samples = [];
    for (let i = 0; i < STARTUP_RUNS; i++) {
      const kvDataDir = fs.mkdtempSync(path.join(dir, "kv-"));
      const file = path.join(dir, `${id}.capnp`);
      fs.writeFileSync(file, workerdConfig({ dir, workers: { [id]: { ...impl, kv: impl.api ? "kv:ns:bench" : undefined } }, secret, kvDataDir, sockets: [id] }));
      const { child, t0, ports } = await startWorkerd(file, [id], { stderrFile: path.join(OUT, "workerd-startup.err") });
      const port = ports[id].port;
      let answered;
      const deadline = performance.now() + 30000;
      while (performance.now() < deadline) {
        try {
          const r = await request(port, "GET", "/");
          if (r.status === 200) {
            answered = performance.now() - t0;
            break;
          }
        } catch {
          // not serving yet
        }
        await sleep(1);
      }
      await stopWorkerd(child);
      fs.rmSync(kvDataDir, { recursive: true, force: true });
      if (answered === undefined) throw new Error(`${id} never answered GET / after starting`);
      samples.push({ listening: ports[id].at, answered });
    }
    results[id] = {
      listening: median(samples.map((s) => s.listening)),
      answered: median(samples.map((s) => s.answered)),
      min: Math.min(...samples.map((s) => s.answered)),
      max: Math.max(...samples.map((s) => s.answered)),
    };
    log(`startup ${id}: first answer after ${results[id].answered.toFixed(1)} ms (median of ${STARTUP_RUNS})`);
  }
  return results;
}

/** Writes `count` actions for visitor `id` through the seeder worker. */
async function seed(port, id, count, startMs) {
  let written = 0;
  for (let from = 0; from < count; from += 1000) {
    const n = Math.min(1000, count - from);
    const r = await request(port, "POST", "/seed", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ anon_id: id, count: n, start_ms: startMs + from, ttl: 2592000 }),
    });
    check(r.status === 200, `seeding ${id}: ${r.status} ${r.text}`);
    written += r.json.written;
  }
  check(written === count, `seeded ${written} of ${count} actions`);
}

// ---------------------------------------------------------------- wrk

function wrkScript(file, body) {
  fs.writeFileSync(file, body);
  return file;
}

function parseWrk(text) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const total = Number(/(\d+) requests in/.exec(text)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  if (!Number.isFinite(rps)) throw new Error(`could not read wrk's output:\n${text}`);
  return { rps, total, non2xx, errors };
}

/** CPU time (user + system, all threads) a process has used, in ms. */
function cpuMs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  const hz = 100; // USER_HZ on Linux
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / hz;
}

function runWrk(cell, seconds, serverPid) {
  const cpu0 = serverPid ? cpuMs(serverPid) : 0;
  return new Promise((resolve, reject) => {
    check(cell.url.startsWith(`http://${HOST}:`), `wrk only targets ${HOST}`);
    const args = ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--timeout", "5s", ...cell.wrkArgs, cell.url];
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (out += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 15) * 1000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`wrk exited with ${code}:\n${out}`));
      try {
        const r = parseWrk(out);
        // workerd's CPU time per answered request over the cell: the cost
        // Workers would bill, plus workerd's HTTP and the in-process KV.
        if (serverPid) r.cpuUs = ((cpuMs(serverPid) - cpu0) * 1000) / r.total;
        resolve(r);
      } catch (e) {
        reject(e);
      }
    });
  });
}

// ---------------------------------------------------------------- main

async function main() {
  const started = new Date();
  requireBuild();
  ensureWrk();
  ensureBenchNodeModules();
  buildNoopRust();
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  bundlePeers();
  useMiniflareShared();

  const impls = implementations();
  const secret = randomBytes(32).toString("base64url");

  // Sizes, then cold starts, each implementation alone in its own workerd.
  const sizeRows = sizes(impls);
  const startup = await startupTimes(impls, secret);

  // One workerd serving every implementation, each on its own socket; the
  // `-counted` copies reach the same KV through a counting service.
  const apiImpls = ["ours", "jose", "webcrypto"];
  const workers = {};
  for (const [id, impl] of Object.entries(impls)) workers[id] = { ...impl, kv: impl.api ? "kv:ns:bench" : undefined };
  for (const id of apiImpls) workers[`${id}-counted`] = { ...impls[id], kv: "kv:count" };
  workers.seeder = { modules: [["seeder.js", "esModule", path.join(OUT, "peers/seeder.js")]], kv: "kv:ns:bench" };
  workers["kv:count"] = { modules: [["kv-counter.js", "esModule", path.join(OUT, "peers/kv-counter.js")]], services: { UPSTREAM: "kv:ns:bench" } };
  const sockets = Object.keys(workers);
  // KV's SQLite and blob files go to memory when /dev/shm exists, so that
  // the machine's disk adds no noise to the KV endpoints.
  const kvDataDir = fs.mkdtempSync(path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : OUT, "anon-sessions-bench-kv-"));
  process.on("exit", () => fs.rmSync(kvDataDir, { recursive: true, force: true }));
  const configFile = path.join(OUT, "workerd.capnp");
  fs.writeFileSync(configFile, workerdConfig({ dir: OUT, workers, secret, kvDataDir, sockets }));
  log(`starting workerd with ${configFile}`);
  const server = await startWorkerd(configFile, sockets, { stderrFile: path.join(OUT, "workerd.err") });
  const port = (name) => server.ports[name].port;

  // --- Visitors and sanity checks.
  const visitors = { small: randomUUID(), page: randomUUID(), large: randomUUID() };
  const tok = Object.fromEntries(Object.entries(visitors).map(([k, id]) => [k, token(secret, id)]));
  const auth = (t) => ({ authorization: `Bearer ${t}` });

  // The 10-action visitor is written through this worker's own API.
  for (let i = 0; i < 10; i++) {
    const r = await request(port("ours"), "POST", `/items/add_action?action=${encodeURIComponent(`action ${i}`)}`, { headers: auth(tok.small) });
    check(r.status === 200, `ours add_action: ${r.status} ${r.text}`);
  }
  // The 1,000- and 10,000-action visitors straight into KV, in the same layout.
  const seedStart = Date.now() - 24 * 3600 * 1000;
  log("seeding KV: 1,000 and 10,000 actions");
  await seed(port("seeder"), visitors.page, 1000, seedStart);
  await seed(port("seeder"), visitors.large, 10000, seedStart);

  for (const id of apiImpls) {
    const login = await request(port(id), "POST", "/anon/login");
    check(login.status === 200 && typeof login.json?.access_token === "string", `${id} login: ${login.status} ${login.text}`);
    for (const other of apiImpls) {
      const who = await request(port(other), "GET", "/anon/whoami", { headers: auth(login.json.access_token) });
      check(who.status === 200 && who.json.anon_id === login.json.anon_id, `${other} accepts a token minted by ${id}: ${who.status} ${who.text}`);
    }
    const bad = await request(port(id), "GET", "/anon/whoami", { headers: auth(`${login.json.access_token.slice(0, -2)}xx`) });
    check(bad.status === 401, `${id} refuses a bad signature: ${bad.status}`);
    const small = await request(port(id), "GET", "/items/my_anonymous_items", { headers: auth(tok.small) });
    check(small.status === 200 && small.json.previous_actions.length === 10 && small.json.previous_actions[0] === "action 0", `${id} reads 10 actions: ${small.text.slice(0, 300)}`);
    for (const [v, n] of [["page", 1000], ["large", 1000]]) {
      const r = await request(port(id), "GET", "/items/my_anonymous_items", { headers: auth(tok[v]) });
      check(r.status === 200 && r.json.previous_actions.length === n && r.json.previous_actions[0] === "seeded action 0", `${id} reads a page of ${n} actions for the ${v} visitor: ${r.status}`);
    }
    if (id === "ours") {
      for (const v of ["small", "large"]) {
        const r = await request(port(id), "GET", "/v1/actions?limit=10", { headers: auth(tok[v]) });
        check(r.status === 200 && r.json.actions.length === 10 && r.json.actions[0].type.endsWith("action 0"), `ours reads a page of 10 for the ${v} visitor: ${r.status} ${r.text.slice(0, 200)}`);
        check((v === "large") === (typeof r.json.next_cursor === "string"), `ours: next_cursor for the ${v} visitor`);
      }
    }
    const add = await request(port(id), "POST", "/items/add_action?action=sanity", { headers: auth(token(secret, randomUUID())) });
    check(add.status === 200 && add.json.current_actions.join() === "sanity", `${id} add_action: ${add.status} ${add.text}`);
  }
  log("sanity checks passed: every implementation serves the same API and reads the same KV");

  // --- KV operations per endpoint, counted at the KV service.
  const counts = {};
  const readCounts = async () => JSON.parse((await request(port("kv:count"), "GET", "/__bench/counts", { headers: { "x-bench-control": "1" } })).text);
  await readCounts();
  for (const id of apiImpls) {
    const p = port(`${id}-counted`);
    const fresh = token(secret, randomUUID());
    const scenarios = [
      ["POST /anon/login", () => request(p, "POST", "/anon/login")],
      ["GET /anon/whoami", () => request(p, "GET", "/anon/whoami", { headers: auth(tok.small) })],
      ["GET /items/my_anonymous_items (0 actions)", () => request(p, "GET", "/items/my_anonymous_items", { headers: auth(token(secret, randomUUID())) })],
      ["GET /items/my_anonymous_items (10 actions)", () => request(p, "GET", "/items/my_anonymous_items", { headers: auth(tok.small) })],
      ["GET /items/my_anonymous_items (10,000 actions)", () => request(p, "GET", "/items/my_anonymous_items", { headers: auth(tok.large) })],
      ["POST /items/add_action (visitor's first action)", () => request(p, "POST", "/items/add_action?action=first", { headers: auth(fresh) })],
      ["POST /items/add_action (again within 60 s)", () => request(p, "POST", "/items/add_action?action=second", { headers: auth(fresh) })],
      ["GET /anon/whoami (bad token)", () => request(p, "GET", "/anon/whoami", { headers: auth("a.b.c") })],
    ];
    for (const [name, fn] of scenarios) {
      const r = await fn();
      check(r.status === 200 || name.includes("bad token"), `${id} ${name}: ${r.status} ${r.text.slice(0, 200)}`);
      (counts[name] ??= {})[id] = await readCounts();
    }
  }

  // --- Throughput cells.
  const wrkDir = path.join(OUT, "wrk");
  fs.mkdirSync(wrkDir, { recursive: true });
  const post = wrkScript(path.join(wrkDir, "post.lua"), 'wrk.method = "POST"\n');
  const poolScript = (id) => {
    // A pool of visitors per implementation, cycled, so that no visitor
    // accumulates more than a few dozen actions over the whole run.
    const tokens = Array.from({ length: POOL }, () => token(secret, randomUUID(), 7 * 24 * 3600));
    return wrkScript(path.join(wrkDir, `add-${id}.lua`), `local tokens = {\n${tokens.map((t) => `"${t}"`).join(",\n")}\n}
local n = #tokens
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/items/add_action?action=bench%20" .. i, { ["Authorization"] = "Bearer " .. tokens[(i % n) + 1] })
end
`);
  };
  const endpoints = [
    { key: "mint", label: "mint: `POST /anon/login`", path: "/anon/login", args: () => ["-s", post] },
    { key: "verify", label: "verify: `GET /anon/whoami`", path: "/anon/whoami", args: () => ["-H", `Authorization: Bearer ${tok.small}`] },
    { key: "read10", label: "read: `GET /items/my_anonymous_items`, 10 actions", path: "/items/my_anonymous_items", args: () => ["-H", `Authorization: Bearer ${tok.small}`] },
    { key: "add", label: "write: `POST /items/add_action`", path: "/items/add_action", args: (id) => ["-s", poolScript(id)] },
    { key: "read1k", label: "read: 1,000 actions (one full page)", path: "/items/my_anonymous_items", args: () => ["-H", `Authorization: Bearer ${tok.page}`], only: ["ours", "webcrypto"] },
    { key: "read10k", label: "read: 10,000 actions (first page of 1,000)", path: "/items/my_anonymous_items", args: () => ["-H", `Authorization: Bearer ${tok.large}`], only: ["ours", "webcrypto"] },
    // The scale target: one page of the same size for a visitor with 10
    // actions and one with 10,000. Only this worker serves /v1/actions.
    { key: "page10s", label: "read: `GET /v1/actions?limit=10`, 10 actions", path: "/v1/actions?limit=10", args: () => ["-H", `Authorization: Bearer ${tok.small}`], only: ["ours"] },
    { key: "page10l", label: "read: `GET /v1/actions?limit=10`, 10,000 actions", path: "/v1/actions?limit=10", args: () => ["-H", `Authorization: Bearer ${tok.large}`], only: ["ours"] },
  ];
  const cells = [];
  for (const e of endpoints) {
    for (const id of apiImpls) {
      if (e.only && !e.only.includes(id)) continue;
      cells.push({ impl: id, endpoint: e.key, url: `http://${HOST}:${port(id)}${e.path}`, wrkArgs: e.args(id) });
    }
  }
  for (const id of ["noop-js", "noop-rs", "noop-rs-event", "noop-rs-objshim"]) cells.push({ impl: id, endpoint: "noop", url: `http://${HOST}:${port(id)}/`, wrkArgs: [] });

  if (ONLY.length) cells.splice(0, cells.length, ...cells.filter((c) => ONLY.includes(c.impl)));
  const perRound = cells.length * (DURATION + 0.2);
  log(`${cells.length} cells × ${ROUNDS} rounds × ${DURATION} s ≈ ${Math.ceil((perRound * ROUNDS + cells.length) / 60)} min of load`);
  log("warm-up: every cell once for 1 s");
  for (const cell of cells) {
    const r = await runWrk(cell, 1);
    check(r.non2xx === 0, `${cell.impl} ${cell.endpoint}: ${r.non2xx} non-2xx responses during warm-up`);
  }
  const results = cells.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order every round, so that no implementation always runs
    // right after the same neighbour or at the same point of the round.
    const offset = Math.floor((round * cells.length) / ROUNDS) + round;
    const order = cells.map((_, i) => (i + offset) % cells.length);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const r = await runWrk(cells[i], DURATION, server.child.pid);
      results[i].push({ round, ...r });
    }
    const line = cells.map((c, i) => `${c.impl}/${c.endpoint}=${fmtInt(results[i].at(-1).rps)}`).join(" ");
    log(`round ${round + 1}/${ROUNDS}: ${line}`);
  }

  await stopWorkerd(server.child);
  const finished = new Date();

  // --- Results.
  const cellResult = (impl, endpoint) => {
    const i = cells.findIndex((c) => c.impl === impl && c.endpoint === endpoint);
    if (i === -1) return undefined;
    const rs = results[i];
    const byRound = new Map(rs.map((r) => [r.round, r.rps]));
    return {
      median: median(rs.map((r) => r.rps)),
      min: Math.min(...rs.map((r) => r.rps)),
      max: Math.max(...rs.map((r) => r.rps)),
      byRound,
      cpuUs: median(rs.map((r) => r.cpuUs)),
      non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      requests: rs.reduce((a, r) => a + r.total, 0),
    };
  };
  const ratio = (a, b) => {
    // The ratio of medians, and the range of the per-round ratios (each
    // round's cells ran minutes apart at most, so noise hits both sides).
    const perRound = [...a.byRound.keys()].filter((k) => b.byRound.has(k)).map((k) => a.byRound.get(k) / b.byRound.get(k));
    return { value: a.median / b.median, min: Math.min(...perRound), max: Math.max(...perRound) };
  };

  const res = {};
  const cellText = (r) => (r ? `${fmtInt(r.median)} (${fmtInt(r.min)}–${fmtInt(r.max)})${r.non2xx || r.errors ? ` ⚠ ${r.non2xx} non-2xx, ${r.errors} socket errors` : ""}` : "—");
  for (const c of cells) (res[c.impl] ??= {})[c.endpoint] = cellResult(c.impl, c.endpoint);

  if (ONLY.length) {
    // A partial run: the medians only, nothing written.
    for (const c of cells) console.log(`${c.impl} ${c.endpoint}: ${cellText(res[c.impl][c.endpoint])}, ${res[c.impl][c.endpoint].cpuUs.toFixed(0)} µs CPU/request`);
    return;
  }

  const md = [];
  const cpu = (() => {
    try {
      return /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? os.cpus()[0]?.model;
    } catch {
      return os.cpus()[0]?.model;
    }
  })();
  const versions = {
    workerd: execFileSync(WORKERD, ["--version"]).toString().trim(),
    wrk: (spawnSync("wrk", ["--version"]).stdout?.toString() ?? "").split("\n")[0].replace(/ Copyright.*$/, "").trim(),
    node: process.version,
    jose: JSON.parse(fs.readFileSync(path.join(BENCH, "node_modules/jose/package.json"), "utf8")).version,
  };
  const gitRev = (() => {
    try {
      const rev = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).toString().trim();
      const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"], { cwd: ROOT }).toString().trim() !== "";
      return dirty ? `${rev} (with uncommitted changes to src/ or Cargo files)` : rev;
    } catch {
      return "unknown";
    }
  })();
  const wasmHash = createHash("sha256").update(fs.readFileSync(path.join(ROOT, "build/index_bg.wasm"))).digest("hex").slice(0, 12);
  const command = `node bench/run.mjs --rounds ${ROUNDS} --duration ${DURATION} --connections ${CONNECTIONS} --pool ${POOL} --startup-runs ${STARTUP_RUNS}`;

  md.push(`Run on ${started.toISOString().slice(0, 16).replace("T", " ")} UTC (${Math.round((finished - started) / 60000)} min), commit ${gitRev}, build/index_bg.wasm sha256 ${wasmHash}….`);
  md.push("");
  md.push(`- Machine: ${os.cpus().length} CPUs (\`nproc\` = ${execFileSync("nproc").toString().trim()}), ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}; shared and noisy.`);
  md.push(`- Command: \`make build && ${command}\` (the defaults: \`make bench\`).`);
  md.push(`- Load: wrk (${versions.wrk}), 1 thread, ${CONNECTIONS} connections, ${DURATION} s per cell, ${ROUNDS} rounds, order rotated every round; a 1 s warm-up of every cell first. ${cells.length} cells.`);
  md.push(`- KV: Miniflare ${JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/miniflare/package.json"), "utf8")).version}'s KV implementation inside the same workerd, shared by every implementation${sharedModule.patched ? "; its prefix list query given index range bounds (see below)" : ", unpatched (every list scans the whole namespace)"}.`);
  md.push(`- Runtime: ${versions.workerd} (node_modules/.bin/workerd), one process, one socket per implementation, no proxy; compatibility date ${compatibilityDate}; Node ${versions.node}; jose ${versions.jose}.`);
  md.push("");

  md.push("### Requests per second");
  md.push("");
  md.push("Median of the rounds, with the min–max in brackets. Higher is better.");
  md.push("");
  md.push("| endpoint | this worker | JS + jose | JS + WebCrypto |");
  md.push("|---|---|---|---|");
  for (const e of endpoints) md.push(`| ${e.label} | ${cellText(res.ours[e.key])} | ${cellText(res.jose[e.key])} | ${cellText(res.webcrypto[e.key])} |`);
  md.push("");
  md.push("| no-op worker (any request) | requests/s | workerd CPU per request |");
  md.push("|---|---|---|");
  for (const id of ["noop-js", "noop-rs", "noop-rs-event", "noop-rs-objshim"]) md.push(`| ${impls[id].label} | ${cellText(res[id].noop)} | ${res[id].noop.cpuUs.toFixed(0)} µs |`);
  md.push("");

  md.push("### Ratios: this worker ÷ each peer");
  md.push("");
  md.push("Ratio of the medians; in brackets the range of the per-round ratios. Above 1 means this worker serves more requests per second.");
  md.push("");
  md.push("| endpoint | ÷ jose | ÷ WebCrypto | ÷ no-op JS (ceiling) | ÷ no-op Rust, plain export | ÷ no-op Rust, #[event(fetch)] |");
  md.push("|---|---|---|---|---|---|");
  const ratioText = (a, b) => {
    if (!a || !b) return "—";
    const r = ratio(a, b);
    return `${fmtRatio(r.value)} (${r.min.toFixed(2)}–${r.max.toFixed(2)})`;
  };
  for (const e of endpoints) {
    const o = res.ours[e.key];
    md.push(`| ${e.label} | ${ratioText(o, res.jose[e.key])} | ${ratioText(o, res.webcrypto[e.key])} | ${ratioText(o, res["noop-js"].noop)} | ${ratioText(o, res["noop-rs"].noop)} | ${ratioText(o, res["noop-rs-event"].noop)} |`);
  }
  md.push("");
  md.push("Fixed cost of the Rust layer, from the no-op workers: " +
    `plain export ÷ no-op JS = ${ratioText(res["noop-rs"].noop, res["noop-js"].noop)}; ` +
    `#[event(fetch)] ÷ no-op JS = ${ratioText(res["noop-rs-event"].noop, res["noop-js"].noop)}; ` +
    `plain export with a plain-object shim ÷ no-op JS = ${ratioText(res["noop-rs-objshim"].noop, res["noop-js"].noop)}. ` +
    `In workerd CPU time per request that is ${(res["noop-rs"].noop.cpuUs - res["noop-js"].noop.cpuUs).toFixed(0)} µs (plain) and ` +
    `${(res["noop-rs-event"].noop.cpuUs - res["noop-js"].noop.cpuUs).toFixed(0)} µs (event) and ` +
    `${(res["noop-rs-objshim"].noop.cpuUs - res["noop-js"].noop.cpuUs).toFixed(0)} µs (plain-object shim) more than the JS no-op's ${res["noop-js"].noop.cpuUs.toFixed(0)} µs.`);
  md.push("");

  // Targets of issue 8.
  md.push("### Targets of issue 8");
  md.push("");
  md.push("| target | measured | verdict |");
  md.push("|---|---|---|");
  const verdict = (ok) => (ok ? "met" : "**missed**");
  for (const key of ["mint", "verify"]) {
    const label = key === "mint" ? "mint" : "`whoami`";
    for (const [peer, peerKey, want, name] of [["jose", key, 1.3, "jose"], ["webcrypto", key, 1.0, "WebCrypto"], ["noop-js", "noop", 0.7, "no-op JS ceiling"]]) {
      const r = ratio(res.ours[key], res[peer][peerKey]);
      const miss = r.value >= want ? "" : ` (short by ${((1 - r.value / want) * 100).toFixed(0)} %: needs ${fmtInt(want * res[peer][peerKey].median)}/s, got ${fmtInt(res.ours[key].median)}/s)`;
      md.push(`| ${label} ≥ ${want}× ${name} | ${fmtRatio(r.value)} (rounds ${r.min.toFixed(2)}–${r.max.toFixed(2)})${miss} | ${verdict(r.value >= want)} |`);
    }
  }
  const ours = sizeRows.find((s) => s.id === "ours");
  md.push(`| size ≤ 150 KB gzip, wasm + JS | ${fmtBytes(ours.gzip)} gzip (${fmtBytes(ours.raw)} raw) | ${verdict(ours.gzip <= 150000)}${ours.gzip > 150000 ? ` by ${fmtInt(ours.gzip - 150000)} B` : ""} |`);
  const scale = ratio(res.ours.page10l, res.ours.page10s);
  const scalePage = ratio(res.ours.read10k, res.ours.read1k);
  md.push(`| reading a page costs the same at 10 actions as at 10,000 | a page of 10 (\`GET /v1/actions?limit=10\`), 10,000 ÷ 10 actions: ${fmtRatio(scale.value)} the requests/s (rounds ${scale.min.toFixed(2)}–${scale.max.toFixed(2)}); the seed's page of 1,000, 10,000 ÷ 1,000 actions: ${fmtRatio(scalePage.value)} (rounds ${scalePage.min.toFixed(2)}–${scalePage.max.toFixed(2)}) | ${verdict(scale.value >= 0.9)} |`);
  md.push("");
  md.push("A ratio target counts as met when the ratio of the medians reaches it. \"Within noise\" for the page-read target is taken as at most 10 % fewer requests/s, for pages of the same size: a visitor with 10 actions has a seed page of 10, one with 10,000 a seed page of 1,000, which is a hundred times the work whatever the layout.");
  md.push("");

  md.push("### Cost per request");
  md.push("");
  md.push("workerd's CPU time (user + system, from /proc) over each cell divided by the requests answered, median of the rounds; in brackets 1 / (median requests/s), the wall time per request of the one busy workerd thread. Both include workerd's HTTP server, the in-process KV service and the log line. Lower is better.");
  md.push("");
  md.push("| endpoint | this worker | JS + jose | JS + WebCrypto |");
  md.push("|---|---|---|---|");
  const us = (r) => (r ? `${r.cpuUs.toFixed(0)} µs (${(1e6 / r.median).toFixed(0)} µs)` : "—");
  for (const e of endpoints) md.push(`| ${e.label} | ${us(res.ours[e.key])} | ${us(res.jose[e.key])} | ${us(res.webcrypto[e.key])} |`);
  md.push(`| no-op: JS / Rust plain export / Rust #[event(fetch)] / Rust plain-object shim | ${us(res["noop-js"].noop)} / ${us(res["noop-rs"].noop)} / ${us(res["noop-rs-event"].noop)} / ${us(res["noop-rs-objshim"].noop)} | | |`);
  md.push("");

  md.push("### Size");
  md.push("");
  md.push("Gzip at level 9, each file on its own; totals add the files a deployment uploads.");
  md.push("");
  md.push("| implementation | files | raw | gzip |");
  md.push("|---|---|---|---|");
  for (const s of sizeRows) md.push(`| ${s.label} | ${s.parts.map((p) => `${p.name} ${fmtInt(p.raw)} / ${fmtInt(p.gzip)}`).join("; ")} | ${fmtBytes(s.raw)} | ${fmtBytes(s.gzip)} |`);
  md.push("");

  md.push("### Start-up: workerd process start to first answered request");
  md.push("");
  md.push(`Each implementation alone in a fresh workerd (with the KV services for those that use KV), ${STARTUP_RUNS} cold starts; \`GET /\` polled every millisecond from the moment the process is spawned. Median, min–max.`);
  md.push("");
  md.push("| implementation | socket listening | first answered request (min–max) |");
  md.push("|---|---|---|");
  for (const [id, s] of Object.entries(startup)) md.push(`| ${impls[id].label} | ${s.listening.toFixed(0)} ms | ${s.answered.toFixed(0)} ms (${s.min.toFixed(0)}–${s.max.toFixed(0)}) |`);
  md.push("");

  md.push("### KV operations per request, counted");
  md.push("");
  md.push("Counted by a service between each worker's `ANON_KV` binding and the KV implementation (bench/peers/kv-counter.mjs), one request at a time, on copies of the workers that are not on the timed path.");
  md.push("");
  md.push("| request | this worker | JS + jose | JS + WebCrypto |");
  md.push("|---|---|---|---|");
  const countText = (c) => {
    const parts = Object.entries(c ?? {}).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
    return parts.length ? parts.join(" + ") : "none";
  };
  for (const [name, byImpl] of Object.entries(counts)) md.push(`| ${name} | ${countText(byImpl.ours)} | ${countText(byImpl.jose)} | ${countText(byImpl.webcrypto)} |`);
  md.push("");

  md.push("### Reading one page of actions: visitors with 10, 1,000 and 10,000 actions");
  md.push("");
  md.push("| visitor's actions | page size | this worker | JS + WebCrypto |");
  md.push("|---|---|---|---|");
  const pageText = (r) => (r ? `${fmtInt(r.median)}/s, ${us(r)}` : "—");
  for (const [key, n, page] of [["page10s", "10", "10 (`/v1/actions?limit=10`)"], ["page10l", "10,000", "10 (`/v1/actions?limit=10`)"], ["read10", "10", "10 (seed)"], ["read1k", "1,000", "1,000 (seed)"], ["read10k", "10,000", "1,000 (seed)"]]) {
    md.push(`| ${n} | ${page} | ${pageText(res.ours[key])} | ${pageText(res.webcrypto[key])} |`);
  }
  md.push("");

  const table = md.join("\n");
  console.log(table);

  const raw = { started, finished, command, options: { ROUNDS, DURATION, CONNECTIONS, POOL, STARTUP_RUNS }, versions, sizes: sizeRows, startup, counts, cells: cells.map((c, i) => ({ impl: c.impl, endpoint: c.endpoint, rounds: results[i] })) };
  fs.writeFileSync(path.join(OUT, "results.json"), JSON.stringify(raw, null, 2));

  if (OUT_FILE !== "-") writeReport(OUT_FILE, table);
}

const BEGIN = "<!-- bench/run.mjs: results begin -->";
const END = "<!-- bench/run.mjs: results end -->";

/** Replaces the generated part of BENCHMARKS.md, keeping what is written around it. */
function writeReport(file, table) {
  let text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "# Benchmarks\n\nMade by `make bench` (`node bench/run.mjs`).\n";
  if (!(text.includes(BEGIN) && text.indexOf(END) > text.indexOf(BEGIN))) text += `\n## Latest run\n\n${BEGIN}\n${END}\n`;
  const a = text.indexOf(BEGIN) + BEGIN.length;
  const b = text.indexOf(END);
  fs.writeFileSync(file, `${text.slice(0, a)}\n${table}\n${text.slice(b)}`);
  log(`wrote ${file}`);
}

// Run when executed; bench/profile.mjs imports the helpers without running.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    for (const child of running) child.kill("SIGKILL");
    process.exit(1);
  });
}

export {
  BENCH, ROOT, OUT, HOST, log, run, haveCommand, sleep, token, request, check, requireBuild, ensureWrk,
  ensureBenchNodeModules, tools, buildNoopRust, bundlePeers, implementations, workerdConfig, startWorkerd,
  stopWorkerd, seed, useMiniflareShared,
};
