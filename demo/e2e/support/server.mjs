// Runs `make dev` (exactly what a developer runs) on a free port with a
// fresh KV directory, waits until both the API and the demo answer, and
// stops it with every process it started, also when a test fails.

import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** The first start may compile the worker; later ones take seconds. */
const START_TIMEOUT_MS = 10 * 60 * 1000;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function answers(url, check) {
  try {
    const response = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(5000) });
    return check(response);
  } catch {
    return false;
  }
}

/** The development secret `make dev` keeps in .dev.vars, to forge test tokens with. */
export async function devSecret() {
  const vars = await readFile(path.join(ROOT, ".dev.vars"), "utf8");
  const line = vars.split("\n").find((l) => l.startsWith("JWT_SECRET="));
  if (!line) throw new Error(".dev.vars has no JWT_SECRET");
  return line.slice("JWT_SECRET=".length).trim();
}

export async function startDevServer() {
  const port = await freePort();
  const persist = await mkdtemp(path.join(tmpdir(), "anon-e2e-kv-"));
  const base = `http://127.0.0.1:${port}`;
  const output = [];
  // Its own process group, so that stopping it stops wrangler and workerd too.
  const child = spawn(
    "make",
    ["--no-print-directory", "dev", `PORT=${port}`, `DEV_ARGS=--persist-to ${persist}`],
    { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } },
  );
  child.stdout.on("data", (chunk) => output.push(chunk.toString()));
  child.stderr.on("data", (chunk) => output.push(chunk.toString()));
  let exited = null;
  const exit = new Promise((resolve) => child.on("exit", (code, signal) => resolve((exited = { code, signal }))));

  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  // If this process dies before stop() runs, do not leave a server behind.
  const onExit = () => killGroup("SIGKILL");
  process.on("exit", onExit);

  async function stop() {
    process.off("exit", onExit);
    if (!exited) {
      killGroup("SIGTERM");
      const timer = setTimeout(() => killGroup("SIGKILL"), 5000);
      await exit;
      clearTimeout(timer);
    }
    // workerd may outlive make by a moment; its group goes with it.
    killGroup("SIGKILL");
    await rm(persist, { recursive: true, force: true });
  }

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`make dev exited (${JSON.stringify(exited)}) before serving:\n${output.join("")}`);
    }
    const api = await answers(`${base}/`, (r) => r.status === 200);
    const demo = api && (await answers(`${base}/demo/`, (r) => r.status === 200));
    if (demo) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`make dev did not serve ${base} in time:\n${output.join("")}`);
    }
    await sleep(500);
  }
  return { base, port, stop, output };
}
