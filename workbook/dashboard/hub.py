"""Who is calling: the hub vouches for every token, the service never trusts a name it is sent.

A learner's kernel posts with its own ``JUPYTERHUB_API_TOKEN`` (the single-user server's
token) and an instructor's browser carries the token the hub's OAuth gave this service. Either
way the service asks the hub ``GET /hub/api/user`` with that token: JupyterHub lets every
token identify its owner there (name, admin flag, groups — ``read:users:name`` and
``read:users:groups`` on itself), whatever its other scopes. Answers are cached for a minute,
keyed by a hash of the token, so a burst of reports costs the hub one request per learner.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx


class HubUnavailable(RuntimeError):
    """The hub did not answer: the service cannot tell who is calling (503, not 403)."""


@dataclass(frozen=True)
class Identity:
    name: str
    admin: bool
    groups: tuple[str, ...]

    def may_view(self, group: str) -> bool:
        """Instructors: hub admins and members of ``group``."""
        return self.admin or group in self.groups


class Hub:
    """The hub's REST API as this service needs it (identify a token, finish OAuth, list learners)."""

    TTL = 60.0  # a revoked token keeps working here for at most this long
    DENIED_TTL = 5.0

    def __init__(self, api_url: str, token: str, client_id: str, callback_url: str, base_url: str = "/",
                 http: httpx.AsyncClient | None = None) -> None:  # fmt: skip
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.client_id = client_id
        self.callback_url = callback_url
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        self._cache: dict[str, tuple[float, Identity | None]] = {}
        self._roster: tuple[float, list[str]] = (0.0, [])
        self._asking: dict[str, asyncio.Future[Identity | None]] = {}
        self.asked = 0  # questions put to the hub's /user (the service's /health shows it)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def identify(self, token: str) -> Identity | None:
        """The user who owns ``token``; None for a token the hub rejects or that is not a user's.

        Concurrent first requests with one token share a single question to the hub."""
        key = hashlib.sha256(token.encode()).hexdigest()
        if (hit := self._cache.get(key)) is not None and hit[0] > time.monotonic():
            return hit[1]
        task = self._asking.get(key)
        if task is None:
            task = self._asking[key] = asyncio.ensure_future(self._ask(token, key))
            task.add_done_callback(lambda _: self._asking.pop(key, None))
        return await asyncio.shield(task)

    async def _ask(self, token: str, key: str) -> Identity | None:
        self.asked += 1
        try:
            got = await self.http.get(f"{self.api_url}/user", headers={"Authorization": f"token {token}"})
        except httpx.HTTPError as exc:
            raise HubUnavailable(f"the hub's API did not answer: {exc}") from exc
        if got.status_code >= 500:
            raise HubUnavailable(f"the hub's API answered {got.status_code}")
        model: dict[str, Any] = got.json() if got.status_code == 200 else {}
        who = None
        if model.get("kind") == "user" and model.get("name"):
            who = Identity(str(model["name"]), bool(model.get("admin")), tuple(model.get("groups") or ()))
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + (self.TTL if who else self.DENIED_TTL), who)
        return who

    def authorize_url(self, state: str, verifier: str) -> str:
        """Where a browser without our cookie goes: the hub's OAuth (it logs the user in first).

        With PKCE (S256): a code caught on its way back is useless without ``verifier``."""
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode({"client_id": self.client_id, "redirect_uri": self.callback_url, "response_type": "code",
                           "state": state, "code_challenge": challenge, "code_challenge_method": "S256"})  # fmt: skip
        return f"{self.base_url}hub/api/oauth2/authorize?{query}"

    async def exchange(self, code: str, verifier: str) -> str | None:
        """The OAuth code → an access token for the user who logged in (None if the hub refuses)."""
        form = {"client_id": self.client_id, "client_secret": self.token, "grant_type": "authorization_code",
                "code": code, "redirect_uri": self.callback_url, "code_verifier": verifier}  # fmt: skip
        try:
            got = await self.http.post(f"{self.api_url}/oauth2/token", data=form)
        except httpx.HTTPError as exc:
            raise HubUnavailable(f"the hub's API did not answer: {exc}") from exc
        if got.status_code != 200:
            return None
        return str(got.json().get("access_token") or "") or None

    async def learners(self, group: str) -> list[str]:
        """The hub's users who are not instructors (the board's rows before anyone checks).

        Needs the service's role scopes ``list:users``, ``read:users:name``, ``read:users:groups``;
        without them (or with the hub down) the board shows only those who reported.
        """
        now = time.monotonic()
        if self._roster[0] > now:
            return self._roster[1]
        names: list[str] = []
        try:
            got = await self.http.get(f"{self.api_url}/users", headers={"Authorization": f"token {self.token}"})
            if got.status_code == 200:
                names = [str(u["name"]) for u in got.json()
                         if u.get("name") and not u.get("admin") and group not in (u.get("groups") or ())]  # fmt: skip
        except (httpx.HTTPError, ValueError, TypeError, KeyError):
            names = []
        self._roster = (now + 10.0, names)
        return names
