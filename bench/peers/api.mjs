// The anon-sessions API in plain JavaScript, for the benchmark's peer
// workers (bench/peers/jose.mjs and bench/peers/webcrypto.mjs). Only the
// token code differs between the two; everything here is shared, so the
// comparison with the Rust worker is about the token work and the request
// glue, not about two different implementations of the rest.
//
// It follows README.md and docs/kv-schema.md: the same routes, JSON bodies,
// headers, bearer rules, one JSON log line per request, and the same KV
// layout and operations per request:
//   GET  /items/my_anonymous_items  1 list (up to 4 while KV returns short pages)
//   POST /items/add_action          1 list + 1 put + 1 get, and 1 more put
//                                   when the visitor's record is new or older
//                                   than 60 s.
// It is written for the benchmark, not for production.

const MIN_SECRET_BYTES = 32;
const DEFAULT_TOKEN_TTL = 7 * 24 * 3600;
const DEFAULT_DATA_TTL = 30 * 24 * 3600;
const MAX_HEADER_BYTES = 4096;
const MAX_TOKEN_BYTES = 2048;
const MAX_ACTION_CHARS = 200;
const FIRST_PAGE_LIMIT = 1000;
const MAX_LIST_CALLS = 4;
const RECORD_REFRESH_SECONDS = 60;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const ROUTES = {
  "/": { GET: "welcome" },
  "/anon/login": { POST: "login" },
  "/anon/whoami": { GET: "whoami" },
  "/items/my_anonymous_items": { GET: "myItems" },
  "/items/add_action": { POST: "addAction" },
};

/** A refused request: status, detail and extra headers. */
export class HttpError extends Error {
  constructor(status, detail, headers = {}, kind = "error") {
    super(detail);
    this.status = status;
    this.headers = headers;
    this.kind = kind;
  }
}

/** A refused token; `reason` is safe to send to the client. */
export class TokenRefused extends Error {}

// The headers this worker puts on every JSON response.
function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
      ...headers,
    },
  });
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let id = "";
  for (const b of bytes) id += b.toString(16).padStart(2, "0");
  return id;
}

function challenge(code, description) {
  return `Bearer error="${code}", error_description="${description}"`;
}

function bearerToken(header) {
  if (header === null) {
    throw new HttpError(401, "missing Authorization header: send `Authorization: Bearer <token>`", { "www-authenticate": "Bearer" }, "missing_token");
  }
  if (header.length > MAX_HEADER_BYTES) {
    throw new HttpError(401, "Authorization header is too long", { "www-authenticate": challenge("invalid_token", "Authorization header is too long") }, "invalid_token");
  }
  const trimmed = header.replace(/^[ \t]+|[ \t]+$/g, "");
  const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(trimmed);
  if (!m || m[1].toLowerCase() !== "bearer") {
    throw new HttpError(401, "authorization scheme must be Bearer", { "www-authenticate": "Bearer" }, "missing_token");
  }
  const token = m[2] ?? "";
  if (token === "") {
    throw new HttpError(401, "bearer token is empty", { "www-authenticate": challenge("invalid_request", "bearer token is empty") }, "invalid_request");
  }
  if (!B64TOKEN.test(token)) {
    const d = "bearer token contains characters a token cannot hold";
    throw new HttpError(401, d, { "www-authenticate": challenge("invalid_token", d) }, "invalid_token");
  }
  return token;
}

function readConfig(env) {
  const secret = env.JWT_SECRET;
  if (typeof secret !== "string" || secret === "") {
    throw new HttpError(500, "server misconfigured: set the JWT_SECRET secret", {}, "config");
  }
  const secretBytes = new TextEncoder().encode(secret);
  if (secretBytes.length < MIN_SECRET_BYTES) {
    throw new HttpError(500, `server misconfigured: JWT_SECRET is ${secretBytes.length} bytes long; it must be at least ${MIN_SECRET_BYTES}`, {}, "config");
  }
  const seconds = (name, fallback, min) => {
    const raw = env[name];
    if (raw === undefined) return fallback;
    const value = Number(String(raw).trim());
    if (!Number.isInteger(value) || value < min || value > 10 * 365 * 24 * 3600) {
      throw new HttpError(500, `server misconfigured: ${name} is out of range`, {}, "config");
    }
    return value;
  };
  return {
    secret,
    secretBytes,
    tokenTtl: seconds("TOKEN_TTL_SECONDS", DEFAULT_TOKEN_TTL, 1),
    dataTtl: seconds("DATA_TTL_SECONDS", DEFAULT_DATA_TTL, 60),
  };
}

function parseAction(search) {
  const values = new URLSearchParams(search).getAll("action");
  if (values.length === 0) throw new HttpError(422, "the action parameter is missing", {}, "invalid_action");
  if (values.length > 1) throw new HttpError(422, "give the action parameter once", {}, "invalid_action");
  const action = values[0];
  if (action === "") throw new HttpError(422, "the action is empty", {}, "invalid_action");
  if ([...action].length > MAX_ACTION_CHARS) throw new HttpError(422, "the action is too long", {}, "invalid_action");
  if (CONTROL.test(action)) throw new HttpError(422, "the action holds a control character", {}, "invalid_action");
  return action;
}

class StorageError extends Error {}

async function kvCall(promise) {
  try {
    return await promise;
  } catch (e) {
    throw new StorageError(String(e));
  }
}

async function firstActions(kv, id) {
  const prefix = `a:${id}:`;
  const items = [];
  let complete = false;
  let cursor;
  for (let i = 0; i < MAX_LIST_CALLS; i++) {
    const limit = Math.min(FIRST_PAGE_LIMIT - items.length, 1000);
    const page = await kvCall(kv.list(cursor === undefined ? { prefix, limit } : { prefix, limit, cursor }));
    for (const key of page.keys) {
      const m = key.metadata;
      if (m && typeof m.a === "string" && Number.isInteger(m.t)) items.push([key.name, m.a]);
    }
    complete = page.list_complete;
    if (complete || items.length >= FIRST_PAGE_LIMIT) break;
    cursor = page.cursor;
    if (!cursor) break;
  }
  return { items, complete };
}

function randomNonce() {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/**
 * Makes a module worker from a token implementation:
 *   makeTokens(config) -> { mint(anonId, nowSeconds) -> Promise<string>,
 *                           verify(token, nowSeconds) -> Promise<{sub, exp}> }
 * `verify` throws TokenRefused for any refused token; `sub` and `type` are
 * checked here.
 */
export function makeWorker(makeTokens) {
  // Read and checked once per isolate, like the Rust worker's configuration.
  let state;
  const setup = (env) => {
    if (state === undefined) {
      try {
        const config = readConfig(env);
        state = { config, tokens: makeTokens(config) };
      } catch (e) {
        state = { error: e };
      }
    }
    if (state.error) throw state.error;
    return state;
  };

  const authenticate = async (request, s, now) => {
    const token = bearerToken(request.headers.get("authorization"));
    const refuse = (d) => new HttpError(401, d, { "www-authenticate": challenge("invalid_token", d) }, "invalid_token");
    if (token.length > MAX_TOKEN_BYTES) throw refuse("token is too long");
    let claims;
    try {
      claims = await s.tokens.verify(token, now);
    } catch (e) {
      if (e instanceof TokenRefused) throw refuse(e.message);
      throw e;
    }
    if (claims.type !== "anonymous") throw refuse("token is not an anonymous session token");
    if (typeof claims.sub !== "string" || !UUID.test(claims.sub)) throw refuse("token subject is not an anonymous id");
    return { anonId: claims.sub, expiresAt: Math.trunc(claims.exp) };
  };
  const authenticated = async (request, s, now, trace) => {
    const v = await authenticate(request, s, now);
    trace.anonId = v.anonId;
    return v;
  };

  const handlers = {
    welcome: async () => json(200, { message: "Welcome to the anonymous session demo!" }),

    login: async (request, env, now, url, nowMs, trace) => {
      const s = setup(env);
      const anonId = crypto.randomUUID();
      trace.anonId = anonId;
      const token = await s.tokens.mint(anonId, now);
      return json(
        200,
        { access_token: token, token_type: "bearer", anon_id: anonId, expires_in: s.config.tokenTtl },
        { pragma: "no-cache" },
      );
    },

    whoami: async (request, env, now, url, nowMs, trace) => {
      const s = setup(env);
      const v = await authenticated(request, s, now, trace);
      return json(200, { anon_id: v.anonId, expires_at: v.expiresAt });
    },

    myItems: async (request, env, now, url, nowMs, trace) => {
      const s = setup(env);
      const v = await authenticated(request, s, now, trace);
      const kv = env.ANON_KV;
      const page = await firstActions(kv, v.anonId);
      return json(200, {
        anon_id: v.anonId,
        message: `Welcome, anonymous user ${v.anonId}!`,
        your_items: [],
        previous_actions: page.items.map(([, a]) => a),
      });
    },

    addAction: async (request, env, now, url, nowMs, trace) => {
      const s = setup(env);
      const v = await authenticated(request, s, now, trace);
      const action = parseAction(url.search);
      const kv = env.ANON_KV;
      const id = v.anonId;
      const ttl = s.config.dataTtl;

      const page = await firstActions(kv, id);
      const key = `a:${id}:${String(nowMs).padStart(13, "0")}-${randomNonce().toString(16).padStart(8, "0")}`;
      const stored = { a: action, t: nowMs };
      await kvCall(kv.put(key, JSON.stringify(stored), { expirationTtl: ttl, metadata: stored }));

      // Add the new action when the listing has not caught up with the write.
      if (!page.items.some(([k]) => k === key)) {
        let at = page.items.findIndex(([k]) => k > key);
        if (at === -1) at = page.items.length;
        if (page.complete || at < page.items.length) {
          page.items.splice(at, 0, [key, action]);
          if (page.items.length > FIRST_PAGE_LIMIT) page.items.length = FIRST_PAGE_LIMIT;
        }
      }

      // The visitor's record: read, and rewritten at most once a minute.
      let warning;
      try {
        const recordKey = `u:${id}`;
        const text = await kvCall(kv.get(recordKey));
        let record;
        try {
          record = text === null ? null : JSON.parse(text);
        } catch {
          record = null;
        }
        let next;
        if (!record || !Number.isInteger(record.created_at) || !Number.isInteger(record.last_activity_at)) {
          next = { created_at: now, last_activity_at: now };
        } else if (now - record.last_activity_at >= RECORD_REFRESH_SECONDS) {
          next = { created_at: record.created_at, last_activity_at: now };
        }
        if (next) await kvCall(kv.put(recordKey, JSON.stringify(next), { expirationTtl: ttl }));
      } catch (e) {
        warning = `visitor record not refreshed: ${e.message}`;
      }

      const response = json(200, {
        anon_id: id,
        message: `Action '${action}' recorded for anonymous user ${id}`,
        current_actions: page.items.map(([, a]) => a),
      });
      response.warning = warning;
      return response;
    },
  };

  return {
    async fetch(request, env) {
      const url = new URL(request.url);
      const nowMs = Date.now();
      const now = Math.floor(nowMs / 1000);
      // Read as the Rust worker reads it; no origin is allowed here, as in
      // the benchmark's configuration of the Rust worker.
      request.headers.get("origin");
      let response;
      let error;
      let route;
      const trace = {};
      try {
        const methods = ROUTES[url.pathname];
        if (!methods) throw new HttpError(404, "Not Found", {}, "not_found");
        route = methods[request.method];
        if (!route) throw new HttpError(405, "Method Not Allowed", { allow: Object.keys(methods).join(", ") }, "method_not_allowed");
        response = await handlers[route](request, env, now, url, nowMs, trace);
      } catch (e) {
        if (e instanceof HttpError) {
          error = e.kind;
          response = json(e.status, { detail: e.message }, e.headers);
        } else if (e instanceof StorageError) {
          error = "storage";
          response = json(503, { detail: "storage is temporarily unavailable; try again" }, { "retry-after": "1" });
        } else {
          error = "internal";
          response = json(503, { detail: "could not create a session; try again" }, { "retry-after": "1" });
        }
      }
      // One JSON line per request with the fields the Rust worker logs, and
      // the request id in a response header as it sends it.
      const requestId = request.headers.get("cf-ray") ?? randomId();
      const line = { level: response.status >= 500 ? "error" : response.warning ? "warn" : "info", event: "request", request_id: requestId, method: request.method };
      if (route) line.route = route;
      line.path = url.pathname.slice(0, 128);
      line.status = response.status;
      line.duration_ms = Date.now() - nowMs;
      if (trace.anonId) line.anon_id = trace.anonId;
      if (error) line.error = error;
      if (response.warning) line.warning = response.warning;
      console.log(JSON.stringify(line));
      response.headers.set("x-request-id", requestId);
      return response;
    },
  };
}
