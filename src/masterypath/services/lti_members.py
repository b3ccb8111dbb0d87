"""A course's members read from its learning platform (IMS LTI Names and Role
Provisioning Services 2.0): each active learner and teacher gets their account and place
in the course's cohort before their first launch, and a learner the platform lists as no
longer active leaves the cohort (their account and records stay)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from masterypath.domain.access import Role
from masterypath.domain.lti import MEMBERS_SCOPE, Launch, member_launch
from masterypath.errors import ConfigurationError, NotFoundError, ValidationError
from masterypath.interop.lti_services import (
    PlatformRefusedError,
    access_token,
    client_assertion,
    get_json,
)
from masterypath.services.lti import LtiService, Platform, platform_of
from masterypath.store.lti import LtiRepository
from masterypath.store.tables import LtiContextRow

MEMBERSHIP_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 200
"""A course's membership is read at most this many pages (a platform that pages forever
stops here, said in the report)."""


@dataclass
class MemberReport:
    """What reading the courses' members did."""

    courses: int = 0
    members: int = 0
    """Active members with a part here, each in their course's cohort now."""
    accounts_linked: int = 0
    """Members whose platform user got an account here (a new one, or a roster learner's)."""
    removed: int = 0
    """Learners no longer active in a course, taken out of its cohort."""
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class LtiMemberService:
    """Reads members with the tool key of ``lti``, and provisions them as ``lti`` does a
    launch."""

    def __init__(self, lti: LtiService) -> None:
        self.lti = lti
        self.context = lti.context

    def sync_members(
        self,
        platform_id: str | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> MemberReport:
        """Read the members of every course launched from (of ``platform_id`` only, if
        given) whose platform offers its membership list. ``progress`` is told how many
        courses are done of how many."""
        with self.context.sessions() as session:
            repo = LtiRepository(session)
            if platform_id is not None and repo.platform(platform_id) is None:
                raise NotFoundError("platform", platform_id)
            if self.lti.tool_key is None:
                raise ConfigurationError(
                    "MASTERYPATH_LTI_KEY_FILE: required to read a course's members"
                )
            platforms = {p.id: platform_of(p) for p in repo.platforms()}
            courses = repo.contexts(platform_id)
            session.expunge_all()
        report = MemberReport()
        tokens: dict[str, str] = {}
        for done, course in enumerate(courses, 1):
            self._sync_course(platforms[course.platform_id], course, tokens, report)
            if progress is not None:
                progress(done, len(courses))
        return report

    def _sync_course(
        self,
        platform: Platform,
        course: LtiContextRow,
        tokens: dict[str, str],
        report: MemberReport,
    ) -> None:
        where = f"{course.title} ({platform.id}, course {course.context_id})"
        if platform.token_url is None:
            report.skipped.append(f"{where}: the platform has no token URL registered")
            return
        try:
            members = self._members(platform, course.memberships_url, tokens)
        except PlatformRefusedError as exc:
            report.failed.append(f"{where}: {exc}")
            return
        now = self.context.clock()
        report.courses += 1
        for member in members:
            try:
                launch = member_launch(
                    member,
                    deployment_id=course.deployment_id,
                    context_id=course.context_id,
                    context_title=course.title,
                )
            except ValidationError as exc:
                report.skipped.append(f"{where}: a member: {exc}")
                continue
            if launch is None:
                report.removed += self._leave(platform, course, member)
                continue
            # the course's cohort as kept (a roster's class, when the launch named one)
            launch = _in_cohort(launch, course.cohort_id)
            with self.context.sessions() as session:
                known = LtiRepository(session).account_of(platform.id, launch.subject, launch.role)
            self.lti.provision(platform, launch, now)
            report.members += 1
            report.accounts_linked += known is None
        with self.context.sessions.begin() as session:
            LtiRepository(session).synced(platform.id, course.context_id, at=now)

    def _members(
        self, platform: Platform, url: str, tokens: dict[str, str]
    ) -> list[dict[str, Any]]:
        assert platform.token_url is not None
        assert self.lti.tool_key is not None
        platform.check_service_url(url, "member list")  # before a token is asked for it
        if platform.id not in tokens:
            assertion = client_assertion(
                client_id=platform.client_id,
                token_url=platform.token_url,
                key=self.lti.tool_key,
                now=self.context.clock(),
            )
            tokens[platform.id] = access_token(platform.token_url, assertion, MEMBERS_SCOPE)[0]
        members: list[dict[str, Any]] = []
        next_page: str | None = url
        for _ in range(MAX_PAGES):
            if next_page is None:
                return members
            platform.check_service_url(next_page, "member list")
            page, next_page = get_json(next_page, tokens[platform.id], MEMBERSHIP_TYPE)
            found = page.get("members", [])
            if not isinstance(found, list):
                raise PlatformRefusedError(f"{url}: members is not a list")
            members.extend(m for m in found if isinstance(m, dict))
        raise PlatformRefusedError(f"{url}: more than {MAX_PAGES} pages of members")

    def _leave(self, platform: Platform, course: LtiContextRow, member: dict[str, Any]) -> int:
        """Take a learner who is no longer active out of the course's cohort: 1 if they
        were in it."""
        subject = member.get("user_id")
        if not isinstance(subject, str):
            return 0
        with self.context.sessions.begin() as session:
            repo = LtiRepository(session)
            account = repo.account_of(platform.id, subject, Role.LEARNER)
            if account is None or account.learner_id is None:
                return 0
            return int(repo.leave_cohort(course.cohort_id, account.learner_id))


def _in_cohort(launch: Launch, cohort_id: str) -> Launch:
    return replace(launch, section_sourced_id=cohort_id)
