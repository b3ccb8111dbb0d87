"""Open Badges 3.0 for mastered competencies: a learner's badges, their revocation and
suspension (``/api/v1``), and what anyone may ask for: a check of any badge
(``/badges/verify``), the revocation lists (``/badges/status/1``, then 2, ...) and the
suspension lists (``/badges/suspension/1``, ...)."""

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from masterypath.api.paths import SlashSafeRoute
from masterypath.api.query import KNOWN_QUERY
from masterypath.api.schemas import Strict, Text
from masterypath.domain.access import Action, Principal
from masterypath.domain.status_list import SUSPENSION
from masterypath.services.badges import (
    KEYS_PATH,
    STATUS_LISTS_PATH,
    SUSPENSION_LISTS_PATH,
    BadgeService,
)


class BadgeOut(BaseModel):
    credential: dict[str, Any] = Field(description="The OpenBadgeCredential (Open Badges 3.0).")
    jwt: str = Field(description="The credential signed as a compact JWS (VC-JWT, RS256).")


class VerifyIn(BaseModel):
    jwt: str = Field(min_length=1, max_length=100_000, description="A badge as a compact JWS.")


class VerificationOut(BaseModel):
    valid: bool
    problems: list[str] = Field(description="Why it is not valid; empty when it is.")
    signed_by_this_issuer: bool = Field(
        description="Whether this server's issuer key signed it (the signature is checked "
        "against the key in the badge itself)."
    )
    status: Literal["none", "active", "revoked", "suspended", "unchecked"] = Field(
        description="Its status: none (no credentialStatus), active, revoked, suspended, or "
        "unchecked (its lists are another server's, which this one does not fetch)."
    )
    credential: dict[str, Any]


class RevokeIn(Strict):
    reason: str = Field(
        min_length=1, max_length=2000, description="Why (kept with the badge and audited)."
    )


class SuspendIn(Strict):
    reason: str = Field(
        min_length=1, max_length=2000, description="Why (audited), e.g. a review under way."
    )


class IssuedBadgeOut(BaseModel):
    credential_id: str
    framework_id: str
    competency_id: str
    status_index: int = Field(description="Its bit of the revocation list.")
    issued_at: str
    issued_by: str
    revoked: bool
    revoked_at: str | None
    revoked_by: str | None
    reason: str | None
    suspended: bool
    suspended_at: str | None


def badge_router(badges: BadgeService, allow: Callable[..., Any]) -> APIRouter:
    """``GET /learners/{id}/badges/{framework}/{competency}``, for ``/api/v1``."""
    router = APIRouter(route_class=SlashSafeRoute, tags=["badges"])

    @router.get("/learners/{learner_id}/badges/{framework_id}/{competency_id}")
    def get_badge(
        learner_id: Text,
        framework_id: Text,
        competency_id: Text,
        principal: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")],
    ) -> BadgeOut:
        """The learner's Open Badges 3.0 credential for a competency they have mastered,
        signed now (a newer version of the same credential each time, with the same bit
        of the revocation list until it is revoked). 409 when the competency is not
        mastered; 503 when this server is not set up to issue badges."""
        issued = badges.issue(learner_id, framework_id, competency_id, by=principal.subject)
        return BadgeOut(**issued)

    @router.get("/learners/{learner_id}/badges")
    def list_badges(
        learner_id: Text,
        _: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")],
    ) -> list[IssuedBadgeOut]:
        """Every badge issued to the learner, revoked ones included, oldest first."""
        return [IssuedBadgeOut(**b.to_dict()) for b in badges.badges(learner_id)]

    @router.post("/learners/{learner_id}/badges/{framework_id}/{competency_id}/revoke")
    def revoke_badge(
        learner_id: Text,
        framework_id: Text,
        competency_id: Text,
        body: RevokeIn,
        principal: Annotated[Principal, allow(Action.ACT_ON_LEARNER, "learner_id")],
    ) -> list[IssuedBadgeOut]:
        """Revoke the learner's badge for a competency (an educator's decision, with a
        reason): its bit in the revocation list is set, so every copy the learner has
        shared checks as revoked. 404 when no badge of it is in force. Asking for the
        badge again later issues a new one, with a new bit, if the competency is
        mastered then."""
        revoked = badges.revoke(
            learner_id, framework_id, competency_id, reason=body.reason, by=principal.subject
        )
        return [IssuedBadgeOut(**b.to_dict()) for b in revoked]

    @router.post("/learners/{learner_id}/badges/{framework_id}/{competency_id}/suspend")
    def suspend_badge(
        learner_id: Text,
        framework_id: Text,
        competency_id: Text,
        body: SuspendIn,
        principal: Annotated[Principal, allow(Action.ACT_ON_LEARNER, "learner_id")],
    ) -> list[IssuedBadgeOut]:
        """Suspend the learner's badge for a competency until it is reinstated (a review
        under way, with a reason): its bit in the suspension list is set, so a copy the
        learner has shared checks as suspended. 404 when no badge of it is in force, 409
        when it is suspended already."""
        suspended = badges.suspend(
            learner_id, framework_id, competency_id, reason=body.reason, by=principal.subject
        )
        return [IssuedBadgeOut(**b.to_dict()) for b in suspended]

    @router.post("/learners/{learner_id}/badges/{framework_id}/{competency_id}/reinstate")
    def reinstate_badge(
        learner_id: Text,
        framework_id: Text,
        competency_id: Text,
        principal: Annotated[Principal, allow(Action.ACT_ON_LEARNER, "learner_id")],
    ) -> list[IssuedBadgeOut]:
        """Reinstate a suspended badge: its bit in the suspension list is cleared. 404
        when no badge of it is in force, 409 when it is not suspended."""
        reinstated = badges.reinstate(learner_id, framework_id, competency_id, by=principal.subject)
        return [IssuedBadgeOut(**b.to_dict()) for b in reinstated]

    return router


def verify_router(badges: BadgeService) -> APIRouter:
    """``POST /badges/verify``: open to anyone, as a badge's verifier (an employer, another
    school) has no account here."""
    router = APIRouter(route_class=SlashSafeRoute, tags=["badges"], dependencies=[KNOWN_QUERY])

    @router.post("/badges/verify")
    def verify(body: VerifyIn) -> VerificationOut:
        """Check a badge: its signature against the key it carries, and the claims the
        Open Badges 3.0 JWT format requires (issuer, id, subject, start of validity). A
        token that cannot be read is a 422."""
        return VerificationOut(**badges.verify(body.jwt).to_dict())

    @router.get(
        STATUS_LISTS_PATH + "{number}",
        response_class=Response,
        responses={200: {"content": {"application/vc+jwt": {}}}},
    )
    def status_list(number: Annotated[int, Path(ge=1, le=1_000_000)]) -> Response:
        """A revocation list of the badges: a W3C ``BitstringStatusListCredential`` signed
        as VC-JWT, where each badge's ``credentialStatus`` points (a set bit: revoked).
        List 1 holds the first badges' bits; once it is 90% used, new badges take theirs
        in list 2, and so on (a list no badge uses yet is a 404). 503 when this server
        issues no badges."""
        return Response(badges.status_list(number), media_type="application/vc+jwt")

    @router.get("/achievements/{achievement_id}")
    def achievement(achievement_id: Annotated[str, Path(max_length=100)]) -> dict[str, Any]:
        """The ``Achievement`` (Open Badges 3.0) a badge's ``achievement.id`` names, so that
        the id resolves: the competency's name, description, criteria and alignment to its
        CASE item. Only achievements some badge was issued for (404 for any other id);
        503 when this server issues no badges."""
        return badges.achievement(achievement_id)

    @router.get(KEYS_PATH)
    def keys() -> dict[str, list[dict[str, Any]]]:
        """The issuer's public key set (JWKS): the key that signs the badges and the
        status lists, then any key that signed badges before it
        (``MASTERYPATH_BADGE_PREVIOUS_KEY_FILES``), each with its ``kid``. 503 when this
        server issues no badges."""
        return {"keys": badges.published_keys()}

    @router.get(KEYS_PATH + "/{thumbprint}")
    def key(thumbprint: Annotated[str, Path(max_length=100)]) -> dict[str, Any]:
        """One of the issuer's public keys (a JWK) by its RFC 7638 thumbprint: where each
        badge's ``kid`` points, so that a verifier can fetch the key from the issuer's own
        site instead of trusting the one the badge carries. 404 for any other
        thumbprint."""
        return badges.published_key(thumbprint)

    @router.get(
        SUSPENSION_LISTS_PATH + "{number}",
        response_class=Response,
        responses={200: {"content": {"application/vc+jwt": {}}}},
    )
    def suspension_list(number: Annotated[int, Path(ge=1, le=1_000_000)]) -> Response:
        """A suspension list of the badges (``statusPurpose`` suspension: a set bit is a
        badge suspended until it is reinstated), numbered as the revocation lists, each
        badge at the same bit in both. 404 for a list no badge uses yet; 503 when this
        server issues no badges."""
        token = badges.status_list(number, SUSPENSION)
        return Response(token, media_type="application/vc+jwt")

    return router
