// Several callers, or several tabs, that all find no token make exactly one
// mint, and all end up with the same anon_id.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AnonSessionClient, memoryStorage } from "../src/index.js";
import { FakeLocks, fakeWorker } from "./fake-worker.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("single mint", () => {
  it("concurrent getSession calls in one tab make one mint", async () => {
    const worker = fakeWorker();
    worker.tokenDelayMs = 50;
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });

    const pending = Array.from({ length: 10 }, () => client.getSession());
    await vi.advanceTimersByTimeAsync(50);
    const sessions = await Promise.all(pending);

    expect(worker.count("POST", "/anon/login")).toBe(1);
    expect(new Set(sessions.map((s) => s.anonId)).size).toBe(1);
  });

  it("concurrent API calls on a fresh page make one mint", async () => {
    const worker = fakeWorker();
    worker.tokenDelayMs = 50;
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });

    const pending = Promise.all([client.me(), client.listActions(), client.recordAction("opened")]);
    await vi.advanceTimersByTimeAsync(50);
    const [me] = await pending;

    expect(worker.count("POST", "/anon/login")).toBe(1);
    const tokens = new Set(worker.calls.filter((c) => c.path !== "/anon/login").map((c) => c.token));
    expect(tokens.size).toBe(1);
    expect(me.anon_id).toBe(client.session?.anonId);
  });

  it("two tabs sharing localStorage and Web Locks make one mint and share the anon_id", async () => {
    const worker = fakeWorker();
    worker.tokenDelayMs = 50;
    const shared = memoryStorage({ shared: true });
    const locks = new FakeLocks();
    const tabs = [1, 2, 3].map(
      () => new AnonSessionClient({ fetch: worker.fetch, storage: shared, locks }),
    );

    const pending = tabs.map((tab) => tab.getSession());
    await vi.advanceTimersByTimeAsync(1000);
    const sessions = await Promise.all(pending);

    expect(worker.count("POST", "/anon/login")).toBe(1);
    expect(new Set(sessions.map((s) => s.anonId)).size).toBe(1);
    expect(new Set(sessions.map((s) => s.accessToken)).size).toBe(1);
    expect(worker.count("POST", "/anon/refresh")).toBe(0);
  });

  it("without Web Locks, the storage fallback still makes one mint across tabs", async () => {
    const worker = fakeWorker();
    worker.tokenDelayMs = 50;
    const shared = memoryStorage({ shared: true });
    const tabs = [1, 2, 3].map(
      () => new AnonSessionClient({ fetch: worker.fetch, storage: shared, locks: null }),
    );

    const pending = tabs.map((tab) => tab.getSession());
    await vi.advanceTimersByTimeAsync(2000);
    const sessions = await Promise.all(pending);

    expect(worker.count("POST", "/anon/login")).toBe(1);
    expect(worker.count("POST", "/anon/refresh")).toBe(0);
    expect(new Set(sessions.map((s) => s.accessToken)).size).toBe(1);
    // The claim is released once the mint is stored.
    expect(shared.get("anon-sessions:anon-sessions:lock")).toBeNull();
  });

  it("a tab that waited for the lock takes the session the holder stored a moment later", async () => {
    // The lock grant can reach a tab before the previous holder's storage
    // write does; the waiter must not mint a second session meanwhile.
    const worker = fakeWorker();
    const shared = memoryStorage({ shared: true });
    const lagging = memoryStorage({ shared: true });
    // The second tab sees writes to the shared store 100 ms late.
    const unsubscribe = shared.subscribe!("anon-sessions", () => {
      const value = shared.get("anon-sessions");
      setTimeout(() => (value ? lagging.set("anon-sessions", value) : lagging.remove("anon-sessions")), 100);
    });
    const locks = new FakeLocks();
    const first = new AnonSessionClient({ fetch: worker.fetch, storage: shared, locks });
    const second = new AnonSessionClient({ fetch: worker.fetch, storage: lagging, locks });

    const pending = Promise.all([first.getSession(), second.getSession()]);
    await vi.advanceTimersByTimeAsync(1000);
    const [a, b] = await pending;
    unsubscribe();

    expect(worker.count("POST", "/anon/login")).toBe(1);
    expect(b.anonId).toBe(a.anonId);
  });

  it("a stored fresh token is reused without any request", async () => {
    const worker = fakeWorker();
    const shared = memoryStorage({ shared: true });
    const first = new AnonSessionClient({ fetch: worker.fetch, storage: shared, locks: new FakeLocks() });
    const original = await first.getSession();

    // A reload: a new client on the same storage.
    const reloaded = new AnonSessionClient({ fetch: worker.fetch, storage: shared, locks: new FakeLocks() });
    const again = await reloaded.getSession();

    expect(again).toEqual(original);
    expect(worker.calls).toHaveLength(1);
  });

  it("storage that is unreadable counts as no session", async () => {
    const worker = fakeWorker();
    const storage = memoryStorage();
    storage.set("anon-sessions", "{not json");
    const client = new AnonSessionClient({ fetch: worker.fetch, storage });

    const session = await client.getSession();

    expect(worker.count("POST", "/anon/login")).toBe(1);
    expect(JSON.parse(storage.get("anon-sessions")!).anonId).toBe(session.anonId);
  });
});

describe("locks", () => {
  it("where Web Locks refuse to lock (an opaque origin), the storage fallback serves", async () => {
    vi.useFakeTimers();
    const worker = fakeWorker();
    const shared = memoryStorage({ shared: true });
    const refusing = {
      request: () => Promise.reject(new DOMException("opaque origin", "SecurityError")),
    };
    const tabs = [1, 2].map(
      () => new AnonSessionClient({ fetch: worker.fetch, storage: shared, locks: refusing }),
    );

    const pending = Promise.all(tabs.map((tab) => tab.getSession()));
    await vi.advanceTimersByTimeAsync(2000);
    const [a, b] = await pending;

    expect(worker.count("POST", "/anon/login")).toBe(1);
    expect(b?.anonId).toBe(a?.anonId);
    vi.useRealTimers();
  });

  it("an error in the task under a granted Web Lock is not retried under the fallback", async () => {
    const worker = fakeWorker();
    worker.intercept = () => new Response(JSON.stringify({ detail: "misconfigured" }), { status: 500 });
    const client = new AnonSessionClient({
      fetch: worker.fetch,
      storage: memoryStorage({ shared: true }),
      locks: new FakeLocks(),
    });

    await expect(client.getSession()).rejects.toMatchObject({ status: 500 });
    expect(worker.count("POST", "/anon/login")).toBe(1);
  });
});
