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
from typing import Any

from sqlalchemy import select

from masterypath.services.context import ServiceContext
from masterypath.services.xapi_document_store import (
    UNCONDITIONAL,
    Conditions,
    DocumentStore,
    Slot,
    StoredDocument,
    hashed,
)
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


class XapiProfileService:
    """Both profile resources: each operation takes the profile's :class:`Slot`
    (:func:`agent_profile_slot`, :func:`activity_profile_slot`)."""

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self.store = DocumentStore(context)

    def put(
        self,
        slot: Slot,
        content: bytes,
        content_type: str,
        conditions: Conditions = UNCONDITIONAL,
    ) -> str:
        return self.store.put(slot, content, content_type, conditions)

    def post(
        self,
        slot: Slot,
        content: bytes,
        content_type: str,
        conditions: Conditions = UNCONDITIONAL,
    ) -> str:
        return self.store.post(slot, content, content_type, conditions)

    def get(self, slot: Slot) -> StoredDocument:
        return self.store.get(slot)

    def delete(self, slot: Slot, conditions: Conditions = UNCONDITIONAL) -> None:
        self.store.delete(slot, conditions)

    def agent_ids(
        self, learner_id: str, *, since: datetime | None = None
    ) -> tuple[list[str], datetime | None]:
        """The learner's profile ids (updated after ``since`` if given) and when the
        latest of them was updated."""
        row = XapiAgentProfileRow
        return self._ids(
            select(row.profile_id, row.updated_at).where(row.learner_id == learner_id),
            row.updated_at,
            since,
        )

    def activity_ids(
        self, activity_id: str, *, since: datetime | None = None
    ) -> tuple[list[str], datetime | None]:
        """The activity's profile ids (updated after ``since`` if given) and when the
        latest of them was updated."""
        row = XapiActivityProfileRow
        return self._ids(
            select(row.profile_id, row.updated_at).where(row.activity_id == activity_id),
            row.updated_at,
            since,
        )

    def _ids(
        self, stmt: Any, updated: Any, since: datetime | None
    ) -> tuple[list[str], datetime | None]:
        if since is not None:
            stmt = stmt.where(updated > since)
        with self.context.sessions() as session:
            rows = session.execute(stmt).all()
        return sorted(r[0] for r in rows), max((r[1] for r in rows), default=None)
