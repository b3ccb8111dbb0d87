"""Placement / test-out: an adaptive diagnostic over the prerequisite graph.

Beliefs are a weighted sample of whole knowledge states ("particles") drawn from a
population prior that follows the graph (a competency is mostly known only when its
prerequisites are), so one answer informs many competencies: a success on a competency
makes its prerequisites likely known, a failure makes its dependents likely unknown.
Each next probe is the competency whose answer is expected to reduce the total
uncertainty (summed binary entropy of every competency) the most. The session stops when
every competency is classified with the configured confidence or the budget is spent.
A competency whose own probe failed is never concluded known.

Pure: particles and choices come from the generator passed in.

>>> import numpy as np
>>> from masterypath.domain.framework import Competency, Framework, Prerequisite
>>> fw = Framework(id="m", title="M", competencies=(
...     Competency(id="a", title="A"),
...     Competency(id="b", title="B", prerequisites=(Prerequisite("a"),))))
>>> s = PlacementSession.start(fw, np.random.default_rng(0), particles=4000)
>>> round(s.marginals()["a"], 1)  # the population prior
0.3
>>> round(s.answer("b", True).marginals()["a"], 1)  # exact: 0.123 / 0.2777 = 0.443
0.4
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from masterypath.domain.framework import Framework
from masterypath.errors import ValidationError


@dataclass(frozen=True)
class PlacementConfig:
    confidence: float = 0.9
    """Classify a competency once P(known) >= confidence or <= 1 - confidence."""
    budget: int = 30
    candidates: int = 64
    """Information gain is computed for this many of the most uncertain competencies."""
    guess: float = 0.2
    slip: float = 0.1
    prior_root: float = 0.3
    prior_ready: float = 0.3
    prior_unready: float = 0.03

    def __post_init__(self) -> None:
        if not 0.5 < self.confidence < 1.0:
            raise ValidationError("confidence", "must be in (0.5, 1)")
        if self.budget < 1:
            raise ValidationError("budget", "must be >= 1")


def _entropy(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-12, 1 - 1e-12)
    out: np.ndarray = -(q * np.log2(q) + (1 - q) * np.log2(1 - q))
    return out


@dataclass(frozen=True)
class PlacementSession:
    """An immutable diagnostic session: ``answer`` returns a new session."""

    ids: tuple[str, ...]
    states: np.ndarray
    """particles x competencies, bool: sampled knowledge states."""
    weights: np.ndarray
    config: PlacementConfig
    asked: tuple[tuple[str, bool], ...] = ()

    @classmethod
    def start(
        cls,
        framework: Framework,
        rng: np.random.Generator,
        *,
        config: PlacementConfig | None = None,
        particles: int = 4000,
    ) -> PlacementSession:
        config = config or PlacementConfig()
        order = framework.topological_order()
        index = {c: n for n, c in enumerate(order)}
        states = np.zeros((particles, len(order)), dtype=bool)
        for c in order:
            pres = [index[p.competency_id] for p in framework.competency(c).prerequisites]
            if not pres:
                chance = np.full(particles, config.prior_root)
            else:
                ready = states[:, pres].all(axis=1)
                chance = np.where(ready, config.prior_ready, config.prior_unready)
            states[:, index[c]] = rng.random(particles) < chance
        return cls(tuple(order), states, np.full(particles, 1.0 / particles), config)

    def marginals(self) -> dict[str, float]:
        m = self.weights @ self.states
        return dict(zip(self.ids, m.tolist(), strict=True))

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
        w = self.weights
        marginal = w @ K
        before = _entropy(marginal).sum()
        asked = {c for c, _ in self.asked}
        open_ = [i for i, c in enumerate(self.ids) if c not in asked]
        uncertainty = _entropy(marginal[open_])
        keep = np.argsort(-uncertainty, kind="stable")[: self.config.candidates]
        cand = np.asarray(open_)[np.sort(keep)]
        like_ok = K[:, cand] * (1 - s - g) + g  # P(correct | state) per particle and probe
        A = w[:, None] * like_ok  # noqa: N806 - unnormalised weights after a correct answer
        B = w[:, None] * (1 - like_ok)  # noqa: N806 - after a wrong answer
        p_ok = A.sum(axis=0)
        m_ok = (A.T @ K) / np.maximum(p_ok, 1e-12)[:, None]
        m_bad = (B.T @ K) / np.maximum(1 - p_ok, 1e-12)[:, None]
        expected = p_ok * _entropy(m_ok).sum(axis=1) + (1 - p_ok) * _entropy(m_bad).sum(axis=1)
        gain = before - expected
        return self.ids[int(cand[int(np.argmax(gain))])]

    def answer(self, competency_id: str, correct: bool) -> PlacementSession:
        if competency_id not in self.ids:
            raise ValidationError("competency_id", f"unknown competency {competency_id!r}")
        g, s = self.config.guess, self.config.slip
        known = self.states[:, self.ids.index(competency_id)]
        like = np.where(known, 1 - s, g) if correct else np.where(known, s, 1 - g)
        w = self.weights * like
        return replace(self, weights=w / w.sum(), asked=(*self.asked, (competency_id, correct)))
