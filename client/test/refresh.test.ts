// Refresh timing: the token is renewed silently at 80% of its lifetime, in
// the background while the app listens and before any request that finds it
// due, and a failed refresh neither loses a valid token nor loops.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AnonSessionClient, type Session, memoryStorage } from "../src/index.js";
import { fakeWorker } from "./fake-worker.js";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2026-05-01T00:00:00Z"));
});
afterEach(() => {
  vi.useRealTimers();
});

const TTL = 100; // seconds; refresh is due at 80

describe("refresh timing", () => {
  it("refreshes in the background at 80% of the lifetime, not before, and keeps the anon_id", async () => {
    const worker = fakeWorker({ ttlSeconds: TTL });
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    const seen: (Session | null)[] = [];
    client.subscribe((session) => seen.push(session));
    const first = await client.getSession();

    await vi.advanceTimersByTimeAsync(79_999);
    expect(worker.count("POST", "/anon/refresh")).toBe(0);

    await vi.advanceTimersByTimeAsync(1);
    expect(worker.count("POST", "/anon/refresh")).toBe(1);
    expect(worker.calls.at(-1)?.token).toBe(first.accessToken);
    const second = client.session!;
    expect(second.anonId).toBe(first.anonId);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(seen.at(-1)).toEqual(second);

    // The next refresh is timed from the new token.
    await vi.advanceTimersByTimeAsync(79_999);
    expect(worker.count("POST", "/anon/refresh")).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(worker.count("POST", "/anon/refresh")).toBe(2);
    expect(worker.count("POST", "/anon/login")).toBe(1);
  });

  it("a request that finds the token due refreshes it first, then sends the new one", async () => {
    const worker = fakeWorker({ ttlSeconds: TTL });
    // No listener, so no background timer: the request itself must notice.
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    const first = await client.getSession();

    vi.setSystemTime(Date.now() + 79_000);
    await client.me();
    expect(worker.count("POST", "/anon/refresh")).toBe(0);

    vi.setSystemTime(Date.now() + 2_000);
    const me = await client.me();

    expect(worker.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      "POST /anon/login",
      "GET /anon/me",
      "POST /anon/refresh",
      "GET /anon/me",
    ]);
    expect(worker.calls.at(-1)?.token).not.toBe(first.accessToken);
    expect(me.anon_id).toBe(first.anonId);
  });

  it("a stored token that expired while the app was closed is refreshed, keeping the anon_id", async () => {
    const worker = fakeWorker({ ttlSeconds: TTL, graceSeconds: 1000 });
    const storage = memoryStorage();
    const before = await new AnonSessionClient({ fetch: worker.fetch, storage }).getSession();

    vi.setSystemTime(Date.now() + 500_000); // expired, within the grace
    const after = await new AnonSessionClient({ fetch: worker.fetch, storage }).getSession();

    expect(after.anonId).toBe(before.anonId);
    expect(worker.count("POST", "/anon/refresh")).toBe(1);
    expect(worker.count("POST", "/anon/login")).toBe(1);
  });

  it("a token past the refresh grace is replaced by a new session", async () => {
    const worker = fakeWorker({ ttlSeconds: TTL, graceSeconds: 10 });
    const storage = memoryStorage();
    const before = await new AnonSessionClient({ fetch: worker.fetch, storage }).getSession();

    vi.setSystemTime(Date.now() + 200_000);
    const after = await new AnonSessionClient({ fetch: worker.fetch, storage }).getSession();

    expect(worker.count("POST", "/anon/refresh")).toBe(1);
    expect(worker.count("POST", "/anon/login")).toBe(2);
    expect(after.anonId).not.toBe(before.anonId);
  });

  it("offline at refresh time: the still-valid token keeps serving, and the retry waits 30 s", async () => {
    const worker = fakeWorker({ ttlSeconds: TTL });
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    client.subscribe(() => {});
    const first = await client.getSession();
    let offline = true;
    worker.intercept = (call) => {
      if (offline && call.path === "/anon/refresh") throw new TypeError("Failed to fetch");
      return undefined;
    };

    await vi.advanceTimersByTimeAsync(80_000);
    expect(worker.count("POST", "/anon/refresh")).toBe(1);
    // A request in the meantime tries once more and falls back to the valid token.
    const me = await client.me();
    expect(me.anon_id).toBe(first.anonId);
    expect(worker.count("POST", "/anon/refresh")).toBe(2);

    await vi.advanceTimersByTimeAsync(29_999);
    expect(worker.count("POST", "/anon/refresh")).toBe(2);
    offline = false;
    await vi.advanceTimersByTimeAsync(1);
    expect(worker.count("POST", "/anon/refresh")).toBe(3);
    expect(client.session?.anonId).toBe(first.anonId);
    expect(client.session?.accessToken).not.toBe(first.accessToken);
  });

  it("falls back to the token's exp when the answer has no expires_in (the seed's backend)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = btoa(JSON.stringify({ sub: "x", exp: now + 1000, iat: now }))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_");
    const fetch = async () =>
      new Response(
        JSON.stringify({ access_token: `h.${payload}.s`, token_type: "bearer", anon_id: "a" }),
        { status: 200 },
      );
    const client = new AnonSessionClient({ fetch, storage: "memory" });

    const session = await client.getSession();

    expect(session.expiresAt - session.obtainedAt).toBe(1_000_000);
    expect(session.refreshAt - session.obtainedAt).toBe(800_000);
  });
});
