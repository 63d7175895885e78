// A fake of the worker's API for the unit tests: enough of its behaviour
// (tokens that expire, refresh with a grace, erasure that revokes, pages)
// to exercise the client, with every request recorded for the assertions.

import type { Action, LockManagerLike } from "../src/index.js";

export interface Call {
  method: string;
  path: string;
  token: string | null;
}

interface TokenInfo {
  anonId: string;
  expMs: number;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });

export function fakeWorker(options: { ttlSeconds?: number; graceSeconds?: number } = {}) {
  const ttl = options.ttlSeconds ?? 100;
  const grace = options.graceSeconds ?? 1000;
  let minted = 0;
  let issued = 0;
  const tokens = new Map<string, TokenInfo>();
  const erased = new Set<string>();
  const actions = new Map<string, Action[]>();
  const calls: Call[] = [];

  const worker = {
    calls,
    tokens,
    /** Delays every mint and refresh answer by this much (fake timers advance it). */
    tokenDelayMs: 0,
    /** Pending 202s before DELETE /anon/me completes. */
    incompleteErasures: 0,
    /** Answers a request before the fake's routes do, when it returns something. */
    intercept: undefined as ((call: Call) => Response | Promise<Response> | undefined) | undefined,
    count(method: string, path: string) {
      return calls.filter((c) => c.method === method && c.path === path).length;
    },
    issue(anonId: string): string {
      issued += 1;
      const token = `token-${issued}`;
      tokens.set(token, { anonId, expMs: Date.now() + ttl * 1000 });
      return token;
    },
    fetch: async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
      const url = new URL(String(input), "https://worker.test");
      const method = init.method ?? "GET";
      const auth = new Headers(init.headers).get("Authorization");
      const token = auth?.startsWith("Bearer ") ? auth.slice(7) : null;
      const call = { method, path: url.pathname, token };
      calls.push(call);
      const intercepted = await worker.intercept?.(call);
      if (intercepted) return intercepted;
      return route(method, url, token, init);
    },
  };

  const tokenAnswer = async (anonId: string) => {
    if (worker.tokenDelayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, worker.tokenDelayMs));
    }
    return json(200, {
      access_token: worker.issue(anonId),
      token_type: "bearer",
      anon_id: anonId,
      expires_in: ttl,
    });
  };

  const refused = (detail: string) => json(401, { detail });

  /** The token's visitor if it is live, else the 401 to send. */
  const verify = (token: string | null, extraMs = 0, erasing = false): string | Response => {
    const info = token ? tokens.get(token) : undefined;
    if (!info) return refused("bad token");
    // As the worker does, an erased visitor's token still works for DELETE
    // /anon/me, so that an erasure answered 202 can be finished.
    if (erased.has(info.anonId) && !erasing) return refused("this session was erased; start a new one");
    if (Date.now() >= info.expMs + extraMs) return refused("token has expired");
    return info.anonId;
  };

  async function route(method: string, url: URL, token: string | null, init: RequestInit) {
    const key = `${method} ${url.pathname}`;
    if (key === "POST /anon/login") {
      minted += 1;
      return tokenAnswer(`00000000-0000-4000-8000-${String(minted).padStart(12, "0")}`);
    }
    if (key === "POST /anon/refresh") {
      const anonId = verify(token, grace * 1000);
      return typeof anonId === "string" ? tokenAnswer(anonId) : anonId;
    }
    const anonId = verify(token, 0, key === "DELETE /anon/me");
    if (typeof anonId !== "string") return anonId;
    const mine = actions.get(anonId) ?? [];
    switch (key) {
      case "POST /v1/actions": {
        const body = JSON.parse(String(init.body));
        const action = {
          id: `${Date.now()}-${String(mine.length).padStart(8, "0")}`,
          type: body.type,
          data: body.data ?? null,
          recorded_at_ms: Date.now(),
        };
        actions.set(anonId, [...mine, action]);
        return json(201, action);
      }
      case "GET /v1/actions": {
        const limit = Number(url.searchParams.get("limit") ?? 100);
        const start = Number(url.searchParams.get("cursor") ?? 0);
        const page = mine.slice(start, start + limit);
        const next = start + limit < mine.length ? String(start + limit) : null;
        return json(200, { actions: page, next_cursor: next });
      }
      case "GET /anon/me":
        return json(200, {
          anon_id: anonId,
          created_at: null,
          last_activity_at: null,
          token_expires_at: Math.floor(tokens.get(token!)!.expMs / 1000),
          action_count: mine.length,
        });
      case "DELETE /anon/me": {
        erased.add(anonId);
        const erasedCount = mine.length;
        actions.delete(anonId);
        if (worker.incompleteErasures > 0) {
          worker.incompleteErasures -= 1;
          return json(202, { anon_id: anonId, erased: erasedCount, complete: false });
        }
        return json(200, { anon_id: anonId, erased: erasedCount, complete: true });
      }
      default:
        return json(404, { detail: "not found" });
    }
  }

  return worker;
}

/**
 * The Web Locks API's semantics for one origin: one holder per name, waiters
 * served in turn, `ifAvailable` answering `null` at once when held. Two
 * clients given the same instance behave like two tabs.
 */
export class FakeLocks implements LockManagerLike {
  #held = new Map<string, Promise<void>>();
  grants = 0;

  async request<T>(
    name: string,
    options: { ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<T> | T,
  ): Promise<T> {
    if (options.ifAvailable && this.#held.has(name)) return callback(null);
    while (this.#held.has(name)) await this.#held.get(name);
    let release!: () => void;
    this.#held.set(name, new Promise<void>((resolve) => (release = resolve)));
    this.grants += 1;
    try {
      return await callback({ name });
    } finally {
      this.#held.delete(name);
      release();
    }
  }
}
