"""The xAPI State resource (``/xapi/activities/state``): documents a piece of content keeps
for a learner in an activity (a bookmark, answers so far) to resume on any device.

A document is stored under the learner the ``agent`` names (:func:`learner_of`: an e-mail
address becomes its SHA-1, so none is stored), the activity, an optional registration and
its ``stateId`` (:mod:`masterypath.services.xapi_document_store` writes it). Writes pass
the guardian-consent gate; the documents are exported and erased with the learner's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select

from masterypath.services.context import ServiceContext
from masterypath.services.xapi_document_store import (
    UNCONDITIONAL,
    Conditions,
    DocumentStore,
    Slot,
    StoredDocument,
    hashed,
)
from masterypath.store.tables import XapiStateRow


@dataclass(frozen=True)
class StateContext:
    """Which documents: a learner's in one activity, of one registration or of none."""

    learner_id: str
    activity_id: str
    registration: str | None = None


def state_slot(where: StateContext, state_id: str) -> Slot:
    scope = hashed(where.activity_id, where.registration, state_id)
    return Slot(
        table=XapiStateRow,
        key=(where.learner_id, scope),
        columns={
            "learner_id": where.learner_id,
            "scope": scope,
            "activity_id": where.activity_id,
            "registration": where.registration,
            "state_id": state_id,
        },
        learner_id=where.learner_id,
        kind="state",
        name=state_id,
    )


class XapiStateService:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self.store = DocumentStore(context)

    def put(
        self,
        where: StateContext,
        state_id: str,
        content: bytes,
        content_type: str,
        conditions: Conditions = UNCONDITIONAL,
    ) -> str:
        """Store ``content`` as the document, replacing any; answers its ETag."""
        return self.store.put(state_slot(where, state_id), content, content_type, conditions)

    def post(
        self,
        where: StateContext,
        state_id: str,
        content: bytes,
        content_type: str,
        conditions: Conditions = UNCONDITIONAL,
    ) -> str:
        """Store ``content``, or merge it into the stored JSON object; answers the ETag."""
        return self.store.post(state_slot(where, state_id), content, content_type, conditions)

    def get(self, where: StateContext, state_id: str) -> StoredDocument:
        """One document; :class:`NotFoundError` when there is none."""
        return self.store.get(state_slot(where, state_id))

    def delete(
        self, where: StateContext, state_id: str, conditions: Conditions = UNCONDITIONAL
    ) -> None:
        """Delete one document (none stored is no error: it is gone either way)."""
        self.store.delete(state_slot(where, state_id), conditions)

    def ids(
        self, where: StateContext, *, since: datetime | None = None
    ) -> tuple[list[str], datetime | None]:
        """The state ids stored in ``where`` (of every registration when it names none),
        updated after ``since`` if given, and when the latest of them was updated."""
        with self.context.sessions() as session:
            stmt = select(XapiStateRow.state_id, XapiStateRow.updated_at).where(*self._in(where))
            if since is not None:
                stmt = stmt.where(XapiStateRow.updated_at > since)
            rows = session.execute(stmt).all()
        return sorted({r.state_id for r in rows}), max((r.updated_at for r in rows), default=None)

    def delete_all(self, where: StateContext) -> int:
        """Delete every document in ``where`` (of every registration when it names none)."""
        with self.context.sessions.begin() as session:
            result = session.execute(delete(XapiStateRow).where(*self._in(where)))
            return int(getattr(result, "rowcount", 0) or 0)

    @staticmethod
    def _in(where: StateContext) -> list[ColumnElement[bool]]:
        clauses = [
            XapiStateRow.learner_id == where.learner_id,
            XapiStateRow.activity_id == where.activity_id,
        ]
        if where.registration is not None:
            clauses.append(XapiStateRow.registration == where.registration)
        return clauses
