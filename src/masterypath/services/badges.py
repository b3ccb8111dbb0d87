"""Open Badges 3.0 for mastered competencies: build, sign, verify (see
``domain/badges.py`` for the credential and ``interop/vc_jwt.py`` for the proof).

Nothing is stored: a badge is read from the same states as every other view (the
competency's status, an educator's override included), and asking again signs a newer
version of the same credential."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from masterypath.domain.badges import Issuer, achievement_credential, claim_problems, jwt_claims
from masterypath.domain.policy import Status
from masterypath.errors import ConfigurationError, ConflictError, NotFoundError, ValidationError
from masterypath.interop import vc_jwt
from masterypath.interop.case import case_identifier
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from masterypath.settings import Settings

UNCONFIGURED = (
    "this server issues no badges: set MASTERYPATH_BADGE_KEY_FILE (make a key with "
    "`masterypath badges key PATH`) and MASTERYPATH_BADGE_ISSUER_URL"
)


@dataclass(frozen=True)
class BadgeSigner:
    """The issuer's identity and signing key."""

    issuer: Issuer
    key: rsa.RSAPrivateKey

    @classmethod
    def from_settings(cls, settings: Settings) -> BadgeSigner | None:
        """The configured signer; None when badges are not configured at all, and a
        :class:`ConfigurationError` naming the setting when they are half-configured or
        the key cannot be used."""
        key_file, url = settings.badge_key_file, settings.badge_issuer_url
        if not key_file and not url:
            return None
        if not key_file or not url:
            missing = (
                "MASTERYPATH_BADGE_KEY_FILE" if not key_file else "MASTERYPATH_BADGE_ISSUER_URL"
            )
            raise ConfigurationError(f"{missing}: required to issue badges")
        try:
            return cls(
                Issuer(id=url, name=settings.badge_issuer_name), vc_jwt.read_key(Path(key_file))
            )
        except ValidationError as exc:
            raise ConfigurationError(f"badge settings: {exc}") from None


@dataclass(frozen=True)
class Verification:
    """What checking a badge found: valid when ``problems`` is empty."""

    problems: list[str]
    credential: dict[str, Any]
    signed_by_this_issuer: bool

    @property
    def valid(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "problems": self.problems,
            "signed_by_this_issuer": self.signed_by_this_issuer,
            "credential": self.credential,
        }


class BadgeService:
    def __init__(self, context: ServiceContext, signer: BadgeSigner | None) -> None:
        self.context = context
        self.signer = signer

    def issue(self, learner_id: str, framework_id: str, competency_id: str) -> dict[str, Any]:
        """The learner's badge for a competency they have mastered: the credential and
        its compact JWS (``jwt``). A competency not mastered (now) is a
        :class:`ConflictError`."""
        signer = self._signer()
        now = self.context.clock()
        progress = MasteryService(self.context).progress(learner_id, framework_id, now=now)
        found = next((p for p in progress if p.competency_id == competency_id), None)
        if found is None:
            raise NotFoundError("competency", competency_id)
        if found.decision.status is not Status.MASTERED:
            raise ConflictError(
                "competency_id",
                competency_id,
                f"not mastered by learner {learner_id!r} (status: {found.decision.status})",
            )
        framework = FrameworkService(self.context).get(framework_id)
        credential = achievement_credential(
            issuer=signer.issuer,
            framework=framework,
            competency_id=competency_id,
            learner_id=learner_id,
            salt=secrets.token_hex(8),
            valid_from=now,
            alignment_url=f"urn:uuid:{case_identifier(framework_id, competency_id)}",
        )
        return {"credential": credential, "jwt": vc_jwt.sign(jwt_claims(credential), signer.key)}

    def verify(self, token: str, *, now: datetime | None = None) -> Verification:
        """Check a badge's signature and claims (Open Badges 3.0 VC-JWT), and whether
        this server's issuer key signed it. A token that cannot be read at all is a
        :class:`ValidationError`."""
        header, claims = vc_jwt.verify(token.strip())
        problems = claim_problems(claims, now=now or self.context.clock())
        ours = self.signer is not None and header.get("jwk") == vc_jwt.public_jwk(self.signer.key)
        credential = {
            k: v for k, v in claims.items() if k not in ("iss", "jti", "nbf", "sub", "exp")
        }
        return Verification(problems, credential, ours)

    def _signer(self) -> BadgeSigner:
        if self.signer is None:
            raise ConfigurationError(UNCONFIGURED)
        return self.signer
