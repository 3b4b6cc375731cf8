"""Read what a Dockerfile tells Docker to run: the container's argv and its environment.

There is no Docker engine in the workbook, so chapter 07 runs an image's command the way
Docker does, and only that part: ``CMD ["gunicorn", ...]`` (exec form, a JSON array) is
executed as it is; ``CMD gunicorn ...`` (shell form, anything that is not a JSON array of
strings) becomes ``["/bin/sh", "-c", "gunicorn ..."]`` — so the shell is PID 1, not gunicorn.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

_ENV_PAIR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass
class Image:
    """The parts of an image that decide how its container starts."""

    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    exec_form: bool = True  # False: the last command instruction was shell form (sh -c is PID 1)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        words = (pending + line).split(None, 1)
        pending = ""
        found.append((words[0].upper(), words[1].strip() if len(words) > 1 else ""))
    if pending.strip():
        words = pending.split(None, 1)
        found.append((words[0].upper(), words[1].strip() if len(words) > 1 else ""))
    return found


def _command(arguments: str) -> tuple[list[str], bool]:
    """A CMD/ENTRYPOINT's argv and whether it is exec form (Docker's rule: a JSON array of strings)."""
    try:
        value = json.loads(arguments)
    except ValueError:
        value = None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value, True
    return ["/bin/sh", "-c", arguments], False


def _env(arguments: str) -> dict[str, str]:
    words = shlex.split(arguments)
    if words and not _ENV_PAIR.match(words[0]):  # legacy form: ENV KEY value with spaces
        key, _, value = arguments.partition(" ")
        return {key: value.strip()}
    return dict(word.split("=", 1) for word in words if "=" in word)


def parse(text: str) -> Image:
    """The container command (ENTRYPOINT + CMD, combined as Docker does) and ENV of a Dockerfile."""
    image = Image()
    entrypoint: tuple[list[str], bool] | None = None
    cmd: tuple[list[str], bool] | None = None
    for instruction, arguments in _instructions(text):
        if instruction == "ENV":
            image.env.update(_env(arguments))
        elif instruction == "CMD":
            cmd = _command(arguments)
        elif instruction == "ENTRYPOINT":
            entrypoint = _command(arguments)
    if entrypoint is not None:
        argv, image.exec_form = entrypoint
        if image.exec_form and cmd is not None:  # a shell-form ENTRYPOINT ignores CMD
            argv = argv + cmd[0]
        image.argv = argv
    elif cmd is not None:
        image.argv, image.exec_form = cmd
    return image
