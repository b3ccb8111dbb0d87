"""Benchmark: masterypath's knowledge-tracing models against pyBKT 1.4.3, side by side.

For each dataset (path and column mapping given on the command line), learners are
split once, with a seed, into train (80 %) and test (20 %). Every system then fits on
the same train rows and predicts the same test rows, each in a fresh subprocess whose
whole process tree is sampled for peak memory:

- pyBKT compiled (C++ backend) and the pip wheel (pure Python, far slower, so it runs
  on ``--wheel-learners`` training learners and is compared on speed there);
- masterypath's BKT variants and the logistic model (``--n-jobs`` processes).

Printed per dataset and model: AUC and RMSE pooled over all test rows, fit seconds
(including turning the DataFrame into arrays; masterypath after its one-time JIT
warm-up, which is cached on disk), peak memory, single-event update throughput, and
the ratios. ``--json PATH`` writes every figure. Example::

    bash bench/setup_pybkt.sh
    .venv/bin/python -m bench.kt_vs_pybkt \\
      --dataset "assist2009=../shared/data/kt/assist2009/assist2009_log.csv.gz:user=user_id,skill=skill_name,correct=correct,order=seq_idx,item=problem_id" \\
      --json bench/kt_vs_pybkt.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
PEER = {"bkt": {}, "bkt-forgets": {"forgets": True}, "bkt-idem": {"multigs": True}}


def run_measured(cmd: list[str], job: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Run a JSON-in/JSON-out subprocess; return its answer and the peak RSS (MB) of its tree."""
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            parent = psutil.Process(proc.pid)
            while not done.is_set():
                total = 0
                for p in [parent, *parent.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                peak = max(peak, total / 2**20)
                time.sleep(0.05)
        except psutil.Error:
            pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate(json.dumps(job))
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    answer = json.loads(out)
    # sampling every 50 ms can miss a short peak: take the process's own high-water mark too
    return answer, max(peak, answer.get("peak_rss_mb") or 0.0)


def own_peak_mb() -> float:
    """This process's own high-water mark: VmHWM resets on exec, while ru_maxrss keeps the
    peak of the parent that forked it."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def worker() -> None:
    """masterypath side, run in a subprocess: fit, predict, updates/s."""
    job = json.load(sys.stdin)
    from masterypath.domain.models.bkt import BKT
    from masterypath.domain.models.registry import make_model
    from masterypath.domain.models.responses import Responses

    columns = {
        "user": "user_id",
        "skill": "skill_name",
        "correct": "correct",
        "order": "order_id",
        "item": "problem_id",
    }
    train, test = pd.read_csv(job["train"]), pd.read_csv(job["test"])
    # one-time JIT warm-up (numba caches compiled kernels on disk) and worker start-up
    warm = Responses.from_frame(train.head(2000), **columns)
    make_model(job["model"], n_jobs=job["n_jobs"]).fit(warm)
    start = time.perf_counter()
    responses = Responses.from_frame(train, **columns)
    model = make_model(job["model"], seed=job["seed"], n_jobs=job["n_jobs"])
    model.fit(responses)
    fit_seconds = time.perf_counter() - start
    test_r = Responses.from_frame(test, **columns)
    p = model.predict_proba(test_r)
    rate = None
    if job["updates"] and isinstance(model, BKT):
        # as the mastery pipeline does: one state per learner, starting empty (priors)
        n = job["updates"]
        learners = test_r.learner[:n].tolist()
        skills = [test_r.skills[k] for k in test_r.skill[:n]]
        items = [test_r.items[i] if i >= 0 else None for i in test_r.item[:n]]
        correct = test_r.correct[:n].astype(float).tolist()
        states: dict[int, dict[str, float]] = {}
        start = time.perf_counter()
        for learner, skill, item, c in zip(learners, skills, items, correct, strict=True):
            states[learner], _ = model.update(
                states.get(learner, {}), skills=(skill,), correct=c, item=item
            )
        rate = len(skills) / (time.perf_counter() - start)
    np.save(job["out"], p)
    peak = own_peak_mb()
    json.dump(
        {"fit_seconds": fit_seconds, "updates_per_second": rate, "peak_rss_mb": peak}, sys.stdout
    )


def split(
    frame: pd.DataFrame,
    columns: dict[str, str],
    seed: int,
    test_fraction: float,
    workdir: Path,
    name: str,
) -> tuple[Path, Path, pd.DataFrame]:
    """Safe ids, one seeded learner split, written as CSVs both systems read."""
    data = pd.DataFrame(
        {
            # fixed-width ids sort the same as text and as numbers, so every system
            # orders the test rows the same way
            "user_id": "u"
            + pd.Series(pd.factorize(frame[columns["user"]], sort=True)[0])
            .astype(str)
            .str.zfill(8)
            .to_numpy(),
            "skill_name": pd.factorize(frame[columns["skill"]].astype(str), sort=True)[0],
            "correct": frame[columns["correct"]].astype(int),
            "order_id": frame[columns["order"]],
            "problem_id": (
                frame[columns["item"]].astype(str)
                if "item" in columns
                else frame[columns["skill"]].astype(str)
            ),
        }
    )
    # pyBKT reads skill names as regular expressions: fixed width, so none prefixes another
    data["skill_name"] = "skill" + data["skill_name"].astype(str).str.zfill(5)
    data = data.sort_values(["user_id", "order_id"], kind="stable").reset_index(drop=True)
    learners = data["user_id"].unique()
    rng = np.random.default_rng(seed)
    test_learners = set(rng.permutation(learners)[: round(len(learners) * test_fraction)])
    is_test = data["user_id"].isin(test_learners)
    train, test = data[~is_test], data[is_test]
    # pyBKT's KT-IDEM crashes on a (skill, item) pair it never saw in training; every
    # system is scored on the same test rows, so keep those pairs only (counted in the table)
    seen = set(zip(train["skill_name"], train["problem_id"], strict=True))
    pairs = zip(test["skill_name"], test["problem_id"], strict=True)
    test = test[[pair in seen for pair in pairs]]
    paths = workdir / f"{name}-train.csv", workdir / f"{name}-test.csv"
    train.to_csv(paths[0], index=False)
    test.to_csv(paths[1], index=False)
    return paths[0], paths[1], test


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    return {"auc": float(roc_auc_score(y, p)), "rmse": float(np.sqrt(np.mean((p - y) ** 2)))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset",
        action="append",
        required=True,
        help="NAME=PATH:MAPPING (user=,skill=,correct=,order=[,item=]); repeatable",
    )
    parser.add_argument("--models", default="bkt,bkt-forgets,bkt-idem,logistic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--n-jobs", type=int, default=2, help="masterypath joblib processes")
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--peer-updates", type=int, default=300)
    parser.add_argument(
        "--wheel-learners",
        type=int,
        default=15,
        help="training learners for the (slow) pure-Python pyBKT; 0 skips it",
    )
    parser.add_argument(
        "--wheel-models",
        default="bkt",
        help="models run on the pure-Python pyBKT (comma-separated)",
    )
    parser.add_argument(
        "--pybkt-compiled", default=str(ROOT / "bench/.venvs/pybkt-compiled/bin/python")
    )
    parser.add_argument("--pybkt-wheel", default=str(ROOT / "bench/.venvs/pybkt-wheel/bin/python"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    console = Console(width=150)
    results: dict[str, Any] = {
        "seed": args.seed,
        "test_fraction": args.test_fraction,
        "n_jobs": args.n_jobs,
        "cpu_count": psutil.cpu_count(),
        "datasets": {},
    }
    ours_cmd = [sys.executable, "-m", "bench.kt_vs_pybkt", "--worker"]
    runner = str(ROOT / "bench" / "pybkt_runner.py")
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.dataset:
            name, _, rest = spec.partition("=")
            path, _, mapping = rest.partition(":")
            columns = dict(part.split("=", 1) for part in mapping.split(","))
            frame = pd.read_csv(path)
            train_csv, test_csv, test = split(
                frame, columns, args.seed, args.test_fraction, Path(tmp), name
            )
            y = test["correct"].to_numpy()
            rows: dict[str, Any] = {"rows": len(frame), "test_rows": len(y)}
            console.print(f"{name}: {len(frame):,} rows; {len(y):,} test rows")
            for model in args.models.split(","):
                entry: dict[str, Any] = {}
                out = Path(tmp) / f"{name}-{model}.npy"
                console.print(f"{name}: masterypath {model} ...")
                answer, peak = run_measured(
                    ours_cmd,
                    {
                        "train": str(train_csv),
                        "test": str(test_csv),
                        "model": model,
                        "seed": args.seed,
                        "n_jobs": args.n_jobs,
                        "updates": args.updates,
                        "out": str(out),
                    },
                )
                entry["masterypath"] = {**metrics(y, np.load(out)), **answer, "peak_mb": peak}
                if model in PEER and Path(args.pybkt_compiled).exists():
                    console.print(f"{name}: pyBKT compiled {model} ...")
                    answer, peak = run_measured(
                        [args.pybkt_compiled, runner],
                        {
                            "mode": "fit",
                            "train": str(train_csv),
                            "test": str(test_csv),
                            "seed": args.seed,
                            "updates": args.peer_updates,
                            **PEER[model],
                        },
                    )
                    p = np.asarray(answer.pop("p_correct"))
                    if not np.array_equal(np.asarray(answer.pop("labels")), y):
                        raise RuntimeError(f"{name}: pyBKT returned the rows in another order")
                    entry["pybkt_compiled"] = {**metrics(y, p), **answer, "peak_mb": peak}
                if (
                    model in PEER
                    and model in args.wheel_models.split(",")
                    and args.wheel_learners
                    and Path(args.pybkt_wheel).exists()
                ):
                    console.print(
                        f"{name}: pyBKT wheel {model} on {args.wheel_learners} learners ..."
                    )
                    small = pd.read_csv(train_csv)
                    keep = small["user_id"].drop_duplicates().iloc[: args.wheel_learners]
                    small_csv = Path(tmp) / f"{name}-small.csv"
                    small[small["user_id"].isin(keep)].to_csv(small_csv, index=False)
                    answer, _ = run_measured(
                        [args.pybkt_wheel, runner],
                        {
                            "mode": "fit",
                            "train": str(small_csv),
                            "test": str(small_csv),
                            "seed": args.seed,
                            "updates": 0,
                            **PEER[model],
                        },
                    )
                    ours_small, _ = run_measured(
                        ours_cmd,
                        {
                            "train": str(small_csv),
                            "test": str(small_csv),
                            "model": model,
                            "seed": args.seed,
                            "n_jobs": 1,
                            "updates": 0,
                            "out": str(Path(tmp) / "small.npy"),
                        },
                    )
                    entry["pybkt_wheel_subset"] = {
                        "learners": args.wheel_learners,
                        "fit_seconds": answer["fit_seconds"],
                        "masterypath_fit_seconds": ours_small["fit_seconds"],
                        "speedup": answer["fit_seconds"] / ours_small["fit_seconds"],
                    }
                rows[model] = entry
                console.print(
                    json.dumps(
                        {
                            k: {m: round(v, 4) if isinstance(v, float) else v for m, v in r.items()}
                            for k, r in entry.items()
                        }
                    )
                )
            results["datasets"][name] = rows
            console.print(table(name, rows))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def table(name: str, rows: dict[str, Any]) -> Table:
    t = Table(
        "model",
        "system",
        "AUC",
        "RMSE",
        "fit s",
        "peak MB",
        "updates/s",
        "fit speed-up",
        "memory ratio",
        "ΔAUC",
        title=f"{name}: {rows['rows']:,} rows, {rows['test_rows']:,} test rows",
    )
    for model, entry in rows.items():
        if not isinstance(entry, dict):
            continue
        ours = entry["masterypath"]
        for system, res in entry.items():
            if system == "pybkt_wheel_subset":
                t.add_row(
                    model,
                    f"pyBKT wheel ({res['learners']} learners)",
                    "",
                    "",
                    f"{res['fit_seconds']:.2f}",
                    "",
                    "",
                    f"{res['speedup']:.0f}x (vs {res['masterypath_fit_seconds']:.3f} s)",
                    "",
                    "",
                )
                continue
            rate = res.get("updates_per_second")
            is_peer = system != "masterypath"
            t.add_row(
                model,
                system,
                f"{res['auc']:.4f}",
                f"{res['rmse']:.4f}",
                f"{res['fit_seconds']:.2f}",
                f"{res['peak_mb']:.0f}",
                f"{rate:,.0f}" if rate else "-",
                f"{res['fit_seconds'] / ours['fit_seconds']:.1f}x" if is_peer else "",
                f"{res['peak_mb'] / ours['peak_mb']:.1f}x" if is_peer else "",
                f"{ours['auc'] - res['auc']:+.4f}" if is_peer else "",
            )
    return t


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker()
    else:
        sys.exit(main())
