// Forges tokens the way the worker signs them in its default mode (HS256
// with JWT_SECRET, no kid), to hand the demo one that has really expired.

import { createHmac } from "node:crypto";

const b64url = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");

export function forgeToken(secret, claims) {
  const header = b64url({ alg: "HS256", typ: "JWT" });
  const payload = b64url({ type: "anonymous", ...claims });
  const signature = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}
