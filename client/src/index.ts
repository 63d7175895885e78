// The framework-free entry point. React bindings are in "anon-sessions-client/react".

import { AnonSessionClient, type AnonSessionOptions } from "./client.js";

export { AnonSessionClient };
export type { AnonSessionOptions, SessionListener } from "./client.js";
export {
  AnonSessionError,
  ApiError,
  NetworkError,
  RateLimitError,
  UnauthorizedError,
  parseRetryAfter,
} from "./errors.js";
export type { ErrorCode } from "./errors.js";
export { memoryStorage, webStorage } from "./storage.js";
export type { StorageChoice, TokenStorage } from "./storage.js";
export { localMutex, storageLock, webLocks } from "./lock.js";
export type { LockInfo, LockManagerLike, SessionLock, StorageLockOptions } from "./lock.js";
export type {
  Action,
  ActionPage,
  Erasure,
  Session,
  TokenResponse,
  VisitorRecord,
} from "./types.js";

/** Same as `new AnonSessionClient(options)`. */
export function createAnonSession(options?: AnonSessionOptions): AnonSessionClient {
  return new AnonSessionClient(options);
}
