import { ApiError, NetworkError, RateLimitError } from "anon-sessions-client";

/** What the visitor is told; the typed errors make each case its own sentence. */
export function describeError(error: unknown): string {
  if (error instanceof RateLimitError) {
    return `Too many requests: try again in ${error.retryAfterSeconds} s.`;
  }
  if (error instanceof NetworkError) return "The server could not be reached. Check your connection.";
  if (error instanceof ApiError) return `The server refused: ${error.detail}`;
  return `Something went wrong: ${String(error)}`;
}
