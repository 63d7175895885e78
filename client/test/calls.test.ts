// The typed calls: what each sends, and what it gives back.

import { describe, expect, it } from "vitest";
import { AnonSessionClient, type Session, memoryStorage } from "../src/index.js";
import { fakeWorker } from "./fake-worker.js";

function setup(baseUrl = "") {
  const worker = fakeWorker();
  const sent: { url: string; init: RequestInit }[] = [];
  const fetch: typeof globalThis.fetch = (input, init = {}) => {
    sent.push({ url: String(input), init });
    return worker.fetch(input, init);
  };
  const storage = memoryStorage();
  const client = new AnonSessionClient({ fetch, storage, baseUrl });
  return { worker, sent, storage, client };
}

describe("typed calls", () => {
  it("recordAction posts JSON {type, data} and returns the stored action", async () => {
    const { client, sent } = setup("https://anon.example/");

    const action = await client.recordAction("clicked buy", { sku: "A-1" });

    const post = sent.at(-1)!;
    expect(post.url).toBe("https://anon.example/v1/actions");
    expect(post.init.method).toBe("POST");
    expect(new Headers(post.init.headers).get("Content-Type")).toBe("application/json");
    expect(new Headers(post.init.headers).get("Authorization")).toMatch(/^Bearer token-/);
    expect(JSON.parse(String(post.init.body))).toEqual({ type: "clicked buy", data: { sku: "A-1" } });
    expect(action).toMatchObject({ type: "clicked buy", data: { sku: "A-1" } });
  });

  it("listActions pages with limit and cursor", async () => {
    const { client, sent } = setup();
    for (const n of [1, 2, 3]) await client.recordAction(`a${n}`);

    const first = await client.listActions({ limit: 2 });
    const second = await client.listActions({ limit: 2, cursor: first.next_cursor });

    expect(first.actions.map((a) => a.type)).toEqual(["a1", "a2"]);
    expect(second.actions.map((a) => a.type)).toEqual(["a3"]);
    expect(second.next_cursor).toBeNull();
    expect(sent.at(-1)!.url).toBe(`/v1/actions?limit=2&cursor=${first.next_cursor}`);
  });

  it("actions() follows the cursor through short and empty pages", async () => {
    const pages = [
      { actions: [{ id: "1", type: "a", data: null, recorded_at_ms: 1 }], next_cursor: "c1" },
      { actions: [], next_cursor: "c2" },
      { actions: [{ id: "2", type: "b", data: null, recorded_at_ms: 2 }], next_cursor: null },
    ];
    const cursors: (string | null)[] = [];
    const worker = fakeWorker();
    const client = new AnonSessionClient({
      storage: "memory",
      fetch: async (input, init) => {
        const url = new URL(String(input), "https://x.test");
        if (url.pathname !== "/v1/actions") return worker.fetch(input, init);
        cursors.push(url.searchParams.get("cursor"));
        return new Response(JSON.stringify(pages[cursors.length - 1]), { status: 200 });
      },
    });

    const types: string[] = [];
    for await (const action of client.actions()) types.push(action.type);

    expect(types).toEqual(["a", "b"]);
    expect(cursors).toEqual([null, "c1", "c2"]);
  });

  it("me reads the visitor's record", async () => {
    const { client } = setup();
    await client.recordAction("one");

    const me = await client.me();

    expect(me).toMatchObject({ anon_id: client.session!.anonId, action_count: 1 });
  });

  it("deleteMyData calls again while the worker answers 202, then forgets the session", async () => {
    const { client, worker, storage } = setup();
    await client.recordAction("one");
    const erasedId = client.session!.anonId;
    const heard: (Session | null)[] = [];
    client.subscribe((s) => heard.push(s));
    worker.incompleteErasures = 2;

    const erasure = await client.deleteMyData();

    expect(worker.count("DELETE", "/anon/me")).toBe(3);
    expect(erasure).toMatchObject({ anon_id: erasedId, complete: true, erased: 1 });
    expect(storage.get("anon-sessions")).toBeNull();
    expect(client.session).toBeNull();
    expect(heard).toEqual([null]);

    // The next use starts a fresh session rather than reviving the erased one.
    const fresh = await client.getSession();
    expect(fresh.anonId).not.toBe(erasedId);
    expect(await client.listActions()).toEqual({ actions: [], next_cursor: null });
  });

  it("another tab's erase reaches this tab through storage events", async () => {
    const worker = fakeWorker();
    const shared = memoryStorage({ shared: true });
    const here = new AnonSessionClient({ fetch: worker.fetch, storage: shared, locks: null });
    const there = new AnonSessionClient({ fetch: worker.fetch, storage: shared, locks: null });
    const heard: (Session | null)[] = [];
    here.subscribe((s) => heard.push(s));
    const session = await here.getSession();
    expect(await there.getSession()).toEqual(session);

    await there.deleteMyData();

    expect(heard.at(-1)).toBeNull();
    expect(here.session).toBeNull();
  });

  it("fetch refuses any path a URL parser could read as another host, before sending anything", async () => {
    const { client, sent } = setup();
    for (const path of ["//evil.example/x", "/\\evil.example/x", "/\t/evil.example/x", "/\n/evil.example/x", "https://evil.example/x", "evil", ""]) {
      await expect(client.fetch(path), JSON.stringify(path)).rejects.toThrow(TypeError);
    }
    expect(sent).toEqual([]);
    // A well-formed path still works, with the token.
    const ok = await client.fetch("/anon/me");
    expect(ok.status).toBe(200);
    expect(new Headers(sent.at(-1)!.init.headers).get("Authorization")).toMatch(/^Bearer /);
  });
});
