"""app_skeleton.auth: access tokens and passwords for chapter 04 (and Database.session()).

Each test builds the bad token it needs with PyJWT itself — a wrong key, ``alg: none``,
an edited payload — so the refusals are PyJWT's real ones, not strings we made up.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import warnings

import jwt
import pytest
from jwt.exceptions import InvalidSubjectError

from app_skeleton.auth import (
    ALGORITHM,
    DUMMY_HASH,
    create_access_token,
    hash_password,
    new_secret_key,
    verify_jwt,
    verify_password,
)
from app_skeleton.db import Database


def test_keys_are_fresh_and_long_enough_for_pyjwt() -> None:
    one, two = new_secret_key(), new_secret_key()
    assert one != two and len(one.encode()) >= 32
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # InsecureKeyLengthWarning would raise here
        create_access_token(1, one)


def test_a_token_round_trips_with_a_string_subject() -> None:
    key = new_secret_key()
    claims = verify_jwt(create_access_token(42, key, expires_in=60), key)
    assert claims["sub"] == "42" and int(claims["sub"]) == 42
    assert claims["exp"] - claims["iat"] == 60
    assert jwt.get_unverified_header(create_access_token(1, key))["alg"] == ALGORITHM == "HS256"


def test_an_int_subject_is_refused_by_pyjwt() -> None:
    key = new_secret_key()
    token = jwt.encode({"sub": 42, "exp": int(time.time()) + 60}, key, algorithm="HS256")
    with pytest.raises(InvalidSubjectError):
        verify_jwt(token, key)


def test_expires_in_zero_is_already_expired() -> None:
    key = new_secret_key()
    with pytest.raises(jwt.ExpiredSignatureError):
        verify_jwt(create_access_token(7, key, expires_in=0), key)


def _with_payload(token: str, claims: dict[str, object]) -> str:
    header, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


@pytest.mark.parametrize("kind", ["wrong key", "alg none", "edited payload", "garbage", "no exp", "HS512"])
def test_bad_tokens_raise_invalid_token_errors(kind: str) -> None:
    key = new_secret_key()
    good = create_access_token(7, key)
    later = int(time.time()) + 60
    token = {
        "wrong key": create_access_token(7, new_secret_key()),
        "alg none": jwt.encode({"sub": "7", "exp": later}, None, algorithm="none"),
        "edited payload": _with_payload(good, {"sub": "8", "exp": later}),
        "garbage": "not.a.token",
        "no exp": jwt.encode({"sub": "7"}, key, algorithm="HS256"),
        "HS512": jwt.encode({"sub": "7", "exp": later}, key, algorithm="HS512"),
    }[kind]
    with pytest.raises(jwt.InvalidTokenError):
        verify_jwt(token, key)


def test_passwords_verify_only_against_their_own_hash() -> None:
    stored = hash_password("correct horse")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert not verify_password("correct horse", hash_password("other"))
    for broken in ("", "plain", "md5$1$a$b", "pbkdf2_sha256$x$AAAA$AAAA", "$argon2id$garbage", DUMMY_HASH):
        assert not verify_password("correct horse", broken)


def test_hashes_are_salted_argon2id_with_the_dummys_parameters() -> None:
    one, two = hash_password("same"), hash_password("same")
    assert one != two and one.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    # the dummy carries the same cost parameters, so verifying against it takes as long
    assert DUMMY_HASH.rsplit("$", 2)[0] == one.rsplit("$", 2)[0]


def test_database_session_is_counted_and_usable() -> None:
    async def go() -> None:
        async with Database() as db:
            before = db.sessions_opened
            user = await db.create_user("ada", "ada@example.org")
            async with db.session() as session:
                row = await session.get(type(user), user.id)
                assert row is not None and row.username == "ada"
            assert db.sessions_opened == before + 2  # create_user's session, then ours

    asyncio.run(go())
