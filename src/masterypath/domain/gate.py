"""The gate: a competency is unlocked when every prerequisite has the status its edge
requires.

>>> from masterypath.domain.framework import Competency, Framework, Prerequisite
>>> fw = Framework(id="m", title="M", competencies=(
...     Competency(id="add", title="Add"),
...     Competency(id="mul", title="Mul", prerequisites=(Prerequisite("add"),)),
... ))
>>> sorted(unlocked(fw, {"add": Status.PROFICIENT}))
['add']
>>> missing_prerequisites(fw, "mul", {"add": Status.PROFICIENT})
(MissingPrerequisite(competency_id='add', requires='mastered', status='proficient'),)
>>> sorted(unlocked(fw, {"add": Status.MASTERED}))
['add', 'mul']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from masterypath.domain.framework import Framework
from masterypath.domain.policy import Status, satisfies


@dataclass(frozen=True, slots=True)
class MissingPrerequisite:
    competency_id: str
    requires: str
    status: str


def missing_prerequisites(
    framework: Framework, competency_id: str, statuses: Mapping[str, Status]
) -> tuple[MissingPrerequisite, ...]:
    """Prerequisites of ``competency_id`` that lack the status their edge requires
    (a competency with no status is ``not_started``)."""
    out = []
    for pre in framework.competency(competency_id).prerequisites:
        status = statuses.get(pre.competency_id, Status.NOT_STARTED)
        if not satisfies(status, pre.requires):
            out.append(MissingPrerequisite(pre.competency_id, str(pre.requires), str(status)))
    return tuple(out)


def unlocked(framework: Framework, statuses: Mapping[str, Status]) -> frozenset[str]:
    """The competencies whose prerequisites are all met."""
    return frozenset(
        c.id
        for c in framework.competencies
        if all(
            satisfies(statuses.get(p.competency_id, Status.NOT_STARTED), p.requires)
            for p in c.prerequisites
        )
    )
