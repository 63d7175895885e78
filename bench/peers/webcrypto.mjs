// Peer worker: the anon-sessions API with WebCrypto only, the HMAC key
// imported once per isolate and the JWT assembled by hand. The rest of the
// API (routes, bearer rules, KV layout) is bench/peers/api.mjs.

import { makeWorker, TokenRefused } from "./api.mjs";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function b64url(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unb64url(text) {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

const HEADER = b64url(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));

export default makeWorker((config) => {
  // Imported once, on the isolate's first request, and reused.
  const key = crypto.subtle.importKey("raw", config.secretBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);

  return {
    async mint(anonId, now) {
      const payload = b64url(encoder.encode(JSON.stringify({ exp: now + config.tokenTtl, iat: now, sub: anonId, type: "anonymous" })));
      const signingInput = `${HEADER}.${payload}`;
      const signature = await crypto.subtle.sign("HMAC", await key, encoder.encode(signingInput));
      return `${signingInput}.${b64url(new Uint8Array(signature))}`;
    },
    async verify(token, now) {
      const parts = token.split(".");
      if (parts.length !== 3) throw new TokenRefused("token is not a well-formed JWT");
      let header;
      let signature;
      try {
        header = JSON.parse(decoder.decode(unb64url(parts[0])));
        signature = unb64url(parts[2]);
      } catch {
        throw new TokenRefused("token is not a well-formed JWT");
      }
      if (header === null || typeof header !== "object" || header.alg !== "HS256") throw new TokenRefused("token algorithm is not accepted");
      if ("crit" in header || (header.cty !== undefined && header.cty !== "JWT")) throw new TokenRefused("token header uses an unsupported feature");
      const ok = await crypto.subtle.verify("HMAC", await key, signature, encoder.encode(`${parts[0]}.${parts[1]}`));
      if (!ok) throw new TokenRefused("token signature is invalid");
      let claims;
      try {
        claims = JSON.parse(decoder.decode(unb64url(parts[1])));
      } catch {
        throw new TokenRefused("token claims are malformed");
      }
      if (claims === null || typeof claims !== "object") throw new TokenRefused("token claims are malformed");
      if (typeof claims.exp !== "number") throw new TokenRefused("token has no expiry");
      if (now >= Math.trunc(claims.exp) + 60) throw new TokenRefused("token has expired");
      if (typeof claims.nbf === "number" && now < Math.trunc(claims.nbf) - 60) throw new TokenRefused("token is not valid yet");
      return claims;
    },
  };
});
