// Builds signed JWTs with any header and claims, independently of the
// worker's own code, for the rejection tests.

import { createHmac } from "node:crypto";

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
