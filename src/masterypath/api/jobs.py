"""The server's scheduled jobs: run in the background while it serves, and shown to
admins (``services/jobs.py``)."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool

from masterypath.api.paths import SlashSafeRoute
from masterypath.api.schemas import Text
from masterypath.domain.access import Action, Principal
from masterypath.errors import ConflictError, NotFoundError
from masterypath.services.health import Check
from masterypath.services.jobs import POLL_SECONDS, Job, JobRunner

Allow = Callable[..., Any]
log = logging.getLogger("masterypath.jobs")


def jobs_lifespan(
    runner: JobRunner, *, poll_seconds: float = POLL_SECONDS
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan that looks for ``runner``'s due jobs every ``poll_seconds`` while the
    server serves and runs each in a thread of its own, so that a long one holds up none
    of the others (nothing when it has no jobs). At shutdown the server waits for the
    runs under way to finish (a backup is not left half-written)."""

    def run(job: Job, holder: str) -> None:
        try:
            runner.run_claimed(job, holder)
        except Exception:  # its outcome could not be recorded: the lease ends by itself
            log.exception("scheduled job %s could not be recorded", job.name)

    async def loop(threads: ThreadPoolExecutor) -> None:
        running: dict[str, Future[None]] = {}
        while True:
            try:
                busy = {name for name, run_ in running.items() if not run_.done()}
                for job, holder in await run_in_threadpool(runner.claim_due, besides=busy):
                    running[job.name] = threads.submit(run, job, holder)
            except Exception:  # the database away for a moment: try again next time
                log.exception("scheduled jobs could not run")
            await asyncio.sleep(poll_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not runner.jobs:
            yield
            return
        threads = ThreadPoolExecutor(len(runner.jobs), thread_name_prefix="masterypath-job")
        task = asyncio.create_task(loop(threads))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await run_in_threadpool(threads.shutdown)

    return lifespan


def jobs_router(runner: JobRunner, allow: Allow, checks: Callable[[], list[Check]]) -> APIRouter:
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
        return [s.to_dict() for s in runner.statuses()]

    @router.post("/jobs/{name}/run")
    def run_job(name: Text, _: Annotated[Principal, allow(Action.MANAGE_USERS)]) -> dict[str, Any]:
        """Run a scheduled job now, due or not, and answer its status; 404 for a job the
        server does not have, 409 while it runs already."""
        if name not in {job.name for job in runner.jobs}:
            raise NotFoundError("job", name)
        ran = runner.run_due(only=name, now_too=True)
        if not ran:
            raise ConflictError("job", name, "runs already")
        return ran[0].to_dict()

    return router
