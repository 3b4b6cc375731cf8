"""httpx clients for loopback apps, cheap to create.

Every new ``httpx.Client`` builds a default SSL context and loads the system's CA
bundle (~20 ms) even when it only ever speaks plain HTTP to 127.0.0.1; one shared
context makes a client nearly free, which keeps ``check()`` well under a second.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def client(
    base_url: str, timeout: float = 10.0, client_class: type[httpx.Client] = httpx.Client, **kwargs: Any
) -> httpx.Client:
    return client_class(base_url=base_url, timeout=timeout, trust_env=False, verify=_ssl_context(), **kwargs)


def async_client(base_url: str, timeout: float = 10.0, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, trust_env=False, verify=_ssl_context(), **kwargs)
