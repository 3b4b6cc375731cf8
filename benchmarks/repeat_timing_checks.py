"""Are the timing-based checks reliable? Repeat them and count verdicts (not a CI test: minutes).

    .venv/bin/python benchmarks/repeat_timing_checks.py [--chapters 03 04 06 07] [--repeat 20]
    .venv/bin/python benchmarks/repeat_timing_checks.py --chapters 03 --each 5   # seconds per check

For each chapter, the solution, the starter and every wrong answer in tests/wrong_answers/ that
targets a timing check are executed once in a fresh kernel; then the whole chapter is checked
``--repeat`` times in that kernel, as ``check()`` does (independent checks side by side; for a wrong
answer only its exercise's checks — tests/test_chapters.py proves the others stay green). It prints,
per timing check, how often it passed: the solution must pass every time, the starter must fail
every time, a wrong answer must fail its target every time.
Run it on a loaded machine: that is where a check that is merely fast turns flaky.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import replace_solution  # noqa: E402

from workbook import notebooks, registry  # noqa: E402

# The checks whose verdict compares times (or waits for a process to change within a limit).
TIMING = {
    "03": ["test_reports_overlap", "test_ping_answers_during_reports", "test_ping_answers_during_crunch",
           "test_scores_overlap"],
    "04": ["test_login_takes_as_long_for_unknown_users"],
    "06": ["test_post_users_answers_before_the_email", "test_ping_answers_while_tracking"],
    "07": ["test_workers_follow_web_concurrency_and_are_replaced", "test_stuck_worker_is_replaced_within_5_seconds",
           "test_container_stops_gracefully_on_sigterm", "test_container_workers_follow_web_concurrency"],
}  # fmt: skip

RUN = """
import json as _j, time as _t
from workbook import registry as _reg
from workbook.runner import run_checks as _run
from workbook.serving import running as _running
_ch = _reg.chapter({chapter!r})
_exs = [e for e in _ch.exercises if e.id in {only!r}] or list(_ch.exercises)
_out = []
for _ in range({repeat}):
    _s = _t.perf_counter()
    _res = _run(_ch, _exs, _running())
    _out.append([_t.perf_counter() - _s, [[r.exercise, r.test, r.passed, r.message[-160:]] for r in _res]])
print("RUNS", _j.dumps(_out))
"""

EACH = """
import dataclasses as _d, json as _j, time as _t
from workbook import registry as _reg
from workbook.runner import run_checks as _run
from workbook.serving import running as _running
_ch = _reg.chapter({chapter!r})
_out = {{}}
for _ex in _ch.exercises:
    for _c in _ex.checks:
        _one = _d.replace(_ex, checks=(_c,))
        _ts = []
        for _ in range({repeat}):
            _s = _t.perf_counter(); _r = _run(_ch, [_one], _running()); _ts.append(_t.perf_counter() - _s)
        _out[_c.test] = [sorted(_ts)[len(_ts) // 2], all(r.passed for r in _r)]
print("EACH", _j.dumps(_out))
"""


def variants(chapter: registry.Chapter) -> list[tuple[str, Any]]:
    """(label, notebook) for the solution, the starter and the timing-targeted wrong answers."""
    found: list[tuple[str, Any]] = [("solution", notebooks.read(chapter.solution)),
                                    ("starter", notebooks.read(chapter.notebook))]  # fmt: skip
    path = ROOT / "tests" / "wrong_answers" / f"{chapter.stem}.toml"
    for wrong in tomllib.loads(path.read_text())["wrong"] if path.exists() else []:
        if wrong["fails"] not in TIMING.get(chapter.id, []):
            continue
        nb = notebooks.read(chapter.solution)
        (index,) = notebooks.exercise_cells(nb)[wrong["exercise"]][:1]
        nb.cells[index].source = replace_solution(nb.cells[index].source, wrong["code"])
        found.append((f"wrong {wrong['exercise']} ({wrong['message']})", (nb, wrong)))
    return found


def in_kernel(chapter: registry.Chapter, nb: Any, code: str, marker: str) -> Any:
    """Run the notebook's cells (not its checks or teardown) in a fresh kernel, then ``code``."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(chapter.solution.parent), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    try:
        for cell in nb.cells:
            tags = cell.get("metadata", {}).get("tags", [])
            if cell.cell_type == "code" and "workbook-teardown" not in tags and "check(" not in cell.source:
                kc.execute_interactive(cell.source, timeout=120, output_hook=lambda m: None)
        out: list[str] = []

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("ERROR " + msg["content"]["evalue"])

        kc.execute_interactive(code, timeout=3600, output_hook=hook)
        line = next((x for x in "".join(out).splitlines() if x.startswith(marker)), None)
        if line is None:
            raise RuntimeError("".join(out)[-2000:])
        return json.loads(line[len(marker) + 1 :])
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def report(chapter: registry.Chapter, label: str, runs: list, target: dict | None) -> bool:
    """Print pass counts per timing check; True when every verdict is the expected one."""
    timing = TIMING[chapter.id]
    seconds = sorted(run[0] for run in runs)
    print(f"  {label}: {len(runs)} runs, check {seconds[len(seconds) // 2]:.2f} s median "
          f"({seconds[0]:.2f}–{seconds[-1]:.2f})")  # fmt: skip
    good = True
    for test in timing:
        rows = [row for run in runs for row in run[1] if row[1] == test]
        passed = sum(row[2] for row in rows)
        if label == "solution":
            want = len(rows)
        elif target is None:
            want = 0
        else:
            want = 0 if test == target["fails"] else None
        if want is None:
            continue
        ok = passed == want
        good &= ok
        last_fail = next((row[3] for row in rows if not row[2]), "")
        print(f"    {'ok ' if ok else 'BAD'} {test}: passed {passed}/{len(rows)}"
              + (f"   (a failure: …{last_fail[-110:]!r})" if last_fail and not ok else ""))  # fmt: skip
    return good


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", nargs="*", default=sorted(TIMING))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--each", type=int, default=0, help="instead: median seconds of each check alone")
    args = parser.parse_args()
    all_good = True
    for chapter_id in args.chapters:
        chapter = registry.chapter(chapter_id, ROOT)
        if args.each:
            got = in_kernel(chapter, notebooks.read(chapter.solution),
                            EACH.format(chapter=chapter.id, repeat=args.each), "EACH")  # fmt: skip
            for test, (seconds, passed) in got.items():
                print(f"{chapter.id} {test:60} {seconds:6.2f} s {'pass' if passed else 'FAIL'}", flush=True)
            continue
        print(f"chapter {chapter.id}", flush=True)
        for label, made in variants(chapter):
            nb, target = made if isinstance(made, tuple) else (made, None)
            started = time.perf_counter()
            only = [target["exercise"]] if target else []
            runs = in_kernel(chapter, nb, RUN.format(chapter=chapter.id, repeat=args.repeat, only=only), "RUNS")
            all_good &= report(chapter, label, runs, target)
            print(f"    ({time.perf_counter() - started:.0f} s with the kernel)", flush=True)
    if not args.each:
        print("ALL AS EXPECTED" if all_good else "SOME VERDICTS WERE NOT THE EXPECTED ONES")
        sys.exit(0 if all_good else 1)


if __name__ == "__main__":
    main()
