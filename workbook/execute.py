"""Moved to ``workbook.grading.execute``; kept so ``from workbook.execute import grade, executed`` works."""

from workbook.grading.execute import Execution, executed, grade, verdicts

__all__ = ["Execution", "executed", "grade", "verdicts"]
