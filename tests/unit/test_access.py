"""The one authorization rule (pure), with golden cases and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from masterypath.domain.access import (
    LEARNER_ACTIONS,
    ROLE_ACTIONS,
    Action,
    Principal,
    Role,
    Scope,
    decide,
)

ADMIN = Principal("user:a", Role.ADMIN)
EDUCATOR = Principal("user:e", Role.EDUCATOR)
LEARNER = Principal("user:l", Role.LEARNER, learner_id="l1")
VIEWER = Principal("embed:v", Role.VIEWER, learner_id="l1")


def mine(learner: str) -> bool:
    return learner == "l1"


@pytest.mark.parametrize(
    ("principal", "action", "learner", "allowed"),
    [
        (ADMIN, Action.ERASE_LEARNER, "anyone", True),
        (EDUCATOR, Action.READ_LEARNER, "l1", True),
        (EDUCATOR, Action.READ_LEARNER, "l2", False),
        (EDUCATOR, Action.ACT_ON_LEARNER, "l2", False),
        (EDUCATOR, Action.ERASE_LEARNER, "l1", False),
        (EDUCATOR, Action.MANAGE_USERS, None, False),
        (EDUCATOR, Action.READ_AUDIT, None, True),
        (LEARNER, Action.READ_LEARNER, "l1", True),
        (VIEWER, Action.READ_LEARNER, "l1", True),
        (VIEWER, Action.READ_FRAMEWORK, None, True),
        (VIEWER, Action.READ_LEARNER, "l2", False),
        (VIEWER, Action.SUBMIT_WORK, "l1", False),
        (VIEWER, Action.EMBED_LEARNER, "l1", False),  # a link cannot renew itself
        (VIEWER, Action.EXPORT_LEARNER, "l1", False),
        (LEARNER, Action.EMBED_LEARNER, "l1", True),
        (LEARNER, Action.EMBED_LEARNER, "l2", False),
        (LEARNER, Action.EXPORT_LEARNER, "l1", True),
        (LEARNER, Action.READ_LEARNER, "l2", False),
        (LEARNER, Action.WRITE_EVIDENCE, "l1", False),
        (LEARNER, Action.READ_AUDIT, None, False),
    ],
)
def test_golden_decisions(
    principal: Principal, action: Action, learner: str | None, allowed: bool
) -> None:
    assert decide(principal, action, learner_id=learner, in_cohort=mine).allowed is allowed


def test_integrations_get_exactly_their_scopes() -> None:
    key = Principal("key:k", Role.INTEGRATION, scopes=frozenset({Scope.EVIDENCE_WRITE}))
    assert decide(key, Action.WRITE_EVIDENCE, learner_id="anyone").allowed
    denied = decide(key, Action.READ_LEARNER, learner_id="anyone")
    assert not denied.allowed and "scopes" in denied.reason
    assert not decide(Principal("key:n", Role.INTEGRATION), Action.READ_FRAMEWORK).allowed


@given(
    role=st.sampled_from([Role.EDUCATOR, Role.LEARNER]),
    action=st.sampled_from(sorted(LEARNER_ACTIONS)),
    learner=st.text(min_size=1, max_size=8),
)
def test_nobody_but_admins_reaches_a_learner_outside_their_reach(
    role: Role, action: Action, learner: str
) -> None:
    principal = Principal("user:x", role, learner_id="me" if role is Role.LEARNER else None)
    decision = decide(principal, action, learner_id=learner, in_cohort=lambda _: False)
    if decision.allowed:
        assert role is Role.LEARNER and learner == "me" and action in ROLE_ACTIONS[role]


@given(
    role=st.sampled_from([Role.ADMIN, Role.EDUCATOR, Role.LEARNER]),
    action=st.sampled_from(list(Action)),
    learner=st.sampled_from([None, "l1", "l2"]),
)
def test_a_login_with_a_first_password_may_do_nothing_until_it_is_changed(
    role: Role, action: Action, learner: str | None
) -> None:
    first = Principal(
        "user:f", role, learner_id="l1" if role is Role.LEARNER else None, must_change_password=True
    )
    decision = decide(first, action, learner_id=learner, in_cohort=lambda _: True)
    assert not decision.allowed and "POST /auth/password" in decision.reason
