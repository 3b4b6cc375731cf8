"""Chapter 08 checks: your tests, graded by the bugs they catch (mutation testing).

The checks never trust your tests to report their own result. They fetch each exercise's test
file from the notebook's app (``GET /exercises/08.K``), then build the app under test,
``app_skeleton/ch08_app.py``, once as it is and once per bug of that exercise — each a one-line
source patch, written under the same module name in a fresh temporary folder, so the variants differ
by their bug and nothing else (no flag, variable, title, port or path tells them apart). A runner
process forks one child per variant; each runs ``pytest`` on your file and the verdict is the
child's exit status (``workbook.mutation``). Your suite must pass on the correct app; each bug must
make at least one of your tests fail. A suite that fails on everything scores nothing, and one that
asserts nothing catches nothing.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from workbook import mutation
from workbook.testing import Mismatch, expect, show

PLUGIN = "app_skeleton.ch08_testing"
TEST_FILE = "test_yours.py"


def _source(module: str) -> str:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:  # pragma: no cover - the workbook is installed with it
        raise RuntimeError(f"{module} is not importable")
    return Path(spec.origin).read_text(encoding="utf-8")


# Read once, when the grader imports this module — before any learner code runs.
APP = _source("app_skeleton.ch08_app")
FIXTURES = _source(PLUGIN)
REMOVE_404 = (
    '    user = db.get(User, user_id)\n    if user is None:\n        raise HTTPException(404, "user not found")\n'
    "    return user\n"
)
OWNER_RULE = '    if user.id != current.id:\n        raise HTTPException(403, "you can only delete your own account")\n'
DELETE = "    db.delete(user)\n    db.commit()\n"
DECODE = 'options={"require": ["exp", "sub"]})'
WELCOME = "tasks.add_task(welcome, mailer, user.email, user.username, settings.mail_from)"
# bug → (exercise, what it does in words, the patch: old text → new text, each old text found exactly once)
BUGS: dict[str, tuple[str, str, str, str]] = {
    "status_200": ("08.1", "POST /users answers 200 instead of 201",
                   "response_model=UserOut, status_code=201,", "response_model=UserOut, status_code=200,"),
    "under_age": ("08.1", "a 17-year-old can sign up (the age ≥ 18 rule is gone)",
                  "age: int = Field(ge=18, le=120)", "age: int = Field(le=120)"),
    "leaked_hash": ("08.2", "the user's password_hash is in the response",
                    "class UserOut(BaseModel):\n    id: int\n",
                    "class UserOut(BaseModel):\n    password_hash: str\n    id: int\n"),
    "no_404": ("08.2", "GET /users/{id} of a missing user is not a 404",
               REMOVE_404, "    return db.get(User, user_id)\n"),
    "anyone_deletes": ("08.3", "a user can delete someone else's account", OWNER_RULE, ""),
    "deletes_then_403": ("08.3", "DELETE of someone else's account answers 403 but deletes the row anyway",
                         OWNER_RULE + DELETE, DELETE + OWNER_RULE),
    "expired_accepted": ("08.4", "an expired token is accepted",
                         DECODE, 'options={"require": ["exp", "sub"], "verify_exp": False})'),
    "forged_accepted": ("08.4", "a token signed with another key (forged) is accepted",
                        DECODE, 'options={"require": ["exp", "sub"], "verify_signature": False, "verify_exp": True})'),
    "no_mail": ("08.5", "no welcome e-mail is sent", WELCOME, "pass"),
    "mail_to_sender": ("08.5", "the welcome e-mail goes to the sender's address, not the new user's",
                       WELCOME, WELCOME.replace("user.email", "settings.mail_from")),
}  # fmt: skip


def variant(bug: str | None) -> str:
    """The app's source with ``bug`` patched in (None: the correct app)."""
    if bug is None:
        return APP
    _, _, old, new = BUGS[bug]
    if APP.count(old) != 1:  # pragma: no cover - a guard for whoever edits ch08_app.py
        raise RuntimeError(f"the patch for {bug} no longer applies to ch08_app.py")
    return APP.replace(old, new)


def fetch(app: httpx.Client, exercise: str) -> str:
    response = app.get(f"/exercises/{exercise}")
    expect(response.status_code == 200, f"GET /exercises/{exercise} → 200 with your tests", show(response))
    return response.text


def summary(output: str) -> str:
    """What a learner needs from pytest's output: the short summary, or its last lines."""
    lines = output.splitlines()
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR", "E "))]
    return "\n".join((failed or lines)[-8:])[-900:] or "(no output)"


Outcome = tuple[int | str, str]  # exit status (or "timeout") and the output
Verdicts = Callable[[str], dict[str | None, Outcome]]  # exercise → variant (None: the correct app) → outcome


def run_exercises(sources: dict[str, str]) -> dict[str, dict[str | None, Outcome]]:
    """Each exercise's file against the correct app and each of its bugs, all in one runner:
    exercise → variant (None: correct) → (exit status, output)."""
    root = Path(tempfile.mkdtemp(prefix="workbook-08-"))
    try:
        folders: dict[tuple[str, str | None], Path] = {}
        for exercise, source in sources.items():
            for bug in [None, *(b for b, spec in BUGS.items() if spec[0] == exercise)]:
                folder = Path(tempfile.mkdtemp(dir=root))  # a random name for every variant alike
                package = folder / "app_skeleton"
                package.mkdir()
                (package / "__init__.py").write_text("")
                (package / "ch08_app.py").write_text(variant(bug))
                (package / "ch08_testing.py").write_text(FIXTURES)
                (folder / TEST_FILE).write_text(source)
                folders[exercise, bug] = folder
        codes = mutation.run_suites(list(folders.values()), TEST_FILE, PLUGIN) if folders else {}
        results: dict[str, dict[str | None, Outcome]] = {}
        for (exercise, bug), folder in folders.items():
            results.setdefault(exercise, {})[bug] = (codes.get(str(folder), "lost"), _read(folder / "output.txt"))
        return results
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-20000:]
    except OSError:
        return ""


@pytest.fixture
def verdicts(app: httpx.Client, request: pytest.FixtureRequest) -> Verdicts:
    """Exercise → its outcomes. On first use, every exercise this run selected is run at once."""
    selected = {item.name.split("_")[2] for item in request.session.items if item.name.startswith("test_suite_")}
    # One run of the checks is one pytest session: its outcomes are kept on it, never longer.
    cache: dict[str, dict[str | None, Outcome] | Mismatch] = request.session.__dict__.setdefault("_workbook_08", {})

    def get(exercise: str) -> dict[str | None, Outcome]:
        if not cache:
            sources: dict[str, str] = {}
            for stem in sorted(selected | {exercise.replace(".", "")}):
                key = f"{stem[:2]}.{stem[2:]}"
                try:
                    sources[key] = fetch(app, key)
                except Mismatch as exc:
                    cache[key] = exc
            try:
                cache.update(run_exercises(sources))
            except mutation.RunnerError as exc:
                cache.update((key, Mismatch("the grader's test runner runs your tests", str(exc))) for key in sources)
        found = cache[exercise]
        if isinstance(found, Mismatch):
            raise found
        return found

    return get


def passes_on_correct(outcomes: dict[str | None, Outcome]) -> None:
    code, output = outcomes[None]
    if code == 0:
        return
    if code == 5:
        raise Mismatch("your cell defines tests (functions named test_...) that pass on the correct app",
                       "pytest collected no test in your file")
    if code == "timeout":
        raise Mismatch(f"your tests finish within {mutation.TIMEOUT:.0f} s", "they were still running: stopped")
    if code == 1:
        raise Mismatch("every one of your tests passes on the correct app (a suite that fails on everything "
                       "catches nothing)", f"some fail on the correct app:\n{summary(output)}")  # fmt: skip
    raise Mismatch("pytest runs your file", f"pytest exited with status {code}:\n{summary(output)}")


def catches(outcomes: dict[str | None, Outcome], bug: str) -> None:
    passes_on_correct(outcomes)  # failing on a bug means something only if the correct app passes
    code, output = outcomes[bug]
    description = BUGS[bug][1]
    expect(code == 1, f"at least one of your tests fails when {description}",
           "your tests did not notice: all of them passed against that app" if code == 0
           else f"your tests did not finish against that app ({code}):\n{summary(output)}")  # fmt: skip


# -- the checks: per exercise, "passes on the correct app", then one per bug ----------------------
def _correct(verdicts: Verdicts, exercise: str) -> None:
    passes_on_correct(verdicts(exercise))


def _caught(verdicts: Verdicts, bug: str) -> None:
    catches(verdicts(BUGS[bug][0]), bug)


def test_suite_081_passes_on_the_correct_app(verdicts: Verdicts) -> None:
    _correct(verdicts, "08.1")

def test_suite_081_catches_status_200(verdicts: Verdicts) -> None:
    _caught(verdicts, "status_200")

def test_suite_081_catches_under_age(verdicts: Verdicts) -> None:
    _caught(verdicts, "under_age")

def test_suite_082_passes_on_the_correct_app(verdicts: Verdicts) -> None:
    _correct(verdicts, "08.2")

def test_suite_082_catches_leaked_hash(verdicts: Verdicts) -> None:
    _caught(verdicts, "leaked_hash")

def test_suite_082_catches_no_404(verdicts: Verdicts) -> None:
    _caught(verdicts, "no_404")

def test_suite_083_passes_on_the_correct_app(verdicts: Verdicts) -> None:
    _correct(verdicts, "08.3")

def test_suite_083_catches_anyone_deletes(verdicts: Verdicts) -> None:
    _caught(verdicts, "anyone_deletes")

def test_suite_083_catches_deletes_then_403(verdicts: Verdicts) -> None:
    _caught(verdicts, "deletes_then_403")

def test_suite_084_passes_on_the_correct_app(verdicts: Verdicts) -> None:
    _correct(verdicts, "08.4")

def test_suite_084_catches_expired_accepted(verdicts: Verdicts) -> None:
    _caught(verdicts, "expired_accepted")

def test_suite_084_catches_forged_accepted(verdicts: Verdicts) -> None:
    _caught(verdicts, "forged_accepted")

def test_suite_085_passes_on_the_correct_app(verdicts: Verdicts) -> None:
    _correct(verdicts, "08.5")

def test_suite_085_catches_no_mail(verdicts: Verdicts) -> None:
    _caught(verdicts, "no_mail")

def test_suite_085_catches_mail_to_sender(verdicts: Verdicts) -> None:
    _caught(verdicts, "mail_to_sender")
