"""Rubrics, per-criterion judgements and the feedback a learner reads (pure).

A :class:`Rubric` has criteria; each criterion has ordered performance levels (lowest
first) with a descriptor, points and reference answers, and is aligned to competencies.
Exemplars are educator-scored sample answers. A scorer turns a submission into one
:class:`Judgement` per criterion; :func:`feedback_for` turns judgements into strengths,
gaps (quoting what the next level requires) and one next step, in plain language.

>>> rubric = Rubric(id="circuits", title="Circuits", criteria=(Criterion(
...     id="closed", title="Closed path", competency_ids=("circuits",), levels=(
...         Level(id="missing", label="Missing", points=0,
...               descriptor="Does not mention a closed path."),
...         Level(id="met", label="Met", points=1,
...               descriptor="Explains that a bulb lights only in a closed path with the battery.",
...               references=("The bulb is in a closed path with the battery.",)),
...     )),))
>>> judged = (Judgement("closed", "missing", 0.9, ("It is on.",)),)
>>> feedback_for(rubric, judged).gaps[0]
'Closed path: to reach Met, explains that a bulb lights only in a closed path with the battery.'
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from masterypath.errors import ValidationError

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Level:
    id: str
    label: str
    points: float
    descriptor: str
    references: tuple[str, ...] = ()
    """Reference answers that show this level."""


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    title: str
    levels: tuple[Level, ...]
    """Lowest first."""
    competency_ids: tuple[str, ...] = ()

    def level(self, level_id: str) -> Level:
        for level in self.levels:
            if level.id == level_id:
                return level
        raise ValidationError("level", f"criterion {self.id!r} has no level {level_id!r}")

    def next_level(self, level_id: str) -> Level | None:
        ids = [lv.id for lv in self.levels]
        i = ids.index(level_id)
        return self.levels[i + 1] if i + 1 < len(self.levels) else None


@dataclass(frozen=True, slots=True)
class Exemplar:
    """An educator-scored answer: ``text`` shows ``level_id`` on ``criterion_id``."""

    criterion_id: str
    level_id: str
    text: str
    source: str = "educator"


@dataclass(frozen=True)
class Rubric:
    id: str
    title: str
    criteria: tuple[Criterion, ...]
    exemplars: tuple[Exemplar, ...] = ()
    _criteria: dict[str, Criterion] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise ValidationError("id", "a rubric needs a non-empty id")
        for path, text in self._texts():
            if "\x00" in text:  # PostgreSQL refuses NUL in text; no rubric needs one
                raise ValidationError(path, "contains a NUL character", location=self.id)
        if not self.criteria:
            raise ValidationError("criteria", f"rubric {self.id!r} has no criteria")
        index: dict[str, Criterion] = {}
        for c in self.criteria:
            if c.id in index:
                raise ValidationError("criteria", f"criterion id {c.id!r} appears twice")
            if len(c.levels) < 2:
                raise ValidationError("levels", f"criterion {c.id!r} needs at least two levels")
            ids = [lv.id for lv in c.levels]
            if len(set(ids)) != len(ids):
                raise ValidationError("levels", f"criterion {c.id!r} repeats a level id")
            points = [lv.points for lv in c.levels]
            if not all(math.isfinite(p) for p in points):
                raise ValidationError("points", f"criterion {c.id!r}: points must be finite")
            if points != sorted(points) or len(set(points)) != len(points):
                raise ValidationError(
                    "points", f"criterion {c.id!r}: levels must go from fewest to most points"
                )
            index[c.id] = c
        for e in self.exemplars:
            if e.criterion_id not in index:
                raise ValidationError("exemplars", f"unknown criterion {e.criterion_id!r}")
            index[e.criterion_id].level(e.level_id)
        object.__setattr__(self, "_criteria", index)

    def _texts(self) -> Iterator[tuple[str, str]]:
        """(field path, text) of every text in the rubric, paths as the JSON form has them."""
        yield "id", self.id
        yield "title", self.title
        for i, c in enumerate(self.criteria):
            yield f"criteria.{i}.id", c.id
            yield f"criteria.{i}.title", c.title
            for k, competency_id in enumerate(c.competency_ids):
                yield f"criteria.{i}.competency_ids.{k}", competency_id
            for j, lv in enumerate(c.levels):
                at = f"criteria.{i}.levels.{j}"
                yield from ((f"{at}.{f}", getattr(lv, f)) for f in ("id", "label", "descriptor"))
                for k, reference in enumerate(lv.references):
                    yield f"{at}.references.{k}", reference
        exemplar_fields = ("criterion_id", "level_id", "text", "source")
        for i, e in enumerate(self.exemplars):
            yield from ((f"exemplars.{i}.{f}", getattr(e, f)) for f in exemplar_fields)

    def criterion(self, criterion_id: str) -> Criterion:
        try:
            return self._criteria[criterion_id]
        except KeyError:
            raise ValidationError(
                "criterion", f"rubric {self.id!r} has no {criterion_id!r}"
            ) from None

    def with_exemplar(self, exemplar: Exemplar) -> Rubric:
        """A new rubric with one more exemplar (e.g. an educator's correction)."""
        return Rubric(self.id, self.title, self.criteria, (*self.exemplars, exemplar))


@dataclass(frozen=True, slots=True)
class Judgement:
    """One criterion's level for a submission, how sure the scorer is, and why."""

    criterion_id: str
    level_id: str
    confidence: float
    support: tuple[str, ...] = ()
    """The sentences of the submission that support the level."""
    scorer: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValidationError("confidence", f"must be in [0, 1], got {self.confidence}")


@dataclass(frozen=True, slots=True)
class Feedback:
    strengths: tuple[str, ...]
    gaps: tuple[str, ...]
    next_step: str
    needs_review: tuple[str, ...]
    """Criteria judged with low confidence: an educator should check them."""

    def text(self) -> str:
        parts = []
        if self.strengths:
            parts.append("What you did well: " + " ".join(self.strengths))
        if self.gaps:
            parts.append("What is missing: " + " ".join(self.gaps))
        parts.append("Next step: " + self.next_step)
        return "\n".join(parts)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].lower() + text[1:] if text else text


def feedback_for(
    rubric: Rubric,
    judgements: Sequence[Judgement],
    *,
    next_activity: str | None = None,
    confidence_floor: float = 0.6,
) -> Feedback:
    """Strengths (criteria at their top level), gaps (what the next level requires, quoting
    its descriptor), one next step (``next_activity`` from the planner when given, else the
    first gap), and the criteria to review (confidence under ``confidence_floor``)."""
    strengths, gaps, review = [], [], []
    for j in judgements:
        criterion = rubric.criterion(j.criterion_id)
        level = criterion.level(j.level_id)
        upper = criterion.next_level(j.level_id)
        sure = "" if j.confidence >= confidence_floor else " (not sure: an educator will check)"
        if upper is None:
            strengths.append(f"{criterion.title}: {level.label}{sure}.")
        else:
            gaps.append(f"{criterion.title}: to reach {upper.label}, {_sentence(upper.descriptor)}")
        if j.confidence < confidence_floor:
            review.append(j.criterion_id)
    if next_activity:
        step = next_activity
    elif gaps:
        step = "Revise your answer: " + gaps[0]
    else:
        step = "Well done: every criterion is at its top level. Move on to the next activity."
    return Feedback(tuple(strengths), tuple(gaps), step, tuple(review))


def rubric_to_dict(rubric: Rubric) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "id": rubric.id,
        "title": rubric.title,
        "criteria": [
            {
                "id": c.id,
                "title": c.title,
                "competency_ids": list(c.competency_ids),
                "levels": [
                    {
                        "id": lv.id,
                        "label": lv.label,
                        "points": lv.points,
                        "descriptor": lv.descriptor,
                        "references": list(lv.references),
                    }
                    for lv in c.levels
                ],
            }
            for c in rubric.criteria
        ],
        "exemplars": [
            {
                "criterion_id": e.criterion_id,
                "level_id": e.level_id,
                "text": e.text,
                "source": e.source,
            }
            for e in rubric.exemplars
        ],
    }


def rubric_from_dict(data: Mapping[str, Any]) -> Rubric:
    """Read :func:`rubric_to_dict` output; a wrong shape names the field."""
    if not isinstance(data, Mapping):
        raise ValidationError("rubric", f"must be a JSON object, got {type(data).__name__}")
    if data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise ValidationError("schema_version", f"unsupported {data.get('schema_version')!r}")
    try:
        return Rubric(
            id=str(data["id"]),
            title=str(data.get("title", data["id"])),
            criteria=tuple(
                Criterion(
                    id=str(c["id"]),
                    title=str(c.get("title", c["id"])),
                    competency_ids=tuple(str(x) for x in c.get("competency_ids", ())),
                    levels=tuple(
                        Level(
                            id=str(lv["id"]),
                            label=str(lv.get("label", lv["id"])),
                            points=float(lv["points"]),
                            descriptor=str(lv.get("descriptor", "")),
                            references=tuple(str(r) for r in lv.get("references", ())),
                        )
                        for lv in c["levels"]
                    ),
                )
                for c in data["criteria"]
            ),
            exemplars=tuple(
                Exemplar(
                    str(e["criterion_id"]),
                    str(e["level_id"]),
                    str(e["text"]),
                    str(e.get("source", "educator")),
                )
                for e in data.get("exemplars", ())
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError("rubric", f"malformed rubric: missing or bad {exc}") from None
