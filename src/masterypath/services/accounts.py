"""Accounts and access: users with argon2 password hashes, bearer tokens, scoped API keys,
cohorts, login rate limiting, and turning a credential into a :class:`Principal`.

Tokens and keys are random (``secrets.token_urlsafe``), shown once, and stored as their
SHA-256 only. Tokens expire (``token_ttl``) and can be revoked; keys can expire and be
revoked. A resolved credential is cached for ``cache_seconds`` (a revocation through this
service drops its cache entry at once; other processes see it within that time).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from masterypath.domain.access import AccessDecision, Action, Principal, Role, Scope, decide
from masterypath.domain.evidence import LATEST
from masterypath.errors import (
    AccountDisabledError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from masterypath.services.context import ServiceContext
from masterypath.store.people import PeopleRepository
from masterypath.store.tables import (
    ID,
    ApiKeyRow,
    CohortEducatorRow,
    CohortMemberRow,
    CohortRow,
    EmbedTokenRow,
    GuardianshipRow,
    TokenRow,
    UserRow,
)

TOKEN_PREFIX = "mpt_"
KEY_PREFIX = "mpk_"
EMBED_PREFIX = "mpe_"
EMBED_MINUTES = (1, 24 * 60)
"""How long an embed link may live: a minute to a day."""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class LoginThrottle:
    """At most ``attempts`` failed logins per username (and per client) per ``window``
    seconds; ``monotonic`` is injected so tests can move time."""

    def __init__(
        self,
        *,
        attempts: int = 5,
        window: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts = attempts
        self.window = window
        self.monotonic = monotonic
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, *keys: str) -> None:
        now = self.monotonic()
        with self._lock:
            for key in keys:
                failures = self._failures.get(key)
                if failures is None:
                    continue
                while failures and now - failures[0] > self.window:
                    failures.popleft()
                if len(failures) >= self.attempts:
                    retry = int(self.window - (now - failures[0])) + 1
                    raise RateLimitedError("failed logins", retry)

    def fail(self, *keys: str) -> None:
        now = self.monotonic()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)

    def clear(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user_id: str
    role: str
    must_change_password: bool = False
    """The account's password is a first one: the pages ask for a new one at once."""


@dataclass(frozen=True)
class IssuedKey:
    id: str
    key: str
    name: str
    scopes: tuple[str, ...]
    expires_at: datetime | None


@dataclass(frozen=True)
class IssuedEmbed:
    token: str
    learner_id: str
    expires_at: datetime

    @property
    def id(self) -> str:
        """The link's public id (what lists and revocation name; not the token)."""
        return embed_link_id(digest(self.token))


@dataclass(frozen=True)
class EmbedLink:
    """An embed link that still works, without its token."""

    id: str
    learner_id: str
    created_by: str
    created_at: datetime
    expires_at: datetime

    def to_dict(self, names: Mapping[str, str]) -> dict[str, str]:
        """JSON-ready, who made it also by name (``names``: :meth:`AccountService.names`)."""
        return {
            "id": self.id,
            "created_by": self.created_by,
            "created_by_name": names[self.created_by],
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


def embed_link_id(token_hash: str) -> str:
    """The first 16 hex digits of the token's SHA-256: names the link, reveals nothing.

    >>> embed_link_id(digest("mpe_example"))
    'bcb99f3451390375'
    """
    return token_hash[:16]


class AccountService:
    def __init__(
        self,
        context: ServiceContext,
        *,
        hasher: PasswordHasher | None = None,
        throttle: LoginThrottle | None = None,
        token_ttl: timedelta = timedelta(hours=12),
        cache_seconds: float = 5.0,
    ) -> None:
        self.context = context
        self.hasher = hasher or PasswordHasher()
        self.throttle = throttle or LoginThrottle()
        self.token_ttl = token_ttl
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal, datetime | None]] = {}

    # -- users ----------------------------------------------------------------------------
    def create_user(
        self,
        username: str,
        password: str,
        role: Role,
        *,
        learner_id: str | None = None,
        by: str = "system",
        temporary: bool = False,
    ) -> str:
        """Create an account; a learner account names the learner id it is. A
        ``temporary`` password is to be changed at the first login."""
        if not username.strip():
            raise ValidationError("username", "must not be empty")
        if len(password) < 8:
            raise ValidationError("password", "must be at least 8 characters")
        if role is Role.INTEGRATION:
            raise ValidationError("role", "integrations use API keys, not accounts")
        if role is Role.VIEWER:
            raise ValidationError("role", "viewers are embed links, not accounts")
        if (role is Role.LEARNER) != bool(learner_id):
            raise ValidationError("learner_id", "required for, and only for, learner accounts")
        user_id = str(uuid.uuid4())
        now = self.context.clock()
        try:
            with self.context.sessions.begin() as session:
                session.add(
                    UserRow(
                        id=user_id,
                        username=username,
                        password_hash=self.hasher.hash(password),
                        role=role.value,
                        learner_id=learner_id,
                        created_at=now,
                        must_change_password=temporary,
                    )
                )
                PeopleRepository(session).audit(
                    at=now,
                    actor=by,
                    action="create_user",
                    target=user_id,
                    username=username,
                    role=role.value,
                )
        except IntegrityError:
            raise ConflictError("username", username, "is taken") from None
        return user_id

    def set_password(
        self, username: str, password: str, *, by: str = "system", temporary: bool = False
    ) -> None:
        """Replace a password; every token of the account is revoked. A ``temporary``
        password is to be changed at the next login."""
        if len(password) < 8:
            raise ValidationError("password", "must be at least 8 characters")
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            repo = PeopleRepository(session)
            user = repo.user_by_name(username)
            if user is None:
                raise NotFoundError("user", username)
            user.password_hash = self.hasher.hash(password)
            user.must_change_password = temporary
            self._revoke_all(session, user.id, now)
            repo.audit(at=now, actor=by, action="set_password", target=user.id)

    def first_password(self, user_id: str, *, by: str) -> tuple[str, str]:
        """Give the account a new random first password (a forgotten one replaced), to be
        changed at the next login; every token of the account is revoked. The username
        and the password, which is shown this once."""
        password = new_first_password()
        password_hash = self.hasher.hash(password)
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            user = session.get(UserRow, user_id, with_for_update=True)
            if user is None:
                raise NotFoundError("user", user_id)
            user.password_hash = password_hash
            user.must_change_password = True
            self._revoke_all(session, user_id, now)
            PeopleRepository(session).audit(
                at=now, actor=by, action="set_password", target=user_id, temporary=True
            )
            return user.username, password

    def change_password(
        self, principal: Principal, current: str, new: str, *, client: str = ""
    ) -> IssuedToken:
        """The account's own password change: ``current`` must be right (failures count
        as failed logins do), ``new`` at least 8 characters and neither the current one
        nor the username. Every token of the account is revoked; the answer is a new one,
        so the page that asked stays logged in."""
        if not principal.subject.startswith("user:"):
            raise PermissionDeniedError(
                "change_password", "only an account's own login may change its password"
            )
        user_id = principal.subject.removeprefix("user:")
        with self.context.sessions() as session:
            user = session.get(UserRow, user_id)
        if user is None:
            raise AuthenticationError("the account is gone")
        keys = _throttled(user.username, client)
        self.throttle.check(*keys)
        if not self._verify(user, current):
            self.throttle.fail(*keys)
            raise ValidationError("current_password", "is not the account's password")
        self.throttle.clear(f"user:{user.username}")
        if len(new) < 8:
            raise ValidationError("new_password", "must be at least 8 characters")
        if new in (current, user.username):
            raise ValidationError(
                "new_password", "must differ from the current password and the username"
            )
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            row = session.get(UserRow, user_id, with_for_update=True)
            if row is None:
                raise AuthenticationError("the account is gone")
            row.password_hash = self.hasher.hash(new)
            row.must_change_password = False
            self._revoke_all(session, user_id, now)
            PeopleRepository(session).audit(
                at=now, actor=principal.subject, action="change_password", target=user_id
            )
        return self.issue(user_id, user.role, must_change_password=False)

    def user_id(self, username: str) -> str | None:
        with self.context.sessions() as session:
            user = PeopleRepository(session).user_by_name(username)
            return None if user is None else user.id

    def names(self, subjects: Iterable[str]) -> dict[str, str]:
        """What to call each actor that records name by subject (who overrode, who made a
        link): see :meth:`PeopleRepository.names`."""
        with self.context.sessions() as session:
            return PeopleRepository(session).names(subjects)

    def users(self) -> list[dict[str, object]]:
        """Every account; a guardian's with ``learners``, those whose records it reads."""
        with self.context.sessions() as session:
            people = PeopleRepository(session)
            wards = people.all_wards()
            return [
                account_dict(u)
                | ({"learners": wards.get(u.id, [])} if u.role == Role.GUARDIAN.value else {})
                for u in people.users()
            ]

    def set_disabled(self, user_id: str, disabled: bool, *, by: str) -> dict[str, object]:
        """Disable an account (it can no longer log in or launch from a platform, and
        every token of it is revoked at once) or enable it again; the account as it is
        now. Its data, cohorts and links stay. An account cannot disable itself, and the
        last enabled admin cannot be disabled (nobody could enable it again)."""
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            user = session.get(UserRow, user_id, with_for_update=True)
            if user is None:
                raise NotFoundError("user", user_id)
            if disabled and user.disabled_at is None:
                if by == f"user:{user_id}":
                    raise ValidationError("disabled", "an account cannot disable itself")
                if user.role == Role.ADMIN.value and not _other_enabled_admins(session, user_id):
                    raise ConflictError(
                        "user", user.username, "is the last enabled admin: it stays enabled"
                    )
                user.disabled_at, user.disabled_by = now, by
                revoked = self._revoke_all(session, user_id, now)
                PeopleRepository(session).audit(
                    at=now, actor=by, action="disable_user", target=user_id, tokens=revoked
                )
            elif not disabled and user.disabled_at is not None:
                user.disabled_at = user.disabled_by = None
                PeopleRepository(session).audit(
                    at=now, actor=by, action="enable_user", target=user_id
                )
            return account_dict(user)

    def login(self, username: str, password: str, *, client: str = "") -> IssuedToken:
        """A new bearer token for the right password; failures are rate limited per
        username and per client."""
        keys = _throttled(username, client)
        self.throttle.check(*keys)
        with self.context.sessions() as session:
            user = PeopleRepository(session).user_by_name(username)
        if user is None or not self._password_matches(user, password):
            self.throttle.fail(*keys)
            raise AuthenticationError("wrong username or password")
        self.throttle.clear(f"user:{username}")
        if user.disabled_at is not None:  # told only to who knows the password
            raise AccountDisabledError(
                f"this account was disabled at {user.disabled_at.isoformat()} by "
                f"{user.disabled_by or 'an admin'}; an admin can enable it again"
            )
        return self.issue(user.id, user.role, must_change_password=user.must_change_password)

    def _verify(self, user: UserRow, password: str) -> bool:
        """Whether ``password`` is the (enabled) account's."""
        return user.disabled_at is None and self._password_matches(user, password)

    def _password_matches(self, user: UserRow, password: str) -> bool:
        """Whether ``password`` is the account's, enabled or not."""
        try:
            return self.hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def issue(self, user_id: str, role: str, *, must_change_password: bool) -> IssuedToken:
        """A new bearer token for the account ``user_id`` (its credentials already checked:
        a password, or a platform's signed launch)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.context.clock()
        expires = now + self.token_ttl
        with self.context.sessions.begin() as session:
            # the account's expired tokens are of no more use: they go as a new one comes
            session.execute(
                delete(TokenRow).where(TokenRow.user_id == user_id, TokenRow.expires_at <= now)
            )
            session.add(
                TokenRow(
                    token_hash=digest(token), user_id=user_id, created_at=now, expires_at=expires
                )
            )
        return IssuedToken(
            token=token,
            expires_at=expires,
            user_id=user_id,
            role=role,
            must_change_password=must_change_password,
        )

    def revoke_token(self, token: str) -> None:
        hashed = digest(token)
        self._cache.pop(hashed, None)
        with self.context.sessions.begin() as session:
            row = session.get(TokenRow, hashed)
            if row is not None and row.revoked_at is None:
                row.revoked_at = self.context.clock()

    def revoke_user_tokens(self, user_id: str, *, by: str) -> int:
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            if session.get(UserRow, user_id) is None:
                raise NotFoundError("user", user_id)
            count = self._revoke_all(session, user_id, now)
            PeopleRepository(session).audit(
                at=now, actor=by, action="revoke_tokens", target=user_id, count=count
            )
        return count

    def _revoke_all(self, session: Session, user_id: str, now: datetime) -> int:
        """Revoke every live token of an account (and forget them here); how many."""
        revoked = revoke_tokens(session, user_id, now)
        for token_hash in revoked:
            self._cache.pop(token_hash, None)
        return len(revoked)

    # -- API keys -------------------------------------------------------------------------
    def create_api_key(
        self,
        name: str,
        scopes: Sequence[Scope],
        *,
        by: str,
        expires_at: datetime | None = None,
    ) -> IssuedKey:
        if not name.strip():
            raise ValidationError("name", "must not be empty")
        if not scopes:
            raise ValidationError("scopes", "an API key needs at least one scope")
        now = self.context.clock()
        # comparing aware datetimes never overflows; converting 9999-12-31T23:59-14:00 to
        # UTC for the database did (a 500)
        if expires_at is not None and not now < expires_at <= LATEST:
            raise ValidationError(
                "expires_at",
                f"must be after now and before {LATEST.date()}, got {expires_at.isoformat()}",
            )
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = uuid.uuid4().hex
        with self.context.sessions.begin() as session:
            session.add(
                ApiKeyRow(
                    id=key_id,
                    name=name,
                    key_hash=digest(key),
                    scopes=sorted(s.value for s in scopes),
                    created_by=by,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            PeopleRepository(session).audit(
                at=now,
                actor=by,
                action="create_api_key",
                target=key_id,
                name=name,
                scopes=sorted(s.value for s in scopes),
            )
        return IssuedKey(key_id, key, name, tuple(sorted(s.value for s in scopes)), expires_at)

    def create_embed_token(self, learner_id: str, *, by: str, minutes: int = 60) -> IssuedEmbed:
        """A token that reads frameworks and this learner's records (a ``viewer``) for
        ``minutes``: what an embed link carries. Stored as its hash only; audited."""
        low, high = EMBED_MINUTES
        if not low <= minutes <= high:
            raise ValidationError("minutes", f"must be from {low} to {high}, got {minutes}")
        now = self.context.clock()
        token = EMBED_PREFIX + secrets.token_urlsafe(32)
        expires_at = now + timedelta(minutes=minutes)
        with self.context.sessions.begin() as session:
            # the learner's expired links name them to no purpose: they go as a new one comes
            session.execute(
                delete(EmbedTokenRow).where(
                    EmbedTokenRow.learner_id == learner_id, EmbedTokenRow.expires_at <= now
                )
            )
            session.add(
                EmbedTokenRow(
                    token_hash=digest(token),
                    learner_id=learner_id,
                    created_by=by,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            PeopleRepository(session).audit(
                at=now,
                actor=by,
                action="create_embed_token",
                target=learner_id,
                expires_at=expires_at.isoformat(),
            )
        return IssuedEmbed(token, learner_id, expires_at)

    def embed_links(self, learner_id: str) -> list[EmbedLink]:
        """The learner's embed links that still work, oldest first."""
        now = self.context.clock()
        with self.context.sessions() as session:
            rows = session.scalars(
                select(EmbedTokenRow)
                .where(EmbedTokenRow.learner_id == learner_id, EmbedTokenRow.expires_at > now)
                .order_by(
                    EmbedTokenRow.created_at, EmbedTokenRow.expires_at, EmbedTokenRow.token_hash
                )
            ).all()
            return [
                EmbedLink(
                    embed_link_id(r.token_hash),
                    r.learner_id,
                    r.created_by,
                    r.created_at,
                    r.expires_at,
                )
                for r in rows
            ]

    def revoke_embed_link(self, learner_id: str, link_id: str, *, by: str) -> None:
        """Stop an embed link of this learner before it expires (its row is deleted);
        :class:`NotFoundError` when the learner has no such link. Audited."""
        if len(link_id) != 16 or set(link_id) - set("0123456789abcdef"):
            raise ValidationError("link_id", "must be 16 lowercase hexadecimal digits")
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            rows = session.scalars(
                select(EmbedTokenRow).where(
                    EmbedTokenRow.learner_id == learner_id,
                    EmbedTokenRow.token_hash.startswith(link_id),
                )
            ).all()
            if not rows:
                raise NotFoundError("embed link", link_id)
            for row in rows:
                session.delete(row)
                self._cache.pop(row.token_hash, None)
            PeopleRepository(session).audit(
                at=now, actor=by, action="revoke_embed_token", target=learner_id, link=link_id
            )

    def api_keys(self) -> list[dict[str, object]]:
        with self.context.sessions() as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)).all()
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "scopes": list(r.scopes),
                    "created_by": r.created_by,
                    "created_at": r.created_at.isoformat(),
                    "expires_at": None if r.expires_at is None else r.expires_at.isoformat(),
                    "revoked": r.revoked_at is not None,
                }
                for r in rows
            ]

    def revoke_api_key(self, key_id: str, *, by: str) -> None:
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError("API key", key_id)
            row.revoked_at = now
            self._cache.pop(row.key_hash, None)
            PeopleRepository(session).audit(
                at=now, actor=by, action="revoke_api_key", target=key_id
            )

    # -- authentication -------------------------------------------------------------------
    def authenticate(self, credential: str | None) -> Principal:
        """The principal behind a bearer token or API key, or :class:`AuthenticationError`."""
        if not credential:
            raise AuthenticationError("send 'Authorization: Bearer <token or API key>'")
        known = self.cached(credential)
        if known is not None:
            return known
        hashed = digest(credential)
        now = self.context.clock()
        principal, expires = self._resolve(credential, hashed, now)
        self._cache[hashed] = (time.monotonic(), principal, expires)
        return principal

    def cached(self, credential: str | None) -> Principal | None:
        """The principal behind ``credential`` if it was resolved in the last
        ``cache_seconds`` and has not expired since; None when the database must be asked
        (:meth:`authenticate` does that). Never touches the database."""
        if not credential:
            return None
        cached = self._cache.get(digest(credential))
        if cached is None or time.monotonic() - cached[0] >= self.cache_seconds:
            return None
        expires = cached[2]
        return cached[1] if expires is None or self.context.clock() < expires else None

    def _resolve(
        self, credential: str, hashed: str, now: datetime
    ) -> tuple[Principal, datetime | None]:
        with self.context.sessions() as session:
            repo = PeopleRepository(session)
            if credential.startswith(EMBED_PREFIX):
                embed = session.get(EmbedTokenRow, hashed)
                if embed is None:
                    raise AuthenticationError("unknown or revoked embed link")
                if embed.expires_at <= now:
                    raise AuthenticationError("this embed link has expired")
                principal = Principal(
                    subject=f"embed:{hashed[:16]}",
                    role=Role.VIEWER,
                    learner_id=embed.learner_id,
                )
                return principal, embed.expires_at
            if credential.startswith(KEY_PREFIX):
                key = repo.api_key(hashed)
                if key is None or key.revoked_at is not None:
                    raise AuthenticationError("unknown or revoked API key")
                if key.expires_at is not None and key.expires_at <= now:
                    raise AuthenticationError("this API key has expired")
                principal = Principal(
                    subject=f"key:{key.id}",
                    role=Role.INTEGRATION,
                    scopes=frozenset(Scope(s) for s in key.scopes),
                )
                return principal, key.expires_at
            found = repo.token_owner(hashed)
            if found is None or found[0].revoked_at is not None:
                raise AuthenticationError("unknown or revoked token; log in again")
            token, user = found
            if token.expires_at <= now:
                raise AuthenticationError("this token has expired; log in again")
            if user.disabled_at is not None:
                raise AuthenticationError("this account is disabled")
            principal = Principal(
                subject=f"user:{user.id}",
                role=Role(user.role),
                learner_id=user.learner_id,
                must_change_password=user.must_change_password,
            )
            return principal, token.expires_at

    # -- authorization --------------------------------------------------------------------
    def check(self, principal: Principal, action: Action, learner_ids: Sequence[str] = ()) -> None:
        """Raise :class:`PermissionDeniedError` unless ``principal`` may do ``action`` for
        every learner in ``learner_ids`` (one query per learner for educators)."""
        decision = self.decide(principal, action, None)
        if decision.allowed:
            for learner_id in dict.fromkeys(learner_ids):
                decision = self.decide(principal, action, learner_id)
                if not decision.allowed:
                    break
        if not decision.allowed:
            raise PermissionDeniedError(action.value, decision.reason)

    def check_reads_database(self, principal: Principal, learner_ids: Sequence[str]) -> bool:
        """Whether :meth:`check` queries the database (an educator's cohorts); otherwise
        it is a pure decision an event loop may make without a thread."""
        return principal.role in (Role.EDUCATOR, Role.GUARDIAN) and bool(learner_ids)

    def decide(
        self, principal: Principal, action: Action, learner_id: str | None
    ) -> AccessDecision:
        def in_cohort(learner: str) -> bool:
            user_id = principal.subject.removeprefix("user:")
            with self.context.sessions() as session:
                people = PeopleRepository(session)
                if principal.role is Role.GUARDIAN:
                    return people.is_guardian_of(user_id, learner)
                return people.in_cohort_of(user_id, learner)

        return decide(principal, action, learner_id=learner_id, in_cohort=in_cohort)

    def visible_learners(self, principal: Principal) -> set[str] | None:
        """The learners a principal may list (None: all of them)."""
        if principal.role is Role.EDUCATOR:
            with self.context.sessions() as session:
                return PeopleRepository(session).learners_of(
                    principal.subject.removeprefix("user:")
                )
        if principal.role is Role.GUARDIAN:
            return set(self.wards(principal.subject.removeprefix("user:")))
        if principal.role in (Role.LEARNER, Role.VIEWER):
            return {principal.learner_id} if principal.learner_id else set()
        return None

    # -- guardians ------------------------------------------------------------------------
    def wards(self, user_id: str) -> list[str]:
        """The learners the guardian account ``user_id`` may read (none for another
        account), in id order."""
        with self.context.sessions() as session:
            if session.get(UserRow, user_id) is None:
                raise NotFoundError("user", user_id)
            return PeopleRepository(session).wards_of(user_id)

    def link_guardian(self, user_id: str, learner_id: str, *, by: str) -> bool:
        """Let the guardian account ``user_id`` read ``learner_id``'s records; whether it
        is new (a link that exists is left as it is). The account must be a guardian's."""
        if not learner_id.strip() or len(learner_id) > ID:
            raise ValidationError("learner_id", f"must be 1 to {ID} characters")
        with self.context.sessions.begin() as session:
            user = session.get(UserRow, user_id, with_for_update=True)
            if user is None:
                raise NotFoundError("user", user_id)
            if user.role != Role.GUARDIAN.value:
                raise ValidationError(
                    "user_id", f"user {user_id} has the role {user.role}, not guardian"
                )
            if session.get(GuardianshipRow, (user_id, learner_id)) is not None:
                return False
            now = self.context.clock()
            session.add(
                GuardianshipRow(user_id=user_id, learner_id=learner_id, linked_by=by, linked_at=now)
            )
            PeopleRepository(session).audit(
                at=now, actor=by, action="link_guardian", target=learner_id, guardian=user_id
            )
        return True

    def unlink_guardian(self, user_id: str, learner_id: str, *, by: str) -> None:
        """End the guardian account's reading of ``learner_id``'s records (its tokens stay,
        and no longer reach them)."""
        with self.context.sessions.begin() as session:
            row = session.get(GuardianshipRow, (user_id, learner_id))
            if row is None:
                raise NotFoundError("guardianship", f"{user_id}/{learner_id}")
            session.delete(row)
            PeopleRepository(session).audit(
                at=self.context.clock(),
                actor=by,
                action="unlink_guardian",
                target=learner_id,
                guardian=user_id,
            )

    # -- cohorts --------------------------------------------------------------------------
    def create_cohort(
        self,
        cohort_id: str,
        title: str,
        *,
        by: str,
        learners: Sequence[str] = (),
        educators: Sequence[str] = (),
    ) -> None:
        """A cohort with its first ``learners`` and ``educators`` (user ids), all stored or
        (an unknown user, one who is not an educator, an existing cohort) none."""
        now = self.context.clock()
        try:
            with self.context.sessions.begin() as session:
                for user_id in educators:
                    _check_educator(session, user_id)
                session.add(CohortRow(id=cohort_id, title=title, created_at=now))
                session.flush()  # an existing cohort is a conflict before anything else
                PeopleRepository(session).audit(
                    at=now, actor=by, action="create_cohort", target=cohort_id
                )
                for learner_id in dict.fromkeys(learners):
                    self._enrol(session, cohort_id, learner_id, by=by)
                for user_id in dict.fromkeys(educators):
                    session.add(CohortEducatorRow(cohort_id=cohort_id, user_id=user_id))
        except IntegrityError:
            raise ConflictError("cohort", cohort_id, "already exists") from None

    def enrol(self, cohort_id: str, learner_id: str, *, by: str) -> None:
        with self.context.sessions.begin() as session:
            # the cohort locked: two enrolments of one learner at once would both insert
            if session.get(CohortRow, cohort_id, with_for_update=True) is None:
                raise NotFoundError("cohort", cohort_id)
            if session.get(CohortMemberRow, (cohort_id, learner_id)) is None:
                self._enrol(session, cohort_id, learner_id, by=by)

    def _enrol(self, session: Session, cohort_id: str, learner_id: str, *, by: str) -> None:
        session.add(CohortMemberRow(cohort_id=cohort_id, learner_id=learner_id))
        PeopleRepository(session).audit(
            at=self.context.clock(), actor=by, action="enrol", target=learner_id, cohort=cohort_id
        )

    def unenrol(self, cohort_id: str, learner_id: str, *, by: str) -> None:
        with self.context.sessions.begin() as session:
            row = session.get(CohortMemberRow, (cohort_id, learner_id))
            if row is None:
                raise NotFoundError("enrolment", f"{cohort_id}/{learner_id}")
            session.delete(row)
            PeopleRepository(session).audit(
                at=self.context.clock(),
                actor=by,
                action="unenrol",
                target=learner_id,
                cohort=cohort_id,
            )

    def assign_educator(self, cohort_id: str, user_id: str, *, by: str) -> None:
        with self.context.sessions.begin() as session:
            if session.get(CohortRow, cohort_id, with_for_update=True) is None:
                raise NotFoundError("cohort", cohort_id)
            _check_educator(session, user_id)
            if session.get(CohortEducatorRow, (cohort_id, user_id)) is None:
                session.add(CohortEducatorRow(cohort_id=cohort_id, user_id=user_id))

    def cohort_members(self, cohort_id: str) -> set[str]:
        with self.context.sessions() as session:
            if session.get(CohortRow, cohort_id) is None:
                raise NotFoundError("cohort", cohort_id)
            return set(PeopleRepository(session).members(cohort_id))

    def cohorts(self, principal: Principal) -> list[dict[str, object]]:
        user = principal.subject.removeprefix("user:") if principal.role is Role.EDUCATOR else None
        with self.context.sessions() as session:
            repo = PeopleRepository(session)
            return [
                {
                    "id": c.id,
                    "title": c.title,
                    "learners": repo.members(c.id),
                    "educators": repo.educators(c.id),
                }
                for c in repo.cohorts(user)
            ]


def revoke_tokens(session: Session, user_id: str, now: datetime) -> list[str]:
    """Revoke every live token of an account, in the caller's transaction; their hashes
    (another process's cache holds a revoked token at most ``cache_seconds``)."""
    rows = list(
        session.scalars(
            select(TokenRow).where(TokenRow.user_id == user_id, TokenRow.revoked_at.is_(None))
        )
    )
    for row in rows:
        row.revoked_at = now
    return [row.token_hash for row in rows]


def account_dict(user: UserRow) -> dict[str, object]:
    """An account as the API and the CLI show it (never its password hash)."""
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "learner_id": user.learner_id,
        "created_at": user.created_at.isoformat(),
        "disabled": user.disabled_at is not None,
        "disabled_at": None if user.disabled_at is None else user.disabled_at.isoformat(),
        "disabled_by": user.disabled_by,
        "must_change_password": user.must_change_password,
    }


def _other_enabled_admins(session: Session, user_id: str) -> int:
    """How many enabled admins there are besides ``user_id``; their rows locked, so that
    two admins disabling each other at once cannot leave none."""
    others = session.scalars(
        select(UserRow.id)
        .where(
            UserRow.role == Role.ADMIN.value,
            UserRow.disabled_at.is_(None),
            UserRow.id != user_id,
        )
        .with_for_update()
    )
    return len(list(others))


def new_first_password() -> str:
    """A random first password: 16 characters, 96 bits.

    >>> len(new_first_password()), new_first_password() != new_first_password()
    (16, True)
    """
    return secrets.token_urlsafe(12)


def _throttled(username: str, client: str) -> tuple[str, ...]:
    """What a failed password counts against: the username, and the client's address."""
    return (f"user:{username}", f"client:{client}") if client else (f"user:{username}",)


def _check_educator(session: Session, user_id: str) -> None:
    user = session.get(UserRow, user_id)
    if user is None:
        raise NotFoundError("user", user_id)
    if user.role != Role.EDUCATOR.value:
        raise ValidationError("user_id", f"user {user_id} is a {user.role}, not an educator")
