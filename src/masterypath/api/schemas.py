"""Pydantic API schemas (kept apart from domain dataclasses and table rows)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from masterypath.store.types import INT32_MAX

NO_CONTROL = r"^[^\x00-\x1f]*$"
"""No control characters: no id, name or label needs them, and PostgreSQL refuses NUL."""

Text = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=NO_CONTROL)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=NO_CONTROL)]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class BinaryOutcomeIn(Strict):
    type: Literal["binary"]
    correct: bool


class ScoreOutcomeIn(Strict):
    type: Literal["score"]
    value: Annotated[float, Field(ge=0.0, le=1.0)]


class RubricLevelIn(Strict):
    criterion: Text
    level: Text
    points: Annotated[float, Field(ge=0.0)]
    max_points: Annotated[float, Field(gt=0.0)]


class RubricOutcomeIn(Strict):
    type: Literal["rubric"]
    levels: Annotated[list[RubricLevelIn], Field(min_length=1)]


OutcomeIn = Annotated[
    BinaryOutcomeIn | ScoreOutcomeIn | RubricOutcomeIn, Field(discriminator="type")
]


class EvidenceIn(Strict):
    """One piece of evidence. Without ``key`` the key is the hash of the content, so an
    identical re-post is recognised; with a key, the key decides."""

    key: Key | None = None
    learner_id: Text
    competency_ids: Annotated[list[Text], Field(min_length=1, max_length=50)]
    outcome: OutcomeIn
    timestamp: Annotated[AwareDatetime, Field(strict=False)]
    kind: Literal["practice", "assessment", "performance", "educator_judgement", "inferred"] = (
        "practice"
    )
    item_id: Text | None = None
    source: Text | None = None
    asserted_by: Text | None = None
    sequence: Annotated[int, Field(ge=-(2**63), le=2**63 - 1)] | None = None


class EvidenceOut(BaseModel):
    key: str
    learner_id: str
    competency_ids: list[str]
    outcome: dict[str, object]
    timestamp: datetime
    kind: str
    item_id: str | None
    source: str | None
    asserted_by: str | None
    sequence: int | None
    voided: bool = Field(
        description="Voided as recorded in error (the ledger keeps it; no state counts it)."
    )


class RecordOut(BaseModel):
    key: str
    stored: bool
    locked: list[str] = Field(
        default=[],
        description="Competencies whose prerequisites were not met when the evidence "
        "arrived: it is recorded and counted all the same, and flagged.",
    )


class PrerequisiteOut(BaseModel):
    id: str
    requires: str


class CompetencyOut(BaseModel):
    id: str
    title: str
    description: str
    parent_id: str | None
    code: str | None
    prerequisites: list[PrerequisiteOut]


class ItemOut(BaseModel):
    id: str
    competency_ids: list[str]
    title: str
    difficulty: float | None


class FrameworkOut(BaseModel):
    id: str
    title: str
    description: str
    competencies: list[CompetencyOut]
    items: list[ItemOut]
    topological_order: list[str]


class FrameworkSummaryOut(BaseModel):
    id: str
    title: str
    competencies: int
    prerequisites: int
    imported_at: datetime


class FrameworkImportedOut(BaseModel):
    id: str
    competencies: int
    prerequisites: int
    items: int
    replaced: bool
    notes: list[str]


class AttributeIn(Strict):
    value: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_CONTROL)]
    consent_by: Text = Field(description="Who consented: the learner, or a guardian.")


class DecisionIn(Strict):
    """An educator's decision on a competency -> career skill link."""

    decision: Literal["confirmed", "rejected"]
    match: Literal["exactMatchOf", "isRelatedTo"] = Field(
        default="isRelatedTo", description="CASE association type of a confirmed link."
    )
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class CareerGoalIn(Strict):
    framework_id: Text
    taxonomy_id: Text
    occupation_id: Text


Secret = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class LoginIn(Strict):
    username: Text
    password: Secret


class TokenOut(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    user_id: str
    role: str
    must_change_password: bool = Field(
        default=False,
        description="The password is a first one (from a roster, or set by an admin as "
        "temporary): change it with POST /auth/password.",
    )


class RosterIn(Strict):
    files: dict[
        Literal["users.csv", "classes.csv", "enrollments.csv", "demographics.csv"],
        Annotated[str, StringConstraints(max_length=10_000_000)],
    ] = Field(description="A OneRoster 1.1 CSV export: each file's name and its text.")
    accounts: bool = Field(
        default=False,
        description="Also make accounts (with random first passwords, answered once) for "
        "the enabled students, teachers and parents with a username who have none.",
    )


class RosterSyncIn(Strict):
    accounts: bool = Field(
        default=False,
        description="Also make accounts (with random first passwords, answered once) for "
        "the enabled students, teachers and parents with a username who have none.",
    )
    everything: bool = Field(
        default=False,
        description="Read every record, not only those changed since the last read.",
    )


class LtiPlatformIn(Strict):
    id: Text = Field(description="A short name for the platform: lower-case letters, digits, -, _.")
    title: Text = Field(description="The platform's name as people know it.")
    issuer: Text = Field(description="The platform's issuer (the id_token's iss), an https URL.")
    client_id: Text = Field(description="The client id the platform gave this tool.")
    auth_login_url: Text = Field(description="The platform's OIDC authentication request URL.")
    key_set_url: Text = Field(description="The URL of the platform's public keys (JWKS).")
    deployment_ids: list[Text] = Field(
        min_length=1, max_length=100, description="The deployment ids launches may come from."
    )
    token_url: Text | None = Field(
        default=None, description="The platform's OAuth 2 token URL, to send grades back."
    )
    service_origins: list[Text] = Field(
        default_factory=list,
        max_length=100,
        description="More sites (https://host[:port]; https://*.host for its subdomains) "
        "the platform's launches may name for its services (line items, member lists), "
        "beyond its registered URLs' sites: Canvas's are the school's own host.",
    )


class RegistrationLinkIn(Strict):
    hours: float = Field(
        default=24.0, gt=0, le=168, description="How long the link holds (at most a week)."
    )


class LtiPlatformChangeIn(Strict):
    """The fields of a registered platform to change (any but its id); a list replaces
    the one registered, ``token_url: null`` removes it."""

    title: Text | None = None
    issuer: Text | None = None
    client_id: Text | None = None
    auth_login_url: Text | None = None
    key_set_url: Text | None = None
    deployment_ids: list[Text] | None = Field(default=None, min_length=1, max_length=100)
    token_url: Text | None = None
    service_origins: list[Text] | None = Field(default=None, max_length=100)


class PasswordChangeIn(Strict):
    current_password: Secret
    new_password: Secret


class UserPatchIn(Strict):
    disabled: bool = Field(
        description="true: the account may no longer log in or launch, and its tokens are "
        "revoked; false: enabled again."
    )


class UserIn(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_CONTROL)]
    password: Annotated[str, StringConstraints(min_length=8, max_length=1000)] | None = Field(
        default=None,
        description="Without one, a random first password is made, answered once and is "
        "to be changed at the first login.",
    )
    role: Literal["admin", "educator", "learner", "guardian"] = Field(
        description="``guardian``: a parent's or carer's account, which reads the records of "
        "the learners linked to it (``PUT /api/v1/users/{id}/learners/{learner_id}``)."
    )
    learner_id: Text | None = Field(default=None, description="Required for a learner account.")
    temporary: bool = Field(
        default=False, description="A first password, to be changed at the first login."
    )


class ApiKeyIn(Strict):
    name: Text
    scopes: Annotated[
        list[
            Literal[
                "frameworks:read",
                "frameworks:write",
                "evidence:write",
                "learners:read",
                "learners:write",
                "xapi:write",
                "xapi:read",
            ]
        ],
        Field(min_length=1),
    ]
    expires_at: Annotated[AwareDatetime | None, Field(strict=False)] = None


class ApiKeyOut(BaseModel):
    id: str
    key: str = Field(description="Shown once; only its hash is stored.")
    name: str
    scopes: list[str]
    expires_at: datetime | None


class LearnerIn(Strict):
    """Personal data, stored apart from the pseudonymous id used everywhere else."""

    learner_id: Text | None = Field(default=None, description="Generated when not given.")
    name: Annotated[str, StringConstraints(max_length=500, pattern=NO_CONTROL)] = ""
    email: Annotated[str, StringConstraints(max_length=320, pattern=NO_CONTROL)] = ""
    birth_date: date | None = Field(default=None, description="ISO date; under 13 needs consent.")

    model_config = ConfigDict(strict=False, extra="forbid")


class ConsentIn(Strict):
    guardian: Text = Field(description="The guardian who consented.")


class CohortIn(Strict):
    id: Text
    title: Annotated[str, StringConstraints(max_length=1000, pattern=NO_CONTROL)] = ""


class EmbedIn(Strict):
    framework_id: Text | None = Field(
        default=None, description="The framework the map shows (default: the first)."
    )
    minutes: int = Field(default=60, ge=1, le=24 * 60, description="How long the link works.")


class VoidIn(Strict):
    key: Text = Field(description="The evidence's key (its idempotency key).")
    reason: str = Field(
        min_length=1, max_length=2000, description="Why it was recorded in error (audited)."
    )


class OverrideIn(Strict):
    framework_id: Text
    competency_id: Text
    status: Literal[
        "not_started",
        "in_progress",
        "insufficient_evidence",
        "proficient",
        "needs_review",
        "mastered",
    ]
    reason: Literal[
        "demonstrated_elsewhere", "prior_learning", "assessment_error", "accommodation", "other"
    ]
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class SubmissionIn(Strict):
    rubric_id: Text
    text: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    next_activity: Text | None = None


class ReviewIn(Strict):
    level_id: Text


class PlacementIn(Strict):
    framework_id: Text
    budget: int | None = Field(default=None, ge=1, le=10_000)
    """Most questions to ask (default: a fifth of the competencies, at least 10)."""
    confidence: float | None = Field(default=None, gt=0.5, lt=1.0)
    seed: int = Field(default=0, ge=0, le=INT32_MAX)


class PlacementAnswerIn(Strict):
    competency_id: Text
    correct: bool


class PlacementDecisionIn(Strict):
    accept: bool
    note: Annotated[str, StringConstraints(max_length=10_000)] | None = None
