// Mutual exclusion for minting and refreshing, so that several tabs (or
// several callers in one tab) that all find no token make exactly one mint.
// Whoever holds the lock re-reads storage first, and finds the token that the
// previous holder stored.

import type { TokenStorage } from "./storage.js";

export interface LockInfo {
  /**
   * True when someone else held the lock and we waited for it. The caller
   * then gives storage a moment to deliver the previous holder's write,
   * since a lock grant and a storage update travel separately between tabs.
   */
  contended: boolean;
}

export interface SessionLock {
  run<T>(name: string, task: (info: LockInfo) => Promise<T>): Promise<T>;
}

/** The part of the Web Locks API (`navigator.locks`) this library uses. */
export interface LockManagerLike {
  request<T>(
    name: string,
    options: { ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<T> | T,
  ): Promise<T>;
}

/**
 * Web Locks: the browser grants the lock to one tab of the origin at a time.
 * Where the browser refuses to lock at all (a sandboxed iframe's opaque
 * origin throws SecurityError), `fallback` serves instead.
 */
export function webLocks(locks: LockManagerLike, fallback: SessionLock = localMutex()): SessionLock {
  return {
    async run<T>(name: string, task: (info: LockInfo) => Promise<T>): Promise<T> {
      let granted = false;
      const guarded = (info: LockInfo) => {
        granted = true;
        return task(info);
      };
      try {
        // First without waiting, to learn whether another tab holds it.
        const first = await locks.request<{ value: T } | null>(
          name,
          { ifAvailable: true },
          async (lock) => (lock ? { value: await guarded({ contended: false }) } : null),
        );
        if (first) return first.value;
        granted = true; // the ifAvailable call was answered, so locking works
        return await locks.request<T>(name, {}, () => task({ contended: true }));
      } catch (error) {
        if (granted) throw error;
        return fallback.run(name, task);
      }
    },
  };
}

/** One holder at a time within this page; for storage no other tab sees. */
export function localMutex(): SessionLock {
  const tails = new Map<string, Promise<unknown>>();
  return {
    async run(name, task) {
      const previous = tails.get(name);
      let release!: () => void;
      const mine = new Promise<void>((resolve) => (release = resolve));
      const tail = (previous ?? Promise.resolve()).then(() => mine);
      tails.set(name, tail);
      if (previous) await previous;
      try {
        return await task({ contended: previous !== undefined });
      } finally {
        release();
        if (tails.get(name) === tail) tails.delete(name);
      }
    },
  };
}

export interface StorageLockOptions {
  /** How long a claim must stand before it counts: racing writers settle within it. */
  settleMs?: number;
  /** A claim older than this is abandoned (its tab closed mid-mint) and may be taken. */
  leaseMs?: number;
  /** How often a waiter looks again when no storage event arrives. */
  pollMs?: number;
}

interface Claim {
  owner: string;
  until: number;
}

function readClaim(storage: TokenStorage, key: string): Claim | null {
  try {
    const value = JSON.parse(storage.get(key) ?? "null") as Claim | null;
    return value && typeof value.owner === "string" && typeof value.until === "number"
      ? value
      : null;
  } catch {
    return null;
  }
}

function randomId(): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The fallback where Web Locks are missing (browsers before 2022, pages
 * served over plain http from a non-local address): a claim written to the
 * shared storage itself. Tabs that write a claim at the same moment each
 * wait `settleMs` and read it back; the last write wins, and only its owner
 * proceeds. Best effort: storage is not transactional, so a mint can in rare
 * races happen twice, and then the last one stored is the one every tab
 * adopts.
 */
export function storageLock(storage: TokenStorage, options: StorageLockOptions = {}): SessionLock {
  const { settleMs = 50, leaseMs = 10_000, pollMs = 100 } = options;
  const inPage = localMutex();
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const waitForChange = (key: string) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        off?.();
        resolve();
      };
      const timer = setTimeout(done, pollMs);
      const off = storage.subscribe?.(key, done);
    });

  return {
    // Callers in this page queue up first, so the page writes one claim at a time.
    run: (name, task) =>
      inPage.run(name, async (local) => {
        const key = `${name}:lock`;
        const me = randomId();
        let contended = local.contended;
        for (;;) {
          const held = readClaim(storage, key);
          if (!held || held.until <= Date.now()) {
            storage.set(key, JSON.stringify({ owner: me, until: Date.now() + leaseMs }));
            await sleep(settleMs);
            if (readClaim(storage, key)?.owner === me) break;
          }
          // Another tab holds it: wait for its release (or its lease to lapse).
          contended = true;
          await waitForChange(key);
        }
        try {
          return await task({ contended });
        } finally {
          if (readClaim(storage, key)?.owner === me) storage.remove(key);
        }
      }),
  };
}
