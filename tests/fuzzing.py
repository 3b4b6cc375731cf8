"""Fuzz one served app from its own OpenAPI document with schemathesis.

Why a helper module and not ``@schema.parametrize()``: the apps exist only while a
chapter's solution notebook runs in its kernel (``workbook.execute.executed``), long
after pytest has collected the tests, so the schema is loaded and walked at run time.

Rules (what ``fuzz`` reports, one ``Finding`` per operation and broken rule):
- *server error*: any 5xx answer;
- *no answer*: no response within ``ANSWER_LIMIT`` seconds (a hang), or the connection dropped;
- *undeclared status*: a status that is not in the operation's ``responses``, except the
  framework's own answers (``framework_answer``: each recognised by its exact body, with its reason).

Everything is bounded and reproducible: schemathesis' deterministic coverage cases (at most
4 × ``max_examples``), then ``max_examples`` generated cases per operation and generation mode
(valid data, then invalid data), one time budget per app, Hypothesis derandomized, no example
database; an operation that hung once is not asked again. Requests go to the loopback URL given, nowhere else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import UndefinedStatusCode
from schemathesis.specs.openapi.checks import status_code_conformance

# Answers the framework gives before any route code runs. The document FastAPI writes
# never lists them and an app cannot sensibly declare them per operation, so they do
# not count as undeclared; each is recognised by its exact body, so the same status
# raised by the app's own code is still checked. (A 5xx is never excused.)
FRAMEWORK_ANSWERS: dict[tuple[int, str], str] = {
    # FastAPI's body parser: a body that is not JSON/form data at all (schemathesis sends
    # such bodies on purpose as invalid data) — rejected before validation and the handler.
    (400, "There was an error parsing the body"): "FastAPI could not parse the request body",
    # Starlette's router: a method the path does not have (schemathesis' coverage cases
    # try DELETE, PUT, TRACE… on every path); the document's methods are what it says.
    (405, "Method Not Allowed"): "the router rejects a method the path does not declare",
}


def _leaves_route(value: Any) -> bool:
    """A path parameter that changes the path itself: '/' splits it, '', '.' and '..' vanish."""
    return isinstance(value, str) and ("/" in value or value in ("", ".", ".."))


def framework_answer(status: int, body: str, path_parameters: dict[str, Any] | None = None) -> str | None:
    """Why this answer came from the framework rather than the app, or None."""
    plain = body.strip()
    for (code, detail), reason in FRAMEWORK_ANSWERS.items():
        if status == code and json.dumps({"detail": detail}, separators=(",", ":")) == plain:
            return reason
    # The router's 404, only when a generated path parameter made the URL a different path
    # (e.g. /items/a%2Fb is /items/a/b): that request never reached the operation.
    if (
        status == 404
        and plain == '{"detail":"Not Found"}'
        and any(map(_leaves_route, (path_parameters or {}).values()))
    ):
        return "the URL no longer matches the operation's path, so no route ran"
    return None


ANSWER_LIMIT = 5.0  # seconds one request may take before it counts as a hang
_LOOPBACK = ("http://127.0.0.1:", "http://localhost:")


RULES = {
    "server error": "no request a client can send may get a 5xx",
    "undeclared status": "every status the app returns is declared in the operation's responses= (OpenAPI)",
    "no answer": f"every request gets a complete answer within {ANSWER_LIMIT:.0f} s",
}


@dataclass(frozen=True)
class Finding:
    """One broken rule on one operation, with the first request that showed it."""

    app: str
    operation: str  # "GET /users/{user_id}"
    rule: str  # "server error", "undeclared status", "no answer"
    request: str  # a curl command that reproduces it
    status: int | None = None
    response: str = ""
    declared: tuple[str, ...] = ()
    count: int = 1

    def __str__(self) -> str:
        lines = [f"[{self.app}] {self.operation}: {self.rule}" + (f" (seen {self.count}×)" if self.count > 1 else "")]
        lines.append(f"  rule:     {RULES.get(self.rule, self.rule)}")
        lines.append(f"  request:  {self.request}")
        if self.status is not None:
            lines.append(f"  status:   {self.status}  (declared: {', '.join(self.declared) or 'none'})")
            lines.append(f"  response: {self.response[:300]}")
        elif self.response:
            lines.append(f"  error:    {self.response[:300]}")
        return "\n".join(lines)


@dataclass
class Report:
    """What fuzzing one app did: its findings and how much it tried."""

    app: str
    findings: list[Finding] = field(default_factory=list)
    operations: int = 0
    requests: int = 0
    seconds: float = 0.0
    out_of_time: set[str] = field(default_factory=set)  # operations whose share of the budget ran out
    statuses: dict[int, int] = field(default_factory=dict)
    headers: dict[str, str] | None = None  # sent with every request (e.g. a bearer token), over generated ones
    hung: set[str] = field(default_factory=set)  # operations that stopped answering: not asked again

    def add(self, finding: Finding) -> None:
        for i, seen in enumerate(self.findings):
            if (seen.operation, seen.rule, seen.status) == (finding.operation, finding.rule, finding.status):
                self.findings[i] = replace(seen, count=seen.count + 1)
                return
        self.findings.append(finding)


def _curl(case: schemathesis.Case, base_url: str, headers: dict[str, str] | None = None) -> str:
    try:
        return case.as_curl_command(headers=headers, base_url=base_url)
    except Exception:  # noqa: BLE001 - a request curl cannot spell is still worth reporting
        return f"{case.method.upper()} {case.formatted_path} query={case.query!r} body={case.body!r}"


def _check(case: schemathesis.Case, response: Any, base_url: str, report: Report) -> None:
    """Run the two schemathesis checks on one answer and record what broke."""
    declared = tuple(str(code) for code in case.operation.responses.status_codes)
    status = int(response.status_code)
    checks: list[Any] = [not_a_server_error]
    if framework_answer(status, response.text, case.path_parameters) is None:
        checks.append(status_code_conformance)
    try:
        case.validate_response(response, checks=checks)
    except FailureGroup as group:  # one entry per broken check
        for failure in group.exceptions:
            if status >= 500:
                rule = "server error"
            elif isinstance(failure, UndefinedStatusCode):
                rule = "undeclared status"
            else:
                rule = str(getattr(failure, "title", type(failure).__name__))
            report.add(
                Finding(
                    report.app,
                    case.operation.label,
                    rule,
                    _curl(case, base_url, report.headers),
                    status,
                    response.text[:300],
                    declared,
                )
            )


def _send(case: schemathesis.Case, base_url: str, report: Report, session: requests.Session) -> None:
    """Send one case and record what broke: a hang, a dropped connection, a 5xx, an undeclared status."""
    label = case.operation.label
    if label in report.hung:
        return  # one hang is enough to know; each more would cost a full timeout
    report.requests += 1

    def no_answer(why: str) -> None:
        report.add(Finding(report.app, label, "no answer", _curl(case, base_url, report.headers), response=why))
    try:
        try:
            response = case.call(base_url=base_url, session=session, headers=report.headers, timeout=ANSWER_LIMIT)
        except requests.Timeout:  # once more: on a loaded machine one stall is not yet a hang
            response = case.call(base_url=base_url, session=session, headers=report.headers, timeout=ANSWER_LIMIT)
    except requests.Timeout:
        no_answer(f"no response within {ANSWER_LIMIT:.0f} s, twice in a row (a hang, or unbounded work?)")
        report.hung.add(label)
        return
    except requests.ConnectionError as exc:
        no_answer(f"the connection failed: {exc}")
        return
    except (requests.exceptions.InvalidHeader, UnicodeError, ValueError):
        return  # a request no HTTP client can put on the wire (InvalidURL is a ValueError too): nothing to learn
    except requests.RequestException as exc:  # e.g. a response cut off mid-body
        no_answer(f"the answer was broken: {type(exc).__name__}: {exc}")
        return
    report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
    _check(case, response, base_url, report)


def _coverage(
    operation: Any, base_url: str, report: Report, limit: int, deadline: float, session: requests.Session
) -> None:
    """Schemathesis' deterministic boundary cases first (0, "", missing fields, wrong types)."""
    schema = operation.schema
    generation = schema.config.generation_for(operation=operation, phase="coverage")
    cases = schema.iter_coverage_cases(
        operation, generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], generation_config=generation
    )
    for sent, case in enumerate(cases):
        if sent >= limit:
            return
        if time.monotonic() > deadline:
            report.out_of_time.add(operation.label)
            return
        _send(case, base_url, report, session)


def _fuzz_operation(
    operation: Any, base_url: str, report: Report, max_examples: int, deadline: float, session: requests.Session
) -> None:
    def cannot_generate(why: str) -> None:
        report.add(Finding(report.app, operation.label, "could not generate requests", "-", response=why))

    try:
        _coverage(operation, base_url, report, 4 * max_examples, deadline, session)
    except Exception as exc:  # noqa: BLE001 - generation can fail on exotic schemas; say so, don't crash
        cannot_generate(f"coverage: {type(exc).__name__}: {exc}")
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        if time.monotonic() > deadline:
            report.out_of_time.add(operation.label)
            return

        @settings(
            max_examples=max_examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: schemathesis.Case) -> None:
            if time.monotonic() > deadline:
                report.out_of_time.add(operation.label)
                return
            _send(case, base_url, report, session)

        try:
            run()
        except Unsatisfiable:
            continue  # no request fits this mode (no parameters to get wrong, or any string is valid)
        except Exception as exc:  # noqa: BLE001 - generation can fail on exotic schemas; say so, don't crash
            cannot_generate(f"{type(exc).__name__}: {exc}")


def fuzz(
    base_url: str,
    app: str = "app",
    max_examples: int = 20,
    budget: float = 40.0,
    skip: Iterable[str] = (),
    headers: dict[str, str] | None = None,
) -> Report:
    """Fuzz every operation of the app at ``base_url`` (loopback only) from its /openapi.json."""
    if not base_url.startswith(_LOOPBACK):
        raise ValueError(f"refusing to fuzz {base_url!r}: loopback URLs only")
    started = time.monotonic()
    report = Report(app, headers=headers)
    with httpx.Client(base_url=base_url, timeout=10, trust_env=False) as client:  # no proxy: loopback stays loopback
        document = client.get("/openapi.json").raise_for_status().json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.output.sanitization.enabled = False  # show the generated values: the repro must replay
    operations = [op for op in (r.ok() for r in schema.get_all_operations()) if op.label not in set(skip)]
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment: loopback stays loopback
        for index, operation in enumerate(operations):
            report.operations += 1
            # An equal share of what is left, so slow early routes cannot starve the later ones.
            share = (started + budget - time.monotonic()) / (len(operations) - index)
            _fuzz_operation(operation, base_url, report, max_examples, time.monotonic() + share, session)
    report.seconds = time.monotonic() - started
    return report
