"""Open Badges 3.0 credentials for mastered competencies (pure: the time, the salt and
the alignment's target are passed in).

A learner who has mastered a competency can hold it as an ``OpenBadgeCredential``: a W3C
Verifiable Credential (Data Model 2.0) whose subject achieved an ``Achievement`` of type
``Competency``, aligned to the competency's CASE item, issued by the school's
``Profile``. :func:`achievement_credential` builds it; :func:`jwt_claims` adds the claims
of the JSON Web Token proof format (Open Badges 3.0, "Proofs", the JWT payload is the
credential plus ``iss``, ``jti``, ``nbf`` and ``sub``); :func:`claim_problems` makes the
verifier's checks of that format. Signing is an adapter's work (``interop/vc_jwt.py``).

The learner is named only by a stable, opaque ``urn:uuid`` and by a salted SHA-256 of
their (already pseudonymous) id, which the school can check and no one else can invert.
The credential's id is stable too: issuing it again gives a newer version of the same
credential (a later ``validFrom``), as the data model intends.

>>> from datetime import UTC, datetime
>>> from masterypath.domain.framework import Competency, Framework
>>> fw = Framework(id="sql", title="Databases", competencies=(Competency("join", "Join"),))
>>> issuer = Issuer(id="https://school.example/", name="Example School")
>>> badge = achievement_credential(
...     issuer=issuer, framework=fw, competency_id="join", learner_id="kim",
...     salt="s4lt", valid_from=datetime(2026, 12, 6, 10, tzinfo=UTC),
...     alignment_url="urn:uuid:0a1b")
>>> badge["type"], badge["validFrom"], badge["credentialSubject"]["achievement"]["name"]
(['VerifiableCredential', 'OpenBadgeCredential'], '2026-12-06T10:00:00Z', 'Join')
>>> claims = jwt_claims(badge)
>>> claims["iss"], claims["nbf"], claim_problems(claims, now=datetime(2027, 1, 1, tzinfo=UTC))
('https://school.example/', 1796551200, [])
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from masterypath.domain.framework import Framework
from masterypath.errors import ValidationError

CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
TYPES = ["VerifiableCredential", "OpenBadgeCredential"]
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://masterypath.invalid/badges")
"""Names the stable ids (credential, subject) by what they identify."""


@dataclass(frozen=True)
class Issuer:
    """The school (or programme) that issues badges: its ``Profile``."""

    id: str
    """An http(s) URL that identifies the issuer (``MASTERYPATH_BADGE_ISSUER_URL``)."""
    name: str

    def __post_init__(self) -> None:
        if not self.id.startswith(("https://", "http://")):
            raise ValidationError("issuer.id", f"{self.id!r} is not an http(s) URL")
        if not self.name.strip():
            raise ValidationError("issuer.name", "must not be empty")


def achievement_id(issuer: Issuer, framework_id: str, competency_id: str) -> str:
    """The URL that identifies the Achievement of mastering a competency, under the
    issuer's (stable: the same competency always has the same id).

    >>> school = Issuer("https://school.example/", "School")
    >>> achievement_id(school, "sql", "select") == achievement_id(school, "sql", "select")
    True
    >>> achievement_id(school, "sql", "select").startswith("https://school.example/achievements/")
    True
    """
    return f"{issuer.id.rstrip('/')}/achievements/{_stable_id(framework_id, competency_id)}"


def competency_achievement(
    *, issuer: Issuer, framework: Framework, competency_id: str, alignment_url: str
) -> dict[str, Any]:
    """The ``Achievement`` of mastering a competency (what a badge is for): its name,
    description, criteria and its alignment to the competency's CASE item."""
    competency = framework.competency(competency_id)
    return {
        "id": achievement_id(issuer, framework.id, competency_id),
        "type": ["Achievement"],
        "achievementType": "Competency",
        "name": competency.title,
        "description": competency.description or competency.title,
        "criteria": {
            "narrative": (
                f"Mastery of this competency of “{framework.title}”, decided from the "
                "learner's evidence by the framework's mastery policy (masterypath): the "
                "estimated probability of mastery reached the policy's threshold on enough "
                "evidence, with every prerequisite the policy gates on mastered first."
            )
        },
        "alignment": [
            {
                "type": ["Alignment"],
                "targetName": competency.title,
                "targetUrl": alignment_url,
                "targetType": "CFItem",
                "targetFramework": framework.title,
                "targetCode": competency.code or competency.id,
            }
        ],
    }


def achievement_credential(
    *,
    issuer: Issuer,
    framework: Framework,
    competency_id: str,
    learner_id: str,
    salt: str,
    valid_from: datetime,
    alignment_url: str,
    status: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The (unsigned) ``OpenBadgeCredential`` saying the learner achieved the competency.
    ``valid_from`` is kept to the second (the JWT's ``nbf`` must equal it);
    ``alignment_url`` is the competency's CASE item URI; ``status`` its
    ``credentialStatus`` (where its revocation is published: ``domain/status_list.py``)."""
    if valid_from.tzinfo is None:
        raise ValidationError("valid_from", "must be timezone-aware")
    competency = framework.competency(competency_id)
    achievement = competency_achievement(
        issuer=issuer, framework=framework, competency_id=competency_id, alignment_url=alignment_url
    )
    identity = hashlib.sha256((learner_id + salt).encode()).hexdigest()
    return {
        "@context": list(CONTEXT),
        "id": f"urn:uuid:{_stable_id(issuer.id, learner_id, framework.id, competency_id)}",
        "type": list(TYPES),
        "issuer": {"id": issuer.id, "type": ["Profile"], "name": issuer.name},
        "validFrom": iso_utc(valid_from.replace(microsecond=0)),
        "name": competency.title,
        "description": f"{competency.title} ({framework.title}), mastered.",
        "credentialSubject": {
            "id": f"urn:uuid:{_stable_id(issuer.id, learner_id)}",
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": f"sha256${identity}",
                    "identityType": "identifier",
                    "hashed": True,
                    "salt": salt,
                }
            ],
            "achievement": achievement,
        },
    } | ({} if status is None else {"credentialStatus": dict(status)})


def jwt_claims(credential: Mapping[str, Any]) -> dict[str, Any]:
    """The JWT payload of the JSON Web Token proof format: the credential with the
    claims that repeat its issuer, id, start of validity and subject."""
    return {
        **credential,
        "iss": _issuer_id(credential),
        "jti": credential["id"],
        "nbf": int(_parse(credential["validFrom"]).timestamp()),
        "sub": credential["credentialSubject"]["id"],
    }


def claim_problems(payload: Mapping[str, Any], *, now: datetime) -> list[str]:
    """What makes a verified JWT payload not a valid ``OpenBadgeCredential`` at ``now``
    (the format's verification steps); empty when there is nothing."""
    problems: list[str] = []
    listed = payload.get("type")
    types = {t for t in listed if isinstance(t, str)} if isinstance(listed, list) else set()
    if "VerifiableCredential" not in types:
        problems.append("type: not a VerifiableCredential")
    elif not {"OpenBadgeCredential", "AchievementCredential"} & types:
        problems.append("type: not an OpenBadgeCredential")
    subject = payload.get("credentialSubject")
    expected = {
        "iss": _issuer_id(payload),
        "jti": payload.get("id"),
        "sub": subject.get("id") if isinstance(subject, Mapping) else None,
    }
    for claim, value in expected.items():
        if payload.get(claim) is None or payload.get(claim) != value:
            problems.append(f"{claim}: does not match the credential")
    try:
        valid_from = _parse(str(payload.get("validFrom")))
    except ValueError:
        problems.append("validFrom: not a date-time")
    else:
        if payload.get("nbf") != int(valid_from.timestamp()):
            problems.append("nbf: does not match validFrom")
        elif valid_from > now:
            problems.append("validFrom: not yet valid")
    if "exp" in payload and (
        not isinstance(payload["exp"], int) or payload["exp"] < now.timestamp()
    ):
        problems.append("exp: expired")
    return problems


def _issuer_id(credential: Mapping[str, Any]) -> Any:
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, Mapping) else issuer


def _stable_id(*parts: str) -> uuid.UUID:
    # the parts joined unambiguously: ids may hold any character but NUL
    return uuid.uuid5(NAMESPACE, "\x00".join(parts))


def iso_utc(at: datetime) -> str:
    """``at`` in UTC as the credentials write it (``...Z``)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError("no time zone")
    return at
