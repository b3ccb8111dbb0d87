"""Login, logout, accounts and API keys."""

from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from masterypath.api.errors import ErrorOut
from masterypath.api.paths import SlashSafeRoute
from masterypath.api.query import KNOWN_QUERY
from masterypath.api.schemas import (
    ApiKeyIn,
    ApiKeyOut,
    LoginIn,
    PasswordChangeIn,
    RosterIn,
    RosterSyncIn,
    Text,
    TokenOut,
    UserIn,
    UserPatchIn,
)
from masterypath.api.security import Credentials
from masterypath.domain.access import Action, Principal, Role, Scope
from masterypath.errors import ConfigurationError
from masterypath.interop.oneroster import parse_roster
from masterypath.interop.oneroster_rest import RosterSource
from masterypath.services.accounts import AccountService, new_first_password
from masterypath.services.privacy import PrivacyService
from masterypath.services.roster import ReadMark, RosterService
from masterypath.store.types import INT32_MAX

Allow = Callable[..., Any]


def auth_router(accounts: AccountService) -> APIRouter:
    router = APIRouter(
        route_class=SlashSafeRoute, prefix="/auth", tags=["auth"], dependencies=[KNOWN_QUERY]
    )

    @router.post(
        "/login",
        responses={
            429: {"model": ErrorOut, "description": "Too many failed logins; see Retry-After"}
        },
    )
    def login(body: LoginIn, request: Request) -> TokenOut:
        """Exchange a username and password for a bearer token (12 h). Five failures per
        minute for one username or client are answered 429 with ``Retry-After``."""
        client = request.client.host if request.client else ""
        issued = accounts.login(body.username, body.password, client=client)
        return TokenOut(**asdict(issued))

    @router.post(
        "/password",
        responses={
            429: {"model": ErrorOut, "description": "Too many wrong passwords; see Retry-After"}
        },
    )
    def change_password(
        body: PasswordChangeIn, request: Request, credentials: Credentials
    ) -> TokenOut:
        """Change the logged-in account's own password: ``current_password`` must be
        right (wrong ones count as failed logins: 429 after five a minute), and
        ``new_password`` at least 8 characters, neither the current one nor the username
        (422 naming the field). Every token of the account is revoked, this one too; the
        answer is a new token. Not for API keys or embed links (403)."""
        principal = accounts.authenticate(_credential(credentials))
        client = request.client.host if request.client else ""
        issued = accounts.change_password(
            principal, body.current_password, body.new_password, client=client
        )
        return TokenOut(**asdict(issued))

    @router.post("/logout", status_code=204)
    def logout(credentials: Credentials) -> Response:
        """Revoke the token sent with this request."""
        token = _credential(credentials)
        accounts.authenticate(token)
        accounts.revoke_token(token or "")
        return Response(status_code=204)

    @router.get("/me")
    def me(credentials: Credentials) -> dict[str, Any]:
        """Who the credentials belong to; for a guardian, ``learners``: those whose records
        it may read."""
        principal = accounts.authenticate(_credential(credentials))
        me: dict[str, Any] = {
            "subject": principal.subject,
            "role": principal.role.value,
            "learner_id": principal.learner_id,
            "scopes": sorted(s.value for s in principal.scopes),
        }
        if principal.role is Role.GUARDIAN:  # whose records it may read
            me["learners"] = accounts.wards(principal.subject.removeprefix("user:"))
        return me

    return router


def _credential(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return None if credentials is None else credentials.credentials


def account_router(
    allow: Allow,
    accounts: AccountService,
    privacy: PrivacyService,
    roster_source: RosterSource | None = None,
) -> APIRouter:
    """Accounts, API keys, cohorts and rosters; ``roster_source``: the student information
    system the roster is read from, if the server is set up for one."""
    router = APIRouter(route_class=SlashSafeRoute, tags=["accounts"])

    rosters = RosterService(accounts.context, hasher=accounts.hasher)

    def store_roster(
        files: Mapping[str, str],
        principal: Principal,
        with_accounts: bool,
        read: ReadMark | None = None,
    ) -> dict[str, Any]:
        done = rosters.import_roster(
            parse_roster(files), by=principal.subject, accounts=with_accounts, read=read
        )
        return done.to_dict() | {
            "accounts": [
                {"username": a.username, "password": a.password, "role": a.role.value}
                for a in done.accounts
            ]
        }

    @router.post("/users", status_code=201)
    def create_user(
        body: UserIn, principal: Annotated[Principal, allow(Action.MANAGE_USERS)]
    ) -> dict[str, str | bool]:
        """Create an account (admin, educator, or learner bound to a learner id); with
        ``temporary``, its password is a first one, to be changed at the first login.
        Without a ``password`` a random first password is made and answered (this once)
        as ``password``."""
        made = body.password is None
        password = new_first_password() if body.password is None else body.password
        user_id = accounts.create_user(
            body.username,
            password,
            Role(body.role),
            learner_id=body.learner_id,
            by=principal.subject,
            temporary=body.temporary or made,
        )
        answer: dict[str, str | bool] = {
            "id": user_id,
            "username": body.username,
            "role": body.role,
            "must_change_password": body.temporary or made,
        }
        if made:
            answer["password"] = password
        return answer

    @router.get("/users")
    def list_users(_: Annotated[Principal, allow(Action.MANAGE_USERS)]) -> list[dict[str, Any]]:
        """Every account (never a password hash)."""
        return accounts.users()

    @router.patch("/users/{user_id}")
    def change_user(
        user_id: Text,
        body: UserPatchIn,
        principal: Annotated[Principal, allow(Action.MANAGE_USERS)],
    ) -> dict[str, Any]:
        """Disable an account (``{"disabled": true}``: it can no longer log in or launch
        from a platform, and every token of it is revoked at once; its data, cohorts and
        links stay) or enable it again; answers the account. 422 for one's own account,
        409 for the last enabled admin."""
        return accounts.set_disabled(user_id, body.disabled, by=principal.subject)

    @router.get("/users/{user_id}/learners")
    def list_wards(user_id: Text, _: Annotated[Principal, allow(Action.MANAGE_USERS)]) -> list[str]:
        """The learners whose records a guardian account may read (``[]`` for another
        account); 404 for no such account."""
        return accounts.wards(user_id)

    @router.put("/users/{user_id}/learners/{learner_id}", status_code=204)
    def link_guardian(
        user_id: Text,
        learner_id: Text,
        principal: Annotated[Principal, allow(Action.MANAGE_USERS)],
    ) -> Response:
        """Let a guardian account (a parent's, a carer's) read a learner's records: their
        progress, evidence, plan and export, nothing else (idempotent; audit-logged). 404
        for no such account, 422 for one that is not a guardian's."""
        accounts.link_guardian(user_id, learner_id, by=principal.subject)
        return Response(status_code=204)

    @router.delete("/users/{user_id}/learners/{learner_id}", status_code=204)
    def unlink_guardian(
        user_id: Text,
        learner_id: Text,
        principal: Annotated[Principal, allow(Action.MANAGE_USERS)],
    ) -> Response:
        """End a guardian account's reading of a learner's records; 404 if it had none."""
        accounts.unlink_guardian(user_id, learner_id, by=principal.subject)
        return Response(status_code=204)

    @router.post("/roster")
    def import_roster(
        body: RosterIn, principal: Annotated[Principal, allow(Action.MANAGE_USERS)]
    ) -> dict[str, Any]:
        """A school's roster (OneRoster 1.1 CSV: ``users.csv``, optionally ``classes.csv``
        with ``enrollments.csv``, and ``demographics.csv``), as ``masterypath roster
        import`` stores it: every file checked first (422 naming file, line and column),
        then learners, cohorts and (with ``accounts``) accounts in one transaction. The
        answer says what changed and what was left out, and gives each new account's
        first password this once (``accounts``)."""
        return store_roster(dict(body.files.items()), principal, body.accounts)

    @router.get("/roster/sync")
    def roster_sync_source(
        principal: Annotated[Principal, allow(Action.MANAGE_USERS)],
    ) -> dict[str, Any]:
        """Whether this server reads the roster from the school's student information
        system (``configured``: ``MASTERYPATH_ONEROSTER_URL``, ``_CLIENT_ID``,
        ``_CLIENT_SECRET`` and, unless ``_AUTH`` is ``oauth1``, ``_TOKEN_URL`` are set),
        and the rostering service's ``url`` (null when not)."""
        return {
            "configured": roster_source is not None,
            "url": None if roster_source is None else roster_source.url,
        }

    @router.post(
        "/roster/sync",
        responses={
            502: {"model": ErrorOut, "description": "The system refused or could not be reached"},
            503: {"model": ErrorOut, "description": "No student information system is set up"},
        },
    )
    def sync_roster(
        body: RosterSyncIn, principal: Annotated[Principal, allow(Action.MANAGE_USERS)]
    ) -> dict[str, Any]:
        """Read the roster from the school's student information system now (OneRoster
        REST, 1.2, or 1.1 with ``MASTERYPATH_ONEROSTER_AUTH=oauth1``, as ``masterypath
        roster sync`` does) and store it as ``POST
        /api/v1/roster`` stores an export, with the same answer: every record checked
        first (422 naming the file the record stands for and its place: ``users.csv:3`` is
        the second user), then all of it in one transaction. 502 naming the URL when the
        system refuses or cannot be reached; 503 when the server has no system set up.
        Only the records changed since the last read are read (``changes_since`` in the
        answer says since when), with the users and classes their enrollments name;
        ``everything`` reads them all."""
        if roster_source is None:
            raise ConfigurationError(
                "no student information system is set up: set MASTERYPATH_ONEROSTER_URL, "
                "_TOKEN_URL, _CLIENT_ID and _CLIENT_SECRET (or _AUTH=oauth1 without _TOKEN_URL)"
            )
        since = None if body.everything else rosters.changes_start(roster_source.url)
        read = roster_source.read(since=since)
        return store_roster(
            read.files, principal, body.accounts, ReadMark.of(roster_source.url, read)
        )

    @router.post("/users/{user_id}/first-password")
    def first_password(
        user_id: Text, principal: Annotated[Principal, allow(Action.MANAGE_USERS)]
    ) -> dict[str, str]:
        """Replace a forgotten password with a random first one, answered this once
        (``password``) and to be changed at the next login; every token of the account
        is revoked."""
        username, password = accounts.first_password(user_id, by=principal.subject)
        return {"id": user_id, "username": username, "password": password}

    @router.delete("/users/{user_id}/tokens")
    def revoke_tokens(
        user_id: Text, principal: Annotated[Principal, allow(Action.MANAGE_USERS)]
    ) -> dict[str, int]:
        """Revoke every token of an account (e.g. a lost device)."""
        return {"revoked": accounts.revoke_user_tokens(user_id, by=principal.subject)}

    @router.post("/api-keys", status_code=201)
    def create_api_key(
        body: ApiKeyIn, principal: Annotated[Principal, allow(Action.MANAGE_USERS)]
    ) -> ApiKeyOut:
        """A scoped key for an integration; the key is shown once."""
        issued = accounts.create_api_key(
            body.name,
            [Scope(s) for s in body.scopes],
            by=principal.subject,
            expires_at=body.expires_at,
        )
        return ApiKeyOut(
            id=issued.id,
            key=issued.key,
            name=issued.name,
            scopes=list(issued.scopes),
            expires_at=issued.expires_at,
        )

    @router.get("/api-keys")
    def list_api_keys(
        _: Annotated[Principal, allow(Action.MANAGE_USERS)],
    ) -> list[dict[str, Any]]:
        """Every API key (never the key itself)."""
        return accounts.api_keys()

    @router.delete("/api-keys/{key_id}", status_code=204)
    def revoke_api_key(
        key_id: Text, principal: Annotated[Principal, allow(Action.MANAGE_USERS)]
    ) -> Response:
        """Revoke an API key at once."""
        accounts.revoke_api_key(key_id, by=principal.subject)
        return Response(status_code=204)

    @router.get("/audit-log")
    def audit_log(
        _: Annotated[Principal, allow(Action.READ_LOGS)],
        limit: int = 1000,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Administrative events: accounts, keys, consent, erasure tombstones."""
        return privacy.audit_log(
            limit=max(1, min(limit, 10_000)), offset=max(0, min(offset, INT32_MAX))
        )

    return router
