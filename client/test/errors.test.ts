// A 429's Retry-After and a network failure surface as typed errors.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  AnonSessionClient,
  ApiError,
  NetworkError,
  RateLimitError,
  parseRetryAfter,
} from "../src/index.js";
import { fakeWorker } from "./fake-worker.js";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2026-05-01T00:00:00Z"));
});
afterEach(() => {
  vi.useRealTimers();
});

const tooMany = (retryAfter?: string) =>
  new Response(JSON.stringify({ detail: "too many requests" }), {
    status: 429,
    headers: retryAfter ? { "Retry-After": retryAfter } : {},
  });

describe("typed errors", () => {
  it("a 429 on an API call is a RateLimitError carrying Retry-After", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    worker.intercept = (call) => (call.path === "/v1/actions" ? tooMany("60") : undefined);

    const error = await client.recordAction("x").catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({
      status: 429,
      retryAfterSeconds: 60,
      detail: "too many requests",
      code: "rate_limited",
    });
    // Not retried: waiting is the caller's decision.
    expect(worker.count("POST", "/v1/actions")).toBe(1);
  });

  it("a 429 on minting is a RateLimitError too, and nothing is stored", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    worker.intercept = (call) => (call.path === "/anon/login" ? tooMany("17") : undefined);

    await expect(client.getSession()).rejects.toMatchObject({
      name: "RateLimitError",
      retryAfterSeconds: 17,
    });
    expect(client.session).toBeNull();
  });

  it("Retry-After may be an HTTP date; a 429 without one means the worker's minute", () => {
    expect(parseRetryAfter("Fri, 01 May 2026 00:00:30 GMT")).toBe(30);
    expect(parseRetryAfter(" 5 ")).toBe(5);
    expect(parseRetryAfter("soon")).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
  });

  it("a 429 with no Retry-After gets 60 s", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    worker.intercept = (call) => (call.path === "/anon/me" ? tooMany() : undefined);

    await expect(client.me()).rejects.toMatchObject({ retryAfterSeconds: 60 });
  });

  it("a request that fails to reach the worker is a NetworkError with its cause", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    await client.getSession();
    const cause = new TypeError("Failed to fetch");
    worker.intercept = () => {
      throw cause;
    };

    const error = await client.listActions().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ code: "network", cause });
  });

  it("a mint that never answers becomes a NetworkError after the timeout", async () => {
    const client = new AnonSessionClient({
      storage: "memory",
      sessionRequestTimeoutMs: 5_000,
      fetch: (_input, init) =>
        new Promise((_resolve, reject) =>
          init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))),
        ),
    });

    const pending = client.getSession().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(5_000);

    expect(await pending).toBeInstanceOf(NetworkError);
  });

  it("the caller's own abort is passed through as it is", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    await client.getSession();
    const controller = new AbortController();
    const abort = new DOMException("stopped", "AbortError");
    worker.intercept = () => {
      controller.abort();
      throw abort;
    };

    await expect(client.fetch("/anon/me", { signal: controller.signal })).rejects.toBe(abort);
  });

  it("other error answers are ApiErrors with the worker's detail", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    worker.intercept = (call) =>
      call.path === "/v1/actions"
        ? new Response(JSON.stringify({ detail: "type must be 1 to 200 characters" }), { status: 422 })
        : undefined;

    const error = await client.recordAction("").catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).not.toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 422, detail: "type must be 1 to 200 characters" });
  });
});
