// Builds signed JWTs with any header and claims, independently of the
// worker's own code, for the rejection tests.

import { createHmac, generateKeyPairSync, sign } from "node:crypto";

const b64 = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** HS256-signs `header` and `claims` with `secret`, whatever `alg` says. */
export function forge(header, claims, secret) {
  const signed = `${b64(header)}.${b64(claims)}`;
  const signature = createHmac("sha256", secret).update(signed).digest("base64url");
  return `${signed}.${signature}`;
}

export const now = () => Math.floor(Date.now() / 1000);

/** Claims for a well-formed anonymous token, with `extra` merged in. */
export function claims(extra = {}) {
  return { sub: "3f2504e0-4f89-41d3-9a0c-0305e82c3301", type: "anonymous", exp: now() + 3600, ...extra };
}

/** A new Ed25519 key: `d` (the seed, as `JWT_KEY_<kid>` holds it), `x` and the key objects. */
export function ed25519Key() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const { d, x } = privateKey.export({ format: "jwk" });
  return { d, x, privateKey, publicKey };
}

/** EdDSA-signs `header` and `claims` with `key` (from `ed25519Key`), whatever `alg` says. */
export function forgeEdDSA(header, claims, key) {
  const signed = `${b64(header)}.${b64(claims)}`;
  return `${signed}.${sign(null, Buffer.from(signed), key.privateKey).toString("base64url")}`;
}
