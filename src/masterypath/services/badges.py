"""Open Badges 3.0 for mastered competencies: build, sign, verify, revoke, suspend and
reinstate (see ``domain/badges.py`` for the credential, ``domain/status_list.py`` for the
status lists and ``interop/vc_jwt.py`` for the proof).

A badge is read from the same states as every other view (the competency's status, an
educator's override included). Its first issue takes a random bit, the same in the
revocation and the suspension lists (``badges`` and ``badge_statuses``); asking again
signs a newer version of the same credential with the same bit, until an educator
revokes it. A suspension (a badge under review) is undone by reinstating it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from masterypath.domain.badges import (
    CONTEXT,
    Issuer,
    achievement_credential,
    achievement_id,
    claim_problems,
    competency_achievement,
    jwt_claims,
)
from masterypath.domain.policy import Status
from masterypath.domain.status_list import (
    ENTRY_TYPE,
    LIST_SIZE,
    REVOCATION,
    SUSPENSION,
    encode_bits,
    status_entry,
    status_list_credential,
)
from masterypath.errors import ConfigurationError, ConflictError, NotFoundError, ValidationError
from masterypath.interop import vc_jwt
from masterypath.interop.case import case_identifier
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from masterypath.settings import Settings
from masterypath.store.people import PeopleRepository
from masterypath.store.tables import BadgeRow, BadgeStatusRow

STATUS_LISTS_PATH = "/badges/status/"
"""Where the revocation lists are published, under the issuer's URL: list ``n`` at
``/badges/status/n`` (from 1)."""
SUSPENSION_LISTS_PATH = "/badges/suspension/"
"""Where the suspension lists are published: list ``n`` at ``/badges/suspension/n``."""
LIST_PATHS = {REVOCATION: STATUS_LISTS_PATH, SUSPENSION: SUSPENSION_LISTS_PATH}
KEYS_PATH = "/badges/keys"
"""Where the issuer's public key is published: the key set, and the key at
``/badges/keys/<RFC 7638 thumbprint>`` (each badge's ``kid``)."""
MOST_USED = 0.9
"""Share of a list's bits past which new badges take their bits in the next list (random
bits get slow to find, and a badge's bit hides in a thinner crowd)."""


def list_place(status_index: int) -> tuple[int, int]:
    """The revocation list (from 1) and the bit in it of a badge's ``status_index`` (each
    list holds :data:`LIST_SIZE` bits, the first list the first of them).

    >>> list_place(7), list_place(LIST_SIZE + 7)
    ((1, 7), (2, 7))
    """
    return status_index // LIST_SIZE + 1, status_index % LIST_SIZE


UNCONFIGURED = (
    "this server issues no badges: set MASTERYPATH_BADGE_KEY_FILE (make a key with "
    "`masterypath badges key PATH`) and MASTERYPATH_BADGE_ISSUER_URL"
)


@dataclass(frozen=True)
class BadgeSigner:
    """The issuer's identity and signing key, and the keys that signed its badges before
    (``previous``: their public halves)."""

    issuer: Issuer
    key: rsa.RSAPrivateKey
    previous: tuple[rsa.RSAPublicKey, ...] = ()

    def status_list_url(self, number: int = 1, purpose: str = REVOCATION) -> str:
        """The URL of revocation (or suspension) list ``number``: this server's, if the
        issuer URL is where it is reached (as the settings ask)."""
        return f"{self.issuer.id.rstrip('/')}{LIST_PATHS[purpose]}{number}"

    @property
    def public_jwk(self) -> dict[str, Any]:
        """The issuer's public key as a JWK, with its ``kid`` (its URL), ``alg`` and
        ``use``."""
        return self._published(vc_jwt.public_jwk(self.key))

    @property
    def published_keys(self) -> list[dict[str, Any]]:
        """Every key this issuer's badges may carry, as :attr:`public_jwk` gives them: the
        signing key first, then the previous ones (each once)."""
        keys = [self.public_jwk]
        for public in self.previous:
            jwk = self._published(vc_jwt.public_jwk(public))
            if jwk not in keys:
                keys.append(jwk)
        return keys

    def owns(self, jwk: object) -> bool:
        """Whether ``jwk`` (a badge's ``jwk`` header) is the signing key or a previous
        one."""
        return isinstance(jwk, dict) and any(
            {name: k[name] for name in ("kty", "n", "e")} == jwk for k in self.published_keys
        )

    @property
    def key_url(self) -> str:
        """The URL of the issuer's public key (a badge's ``kid``): this server's, under
        the issuer URL, named by the key's RFC 7638 thumbprint."""
        return self._key_url(vc_jwt.public_jwk(self.key))

    def _key_url(self, jwk: dict[str, Any]) -> str:
        return f"{self.issuer.id.rstrip('/')}{KEYS_PATH}/{vc_jwt.thumbprint(jwk)}"

    def _published(self, jwk: dict[str, Any]) -> dict[str, Any]:
        return {**jwk, "kid": self._key_url(jwk), "alg": vc_jwt.ALGORITHM, "use": "sig"}

    def sign(self, claims: dict[str, Any]) -> str:
        """``claims`` as a VC-JWT of this issuer: its key in ``jwk``, its URL in ``kid``."""
        return vc_jwt.sign(claims, self.key, kid=self.key_url)

    def list_number(self, url: object, purpose: str = REVOCATION) -> int | None:
        """The number of this server's revocation (or suspension) list at ``url``; None
        for any other URL.

        >>> signer = BadgeSigner(Issuer("https://school.example/", "School"), key=None)
        >>> signer.list_number("https://school.example/badges/status/2")
        2
        >>> signer.list_number("https://school.example/badges/suspension/2", SUSPENSION)
        2
        >>> signer.list_number("https://other.example/badges/status/2") is None
        True
        """
        prefix = self.status_list_url(1, purpose).removesuffix("1")
        number = url.removeprefix(prefix) if isinstance(url, str) else ""
        if not url or number == url or not number.isdigit() or number.startswith("0"):
            return None
        return int(number)

    @classmethod
    def from_settings(cls, settings: Settings) -> BadgeSigner | None:
        """The configured signer; None when badges are not configured at all, and a
        :class:`ConfigurationError` naming the setting when they are half-configured or
        the key cannot be used."""
        key_file, url = settings.badge_key_file, settings.badge_issuer_url
        if not key_file and not url:
            return None
        if not key_file or not url:
            missing = (
                "MASTERYPATH_BADGE_KEY_FILE" if not key_file else "MASTERYPATH_BADGE_ISSUER_URL"
            )
            raise ConfigurationError(f"{missing}: required to issue badges")
        try:
            key = vc_jwt.read_key(Path(key_file))
        except ValidationError as exc:
            raise ConfigurationError(f"MASTERYPATH_BADGE_KEY_FILE: {exc}") from None
        previous = []
        for name in filter(None, (n.strip() for n in settings.badge_previous_key_files.split(","))):
            try:
                previous.append(vc_jwt.read_public_key(Path(name)))
            except ValidationError as exc:
                raise ConfigurationError(f"MASTERYPATH_BADGE_PREVIOUS_KEY_FILES: {exc}") from None
        return cls(Issuer(id=url, name=settings.badge_issuer_name), key, tuple(previous))


@dataclass(frozen=True)
class Verification:
    """What checking a badge found: valid when ``problems`` is empty."""

    problems: list[str]
    credential: dict[str, Any]
    signed_by_this_issuer: bool
    status: str = "none"
    """``none`` (no credentialStatus), ``active``, ``revoked``, ``suspended``, or
    ``unchecked`` (its lists are another server's, which this one does not fetch)."""

    @property
    def valid(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "problems": self.problems,
            "signed_by_this_issuer": self.signed_by_this_issuer,
            "status": self.status,
            "credential": self.credential,
        }


@dataclass(frozen=True)
class IssuedBadge:
    """A badge issued to a learner (the credential itself is signed anew when asked)."""

    credential_id: str
    learner_id: str
    framework_id: str
    competency_id: str
    status_index: int
    issued_at: datetime
    issued_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    reason: str | None
    suspended_at: datetime | None = None
    """When it was suspended, while it is (None when it is not)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "credential_id": self.credential_id,
            "framework_id": self.framework_id,
            "competency_id": self.competency_id,
            "status_index": self.status_index,
            "issued_at": self.issued_at.isoformat(),
            "issued_by": self.issued_by,
            "revoked": self.revoked_at is not None,
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
            "revoked_by": self.revoked_by,
            "reason": self.reason,
            "suspended": self.suspended_at is not None,
            "suspended_at": None if self.suspended_at is None else self.suspended_at.isoformat(),
        }


class BadgeService:
    def __init__(self, context: ServiceContext, signer: BadgeSigner | None) -> None:
        self.context = context
        self.signer = signer
        self._signed_lists: dict[tuple[str, int], tuple[frozenset[int], str]] = {}
        """Each list's revoked bits last published and its signed list: signing (RSA)
        costs milliseconds and the lists are open to anyone, so a list is signed again
        only when one of its bits changes."""

    def issue(
        self, learner_id: str, framework_id: str, competency_id: str, *, by: str = "system"
    ) -> dict[str, Any]:
        """The learner's badge for a competency they have mastered: the credential and
        its compact JWS (``jwt``). A competency not mastered (now) is a
        :class:`ConflictError`. The first issue (and the first after a revocation) takes
        a bit of the revocation list and is audited."""
        signer = self._signer()
        now = self.context.clock()
        progress = MasteryService(self.context).progress(learner_id, framework_id, now=now)
        found = next((p for p in progress if p.competency_id == competency_id), None)
        if found is None:
            raise NotFoundError("competency", competency_id)
        if found.decision.status is not Status.MASTERED:
            raise ConflictError(
                "competency_id",
                competency_id,
                f"not mastered by learner {learner_id!r} (status: {found.decision.status})",
            )
        framework = FrameworkService(self.context).get(framework_id)
        credential = achievement_credential(
            issuer=signer.issuer,
            framework=framework,
            competency_id=competency_id,
            learner_id=learner_id,
            salt=secrets.token_hex(8),
            valid_from=now,
            alignment_url=f"urn:uuid:{case_identifier(framework_id, competency_id)}",
        )
        index = self._status_index(credential["id"], learner_id, framework_id, competency_id, by)
        number, bit = list_place(index)
        credential["credentialStatus"] = [
            status_entry(signer.status_list_url(number, purpose), bit, purpose)
            for purpose in (REVOCATION, SUSPENSION)
        ]
        return {"credential": credential, "jwt": signer.sign(jwt_claims(credential))}

    def badges(self, learner_id: str) -> list[IssuedBadge]:
        """Every badge issued to the learner, revoked ones included, oldest first."""
        with self.context.sessions() as session:
            rows = session.execute(
                select(BadgeRow, BadgeStatusRow.suspended_at)
                .join(BadgeStatusRow, BadgeStatusRow.status_index == BadgeRow.status_index)
                .where(BadgeRow.learner_id == learner_id)
                .order_by(BadgeRow.issued_at, BadgeRow.status_index)
            ).all()
            return [_issued(row, suspended_at) for row, suspended_at in rows]

    def revoke(
        self, learner_id: str, framework_id: str, competency_id: str, *, reason: str, by: str
    ) -> list[IssuedBadge]:
        """Revoke the learner's badge for the competency (every version: they share one
        bit). :class:`NotFoundError` when no badge of it is in force. Audited."""
        if not reason.strip():
            raise ValidationError("reason", "must not be empty: say why the badge is revoked")
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            rows = _badges_in_force(session, learner_id, framework_id, competency_id)
            for row in rows:
                row.revoked_at, row.revoked_by, row.reason = now, by, reason
                session.merge(BadgeStatusRow(status_index=row.status_index, revoked_at=now))
            PeopleRepository(session).audit(
                at=now,
                actor=by,
                action="revoke_badge",
                target=learner_id,
                framework_id=framework_id,
                competency_id=competency_id,
                status_index=[r.status_index for r in rows],
                reason=reason,
            )
            return [_issued(r) for r in rows]

    def suspend(
        self, learner_id: str, framework_id: str, competency_id: str, *, reason: str, by: str
    ) -> list[IssuedBadge]:
        """Suspend the learner's badge for the competency (every version: they share one
        bit) until :meth:`reinstate`: its bit in the suspension list is set.
        :class:`NotFoundError` when no badge of it is in force, :class:`ConflictError`
        when it is suspended already. Audited with the reason."""
        if not reason.strip():
            raise ValidationError("reason", "must not be empty: say why the badge is suspended")
        return self._set_suspension(
            learner_id, framework_id, competency_id, suspend=True, reason=reason, by=by
        )

    def reinstate(
        self, learner_id: str, framework_id: str, competency_id: str, *, by: str
    ) -> list[IssuedBadge]:
        """Undo a suspension: the badge's bit in the suspension list is cleared.
        :class:`ConflictError` when it is not suspended. Audited."""
        return self._set_suspension(
            learner_id, framework_id, competency_id, suspend=False, reason=None, by=by
        )

    def _set_suspension(
        self,
        learner_id: str,
        framework_id: str,
        competency_id: str,
        *,
        suspend: bool,
        reason: str | None,
        by: str,
    ) -> list[IssuedBadge]:
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            rows = _badges_in_force(session, learner_id, framework_id, competency_id)
            bits = [session.get(BadgeStatusRow, r.status_index, with_for_update=True) for r in rows]
            if all((b is not None and b.suspended_at is not None) == suspend for b in bits):
                state = "suspended already" if suspend else "not suspended"
                raise ConflictError("competency_id", competency_id, f"the badge is {state}")
            for bit in bits:
                if bit is not None:
                    bit.suspended_at = now if suspend else None
            PeopleRepository(session).audit(
                at=now,
                actor=by,
                action="suspend_badge" if suspend else "reinstate_badge",
                target=learner_id,
                framework_id=framework_id,
                competency_id=competency_id,
                status_index=[r.status_index for r in rows],
                **({} if reason is None else {"reason": reason}),
            )
            return [_issued(r, now if suspend else None) for r in rows]

    def status_list(self, number: int = 1, purpose: str = REVOCATION) -> str:
        """Revocation (or suspension) list ``number`` as a
        ``BitstringStatusListCredential`` in VC-JWT, signed when its bits last changed
        (its ``validFrom``). List 1 is always there; a later one once a badge has a bit
        in it (else :class:`NotFoundError`)."""
        signer = self._signer()
        first = (number - 1) * LIST_SIZE
        bits = BadgeStatusRow.status_index
        set_at = BadgeStatusRow.revoked_at if purpose == REVOCATION else BadgeStatusRow.suspended_at
        with self.context.sessions() as session:
            in_list = (bits >= first, bits < first + LIST_SIZE)
            if number != 1 and session.scalar(select(bits).where(*in_list).limit(1)) is None:
                raise NotFoundError("status list", str(number))
            set_bits = frozenset(
                i - first
                for i in session.scalars(select(bits).where(*in_list, set_at.is_not(None)))
            )
        signed = self._signed_lists.get((purpose, number))
        if signed is not None and signed[0] == set_bits:
            return signed[1]
        credential = status_list_credential(
            issuer_id=signer.issuer.id,
            list_url=signer.status_list_url(number, purpose),
            encoded=encode_bits(set_bits),
            valid_from=self.context.clock(),
            purpose=purpose,
        )
        token = signer.sign(jwt_claims(credential))
        self._signed_lists[(purpose, number)] = (set_bits, token)
        return token

    def verify(self, token: str, *, now: datetime | None = None) -> Verification:
        """Check a badge's signature and claims (Open Badges 3.0 VC-JWT), whether this
        server's issuer key signed it, and whether it was revoked (when its status list
        is this server's). A token that cannot be read at all is a
        :class:`ValidationError`."""
        header, claims = vc_jwt.verify(token.strip())
        problems = claim_problems(claims, now=now or self.context.clock())
        ours = self.signer is not None and self.signer.owns(header.get("jwk"))
        if self.signer is not None and not ours and self._names_our_key(header.get("kid")):
            problems.append("kid names this issuer's key, but another key signed the badge")
        credential = {
            k: v for k, v in claims.items() if k not in ("iss", "jti", "nbf", "sub", "exp")
        }
        status = self._status_of(credential.get("credentialStatus"), problems)
        return Verification(problems, credential, ours, status)

    def achievement(self, identifier: str) -> dict[str, Any]:
        """The ``Achievement`` a badge of this issuer names by ``.../achievements/<id>``,
        as a JSON-LD document: what its id resolves to. Only achievements some badge was
        issued for resolve (a framework's other competencies stay the school's);
        :class:`NotFoundError` for any other id."""
        signer = self._signer()
        with self.context.sessions() as session:
            # the status bits keep what each badge was for after its learner is erased
            issued = session.execute(
                select(BadgeStatusRow.framework_id, BadgeStatusRow.competency_id).distinct()
            ).all()
        wanted = f"{signer.issuer.id.rstrip('/')}/achievements/{identifier}"
        for framework_id, competency_id in issued:
            if framework_id is None or competency_id is None:
                continue  # a bit whose badge was erased before bits kept their achievement
            if achievement_id(signer.issuer, framework_id, competency_id) != wanted:
                continue
            framework = FrameworkService(self.context).get(framework_id)
            if competency_id not in framework:
                break
            found = competency_achievement(
                issuer=signer.issuer,
                framework=framework,
                competency_id=competency_id,
                alignment_url=f"urn:uuid:{case_identifier(framework_id, competency_id)}",
            )
            return {"@context": list(CONTEXT), **found}
        raise NotFoundError("achievement", identifier)

    def published_keys(self) -> list[dict[str, Any]]:
        """The issuer's public keys as JWKs with their ``kid``: the signing key first, then
        those that signed badges before; :class:`ConfigurationError` when this server
        issues no badges."""
        return self._signer().published_keys

    def published_key(self, thumbprint: str) -> dict[str, Any]:
        """One of :meth:`published_keys` by its RFC 7638 thumbprint (the end of its
        ``kid``); :class:`NotFoundError` for any other."""
        for jwk in self.published_keys():
            if jwk["kid"].endswith("/" + thumbprint):
                return jwk
        raise NotFoundError("badge key", thumbprint)

    def _names_our_key(self, kid: object) -> bool:
        """Whether ``kid`` is a URL of this server's key set (any thumbprint: a badge
        signed with another key that claims to be this issuer's is what it catches)."""
        prefix = self._signer().key_url.rsplit("/", 1)[0] + "/"
        return isinstance(kid, str) and kid.startswith(prefix)

    def _status_of(self, entries: Any, problems: list[str]) -> str:
        """The badge's status from each of its ``credentialStatus`` entries: revoked if
        any says so, else suspended, else active if one of this server's lists was
        checked."""
        if entries is None:
            return "none"
        found = {
            self._entry_status(e, problems)
            for e in (entries if isinstance(entries, list) else [entries])
        }
        order = ("revoked", "suspended", "active", "unchecked")
        return next((s for s in order if s in found), "unchecked")

    def _entry_status(self, entry: Any, problems: list[str]) -> str:
        if not isinstance(entry, dict) or entry.get("type") != ENTRY_TYPE:
            problems.append("credentialStatus: not a BitstringStatusListEntry")
            return "unchecked"
        purpose = entry.get("statusPurpose", REVOCATION)
        number = (
            None
            if self.signer is None or purpose not in (REVOCATION, SUSPENSION)
            else self.signer.list_number(entry.get("statusListCredential"), purpose)
        )
        if number is None:
            return "unchecked"
        index = str(entry.get("statusListIndex", ""))
        if not index.isdigit() or int(index) >= LIST_SIZE:
            problems.append("credentialStatus: statusListIndex is not a bit of the list")
            return "unchecked"
        with self.context.sessions() as session:
            bit = session.get(BadgeStatusRow, (number - 1) * LIST_SIZE + int(index))
        if bit is None:
            problems.append("credentialStatus: this server issued no badge with that bit")
            return "unchecked"
        if purpose == REVOCATION and bit.revoked_at is not None:
            problems.append(f"credentialStatus: revoked on {bit.revoked_at.date().isoformat()}")
            return "revoked"
        if purpose == SUSPENSION and bit.suspended_at is not None:
            since = bit.suspended_at.date().isoformat()
            problems.append(f"credentialStatus: suspended since {since}")
            return "suspended"
        return "active"

    def _status_index(
        self, credential_id: str, learner_id: str, framework_id: str, competency_id: str, by: str
    ) -> int:
        """The bit of the learner's badge in force, or a new random one."""
        for _ in range(3):  # two first issues at once may draw the same bit: draw again
            try:
                with self.context.sessions.begin() as session:
                    held = session.scalar(
                        select(BadgeRow.status_index).where(
                            *_in_force(learner_id, framework_id, competency_id)
                        )
                    )
                    if held is not None:
                        return int(held)
                    index = _free_bit(session)
                    now = self.context.clock()
                    session.add(
                        BadgeStatusRow(
                            status_index=index,
                            framework_id=framework_id,
                            competency_id=competency_id,
                        )
                    )
                    session.add(
                        BadgeRow(
                            status_index=index,
                            credential_id=credential_id,
                            learner_id=learner_id,
                            framework_id=framework_id,
                            competency_id=competency_id,
                            issued_at=now,
                            issued_by=by,
                        )
                    )
                    PeopleRepository(session).audit(
                        at=now,
                        actor=by,
                        action="issue_badge",
                        target=learner_id,
                        framework_id=framework_id,
                        competency_id=competency_id,
                    )
                    return index
            except IntegrityError:
                continue
        raise ConflictError("status_index", credential_id, "no free bit after three draws")

    def _signer(self) -> BadgeSigner:
        if self.signer is None:
            raise ConfigurationError(UNCONFIGURED)
        return self.signer


def _in_force(learner_id: str, framework_id: str, competency_id: str) -> list[Any]:
    """Where a badge row is the learner's badge for the competency, not revoked."""
    return [
        BadgeRow.learner_id == learner_id,
        BadgeRow.framework_id == framework_id,
        BadgeRow.competency_id == competency_id,
        BadgeRow.revoked_at.is_(None),
    ]


def _badges_in_force(
    session: Session, learner_id: str, framework_id: str, competency_id: str
) -> list[BadgeRow]:
    """The rows of the learner's badge for the competency in force (every version), or
    :class:`NotFoundError`."""
    rows = session.scalars(
        select(BadgeRow).where(*_in_force(learner_id, framework_id, competency_id))
    ).all()
    if not rows:
        raise NotFoundError("badge in force", f"{learner_id}/{framework_id}/{competency_id}")
    return list(rows)


def _free_bit(session: Session) -> int:
    """A random free bit of the first list not yet :data:`MOST_USED` (a new list once
    every list is), as a ``status_index``."""
    lists = BadgeStatusRow.status_index // LIST_SIZE
    used = {
        int(n): int(count)
        for n, count in session.execute(select(lists, func.count()).group_by(lists))
    }
    number = next(n for n in range(len(used) + 1) if used.get(n, 0) < MOST_USED * LIST_SIZE)
    while True:
        index = number * LIST_SIZE + secrets.randbelow(LIST_SIZE)
        if session.get(BadgeStatusRow, index) is None:
            return index


def _issued(row: BadgeRow, suspended_at: datetime | None = None) -> IssuedBadge:
    return IssuedBadge(
        row.credential_id,
        row.learner_id,
        row.framework_id,
        row.competency_id,
        row.status_index,
        row.issued_at,
        row.issued_by,
        row.revoked_at,
        row.revoked_by,
        row.reason,
        suspended_at,
    )
