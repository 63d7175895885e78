// Starts the real built worker (build/, made by `make build`) under
// Miniflare, with a real local KV namespace, and tears it down after.

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { after, before } from "node:test";
import { request as httpRequest } from "node:http";
import { Miniflare, _enableControlEndpoints } from "miniflare";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BASE = "http://127.0.0.1:8787";
const KV_NAMESPACE_ID = "anon-kv-test";

/** A fresh secret for each test file, as `make dev` makes one. */
export function newSecret() {
  return randomBytes(32).toString("base64url");
}

/**
 * Starts a worker for the tests in the calling file. `bindings` replace the
 * defaults; a binding set to `undefined` is left out. `build` names the
 * build folder (`build-test` holds the test-hooks build). `kvClock` lets the
 * test set the KV namespace's clock (see `setKvClock`).
 */
export function useWorker(bindings = {}, { kv = true, build = "build", options = {}, kvClock = false } = {}) {
  const handle = { mf: undefined, secret: undefined, logs: [], options: undefined };
  before(async () => {
    // Miniflare's control endpoints are how its own KV tests set the KV
    // clock. The switch is process-wide and must be on before the instance
    // is built; it only makes Miniflare's internal objects answer control
    // requests that nothing but `setKvClock` sends.
    if (kvClock) _enableControlEndpoints();
    const merged = { JWT_SECRET: newSecret(), ...bindings };
    for (const [name, value] of Object.entries(merged)) {
      if (value === undefined) delete merged[name];
    }
    handle.secret = merged.JWT_SECRET;
    handle.options = {
      modules: true,
      modulesRoot: ROOT,
      scriptPath: path.join(ROOT, build, "worker/shim.mjs"),
      modulesRules: [
        { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
        { type: "CompiledWasm", include: ["**/*.wasm"] },
      ],
      compatibilityDate: "2026-04-20",
      bindings: merged,
      kvNamespaces: kv ? { ANON_KV: KV_NAMESPACE_ID } : {},
      // The static assets, as wrangler.toml's [assets] serves them:
      // /openapi.json (and the demo) answer before the worker runs.
      assets: {
        directory: path.join(ROOT, "build-assets"),
        routerConfig: { has_user_worker: true },
      },
      cf: { country: "NL" },
      // Keep the worker's console lines: tests read the structured log.
      handleRuntimeStdio(stdout, stderr) {
        for (const stream of [stdout, stderr]) {
          let pending = "";
          stream.on("data", (chunk) => {
            pending += chunk.toString();
            const lines = pending.split("\n");
            pending = lines.pop();
            handle.logs.push(...lines);
          });
        }
      },
      ...options,
    };
    handle.mf = new Miniflare(handle.options);
    await handle.mf.ready;
  });
  after(async () => {
    await handle.mf?.dispose();
  });
  return {
    get secret() {
      return handle.secret;
    },
    get mf() {
      return handle.mf;
    },
    /** Every line the worker has printed so far. */
    get logs() {
      return handle.logs;
    },
    /**
     * Restarts the worker with `bindings` replacing its bindings (`undefined`
     * removes one), as a `wrangler secret put` or a deploy does: the new
     * isolate reads its configuration afresh.
     */
    async rebind(bindings) {
      const merged = { ...handle.options.bindings, ...bindings };
      for (const [name, value] of Object.entries(merged)) {
        if (value === undefined) delete merged[name];
      }
      handle.options = { ...handle.options, bindings: merged };
      await handle.mf.setOptions(handle.options);
    },
    /** The worker's own HTTP address, for clients outside this process. */
    async url() {
      return (await handle.mf.ready).toString().replace(/\/$/, "");
    },
    /** Sends a request; returns status, headers and the parsed JSON body. */
    // `http: true` sends the request over the worker's real socket instead of
    // dispatchFetch, whose transport refuses URLs of about 100 KB.
    // `json` sends a value as a JSON body with its Content-Type; `body`
    // sends a string or stream as it is.
    async call(method, target, { token, authorization, headers = {}, raw = false, http = false, json, body } = {}) {
      const h = { ...headers };
      if (token !== undefined) h.authorization = `Bearer ${token}`;
      if (authorization !== undefined) h.authorization = authorization;
      if (json !== undefined) {
        h["content-type"] ??= "application/json";
        body = JSON.stringify(json);
      }
      const init = { method, headers: h, body, ...(body instanceof ReadableStream ? { duplex: "half" } : {}) };
      const response = http
        ? await overSocket(`${await this.url()}${target}`, init)
        : await handle.mf.dispatchFetch(`${BASE}${target}`, init);
      const text = await response.text();
      if (raw) return { status: response.status, headers: response.headers, text };
      let parsed;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new Error(`${method} ${target}: body is not JSON: ${text.slice(0, 200)}`);
      }
      return { status: response.status, headers: response.headers, body: parsed };
    },
    /**
     * Sets the clock of the worker's KV namespace to `unixMs` and stops it
     * there: from now on keys are written with expirations counted from it
     * and expire against it, until it is set again. Needs `kvClock: true`.
     *
     * Miniflare 4 checks KV expirations in a Durable Object whose clock is
     * its `Timers`; this uses the same private control request as
     * Miniflare's own KV tests (`enableFakeTimers`). The API is internal,
     * and pinned by package-lock.json; the tests that use it fail, rather
     * than pass vacuously, if it stops working, since they assert that keys
     * are gone at a time the real clock has not reached. At a key's very
     * expiration second Miniflare's `get` already misses it but `list`
     * still returns it (`<=` against `>=` in its SQL); check either side.
     */
    async setKvClock(unixMs) {
      const ns = await handle.mf._getInternalDurableObjectNamespace("kv", "kv:ns", "KVNamespaceObject");
      const stub = ns.get(ns.idFromName(KV_NAMESPACE_ID));
      const response = await stub.fetch("http://placeholder/", {
        cf: { miniflare: { controlOp: { name: "enableFakeTimers", args: [unixMs] } } },
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`setting the KV clock failed: ${response.status} ${text}`);
    },
    /** The worker's KV namespace, to seed and inspect it directly. */
    async kv() {
      return handle.mf.getKVNamespace("ANON_KV");
    },
    async login() {
      const r = await this.call("POST", "/anon/login");
      if (r.status !== 200) throw new Error(`login failed: ${r.status}`);
      return r.body;
    },
  };
}

/** Runs tests/support/interop.py with the pinned Python libraries. */
export function python(...args) {
  const interpreter = process.env.PYTHON ?? path.join(ROOT, ".venv/bin/python");
  return execFileSync(interpreter, [path.join(ROOT, "tests/support/interop.py"), ...args], {
    encoding: "utf8",
  }).trim();
}

/**
 * A request over a real socket that reads the answer even when the server
 * answers before taking the whole body (a 413 for an oversized body does,
 * and may then close the connection): `fetch` reports that as a failed
 * request, node:http lets the answer through first.
 */
function overSocket(url, { method, headers, body }) {
  return new Promise((resolve, reject) => {
    let answered = false;
    const request = httpRequest(url, { method, headers }, (response) => {
      answered = true;
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const h = new Headers();
        for (const [name, value] of Object.entries(response.headers)) {
          for (const one of [value].flat()) h.append(name, one);
        }
        resolve({ status: response.statusCode, headers: h, text: async () => text });
      });
      response.on("error", reject);
    });
    // A write cut off by the server's early answer is not the test's failure.
    request.on("error", (e) => (answered ? undefined : reject(e)));
    if (body === undefined) return request.end();
    // With a body, the headers go first and the body only if no answer has
    // come within a second, as a client waiting on `Expect: 100-continue`
    // would (RFC 9110 §10.1.1). A server that answers without reading the
    // body (a 413) then never receives it, so it has no unread bytes to
    // reset the connection over before the answer is read.
    request.setHeader("content-length", Buffer.byteLength(body));
    request.flushHeaders();
    const later = setTimeout(() => request.end(body), 1000);
    request.on("response", (response) => {
      clearTimeout(later);
      response.on("end", () => request.destroy());
    });
  });
}
