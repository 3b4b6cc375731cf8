"""Chapter 07 checks: your deployment files, run in real processes with random settings.

The checks never import your objects. They fetch each exercise's file from the notebook's
app (``GET /exercises/07.K`` — as CI checks out a repository), write it into a fresh
temporary folder, and run it: ``settings.py`` in a Python subprocess with random environment
variables and ``.env`` files, ``gunicorn.conf.py`` under a real gunicorn with a random
``WEB_CONCURRENCY``, the Dockerfile's command the way Docker starts it (in its own PID
namespace where the machine allows it). The app those servers run is the checks' own tiny
ASGI app (``/health`` → its PID, ``/block`` → a blocking call), so only your file is graded.
Every process runs in its own process group, killed in a ``finally``. These checks take
seconds, not milliseconds: processes boot, get killed and get replaced. Each check has its own
folder, processes and ports, so ``check()`` runs them side by side (``pytest.mark.independent``):
the chapter takes about as long as its slowest check.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from workbook import dockerfile
from workbook.deploy_checks import (
    CAPPED,
    CAPPED_CONF,
    GUNICORN,
    MAX_WORKERS,
    TINY_APP,
    folder,
    handles,
    health_pid,
    leaf_processes,
    prompt_master,
    settled,
    started,
)
from workbook.processes import ProcessServer, pid_namespace_available
from workbook.testing import Mismatch, expect, show, word

rng = random.Random()
DEPRECATED = "uvicorn.workers` module is deprecated"
STOP_WITHIN = 5.0  # seconds from SIGTERM to a stopped container (Docker waits 10, then SIGKILLs)
TOLD_CONF = "told.conf.py"  # 07.3: the learner's file, plus the timeout gunicorn ended up with, in the log
TOLD = '''import sys
exec(compile(open("gunicorn.conf.py").read(), "gunicorn.conf.py", "exec"))
_theirs = globals().get("when_ready")
def when_ready(server):
    print(f"WORKBOOK-TIMEOUT {server.cfg.timeout}", file=sys.stderr, flush=True)
    _theirs(server) if callable(_theirs) else None
'''
WORKER_REPLACED = "a worker stuck in a blocking call is killed (WORKER TIMEOUT) and replaced within 5 s"


def fetch(app: httpx.Client, exercise: str) -> str:
    """The learner's file for ``exercise``, as the notebook's app serves it."""
    response = app.get(f"/exercises/{exercise}")
    expect(response.status_code == 200, f"GET /exercises/{exercise} → 200 with your file", show(response))
    return response.text


# -- 07.1 settings ------------------------------------------------------------------------------
RUNNER = """
import importlib, json, os, sys
base = dict(os.environ)
for case in json.loads(sys.argv[1]):
    os.chdir(case["dir"])
    os.environ.clear(); os.environ.update(base); os.environ.update(case["env"])
    sys.modules.pop("settings", None)
    try:
        made = importlib.import_module("settings").Settings()
        values = {k: getattr(made, k) for k in type(made).model_fields}
        values = {k: v.get_secret_value() if hasattr(v, "get_secret_value") else v for k, v in values.items()}
        print(json.dumps({"ok": True, "values": values}, default=str))
    except Exception as exc:
        errors = exc.errors() if hasattr(exc, "errors") else []
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:400],
                          "problems": [[str(e.get("loc", ("",))[0]), e.get("type")] for e in errors]}))
"""


def load_settings(app: httpx.Client, cases: list[tuple[dict[str, str], dict[str, str] | None]]) -> list[dict]:
    """Build ``Settings()`` from the learner's settings.py once per case: (environment, .env or None).

    Each case runs in its own folder, which is the working directory, as in production."""
    source = fetch(app, "07.1")
    with tempfile.TemporaryDirectory(prefix="workbook-07-") as root:
        plan = []
        for index, (env, dotenv) in enumerate(cases):
            where = Path(root) / f"case{index}"
            where.mkdir()
            (where / "settings.py").write_text(source)
            if dotenv is not None:
                (where / ".env").write_text("".join(f"{k}={v}\n" for k, v in dotenv.items()))
            plan.append({"dir": str(where), "env": env})
        bare = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
        try:
            done = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(plan)], capture_output=True, text=True,
                                  timeout=30, env=bare, cwd=root)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise Mismatch("settings.py loads in seconds", "still running after 30 s") from None
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    expect(len(results) == len(cases), "settings.py imports and Settings() can be built", done.stderr[-600:])
    return results


def described(result: dict) -> str:
    return f"Settings() = {result['values']}" if result["ok"] else result["error"]


@pytest.mark.independent
def test_settings_require_secret_key_and_database_url(app: httpx.Client) -> None:
    url, secret = f"sqlite:///{word()}.db", word(32)
    cases = [{"DATABASE_URL": url}, {"SECRET_KEY": secret}, {"DATABASE_URL": url, "SECRET_KEY": secret}]
    no_secret, no_url, both = load_settings(app, [(env, None) for env in cases])
    expect(both["ok"] and both["values"].get("secret_key") == secret and both["values"].get("database_url") == url,
           f"with DATABASE_URL={url} and SECRET_KEY={secret[:6]}… set: database_url and secret_key read from them",
           described(both))  # fmt: skip
    expect(not no_secret["ok"] and ["secret_key", "missing"] in no_secret["problems"],
           "Settings() without SECRET_KEY fails: secret_key is missing", described(no_secret))  # fmt: skip
    expect(not no_url["ok"] and ["database_url", "missing"] in no_url["problems"],
           "Settings() without DATABASE_URL fails: database_url is missing", described(no_url))  # fmt: skip


@pytest.mark.independent
def test_settings_read_dotenv_and_environment_wins(app: httpx.Client) -> None:
    dotenv = {"DATABASE_URL": f"sqlite:///{word()}.db", "SECRET_KEY": word(32), "ENVIRONMENT": f"staging-{word(4)}"}
    override = f"production-{word(4)}"
    from_file, overridden = load_settings(app, [({}, dotenv), ({"ENVIRONMENT": override}, dotenv)])
    wanted = {"database_url": dotenv["DATABASE_URL"], "secret_key": dotenv["SECRET_KEY"],
              "environment": dotenv["ENVIRONMENT"]}  # fmt: skip
    got = {k: from_file.get("values", {}).get(k) for k in wanted}
    expect(from_file["ok"] and got == wanted, f"from ./.env only: {wanted}", described(from_file))
    expect(overridden["ok"] and overridden["values"].get("environment") == override,
           f"ENVIRONMENT={override} in the environment wins over .env's {dotenv['ENVIRONMENT']}",
           described(overridden))  # fmt: skip


@pytest.mark.independent
def test_settings_ignore_undeclared_dotenv_keys(app: httpx.Client) -> None:
    dotenv = {"DATABASE_URL": f"sqlite:///{word()}.db", "SECRET_KEY": word(32),
              f"POSTGRES_{word(5).upper()}": word(), f"{word(6).upper()}_TOKEN": word()}  # fmt: skip
    (result,) = load_settings(app, [({}, dotenv)])
    expect(result["ok"] and result["values"].get("database_url") == dotenv["DATABASE_URL"],
           f".env with two keys Settings does not declare ({', '.join(list(dotenv)[2:])}) still loads",
           described(result) + (" — extra_forbidden" if "extra_forbidden" in str(result) else ""))  # fmt: skip


# -- 07.2 gunicorn workers ------------------------------------------------------------------------
@pytest.mark.independent
def test_workers_follow_web_concurrency_and_are_replaced(app: httpx.Client) -> None:
    conf = fetch(app, "07.2")
    count = rng.choice([2, 4])  # never 3, 5 or 9: what (2 × CPU) + 1 gives on 1, 2 or 4 cores
    with folder({"gunicorn.conf.py": conf, CAPPED_CONF: CAPPED, "main.py": TINY_APP}) as cwd, started(
        [*GUNICORN, "-c", CAPPED_CONF], cwd, {"WEB_CONCURRENCY": str(count)}
    ) as server:
        workers = settled(count, server.workers)
        pid = health_pid(server)
        expect(pid in workers, "GET /health answered by one of the workers with {'pid': ...}",
               f"answer from pid {pid}; workers {workers}; the log says:\n{server.log_text()[-500:]}")  # fmt: skip
        expect(len(workers) == count, f"WEB_CONCURRENCY={count} → {count} worker processes",
               f"{len(workers)} worker processes")  # fmt: skip
        victim = rng.choice(workers)
        os.kill(victim, signal.SIGKILL)
        answered, failed = 0, 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pid = health_pid(server)
            answered, failed = answered + (pid is not None), failed + (pid is None)
            now = server.workers()
            if victim not in now and len(now) == count and answered >= 5:
                break
            time.sleep(0.05)
        now = server.workers()
        expect(victim not in now and len(now) == count,
               f"after kill -9 of worker {victim}, gunicorn boots a replacement ({count} workers again)",
               f"workers now: {now}")  # fmt: skip
        expect(failed <= 1, "requests keep succeeding while the worker is replaced",
               f"{failed} of {answered + failed} requests failed")  # fmt: skip


@pytest.mark.independent
def test_worker_class_is_not_deprecated(app: httpx.Client) -> None:
    conf = fetch(app, "07.2")
    env = {"WEB_CONCURRENCY": "1", "PYTHONWARNINGS": "default::DeprecationWarning"}
    with folder({"gunicorn.conf.py": conf, "main.py": TINY_APP}) as cwd, started(
        [*GUNICORN, "-c", "gunicorn.conf.py", "--workers", "1"], cwd, env  # one is enough to see its class
    ) as server:
        pid = health_pid(server)
        log = server.log_text()
    used = next((line.split("Using worker:", 1)[1].strip() for line in log.splitlines() if "Using worker:" in line),
                "?")  # fmt: skip
    expect(DEPRECATED not in log, "a worker class that is not deprecated (uvicorn_worker.UvicornWorker)",
           f"worker class {used}; DeprecationWarning: The `{DEPRECATED}")  # fmt: skip
    expect(pid is not None and used.startswith(("uvicorn_worker.", "asgi")),
           "an ASGI worker (uvicorn_worker.UvicornWorker) answers GET /health",
           f"worker class {used}; GET /health → {'no answer' if pid is None else pid}")  # fmt: skip


# -- 07.3 a stuck worker ----------------------------------------------------------------------------
MASTER_LOOKS_EVERY = 1.0  # gunicorn's master checks its workers' heartbeats about once a second


@pytest.mark.independent(lead=0.8)  # the slowest: it boots alone, then waits while the others run
def test_stuck_worker_is_replaced_within_5_seconds(app: httpx.Client) -> None:
    conf = fetch(app, "07.3")
    argv = [*GUNICORN, "-c", TOLD_CONF, "-k", "uvicorn_worker.UvicornWorker", "-w", "1"]
    files = {"gunicorn.conf.py": conf, TOLD_CONF: TOLD, "main.py": TINY_APP}
    with folder(files) as cwd, started(argv, cwd, {}) as server:
        first = health_pid(server)
        _not_killed_in_time(server.log_text())  # fails now when gunicorn cannot do it in time
        seconds = rng.uniform(20, 30)
        stuck = threading.Thread(target=_get_quietly, args=(f"{server.url}/block?seconds={seconds:.1f}",), daemon=True)
        within = 5.0 - MASTER_LOOKS_EVERY  # the master's look is made prompt below: allow for it when late
        began = time.monotonic()
        stuck.start()
        replaced_after = None
        with prompt_master(server.pid):
            while (left := within - (time.monotonic() - began)) > 0:  # the stuck worker accepts nothing:
                pid = health_pid(server, timeout=max(left, 0.05))  # this request waits for the replacement
                if pid is not None and pid != first:
                    replaced_after = time.monotonic() - began
                    break
                time.sleep(0.05)
        killed = "WORKER TIMEOUT" in server.log_text()
    expect(replaced_after is not None, WORKER_REPLACED,
           f"the worker was still stuck after {within:.0f} s{' (killed, but not replaced yet)' if killed else ''}, "
           f"and the master may look up to {MASTER_LOOKS_EVERY:.0f} s later than it did here: still stuck after "
           "5 s")  # fmt: skip


def _not_killed_in_time(log: str) -> None:
    """Fail at once when gunicorn's own worker timeout rules out a replacement within 5 s.

    gunicorn kills a worker once ``timeout`` seconds have passed since its last heartbeat
    (``timeout = 0``: never), at the master's next look — up to a second later — and only then
    boots the new one. So unless ``timeout`` plus that second leaves room in the 5 s, a stuck
    worker can outlive them: waiting them out would only confirm it, or pass by luck."""
    told = re.search(r"WORKBOOK-TIMEOUT (\d+)", log)  # None (a config that stops the hook): watch instead
    timeout = int(told[1]) if told else 1
    why = "which turns the worker timeout off: a stuck worker is never killed" if timeout == 0 else (
        f"so it kills a silent worker {timeout} s after its last heartbeat, at the master's next look (up to "
        f"{MASTER_LOOKS_EVERY:.0f} s later), and only then boots the new one")
    expect(timeout != 0 and timeout + MASTER_LOOKS_EVERY < 5.0, WORKER_REPLACED,
           f"gunicorn runs with timeout = {timeout}, {why}: at worst it is still stuck after 5 s")  # fmt: skip


def _get_quietly(url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(url, timeout=40)


# -- 07.4 the Dockerfile ------------------------------------------------------------------------------
@contextlib.contextmanager
def container(app: httpx.Client, env: dict[str, str]) -> Iterator[ProcessServer]:
    """The learner's image started as ``docker run -p 8000 -e ...`` would: the CMD (exec or
    shell form) as PID 1 of its own PID namespace (when available), with the image's ENV."""
    image = dockerfile.parse(fetch(app, "07.4"))
    expect(image.argv, "a CMD (or ENTRYPOINT) in the Dockerfile", "none")
    expect(image.exec_form or not image.argv[2].lstrip().startswith("["), "CMD as a JSON array (the exec form)",
           f"{image.argv[2]} is not JSON (double quotes only), so Docker runs it with /bin/sh -c")  # fmt: skip
    expect(any("0.0.0.0:8000" in part for part in image.argv), "the command binds 0.0.0.0:8000",
           f"command {image.argv}")  # fmt: skip
    asked = _asked_workers(image, {**image.env, **env})
    expect(asked is None or asked <= MAX_WORKERS, f"at most {MAX_WORKERS} worker processes (the checks boot no more)",
           f"the container would start {asked} workers")  # fmt: skip
    argv = [part.replace("0.0.0.0:8000", "127.0.0.1:{port}") for part in image.argv]  # like -p PORT:8000
    with (
        folder({"main.py": TINY_APP}) as where,  # HOME too: a container has its own file system (~/.gunicorn)
        started(argv, where, {"HOME": str(where), **image.env, **env}, pid_namespace=pid_namespace_available()) as s,
    ):
        yield s


@pytest.mark.independent
def test_container_stops_gracefully_on_sigterm(app: httpx.Client) -> None:
    pid1 = "?"
    with container(app, {}) as server:
        expect(health_pid(server) is not None, "the container serves GET /health", server.log_text()[-400:])
        with contextlib.suppress(psutil.Error):
            pid1 = " ".join(psutil.Process(server.pid1).cmdline())
        # A namespace's PID 1 gets a signal from outside only if it handles it (pid_namespaces(7)):
        # without a SIGTERM handler, `docker stop` changes nothing. No need to wait 5 s to see that.
        expect(not server.pid_namespace or handles(server.pid1, signal.SIGTERM),
               f"after SIGTERM to PID 1 the container stops within {STOP_WITHIN:.0f} s",
               f"PID 1 is `{pid1}`, which has no SIGTERM handler: as a container's PID 1 it never receives the "
               "signal, so it does not pass SIGTERM on to gunicorn (Docker would SIGKILL it after 10 s)")  # fmt: skip
        os.kill(server.pid1, signal.SIGTERM)  # `docker stop` signals PID 1 only
        took = server.wait_stopped(STOP_WITHIN)
    expect(took is not None, f"after SIGTERM to PID 1 the container stops within {STOP_WITHIN:.0f} s",
           f"still running after {STOP_WITHIN:.0f} s: PID 1 is `{pid1}`, which does not pass "
           "SIGTERM on to gunicorn (Docker would SIGKILL it after 10 s)")  # fmt: skip


@pytest.mark.independent
def test_container_workers_follow_web_concurrency(app: httpx.Client) -> None:
    count = rng.choice([2, 3])
    with container(app, {"WEB_CONCURRENCY": str(count)}) as server:
        leaves = settled(count, lambda: leaf_processes(server.pid))
    expect(len(leaves) == count, f"docker run -e WEB_CONCURRENCY={count} → {count} worker processes",
           f"{len(leaves)} worker processes")  # fmt: skip


def _asked_workers(image: dockerfile.Image, env: dict[str, str]) -> int | None:
    """How many workers the image's command asks gunicorn for (``--workers``/``-w``, else
    ``WEB_CONCURRENCY``), ``$VARIABLE``s resolved from ``env``; None when it cannot tell."""
    try:
        words = image.argv if image.exec_form else shlex.split(image.argv[2])
    except ValueError:
        return None
    value = env.get("WEB_CONCURRENCY", "1")
    for index, part in enumerate(words):
        if part in ("-w", "--workers") and index + 1 < len(words):
            value = words[index + 1]
        elif part.startswith("--workers="):
            value = part.split("=", 1)[1]
    if value.startswith("$") and not image.exec_form:  # only a shell expands $WORKERS
        value = env.get(value.strip("${}"), value)
    return int(value) if value.isdigit() else None
