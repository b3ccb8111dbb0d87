"""Placement (test-out) use cases: start a diagnostic for a learner on a framework, take
answers, conclude, and record the conclusions as ``inferred`` evidence -- at once, or
after an educator confirms them (``hold_for_confirmation``, the default).

A session stores its settings, its prior (fitted on the other learners' mastered
competencies when enough learners have states in the framework) and its answers; the
posterior is rebuilt by replaying the answers (``PlacementSession.replay`` is exact), so
nothing but answers is ever stored half-way. Each conclusion becomes one piece of evidence
with provenance: kind ``inferred``, source ``placement:<id>``, ``asserted_by`` the
educator who confirmed it (or ``placement``), and the session keeps the answers and the
posterior probability behind each one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import select

from masterypath.domain.evidence import BinaryOutcome, Evidence, EvidenceKind
from masterypath.domain.framework import Framework
from masterypath.domain.placement import PlacementConfig, PlacementPrior, PlacementSession
from masterypath.errors import ConflictError, NotFoundError, ValidationError
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.mastery import MasteryService
from masterypath.store.tables import MasteryStateRow, PlacementRow

OPEN = "open"
AWAITING = "awaiting_confirmation"
RECORDED = "recorded"
REJECTED = "rejected"

MIN_POPULATION = 20
"""Fewer learners with states in the framework than this: the uniform prior."""
RECENT_SESSIONS = 64
"""Sessions kept in memory (least recently used dropped) so answers need not replay."""
LEARNERS_PER_CLASS = 30
"""The prior has one learner class per this many learners (up to ``prior_classes``)."""


class PlacementService:
    def __init__(
        self,
        context: ServiceContext,
        *,
        hold_for_confirmation: bool = True,
        prior_classes: int = 32,
    ) -> None:
        self.context = context
        self.hold_for_confirmation = hold_for_confirmation
        self.prior_classes = prior_classes
        self.mastery = MasteryService(context)
        self._recent: OrderedDict[tuple[int, datetime, str, int], PlacementSession] = OrderedDict()
        self._lock = threading.Lock()

    # -- sessions ----------------------------------------------------------------------------
    def start(
        self,
        learner_id: str,
        framework_id: str,
        *,
        by: str,
        budget: int | None = None,
        confidence: float | None = None,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Open a session; the prior is fitted on the other learners' mastered sets."""
        with self.context.sessions.begin() as session:
            framework = self.mastery.framework(session, framework_id)
            n = len(framework.competencies)
            config = PlacementConfig(
                budget=budget if budget is not None else max(1, min(n, max(10, n // 5))),
                confidence=confidence if confidence is not None else PlacementConfig.confidence,
            )
            prior = self._population_prior(session, framework, exclude=learner_id)
            row = PlacementRow(
                learner_id=learner_id,
                framework_id=framework_id,
                seed=seed,
                config=config.to_dict(),
                prior=prior.to_dict(),
                answers=[],
                status=OPEN,
                conclusions=None,
                evidence_keys=[],
                started_by=by,
                created_at=self.context.clock(),
            )
            session.add(row)
            session.flush()
            return self._view(row, framework)

    def get(self, placement_id: int, *, learner_id: str | None = None) -> dict[str, Any]:
        with self.context.sessions() as session:
            row = self._row(session, placement_id, learner_id)
            return self._view(row, self.mastery.framework(session, row.framework_id))

    def sessions_of(self, learner_id: str) -> list[dict[str, Any]]:
        """The learner's sessions, newest first (without the posterior)."""
        with self.context.sessions() as session:
            rows = session.scalars(
                select(PlacementRow)
                .where(PlacementRow.learner_id == learner_id)
                .order_by(PlacementRow.id.desc())
            )
            return [self._summary(r) for r in rows]

    def answer(
        self,
        placement_id: int,
        competency_id: str,
        correct: bool,
        *,
        learner_id: str | None = None,
    ) -> dict[str, Any]:
        """Record one answer (normally to the session's ``next_probe``; any competency of
        the framework is accepted, e.g. when the educator asks another)."""
        with self.context.sessions.begin() as session:
            row = self._row(session, placement_id, learner_id, lock=True)
            if row.status != OPEN:
                raise ConflictError("placement", str(placement_id), f"is {row.status}")
            framework = self.mastery.framework(session, row.framework_id)
            if competency_id not in framework:
                raise ValidationError(
                    "competency_id",
                    f"{competency_id!r} is not a competency of framework {row.framework_id!r}",
                )
            if len(row.answers) >= PlacementConfig.from_dict(row.config).budget:
                raise ConflictError("placement", str(placement_id), "has used its budget")
            row.answers = [
                *row.answers,
                {
                    "competency_id": competency_id,
                    "correct": bool(correct),
                    "at": self.context.clock().isoformat(),
                },
            ]
            return self._view(row, framework)

    def finish(
        self, placement_id: int, *, by: str, learner_id: str | None = None
    ) -> dict[str, Any]:
        """Conclude: the competencies classified with the configured confidence. Held for
        an educator (``awaiting_confirmation``) or recorded as evidence at once."""
        with self.context.sessions.begin() as session:
            row = self._row(session, placement_id, learner_id, lock=True)
            if row.status != OPEN:
                raise ConflictError("placement", str(placement_id), f"is {row.status}")
            if not row.answers:
                raise ValidationError(
                    "answers", "answer at least one question before finishing a placement"
                )
            framework = self.mastery.framework(session, row.framework_id)
            placement = self._replay(row, framework)
            marg = placement.marginals()
            row.conclusions = {
                c: {"known": known, "p_known": round(marg[c], 4)}
                for c, known in placement.classification().items()
                if known is not None
            }
            row.finished_at = self.context.clock()
            row.status = AWAITING
            placement_id = row.id
        if not self.hold_for_confirmation:
            return self._record(placement_id, by=by, note=None)
        return self.get(placement_id)

    def decide(
        self, placement_id: int, *, accept: bool, by: str, note: str | None = None
    ) -> dict[str, Any]:
        """An educator accepts (the conclusions become evidence) or rejects them."""
        with self.context.sessions.begin() as session:
            row = self._row(session, placement_id, None, lock=True)
            if row.status != AWAITING:
                raise ConflictError(
                    "placement", str(placement_id), f"is {row.status}, not awaiting_confirmation"
                )
            if not accept:
                row.status = REJECTED
                row.decided_by, row.decided_at, row.note = by, self.context.clock(), note
        if accept:
            return self._record(placement_id, by=by, note=note)
        return self.get(placement_id)

    # -- internals ---------------------------------------------------------------------------
    def _record(self, placement_id: int, *, by: str, note: str | None) -> dict[str, Any]:
        with self.context.sessions() as session:
            row = self._row(session, placement_id, None)
            learner_id, conclusions = row.learner_id, dict(row.conclusions or {})
            at = row.finished_at or self.context.clock()
        evidence = [
            Evidence.create(
                key=f"placement:{placement_id}:{cid}",
                learner_id=learner_id,
                competency_ids=(cid,),
                outcome=BinaryOutcome(correct=bool(c["known"])),
                timestamp=at,
                kind=EvidenceKind.INFERRED,
                item_id="placement",
                source=f"placement:{placement_id}",
                asserted_by=by,
            )
            for cid, c in sorted(conclusions.items())
        ]
        now = self.context.clock()

        def mark(session: Any) -> None:
            stored = session.get(PlacementRow, placement_id, with_for_update=True)
            if stored.status != AWAITING:
                raise ConflictError("placement", str(placement_id), f"is {stored.status}")
            stored.status = RECORDED
            stored.evidence_keys = [e.key for e in evidence]
            stored.decided_by, stored.decided_at, stored.note = by, now, note

        if evidence:
            EvidenceService(self.context).record_many(evidence, also=mark)
        else:
            with self.context.sessions.begin() as session:
                mark(session)
        return self.get(placement_id)

    def _population_prior(
        self, session: Any, framework: Framework, *, exclude: str
    ) -> PlacementPrior:
        known: dict[str, set[str]] = {}
        rows = session.execute(
            select(MasteryStateRow.learner_id, MasteryStateRow.competency_id).where(
                MasteryStateRow.framework_id == framework.id,
                MasteryStateRow.status == "mastered",
                MasteryStateRow.learner_id != exclude,
            )
        )
        for learner, cid in rows:
            known.setdefault(learner, set()).add(cid)
        learners = session.execute(
            select(MasteryStateRow.learner_id)
            .where(
                MasteryStateRow.framework_id == framework.id,
                MasteryStateRow.learner_id != exclude,
            )
            .distinct()
        )
        population = [known.get(lid, set()) for (lid,) in learners]
        if len(population) < MIN_POPULATION:
            return PlacementPrior.uniform(framework)
        classes = max(1, min(self.prior_classes, len(population) // LEARNERS_PER_CLASS))
        return PlacementPrior.fit(framework, population, classes=classes)

    @staticmethod
    def _row(
        session: Any, placement_id: int, learner_id: str | None, *, lock: bool = False
    ) -> PlacementRow:
        row = session.get(PlacementRow, placement_id, with_for_update=lock or None)
        if row is None or (learner_id is not None and row.learner_id != learner_id):
            raise NotFoundError("placement", str(placement_id))
        return row  # type: ignore[no-any-return]

    def _replay(self, row: PlacementRow, framework: Framework) -> PlacementSession:
        """The session after the row's answers: from the last one built for this placement
        plus the answers since (an answer request then costs one update, not a replay of
        all answers), else replayed from the start -- the same result either way."""
        answers = tuple((a["competency_id"], bool(a["correct"])) for a in row.answers)
        key = (row.id, row.created_at, row.framework_id, row.seed)
        with self._lock:
            cached = self._recent.pop(key, None)
        if cached is not None and cached.asked == answers[: len(cached.asked)]:
            session = cached
            for cid, correct in answers[len(cached.asked) :]:
                session = session.answer(cid, correct)
        else:
            session = PlacementSession.replay(
                framework,
                answers,
                prior=PlacementPrior.from_dict(row.prior),
                config=PlacementConfig.from_dict(row.config),
                seed=row.seed,
            )
        with self._lock:
            self._recent[key] = session
            while len(self._recent) > RECENT_SESSIONS:
                self._recent.popitem(last=False)
        return session

    @staticmethod
    def _summary(row: PlacementRow) -> dict[str, Any]:
        return {
            "id": row.id,
            "learner_id": row.learner_id,
            "framework_id": row.framework_id,
            "status": row.status,
            "asked": len(row.answers),
            "budget": int(row.config["budget"]),
            "confidence": float(row.config["confidence"]),
            "prior_learners": int(row.prior.get("learners", 0)),
            "started_by": row.started_by,
            "created_at": row.created_at.isoformat(),
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            "decided_by": row.decided_by,
            "decided_at": row.decided_at.isoformat() if row.decided_at else None,
            "note": row.note,
            "evidence_keys": list(row.evidence_keys or []),
        }

    def _view(self, row: PlacementRow, framework: Framework) -> dict[str, Any]:
        out = self._summary(row)
        out["answers"] = list(row.answers)
        if row.status == OPEN:
            placement = self._replay(row, framework)
            marg = placement.marginals()
            out["next_probe"] = placement.next_probe()
            out["done"] = placement.done
            out["beliefs"] = {
                c: {"p_known": round(marg[c], 4), "classified": v}
                for c, v in placement.classification().items()
            }
        else:
            out["next_probe"] = None
            out["done"] = True
            out["conclusions"] = row.conclusions
        return out
