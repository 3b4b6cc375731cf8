"""Registry, notebooks and check modules agree: nothing registered is missing,
nothing present is unregistered, and each starter differs from its solution only
in exercise cells."""

from __future__ import annotations

import ast

import pytest
from conftest import ROOT

from workbook import notebooks, registry

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


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_each_exercise_cell_has_one_todo_and_a_solution_block(chapter: registry.Chapter) -> None:
    nb = notebooks.read(chapter.solution)
    for ex, indexes in notebooks.exercise_cells(nb).items():
        source = "\n".join(nb.cells[i].source for i in indexes)
        assert source.count("TODO") == 1, f"{ex}: exactly one TODO"
        assert "### BEGIN SOLUTION" in source and "### BEGIN STARTER" in source, ex
        assert notebooks.reveal(chapter.solution, ex).strip(), ex


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_starter_is_the_solution_minus_answers(chapter: registry.Chapter) -> None:
    solution, starter = notebooks.read(chapter.solution), notebooks.read(chapter.notebook)
    assert len(solution.cells) == len(starter.cells)
    for sol, sta in zip(solution.cells, starter.cells, strict=True):
        if notebooks.exercise_of(sol) is None:
            assert sol.source == sta.source
        else:
            assert "### BEGIN SOLUTION" not in sta.source and sta.source != sol.source
        assert not sta.get("outputs"), "starters are committed without outputs"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_hints_exist_for_every_exercise_and_check(chapter: registry.Chapter) -> None:
    for ex in chapter.exercises:
        assert ex.hints, f"{ex.id} has no hints"
        assert all(c.hint and c.behaviour for c in ex.checks), ex.id
