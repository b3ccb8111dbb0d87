"""Group commit: many concurrent evidence writes share one transaction.

A transaction costs about ten database round trips and a few milliseconds whatever its
size, so under load the API hands each request's evidence (one piece, or a batch) to a
:class:`GroupCommitter`, which waits for others while they keep coming (up to ``max_wait``
seconds, or until ``max_batch`` pieces are waiting), stores them with one
:meth:`EvidenceService.record_many`, and answers each caller. Writes that
ride along (``also``, e.g. the xAPI statements themselves) are merged when they can
``combine``. If the shared transaction fails (one caller's conflict, a minor without
consent), nothing of it is stored and every caller's evidence is retried on its own, so
each caller gets exactly the answer it would have got alone (a batch stays all or
nothing). Each caller still waits for its own commit: an answered write is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from masterypath.domain.evidence import Evidence
from masterypath.errors import MasterypathError
from masterypath.services.evidence import EvidenceService, RecordResult

Also = Callable[[Session], None]


@dataclass
class _Pending:
    evidence: list[Evidence]
    future: Future[list[RecordResult]] | asyncio.Future[list[RecordResult]]
    """A thread's future, or an event loop's (set from that loop's thread)."""
    also: Also | None = None


Outcome = list[RecordResult] | BaseException


def _combined(alsos: list[Also]) -> list[Also]:
    """Writes of one kind that know how to ``combine`` (e.g. xAPI statements: one query for
    all their ids) run as one; the others run one by one, in order."""
    out: list[Also] = []
    groups: dict[type, list[Any]] = {}
    for also in alsos:
        if hasattr(type(also), "combine"):
            groups.setdefault(type(also), []).append(also)
        else:
            out.append(also)
    out += [kind.combine(parts) for kind, parts in groups.items()]  # type: ignore[attr-defined]
    return out


class GroupCommitter:
    """One background thread per process commits what the callers hand it."""

    def __init__(
        self,
        evidence: EvidenceService,
        *,
        max_batch: int = 500,
        max_wait: float = 0.004,
        quiet: float = 0.001,
    ) -> None:
        self.evidence = evidence
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.quiet = quiet
        self._pending: list[_Pending] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._gathering = False

    def record(self, evidence: Evidence, *, also: Also | None = None) -> RecordResult:
        """Store ``evidence`` (with whoever else is writing now); blocks until committed.
        ``also`` runs in the same transaction (e.g. storing the xAPI statement)."""
        return self.record_many([evidence], also=also)[0]

    def record_many(
        self, batch: Sequence[Evidence], *, also: Also | None = None
    ) -> list[RecordResult]:
        """Store a batch, all or nothing, as :meth:`EvidenceService.record_many` does
        (with whoever else is writing now); blocks until committed."""
        future: Future[list[RecordResult]] = Future()
        self._submit(_Pending(list(batch), future, also))
        return future.result()

    async def record_many_async(
        self, batch: Sequence[Evidence], *, also: Also | None = None
    ) -> list[RecordResult]:
        """:meth:`record_many` for an event loop: waits for the commit without holding a
        thread (an API worker's thread pool hop costs as much as the write itself). The
        callers on one event loop are answered with one wake-up of that loop per
        transaction."""
        future: asyncio.Future[list[RecordResult]] = asyncio.get_running_loop().create_future()
        self._submit(_Pending(list(batch), future, also))
        return await future

    def _submit(self, item: _Pending) -> None:
        with self._ready:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name="commit")
                self._thread.start()
            self._pending.append(item)
            # while gathering, the committer looks again every ``quiet`` seconds anyway:
            # waking it for each caller that joins cost a thread switch per request
            if not self._gathering or self._waiting() >= self.max_batch:
                self._ready.notify_all()

    def _waiting(self) -> int:
        return sum(len(p.evidence) for p in self._pending)

    def _run(self) -> None:
        while True:
            with self._ready:
                self._ready.wait_for(lambda: bool(self._pending))
                self._gather()
                batch: list[_Pending] = []
                size = 0
                while self._pending and (
                    not batch or size + len(self._pending[0].evidence) <= self.max_batch
                ):
                    size += len(self._pending[0].evidence)
                    batch.append(self._pending.pop(0))
            self._commit(batch)

    def _gather(self) -> None:
        """Give concurrent callers a moment to join this transaction: until none has
        joined for ``quiet`` seconds, at most ``max_wait`` (a fixed wait idled the writer
        even when everyone who would come had come), or until ``max_batch`` pieces wait.
        Called holding the lock."""
        deadline = time.monotonic() + self.max_wait
        self._gathering = True
        try:
            while self._waiting() < self.max_batch:
                joined = len(self._pending)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._ready.wait(min(self.quiet, remaining))
                if len(self._pending) == joined:
                    return
        finally:
            self._gathering = False

    def _commit(self, batch: list[_Pending]) -> None:
        _settle(batch, self._outcomes(batch))

    def _outcomes(self, batch: list[_Pending]) -> list[Outcome]:
        """Each caller's answer: its results, or the error it gets."""
        evidence = [e for p in batch for e in p.evidence]
        keys = [e.key for e in evidence]
        if len(batch) == 1 or len(set(keys)) == len(keys):
            alsos = _combined([p.also for p in batch if p.also is not None])

            def run_all(session: Session) -> None:
                for also in alsos:
                    also(session)

            try:
                results = self.evidence.record_many(evidence, also=run_all if alsos else None)
            except MasterypathError as exc:
                if len(batch) == 1:
                    return [exc]
                # someone's evidence is refused: answer everyone on their own
            except Exception as exc:  # e.g. the database is down: everyone gets that error
                return [exc] * len(batch)
            else:
                outcomes: list[Outcome] = []
                start = 0
                for p in batch:
                    outcomes.append(results[start : start + len(p.evidence)])
                    start += len(p.evidence)
                return outcomes
        outcomes = []
        for p in batch:
            try:
                outcomes.append(self.evidence.record_many(p.evidence, also=p.also))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes


def _settle(batch: list[_Pending], outcomes: list[Outcome]) -> None:
    """Answer every caller: threads at once, each event loop with one call."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Outcome]]] = {}
    for p, outcome in zip(batch, outcomes, strict=True):
        if isinstance(p.future, asyncio.Future):
            by_loop.setdefault(p.future.get_loop(), []).append((p.future, outcome))
        elif isinstance(outcome, BaseException):
            p.future.set_exception(outcome)
        else:
            p.future.set_result(outcome)
    for loop, answers in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_answer, answers)


def _answer(answers: list[tuple[asyncio.Future[Any], Outcome]]) -> None:
    for future, outcome in answers:
        if future.done():  # the caller was cancelled (its client went away)
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
