"""Same parameters -> same predictions as pyBKT 1.4.3, on a slice of ASSISTments 2009.

pyBKT cannot be imported beside scikit-learn >= 1.8, so it runs in its own virtual
environment (``bench/setup_pybkt.sh``) through ``bench/pybkt_runner.py``. Point
``MASTERYPATH_PYBKT_PYTHON`` at another interpreter with pyBKT if you have one.
``MASTERYPATH_REQUIRE_PYBKT=1`` (set by .ci/run) makes a missing pyBKT a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from masterypath.domain.models.bkt import BKT
from masterypath.domain.models.responses import Responses
from tests.conftest import _notes, data_file

ROOT = Path(__file__).resolve().parents[2]
PYBKT = Path(
    os.environ.get(
        "MASTERYPATH_PYBKT_PYTHON", ROOT / "bench" / ".venvs" / "pybkt-wheel" / "bin" / "python"
    )
)


def test_same_parameters_same_predictions_as_pybkt(tmp_path: Path) -> None:
    if not PYBKT.exists():
        message = f"pyBKT parity test skipped: no interpreter at {PYBKT} (run bench/setup_pybkt.sh)"
        if os.environ.get("MASTERYPATH_REQUIRE_PYBKT") == "1":
            pytest.fail(message, pytrace=False)
        _notes.append(message)
        pytest.skip(message)
    log = pd.read_csv(data_file("kt/assist2009/assist2009_log.csv.gz"))
    skills = ["Absolute Value", "Addition Whole Numbers", "Equation Solving Two or Fewer Steps"]
    part = log[log["skill_name"].isin(skills)]
    part = part[part["user_id"].isin(part["user_id"].drop_duplicates().iloc[:80])]
    safe = {name: f"skill{n}" for n, name in enumerate(skills)}  # pyBKT reads names as regexes
    frame = pd.DataFrame(
        {
            "user_id": part["user_id"].astype(str),
            "skill_name": part["skill_name"].map(safe),
            "correct": part["correct"],
            "order_id": part["seq_idx"],
        }
    )
    frame = frame.sort_values(["user_id", "order_id"]).reset_index(drop=True)
    csv = tmp_path / "slice.csv"
    frame.to_csv(csv, index=False)

    responses = Responses.from_frame(
        frame, user="user_id", skill="skill_name", correct="correct", order="order_id"
    )
    model = BKT(forgets=True, seed=0).fit(responses)
    ours_correct, ours_known = model.predict_steps(responses)
    params = {
        s: {
            "prior": p.prior,
            "learn": p.learn.tolist(),
            "forget": p.forget.tolist(),
            "guess": p.guess.tolist(),
            "slip": p.slip.tolist(),
        }
        for s, p in model.params_.items()
    }
    job = {"mode": "predict", "test": str(csv), "params": params}
    done = subprocess.run(
        [str(PYBKT), str(ROOT / "bench" / "pybkt_runner.py")],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    theirs = json.loads(done.stdout)
    # both are in (user, order) order: Responses sorts the same way as `frame`
    assert len(theirs["p_correct"]) == responses.n_steps > 500
    np.testing.assert_allclose(ours_correct, theirs["p_correct"], atol=1e-9)
    np.testing.assert_allclose(ours_known, theirs["p_known"], atol=1e-9)
