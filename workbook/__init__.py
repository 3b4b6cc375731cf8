"""fastapi-workbook's runtime: serve an app from a cell, check it, get hints.

    from workbook import serve, check, hint, solution
"""

from workbook.checking import check, hint, solution
from workbook.platforms import platform_note
from workbook.serving import serve

__all__ = ["check", "hint", "platform_note", "serve", "solution"]
