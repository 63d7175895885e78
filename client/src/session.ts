// Turning the worker's token answers into sessions, and sessions into the
// text kept in storage and back.

import { AnonSessionError } from "./errors.js";
import type { Session, TokenResponse } from "./types.js";

const FORMAT = 1;

/**
 * The token's own `exp` and `iat` (unverified: the worker verifies, the
 * client only needs to know when to refresh). Used when the answer has no
 * `expires_in`, as the seed's FastAPI backend sends none.
 */
function claims(token: string): { exp?: number; iat?: number } {
  try {
    const payload = token.split(".")[1] ?? "";
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const json = JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")));
    return typeof json === "object" && json !== null ? json : {};
  } catch {
    return {};
  }
}

/** Seconds the token lives, measured from now. */
function lifetimeSeconds(answer: TokenResponse, now: number): number {
  if (typeof answer.expires_in === "number" && answer.expires_in > 0) return answer.expires_in;
  const { exp, iat } = claims(answer.access_token);
  if (typeof exp === "number" && typeof iat === "number" && exp > iat) return exp - iat;
  if (typeof exp === "number") return Math.max(0, exp - Math.floor(now / 1000));
  throw new AnonSessionError("protocol", "the token answer says neither expires_in nor exp");
}

function isTokenResponse(value: unknown): value is TokenResponse {
  const v = value as TokenResponse | null;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.access_token === "string" &&
    v.access_token.length > 0 &&
    typeof v.anon_id === "string" &&
    v.anon_id.length > 0
  );
}

/**
 * Measures the lifetime from `expires_in` on this browser's clock, rather
 * than trusting `exp` against a clock that may be off; `refreshAfter` is the
 * fraction of the lifetime after which the token is renewed (the README's
 * advice: 80%).
 */
export function sessionFromAnswer(answer: unknown, now: number, refreshAfter: number): Session {
  if (!isTokenResponse(answer)) {
    throw new AnonSessionError("protocol", "the token answer lacks access_token or anon_id");
  }
  const lifetimeMs = lifetimeSeconds(answer, now) * 1000;
  return {
    anonId: answer.anon_id,
    accessToken: answer.access_token,
    obtainedAt: now,
    refreshAt: now + Math.floor(lifetimeMs * refreshAfter),
    expiresAt: now + lifetimeMs,
  };
}

export function encodeSession(session: Session): string {
  return JSON.stringify({ v: FORMAT, ...session });
}

/** Anything unreadable counts as no session: the client then mints a new one. */
export function decodeSession(text: string | null): Session | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text);
    if (
      v?.v === FORMAT &&
      typeof v.anonId === "string" &&
      typeof v.accessToken === "string" &&
      typeof v.obtainedAt === "number" &&
      typeof v.refreshAt === "number" &&
      typeof v.expiresAt === "number"
    ) {
      const { anonId, accessToken, obtainedAt, refreshAt, expiresAt } = v;
      return { anonId, accessToken, obtainedAt, refreshAt, expiresAt };
    }
  } catch {
    // Fall through: not ours, or from a version that stored something else.
  }
  return null;
}
