"""Rank career skills for a piece of curriculum text: sentence embeddings plus lexical match.

:class:`SkillAligner` follows the estimator conventions: ``fit`` learns the skills'
TF-IDF vectors, takes (or computes) their embeddings and how "hubby" each skill is,
and :meth:`SkillAligner.suggest` ranks the skills for each target (a competency or a
module) with a reason: the shared words and the sentence of the target that matched.

The score fuses three signals, each turned into a z-score over all skills for the
target so that their scales agree:

* **semantic**: cosine between the embeddings of the whole target text and the skill,
  less ``hub_penalty`` times the skill's mean cosine to its ``hub_k`` nearest reference
  texts (the CSLS correction for "hub" skills that are close to everything);
* **sentence**: the best cosine between any one sentence of the target and the skill
  (a long description that covers many things still matches each of them);
* **lexical**: TF-IDF cosine (sublinear term frequency, English stop words removed).

With no encoder (the ``nlp`` extra not installed) only the lexical signal is used, and
:attr:`SkillAligner.method_` says so.

>>> from masterypath.domain.careers import CareerSkill
>>> aligner = SkillAligner().fit([
...     CareerSkill(id="sql", label="use query languages",
...                 description="Retrieve information from a database using SQL."),
...     CareerSkill(id="bake", label="bake bread", description="Bake bread in an oven."),
... ])
>>> top = aligner.suggest([AlignmentTarget(id="select", text="Write SQL SELECT queries.")])
>>> top[0][0].skill_id, top[0][0].matched_words, aligner.method_
('sql', ('sql',), 'lexical')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer

from masterypath.domain.careers import CareerSkill
from masterypath.errors import NotFittedError, ValidationError

Matrix = NDArray[np.float32]


class TextEncoder(Protocol):
    """Turns texts into unit-length embedding rows (``masterypath.nlp`` implements it)."""

    name: str

    def encode(self, texts: Sequence[str]) -> Matrix: ...


@dataclass(frozen=True, slots=True)
class AlignmentTarget:
    """Curriculum text to align: a competency, or a module (a group of competencies)."""

    id: str
    text: str
    kind: str = "competency"


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One ranked career skill for a target, with why it was suggested."""

    target_id: str
    skill_id: str
    rank: int
    score: float
    """Fused z-score: how many standard deviations above this target's average skill."""
    semantic: float | None
    """Cosine of the whole texts' embeddings (None without an encoder)."""
    lexical: float
    matched_words: tuple[str, ...]
    matched_sentence: str


_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+")


def split_sentences(text: str, *, min_chars: int = 10) -> list[str]:
    """The sentences of ``text`` worth embedding on their own (the text itself if none).

    >>> split_sentences("Design schemas. Normalise tables; index them. Ok.")
    ['Design schemas.', 'Normalise tables;', 'index them.']
    """
    parts = [p.strip() for p in _SENTENCE_END.split(text) if len(p.strip()) >= min_chars]
    return parts or [text.strip()]


def _zscore(x: NDArray[np.float32]) -> NDArray[np.float32]:
    std = x.std(axis=1, keepdims=True)
    return np.asarray((x - x.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0))


class SkillAligner:
    """Ranks career skills for curriculum text (see the module docstring for the score).

    Parameters are stored as given; ``fit`` validates them.
    """

    def __init__(
        self,
        *,
        encoder: TextEncoder | None = None,
        semantic_weight: float = 0.5,
        sentence_weight: float = 0.3,
        lexical_weight: float = 0.2,
        hub_k: int = 10,
        hub_penalty: float = 0.5,
        chunk_size: int = 256,
    ) -> None:
        self.encoder = encoder
        self.semantic_weight = semantic_weight
        self.sentence_weight = sentence_weight
        self.lexical_weight = lexical_weight
        self.hub_k = hub_k
        self.hub_penalty = hub_penalty
        self.chunk_size = chunk_size

    def fit(
        self,
        skills: Sequence[CareerSkill],
        *,
        skill_vectors: Matrix | None = None,
        reference_texts: Sequence[str] = (),
        reference_vectors: Matrix | None = None,
    ) -> SkillAligner:
        """Learn the skills' lexical vectors; embed them unless ``skill_vectors`` are given.

        ``reference_texts`` (or their ``reference_vectors``), typically the taxonomy's
        occupation descriptions, measure how close each skill is to everything (its hub
        score); without them no hub correction is made.
        """
        weights = (self.semantic_weight, self.sentence_weight, self.lexical_weight)
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValidationError("weights", "must be >= 0 and not all zero")
        if self.hub_k < 1:
            raise ValidationError("hub_k", f"must be >= 1, got {self.hub_k}")
        if self.chunk_size < 1:
            raise ValidationError("chunk_size", f"must be >= 1, got {self.chunk_size}")
        if not skills:
            raise ValidationError("skills", "there is nothing to align to: no career skills")
        texts = [s.text for s in skills]
        self.skill_ids_ = tuple(s.id for s in skills)
        self.vectorizer_ = TfidfVectorizer(sublinear_tf=True, stop_words="english")
        self.skill_tfidf_ = self.vectorizer_.fit_transform(texts).T.tocsr()
        self.terms_ = self.vectorizer_.get_feature_names_out()
        self.skill_vectors_: Matrix | None = None
        self.hub_: NDArray[np.float32] | None = None
        if self.encoder is not None:  # stored vectors are useless without one for targets
            vectors = skill_vectors if skill_vectors is not None else self._encode(texts)
            if vectors.shape[0] != len(skills):
                raise ValidationError(
                    "skill_vectors", f"{vectors.shape[0]} rows for {len(skills)} skills"
                )
            self.skill_vectors_ = np.ascontiguousarray(vectors, dtype=np.float32)
            if reference_vectors is None and reference_texts and self.encoder is not None:
                reference_vectors = self._encode(list(reference_texts))
            if reference_vectors is not None and len(reference_vectors):
                self.hub_ = self._hub_scores(reference_vectors)
        self.method_ = "lexical" if self.skill_vectors_ is None else "semantic+lexical"
        return self

    def _encode(self, texts: Sequence[str]) -> Matrix:
        if self.encoder is None:
            raise ValidationError("encoder", "vectors are needed but no encoder was given")
        return np.asarray(self.encoder.encode(texts), dtype=np.float32)

    def _hub_scores(self, reference: Matrix) -> NDArray[np.float32]:
        assert self.skill_vectors_ is not None
        k = min(self.hub_k, len(reference))
        hub = np.zeros(len(self.skill_ids_), dtype=np.float32)
        step = 2048
        for start in range(0, len(hub), step):
            sims = self.skill_vectors_[start : start + step] @ reference.T
            hub[start : start + step] = np.sort(sims, axis=1)[:, -k:].mean(axis=1)
        return hub

    def _check_fitted(self) -> None:
        if not hasattr(self, "skill_ids_"):
            raise NotFittedError(type(self).__name__)

    def scores(self, targets: Sequence[AlignmentTarget]) -> NDArray[np.float32]:
        """The fused score of every skill for every target (targets x skills)."""
        return self._score(targets)[0]

    def _score(
        self, targets: Sequence[AlignmentTarget]
    ) -> tuple[NDArray[np.float32], dict[str, NDArray[np.float32]]]:
        self._check_fitted()
        texts = [t.text for t in targets]
        for target in targets:
            if not target.text.strip():
                raise ValidationError("text", f"target {target.id!r} has no text to align")
        lexical = np.asarray(
            (self.vectorizer_.transform(texts) @ self.skill_tfidf_).toarray(), dtype=np.float32
        )
        parts: dict[str, NDArray[np.float32]] = {"lexical": lexical}
        if self.skill_vectors_ is None:
            return _zscore(lexical), parts
        whole = self._encode(texts) @ self.skill_vectors_.T
        parts["semantic"] = whole
        sentences = [split_sentences(t) for t in texts]
        flat = [s for group in sentences for s in group]
        sentence_sims = self._encode(flat) @ self.skill_vectors_.T
        best = np.empty_like(whole)
        best_at = np.empty(whole.shape, dtype=np.int32)
        start = 0
        for row, group in enumerate(sentences):
            block = sentence_sims[start : start + len(group)]
            best_at[row] = block.argmax(axis=0)
            best[row] = block.max(axis=0)
            start += len(group)
        parts["sentence"] = best
        parts["sentence_at"] = best_at.astype(np.float32)
        corrected = whole if self.hub_ is None else whole - self.hub_penalty * self.hub_[None, :]
        fused = (
            self.semantic_weight * _zscore(corrected)
            + self.sentence_weight * _zscore(best)
            + self.lexical_weight * _zscore(lexical)
        )
        return np.asarray(fused, dtype=np.float32), parts

    def suggest(
        self, targets: Sequence[AlignmentTarget], *, top_k: int = 10
    ) -> list[list[Suggestion]]:
        """The ``top_k`` skills for each target, best first, each with its reason."""
        if top_k < 1:
            raise ValidationError("top_k", f"must be >= 1, got {top_k}")
        out: list[list[Suggestion]] = []
        for start in range(0, len(targets), self.chunk_size):
            chunk = targets[start : start + self.chunk_size]
            fused, parts = self._score(chunk)
            k = min(top_k, fused.shape[1])
            for row, target in enumerate(chunk):
                top = np.argpartition(-fused[row], k - 1)[:k]
                top = top[np.argsort(-fused[row, top], kind="stable")]
                sentences = split_sentences(target.text)
                query_terms = self.vectorizer_.transform([target.text])
                out.append(
                    [
                        self._suggestion(
                            target, row, int(j), rank, fused, parts, sentences, query_terms
                        )
                        for rank, j in enumerate(top, start=1)
                    ]
                )
        return out

    def _suggestion(
        self,
        target: AlignmentTarget,
        row: int,
        j: int,
        rank: int,
        fused: NDArray[np.float32],
        parts: dict[str, NDArray[np.float32]],
        sentences: list[str],
        query_terms: object,
    ) -> Suggestion:
        q = query_terms.toarray()[0]  # type: ignore[attr-defined]
        s = self.skill_tfidf_[:, j].toarray()[:, 0]
        shared = np.flatnonzero((q > 0) & (s > 0))
        shared = shared[np.argsort(-(q[shared] * s[shared]), kind="stable")][:5]
        words = tuple(str(self.terms_[i]) for i in shared)
        if "sentence_at" in parts:
            sentence = sentences[int(parts["sentence_at"][row, j])]
        else:
            sentence = max(sentences, key=lambda x: sum(w in x.lower() for w in words))
        semantic = parts.get("semantic")
        return Suggestion(
            target_id=target.id,
            skill_id=self.skill_ids_[j],
            rank=rank,
            score=round(float(fused[row, j]), 4),
            semantic=None if semantic is None else round(float(semantic[row, j]), 4),
            lexical=round(float(parts["lexical"][row, j]), 4),
            matched_words=words,
            matched_sentence=sentence,
        )
