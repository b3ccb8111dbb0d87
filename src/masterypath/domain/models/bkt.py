"""Bayesian Knowledge Tracing fitted by EM (forward-backward), with pyBKT's variants.

>>> import numpy as np
>>> params = SkillParams(prior=0.2, learn=np.array([0.3]), forget=np.array([0.0]),
...                      guess=np.array([0.2]), slip=np.array([0.1]))
>>> state, log = update_known(0.2, correct=1.0, params=params, guess_group=0, learn_group=0)
>>> round(log.p_correct, 4), round(log.posterior, 4), round(state, 4)
(0.34, 0.5294, 0.6706)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from joblib import Parallel, delayed

from masterypath.domain.models import _bkt_kernels as kernels
from masterypath.domain.models.responses import Responses
from masterypath.errors import NotFittedError, ValidationError

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SkillParams:
    """One skill's HMM. Arrays are indexed by item group; group 0 is "any other item"."""

    prior: float
    learn: np.ndarray
    forget: np.ndarray
    guess: np.ndarray
    slip: np.ndarray
    guess_items: dict[int, int] = field(default_factory=dict)
    """item code -> guess/slip group (multigs); unseen items use group 0."""
    learn_items: dict[int, int] = field(default_factory=dict)
    """item code -> learn/forget group (multilearn); unseen items use group 0."""
    loglik: float = 0.0
    iterations: int = 0

    def to_dict(self, items: tuple[str, ...]) -> dict[str, Any]:
        return {
            "prior": self.prior,
            "learn": self.learn.tolist(),
            "forget": self.forget.tolist(),
            "guess": self.guess.tolist(),
            "slip": self.slip.tolist(),
            "guess_items": {items[i]: g for i, g in self.guess_items.items()},
            "learn_items": {items[i]: g for i, g in self.learn_items.items()},
            "loglik": self.loglik,
            "iterations": self.iterations,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], item_codes: dict[str, int]) -> SkillParams:
        return cls(
            prior=float(data["prior"]),
            learn=np.asarray(data["learn"], float),
            forget=np.asarray(data["forget"], float),
            guess=np.asarray(data["guess"], float),
            slip=np.asarray(data["slip"], float),
            guess_items={
                item_codes[k]: int(v) for k, v in data["guess_items"].items() if k in item_codes
            },
            learn_items={
                item_codes[k]: int(v) for k, v in data["learn_items"].items() if k in item_codes
            },
            loglik=float(data.get("loglik", 0.0)),
            iterations=int(data.get("iterations", 0)),
        )

    @cached_property
    def rates(self) -> tuple[list[float], list[float], list[float], list[float]]:
        """learn, forget, guess, slip as Python floats: streaming updates index these
        one at a time, where numpy scalars would cost several times more."""
        return (self.learn.tolist(), self.forget.tolist(), self.guess.tolist(), self.slip.tolist())


@dataclass(frozen=True, slots=True)
class UpdateLog:
    """What one streaming update did, for explanations and audits."""

    skill: str
    p_correct: float
    """P(correct) predicted before the answer."""
    posterior: float
    """P(learned) after seeing the answer, before the learning transition."""
    p_known_before: float
    p_known_after: float


def update_known(
    p_known: float,
    *,
    correct: float,
    params: SkillParams,
    guess_group: int,
    learn_group: int,
    skill: str = "",
) -> tuple[float, UpdateLog]:
    """One BKT step: predict, condition on the answer (``correct`` may be a score in
    [0, 1], treated as soft evidence), then apply the learn/forget transition."""
    learns, forgets, guesses, slips = params.rates
    g, s = guesses[guess_group], slips[guess_group]
    p_correct = p_known * (1.0 - s) + (1.0 - p_known) * g
    like_l = correct * (1.0 - s) + (1.0 - correct) * s
    like_u = correct * g + (1.0 - correct) * (1.0 - g)
    den = p_known * like_l + (1.0 - p_known) * like_u
    posterior = p_known * like_l / den if den > 0 else p_known
    learn, forget = learns[learn_group], forgets[learn_group]
    after = posterior * (1.0 - forget) + (1.0 - posterior) * learn
    return after, UpdateLog(skill, p_correct, posterior, p_known, after)


@dataclass(frozen=True)
class _SkillData:
    obs: np.ndarray
    ggroup: np.ndarray
    lgroup: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    steps: np.ndarray  # positions of these steps in the Responses arrays


class BKT:
    """Bayesian Knowledge Tracing, one HMM per skill, fitted by EM.

    Hyperparameters (stored as given; ``fit`` never changes them):

    - ``forgets``: learn a forget rate (otherwise 0).
    - ``multigs``: guess/slip per item (KT-IDEM, pyBKT's ``multigs``).
    - ``multilearn``: learn/forget per item practised (pyBKT's ``multilearn``).
    - ``restarts``: EM runs from random starts; the best likelihood wins.
    - ``max_guess``/``max_slip``: ceilings that keep fits from degenerating
      (with both below 0.5, a learned state always answers better than an unknown one).
    - ``seed``: makes fits reproducible; ``n_jobs``: skills fitted in parallel through
      joblib (switch the joblib backend to run on a Dask or Ray cluster).
    """

    def __init__(
        self,
        *,
        forgets: bool = False,
        multigs: bool = False,
        multilearn: bool = False,
        restarts: int = 5,
        max_iter: int = 100,
        tol: float = 1e-5,
        max_guess: float = 0.5,
        max_slip: float = 0.5,
        seed: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.forgets = forgets
        self.multigs = multigs
        self.multilearn = multilearn
        self.restarts = restarts
        self.max_iter = max_iter
        self.tol = tol
        self.max_guess = max_guess
        self.max_slip = max_slip
        self.seed = seed
        self.n_jobs = n_jobs

    def get_params(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "forgets",
                "multigs",
                "multilearn",
                "restarts",
                "max_iter",
                "tol",
                "max_guess",
                "max_slip",
                "seed",
                "n_jobs",
            )
        }

    # -- fitting ---------------------------------------------------------------------------
    def _validate(self) -> None:
        if self.restarts < 1:
            raise ValidationError("restarts", f"must be >= 1, got {self.restarts}")
        if self.max_iter < 1:
            raise ValidationError("max_iter", f"must be >= 1, got {self.max_iter}")
        for name in ("max_guess", "max_slip"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValidationError(name, f"must be in (0, 1), got {value}")

    def fit(self, responses: Responses) -> BKT:
        self._validate()
        if responses.n_steps == 0:
            raise ValidationError("data", "the log has no rows")
        datas, groups = self._skill_data(responses, fitting=True)
        seeds = np.random.SeedSequence(self.seed).spawn(len(responses.skills))
        jobs = (
            delayed(_fit_skill)(
                datas[k],
                len(groups[k][0]) + 1,
                len(groups[k][1]) + 1,
                np.random.default_rng(seeds[k]),
                self.get_params(),
            )
            for k in range(len(responses.skills))
        )
        # The EM loop runs in numba without the GIL, so threads fit skills in parallel
        # without copying data into worker processes; a joblib backend set by the caller
        # (e.g. ``parallel_config(backend="dask")``) takes precedence over the preference.
        fitted = (
            Parallel(n_jobs=self.n_jobs, prefer="threads")(jobs)
            if self.n_jobs != 1
            else list(_run_serially(jobs))
        )
        self.skills_ = responses.skills
        self.items_ = responses.items
        self.params_ = {
            responses.skills[k]: SkillParams(
                prior=p[0],
                learn=p[1],
                forget=p[2],
                guess=p[3],
                slip=p[4],
                guess_items=groups[k][0],
                learn_items=groups[k][1],
                loglik=p[5],
                iterations=p[6],
            )
            for k, p in enumerate(fitted)
        }
        return self

    def _skill_data(
        self,
        responses: Responses,
        *,
        fitting: bool,
    ) -> tuple[list[_SkillData], list[tuple[dict[int, int], dict[int, int]]]]:
        """Per-skill sequences (by learner, in order) and item-group maps."""
        order = np.lexsort((np.arange(responses.n_steps), responses.learner, responses.skill))
        skill_sorted = responses.skill[order]
        bounds = np.searchsorted(skill_sorted, np.arange(len(responses.skills) + 1))
        datas, groups = [], []
        for k in range(len(responses.skills)):
            steps = order[bounds[k] : bounds[k + 1]]
            learners = responses.learner[steps]
            items = responses.item[steps]
            if fitting:
                seen = np.unique(items[items >= 0])
                gmap = {int(i): n + 1 for n, i in enumerate(seen)} if self.multigs else {}
                lmap = {int(i): n + 1 for n, i in enumerate(seen)} if self.multilearn else {}
            else:
                params = self.params_.get(responses.skills[k])
                gmap = params.guess_items if params else {}
                lmap = params.learn_items if params else {}
            new_seq = np.ones(len(steps), dtype=bool)
            new_seq[1:] = learners[1:] != learners[:-1]
            starts = np.flatnonzero(new_seq).astype(np.int64)
            lengths = np.diff(np.append(starts, len(steps))).astype(np.int64)
            datas.append(
                _SkillData(
                    obs=responses.correct[steps].astype(np.int64),
                    ggroup=_lookup(items, gmap),
                    lgroup=_lookup(items, lmap),
                    starts=starts,
                    lengths=lengths,
                    steps=steps,
                )
            )
            groups.append((gmap, lmap))
        return datas, groups

    # -- prediction ------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(type(self).__name__)

    def predict_steps(self, responses: Responses) -> tuple[np.ndarray, np.ndarray]:
        """P(correct) and P(learned) of every step, each from the steps before it.
        Skills never seen in training predict 0.5 and P(learned) NaN-free 0."""
        self._check_fitted()
        datas, _ = self._skill_data(responses, fitting=False)
        p_correct = np.full(responses.n_steps, 0.5)
        p_known = np.zeros(responses.n_steps)
        for k, data in enumerate(datas):
            params = self.params_.get(responses.skills[k])
            if params is None or len(data.steps) == 0:
                continue
            pc, pk = kernels.predict(
                data.obs,
                data.ggroup,
                data.lgroup,
                data.starts,
                data.lengths,
                params.prior,
                params.learn,
                params.forget,
                params.guess,
                params.slip,
            )
            p_correct[data.steps] = pc
            p_known[data.steps] = pk
        return p_correct, p_known

    def predict_proba(self, responses: Responses) -> np.ndarray:
        """P(correct) per response (the mean over a multi-skill response's skills)."""
        return responses.combine(self.predict_steps(responses)[0])

    # -- streaming -------------------------------------------------------------------------
    def initial_state(self) -> dict[str, float]:
        """P(learned) of a new learner for every skill (the fitted priors). A state may
        also start empty: :meth:`update` reads a missing skill as its prior."""
        self._check_fitted()
        return {skill: p.prior for skill, p in self.params_.items()}

    def update(
        self,
        state: dict[str, float],
        *,
        skills: tuple[str, ...],
        correct: float,
        item: str | None = None,
    ) -> tuple[dict[str, float], list[UpdateLog]]:
        """Pure streaming update for one answer: returns a new state and a log per skill;
        ``state`` is not modified. Equals :meth:`predict_steps` on the same sequence."""
        self._check_fitted()
        item_code = self._item_code(item)
        new = dict(state)
        logs = []
        for skill in skills:
            params = self.params_.get(skill)
            if params is None:
                raise ValidationError("skill", f"{skill!r} was not in the training data")
            before = new.get(skill, params.prior)
            new[skill], log = update_known(
                before,
                correct=correct,
                params=params,
                guess_group=params.guess_items.get(item_code, 0),
                learn_group=params.learn_items.get(item_code, 0),
                skill=skill,
            )
            logs.append(log)
        return new, logs

    def _item_code(self, item: str | None) -> int:
        if item is None:
            return -1
        codes = getattr(self, "_item_codes", None)
        if codes is None:
            codes = {name: n for n, name in enumerate(self.items_)}
            self._item_codes = codes
        return int(codes.get(item, -1))

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "schema_version": SCHEMA_VERSION,
            "model": "bkt",
            "hyperparameters": self.get_params(),
            "items": list(self.items_),
            "skills": {s: p.to_dict(self.items_) for s, p in self.params_.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BKT:
        if data.get("schema_version") != SCHEMA_VERSION or data.get("model") != "bkt":
            raise ValidationError(
                "schema_version", f"not a masterypath BKT model file (schema {SCHEMA_VERSION})"
            )
        model = cls(**data["hyperparameters"])
        model.items_ = tuple(data["items"])
        codes = {name: n for n, name in enumerate(model.items_)}
        model.skills_ = tuple(data["skills"])
        model.params_ = {s: SkillParams.from_dict(p, codes) for s, p in data["skills"].items()}
        return model


def _run_serially(jobs: Any) -> Any:
    for fn, args, kwargs in jobs:
        yield fn(*args, **kwargs)


def _lookup(items: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    if not mapping:
        return np.zeros(len(items), dtype=np.int64)
    return np.array([mapping.get(int(i), 0) for i in items], dtype=np.int64)


def _fit_skill(
    data: _SkillData, n_guess: int, n_learn: int, rng: np.random.Generator, hp: dict[str, Any]
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, int]:
    """Best of ``restarts`` EM runs for one skill (initial values drawn from ``rng``)."""
    r = hp["restarts"]
    inits = np.column_stack(
        [
            rng.uniform(0.1, 0.9, r),
            rng.uniform(0.01, 0.4, r),
            rng.uniform(0.01, 0.1, r),
            rng.uniform(0.05, min(0.4, hp["max_guess"]), r),
            rng.uniform(0.05, min(0.4, hp["max_slip"]), r),
        ]
    )
    prior, learn, forget, guess, slip, loglik, iterations = kernels.fit_em(
        data.obs,
        data.ggroup,
        data.lgroup,
        data.starts,
        data.lengths,
        inits,
        n_guess,
        n_learn,
        hp["forgets"],
        hp["max_guess"],
        hp["max_slip"],
        hp["max_iter"],
        hp["tol"],
    )
    if n_guess > 1:  # group 0 (unseen items) gets the mean of the fitted item groups
        guess[0] = float(np.mean(guess[1:]))
        slip[0] = float(np.mean(slip[1:]))
    if n_learn > 1:
        learn[0] = float(np.mean(learn[1:]))
        forget[0] = float(np.mean(forget[1:]))
    return float(prior), learn, forget, guess, slip, float(loglik), int(iterations)
