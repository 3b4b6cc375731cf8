"""Chapter 03 checks: concurrency, graded by timing requests against the learner's app.

Every verdict compares times measured side by side in the same batch — the first of
several concurrent requests to finish against the last, or a /ping against the slow
requests it was sent among — never an absolute number, so a loaded machine slows both
sides alike. One batch per verdict keeps a check to a few tenths of a second. Requests go from threads (not asyncio)
because ``check()`` runs inside the kernel, where an event loop is already running.

Exercise 03.1's two checks run side by side (``pytest.mark.together``): the overlap verdict has a wide
margin (a batch must end within ¾ of its waits' sum; overlapping, it ends near ⅕ of it) and the /ping
verdict is about what else the server does, which only a blocked loop slows. Different exercises' checks
never run at once: a wrong answer that blocks the loop must fail its own exercise's checks only.
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from workbook.testing import expect, json_body, show

rng = random.Random()
BURST = 6  # requests at once: enough to tell overlap (≈1×) from a queue (≈6×)


def timed_get(client: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = client.get(path)
    return response, time.perf_counter() - started


def at_once(client: httpx.Client, paths: list[str]) -> list[tuple[httpx.Response, float]]:
    """GET every path concurrently; each response with its own latency."""
    with ThreadPoolExecutor(len(paths)) as pool:
        return list(pool.map(lambda path: timed_get(client, path), paths))


def ping_while(client: httpx.Client, paths: list[str]) -> tuple[float, float]:
    """Send /ping after /ping, back to back, for as long as a batch of slow requests runs.

    Why a stream and not one ping after a fixed delay: on a busy machine a slow request can
    reach the server after a ping sent "later", and a blocked server answers that ping at
    once. With a ping always in flight, whichever one is waiting when the loop blocks waits
    for the whole slow request — however the requests are scheduled. Both run over
    connections the server accepted beforehand. Returns the slowest ping's latency and the
    fastest slow request's."""
    clients = [httpx.Client(base_url=client.base_url, timeout=client.timeout) for _ in range(len(paths) + 1)]
    try:
        for each in clients:
            each.get("/ping")  # connections accepted and kept alive before anything slow starts
        *slow, pinger = clients
        pings: list[float] = []
        with ThreadPoolExecutor(len(paths)) as pool:
            pending = [pool.submit(timed_get, each, path) for each, path in zip(slow, paths, strict=True)]
            while not all(future.done() for future in pending):
                pings.append(timed_get(pinger, "/ping")[1])
            first = min(future.result()[1] for future in pending)
    finally:
        for each in clients:
            each.close()
    return max(pings, default=0.0), first


def ok_json(response: httpx.Response, what: str) -> dict:
    expect(response.status_code == 200, f"200 from {what}", show(response))
    return json_body(response)


def overlaps(
    client: httpx.Client, requests: list[tuple[str, float]], verify: Callable[[httpx.Response], None], what: str
) -> None:
    """BURST requests sent at once, each of which the server must wait ``wait`` seconds on.

    One after another they cannot all be answered before the sum of their waits has passed —
    however loaded the machine, so a queue can never pass. Overlapping, the batch ends shortly
    after the longest wait. The verdict: the batch ends within ¾ of that sum, measured from
    the moment it was sent (no single request's time, which a busy machine inflates)."""
    started = time.perf_counter()
    timed = at_once(client, [path for path, _ in requests])
    batch = time.perf_counter() - started
    for response, _ in timed:
        verify(response)
    serial = sum(wait for _, wait in requests)
    first = min(took for _, took in timed)
    expect(
        batch < 0.75 * serial,
        f"{len(requests)} concurrent {what} all answered within {0.75 * serial:.2f} s (one after another they need "
        f"at least {serial:.2f} s: the sum of their waits)",
        f"the batch took {batch:.2f} s (the first answer came after {first:.2f} s): they waited in line",
    )


def ping_stays_fast(client: httpx.Client, paths: Callable[[], list[str]], what: str) -> None:
    """Every /ping sent while slow requests run answers in under half of one's time.

    Blocked, the ping in flight when the loop blocks waits for the whole slow request (≈1×).
    Free, each takes a few ms (tens with a busy thread holding the GIL). Two tries: a second
    chance absorbs one scheduling hiccup, and neither try can pass a blocked server."""
    seen = []
    for _ in range(2):
        latency, first = ping_while(client, paths())
        seen.append(f"{latency:.2f} s (the fastest of {what} took {first:.2f} s)")
        if latency < 0.5 * first:
            return
    expect(
        False,
        f"every /ping answered in under half the time one of {what} takes",
        f"the slowest /ping took {'; '.join(seen)}: the event loop was blocked",
    )


# -- 03.1 a blocking async handler --------------------------------------------------
def _reports() -> list[tuple[str, float]]:
    waits = [round(rng.uniform(0.1, 0.14), 3) for _ in range(BURST)]
    return [(f"/report?seconds={wait:.3f}", wait) for wait in waits]


def _report_ok(response: httpx.Response) -> None:
    ok_json(response, "GET /report")


@pytest.mark.together("03.1")
def test_reports_overlap(app: httpx.Client) -> None:
    overlaps(app, _reports(), _report_ok, "GET /report requests")


@pytest.mark.together("03.1")
def test_ping_answers_during_reports(app: httpx.Client) -> None:
    seconds = rng.uniform(0.15, 0.2)  # the server waits at least this long for each report
    ping_stays_fast(app, lambda: [f"/report?seconds={seconds:.3f}"] * 4, "4 reports")


# -- 03.2 CPU-bound crunch ------------------------------------------------------------
def _expected_sum(n: int) -> int:
    return (n - 1) * n * (2 * n - 1) // 6


def _crunch(client: httpx.Client, n: int) -> float:
    response, took = timed_get(client, f"/crunch?n={n}")
    got = ok_json(response, f"GET /crunch?n={n}").get("sum_of_squares")
    expect(got == _expected_sum(n), f"sum_of_squares = {_expected_sum(n)} for n={n}", f"sum_of_squares = {got!r}")
    return took


def test_ping_answers_during_crunch(app: httpx.Client) -> None:
    probe = rng.randint(300_000, 400_000)
    took = _crunch(app, probe)  # also proves the sum; its time sizes the crunches below
    seconds = 0.15  # of work here, estimated from the probe (Size allows up to 10⁷)
    n = int(min(max(probe * seconds / max(took, 1e-3), probe), 10_000_000))
    ping_stays_fast(app, lambda: [f"/crunch?n={n}"], "the crunch")


# -- 03.3 one shared upstream client --------------------------------------------------
def test_relay_reuses_one_upstream_connection(app: httpx.Client, served: Callable[[str], httpx.Client]) -> None:
    upstream = served("upstream")
    tag = "".join(rng.choices(string.ascii_lowercase, k=10))
    calls = 4
    for i in range(calls):
        item = f"{tag}-{i}-{rng.randint(0, 999)}"
        got = ok_json(app.get(f"/relay/{item}"), f"GET /relay/{item}")
        expect(
            got.get("item") == item and got.get("served_by") == "upstream",
            f"the upstream's answer for {item!r}",
            repr(got),
        )
    stats = ok_json(upstream.get("/connections", params={"prefix": tag}), "the upstream's GET /connections")
    expect(
        stats.get("requests") == calls and stats.get("connections", calls) <= 2,
        f"{calls} sequential relayed calls over 1 (at most 2) TCP connections to the upstream",
        f"{stats.get('connections')} connections for {stats.get('requests')} calls — a new client per call",
    )


# -- 03.4 offload a blocking SDK call --------------------------------------------------
def test_scores_overlap(app: httpx.Client) -> None:
    delay = rng.uniform(0.1, 0.14)

    requests = [(f"/score/{rng.randint(1, 10**6)}?delay={delay:.3f}", delay) for _ in range(BURST)]

    def verify(response: httpx.Response) -> None:
        user_id = int(response.request.url.path.rsplit("/", 1)[1])
        got = ok_json(response, f"GET {response.request.url.path}")
        wanted = {"user_id": user_id, "score": 300 + (user_id * 37) % 551}
        expect(got == wanted, repr(wanted), repr(got))

    overlaps(app, requests, verify, "GET /score requests")
