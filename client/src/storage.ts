// Where the session is kept. The choice decides who can read the token and
// how long it lives: see "Storage and XSS" in the README.

/** A string store keyed like Web Storage. */
export interface TokenStorage {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
  /**
   * Calls `listener` when another tab (or another client on the same store)
   * changes `key`; returns the unsubscribe function. Optional: without it,
   * the client notices other tabs' changes only when it next reads.
   */
  subscribe?(key: string, listener: () => void): () => void;
  /**
   * True when every tab of the origin sees the same store (localStorage), so
   * minting must be coordinated across tabs. False for sessionStorage and
   * memory, which each tab has to itself.
   */
  readonly shared: boolean;
}

export type StorageChoice = "local" | "session" | "memory" | TokenStorage;

/**
 * Kept in this page's memory only: gone on reload, never readable by another
 * tab or by a script that runs after the page is closed. Pass one instance to
 * several clients to share it (tests use this to stand for shared storage).
 */
export function memoryStorage(options: { shared?: boolean } = {}): TokenStorage {
  const values = new Map<string, string>();
  const listeners = new Map<string, Set<() => void>>();
  const changed = (key: string) => {
    for (const listener of [...(listeners.get(key) ?? [])]) listener();
  };
  return {
    shared: options.shared ?? false,
    get: (key) => values.get(key) ?? null,
    set(key, value) {
      if (values.get(key) === value) return;
      values.set(key, value);
      changed(key);
    },
    remove(key) {
      if (values.delete(key)) changed(key);
    },
    subscribe(key, listener) {
      let set = listeners.get(key);
      if (!set) listeners.set(key, (set = new Set()));
      set.add(listener);
      return () => set.delete(listener);
    },
  };
}

/**
 * `localStorage` (shared by the origin's tabs, kept across restarts) or
 * `sessionStorage` (this tab only, gone when it closes).
 */
export function webStorage(area: Storage, shared: boolean): TokenStorage {
  return {
    shared,
    get: (key) => area.getItem(key),
    set: (key, value) => area.setItem(key, value),
    remove: (key) => area.removeItem(key),
    subscribe(key, listener) {
      // The browser fires `storage` in the *other* tabs of the origin only;
      // our own writes are applied directly by the client.
      const onStorage = (event: StorageEvent) => {
        if (event.storageArea === area && (event.key === key || event.key === null)) listener();
      };
      window.addEventListener("storage", onStorage);
      return () => window.removeEventListener("storage", onStorage);
    },
  };
}

/**
 * Web Storage can be missing (server rendering, workers) or throw on access
 * (storage disabled, some private modes); the session then lives in memory
 * rather than the app failing to start.
 */
function probe(name: "localStorage" | "sessionStorage"): Storage | null {
  try {
    const area = (globalThis as Record<string, unknown>)[name] as Storage | undefined;
    if (!area) return null;
    const probeKey = "anon-sessions:probe";
    area.setItem(probeKey, "1");
    area.removeItem(probeKey);
    return area;
  } catch {
    return null;
  }
}

export function resolveStorage(choice: StorageChoice = "local"): TokenStorage {
  if (typeof choice === "object") return choice;
  if (choice === "memory") return memoryStorage();
  const area = probe(choice === "local" ? "localStorage" : "sessionStorage");
  return area ? webStorage(area, choice === "local") : memoryStorage();
}
