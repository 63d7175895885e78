"""Mint and verify tokens with libraries this project did not write.

    interop.py mint-seed SECRET SUB EXP   a token made exactly as the seed's
                                          FastAPI backend makes it
    interop.py decode SECRET TOKEN        the claims, as python-jose and
                                          PyJWT each decode them (JSON)
    interop.py verify-jwks URL TOKEN ISS AUD
                                          the claims as PyJWT verifies them
                                          with the key the token's kid names
                                          in the JWKS at URL, or the error
"""

import json
import sys

import jwt as pyjwt
from jose import jwt as jose_jwt


def main(argv):
    command = argv[1]
    if command == "mint-seed":
        secret, sub, exp = argv[2], argv[3], int(argv[4])
        claims = {"sub": sub, "type": "anonymous", "exp": exp}
        print(jose_jwt.encode(claims, secret, algorithm="HS256"))
    elif command == "decode":
        secret, token = argv[2], argv[3]
        result = {}
        for name, decode in (("python-jose", jose_jwt.decode), ("pyjwt", pyjwt.decode)):
            try:
                result[name] = decode(token, secret, algorithms=["HS256"])
            except Exception as error:  # report any refusal as data
                result[name] = {"error": type(error).__name__}
        print(json.dumps(result))
    elif command == "verify-jwks":
        url, token, issuer, audience = argv[2:6]
        try:
            key = pyjwt.PyJWKClient(url, cache_keys=False).get_signing_key_from_jwt(token)
            result = pyjwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                issuer=issuer,
                audience=audience,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except Exception as error:  # report any refusal as data
            result = {"error": type(error).__name__}
        print(json.dumps(result))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
