// React bindings: a provider that starts (and keeps) the session, and a hook
// that reads it. React is the only dependency, as a peer.

import {
  type ReactNode,
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
} from "react";
import { AnonSessionClient, type AnonSessionOptions } from "./client.js";
import type { Session } from "./types.js";

export type AnonSessionState =
  | { status: "loading"; session: null; anonId: null; error: null }
  | { status: "ready"; session: Session; anonId: string; error: null }
  | { status: "error"; session: null; anonId: null; error: unknown };

export type AnonSessionValue = AnonSessionState & {
  /** For API calls: `client.fetch`, `client.recordAction`, `client.deleteMyData`… */
  client: AnonSessionClient;
  /** After an error (offline, rate-limited): try to start the session again. */
  retry: () => void;
};

const Context = createContext<AnonSessionValue | null>(null);

const LOADING: AnonSessionState = { status: "loading", session: null, anonId: null, error: null };
const ready = (session: Session): AnonSessionState => ({
  status: "ready",
  session,
  anonId: session.anonId,
  error: null,
});

export type AnonSessionProviderProps = AnonSessionOptions & {
  /** A client made elsewhere (to share it with non-React code); otherwise one is made from the options. */
  client?: AnonSessionClient;
  children?: ReactNode;
};

/**
 * Starts the session on mount and keeps it: re-renders on refresh, on
 * changes made in other tabs, and starts a new session when the data is
 * deleted. Options are read once, on the first render.
 */
export function AnonSessionProvider({ client, children, ...options }: AnonSessionProviderProps) {
  const [instance] = useState(() => client ?? new AnonSessionClient(options));
  const [state, setState] = useState<AnonSessionState>(() =>
    instance.session ? ready(instance.session) : LOADING,
  );
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let live = true;
    const start = () => {
      // Concurrent starts (StrictMode runs effects twice) share one mint.
      instance.getSession().then(
        (session) => live && setState(ready(session)),
        (error: unknown) =>
          live && setState({ status: "error", session: null, anonId: null, error }),
      );
    };
    const unsubscribe = instance.subscribe((session) => {
      if (!live) return;
      if (session) {
        setState(ready(session));
      } else {
        // Erased here or in another tab: a fresh session, as on a first visit.
        setState(LOADING);
        start();
      }
    });
    start();
    return () => {
      live = false;
      unsubscribe();
    };
  }, [instance, attempt]);

  const retry = useCallback(() => setAttempt((n) => n + 1), []);
  const value = useMemo<AnonSessionValue>(
    () => ({ ...state, client: instance, retry }),
    [state, instance, retry],
  );
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

/** The session from the nearest `AnonSessionProvider`. */
export function useAnonymousSession(): AnonSessionValue {
  const value = useContext(Context);
  if (!value) throw new Error("useAnonymousSession must be used inside <AnonSessionProvider>");
  return value;
}
