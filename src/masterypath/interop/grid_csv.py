"""The educator's cohort grid as CSV, for a spreadsheet: a row per learner, a column per
competency (its title and id, in the grid's order), each cell the status the grid shows
(``locked`` where the learner has not met its prerequisites; ``not_started`` where there is
no evidence), after the learner's id and how many competencies they have mastered.

A cell that a spreadsheet would read as a formula is written with a leading ``'``
(:mod:`masterypath.interop.spreadsheet`): learner ids and titles come from other systems.

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

from masterypath.interop.spreadsheet import spreadsheet_safe


def shown_statuses(row: Mapping[str, Any]) -> list[str]:
    """A grid row's cells as the grid shows them: ``locked``, the status, or ``not_started``.

    >>> shown_statuses({"cells": [["mastered", 1.0, 0.0, 3], None, None], "locked": [2]})
    ['mastered', 'not_started', 'locked']
    """
    locked = set(row.get("locked", ()))
    return [
        "locked" if i in locked else cell[0] if cell else "not_started"
        for i, cell in enumerate(row["cells"])
    ]


def grid_csv(grid: Mapping[str, Any]) -> str:
    """The grid (as :meth:`MasteryService.grid` returns it) as CSV text, lines ending in
    ``\\n``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    titles = [f"{c['title']} ({c['id']})" for c in grid["competencies"]]
    writer.writerow(["learner_id", "mastered", *map(spreadsheet_safe, titles)])
    for row in grid["learners"]:
        statuses = shown_statuses(row)
        mastered = sum(cell is not None and cell[0] == "mastered" for cell in row["cells"])
        writer.writerow([spreadsheet_safe(row["id"]), mastered, *statuses])
    return out.getvalue()
