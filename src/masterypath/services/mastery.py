"""Mastery use cases: the streaming projection (evidence -> states -> decisions), replay,
refit, status and explanations, the gate, overrides, alerts and policies.

The projection processes each learner's evidence in ledger (arrival) order while holding
that learner's lock, so live processing and :meth:`MasteryService.replay` see the same
sequence and build the same states.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from masterypath.domain.alerts import AlertClearing, AlertDraft
from masterypath.domain.explain import Explanation
from masterypath.domain.framework import Framework, UnlockStatus
from masterypath.domain.gate import MissingPrerequisite, missing_prerequisites
from masterypath.domain.models.bkt import BKT
from masterypath.domain.models.logistic import Logistic
from masterypath.domain.models.registry import make_model, model_from_dict
from masterypath.domain.models.responses import Responses
from masterypath.domain.overrides import Override, OverrideReason
from masterypath.domain.planner import CompetencyView, Plan, Preferences, plan
from masterypath.domain.policy import MasteryPolicy, PolicyBook, Status, satisfies
from masterypath.domain.progress import (
    CompetencyState,
    Decision,
    Observation,
    apply_observation,
    decide,
    model_status,
    parent_status,
)
from masterypath.domain.trackers import (
    BKTTracker,
    LogisticTracker,
    RollupTracker,
    Tracker,
    bkt_tracker,
)
from masterypath.errors import (
    ConfigurationError,
    LockedError,
    NotFoundError,
    ValidationError,
)
from masterypath.services.context import ServiceContext
from masterypath.store.json_text import from_json_text
from masterypath.store.mastery import (
    STATUSES,
    LedgerEvent,
    MasteryRepository,
    StoredState,
    TrailEntry,
)
from masterypath.store.people import PeopleRepository
from masterypath.store.repositories import FrameworkRepository

Progress = Callable[[int], None]


class FrameworkRuntime:
    """What projecting one framework needs: the graph, policies and fitted models."""

    def __init__(
        self,
        framework: Framework,
        policies: PolicyBook,
        models: dict[str, tuple[int, Any]],
    ) -> None:
        self.framework = framework
        self.policies = policies
        self.models = models
        self.children: dict[str, list[str]] = {}
        for c in framework.competencies:
            if c.parent_id is not None:
                self.children.setdefault(c.parent_id, []).append(c.id)
        self._trackers: dict[str, Tracker] = {}
        self._reads: dict[str, frozenset[str]] = {}

    def reads(self, competency_id: str) -> frozenset[str]:
        """The competencies whose states projecting evidence on ``competency_id`` reads:
        its own, and for the gate each prerequisite's, or for a parent prerequisite the
        states of the parts its status rolls up from."""
        found = self._reads.get(competency_id)
        if found is None:
            wanted = {competency_id}
            stack = [
                p.competency_id for p in self.framework.competency(competency_id).prerequisites
            ]
            while stack:
                cid = stack.pop()
                if cid not in wanted:
                    wanted.add(cid)
                    stack.extend(self.children.get(cid, ()))
            found = self._reads[competency_id] = frozenset(wanted)
        return found

    @classmethod
    def load(
        cls, repo: MasteryRepository, framework: Framework, cache: dict[object, object]
    ) -> FrameworkRuntime:
        """Policies are read every time; fitted models come from ``cache`` by version id."""
        active = repo.active_model_ids(framework.id)
        return cls.build(repo, framework, active, repo.policies(framework.id), cache)

    @classmethod
    def build(
        cls,
        repo: MasteryRepository,
        framework: Framework,
        model_ids: Mapping[str, int],
        policies: PolicyBook,
        cache: dict[object, object],
    ) -> FrameworkRuntime:
        """With the active model versions and policies already read; a model version not
        in ``cache`` is read and parsed once."""
        models = {}
        for name in ("bkt", "logistic"):
            version = model_ids.get(name)
            if version is None:
                continue
            model = cache.get(("model", version))
            if model is None:
                model = model_from_dict(repo.model_payload(version))
                cache[("model", version)] = model
            models[name] = (version, model)
        return cls(framework, policies, models)

    def policy(self, competency_id: str) -> MasteryPolicy:
        return self.policies.for_competency(competency_id)

    def model_version(self, competency_id: str) -> int | None:
        found = self.models.get(self.policy(competency_id).model)
        return None if found is None else found[0]

    def tracker(self, competency_id: str) -> Tracker:
        tracker = self._trackers.get(competency_id)
        if tracker is None:
            tracker = self._make_tracker(competency_id)
            self._trackers[competency_id] = tracker
        return tracker

    def _make_tracker(self, competency_id: str) -> Tracker:
        policy = self.policy(competency_id)
        method = policy.rollup_method
        if method is not None:
            return RollupTracker(
                method,
                weight=policy.rollup_weight,
                n=policy.rollup_n,
                mastery_points=policy.mastery_threshold,
            )
        if policy.model == "logistic":
            found = self.models.get("logistic")
            if found is None:
                raise ConfigurationError(
                    f"framework {self.framework.id!r}: the policy of {competency_id!r} uses the "
                    "logistic model, which has not been fitted; run `masterypath refit "
                    f"{self.framework.id} --model logistic`"
                )
            model = found[1]
            assert isinstance(model, Logistic)
            return LogisticTracker(model, competency_id)
        found = self.models.get("bkt")
        bkt = found[1] if found is not None else None
        assert bkt is None or isinstance(bkt, BKT)
        return bkt_tracker(bkt, competency_id)


CHANGES_WITH_TIME = frozenset({Status.MASTERED.value, Status.PROFICIENT.value})
"""Stored statuses that time alone can lower (a review due, expired evidence)."""


def _locked_columns(framework: Framework) -> Callable[[Sequence[list[Any] | None]], list[int]]:
    """For a grid row (cells in topological order, a status first in each): the columns
    that the learner's page shows as locked, i.e. not :func:`~masterypath.domain.gate.unlocked`
    by the row's statuses and not mastered all the same. Prepared once per grid: only the
    competencies with prerequisites are looked at."""
    column = {cid: i for i, cid in enumerate(framework.topological_order())}
    enough = {r: frozenset(s.value for s in Status if satisfies(s, r)) for r in UnlockStatus}
    gated = [
        (column[c.id], [(column[p.competency_id], enough[p.requires]) for p in c.prerequisites])
        for c in framework.competencies
        if c.prerequisites
    ]

    def locked(row: Sequence[list[Any] | None]) -> list[int]:
        statuses = [cell[0] if cell else Status.NOT_STARTED.value for cell in row]
        return sorted(
            i
            for i, prerequisites in gated
            if statuses[i] != Status.MASTERED.value
            and not all(statuses[j] in ok for j, ok in prerequisites)
        )

    return locked


def _status_state(row: tuple[Any, ...]) -> CompetencyState:
    """A grid row as a state holding what :func:`model_status` reads (estimate, evidence
    count, kinds, last evidence, mastery and review times), the rest left empty: enough
    for :meth:`Projector.status_at`, without parsing the stored state whole."""
    last, mastered, due, kinds = from_json_text(row[5])
    return CompetencyState(
        row[0],
        row[1],
        row[3],
        n_evidence=row[4],
        kinds=tuple(kinds or ()),
        last_evidence_at=_when(last),
        mastered_at=_when(mastered),
        review_due=_when(due),
    )


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass
class Projector:
    """Applies ledger events to one framework's states, kept in memory for the duration of
    one transaction (a live batch or a whole replay)."""

    runtime: FrameworkRuntime
    states: dict[tuple[str, str], StoredState]
    overrides: dict[tuple[str, str], Override]
    touched: set[tuple[str, str]] = field(default_factory=set)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    alerts: list[AlertDraft] = field(default_factory=list)
    cleared: list[tuple[AlertClearing, int]] = field(default_factory=list)
    """Alerts whose reason an event took away, with that event's evidence id, in order."""
    locked: dict[str, list[str]] = field(default_factory=dict)
    """Evidence key -> competencies that were locked when it arrived."""
    names: Mapping[str, str] = field(default_factory=dict)
    """Who set each override (an account id) -> what to call them in an explanation."""

    def state(self, learner_id: str, competency_id: str) -> CompetencyState:
        stored = self.states.get((learner_id, competency_id))
        if stored is not None:
            return stored.state
        return CompetencyState.new(learner_id, competency_id, self.runtime.tracker(competency_id))

    def status_at(self, learner_id: str, competency_id: str, now: datetime) -> Status:
        """Effective status (override, parent rollup, or policy) at ``now``."""
        override = self.overrides.get((learner_id, competency_id))
        if override is not None:
            return override.status
        children = self.runtime.children.get(competency_id)
        if children:
            statuses = {c: self.status_at(learner_id, c, now) for c in children}
            return parent_status(statuses, self.runtime.policy(competency_id))[0]
        stored = self.states.get((learner_id, competency_id))
        if stored is None:
            return Status.NOT_STARTED
        return model_status(stored.state, self.runtime.policy(competency_id), now)[0]

    def missing(
        self, learner_id: str, competency_id: str, now: datetime
    ) -> tuple[MissingPrerequisite, ...]:
        competency = self.runtime.framework.competency(competency_id)
        if not competency.prerequisites:
            return ()
        statuses = {
            p.competency_id: self.status_at(learner_id, p.competency_id, now)
            for p in competency.prerequisites
        }
        return missing_prerequisites(self.runtime.framework, competency_id, statuses)

    def apply(self, event: LedgerEvent) -> None:
        framework = self.runtime.framework
        for cid in event.competency_ids:
            if cid not in framework:
                continue
            key = (event.learner_id, cid)
            locked = bool(self.missing(event.learner_id, cid, event.timestamp))
            if locked:
                self.locked.setdefault(event.key, []).append(cid)
            new, step = apply_observation(
                self.state(event.learner_id, cid),
                Observation(event.key, event.score, event.kind, event.timestamp, event.item_id),
                self.runtime.tracker(cid),
                self.runtime.policy(cid),
                self.overrides.get(key),
            )
            self.states[key] = StoredState(new, step.status, self.runtime.model_version(cid))
            self.touched.add(key)
            self.events.append(
                (
                    event.evidence_id,
                    framework.id,
                    cid,
                    event.learner_id,
                    step.estimate_before,
                    step.estimate_after,
                    str(step.status),
                    locked,
                )
            )
            self.alerts.extend(step.alerts)
            self.cleared.extend((c, event.evidence_id) for c in step.cleared)


@dataclass(frozen=True)
class CompetencyProgress:
    competency_id: str
    title: str
    decision: Decision
    unlocked: bool
    missing_prerequisites: tuple[MissingPrerequisite, ...]
    is_parent: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "competency_id": self.competency_id,
            "title": self.title,
            "status": str(self.decision.status),
            "model_status": str(self.decision.model_status),
            "unlocked": self.unlocked,
            "missing_prerequisites": [
                {"competency_id": m.competency_id, "requires": m.requires, "status": m.status}
                for m in self.missing_prerequisites
            ],
            "is_parent": self.is_parent,
            "explanation": self.decision.explanation.to_dict(),
        }


@dataclass(frozen=True)
class ReplaySummary:
    framework_id: str
    events: int
    states: int
    seconds: float
    statuses: dict[str, int]
    alerts: int


class MasteryService:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    # -- the projection --------------------------------------------------------------------
    def project(self, session: Session, events: Sequence[LedgerEvent]) -> dict[str, list[str]]:
        """Apply newly stored ``events`` (inside the caller's transaction, after it locked
        their learners) to every framework that defines their competencies. Returns, per
        evidence key, the competencies that were locked when it arrived (it is recorded
        and counted all the same)."""
        locked: dict[str, list[str]] = {}
        if not events:
            return locked
        repo = MasteryRepository(session)
        heads = repo.heads_of(c for e in events for c in e.competency_ids)
        ordered = sorted(events, key=lambda e: e.evidence_id)
        now = self.context.clock()
        for head in heads:
            fid = head.framework_id
            framework = self._framework_at(session, fid, head.stamp)
            mine = [e for e in ordered if any(c in framework for c in e.competency_ids)]
            learners = {e.learner_id for e in mine}
            runtime = FrameworkRuntime.build(
                repo, framework, head.model_ids, head.policies, self.context.cache
            )
            needed = {
                (e.learner_id, read)
                for e in mine
                for cid in e.competency_ids
                if cid in framework
                for read in runtime.reads(cid)
            }
            projector = Projector(
                runtime,
                repo.load_states_of(fid, needed),
                repo.active_overrides(fid, learners) if head.has_overrides else {},
            )
            for event in mine:
                projector.apply(event)
            self._write(repo, projector, now=now, bulk=False)
            for key, cids in projector.locked.items():
                locked.setdefault(key, []).extend(cids)
        return locked

    def _write(
        self, repo: MasteryRepository, projector: Projector, *, now: datetime, bulk: bool
    ) -> None:
        repo.write_projection(
            projector.runtime.framework.id,
            [projector.states[k] for k in sorted(projector.touched)],
            projector.events,
            projector.alerts,
            now=now,
            bulk=bulk,
        )
        if projector.cleared:  # after the alerts this projection raised: it may clear them
            repo.clear_alerts(projector.runtime.framework.id, projector.cleared)

    def replay(self, framework_id: str, *, progress: Progress | None = None) -> ReplaySummary:
        """Rebuild every state of ``framework_id`` from the ledger in one transaction;
        overrides and acknowledged alerts are kept, alerts are not raised twice."""
        start = time.perf_counter()
        with self.context.sessions.begin() as session:
            n, projector = self.rebuild(session, framework_id, progress=progress)
            counts = MasteryRepository(session).status_counts(framework_id)
        return ReplaySummary(
            framework_id,
            n,
            len(projector.touched),
            time.perf_counter() - start,
            counts,
            len(projector.alerts),
        )

    def rebuild(
        self,
        session: Session,
        framework_id: str,
        *,
        learner_id: str | None = None,
        progress: Progress | None = None,
    ) -> tuple[int, Projector]:
        """Within the caller's transaction, rebuild the framework's states (one learner's,
        if given) from the ledger: the events applied, and the projector that holds them."""
        repo = MasteryRepository(session)
        framework = self.framework(session, framework_id)
        # as a live write does, first: a post for these learners waits for the rebuilt
        # states instead of updating the ones this transaction replaces
        learners = (
            [learner_id] if learner_id is not None else repo.learners_with_evidence(framework.ids)
        )
        repo.lock_learners(learners, now=self.context.clock())
        repo.clear_projection(framework_id, learner_id=learner_id)
        repo.reopen_cleared_alerts(framework_id, learner_id=learner_id)
        overrides = repo.active_overrides(
            framework_id, None if learner_id is None else [learner_id]
        )
        runtime = FrameworkRuntime.load(repo, framework, self.context.cache)
        projector = Projector(runtime, {}, overrides)
        n = 0
        for event in repo.ledger_events(framework.ids, learner_id=learner_id):
            projector.apply(event)
            n += 1
            if progress is not None and n % 10_000 == 0:
                progress(10_000)
        if progress is not None:
            progress(n % 10_000)
        self._write(repo, projector, now=self.context.clock(), bulk=True)
        return n, projector

    def refit(self, framework_id: str, *, model: str = "bkt", seed: int = 0) -> dict[str, Any]:
        """Fit ``model`` on the framework's ledger, store it as the new active version, and
        replay with it. Scores >= 0.5 count as correct for fitting."""
        if model not in ("bkt", "logistic"):
            raise ValidationError("model", "must be 'bkt' or 'logistic'")
        with self.context.sessions() as session:
            repo = MasteryRepository(session)
            framework = self.framework(session, framework_id)
            rows = [
                (e.learner_id, c, int(e.score >= 0.5), e.evidence_id, e.item_id)
                for e in repo.ledger_events(framework.ids)
                for c in e.competency_ids
                if c in framework
            ]
        if not rows:
            raise ValidationError("framework_id", f"{framework_id!r} has no evidence to fit on")
        frame = pd.DataFrame(rows, columns=["user", "skill", "correct", "order", "item"])
        if frame["item"].isna().all():
            frame = frame.drop(columns="item")
        responses = Responses.from_frame(frame, item="item" if "item" in frame else None)
        fitted = make_model(model, seed=seed).fit(responses)
        with self.context.sessions.begin() as session:
            version = MasteryRepository(session).add_model_version(
                framework_id, model, fitted.to_dict(), n_rows=len(frame), now=self.context.clock()
            )
        summary = self.replay(framework_id)
        return {"model_version": version, "model": model, "n_rows": len(frame), "replay": summary}

    # -- reading ---------------------------------------------------------------------------
    def framework(self, session: Session, framework_id: str) -> Framework:
        """The stored framework (cached by import time), or NotFoundError."""
        stamp = MasteryRepository(session).framework_stamp(framework_id)
        if stamp is None:
            raise NotFoundError("framework", framework_id)
        return self._framework_at(session, framework_id, stamp)

    def _framework_at(self, session: Session, framework_id: str, stamp: datetime) -> Framework:
        """The framework as imported at ``stamp``: from the cache, else read and cached."""
        key = ("framework", framework_id, stamp)
        cached = self.context.cache.get(key)
        if isinstance(cached, Framework):
            return cached
        framework = FrameworkRepository(session).get(framework_id)
        if framework is None:
            raise NotFoundError("framework", framework_id)
        self.context.cache[key] = framework
        return framework

    def _projector(self, session: Session, framework: Framework, learner_id: str) -> Projector:
        repo = MasteryRepository(session)
        overrides = repo.active_overrides(framework.id, [learner_id])
        return Projector(
            FrameworkRuntime.load(repo, framework, self.context.cache),
            repo.load_states(framework.id, [learner_id]),
            overrides,
            names=PeopleRepository(session).names(o.educator for o in overrides.values()),
        )

    def progress(
        self, learner_id: str, framework_id: str, *, now: datetime | None = None
    ) -> list[CompetencyProgress]:
        """Every competency of the framework for one learner, in topological order: status
        at ``now`` (default: the clock), explanation, and whether it is unlocked."""
        now = now or self.context.clock()
        with self.context.sessions() as session:
            framework = self.framework(session, framework_id)
            projector = self._projector(session, framework, learner_id)
        out = []
        for cid in framework.topological_order():
            decision = self._decision(projector, learner_id, cid, now)
            missing = projector.missing(learner_id, cid, now)
            out.append(
                CompetencyProgress(
                    cid,
                    framework.competency(cid).title,
                    decision,
                    not missing,
                    missing,
                    cid in projector.runtime.children,
                )
            )
        return out

    def _decision(self, projector: Projector, learner_id: str, cid: str, now: datetime) -> Decision:
        runtime = projector.runtime
        override = projector.overrides.get((learner_id, cid))
        state = projector.state(learner_id, cid)
        title = runtime.framework.competency(cid).title
        by = projector.names.get(override.educator, "") if override else ""
        decision = decide(
            state,
            runtime.policy(cid),
            runtime.tracker(cid),
            now,
            override,
            title=title,
            educator_name=by,
        )
        children = runtime.children.get(cid)
        if not children:
            return decision
        statuses = {c: projector.status_at(learner_id, c, now) for c in children}
        status, rule = parent_status(statuses, runtime.policy(cid))
        done = sum(s is Status.MASTERED for s in statuses.values())
        text = f"{done} of {len(children)} parts of {title} mastered ({rule.replace('_', ' ')})."
        explanation = Explanation(
            **{
                **decision.explanation.__dict__,
                "status": status,
                "rule": rule,
                "learner_text": text if override is None else decision.explanation.learner_text,
                "educator_text": text + " " + decision.explanation.educator_text,
            }
        )
        return Decision(override.status if override else status, explanation, status)

    def grid(
        self,
        framework_id: str,
        learner_ids: Iterable[str] | None = None,
        *,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Learners x competencies: each cell's status at ``now`` (default: the clock),
        estimate, uncertainty and evidence count (what an educator's cohort grid shows).
        ``learner_ids`` limits it (None: every learner with a state); learners without
        evidence have empty rows."""
        now = now or self.context.clock()
        with self.context.sessions() as session:
            framework = self.framework(session, framework_id)
            repo = MasteryRepository(session)
            runtime = FrameworkRuntime.load(repo, framework, self.context.cache)
            order = framework.topological_order()
            trackers = {cid: runtime.tracker(cid) for cid in order}
            needs_state = any(not isinstance(t, BKTTracker) for t in trackers.values())
            rows = repo.grid_rows(framework_id, learner_ids, with_model_state=needs_state)
            # a stored status is as of the learner's last evidence: time alone lowers only a
            # mastered or proficient one (a review comes due, evidence expires), and a
            # parent follows its parts. Those learners are decided at now, as their own
            # page is; the others' stored statuses are their statuses now.
            timely = sorted({r[0] for r in rows if r[2] in CHANGES_WITH_TIME})
            overrides = repo.active_overrides(framework_id, timely)
        decided = set(timely)
        projector = Projector(
            runtime,
            {
                (r[0], r[1]): StoredState(_status_state(r), STATUSES[r[2]], None)
                for r in rows
                if r[0] in decided
            },
            overrides,
        )
        column = {cid: i for i, cid in enumerate(order)}
        learners = sorted(set(learner_ids) if learner_ids is not None else {r[0] for r in rows})
        cells: dict[str, list[Any]] = {lr: [None] * len(order) for lr in learners}
        for row in rows:
            learner, cid, status, estimate, n = row[:5]
            if learner not in cells or cid not in column:
                continue
            if learner in decided:
                status = projector.status_at(learner, cid, now).value
            tracker = trackers[cid]
            state = from_json_text(row[6]) if needs_state and row[6] else {}
            try:
                spread = tracker.uncertainty(estimate, state)
            except (KeyError, TypeError):
                spread = None
            cells[learner][column[cid]] = [
                status,
                None if estimate is None else round(float(estimate), 3),
                None if spread is None else round(float(spread), 3),
                n,
            ]
        locked = _locked_columns(framework)
        return {
            "framework_id": framework_id,
            "competencies": [
                {"id": cid, "title": framework.competency(cid).title} for cid in order
            ],
            "cell": ["status", "estimate", "uncertainty", "n_evidence"],
            "learners": [
                {"id": lr, "cells": cells[lr], "locked": locked(cells[lr])} for lr in learners
            ],
        }

    def plan(
        self,
        learner_id: str,
        framework_id: str,
        *,
        goals: Sequence[str] = (),
        max_steps: int = 10,
        target_success: float = 0.7,
        now: datetime | None = None,
    ) -> Plan:
        """The learner's next steps (see :mod:`masterypath.domain.planner`)."""
        now = now or self.context.clock()
        preferences = Preferences(target_success=target_success, max_steps=max_steps)
        with self.context.sessions() as session:
            framework = self.framework(session, framework_id)
            projector = self._projector(session, framework, learner_id)
            recent = MasteryRepository(session).recent_items(learner_id, limit=5)
        runtime = projector.runtime
        view = {}
        for cid in framework.ids:
            state = projector.state(learner_id, cid)
            status = projector.status_at(learner_id, cid, now)
            view[cid] = CompetencyView(
                status,
                state.estimate,
                "wheel_spinning" in state.alerts_raised and state.mastered_at is None,
                state.review_due,
            )

        def predict(cid: str, item: str | None) -> float:
            state = projector.state(learner_id, cid)
            return runtime.tracker(cid).p_correct(state.estimate, dict(state.model_state), item)

        return plan(
            framework,
            view,
            predict=predict,
            goals=goals,
            recent_items=recent,
            preferences=preferences,
            learner_id=learner_id,
        )

    def explain(
        self, learner_id: str, framework_id: str, competency_id: str, *, now: datetime | None = None
    ) -> tuple[CompetencyProgress, list[TrailEntry]]:
        """One competency's decision and the full evidence trail behind it."""
        for item in self.progress(learner_id, framework_id, now=now):
            if item.competency_id == competency_id:
                with self.context.sessions() as session:
                    trail = MasteryRepository(session).trail(
                        framework_id, learner_id, competency_id
                    )
                    items = {i.id: i.title for i in self.framework(session, framework_id).items}
                named = [replace(t, item_title=items.get(t.item_id or "", "")) for t in trail]
                return item, named
        raise NotFoundError("competency", competency_id)

    def start_activity(
        self,
        learner_id: str,
        framework_id: str,
        *,
        competency_id: str | None = None,
        item_id: str | None = None,
    ) -> tuple[str, ...]:
        """Check the gate before a learner starts an activity; returns the competencies it
        practises, or raises :class:`LockedError` listing the missing prerequisites."""
        now = self.context.clock()
        with self.context.sessions() as session:
            framework = self.framework(session, framework_id)
            if item_id is not None:
                item = next((i for i in framework.items if i.id == item_id), None)
                if item is None:
                    raise NotFoundError("item", item_id)
                targets = tuple(item.competency_ids)
            elif competency_id is not None:
                if competency_id not in framework:
                    raise NotFoundError("competency", competency_id)
                targets = (competency_id,)
            else:
                raise ValidationError("competency_id", "give a competency id or an item id")
            projector = self._projector(session, framework, learner_id)
        for cid in targets:
            missing = projector.missing(learner_id, cid, now)
            if missing:
                raise LockedError(cid, [(m.competency_id, m.requires, m.status) for m in missing])
        return targets

    # -- overrides -------------------------------------------------------------------------
    def override(
        self,
        *,
        learner_id: str,
        framework_id: str,
        competency_id: str,
        status: str,
        reason: str,
        educator: str,
        note: str = "",
    ) -> Override:
        """Grant or revoke a status; it wins over the model until lifted. A new override of
        the same learner and competency lifts the previous one."""
        try:
            wanted = Status(status)
        except ValueError:
            raise ValidationError("status", f"unknown status {status!r}") from None
        try:
            why = OverrideReason(reason)
        except ValueError:
            raise ValidationError(
                "reason", f"must be one of {', '.join(r.value for r in OverrideReason)}"
            ) from None
        if not educator.strip():
            raise ValidationError("educator", "must name who overrides")
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            repo = MasteryRepository(session)
            framework = self.framework(session, framework_id)
            if competency_id not in framework:
                raise NotFoundError("competency", competency_id)
            repo.lock_learners([learner_id], now=now)
            projector = self._projector(session, framework, learner_id)
            previous = projector.overrides.get((learner_id, competency_id))
            if previous is not None:
                repo.lift_override(previous.id, by=educator, note="replaced", now=now)
            projector.overrides.pop((learner_id, competency_id), None)
            model = projector.status_at(learner_id, competency_id, now)
            draft = Override(
                id=0,
                learner_id=learner_id,
                framework_id=framework_id,
                competency_id=competency_id,
                status=wanted,
                reason=why,
                note=note,
                educator=educator,
                created_at=now,
                model_status=model,
                model_estimate=projector.state(learner_id, competency_id).estimate,
            )
            new_id = repo.add_override(draft)
            repo.set_status(framework_id, learner_id, competency_id, wanted)
            return repo.get_override(new_id) or draft

    def lift_override(self, override_id: int, *, by: str, note: str = "") -> Override:
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            repo = MasteryRepository(session)
            found = repo.get_override(override_id)
            if found is None:
                raise NotFoundError("override", str(override_id))
            if not found.active:
                raise ValidationError("override_id", f"override {override_id} is already lifted")
            repo.lock_learners([found.learner_id], now=now)
            repo.lift_override(override_id, by=by, note=note, now=now)
            framework = self.framework(session, found.framework_id)
            projector = self._projector(session, framework, found.learner_id)
            stored = projector.states.get((found.learner_id, found.competency_id))
            if stored is not None:
                repo.set_status(
                    found.framework_id,
                    found.learner_id,
                    found.competency_id,
                    projector.status_at(found.learner_id, found.competency_id, now),
                )
            lifted = repo.get_override(override_id)
            assert lifted is not None
            return lifted

    def overrides(
        self, *, framework_id: str | None = None, learner_id: str | None = None
    ) -> list[Override]:
        with self.context.sessions() as session:
            return MasteryRepository(session).overrides(
                framework_id=framework_id, learner_id=learner_id
            )

    # -- alerts ----------------------------------------------------------------------------
    def alerts(self, **filters: Any) -> list[Any]:
        with self.context.sessions() as session:
            return MasteryRepository(session).alerts(**filters)

    def alert(self, alert_id: int) -> Any:
        """One alert (acknowledged or not), or NotFoundError."""
        found = self.alerts(alert_id=alert_id, include_acknowledged=True)
        if not found:
            raise NotFoundError("alert", str(alert_id))
        return found[0]

    def acknowledge_alert(self, alert_id: int, *, by: str) -> None:
        with self.context.sessions.begin() as session:
            if not MasteryRepository(session).acknowledge_alert(
                alert_id, by=by, now=self.context.clock()
            ):
                raise NotFoundError("alert", str(alert_id))

    # -- policies --------------------------------------------------------------------------
    def set_policy(
        self, framework_id: str, policy: MasteryPolicy, *, competency_id: str | None = None
    ) -> None:
        """Set the framework default (no ``competency_id``) or one competency's policy.
        States are not rebuilt: run :meth:`replay` to apply it to past evidence."""
        with self.context.sessions.begin() as session:
            framework = self.framework(session, framework_id)
            if competency_id is not None and competency_id not in framework:
                raise NotFoundError("competency", competency_id)
            MasteryRepository(session).set_policy(
                framework_id, competency_id or "", policy, now=self.context.clock()
            )

    def policies(self, framework_id: str) -> PolicyBook:
        with self.context.sessions() as session:
            self.framework(session, framework_id)
            return MasteryRepository(session).policies(framework_id)

    def model_versions(self, framework_id: str) -> list[dict[str, Any]]:
        with self.context.sessions() as session:
            self.framework(session, framework_id)
            return MasteryRepository(session).model_versions(framework_id)


def ledger_events(
    columns: Mapping[str, Sequence[Any]],
    inserted: Mapping[str, int],
    competencies: Mapping[str, Iterable[str]],
) -> list[LedgerEvent]:
    """The events a write just stored, from the columns it wrote."""
    out = []
    for n, key in enumerate(columns["key"]):
        eid = inserted.get(key)
        if eid is None:
            continue
        out.append(
            LedgerEvent(
                eid,
                key,
                columns["learner_id"][n],
                tuple(competencies[key]),
                float(columns["score"][n]),
                str(columns["kind"][n]),
                columns["timestamp"][n],
                columns["item_id"][n],
            )
        )
    return out
