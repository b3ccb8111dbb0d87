"""xAPI statements in, evidence out.

Statements are validated with ralph-malph's xAPI 1.0.3 models (``BaseXapiStatement``).
ralph only accepts ``version`` 1.0.x, so a 2.0 statement is validated with its
``version`` set aside (the parts we read are the same in 2.0) and stored unchanged.

Every valid statement is stored; an answer about a known item is also evidence (the rest:
launches, completions, comments, answers about activities no framework has, are stored
only; :meth:`XapiService.unmapped_activities` lists the last kind). Mapping
(:class:`XapiRules`):

* actor -> learner: ``account.name`` (the LMS's pseudonymous id); an actor identified by
  ``mbox``, ``mbox_sha1sum`` or ``openid`` becomes ``sha1:<hex>``, and a stored statement
  keeps ``mbox_sha1sum`` instead of the address, so no e-mail address is stored;
* object (activity id) -> item: the part after ``item_prefix`` if it is set and matches,
  else the id itself, else its last path segment, whichever is a known item; the item's
  competencies are the evidence's competencies;
* ``result.success`` -> a binary outcome, else ``result.score.scaled`` (0..1) -> a score
  (a statement with neither is no answer);
* the statement ``id`` -> the evidence key ``xapi:<id>``: re-posting the same statement is
  a no-op, the same id with other content is a 409.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple, overload

import ralph.models.xapi.base.common as ralph_common
from pydantic import ValidationError as PydanticValidationError
from ralph.models.xapi.base.statements import BaseXapiStatement
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from masterypath.domain.evidence import BinaryOutcome, Evidence, EvidenceKind, ScoreOutcome
from masterypath.errors import (
    ConflictError,
    ConsentRequiredError,
    InvalidInputError,
    NotFoundError,
    Problem,
)
from masterypath.interop.xapi_attachments import attachments_held
from masterypath.interop.xapi_comparison import same_statement
from masterypath.interop.xapi_multipart import AttachmentData
from masterypath.interop.xapi_pseudonyms import (
    agents_named,
    agents_related,
    authority_of,
    group_id,
    learner_of,
    members_of,
    statement_digest,
    without_addresses,
)
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService, RecordResult
from masterypath.services.group_commit import GroupCommitter
from masterypath.store.bulk import insert_new_postgresql
from masterypath.store.conditions import dialect_insert, is_postgresql, one_of
from masterypath.store.mastery import MasteryRepository
from masterypath.store.people import PeopleRepository
from masterypath.store.statement_paths import mentions_activity
from masterypath.store.tables import (
    EvidenceVoidRow,
    FrameworkRow,
    ItemRow,
    XapiAttachmentRow,
    XapiStatementAgentRow,
    XapiStatementAttachmentRow,
    XapiStatementRow,
)
from masterypath.store.types import UTCDateTime

SUPPORTED_VERSIONS = ("1.0.", "2.0.")
ACTOR_WITHOUT_IDENTIFIER = (
    "needs an account, mbox, mbox_sha1sum or openid, or members that have one"
)
"""Why an actor is refused: no identifier (a Group without one needs identified members)."""
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
"""The verb of a voiding statement (xAPI 2.3.2): its object is a ``StatementRef``."""
IRIS_REMEMBERED = 4096
"""How many valid IRIs :func:`remember_valid_iris` keeps."""


def remember_valid_iris() -> None:
    """Make ralph's IRI check remember the IRIs it has found valid (the last
    :data:`IRIS_REMEMBERED`); an invalid IRI is checked, and refused, every time.

    ralph's ``IRI`` type checks each IRI twice against RFC 3987's grammar: once by its
    pattern, then again in a validator that calls ``rfc3987.parse``. That second regex
    costs ~15 µs an IRI, more than half of validating a whole statement (109 -> 48 µs
    measured), and the same few IRIs (verbs, activity ids, the LMS's home page) recur
    in every statement. ``rfc3987.parse`` is a pure function of its arguments and an
    exception is never remembered, so nothing refused before is accepted now.
    Idempotent.

    >>> remember_valid_iris()
    >>> _ = BaseXapiStatement.model_validate({
    ...     "actor": {"account": {"homePage": "https://lms.example", "name": "l1"}},
    ...     "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
    ...     "object": {"id": "https://lms.example/items/q1"}})
    >>> ralph_common.parse("https://lms.example/items/q1", rule="IRI")["path"]
    '/items/q1'
    """
    parse = ralph_common.parse
    if not hasattr(parse, "cache_info"):
        ralph_common.parse = functools.lru_cache(maxsize=IRIS_REMEMBERED)(parse)


@dataclass(frozen=True)
class XapiRules:
    """How statements map to evidence (see the module docstring)."""

    item_prefix: str = ""
    source: str = "xapi"


def check_version(header: str | None) -> str:
    """The ``X-Experience-API-Version`` header must name 1.0.x or 2.0.x."""
    if not header:
        raise InvalidInputError(
            "X-Experience-API-Version",
            [Problem("header", "X-Experience-API-Version", "required (1.0.3 or 2.0.0)")],
        )
    if not header.startswith(SUPPORTED_VERSIONS) and header not in ("1.0", "2.0"):
        raise InvalidInputError(
            "X-Experience-API-Version",
            [Problem("header", "X-Experience-API-Version", f"{header!r} is not 1.0.x or 2.0.x")],
        )
    return header


REMAP_PAGE = 5000
"""Stored answers :meth:`XapiService.remap` reads at a time."""
ITEMS_CHECK_SECONDS = 1.0
"""How long the item map of xAPI activities is used before checking whether the frameworks
changed (an activity it does not know is checked at once)."""


class _ItemCache(NamedTuple):
    checked: float
    """``time.monotonic()`` when the frameworks were last checked."""
    stamp: tuple[Any, ...]
    items: dict[str, tuple[str, ...]]


class StatementRow(NamedTuple):
    id: str
    statement: dict[str, Any]
    learner_id: str
    evidence: Evidence | None
    """None for a statement that is not evidence (no known item, or no result)."""
    digest: str
    """SHA-256 of the canonical statement: the same id with another digest is a conflict."""
    received: datetime
    named: tuple[str, ...] = ()
    """The learners it names besides its actor (:func:`agents_named`)."""
    attachments: tuple[str, ...] = ()
    """The SHA-2s of its attachments whose bytes came with it."""
    authority_id: str | None = None
    """Who sent it (:func:`authority_of`)."""
    related: tuple[str, ...] = ()
    """The learners it names where only ``related_agents`` looks (:func:`agents_related`)."""


STATEMENT_COLUMNS = (
    "id",
    "content_hash",
    "statement",
    "learner_id",
    "evidence_key",
    "stored_at",
    "refers",
    "authority_id",
)


@dataclass
class StatementWrites:
    """Stores statements inside their evidence's transaction: new ids are added, a stored
    id with the same content is left alone, the same id with other content is a
    :class:`ConflictError`. Concurrent single posts that share a transaction (group
    commit) are :meth:`combine`-d into one write: one query for the stored ids instead of
    one per statement."""

    rows: list[StatementRow]
    attachments: dict[str, AttachmentData] = field(default_factory=dict)
    """The bytes of the rows' attachments, by SHA-2."""

    @classmethod
    def combine(cls, parts: Sequence[StatementWrites]) -> StatementWrites:
        attachments = {k: v for part in parts for k, v in part.attachments.items()}
        return cls([row for part in parts for row in part.rows], attachments)

    def __call__(self, session: Session) -> None:
        # the evidence's learners passed the consent gate with their evidence; a statement
        # that is not evidence is personal data all the same, and so is one naming a
        # learner besides its actor (an Agent object, a Group's member, an instructor, a
        # team's member, in a SubStatement too)
        bare = {row.learner_id for row in self.rows if row.evidence is None}
        for row in self.rows:
            bare.update(row.named, row.related)
        if bare:
            today = self.rows[0].received.date()
            minors = PeopleRepository(session).minors_without_consent(bare, today)
            if minors:
                raise ConsentRequiredError(minors)
        # new ids go in with one INSERT ... ON CONFLICT DO NOTHING; only the ids already
        # stored (re-posts, or a concurrent writer's) are read back to compare content
        if is_postgresql(session):
            inserted = insert_new_postgresql(
                session,
                "xapi_statements",
                STATEMENT_COLUMNS,
                [
                    (
                        row.id,
                        row.digest,
                        {**row.statement, "stored": row.received.isoformat()},
                        row.learner_id,
                        None if row.evidence is None else row.evidence.key,
                        row.received,
                        refers_to(row.statement),
                        row.authority_id,
                    )
                    for row in self.rows
                ],
                key="id",
                json_columns=["statement"],
            )
        else:
            inserted = self._insert_new(session)
        named = [
            agent
            for row in self.rows
            if (row.named or row.related) and row.id in inserted
            for agent in _agent_rows(row.id, row.named, row.related)
        ]
        if named:
            session.execute(insert(XapiStatementAgentRow), named)
        self._store_attachments(session, inserted)
        others = [row for row in self.rows if row.id not in inserted]
        if not others:
            return
        existing = dict(
            session.execute(
                select(XapiStatementRow.id, XapiStatementRow.content_hash).where(
                    one_of(
                        XapiStatementRow.id,
                        [row.id for row in others],
                        postgresql=is_postgresql(session),
                    )
                )
            ).all()
        )
        for row in others:
            if existing.get(row.id) != row.digest and not _stored_again(session, row):
                raise ConflictError("id", row.id, "a different statement with this id is stored")

    def _store_attachments(self, session: Session, inserted: set[str]) -> None:
        """The bytes of the new statements' attachments (each once: bytes another
        statement brought are not written again) and the links to them."""
        links = [
            {"statement_id": row.id, "sha2": sha2}
            for row in self.rows
            if row.id in inserted
            for sha2 in row.attachments
        ]
        if not links:
            return
        received = self.rows[0].received
        wanted = dict.fromkeys(link["sha2"] for link in links)
        new_bytes = dialect_insert(session)(XapiAttachmentRow)
        session.execute(
            new_bytes.values(
                [
                    {
                        "sha2": sha2,
                        "content_type": self.attachments[sha2].content_type
                        or "application/octet-stream",
                        "length": len(self.attachments[sha2].content),
                        "content": self.attachments[sha2].content,
                        "stored_at": received,
                    }
                    for sha2 in wanted
                ]
            )
            # bytes already stored are locked (a no-op update), not just seen: an erasure
            # deleting them as unlinked waits for the links below, or deletes them first
            # and this inserts them again (services/privacy._delete_unlinked_attachments)
            .on_conflict_do_update(index_elements=["sha2"], set_={"sha2": new_bytes.excluded.sha2})
        )
        session.execute(insert(XapiStatementAttachmentRow), links)

    def _insert_new(self, session: Session) -> set[str]:
        return set(
            session.scalars(
                dialect_insert(session)(XapiStatementRow)
                .values(
                    [
                        {
                            "id": row.id,
                            "content_hash": row.digest,
                            "statement": {**row.statement, "stored": row.received.isoformat()},
                            "learner_id": row.learner_id,
                            "evidence_key": None if row.evidence is None else row.evidence.key,
                            "stored_at": row.received,
                            "refers": refers_to(row.statement),
                            "authority_id": row.authority_id,
                        }
                        for row in self.rows
                    ]
                )
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(XapiStatementRow.id)
            )
        )


class XapiService:
    def __init__(
        self,
        context: ServiceContext,
        *,
        rules: XapiRules | None = None,
        committer: GroupCommitter | None = None,
    ) -> None:
        self.context = context
        self.rules = rules or XapiRules()
        self.committer = committer
        """Single statements go through it (group commit) when given."""
        remember_valid_iris()

    @overload
    def _items(self, *, refresh: bool = ...) -> dict[str, tuple[str, ...]]: ...
    @overload
    def _items(self, *, cached_only: Literal[True]) -> dict[str, tuple[str, ...]] | None: ...

    def _items(
        self, *, refresh: bool = False, cached_only: bool = False
    ) -> dict[str, tuple[str, ...]] | None:
        """Item id -> its competencies, over every stored framework. Re-read when the
        frameworks change; whether they did is checked at most every
        :data:`ITEMS_CHECK_SECONDS` (a query of its own per statement posted halved the
        rate of single xAPI posts), and at once with ``refresh``. ``cached_only``: None
        instead of a check that is due (it would read the database)."""
        cached = self.context.cache.get("xapi-items")
        if (
            not refresh
            and isinstance(cached, _ItemCache)
            and time.monotonic() - cached.checked < ITEMS_CHECK_SECONDS
        ):
            return cached.items
        if cached_only:
            return None
        with self.context.sessions() as session:
            stamp = tuple(
                session.execute(
                    select(func.count(FrameworkRow.id), func.max(FrameworkRow.imported_at))
                ).one()
            )
            if isinstance(cached, _ItemCache) and cached.stamp == stamp:
                items = cached.items
            else:
                items = {}
                for item_id, competencies in session.execute(
                    select(ItemRow.id, ItemRow.competency_ids)
                ):
                    items.setdefault(item_id, tuple(competencies or ()))
        self.context.cache["xapi-items"] = _ItemCache(time.monotonic(), stamp, items)
        return items

    def _item(self, activity: str, items: Mapping[str, tuple[str, ...]]) -> str | None:
        prefix = self.rules.item_prefix
        candidates = []
        if prefix and activity.startswith(prefix):
            candidates.append(activity[len(prefix) :])
        candidates += [activity, activity.rstrip("/").rsplit("/", 1)[-1]]
        return next((c for c in candidates if c in items), None)

    def parse(
        self, statements: Sequence[Mapping[str, Any]], items: Mapping[str, tuple[str, ...]]
    ) -> list[tuple[str, dict[str, Any], str, Evidence | None]]:
        """Validate every statement and map those that are evidence (id, statement as
        stored, learner, evidence or None); all problems are reported together."""
        problems: list[Problem] = []
        out: list[tuple[str, dict[str, Any], str, Evidence | None]] = []
        now = self.context.clock()
        for n, raw in enumerate(statements):
            where = f"statements[{n}]"
            if not isinstance(raw, Mapping):
                problems.append(Problem(where, "(root)", "a statement must be a JSON object"))
                continue
            statement = dict(raw)
            if "id" not in statement:  # not setdefault: a fresh uuid costs a system call
                statement["id"] = str(uuid.uuid4())
            try:
                model = BaseXapiStatement.model_validate(_for_ralph(statement))
            except PydanticValidationError as exc:
                for e in exc.errors()[:5]:
                    problems.append(Problem(where, ".".join(str(p) for p in e["loc"]), e["msg"]))
                continue
            learner = learner_of(statement["actor"])
            members = None if learner is not None else members_of(statement["actor"])
            if members is not None:
                learner = group_id(members)
            if learner is None:
                problems.append(Problem(where, "actor", ACTOR_WITHOUT_IDENTIFIER))
                continue
            statement_id = str(model.id)
            statement["id"] = statement_id
            statement = without_addresses(statement)
            # an anonymous Group's answer is no one learner's evidence
            at = model.timestamp or now
            evidence = None if members else self._evidence(statement, learner, at, items)
            out.append((statement_id, statement, learner, evidence))
        if problems:
            raise InvalidInputError("xAPI statements", problems)
        return out

    def _evidence(
        self,
        statement: Mapping[str, Any],
        learner: str,
        timestamp: datetime,
        items: Mapping[str, tuple[str, ...]],
    ) -> Evidence | None:
        """The evidence a statement is: an answer (``result.success``, else
        ``result.score.scaled``) about a known item; None for any other statement (one
        that launches, completes or comments, or is about an activity no framework has)."""
        outcome = _outcome(statement)
        if outcome is None:
            return None
        item = self._item(str(statement["object"].get("id", "")), items)
        if item is None:
            return None
        return Evidence.create(
            key=f"xapi:{statement['id']}",
            learner_id=learner,
            competency_ids=items[item],
            outcome=outcome,
            timestamp=timestamp,
            kind=EvidenceKind.PRACTICE,
            item_id=item,
            source=self.rules.source,
        )

    def record(
        self,
        statements: Sequence[Mapping[str, Any]],
        *,
        authority: Mapping[str, Any] | None = None,
        attachments: Mapping[str, AttachmentData] | None = None,
        version: str | None = None,
    ) -> tuple[list[str], list[RecordResult]]:
        """Store statements and their evidence in one transaction (all or nothing); with a
        group committer, concurrent posts (single statements or lists) share transactions
        as evidence batches do. ``authority`` (an Agent: who sent them) replaces theirs
        in what is stored (xAPI 2.4.9), and ``version`` is set where they have none
        (2.4.10); a re-post keeps the first. ``attachments``: the bytes that came with
        them, by SHA-2 (:func:`attachments_held` says which batches it refuses); stored
        with the statements that carry them."""
        items = self._known_items(statements)
        ids, evidence, store = self._prepare(statements, items, authority, attachments, version)
        with _statement_conflicts():
            if self.committer is not None:
                return ids, self.committer.record_many(evidence, also=store)
            return ids, EvidenceService(self.context).record_many(evidence, also=store)

    async def record_async(
        self,
        statements: Sequence[Mapping[str, Any]],
        *,
        authority: Mapping[str, Any] | None = None,
        attachments: Mapping[str, AttachmentData] | None = None,
        version: str | None = None,
    ) -> tuple[list[str], list[RecordResult]]:
        """:meth:`record` for an event loop: the commit is awaited without holding a
        thread. A single statement is checked on the loop unless the item map must be
        re-read (the database) or attachments came (hashing and checking a signature);
        a list is checked in a thread (ralph's model takes ~0.1 ms a statement, which
        would stall every other request on the loop)."""
        if self.committer is None:
            return await asyncio.to_thread(
                lambda: self.record(
                    statements, authority=authority, attachments=attachments, version=version
                )
            )
        items = self._items(cached_only=True)
        if (
            len(statements) == 1
            and not attachments
            and items is not None
            and not self._unknown_activity(statements, items)
        ):
            ids, evidence, store = self._prepare(statements, items, authority, version=version)
        else:
            ids, evidence, store = await asyncio.to_thread(
                lambda: self._prepare(
                    statements, self._known_items(statements), authority, attachments, version
                )
            )
        with _statement_conflicts():
            return ids, await self.committer.record_many_async(evidence, also=store)

    def _known_items(self, statements: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
        items = self._items()
        if self._unknown_activity(statements, items):
            items = self._items(refresh=True)  # perhaps a framework imported a moment ago
        return items

    def _unknown_activity(
        self, statements: Sequence[Mapping[str, Any]], items: Mapping[str, tuple[str, ...]]
    ) -> bool:
        """Whether an answer is about an activity the item map lacks (perhaps a framework
        imported a moment ago): only answers can be evidence, so only they need a check."""
        return any(
            self._item(str(raw["object"].get("id", "")), items) is None
            for raw in statements
            if isinstance(raw, Mapping)
            and isinstance(raw.get("object"), Mapping)
            and _outcome(raw) is not None
        )

    def _prepare(
        self,
        statements: Sequence[Mapping[str, Any]],
        items: Mapping[str, tuple[str, ...]],
        authority: Mapping[str, Any] | None = None,
        attachments: Mapping[str, AttachmentData] | None = None,
        version: str | None = None,
    ) -> tuple[list[str], list[Evidence], StatementWrites]:
        if not statements:
            raise InvalidInputError("xAPI statements", [Problem("body", "(root)", "no statements")])
        parsed = self.parse(statements, items)
        sent = attachments or {}
        # as received: a signature signs the statement before its addresses are hashed
        carry = sent or any("attachments" in s for s in statements)
        held = attachments_held(statements, sent) if carry else [()] * len(statements)
        ids = [p[0] for p in parsed]
        first: dict[str, int] = {}
        for at, statement_id in enumerate(ids):
            seen = first.setdefault(statement_id, at)
            if seen != at:  # xAPI 2.1.2: 400, an invalid request (no stored state involved)
                reason = f"{statement_id} is also the id of statements[{seen}]"
                raise InvalidInputError(
                    "xAPI statements", [Problem(f"statements[{at}]", "id", reason)]
                )
        now = self.context.clock()
        store = StatementWrites(
            [
                _statement_row(parsed_one, carried, authority, version, now)
                for parsed_one, carried in zip(parsed, held, strict=True)
            ],
            _typed(statements, sent) if sent else {},
        )
        return ids, [p[3] for p in parsed if p[3] is not None], store

    def learners_of(self, statements: Sequence[Mapping[str, Any]]) -> list[str]:
        """The learners the statements are about (for authorization before parsing): each
        actor, or the members of an anonymous Group."""
        out: list[str] = []
        for raw in statements:
            actor = raw.get("actor") if isinstance(raw, Mapping) else None
            if not isinstance(actor, Mapping):
                continue
            learner = learner_of(actor)
            out += [learner] if learner else members_of(actor) or ()
        return out

    def get(self, statement_id: str, *, voided: bool = False) -> FoundStatement:
        """One statement and its learners: one not voided, or with ``voided`` one that is
        (xAPI 2.1.3: ``statementId`` does not find a voided statement,
        ``voidedStatementId`` does)."""
        with self.context.sessions() as session:
            row = session.get(XapiStatementRow, statement_id)
            is_voided = row is not None and session.scalar(
                select(XapiStatementRow.id).where(XapiStatementRow.voids == statement_id).limit(1)
            )
            if row is None or bool(is_voided) != voided:
                raise NotFoundError("voided statement" if voided else "statement", statement_id)
            return FoundStatement(dict(row.statement), _learners_of(row))

    def attachments_of(self, statement_ids: Sequence[str]) -> list[AttachmentData]:
        """The bytes of the attachments the statements came with, each once, in the order
        of the statements (``GET /xapi/statements?attachments=true``)."""
        if not statement_ids:
            return []
        link = XapiStatementAttachmentRow
        order = {statement_id: n for n, statement_id in enumerate(statement_ids)}
        with self.context.sessions() as session:
            links = session.execute(
                select(link.statement_id, link.sha2).where(
                    one_of(link.statement_id, list(order), postgresql=is_postgresql(session))
                )
            ).all()
            wanted = list(
                dict.fromkeys(sha2 for _, sha2 in sorted(links, key=lambda r: order[r[0]]))
            )
            rows = {
                r.sha2: r
                for r in session.scalars(
                    select(XapiAttachmentRow).where(XapiAttachmentRow.sha2.in_(wanted))
                )
            }
        return [AttachmentData(s, rows[s].content, rows[s].content_type) for s in wanted]

    def voided_learners(self, statements: Sequence[Any]) -> list[str]:
        """The learners whose statements these voiding statements void (to authorize the
        sender), or :class:`InvalidInputError` naming each statement that cannot void."""
        with self.context.sessions() as session:
            targets = self._targets(session, statements)
        return sorted({learner for t in targets.values() for learner in _learners_of(t)})

    def void(
        self,
        statements: Sequence[Any],
        *,
        authority: Mapping[str, Any] | None,
        by: str,
        version: str | None = None,
    ) -> list[str]:
        """Store voiding statements and void the evidence of the statements they name, in
        one transaction (all or nothing): the learners' states are rebuilt without it
        (:meth:`EvidenceService.void_in`). Re-posting one is a no-op; the same id with
        other content is 409. Answers their ids."""
        now = self.context.clock()
        evidence = EvidenceService(self.context)
        ids: list[str] = []
        with self.context.sessions.begin() as session:
            targets = self._targets(session, statements)
            for raw in statements:
                statement_id = str(raw["id"])
                ids.append(statement_id)
                statement = without_addresses(raw)
                digest = statement_digest(statement)
                stored = session.get(XapiStatementRow, statement_id)
                if stored is not None:
                    if stored.content_hash != digest and not same_statement(
                        stored.statement, statement
                    ):
                        raise ConflictError(
                            "id", statement_id, "a different statement with this id is stored"
                        )
                    continue
                target = targets[statement_id]
                statement = as_stored(statement, authority, version)
                # kept under the voided statement's learner: its actor (a teacher, say) is
                # found by the index, as an object would be
                actor = statement.get("actor")
                by_actor = [learner_of(actor)] if isinstance(actor, Mapping) else []
                named = tuple(
                    a
                    for a in dict.fromkeys([*by_actor, *agents_named(statement)])
                    if a is not None and a != target.learner_id
                )
                sender, related = _found_elsewhere(statement, target.learner_id, named)
                session.add(
                    XapiStatementRow(
                        id=statement_id,
                        content_hash=digest,
                        statement={**statement, "stored": now.isoformat()},
                        learner_id=target.learner_id,
                        evidence_key=None,
                        stored_at=now,
                        voids=target.id,
                        refers=target.id,
                        authority_id=sender,
                    )
                )
                session.flush()
                agents = _agent_rows(statement_id, named, related)
                if agents:
                    session.execute(insert(XapiStatementAgentRow), agents)
                if target.evidence_key is not None:
                    # the learner's lock before the check: another voiding statement of
                    # the same statement, sent at once, has voided its evidence or waits
                    MasteryRepository(session).lock_learners([target.learner_id], now=now)
                if target.evidence_key is not None and not _evidence_voided(
                    session, target.evidence_key
                ):
                    evidence.void_in(
                        session,
                        target.learner_id,
                        target.evidence_key,
                        reason=f"voided by xAPI statement {statement_id}",
                        by=by,
                    )
        return ids

    def _targets(self, session: Session, statements: Sequence[Any]) -> dict[str, XapiStatementRow]:
        """Statement id (given or new) -> the stored statement it voids; every problem of
        every statement reported together."""
        problems: list[Problem] = []
        out: dict[str, XapiStatementRow] = {}
        for n, raw in enumerate(statements):
            where = f"statements[{n}]"
            if not isinstance(raw, Mapping):
                problems.append(Problem(where, "(root)", "a statement must be a JSON object"))
                continue
            if "id" not in raw:
                problems.append(Problem(where, "id", "a voiding statement needs its id"))
                continue
            try:
                BaseXapiStatement.model_validate(_for_ralph(raw))
            except PydanticValidationError as exc:
                for e in exc.errors()[:5]:
                    problems.append(Problem(where, ".".join(str(p) for p in e["loc"]), e["msg"]))
                continue
            if any(not a.get("fileUrl") for a in raw.get("attachments") or ()):
                reason = "a voiding statement's attachments need a fileUrl (no bytes are kept)"
                problems.append(Problem(where, "attachments", reason))
                continue
            target_ref = raw.get("object") or {}
            if target_ref.get("objectType") != "StatementRef":
                problems.append(
                    Problem(where, "object.objectType", "a voiding statement voids a StatementRef")
                )
                continue
            target = session.get(XapiStatementRow, str(target_ref.get("id", "")))
            if target is None:
                problems.append(Problem(where, "object.id", "no statement with this id is stored"))
            elif target.voids is not None:
                problems.append(Problem(where, "object.id", "a voiding statement cannot be voided"))
            elif str(raw["id"]) in out:
                problems.append(Problem(where, "id", "is also the id of another statement here"))
            else:
                out[str(raw["id"])] = target
        if problems:
            raise InvalidInputError("xAPI statements", problems)
        return out

    def remap(self, *, page_size: int = REMAP_PAGE) -> dict[str, int]:
        """Make evidence of the stored answers that are about items now (a framework
        added the items after the answers came): each becomes the evidence it would have
        been on arrival (its key ``xapi:<id>``, its own timestamp), learner by learner,
        in the order the statements were stored, each learner in one transaction. The
        answers are read ``page_size`` at a time, so a large store is not held in memory.
        A learner whose evidence the consent gate refuses is skipped and counted. Answers
        how many stored answers without evidence were read, how many became evidence,
        and how many learners were skipped."""
        items = self._items(refresh=True)
        row = XapiStatementRow
        voiding = aliased(XapiStatementRow)
        page = (
            select(row.id, row.learner_id, row.statement, row.stored_at)
            .where(row.evidence_key.is_(None), row.voids.is_(None), _answered(row))
            .where(_of_one_learner(row))
            .where(~select(voiding.id).where(voiding.voids == row.id).exists())
            .order_by(row.learner_id, row.stored_at, row.id)
            .limit(page_size)
        )
        key = tuple_(row.learner_id, row.stored_at, row.id)
        counts = {"answers_read": 0, "became_evidence": 0, "learners_skipped": 0}
        learner: str | None = None
        answers: list[tuple[str, Evidence]] = []
        after: tuple[str, datetime, str] | None = None
        while True:
            chosen = page
            if after is not None:  # the next page starts after the last answer read
                stored = literal(after[1], UTCDateTime())
                chosen = page.where(key > tuple_(literal(after[0]), stored, literal(after[2])))
            with self.context.sessions() as session:
                rows = session.execute(chosen).all()
            for r in rows:
                if r.learner_id != learner:
                    self._remap_learner(answers, counts)
                    learner, answers = r.learner_id, []
                timestamp = _timestamp(r.statement, r.stored_at)
                found = self._evidence(r.statement, r.learner_id, timestamp, items)
                if found is not None:
                    answers.append((r.id, found))
            counts["answers_read"] += len(rows)
            if len(rows) < page_size:
                break
            after = (rows[-1].learner_id, rows[-1].stored_at, rows[-1].id)
        self._remap_learner(answers, counts)
        return counts

    def _remap_learner(self, answers: list[tuple[str, Evidence]], counts: dict[str, int]) -> None:
        """Record one learner's remapped answers and link their statements, in one
        transaction (a refusal of the consent gate is counted, not raised)."""
        if not answers:
            return

        def link(session: Session) -> None:
            for statement_id, answer in answers:
                session.execute(
                    update(XapiStatementRow)
                    .where(XapiStatementRow.id == statement_id)
                    .values(evidence_key=answer.key)
                )

        try:
            EvidenceService(self.context).record_many([a for _, a in answers], also=link)
        except ConsentRequiredError:
            counts["learners_skipped"] += 1
            return
        counts["became_evidence"] += len(answers)

    def unmapped_activities(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The activities of answers that became no evidence (no framework has an item
        for them), most answered first: each with how many answers, from how many
        learners, and when the last was stored. Add the items (or set ``item_prefix``),
        then :meth:`remap` makes evidence of the answers already stored."""
        row = XapiStatementRow
        activity = row.statement[("object", "id")].as_string()
        answered = _answered(row)
        stmt = (
            select(
                activity.label("activity"),
                func.count().label("answers"),
                func.count(row.learner_id.distinct()).label("learners"),
                func.max(row.stored_at).label("last_stored"),
            )
            .where(row.evidence_key.is_(None), row.voids.is_(None), answered)
            .where(_of_one_learner(row))
            .group_by(activity)
            .order_by(func.count().desc(), activity)
            .limit(limit)
        )
        with self.context.sessions() as session:
            rows = session.execute(stmt).all()
        return [
            {
                "activity": r.activity,
                "answers": int(r.answers),
                "learners": int(r.learners),
                "last_stored": r.last_stored.isoformat(),
            }
            for r in rows
        ]

    def recent(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The most recently stored statements, newest first."""
        return self.query(StatementQuery(limit=limit)).statements

    def query(self, query: StatementQuery) -> StatementPage:
        """The statements ``query`` selects, one page in order of ``stored`` (newest first
        unless ``ascending``), the cursor of the next page (None: this is the last) and
        the learners the page is about. The order is total (``stored``, then id), so
        pages neither skip nor repeat."""
        row = XapiStatementRow
        voiding = aliased(XapiStatementRow)
        select_page = select(row).where(~select(voiding.id).where(voiding.voids == row.id).exists())
        postgresql = self.context.engine.dialect.name == "postgresql"
        if query.learner_id is not None:
            found = _of_agent(query.learner_id, related=query.related_agents)
            select_page = select_page.where(row.id.in_(found))
        if query.filters_content():
            # xAPI 2.1.3: a statement whose object is a StatementRef meets a filter when the
            # statement it targets does (a voiding statement, a comment on an answer)
            select_page = select_page.where(
                or_(
                    and_(*query.content_conditions(row, postgresql=postgresql)),
                    row.id.in_(_referring_to(query, postgresql=postgresql)),
                )
            )
        if query.since is not None:
            select_page = select_page.where(row.stored_at > query.since)
        if query.until is not None:
            select_page = select_page.where(row.stored_at <= query.until)
        key = tuple_(row.stored_at, row.id)
        if query.after is not None:
            after = tuple_(literal(query.after.stored, UTCDateTime()), literal(query.after.id))
            select_page = select_page.where(key > after if query.ascending else key < after)
        order: list[ColumnElement[Any]] = [row.stored_at.asc(), row.id.asc()]
        if not query.ascending:
            order = [row.stored_at.desc(), row.id.desc()]
        with self.context.sessions() as session:
            rows = list(session.scalars(select_page.order_by(*order).limit(query.limit + 1)))
        page, more = rows[: query.limit], len(rows) > query.limit
        return StatementPage(
            [dict(r.statement) for r in page],
            Cursor(page[-1].stored_at, page[-1].id) if more else None,
            list(dict.fromkeys(learner for r in page for learner in _learners_of(r))),
        )


class Cursor(NamedTuple):
    """Where a page of statements ended: the last one's ``stored`` time and id."""

    stored: datetime
    id: str


class StatementPage(NamedTuple):
    """A page of stored statements (:meth:`XapiService.query`)."""

    statements: list[dict[str, Any]]
    after: Cursor | None
    """Where the next page starts; None on the last page."""
    learner_ids: list[str]
    """The learners the statements are of, each once (for the access log): the actors,
    an anonymous Group's members."""


class FoundStatement(NamedTuple):
    """One stored statement (:meth:`XapiService.get`) and the learners it is of."""

    statement: dict[str, Any]
    learner_ids: tuple[str, ...]
    """Its actor's learner id, or an anonymous Group's members'."""


@dataclass(frozen=True)
class StatementQuery:
    """What ``GET /xapi/statements`` selects: the filters of xAPI 1.0.3 section 2.1.3 that
    this LRS supports (``since`` is exclusive, ``until`` inclusive, both on ``stored``)."""

    learner_id: str | None = None
    """The ``agent`` filter's learner id (:func:`learner_of`): the statements whose actor
    or object is that learner, or a Group with them among its members."""
    related_agents: bool = False
    """With ``learner_id``: the statements that name that learner anywhere (the
    authority, the instructor, the team, a SubStatement too), xAPI's
    ``related_agents=true``."""
    since: datetime | None = None
    until: datetime | None = None
    verb: str | None = None
    """The verb's id."""
    activity: str | None = None
    """The id of the statement's object, an Activity."""
    related_activities: bool = False
    """Also match ``activity`` in the context activities and in a SubStatement."""
    registration: str | None = None
    """``context.registration``, a UUID in lowercase."""
    ascending: bool = False
    limit: int = 100
    after: Cursor | None = None

    def filters_content(self) -> bool:
        return any(v is not None for v in (self.verb, self.activity, self.registration))

    def content_conditions(
        self, row: type[XapiStatementRow], *, postgresql: bool
    ) -> list[ColumnElement[bool]]:
        """The conditions on a statement's content (``row`` may be an alias)."""
        conditions: list[ColumnElement[bool]] = []
        if self.verb is not None:
            conditions.append(row.statement[("verb", "id")].as_string() == self.verb)
        if self.activity is not None and self.related_activities:
            conditions.append(
                mentions_activity(row.statement, self.activity, postgresql=postgresql)
            )
        elif self.activity is not None:
            kind = func.coalesce(row.statement[("object", "objectType")].as_string(), "Activity")
            conditions.append(row.statement[("object", "id")].as_string() == self.activity)
            conditions.append(kind == "Activity")
        if self.registration is not None:
            registration = row.statement[("context", "registration")].as_string()
            conditions.append(func.lower(registration) == self.registration)
        return conditions


def _stored_again(session: Session, row: StatementRow) -> bool:
    """Whether the statement stored under ``row``'s id is ``row``'s statement sent again,
    by xAPI's comparison rules, though its digest differs (a timestamp in another time
    zone, a verb's ``display`` in another language, a Group's members in another order)."""
    stored = session.get(XapiStatementRow, row.id)
    return stored is not None and same_statement(stored.statement, row.statement)


def _typed(
    statements: Sequence[Mapping[str, Any]], sent: Mapping[str, AttachmentData]
) -> dict[str, AttachmentData]:
    """The bytes sent, each with a content type: its part's, else its attachment's
    ``contentType``."""
    declared = {
        str(a.get("sha2", "")).lower(): str(a.get("contentType", ""))
        for statement in statements
        for a in statement.get("attachments") or ()
    }
    return {
        sha2: data
        if data.content_type is not None
        else AttachmentData(sha2, data.content, declared.get(sha2) or None)
        for sha2, data in sent.items()
    }


def _of_agent(learner_id: str, *, related: bool = False) -> Select[tuple[str]]:
    """The ids of the statements xAPI's ``agent`` filter finds for a learner: those
    whose actor is the learner (the ``learner_id`` column), those that name them where
    the filter looks (by index), with ``related`` (``related_agents=true``) also where
    it does not (the ``authority_id`` column and the index), and those that refer to one
    of these by a StatementRef, however long the chain (by the ``refers`` index; xAPI 2.0
    part three, 2.1.3)."""
    own = aliased(XapiStatementRow)
    named = XapiStatementAgentRow
    in_index = named.learner_id == learner_id
    direct = union_all(
        select(own.id).where(own.learner_id == learner_id),
        select(named.statement_id.label("id")).where(
            in_index if related else and_(in_index, ~named.related_only)
        ),
        *([select(own.id).where(own.authority_id == learner_id)] if related else []),
    ).subquery("direct")
    found = select(direct.c.id).cte("found", recursive=True)
    referring = aliased(XapiStatementRow)
    found = found.union(select(referring.id).join(found, referring.refers == found.c.id))
    return select(found.c.id)


def _referring_to(query: StatementQuery, *, postgresql: bool) -> Select[tuple[str]]:
    """The ids of the statements that refer, by a StatementRef, to a statement meeting
    ``query``'s content filters, however long the chain (xAPI 2.1.3): those whose target
    meets them, then those that refer to one of these, and so on. Read by the ``refers``
    index: only statements that refer to another take part."""
    referring = aliased(XapiStatementRow)
    target = aliased(XapiStatementRow)
    found = (
        select(referring.id)
        .join(target, target.id == referring.refers)
        .where(*query.content_conditions(target, postgresql=postgresql))
        .cte("referring", recursive=True)
    )
    further = aliased(XapiStatementRow)
    found = found.union(select(further.id).join(found, further.refers == found.c.id))
    return select(found.c.id)


def _answered(row: type[XapiStatementRow]) -> ColumnElement[bool]:
    """A stored statement has a result with ``success`` or ``score.scaled`` (in SQL)."""
    return or_(
        row.statement[("result", "success")].as_string().is_not(None),
        row.statement[("result", "score", "scaled")].as_string().is_not(None),
    )


def _learners_of(row: XapiStatementRow) -> tuple[str, ...]:
    """The learners a stored statement is of: its actor, or an anonymous Group's members
    (kept under a ``group:`` id that is no one's)."""
    if not row.learner_id.startswith("group:"):
        return (row.learner_id,)
    actor = row.statement.get("actor")
    return (members_of(actor) or ()) if isinstance(actor, Mapping) else ()


def _of_one_learner(row: type[XapiStatementRow]) -> ColumnElement[bool]:
    """A stored statement is one learner's, not an anonymous Group's (whose answers are
    no one learner's evidence: :func:`group_id`)."""
    return ~row.learner_id.startswith("group:")


def _timestamp(statement: Mapping[str, Any], stored: datetime) -> datetime:
    """A stored statement's ``timestamp`` (validated when it came), else when it was
    stored, as on arrival."""
    at = statement.get("timestamp")
    try:
        parsed = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        parsed = None
    return parsed if parsed is not None and parsed.tzinfo is not None else stored


def _outcome(statement: Mapping[str, Any]) -> BinaryOutcome | ScoreOutcome | None:
    """A statement's outcome: ``result.success``, else ``result.score.scaled``; None when
    it has neither (the object is a StatementRef or an Agent: never an answer)."""
    result = statement.get("result")
    if not isinstance(result, Mapping):
        return None
    if isinstance(result.get("success"), bool):
        return BinaryOutcome(correct=result["success"])
    score = result.get("score")
    scaled = score.get("scaled") if isinstance(score, Mapping) else None
    if scaled is None:
        return None
    return ScoreOutcome(value=max(0.0, float(scaled)))


def _for_ralph(statement: Mapping[str, Any]) -> dict[str, Any]:
    """The statement as ralph's 1.0.3 model checks it: a 2.0 ``version`` left out."""
    return {k: v for k, v in statement.items() if not (k == "version" and str(v).startswith("2."))}


def _statement_row(
    parsed: tuple[str, dict[str, Any], str, Evidence | None],
    attachments: tuple[str, ...],
    authority: Mapping[str, Any] | None,
    version: str | None,
    received: datetime,
) -> StatementRow:
    """A parsed statement as it is stored, with the agents it is found by."""
    statement_id, statement, learner, evidence = parsed
    stored = as_stored(statement, authority, version)
    named = tuple(a for a in agents_named(statement) if a != learner)
    sender, related = _found_elsewhere(stored, learner, named)
    return StatementRow(
        statement_id,
        stored,
        learner,
        evidence,
        statement_digest(statement),  # without authority: the content the sender chose
        received,
        named,
        attachments,
        sender,
        related,
    )


def _found_elsewhere(
    stored: Mapping[str, Any], learner: str, named: tuple[str, ...]
) -> tuple[str | None, tuple[str, ...]]:
    """Where ``related_agents`` finds a stored statement besides its ``learner`` and those
    it ``named`` for the ``agent`` filter: its authority's id (a column) and the learners
    named anywhere else (rows)."""
    sender = authority_of(stored)
    besides = [learner, *named, *([sender] if sender else [])]
    return sender, agents_related(stored, besides=besides)


def _agent_rows(
    statement_id: str, named: Sequence[str], related: Sequence[str]
) -> list[dict[str, Any]]:
    """The rows of :class:`XapiStatementAgentRow` of one statement."""
    return [
        {"learner_id": learner, "statement_id": statement_id, "related_only": only}
        for learners, only in ((named, False), (related, True))
        for learner in learners
    ]


def as_stored(
    statement: Mapping[str, Any], authority: Mapping[str, Any] | None, version: str | None
) -> dict[str, Any]:
    """A statement as stored: with the ``authority`` the LRS records (xAPI 2.4.9) and,
    where it has none, the ``version`` of the request it came in (2.4.10). Neither is
    part of its digest: they are the LRS's, not the sender's.

    >>> as_stored({"id": "a", "version": "1.0.3"}, None, "1.0.0")
    {'id': 'a', 'version': '1.0.3'}
    >>> as_stored({"id": "a"}, {"name": "lms"}, "2.0.0")
    {'id': 'a', 'authority': {'name': 'lms'}, 'version': '2.0.0'}
    """
    out = dict(statement)
    if authority is not None:
        out["authority"] = dict(authority)
    if version is not None and "version" not in out:
        out["version"] = version
    return out


def statement_version(header: str) -> str:
    """The ``version`` a statement without one gets (xAPI 2.4.10): ``1.0.0`` in a 1.0.x
    request, ``2.0.0`` in a 2.0.x one.

    >>> statement_version("1.0.3"), statement_version("2.0.0")
    ('1.0.0', '2.0.0')
    """
    return "2.0.0" if header.startswith("2.") else "1.0.0"


def refers_to(statement: Mapping[str, Any]) -> str | None:
    """The id of the statement that ``statement`` refers to (its object is a
    StatementRef), else None.

    >>> refers_to({"object": {"objectType": "StatementRef", "id": "9e3f..."}})
    '9e3f...'
    >>> refers_to({"object": {"id": "https://lms.example/q1"}}) is None
    True
    """
    target = statement.get("object")
    if isinstance(target, Mapping) and target.get("objectType") == "StatementRef":
        return str(target.get("id", ""))[:36] or None
    return None


def is_voiding(statement: Any) -> bool:
    """Whether ``statement`` is a voiding statement (its verb is ``voided``)."""
    verb = statement.get("verb") if isinstance(statement, Mapping) else None
    return isinstance(verb, Mapping) and verb.get("id") == VOIDED


def _evidence_voided(session: Session, key: str) -> bool:
    return (
        session.scalar(
            select(EvidenceVoidRow.evidence_id).where(EvidenceVoidRow.evidence_key == key).limit(1)
        )
        is not None
    )


@contextmanager
def _statement_conflicts() -> Iterator[None]:
    """An evidence key conflict of a statement's evidence is that statement's id conflict."""
    try:
        yield
    except ConflictError as exc:
        if exc.identifier.startswith("xapi:"):
            raise ConflictError(
                "id",
                exc.identifier.removeprefix("xapi:"),
                "a different statement with this id is stored",
            ) from None
        raise
