"""Where the xAPI document resources keep their documents (State, Agent Profile, Activity
Profile; xAPI 1.0.3 part three, 2.2-2.7): one row per document, written under a row
lock so conditional writes (``If-Match``) and JSON merges sent at once lose nothing.

On SQLite, which has no row locks, a writer takes the database's write lock before it
reads. A :class:`Slot` names one document: its table and primary key, the columns a new row
gets, and the learner it is about (checked against the guardian-consent gate on writes;
None for an activity's profile). The resources differ in their keys and in one rule:
a profile's ``PUT`` over a stored document must be conditional (409 otherwise), while
State writes may go unconditional.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy.orm import Session

from masterypath.errors import ConflictError, NotFoundError
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
from masterypath.store.conditions import dialect_insert
from masterypath.store.tables import XapiActivityProfileRow, XapiAgentProfileRow, XapiStateRow

DocumentRow = XapiStateRow | XapiAgentProfileRow | XapiActivityProfileRow


@dataclass(frozen=True)
class Conditions:
    """A write's ``If-Match`` and ``If-None-Match`` headers, as sent."""

    if_match: str | None = None
    if_none_match: str | None = None

    def __bool__(self) -> bool:
        return self.if_match is not None or self.if_none_match is not None


UNCONDITIONAL = Conditions()


@dataclass(frozen=True)
class StoredDocument:
    content: bytes
    content_type: str
    etag: str
    updated_at: datetime


@dataclass(frozen=True)
class Slot:
    """One document's place (see the module's docstring)."""

    table: type[DocumentRow]
    key: tuple[str, ...]
    columns: Mapping[str, Any]
    """Every column of a new row but the document's own (its key columns included)."""
    learner_id: str | None
    kind: str
    """``state``, ``agent profile`` or ``activity profile`` (in messages)."""
    name: str
    """The document's id (``stateId``, ``profileId``)."""
    conditional_put: bool = False

    @property
    def what(self) -> str:
        return f"{self.kind} {self.name}"


def hashed(*parts: str | None) -> str:
    """A short stored key for parts that may be long IRIs: the SHA-256 of their JSON list.

    >>> hashed("https://x/a", None, "s") == hashed("https://x/a", None, "s") != hashed("s")
    True
    """
    return hashlib.sha256(json.dumps(list(parts), ensure_ascii=False).encode()).hexdigest()


class DocumentStore:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def put(
        self,
        slot: Slot,
        content: bytes,
        content_type: str,
        conditions: Conditions = UNCONDITIONAL,
    ) -> str:
        """Store ``content`` as the document, replacing any; answers its ETag."""
        if is_json(content_type):
            json_document(content)

        def new(row: DocumentRow | None) -> tuple[bytes, str]:
            if row is not None and slot.conditional_put and not conditions:
                raise ConflictError(
                    "If-Match",
                    slot.what,
                    "a document is stored: GET it, then PUT with If-Match set to its ETag "
                    "(or with If-None-Match: * to create it only if absent)",
                )
            return content, content_type

        return self._write(slot, conditions, new)

    def post(
        self,
        slot: Slot,
        content: bytes,
        content_type: str,
        conditions: Conditions = UNCONDITIONAL,
    ) -> str:
        """Store ``content``, or merge it into the stored JSON object (xAPI 2.2: top-level
        properties replaced); answers the ETag."""

        def new(row: DocumentRow | None) -> tuple[bytes, str]:
            if row is None:
                if is_json(content_type):
                    json_document(content)
                return content, content_type
            require_json_object_for_merge(content_type)
            require_json_object_for_merge(row.content_type)
            return merged(row.content, content), row.content_type

        return self._write(slot, conditions, new)

    def _write(
        self,
        slot: Slot,
        conditions: Conditions,
        new: Callable[[DocumentRow | None], tuple[bytes, str]],
    ) -> str:
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            if slot.learner_id is not None:
                PrivacyService(self.context).check_consent([slot.learner_id], session)
            while True:  # twice at most: a writer may create the document meanwhile
                row = self._locked(session, slot, conditions)
                content, content_type = new(row)
                tag = etag(content)
                document = {
                    "content": content,
                    "content_type": content_type,
                    "etag": tag,
                    "updated_at": now,
                }
                if row is not None:
                    for name, value in document.items():
                        setattr(row, name, value)
                    return tag
                created = session.scalar(
                    dialect_insert(session)(slot.table)
                    .values({**slot.columns, **document})
                    .on_conflict_do_nothing()
                    .returning(slot.table.etag)
                )
                if created is not None:
                    return tag

    @staticmethod
    def _locked(session: Session, slot: Slot, conditions: Conditions) -> DocumentRow | None:
        """The stored document, locked until the transaction ends, once ``conditions``
        hold for it (:class:`PreconditionFailedError` otherwise)."""
        found = session.get(slot.table, slot.key, with_for_update=True, populate_existing=True)
        row = cast("DocumentRow | None", found)
        check_preconditions(
            None if row is None else row.etag,
            if_match=conditions.if_match,
            if_none_match=conditions.if_none_match,
            what=slot.what,
        )
        return row

    def get(self, slot: Slot) -> StoredDocument:
        """One document; :class:`NotFoundError` when there is none."""
        with self.context.sessions() as session:
            row = cast("DocumentRow | None", session.get(slot.table, slot.key))
            if row is None:
                raise NotFoundError(slot.kind, slot.name)
            return StoredDocument(row.content, row.content_type, row.etag, row.updated_at)

    def delete(self, slot: Slot, conditions: Conditions = UNCONDITIONAL) -> None:
        """Delete one document (none stored is no error: it is gone either way)."""
        with self.context.sessions.begin() as session:
            row = self._locked(session, slot, conditions)
            if row is not None:
                session.delete(row)
