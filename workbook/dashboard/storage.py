"""Results in SQLite (SQLAlchemy async + aiosqlite): every report kept, plus each cell's latest state.

Two tables: ``reports`` is the append-only history (the JSON export, and proof that a burst
lost nothing); ``latest`` holds one row per learner × exercise, updated in the same
transaction, with ``failing_since`` — when the current unbroken run of failing reports began —
so "who has been failing the same exercise longest" is a sort, not a scan of the history.
The database is in WAL mode: a committed report survives the service being killed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Float, Integer, String, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PASSING, FAILING, NOT_ATTEMPTED = "passing", "failing", "not attempted"
STATES = (PASSING, FAILING, NOT_ATTEMPTED)
NOTE = (
    "Self-reported progress for teaching, not grades: each row is what a learner's own check() calls "
    "reported. Grades come from the workbook grade command, which runs every notebook itself."
)


class Base(DeclarativeBase):
    pass


class Report(Base):
    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    learner: Mapped[str] = mapped_column(String(255), index=True)
    exercise: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    passed: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    at: Mapped[float] = mapped_column(Float)


class Latest(Base):
    __tablename__ = "latest"
    learner: Mapped[str] = mapped_column(String(255), primary_key=True)
    exercise: Mapped[str] = mapped_column(String(16), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    passed: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    at: Mapped[float] = mapped_column(Float)
    failing_since: Mapped[float | None] = mapped_column(Float, nullable=True)


@dataclass(frozen=True)
class Item:
    """One exercise's outcome in one check() run, as a learner's kernel reports it."""

    exercise: str
    state: str
    passed: int
    total: int


class Store:
    """The service's database. One writer at a time (an asyncio lock): SQLite has one anyway,
    and queueing here is cheaper than its busy-wait."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.engine: AsyncEngine | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(f"sqlite+aiosqlite:///{self.path}")

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a killed process
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()
            self.engine = None

    async def add(self, learner: str, items: Sequence[Item], at: float | None = None) -> int:
        """Record one check() run's items for ``learner`` in one transaction; returns how many."""
        now = time.time() if at is None else at
        async with self._lock, self._sessions() as session, session.begin():
            for item in items:
                session.add(Report(learner=learner, exercise=item.exercise, state=item.state,
                                   passed=item.passed, total=item.total, at=now))  # fmt: skip
                row = await session.get(Latest, (learner, item.exercise))
                if row is None:
                    row = Latest(learner=learner, exercise=item.exercise)
                    session.add(row)
                    row.failing_since = None
                was_failing = row.state == FAILING and row.failing_since is not None
                row.failing_since = (row.failing_since if was_failing else now) if item.state == FAILING else None
                row.state, row.passed, row.total, row.at = item.state, item.passed, item.total, now
        return len(items)

    async def latest(self) -> list[Latest]:
        async with self._sessions() as session:
            return list((await session.scalars(select(Latest))).all())

    async def history(self) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            rows = (await session.scalars(select(Report).order_by(Report.id))).all()
        keys = ("learner", "exercise", "state", "passed", "total", "at")
        return [{k: getattr(r, k) for k in keys} for r in rows]

    async def count(self) -> int:
        async with self._sessions() as session:
            return int((await session.scalar(select(func.count()).select_from(Report))) or 0)


def _exercise_key(exercise: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in exercise.split("."))
    except ValueError:
        return (10**9,)


def summarize(rows: Iterable[Latest], now: float, roster: Iterable[str] = ()) -> dict[str, Any]:
    """The page's data: learners × exercises, pass rate per exercise, who has been failing longest.

    A learner with no report for an exercise is *not attempted* there; ``roster`` (the hub's
    learners) adds those who have not checked anything yet. The pass rate is the share of the
    learners on the board whose latest report of the exercise passes.
    """
    cells: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in roster}
    stuck: list[dict[str, Any]] = []
    for r in rows:
        cells.setdefault(r.learner, {})[r.exercise] = {
            "state": r.state, "at": r.at, "passed": r.passed, "total": r.total, "failing_since": r.failing_since,
        }  # fmt: skip
        if r.state == FAILING and r.failing_since is not None:
            stuck.append({"learner": r.learner, "exercise": r.exercise, "failing_since": r.failing_since,
                          "seconds": round(now - r.failing_since, 1)})  # fmt: skip
    exercises = sorted({ex for row in cells.values() for ex in row}, key=_exercise_key)
    learners: list[dict[str, Any]] = []
    for name in sorted(cells):
        row = cells[name]
        full = {ex: row.get(ex, {"state": NOT_ATTEMPTED, "at": None}) for ex in exercises}
        last = max((c["at"] for c in row.values()), default=None)
        learners.append({"name": name, "last_at": last, "cells": full})
    total = len(learners)
    rates = {}
    for ex in exercises:
        passing = sum(1 for entry in learners if entry["cells"][ex]["state"] == PASSING)
        rates[ex] = {"passing": passing, "learners": total, "rate": round(passing / total, 3) if total else 0.0}
    stuck.sort(key=lambda s: (s["failing_since"], s["learner"], _exercise_key(s["exercise"])))
    return {"note": NOTE, "generated_at": now, "exercises": exercises, "learners": learners,
            "pass_rate": rates, "failing_longest": stuck}  # fmt: skip
