"""Grade a notebook from outside: run it in a fresh kernel, check its apps from here.

The learner's code runs only in the kernel process. This process asks the kernel
for nothing but the URLs of the apps it serves, then runs the checks itself, so
nothing the notebook does to pytest or to ``workbook`` in its kernel can change a
verdict.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbook import notebooks
from workbook.checking import GRADING_ENV
from workbook.grading.limits import Limits, failing
from workbook.registry import Chapter, Exercise
from workbook.results import Result

Wrap = Callable[[list[str]], list[str]]  # kernel command → the command that runs it (in a sandbox)

_PROBE = (
    "import json as _j, workbook.serving as _s\n"
    "print('WORKBOOK_TARGETS=' + _j.dumps(_s.running()))"
)
TEARDOWN_TAG = "workbook-teardown"
# A demonstration no check depends on (a load test, a benchmark): the grader skips it, so a
# graded run spends its time on the learner's code and a slow machine cannot time it out.
# An exercise cell runs whatever its tags say; a skipped cell only removes code from the run.
DEMO_TAG = "workbook-demo"
_URL = re.compile(r"^http://127\.0\.0\.1:\d{2,5}$")


@dataclass
class Execution:
    """What running the notebook left behind, in the terms a learner needs."""

    targets: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # exercise id → why it may fail
    fatal: str | None = None  # the kernel died or the run was cut off
    seconds: float = 0.0


def read_notebook(path: Path, content: bytes | None = None) -> Any:
    """The grader's one way to get a notebook: parse ``content`` (the bytes read when the learner was
    copied) when given, else read ``path`` (``workbook check --notebook``). Errors as ``notebooks.read``."""
    if content is None:
        return notebooks.read(path)
    try:
        data = json.loads(content.decode("utf-8"), object_hook=notebooks.Notebook)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise notebooks.NotebookError(f"{path} is not a valid notebook (not JSON): {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list) or data.get("nbformat") != 4:
        raise notebooks.NotebookError(f"{path} is not a version-4 Jupyter notebook (no 'cells' list)")
    for cell in data["cells"]:
        if isinstance(cell, dict) and isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return data


def _targets_from(stdout: str) -> dict[str, str]:
    for line in stdout.splitlines():
        if line.startswith("WORKBOOK_TARGETS="):
            with contextlib.suppress(ValueError, AttributeError):
                raw = json.loads(line.removeprefix("WORKBOOK_TARGETS="))
                return {str(k): str(v) for k, v in raw.items() if _URL.match(str(v))}
    return {}


class _Kernel:
    """A fresh ipykernel driven over jupyter_client (no nbformat: it imports slowly)."""

    def __init__(
        self,
        cwd: Path,
        env: dict[str, str] | None = None,
        memory_mb: float | None = None,
        on_start: Callable[[int], None] | None = None,
        wrap: Wrap | None = None,
        connection_dir: Path | None = None,
    ) -> None:
        from jupyter_client.manager import KernelManager

        class _Wrapped(KernelManager):
            def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
                cmd = list(super().format_kernel_cmd(extra_arguments))
                return wrap(cmd) if wrap else cmd

        self.km = _Wrapped(kernel_name="python3")
        if connection_dir is not None:  # where a sandboxed kernel can read it
            self.km.connection_file = str(connection_dir / "kernel.json")
        self.stuck = False  # the kernel ignored an interrupt: nothing more can run in it
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}  # the kernel's own fd output
        self.km.start_kernel(cwd=str(cwd), env={**os.environ, **(env or {}), GRADING_ENV: "1"}, **quiet)
        pid = getattr(self.km.provisioner, "pid", None)
        if pid and on_start:
            on_start(int(pid))
        if pid and memory_mb:
            # RLIMIT_DATA counts what the kernel really allocates (heap and anonymous
            # mmaps), not the address space that threads and arenas only reserve.
            # Set from here, after the launch: no preexec_fn in a threaded process.
            limit = int(memory_mb * 2**20)
            with contextlib.suppress(OSError, ValueError, ImportError):  # ImportError: Windows has no resource
                import resource

                resource.prlimit(int(pid), resource.RLIMIT_DATA, (limit, limit))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float) -> tuple[str | None, str, bool]:
        """Execute ``code``: (error or None, stdout text, timed out)."""
        errors: list[str] = []
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "error":
                errors.append(f"{content.get('ename', 'Error')}: {content.get('evalue', '')}".strip())
            elif kind == "stream" and content.get("name") == "stdout" and sum(map(len, out)) < 1_000_000:
                out.append(content.get("text", ""))

        try:
            self.kc.execute_interactive(code, timeout=timeout, output_hook=hook, allow_stdin=False)
        except TimeoutError:
            self.km.interrupt_kernel()
            try:
                self.kc.execute_interactive("", timeout=10, output_hook=lambda m: None)  # drain the reply
            except TimeoutError:
                self.stuck = True
            return None, "".join(out), True
        return (errors[0] if errors else None), "".join(out), False

    def alive(self) -> bool:
        return bool(self.km.is_alive())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.kc.stop_channels()
        with contextlib.suppress(Exception):
            self.km.shutdown_kernel(now=True)


@contextlib.contextmanager
def executed(
    path: Path,
    cell_timeout: float = 30.0,
    total_timeout: float = 300.0,
    memory_mb: float | None = None,
    env: dict[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
    wrap: Wrap | None = None,
    connection_dir: Path | None = None,
    nb: Any = None,
    kernel: Callable[[], _Kernel] | None = None,
    skip_demos: bool = True,
) -> Iterator[Execution]:
    """Run every code cell in order in a new kernel, keep going after errors, and
    keep the kernel (and the apps it serves) alive while the caller checks them.

    ``memory_mb`` caps what the kernel may allocate, ``env`` adds to its environment,
    ``on_start`` receives its process id (the grader kills it if all else fails),
    ``wrap`` turns the kernel's command into a sandboxed one, ``nb`` is the notebook
    when the caller has read it already (each notebook is read once), ``kernel`` returns a
    kernel the caller started ahead (the grader starts the next notebook's while this one is
    checked); the arguments that start one are then unused. ``skip_demos``: leave out the cells
    tagged ``workbook-demo`` (see ``DEMO_TAG``).
    """
    nb = nb if nb is not None else notebooks.read(path)
    result = Execution()
    general: list[str] = []
    teardown: list[str] = []
    if kernel is None:
        kernel = lambda: _Kernel(path.parent.resolve(), env, memory_mb, on_start, wrap, connection_dir)  # noqa: E731
    started = time.monotonic()
    running = kernel()
    try:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            tags = cell.get("metadata", {}).get("tags", [])
            if TEARDOWN_TAG in tags:
                teardown.append(cell.source)  # stops the apps: run after the checks
                continue
            if skip_demos and DEMO_TAG in tags and notebooks.exercise_of(cell) is None:
                continue  # an exercise cell always runs, whatever its tags say
            left = total_timeout - (time.monotonic() - started)
            if left <= 0:
                result.fatal = f"the notebook ran past its {total_timeout:.0f} s limit at cell {index}"
                break
            error, _, timed_out = running.run(cell.source, min(cell_timeout, left))
            if not running.alive():
                result.fatal = f"the kernel died while running cell {index} (os._exit, a crash or out of memory?)"
                break
            if running.stuck:
                result.fatal = f"cell {index} ran past its time limit and ignored the interrupt; the kernel was stopped"
                break
            if timed_out:
                error = f"ran longer than {min(cell_timeout, left):.0f} s and was interrupted (an endless loop?)"
            if error is None or ("raises-exception" in tags and not timed_out):
                continue
            exercise = notebooks.exercise_of(cell)
            if exercise is not None:
                result.notes[exercise] = f"your cell for {exercise} failed: {error}"
            else:
                general.append(f"cell {index} failed: {error}")
        if result.fatal is None:
            _, out, _ = running.run(_PROBE, 10)
            result.targets = _targets_from(out)
        if general:
            for ex in notebooks.exercise_cells(nb):
                result.notes[ex] = "\n".join(filter(None, [result.notes.get(ex), *general[:3]]))
        result.seconds = time.monotonic() - started
        yield result
        if result.fatal is None:
            for source in teardown:
                running.run(source, 10)
    finally:
        running.close()


def verdicts(
    chapter: Chapter,
    path: Path,
    exercises: list[Exercise] | None = None,
    limits: Limits | None = None,
    env: dict[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
    wrap: Wrap | None = None,
    connection_dir: Path | None = None,
    content: bytes | None = None,
    kernel: Callable[[], _Kernel] | None = None,
    after_run: Callable[[], None] | None = None,
) -> list[Result]:
    """Notebook → one result per check: the one function behind ``workbook check --notebook``,
    the local pool and the cluster. Never raises for anything the notebook does: a notebook
    that cannot be read or run fails every check with the reason. ``content``: the notebook's
    bytes, already read; ``kernel``: see ``executed``; ``after_run`` is called once the cells
    have run, before the checks (the grader starts the next kernel then)."""
    from workbook.attempts import classify, untouched_in_notebook
    from workbook.runner import run_checks

    exercises = exercises or list(chapter.exercises)
    lim = limits or Limits()
    try:
        nb = read_notebook(path, content)
    except notebooks.NotebookError as exc:
        return failing(chapter, f"could not read the notebook: {str(exc).replace(str(path), path.name)}", exercises)
    try:
        with executed(path, lim.cell_timeout, lim.total_timeout, lim.memory_mb, env, on_start, wrap,
                      connection_dir, nb, kernel, lim.skip_demos) as run:  # fmt: skip
            if after_run is not None:
                after_run()
            if run.fatal:
                results = failing(chapter, run.fatal, exercises)
            else:
                results = run_checks(chapter, exercises, run.targets, run.notes)
        return classify(chapter, results, untouched_in_notebook(chapter, nb, path.parent))  # still the starter's
    except Exception as exc:  # a kernel that never came up, a notebook that breaks jupyter_client...
        return failing(chapter, f"the grader could not run this notebook: {exc.__class__.__name__}: {exc}", exercises)


def grade(chapter: Chapter, path: Path, exercises: list[Exercise] | None = None, **limits: Any) -> list[Result]:
    """``verdicts`` with the limits as keywords (``cell_timeout``, ``total_timeout``, ``memory_mb``);
    unlike the grader, no memory limit unless asked (a learner checking their own notebook)."""
    notebooks.read(path)  # a missing or broken notebook is the caller's error (exit status 2)
    limits.setdefault("total_timeout", 300.0)
    limits.setdefault("memory_mb", 0.0)
    return verdicts(chapter, path, exercises, Limits(**limits))
