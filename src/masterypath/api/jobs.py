"""The server's scheduled jobs: run in the background while it serves, and shown to
admins (``services/jobs.py``)."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool

from masterypath.api.paths import SlashSafeRoute
from masterypath.api.schemas import Text
from masterypath.domain.access import Action, Principal
from masterypath.errors import ConflictError, NotFoundError
from masterypath.services.jobs import POLL_SECONDS, JobRunner

Allow = Callable[..., Any]
log = logging.getLogger("masterypath.jobs")


def jobs_lifespan(
    runner: JobRunner, *, poll_seconds: float = POLL_SECONDS
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan that runs ``runner``'s due jobs every ``poll_seconds`` while the server
    serves (nothing when it has no jobs)."""

    async def loop() -> None:
        while True:
            try:
                await run_in_threadpool(runner.run_due)
            except Exception:  # the database away for a moment: try again next time
                log.exception("scheduled jobs could not run")
            await asyncio.sleep(poll_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(loop()) if runner.jobs else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return lifespan


def jobs_router(runner: JobRunner, allow: Allow) -> APIRouter:
    router = APIRouter(route_class=SlashSafeRoute, tags=["jobs"])

    @router.get("/jobs")
    def list_jobs(
        _: Annotated[Principal, allow(Action.MANAGE_USERS)],
    ) -> list[dict[str, Any]]:
        """The server's scheduled jobs (the ``MASTERYPATH_*_HOURS`` and ``_MINUTES``
        settings): each one's period, when it last ran, how that went (``outcome`` ok or
        failed, ``summary``: what it did, or why it failed), whether it runs now and
        when it is due."""
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
