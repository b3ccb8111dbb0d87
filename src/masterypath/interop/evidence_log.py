"""Evidence logs from CSV/TSV files (gzip OK) with a column mapping.

A mapping names which column holds what::

    user=user_id,skill=skill_name,correct=correct,order=order_id[,item=problem_id,time=...]

``score=`` may replace ``correct=`` for scores in [0, 1]. Presets cover the schemas
real users bring (``--columns pybkt``, ``assistments``, ``kddcup``; see :data:`PRESETS`).

Rows are validated column-wise (pandas), so a 325,589-row log is checked in well
under a second. Each row becomes one piece of evidence whose idempotency key is
``{source}:{user}:{order}``: importing the same log twice stores it once. Rows of the
same learner that share an order value are one multi-skill answer (the raw
ASSISTments export repeats a row per skill); they become **one** evidence row
aligned to all its skills, so an answer is never counted twice. If such rows
disagree on the outcome, the answer is rejected.

Without a ``time`` column every row gets the import time (passed in) and the order
column orders the learner's evidence. Such an invented time is left out of the content
hash, which covers only what the file says, so re-importing the file finds duplicates,
not conflicts.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from masterypath.domain.evidence import MAX_ID_LENGTH, EvidenceKind, canonical_time, content_hash
from masterypath.errors import InvalidInputError, Problem, ValidationError

ROLES = ("user", "skill", "correct", "score", "order", "item", "time")
REQUIRED = ("user", "skill", "order")
_TRUE = {"1", "1.0"}
_FALSE = {"0", "0.0"}
_AWARE = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)


@dataclass(frozen=True)
class ColumnMapping:
    """Which file column holds each role; ``skill_separator`` splits multi-skill cells."""

    user: str
    skill: str
    order: str
    correct: str | None = None
    score: str | None = None
    item: str | None = None
    time: str | None = None
    skill_separator: str | None = None

    def __post_init__(self) -> None:
        if (self.correct is None) == (self.score is None):
            raise ValidationError("--columns", "map exactly one of correct= or score=")

    @classmethod
    def parse(cls, text: str) -> ColumnMapping:
        """Parse ``role=column,...`` or a preset name.

        >>> ColumnMapping.parse("user=u,skill=s,correct=c,order=o").order
        'o'
        >>> ColumnMapping.parse("pybkt").skill
        'skill_name'
        """
        if text.strip() in PRESETS:
            return PRESETS[text.strip()]
        roles: dict[str, str] = {}
        for part in text.split(","):
            role, sep, column = part.partition("=")
            role = role.strip()
            if not sep or not column.strip():
                raise ValidationError("--columns", f"{part!r} is not role=column")
            if role not in ROLES and role != "skill_separator":
                raise ValidationError(
                    "--columns", f"unknown role {role!r} (roles: {', '.join(ROLES)})"
                )
            if role in roles:
                raise ValidationError("--columns", f"role {role!r} given twice")
            roles[role] = column.strip()
        missing = [r for r in REQUIRED if r not in roles]
        if missing:
            raise ValidationError("--columns", f"missing role(s): {', '.join(missing)}")
        return cls(**roles)

    def columns(self) -> dict[str, str]:
        """role -> column for every mapped role."""
        return {r: getattr(self, r) for r in ROLES if getattr(self, r) is not None}


PRESETS: dict[str, ColumnMapping] = {
    # pyBKT's default column names
    "pybkt": ColumnMapping(user="user_id", skill="skill_name", correct="correct", order="order_id"),
    # the raw ASSISTments skill-builder export (pyBKT's ``as`` example data)
    "assistments": ColumnMapping(
        user="user_id", skill="skill_name", correct="correct", order="order_id", item="problem_id"
    ),
    # KDD Cup 2010 step logs (pyBKT's ``ct`` example data); KCs joined by "~~"
    "kddcup": ColumnMapping(
        user="Anon Student Id",
        skill="KC(Default)",
        correct="Correct First Attempt",
        order="Row",
        item="Problem Name",
        skill_separator="~~",
    ),
}


@dataclass
class LogReadResult:
    """Validated rows ready for the ledger, plus what was rejected or merged."""

    rows: pd.DataFrame
    total_rows: int
    rejected: list[Problem] = field(default_factory=list)
    merged_rows: int = 0
    """Input rows folded into a multi-skill answer (one evidence row for several skills)."""


def read_text(path: Path) -> str:
    """Read a (possibly gzipped) text file: UTF-8, falling back to Latin-1."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_evidence_log(
    text: str,
    mapping: ColumnMapping,
    *,
    source: str,
    imported_at: datetime,
    kind: EvidenceKind = EvidenceKind.PRACTICE,
    asserted_by: str | None = None,
    timezone: str | None = None,
    skip_bad_rows: bool = False,
) -> LogReadResult:
    """Validate a whole log; raise :class:`InvalidInputError` listing every bad row
    unless ``skip_bad_rows``, in which case they are returned in ``rejected``."""
    first_line = text.split("\n", 1)[0]
    sep = "\t" if first_line.count("\t") > first_line.count(",") else ","
    header = next(csv.reader([first_line], delimiter=sep)) if first_line else []
    wanted = mapping.columns()
    absent = [f"{role}={col!r}" for role, col in wanted.items() if col not in header]
    if absent:
        raise InvalidInputError(
            source,
            [
                Problem(
                    "line 1",
                    "header",
                    f"column(s) not found: {', '.join(absent)}; "
                    f"the file has: {', '.join(header[:40])}",
                )
            ],
        )
    frame = pd.read_csv(
        io.StringIO(text),
        sep=sep,
        usecols=list(set(wanted.values())),
        dtype=str,
        keep_default_na=False,
        na_filter=False,
    )
    total = len(frame)
    line = pd.Series(np.arange(2, total + 2), index=frame.index)
    cols = {role: frame[col].str.strip() for role, col in wanted.items()}
    problems: list[tuple[int, Problem]] = []
    bad = pd.Series(False, index=frame.index)

    def reject(mask: pd.Series, role: str, reason: Any) -> None:
        nonlocal bad
        mask = mask & ~bad
        if not mask.any():
            return
        for idx in frame.index[mask]:
            why = reason(idx) if callable(reason) else reason
            problems.append((int(line[idx]), Problem(f"line {line[idx]}", wanted[role], why)))
        bad = bad | mask

    if mapping.skill_separator:
        cols["skill"] = (
            cols["skill"]
            .str.split(mapping.skill_separator, regex=False)
            .map(lambda parts: "\x1e".join(dict.fromkeys(p.strip() for p in parts if p.strip())))
        )
    for role in ("user", "skill", "item"):
        if role in cols:
            if role != "item":
                reject(cols[role] == "", role, "missing value")
            longest = (
                cols[role].str.split("\x1e", regex=False).map(lambda ps: max(map(len, ps)))
                if role == "skill" and mapping.skill_separator
                else cols[role].str.len()
            )
            reject(longest > MAX_ID_LENGTH, role, f"longer than {MAX_ID_LENGTH} characters")
            controls = (
                r"[\x00-\x1d\x1f\x7f]"
                if role == "skill" and mapping.skill_separator
                else r"[\x00-\x1f\x7f]"
            )
            reject(
                cols[role].str.contains(controls, regex=True), role, "contains control characters"
            )
    order = pd.to_numeric(cols["order"], errors="coerce")
    reject(
        order.isna() | (order != np.floor(order)),
        "order",
        lambda i: f"must be an integer, got {cols['order'][i]!r}",
    )
    if "correct" in cols:
        lowered = cols["correct"].str.lower()
        is_true, is_false = lowered.isin(_TRUE), lowered.isin(_FALSE)
        reject(lowered == "", "correct", "missing value")
        reject(
            ~(is_true | is_false),
            "correct",
            lambda i: f"must be 0 or 1, got {cols['correct'][i]!r}",
        )
        outcome = np.where(is_true, "b1", "b0")
        score = is_true.astype(float)
    else:
        score = pd.to_numeric(cols["score"], errors="coerce")
        reject(cols["score"] == "", "score", "missing value")
        reject(
            score.isna() | (score < 0) | (score > 1),
            "score",
            lambda i: f"must be a number in [0, 1], got {cols['score'][i]!r}",
        )
        outcome = np.array([f"s{v!r}" for v in score.fillna(0.0).astype(float)], dtype=object)
    if "time" in cols:
        aware = cols["time"].str.contains(_AWARE, regex=True)
        reject(cols["time"] == "", "time", "missing value")
        if timezone is None:
            reject(
                ~aware,
                "time",
                lambda i: (
                    f"naive timestamp {cols['time'][i]!r} has no UTC "
                    "offset; add one or pass --timezone"
                ),
            )
        stamps = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
        if aware.any():
            stamps[aware] = pd.to_datetime(
                cols["time"][aware], errors="coerce", utc=True, format="ISO8601"
            )
        if timezone is not None and (~aware).any():
            naive = pd.to_datetime(cols["time"][~aware], errors="coerce", format="ISO8601")
            stamps[~aware] = naive.dt.tz_localize(
                timezone, ambiguous="NaT", nonexistent="NaT"
            ).dt.tz_convert("UTC")
        reject(stamps.isna(), "time", lambda i: f"not a valid time: {cols['time'][i]!r}")
        time_text = stamps.map(lambda t: t.isoformat() if not pd.isna(t) else "")
    else:
        time_text = pd.Series(canonical_time(imported_at), index=frame.index)

    good = ~bad
    data = pd.DataFrame(
        {
            "line": line[good],
            "learner_id": cols["user"][good],
            "skill": cols["skill"][good],
            "sequence": order[good].astype("int64"),
            "outcome": pd.Series(outcome, index=frame.index)[good],
            "score": pd.Series(score, index=frame.index)[good],
            "timestamp": time_text[good],
            "item_id": cols["item"][good].replace("", None) if "item" in cols else None,
        }
    )

    # Multi-skill answers: rows sharing (learner, order) are one answer.
    merged_rows = 0
    dup = data.duplicated(["learner_id", "sequence"], keep=False)
    if dup.any():
        groups = data[dup].groupby(["learner_id", "sequence"], sort=False)
        conflicting = groups["outcome"].nunique() > 1
        for learner, seq in conflicting[conflicting].index:
            rows = data[dup & (data["learner_id"] == learner) & (data["sequence"] == seq)]
            for ln in rows["line"]:
                problems.append(
                    (
                        int(ln),
                        Problem(
                            f"line {ln}",
                            wanted.get("correct", wanted.get("score", "")),
                            f"rows of learner {learner!r} at order {seq} disagree on the outcome",
                        ),
                    )
                )
        joined = groups.agg(
            line=("line", "first"),
            skill=(
                "skill",
                lambda s: "\x1e".join(
                    dict.fromkeys(part for cell in s for part in cell.split("\x1e"))
                ),
            ),
            outcome=("outcome", "first"),
            score=("score", "first"),
            timestamp=("timestamp", "first"),
            item_id=("item_id", "first"),
            n_outcomes=("outcome", "nunique"),
        ).reset_index()
        joined = joined[joined["n_outcomes"] == 1].drop(columns="n_outcomes")
        merged_rows = (
            int(dup.sum())
            - len(joined)
            - int(data[dup].groupby(["learner_id", "sequence"]).ngroups - len(joined))
        )
        data = pd.concat([data[~dup], joined], ignore_index=True).sort_values("line")

    problems.sort(key=lambda p: p[0])
    rejected = [p for _, p in problems]
    if rejected and not skip_bad_rows:
        raise InvalidInputError(source, rejected)

    keys = source + ":" + data["learner_id"] + ":" + data["sequence"].astype(str)
    data = data.assign(key=keys.to_numpy(), kind=kind.value, source=source, asserted_by=asserted_by)
    kind_value = kind.value
    items = data["item_id"].tolist() if "item" in cols else [None] * len(data)
    has_time = "time" in cols
    data["content_hash"] = [
        content_hash(
            learner_id=u,
            competency_ids=s.split("\x1e"),
            outcome=o,
            timestamp=t if has_time else "",
            kind=kind_value,
            item_id=i,
            source=source,
            asserted_by=asserted_by,
            sequence=q,
        )
        for u, s, o, t, i, q in zip(
            data["learner_id"].tolist(),
            data["skill"].tolist(),
            data["outcome"].tolist(),
            data["timestamp"].tolist(),
            items,
            data["sequence"].tolist(),
            strict=True,
        )
    ]
    return LogReadResult(
        rows=data.reset_index(drop=True),
        total_rows=total,
        rejected=rejected,
        merged_rows=merged_rows,
    )
