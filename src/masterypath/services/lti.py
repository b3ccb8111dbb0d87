"""Launches from a school's learning platform (IMS LTI 1.3 Core, resource-link launches).

An admin registers the platform (its issuer, the client id it gave this tool, its login
and key-set URLs, its deployments). A launch is then the OpenID Connect third-party login
LTI 1.3 prescribes:

1. the platform sends the browser to ``/lti/login`` (:meth:`LtiService.begin_login`);
   this tool keeps a random state and nonce and sends the browser on to the platform's
   login URL, the state also in a cookie;
2. the platform posts a signed ``id_token`` and the state to ``/lti/launch``
   (:meth:`LtiService.launch`): the state must be this browser's and unused, the token
   signed by the platform's key and carry the nonce;
3. the platform's user gets an account here (made at their first launch in a role, so
   one who learns in a course and teaches another has a learner's and an educator's; a
   learner the school's roster already holds is matched by ``lis.person_sourcedid``), the
   launch's course becomes a cohort with them in it, and they are logged in.

A platform's user never gets a password here nor more than an educator's role. Grades
go back to the platform from :mod:`masterypath.services.lti_grades`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jwt
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from masterypath.domain.access import Role
from masterypath.domain.lti import (
    DEEP_LINKING_REQUEST,
    Launch,
    deep_linking_response,
    framework_link,
    read_launch,
)
from masterypath.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    RateLimitedError,
    ValidationError,
)
from masterypath.interop.lti_jwt import key_set, verify_id_token
from masterypath.interop.lti_services import PlatformRefusedError
from masterypath.interop.lti_tool_key import ToolKey
from masterypath.services.accounts import AccountService, IssuedToken
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from masterypath.settings import parse_origins
from masterypath.store.lti import LtiRepository
from masterypath.store.mastery import MasteryRepository
from masterypath.store.people import PeopleRepository
from masterypath.store.tables import (
    GuardianshipRow,
    LearnerProfileRow,
    LtiAccountRow,
    LtiLoginRow,
    LtiPlatformRow,
    UserRow,
)

LOGIN_TTL = timedelta(minutes=10)
"""How long a begun launch waits for the platform's answer."""
MAX_LOGINS_BEGUN = 10_000
"""Launches of one platform begun and not completed within :data:`LOGIN_TTL`: more are
refused (429) until older ones expire (a school's busiest minute is far below)."""
NO_PASSWORD = "!lti"
"""The password hash of an account made by a launch: no password matches it."""
ORIGINS_TTL_S = 30.0
STATE = re.compile(r"[A-Za-z0-9_-]{20,64}")
"""What a state this tool made looks like (``secrets.token_urlsafe(32)``)."""
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
PLATFORM_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
UPDATABLE = frozenset(
    {
        "title",
        "issuer",
        "client_id",
        "auth_login_url",
        "key_set_url",
        "deployment_ids",
        "token_url",
        "service_origins",
    }
)
"""The fields of a registered platform an admin may change."""


@dataclass(frozen=True)
class Platform:
    """A platform as an admin registers it."""

    id: str
    title: str
    issuer: str
    client_id: str
    auth_login_url: str
    key_set_url: str
    deployment_ids: tuple[str, ...]
    token_url: str | None = None
    """The platform's OAuth 2 token URL: needed to send grades back."""
    service_origins: tuple[str, ...] = ()
    """More sites of the platform (origins; ``https://*.host`` for its subdomains) beyond
    those of its registered URLs: where its course pages show this tool in a frame and
    where its services are (a line item, a course's member list). Canvas has both on the
    school's own host (``https://school.instructure.com``), not its issuer's. This tool
    calls no other site of a platform, and no other may frame it."""

    def service_sites(self) -> tuple[str, ...]:
        """The sites this tool calls the platform's services on: those of its registered
        URLs, then :attr:`service_origins`.

        >>> Platform("m", "M", "https://lms.org", "c", "https://sso.lms.org/auth",
        ...          "https://sso.lms.org/keys", ("1",),
        ...          service_origins=("https://*.school.org",)).service_sites()
        ('https://lms.org', 'https://sso.lms.org', 'https://*.school.org')
        """
        registered = (self.issuer, self.auth_login_url, self.key_set_url, self.token_url)
        origins = [_origin(url).lower() for url in registered if url is not None]
        return tuple(dict.fromkeys([*origins, *self.service_origins]))

    def check_service_url(self, url: str, what: str) -> None:
        """Raise :class:`~masterypath.interop.lti_services.PlatformRefusedError` unless
        ``url`` is on one of :meth:`service_sites` (a launch, signed by the platform, names
        it; a compromised or mistaken one must not make this tool call inside addresses).

        >>> p = Platform("m", "M", "https://lms.org", "c", "https://lms.org/auth",
        ...              "https://lms.org/keys", ("1",), service_origins=("https://*.k12.org",))
        >>> p.check_service_url("https://a.k12.org/lineitems/1", "line item")
        >>> p.check_service_url("http://10.0.0.1/admin", "line item")
        Traceback (most recent call last):
        ...
        masterypath.interop.lti_services.PlatformRefusedError: line item http://10.0.0.1/admin: ...
        """
        if not any(on_site(url, site) for site in self.service_sites()):
            raise PlatformRefusedError(
                f"{what} {url}: not on a site of platform {self.id} (add its site, "
                f"{_origin(url)}, to the platform's service_origins)"
            )

    def check(self) -> None:
        """Raise :class:`InvalidInputError` naming every field that is wrong.

        >>> Platform("moodle", "Moodle", "https://lms.school.org", "abc",
        ...          "https://lms.school.org/auth", "https://lms.school.org/keys", ("1",)).check()
        >>> Platform("Moodle!", "", "ftp://x", "", "https://x", "http://x", ()).check()
        Traceback (most recent call last):
        ...
        masterypath.errors.InvalidInputError: platform: 5 problem(s), nothing stored:
          platform: id: must be 1-64 lower-case letters, digits, '-' or '_'
        ...
        """
        problems = []
        if not PLATFORM_ID.fullmatch(self.id):
            problems.append("id: must be 1-64 lower-case letters, digits, '-' or '_'")
        for name in ("title", "client_id"):
            value = getattr(self, name)
            if not value.strip() or len(value) > 1000:
                problems.append(f"{name}: must be 1-1000 characters")
        for name in ("issuer", "auth_login_url", "key_set_url", "token_url"):
            value = getattr(self, name)
            if value is not None and not _secure_url(value):
                problems.append(f"{name}: must be an https URL (http only on this machine)")
        if not all(d.strip() for d in self.deployment_ids):
            problems.append("deployment_ids: none may be empty")
        for origin in self.service_origins:
            try:
                parse_origins(origin)
            except ValueError as exc:
                problems.append(f"service_origins: {exc}")
        if problems:
            raise InvalidInputError(
                "platform",
                [Problem("platform", p.split(": ", 1)[0], p.split(": ", 1)[1]) for p in problems],
            )

    def normalised(self) -> Platform:
        """The platform with its (checked) service origins written as
        :func:`~masterypath.settings.parse_origins` writes them.

        >>> Platform("m", "M", "https://lms.org", "c", "https://lms.org/a", "https://lms.org/k",
        ...          ("1",), service_origins=("HTTPS://K12.org/",)).normalised().service_origins
        ('https://k12.org',)
        """
        return replace(self, service_origins=parse_origins(" ".join(self.service_origins)))

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "deployment_ids": list(self.deployment_ids),
            "service_origins": list(self.service_origins),
        }


@dataclass(frozen=True)
class LaunchResult:
    """A completed launch: who it logged in, and the page to open."""

    token: IssuedToken
    role: Role
    learner_id: str | None
    cohort_id: str | None
    home: str


@dataclass(frozen=True)
class LinkChoice:
    """One link an instructor may add: what it opens, and the signed answer that adds it."""

    title: str
    description: str
    answer: str


@dataclass(frozen=True)
class LinkChoices:
    """A deep-linking launch's outcome: the links to choose from, and where the chosen
    one's answer is posted (the platform's return URL)."""

    return_url: str
    choices: list[LinkChoice]


class LtiService:
    """The registered platforms and their launches; ``tool_key`` (optional) signs the
    answers to deep-linking launches."""

    def __init__(
        self, context: ServiceContext, accounts: AccountService, *, tool_key: ToolKey | None = None
    ) -> None:
        self.context = context
        self.accounts = accounts
        self.tool_key = tool_key
        self._key_sets: dict[str, jwt.PyJWKClient] = {}
        self._origins: tuple[float, tuple[str, ...]] | None = None

    def tool_key_set(self) -> dict[str, Any]:
        """This tool's public key as a JWK set (no key: an empty set)."""
        return {"keys": []} if self.tool_key is None else self.tool_key.key_set()

    # -- registration ---------------------------------------------------------------------
    def register(self, platform: Platform, *, by: str) -> Platform:
        """Register ``platform`` (checked first; a :class:`ConflictError` when its id, or
        its issuer and client id, are registered already); audited as ``by``. Answers the
        platform as registered (:meth:`Platform.normalised`)."""
        platform.check()
        platform = platform.normalised()
        try:
            with self.context.sessions.begin() as session:
                self.add_platform(session, platform, by=by)
        except IntegrityError:
            raise ConflictError(
                "platform", platform.id, "is registered already (or its issuer and client id are)"
            ) from None
        self._origins = None  # once committed: a read meanwhile would keep the old sites
        return platform

    def add_platform(self, session: Session, platform: Platform, *, by: str) -> None:
        """Store a checked ``platform`` in ``session``'s transaction, audited as ``by``
        (an :class:`IntegrityError` when its id, or issuer and client id, are taken)."""
        now = self.context.clock()
        session.add(LtiPlatformRow(**platform.to_dict() | {"created_at": now}))
        session.flush()
        PeopleRepository(session).audit(
            at=now,
            actor=by,
            action="register_lti_platform",
            target=platform.id,
            issuer=platform.issuer,
            client_id=platform.client_id,
        )

    def update(self, platform_id: str, changes: Mapping[str, Any], *, by: str) -> Platform:
        """Change a registered platform's fields (any but its id; a key-set URL, new
        deployments, the token URL, more service sites), keeping the accounts its users
        launch as, their courses and grade links; checked as a registration is (nothing
        changes when a field is wrong), audited as ``by`` with the fields changed."""
        unknown = sorted(set(changes) - UPDATABLE)
        if unknown:
            raise ValidationError(unknown[0], "cannot be changed (a platform's id stays)")
        if not changes:
            raise ValidationError("changes", "name at least one field to change")
        for name, value in changes.items():
            if value is None and name != "token_url":
                raise ValidationError(name, "cannot be removed (only token_url can)")
        now = self.context.clock()
        try:
            with self.context.sessions.begin() as session:
                row = LtiRepository(session).platform(platform_id, for_update=True)
                if row is None:
                    raise NotFoundError("platform", platform_id)
                before = platform_of(row)
                listed = {k: tuple(v) for k, v in changes.items() if isinstance(v, list | tuple)}
                after = replace(before, **(dict(changes) | listed))
                after.check()
                after = after.normalised()
                changed = sorted(k for k in changes if getattr(before, k) != getattr(after, k))
                for name in changed:
                    setattr(row, name, after.to_dict()[name])
                session.flush()
                PeopleRepository(session).audit(
                    at=now,
                    actor=by,
                    action="update_lti_platform",
                    target=platform_id,
                    fields=changed,
                )
        except IntegrityError:
            raise ConflictError(
                "platform", platform_id, "its issuer and client id are another platform's"
            ) from None
        self._origins = None
        self._key_sets.pop(before.key_set_url, None)  # a new key set is read at the next launch
        return after

    def forget_origins(self) -> None:
        """Read the platforms' sites again at the next :meth:`frame_origins` (one was
        registered or changed)."""
        self._origins = None

    def frame_origins(self) -> tuple[str, ...]:
        """The sites of the registered platforms (their issuer's and login URL's origins,
        and their service origins), which may show this tool's pages inside their own:
        read again after :data:`ORIGINS_TTL_S` (another process may have registered one
        meanwhile)."""
        kept = self._origins
        if kept is not None and time.monotonic() - kept[0] < ORIGINS_TTL_S:
            return kept[1]
        sites = set()
        for platform in self.platforms():
            sites |= {_origin(platform.issuer), _origin(platform.auth_login_url)}
            sites |= set(platform.service_origins)
        origins = tuple(sorted(sites))
        self._origins = (time.monotonic(), origins)
        return origins

    def platforms(self) -> list[Platform]:
        """Every registered platform, by id."""
        with self.context.sessions() as session:
            return [platform_of(r) for r in LtiRepository(session).platforms()]

    def remove(self, platform_id: str, *, by: str) -> None:
        """Forget a platform, its begun launches and which account each of its users
        launches as (the accounts stay, with their records)."""
        with self.context.sessions.begin() as session:
            if not LtiRepository(session).remove_platform(platform_id):
                raise NotFoundError("platform", platform_id)
            PeopleRepository(session).audit(
                at=self.context.clock(), actor=by, action="remove_lti_platform", target=platform_id
            )
        self._origins = None

    # -- launch ---------------------------------------------------------------------------
    def begin_login(self, params: Mapping[str, str], *, tool_url: str) -> tuple[str, str]:
        """The platform's login URL to send the browser to, and the state to keep in its
        cookie, for the login initiation ``params`` (``iss``, ``login_hint``,
        ``target_link_uri``; ``client_id``, ``lti_deployment_id``, ``lti_message_hint``)."""
        missing = [k for k in ("iss", "login_hint", "target_link_uri") if not params.get(k)]
        if missing:
            raise InvalidInputError(
                "login", [Problem("login initiation", k, "is required") for k in missing]
            )
        for name, value in params.items():
            if len(value) > 2000 or CONTROL.search(value):
                raise ValidationError(name, "must be at most 2000 characters, none a control")
        if not params["target_link_uri"].startswith(tool_url.rstrip("/") + "/"):
            raise ValidationError("target_link_uri", f"is not a page of this tool ({tool_url})")
        now = self.context.clock()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.context.sessions.begin() as session:
            repo = LtiRepository(session)
            found = repo.platforms_of(params["iss"], params.get("client_id"))
            if not found:
                raise NotFoundError("platform", params["iss"])
            if len(found) > 1:
                raise ValidationError(
                    "client_id", f"is needed: {params['iss']} is registered {len(found)} times"
                )
            platform = found[0]
            deployment = params.get("lti_deployment_id")
            if deployment and deployment not in platform.deployment_ids:
                raise ValidationError("lti_deployment_id", f"{deployment!r} is not registered")
            repo.forget_logins(before=now - LOGIN_TTL)
            # anyone may begin a launch: a flood of them stops here, not at the disk
            if repo.logins_begun(platform.id) >= MAX_LOGINS_BEGUN:
                raise RateLimitedError(
                    f"launches begun from {platform.id} in the last 10 minutes",
                    int(LOGIN_TTL.total_seconds()) // 10,
                )
            session.add(
                LtiLoginRow(state=state, nonce=nonce, platform_id=platform.id, created_at=now)
            )
            asked = {
                "scope": "openid",
                "response_type": "id_token",
                "response_mode": "form_post",
                "prompt": "none",
                "client_id": platform.client_id,
                "redirect_uri": tool_url.rstrip("/") + "/lti/launch",
                "login_hint": params["login_hint"],
                "state": state,
                "nonce": nonce,
            }
            if params.get("lti_message_hint"):
                asked["lti_message_hint"] = params["lti_message_hint"]
            url = platform.auth_login_url
        return f"{url}{'&' if '?' in url else '?'}{urlencode(asked)}", state

    def launch(
        self, id_token: str, state: str, *, browser_state: str | None, tool_url: str = ""
    ) -> LaunchResult | LinkChoices:
        """Complete a launch: check it, make or find the user's account and cohort, and log
        them in; a deep-linking launch gets the links an instructor may add instead. A
        state is used once, whatever the outcome."""
        if (
            not STATE.fullmatch(state)
            or not STATE.fullmatch(browser_state or "")
            or not secrets.compare_digest(state, browser_state or "")
        ):
            raise AuthenticationError(
                "state: this browser did not begin the launch (its cookie is missing or "
                "another); launch again from the platform"
            )
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            repo = LtiRepository(session)
            login = repo.take_login(state)
            row = None if login is None else repo.platform(login.platform_id)
            platform = None if row is None else platform_of(row)
        if login is None or platform is None or login.created_at + LOGIN_TTL <= now:
            raise AuthenticationError(
                "state: unknown, used, or older than 10 minutes; launch again from the platform"
            )
        keys = self._key_sets.setdefault(platform.key_set_url, key_set(platform.key_set_url))
        claims = verify_id_token(
            id_token, keys=keys, issuer=platform.issuer, client_id=platform.client_id, now=now
        )
        launch = read_launch(claims, deployments=platform.deployment_ids, nonce=login.nonce)
        if launch.message_type == DEEP_LINKING_REQUEST:
            return self._link_choices(platform, launch, tool_url=tool_url, now=now)
        try:
            user, cohort_id = self.provision(platform, launch, now)
        except IntegrityError:
            # the same user's first launch twice at once: the other made the account
            user, cohort_id = self.provision(platform, launch, now)
        role = Role(user.role)
        token = self.accounts.issue(user.id, user.role, must_change_password=False)
        return LaunchResult(
            token=token,
            role=role,
            learner_id=user.learner_id,
            cohort_id=cohort_id,
            home=_home(role, user.learner_id, cohort_id, launch.framework_id),
        )

    def _link_choices(
        self, platform: Platform, launch: Launch, *, tool_url: str, now: datetime
    ) -> LinkChoices:
        """A signed answer for each framework: the instructor picks the one to link."""
        if launch.role is not Role.EDUCATOR:
            raise PermissionDeniedError("deep_linking", "only a course's instructors add links")
        if self.tool_key is None:
            raise ConfigurationError(
                "MASTERYPATH_LTI_KEY_FILE: required to add links from a platform (deep linking)"
            )
        assert launch.deep_link_return_url is not None  # read_launch requires it
        choices = []
        for framework in FrameworkService(self.context).summaries():
            item = framework_link(
                framework.id,
                framework.title,
                framework.competencies,
                tool_url.rstrip("/") + "/lti/launch",
            )
            answer = deep_linking_response(
                launch,
                client_id=platform.client_id,
                issuer=platform.issuer,
                nonce=secrets.token_urlsafe(16),
                now=now.timestamp(),
                item=item,
            )
            described = f"{framework.competencies} competencies"
            choices.append(LinkChoice(framework.title, described, self.tool_key.sign(answer)))
        return LinkChoices(launch.deep_link_return_url, choices)

    def provision(
        self, platform: Platform, launch: Launch, now: datetime
    ) -> tuple[UserRow, str | None]:
        """The account ``launch``'s user has here (made at the first one), in the launch's
        course's cohort, with the grade link and the course kept; and the cohort's id."""
        with self.context.sessions.begin() as session:
            repo = LtiRepository(session)
            user = repo.account_of(platform.id, launch.subject, launch.role)
            if user is None:
                user = self._new_link(session, repo, platform, launch, now)
            if user.disabled_at is not None:
                raise PermissionDeniedError("launch", f"the account {user.username} is disabled")
            if user.role == Role.GUARDIAN:
                _follow_mentees(session, repo, platform, launch, user, now)
            if (
                user.role == Role.LEARNER
                and user.learner_id
                and (launch.lineitem or launch.lineitems)
            ):
                repo.keep_grade_link(platform.id, launch, learner_id=user.learner_id, now=now)
            cohort_id = None
            if launch.context_id is not None:
                cohort_id = _cohort_id(repo, platform, launch)
                title = launch.context_title or launch.context_id
                repo.join_cohort(
                    cohort_id,
                    title,
                    learner_id=user.learner_id if user.role == Role.LEARNER else None,
                    user_id=user.id if user.role == Role.EDUCATOR else None,
                    now=now,
                )
                if launch.memberships_url is not None:
                    repo.keep_context(
                        platform.id,
                        launch.context_id,
                        title=title,
                        deployment_id=launch.deployment_id,
                        memberships_url=launch.memberships_url,
                        cohort_id=cohort_id,
                        now=now,
                    )
            session.expunge(user)
            return user, cohort_id

    def _new_link(
        self,
        session: Session,
        repo: LtiRepository,
        platform: Platform,
        launch: Launch,
        now: datetime,
    ) -> UserRow:
        """The account a platform user's first launch links to: a roster learner's own
        account when the launch names them, else a new one without a password."""
        people = PeopleRepository(session)
        learner_id = None
        user = None
        if launch.role is Role.LEARNER:
            learner_id = launch.person_sourced_id or f"lti-{_short(platform.id, launch.subject)}"
            user = repo.learner_account(learner_id)
            MasteryRepository(session).lock_learners([learner_id], now=now)
            if session.get(LearnerProfileRow, learner_id) is None:
                session.add(
                    LearnerProfileRow(
                        learner_id=learner_id, name=launch.name, email=launch.email, created_at=now
                    )
                )
        if user is None:
            username, n = _username(platform.id, launch.subject), 1
            while repo.username_taken(username):  # their account in the other role has it
                suffix = f"+{launch.role.value}" + (f"-{n}" if n > 1 else "")
                username, n = _username(platform.id, launch.subject, suffix), n + 1
            user = UserRow(
                id=str(uuid.uuid4()),
                username=username,
                password_hash=NO_PASSWORD,
                role=launch.role.value,
                learner_id=learner_id,
                created_at=now,
                must_change_password=False,
            )
            session.add(user)
            session.flush()  # the account before the link that names it
        session.add(
            LtiAccountRow(
                platform_id=platform.id,
                subject=launch.subject,
                role=launch.role.value,
                user_id=user.id,
                created_at=now,
            )
        )
        session.flush()
        people.audit(
            at=now,
            actor=f"lti:{platform.id}",
            action="link_lti_account",
            target=user.id,
            role=user.role,
            learner_id=learner_id,
        )
        return user


def _follow_mentees(
    session: Session,
    repo: LtiRepository,
    platform: Platform,
    launch: Launch,
    user: UserRow,
    now: datetime,
) -> None:
    """Let a mentor's account (a parent, a Canvas observer) read the records of the learners
    its launch names who have launched here (one who has not is linked at a later launch),
    each link audit-logged. A launch from another course names other learners: links are
    added, never ended."""
    for mentee in launch.mentees:
        account = repo.account_of(platform.id, mentee, Role.LEARNER)
        if account is None or account.learner_id is None:
            continue
        if session.get(GuardianshipRow, (user.id, account.learner_id)) is None:
            session.add(
                GuardianshipRow(
                    user_id=user.id,
                    learner_id=account.learner_id,
                    linked_by=f"lti:{platform.id}",
                    linked_at=now,
                )
            )
            PeopleRepository(session).audit(
                at=now,
                actor=f"lti:{platform.id}",
                action="link_guardian",
                target=account.learner_id,
                guardian=user.id,
            )


def platform_of(row: LtiPlatformRow) -> Platform:
    """The registration a stored row holds."""
    return Platform(
        id=row.id,
        title=row.title,
        issuer=row.issuer,
        client_id=row.client_id,
        auth_login_url=row.auth_login_url,
        key_set_url=row.key_set_url,
        deployment_ids=tuple(row.deployment_ids),
        token_url=row.token_url,
        service_origins=tuple(row.service_origins or ()),
    )


def _cohort_id(repo: LtiRepository, platform: Platform, launch: Launch) -> str:
    """The roster's class when the launch names one this system holds, else the
    platform's course under the platform's id."""
    section = launch.section_sourced_id
    if section is not None and repo.has_cohort(section):
        return section
    return f"{platform.id}:{launch.context_id}"


def _home(role: Role, learner_id: str | None, cohort_id: str | None, framework: str | None) -> str:
    """The page a launch opens.

    >>> _home(Role.LEARNER, "s/1", None, "sql")
    '/app/learner/s%2F1?framework=sql'
    >>> _home(Role.EDUCATOR, None, "moodle:7", None)
    '/app/educator?cohort=moodle%3A7'
    """
    query = {"framework": framework} if framework else {}
    if role is Role.GUARDIAN:
        return "/app/guardian"
    if role is Role.LEARNER and learner_id is not None:
        path = f"/app/learner/{quote(learner_id, safe='')}"
    else:
        path = "/app/educator"
        query = ({"cohort": cohort_id} if cohort_id else {}) | query
    return path + (f"?{urlencode(query)}" if query else "")


def _short(platform_id: str, subject: str) -> str:
    return hashlib.sha256(f"{platform_id}\n{subject}".encode()).hexdigest()[:20]


def _username(platform_id: str, subject: str, suffix: str = "") -> str:
    """``platform:subject`` and ``suffix``, or a digest of the subject where that is too
    long for a username.

    >>> _username("moodle", "42"), _username("moodle", "42", "+educator")
    ('moodle:42', 'moodle:42+educator')
    >>> len(_username("moodle", "x" * 200, "+educator"))
    36
    """
    name = f"{platform_id}:{subject}{suffix}"
    if len(name) <= 200:
        return name
    return f"{platform_id}:{_short(platform_id, subject)}{suffix}"


def _origin(url: str) -> str:
    """
    >>> _origin("https://lms.school.org/mod/lti/auth.php")
    'https://lms.school.org'
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def on_site(url: str, site: str) -> bool:
    """Whether ``url`` is on ``site``: an origin as :func:`~masterypath.settings.parse_origins`
    takes it (``*.`` before the host: any subdomain; ``:*``: any port).

    >>> on_site("https://a.school.org/x", "https://*.school.org")
    True
    >>> on_site("https://school.org:443/x", "https://school.org"), on_site(
    ...     "https://school.org.evil.com/", "https://school.org")
    (True, False)
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return False
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = (parts.hostname or "").lower()
    scheme, _, rest = site.rstrip("/").lower().partition("://")
    site_host, _, site_port = rest.partition(":")
    if parts.scheme != scheme or default is None or not host:
        return False
    if site_port != "*" and (port or default) != (int(site_port) if site_port else default):
        return False
    if site_host.startswith("*."):
        return host.endswith(site_host[1:])
    return host == site_host


def _secure_url(url: str) -> bool:
    """An https URL (http only on this machine) whose site is a plain origin: its origin
    goes into the pages' ``frame-ancestors``, so it is checked as ``MASTERYPATH_EMBED_ORIGINS``
    is (a ``;`` or a space there would change the whole policy).

    >>> _secure_url("https://lms.school.org/auth"), _secure_url("https://lms.school.org;x */a")
    (True, False)
    """
    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    try:
        parse_origins(_origin(url))
    except ValueError:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and local)
