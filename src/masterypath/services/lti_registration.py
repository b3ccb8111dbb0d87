"""A platform registers this tool itself (LTI Dynamic Registration 1.0).

Instead of copying six values each way, an admin makes a one-time registration link here
(:meth:`LtiRegistrationService.make_link`) and pastes it into the platform (Moodle:
"Tool URL" of a new LTI Advantage tool; Canvas: an "LTI Registration" of a developer
key). The platform opens it with its OpenID configuration's URL and a registration token
(:meth:`LtiRegistrationService.register`): this tool reads the configuration, registers
itself at the platform's registration endpoint, and records the platform with the client
id (and deployment) the platform made, as an admin's registration would.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from masterypath.domain.lti import LINEITEM_SCOPE, MEMBERS_SCOPE, SCORE_SCOPE
from masterypath.domain.lti_registration import (
    read_configuration,
    registered_client,
    tool_registration,
)
from masterypath.errors import AuthenticationError, ConflictError, ValidationError
from masterypath.interop.lti_services import platform_configuration, register_tool
from masterypath.services.accounts import digest
from masterypath.services.lti import CONTROL, PLATFORM_ID, LtiService, Platform
from masterypath.store.people import PeopleRepository
from masterypath.store.tables import LtiPlatformRow, LtiRegistrationLinkRow

LINK_PREFIX = "mpr_"
LINK = re.compile(r"mpr_[A-Za-z0-9_-]{32}")
"""What a registration link's secret looks like (``mpr_`` and 24 random bytes)."""
MAX_HOURS = 24 * 7
SCOPES = (SCORE_SCOPE, LINEITEM_SCOPE, MEMBERS_SCOPE)
"""The services this tool uses: scores and its own columns back, a course's members."""
TOOL_NAME = "masterypath"


@dataclass(frozen=True)
class RegistrationLink:
    """A new registration link's secret (shown once) and until when it holds."""

    token: str
    expires_at: datetime

    @property
    def path(self) -> str:
        return f"/lti/register/{self.token}"


class LtiRegistrationService:
    """Registration links, and the registrations they start, recorded through ``lti``."""

    def __init__(self, lti: LtiService) -> None:
        self.lti = lti
        self.context = lti.context

    def make_link(self, *, by: str, hours: float = 24.0) -> RegistrationLink:
        """A new one-time link that lets one platform register this tool within ``hours``
        (at most a week); audited as ``by``."""
        if not 0 < hours <= MAX_HOURS:
            raise ValidationError("hours", f"must be more than 0 and at most {MAX_HOURS}")
        now = self.context.clock()
        token = LINK_PREFIX + secrets.token_urlsafe(24)
        expires = now + timedelta(hours=hours)
        with self.context.sessions.begin() as session:
            session.add(
                LtiRegistrationLinkRow(
                    token_hash=digest(token), created_by=by, created_at=now, expires_at=expires
                )
            )
            PeopleRepository(session).audit(
                at=now,
                actor=by,
                action="make_lti_registration_link",
                target=digest(token)[:12],
                expires_at=expires.isoformat(),
            )
        return RegistrationLink(token, expires)

    def register(self, token: str, params: Mapping[str, str], *, tool_url: str) -> Platform:
        """Register this tool at the platform that opened the link ``token`` with
        ``params`` (``openid_configuration``, ``registration_token``), and record the
        platform. The link is used up only when the platform is recorded: a registration
        that fails can be tried again with the same link."""
        config_url = params.get("openid_configuration", "")
        registration_token = params.get("registration_token") or None
        if not config_url:
            raise ValidationError(
                "openid_configuration",
                "is required: paste this link into the platform's tool registration, which "
                "opens it with its configuration",
            )
        parts = urlsplit(config_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(config_url) > 2000:
            raise ValidationError("openid_configuration", "must be an http(s) URL")
        if registration_token is not None and (
            len(registration_token) > 8000 or CONTROL.search(registration_token)
        ):
            raise ValidationError(
                "registration_token", "must be at most 8000 characters, none a control"
            )
        if CONTROL.search(config_url):
            raise ValidationError("openid_configuration", "must hold no control character")
        self._usable_link(token)
        config = read_configuration(
            platform_configuration(config_url, registration_token), url=config_url
        )
        host = urlsplit(config.issuer).hostname or "platform"
        # checked as an admin's registration is before the platform is asked to register
        # this tool: what it answers must not leave it a registration this tool refuses
        pending = Platform(
            id=_platform_id(host, set()),
            title=f"{config.product.capitalize()} ({host})" if config.product else host,
            issuer=config.issuer,
            client_id="pending",
            auth_login_url=config.authorization_endpoint,
            key_set_url=config.jwks_uri,
            deployment_ids=(),
            token_url=config.token_endpoint,
        )
        pending.check()
        answer = register_tool(
            config.registration_endpoint,
            registration_token,
            tool_registration(tool_url, name=TOOL_NAME, scopes=SCOPES, supported=config.scopes),
        )
        client_id, deployment = registered_client(answer)
        try:
            with self.context.sessions.begin() as session:
                link = self._usable_link(token, session=session)
                taken = set(session.scalars(select(LtiPlatformRow.id)))
                platform = replace(
                    pending,
                    id=_platform_id(host, taken),
                    client_id=client_id,
                    deployment_ids=(deployment,) if deployment else (),
                )
                platform.check()
                self.lti.add_platform(session, platform, by=f"registration:{link.created_by}")
                link.used_at, link.platform_id = self.context.clock(), platform.id
        except IntegrityError:
            raise ConflictError(
                "platform", config.issuer, f"is registered already with client id {client_id}"
            ) from None
        self.lti.forget_origins()
        return platform

    def _usable_link(self, token: str, *, session: Session | None = None) -> LtiRegistrationLinkRow:
        """The unused, unexpired link ``token`` is (locked, in ``session``'s transaction)."""
        refused = AuthenticationError(
            "registration link: unknown, used or expired; an admin makes a new one "
            "(masterypath lti registration-link, or the accounts page)"
        )
        if not LINK.fullmatch(token):
            raise refused
        now = self.context.clock()
        if session is None:
            with self.context.sessions() as reading:
                row = reading.get(LtiRegistrationLinkRow, digest(token))
        else:
            row = session.get(LtiRegistrationLinkRow, digest(token), with_for_update=True)
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise refused
        return row


def _platform_id(host: str, taken: set[str]) -> str:
    """A free platform id made of the issuer's host.

    >>> _platform_id("lms.school.org", {"lms-school-org"})
    'lms-school-org-2'
    """
    base = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")[:56] or "platform"
    candidate, n = base, 1
    while candidate in taken or not PLATFORM_ID.fullmatch(candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate
