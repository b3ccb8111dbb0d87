"""SQLAlchemy tables (rows are not domain objects: repositories convert between them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from masterypath.store.types import BigId, UTCDateTime

ID = 1000
KEY = 2000

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class FrameworkRow(Base):
    __tablename__ = "frameworks"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CompetencyRow(Base):
    __tablename__ = "competencies"

    framework_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("frameworks.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    parent_id: Mapped[str | None] = mapped_column(String(ID))
    code: Mapped[str | None] = mapped_column(String(ID))


class PrerequisiteRow(Base):
    __tablename__ = "prerequisites"
    __table_args__ = (
        ForeignKeyConstraint(
            ["framework_id", "competency_id"],
            ["competencies.framework_id", "competencies.id"],
            ondelete="CASCADE",
            name="fk_prerequisites_dependent",
        ),
        ForeignKeyConstraint(
            ["framework_id", "prerequisite_id"],
            ["competencies.framework_id", "competencies.id"],
            ondelete="CASCADE",
            name="fk_prerequisites_prerequisite",
        ),
    )

    framework_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    competency_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    prerequisite_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    requires: Mapped[str] = mapped_column(String(16))


class ItemRow(Base):
    __tablename__ = "items"

    framework_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("frameworks.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text, default="")
    difficulty: Mapped[float | None] = mapped_column(Float)
    competency_ids: Mapped[list[str]] = mapped_column(JSON(none_as_null=True))


class EvidenceRow(Base):
    """The append-only ledger. ``key`` makes ingestion idempotent."""

    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_learner_time", "learner_id", "timestamp", "sequence"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(String(36))
    """The write (one API call or one file import) that stored this row: provenance."""
    key: Mapped[str] = mapped_column(String(KEY), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    learner_id: Mapped[str] = mapped_column(String(ID))
    item_id: Mapped[str | None] = mapped_column(String(ID))
    outcome_type: Mapped[str] = mapped_column(String(8))
    correct: Mapped[bool | None] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    rubric_levels: Mapped[list[dict[str, object]] | None] = mapped_column(JSON(none_as_null=True))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    sequence: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(ID))
    asserted_by: Mapped[str | None] = mapped_column(String(ID))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EvidenceVoidRow(Base):
    """Evidence voided: recorded in error (another learner's work, a test post, a mistaken
    import). The ledger keeps the evidence; every state is rebuilt without it."""

    __tablename__ = "evidence_voids"

    evidence_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("evidence.id"), primary_key=True, autoincrement=False
    )
    evidence_key: Mapped[str] = mapped_column(String(KEY))
    learner_id: Mapped[str] = mapped_column(String(ID), index=True)
    voided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    voided_by: Mapped[str] = mapped_column(String(ID))
    reason: Mapped[str] = mapped_column(Text)


class EvidenceCompetencyRow(Base):
    """The competencies one piece of evidence is about (several for a multi-skill item)."""

    __tablename__ = "evidence_competencies"
    __table_args__ = (Index("ix_evidence_competencies_competency", "competency_id"),)

    evidence_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("evidence.id", ondelete="RESTRICT"), primary_key=True
    )
    competency_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class LearnerRow(Base):
    """One row per learner seen; the pipeline locks it so one learner's evidence is
    processed one writer at a time, in ledger order."""

    __tablename__ = "learners"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ModelVersionRow(Base):
    """A fitted model for a framework; the active one drives the pipeline."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    framework_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("frameworks.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    n_rows: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean)


class PolicyRow(Base):
    """A framework's default policy (``competency_id`` '') or one competency's."""

    __tablename__ = "mastery_policies"

    framework_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("frameworks.id", ondelete="CASCADE"), primary_key=True
    )
    competency_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    policy: Mapped[dict[str, object]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MasteryStateRow(Base):
    """The projection: one learner's state on one competency, with the status as of its
    last evidence (statuses at another time are recomputed from ``state``)."""

    __tablename__ = "mastery_states"

    learner_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    framework_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    competency_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    model_version_id: Mapped[int | None] = mapped_column(Integer)
    estimate: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(32))
    n_evidence: Mapped[int] = mapped_column(Integer)
    state: Mapped[dict[str, object]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MasteryEventRow(Base):
    """What each piece of evidence did to each competency state (the decision trail)."""

    __tablename__ = "mastery_events"
    __table_args__ = (Index("ix_mastery_events_learner", "learner_id", "framework_id"),)

    evidence_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    framework_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    competency_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    learner_id: Mapped[str] = mapped_column(String(ID))
    estimate_before: Mapped[float | None] = mapped_column(Float)
    estimate_after: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(32))
    locked: Mapped[bool] = mapped_column(Boolean)
    """The competency was locked (a prerequisite lacked its status) when this arrived."""


class OverrideRow(Base):
    __tablename__ = "overrides"
    __table_args__ = (Index("ix_overrides_learner", "learner_id", "framework_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    learner_id: Mapped[str] = mapped_column(String(ID))
    framework_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("frameworks.id", ondelete="CASCADE")
    )
    competency_id: Mapped[str] = mapped_column(String(ID))
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    educator: Mapped[str] = mapped_column(String(ID))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    model_status: Mapped[str] = mapped_column(String(32))
    model_estimate: Mapped[float | None] = mapped_column(Float)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(ID))
    lift_note: Mapped[str] = mapped_column(Text, default="")


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_origin",
            "learner_id",
            "framework_id",
            "competency_id",
            "kind",
            "evidence_key",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    learner_id: Mapped[str] = mapped_column(String(ID))
    framework_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("frameworks.id", ondelete="CASCADE")
    )
    competency_id: Mapped[str] = mapped_column(String(ID))
    kind: Mapped[str] = mapped_column(String(32))
    evidence_key: Mapped[str] = mapped_column(String(KEY))
    message: Mapped[str] = mapped_column(Text)
    suggested_action: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(ID))
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When later evidence took the alert's reason away (that evidence's time)."""
    cleared_by_evidence: Mapped[str | None] = mapped_column(String(KEY))
    cleared_reason: Mapped[str | None] = mapped_column(Text)


class GroupAttributeRow(Base):
    """A learner's group attribute for fairness audits: stored only with consent, apart
    from evidence and personal data, and holding nothing but the group's value."""

    __tablename__ = "group_attributes"

    learner_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    attribute: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    consent_recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_by: Mapped[str] = mapped_column(String(ID))
    """Who gave consent (the learner, or a guardian for a minor)."""


class TaxonomyRow(Base):
    """A career taxonomy (ESCO, O*NET, a generic CSV)."""

    __tablename__ = "taxonomies"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    encoder: Mapped[str | None] = mapped_column(String(128))
    """The model that embedded its texts (None: not embedded; alignment is lexical)."""
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OccupationRow(Base):
    __tablename__ = "occupations"

    taxonomy_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("taxonomies.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    code: Mapped[str | None] = mapped_column(String(64))
    alt_labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    """float32 embedding of label + description (little-endian), or None."""


class CareerSkillRow(Base):
    __tablename__ = "career_skills"

    taxonomy_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("taxonomies.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(64), default="")
    alt_labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    broader: Mapped[list[str]] = mapped_column(JSON, default=list)
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)


class SkillGroupRow(Base):
    """A node of the skill hierarchy above the skills."""

    __tablename__ = "career_skill_groups"

    taxonomy_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("taxonomies.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(64), default="")
    label: Mapped[str] = mapped_column(Text)
    broader: Mapped[list[str]] = mapped_column(JSON, default=list)


class RequirementRow(Base):
    """An occupation requires a career skill, essential or optional."""

    __tablename__ = "occupation_requirements"
    __table_args__ = (
        ForeignKeyConstraint(
            ["taxonomy_id", "occupation_id"],
            ["occupations.taxonomy_id", "occupations.id"],
            ondelete="CASCADE",
            name="fk_occupation_requirements_occupation",
        ),
        ForeignKeyConstraint(
            ["taxonomy_id", "skill_id"],
            ["career_skills.taxonomy_id", "career_skills.id"],
            ondelete="CASCADE",
            name="fk_occupation_requirements_skill",
        ),
    )

    taxonomy_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    occupation_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    skill_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    essential: Mapped[bool] = mapped_column(Boolean)
    importance: Mapped[float | None] = mapped_column(Float)


class AlignmentRow(Base):
    """A suggested or decided link from a competency (or module) to a career skill."""

    __tablename__ = "alignments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["framework_id", "competency_id"],
            ["competencies.framework_id", "competencies.id"],
            ondelete="CASCADE",
            name="fk_alignments_competency",
        ),
        ForeignKeyConstraint(
            ["taxonomy_id", "skill_id"],
            ["career_skills.taxonomy_id", "career_skills.id"],
            ondelete="CASCADE",
            name="fk_alignments_skill",
        ),
        Index("ix_alignments_skill", "taxonomy_id", "skill_id"),
    )

    framework_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    competency_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    taxonomy_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    skill_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    semantic: Mapped[float | None] = mapped_column(Float)
    lexical: Mapped[float] = mapped_column(Float)
    matched_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    matched_sentence: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str] = mapped_column(String(64))
    suggested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decision: Mapped[str] = mapped_column(String(16))
    match_kind: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(ID))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")


class CareerGoalRow(Base):
    """The occupation a learner works toward in a framework (sets the planner's goals)."""

    __tablename__ = "career_goals"
    __table_args__ = (
        ForeignKeyConstraint(
            ["taxonomy_id", "occupation_id"],
            ["occupations.taxonomy_id", "occupations.id"],
            ondelete="CASCADE",
            name="fk_career_goals_occupation",
        ),
    )

    learner_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    framework_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("frameworks.id", ondelete="CASCADE"), primary_key=True
    )
    taxonomy_id: Mapped[str] = mapped_column(String(ID))
    occupation_id: Mapped[str] = mapped_column(String(ID))
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UserRow(Base):
    """An account that logs in: an admin, an educator or a learner (bound to a learner id)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(500))
    role: Mapped[str] = mapped_column(String(16))
    learner_id: Mapped[str | None] = mapped_column(String(ID))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set while the account may not log in or launch."""
    disabled_by: Mapped[str | None] = mapped_column(String(ID))
    """Who disabled it: an admin (``user:ID``, ``cli``) or ``roster`` (the school's
    roster marked the user disabled or gone; a later roster that lists them enabled
    enables it again)."""
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    """The password is a first one (a roster's, or one an admin set as temporary)."""


class TokenRow(Base):
    """A bearer token, stored as its SHA-256 only."""

    __tablename__ = "auth_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID), ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EmbedTokenRow(Base):
    """A token of an embed link: reads frameworks and one learner's records, until it
    expires. Stored as its SHA-256 only."""

    __tablename__ = "embed_tokens"
    __table_args__ = (Index("ix_embed_tokens_learner", "learner_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    learner_id: Mapped[str] = mapped_column(String(ID))
    created_by: Mapped[str] = mapped_column(String(ID))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKeyRow(Base):
    """An integration's key, stored as its SHA-256 only, with the scopes it holds."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(ID))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CohortRow(Base):
    __tablename__ = "cohorts"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CohortMemberRow(Base):
    __tablename__ = "cohort_members"
    __table_args__ = (Index("ix_cohort_members_learner", "learner_id"),)

    cohort_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True
    )
    learner_id: Mapped[str] = mapped_column(String(ID), primary_key=True)


class CohortEducatorRow(Base):
    __tablename__ = "cohort_educators"

    cohort_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class GuardianshipRow(Base):
    """A guardian account (a parent's, a carer's) that may read a learner's records."""

    __tablename__ = "guardianships"
    __table_args__ = (Index("ix_guardianships_learner", "learner_id"),)

    user_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    learner_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    linked_by: Mapped[str] = mapped_column(String(ID))
    """Who linked them: an admin (``user:<id>``), ``cli`` or ``roster``."""
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LtiPlatformRow(Base):
    """A learning platform (Moodle, Canvas, ...) registered to launch this tool (LTI 1.3)."""

    __tablename__ = "lti_platforms"
    __table_args__ = (Index("ix_lti_platforms_issuer", "issuer", "client_id", unique=True),)

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(String(ID))
    client_id: Mapped[str] = mapped_column(String(ID))
    auth_login_url: Mapped[str] = mapped_column(Text)
    key_set_url: Mapped[str] = mapped_column(Text)
    deployment_ids: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    token_url: Mapped[str | None] = mapped_column(Text)
    """The platform's OAuth 2 token URL, for sending grades back (none: grades are not)."""
    service_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    """More sites the platform's services may be called on (see ``Platform``)."""


class LtiRegistrationLinkRow(Base):
    """A one-time link an admin gives a platform to register this tool itself (LTI Dynamic
    Registration): only its SHA-256 is kept."""

    __tablename__ = "lti_registration_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_by: Mapped[str] = mapped_column(String(ID))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    platform_id: Mapped[str | None] = mapped_column(String(ID))
    """The platform it registered."""


class LtiLoginRow(Base):
    """A launch begun (OIDC login initiation) and not yet completed: its state and nonce,
    used once."""

    __tablename__ = "lti_logins"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("lti_platforms.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LtiAccountRow(Base):
    """Which account a platform's user (its ``sub``) launches as in a role (``learner``
    or ``educator``): one who launches in both has an account for each."""

    __tablename__ = "lti_accounts"
    __table_args__ = (Index("ix_lti_accounts_user", "user_id"),)

    platform_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("lti_platforms.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID), ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LtiContextRow(Base):
    """A platform's course the tool was launched in: its cohort here, and where its
    members can be read (Names and Role Provisioning Services)."""

    __tablename__ = "lti_contexts"

    platform_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("lti_platforms.id", ondelete="CASCADE"), primary_key=True
    )
    context_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    cohort_id: Mapped[str] = mapped_column(String(ID))
    title: Mapped[str] = mapped_column(Text)
    deployment_id: Mapped[str] = mapped_column(String(ID))
    memberships_url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LtiGradeLinkRow(Base):
    """Where a learner's grade for a link of a course goes back to: the line item of the
    platform's gradebook a launch named (LTI Assignment and Grade Services)."""

    __tablename__ = "lti_grade_links"
    __table_args__ = (Index("ix_lti_grade_links_learner", "learner_id"),)

    platform_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("lti_platforms.id", ondelete="CASCADE"), primary_key=True
    )
    resource_link_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    learner_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255))
    """The platform's id of the user: the score's ``userId``."""
    lineitem: Mapped[str] = mapped_column(Text)
    """Where the score goes; empty until this tool has made its column in ``lineitems``."""
    framework_id: Mapped[str | None] = mapped_column(String(ID))
    lineitems: Mapped[str | None] = mapped_column(Text)
    """The course's column container, where this tool makes the link's column when the
    launch named none (and let it)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_score: Mapped[float | None] = mapped_column(Float)


class LearnerProfileRow(Base):
    """Personal data, kept apart from the pseudonymous learner id used everywhere else."""

    __tablename__ = "learner_profiles"

    learner_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    birth_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GuardianConsentRow(Base):
    __tablename__ = "guardian_consents"

    learner_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    guardian: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(ID))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AccessLogRow(Base):
    """Every read of a learner's records: who, what, when."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_learner", "learner_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(ID))
    action: Mapped[str] = mapped_column(String(64))
    what: Mapped[str] = mapped_column(Text)
    learner_id: Mapped[str] = mapped_column(String(ID))


class AuditLogRow(Base):
    """Administrative events: accounts, keys, erasures (the tombstone), consent."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(ID))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(ID))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class XapiStatementRow(Base):
    """A received xAPI statement (kept for ``GET /xapi/statements``) and its evidence key."""

    __tablename__ = "xapi_statements"
    __table_args__ = (
        Index("ix_xapi_statements_learner", "learner_id"),
        Index("ix_xapi_statements_stored", "stored_at", "id"),  # GET's window and pages
        Index("ix_xapi_statements_authority", "authority_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    statement: Mapped[dict[str, Any]] = mapped_column(JSON)
    learner_id: Mapped[str] = mapped_column(String(ID))
    evidence_key: Mapped[str | None] = mapped_column(String(KEY))
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    voids: Mapped[str | None] = mapped_column(String(36), index=True)
    """For a voiding statement: the id of the statement it voids."""
    refers: Mapped[str | None] = mapped_column(String(36), index=True)
    """For a statement whose object is a StatementRef: the id in it (:func:`refers_to`)."""
    authority_id: Mapped[str | None] = mapped_column(String(ID))
    """The learner id (:func:`learner_of`) of its ``authority``, who sent it: where
    ``related_agents`` finds an agent as the authority (a column, not a row of
    :class:`XapiStatementAgentRow`: every statement has one)."""


class XapiStatementAgentRow(Base):
    """A learner a stored statement names besides its actor and its authority: where xAPI's
    ``agent`` filter looks (an Agent or identified Group object, a member of a Group actor
    or object), or ``related_only`` elsewhere (the instructor, the team, a member of them,
    the same in a SubStatement). Rare (most statements name their actor alone), so
    ``GET /xapi/statements?agent=`` (with ``related_agents`` or not), an export and an
    erasure find them by index instead of reading every statement."""

    __tablename__ = "xapi_statement_agents"

    learner_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    statement_id: Mapped[str] = mapped_column(
        String(36),
        ForeignKey("xapi_statements.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )
    related_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Named where only ``related_agents=true`` looks, not the ``agent`` filter."""


class XapiAttachmentRow(Base):
    """The raw bytes of an xAPI attachment, stored once by their SHA-2 however many
    statements carry them (xAPI matches an attachment to its data by hash alone)."""

    __tablename__ = "xapi_attachments"

    sha2: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(255))
    length: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)


class XapiStatementAttachmentRow(Base):
    """A stored statement whose attachment's bytes this LRS holds (it came with them):
    what ``GET /xapi/statements?attachments=true`` sends with it, and what keeps the
    bytes when a learner is erased."""

    __tablename__ = "xapi_statement_attachments"

    statement_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("xapi_statements.id", ondelete="CASCADE"), primary_key=True
    )
    sha2: Mapped[str] = mapped_column(
        String(128), ForeignKey("xapi_attachments.sha2"), primary_key=True, index=True
    )


class XapiDocumentColumns:
    """What every xAPI document row holds beside its key: the bytes as sent, their
    Content-Type, their ETag (quoted SHA-1) and when they were last written."""

    content_type: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(42))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class XapiStateRow(XapiDocumentColumns, Base):
    """An xAPI State document: what a piece of content keeps for a learner in an activity
    (a bookmark, answers so far), by ``stateId`` and optional registration (xAPI 2.3)."""

    __tablename__ = "xapi_states"

    learner_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the activity, registration and state id: a short key for long IRIs."""
    activity_id: Mapped[str] = mapped_column(Text)
    registration: Mapped[str | None] = mapped_column(String(36))
    state_id: Mapped[str] = mapped_column(Text)


class XapiAgentProfileRow(XapiDocumentColumns, Base):
    """An xAPI Agent Profile document: what content keeps about a learner across
    activities (preferences, say), by ``profileId`` (xAPI 2.6)."""

    __tablename__ = "xapi_agent_profiles"

    learner_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the profile id."""
    profile_id: Mapped[str] = mapped_column(Text)


class XapiActivityProfileRow(XapiDocumentColumns, Base):
    """An xAPI Activity Profile document: what content keeps about an activity, for
    every learner, by ``profileId`` (xAPI 2.7)."""

    __tablename__ = "xapi_activity_profiles"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the activity and profile ids."""
    activity_id: Mapped[str] = mapped_column(Text)
    profile_id: Mapped[str] = mapped_column(Text)


class RubricRow(Base):
    """A rubric as typed JSON (criteria, levels, exemplars; see ``domain/rubric.py``)."""

    __tablename__ = "rubrics"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SubmissionRow(Base):
    """One version of a learner's answer to a rubric, with its judgements and feedback."""

    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_learner", "learner_id", "rubric_id", "version", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    learner_id: Mapped[str] = mapped_column(String(ID))
    rubric_id: Mapped[str] = mapped_column(String(ID), ForeignKey("rubrics.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    judgements: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    feedback: Mapped[dict[str, Any]] = mapped_column(JSON)
    scorer: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    evidence_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Set when the version was made final and recorded as evidence."""


class ReviewRow(Base):
    """A low-confidence judgement waiting for an educator (or corrected by one)."""

    __tablename__ = "reviews"

    submission_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    criterion_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    learner_id: Mapped[str] = mapped_column(String(ID))
    proposed_level: Mapped[str] = mapped_column(String(ID))
    confidence: Mapped[float] = mapped_column(Float)
    corrected_level: Mapped[str | None] = mapped_column(String(ID))
    reviewed_by: Mapped[str | None] = mapped_column(String(ID))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PlacementRow(Base):
    """A placement (test-out) session: its settings, prior and answers (the posterior is
    rebuilt by replaying them), then its conclusions and what became of them."""

    __tablename__ = "placements"
    __table_args__ = (Index("ix_placements_learner", "learner_id", "framework_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    learner_id: Mapped[str] = mapped_column(String(ID))
    framework_id: Mapped[str] = mapped_column(String(ID))
    seed: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    prior: Mapped[dict[str, Any]] = mapped_column(JSON)
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(32))
    """open, awaiting_confirmation, recorded or rejected."""
    conclusions: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    evidence_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    started_by: Mapped[str] = mapped_column(String(ID))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(ID))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)


class BadgeStatusRow(Base):
    """One bit of the badges' revocation and suspension lists, held from a badge's first
    issue on: set (``revoked_at``) when the badge is revoked, and (``suspended_at``)
    while it is suspended. Says nothing about the learner, so it outlives an erasure: a
    revoked badge stays revoked, no later badge reuses the bit of one its learner still
    holds, and its achievement id still resolves."""

    __tablename__ = "badge_statuses"

    status_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    framework_id: Mapped[str | None] = mapped_column(String(ID))
    competency_id: Mapped[str | None] = mapped_column(String(ID))
    """The achievement of the badge (framework, competency), which its ``achievement.id``
    names: it keeps resolving after the learner is erased (not who, only what)."""


class BadgeRow(Base):
    """A badge issued to a learner for a competency, and its revocation bit. Asked for
    again, the badge is signed anew with the same bit until it is revoked."""

    __tablename__ = "badges"
    __table_args__ = (Index("ix_badges_learner", "learner_id", "framework_id", "competency_id"),)

    status_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    credential_id: Mapped[str] = mapped_column(String(100))
    learner_id: Mapped[str] = mapped_column(String(ID))
    framework_id: Mapped[str] = mapped_column(String(ID))
    competency_id: Mapped[str] = mapped_column(String(ID))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_by: Mapped[str] = mapped_column(String(ID))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(ID))
    reason: Mapped[str | None] = mapped_column(Text)


class JobRunRow(Base):
    """A scheduled job of the server (a roster sync, a backup, ...): when it last ran,
    how that went, when it is due, and the lease of the server process running it (so
    that of several processes one runs it)."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    """``ok`` or ``failed``."""
    summary: Mapped[str | None] = mapped_column(Text)
    """What the last run did (JSON), or why it failed."""
    holder: Mapped[str | None] = mapped_column(String(32))
    """Who holds the lease (a token of the run), while one runs."""
    schedule: Mapped[str | None] = mapped_column(String(96))
    """The schedule ``due_at`` was worked out by (``Job.schedule``); None before 0036."""


class RosterReadRow(Base):
    """How far the roster of a student information system (its rostering service's URL)
    has been read: the latest change among the records stored (the next read reads the
    changes from there) and when everything was last read."""

    __tablename__ = "roster_reads"

    url: Mapped[str] = mapped_column(String(ID), primary_key=True)
    modified_through: Mapped[str] = mapped_column(String(64))
    """The system's own ``dateLastModified``, as it wrote it."""
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)
    everything_read_at: Mapped[datetime] = mapped_column(UTCDateTime)
