"""The educator's cohort grid as CSV, for a spreadsheet: a row per learner, a column per
competency (its title and id, in the grid's order), each cell the status the grid shows
(``locked`` where the learner has not met its prerequisites; ``not_started`` where there is
no evidence), after the learner's id and how many competencies they have mastered.

A cell that a spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) is written with a leading ``'``: learner ids and titles
come from other systems, and a formula in them would run in the educator's spreadsheet
(OWASP, "CSV injection").

>>> grid = {
...     "competencies": [{"id": "add", "title": "Addition"}, {"id": "mul", "title": "Times"}],
...     "learners": [
...         {"id": "ana", "cells": [["mastered", 0.97, 0.1, 5], None], "locked": []},
...         {"id": "=1+1", "cells": [None, None], "locked": [1]},
...     ],
... }
>>> print(grid_csv(grid), end="")
learner_id,mastered,Addition (add),Times (mul)
ana,1,mastered,not_started
'=1+1,0,not_started,locked
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """``text`` as a spreadsheet shows it, never run as a formula.

    >>> spreadsheet_safe("-2"), spreadsheet_safe("Joins")
    ("'-2", 'Joins')
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def grid_csv(grid: Mapping[str, Any]) -> str:
    """The grid (as :meth:`MasteryService.grid` returns it) as CSV text, lines ending in
    ``\\n``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    titles = [f"{c['title']} ({c['id']})" for c in grid["competencies"]]
    writer.writerow(["learner_id", "mastered", *map(spreadsheet_safe, titles)])
    for row in grid["learners"]:
        locked = set(row.get("locked", ()))
        statuses = [
            "locked" if i in locked else cell[0] if cell else "not_started"
            for i, cell in enumerate(row["cells"])
        ]
        mastered = sum(cell is not None and cell[0] == "mastered" for cell in row["cells"])
        writer.writerow([spreadsheet_safe(row["id"]), mastered, *statuses])
    return out.getvalue()
