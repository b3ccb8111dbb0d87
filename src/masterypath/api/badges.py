"""Open Badges 3.0 for mastered competencies: a learner's badge (``/api/v1``), and a
check of any badge that anyone may ask for (``/badges/verify``)."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from masterypath.api.paths import SlashSafeRoute
from masterypath.api.query import KNOWN_QUERY
from masterypath.api.schemas import Text
from masterypath.domain.access import Action, Principal
from masterypath.services.badges import BadgeService


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
    credential: dict[str, Any]


def badge_router(badges: BadgeService, allow: Callable[..., Any]) -> APIRouter:
    """``GET /learners/{id}/badges/{framework}/{competency}``, for ``/api/v1``."""
    router = APIRouter(route_class=SlashSafeRoute, tags=["badges"])

    @router.get("/learners/{learner_id}/badges/{framework_id}/{competency_id}")
    def get_badge(
        learner_id: Text,
        framework_id: Text,
        competency_id: Text,
        _: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")],
    ) -> BadgeOut:
        """The learner's Open Badges 3.0 credential for a competency they have mastered,
        signed now (a newer version of the same credential each time). 409 when the
        competency is not mastered; 503 when this server is not set up to issue badges."""
        return BadgeOut(**badges.issue(learner_id, framework_id, competency_id))

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

    return router
