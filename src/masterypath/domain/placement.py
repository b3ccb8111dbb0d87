"""Placement / test-out: an adaptive diagnostic over the prerequisite graph.

The population prior is a Bayesian network on the graph: a competency is known with
probability ``ready`` when all its prerequisites are known and ``unready`` otherwise
(:class:`PlacementPrior`, fitted on other learners' states or set by hand). So one
answer informs many competencies: a success makes the prerequisites likely known, a
failure makes the dependents likely unknown. Beliefs are kept as Markov chains over
whole knowledge states (Gibbs sampling, run a few sweeps after each answer, alternating
topological and reverse order so that evidence travels both up and down the graph), and
read out as Rao-Blackwellised marginals. Each next probe is the competency whose answer
is expected to reduce the total uncertainty (summed binary entropy of every competency)
the most. The session stops when every competency is classified with the configured
confidence or the budget is spent. A competency whose own probe failed is never
concluded known.

Pure: every random draw comes from ``seed`` and the number of answers so far, so a
session is rebuilt exactly by replaying its answers.

>>> from masterypath.domain.framework import Competency, Framework, Prerequisite
>>> fw = Framework(id="m", title="M", competencies=(
...     Competency(id="a", title="A"),
...     Competency(id="b", title="B", prerequisites=(Prerequisite("a"),))))
>>> prior = PlacementPrior.uniform(fw, ready=0.3, unready=0.03)
>>> s = PlacementSession.start(fw, prior=prior, config=PlacementConfig(chains=4000))
>>> round(s.marginals()["a"], 2)  # the population prior
0.3
>>> round(s.answer("b", True).marginals()["a"], 1)  # exact: 0.123 / 0.2777 = 0.443
0.4
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from masterypath.domain._placement_kernels import gibbs_sweeps
from masterypath.domain.framework import Framework
from masterypath.errors import ValidationError

PRIOR_SCHEMA_VERSION = 1
_EPS = 1e-4


@dataclass(frozen=True)
class PlacementConfig:
    confidence: float = 0.9
    """Classify a competency once P(known) >= confidence or <= 1 - confidence."""
    budget: int = 30
    candidates: int = 64
    """Information gain is computed for this many of the most uncertain competencies."""
    guess: float = 0.2
    slip: float = 0.1
    chains: int = 256
    sweeps: int = 4
    """Gibbs sweeps after each answer, alternating reverse and topological order; the
    marginals average the second half (the first half is burn-in)."""
    objective: str = "entropy"
    """What the next probe is chosen to reduce: total uncertainty (``entropy``) or the
    expected number of misclassified competencies (``error``)."""

    def __post_init__(self) -> None:
        if not 0.5 < self.confidence < 1.0:
            raise ValidationError("confidence", "must be in (0.5, 1)")
        if self.objective not in ("entropy", "error"):
            raise ValidationError("objective", "must be 'entropy' or 'error'")
        for name in ("budget", "candidates", "chains", "sweeps"):
            if getattr(self, name) < 1:
                raise ValidationError(name, "must be >= 1")
        for name in ("guess", "slip"):
            if not 0.0 < getattr(self, name) < 0.5:
                raise ValidationError(name, "must be in (0, 0.5)")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlacementConfig:
        known = set(cls.__dataclass_fields__)
        extra = set(data) - known
        if extra:
            raise ValidationError("config", f"unknown field(s) {sorted(extra)}")
        return cls(**data)


@dataclass(frozen=True)
class PlacementPrior:
    """A mixture of graph-shaped populations: learner classes (e.g. how far through the
    course a learner got), each with, per competency, P(known | all prerequisites known)
    and P(known | one is not).

    >>> from masterypath.domain.framework import Competency, Framework, Prerequisite
    >>> fw = Framework(id="m", title="M", competencies=(
    ...     Competency(id="a", title="A"),
    ...     Competency(id="b", title="B", prerequisites=(Prerequisite("a"),))))
    >>> p = PlacementPrior.fit(fw, [{"a", "b"}, {"a"}, set(), {"a", "b"}], strength=0)
    >>> p.ready  # one class; a: 3 of 4 learners; b: 2 of the 3 who knew a
    ((0.75, 0.6667),)
    >>> p.unready[0][1]  # b: 0 of the 1 who did not know a (clipped away from 0)
    0.0001
    """

    ids: tuple[str, ...]
    weights: tuple[float, ...]
    """The share of learners in each class."""
    ready: tuple[tuple[float, ...], ...]
    """class x competency: P(known | all prerequisites known); a root's P(known)."""
    unready: tuple[tuple[float, ...], ...]
    """class x competency: P(known | a prerequisite is not known)."""
    share: tuple[tuple[float, ...], ...]
    """class x competency: the share of the class's learners who know it (weighs the
    classes against the answers; unused with one class)."""
    learners: int = 0
    """How many learners' states it was fitted on (0: set by hand)."""

    def __post_init__(self) -> None:
        if not self.weights or abs(sum(self.weights) - 1.0) > 1e-3:
            raise ValidationError("prior.weights", "must be non-empty and sum to 1")
        for name in ("ready", "unready", "share"):
            table = getattr(self, name)
            if len(table) != len(self.weights) or any(len(r) != len(self.ids) for r in table):
                raise ValidationError(
                    f"prior.{name}", "must be one row per class, one column per competency"
                )
            if any(not 0.0 <= v <= 1.0 for r in table for v in r):
                raise ValidationError(f"prior.{name}", "probabilities must be in [0, 1]")

    @classmethod
    def uniform(
        cls, framework: Framework, *, ready: float = 0.5, unready: float = 0.1
    ) -> PlacementPrior:
        """One class, the same two probabilities for every competency (no population)."""
        n = len(framework.competencies)
        return cls(
            framework.topological_order(),
            (1.0,),
            ((ready,) * n,),
            ((unready,) * n,),
            ((ready,) * n,),
        )

    @classmethod
    def fit(
        cls,
        framework: Framework,
        known: Iterable[Collection[str]],
        *,
        classes: int = 1,
        strength: float = 4.0,
        iterations: int = 50,
    ) -> PlacementPrior:
        """Estimate from other learners' known sets by EM over learner classes (started
        from classes of equal size by how many competencies a learner knows, so it is
        deterministic). Counts per competency are shrunk towards the class's pooled rate
        with ``strength`` pseudo-learners: a competency few learners reached borrows from
        the rest. With no learners, the uniform prior."""
        if strength < 0:
            raise ValidationError("strength", "must be >= 0")
        if classes < 1:
            raise ValidationError("classes", "must be >= 1")
        ids = framework.topological_order()
        index = {c: i for i, c in enumerate(ids)}
        rows = [sorted(index[c] for c in k if c in index) for k in known]
        if not rows:
            return cls.uniform(framework)
        S = np.zeros((len(rows), len(ids)), dtype=bool)  # noqa: N806
        for r, cols in enumerate(rows):
            S[r, cols] = True
        R = np.ones_like(S)  # noqa: N806 - all prerequisites known
        for i, c in enumerate(ids):
            for p in framework.competency(c).prerequisites:
                R[:, i] &= S[:, index[p.competency_id]]
        classes = min(classes, len(rows))
        rank = np.argsort(np.argsort(S.sum(axis=1), kind="stable"), kind="stable")
        resp = np.zeros((len(rows), classes))
        resp[np.arange(len(rows)), rank * classes // len(rows)] = 1.0
        cells = [
            (S & R).astype(float),
            (~S & R).astype(float),
            (S & ~R).astype(float),
            (~S & ~R).astype(float),
        ]
        for _ in range(iterations):
            weights = resp.sum(axis=0) / len(rows)
            tables = []
            for hit, miss in ((cells[0], cells[1]), (cells[2], cells[3])):
                h, m = resp.T @ hit, resp.T @ miss
                pooled = (h.sum(axis=1) + 1) / (h.sum(axis=1) + m.sum(axis=1) + 2)
                rate = (h + strength * pooled[:, None]) / (h + m + strength + 1e-12)
                rate = np.where(h + m + strength > 0, rate, pooled[:, None])
                tables.append(np.clip(rate, _EPS, 1 - _EPS))
            ready, unready = tables
            if classes == 1:
                break
            loglik = (
                cells[0] @ np.log(ready).T
                + cells[1] @ np.log1p(-ready).T
                + cells[2] @ np.log(unready).T
                + cells[3] @ np.log1p(-unready).T
                + np.log(np.maximum(weights, 1e-12))
            )
            loglik -= loglik.max(axis=1, keepdims=True)
            resp = np.exp(loglik)
            resp /= resp.sum(axis=1, keepdims=True)
        share = (resp.T @ S + 1) / (resp.sum(axis=0)[:, None] + 2)
        keep = np.flatnonzero(weights > 0)
        keep = keep[np.argsort(share[keep].mean(axis=1), kind="stable")]  # by progress
        w = weights[keep] / weights[keep].sum()

        def rounded(table: np.ndarray) -> tuple[tuple[float, ...], ...]:
            return tuple(tuple(round(float(v), 4) for v in r) for r in table[keep])

        return cls(
            ids,
            tuple(round(float(v), 6) for v in w),
            rounded(ready),
            rounded(unready),
            rounded(share),
            learners=len(rows),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": PRIOR_SCHEMA_VERSION,
            "ids": list(self.ids),
            "weights": list(self.weights),
            "ready": [list(r) for r in self.ready],
            "unready": [list(r) for r in self.unready],
            "share": [list(r) for r in self.share],
            "learners": self.learners,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlacementPrior:
        if data.get("schema_version") != PRIOR_SCHEMA_VERSION:
            raise ValidationError(
                "prior.schema_version",
                f"expected {PRIOR_SCHEMA_VERSION}, got {data.get('schema_version')!r}",
            )
        try:
            return cls(
                tuple(str(c) for c in data["ids"]),
                tuple(float(v) for v in data["weights"]),
                tuple(tuple(float(v) for v in r) for r in data["ready"]),
                tuple(tuple(float(v) for v in r) for r in data["unready"]),
                tuple(tuple(float(v) for v in r) for r in data["share"]),
                int(data.get("learners", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError("prior", f"malformed: {exc}") from None


@dataclass(frozen=True)
class _Graph:
    """The framework and prior as the arrays the kernel reads."""

    ids: tuple[str, ...]
    pa_ptr: np.ndarray
    pa_idx: np.ndarray
    ch_ptr: np.ndarray
    ch_idx: np.ndarray
    weights: np.ndarray
    ready: np.ndarray
    """class x competency"""
    unready: np.ndarray
    share: np.ndarray

    @classmethod
    def build(cls, framework: Framework, prior: PlacementPrior) -> _Graph:
        ids = framework.topological_order()
        if set(prior.ids) != set(ids):
            missing = sorted(set(ids) - set(prior.ids))[:3]
            extra = sorted(set(prior.ids) - set(ids))[:3]
            raise ValidationError(
                "prior.ids", f"does not match the framework (missing {missing}, extra {extra})"
            )
        index = {c: i for i, c in enumerate(ids)}
        parents = [
            [index[p.competency_id] for p in framework.competency(c).prerequisites] for c in ids
        ]
        children: list[list[int]] = [[] for _ in ids]
        for i, ps in enumerate(parents):
            for p in ps:
                children[p].append(i)
        cols = [prior.ids.index(c) for c in ids] if prior.ids != ids else list(range(len(ids)))
        ready = np.clip(np.asarray(prior.ready)[:, cols], _EPS, 1 - _EPS)
        unready = np.clip(np.asarray(prior.unready)[:, cols], _EPS, 1 - _EPS)
        share = np.clip(np.asarray(prior.share)[:, cols], _EPS, 1 - _EPS)
        return cls(
            ids, *_csr(parents), *_csr(children), np.asarray(prior.weights), ready, unready, share
        )

    def forward_sample(
        self, rng: np.random.Generator, chains: int
    ) -> tuple[np.ndarray, np.ndarray]:
        classes = rng.choice(len(self.weights), size=chains, p=self.weights / self.weights.sum())
        states = np.zeros((chains, len(self.ids)), dtype=np.uint8)
        u = rng.random((chains, len(self.ids)))
        for i in range(len(self.ids)):
            pa = self.pa_idx[self.pa_ptr[i] : self.pa_ptr[i + 1]]
            ok = states[:, pa].all(axis=1) if len(pa) else np.ones(chains, dtype=bool)
            chance = np.where(ok, self.ready[classes, i], self.unready[classes, i])
            states[:, i] = u[:, i] < chance
        return states, classes.astype(np.int64)

    def class_posterior(
        self, evidence_ok: np.ndarray, evidence_bad: np.ndarray, guess: float, slip: float
    ) -> np.ndarray:
        """P(class | answers), each class's knowledge taken competency by competency."""
        p_ok = self.share * (1 - slip - guess) + guess
        logw = np.log(self.weights) + np.log(p_ok) @ evidence_ok + np.log1p(-p_ok) @ evidence_bad
        w = np.exp(logw - logw.max())
        out: np.ndarray = w / w.sum()
        return out

    def assign_classes(self, current: np.ndarray, posterior: np.ndarray, u: float) -> np.ndarray:
        """Systematic resampling of the chains' classes: chains are taken in order of their
        current class, so a chain moves to a neighbouring class when the posterior shifts
        (classes are sorted by progress) instead of restarting from far away."""
        n = len(current)
        cuts = (np.arange(n) + u) / n
        picked = np.minimum(np.searchsorted(posterior.cumsum(), cuts), len(posterior) - 1)
        out = np.empty(n, dtype=np.int64)
        out[np.argsort(current, kind="stable")] = picked
        return out


def _csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in lists])
    idx = np.array([v for x in lists for v in x], dtype=np.int64)
    return ptr, idx


def _entropy(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-12, 1 - 1e-12)
    out: np.ndarray = -(q * np.log2(q) + (1 - q) * np.log2(1 - q))
    return out


def _error(p: np.ndarray) -> np.ndarray:
    """The chance of misclassifying a competency called by P(known) > 0.5."""
    out: np.ndarray = np.minimum(p, 1 - p)
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.log(p) - np.log1p(-p)
    return out


@dataclass(frozen=True)
class PlacementSession:
    """An immutable diagnostic session: ``answer`` returns a new session."""

    graph: _Graph = field(repr=False)
    config: PlacementConfig
    seed: int
    states: np.ndarray = field(repr=False)
    """chains x competencies (uint8): the current Gibbs states."""
    classes: np.ndarray = field(repr=False)
    """Each chain's learner class."""
    marginal: np.ndarray = field(repr=False)
    asked: tuple[tuple[str, bool], ...] = ()

    @classmethod
    def start(
        cls,
        framework: Framework,
        *,
        prior: PlacementPrior | None = None,
        config: PlacementConfig | None = None,
        seed: int = 0,
    ) -> PlacementSession:
        config = config or PlacementConfig()
        graph = _Graph.build(framework, prior or PlacementPrior.uniform(framework))
        rng = np.random.default_rng([seed, 0])
        states, classes = graph.forward_sample(rng, config.chains)
        return cls(graph, config, seed, states, classes, states.mean(axis=0))

    @classmethod
    def replay(
        cls,
        framework: Framework,
        answers: Iterable[tuple[str, bool]],
        *,
        prior: PlacementPrior | None = None,
        config: PlacementConfig | None = None,
        seed: int = 0,
    ) -> PlacementSession:
        """The session after these answers, exactly as it was when they were given."""
        session = cls.start(framework, prior=prior, config=config, seed=seed)
        for cid, correct in answers:
            session = session.answer(cid, correct)
        return session

    @property
    def ids(self) -> tuple[str, ...]:
        return self.graph.ids

    def marginals(self) -> dict[str, float]:
        return dict(zip(self.ids, self.marginal.tolist(), strict=True))

    def _failed(self) -> set[str]:
        return {c for c, ok in self.asked if not ok}

    def classification(self) -> dict[str, bool | None]:
        """True (known), False (not known) or None (not yet sure) per competency."""
        conf = self.config.confidence
        failed = self._failed()
        out: dict[str, bool | None] = {}
        for c, p in self.marginals().items():
            if p >= conf and c not in failed:
                out[c] = True
            elif p <= 1 - conf:
                out[c] = False
            else:
                out[c] = None if c not in failed or p > 0.5 else False
        return out

    def conclusions(self) -> dict[str, bool]:
        """The best call for every competency: the classification where it is sure, else
        P(known) > 0.5 -- except that a failed probe is never concluded known."""
        failed = self._failed()
        marg = self.marginals()
        return {
            c: v if v is not None else (marg[c] > 0.5 and c not in failed)
            for c, v in self.classification().items()
        }

    @property
    def done(self) -> bool:
        return len(self.asked) >= self.config.budget or all(
            v is not None for v in self.classification().values()
        )

    def next_probe(self) -> str | None:
        """The competency with the largest expected reduction of total uncertainty."""
        if self.done:
            return None
        g, s = self.config.guess, self.config.slip
        K = self.states.astype(float)  # noqa: N806
        w = np.full(len(K), 1.0 / len(K))
        marginal = self.marginal
        loss = _entropy if self.config.objective == "entropy" else _error
        before = loss(marginal).sum()
        asked = {c for c, _ in self.asked}
        open_ = [i for i, c in enumerate(self.ids) if c not in asked]
        if not open_:
            return None
        uncertainty = _entropy(marginal[open_])
        keep = np.argsort(-uncertainty, kind="stable")[: self.config.candidates]
        cand = np.asarray(open_)[np.sort(keep)]
        like_ok = K[:, cand] * (1 - s - g) + g  # P(correct | state) per chain and probe
        A = w[:, None] * like_ok  # noqa: N806 - unnormalised weights after a correct answer
        B = w[:, None] * (1 - like_ok)  # noqa: N806 - after a wrong answer
        p_ok = A.sum(axis=0)
        m_ok = (A.T @ K) / np.maximum(p_ok, 1e-12)[:, None]
        m_bad = (B.T @ K) / np.maximum(1 - p_ok, 1e-12)[:, None]
        expected = p_ok * loss(m_ok).sum(axis=1) + (1 - p_ok) * loss(m_bad).sum(axis=1)
        gain = before - expected
        return self.ids[int(cand[int(np.argmax(gain))])]

    def _counts(self, asked: tuple[tuple[str, bool], ...]) -> tuple[np.ndarray, np.ndarray]:
        index = {c: i for i, c in enumerate(self.ids)}
        ok, bad = np.zeros(len(self.ids)), np.zeros(len(self.ids))
        for c, correct in asked:
            (ok if correct else bad)[index[c]] += 1
        return ok, bad

    def answer(self, competency_id: str, correct: bool) -> PlacementSession:
        if competency_id not in self.ids:
            raise ValidationError("competency_id", f"unknown competency {competency_id!r}")
        asked = (*self.asked, (competency_id, bool(correct)))
        rng = np.random.default_rng([self.seed, len(asked)])
        n = len(self.ids)
        forward = np.arange(n, dtype=np.int64)
        order = np.concatenate(
            [forward if k % 2 else forward[::-1] for k in range(self.config.sweeps)]
        )
        states = self.states.copy()
        g, sl = self.config.guess, self.config.slip
        ok, bad = self._counts(asked)
        evidence = ok * np.log((1 - sl) / g) + bad * np.log(sl / (1 - g))
        gr = self.graph
        posterior = gr.class_posterior(ok, bad, g, sl)
        classes = gr.assign_classes(self.classes, posterior, float(rng.random()))
        marginal = np.zeros(n)
        scratch = np.zeros(n)
        kept = self.config.sweeps - self.config.sweeps // 2
        logit_ready, logit_unready = _logit(gr.ready), _logit(gr.unready)
        ratio_known = np.log(gr.ready / gr.unready)
        ratio_unknown = np.log((1 - gr.ready) / (1 - gr.unready))
        for sweep in range(self.config.sweeps):
            gibbs_sweeps(
                states,
                classes,
                order[sweep * n : (sweep + 1) * n],
                gr.pa_ptr,
                gr.pa_idx,
                gr.ch_ptr,
                gr.ch_idx,
                logit_ready,
                logit_unready,
                ratio_known,
                ratio_unknown,
                evidence,
                rng.random((len(states), n)),
                marginal if sweep >= self.config.sweeps - kept else scratch,
            )
        marginal /= len(states) * kept
        return replace(self, states=states, classes=classes, marginal=marginal, asked=asked)
