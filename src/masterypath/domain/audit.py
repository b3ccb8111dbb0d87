"""Fairness audit statistics: per-group rates and model quality with confidence intervals,
small-group suppression, and item bias (differential item functioning, DIF).

Pure functions over arrays; randomness (bootstrap) comes from a generator passed in.

DIF uses two standard methods, both matching learners on ability (their proportion
correct on the *other* items, in quantile strata):

- **Mantel-Haenszel** (uniform DIF): the common odds ratio across strata, the ETS delta
  ``D = -2.35 ln(alpha_MH)`` and the ETS A/B/C classes (A: negligible, B: moderate,
  C: large; Zwick 2012);
- **logistic regression** (Swaminathan & Rogers 1990): likelihood-ratio tests of a group
  term (uniform) and a group x ability term (non-uniform, which MH misses).

p-values are adjusted across items with Benjamini-Hochberg (false discovery rate).

>>> wilson(45, 50).value, [round(x, 3) for x in wilson(45, 50)[1:3]]
(0.9, [0.786, 0.957])
>>> [ets_class(d=d, se=0.2, p=0.001) for d in (-1.7, -1.2, -0.5)]
['C', 'B', 'A']
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from masterypath.domain.models.metrics import auc, expected_calibration_error

Z95 = 1.959963984540054


class Interval(NamedTuple):
    """A point estimate with a 95% confidence interval."""

    value: float
    low: float
    high: float


def wilson(successes: int, n: int) -> Interval:
    """A proportion with its Wilson score interval (good for small n and rates near 0/1)."""
    if n == 0:
        return Interval(math.nan, math.nan, math.nan)
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(values: Sequence[float]) -> Interval:
    """A mean with a t-interval."""
    x = np.asarray(values, float)
    if len(x) == 0:
        return Interval(math.nan, math.nan, math.nan)
    if len(x) == 1:
        return Interval(float(x[0]), math.nan, math.nan)
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return Interval(float(x.mean()), float(x.mean() - half), float(x.mean() + half))


def prediction_quality(
    y: np.ndarray,
    p: np.ndarray,
    groups: np.ndarray,
    learners: np.ndarray,
    *,
    rng: np.random.Generator,
    n_boot: int = 200,
) -> dict[str, dict[str, Interval]]:
    """AUC and expected calibration error per group (fairlearn's ``MetricFrame``), with
    95% intervals from a bootstrap that resamples learners (answers of one learner are
    not independent)."""
    from fairlearn.metrics import MetricFrame

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # fairlearn on pandas 3
        frame = MetricFrame(
            metrics={"auc": auc, "ece": expected_calibration_error},
            y_true=y,
            y_pred=p,
            sensitive_features=pd.Series(groups, name="group"),
        )
    points = frame.by_group
    out: dict[str, dict[str, Interval]] = {}
    for g in points.index:
        mask = groups == g
        gl, gy, gp = learners[mask], y[mask], p[mask]
        ids, inverse = np.unique(gl, return_inverse=True)
        rows_of = [np.flatnonzero(inverse == k) for k in range(len(ids))]
        draws: dict[str, list[float]] = {"auc": [], "ece": []}
        for _ in range(n_boot):
            pick = np.concatenate([rows_of[k] for k in rng.integers(0, len(ids), len(ids))])
            draws["auc"].append(auc(gy[pick], gp[pick]))
            draws["ece"].append(expected_calibration_error(gy[pick], gp[pick]))
        out[str(g)] = {
            name: Interval(float(points.loc[g, name]), *_percentiles(draws[name]))
            for name in ("auc", "ece")
        }
    return out


def _percentiles(draws: list[float]) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of the defined draws (AUC is undefined for a
    resample with one class), or NaN when none is."""
    x = np.asarray(draws, float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return math.nan, math.nan
    low, high = np.percentile(x, [2.5, 97.5])
    return float(low), float(high)


# -- item bias -----------------------------------------------------------------------------
def ets_class(*, d: float, se: float, p: float, alpha: float = 0.05) -> str:
    """ETS DIF class from the MH delta ``d``, its standard error and the MH test's p:
    A when |D| < 1 or not significant; C when |D| >= 1.5 and |D| is significantly above 1;
    B otherwise."""
    if not math.isfinite(d) or p >= alpha or abs(d) < 1.0:
        return "A"
    if abs(d) >= 1.5 and se > 0 and (abs(d) - 1.0) / se > stats.norm.ppf(1 - alpha):
        return "C"
    return "B"


@dataclass(frozen=True)
class ItemDif:
    item: str
    n_reference: int
    n_focal: int
    mh_odds_ratio: float
    """> 1 favours the reference group."""
    mh_delta: float
    """ETS delta, -2.35 ln(odds ratio): negative = harder for the focal group."""
    mh_p: float
    mh_q: float
    """Benjamini-Hochberg adjusted p across the items tested."""
    ets: str
    lr_uniform_p: float
    lr_nonuniform_p: float
    lr_nonuniform_q: float
    flagged: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in self.__dict__.items()
        }


def mantel_haenszel(
    correct: np.ndarray, focal: np.ndarray, strata: np.ndarray
) -> tuple[float, float, float]:
    """(odds ratio, SE of its log, CMH p-value) over the strata with both groups."""
    from statsmodels.stats.contingency_tables import StratifiedTable

    tables = []
    for s in np.unique(strata):
        m = strata == s
        ref, foc = ~focal[m], focal[m]
        if ref.sum() == 0 or foc.sum() == 0:
            continue
        c = correct[m]
        tables.append(
            [
                [int((c[ref] == 1).sum()), int((c[ref] == 0).sum())],
                [int((c[foc] == 1).sum()), int((c[foc] == 0).sum())],
            ]
        )
    if not tables:
        return math.nan, math.nan, 1.0
    table = StratifiedTable(np.asarray(tables, float).transpose(1, 2, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(table.oddsratio_pooled)
        se = float(table.logodds_pooled_se)
        p = float(table.test_null_odds(correction=True).pvalue)
    return ratio, se, (p if math.isfinite(p) else 1.0)


def _logistic_lr(
    correct: np.ndarray, ability: np.ndarray, focal: np.ndarray
) -> tuple[float, float]:
    """LR-test p-values of uniform (group) and non-uniform (group x ability) DIF.

    Every model also has a quadratic ability term: an observed proportion correct is not
    linear on the logit scale, and when the groups' abilities differ that curvature would
    otherwise show up as a spurious group x ability interaction (in simulations with
    2,000 learners per group it doubled the false-positive rate)."""
    import statsmodels.api as sm

    if correct.min() == correct.max():
        return 1.0, 1.0
    z = (ability - ability.mean()) / (ability.std() or 1.0)
    g = focal.astype(float)
    base = [np.ones_like(z), z, z * z]
    designs = [
        np.column_stack(base),
        np.column_stack([*base, g]),
        np.column_stack([*base, g, z * g]),
    ]
    ll = []
    for x in designs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ll.append(float(sm.Logit(correct, x).fit(disp=0, method="newton", maxiter=50).llf))
            except (np.linalg.LinAlgError, ValueError):
                return 1.0, 1.0
    uniform = float(stats.chi2.sf(max(2 * (ll[1] - ll[0]), 0.0), 1))
    nonuniform = float(stats.chi2.sf(max(2 * (ll[2] - ll[1]), 0.0), 1))
    return uniform, nonuniform


def detect_dif(
    responses: pd.DataFrame,
    focal_learners: set[str],
    reference_learners: set[str],
    *,
    strata: int = 5,
    min_per_group: int = 30,
    alpha: float = 0.05,
) -> list[ItemDif]:
    """DIF of every item answered by at least ``min_per_group`` learners of each group.

    ``responses`` has columns ``learner``, ``item``, ``correct`` (0/1), one row per
    learner and item (first attempts). Ability is the learner's proportion correct on the
    other items, cut into ``strata`` quantile groups per item. An item is flagged when
    its MH test survives the false-discovery control and its ETS class is B or C, or when
    its non-uniform logistic test does.
    """
    from statsmodels.stats.multitest import multipletests

    frame = responses[responses["learner"].isin(focal_learners | reference_learners)].copy()
    totals = frame.groupby("learner")["correct"].agg(["sum", "count"])
    frame = frame.join(totals, on="learner")
    frame = frame[frame["count"] > 1]
    frame["ability"] = (frame["sum"] - frame["correct"]) / (frame["count"] - 1)
    frame["focal"] = frame["learner"].isin(focal_learners)
    rows = []
    for item, part in frame.groupby("item", sort=True):
        n_focal = int(part["focal"].sum())
        n_ref = len(part) - n_focal
        if n_focal < min_per_group or n_ref < min_per_group:
            continue
        correct = part["correct"].to_numpy(int)
        focal = part["focal"].to_numpy(bool)
        ability = part["ability"].to_numpy(float)
        bins = pd.qcut(ability, strata, labels=False, duplicates="drop")
        ratio, se, p = mantel_haenszel(correct, focal, np.asarray(bins))
        uni, non = _logistic_lr(correct, ability, focal)
        rows.append((str(item), n_ref, n_focal, ratio, se, p, uni, non))
    if not rows:
        return []
    mh_q = multipletests([r[5] for r in rows], alpha=alpha, method="fdr_bh")[1]
    non_q = multipletests([r[7] for r in rows], alpha=alpha, method="fdr_bh")[1]
    out = []
    for (item, n_ref, n_focal, ratio, se, p, uni, non), q, nq in zip(
        rows, mh_q, non_q, strict=True
    ):
        delta = -2.35 * math.log(ratio) if ratio > 0 and math.isfinite(ratio) else math.nan
        ets = ets_class(d=delta, se=2.35 * se, p=float(q), alpha=alpha)
        reasons = []
        if ets in ("B", "C"):
            side = "focal" if delta < 0 else "reference"
            reasons.append(f"MH: ETS class {ets} (delta {delta:+.2f}, harder for the {side} group)")
        if nq < alpha:
            reasons.append(f"logistic: non-uniform DIF (q = {nq:.3g})")
        out.append(
            ItemDif(
                item,
                n_ref,
                n_focal,
                ratio,
                delta,
                p,
                float(q),
                ets,
                uni,
                non,
                float(nq),
                bool(reasons),
                "; ".join(reasons),
            )
        )
    return out
