// Wire types: exactly what the worker sends (see the README's API table),
// so a field here can be looked up there by name.

/** `POST /anon/login` and `POST /anon/refresh`. */
export interface TokenResponse {
  access_token: string;
  token_type: "bearer";
  anon_id: string;
  /** Seconds. Older backends (the seed's) leave it out; the client then reads `exp`. */
  expires_in?: number;
}

/** One recorded action, as `POST /v1/actions` and `GET /v1/actions` give it. */
export interface Action<D = unknown> {
  /** `<13-digit ms>-<8 hex digits>`: unique and in recording order. */
  id: string;
  type: string;
  /** Whatever was recorded, or `null` (actions from the seed's query form). */
  data: D | null;
  /** The worker's clock when it recorded the action, in Unix milliseconds. */
  recorded_at_ms: number;
}

/**
 * `GET /v1/actions`. A page can be short, even empty, while `next_cursor` is
 * set: keep following the cursor until it is `null`.
 */
export interface ActionPage<D = unknown> {
  actions: Action<D>[];
  next_cursor: string | null;
}

/** `GET /anon/me`. Times are Unix seconds. */
export interface VisitorRecord {
  anon_id: string;
  /** `null` until the visitor is first active. */
  created_at: number | null;
  last_activity_at: number | null;
  token_expires_at: number;
  action_count: number;
}

/** `DELETE /anon/me`. */
export interface Erasure {
  anon_id: string;
  erased: number;
  complete: boolean;
}

/** The session the client holds. Times are Unix milliseconds, this browser's clock. */
export interface Session {
  anonId: string;
  accessToken: string;
  /** When the token was received. */
  obtainedAt: number;
  /** After this the client refreshes before using the token. */
  refreshAt: number;
  /** When the worker stops accepting the token (it may still refresh it for a while). */
  expiresAt: number;
}
