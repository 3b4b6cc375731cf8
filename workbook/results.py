"""What a check run produces: one row per behaviour, in registry order."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass
class Result:
    chapter: str
    exercise: str
    behaviour: str
    passed: bool
    message: str = ""
    hint: str = ""
    test: str = ""


def summary(results: list[Result]) -> str:
    passed = sum(r.passed for r in results)
    return f"{passed}/{len(results)} checks pass"


def to_json(results: list[Result]) -> str:
    keys = ("chapter", "exercise", "behaviour", "passed", "message", "hint")
    return json.dumps([{k: asdict(r)[k] for k in keys} for r in results], indent=2)


def to_text(results: list[Result], hints: bool = True) -> str:
    lines = []
    for r in results:
        mark = "PASS" if r.passed else "FAIL"
        lines.append(f"[{mark}] {r.exercise}  {r.behaviour}")
        if not r.passed:
            lines.extend("         " + line for line in r.message.splitlines())
            if hints and r.hint:
                lines.append(f"         hint: {r.hint}")
    lines.append(summary(results))
    return "\n".join(lines)
