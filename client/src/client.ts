// The session client: one call gives a ready session, and every request it
// makes carries a token that is fresh, shared with the origin's other tabs,
// and renewed at most once per failure.

import { AnonSessionError, ApiError, NetworkError, errorFromResponse } from "./errors.js";
import { type LockManagerLike, type SessionLock, localMutex, storageLock, webLocks } from "./lock.js";
import { decodeSession, encodeSession, sessionFromAnswer } from "./session.js";
import { type StorageChoice, type TokenStorage, resolveStorage } from "./storage.js";
import type { Action, ActionPage, Erasure, Session, VisitorRecord } from "./types.js";

export interface AnonSessionOptions {
  /** Where the worker is, without a trailing slash. Default: this page's origin. */
  baseUrl?: string;
  /** Default `"local"`; see "Storage and XSS" in the README before choosing. */
  storage?: StorageChoice;
  /** The storage key; also names the cross-tab lock. Default `"anon-sessions"`. */
  storageKey?: string;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /**
   * The Web Locks manager. Default: `navigator.locks` where it exists; `null`
   * uses the storage-based fallback.
   */
  locks?: LockManagerLike | null;
  /** Fraction of a token's lifetime after which it is refreshed. Default 0.8. */
  refreshAfter?: number;
  /**
   * Abandon a mint or refresh that has not answered after this long, so a
   * stalled request cannot hold the cross-tab lock forever. Default 15 s.
   */
  sessionRequestTimeoutMs?: number;
  /** When the worker requires Turnstile: gives a fresh Turnstile token for each mint. */
  turnstileToken?: () => string | Promise<string>;
}

export type SessionListener = (session: Session | null) => void;

/** The worker erases at most 900 keys a call and a visitor holds at most 10,000 actions. */
const MAX_ERASE_CALLS = 20;
/** A background refresh that failed (offline) is tried again after this, not at once. */
const RETRY_BACKGROUND_REFRESH_MS = 30_000;
/** setTimeout's largest delay; a longer one fires immediately. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a waiter gives the previous lock holder's storage write to arrive. */
const STORAGE_SETTLE_MS = 250;

/** Bodies that can be sent twice; a stream is consumed by the first attempt. */
function replayable(body: RequestInit["body"]): boolean {
  return !(typeof ReadableStream !== "undefined" && body instanceof ReadableStream);
}

export class AnonSessionClient {
  readonly #baseUrl: string;
  readonly #storage: TokenStorage;
  readonly #key: string;
  readonly #fetch: typeof fetch;
  readonly #lock: SessionLock;
  readonly #refreshAfter: number;
  readonly #timeoutMs: number;
  readonly #turnstileToken?: () => string | Promise<string>;

  #session: Session | null = null;
  #renewal: Promise<Session> | null = null;
  #listeners = new Set<SessionListener>();
  #unsubscribeStorage: (() => void) | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: AnonSessionOptions = {}) {
    this.#baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
    this.#storage = resolveStorage(options.storage);
    this.#key = options.storageKey ?? "anon-sessions";
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (!fetchImpl) throw new TypeError("no fetch: pass options.fetch");
    // Called bare, window.fetch throws "Illegal invocation".
    this.#fetch = (input, init) => fetchImpl.call(globalThis, input, init);
    this.#refreshAfter = options.refreshAfter ?? 0.8;
    if (!(this.#refreshAfter > 0 && this.#refreshAfter < 1)) {
      throw new RangeError("refreshAfter must be between 0 and 1");
    }
    this.#timeoutMs = options.sessionRequestTimeoutMs ?? 15_000;
    this.#turnstileToken = options.turnstileToken;
    this.#lock = this.#chooseLock(options.locks);
  }

  #chooseLock(locks: LockManagerLike | null | undefined): SessionLock {
    // Storage that only this tab sees needs no cross-tab coordination.
    if (!this.#storage.shared) return localMutex();
    const available =
      locks === undefined
        ? ((globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks ?? null)
        : locks;
    const fallback = storageLock(this.#storage);
    return available ? webLocks(available, fallback) : fallback;
  }

  // -- Sessions ----------------------------------------------------------------

  /**
   * A ready session: the stored one while it is fresh, otherwise a refreshed
   * one, otherwise a new one. Concurrent calls, in this tab or in others
   * sharing localStorage, make a single mint between them.
   */
  async getSession(): Promise<Session> {
    const stored = this.#read();
    if (stored && Date.now() < stored.refreshAt) return this.#adopt(stored);
    return this.#renew(null);
  }

  /** The session held now, without any request; `null` before the first `getSession`. */
  get session(): Session | null {
    return this.#session;
  }

  /**
   * Calls `listener` with each new session (after a mint, a refresh, or a
   * change made by another tab) and with `null` when the session is gone
   * (erased here or in another tab). While anyone listens, the client also
   * refreshes the token in the background before it is due.
   */
  subscribe(listener: SessionListener): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#activate();
    return () => {
      if (this.#listeners.delete(listener) && this.#listeners.size === 0) this.#deactivate();
    };
  }

  #activate(): void {
    this.#unsubscribeStorage =
      this.#storage.subscribe?.(this.#key, () => this.#onStorageChange()) ?? null;
    if (this.#session) this.#schedule(this.#session);
  }

  #deactivate(): void {
    this.#unsubscribeStorage?.();
    this.#unsubscribeStorage = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Another tab minted, refreshed or erased: follow it. */
  #onStorageChange(): void {
    const stored = this.#read();
    if (stored) this.#adopt(stored);
    else this.#forget();
  }

  #read(): Session | null {
    return decodeSession(this.#storage.get(this.#key));
  }

  #store(session: Session): Session {
    this.#storage.set(this.#key, encodeSession(session));
    return this.#adopt(session);
  }

  #adopt(session: Session): Session {
    const previous = this.#session;
    this.#session = session;
    if (previous?.accessToken !== session.accessToken) {
      if (this.#listeners.size > 0) this.#schedule(session);
      this.#emit(session);
    }
    return session;
  }

  #forget(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#session === null) return;
    this.#session = null;
    this.#emit(null);
  }

  #emit(session: Session | null): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(session);
      } catch (error) {
        // One broken listener must not keep the others from hearing.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  /** Background refresh at `refreshAt`, so a request rarely has to wait for one. */
  #schedule(session: Session): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    let delay = session.refreshAt - Date.now();
    // Already due means the last refresh failed (offline, say): retry later,
    // not in a tight loop. Requests still refresh first when they find it due.
    if (delay <= 0) delay = RETRY_BACKGROUND_REFRESH_MS;
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        // A new token schedules its own refresh (#adopt); if the attempt
        // failed or kept the old token, try again later.
        const again = () => {
          if (this.#timer === null && this.#listeners.size > 0 && this.#session) {
            this.#schedule(this.#session);
          }
        };
        this.#renew(null).then(again, again);
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    // In Node (tests, server rendering) a pending refresh must not keep the process alive.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /**
   * Refreshes or mints, once for all concurrent callers in this tab and,
   * through the lock, once for all tabs. `rejected` is a token the worker
   * just refused: it is never handed out again.
   */
  async #renew(rejected: string | null): Promise<Session> {
    const session = await this.#renewOnce(rejected);
    // We joined a renewal started for another reason that kept the very
    // token the worker refused: one more, of our own, and no further.
    if (rejected !== null && session.accessToken === rejected) return this.#renewOnce(rejected);
    return session;
  }

  #renewOnce(rejected: string | null): Promise<Session> {
    this.#renewal ??= this.#lock
      .run(`anon-sessions:${this.#key}`, (info) => this.#renewLocked(rejected, info.contended))
      .finally(() => {
        this.#renewal = null;
      });
    return this.#renewal;
  }

  async #renewLocked(rejected: string | null, contended: boolean): Promise<Session> {
    let stored = this.#read();
    if (!stored && contended) {
      // The tab that held the lock before us has probably just stored a
      // session; its write can arrive a moment after our lock grant.
      await this.#waitForStorage(STORAGE_SETTLE_MS);
      stored = this.#read();
    }
    const now = Date.now();
    if (stored && stored.accessToken !== rejected && now < stored.refreshAt) {
      // Someone renewed while we waited for the lock.
      return this.#adopt(stored);
    }
    if (stored) {
      try {
        return this.#store(await this.#tokenRequest("/anon/refresh", stored.accessToken));
      } catch (error) {
        const refused = error instanceof ApiError && error.status === 401;
        if (!refused) {
          // Offline, rate-limited or a worker error: a token that is still
          // valid serves until the next attempt.
          if (stored.accessToken !== rejected && now < stored.expiresAt) return this.#adopt(stored);
          throw error;
        }
        // Refused for good (erased, past the refresh grace, key rotated
        // away): only a new session helps.
      }
    }
    return this.#store(await this.#tokenRequest("/anon/login", null));
  }

  #waitForStorage(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        off?.();
        resolve();
      };
      const timer = setTimeout(done, ms);
      const off = this.#storage.subscribe?.(this.#key, done);
    });
  }

  /** `POST /anon/login` (token `null`) or `POST /anon/refresh`. */
  async #tokenRequest(path: string, token: string | null): Promise<Session> {
    const headers = new Headers();
    if (token) headers.set("Authorization", `Bearer ${token}`);
    else if (this.#turnstileToken) {
      headers.set("CF-Turnstile-Response", await this.#turnstileToken());
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    let response: Response;
    try {
      response = await this.#fetch(this.#baseUrl + path, {
        method: "POST",
        headers,
        signal: controller.signal,
      });
    } catch (error) {
      throw new NetworkError(
        controller.signal.aborted
          ? `${path} did not answer within ${this.#timeoutMs} ms`
          : `${path} failed: ${String(error)}`,
        error,
      );
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) throw await errorFromResponse(response);
    return sessionFromAnswer(await this.#json(response), Date.now(), this.#refreshAfter);
  }

  // -- Requests ----------------------------------------------------------------

  /**
   * `fetch` for this worker's API: `path` starts with `/` and is resolved
   * against `baseUrl`. Adds `Authorization`; refreshes the token first when
   * it is due. On a 401 it renews the session once (refresh, else a new
   * session) and retries once; a second 401 throws `UnauthorizedError`.
   * A 429 throws `RateLimitError`, a failed request `NetworkError`; any other
   * answer is returned as it is.
   */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    // Only our own API gets the token. A URL parser reads `//host` as
    // another host, and so are `/\host` (a backslash counts as a slash) and
    // `/<tab>/host` (tabs and newlines are dropped), so all of them are
    // refused, not just absolute URLs.
    if (!path.startsWith("/") || path.startsWith("//") || /[\\\u0000-\u001f\u007f]/.test(path)) {
      throw new TypeError(`path must start with a single "/" and hold no backslash or control character: ${JSON.stringify(path)}`);
    }
    const session = await this.getSession();
    let response = await this.#send(path, init, session.accessToken);
    if (response.status === 401 && replayable(init.body)) {
      // Drain the refused answer so the connection can be reused.
      await response.body?.cancel().catch(() => {});
      const renewed = await this.#renew(session.accessToken);
      response = await this.#send(path, init, renewed.accessToken);
    }
    if (response.status === 401 || response.status === 429) throw await errorFromResponse(response);
    return response;
  }

  async #send(path: string, init: RequestInit, token: string): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${token}`);
    try {
      return await this.#fetch(this.#baseUrl + path, { ...init, headers });
    } catch (error) {
      // The caller's own abort is not a network failure; let it through as it is.
      if (init.signal?.aborted) throw error;
      throw new NetworkError(`${init.method ?? "GET"} ${path} failed: ${String(error)}`, error);
    }
  }

  async #json(response: Response): Promise<unknown> {
    try {
      return await response.json();
    } catch (error) {
      throw new AnonSessionError("protocol", `the answer from ${response.url} is not JSON`, {
        cause: error,
      });
    }
  }

  /** A call whose success is a JSON body; any other answer throws its typed error. */
  async #call<T>(path: string, init?: RequestInit): Promise<T> {
    const response = await this.fetch(path, init);
    if (!response.ok) throw await errorFromResponse(response);
    return (await this.#json(response)) as T;
  }

  /** Records an action (`POST /v1/actions`); `data` is any JSON, up to 900 bytes with `type`. */
  recordAction<D = unknown>(type: string, data?: D): Promise<Action<D>> {
    return this.#call("/v1/actions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(data === undefined ? { type } : { type, data }),
    });
  }

  /**
   * One page of the visitor's actions, oldest first. Pass the previous
   * page's `next_cursor` for the next. A page may be short or empty while
   * `next_cursor` is set.
   */
  listActions<D = unknown>(
    options: { limit?: number; cursor?: string | null } = {},
  ): Promise<ActionPage<D>> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    if (options.cursor) query.set("cursor", options.cursor);
    const suffix = query.toString() ? `?${query}` : "";
    return this.#call(`/v1/actions${suffix}`);
  }

  /** Every action, page by page, oldest first. */
  async *actions<D = unknown>(options: { limit?: number } = {}): AsyncGenerator<Action<D>> {
    let cursor: string | null = null;
    do {
      const page: ActionPage<D> = await this.listActions<D>({ ...options, cursor });
      yield* page.actions;
      cursor = page.next_cursor;
    } while (cursor);
  }

  /** The visitor's record (`GET /anon/me`). */
  me(): Promise<VisitorRecord> {
    return this.#call("/anon/me");
  }

  /**
   * Erases the visitor's data and revokes their tokens (`DELETE /anon/me`,
   * called again while the worker answers 202), then forgets the session.
   * The next `getSession` mints a new one; a React provider does so at once.
   */
  async deleteMyData(): Promise<Erasure> {
    const session = await this.getSession();
    let erasure: Erasure | undefined;
    let erased = 0;
    for (let call = 0; call < MAX_ERASE_CALLS; call += 1) {
      erasure = await this.#call<Erasure>("/anon/me", { method: "DELETE" });
      erased += erasure.erased;
      if (erasure.complete) break;
    }
    if (!erasure?.complete) {
      throw new AnonSessionError(
        "protocol",
        `erasure still incomplete after ${MAX_ERASE_CALLS} calls; call deleteMyData again`,
      );
    }
    // Another tab may already have started a new session; keep that one.
    if (this.#read()?.anonId === session.anonId) this.#storage.remove(this.#key);
    if (this.#session?.anonId === session.anonId) this.#forget();
    return { ...erasure, erased };
  }
}
