"""``bench/feedback_semeval.py``: the spread over seeds and its bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.feedback_semeval import main, seed_spread


def _row(seed: int, split: str, f1: float, corpus: str = "beetle") -> dict[str, object]:
    return {
        "corpus": corpus,
        "labels": "2way",
        "split": split,
        "system": f"masterypath (cross-encoder, seed {seed})",
        "macro_f1": f1,
        "seed": seed,
    }


def test_seed_spread_groups_each_split_and_ignores_rows_without_a_seed() -> None:
    rows = [
        _row(0, "UQ", 0.772),
        _row(1, "UQ", 0.753),
        _row(2, "UQ", 0.754),
        _row(0, "UA", 0.864),
        _row(1, "UA", 0.857),
        # rows without a seed: other systems, or the cross-encoder fitted with one seed
        {"corpus": "beetle", "labels": "2way", "split": "UQ", "system": "x", "macro_f1": 0.1},
    ]
    spread = {s["split"]: s for s in seed_spread(rows)}
    assert spread["UQ"] == {
        "corpus": "beetle",
        "labels": "2way",
        "split": "UQ",
        "seeds": [0, 1, 2],
        "mean": 0.7597,  # (0.772 + 0.753 + 0.754) / 3 = 0.759666...
        "min": 0.753,
        "max": 0.772,
    }
    assert spread["UA"]["seeds"] == [0, 1] and spread["UA"]["mean"] == 0.8605


def test_seeds_that_are_not_integers_are_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path), "--seeds", "0,one"])
    assert exited.value.code == 2
    assert "--seeds" in capsys.readouterr().err
