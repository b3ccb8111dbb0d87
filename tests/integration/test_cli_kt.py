"""`masterypath kt fit | evaluate | predict` on a slice of a real log."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from masterypath.cli import app
from tests.conftest import data_file

COLUMNS = "user=user_id,skill=skill_name,correct=correct,order=seq_idx,item=problem_id"


@pytest.fixture(scope="module")
def slice_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    log = pd.read_csv(data_file("kt/assist2009/assist2009_log.csv.gz"))
    users = log["user_id"].drop_duplicates().iloc[:150]
    path = tmp_path_factory.mktemp("kt") / "slice.csv.gz"
    log[log["user_id"].isin(users)].to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "model", ["bkt", "bkt-forgets", "bkt-idem", "logistic", "rollup:decaying_average"]
)
def test_evaluate_writes_the_figures(slice_csv: Path, tmp_path: Path, model: str) -> None:
    figures = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app,
        [
            "kt",
            "evaluate",
            "--data",
            str(slice_csv),
            "--columns",
            COLUMNS,
            "--model",
            model,
            "--folds",
            "3",
            "--json",
            str(figures),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(figures.read_text())
    assert {"auc", "rmse", "log_loss", "ece", "fit_seconds", "n_rows"} <= set(data)
    assert data["n_rows"] == len(pd.read_csv(slice_csv))
    assert 0.55 < data["auc"] < 0.95 and 0 < data["rmse"] < 0.6  # rollups are not calibrated
    assert len(data["per_fold"]) == 3


def test_fit_then_predict(slice_csv: Path, tmp_path: Path) -> None:
    model_file, predictions = tmp_path / "m.json", tmp_path / "p.csv"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "kt",
            "fit",
            "--data",
            str(slice_csv),
            "--columns",
            COLUMNS,
            "--model",
            "bkt-forgets",
            "--output",
            str(model_file),
        ],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(model_file.read_text())
    assert saved["schema_version"] == 1 and saved["hyperparameters"]["forgets"] is True
    result = runner.invoke(
        app,
        [
            "kt",
            "predict",
            "--data",
            str(slice_csv),
            "--columns",
            COLUMNS,
            "--model-file",
            str(model_file),
            "--output",
            str(predictions),
            "--json",
            "-",  # the figures alone, on stdout
        ],
    )
    assert result.exit_code == 0, result.output
    out = pd.read_csv(predictions)
    assert out["p_correct"].between(0, 1).all() and out["p_known"].between(0, 1).all()
    assert json.loads(result.stdout)["n_rows"] == len(out)


def test_bad_model_and_bad_data_exit_2(slice_csv: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["kt", "evaluate", "--data", str(slice_csv), "--columns", COLUMNS, "--model", "dkt"]
    )
    assert result.exit_code == 2 and "unknown model 'dkt'" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,skill_name,correct,seq_idx,problem_id\nu,s,0.5,1,p\n")
    result = runner.invoke(app, ["kt", "fit", "--data", str(bad), "--columns", COLUMNS])
    assert result.exit_code == 2 and "must be 0 or 1, got '0.5'" in " ".join(result.output.split())


def test_predictions_never_hold_a_formula(tmp_path: Path) -> None:
    # ids come from other systems; a spreadsheet opening the predictions ran "=..." as one
    log = tmp_path / "log.csv"
    rows = [
        f"{u},{s},{n % 2},{n}"
        for u in ("=HYPERLINK(1)", "kim")
        for s in ("+sum", "mul")
        for n in range(4)
    ]
    log.write_text("user,skill,correct,order\n" + "\n".join(rows) + "\n")
    columns = "user=user,skill=skill,correct=correct,order=order"
    model_file, predictions = tmp_path / "m.json", tmp_path / "p.csv"
    runner = CliRunner()
    fit = ["kt", "fit", "--data", str(log), "--columns", columns, "--output", str(model_file)]
    assert runner.invoke(app, fit).exit_code == 0
    result = runner.invoke(
        app,
        [
            "kt",
            "predict",
            "--data",
            str(log),
            "--columns",
            columns,
            "--model-file",
            str(model_file),
            "--output",
            str(predictions),
        ],
    )
    assert result.exit_code == 0, result.output
    out = pd.read_csv(predictions)
    assert set(out["learner"]) == {"'=HYPERLINK(1)", "kim"}
    assert set(out["skill"]) == {"'+sum", "mul"}
