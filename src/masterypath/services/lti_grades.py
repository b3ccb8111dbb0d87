"""Grades back to a learning platform's gradebook (IMS LTI Assignment and Grade Services):
each launched learner's score for a link (competencies mastered of the framework it names)
posted to the line item their launch named, where it changed since it was last sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from masterypath.domain.lti import score_of
from masterypath.domain.policy import Status
from masterypath.errors import ConfigurationError, NotFoundError
from masterypath.interop.lti_services import (
    PlatformRefusedError,
    access_token,
    client_assertion,
    post_score,
)
from masterypath.interop.lti_tool_key import ToolKey
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from masterypath.services.lti import Platform, platform_of
from masterypath.services.mastery import MasteryService
from masterypath.store.lti import LtiRepository
from masterypath.store.tables import LtiGradeLinkRow


@dataclass
class GradeReport:
    """What sending grades back did: scores sent, those the platform has already, and the
    links skipped or refused (each said in words)."""

    sent: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class LtiGradeService:
    """Sends scores with ``tool_key`` (without one, sending is a configuration error)."""

    def __init__(
        self,
        context: ServiceContext,
        *,
        tool_key: ToolKey | None,
        mastery: MasteryService | None = None,
    ) -> None:
        self.context = context
        self.tool_key = tool_key
        self.mastery = mastery or MasteryService(context)
        self.frameworks = FrameworkService(context)

    def send_grades(
        self,
        platform_id: str | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> GradeReport:
        """Send each launched learner's score (competencies mastered of the link's
        framework) to the platform's gradebook, where it changed since last sent.
        ``progress`` is told how many links are done of how many."""
        now = self.context.clock()
        with self.context.sessions() as session:
            repo = LtiRepository(session)
            if platform_id is not None and repo.platform(platform_id) is None:
                raise NotFoundError("platform", platform_id)
            if self.tool_key is None:
                raise ConfigurationError(
                    "MASTERYPATH_LTI_KEY_FILE: required to send grades (masterypath lti key PATH)"
                )
            platforms = {p.id: platform_of(p) for p in repo.platforms()}
            links = repo.grade_links(platform_id)
            session.expunge_all()
        report = GradeReport()
        tokens: dict[str, str] = {}
        for done, link in enumerate(links, 1):
            self._send_grade(platforms[link.platform_id], link, tokens, report, now)
            if progress is not None:
                progress(done, len(links))
        return report

    def _send_grade(
        self,
        platform: Platform,
        link: LtiGradeLinkRow,
        tokens: dict[str, str],
        report: GradeReport,
        now: datetime,
    ) -> None:
        where = f"{link.learner_id} ({platform.id}, link {link.resource_link_id})"
        if platform.token_url is None:
            report.skipped.append(f"{where}: the platform has no token URL registered")
            return
        if link.framework_id is None:
            report.skipped.append(f"{where}: the link names no framework (custom framework=ID)")
            return
        try:
            framework = self.frameworks.get(link.framework_id)
            statuses = self.mastery.progress(link.learner_id, link.framework_id, now=now)
        except NotFoundError as exc:
            report.skipped.append(f"{where}: {exc}")
            return
        score = score_of((p.decision.status is Status.MASTERED for p in statuses), framework.title)
        share = score.given / score.maximum if score.maximum else 0.0
        if link.sent_score == share:
            report.unchanged += 1
            return
        try:
            platform.check_service_url(link.lineitem, "line item")
            if platform.id not in tokens:
                assert self.tool_key is not None
                assertion = client_assertion(
                    client_id=platform.client_id,
                    token_url=platform.token_url,
                    key=self.tool_key,
                    now=now,
                )
                tokens[platform.id] = access_token(platform.token_url, assertion)[0]
            post_score(
                link.lineitem, tokens[platform.id], score.to_json(link.subject, now.isoformat())
            )
        except PlatformRefusedError as exc:
            report.failed.append(f"{where}: {exc}")
            return
        with self.context.sessions.begin() as session:
            LtiRepository(session).grade_sent(link, share=share, at=now)
        report.sent += 1
