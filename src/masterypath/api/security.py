"""Authentication and authorization for the API: one dependency per endpoint.

``guard.requires(Action.X, learner="learner_id")`` resolves the bearer token or API key,
checks the action (and, when the endpoint names a learner in its path or query, that the
caller may act on that learner), and writes an access-log row for every read of a
learner's records. The action is kept on the dependency so that tests can check that
every endpoint declares one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from masterypath.domain.access import Action, Principal
from masterypath.services.accounts import AccountService
from masterypath.services.privacy import PrivacyService

bearer = HTTPBearer(
    auto_error=False,
    description="A token from `POST /auth/login`, or an integration's API key.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
LOGGED = frozenset({Action.READ_LEARNER, Action.EXPORT_LEARNER})


class Guard:
    def __init__(self, accounts: AccountService, privacy: PrivacyService) -> None:
        self.accounts = accounts
        self.privacy = privacy

    def requires(
        self, action: Action, *, learner: str | None = None
    ) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
        """A dependency that allows ``action`` (for the learner in parameter ``learner``)."""

        def resolve(
            request: Request, credentials: HTTPAuthorizationCredentials | None
        ) -> Principal:
            principal = self.accounts.authenticate(
                credentials.credentials if credentials is not None else None
            )
            learner_id = None
            if learner is not None:
                learner_id = request.path_params.get(learner) or request.query_params.get(learner)
            self.accounts.check(principal, action, [learner_id] if learner_id else [])
            if learner_id and action in LOGGED:
                self.log(principal, action, request, [learner_id])
            return principal

        async def dependency(request: Request, credentials: Credentials) -> Principal:
            # the common case (a credential seen a moment ago, no learner in the path)
            # needs no database: decided on the event loop, without a thread pool hop
            known = self.accounts.cached(credentials.credentials if credentials else None)
            if known is not None and learner is None:
                self.accounts.check(known, action)
                return known
            return await run_in_threadpool(resolve, request, credentials)

        dependency.action = action  # type: ignore[attr-defined]
        return dependency

    def check(self, principal: Principal, action: Action, learner_ids: Sequence[str]) -> None:
        """For learners named in a request body (evidence, statements)."""
        self.accounts.check(principal, action, learner_ids)

    async def check_async(
        self, principal: Principal, action: Action, learner_ids: Sequence[str]
    ) -> None:
        """:meth:`check` from an event loop: in a thread only if it reads the database."""
        if self.accounts.check_reads_database(principal, learner_ids):
            await run_in_threadpool(self.check, principal, action, learner_ids)
        else:
            self.check(principal, action, learner_ids)

    def log(
        self, principal: Principal, action: Action, request: Request, learner_ids: Sequence[str]
    ) -> None:
        what = f"{request.method} {request.url.path}"
        if learner_ids:
            self.privacy.log_access(
                principal.subject, action.value, what, *dict.fromkeys(learner_ids)
            )
