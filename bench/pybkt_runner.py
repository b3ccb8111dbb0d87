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
import resource
import sys
import time

import numpy as np
import pandas as pd
from pyBKT.models import Model


def set_params(model, params):
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


def main():
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
    out = model.predict(data=test)
    updates = job.get("updates", 0)
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
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "updates_per_second": rate,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
