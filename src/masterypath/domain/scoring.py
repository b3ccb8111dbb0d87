"""Offline rubric scoring: compare a submission with each level's texts, calibrate on exemplars.

:class:`SimilarityScorer` (estimator conventions) judges each criterion of a rubric:

* every level has *texts*: its descriptor, its reference answers and the exemplars an
  educator scored at that level;
* a submission is split into sentences; for each level the score is the best similarity
  between any sentence (or the whole answer) and any of the level's texts: cosine of
  sentence embeddings when an encoder is given (``masterypath.nlp``), else TF-IDF cosine;
* with at least ``min_exemplars`` exemplars on a criterion, a logistic regression fitted on
  the exemplars' own similarity profiles (each left out of its own level's texts) turns the
  profile into level probabilities; else a calibration learned by :meth:`fit` from other
  rubrics with as many levels; else the best-matching level above the lowest wins if its
  match reaches ``threshold`` (the lowest otherwise; by default 0.68 for embeddings and
  0.45 for TF-IDF), more confidently the farther from it;
* the judgement quotes the sentence that matched the chosen level best.

>>> from masterypath.domain.rubric import Criterion, Level, Rubric
>>> rubric = Rubric(id="r", title="R", criteria=(Criterion(id="c", title="Closed path",
...     levels=(Level("no", "Missing", 0, "Says nothing about a path."),
...             Level("yes", "Met", 1, "A closed path connects the bulb and the battery.",
...                   ("The bulb is in a closed path with the battery.",)))),))
>>> answer = "The bulb lights. It is in a closed path with the battery."
>>> j = SimilarityScorer().score(answer, rubric)
>>> j[0].level_id, j[0].support
('yes', ('It is in a closed path with the battery.',))
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from masterypath.domain.alignment import TextEncoder, split_sentences
from masterypath.domain.rubric import Criterion, Judgement, Rubric
from masterypath.errors import ValidationError


class _Tfidf(NamedTuple):
    vectorizer: TfidfVectorizer
    unseen_idf: float
    """The weight of a word the vectorizer never saw, as if seen in one more document."""


def _fit_tfidf(corpus: Sequence[str]) -> _Tfidf:
    texts = [t for t in corpus if t.strip()] or ["-"]
    try:
        vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english", norm=None)
        vectorizer.fit(texts)
    except ValueError:  # only stop words
        vectorizer = TfidfVectorizer(sublinear_tf=True, norm=None, token_pattern=r"(?u)\b\w+\b")
        vectorizer.fit(texts)
    return _Tfidf(vectorizer, math.log((2 + len(texts)) / 2) + 1)


def _tfidf_rows(fitted: _Tfidf, texts: Sequence[str]) -> NDArray[np.float64]:
    """Unit TF-IDF rows of ``texts`` under a vectorizer fitted on other texts. Words the
    vectorizer never saw still count in each row's length, so a long answer does not match
    as well as the one sentence of it that matters."""
    rows = np.asarray(fitted.vectorizer.transform(list(texts)).toarray(), dtype=np.float64)
    analyzer = fitted.vectorizer.build_analyzer()
    vocabulary = fitted.vectorizer.vocabulary_
    squares = (rows**2).sum(axis=1)
    for n, text in enumerate(texts):
        counts = Counter(token for token in analyzer(text) if token not in vocabulary)
        squares[n] += sum(((1 + math.log(c)) * fitted.unseen_idf) ** 2 for c in counts.values())
    norms = np.sqrt(squares)
    return np.asarray(rows / np.where(norms > 0, norms, 1.0)[:, None])


class SimilarityScorer:
    """See the module docstring. ``temperature`` sharpens the softmax confidence."""

    def __init__(
        self,
        *,
        encoder: TextEncoder | None = None,
        min_exemplars: int = 8,
        threshold: float | None = None,
        temperature: float = 0.05,
    ) -> None:
        self.encoder = encoder
        self.min_exemplars = min_exemplars
        self.threshold = threshold
        self.temperature = temperature
        self._memo: dict[str, NDArray[np.float64]] = {}
        self._per_criterion: dict[tuple[object, ...], LogisticRegression | None] = {}
        self._vectorizers: dict[tuple[str, ...], _Tfidf] = {}
        self.calibrators_: dict[int, LogisticRegression] = {}

    def fit(self, examples: Sequence[tuple[Rubric, str, str, str]]) -> SimilarityScorer:
        """Learn, from scored answers of many rubrics (``(rubric, criterion id, text, level
        id)``), one calibration per number of levels: it serves criteria (e.g. new
        questions) with too few exemplars of their own. An answer that is also an exemplar
        of its rubric is left out of its level's texts."""
        if self.min_exemplars < 2:
            raise ValidationError("min_exemplars", f"must be >= 2, got {self.min_exemplars}")
        grouped: dict[int, tuple[list[NDArray[np.float64]], list[int]]] = {}
        for rubric, criterion_id, text, level_id in examples:
            criterion = rubric.criterion(criterion_id)
            level_texts = self._level_texts(rubric, criterion)
            own = next(
                (
                    i
                    for i, e in enumerate(rubric.exemplars)
                    if e.criterion_id == criterion_id and e.text == text
                ),
                -2,
            )
            fitted = self._tfidf(level_texts, [text])
            profile, _ = self.profile(self._candidates(text), level_texts, fitted, leave_out=own)
            ids = [lv.id for lv in criterion.levels]
            features, labels = grouped.setdefault(len(ids), ([], []))
            features.append(profile)
            labels.append(ids.index(level_id))
        self.calibrators_ = {
            n: LogisticRegression(max_iter=1000).fit(np.array(x), y)
            for n, (x, y) in grouped.items()
            if len(set(y)) > 1
        }
        return self

    @staticmethod
    def _candidates(text: str) -> list[str]:
        sentences = split_sentences(text)
        return [*sentences, text] if len(sentences) > 1 else sentences

    def _tfidf(
        self, level_texts: list[list[tuple[str, int]]], candidates: Sequence[str]
    ) -> _Tfidf | None:
        """A vectorizer fitted on the criterion's texts, once per distinct set of texts; a
        criterion without any text is fitted on the candidates."""
        if self.encoder is not None:
            return None
        corpus = tuple(t for texts in level_texts for t, _ in texts if t.strip())
        if not corpus:
            return _fit_tfidf(candidates)
        fitted = self._vectorizers.get(corpus)
        if fitted is None:
            fitted = _fit_tfidf(corpus)
            if len(self._vectorizers) >= 4096:
                self._vectorizers.clear()
            self._vectorizers[corpus] = fitted
        return fitted

    @property
    def name(self) -> str:
        return "similarity:" + (self.encoder.name if self.encoder is not None else "tfidf")

    def _vectors(self, texts: Sequence[str], fitted: _Tfidf | None) -> NDArray[np.float64]:
        if self.encoder is not None:  # each distinct text is embedded once
            missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
            if missing:
                if len(self._memo) > 200_000:
                    self._memo.clear()
                for t, v in zip(missing, self.encoder.encode(missing), strict=True):
                    self._memo[t] = np.asarray(v, dtype=np.float64)
            return np.vstack([self._memo[t] for t in texts])
        assert fitted is not None
        return _tfidf_rows(fitted, texts)

    def _level_texts(self, rubric: Rubric, criterion: Criterion) -> list[list[tuple[str, int]]]:
        """Per level: (text, exemplar index or -1)."""
        out: list[list[tuple[str, int]]] = []
        for rank, level in enumerate(criterion.levels):
            # the lowest level's descriptor says what is absent ("does not mention X"), which
            # reads much like X itself: only its exemplars describe it
            texts = [(level.descriptor, -1)] if level.descriptor and rank > 0 else []
            texts += [(r, -1) for r in level.references]
            texts += [
                (e.text, i)
                for i, e in enumerate(rubric.exemplars)
                if e.criterion_id == criterion.id and e.level_id == level.id
            ]
            out.append(texts)
        return out

    def profile(
        self,
        candidates: Sequence[str],
        level_texts: list[list[tuple[str, int]]],
        fitted: _Tfidf | None,
        *,
        leave_out: int = -2,
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Best similarity of any candidate to each level's texts, and which candidate."""
        cand = self._vectors(candidates, fitted)
        scores = np.zeros(len(level_texts))
        which = np.zeros(len(level_texts), dtype=np.int64)
        for k, texts in enumerate(level_texts):
            kept = [t for t, origin in texts if origin != leave_out]
            if not kept:
                continue
            sims = cand @ self._vectors(kept, fitted).T
            best = np.unravel_index(int(np.argmax(sims)), sims.shape)
            scores[k] = float(sims[best])
            which[k] = int(best[0])
        return scores, which

    def similarities(self, text: str, others: Sequence[str]) -> NDArray[np.float64]:
        """Similarity of ``text`` to each of ``others`` (cosine, embeddings or TF-IDF).

        >>> SimilarityScorer().similarities("a closed path", ["closed path", "voltage"]).round(2)
        array([1., 0.])
        """
        if not others:
            return np.zeros(0)
        fitted = None if self.encoder is not None else _fit_tfidf([text, *others])
        vectors = self._vectors([text, *others], fitted)
        return np.asarray(vectors[1:] @ vectors[0])

    def prepare(self, rubrics: Sequence[Rubric]) -> None:
        """Do ahead, e.g. when rubrics are saved, what their first submissions would
        otherwise wait for: embed every level's texts and exemplar sentences in one batch
        (or fit their TF-IDF vectorizers) and fit each criterion's exemplar calibration.

        >>> from masterypath.domain.rubric import Criterion, Level, Rubric
        >>> levels = (Level("no", "No", 0, ""), Level("yes", "Yes", 1, "closed path"))
        >>> rubric = Rubric("r", "R", (Criterion("c", "C", levels),))
        >>> scorer = SimilarityScorer()
        >>> scorer.prepare([rubric])
        >>> len(scorer._vectorizers)
        1
        """
        criteria = [(r, c, self._level_texts(r, c)) for r in rubrics for c in r.criteria]
        if self.encoder is not None:
            texts = [t for *_, lt in criteria for level in lt for t, _ in level if t.strip()]
            texts += [c for r in rubrics for e in r.exemplars for c in self._candidates(e.text)]
            self.warm(texts, sentences=False)
        for rubric, criterion, level_texts in criteria:
            if not any(t.strip() for level in level_texts for t, _ in level):
                continue  # nothing to prepare: scoring fits on the submission itself
            self._criterion_model(rubric, criterion, level_texts, self._tfidf(level_texts, []))

    def warm(self, texts: Sequence[str], *, sentences: bool = True) -> None:
        """Embed ``texts`` (and their sentences) in one batch before scoring them one by
        one (an encoder is much faster on a batch than on single texts); no-op for TF-IDF."""
        if self.encoder is not None and texts:
            found = [c for t in texts for c in self._candidates(t)] if sentences else []
            self._vectors([*texts, *found], None)

    def support(self, submission: str, rubric: Rubric, criterion_id: str, level: int) -> str:
        """The submission's sentence that matches the texts of the criterion's ``level``
        (an index) best; what :meth:`supports` gives for that level, without comparing the
        other levels' texts."""
        criterion = rubric.criterion(criterion_id)
        candidates = self._candidates(submission)
        level_texts = self._level_texts(rubric, criterion)
        if not level_texts[level]:
            return submission.strip()
        if len(candidates) == 1:
            return candidates[0]
        fitted = self._tfidf(level_texts, candidates)
        _, which = self.profile(candidates, [level_texts[level]], fitted)
        return candidates[int(which[0])]

    def supports(self, submission: str, rubric: Rubric, criterion_id: str) -> list[str]:
        """Per level of the criterion, the submission's sentence that matches the level's
        texts best (the whole submission for a level without texts)."""
        criterion = rubric.criterion(criterion_id)
        candidates = self._candidates(submission)
        level_texts = self._level_texts(rubric, criterion)
        if len(candidates) == 1:  # one sentence: it is the support, whatever the scores
            return [candidates[0] if texts else submission.strip() for texts in level_texts]
        _, which = self.profile(candidates, level_texts, self._tfidf(level_texts, candidates))
        return [
            candidates[int(w)] if texts else submission.strip()
            for w, texts in zip(which, level_texts, strict=True)
        ]

    def score(self, submission: str, rubric: Rubric) -> tuple[Judgement, ...]:
        if not submission.strip():
            raise ValidationError("submission", "is empty")
        candidates = self._candidates(submission)
        out = []
        for criterion in rubric.criteria:
            level_texts = self._level_texts(rubric, criterion)
            fitted = self._tfidf(level_texts, candidates)
            scores, which = self.profile(candidates, level_texts, fitted)
            probabilities = self._calibrated(rubric, criterion, level_texts, fitted, scores)
            if probabilities is None and len(criterion.levels) in self.calibrators_:
                model = self.calibrators_[len(criterion.levels)]
                probabilities = np.zeros(len(criterion.levels))
                probabilities[model.classes_] = model.predict_proba(scores[None, :])[0]
            if probabilities is None:
                probabilities = self._by_threshold(scores)
            k = int(np.argmax(probabilities))
            support = candidates[int(which[k])]
            out.append(
                Judgement(
                    criterion_id=criterion.id,
                    level_id=criterion.levels[k].id,
                    confidence=round(float(min(max(probabilities[k], 0.0), 1.0)), 4),
                    support=(support,),
                    scorer=self.name,
                )
            )
        return tuple(out)

    def _by_threshold(self, scores: NDArray[np.float64]) -> NDArray[np.float64]:
        """Uncalibrated: the level above the lowest whose texts match best, if that match
        reaches ``threshold`` (else the lowest); confidence grows with the distance from it.
        The default threshold suits the similarity's scale: sentence-embedding cosines of
        unrelated sentences are rarely below 0.3, TF-IDF cosines often 0."""
        threshold = self.threshold
        if threshold is None:
            threshold = 0.68 if self.encoder is not None else 0.45
        best = 1 + int(np.argmax(scores[1:]))
        k = best if scores[best] >= threshold else 0
        margin = scores[best] - threshold
        sure = 1.0 / (1.0 + math.exp(-abs(margin) / self.temperature))
        probabilities = np.full(len(scores), (1.0 - sure) / max(len(scores) - 1, 1))
        probabilities[k] = sure
        return probabilities

    def _calibrated(
        self,
        rubric: Rubric,
        criterion: Criterion,
        level_texts: list[list[tuple[str, int]]],
        fitted: _Tfidf | None,
        scores: NDArray[np.float64],
    ) -> NDArray[np.float64] | None:
        model = self._criterion_model(rubric, criterion, level_texts, fitted)
        if model is None:
            return None
        probabilities = np.zeros(len(criterion.levels))
        probabilities[model.classes_] = model.predict_proba(scores[None, :])[0]
        if not math.isfinite(float(probabilities.sum())):
            return None
        return probabilities

    def _criterion_model(
        self,
        rubric: Rubric,
        criterion: Criterion,
        level_texts: list[list[tuple[str, int]]],
        fitted: _Tfidf | None,
    ) -> LogisticRegression | None:
        """The criterion's own calibration on its exemplars (fitted once), if it has
        enough of them at two levels or more."""
        mine = [(i, e) for i, e in enumerate(rubric.exemplars) if e.criterion_id == criterion.id]
        labels = {e.level_id for _, e in mine}
        if len(mine) < self.min_exemplars or len(labels) < 2:
            return None
        ids = [lv.id for lv in criterion.levels]
        key = (  # everything the fitted model depends on, so an edited rubric refits
            rubric.id,
            criterion.id,
            tuple((e.text, e.level_id) for _, e in mine),
            tuple(tuple(t for t, _ in texts) for texts in level_texts),
        )
        model = self._per_criterion.get(key)
        if model is None:
            features = []
            for i, e in mine:
                profile, _ = self.profile(
                    self._candidates(e.text), level_texts, fitted, leave_out=i
                )
                features.append(profile)
            model = LogisticRegression(max_iter=1000).fit(
                np.array(features), [ids.index(e.level_id) for _, e in mine]
            )
            self._per_criterion[key] = model
        return model
