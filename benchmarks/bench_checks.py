"""How fast is feedback? Medians over repeated runs, in one invocation.

    .venv/bin/python benchmarks/bench_checks.py [--chapter 01] [--repeat 5]
    .venv/bin/python benchmarks/bench_checks.py --all [--repeat 3] [--cli-repeat 0] [--only 03 07]
                                           # one table, every chapter (--cli-repeat 0: check() only)

Measures, for one chapter's solution notebook:
  1. check() inside a live kernel (the learner's "check" cell)         target ≤ 300 ms
  2. `workbook check NN --notebook …` from a terminal                    target ≤ 1.15 × (3)
  3. `jupyter nbconvert --to notebook --execute` of the same notebook    the baseline
  4. serve() start + one request + stop of a small app                   target ≤ 150 ms
Figures vary with the machine and its load; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbook import notebooks, registry  # noqa: E402


def timed(fn: object, repeat: int) -> list[float]:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        runs.append(time.perf_counter() - started)
    return runs


def in_kernel_check(chapter: registry.Chapter, repeat: int) -> list[float]:
    """Execute the solution in a kernel (not timed), then time check() calls there."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(chapter.solution.parent), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    try:
        nb = notebooks.read(chapter.solution)
        for cell in nb.cells:
            tags = cell.get("metadata", {}).get("tags", [])
            if cell.cell_type == "code" and "workbook-teardown" not in tags and "check(" not in cell.source:
                kc.execute_interactive(cell.source, timeout=120, output_hook=lambda m: None)
        out: list[str] = []
        code = (
            "import time as _t\nfrom workbook.checking import check as _c\n_ts = []\n"
            f"for _ in range({repeat + 1}):\n    _s = _t.perf_counter(); _r = _c({chapter.id!r}); "
            "_ts.append(_t.perf_counter() - _s)\n"
            "assert _r.passed, _r\nprint('TIMES', *_ts[1:])"  # the first call imports pytest: warm-up
        )

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("ERROR " + msg["content"]["evalue"])

        kc.execute_interactive(code, timeout=300 * (repeat + 1), output_hook=hook)  # chapter 09: tens of s each
        line = next((x for x in "".join(out).splitlines() if x.startswith("TIMES")), None)
        if line is None:
            raise RuntimeError("".join(out))
        return [float(x) for x in line.split()[1:]]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def serve_cycle(repeat: int) -> list[float]:
    from fastapi import FastAPI

    from workbook.serving import serve

    app = FastAPI()
    app.get("/ok")(lambda: {"ok": True})
    serve(app, name="bench-warmup").stop()

    def cycle() -> None:  # start, one request (leaves a keep-alive connection to close), stop
        server = serve(app, name="bench")
        server.client.get("/ok").raise_for_status()
        server.stop()

    return timed(cycle, repeat * 20)


def terminal_and_baseline(chapter: registry.Chapter, repeat: int) -> tuple[list[float], list[float]]:
    """`workbook check --notebook` and plain nbconvert, interleaved so machine load affects both alike."""
    bin_dir = Path(sys.executable).parent
    out = Path(tempfile.mkdtemp()) / "executed.ipynb"
    terminal = [str(bin_dir / "workbook"), "check", chapter.id, "--notebook", str(chapter.solution)]
    baseline = [str(bin_dir / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                "--output", str(out), str(chapter.solution)]  # fmt: skip

    def run(cmd: list[str]) -> None:
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)

    term_runs: list[float] = []
    base_runs: list[float] = []
    for _ in range(repeat):
        term_runs += timed(lambda: run(terminal), 1)
        base_runs += timed(lambda: run(baseline), 1)
    return term_runs, base_runs


def every_chapter(repeat: int, cli_repeat: int, only: list[str] | None = None) -> None:
    """One row per chapter: in-kernel check(), the terminal check, the nbconvert baseline, their ratio."""
    med = statistics.median
    print(f"check() {repeat} runs, terminal and nbconvert {cli_repeat} each (medians), seconds", flush=True)
    print(f"{'chapter':8} {'check()':>9} {'min–max':>12} {'terminal':>9} {'nbconvert':>10} {'ratio':>6}", flush=True)
    for chapter in registry.chapters(ROOT):
        if only and chapter.id not in only:
            continue
        kernel_runs = in_kernel_check(chapter, repeat)
        spread = f"{min(kernel_runs):.2f}–{max(kernel_runs):.2f}"
        if not cli_repeat:  # --cli-repeat 0: check() only (a minute, not a quarter of an hour)
            print(f"{chapter.id:8} {med(kernel_runs):9.2f} {spread:>12}", flush=True)
            continue
        term_runs, base_runs = terminal_and_baseline(chapter, cli_repeat)
        term, base = med(term_runs), med(base_runs)
        print(f"{chapter.id:8} {med(kernel_runs):9.2f} {spread:>12} {term:9.2f} {base:10.2f} {term / base:6.2f}",
              flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", default="01")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--all", action="store_true", help="every chapter, one table (no serve() cycle)")
    parser.add_argument("--only", nargs="*", help="with --all: just these chapters (ids)")
    parser.add_argument("--cli-repeat", type=int, help="with --all: terminal and nbconvert runs (default --repeat)")
    args = parser.parse_args()
    if args.all:
        every_chapter(args.repeat, args.repeat if args.cli_repeat is None else args.cli_repeat, args.only)
        return
    chapter = registry.chapter(args.chapter, ROOT)
    print(f"chapter {chapter.id}, {args.repeat} runs each (medians)…", flush=True)
    term_runs, base_runs = terminal_and_baseline(chapter, args.repeat)
    kernel_runs = in_kernel_check(chapter, args.repeat)
    cycle_runs = serve_cycle(args.repeat)
    med = statistics.median
    term, base = med(term_runs), med(base_runs)
    rows = [
        ("in-kernel check()", med(kernel_runs), "≤ 0.300 s"),
        ("workbook check (terminal)", term, f"ratio {term / base:.2f} × baseline (target ≤ 1.15)"),
        ("nbconvert --execute (baseline)", base, "1.00"),
        ("serve() start+request+stop", med(cycle_runs), "≤ 0.150 s"),
    ]
    for name, seconds, note in rows:
        print(f"{name:32} {seconds * 1000:8.1f} ms   {note}")


if __name__ == "__main__":
    main()
