// Peer worker: the anon-sessions API with `jose`, used the way its README
// shows for HS256: the secret as a Uint8Array from TextEncoder, `SignJWT`
// to mint and `jwtVerify` to verify, with the algorithm pinned. The rest of
// the API (routes, bearer rules, KV layout) is bench/peers/api.mjs.

import { SignJWT, jwtVerify, errors } from "jose";
import { makeWorker, TokenRefused } from "./api.mjs";

export default makeWorker((config) => {
  const secret = config.secretBytes;
  return {
    mint(anonId, now) {
      return new SignJWT({ type: "anonymous" })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(anonId)
        .setIssuedAt(now)
        .setExpirationTime(now + config.tokenTtl)
        .sign(secret);
    },
    async verify(token, now) {
      try {
        const { payload } = await jwtVerify(token, secret, {
          algorithms: ["HS256"],
          requiredClaims: ["exp"],
          clockTolerance: 60,
          currentDate: new Date(now * 1000),
        });
        return payload;
      } catch (e) {
        if (e instanceof errors.JOSEError) throw new TokenRefused(e.code === "ERR_JWT_EXPIRED" ? "token has expired" : "token signature or claims are invalid");
        throw e;
      }
    },
  };
});
