"""Every endpoint x every role x own / other cohort / other learner: the exact outcome.

The expected permissions are written out here by hand (not read from the code under
test); the test also checks that every ``/api/v1`` and ``/xapi`` route declares the action
this table says, so a new endpoint cannot slip in without a row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from masterypath.domain.access import Role, Scope
from masterypath.domain.alerts import AlertDraft, AlertKind
from masterypath.domain.evidence import BinaryOutcome, Evidence
from masterypath.domain.rubric import Criterion, Level, Rubric, rubric_to_dict
from masterypath.domain.scoring import SimilarityScorer
from masterypath.interop.case import export_case
from masterypath.interop.case_rubrics import export_case_rubric
from masterypath.interop.loader import load_framework_file
from masterypath.interop.taxonomies import read_generic_csv
from masterypath.services.careers import CareerService
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.feedback import FeedbackService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from masterypath.services.placement import PlacementService
from masterypath.services.privacy import PrivacyService
from masterypath.store.mastery import MasteryRepository
from tests.conftest import api_app, badge_settings, login
from tests.lti_platform import REGISTRATION

FIXTURES = Path(__file__).parents[1] / "fixtures"
OWN, OTHER = "own", "other"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

# action codes (the table below uses them; the values are the domain's action names)
R_FW, W_FW, R_CAR, M_CAR = "read_framework", "write_framework", "read_careers", "manage_careers"
W_EV, R_L, ACT, EXP = "write_evidence", "read_learner", "act_on_learner", "export_learner"
GOAL, M_L, ERASE = "set_career_goal", "manage_learners", "erase_learner"
AUDIT, ATTR, LOGS, USERS = "read_audit", "write_attributes", "read_logs", "manage_users"
W_X, R_X = "write_xapi", "read_xapi"
RUBRICS, SUBMIT, EMBED = "manage_rubrics", "submit_work", "embed_learner"
CONSENT = "give_consent"

# what each caller may do, written out by hand; "own" = only for its own learner(s)
EVERYTHING = "everything"
PERMISSIONS: dict[str, dict[str, str]] = {
    "admin": {EVERYTHING: "any"},
    "educator": {
        RUBRICS: "any",
        SUBMIT: "own",
        R_FW: "any",
        R_CAR: "any",
        M_CAR: "any",
        AUDIT: "any",
        W_EV: "own",
        R_L: "own",
        ACT: "own",
        EXP: "own",
        GOAL: "own",
        EMBED: "own",
    },
    "learner": {
        R_FW: "any",
        R_CAR: "any",
        R_L: "own",
        EXP: "own",
        GOAL: "own",
        SUBMIT: "own",
        EMBED: "own",
    },
    # a parent's account: the records of the learners it is a guardian of, read only
    "guardian": {R_FW: "any", R_CAR: "any", R_L: "own", EXP: "own", CONSENT: "own"},
    # an embed link's token: frameworks and its one learner's records, read only
    "embed": {R_FW: "any", R_L: "own"},
    "key:all": {
        R_FW: "any",
        R_CAR: "any",
        W_FW: "any",
        W_EV: "any",
        SUBMIT: "any",
        R_L: "any",
        EMBED: "any",
        M_L: "any",
        CONSENT: "any",
        W_X: "any",
        R_X: "any",
    },
    "key:frameworks-read": {R_FW: "any", R_CAR: "any"},
    "anonymous": {},
}
LEARNER_SCOPED = {W_EV, R_L, ACT, EXP, GOAL, W_X, SUBMIT, EMBED, CONSENT}


@dataclass
class World:
    client: TestClient
    headers: dict[str, dict[str, str]]
    ids: dict[str, Any]


def xapi_statement(learner: str, n: int) -> dict[str, Any]:
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://lms.example", "name": learner},
        },
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"objectType": "Activity", "id": "https://lms.example/items/q-select"},
        "result": {"success": True},
        "timestamp": "2026-11-02T10:00:00Z",
    }


def evidence(learner: str, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "learner_id": learner,
        "competency_ids": ["select"],
        "item_id": "q-select",
        "outcome": {"type": "binary", "correct": True},
        "timestamp": "2026-11-02T10:00:00+00:00",
    }


@pytest.fixture(params=["uncached", "cached"])
def world(database: ServiceContext, request: pytest.FixtureRequest, badge_key_file: Path) -> World:
    # "cached": credentials resolved once are cached, so the single posts of evidence and
    # statements go through the fast lane (api/fast_lane.py) whenever it may take them
    framework = load_framework_file(FIXTURES / "careers_programme.yaml").framework
    FrameworkService(database).save(framework)
    CareerService(database).import_taxonomy(
        read_generic_csv(FIXTURES / "careers_mini.csv", taxonomy_id="mini")
    )
    client, accounts = api_app(
        database,
        badge_settings(badge_key_file),
        cache_seconds=3600.0 * (request.param == "cached"),
    )
    ids: dict[str, Any] = {"case": export_case(framework, last_change=T0.isoformat())}
    privacy = PrivacyService(database)
    for learner in (OWN, OTHER, "spare"):
        privacy.create_learner(learner_id=learner, name=f"Name {learner}", by="test")
    EvidenceService(database).record_many(
        [
            Evidence.create(
                learner_id=lr,
                competency_ids=("select",),
                item_id="q-select",
                outcome=BinaryOutcome(True),
                timestamp=T0,
            )
            for lr in (OWN, OTHER)
        ]
    )
    accounts.create_user("admin", "password-admin", Role.ADMIN)
    ed1 = accounts.create_user("ed1", "password-ed1", Role.EDUCATOR)
    ed2 = accounts.create_user("ed2", "password-ed2", Role.EDUCATOR)
    accounts.create_user("learner", "password-learner", Role.LEARNER, learner_id=OWN)
    ids["throwaway_user"] = accounts.create_user("gone", "password-gone", Role.EDUCATOR)
    parent = accounts.create_user("parent", "password-parent", Role.GUARDIAN)
    accounts.link_guardian(parent, OWN, by="test")
    for cohort, educator, learner in (("c1", ed1, OWN), ("c2", ed2, OTHER)):
        accounts.create_cohort(cohort, cohort, by="test")
        accounts.enrol(cohort, learner, by="test")
        accounts.assign_educator(cohort, educator, by="test")
    ids["ed1"] = ed1
    mastery = MasteryService(database)
    ids["override"] = {
        lr: mastery.override(
            learner_id=lr,
            framework_id="dbcourse",
            competency_id="select",
            status="mastered",
            reason="prior_learning",
            educator="test",
        ).id
        for lr in (OWN, OTHER)
    }
    with database.sessions.begin() as session:
        MasteryRepository(session).add_alerts(
            "dbcourse",
            [
                AlertDraft(AlertKind.WHEEL_SPINNING, lr, "select", f"k-{lr}", "stuck", "help")
                for lr in (OWN, OTHER)
            ],
            now=T0,
        )
    ids["alert"] = {a.learner_id: a.id for a in mastery.alerts(framework_id="dbcourse")}
    rubric = Rubric(
        "r1",
        "Circuits",
        (
            Criterion(
                "path",
                "Closed path",
                (
                    Level("missing", "Missing", 0, "No path."),
                    Level(
                        "met",
                        "Met",
                        1,
                        "A closed path.",
                        ("The bulb is in a closed path with the battery.",),
                    ),
                ),
                ("select",),
            ),
        ),
    )
    feedback = FeedbackService(database, SimilarityScorer())
    feedback.save_rubric(rubric)
    ids["rubric"] = rubric_to_dict(rubric)
    ids["case-rubric"] = export_case_rubric(rubric, last_change="2026-01-01T00:00:00+00:00")
    placements = PlacementService(database)
    ids["placement"] = {
        lr: placements.start(lr, "dbcourse", by="test", budget=3)["id"] for lr in (OWN, OTHER)
    }
    ids["submission"] = {
        lr: feedback.submit(lr, "r1", "It glows because of the closed path.")["id"]
        for lr in (OWN, OTHER)
    }
    ids["embed_link"] = {lr: accounts.create_embed_token(lr, by="test").id for lr in (OWN, OTHER)}
    everything = accounts.create_api_key("lms", list(Scope), by="test").key
    read_only = accounts.create_api_key("catalogue", [Scope.FRAMEWORKS_READ], by="test").key
    ids["throwaway_key"] = accounts.create_api_key("old", [Scope.XAPI_READ], by="test").id
    headers = {
        "anonymous": {},
        "admin": login(client, "admin", "password-admin"),
        "educator": login(client, "ed1", "password-ed1"),
        "learner": login(client, "learner", "password-learner"),
        "guardian": login(client, "parent", "password-parent"),
        "key:all": {"Authorization": f"Bearer {everything}"},
        "key:frameworks-read": {"Authorization": f"Bearer {read_only}"},
        "embed": {"Authorization": f"Bearer {accounts.create_embed_token(OWN, by='test').token}"},
    }
    return World(client, headers, ids)


CSV = "occupation,skill,importance\nanalyst,SQL,essential\n"
XAPI = {"X-Experience-API-Version": "1.0.3"}
COURSE_IRI = "https://example.org/course/1"
STATE = {
    "activityId": COURSE_IRI,
    "agent": '{"account": {"homePage": "https://lms.example", "name": "{X}"}}',
    "stateId": "bookmark",
}
AP = {"agent": STATE["agent"], "profileId": "prefs"}
ACP = {"activityId": COURSE_IRI, "profileId": "prefs"}
# (method, route path, action, request extras); {X} is the learner the call is about
ENDPOINTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("GET", "/api/v1/frameworks", R_FW, {}),
    ("GET", "/api/v1/frameworks/{framework_id}", R_FW, {}),
    ("GET", "/api/v1/frameworks/{framework_id}/competencies", R_FW, {}),
    ("GET", "/api/v1/frameworks/{framework_id}/items", R_FW, {}),
    ("GET", "/api/v1/frameworks/{framework_id}/map", R_FW, {}),
    ("GET", "/api/v1/frameworks/{framework_id}/grid", AUDIT, {}),
    ("GET", "/api/v1/frameworks/{framework_id}/grid.csv", AUDIT, {}),
    ("GET", "/api/v1/frameworks/{framework_id}/export", R_FW, {}),
    ("POST", "/api/v1/frameworks/case", W_FW, {"json": "case", "params": {"replace": "true"}}),
    ("POST", "/api/v1/evidence", W_EV, {"json": "evidence"}),
    ("POST", "/api/v1/evidence/batch", W_EV, {"json": "evidence-batch"}),
    ("GET", "/api/v1/evidence", R_L, {"params": {"learner_id": "{X}"}}),
    (
        "POST",
        "/api/v1/learners/{learner_id}/evidence-voids",
        ACT,
        {"json": {"key": "k", "reason": "r"}},
    ),
    ("GET", "/api/v1/learners/{learner_id}/evidence-voids", R_L, {}),
    (
        "POST",
        "/api/v1/learners/{learner_id}/evidence-restorations",
        ACT,
        {"json": {"key": "k", "reason": "r"}},
    ),
    (
        "PUT",
        "/api/v1/learners/{learner_id}/attributes/{attribute}",
        ATTR,
        {"json": {"value": "a", "consent_by": "guardian"}},
    ),
    ("DELETE", "/api/v1/learners/{learner_id}/attributes/{attribute}", ATTR, {}),
    (
        "GET",
        "/api/v1/frameworks/{framework_id}/audit",
        AUDIT,
        {"params": {"attribute": "cohort", "dif": "false"}},
    ),
    ("GET", "/api/v1/frameworks/{framework_id}/model-card", AUDIT, {}),
    ("POST", "/api/v1/learners", M_L, {"json": {"learner_id": "new-one", "name": "New"}}),
    ("GET", "/api/v1/learners/{learner_id}", R_L, {}),
    ("GET", "/api/v1/learners/{learner_id}/badges/{framework_id}/{competency_id}", R_L, {}),
    ("GET", "/api/v1/learners/{learner_id}/badges", R_L, {}),
    (
        "POST",
        "/api/v1/learners/{learner_id}/badges/{framework_id}/{competency_id}/revoke",
        ACT,
        {"json": {"reason": "copied"}},
    ),
    (
        "POST",
        "/api/v1/learners/{learner_id}/badges/{framework_id}/{competency_id}/suspend",
        ACT,
        {"json": {"reason": "review"}},
    ),
    (
        "POST",
        "/api/v1/learners/{learner_id}/badges/{framework_id}/{competency_id}/reinstate",
        ACT,
        {},
    ),
    ("POST", "/api/v1/learners/{learner_id}/embed-links", EMBED, {"json": {"minutes": 5}}),
    ("GET", "/api/v1/learners/{learner_id}/embed-links", EMBED, {}),
    ("DELETE", "/api/v1/learners/{learner_id}/embed-links/{link_id}", EMBED, {}),
    (
        "PUT",
        "/api/v1/learners/{learner_id}/guardian-consent",
        CONSENT,
        {"json": {"guardian": "Mum"}},
    ),
    ("DELETE", "/api/v1/learners/{learner_id}/guardian-consent", CONSENT, {}),
    ("GET", "/api/v1/learners/{learner_id}/export", EXP, {}),
    ("GET", "/api/v1/learners/{learner_id}/access-log", LOGS, {}),
    ("GET", "/api/v1/inactive-learners", ERASE, {"params": {"days": "30"}}),
    ("POST", "/api/v1/cohorts", M_L, {"json": {"id": "c9", "title": "new"}}),
    ("GET", "/api/v1/cohorts", R_FW, {}),
    ("PUT", "/api/v1/cohorts/{cohort_id}/learners/spare", M_L, {}),
    ("DELETE", "/api/v1/cohorts/{cohort_id}/learners/spare", M_L, {}),
    ("PUT", "/api/v1/cohorts/{cohort_id}/educators/{user_id}", M_L, {}),
    (
        "GET",
        "/api/v1/learners/{learner_id}/progress",
        R_L,
        {"params": {"framework_id": "dbcourse"}},
    ),
    (
        "GET",
        "/api/v1/learners/{learner_id}/progress/{competency_id}",
        R_L,
        {"params": {"framework_id": "dbcourse"}},
    ),
    (
        "GET",
        "/api/v1/learners/{learner_id}/unlocked",
        R_L,
        {"params": {"framework_id": "dbcourse"}},
    ),
    ("GET", "/api/v1/learners/{learner_id}/plan", R_L, {"params": {"framework_id": "dbcourse"}}),
    (
        "POST",
        "/api/v1/learners/{learner_id}/overrides",
        ACT,
        {
            "json": {
                "framework_id": "dbcourse",
                "competency_id": "normalise",
                "status": "mastered",
                "reason": "prior_learning",
            }
        },
    ),
    ("GET", "/api/v1/learners/{learner_id}/overrides", R_L, {}),
    ("DELETE", "/api/v1/learners/{learner_id}/overrides/{override_id}", ACT, {}),
    ("GET", "/api/v1/alerts", AUDIT, {}),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge", ACT, {}),
    (
        "POST",
        "/api/v1/users",
        USERS,
        {"json": {"username": "u-{caller}-{X}", "password": "long-password", "role": "educator"}},
    ),
    ("GET", "/api/v1/users", USERS, {}),
    ("DELETE", "/api/v1/users/{user_id}/tokens", USERS, {"user": "throwaway"}),
    ("POST", "/api/v1/users/{user_id}/first-password", USERS, {"user": "throwaway"}),
    ("PATCH", "/api/v1/users/{user_id}", USERS, {"user": "throwaway", "json": {"disabled": False}}),
    ("GET", "/api/v1/users/{user_id}/learners", USERS, {}),
    ("PUT", "/api/v1/users/{user_id}/learners/{learner_id}", USERS, {}),  # 422: not a guardian
    ("DELETE", "/api/v1/users/{user_id}/learners/{learner_id}", USERS, {}),  # 404: no link
    (
        "POST",
        "/api/v1/roster",
        USERS,
        {"json": {"files": {"users.csv": "sourcedId,role,givenName,familyName\n"}}},
    ),
    ("GET", "/api/v1/roster/sync", USERS, {}),
    ("GET", "/api/v1/jobs", USERS, {}),
    ("GET", "/api/v1/checks", USERS, {}),
    ("POST", "/api/v1/jobs/{name}/run", USERS, {}),  # 404: the server has no such job
    ("POST", "/api/v1/roster/sync", USERS, {"json": {}, "answers": 503}),  # none set up
    ("GET", "/api/v1/lti/platforms", USERS, {}),
    (
        "POST",
        "/api/v1/lti/platforms",
        USERS,
        {"json": REGISTRATION},
    ),
    ("PATCH", "/api/v1/lti/platforms/{platform_id}", USERS, {"json": {"title": "Moodle"}}),
    ("DELETE", "/api/v1/lti/platforms/{platform_id}", USERS, {}),
    ("GET", "/api/v1/lti/tool", USERS, {}),
    ("POST", "/api/v1/lti/registration-links", USERS, {"json": {"hours": 1}}),
    ("POST", "/api/v1/lti/grades", USERS, {"params": {"platform": "nowhere"}}),
    ("POST", "/api/v1/lti/members", USERS, {"params": {"platform": "nowhere"}}),
    ("POST", "/api/v1/api-keys", USERS, {"json": {"name": "k", "scopes": ["xapi:read"]}}),
    ("GET", "/api/v1/api-keys", USERS, {}),
    ("DELETE", "/api/v1/api-keys/{key_id}", USERS, {}),
    ("GET", "/api/v1/audit-log", LOGS, {}),
    ("GET", "/api/v1/taxonomies", R_CAR, {}),
    (
        "POST",
        "/api/v1/taxonomies/{taxonomy_id}",
        M_CAR,
        {"content": CSV, "headers": {"content-type": "text/csv"}, "taxonomy": "t-{caller}-{X}"},
    ),
    ("GET", "/api/v1/taxonomies/{taxonomy_id}/occupations", R_CAR, {}),
    ("POST", "/api/v1/frameworks/{framework_id}/alignments/{taxonomy_id}", M_CAR, {}),
    ("GET", "/api/v1/frameworks/{framework_id}/alignments/{taxonomy_id}", R_CAR, {}),
    (
        "PUT",
        "/api/v1/frameworks/{framework_id}/alignments/{taxonomy_id}/{competency_id}/{skill_id}",
        M_CAR,
        {"json": {"decision": "confirmed"}},
    ),
    (
        "GET",
        "/api/v1/frameworks/{framework_id}/careers/{taxonomy_id}/coverage/{occupation_id}",
        R_CAR,
        {},
    ),
    ("GET", "/api/v1/frameworks/{framework_id}/careers/{taxonomy_id}/occupations", R_CAR, {}),
    ("GET", "/api/v1/frameworks/{framework_id}/careers/{taxonomy_id}/case", R_CAR, {}),
    (
        "PUT",
        "/api/v1/learners/{learner_id}/career-goal",
        GOAL,
        {"json": {"framework_id": "dbcourse", "taxonomy_id": "mini", "occupation_id": "dba"}},
    ),
    (
        "GET",
        "/api/v1/learners/{learner_id}/career-goal",
        R_L,
        {"params": {"framework_id": "dbcourse"}},
    ),
    ("POST", "/xapi/statements", W_X, {"json": "xapi", "headers": XAPI}),
    ("PUT", "/xapi/statements", W_X, {"json": "xapi-one", "headers": XAPI}),
    ("GET", "/xapi/statements", R_X, {"headers": XAPI}),
    ("HEAD", "/xapi/statements", R_X, {"headers": XAPI}),
    ("GET", "/api/v1/xapi/unmapped-activities", R_X, {}),
    ("PUT", "/xapi/activities/state", W_X, {"params": STATE, "json": {"p": 3}, "headers": XAPI}),
    ("POST", "/xapi/activities/state", W_X, {"params": STATE, "json": {"p": 4}, "headers": XAPI}),
    ("GET", "/xapi/activities/state", W_X, {"params": STATE, "headers": XAPI}),
    ("HEAD", "/xapi/activities/state", W_X, {"params": STATE, "headers": XAPI}),
    ("DELETE", "/xapi/activities/state", W_X, {"params": STATE, "headers": XAPI}),
    ("PUT", "/xapi/agents/profile", W_X, {"params": AP, "json": {"p": 1}, "headers": XAPI}),
    ("POST", "/xapi/agents/profile", W_X, {"params": AP, "json": {"p": 2}, "headers": XAPI}),
    ("GET", "/xapi/agents/profile", W_X, {"params": AP, "headers": XAPI}),
    ("HEAD", "/xapi/agents/profile", W_X, {"params": AP, "headers": XAPI}),
    ("DELETE", "/xapi/agents/profile", W_X, {"params": AP, "headers": XAPI}),
    ("PUT", "/xapi/activities/profile", W_X, {"params": ACP, "json": {"p": 1}, "headers": XAPI}),
    ("POST", "/xapi/activities/profile", W_X, {"params": ACP, "json": {"p": 2}, "headers": XAPI}),
    ("GET", "/xapi/activities/profile", W_X, {"params": ACP, "headers": XAPI}),
    ("HEAD", "/xapi/activities/profile", W_X, {"params": ACP, "headers": XAPI}),
    ("DELETE", "/xapi/activities/profile", W_X, {"params": ACP, "headers": XAPI}),
    ("GET", "/xapi/agents", R_X, {"params": {"agent": STATE["agent"]}, "headers": XAPI}),
    ("HEAD", "/xapi/agents", R_X, {"params": {"agent": STATE["agent"]}, "headers": XAPI}),
    ("GET", "/xapi/activities", R_X, {"params": {"activityId": COURSE_IRI}, "headers": XAPI}),
    ("HEAD", "/xapi/activities", R_X, {"params": {"activityId": COURSE_IRI}, "headers": XAPI}),
    ("POST", "/api/v1/rubrics", RUBRICS, {"json": "rubric", "params": {"replace": "true"}}),
    ("GET", "/api/v1/rubrics/{rubric_id}", R_FW, {}),
    (
        "POST",
        "/api/v1/rubrics/case",
        RUBRICS,
        {"json": "case-rubric", "params": {"replace": "true"}},
    ),
    ("GET", "/api/v1/rubrics/{rubric_id}/case", R_FW, {}),
    (
        "POST",
        "/api/v1/learners/{learner_id}/submissions",
        SUBMIT,
        {"json": {"rubric_id": "r1", "text": "The bulb is in a closed path with the battery."}},
    ),
    ("GET", "/api/v1/learners/{learner_id}/submissions", R_L, {"params": {"rubric_id": "r1"}}),
    ("GET", "/api/v1/learners/{learner_id}/feedback", R_L, {"params": {"competency_id": "select"}}),
    ("POST", "/api/v1/learners/{learner_id}/submissions/{rubric_id}/final", ACT, {}),
    ("GET", "/api/v1/reviews", AUDIT, {}),
    ("PUT", "/api/v1/reviews/{submission_id}/{criterion_id}", ACT, {"json": {"level_id": "met"}}),
    (
        "POST",
        "/api/v1/learners/{learner_id}/placements",
        SUBMIT,
        {"json": {"framework_id": "dbcourse", "budget": 2}},
    ),
    ("GET", "/api/v1/learners/{learner_id}/placements", R_L, {}),
    ("GET", "/api/v1/learners/{learner_id}/placements/{placement_id}", R_L, {}),
    (
        "POST",
        "/api/v1/learners/{learner_id}/placements/{placement_id}/answers",
        SUBMIT,
        {"json": {"competency_id": "select", "correct": True}},
    ),
    ("POST", "/api/v1/learners/{learner_id}/placements/{placement_id}/finish", SUBMIT, {}),
    (
        "POST",
        "/api/v1/learners/{learner_id}/placements/{placement_id}/decision",
        ACT,
        {"json": {"accept": False}},
    ),
    # last: erasure changes the world
    ("DELETE", "/api/v1/learners/{learner_id}", ERASE, {}),
]


def api_routes(router: Any, base: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every APIRoute with its full path (FastAPI keeps included routers nested)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            yield base + route.path, route
        elif hasattr(route, "original_router"):
            inner = route.original_router
            # the include prefix is absolute: FastAPI folds the parents' prefixes into it
            yield from api_routes(inner, route.include_context.prefix)


PUBLIC = {("GET", "/xapi/about"), ("HEAD", "/xapi/about")}
"""The routes under ``/api/v1`` and ``/xapi`` open to anyone (xAPI asks it of ``about``)."""


def test_every_route_declares_the_action_in_the_table(world: World) -> None:
    declared: dict[tuple[str, str], str] = {}
    public: set[tuple[str, str]] = set()
    for path, route in api_routes(world.client.app.router):  # type: ignore[attr-defined]
        if not path.startswith(("/api/v1", "/xapi")):
            continue
        actions = [
            action
            for d in route.dependant.dependencies
            if (action := getattr(d.call, "action", None)) is not None
        ]
        methods = route.methods or set()
        if not actions and {(m, path) for m in methods} <= PUBLIC:
            public |= {(m, path) for m in methods}
            continue
        assert len(actions) == 1, f"{path} declares {actions}"
        for method in methods:
            declared[(method, path)] = actions[0].value
    table = {
        (m, p.replace("/learners/spare", "/learners/{learner_id}")): a for m, p, a, _ in ENDPOINTS
    }
    assert declared == table
    assert public == PUBLIC
    for method, path in PUBLIC:
        anonymous = world.client.request(method, path, headers=world.headers["anonymous"])
        assert anonymous.status_code == 200, path


def allowed(caller: str, action: str, learner: str, about_learner: bool) -> bool:
    rules = PERMISSIONS[caller]
    if EVERYTHING in rules:
        return True
    reach = rules.get(action)
    if reach is None:
        return False
    return reach == "any" or not about_learner or learner == OWN


def request(
    world: World, caller: str, method: str, path: str, extras: dict[str, Any], learner: str, n: int
) -> int:
    ids = world.ids
    values = {
        "learner_id": learner,
        "framework_id": "dbcourse",
        "taxonomy_id": "mini",
        "competency_id": "select",
        "skill_id": "sql",
        "occupation_id": "dba",
        "cohort_id": "c1",
        "attribute": "cohort",
        "override_id": ids["override"][learner],
        "alert_id": ids["alert"][learner],
        "key_id": ids["throwaway_key"],
        "user_id": ids["throwaway_user"] if extras.get("user") else ids["ed1"],
        "rubric_id": "r1",
        "submission_id": ids["submission"][learner],
        "criterion_id": "path",
        "placement_id": ids["placement"][learner],
        "link_id": ids["embed_link"][learner],
        "platform_id": "nowhere",
        "name": "nightly",
    }
    if "taxonomy" in extras:
        values["taxonomy_id"] = extras["taxonomy"].format(
            caller=caller.replace(":", "-"), X=learner
        )
    url = path.format(**values)
    kwargs: dict[str, Any] = {"headers": {**world.headers[caller], **extras.get("headers", {})}}
    if "params" in extras:
        kwargs["params"] = {k: v.replace("{X}", learner) for k, v in extras["params"].items()}
    if "content" in extras:
        kwargs["content"] = extras["content"]
    body = extras.get("json")
    if body == "case":
        body = ids["case"]
    elif body in ("rubric", "case-rubric"):
        body = ids[body]
    elif body == "evidence":
        body = evidence(learner, f"m-{caller}-{learner}-{n}")
    elif body == "evidence-batch":
        body = [evidence(learner, f"mb-{caller}-{learner}-{n}")]
    elif body == "xapi":
        body = [xapi_statement(learner, n)]
    elif body == "xapi-one":
        kwargs["params"] = {"statementId": xapi_statement(learner, n + 5000)["id"]}
        body = xapi_statement(learner, n + 5000)
    elif isinstance(body, dict):
        body = {
            k: v.format(caller=caller.replace(":", "-"), X=learner) if isinstance(v, str) else v
            for k, v in body.items()
        }
    if body is not None:
        kwargs["json"] = body
    return world.client.request(method, url, **kwargs).status_code


CALLERS = [
    "anonymous",
    "key:frameworks-read",
    "embed",
    "learner",
    "guardian",
    "educator",
    "key:all",
    "admin",
]


def test_authorization_matrix(world: World) -> None:
    outcomes: list[str] = []
    n = 0
    for caller in CALLERS:
        for method, path, action, extras in ENDPOINTS:
            about_learner = "{learner_id}" in path or action in (W_EV, ACT) or "{X}" in str(extras)
            for learner in (OWN, OTHER) if about_learner else (OWN,):
                n += 1
                status = request(world, caller, method, path, extras, learner, n)
                expect = allowed(
                    caller, action, learner, about_learner and action in LEARNER_SCOPED
                )
                if caller == "anonymous":
                    ok = status == 401
                elif expect:
                    ok = status not in (401, 403) and (
                        status < 500 or status == extras.get("answers")
                    )
                else:
                    ok = status == 403
                if not ok:
                    wanted = "401" if caller == "anonymous" else "allowed" if expect else "403"
                    outcomes.append(
                        f"{caller} {method} {path} [{learner}] -> {status}, not {wanted}"
                    )
    assert outcomes == [], "\n".join(outcomes)
