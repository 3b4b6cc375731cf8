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
into a 401 is the web layer's job.

Passwords are hashed with Argon2id through pwdlib, the library FastAPI's own docs use.
``PASSWORD_HASH`` is tuned for a workbook (time_cost=1, 8 MiB, one lane: a few ms per
hash, so checks that create many users stay fast on 2 cores); production uses
``PasswordHash.recommended()``, which is slower on purpose. ``DUMMY_HASH`` is what a
log-in verifies against when the username is unknown, so "no such user" costs the same
time as "wrong password" and the response time does not reveal which usernames exist.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

__all__ = [
    "ALGORITHM",
    "DUMMY_HASH",
    "PASSWORD_HASH",
    "create_access_token",
    "hash_password",
    "new_secret_key",
    "verify_jwt",
    "verify_password",
]

ALGORITHM = "HS256"
DEFAULT_LIFETIME = 15 * 60  # seconds: short-lived access tokens limit what a stolen one is worth

# Argon2id at its cheapest sensible setting: a few ms per hash here instead of ~0.25 s.
PASSWORD_HASH = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8 * 1024, parallelism=1),))


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


def hash_password(password: str) -> str:
    """An Argon2id hash (PHC string ``$argon2id$v=19$m=8192,t=1,p=1$salt$hash``), salted per call."""
    return PASSWORD_HASH.hash(password)


DUMMY_HASH = hash_password(secrets.token_urlsafe(16))  # verified against when the user is unknown


def verify_password(password: str, stored: str) -> bool:
    """Does ``password`` match a ``hash_password`` result? A hash pwdlib cannot read is no match.

    The cost of a verify is set by the parameters inside ``stored``, so verifying against
    ``DUMMY_HASH`` takes as long as verifying a real user's hash.
    """
    try:
        return PASSWORD_HASH.verify(password, stored)
    except UnknownHashError:  # empty, plain text, or another scheme (e.g. the db's random PBKDF2 hashes)
        return False
