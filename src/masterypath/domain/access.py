"""Who may do what (pure): roles, integration scopes, actions and the one decision rule.

* ``admin``: everything.
* ``educator``: reads frameworks, careers and audits; acts on a learner (reads their
  records, records evidence, overrides, exports, sets a career goal) only when the
  learner is in one of the educator's cohorts.
* ``learner``: reads frameworks and careers, and only their own records (and export).
* ``guardian``: a parent's or carer's account; reads frameworks and careers, and the
  records (and export) of the learners it is the guardian of, and gives or withdraws
  their consent; nothing else.
* ``integration``: an API key; exactly the actions its scopes grant, for any learner.
* ``viewer``: an embed link's token; reads frameworks and one learner's records, nothing
  else (an LMS shows that learner's progress map in its own page).

>>> from masterypath.domain.access import Principal, Role, Action, decide
>>> educator = Principal(subject="u:ed", role=Role.EDUCATOR)
>>> decide(educator, Action.READ_LEARNER, learner_id="l1", in_cohort=lambda l: l == "l1").allowed
True
>>> decide(educator, Action.READ_LEARNER, learner_id="l2", in_cohort=lambda l: False).reason
'learner l2 is not in any of your cohorts'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    EDUCATOR = "educator"
    LEARNER = "learner"
    GUARDIAN = "guardian"
    INTEGRATION = "integration"
    VIEWER = "viewer"


class Action(StrEnum):
    """What a request does; each endpoint declares exactly one."""

    READ_FRAMEWORK = "read_framework"
    WRITE_FRAMEWORK = "write_framework"
    READ_CAREERS = "read_careers"
    MANAGE_CAREERS = "manage_careers"
    WRITE_EVIDENCE = "write_evidence"
    READ_LEARNER = "read_learner"
    ACT_ON_LEARNER = "act_on_learner"
    EXPORT_LEARNER = "export_learner"
    SET_CAREER_GOAL = "set_career_goal"
    MANAGE_LEARNERS = "manage_learners"
    ERASE_LEARNER = "erase_learner"
    READ_AUDIT = "read_audit"
    WRITE_ATTRIBUTES = "write_attributes"
    READ_LOGS = "read_logs"
    MANAGE_USERS = "manage_users"
    WRITE_XAPI = "write_xapi"
    READ_XAPI = "read_xapi"
    MANAGE_RUBRICS = "manage_rubrics"
    SUBMIT_WORK = "submit_work"
    EMBED_LEARNER = "embed_learner"
    """Make an embed link that shows one learner's progress (a ``viewer`` token)."""
    GIVE_CONSENT = "give_consent"
    """Record or withdraw guardian consent for a learner under 13."""


class Scope(StrEnum):
    """What an integration's API key may do."""

    FRAMEWORKS_READ = "frameworks:read"
    FRAMEWORKS_WRITE = "frameworks:write"
    EVIDENCE_WRITE = "evidence:write"
    LEARNERS_READ = "learners:read"
    LEARNERS_WRITE = "learners:write"
    XAPI_WRITE = "xapi:write"
    XAPI_READ = "xapi:read"


LEARNER_ACTIONS = frozenset(
    {
        Action.WRITE_EVIDENCE,
        Action.READ_LEARNER,
        Action.ACT_ON_LEARNER,
        Action.EXPORT_LEARNER,
        Action.SET_CAREER_GOAL,
        Action.WRITE_XAPI,
        Action.SUBMIT_WORK,
        Action.EMBED_LEARNER,
        Action.GIVE_CONSENT,
    }
)
"""Actions about one learner: educators need the learner in a cohort, guardians need it
to be theirs, learners need it to be themselves."""

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.EDUCATOR: frozenset(
        {
            Action.READ_FRAMEWORK,
            Action.READ_CAREERS,
            Action.MANAGE_CAREERS,
            Action.WRITE_EVIDENCE,
            Action.READ_LEARNER,
            Action.ACT_ON_LEARNER,
            Action.EXPORT_LEARNER,
            Action.SET_CAREER_GOAL,
            Action.READ_AUDIT,
            Action.MANAGE_RUBRICS,
            Action.SUBMIT_WORK,
            Action.EMBED_LEARNER,
        }
    ),
    Role.LEARNER: frozenset(
        {
            Action.READ_FRAMEWORK,
            Action.READ_CAREERS,
            Action.READ_LEARNER,
            Action.EXPORT_LEARNER,
            Action.SET_CAREER_GOAL,
            Action.SUBMIT_WORK,
            Action.EMBED_LEARNER,
        }
    ),
    Role.GUARDIAN: frozenset(
        {
            Action.READ_FRAMEWORK,
            Action.READ_CAREERS,
            Action.READ_LEARNER,
            Action.EXPORT_LEARNER,
            Action.GIVE_CONSENT,
        }
    ),
    Role.INTEGRATION: frozenset(),
    Role.VIEWER: frozenset({Action.READ_FRAMEWORK, Action.READ_LEARNER}),
}

SCOPE_ACTIONS: dict[Scope, frozenset[Action]] = {
    Scope.FRAMEWORKS_READ: frozenset({Action.READ_FRAMEWORK, Action.READ_CAREERS}),
    Scope.FRAMEWORKS_WRITE: frozenset({Action.WRITE_FRAMEWORK}),
    Scope.EVIDENCE_WRITE: frozenset({Action.WRITE_EVIDENCE, Action.SUBMIT_WORK}),
    Scope.LEARNERS_READ: frozenset({Action.READ_LEARNER, Action.EMBED_LEARNER}),
    Scope.LEARNERS_WRITE: frozenset({Action.MANAGE_LEARNERS, Action.GIVE_CONSENT}),
    Scope.XAPI_WRITE: frozenset({Action.WRITE_XAPI}),
    Scope.XAPI_READ: frozenset({Action.READ_XAPI}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a user (by role) or an integration's API key (by scopes)."""

    subject: str
    """``user:<id>``, ``key:<id>`` or ``embed:<id>``, as written to the access log."""
    role: Role
    learner_id: str | None = None
    """For a learner account: the pseudonymous learner id it is; for a viewer, the one
    learner it may see."""
    scopes: frozenset[Scope] = field(default_factory=frozenset)
    must_change_password: bool = False
    """A login with a first password: it may change it (``/auth/password``), nothing
    else, until it has."""

    @property
    def actions(self) -> frozenset[Action]:
        if self.role is Role.INTEGRATION:
            return frozenset(a for s in self.scopes for a in SCOPE_ACTIONS[s])
        return ROLE_ACTIONS[self.role]


@dataclass(frozen=True, slots=True)
class AccessDecision:
    allowed: bool
    reason: str = ""


def decide(
    principal: Principal,
    action: Action,
    *,
    learner_id: str | None = None,
    in_cohort: Callable[[str], bool] = lambda _: False,
) -> AccessDecision:
    """May ``principal`` do ``action`` (about ``learner_id``)? ``in_cohort`` says whether a
    learner is one the principal looks after: in one of an educator's cohorts, one of a
    guardian's learners.

    >>> parent = Principal(subject="u:p", role=Role.GUARDIAN)
    >>> decide(parent, Action.READ_LEARNER, learner_id="kim", in_cohort=lambda l: False).reason
    'you are not a guardian of learner kim'
    >>> decide(parent, Action.WRITE_EVIDENCE, learner_id="kim", in_cohort=lambda l: True).reason
    'the guardian role may not write_evidence'
    """
    if principal.must_change_password:
        return AccessDecision(False, "change the first password first (POST /auth/password)")
    if action not in principal.actions:
        if principal.role is Role.INTEGRATION:
            return AccessDecision(False, f"this API key's scopes do not allow {action.value}")
        return AccessDecision(False, f"the {principal.role.value} role may not {action.value}")
    if learner_id is None or action not in LEARNER_ACTIONS:
        return AccessDecision(True)
    if principal.role is Role.LEARNER and learner_id != principal.learner_id:
        return AccessDecision(False, "learners may see and act on their own records only")
    if principal.role is Role.VIEWER and learner_id != principal.learner_id:
        return AccessDecision(False, "this embed link shows one learner's records only")
    if principal.role is Role.EDUCATOR and not in_cohort(learner_id):
        return AccessDecision(False, f"learner {learner_id} is not in any of your cohorts")
    if principal.role is Role.GUARDIAN and not in_cohort(learner_id):
        return AccessDecision(False, f"you are not a guardian of learner {learner_id}")
    return AccessDecision(True)
