// Typed errors, so an app can tell "try again later" from "you are offline"
// from "this is a bug" with `instanceof` or `error.code` rather than by
// parsing messages.

export type ErrorCode = "network" | "rate_limited" | "unauthorized" | "http" | "protocol";

/** Every error this library throws on purpose. */
export class AnonSessionError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The request never got an answer: offline, DNS, CORS refusal, or the timeout. */
export class NetworkError extends AnonSessionError {
  constructor(message: string, cause?: unknown) {
    super("network", message, { cause });
  }
}

/** The worker answered with an error status; `detail` is its `{"detail": ...}`. */
export class ApiError extends AnonSessionError {
  readonly status: number;
  readonly detail: string;
  /** Seconds from `Retry-After` (429 and 503 carry it), or `null`. */
  readonly retryAfterSeconds: number | null;
  constructor(
    status: number,
    detail: string,
    retryAfterSeconds: number | null = null,
    code: ErrorCode = "http",
  ) {
    super(code, `HTTP ${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** 429: over a rate limit. Wait `retryAfterSeconds` before trying again. */
export class RateLimitError extends ApiError {
  declare readonly retryAfterSeconds: number;
  constructor(detail: string, retryAfterSeconds: number) {
    super(429, detail, retryAfterSeconds, "rate_limited");
  }
}

/**
 * 401 that a refresh (or a new session) and one retry did not cure. The
 * client never retries further, so this cannot become a loop.
 */
export class UnauthorizedError extends ApiError {
  constructor(detail: string) {
    super(401, detail, null, "unauthorized");
  }
}

/** When no header is given, 429s are retried after a minute: the worker's window. */
const DEFAULT_RETRY_AFTER_SECONDS = 60;

/** `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Reads an error response into the matching typed error. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let detail = response.statusText || `status ${response.status}`;
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object" && "detail" in body) {
      const value = (body as { detail: unknown }).detail;
      detail = typeof value === "string" ? value : JSON.stringify(value);
    }
  } catch {
    // Not JSON (a proxy's error page, say): the status text has to do.
  }
  const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
  if (response.status === 429) {
    return new RateLimitError(detail, retryAfter ?? DEFAULT_RETRY_AFTER_SECONDS);
  }
  if (response.status === 401) return new UnauthorizedError(detail);
  return new ApiError(response.status, detail, retryAfter);
}
