"""The server's scheduled jobs: run in the background while it serves, and shown to
admins (``services/jobs.py``)."""

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool

from masterypath.api.paths import SlashSafeRoute
from masterypath.api.schemas import Text
from masterypath.domain.access import Action, Principal
from masterypath.errors import ConflictError
from masterypath.services.health import Check
from masterypath.services.jobs import POLL_SECONDS, Job, JobRunner

Allow = Callable[..., Any]
log = logging.getLogger("masterypath.jobs")


class JobThreads:
    """The threads a server runs its jobs in, one run of a job at a time: those the
    schedule finds due (:func:`jobs_lifespan`) and those an admin runs now (``POST
    /api/v1/jobs/{name}/run``), so that neither waits for the other, nor a request for
    its run."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        self._running: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._threads: ThreadPoolExecutor | None = None

    def busy(self) -> set[str]:
        """The jobs this process runs now."""
        with self._lock:
            return {name for name, run in self._running.items() if not run.done()}

    def start(self, job: Job, holder: str) -> None:
        """Run ``job``, whose lease ``holder`` holds, in a thread of its own."""
        with self._lock:
            if self._threads is None:
                size = max(len(self.runner.jobs), 1)
                self._threads = ThreadPoolExecutor(size, thread_name_prefix="masterypath-job")
            self._running[job.name] = self._threads.submit(self._run, job, holder)

    def _run(self, job: Job, holder: str) -> None:
        try:
            self.runner.run_claimed(job, holder)
        except Exception:  # its outcome could not be recorded: the lease ends by itself
            log.exception("scheduled job %s could not be recorded", job.name)

    def wait(self) -> None:
        """Wait for the runs under way to finish (at shutdown: a backup is not left
        half-written); later runs start new threads."""
        with self._lock:
            threads, self._threads = self._threads, None
        if threads is not None:
            threads.shutdown()


def jobs_lifespan(
    threads: JobThreads, *, poll_seconds: float = POLL_SECONDS
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan that looks for the due jobs of ``threads``' runner every
    ``poll_seconds`` while the server serves and runs each in a thread of its own, so
    that a long one holds up none of the others (nothing when it has no jobs). At shutdown
    the server waits for the runs under way to finish."""
    runner = threads.runner

    async def loop() -> None:
        while True:
            try:
                for job, holder in await run_in_threadpool(
                    runner.claim_due, besides=threads.busy()
                ):
                    threads.start(job, holder)
            except Exception:  # the database away for a moment: try again next time
                log.exception("scheduled jobs could not run")
            await asyncio.sleep(poll_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not runner.jobs:
            yield
            return
        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await run_in_threadpool(threads.wait)

    return lifespan


def jobs_router(threads: JobThreads, allow: Allow, checks: Callable[[], list[Check]]) -> APIRouter:
    router = APIRouter(route_class=SlashSafeRoute, tags=["jobs"])

    @router.get("/checks")
    def check_server(
        _: Annotated[Principal, allow(Action.MANAGE_USERS)],
    ) -> dict[str, Any]:
        """Whether the server can do its work, for its admins and their monitoring (as
        ``masterypath check``): the database and its schema, the LTI key, what backups
        need, and each scheduled job's last run (failed, or not started within 15 minutes
        of its due time). ``ok`` is false when any check failed; always 200."""
        found = checks()
        return {"ok": all(c.ok for c in found), "checks": [c.to_dict() for c in found]}

    @router.get("/jobs")
    def list_jobs(
        _: Annotated[Principal, allow(Action.MANAGE_USERS)],
    ) -> list[dict[str, Any]]:
        """The server's scheduled jobs (the ``MASTERYPATH_*_HOURS``, ``_MINUTES`` and
        ``_AT`` settings): each one's period (``daily_at``: the time of day it runs at,
        if one is set), when it last ran, how that went (``outcome`` ok or failed,
        ``summary``: what it did, or why it failed), whether it runs now and when it is
        due."""
        return [s.to_dict() for s in threads.runner.statuses()]

    @router.post("/jobs/{name}/run", status_code=202)
    def run_job(name: Text, _: Annotated[Principal, allow(Action.MANAGE_USERS)]) -> dict[str, Any]:
        """Start a scheduled job now, due or not, and answer 202 with its status
        (``running`` true); the run goes on in the background: ``GET /api/v1/jobs`` tells
        when it has finished and how it went. 404 for a job the server does not have, 409
        while it runs already (here or in another server process)."""
        claimed = threads.runner.claim_now(name)
        if claimed is None:
            raise ConflictError("job", name, "runs already")
        threads.start(*claimed)
        return threads.runner.status(name).to_dict()

    return router
