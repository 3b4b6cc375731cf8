"""Run a chapter's pytest checks in this process against already-served apps.

The same function serves two callers: ``check()`` inside the learner's kernel (for
instant feedback) and ``workbook check --notebook`` in a separate trusted process,
where the apps live in another kernel and only their URLs cross over.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from typing import Any

import httpx
import pytest

from workbook import http
from workbook.registry import Chapter, Exercise
from workbook.results import Result
from workbook.testing import Mismatch

CHECK_TIMEOUT = 5.0
INDEPENDENT = "independent"  # @pytest.mark.independent: a check that may run beside the others so marked
TOGETHER = "together"  # @pytest.mark.together("03.1"): checks of one group run at once, groups one by one
MAX_AT_ONCE = 8


class NotServed(Exception):
    """No app of the needed name is running."""


def _explain(exc: BaseException, targets: dict[str, str]) -> str:
    """Turn what a check raised into words for a learner (no traceback)."""
    if isinstance(exc, Mismatch):
        return str(exc)
    if isinstance(exc, NotServed):
        return str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return (
            f"your app did not answer within {CHECK_TIMEOUT:.0f} s "
            "(is a handler blocking or looping forever?)"
        )
    if isinstance(exc, httpx.TransportError):
        where = ", ".join(targets.values()) or "(no URL)"
        return f"could not talk to your app at {where}: {exc.__class__.__name__}: {exc}"
    if isinstance(exc, AssertionError):
        return str(exc).split("\nassert ")[0]
    return f"the check itself crashed: {exc.__class__.__name__}: {exc}"


class _Plugin:
    """Gives checks their clients and records one outcome per test function.

    Checks marked ``independent`` (they share no state with any other check and time nothing
    that another check's load could disturb) run first, side by side in threads; the rest then
    run one at a time as pytest runs them. Checks marked ``together(group)`` (timing checks of one
    exercise whose margins leave room for each other's load) run side by side with the rest of
    their group, and the groups one after another, each alone on the app: one exercise's wrong
    answer (a blocked event loop) then slows only its own checks. Outcomes are keyed by test name,
    so the order in which checks finish changes nothing in the results.
    """

    FIXTURES = frozenset({"app", "served"})  # what an independent check may ask for

    def __init__(self, targets: dict[str, str], progress: Callable[[int], None] | None = None) -> None:
        self.targets = targets
        self.progress = progress
        self.outcomes: dict[str, tuple[bool, str]] = {}
        self.clients: dict[str, httpx.Client] = {}
        self.stuck: set[str] = set()  # apps that timed out once: later checks fail fast
        self.lock = threading.Lock()  # independent checks record outcomes from threads

    def client_for(self, name: str) -> httpx.Client:
        url = self.targets.get(name)
        if name in self.stuck:
            raise NotServed(
                f"your app {name!r} stopped answering: an earlier check got no answer within "
                f"{CHECK_TIMEOUT:.0f} s (is a handler blocking or looping forever?)"
            )
        if url is None:
            have = ", ".join(self.targets) or "none"
            raise NotServed(
                f"no app named {name!r} is being served (running: {have}) — "
                f"run the cell that calls serve({'app' if name == 'app' else '...'}"
                f"{'' if name == 'app' else f', name={name!r}'})"
            )
        with self.lock:
            if name not in self.clients:  # one client per app for the whole run (httpx.Client is thread-safe)
                self.clients[name] = http.client(url, timeout=CHECK_TIMEOUT)
            return self.clients[name]

    @pytest.fixture
    def app(self) -> httpx.Client:
        """The learner's main app (served as ``serve(app)``)."""
        return self.client_for("app")

    @pytest.fixture
    def served(self) -> Any:
        """``served("upstream")``: a client for another app the notebook serves."""
        return self.client_for

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", f"{INDEPENDENT}: may run beside the chapter's other independent checks")
        config.addinivalue_line("markers", f"{TOGETHER}(group): runs beside its group's other checks only")

    def record(self, name: str, exc: BaseException | None) -> None:
        """One check's outcome: the first failure of a test function wins over a pass."""
        with self.lock:
            if exc is None:
                self.outcomes.setdefault(name, (True, ""))
                return
            if isinstance(exc, httpx.TimeoutException):
                with contextlib.suppress(RuntimeError):  # which app was it?
                    base = f"{exc.request.url.scheme}://{exc.request.url.netloc.decode()}"
                    self.stuck.update(n for n, url in self.targets.items() if url == base)
            message = _explain(exc, self.targets)
            self.outcomes.setdefault(name, (False, message))
            if self.outcomes[name][0]:
                self.outcomes[name] = (False, message)

    def _marked(self, item: pytest.Item, marker: str) -> bool:
        return (
            isinstance(item, pytest.Function)
            and item.get_closest_marker(marker) is not None
            and set(item.fixturenames) <= self.FIXTURES
        )

    def _call(self, item: pytest.Function) -> None:
        name = item.originalname
        try:
            fixtures = {"app": lambda: self.client_for("app"), "served": lambda: self.client_for}
            item.obj(**{arg: fixtures[arg]() for arg in item.fixturenames})
        except pytest.skip.Exception:
            return
        except BaseException as exc:  # pytest.fail() raises a BaseException too: record it as pytest would
            self.record(name, exc)
        else:
            self.record(name, None)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """Run the independent checks together, then each ``together`` group, then leave the
        others to pytest's own loop."""
        if session.config.option.collectonly:
            return
        beside = [item for item in session.items if self._marked(item, INDEPENDENT)]
        groups: dict[str, list[pytest.Item]] = {}
        for item in session.items:
            if item not in beside and self._marked(item, TOGETHER):
                groups.setdefault(str(item.get_closest_marker(TOGETHER).args[0]), []).append(item)  # type: ignore[union-attr]
        batches = [batch for batch in [beside, *groups.values()] if len(batch) >= 2]
        for batch in batches:
            session.items[:] = [item for item in session.items if item not in batch]
        for batch in batches:
            with ThreadPoolExecutor(min(len(batch), MAX_AT_ONCE), thread_name_prefix="workbook-check") as pool:
                self._finish(self._start(pool, batch))

    def _start(self, pool: ThreadPoolExecutor, batch: list[pytest.Item]) -> list[Future[None]]:
        """Submit a batch; a check marked ``independent(lead=S)`` (the batch's slowest, which spends most
        of its time waiting) starts alone and the others S seconds later, so their boots do not
        slow its own and the batch takes about as long as that check does alone."""
        leads = {item: float(m.kwargs.get("lead", 0)) if (m := item.get_closest_marker(INDEPENDENT)) else 0.0
                 for item in batch}  # fmt: skip
        leading = [item for item in batch if leads[item] > 0]
        futures = [pool.submit(self._call, item) for item in leading]  # type: ignore[arg-type]
        if leading:
            wait(futures, timeout=max(leads.values()))
        return futures + [pool.submit(self._call, item) for item in batch if item not in leading]  # type: ignore[arg-type]

    def _finish(self, futures: Iterable[Future[None]]) -> None:
        """Wait for each check; report progress from this thread (a notebook display is not thread-safe)."""
        for done in as_completed(list(futures)):
            done.result()
            if self.progress is not None:
                self.progress(len(self.outcomes))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        yield
        name = getattr(item, "originalname", item.name)
        if call.excinfo is not None and call.when in ("setup", "call"):
            exc = call.excinfo.value
            if isinstance(exc, pytest.skip.Exception):
                return
            self.record(name, exc)
        elif call.when == "call":
            self.record(name, None)
        if call.when == "teardown" and self.progress is not None:
            self.progress(len(self.outcomes))


@contextlib.contextmanager
def quiet_pytest_env() -> Iterator[None]:
    """No third-party pytest plugins (nbval, anyio, schemathesis...) here: fast, no side effects."""
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # no nbval/anyio/...: faster, no side effects
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved


def run_checks(
    chapter: Chapter,
    exercises: list[Exercise],
    targets: dict[str, str],
    preface: dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Result]:
    """Run the checks of ``exercises`` against ``targets`` (name → base URL).

    ``preface`` maps an exercise id to a note that explains a failure before the
    check does (its cell raised, the kernel died, ...). ``progress(done, total)`` is
    called after each check, for a panel that shows a slow chapter moving.
    """
    module = chapter.checks_module
    wanted = [check.test for ex in exercises for check in ex.checks]
    plugin = _Plugin(targets, (lambda done: progress(done, len(wanted))) if progress else None)
    args = [
        str(module),
        "-q", "--no-header", "-p", "no:cacheprovider", "-p", "no:faulthandler",
        "-p", "no:pastebin", "-p", "no:junitxml", "-p", "no:doctest", "-p", "no:logging",
        "-p", "no:unraisableexception", "-p", "no:threadexception",  # each ends with a costly gc.collect()
        "--capture=sys", "--import-mode=importlib", "-c", os.devnull,
        "--rootdir", str(module.parent), "-W", "ignore::DeprecationWarning",
        "-k", " or ".join(wanted) if wanted else "nothing_selected",
    ]  # fmt: skip
    sink = io.StringIO()
    with quiet_pytest_env(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            pytest.main(args, plugins=[plugin])
        finally:
            for client in plugin.clients.values():
                client.close()
    results = []
    for ex in exercises:
        note = (preface or {}).get(ex.id, "")
        for check in ex.checks:
            passed, message = plugin.outcomes.get(
                check.test, (False, f"the check {check.test} did not run:\n{sink.getvalue()[-800:]}")
            )
            if note and not passed:
                message = f"{note}\n{message}"
            results.append(
                Result(chapter.id, ex.id, check.behaviour, passed, message, check.hint, check.test)
            )
    return results
