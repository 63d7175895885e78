// EdDSA mode against the real built worker: the JWKS, iss and aud, unknown
// kids, and two verifiers this project did not write (npm `jose` and
// PyJWT with its crypto extra) checking our tokens from the live JWKS.

import assert from "node:assert/strict";
import { test } from "node:test";
import { createRemoteJWKSet, errors, jwtVerify } from "jose";
import { claims, ed25519Key, forge, forgeEdDSA } from "./support/forge.mjs";
import { python, useWorker } from "./support/worker.mjs";

const KEY = ed25519Key();
const ISSUER = "https://anon.example.com";
const AUDIENCE = "https://api.example.com";
const worker = useWorker({
  JWT_SECRET: undefined,
  JWT_ALGORITHM: "EdDSA",
  JWT_KIDS: "k2026a",
  JWT_KEY_k2026a: KEY.d,
  JWT_ISSUER: ISSUER,
  JWT_AUDIENCE: AUDIENCE,
});
const HEADER = { alg: "EdDSA", kid: "k2026a", typ: "JWT" };
const scoped = (extra = {}) => claims({ iss: ISSUER, aud: AUDIENCE, ...extra });

const decode = (part) => JSON.parse(Buffer.from(part, "base64url").toString());

/** The token with its payload's `sub` changed and the signature kept. */
function tampered(token) {
  const [h, c, s] = token.split(".");
  const payload = { ...decode(c), sub: "00000000-0000-4000-8000-000000000000" };
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${s}`;
}

test("the JWKS lists the public key only, and may be cached for an hour", async () => {
  const r = await worker.call("GET", "/.well-known/jwks.json");
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("cache-control"), "public, max-age=3600");
  assert.deepEqual(r.body, {
    keys: [{ kty: "OKP", crv: "Ed25519", x: KEY.x, kid: "k2026a", alg: "EdDSA", use: "sig" }],
  });
  assert.ok(!JSON.stringify(r.body).includes(KEY.d));
});

test("minted tokens are EdDSA with kid and typ, and carry iss and aud", async () => {
  const { access_token: token, anon_id: id } = await worker.login();
  const [h, c] = token.split(".");
  assert.deepEqual(decode(h), HEADER);
  const payload = decode(c);
  assert.equal(payload.sub, id);
  assert.equal(payload.iss, ISSUER);
  assert.equal(payload.aud, AUDIENCE);
  assert.equal((await worker.call("GET", "/anon/whoami", { token })).status, 200);
});

test("npm jose verifies our token against the live JWKS and rejects a tampered one", async () => {
  const { access_token: token, anon_id: id } = await worker.login();
  const jwks = createRemoteJWKSet(new URL(`${await worker.url()}/.well-known/jwks.json`));
  const options = { issuer: ISSUER, audience: AUDIENCE, algorithms: ["EdDSA"], typ: "JWT" };

  const { payload, protectedHeader } = await jwtVerify(token, jwks, options);
  assert.equal(payload.sub, id);
  assert.equal(payload.type, "anonymous");
  assert.equal(protectedHeader.kid, "k2026a");

  await assert.rejects(jwtVerify(tampered(token), jwks, options), errors.JWSSignatureVerificationFailed);
  await assert.rejects(jwtVerify(token, jwks, { ...options, audience: "https://other.example.com" }), errors.JWTClaimValidationFailed);
});

test("PyJWT[crypto] verifies our token from the same JWKS and rejects a tampered one", async () => {
  const { access_token: token, anon_id: id } = await worker.login();
  const url = `${await worker.url()}/.well-known/jwks.json`;

  const verified = JSON.parse(python("verify-jwks", url, token, ISSUER, AUDIENCE));
  assert.equal(verified.sub, id);
  assert.equal(verified.type, "anonymous");
  assert.equal(verified.exp - verified.iat, 604800);

  const refused = JSON.parse(python("verify-jwks", url, tampered(token), ISSUER, AUDIENCE));
  assert.deepEqual(refused, { error: "InvalidSignatureError" });
});

test("the worker refuses our own token once tampered", async () => {
  const { access_token: token } = await worker.login();
  const r = await worker.call("GET", "/anon/whoami", { token: tampered(token) });
  assert.equal(r.status, 401);
  assert.equal(r.body.detail, "token signature is invalid");
});

test("a token signed by the right key with the wrong iss or aud is refused", async () => {
  const cases = [
    [scoped({ iss: "https://evil.example.com" }), "token issuer is not accepted"],
    [scoped({ iss: undefined }), "token issuer is not accepted"],
    [scoped({ aud: "https://other.example.com" }), "token audience is not accepted"],
    [scoped({ aud: undefined }), "token audience is not accepted"],
  ];
  for (const [payload, detail] of cases) {
    const r = await worker.call("GET", "/anon/whoami", { token: forgeEdDSA(HEADER, payload, KEY) });
    assert.equal(r.status, 401, detail);
    assert.equal(r.body.detail, detail);
    assert.equal(r.headers.get("www-authenticate"), `Bearer error="invalid_token", error_description="${detail}"`);
  }
  const right = await worker.call("GET", "/anon/whoami", { token: forgeEdDSA(HEADER, scoped({ aud: ["x", AUDIENCE] }), KEY) });
  assert.equal(right.status, 200, "an aud array that names us is accepted");
});

test("an unknown kid is a 401, even when the signature is good for it", async () => {
  const other = ed25519Key();
  const token = forgeEdDSA({ ...HEADER, kid: "k2025z" }, scoped(), other);
  const r = await worker.call("GET", "/anon/whoami", { token });
  assert.equal(r.status, 401);
  assert.equal(r.body.detail, "token key id is not known");
  assert.equal(r.headers.get("www-authenticate"), 'Bearer error="invalid_token", error_description="token key id is not known"');
});

test("without JWT_SECRET, a token without kid is refused, and HS256 never stands in for EdDSA", async () => {
  let r = await worker.call("GET", "/anon/whoami", { token: forge({ alg: "HS256", typ: "JWT" }, scoped(), "any-secret") });
  assert.equal(r.status, 401);
  assert.equal(r.body.detail, "token has no key id");

  // HS256 keyed with the published public key: the classic confusion.
  r = await worker.call("GET", "/anon/whoami", { token: forge({ ...HEADER, alg: "HS256" }, scoped(), Buffer.from(KEY.x, "base64url")) });
  assert.equal(r.status, 401);
  assert.equal(r.body.detail, "token algorithm is not accepted");
});
