"""``masterypath rubrics train-scorer``: fit the cross-encoder on stored exemplars, then use it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterypath.cli import app
from masterypath.domain.rubric import Exemplar, rubric_to_dict
from masterypath.nlp.embeddings import nlp_available
from tests.unit.test_cross_encoder import BULB, SWITCH, TRAIN

pytestmark = pytest.mark.skipif(not nlp_available(), reason="the nlp extra is not installed")


def test_train_scorer_fits_on_stored_exemplars_and_feedback_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("MASTERYPATH_EMBEDDINGS", "0")
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    for rubric in (BULB, SWITCH):
        exemplars = tuple(
            Exemplar("answer", level, text, "teacher") for r, text, level in TRAIN if r is rubric
        )
        path = tmp_path / f"{rubric.id}.json"
        path.write_text(
            json.dumps(rubric_to_dict(dataclasses.replace(rubric, exemplars=exemplars)))
        )
        assert run("rubrics", "import", str(path))[0] == 0
    code, output = run(
        "rubrics",
        "train-scorer",
        str(tmp_path / "scorer"),
        "--epochs",
        "1",
        "--reference-choice",
        "lexical",
        "--seed",
        "7",
        "--json",
    )
    assert code == 0, output
    assert json.loads(output) == {
        "path": str(tmp_path / "scorer"),
        "levels": ["incorrect", "correct"],
        "examples": len(TRAIN),
        "skipped": 0,
        "reference_choice": "lexical",
        "seed": 7,
    }
    saved = json.loads((tmp_path / "scorer" / "scorer.json").read_text())
    assert saved["parameters"]["reference_choice"] == "lexical"
    assert saved["parameters"]["seed"] == 7
    bad = run("rubrics", "train-scorer", str(tmp_path / "x"), "--reference-choice", "dice")
    assert bad[0] == 2 and "reference_choice" in bad[1]
    monkeypatch.setenv("MASTERYPATH_SCORER_MODEL", str(tmp_path / "scorer"))
    code, output = run(
        "feedback", "--rubric", "bulb", "--answer", "It is in a closed path.", "--json"
    )
    assert code == 0, output
    judged = json.loads(output)["judgements"]
    assert [j["scorer"] for j in judged] == ["cross-encoder:all-MiniLM-L6-v2"]
    monkeypatch.setenv("MASTERYPATH_SCORER_MODEL", str(tmp_path / "nowhere"))
    code, output = run("feedback", "--rubric", "bulb", "--answer", "x")
    assert code == 2 and "scorer_model" in output
