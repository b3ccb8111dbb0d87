"""Read response logs as DataFrames: CSV, TSV (gzip OK) or Parquet."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from masterypath.errors import InvalidInputError, Problem
from masterypath.interop.evidence_log import ColumnMapping, read_text


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InvalidInputError(str(path), [Problem(str(path), "FILE", "no such file")])
    if path.suffix == ".parquet" or path.read_bytes()[:4] == b"PAR1":
        return pd.read_parquet(path)
    text = read_text(path)
    first = text.split("\n", 1)[0]
    sep = "\t" if first.count("\t") > first.count(",") else ","
    return pd.read_csv(io.StringIO(text), sep=sep, low_memory=False)


def mapped_columns(mapping: ColumnMapping) -> dict[str, str]:
    """Keyword arguments for :meth:`Responses.from_frame` from a column mapping."""
    if mapping.correct is None:
        raise InvalidInputError(
            "--columns", [Problem("--columns", "correct", "knowledge tracing needs correct=")]
        )
    return {
        "user": mapping.user,
        "skill": mapping.skill,
        "correct": mapping.correct,
        "order": mapping.order,
        **({"item": mapping.item} if mapping.item else {}),
    }
