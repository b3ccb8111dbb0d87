"""Cells of a CSV file that people open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets; text from other systems (a learner id, a
CASE title) must not run there (OWASP, "CSV injection"). Written files quote such a cell
with a leading ``'``, which a spreadsheet shows as text and drops; a file read back takes
the quote off again, so a framework's CSV survives the round trip.

>>> spreadsheet_safe("=HYPERLINK(1)"), spreadsheet_safe("Joins")
("'=HYPERLINK(1)", 'Joins')
>>> from_spreadsheet(spreadsheet_safe("-2")), from_spreadsheet("'quoted")
('-2', "'quoted")
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """``text`` as a cell a spreadsheet shows and never runs."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def from_spreadsheet(text: str) -> str:
    """A cell as :func:`spreadsheet_safe` had it before (other text unchanged)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
