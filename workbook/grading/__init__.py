"""``workbook grade``: grade a class's notebooks, on this machine or a Dask cluster.

Modules: ``command`` (the subcommand, caching, outputs), ``submissions`` (reading a class),
``snapshot`` (what verdicts depend on, read once), ``limits`` (Limits, Task, failing),
``execute`` (notebook → verdicts, the one function), ``sandbox`` (bubblewrap), ``worker``
(one grading process), ``pool`` (local workers), ``cluster`` (Dask), ``gradebook`` and
``report`` (CSV, JSON, LMS, HTML).
"""

from __future__ import annotations

import argparse


def main(args: argparse.Namespace) -> int:
    from workbook.grading.command import main as run

    return run(args)
