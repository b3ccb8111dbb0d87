"""Occupations, career skills and how a programme covers them (pure).

A :class:`Taxonomy` is a validated set of occupations, career skills and the
skills each occupation requires (essential or optional). Alignments link a
programme's competencies to career skills; from the *confirmed* ones this module
computes an occupation's coverage, the occupations a programme prepares for
best, and the planner goals for a learner who picks a career.

>>> tax = Taxonomy(
...     id="mini", title="Mini",
...     occupations=(Occupation(id="dba", label="database administrator"),),
...     skills=(CareerSkill(id="sql", label="SQL"), CareerSkill(id="backup", label="backups")),
...     requirements=(Requirement("dba", "sql", essential=True),
...                   Requirement("dba", "backup", essential=True)),
... )
>>> report = coverage(tax, "dba", {"sql": ("select",)})
>>> [s.skill_id for s in report.missing_essential], report.essential_share
(['backup'], 0.5)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from masterypath.errors import NotFoundError, ValidationError


@dataclass(frozen=True, slots=True)
class Occupation:
    """A job or role, e.g. an ESCO occupation or an O*NET-SOC code."""

    id: str
    label: str
    description: str = ""
    code: str | None = None
    alt_labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CareerSkill:
    """A skill, competence or body of knowledge that occupations require."""

    id: str
    label: str
    description: str = ""
    alt_labels: tuple[str, ...] = ()
    kind: str = ""
    """The taxonomy's own type, e.g. ESCO's ``skill/competence`` or ``knowledge``."""
    broader: tuple[str, ...] = ()
    """Broader skills or skill groups (ESCO's skill hierarchy)."""

    @property
    def text(self) -> str:
        """The text an aligner reads: the label, then the description."""
        return f"{self.label}. {self.description}".strip() if self.description else self.label


@dataclass(frozen=True, slots=True)
class SkillGroup:
    """A node of the skill hierarchy above the skills (ESCO's skill pillar groups)."""

    id: str
    label: str
    code: str = ""
    broader: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Requirement:
    """``occupation_id`` requires ``skill_id``; ``importance`` is in [0, 1]."""

    occupation_id: str
    skill_id: str
    essential: bool
    importance: float | None = None

    def __post_init__(self) -> None:
        if self.importance is not None and not 0.0 <= self.importance <= 1.0:
            raise ValidationError(
                "importance", f"must be in [0, 1], got {self.importance} for {self.skill_id}"
            )


@dataclass(frozen=True)
class Taxonomy:
    """A validated career taxonomy: unique ids, requirements that reference known ids."""

    id: str
    title: str
    occupations: tuple[Occupation, ...]
    skills: tuple[CareerSkill, ...]
    requirements: tuple[Requirement, ...] = ()
    source: str = ""
    groups: tuple[SkillGroup, ...] = ()
    _groups: dict[str, SkillGroup] = field(init=False, repr=False, compare=False)
    _occupations: dict[str, Occupation] = field(init=False, repr=False, compare=False)
    _skills: dict[str, CareerSkill] = field(init=False, repr=False, compare=False)
    _required: dict[str, tuple[Requirement, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise ValidationError("id", "a taxonomy needs a non-empty id")
        occupations = _index(self.occupations, "occupation")
        skills = _index(self.skills, "career skill")
        groups: dict[str, SkillGroup] = {}
        for group in self.groups:
            if group.id in groups or group.id in skills:
                raise ValidationError("id", f"duplicate skill group id {group.id!r}")
            groups[group.id] = group
        nodes: list[tuple[str, tuple[str, ...]]] = [(s.id, s.broader) for s in self.skills]
        nodes += [(g.id, g.broader) for g in self.groups]
        for node_id, ups in nodes:
            for up in ups:
                if up not in skills and up not in groups:
                    raise ValidationError(
                        "broader", f"{node_id!r} has an unknown broader skill or group {up!r}"
                    )
        required: dict[str, list[Requirement]] = defaultdict(list)
        seen: set[tuple[str, str]] = set()
        for req in self.requirements:
            if req.occupation_id not in occupations:
                raise ValidationError(
                    "occupation_id", f"unknown occupation {req.occupation_id!r} in a requirement"
                )
            if req.skill_id not in skills:
                raise ValidationError(
                    "skill_id",
                    f"unknown skill {req.skill_id!r} required by {req.occupation_id!r}",
                )
            if (req.occupation_id, req.skill_id) in seen:
                raise ValidationError(
                    "skill_id",
                    f"{req.occupation_id!r} requires {req.skill_id!r} more than once",
                )
            seen.add((req.occupation_id, req.skill_id))
            required[req.occupation_id].append(req)
        object.__setattr__(self, "_groups", groups)
        object.__setattr__(self, "_occupations", occupations)
        object.__setattr__(self, "_skills", skills)
        object.__setattr__(self, "_required", {k: tuple(v) for k, v in required.items()})

    def occupation(self, occupation_id: str) -> Occupation:
        try:
            return self._occupations[occupation_id]
        except KeyError:
            raise NotFoundError("occupation", occupation_id) from None

    def skill(self, skill_id: str) -> CareerSkill:
        try:
            return self._skills[skill_id]
        except KeyError:
            raise NotFoundError("career skill", skill_id) from None

    def skill_group(self, skill_id: str) -> SkillGroup | None:
        """The nearest skill group above a skill (through broader skills), if any."""
        seen: set[str] = set()
        frontier = list(self.skill(skill_id).broader)
        while frontier:
            up = frontier.pop(0)
            if up in seen:
                continue
            seen.add(up)
            if up in self._groups:
                return self._groups[up]
            frontier.extend(self._skills[up].broader)
        return None

    def required(self, occupation_id: str) -> tuple[Requirement, ...]:
        """The skills ``occupation_id`` requires, essential and optional, in import order."""
        self.occupation(occupation_id)
        return self._required.get(occupation_id, ())


_Named = TypeVar("_Named", Occupation, CareerSkill)


def _index(things: Iterable[_Named], kind: str) -> dict[str, _Named]:
    out: dict[str, _Named] = {}
    for thing in things:
        if not thing.id.strip():
            raise ValidationError("id", f"a {kind} needs a non-empty id")
        if not thing.label.strip():
            raise ValidationError("label", f"{kind} {thing.id} needs a non-empty label")
        if thing.id in out:
            raise ValidationError("id", f"duplicate {kind} id {thing.id!r}")
        out[thing.id] = thing
    return out


class Decision(StrEnum):
    """An educator's verdict on a suggested alignment."""

    SUGGESTED = "suggested"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class MatchKind(StrEnum):
    """How closely a confirmed competency matches a career skill (CASE association types)."""

    EXACT = "exactMatchOf"
    RELATED = "isRelatedTo"


Links = Mapping[str, Sequence[str]]
"""Career skill id -> the competencies (or modules) confirmed to develop it."""


@dataclass(frozen=True, slots=True)
class CoveredSkill:
    skill_id: str
    label: str
    essential: bool
    competencies: tuple[str, ...]
    """Empty when nothing in the programme covers the skill."""
    group: str = ""
    """The label of the skill's nearest skill group ("" when the taxonomy has none)."""


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """How a programme covers one occupation's required skills."""

    occupation_id: str
    label: str
    skills: tuple[CoveredSkill, ...]

    def _share(self, essential: bool) -> float:
        wanted = [s for s in self.skills if s.essential == essential]
        return sum(1 for s in wanted if s.competencies) / len(wanted) if wanted else 0.0

    @property
    def essential_share(self) -> float:
        """Covered essential skills / essential skills (0 when it requires none)."""
        return self._share(True)

    @property
    def optional_share(self) -> float:
        return self._share(False)

    @property
    def missing_essential(self) -> tuple[CoveredSkill, ...]:
        return tuple(s for s in self.skills if s.essential and not s.competencies)

    @property
    def missing_optional(self) -> tuple[CoveredSkill, ...]:
        return tuple(s for s in self.skills if not s.essential and not s.competencies)


def coverage(taxonomy: Taxonomy, occupation_id: str, links: Links) -> CoverageReport:
    """Which of ``occupation_id``'s required skills the confirmed ``links`` cover."""
    occupation = taxonomy.occupation(occupation_id)
    skills = tuple(
        CoveredSkill(
            skill_id=req.skill_id,
            label=taxonomy.skill(req.skill_id).label,
            essential=req.essential,
            competencies=tuple(links.get(req.skill_id, ())),
            group=getattr(taxonomy.skill_group(req.skill_id), "label", ""),
        )
        for req in taxonomy.required(occupation_id)
    )
    return CoverageReport(occupation_id=occupation.id, label=occupation.label, skills=skills)


def best_occupations(
    taxonomy: Taxonomy, links: Links, *, limit: int = 10, min_essential: int = 1
) -> list[CoverageReport]:
    """The occupations a programme prepares for best: highest essential coverage, then
    optional coverage, then the most covered essential skills; ties by label.

    Occupations with fewer than ``min_essential`` essential skills are left out (a share
    of one skill out of one says little)."""
    covered = {skill for skill, competencies in links.items() if competencies}
    reports: list[CoverageReport] = []
    for occupation in taxonomy.occupations:
        required = taxonomy.required(occupation.id)
        if sum(r.essential for r in required) < max(min_essential, 1):
            continue
        if not any(r.skill_id in covered for r in required):
            continue
        reports.append(coverage(taxonomy, occupation.id, links))
    reports.sort(
        key=lambda r: (
            -r.essential_share,
            -r.optional_share,
            -(len(r.skills) - len(r.missing_essential)),
            r.label,
        )
    )
    return reports[:limit]


def career_goals(taxonomy: Taxonomy, occupation_id: str, links: Links) -> tuple[str, ...]:
    """The competencies confirmed to develop ``occupation_id``'s essential skills, each once,
    in the order of the occupation's requirements (the planner's goals for this career)."""
    goals: dict[str, None] = {}
    for req in taxonomy.required(occupation_id):
        if req.essential:
            for competency in links.get(req.skill_id, ()):
                goals.setdefault(competency, None)
    return tuple(goals)
