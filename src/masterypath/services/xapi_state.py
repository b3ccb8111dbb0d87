"""The xAPI State resource (``/xapi/activities/state``): documents a piece of content keeps
for a learner in an activity (a bookmark, answers so far) to resume on any device.

A document is stored under the learner the ``agent`` names (:func:`learner_of`: an e-mail
address becomes its SHA-1, so none is stored), the activity, an optional registration and
its ``stateId``. Writes take the learner's lock, as evidence does, so a conditional write
(``If-Match``) cannot interleave with another write of the same learner; they pass the same
guardian-consent gate; the documents are exported and erased with the learner's data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select

from masterypath.errors import NotFoundError
from masterypath.interop.xapi_documents import (
    check_preconditions,
    etag,
    is_json,
    json_document,
    merged,
    require_json_object_for_merge,
)
from masterypath.services.context import ServiceContext
from masterypath.services.privacy import PrivacyService
from masterypath.store.mastery import MasteryRepository
from masterypath.store.tables import XapiStateRow


@dataclass(frozen=True)
class StateContext:
    """Which documents: a learner's in one activity, of one registration or of none."""

    learner_id: str
    activity_id: str
    registration: str | None = None


@dataclass(frozen=True)
class StateDocument:
    content: bytes
    content_type: str
    etag: str
    updated_at: datetime


@dataclass(frozen=True)
class Conditions:
    """A write's ``If-Match`` and ``If-None-Match`` headers, as sent."""

    if_match: str | None = None
    if_none_match: str | None = None


UNCONDITIONAL = Conditions()


def scope_of(where: StateContext, state_id: str) -> str:
    """The stored key of one document within a learner's: the SHA-256 of its activity,
    registration and state id (IRIs can be longer than an index takes)."""
    text = json.dumps([where.activity_id, where.registration, state_id], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class XapiStateService:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def put(
        self,
        where: StateContext,
        state_id: str,
        content: bytes,
        content_type: str,
        conditions: Conditions = UNCONDITIONAL,
    ) -> str:
        """Store ``content`` as the document, replacing any; answers its ETag."""
        if is_json(content_type):
            json_document(content)
        return self._write(where, state_id, conditions, lambda _: (content, content_type))

    def post(
        self,
        where: StateContext,
        state_id: str,
        content: bytes,
        content_type: str,
        conditions: Conditions = UNCONDITIONAL,
    ) -> str:
        """Store ``content``, or merge it into the stored JSON object (xAPI 2.2: top-level
        properties replaced); answers the ETag."""

        def new(row: XapiStateRow | None) -> tuple[bytes, str]:
            if row is None:
                if is_json(content_type):
                    json_document(content)
                return content, content_type
            require_json_object_for_merge(content_type)
            require_json_object_for_merge(row.content_type)
            return merged(row.content, content), row.content_type

        return self._write(where, state_id, conditions, new)

    def _write(
        self,
        where: StateContext,
        state_id: str,
        conditions: Conditions,
        new: Callable[[XapiStateRow | None], tuple[bytes, str]],
    ) -> str:
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            PrivacyService(self.context).check_consent([where.learner_id], session)
            MasteryRepository(session).lock_learners([where.learner_id], now=now)
            row = session.get(XapiStateRow, (where.learner_id, scope_of(where, state_id)))
            check_preconditions(
                None if row is None else row.etag,
                if_match=conditions.if_match,
                if_none_match=conditions.if_none_match,
                what=f"state {state_id}",
            )
            content, content_type = new(row)
            tag = etag(content)
            if row is None:
                session.add(
                    XapiStateRow(
                        learner_id=where.learner_id,
                        scope=scope_of(where, state_id),
                        activity_id=where.activity_id,
                        registration=where.registration,
                        state_id=state_id,
                        content_type=content_type,
                        content=content,
                        etag=tag,
                        updated_at=now,
                    )
                )
            else:
                row.content, row.content_type, row.etag, row.updated_at = (
                    content,
                    content_type,
                    tag,
                    now,
                )
            return tag

    def get(self, where: StateContext, state_id: str) -> StateDocument:
        """One document; :class:`NotFoundError` when there is none."""
        with self.context.sessions() as session:
            row = session.get(XapiStateRow, (where.learner_id, scope_of(where, state_id)))
            if row is None:
                raise NotFoundError("state", state_id)
            return StateDocument(row.content, row.content_type, row.etag, row.updated_at)

    def ids(
        self, where: StateContext, *, since: datetime | None = None
    ) -> tuple[list[str], datetime | None]:
        """The state ids stored in ``where`` (of every registration when it names none),
        updated after ``since`` if given, and when the latest of them was updated."""
        with self.context.sessions() as session:
            stmt = select(XapiStateRow.state_id, XapiStateRow.updated_at).where(*self._in(where))
            if since is not None:
                stmt = stmt.where(XapiStateRow.updated_at > since)
            rows = session.execute(stmt.order_by(XapiStateRow.state_id)).all()
        return sorted({r.state_id for r in rows}), max((r.updated_at for r in rows), default=None)

    def delete(
        self, where: StateContext, state_id: str, conditions: Conditions = UNCONDITIONAL
    ) -> None:
        """Delete one document (none stored is no error: it is gone either way)."""
        key = (where.learner_id, scope_of(where, state_id))
        with self.context.sessions.begin() as session:
            if session.get(XapiStateRow, key) is not None:  # else no learner row is made
                MasteryRepository(session).lock_learners(
                    [where.learner_id], now=self.context.clock()
                )
            row = session.get(XapiStateRow, key, populate_existing=True)
            check_preconditions(
                None if row is None else row.etag,
                if_match=conditions.if_match,
                if_none_match=conditions.if_none_match,
                what=f"state {state_id}",
            )
            if row is not None:
                session.delete(row)

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
