"""Audit statistics: hand-computed intervals and odds ratios, and detection on simulated
data with known truth."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from bench.dif_sim import simulate

from masterypath.domain.audit import (
    detect_dif,
    ets_class,
    mantel_haenszel,
    mean_interval,
    prediction_quality,
    wilson,
)


def test_wilson_interval_by_hand() -> None:
    # p = 0.9, n = 50, z^2 = 3.8415: centre 0.938415 / 1.076829 = 0.87146,
    # half-width 1.96 * sqrt(0.0018 + 0.00038415) / 1.076829 = 0.08507
    value, low, high = wilson(45, 50)
    assert value == 0.9
    assert low == pytest.approx(0.7864, abs=1e-4) and high == pytest.approx(0.9565, abs=1e-4)
    assert all(math.isnan(x) for x in wilson(0, 0))
    assert wilson(0, 10).low == 0.0 and wilson(10, 10).high == pytest.approx(1.0)


def test_mean_interval_by_hand() -> None:
    # mean 2, sd 1, n 3: t(0.975, 2) = 4.3027 -> half-width 4.3027 / sqrt(3) = 2.4841
    value, low, high = mean_interval([1.0, 2.0, 3.0])
    assert value == 2.0 and low == pytest.approx(-0.4841, abs=1e-4)
    assert high == pytest.approx(4.4841, abs=1e-4)


def test_mantel_haenszel_pooled_odds_ratio_by_hand() -> None:
    # two strata, each: reference 20 right / 10 wrong, focal 10 right / 20 wrong -> OR 4
    correct, focal, strata = [], [], []
    for s in (0, 1):
        for is_focal, right, wrong in ((False, 20, 10), (True, 10, 20)):
            correct += [1] * right + [0] * wrong
            focal += [is_focal] * (right + wrong)
            strata += [s] * (right + wrong)
    ratio, se, p = mantel_haenszel(np.array(correct), np.array(focal), np.array(strata))
    assert ratio == pytest.approx(4.0)
    assert -2.35 * math.log(ratio) == pytest.approx(-3.2578, abs=1e-4)
    assert p < 0.001 and se > 0
    assert ets_class(d=-2.35 * math.log(ratio), se=2.35 * se, p=p) == "C"


def test_dif_flags_planted_items_and_few_others() -> None:
    rng = np.random.default_rng(3)
    frame, truth, focal, reference = simulate(600, 30, 0.5, rng)
    found = {r.item: r for r in detect_dif(frame, focal, reference)}
    assert set(found) == set(truth)
    large = [i for i, k in truth.items() if k == "uniform_large"]
    clean = [i for i, k in truth.items() if k == "none"]
    assert all(found[i].flagged and found[i].mh_delta < 0 for i in large)
    assert sum(found[i].flagged for i in clean) <= 1
    nonuniform = [i for i, k in truth.items() if k == "nonuniform"]
    assert any(found[i].lr_nonuniform_q < 0.05 for i in nonuniform)


def test_items_with_too_few_learners_per_group_are_not_tested() -> None:
    frame = pd.DataFrame(
        {"learner": ["a", "a", "b", "b"], "item": ["x", "y", "x", "y"], "correct": [1, 0, 0, 1]}
    )
    assert detect_dif(frame, {"a"}, {"b"}, min_per_group=2) == []


def test_calibration_audit_detects_a_group_the_model_is_miscalibrated_for() -> None:
    rng = np.random.default_rng(0)
    learners = np.repeat(np.arange(600), 20)
    groups = np.where(learners < 300, "A", "B")
    logit = rng.normal(0.3, 1.2, len(learners))
    y = (rng.random(len(learners)) < 1 / (1 + np.exp(-logit))).astype(int)
    p = 1 / (1 + np.exp(-(logit + np.where(groups == "B", 0.8, 0.0))))
    q = prediction_quality(y, p, groups, learners.astype(str), rng=rng, n_boot=100)
    assert q["B"]["ece"].low > q["A"]["ece"].high  # the gap is outside both intervals
    assert abs(q["A"]["auc"].value - q["B"]["auc"].value) < 0.05  # ranking is unaffected


def test_a_group_with_one_outcome_has_no_auc_interval_and_no_warning() -> None:
    # AUC is undefined when every answer of a group is right: every bootstrap draw was NaN
    # and numpy warned "All-NaN slice" (a failure under `audit`'s tests, noise on stderr)
    learners = np.array(["a1", "a1", "a2", "b1", "b1", "b2"])
    groups = np.array(["A", "A", "A", "B", "B", "B"])
    y = np.array([1, 1, 1, 1, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.9, 0.2, 0.6])
    q = prediction_quality(y, p, groups, learners, rng=np.random.default_rng(0), n_boot=20)
    assert math.isnan(q["A"]["auc"].value) and math.isnan(q["A"]["auc"].low)
    assert math.isnan(q["A"]["auc"].high)
    assert 0.0 <= q["A"]["ece"].low <= q["A"]["ece"].high <= 1.0
