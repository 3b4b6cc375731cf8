"""No 500, no hang, no undeclared status: fuzz each chapter's fixed app from its own OpenAPI document.

For every registered chapter the SOLUTION notebook runs in a fresh kernel
(``workbook.execute.executed``); while its kernel keeps serving, each app named in the
chapter's ``fuzz = [...]`` registry field (the apps its checks grade) is fuzzed with
schemathesis over loopback by ``tests/fuzzing.py``: schemathesis' coverage cases, then
valid and invalid generated requests, a bounded number per operation, derandomized.
Select one chapter with ``-k 04_depends``.

Exempt — the demo apps a chapter serves to show a point, not the app its checks grade
(several are broken on purpose, which is what they teach); they are never fuzzed:
- 01_models: ``naive`` (a model that leaks fields and validates nothing);
- 02_params: ``article``, ``flags``, ``variants`` (the article's code and parameter demos);
- 03_async: ``demo``, ``cpu`` (a blocking handler that stalls the loop, on purpose);
- 04_depends: ``article``, ``probe``, ``article_fn`` (the article's dependency and its scopes);
- 05_errors: ``basics``, ``article``, ``limited``, ``users``, ``mapped``, ``reports``, ``default_422``
  (error-handling demos, some answering 500 or undeclared statuses on purpose);
- 06_background: ``article``, ``signup``, ``fragile``, ``sessions`` (a task that fails, a
  session used after its request ended — the bugs the chapter fixes);
- 07_deploy: the gunicorn processes the notebook starts run a demo project; the checks'
  own servers run the checks' tiny ASGI app, which has no OpenAPI document.
The helper apps the checks read (03's ``upstream``, 06's ``mailbox``) are fuzzed too.
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import ROOT
from fastapi import FastAPI, HTTPException
from fuzzing import ANSWER_LIMIT, fuzz
from pydantic import BaseModel

from workbook import registry
from workbook.execute import executed

CHAPTERS = registry.chapters(ROOT)
pytestmark = pytest.mark.slow

# Deliberately broken routes inside a graded app: operation → why it is not fuzzed.
EXEMPT: dict[str, dict[str, str]] = {
    "05_errors": {
        "GET /reports/{name}": "raises ConnectionError on purpose: the checks grade the JSON 500 it turns into (05.3)",
    },
}
MAX_EXAMPLES = 15  # generated requests per operation and mode (plus up to 4× as many coverage cases)
BUDGET = 40.0  # seconds of fuzzing per app; the notebook's own run comes on top


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_fixed_app_survives_fuzzing(chapter: registry.Chapter) -> None:
    with executed(chapter.solution) as run:
        assert run.fatal is None, f"{chapter.stem}: the solution notebook did not run: {run.fatal}"
        missing = [name for name in chapter.fuzz if name not in run.targets]
        assert not missing, f"{chapter.stem}: not served after Run All: {missing} (served: {sorted(run.targets)})"
        skip = EXEMPT.get(chapter.stem, {})
        reports = [fuzz(run.targets[name], name, MAX_EXAMPLES, BUDGET, skip) for name in chapter.fuzz]
    for report in reports:
        assert report.operations, f"{chapter.stem}/{report.app}: its OpenAPI document lists no operation"
    findings = [f for report in reports for f in report.findings]
    summary = "; ".join(
        f"{r.app}: {r.operations} operations, {r.requests} requests in {r.seconds:.1f} s"
        + (" (time budget ran out)" if r.out_of_time else "")
        for r in reports
    )
    print(f"{chapter.stem}: {summary}")  # shown with -s or -rA: what the fuzzing covered
    assert not findings, f"chapter {chapter.stem} ({summary}):\n" + "\n".join(map(str, findings))


class Item(BaseModel):
    name: str


def _broken_app() -> FastAPI:
    """One correct route and three broken ones, each the way a learner's app breaks."""
    app = FastAPI()

    @app.get("/ratio/{n}")
    def ratio(n: int) -> dict[str, int]:
        return {"ratio": 100 // n}  # ZeroDivisionError → 500 on n = 0

    @app.get("/items/{item_id}")
    def item(item_id: int) -> Item:
        if item_id != 1:
            raise HTTPException(404, "no such item")  # a 404 that responses= does not declare
        return Item(name="one")

    @app.get("/wait/{seconds}")
    async def wait(seconds: int) -> dict[str, int]:
        if seconds == 0:
            await asyncio.sleep(ANSWER_LIMIT + 2)  # longer than a client waits
        return {"waited": seconds}

    @app.post("/items", status_code=201)
    def create(item: Item) -> Item:
        return item

    return app


def test_harness_reports_a_500_an_undeclared_404_and_a_hang() -> None:
    """The same helper, on an app broken three ways, must name all three (a test that can fail)."""
    from workbook.serving import serve

    server = serve(_broken_app(), name="fuzz-selfcheck")
    try:
        report = fuzz(server.url, "fuzz-selfcheck", max_examples=10, budget=60.0)
    finally:
        server.stop()
    found = {(f.operation, f.rule) for f in report.findings}
    assert ("GET /ratio/{n}", "server error") in found, report.findings
    assert ("GET /items/{item_id}", "undeclared status") in found, report.findings
    assert ("GET /wait/{seconds}", "no answer") in found, report.findings
    assert not any(f.operation == "POST /items" for f in report.findings), report.findings  # the correct route
    message = str(next(f for f in report.findings if f.rule == "undeclared status"))
    assert "GET /items/{item_id}" in message and "404" in message and "curl" in message, message
