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
        data = pd.DataFrame(
            {
                "user": frame[user].astype(str).to_numpy(),
                "skill": frame[skill].astype(str).to_numpy(),
                "correct": values.astype(np.int8).to_numpy(),
                "order": orders.to_numpy(),
                "item": frame[item].astype(str).to_numpy() if item else "",
            }
        )
        data = data.sort_values(["user", "order"], kind="stable").reset_index(drop=True)
        new_response = data["user"].ne(data["user"].shift()) | data["order"].ne(
            data["order"].shift()
        )
        response = np.cumsum(new_response.to_numpy()) - 1
        disagree = data.groupby(response)["correct"].nunique() > 1
        if disagree.any():
            first = int(np.flatnonzero(disagree.to_numpy())[0])  # responses are 0..n-1
            row = data[response == first].iloc[0]
            raise ValidationError(
                correct,
                f"learner {row['user']!r} has rows at order "
                f"{row['order']} that disagree on correct",
            )
        # an exact repeat (same learner, order and skill, same outcome) is one step
        repeat = data.duplicated(["user", "order", "skill"]).to_numpy()
        data, response = data[~repeat].reset_index(drop=True), response[~repeat]
        learner_codes, learners = pd.factorize(data["user"], sort=False)
        skill_codes, skills = pd.factorize(data["skill"], sort=True)
        if item:
            item_codes, items = pd.factorize(data["item"], sort=True)
        else:
            item_codes, items = np.full(len(data), -1), pd.Index([])
        return cls(
            learner=learner_codes.astype(np.int32),
            skill=skill_codes.astype(np.int32),
            item=np.asarray(item_codes, dtype=np.int32),
            correct=data["correct"].to_numpy(np.int8),
            response=response.astype(np.int64),
            learners=tuple(learners),
            skills=tuple(skills),
            items=tuple(items),
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
