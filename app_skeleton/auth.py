"""The ``verify_jwt`` the article calls but never defines, with what it needs around it.

Access tokens are JWTs signed with HMAC-SHA256 (PyJWT, ``HS256``). Three rules the
article's snippet gets wrong or leaves open are built in here:

- the key is made at runtime (``new_secret_key()``), never written in a file, and is
  long enough (32 bytes or more) that PyJWT does not warn about it;
- ``sub`` (the user id) is a *string*: PyJWT 2.10+ rejects any other type on decode
  with ``InvalidSubjectError``, so an ``int`` id makes every valid token look invalid;
- decoding names the one algorithm it accepts and requires ``exp`` and ``sub``, so an
  unsigned ``alg: none`` token or a token without an expiry is refused.

``verify_jwt`` *raises* (every refusal is a ``jwt.InvalidTokenError``); turning that
into a 401 is the web layer's job. Passwords reuse ``app_skeleton.db.hash_password``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any

import jwt

from app_skeleton.db import hash_password

__all__ = [
    "ALGORITHM",
    "create_access_token",
    "hash_password",
    "new_secret_key",
    "verify_jwt",
    "verify_password",
]

ALGORITHM = "HS256"
DEFAULT_LIFETIME = 15 * 60  # seconds: short-lived access tokens limit what a stolen one is worth


def new_secret_key() -> str:
    """64 hex characters (32 random bytes): a fresh key per process, never committed.

    Every token signed with an old key stops verifying when the process restarts,
    which is fine for a workbook; a real service loads its key from a secret store.
    """
    return secrets.token_hex(32)


def create_access_token(user_id: int, key: str, expires_in: float = DEFAULT_LIFETIME) -> str:
    """A signed token naming ``user_id`` (as a string) that expires ``expires_in`` s from now.

    ``exp`` is whole seconds (JWT NumericDate) and PyJWT treats ``exp <= now`` as
    expired, so ``expires_in=0`` gives a token that is already expired — a real one,
    signed with the real key, which is how tests get an expired token without waiting.
    """
    now = int(time.time())
    claims = {"sub": str(user_id), "iat": now, "exp": now + int(expires_in)}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify_jwt(token: str, key: str) -> dict[str, Any]:
    """The claims of a valid token; raises ``jwt.InvalidTokenError`` (a subclass) otherwise.

    ``algorithms=[ALGORITHM]`` is the allow-list: a token whose header says ``none``
    (unsigned) or any other algorithm is refused before its signature is looked at.
    """
    return jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})


def verify_password(password: str, stored: str) -> bool:
    """Does ``password`` match a ``hash_password`` result? Compared in constant time."""
    try:
        algorithm, iterations, salt, digest = stored.split("$")
        if algorithm != "pbkdf2_sha256":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    except ValueError:  # not four fields, bad base64 or a non-numeric iteration count
        return False
    return hmac.compare_digest(actual, expected)
