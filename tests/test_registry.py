"""Registry, notebooks and check modules agree: nothing registered is missing,
nothing present is unregistered, and each starter differs from its solution only
in exercise cells."""

from __future__ import annotations

import ast

import pytest
from conftest import ROOT

from workbook import notebooks, projects, registry

CHAPTERS = registry.chapters(ROOT)


def test_there_is_at_least_one_chapter_and_ids_are_unique() -> None:
    assert CHAPTERS
    ids = [c.id for c in CHAPTERS] + [e.id for c in CHAPTERS for e in c.exercises]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_files_exist_and_exercise_tags_match_the_registry(chapter: registry.Chapter) -> None:
    assert len(chapter.exercises) >= 4, "a chapter has at least 4 exercises"
    registered = {e.id for e in chapter.exercises}
    for path in (chapter.notebook, chapter.solution):
        tagged = set(notebooks.exercise_cells(notebooks.read(path)))
        assert tagged == registered, f"{path.name}: tagged {sorted(tagged)}, registered {sorted(registered)}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_every_check_function_is_registered_and_every_registered_check_exists(chapter: registry.Chapter) -> None:
    tree = ast.parse(chapter.checks_module.read_text())
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    registered = [c.test for e in chapter.exercises for c in e.checks]
    assert len(registered) == len(set(registered)), "a check is registered twice"
    unregistered, missing = defined - set(registered), set(registered) - defined
    assert not unregistered and not missing, f"unregistered: {unregistered}, missing: {missing}"


def _file_exercises(chapter: registry.Chapter) -> set[str]:
    """Exercises whose answer is a region of the chapter's project (workbook/projects.py), not a cell."""
    dirs = projects.project_dirs(ROOT, chapter.id)
    return {r.exercise for r in projects.regions(dirs[0])} if dirs else set()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_each_exercise_cell_has_one_todo_and_a_solution_block(chapter: registry.Chapter) -> None:
    nb = notebooks.read(chapter.solution)
    in_files = _file_exercises(chapter)
    for ex, indexes in notebooks.exercise_cells(nb).items():
        source = "\n".join(nb.cells[i].source for i in indexes)
        assert source.count("TODO") == 1, f"{ex}: exactly one TODO"
        if ex in in_files:  # a file exercise: the cell opens the file; the solution block is in the project
            assert "### BEGIN" not in source, f"{ex}: its answer lives in the project, not in the cell"
        else:
            assert "### BEGIN SOLUTION" in source and "### BEGIN STARTER" in source, ex
        assert notebooks.reveal(chapter.solution, ex).strip(), ex


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_starter_is_the_solution_minus_answers(chapter: registry.Chapter) -> None:
    solution, starter = notebooks.read(chapter.solution), notebooks.read(chapter.notebook)
    assert len(solution.cells) == len(starter.cells)
    in_files = _file_exercises(chapter)
    for sol, sta in zip(solution.cells, starter.cells, strict=True):
        if notebooks.exercise_of(sol) is None or notebooks.exercise_of(sol) in in_files:
            assert sol.source == sta.source  # a file exercise's starter is its project's region
        else:
            assert "### BEGIN SOLUTION" not in sta.source and sta.source != sol.source
        assert not sta.get("outputs"), "starters are committed without outputs"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_hints_exist_for_every_exercise_and_check(chapter: registry.Chapter) -> None:
    for ex in chapter.exercises:
        assert ex.hints, f"{ex.id} has no hints"
        assert all(c.hint and c.behaviour for c in ex.checks), ex.id


# -- hints teach: a ladder from nudge to concept, never the answer (issue 10) -------------------
DOCS_HOSTS = (  # official docs of what the chapters teach: the last hint sends the learner there
    "fastapi.tiangolo.com",
    "www.starlette.io",
    "docs.pydantic.dev",
    "docs.sqlalchemy.org",
    "pyjwt.readthedocs.io",
    "frankie567.github.io/pwdlib",
    "www.uvicorn.org",
    "docs.gunicorn.org",
    "docs.python.org",
    "docs.pytest.org",
    "alembic.sqlalchemy.org",
)


def _normalised(text: str) -> str:
    return " ".join(text.split()).lower()


def _answer_lines(solution: str) -> list[str]:
    """Code lines of the revealed solution long enough to be an answer (≥ 25 characters, comments
    dropped), plus the right-hand side of each such assignment — `Age = X` is pasted as X too —
    unless it is a bare string: a quoted name such as a worker class is an API a hint may name."""
    lines = []
    for raw in solution.splitlines():
        code = raw.split("  # ")[0].strip()
        if code.startswith("#"):
            continue
        candidates = [code]
        target, sep, value = code.partition(" = ")
        if sep and target.isidentifier() and not value.startswith(("'", '"')):
            candidates.append(value.strip())
        lines += [_normalised(c) for c in candidates if len(c) >= 25]
    return lines


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_hints_climb_to_a_docs_page_and_never_paste_the_answer(chapter: registry.Chapter) -> None:
    for ex in chapter.exercises:
        assert len(ex.hints) >= 2, f"{ex.id}: a ladder needs a nudge before the concept"
        links = [w for w in ex.hints[-1].split() if w.startswith("https://")]
        assert links, f"{ex.id}: the last hint names the concept and links its docs page"
        for link in links:
            assert link.removeprefix("https://").startswith(DOCS_HOSTS), f"{ex.id}: {link} is not an official docs page"
        assert not any("https://" in h for h in ex.hints[:-1]), f"{ex.id}: the docs link comes last"
        answer = _answer_lines(notebooks.reveal(chapter.solution, ex.id))
        for hint in [*ex.hints, *(c.hint for c in ex.checks)]:
            pasted = [line for line in answer if line in _normalised(hint)]
            assert not pasted, f"{ex.id}: a hint pastes the solution {pasted[0]!r} — solution() exists for that"
