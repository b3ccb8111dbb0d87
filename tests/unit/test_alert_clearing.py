"""Alerts cleared by the evidence that took their reason away (``domain/alerts.py``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from masterypath.domain.alerts import AlertKind, cleared_alerts
from masterypath.domain.policy import MasteryPolicy
from masterypath.domain.progress import CompetencyState
from tests.unit.test_mastery_policy import TRACKER, run

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
POLICY = MasteryPolicy()  # proficient 0.8, falling drop 0.2


def falling(estimate: float, peak: float) -> tuple[CompetencyState, CompetencyState]:
    """A state whose falling-estimate alert is open, and the next one at ``estimate``."""
    before = replace(
        CompetencyState.new("ana", "add", TRACKER),
        estimate=0.6,
        peak_estimate=peak,
        alerts_raised=("falling_estimate",),
    )
    return before, replace(before, estimate=estimate)


def kinds(before: CompetencyState, after: CompetencyState) -> list[AlertKind]:
    found = cleared_alerts(before, after, POLICY, evidence_key="e9", at=AT)
    return [c.kind for c in found]


def test_a_falling_estimate_clears_at_proficiency_within_half_the_drop_of_its_peak() -> None:
    assert kinds(*falling(0.90, 0.99)) == [AlertKind.FALLING_ESTIMATE]  # 0.09 < 0.1
    assert kinds(*falling(0.85, 0.99)) == []  # proficient, but 0.14 under its peak
    assert kinds(*falling(0.79, 0.85)) == []  # near its peak, but under 0.8
    before, after = falling(0.90, 0.99)
    assert kinds(replace(before, alerts_raised=()), after) == []  # nothing was raised
    (clearing,) = cleared_alerts(before, after, POLICY, evidence_key="e9", at=AT)
    assert (clearing.evidence_key, clearing.at, clearing.reason) == (
        "e9",
        AT,
        "estimate back at 0.90",
    )


def test_wheel_spinning_clears_when_the_competency_is_mastered() -> None:
    _, steps = run([0.0] * 10 + [1.0] * 8, POLICY)
    raised = [(n, a.kind) for n, s in enumerate(steps) for a in s.alerts]
    cleared = [(n, c.kind, c.reason) for n, s in enumerate(steps) for c in s.cleared]
    assert raised == [(9, AlertKind.WHEEL_SPINNING)]
    # 0.2286 -> 0.6571 -> 0.9169 -> 0.9842: mastered (>= 0.95) at the 13th opportunity
    assert cleared == [(12, AlertKind.WHEEL_SPINNING, "mastered after 13 practice opportunities")]


def test_a_recovered_estimate_clears_its_alert_and_a_new_fall_raises_a_new_one() -> None:
    # 0.4667, 0.8380 (peak), wrong: 0.5141 raises; right: 0.5141*0.9 / (0.46269 + 0.4859*0.2)
    # = 0.8264, + 0.1736*0.2 learnt = 0.8611: proficient, a new peak, so cleared
    state, steps = run(
        [1.0, 1.0, 0.0, 1.0, 0.0, 1.0], MasteryPolicy(wheel_spinning_opportunities=0)
    )
    raised = [n for n, s in enumerate(steps) for _ in s.alerts]
    cleared = [(n, c.reason) for n, s in enumerate(steps) for c in s.cleared]
    assert raised == [2, 4]
    assert cleared == [(3, "estimate back at 0.86"), (5, "estimate back at 0.88")]
    assert state.alerts_raised == ()


@given(st.lists(st.sampled_from([0.0, 1.0]), max_size=40), st.integers(0, 12))
def test_each_clearing_closes_the_one_open_alert_of_its_kind(
    answers: list[float], spinning: int
) -> None:
    _, steps = run(answers, MasteryPolicy(wheel_spinning_opportunities=spinning))
    open_alerts = dict.fromkeys(AlertKind, 0)
    for step in steps:
        for clearing in step.cleared:
            assert open_alerts[clearing.kind] == 1  # never one that was not raised
            open_alerts[clearing.kind] -= 1
        for alert in step.alerts:
            assert open_alerts[alert.kind] == 0  # one at a time: the last one was cleared
            open_alerts[alert.kind] += 1
