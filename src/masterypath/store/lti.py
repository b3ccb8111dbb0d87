"""Registered LTI platforms, launches begun, and which account a platform's user launches
as (never commits)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from masterypath.domain.access import Role
from masterypath.domain.lti import Launch
from masterypath.store.tables import (
    CohortEducatorRow,
    CohortMemberRow,
    CohortRow,
    LtiAccountRow,
    LtiContextRow,
    LtiGradeLinkRow,
    LtiLoginRow,
    LtiPlatformRow,
    UserRow,
)


class LtiRepository:
    """The LTI tables of one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def platforms(self) -> list[LtiPlatformRow]:
        return list(self.session.scalars(select(LtiPlatformRow).order_by(LtiPlatformRow.id)))

    def platform(self, platform_id: str, *, for_update: bool = False) -> LtiPlatformRow | None:
        return self.session.get(LtiPlatformRow, platform_id, with_for_update=for_update)

    def platforms_of(self, issuer: str, client_id: str | None) -> list[LtiPlatformRow]:
        """The platforms registered for ``issuer`` (and ``client_id`` when given)."""
        query = select(LtiPlatformRow).where(LtiPlatformRow.issuer == issuer)
        if client_id is not None:
            query = query.where(LtiPlatformRow.client_id == client_id)
        return list(self.session.scalars(query.order_by(LtiPlatformRow.id)))

    def remove_platform(self, platform_id: str) -> bool:
        # its logins and account links go with it (foreign keys cascade; said here too,
        # for a SQLite connection made without them)
        for table in (LtiLoginRow, LtiAccountRow, LtiGradeLinkRow, LtiContextRow):
            self.session.execute(delete(table).where(table.platform_id == platform_id))
        gone = self.session.execute(delete(LtiPlatformRow).where(LtiPlatformRow.id == platform_id))
        return bool(getattr(gone, "rowcount", 0))

    def take_login(self, state: str) -> LtiLoginRow | None:
        """The login begun with ``state``, deleted so that it is used once."""
        row = self.session.get(LtiLoginRow, state, with_for_update=True)
        if row is not None:
            self.session.delete(row)
        return row

    def forget_logins(self, *, before: datetime) -> None:
        self.session.execute(delete(LtiLoginRow).where(LtiLoginRow.created_at < before))

    def logins_begun(self, platform_id: str) -> int:
        """How many launches of the platform are begun and not completed."""
        query = select(func.count()).where(LtiLoginRow.platform_id == platform_id)
        return int(self.session.scalar(query) or 0)

    def account_of(self, platform_id: str, subject: str, role: Role) -> UserRow | None:
        """The account a platform's user launches as in ``role``, if linked."""
        return self.session.scalars(
            select(UserRow)
            .join(LtiAccountRow, LtiAccountRow.user_id == UserRow.id)
            .where(
                LtiAccountRow.platform_id == platform_id,
                LtiAccountRow.subject == subject,
                LtiAccountRow.role == role.value,
            )
        ).first()

    def username_taken(self, username: str) -> bool:
        query = select(UserRow.id).where(UserRow.username == username)
        return self.session.scalar(query) is not None

    def learner_account(self, learner_id: str) -> UserRow | None:
        return self.session.scalars(
            select(UserRow).where(UserRow.learner_id == learner_id).order_by(UserRow.created_at)
        ).first()

    def keep_grade_link(
        self, platform_id: str, launch: Launch, *, learner_id: str, now: datetime
    ) -> None:
        """Keep where the learner's score for the launch's link goes (the latest launch's
        line item and framework)."""
        key = (platform_id, launch.resource_link_id or "", learner_id)
        row = self.session.get(LtiGradeLinkRow, key)
        if row is None:
            row = LtiGradeLinkRow(
                platform_id=platform_id,
                resource_link_id=key[1],
                learner_id=learner_id,
                created_at=now,
            )
            self.session.add(row)
        lineitem = launch.lineitem
        if lineitem is None:  # the tool's own column, kept while it is the same framework's
            same = (row.framework_id, row.lineitems) == (launch.framework_id, launch.lineitems)
            lineitem = (row.lineitem or "") if same else ""
        if (row.lineitem, row.framework_id) != (lineitem, launch.framework_id):
            row.sent_score = None  # another line item or framework: send it again
        row.subject, row.lineitem, row.framework_id, row.lineitems = (
            launch.subject,
            lineitem,
            launch.framework_id,
            launch.lineitems,
        )

    def keep_context(
        self,
        platform_id: str,
        context_id: str,
        *,
        title: str,
        deployment_id: str,
        memberships_url: str,
        cohort_id: str,
        now: datetime,
    ) -> None:
        """Keep a course launched from whose members can be read (the latest URL)."""
        row = self.session.get(LtiContextRow, (platform_id, context_id))
        if row is None:
            row = LtiContextRow(platform_id=platform_id, context_id=context_id, created_at=now)
            self.session.add(row)
        row.cohort_id, row.title, row.deployment_id = cohort_id, title, deployment_id
        row.memberships_url = memberships_url

    def contexts(self, platform_id: str | None) -> list[LtiContextRow]:
        query = select(LtiContextRow)
        if platform_id is not None:
            query = query.where(LtiContextRow.platform_id == platform_id)
        order = (LtiContextRow.platform_id, LtiContextRow.context_id)
        return list(self.session.scalars(query.order_by(*order)))

    def synced(self, platform_id: str, context_id: str, *, at: datetime) -> None:
        self.session.execute(
            update(LtiContextRow)
            .where(LtiContextRow.platform_id == platform_id, LtiContextRow.context_id == context_id)
            .values(synced_at=at)
        )

    def leave_cohort(self, cohort_id: str, learner_id: str) -> bool:
        gone = self.session.execute(
            delete(CohortMemberRow).where(
                CohortMemberRow.cohort_id == cohort_id, CohortMemberRow.learner_id == learner_id
            )
        )
        return bool(getattr(gone, "rowcount", 0))

    def grade_links(self, platform_id: str | None) -> list[LtiGradeLinkRow]:
        query = select(LtiGradeLinkRow)
        if platform_id is not None:
            query = query.where(LtiGradeLinkRow.platform_id == platform_id)
        order = (
            LtiGradeLinkRow.platform_id,
            LtiGradeLinkRow.resource_link_id,
            LtiGradeLinkRow.learner_id,
        )
        return list(self.session.scalars(query.order_by(*order)))

    def line_item_made(self, link: LtiGradeLinkRow, lineitem: str) -> None:
        """Keep the column made (or found) for ``link``'s course link and framework, for
        every learner of that link still without one."""
        self.session.execute(
            update(LtiGradeLinkRow)
            .where(
                LtiGradeLinkRow.platform_id == link.platform_id,
                LtiGradeLinkRow.resource_link_id == link.resource_link_id,
                LtiGradeLinkRow.framework_id == link.framework_id,
                LtiGradeLinkRow.lineitems == link.lineitems,
                LtiGradeLinkRow.lineitem == "",
            )
            .values(lineitem=lineitem)
        )

    def forget_line_item(self, link: LtiGradeLinkRow) -> None:
        """Forget the column ``link`` scores in, for every learner of its link (it is gone
        from the platform), so that its scores are sent again to a new one."""
        self.session.execute(
            update(LtiGradeLinkRow)
            .where(
                LtiGradeLinkRow.platform_id == link.platform_id,
                LtiGradeLinkRow.resource_link_id == link.resource_link_id,
                LtiGradeLinkRow.lineitem == link.lineitem,
            )
            .values(lineitem="", sent_score=None)
        )

    def grade_sent(self, link: LtiGradeLinkRow, *, share: float, at: datetime) -> None:
        self.session.execute(
            update(LtiGradeLinkRow)
            .where(
                LtiGradeLinkRow.platform_id == link.platform_id,
                LtiGradeLinkRow.resource_link_id == link.resource_link_id,
                LtiGradeLinkRow.learner_id == link.learner_id,
            )
            .values(sent_score=share, sent_at=at)
        )

    def has_cohort(self, cohort_id: str) -> bool:
        return self.session.get(CohortRow, cohort_id) is not None

    def join_cohort(
        self,
        cohort_id: str,
        title: str,
        *,
        learner_id: str | None,
        user_id: str | None,
        now: datetime,
    ) -> None:
        """Make the cohort if there is none, and put the learner (or the educator) in it."""
        if self.session.get(CohortRow, cohort_id) is None:
            self.session.add(CohortRow(id=cohort_id, title=title, created_at=now))
            self.session.flush()
        if (
            learner_id is not None
            and self.session.get(CohortMemberRow, (cohort_id, learner_id)) is None
        ):
            self.session.add(CohortMemberRow(cohort_id=cohort_id, learner_id=learner_id))
        if (
            user_id is not None
            and self.session.get(CohortEducatorRow, (cohort_id, user_id)) is None
        ):
            self.session.add(CohortEducatorRow(cohort_id=cohort_id, user_id=user_id))
