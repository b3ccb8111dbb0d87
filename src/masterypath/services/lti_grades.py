"""Grades back to a learning platform's gradebook (IMS LTI Assignment and Grade Services):
each launched learner's score for a link (competencies mastered of the framework it names)
posted to the line item their launch named, where it changed since it was last sent. A
launch that named no line item but let the tool make one gets the tool's own column."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from masterypath.domain.lti import (
    LINEITEM_SCOPE,
    LINEITEM_TAG,
    SCORE_SCOPE,
    is_own_line_item,
    line_item,
    score_of,
)
from masterypath.domain.policy import Status
from masterypath.errors import ConfigurationError, NotFoundError
from masterypath.interop.lti_services import (
    PlatformRefusedError,
    access_token,
    client_assertion,
    line_items,
    make_line_item,
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
        tokens: dict[tuple[str, str], str] = {}
        for done, link in enumerate(links, 1):
            self._send_grade(platforms[link.platform_id], link, tokens, report, now)
            if progress is not None:
                progress(done, len(links))
        return report

    def _send_grade(
        self,
        platform: Platform,
        link: LtiGradeLinkRow,
        tokens: dict[tuple[str, str], str],
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
            lineitem = link.lineitem or self._own_line_item(
                platform, link, framework.title, score.maximum, tokens, now
            )
            platform.check_service_url(lineitem, "line item")
            token = self._token(platform, SCORE_SCOPE, tokens, now)
            post_score(lineitem, token, score.to_json(link.subject, now.isoformat()))
        except PlatformRefusedError as exc:
            gone = exc.status == 404 and link.lineitems is not None and link.lineitem != ""
            if gone:  # the tool's own column, deleted on the platform: made again next run
                with self.context.sessions.begin() as session:
                    LtiRepository(session).forget_line_item(link)
            again = " (the tool's column is gone: it is made again at the next run)"
            report.failed.append(f"{where}: {exc}{again if gone else ''}")
            return
        with self.context.sessions.begin() as session:
            LtiRepository(session).grade_sent(link, share=share, at=now)
        report.sent += 1

    def _own_line_item(
        self,
        platform: Platform,
        link: LtiGradeLinkRow,
        title: str,
        competencies: int,
        tokens: dict[tuple[str, str], str],
        now: datetime,
    ) -> str:
        """The column this tool made in the course's gradebook for ``link``'s course link
        and framework: found among the container's columns (another learner's first score
        made it), else made now; kept for every learner of the link."""
        assert link.lineitems is not None
        assert link.framework_id is not None
        platform.check_service_url(link.lineitems, "line item container")
        token = self._token(platform, LINEITEM_SCOPE, tokens, now)
        wanted = {"resource_link_id": link.resource_link_id, "resource_id": link.framework_id}
        found: list[str] = [
            item["id"]
            for item in line_items(link.lineitems, token, wanted | {"tag": LINEITEM_TAG})
            if is_own_line_item(item, link.framework_id, link.resource_link_id)
        ]
        if found:
            lineitem = found[0]
        else:
            item = line_item(link.framework_id, title, competencies, link.resource_link_id)
            made = make_line_item(link.lineitems, token, item).get("id")
            if not isinstance(made, str):
                raise PlatformRefusedError(f"{link.lineitems}: the new column has no id")
            lineitem = made
        platform.check_service_url(lineitem, "line item")  # an http(s) URL of its sites
        with self.context.sessions.begin() as session:
            LtiRepository(session).line_item_made(link, lineitem)
        return lineitem

    def _token(
        self, platform: Platform, scope: str, tokens: dict[tuple[str, str], str], now: datetime
    ) -> str:
        """An access token of ``platform`` for ``scope``, got once a run."""
        if (platform.id, scope) not in tokens:
            assert self.tool_key is not None
            assert platform.token_url is not None
            assertion = client_assertion(
                client_id=platform.client_id,
                token_url=platform.token_url,
                key=self.tool_key,
                now=now,
            )
            tokens[platform.id, scope] = access_token(platform.token_url, assertion, scope)[0]
        return tokens[platform.id, scope]
