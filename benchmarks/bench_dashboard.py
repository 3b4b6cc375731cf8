"""A burst of learners' check() reports into the dashboard service, on a real local JupyterHub.

    .venv/bin/python benchmarks/bench_dashboard.py [--learners 30] [--per-learner 20] [--concurrency 16] [--rounds 3]

Starts the hub from hub/jupyterhub_config.py as tests/test_dashboard_hub.py does (loopback,
a temporary folder; needs configurable-http-proxy), creates ``--learners`` hub users with a
token each, then each round every learner posts ``--per-learner`` results (one exercise per
request, ``--concurrency`` requests in flight) to the managed service, which asks the hub who
each new token belongs to and writes every result to SQLite. Prints, per round, results/s and
the request latencies (p50, p95, max), and checks that the service kept every result.
Round 1 includes the hub lookups of new tokens; later rounds hit the service's one-minute cache.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from test_dashboard_hub import INSTRUCTOR, SERVICE, DashboardHub, burst, learner_tokens  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--per-learner", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hub = DashboardHub(Path(tmp))
        hub.start()
        try:
            tokens = learner_tokens(hub, args.learners)
            carol = {"Authorization": f"token {hub.user_token(INSTRUCTOR)}"}
            total = args.learners * args.per_learner
            print(f"{args.learners} learners × {args.per_learner} results = {total} per round, "
                  f"{args.concurrency} in flight, loopback, SQLite in WAL mode")  # fmt: skip
            for round_ in range(1, args.rounds + 1):
                wall, latencies, _ = burst(f"{hub.service}{SERVICE}", tokens, args.per_learner, args.concurrency,
                                           seed=round_)  # fmt: skip
                cuts = statistics.quantiles(latencies, n=100)
                kept = len(httpx.get(f"{hub.url}{SERVICE}api/export", headers=carol, timeout=60).json()["history"])
                print(f"round {round_}: {total / wall:7.1f} results/s  wall {wall:5.2f} s  "
                      f"latency p50 {cuts[49] * 1000:6.1f} ms  p95 {cuts[94] * 1000:6.1f} ms  "
                      f"max {max(latencies) * 1000:6.1f} ms  kept {kept}/{total * round_}")  # fmt: skip
                if kept != total * round_:
                    print("LOST RESULTS", file=sys.stderr)
                    return 1
        finally:
            hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
