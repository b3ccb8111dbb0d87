"""A response log as integer arrays, the input every knowledge-tracing model fits on.

Multi-skill answers by design: a *response* is one answer by one learner; a *step*
is that response seen by one of its skills. An answer aligned to two skills is one
response and two steps. Models predict per step from the state *before* the
response and combine a response's steps into one prediction (the mean), so an
answer is scored once and its label never leaks into another copy of itself.

>>> import pandas as pd
>>> frame = pd.DataFrame({"user": ["a", "a", "a", "b"], "skill": ["x", "y", "x", "x"],
...                       "correct": [1, 1, 0, 1], "order": [1, 1, 2, 1]})
>>> r = Responses.from_frame(frame)
>>> r.n_responses, r.n_steps
(3, 4)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from masterypath.errors import ValidationError


@dataclass(frozen=True)
class Responses:
    """Steps sorted by learner, then order. Codes index the vocabularies."""

    learner: np.ndarray  # int32 code per step
    skill: np.ndarray  # int32 code per step
    item: np.ndarray  # int32 code per step, -1 when unknown
    correct: np.ndarray  # int8 0/1 per step
    response: np.ndarray  # int64 response index per step (several steps may share one)
    learners: tuple[str, ...]
    skills: tuple[str, ...]
    items: tuple[str, ...]

    @property
    def n_steps(self) -> int:
        return int(self.correct.shape[0])

    @property
    def n_responses(self) -> int:
        return int(self.response[-1]) + 1 if self.n_steps else 0

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        user: str = "user",
        skill: str = "skill",
        correct: str = "correct",
        order: str = "order",
        item: str | None = None,
    ) -> Responses:
        """Validate and encode a log. ``correct`` must be 0/1; rows are put in ``order``
        within each learner (the input need not be sorted); rows of a learner that share an
        ``order`` value are one multi-skill response and must agree on ``correct``; an
        exact repeat of a row (same learner, order and skill) counts once."""
        if frame.empty:
            raise ValidationError("data", "the log has no rows")
        for column in (user, skill, correct, order, *([item] if item else [])):
            if column not in frame.columns:
                raise ValidationError(
                    column, f"column not found (have: {', '.join(map(str, frame.columns))})"
                )
        values = pd.to_numeric(frame[correct], errors="coerce")
        bad = ~values.isin([0, 1])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            more = int(bad.sum()) - 1
            raise ValidationError(
                correct,
                f"must be 0 or 1, got {str(frame[correct].iloc[row])!r} "
                f"in data row {row + 1}" + (f" (and {more} more rows)" if more else ""),
            )
        orders = pd.to_numeric(frame[order], errors="coerce")
        if orders.isna().any():
            raise ValidationError(order, "must be numeric in every row")
        if frame[skill].isna().any() or frame[user].isna().any():
            raise ValidationError(skill if frame[skill].isna().any() else user, "missing values")
        # Work on integer codes (not sorted copies of string columns): a large log stays small.
        learner_codes, learner_names = pd.factorize(frame[user], sort=True)
        skill_codes, skill_names = pd.factorize(frame[skill].astype(str), sort=True)
        if item:
            item_codes, item_names = pd.factorize(frame[item].astype(str), sort=True)
        else:
            item_codes, item_names = np.full(len(frame), -1), pd.Index([])
        order_values = orders.to_numpy(dtype=float)
        sort = np.lexsort((np.arange(len(frame)), order_values, learner_codes))
        learner_codes, skill_codes = learner_codes[sort], skill_codes[sort]
        item_codes, order_values = np.asarray(item_codes)[sort], order_values[sort]
        correct_values = values.to_numpy(dtype=np.int8)[sort]
        new_response = np.ones(len(sort), dtype=bool)
        new_response[1:] = (learner_codes[1:] != learner_codes[:-1]) | (
            order_values[1:] != order_values[:-1]
        )
        response = np.cumsum(new_response) - 1
        # every step of a response must agree on the outcome
        totals = np.bincount(response, weights=correct_values)
        sizes = np.bincount(response)
        disagree = (totals > 0) & (totals < sizes)
        if disagree.any():
            at = int(np.flatnonzero(response == np.flatnonzero(disagree)[0])[0])
            name = str(learner_names[learner_codes[at]])
            raise ValidationError(
                correct,
                f"learner {name!r} has rows at order {order_values[at]:g} that disagree on correct",
            )
        # an exact repeat (same learner, order and skill) is one step
        keep = ~pd.DataFrame({"r": response, "s": skill_codes}).duplicated().to_numpy()
        return cls(
            learner=learner_codes[keep].astype(np.int32),
            skill=skill_codes[keep].astype(np.int32),
            item=np.asarray(item_codes)[keep].astype(np.int32),
            correct=correct_values[keep],
            response=response[keep].astype(np.int64),
            learners=tuple(str(x) for x in learner_names),
            skills=tuple(str(x) for x in skill_names),
            items=tuple(str(x) for x in item_names),
        )

    def subset_learners(self, mask_by_learner: np.ndarray) -> Responses:
        """The steps of the learners whose code is True in ``mask_by_learner``."""
        keep = mask_by_learner[self.learner]
        response = self.response[keep]
        _, renumbered = np.unique(response, return_inverse=True)
        return Responses(
            self.learner[keep],
            self.skill[keep],
            self.item[keep],
            self.correct[keep],
            renumbered.astype(np.int64),
            self.learners,
            self.skills,
            self.items,
        )

    def response_labels(self) -> np.ndarray:
        """The 0/1 label of every response."""
        labels = np.zeros(self.n_responses, dtype=np.int8)
        labels[self.response] = self.correct
        return labels

    def combine(self, step_values: np.ndarray) -> np.ndarray:
        """Mean of step values per response."""
        sums = np.bincount(self.response, weights=step_values, minlength=self.n_responses)
        counts = np.bincount(self.response, minlength=self.n_responses)
        return sums / counts
