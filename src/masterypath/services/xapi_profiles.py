"""The xAPI Agent Profile and Activity Profile resources (``/xapi/agents/profile``,
``/xapi/activities/profile``): documents content keeps about a learner across activities
(preferences, say) or about an activity for every learner, by ``profileId``.

An agent's profiles are kept under the learner the agent names (no e-mail address is
stored), pass the guardian-consent gate and go with the learner's export and erasure; an
activity's are nobody's personal data. A ``PUT`` over a stored profile must be
conditional (``If-Match`` or ``If-None-Match``; 409 without), as xAPI asks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select

from masterypath.services.xapi_document_store import DocumentStore, Slot, hashed
from masterypath.store.tables import XapiActivityProfileRow, XapiAgentProfileRow


def agent_profile_slot(learner_id: str, profile_id: str) -> Slot:
    scope = hashed(profile_id)
    return Slot(
        table=XapiAgentProfileRow,
        key=(learner_id, scope),
        columns={"learner_id": learner_id, "scope": scope, "profile_id": profile_id},
        learner_id=learner_id,
        kind="agent profile",
        name=profile_id,
        conditional_put=True,
    )


def activity_profile_slot(activity_id: str, profile_id: str) -> Slot:
    scope = hashed(activity_id, profile_id)
    return Slot(
        table=XapiActivityProfileRow,
        key=(scope,),
        columns={"scope": scope, "activity_id": activity_id, "profile_id": profile_id},
        learner_id=None,
        kind="activity profile",
        name=profile_id,
        conditional_put=True,
    )


class XapiProfileService(DocumentStore):
    """Both profile resources: ``put``, ``post``, ``get`` and ``delete`` take the
    profile's :class:`Slot` (:func:`agent_profile_slot`, :func:`activity_profile_slot`)."""

    def agent_ids(
        self, learner_id: str, *, since: datetime | None = None
    ) -> tuple[list[str], datetime | None]:
        """The learner's profile ids (updated after ``since`` if given) and when the
        latest of them was updated."""
        return self._ids(XapiAgentProfileRow, XapiAgentProfileRow.learner_id == learner_id, since)

    def activity_ids(
        self, activity_id: str, *, since: datetime | None = None
    ) -> tuple[list[str], datetime | None]:
        """The activity's profile ids (updated after ``since`` if given) and when the
        latest of them was updated."""
        row = XapiActivityProfileRow
        return self._ids(row, row.activity_id == activity_id, since)

    def _ids(
        self,
        row: type[XapiAgentProfileRow | XapiActivityProfileRow],
        owner: ColumnElement[bool],
        since: datetime | None,
    ) -> tuple[list[str], datetime | None]:
        stmt = select(row.profile_id, row.updated_at).where(owner)
        if since is not None:
            stmt = stmt.where(row.updated_at > since)
        with self.context.sessions() as session:
            rows = session.execute(stmt).all()
        return sorted(r[0] for r in rows), max((r[1] for r in rows), default=None)
