// The 401 rule: renew once (refresh, or mint when the refresh is refused),
// retry once, then report an error. Never a loop.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AnonSessionClient, UnauthorizedError } from "../src/index.js";
import { fakeWorker } from "./fake-worker.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const json401 = (detail: string) =>
  new Response(JSON.stringify({ detail }), { status: 401, headers: { "WWW-Authenticate": "Bearer" } });

describe("401: renew once, retry once", () => {
  it("a refused token is refreshed and the request retried once", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    const first = await client.getSession();
    let refusals = 1;
    worker.intercept = (call) =>
      call.path === "/anon/me" && refusals-- > 0 ? json401("token has expired") : undefined;

    const me = await client.me();

    expect(worker.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      "POST /anon/login",
      "GET /anon/me",
      "POST /anon/refresh",
      "GET /anon/me",
    ]);
    expect(me.anon_id).toBe(first.anonId);
    expect(worker.calls[3]?.token).not.toBe(first.accessToken);
  });

  it("an erased session (its refresh refused too) gets a new session, and the request is retried", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    const first = await client.getSession();
    // Erased from elsewhere (another device holding the same token, say).
    await worker.fetch("/anon/me", {
      method: "DELETE",
      headers: { Authorization: `Bearer ${first.accessToken}` },
    });
    worker.calls.length = 0;

    const action = await client.recordAction("after erase");

    expect(worker.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      "POST /v1/actions",
      "POST /anon/refresh",
      "POST /anon/login",
      "POST /v1/actions",
    ]);
    expect(action.type).toBe("after erase");
    expect(client.session?.anonId).not.toBe(first.anonId);
  });

  it("a second 401 is reported as UnauthorizedError, with no third attempt", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    await client.getSession();
    worker.intercept = (call) => (call.path === "/anon/me" ? json401("nope") : undefined);

    const error = await client.me().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(error).toMatchObject({ status: 401, detail: "nope", code: "unauthorized" });
    expect(worker.count("GET", "/anon/me")).toBe(2);
    expect(worker.count("POST", "/anon/refresh") + worker.count("POST", "/anon/login")).toBe(2);
  });

  it("a 401 from every route, refresh included, still stops after one new session", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    await client.getSession();
    worker.intercept = (call) => (call.path !== "/anon/login" ? json401("refused") : undefined);

    await expect(client.listActions()).rejects.toBeInstanceOf(UnauthorizedError);

    expect(worker.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      "POST /anon/login",
      "GET /v1/actions",
      "POST /anon/refresh",
      "POST /anon/login",
      "GET /v1/actions",
    ]);
  });

  it("concurrent requests refused with the same token share a single renewal", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    const first = await client.getSession();
    worker.intercept = (call) =>
      call.token === first.accessToken && call.path !== "/anon/refresh"
        ? json401("token has expired")
        : undefined;

    const pages = await Promise.all([client.listActions(), client.listActions(), client.me()]);

    expect(pages).toHaveLength(3);
    expect(worker.count("POST", "/anon/refresh")).toBe(1);
    expect(worker.count("POST", "/anon/login")).toBe(1);
  });

  it("a streamed body cannot be replayed, so its 401 is reported without a retry", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    await client.getSession();
    worker.intercept = (call) => (call.path === "/v1/actions" ? json401("nope") : undefined);

    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"type":"x"}'));
        controller.close();
      },
    });
    await expect(
      client.fetch("/v1/actions", { method: "POST", body, duplex: "half" } as RequestInit),
    ).rejects.toBeInstanceOf(UnauthorizedError);
    expect(worker.count("POST", "/v1/actions")).toBe(1);
  });

  it("never sends the token to another origin", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });

    await expect(client.fetch("https://elsewhere.example/x")).rejects.toThrow(TypeError);
    await expect(client.fetch("//elsewhere.example/x")).rejects.toThrow(TypeError);
    expect(worker.calls).toHaveLength(0);
  });
});
