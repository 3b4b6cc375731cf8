"""What a check run produces: one row per behaviour, in registry order.

A row has one of four states, as in Kaggle's learntools (plus "waiting"): a learner
who has not touched an exercise sees a quiet *not attempted*, not the red of a wrong
answer, and a check that cannot pass until another exercise works says *waiting on*
that exercise instead of repeating its failure.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

CORRECT = "correct"
INCORRECT = "incorrect"
NOT_ATTEMPTED = "not attempted"
WAITING = "waiting"
STATES = (CORRECT, INCORRECT, WAITING, NOT_ATTEMPTED)


@dataclass
class Result:
    chapter: str
    exercise: str
    behaviour: str
    passed: bool
    message: str = ""
    hint: str = ""
    test: str = ""
    state: str = ""  # one of STATES; derived from ``passed`` when not given

    def __post_init__(self) -> None:
        if self.passed:
            self.state = CORRECT
        elif self.state not in (WAITING, NOT_ATTEMPTED):
            self.state = INCORRECT


def summary(results: list[Result]) -> str:
    """"3/10 checks pass", then how many of the others are not attempted or waiting."""
    passed = sum(r.passed for r in results)
    text = f"{passed}/{len(results)} checks pass"
    extra = [f"{n} {state}" for state in (NOT_ATTEMPTED, WAITING) if (n := sum(r.state == state for r in results))]
    return text + (f" ({', '.join(extra)})" if extra else "")


def to_json(results: list[Result]) -> str:
    keys = ("chapter", "exercise", "behaviour", "state", "passed", "message", "hint")
    return json.dumps([{k: asdict(r)[k] for k in keys} for r in results], indent=2)


MARKS = {CORRECT: "PASS", INCORRECT: "FAIL", WAITING: "WAIT", NOT_ATTEMPTED: "TODO"}


def to_text(results: list[Result], hints: bool = True) -> str:
    lines = []
    for r in results:
        lines.append(f"[{MARKS[r.state]}] {r.exercise}  {r.behaviour}")
        if r.state == INCORRECT:
            lines.extend("         " + line for line in r.message.splitlines())
            if hints and r.hint:
                lines.append(f"         hint: {r.hint}")
        elif r.state != CORRECT and r.message:
            lines.append("         " + r.message.splitlines()[0])
    lines.append(summary(results))
    return "\n".join(lines)
