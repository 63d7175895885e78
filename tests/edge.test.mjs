// Edge protections against the built worker: CORS for an SPA on another
// origin, rate limits, Turnstile, security headers and the structured log.

import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import { useWorker } from "./support/worker.mjs";

const SPA = "https://app.example.com";

describe("CORS", () => {
  const worker = useWorker({ ALLOWED_ORIGINS: `${SPA} https://*.preview.example.com` });

  test("a preflight from an allowed origin gets 204 without a token", async () => {
    const r = await worker.call("OPTIONS", "/items/add_action", {
      headers: { origin: SPA, "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
      raw: true,
    });
    assert.equal(r.status, 204);
    assert.equal(r.text, "");
    assert.equal(r.headers.get("access-control-allow-origin"), SPA);
    assert.equal(r.headers.get("access-control-allow-methods"), "GET, POST, DELETE, OPTIONS");
    assert.match(r.headers.get("access-control-allow-headers"), /\bauthorization\b/);
    assert.match(r.headers.get("access-control-allow-headers"), /\bcontent-type\b/);
    assert.equal(r.headers.get("access-control-max-age"), "7200");
    assert.equal(r.headers.get("vary"), "Origin");
    assert.equal(r.headers.get("access-control-allow-credentials"), null);
  });

  test("a subdomain matching the wildcard is allowed", async () => {
    const origin = "https://pr-7.preview.example.com";
    const r = await worker.call("OPTIONS", "/anon/login", {
      headers: { origin, "access-control-request-method": "POST" },
      raw: true,
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get("access-control-allow-origin"), origin);
  });

  test("a preflight from a disallowed origin gets 403 and no CORS headers", async () => {
    const r = await worker.call("OPTIONS", "/anon/login", {
      headers: { origin: "https://evil.example.net", "access-control-request-method": "POST" },
    });
    assert.equal(r.status, 403);
    assert.equal(r.headers.get("access-control-allow-origin"), null);
    assert.deepEqual(r.body, { detail: "origin not allowed" });
  });

  test("OPTIONS without Origin is not a preflight", async () => {
    const r = await worker.call("OPTIONS", "/anon/login", { headers: { "access-control-request-method": "POST" } });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get("access-control-allow-origin"), null);
  });

  test("a 401 to an allowed origin carries CORS headers so the SPA can read it", async () => {
    const r = await worker.call("GET", "/anon/whoami", { headers: { origin: SPA } });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("access-control-allow-origin"), SPA);
    assert.match(r.headers.get("access-control-expose-headers"), /www-authenticate/);
    assert.equal(r.headers.get("vary"), "Origin");
  });

  test("a disallowed origin's request is answered without CORS headers", async () => {
    const r = await worker.call("POST", "/anon/login", { headers: { origin: "https://evil.example.net" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("access-control-allow-origin"), null);
  });

  test("every response carries the JSON API's security headers and a request id", async () => {
    const { access_token: token } = await worker.login();
    for (const [method, target] of [["GET", "/"], ["GET", "/anon/whoami"], ["GET", "/nowhere"]]) {
      const r = await worker.call(method, target, { token });
      assert.equal(r.headers.get("x-content-type-options"), "nosniff", target);
      assert.equal(r.headers.get("content-security-policy"), "default-src 'none'; frame-ancestors 'none'", target);
      assert.equal(r.headers.get("cache-control"), "no-store", target);
      assert.match(r.headers.get("x-request-id"), /^[0-9a-f]{16}$/, target);
    }
    const ray = await worker.call("GET", "/", { headers: { "cf-ray": "8f1e2d3c4b5a6978-AMS" } });
    assert.equal(ray.headers.get("x-request-id"), "8f1e2d3c4b5a6978-AMS");
    // Anything not shaped like a Ray ID is the client's own text: never
    // echoed or logged; a random id stands in.
    const from = worker.logs.length;
    const forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    const refused = await worker.call("GET", "/", { headers: { "cf-ray": forged } });
    assert.match(refused.headers.get("x-request-id"), /^[0-9a-f]{16}$/);
    const deadline = Date.now() + 5000;
    while (!worker.logs.slice(from).some((l) => l.includes(refused.headers.get("x-request-id"))) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(worker.logs.slice(from).some((l) => l.includes(refused.headers.get("x-request-id"))), "the request was logged");
    assert.ok(!worker.logs.slice(from).some((l) => l.includes("eyJ")), "the forged CF-Ray is not logged");
  });
});

describe("rate limits", () => {
  const worker = useWorker({ ALLOWED_ORIGINS: SPA }, {
    options: {
      ratelimits: {
        MINT_LIMITER: { simple: { limit: 3, period: 60 } },
        SESSION_LIMITER: { simple: { limit: 5, period: 60 } },
      },
    },
  });

  test("minting trips at the configured count per client IP, with Retry-After", async () => {
    const mint = (ip) => worker.call("POST", "/anon/login", { headers: { "cf-connecting-ip": ip, origin: SPA } });
    for (let i = 0; i < 3; i++) assert.equal((await mint("203.0.113.7")).status, 200, `mint ${i}`);
    const limited = await mint("203.0.113.7");
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), "60");
    assert.deepEqual(limited.body, { detail: "too many requests; retry in 60 seconds" });
    // The SPA can read it: the 429 carries CORS headers and exposes Retry-After.
    assert.equal(limited.headers.get("access-control-allow-origin"), SPA);
    assert.match(limited.headers.get("access-control-expose-headers"), /retry-after/);
    assert.equal((await mint("203.0.113.8")).status, 200, "another client is unaffected");
  });

  test("the data routes have their own, per-visitor limit", async () => {
    const { access_token: token } = await worker.call("POST", "/anon/login", {
      headers: { "cf-connecting-ip": "198.51.100.1" },
    }).then((r) => r.body);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await worker.call("GET", "/anon/whoami", { token })).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
  });
});

describe("CORS on a misconfigured worker", () => {
  const worker = useWorker({ JWT_SECRET: "too-short", ALLOWED_ORIGINS: SPA });

  test("its 500 and a 413 carry CORS headers, so the SPA can show why", async () => {
    const r = await worker.call("POST", "/anon/login", { headers: { origin: SPA } });
    assert.equal(r.status, 500);
    assert.match(r.body.detail, /JWT_SECRET/);
    assert.equal(r.headers.get("access-control-allow-origin"), SPA);
    const big = await worker.call("POST", "/anon/login", { headers: { origin: SPA }, body: "x".repeat(9000), http: true });
    assert.equal(big.status, 413);
    assert.equal(big.headers.get("access-control-allow-origin"), SPA);
  });
});

describe("without rate-limit bindings", () => {
  const worker = useWorker();

  test("the worker runs and logs once that each limit is off", async () => {
    let token;
    for (let i = 0; i < 3; i++) {
      const r = await worker.call("POST", "/anon/login");
      assert.equal(r.status, 200);
      token = r.body.access_token;
    }
    // whoami is a session route: it consults SESSION_LIMITER.
    for (let i = 0; i < 3; i++) assert.equal((await worker.call("GET", "/anon/whoami", { token })).status, 200);
    // Log lines come through a pipe; a request's own line is printed after
    // anything it logged, so once all six are here, so is every
    // rate_limit_off line these requests printed.
    const parsed = () => worker.logs.map((l) => { try { return JSON.parse(l); } catch { return {}; } });
    const deadline = Date.now() + 10_000;
    while (parsed().filter((l) => l.event === "request").length < 6 && Date.now() < deadline) await sleep(20);
    const lines = parsed();
    assert.deepEqual(
      lines.filter((l) => l.event === "request").map((l) => `${l.route} ${l.status}`),
      ["login 200", "login 200", "login 200", "whoami 200", "whoami 200", "whoami 200"],
    );
    const off = lines.filter((l) => l.event === "rate_limit_off");
    assert.deepEqual(
      off.map((l) => l.binding),
      ["MINT_LIMITER", "SESSION_LIMITER"],
      "each binding is reported once, when first needed",
    );
    assert.ok(off.every((l) => l.level === "warn"));
  });
});

describe("Turnstile", () => {
  let verdict = "success";
  const worker = useWorker({ TURNSTILE_SECRET: "1x0000000000000000000000000000000AA" }, {
    options: {
      // Miniflare's outbound mock stands in for challenges.cloudflare.com.
      async outboundService(request) {
        assert.equal(new URL(request.url).pathname, "/turnstile/v0/siteverify");
        assert.equal(request.headers.get("content-type"), "application/json");
        const sent = await request.json();
        assert.equal(sent.secret, "1x0000000000000000000000000000000AA");
        if (verdict === "timeout") await sleep(5000);
        const success = verdict === "success" && sent.response === "good-token";
        return Response.json({ success, "error-codes": success ? [] : ["invalid-input-response"] });
      },
    },
  });

  test("a valid Turnstile token in the header or the body mints", async () => {
    verdict = "success";
    let r = await worker.call("POST", "/anon/login", { headers: { "cf-turnstile-response": "good-token" } });
    assert.equal(r.status, 200);
    assert.ok(r.body.access_token);
    const response = await worker.mf.dispatchFetch("http://127.0.0.1/anon/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ "cf-turnstile-response": "good-token" }),
    });
    assert.equal(response.status, 200);
  });

  test("a missing or rejected token gets 403 and no session", async () => {
    verdict = "success";
    let r = await worker.call("POST", "/anon/login");
    assert.equal(r.status, 403);
    assert.match(r.body.detail, /Turnstile token is required/);
    r = await worker.call("POST", "/anon/login", { headers: { "cf-turnstile-response": "forged" } });
    assert.equal(r.status, 403);
    assert.deepEqual(r.body, { detail: "the Turnstile token was not accepted" });
  });

  test("a siteverify that does not answer in time fails closed with 503", async () => {
    verdict = "timeout";
    const r = await worker.call("POST", "/anon/login", { headers: { "cf-turnstile-response": "good-token" } });
    assert.equal(r.status, 503);
    assert.match(r.body.detail, /Turnstile check is unavailable/);
    assert.equal(r.body.access_token, undefined);
  });
});

describe("the structured log", () => {
  const worker = useWorker();

  test("one JSON line per request with route, status, duration, visitor and request id, never a token", async () => {
    const { access_token: token, anon_id: id } = await worker.login();
    const response = await worker.call("POST", "/items/add_action?action=secret-plan", { token });
    await worker.call("GET", "/anon/whoami", { authorization: "Bearer not.a.token" });
    await worker.call("POST", "/items/add_action?action=%00", { token });
    await worker.call("OPTIONS", "/anon/login", { headers: { origin: "https://evil.example.net", "access-control-request-method": "POST" } });
    await sleep(200);
    const lines = worker.logs.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const added = lines.find((l) => l.route === "add_action" && l.status === 200);
    assert.equal(added.anon_id, id);
    assert.equal(added.method, "POST");
    assert.equal(added.path, "/items/add_action");
    assert.equal(typeof added.duration_ms, "number");
    assert.match(added.request_id, /^[0-9a-f]{16}$/);
    assert.equal(added.request_id, response.headers.get("x-request-id"), "the line names the response");
    const bad = lines.find((l) => l.route === "add_action" && l.status === 422);
    assert.deepEqual([bad.error, bad.detail], ["invalid_action", "must not contain control characters"]);
    const preflight = lines.find((l) => l.method === "OPTIONS");
    assert.deepEqual([preflight.status, preflight.error], [403, "origin_not_allowed"]);
    const refused = lines.find((l) => l.route === "whoami" && l.status === 401);
    assert.equal(refused.error, "invalid_token");
    assert.equal(refused.detail, "token is not a well-formed JWT");
    const everything = worker.logs.join("\n");
    for (const part of token.split(".")) assert.ok(!everything.includes(part), "no token in the log");
    assert.ok(!everything.includes("secret-plan"), "no action data in the log");
    assert.ok(!everything.includes(worker.secret), "no secret in the log");
  });
});
