"""No 500, no hang, no undeclared status: fuzz each chapter's fixed app from its own OpenAPI document.

For every registered chapter the SOLUTION notebook runs in a fresh kernel
(``workbook.execute.executed``); while its kernel keeps serving, each app named in the
chapter's ``fuzz = [...]`` registry field (the apps its checks grade) is fuzzed with
schemathesis over loopback by ``tests/fuzzing.py``: schemathesis' coverage cases, then
valid and invalid generated requests, a bounded number per operation, derandomized.
Select one chapter with ``-k 04_depends``.

Exempt — the demo apps a chapter serves to make a point, not the app its checks grade; several
are broken on purpose, because the bug is what they teach. They are never fuzzed:
- 01_models: ``naive`` (a model with bare types and no constraints: it accepts any age);
- 02_params: ``article`` (the article's code as printed: a NameError is a 500), ``flags``, ``variants``
  (parameter demos, bool vs str, query vs body, what the response leaks);
- 03_async: ``demo`` (``time.sleep`` inside ``async def`` freezes the loop, on purpose), ``cpu``;
- 04_depends: ``article``, ``probe`` (the article's dependency: an expired token or an unknown id is a
  500), ``article_fn`` (a commit after ``yield`` that fails after the 200 was sent);
- 05_errors: ``basics``, ``article``, ``limited``, ``users`` (a domain error with no handler is a 500),
  ``mapped``, ``reports`` (a route that fails on purpose, with and without debug), ``default_422``;
- 06_background: ``article`` (the article's duplicate route that drops ``age``), ``signup``, ``fragile``
  (a task that fails), ``sessions`` (the dependency-scope demo: when the session closes);
- 07_deploy: the gunicorn processes the notebook starts run its demo project; the checks' own servers
  run the checks' tiny ASGI app, which has no OpenAPI document;
- 09_service: the gunicorn servers its demo cells start and stop (``limited``, ``legacy``, ``fresh``,
  ``loaded``); ``service`` (the project as the notebook leaves it) and ``app`` (its files) are fuzzed.
Exempt route in a graded app: see ``EXEMPT`` below (05's ``GET /reports/{name}``).
The helper apps the checks read (03's ``upstream``, 06's ``mailbox``) are fuzzed too.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import httpx
import pytest
from conftest import ROOT
from fastapi import FastAPI, HTTPException
from fuzzing import ANSWER_LIMIT, framework_answer, fuzz
from pydantic import BaseModel

from workbook import registry
from workbook.execute import executed
from workbook.testing import username

CHAPTERS = registry.chapters(ROOT)

# Deliberately broken routes inside a graded app: operation → why it is not fuzzed.
EXEMPT: dict[str, dict[str, str]] = {
    "05_errors": {
        "GET /reports/{name}": "raises ConnectionError on purpose: the checks grade the JSON 500 it turns into (05.3)",
    },
}


def _signed_in_04(base_url: str) -> dict[str, str]:
    """A fresh user's bearer token (through 04's given POST /users and POST /token), so a
    second pass reaches past the 401 to what the routes answer a signed-in client."""
    user = {"username": username(), "email": f"{username()}@example.org", "password": secrets.token_urlsafe(12)}
    with httpx.Client(base_url=base_url, timeout=10, trust_env=False) as client:
        made = client.post("/users", json=user)
        assert made.status_code == 201, (
            f"04_depends: could not sign up to fuzz signed in: {made.status_code} {made.text}"
        )
        got = client.post("/token", json={"username": user["username"], "password": user["password"]})
        assert got.status_code == 200, f"04_depends: could not log in to fuzz: {got.status_code} {got.text}"
    return {"Authorization": f"Bearer {got.json()['access_token']}"}


# Chapters whose graded app is also fuzzed a second time as a signed-in client: app → headers.
SIGNED_IN = {"04_depends": {"app": _signed_in_04}}
MAX_EXAMPLES = 15  # generated requests per operation and mode (plus up to 4× as many coverage cases)
BUDGET = 40.0  # seconds of fuzzing per app; the notebook's own run comes on top


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_fixed_app_survives_fuzzing(chapter: registry.Chapter) -> None:
    assert chapter.fuzz, f"{chapter.stem}: checks/registry.toml says fuzz = [] — name the app(s) its checks grade"
    with executed(chapter.solution) as run:
        assert run.fatal is None, f"{chapter.stem}: the solution notebook did not run: {run.fatal}"
        missing = [name for name in chapter.fuzz if name not in run.targets]
        why = "; ".join(sorted(set(run.notes.values())))[:600]
        assert not missing, f"{chapter.stem}: not served after Run All: {missing} (served: {sorted(run.targets)}) {why}"
        skip = EXEMPT.get(chapter.stem, {})
        reports = [fuzz(run.targets[name], name, MAX_EXAMPLES, BUDGET, skip) for name in chapter.fuzz]
        for name, sign_in in SIGNED_IN.get(chapter.stem, {}).items():
            url = run.targets[name]
            reports.append(fuzz(url, f"{name}, signed in", MAX_EXAMPLES, BUDGET, skip, sign_in(url)))
    for report in reports:
        assert report.operations, f"{chapter.stem}/{report.app}: its OpenAPI document lists no operation"
    findings = [f for report in reports for f in report.findings]
    summary = "; ".join(
        f"{r.app}: {r.operations} operations, {r.requests} requests in {r.seconds:.1f} s"
        + (f" (time ran out on {sorted(r.out_of_time)})" if r.out_of_time else "")
        for r in reports
    )
    print(f"{chapter.stem}: {summary}")  # shown with -s or -rA: what the fuzzing covered
    assert not findings, f"chapter {chapter.stem} ({summary}):\n" + "\n".join(map(str, findings))


class Item(BaseModel):
    name: str


def _broken_app() -> FastAPI:
    """One correct route and four broken ones, each the way a learner's app breaks."""
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

    @app.get("/sorted")
    def ordered(key: str = "name") -> list[str]:
        if key != "name":
            raise HTTPException(400, "unknown sort key")  # the app's own 400: not excused like FastAPI's
        return ["one"]

    @app.post("/items", status_code=201)
    def create(item: Item) -> Item:
        return item

    return app


@pytest.mark.slow
def test_harness_reports_a_500_an_undeclared_404_and_400_and_a_hang() -> None:
    """The same helper, on an app broken four ways, must name each (a test that can fail), and
    excuse nothing on the correct route (FastAPI's 400 for a body it cannot parse, the 405s)."""
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
    assert ("GET /sorted", "undeclared status") in found, report.findings
    assert not any(f.operation == "POST /items" for f in report.findings), report.findings  # the correct route
    message = str(next(f for f in report.findings if f.rule == "undeclared status"))
    assert "GET /items/{item_id}" in message and "404" in message and "curl" in message, message


def test_registry_fuzz_field(tmp_path: Path) -> None:
    """``fuzz`` defaults to the main app, keeps the names given, and rejects anything but a list of names."""
    chapter = '[[chapter]]\nid = "0{n}"\nstem = "0{n}_x"\ntitle = "x"\n'

    def workbook(name: str, text: str) -> Path:  # a fresh root each: the registry is cached per file
        (tmp_path / name / "checks").mkdir(parents=True)
        (tmp_path / name / "checks" / "registry.toml").write_text(text)
        return tmp_path / name

    good = workbook("good", chapter.format(n=1) + chapter.format(n=2) + 'fuzz = ["app", "upstream"]\n')
    assert [c.fuzz for c in registry.chapters(good)] == [("app",), ("app", "upstream")]
    with pytest.raises(registry.RegistryError, match="fuzz must be a list"):
        registry.chapters(workbook("bad", chapter.format(n=1) + 'fuzz = "app"\n'))


def test_only_the_frameworks_own_answers_are_excused() -> None:
    assert framework_answer(400, '{"detail":"There was an error parsing the body"}')
    assert framework_answer(405, '{"detail":"Method Not Allowed"}')
    assert framework_answer(404, '{"detail":"Not Found"}', {"item": "a/b"})
    assert not framework_answer(400, '{"detail":"unknown sort key"}')  # the app's own 400
    assert not framework_answer(404, '{"detail":"Not Found"}', {"item": "ab"})  # a route ran and said 404
    assert not framework_answer(404, '{"detail":"user 7 not found"}', {"item": ""})
    assert not framework_answer(500, '{"detail":"Method Not Allowed"}')
