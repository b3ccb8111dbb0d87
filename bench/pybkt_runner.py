"""Runs pyBKT inside its own virtual environment (see bench/setup_pybkt.sh).

Reads one JSON job on stdin, writes one JSON result on stdout. Jobs:

- ``{"mode": "predict", "test": CSV, "params": {skill: {prior, learn, forget, guess, slip}}}``:
  predictions from given parameters (the parity test).
- ``{"mode": "fit", "train": CSV, "test": CSV, "forgets": bool, "multigs": bool,
  "seed": int, "num_fits": int, "updates": int}``: fit, predict, peak memory and the
  rate of single-event predictions (pyBKT has no incremental update).

CSVs have columns user_id, skill_name, correct, order_id (and problem_id for multigs);
skill names must be safe ids (pyBKT treats them as regular expressions).
This file runs under pyBKT's interpreter, so it imports nothing from masterypath.
"""

import json
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
from pyBKT.models import Model


def own_peak_mb() -> float:
    """This process's own high-water mark (VmHWM resets on exec; ru_maxrss does not)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def set_params(model: Model, params: dict[str, dict[str, Any]]) -> None:
    for skill, p in params.items():
        fm = model.fit_model[skill]
        learn, forget = np.asarray(p["learn"], float), np.asarray(p["forget"], float)
        fm["As"] = np.stack(
            [np.array([[1 - lr, fg], [lr, 1 - fg]]) for lr, fg in zip(learn, forget, strict=True)]
        )
        fm["learns"], fm["forgets"] = learn, forget
        fm["pi_0"] = np.array([[1 - p["prior"]], [p["prior"]]])
        fm["prior"] = p["prior"]
        fm["guesses"] = np.asarray(p["guess"], float)
        fm["slips"] = np.asarray(p["slip"], float)


def predict_padded(model: Model, train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """pyBKT's KT-IDEM sizes its matrix by the items in the prediction data but indexes it
    by the training items, so it crashes unless every trained item of a skill appears.
    Pad with one throw-away learner per skill (its own sequence, so the real learners'
    predictions are unaffected), then drop those rows."""
    test = test.reset_index(drop=True).assign(
        row_id=lambda d: range(len(d)), user_id=lambda d: d["user_id"].astype(str)
    )
    pads = []
    for skill, items in train.groupby("skill_name")["problem_id"]:
        missing = set(items) - set(test.loc[test["skill_name"] == skill, "problem_id"])
        for n, item in enumerate(sorted(missing)):
            pads.append(
                {
                    "user_id": f"__pad__{skill}",
                    "skill_name": skill,
                    "correct": 0,
                    "order_id": n,
                    "problem_id": item,
                    "row_id": -1,
                }
            )
    full = pd.concat([test, pd.DataFrame(pads)], ignore_index=True) if pads else test
    out: pd.DataFrame = model.predict(data=full)
    out = out[out["row_id"] >= 0].sort_values("row_id")
    assert len(out) == len(test)
    return out


def main() -> None:
    job = json.load(sys.stdin)
    if job["mode"] == "predict":
        test = pd.read_csv(job["test"])
        model = Model(seed=0, num_fits=1)
        model.fit(data=test)  # builds the per-skill structures; parameters replaced below
        set_params(model, job["params"])
        out = model.predict(data=test)
        json.dump(
            {
                "p_correct": out["correct_predictions"].tolist(),
                "p_known": out["state_predictions"].tolist(),
            },
            sys.stdout,
        )
        return
    train, test = pd.read_csv(job["train"]), pd.read_csv(job["test"])
    model = Model(seed=job.get("seed", 0), num_fits=job.get("num_fits", 5))
    options = {"forgets": job.get("forgets", False)}
    if job.get("multigs"):
        options["multigs"] = "problem_id"
    start = time.perf_counter()
    model.fit(data=train, **options)
    fit_seconds = time.perf_counter() - start
    out = predict_padded(model, train, test) if job.get("multigs") else model.predict(data=test)
    # a one-row frame cannot hold every item of a skill, which pyBKT's KT-IDEM needs
    updates = 0 if job.get("multigs") else job.get("updates", 0)
    rate = None
    if updates:
        one = test.iloc[:1]
        start = time.perf_counter()
        for _ in range(updates):
            model.predict(data=one)
        rate = updates / (time.perf_counter() - start)
    json.dump(
        {
            "p_correct": out["correct_predictions"].tolist(),
            "fit_seconds": fit_seconds,
            "labels": out["correct"].astype(int).tolist(),
            "peak_rss_mb": own_peak_mb(),
            "updates_per_second": rate,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
